"""Train-time waveform augmentation: noise at an SNR, time stretch, pitch shift, time shift.
Nothing here runs at evaluation or inference; the feature-level masks (SpecAugment) live in the
model's training mode (:mod:`ser_hf.models.mfcc_cnn`).

Why two levels: the waveform effects are the ones the seed projects used, but pitch shifting
costs ~12 ms a clip, too much to redo every epoch on 2 cores. The baseline therefore renders a
fixed number of augmented copies of each training clip once, inside the cached ``datasets.map``
(seeded per clip, so the cache is reproducible), and adds cheap fresh randomness every epoch on
the features: a random crop (a time shift), time and frequency masks, and mixup.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass

import numpy as np


def add_noise(wave: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white noise at ``snr_db`` dB below the clip's mean power."""
    power = float(np.mean(wave.astype(np.float64) ** 2))
    if power <= 0:
        return wave
    noise = rng.standard_normal(wave.size) * np.sqrt(power / 10 ** (snr_db / 10))
    return (wave + noise).astype(np.float32)


def time_stretch(wave: np.ndarray, rate: float) -> np.ndarray:
    """Play ``rate`` times faster without changing pitch (phase vocoder)."""
    import librosa

    return librosa.effects.time_stretch(wave, rate=rate).astype(np.float32)


def pitch_shift(wave: np.ndarray, semitones: float, sampling_rate: int = 16_000) -> np.ndarray:
    """Raise the pitch by ``semitones`` keeping the duration."""
    import librosa

    return librosa.effects.pitch_shift(wave, sr=sampling_rate, n_steps=semitones).astype(np.float32)


def time_shift(wave: np.ndarray, seconds: float, sampling_rate: int = 16_000) -> np.ndarray:
    """Delay (positive) or advance (negative) the clip, padding with silence; the length is kept."""
    shift = int(round(seconds * sampling_rate))
    if shift == 0 or abs(shift) >= wave.size:
        return wave
    out = np.zeros_like(wave)
    if shift > 0:
        out[shift:] = wave[:-shift]
    else:
        out[:shift] = wave[-shift:]
    return out


@dataclass
class WaveAugmenter:
    """Random waveform effects, each applied with probability ``p``.

    Example:
        >>> aug = WaveAugmenter()
        >>> noisy = aug(wave, rng=np.random.default_rng(0))
    """

    p: float = 0.6
    snr_db: tuple[float, float] = (10.0, 30.0)
    stretch: tuple[float, float] = (0.85, 1.15)
    # +-4 rather than +-2 since 2026-11-25: unseen speakers' voices differ by more than two semitones;
    # on the three corpora 62.1 against 60.3 % UA over three training seeds (``python -m bench.baseline
    # all3_whisper_stem_pitch4``), RAVDESS (68.2 / 68.3 %) and SAVEE (48.3 / 49.0 %) within a seed's spread.
    semitones: tuple[float, float] = (-4.0, 4.0)
    shift_s: float = 0.2
    sampling_rate: int = 16_000

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        wave = np.asarray(wave, dtype=np.float32)
        if wave.size < 2048:  # too short for the phase vocoder; noise alone still helps
            return add_noise(wave, rng.uniform(*self.snr_db), rng)
        if rng.random() < self.p:
            wave = time_stretch(wave, rng.uniform(*self.stretch))
        if rng.random() < self.p:
            wave = pitch_shift(wave, rng.uniform(*self.semitones), self.sampling_rate)
        if rng.random() < self.p:
            wave = time_shift(wave, rng.uniform(-self.shift_s, self.shift_s), self.sampling_rate)
        if rng.random() < self.p:
            wave = add_noise(wave, rng.uniform(*self.snr_db), rng)
        return wave

    def to_dict(self) -> dict:
        return asdict(self)


# WaveAugmenter's effects until 2026-11-25 (pitch within +-2 semitones): what an unchanged recipe meant
# in the records written before then (benchmark run keys, the shipped models' training_info.json),
# which did not list the effects themselves.
EFFECTS_BEFORE_2026_11_25 = {**asdict(WaveAugmenter()), "semitones": (-2.0, 2.0)}


def recorded_effects(effects: dict | None, augmenter: dict | None) -> dict:
    """The augmented copies' effects a record describes: its own ``effects``, or, for a record written
    before records listed them, :data:`EFFECTS_BEFORE_2026_11_25` under its ``augmenter`` overrides."""
    return dict(effects) if effects else {**EFFECTS_BEFORE_2026_11_25, **(augmenter or {})}


def clip_rng(key: str, copy: int, seed: int = 0) -> np.random.Generator:
    """A generator fixed by the clip's path and copy number, so cached copies are reproducible."""
    return np.random.default_rng([zlib.crc32(key.encode()), copy, seed])

