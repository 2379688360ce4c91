"""The MFCC-CNN baseline as a ``PreTrainedModel``: save/load, Auto classes, Trainer and pipeline for free."""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from .configuration_mfcc_cnn import SPEAKER_NORMALIZATIONS, MfccCnnConfig

_DELTA = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0]) / 10.0  # librosa.feature.delta's width-5 regression


def _masked_normalise(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-utterance, per-row mean/variance normalisation over the real frames (CMVN).

    Removes the channel and the speaker's overall level, which otherwise dominate
    speaker-independent errors. ``x`` is ``[batch, rows, frames]``, ``mask`` ``[batch, frames]``.
    """
    m = mask[:, None, :].to(x.dtype)
    count = m.sum(-1, keepdim=True).clamp(min=1.0)
    mean = (x * m).sum(-1, keepdim=True) / count
    # The centred frames are computed once and scaled, not recomputed: half the passes over the
    # batch (8 of the 95 ms of a shipped training step went to this function).
    centred = (x - mean) * m
    return centred * torch.rsqrt(centred.square().sum(-1, keepdim=True) / count + 1e-5)


def _masked_mean_std(x: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's mean and standard deviation ``[batch, rows]`` over the real frames of ``x``
    ``[batch, rows, frames]`` (``m``: the float frame mask ``[batch, 1, frames]``)."""
    count = m.sum(-1).clamp(min=1.0)
    mean = (x * m).sum(-1) / count
    return mean, torch.sqrt((((x - mean[..., None]) * m) ** 2).sum(-1) / count + 1e-5)


def _masked_normalise_global(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-utterance normalisation with one mean and variance over all rows and real frames.

    Removes the recording level but, unlike per-row CMVN, keeps the spectral shape (how much
    energy sits in the high bands), which carries arousal.
    """
    m = mask[:, None, :].to(x.dtype)
    count = (m.sum(-1, keepdim=True) * x.shape[1]).sum(1, keepdim=True).clamp(min=1.0)
    mean = (x * m).sum((1, 2), keepdim=True) / count
    var = (((x - mean) * m) ** 2).sum((1, 2), keepdim=True) / count
    return (x - mean) / torch.sqrt(var + 1e-5) * m


def _spec_mask(x: torch.Tensor, masks: int, width: int, dim: int) -> torch.Tensor:
    """SpecAugment: zero ``masks`` random bands up to ``width`` wide along ``dim`` (1 = rows, 2 = frames)."""
    size = x.shape[dim]
    if masks <= 0 or width <= 0 or size < 4:
        return x
    batch = x.shape[0]
    widths = torch.randint(0, min(width, size // 4) + 1, (batch, masks, 1), device=x.device)
    starts = (torch.rand(batch, masks, 1, device=x.device) * (size - widths)).long()
    pos = torch.arange(size, device=x.device)[None, None, :]
    hit = ((pos >= starts) & (pos < starts + widths)).any(1)  # [batch, size]
    keep = (~hit).to(x.dtype)
    return x * (keep[:, :, None] if dim == 1 else keep[:, None, :])


def _delta(x: torch.Tensor) -> torch.Tensor:
    """Time derivative of ``[batch, rows, frames]`` (edge-padded), as librosa computes it."""
    rows = x.shape[1]
    kernel = _DELTA.to(x)[None, None, :].repeat(rows, 1, 1)
    return nn.functional.conv1d(nn.functional.pad(x, (2, 2), mode="replicate"), kernel, groups=rows)


class MfccCnnPreTrainedModel(PreTrainedModel):
    config_class = MfccCnnConfig
    base_model_prefix = "mfcc_cnn"
    main_input_name = "input_features"

    def _init_weights(self, module):
        # Conv layers feed ReLUs (He init); dense layers get Glorot, Keras's default, which keeps the
        # first logits small (the seed's 1664->256 layer would otherwise start with loss ~10).
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)) and module.bias is not None:
            nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class _SeedConv1d(nn.Module):
    """Seed 000's layer table: Conv1D 8/16/32/64 (kernels 13/11/9/7, from its output shapes),
    max-pool 3 and dropout after each, dense 256 and 128; 481,518 parameters with 14 classes."""

    def __init__(self, config: MfccCnnConfig):
        super().__init__()
        layers, c_in = [], 1
        for c_out, kernel in zip((8, 16, 32, 64), (13, 11, 9, 7)):
            layers += [nn.Conv1d(c_in, c_out, kernel), nn.ReLU(), nn.MaxPool1d(3), nn.Dropout(config.dropout)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        length = config.num_features * config.seed_frames
        for kernel in (13, 11, 9, 7):
            length = (length - kernel + 1) // 3
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * length, 256), nn.ReLU(), nn.Dropout(config.dropout),
            nn.Linear(256, 128), nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(128, config.num_labels))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = _masked_normalise(x, mask)
        # Keras saw the matrix as one long channel-last vector, frame after frame.
        x = x.transpose(1, 2).reshape(x.shape[0], 1, -1)
        return self.head(self.features(x))


SPEAKER_INPUTS_NEEDED = (
    "this model adapts to the speaker: pass speaker_mean= and speaker_std= (the statistics of some speech of "
    "the same speaker), or use ser_hf.EmotionRecognizer: speaker_statistics(clips), or timeline(), which "
    "gathers them from the recording")


class _Front(nn.Module):
    """What both CNNs do before their convolutions (normalisation, augmentation, deltas) and after
    them (mean + max or mean + std pooling over the real frames, dropout, classifier)."""

    def __init__(self, config: MfccCnnConfig):
        super().__init__()
        self.use_deltas = config.use_deltas
        self.masks = (config.freq_masks, config.freq_mask_width, config.time_masks, config.time_mask_width)
        self.normalization = getattr(config, "normalization", "utterance")
        self.pooling = getattr(config, "pooling", "meanmax")

    def _add_head(self, config: MfccCnnConfig, pooled_channels: int, level_rows: int = 0) -> None:
        """Dropout and classifier, created after the convolutions (the seeded initial weights depend on the order);
        ``level_rows``: input rows whose speaker-relative levels the classifier reads too (``"utterance+speaker"``)."""
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(2 * pooled_channels + 2 * level_rows, config.num_labels)
        hint = getattr(config, "hint_size", 0)
        self.hint_frames = bool(getattr(config, "hint_frames", False))
        if not hint:
            self.hint = None
        elif self.hint_frames:
            self.hint = nn.Conv1d(pooled_channels, hint, 1)
        else:
            self.hint = nn.Linear(2 * pooled_channels + 2 * level_rows, hint)
        # What the hint reads, kept from the last forward while training: the pooled features, or with
        # ``hint_frames`` the last block's frames and their mask.
        self.hinted = None

    @staticmethod
    def speaker_levels(x: torch.Tensor, mask: torch.Tensor, speaker: tuple) -> torch.Tensor:
        """``[batch, 2 x rows]``: each row's utterance mean and spread against the speaker's,
        ``(mean - speaker_mean) / speaker_std`` and ``log(std / speaker_std)``, over the real frames."""
        mean, std = _masked_mean_std(x, mask[:, None, :].to(x.dtype))
        speaker_mean, speaker_std = (s.to(x.dtype) for s in speaker)
        return torch.cat([(mean - speaker_mean) / speaker_std, torch.log(std / speaker_std)], dim=1)

    def front(self, x: torch.Tensor, mask: torch.Tensor, mix: tuple | None = None, speaker: tuple | None = None):
        """Normalisation, training-time augmentation and deltas: ``[batch, rows x 3, frames]`` and its
        frame mask ``[batch, 1, frames]``, padding zero (shared by the 1-D and 2-D networks).
        ``speaker``: ``(mean, std)``, each ``[batch, rows]``, for ``normalization="speaker"``."""
        if self.normalization in SPEAKER_NORMALIZATIONS and speaker is None:
            raise ValueError(SPEAKER_INPUTS_NEEDED)
        if self.normalization == "speaker":
            mean, std = speaker
            x = (x - mean[..., None].to(x.dtype)) / std[..., None].to(x.dtype) * mask[:, None, :].to(x.dtype)
        elif self.normalization in ("utterance", "utterance+speaker"):
            x = _masked_normalise(x, mask)
        elif self.normalization == "utterance_global":
            x = _masked_normalise_global(x, mask)
        else:
            x = x * mask[:, None, :].to(x.dtype)
        if mix is not None:  # mixup: blend each clip with another of the batch (union of their frames)
            perm, lam = mix
            x = lam * x + (1 - lam) * x[perm]
            mask = torch.maximum(mask, mask[perm])
        if self.training:  # SpecAugment; zero is each row's mean after normalisation
            x = _spec_mask(_spec_mask(x, self.masks[0], self.masks[1], 1), self.masks[2], self.masks[3], 2)
        m = mask[:, None, :].to(x.dtype)
        if self.use_deltas:
            # Hold each clip's last frame over its padding, so deltas at the end are those of the
            # clip alone (edge-replicated): a padded clip scores exactly as it does by itself.
            last = (mask.sum(-1).clamp(min=1) - 1)[:, None]
            hold = torch.minimum(torch.arange(x.shape[-1], device=x.device)[None, :], last)
            hold = hold[:, None, :].expand_as(x)
            x = x.gather(2, hold)
            d1 = _delta(x).gather(2, hold)
            x = torch.cat([x, d1, _delta(d1)], dim=1) * m
        return x, m

    def head(self, x: torch.Tensor, m: torch.Tensor, levels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits from ``[batch, channels, frames]`` and its frame mask ``[batch, 1, frames]``
        (and the :meth:`speaker_levels` of ``"utterance+speaker"``)."""
        if self.pooling == "meanstd":
            mean, second = _masked_mean_std(x, m)
        else:
            mean = (x * m).sum(-1) / m.sum(-1).clamp(min=1.0)
            second = x.masked_fill(m == 0, float("-inf")).amax(-1)
        pooled = torch.cat([mean, second] + ([levels] if levels is not None else []), dim=1)
        self.hinted = None
        if self.training and self.hint is not None:
            self.hinted = (x, m[:, 0]) if self.hint_frames else pooled
        return self.classifier(self.dropout(pooled))


class _Int8Linear(nn.Module):
    """A frozen ``nn.Linear`` kept as int8 weights with one float scale per output row: a quarter of its
    float32 bytes on disk, dequantized to the input's dtype for the product (a storage format, not an int8
    kernel: the arithmetic stays float). Rounding moves each weight by at most half a step of its row's
    largest magnitude / 127."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("scale", torch.ones(out_features))
        self.bias = nn.Parameter(torch.zeros(out_features), requires_grad=False) if bias else None

    @staticmethod
    def quantize(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``weight`` as (int8 rows, float scales): each row over its own largest magnitude."""
        scale = weight.abs().amax(1).clamp(min=1e-12) / 127.0
        return torch.round(weight / scale[:, None]).to(torch.int8), scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self._dequantized(x.dtype), self.bias)

    def _dequantized(self, dtype: torch.dtype) -> torch.Tensor:
        """The float weights, kept between calls (a tenth of a 3 s clip's latency otherwise) until the
        int8 weights or scales change (loading, ``load_state_dict``, ``to``)."""
        key = (self.weight.data_ptr(), self.weight._version, self.scale.data_ptr(), self.scale._version, dtype)
        cached = getattr(self, "_cache", None)
        if cached is None or cached[0] != key:
            with torch.inference_mode(False), torch.no_grad():  # an ordinary tensor, usable outside inference mode
                cached = self._cache = (key, self.weight.to(dtype) * self.scale.to(dtype)[:, None])
        return cached[1]


class _WhisperFrontEnd(nn.Module):
    """Whisper's convolutional stem on the extractor's log-mel frames (dB, 80 bands from 0 Hz).

    The frames are first put on Whisper's scale (log10, floored 8 decades below the clip's
    loudest frame, then ``(x + 4) / 4``), as the copied weights expect. Padding frames stay zero
    after each convolution, so a padded clip gets what it gets alone. Output: 50 frames a second, or 25, 16.7
    or 12.5 with ``front_end_stride`` 4, 6 or 8 (the second convolution's stride).
    With ``front_end_layers``, the encoder's first transformer layers follow (padding masked as keys).
    """

    def __init__(self, config: MfccCnnConfig):
        super().__init__()
        c = config.front_end_channels
        self.conv1 = nn.Conv1d(config.num_features, c, 3, padding=1)
        self.stride = getattr(config, "front_end_stride", 2)
        self.conv2 = nn.Conv1d(c, c, 3, stride=self.stride, padding=1)
        self.layers = nn.ModuleList()
        if getattr(config, "front_end_layers", 0):
            # Whisper's own layer class, so the checkpoint's weights load by name (``layers.0.self_attn...``).
            from transformers import WhisperConfig
            from transformers.models.whisper.modeling_whisper import WhisperEncoderLayer

            ffn = getattr(config, "front_end_ffn_dim", 4 * c)
            whisper = WhisperConfig(d_model=c, encoder_attention_heads=config.front_end_heads,
                                    encoder_ffn_dim=max(ffn, 1), dropout=0.0, attention_dropout=0.0,
                                    activation_dropout=0.0)
            whisper._attn_implementation = "sdpa"
            self.layers.extend(WhisperEncoderLayer(whisper) for _ in range(config.front_end_layers))
            self.attention_only = ffn == 0
            if self.attention_only:  # the feed-forward half is not part of the model, nor of its weights
                for layer in self.layers:
                    del layer.final_layer_norm, layer.fc1, layer.fc2
            if getattr(config, "front_end_int8", False):
                for layer in self.layers:
                    for parent in (layer, layer.self_attn):
                        for name, child in list(parent.named_children()):
                            if isinstance(child, nn.Linear):
                                setattr(parent, name, _Int8Linear(child.in_features, child.out_features,
                                                                  child.bias is not None))

    def load_whisper(self, weights: dict) -> None:
        """Load a Whisper encoder's weights (``conv1.*``, ``conv2.*``, ``layers.N.*``, float), rounding
        those of int8 linears; strict: every weight of this front end must be there."""
        own = self.state_dict()
        weights = {k: v for k, v in weights.items() if k in own}
        for name, module in self.named_modules():
            if isinstance(module, _Int8Linear):
                weights[f"{name}.weight"], weights[f"{name}.scale"] = _Int8Linear.quantize(weights[f"{name}.weight"])
        self.load_state_dict(weights)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m = mask[:, None, :].to(x.dtype)
        log10 = x / 10.0
        peak = log10.masked_fill(m == 0, float("-inf")).amax((1, 2), keepdim=True)
        x = (torch.maximum(log10, peak - 8.0) + 4.0) / 4.0 * m
        x = nn.functional.gelu(self.conv1(x)) * m
        m = nn.functional.max_pool1d(m, self.stride, ceil_mode=True)
        x = nn.functional.gelu(self.conv2(x)) * m
        if len(self.layers):
            x = self._attend(x, m[:, 0]) * m
        return x, m[:, 0]

    def _attend(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The transformer layers over the stem's frames, with Whisper's sinusoidal positions (computed,
        not stored: the checkpoint's table is these sinusoids); padding frames are masked out as keys."""
        from transformers.models.whisper.modeling_whisper import sinusoids

        h = x.transpose(1, 2)
        h = h + sinusoids(h.shape[1], h.shape[2]).to(h)
        keys = None
        if not bool(mask.all()):
            keys = torch.zeros_like(mask, dtype=h.dtype).masked_fill(mask == 0, torch.finfo(h.dtype).min)[:, None, None, :]
        for layer in self.layers:
            if self.attention_only:
                h = h + layer.self_attn(layer.self_attn_layer_norm(h), attention_mask=keys)[0]
            else:
                h = layer(h, keys)
        return h.transpose(1, 2)


class _Cnn1d(_Front):
    """Log-mel + deltas as input channels, 1-D conv-BN-ReLU-pool blocks over time, mean+max pooling.

    1-D convolutions over time (mel bands as channels) train about 4x faster than the 2-D option
    (``cnn2d``) on 2 CPU cores, which scored no better on unseen speakers
    (``python -m bench.baseline savee_cnn2d``); the speed keeps training on all corpora under 10 minutes.
    Global pooling makes the model length-agnostic: it trains on 3 s crops and reads whole clips.
    """

    def __init__(self, config: MfccCnnConfig):
        super().__init__(config)
        self.front_end = _WhisperFrontEnd(config) if getattr(config, "front_end", None) else None
        self.freeze_front_end = self.front_end is not None and config.freeze_front_end
        if self.front_end is not None:
            self.front_end.requires_grad_(not self.freeze_front_end)
            c_in, first_stride = config.front_end_channels, 1  # the stem already lowered the frame rate
        else:
            c_in, first_stride = config.num_features * (3 if config.use_deltas else 1), 2
        first_stride = getattr(config, "first_stride", None) or first_stride
        blocks, k = [], config.first_kernel_size
        for i, c_out in enumerate(config.channels):
            conv = (nn.Conv1d(c_in, c_out, k, stride=first_stride, padding=k // 2, bias=False) if i == 0
                    else nn.Conv1d(c_in, c_out, 3, padding=1, bias=False))
            layers = [conv, nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]
            if i > 0:
                layers.append(nn.MaxPool1d(2, ceil_mode=True))
            blocks.append(nn.Sequential(*layers))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self._add_head(config, c_in, config.front_end_channels if self.normalization == "utterance+speaker" else 0)

    def run_front_end(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The front end's frames and their mask (the input unchanged without a front end)."""
        if self.front_end is None:
            return x, mask
        # No graph through a frozen stem (``from_pretrained`` may hand back trainable parameters).
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_front_end):
            return self.front_end(x, mask)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, mix: tuple | None = None,
                skip_front_end: bool = False, speaker: tuple | None = None) -> torch.Tensor:
        if not skip_front_end:
            x, mask = self.run_front_end(x, mask)
        levels = None
        if self.normalization == "utterance+speaker" and speaker is not None:
            levels = self.speaker_levels(x, mask, speaker)
            if mix is not None:
                perm, lam = mix
                levels = lam * levels + (1 - lam) * levels[perm]
        x, m = self.front(x, mask, mix, speaker)
        for block in self.blocks:
            conv, norm, relu = block[0], block[1], block[2]
            x = relu(norm(conv(x)))
            if conv.stride[0] > 1:
                m = nn.functional.max_pool1d(m, 2, ceil_mode=True)
            x = x * m  # padding stays zero, as the convolution's own zero padding of a lone clip
            if len(block) > 3:
                x = block[3](x)
                m = nn.functional.max_pool1d(m, 2, ceil_mode=True)
        return self.head(x, m, levels)


class _Cnn2d(_Front):
    """Log-mel and its deltas as a 3-plane image; 3x3 conv-BN-ReLU blocks, each followed by 2x2
    max-pooling; the bands averaged out at the end, then the same pooling over time as ``cnn1d``.

    Why try it: its kernels slide along the band axis too, so a pattern learnt at one speaker's pitch
    and formants is still recognised a few bands higher or lower, where the 1-D network, one input
    channel per band, must learn each position anew. Measured on SAVEE's unseen speakers it did not
    help and trained about 4x slower than ``cnn1d`` (``python -m bench.baseline savee_cnn2d``).
    """

    def __init__(self, config: MfccCnnConfig):
        super().__init__(config)
        self.planes = 3 if config.use_deltas else 1
        c_in, blocks = self.planes, []
        for c_out in config.channels:
            blocks.append(nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                                        nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self._add_head(config, c_in)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, mix: tuple | None = None) -> torch.Tensor:
        x, m = self.front(x, mask, mix)
        x = x.reshape(x.shape[0], self.planes, -1, x.shape[-1])
        m = m[:, :, None, :]
        for block in self.blocks:
            x = block(x) * m  # padding stays zero, as the convolution's own zero padding of a lone clip
            # ReLU outputs are >= 0, so a window reaching into the zero padding pools as the lone clip's
            # shorter last window does.
            x = nn.functional.max_pool2d(x, 2, ceil_mode=True)
            m = nn.functional.max_pool2d(m, (1, 2), ceil_mode=True)
        return self.head(x.mean(2), m[:, :, 0, :])


class MfccCnnForAudioClassification(MfccCnnPreTrainedModel):
    """Emotion classifier over MFCC/log-mel frames from :class:`MfccCnnFeatureExtractor`.

    ``forward(input_features, attention_mask=None, labels=None)`` returns a
    ``SequenceClassifierOutput``; ``labels`` may be class ids or, with mixup, class
    probabilities ``[batch, num_labels]``. With ``skip_front_end=True`` the ``input_features``
    are already the front end's output (:meth:`front_end_features`): a frozen stem need not run
    again on every training epoch (:func:`ser_hf.training.front_end_frames` caches it).
    A speaker-adaptive model with a front end (``normalization="speaker"``) also takes
    ``speaker_mean`` and ``speaker_std`` ``[batch, front_end_channels]``: the statistics of the
    speaker's front-end frames (:meth:`ser_hf.EmotionRecognizer.speaker_statistics`); without them
    it raises rather than guess.
    """

    def __init__(self, config: MfccCnnConfig):
        super().__init__(config)
        self.net = {"seed": _SeedConv1d, "cnn1d": _Cnn1d, "cnn2d": _Cnn2d}[config.architecture](config)
        self.post_init()

    @property
    def front_end_stride(self) -> int:
        """Input frames per front-end frame (Whisper's stem halves the frame rate; ``front_end_stride``)."""
        return getattr(self.config, "front_end_stride", 2) if getattr(self.config, "front_end", None) == "whisper" else 1

    def frames_per_last_block_frame(self, skip_front_end: bool = False) -> int:
        """Input rows' frames per frame of ``cnn1d``'s last block (the frame hints' stride): the front
        end's stride (unless the rows are its output already), the first block's stride and each pooling."""
        if self.config.architecture != "cnn1d":
            raise ValueError(f"architecture {self.config.architecture!r} has no 1-D frames to hint")
        stride = 1 if skip_front_end else self.front_end_stride
        for block in self.net.blocks:
            stride *= block[0].stride[0] * (2 if len(block) > 3 else 1)
        return stride

    @property
    def takes_speaker_statistics(self) -> bool:
        """Whether ``forward`` measures the front end's output against ``speaker_mean``/``speaker_std``
        (``normalization="speaker"``), which the caller gathers over that output."""
        return getattr(self.config, "normalization", None) in SPEAKER_NORMALIZATIONS

    @property
    def frozen_front_end(self) -> bool:
        """Whether the network starts with a front end whose weights training leaves as they are."""
        return bool(getattr(self.net, "freeze_front_end", False))

    def front_end_features(self, input_features: torch.Tensor,
                           attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The front end's output frames ``[batch, channels, frames']`` and their mask ``[batch, frames']``."""
        if getattr(self.net, "front_end", None) is None:
            raise ValueError("this model has no front end (config.front_end is None)")
        if attention_mask is None:
            attention_mask = torch.ones(input_features.shape[0], input_features.shape[-1],
                                        dtype=torch.long, device=input_features.device)
        frames, mask = self.net.run_front_end(input_features.float(), attention_mask)
        return frames, mask.long()

    def forward(self, input_features: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, return_dict: bool | None = None,
                skip_front_end: bool = False, speaker_mean: torch.Tensor | None = None,
                speaker_std: torch.Tensor | None = None, hint_targets: torch.Tensor | None = None,
                hint_mask: torch.Tensor | None = None, **kwargs):
        if (speaker_mean is None) != (speaker_std is None):
            raise ValueError("pass speaker_mean and speaker_std together")
        if speaker_mean is not None and not self.takes_speaker_statistics:
            raise ValueError("speaker_mean/speaker_std given, but this model does not take speaker statistics "
                             f"(normalization={getattr(self.config, 'normalization', None)!r})")
        if skip_front_end and getattr(self.net, "front_end", None) is None:
            raise ValueError("skip_front_end=True, but this model has no front end")
        if attention_mask is None:
            attention_mask = torch.ones(input_features.shape[0], input_features.shape[-1],
                                        dtype=torch.long, device=input_features.device)
        alpha = getattr(self.config, "mixup_alpha", 0.0)
        mix = None
        if self.training and labels is not None and alpha > 0 and self.config.architecture != "seed":
            lam = float(torch.distributions.Beta(alpha, alpha).sample())
            mix = (torch.randperm(input_features.shape[0], device=input_features.device), lam)
        extra = {"skip_front_end": True} if skip_front_end else {}
        if speaker_mean is not None:
            extra["speaker"] = (speaker_mean.float(), speaker_std.float())
        if mix is None:
            logits = self.net(input_features.float(), attention_mask, **extra)
        else:
            logits = self.net(input_features.float(), attention_mask, mix=mix, **extra)
        loss = None
        if labels is not None:
            smoothing = self.config.label_smoothing if self.training else 0.0
            target = labels if labels.is_floating_point() else labels.long()
            loss = nn.functional.cross_entropy(logits, target, label_smoothing=smoothing)
            if mix is not None:
                perm, lam = mix
                loss = lam * loss + (1 - lam) * nn.functional.cross_entropy(
                    logits, target[perm], label_smoothing=smoothing)
        if hint_targets is not None and self.training:
            hint = getattr(self.net, "hint", None)
            if hint is None:
                raise ValueError("hint_targets given, but this model has no hint head (config.hint_size is 0)")
            if mix is not None:
                raise ValueError("hint_targets do not go with mixup: a blended clip has no teacher embedding")
            if self.net.hint_frames:
                frames, mask = self.net.hinted
                if hint_mask is None or hint_targets.shape[-1] != frames.shape[-1]:
                    raise ValueError(f"frame hints need hint_mask and {frames.shape[-1]} frames, got "
                                     f"{tuple(hint_targets.shape)}{'' if hint_mask is not None else ' without a mask'}")
                keep = mask * hint_mask.to(frames.dtype)
                error = (hint(frames) - hint_targets.to(frames.dtype)).pow(2).mean(1)
                hint_loss = (error * keep).sum() / keep.sum().clamp(min=1.0)
            else:
                hint_loss = nn.functional.mse_loss(hint(self.net.hinted), hint_targets.to(logits.dtype))
            loss = hint_loss * self.config.hint_weight if loss is None else loss + self.config.hint_weight * hint_loss
        return SequenceClassifierOutput(loss=loss, logits=logits)
