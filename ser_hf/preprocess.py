"""Optional clean-up the seed projects applied before features: silence trimming and noise reduction.

Both live here, and the feature extractor calls them, so a clip is cleaned by the same code in
training, evaluation, the CLI and the app (a model saved with ``trim_db`` or ``reduce_noise`` set
carries the setting in its ``preprocessor_config.json``).
"""

from __future__ import annotations

import numpy as np

# A clip trimmed to less than this keeps its untrimmed samples: a whisper must not become nothing.
_MIN_KEPT_S = 0.25


def trim_silence(wave: np.ndarray, sampling_rate: int = 16_000, top_db: float = 30.0) -> np.ndarray:
    """Cut leading and trailing stretches quieter than ``top_db`` below the clip's peak."""
    import librosa

    if wave.size == 0:
        return wave
    trimmed, _ = librosa.effects.trim(wave, top_db=top_db, frame_length=512, hop_length=128)
    return trimmed if trimmed.size >= _MIN_KEPT_S * sampling_rate else wave


def reduce_noise(wave: np.ndarray, sampling_rate: int = 16_000, floor_percentile: float = 10.0,
                 strength: float = 1.5) -> np.ndarray:
    """Spectral gating: subtract each frequency's noise floor (its quiet-frame level) from the magnitudes.

    The floor is the ``floor_percentile`` of that bin's magnitude over time, which in acted
    corpora is the room and microphone hiss between words; the phase is kept.
    """
    import librosa

    if wave.size < 512:
        return wave
    spec = librosa.stft(wave, n_fft=512, hop_length=128)
    magnitude = np.abs(spec)
    floor = np.percentile(magnitude, floor_percentile, axis=1, keepdims=True)
    gain = np.clip(1.0 - strength * floor / np.maximum(magnitude, 1e-10), 0.0, 1.0)
    cleaned = librosa.istft(spec * gain, hop_length=128, length=wave.size)
    return cleaned.astype(np.float32, copy=False)


def preprocess(wave: np.ndarray, sampling_rate: int = 16_000, trim_db: float | None = None,
               denoise: bool = False) -> np.ndarray:
    """Apply the chosen clean-up steps, noise reduction first (it makes trimming more reliable)."""
    wave = np.asarray(wave, dtype=np.float32)
    if denoise:
        wave = reduce_noise(wave, sampling_rate)
    if trim_db is not None:
        wave = trim_silence(wave, sampling_rate, top_db=trim_db)
    return wave
