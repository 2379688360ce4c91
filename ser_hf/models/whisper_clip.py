"""Whisper on short clips: cut its 30 s window to the clip lengths emotion corpora have.

Stock Whisper pads every input to 30 s (3000 mel frames) and its encoder refuses anything else,
so a 3 s clip costs ten times its own compute. :func:`fit_window` cuts the window to
``seconds``: the sinusoidal position table keeps its first ``seconds * 50`` rows,
``config.max_source_positions`` and the feature extractor's ``chunk_length`` follow. Saved with
``save_pretrained``, the model and its feature extractor are plain ``WhisperForAudioClassification``
and ``WhisperFeatureExtractor`` again: ``AutoModelForAudioClassification.from_pretrained`` and
``pipeline("audio-classification")`` run it on a ``seconds`` window with no custom class and no
import of this module.

:func:`own_length` runs the encoder on a clip's exact length instead (no padding at all); the
benchmark uses it to measure what the fixed window costs (``bench/finetune.py``).

Every function here leaves models without Whisper's fixed window (wav2vec2, HuBERT, WavLM)
untouched, so training code calls them for any backbone.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch import nn

# Whisper's mel hop is 10 ms and its conv front end halves the frame rate: 50 positions a second.
POSITIONS_PER_SECOND = 50


def has_fixed_window(model_or_config, feature_extractor=None) -> bool:
    """True for backbones that insist on a fixed input length (Whisper)."""
    config = getattr(model_or_config, "config", model_or_config)
    fixed = hasattr(config, "max_source_positions") and hasattr(config, "num_mel_bins")
    return fixed and (feature_extractor is None or hasattr(feature_extractor, "n_samples"))


def _encoder(model: nn.Module) -> nn.Module:
    encoder = getattr(model, "encoder", None)
    if encoder is None:
        encoder = model.get_encoder()
    if not hasattr(encoder, "embed_positions"):
        raise TypeError(f"{type(model).__name__} has no Whisper encoder")
    return encoder


def _cut_positions(encoder: nn.Module, positions: int) -> None:
    table = encoder.embed_positions.weight
    if positions > table.shape[0]:
        raise ValueError(f"window of {positions} positions exceeds the model's {table.shape[0]}")
    encoder.embed_positions = nn.Embedding.from_pretrained(table[:positions].detach().clone(), freeze=True)
    encoder.max_source_positions = positions


def fit_window(model: nn.Module, feature_extractor, seconds: float) -> int | None:
    """Cut a Whisper model's input window to ``seconds`` (rounded up to whole seconds), in place.

    The feature extractor then pads and truncates to that window, and the saved config carries
    the shorter ``max_source_positions``, so stock transformers code runs the pair unchanged.
    Returns the window in seconds, or None for backbones without a fixed window (left as is).
    """
    if not has_fixed_window(model, feature_extractor):
        return None
    window = int(math.ceil(seconds))
    if window <= 0:
        raise ValueError(f"window must be positive, got {seconds} s")
    positions = window * POSITIONS_PER_SECOND
    _cut_positions(_encoder(model), positions)
    model.config.max_source_positions = positions
    feature_extractor.chunk_length = window
    feature_extractor.n_samples = window * feature_extractor.sampling_rate
    feature_extractor.nb_max_frames = feature_extractor.n_samples // feature_extractor.hop_length
    return window


@contextmanager
def own_length(model: nn.Module, frames: int):
    """Within the block, the Whisper encoder accepts exactly ``frames`` mel frames (even count).

    For measuring Whisper on a clip's own length, one clip (or one equal-length batch) at a time.
    """
    if frames % 2:
        raise ValueError("Whisper's strided convolution needs an even number of mel frames")
    encoder = _encoder(model)
    saved = encoder.embed_positions, encoder.max_source_positions, model.config.max_source_positions
    encoder.embed_positions = nn.Embedding.from_pretrained(saved[0].weight[: frames // 2], freeze=True)
    encoder.max_source_positions = model.config.max_source_positions = frames // 2
    try:
        yield model
    finally:
        encoder.embed_positions, encoder.max_source_positions, model.config.max_source_positions = saved


def own_length_features(feature_extractor, audio, max_seconds: float | None = None) -> torch.Tensor:
    """Log-mel features of one clip at its own length (even frame count), shape ``[1, 80, T]``."""
    sr = feature_extractor.sampling_rate
    if max_seconds:
        audio = audio[: int(max_seconds * sr)]
    frames = max(2, 2 * math.ceil(len(audio) / feature_extractor.hop_length / 2))
    return feature_extractor(audio, sampling_rate=sr, padding="max_length", truncation=True,
                             max_length=frames * feature_extractor.hop_length,
                             return_tensors="pt").input_features


def freeze_front_end(model: nn.Module, lower_layers: int = 0) -> list[str]:
    """Freeze the convolutional front end and the ``lower_layers`` lowest transformer layers.

    Works for wav2vec2-style models (``freeze_feature_encoder``) and Whisper (``conv1``, ``conv2``).
    Returns the names of the frozen parameter groups, for the log and the model card.
    """
    frozen = []
    if hasattr(model, "freeze_feature_encoder"):
        model.freeze_feature_encoder()
        frozen.append("feature_encoder")
    else:
        encoder = getattr(model, "encoder", None)
        for name in ("conv1", "conv2"):
            if encoder is not None and hasattr(encoder, name):
                getattr(encoder, name).requires_grad_(False)
                frozen.append(f"encoder.{name}")
    if lower_layers:
        layers = encoder_layers(model)
        for index, layer in enumerate(layers[:lower_layers]):
            layer.requires_grad_(False)
            frozen.append(f"layer{index}")
    return frozen


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The transformer layers of an audio encoder (Whisper ``encoder.layers``, wav2vec2 ``encoder.layers``)."""
    for name, module in model.named_modules():
        if name.endswith("encoder.layers") and isinstance(module, nn.ModuleList):
            return module
    raise TypeError(f"{type(model).__name__}: no encoder layers found to freeze")
