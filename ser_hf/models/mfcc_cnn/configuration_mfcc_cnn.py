"""Configuration of the MFCC-CNN baseline (``model_type="mfcc_cnn"``)."""

from __future__ import annotations

from transformers import PretrainedConfig

ARCHITECTURES = ("cnn1d", "cnn2d", "seed")
NORMALIZATIONS = ("utterance", "utterance_global", "none", "speaker", "utterance+speaker")
# Normalisations that measure the front end's output against the speaker's statistics (model inputs).
SPEAKER_NORMALIZATIONS = ("speaker", "utterance+speaker")
POOLINGS = ("meanmax", "meanstd")
FRONT_ENDS = (None, "whisper")
# Per-architecture default widths: the 2-D network's every channel spans all bands' positions, so a
# fraction of the 1-D widths already costs it about four times the 1-D network's training time.
DEFAULT_CHANNELS = {"cnn1d": (128, 128, 192, 192), "cnn2d": (16, 32, 64, 128)}


class MfccCnnConfig(PretrainedConfig):
    """Hyper-parameters of :class:`MfccCnnForAudioClassification`.

    Args:
        architecture: ``"cnn1d"`` (the default: 1-D convolutions over time on log-mel +
            deltas, batch norm, global mean+max pooling), ``"cnn2d"`` (the same input as an image,
            3x3 convolutions over bands and time; measured slower and no better, kept for comparison)
            or ``"seed"`` (seed 000's Conv1D network on a flattened 2400-value MFCC matrix,
            40 coefficients x 60 frames).
        num_features: feature rows the extractor emits (mel bands, or MFCC coefficients).
        channels: output channels of the conv blocks (``cnn1d``, ``cnn2d``); by default
            ``DEFAULT_CHANNELS`` of the architecture.
        use_deltas: stack first and second time derivatives as extra input channels (``cnn1d``, ``cnn2d``).
        seed_frames: frames of the seed's fixed-size input (``seed``; 40 x 60 = 2400).
        dropout: dropout before the classifier.
        label_smoothing: smoothing of the cross-entropy targets during training.
        freq_masks, freq_mask_width, time_masks, time_mask_width: SpecAugment masks applied
            while training (``cnn1d``, ``cnn2d``): how many bands, and their largest width in rows/frames.
        normalization: per-utterance input normalisation of ``cnn1d``/``cnn2d`` over the clip's real frames:
            ``"utterance"`` (each row to zero mean, unit variance: CMVN), ``"utterance_global"``
            (one mean and variance for the whole clip, which keeps the spectral shape), ``"none"``, or
            ``"speaker"`` (with a front end: each of its output rows measured against the speaker's mean
            and standard deviation of that row, the model inputs ``speaker_mean``/``speaker_std``:
            the speaker-adaptive model with a stem, whose statistics live after the stem, where the
            extractor cannot compute them; without a front end the extractor normalises instead,
            ``MfccCnnFeatureExtractor(speaker_normalization=True)``), or ``"utterance+speaker"`` (with a
            front end: the convolutions read the utterance-normalised frames, as with ``"utterance"``,
            and the classifier also reads how the utterance's mean and spread of each row stand
            against the speaker's, ``(mean - speaker_mean) / speaker_std`` and
            ``log(std / speaker_std)``: the speaker-relative level that per-utterance CMVN throws
            away, without measuring every frame against the speaker). Measured with seed 0, it scored
            62.9 % on SAVEE (``"speaker"`` 62.5 %, ``"utterance"`` 45.4 %) and 62.9 % on the three corpora
            (63.8 and 62.6 %), between the two on every corpus (``python -m bench.baseline
            savee_whisper_stem_levels all3_whisper_stem_levels``): a candidate, not a shipped design.
        pooling: global pooling of ``cnn1d``/``cnn2d`` over time: ``"meanmax"`` or ``"meanstd"``.
        mixup_alpha: mixup while training (``cnn1d``, ``cnn2d``), Beta(alpha, alpha) weights; 0 turns it off.
        front_end: ``None`` or ``"whisper"`` (``cnn1d``): Whisper's convolutional stem (two 1-D
            convolutions with GELU, the second of stride 2) between the log-mel frames and the conv
            blocks, its weights copied from a Whisper checkpoint by
            :func:`ser_hf.training.build_baseline` (``front_end_from``). A pair of convolutions
            trained on 680,000 hours of many speakers' speech reads the spectrum with filters no
            four-speaker corpus can teach. Needs an 80-band extractor (``n_mels=80``, ``fmin=0``).
        front_end_channels: the stem's width (the checkpoint's ``d_model``: 384 for tiny).
        front_end_layers: how many of the checkpoint's transformer layers follow the stem in the front end
            (0: the stem alone). The stem's output gives a linear read of 54.6 % on the three corpora and
            48.7 % on SAVEE, the first layer's 59.9 / 53.6 % (``python -m bench.finetune layers``): context
            across frames that the stem's 3-frame kernels cannot see; the network behind one layer scored
            56.8 % on SAVEE (three seeds) against 48.3 % behind the stem alone (``python -m bench.baseline
            savee_whisper_layer1_int8``), the shipped design. Each layer of tiny costs 1.77M parameters and
            6.7 ms on 3 s of speech at one thread (4.0 ms of the benchmark clip's 8.7).
        front_end_heads, front_end_ffn_dim: attention heads and feed-forward width of those layers (the
            checkpoint's: 6 and 1536 for tiny; ``None``: four times ``front_end_channels``, as in every Whisper).
            ``front_end_ffn_dim=0`` keeps each layer's attention half only (its feed-forward half, two thirds of
            the layer's weights and time, dropped).
        front_end_int8: keep the front end's transformer layers' linear weights as int8 with a float scale per
            row (a quarter of float32: a layer of tiny is 1.8 MB instead of 7.1), turned into float weights once
            and kept. The layers are frozen, so training and inference read the same rounded weights.
        front_end_stride: input frames per front-end frame: 2 is Whisper's stem (its second convolution at
            stride 2: 50 frames a second); 4, 6 or 8 run that convolution, its weights unchanged, at that
            stride instead (25, 16.7 or 12.5 frames a second: every 2nd, 3rd or 4th of the stem's frames), so
            the layers and the CNN behind read that share of the frames, and most of a clip's latency falls
            with them (``python -m bench.baseline savee_whisper_layer1_int8_s4`` and ``_s6``, ``_s8``).
        freeze_front_end: keep the stem's weights as copied while training.
        first_kernel_size: the time kernel of ``cnn1d``'s first conv block (odd). Behind the stem, 1 (a
            projection of each stem frame) trains 1.6x faster than 5, since that kernel over 384 channels
            is two thirds of a training step, but on unseen speakers it scored 59.2 % against 63.8 % on the
            three corpora and 47.0 % against 48.6 % on SAVEE
            (``python -m bench.baseline savee_whisper_stem_k1 all3_whisper_stem_k1``), so 5 stays.
        first_stride: the first conv block's stride (``cnn1d``); ``None``: 2 on log-mel frames (100 a
            second), 1 behind the stem, which has already halved them. 2 behind the stem halves the
            frames of every block, the first included: about half a training step's computation.
        hint_size: with > 0 (``cnn1d``, ``cnn2d``), a training-only linear map from the pooled features to a
            teacher's embedding of the clip (``hint_targets`` in ``forward``, e.g. a frozen Whisper encoder's
            states): feature-level distillation, which hands the network hundreds of numbers per clip on
            how a model of many speakers hears it, where soft labels hand it seven. Inference ignores it.
        hint_weight: the weight of the hint's mean squared error beside the cross-entropy.
        hint_frames: the hint is frame by frame (``cnn1d``): a 1x1 convolution maps the last block's frames to
            the teacher's states of the same stretch of audio (``hint_targets`` ``[batch, hint_size, frames]``
            with ``hint_mask`` ``[batch, frames]``), rather than the pooled features to one embedding per clip.
    """

    model_type = "mfcc_cnn"

    def __init__(self, architecture: str = "cnn1d", num_features: int = 64,
                 channels: tuple[int, ...] | None = None, use_deltas: bool = True,
                 seed_frames: int = 60, dropout: float = 0.3, label_smoothing: float = 0.1,
                 freq_masks: int = 2, freq_mask_width: int = 8, time_masks: int = 2,
                 time_mask_width: int = 20, normalization: str = "utterance", pooling: str = "meanmax",
                 mixup_alpha: float = 0.0, front_end: str | None = None, front_end_channels: int = 384,
                 freeze_front_end: bool = True, front_end_layers: int = 0, front_end_heads: int = 6,
                 front_end_ffn_dim: int | None = None, front_end_int8: bool = False, front_end_stride: int = 2,
                 first_kernel_size: int = 5, first_stride: int | None = None,
                 hint_size: int = 0, hint_weight: float = 1.0, hint_frames: bool = False, **kwargs):
        if architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {architecture!r}; choose one of {ARCHITECTURES}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown normalization {normalization!r}; choose one of {NORMALIZATIONS}")
        if front_end not in FRONT_ENDS:
            raise ValueError(f"unknown front_end {front_end!r}; choose one of {FRONT_ENDS}")
        if front_end and architecture != "cnn1d":
            raise ValueError(f"front_end {front_end!r} needs architecture 'cnn1d', not {architecture!r}")
        if normalization in SPEAKER_NORMALIZATIONS and not front_end:
            raise ValueError(f"normalization {normalization!r} needs a front end; without one the feature extractor "
                             "normalises by the speaker (MfccCnnFeatureExtractor(speaker_normalization=True))")
        if normalization in SPEAKER_NORMALIZATIONS and not freeze_front_end:
            raise ValueError(f"normalization {normalization!r} needs a frozen front end: statistics of its output "
                             "would go stale while training changed it")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")
        self.architecture = architecture
        self.normalization = normalization
        self.pooling = pooling
        self.mixup_alpha = mixup_alpha
        self.front_end = front_end
        self.front_end_channels = front_end_channels
        self.freeze_front_end = freeze_front_end
        if front_end_layers and not front_end:
            raise ValueError(f"front_end_layers={front_end_layers} needs a front end (front_end='whisper')")
        self.front_end_layers = int(front_end_layers)
        self.front_end_heads = int(front_end_heads)
        if front_end_int8 and not (front_end_layers and freeze_front_end):
            raise ValueError("front_end_int8 needs front_end_layers and a frozen front end (int8 weights do not train)")
        self.front_end_int8 = bool(front_end_int8)
        if front_end_stride not in (2, 4, 6, 8) or (front_end_stride != 2 and not front_end):
            raise ValueError(f"front_end_stride must be 2, 4, 6 or 8, with a front end; got {front_end_stride}")
        self.front_end_stride = int(front_end_stride)
        self.front_end_ffn_dim = int(4 * front_end_channels if front_end_ffn_dim is None else front_end_ffn_dim)
        if first_kernel_size < 1 or first_kernel_size % 2 == 0:
            raise ValueError(f"first_kernel_size must be odd and positive (it keeps the frame count), got {first_kernel_size}")
        self.first_kernel_size = first_kernel_size
        if first_stride is not None and first_stride < 1:
            raise ValueError(f"first_stride must be a positive integer or None, got {first_stride}")
        self.first_stride = first_stride
        if hint_size and architecture == "seed":
            raise ValueError("hint_size needs architecture 'cnn1d' or 'cnn2d' (the seed network has no pooled features)")
        self.hint_size = int(hint_size)
        self.hint_weight = float(hint_weight)
        if hint_frames and architecture != "cnn1d":
            raise ValueError("hint_frames needs architecture 'cnn1d' (its last block's frames are the hinted ones)")
        self.hint_frames = bool(hint_frames)
        self.num_features = num_features
        # ``seed`` has no conv widths of its own; it keeps cnn1d's, as its saved configs always had.
        self.channels = list(channels if channels is not None
                             else DEFAULT_CHANNELS.get(architecture, DEFAULT_CHANNELS["cnn1d"]))
        self.use_deltas = use_deltas
        self.seed_frames = seed_frames
        self.dropout = dropout
        self.label_smoothing = label_smoothing
        self.freq_masks = freq_masks
        self.freq_mask_width = freq_mask_width
        self.time_masks = time_masks
        self.time_mask_width = time_mask_width
        super().__init__(**kwargs)
