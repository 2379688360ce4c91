"""Audio in, mono float32 at 16 kHz out: the one decoding path of the library.

Files and bytes are decoded by torchcodec (FFmpeg), the same decoder ``datasets.Audio`` uses,
so a clip gives the same samples in training, evaluation, the CLI and the app. Whatever comes
in (wav, flac, ogg/opus, mp3, aiff, webm, m4a; any rate, channel count and bit depth) leaves
as mono 16 kHz float32; anything unusable raises :class:`~ser_hf.errors.AudioError` naming the
source and the problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np

from .errors import AudioError

SAMPLING_RATE = 16_000
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".m4a", ".webm")

AudioSource = Union[str, os.PathLike, bytes, tuple, dict, np.ndarray]


def _describe(source) -> str:
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return f"<{type(source).__name__}>"


def _decode_file(source, sampling_rate: int) -> np.ndarray:
    from torchcodec.decoders import AudioDecoder

    name = _describe(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            raise AudioError(name, "is a folder, not an audio file")
        if not path.exists():
            raise AudioError(name, "no such file")
        if path.stat().st_size == 0:
            raise AudioError(name, "empty file (0 bytes)")
        source = str(path)
    elif len(source) == 0:
        raise AudioError(name, "empty input (0 bytes)")
    try:
        decoder = AudioDecoder(source, sample_rate=sampling_rate, num_channels=1)
        samples = decoder.get_all_samples().data.numpy()
    except Exception as exc:  # torchcodec raises RuntimeError/ValueError with FFmpeg's words
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AudioError(name, f"not a readable audio file ({reason})") from None
    return samples.reshape(-1).astype(np.float32, copy=False)


def _to_float(array: np.ndarray) -> np.ndarray:
    """Integer PCM to [-1, 1] floats; unsigned 8-bit is centred first."""
    if array.dtype == np.uint8:
        return (array.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.float32) / float(np.iinfo(array.dtype).max + 1)
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32, copy=False)
    raise TypeError(f"unsupported sample type {array.dtype}")


def _from_array(array, sr: int, sampling_rate: int, name: str) -> np.ndarray:
    import librosa

    try:
        array = _to_float(np.asarray(array))
    except TypeError as exc:
        raise AudioError(name, str(exc)) from None
    if array.ndim == 2:
        # Gradio and soundfile give (samples, channels); torch-style is (channels, samples).
        channel_axis = 1 if array.shape[0] > array.shape[1] else 0
        array = array.mean(axis=channel_axis)
    elif array.ndim != 1:
        raise AudioError(name, f"expected 1-D or 2-D samples, got shape {array.shape}")
    if not sr or sr <= 0:
        raise AudioError(name, f"invalid sample rate {sr!r}")
    if int(sr) != sampling_rate and array.size:
        array = librosa.resample(array, orig_sr=int(sr), target_sr=sampling_rate)
    return array.astype(np.float32, copy=False)


def load_audio(source: AudioSource, sampling_rate: int = SAMPLING_RATE, sr: int | None = None) -> np.ndarray:
    """Decode ``source`` to mono float32 samples at ``sampling_rate``.

    ``source`` is a path, raw bytes, a numpy array (give its ``sr``), Gradio's ``(sr, array)``
    tuple, or a ``datasets`` audio dict (``{"array", "sampling_rate"}`` or ``{"path", "bytes"}``).

    Raises:
        AudioError: the source is empty, unreadable, not audio, or holds NaN/Inf samples.

    Example:
        >>> load_audio("clip.mp3").dtype
        dtype('float32')
    """
    name = _describe(source)
    if isinstance(source, dict):
        if source.get("array") is not None:
            samples = _from_array(source["array"], source.get("sampling_rate"), sampling_rate, name)
        else:
            name = source.get("path") or name
            data = source.get("bytes") or source.get("path")
            if data is None:
                raise AudioError(name, "audio dict holds neither samples, bytes nor a path")
            return load_audio(data, sampling_rate)
    elif isinstance(source, tuple):
        if len(source) != 2:
            raise AudioError(name, "expected a (sample_rate, samples) tuple")
        samples = _from_array(source[1], source[0], sampling_rate, name)
    elif isinstance(source, np.ndarray):
        if sr is None:
            raise AudioError(name, "a numpy array needs its sample rate (sr=...)")
        samples = _from_array(source, sr, sampling_rate, name)
    elif isinstance(source, (str, os.PathLike, bytes, bytearray)):
        samples = _decode_file(bytes(source) if isinstance(source, bytearray) else source, sampling_rate)
    else:
        raise AudioError(name, "unsupported input type; pass a path, bytes, an array with sr, or (sr, array)")
    if samples.size == 0:
        raise AudioError(name, "no audio samples (header only or empty stream)")
    if not np.isfinite(samples).all():
        raise AudioError(name, "contains NaN or infinite samples")
    return samples


def probe(path: str | os.PathLike) -> dict:
    """Sample rate, channels and duration read from the header only (no decoding).

    libsndfile reads the common formats by their content, whatever the extension (the AIFF
    files named ``.wav`` in TESS); FFmpeg takes the rest (mp3 without tags, m4a, webm).

    Raises:
        AudioError: the file is empty, a folder, or no decoder recognises it.
    """
    import soundfile as sf

    name = str(path)
    if os.path.isdir(path):
        raise AudioError(name, "is a folder, not an audio file")
    if os.path.getsize(path) == 0:
        raise AudioError(name, "empty file (0 bytes)")
    try:
        info = sf.info(name)
        if info.frames <= 0:
            raise AudioError(name, "no audio samples (header only)")
        return {"sampling_rate": info.samplerate, "channels": info.channels, "duration": info.duration}
    except AudioError:
        raise
    except Exception:
        pass
    from torchcodec.decoders import AudioDecoder

    try:
        meta = AudioDecoder(name).metadata
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AudioError(name, f"not a readable audio file ({reason})") from None
    duration = meta.duration_seconds or meta.duration_seconds_from_header or 0.0
    if duration <= 0:
        raise AudioError(name, "no audio samples (header only or empty stream)")
    return {"sampling_rate": meta.sample_rate, "channels": meta.num_channels, "duration": float(duration)}
