"""Noise reduction: which method ``ser_hf.preprocess.reduce_noise`` uses.

    python -m bench denoise          # about a minute

The feature extractor's optional noise reduction (``reduce_noise=True``, the seeds' "cleaning")
calls ``noisereduce`` in its default non-stationary mode. This compares it with its stationary mode
and with the spectral subtraction ser_hf used before (kept below for the comparison). 24 real
clips (8 each of RAVDESS, TESS and SAVEE, seeded) get white noise at 5, 10 and 20 dB SNR; each
method is scored by the waveform SNR it gains over the noisy input, by the mean distance of
its log-mel spectrogram (64 bands, floored 80 dB below the clean clip's peak, as the features
see it) to the clean clip's, and by its median time per clip on one thread.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from .common import DATA, row, write

SNRS = (5, 10, 20)


def spectral_subtraction(wave: np.ndarray, floor_percentile: float = 10.0, strength: float = 1.5) -> np.ndarray:
    """ser_hf's reduce_noise until 2026-11-23: subtract each bin's noise floor (a low percentile of
    its magnitude over time) from the magnitudes, keeping the phase."""
    import librosa

    if wave.size < 512:
        return wave
    spec = librosa.stft(wave, n_fft=512, hop_length=128)
    magnitude = np.abs(spec)
    floor = np.percentile(magnitude, floor_percentile, axis=1, keepdims=True)
    gain = np.clip(1.0 - strength * floor / np.maximum(magnitude, 1e-10), 0.0, 1.0)
    return librosa.istft(spec * gain, hop_length=128, length=wave.size).astype(np.float32)


def _clips(per_corpus: int = 8, seed: int = 0) -> list:
    from ser_hf.corpora import load_corpora

    ds = load_corpora(DATA, names=["ravdess", "tess", "savee"], label_set="7")
    rng = np.random.default_rng(seed)
    corpora = np.asarray(ds["corpus"])
    picks = [int(i) for c in ("ravdess", "tess", "savee")
             for i in rng.choice(np.flatnonzero(corpora == c), per_corpus, replace=False)]
    return [ds[i]["path"] for i in picks]


def _logmel(wave, top=None):
    """Log-mel in dB, floored 80 dB below ``top`` (the clean clip's peak)."""
    import librosa

    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=wave, sr=16_000, n_fft=512, hop_length=160, n_mels=64),
                              ref=1.0, top_db=None)
    return mel if top is None else np.maximum(mel, top - 80.0)


def main() -> None:
    import noisereduce
    from threadpoolctl import threadpool_limits

    from ser_hf.audio import load_audio
    from ser_hf.preprocess import reduce_noise

    threadpool_limits(1)  # the timings are per clip on one thread
    methods = {
        "ser_hf reduce_noise (noisereduce, non-stationary)": lambda x: reduce_noise(x, 16_000),
        "noisereduce, stationary": lambda x: noisereduce.reduce_noise(y=x, sr=16_000, stationary=True),
        "spectral subtraction (ser_hf's until 2026-11-23)": spectral_subtraction,
    }
    rng = np.random.default_rng(0)
    waves = [load_audio(p) for p in _clips()]
    for f in methods.values():  # warm-up: imports and caches out of the timings
        f(waves[0])
    scores = {(name, snr): {"snr": [], "mel": [], "ms": []} for name in methods for snr in SNRS}
    noisy_mel = {snr: [] for snr in SNRS}
    for wave in waves:
        clean_mel = _logmel(wave)
        top = float(clean_mel.max())
        clean_mel = np.maximum(clean_mel, top - 80.0)
        for snr in SNRS:
            noise = rng.normal(0.0, np.sqrt(np.mean(wave ** 2) / 10 ** (snr / 10)), wave.shape).astype(np.float32)
            noisy = wave + noise
            noisy_mel[snr].append(float(np.mean(np.abs(_logmel(noisy, top) - clean_mel))))
            for name, f in methods.items():
                start = time.perf_counter()
                out = f(noisy)
                s = scores[(name, snr)]
                s["ms"].append(1000 * (time.perf_counter() - start))
                s["snr"].append(10 * np.log10(np.sum(wave ** 2) / np.sum((wave - out[: wave.size]) ** 2)) - snr)
                s["mel"].append(float(np.mean(np.abs(_logmel(out[: wave.size], top) - clean_mel))))
    rows = []
    for (name, snr), s in scores.items():
        note = (f"{len(waves)} clips, white noise at {snr} dB SNR; the noisy input's distance is "
                f"{np.mean(noisy_mel[snr]):.1f} dB; waveform SNR gain {np.mean(s['snr']):+.1f} dB; "
                f"{statistics.median(s['ms']):.0f} ms per clip (median, 1 thread).")
        rows.append(row(f"noise reduction at {snr} dB SNR: {name}", "log-mel distance to the clean clip (mean)",
                        round(float(np.mean(s["mel"])), 1), "dB", None, None, note))
        print(rows[-1]["benchmark"], rows[-1]["value"], note, flush=True)
    write("denoise", rows)


if __name__ == "__main__":
    main()
