"""Configuration of the MFCC-CNN baseline (``model_type="mfcc_cnn"``)."""

from __future__ import annotations

from transformers import PretrainedConfig

ARCHITECTURES = ("cnn1d", "seed")


class MfccCnnConfig(PretrainedConfig):
    """Hyper-parameters of :class:`MfccCnnForAudioClassification`.

    Args:
        architecture: ``"cnn1d"`` (the default: 1-D convolutions over time on log-mel +
            deltas, batch norm, global mean+max pooling) or ``"seed"`` (seed 000's Conv1D network on a
            flattened 2400-value MFCC matrix, 40 coefficients x 60 frames).
        num_features: feature rows the extractor emits (mel bands, or MFCC coefficients).
        channels: output channels of the conv blocks (``cnn1d``).
        use_deltas: stack first and second time derivatives as extra input channels (``cnn1d``).
        seed_frames: frames of the seed's fixed-size input (``seed``; 40 x 60 = 2400).
        dropout: dropout before the classifier.
        label_smoothing: smoothing of the cross-entropy targets during training.
        freq_masks, freq_mask_width, time_masks, time_mask_width: SpecAugment masks applied
            while training (``cnn1d``): how many bands, and their largest width in rows/frames.
    """

    model_type = "mfcc_cnn"

    def __init__(self, architecture: str = "cnn1d", num_features: int = 64,
                 channels: tuple[int, ...] = (96, 96, 128, 128), use_deltas: bool = True,
                 seed_frames: int = 60, dropout: float = 0.3, label_smoothing: float = 0.1,
                 freq_masks: int = 2, freq_mask_width: int = 8, time_masks: int = 2,
                 time_mask_width: int = 20, **kwargs):
        if architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {architecture!r}; choose one of {ARCHITECTURES}")
        self.architecture = architecture
        self.num_features = num_features
        self.channels = list(channels)
        self.use_deltas = use_deltas
        self.seed_frames = seed_frames
        self.dropout = dropout
        self.label_smoothing = label_smoothing
        self.freq_masks = freq_masks
        self.freq_mask_width = freq_mask_width
        self.time_masks = time_masks
        self.time_mask_width = time_mask_width
        super().__init__(**kwargs)
