"""Audio in, mono float32 at 16 kHz out: the one decoding path of the library.

Files and bytes are decoded by torchcodec (FFmpeg), the same decoder ``datasets.Audio`` uses,
so a clip gives the same samples in training, evaluation, the CLI and the app. Whatever comes
in (wav, flac, ogg/opus, mp3, aiff, webm, m4a; any rate, channel count and bit depth) leaves
as mono 16 kHz float32; anything unusable raises :class:`~ser_hf.errors.AudioError` naming the
source and the problem.

What hostile input gets (``docs/reliability.md`` has the full table):

- silence, clipping and DC offset decode as they are (they are audio; the recogniser decides
  what silence means);
- more than one channel is downmixed by FFmpeg's standard matrix, as
  ``datasets.Audio(num_channels=1)`` does (stereo: ``(L + R) / sqrt(2)``), and resampled by
  FFmpeg, so training and inference see the same samples (to 1e-6: files are decoded at their
  own rate and then resampled, which keeps a corrupt stream from crashing the process);
- NaN or infinite samples, no samples at all, input longer than ``max_duration`` or shorter
  than ``min_duration``: :class:`AudioError`;
- input longer than ``max_duration`` is refused from its header before it is decoded, and
  decoding never reads past ``max_duration`` even when the header lies, so memory stays
  bounded; stream long recordings with :func:`iter_chunks` instead.

Where torchcodec or FFmpeg's libraries cannot load (GPU images whose torch no torchcodec build
matches), files are read by libsndfile (WAV, FLAC, OGG, AIFF) and resampled by soxr, with one
warning: the same samples for 16 kHz mono files, the same stereo matrix, soxr's resampling error.
"""

from __future__ import annotations

import functools
import io
import os
import re
import warnings
from pathlib import Path
from typing import Iterator, Union

import numpy as np

from .errors import AudioError

SAMPLING_RATE = 16_000
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".m4a", ".webm")
# Ten minutes is far beyond any emotion clip yet only ~38 MB of float32 at 16 kHz (~115 MB while
# a 48 kHz file is decoded at its own rate): the default refusal that keeps a two-hour upload
# from taking the whole memory of a server.
MAX_DURATION = 600.0
# Real recordings run from 8 kHz telephony to 384 kHz studio masters.
MIN_RATE, MAX_RATE = 1_000, 768_000

AudioSource = Union[str, os.PathLike, bytes, tuple, dict, np.ndarray]

_NO_FRAMES = "No audio frames were decoded"


def _describe(source) -> str:
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return f"<{type(source).__name__}>"


def _reason(exc: Exception, path: str | None = None) -> str:
    """FFmpeg's own words from a torchcodec error, without the C++ file and line or our path."""
    text = " ".join(str(exc).split())
    if not text:
        return type(exc).__name__
    text = re.split(r"\.(?:cpp|h):\d+,\s*", text)[-1]
    if path:
        text = text.replace(f"Could not open input file: {' '.join(path.split())} ", "")
    return text


def _problem(exc: Exception, path: str | None = None) -> str:
    if _NO_FRAMES in str(exc):
        return "no audio samples (header only or empty stream)"
    return f"not a readable audio file ({_reason(exc, path)})"


def _check_path(path: Path, name: str) -> None:
    """Refuse what FFmpeg would choke or block on: folders, missing files, FIFOs, devices, 0 bytes."""
    if path.is_dir():
        raise AudioError(name, "is a folder, not an audio file")
    if not path.exists():
        raise AudioError(name, "no such file")
    if not path.is_file():
        raise AudioError(name, "not a regular file (a device, pipe or socket)")
    if path.stat().st_size == 0:
        raise AudioError(name, "empty file (0 bytes)")


def _open(source, sampling_rate: int | None, name: str, mono: bool = True):
    """A torchcodec AudioDecoder on a path or bytes, giving mono (FFmpeg's downmix) at
    ``sampling_rate`` (None: the file's own rate)."""
    from torchcodec.decoders import AudioDecoder

    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        _check_path(path, name)
        source = str(path)
    elif len(source) == 0:
        raise AudioError(name, "empty input (0 bytes)")
    try:
        decoder = AudioDecoder(source, sample_rate=sampling_rate, num_channels=1 if mono else None)
    except Exception as exc:  # torchcodec raises RuntimeError/ValueError with FFmpeg's words
        raise AudioError(name, _header_problem(source) or _problem(exc, name)) from None
    rate = decoder.metadata.sample_rate
    # A forged header's 1 Hz or 220 MHz makes FFmpeg's resampler take seconds to set up.
    if not rate or not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(name, _implausible(rate))
    return decoder


def _implausible(rate) -> str:
    return f"implausible sample rate {rate} Hz in the header (expected {MIN_RATE}-{MAX_RATE} Hz)"


def _header_problem(source) -> str | None:
    """What libsndfile sees wrong in a header FFmpeg refused, so both say what :func:`probe` says."""
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(source) if isinstance(source, bytes) else source)
    except Exception:
        return None
    if info.samplerate > 0 and not MIN_RATE <= info.samplerate <= MAX_RATE:
        return _implausible(info.samplerate)
    return None


def _header_duration(decoder) -> float | None:
    meta = decoder.metadata
    duration = meta.duration_seconds or meta.duration_seconds_from_header
    return float(duration) if duration else None


def _has_audio_after(decoder, seconds: float) -> bool:
    """At least half a second of audio in the second after ``seconds`` (a stray packet with a
    bogus timestamp, as a broken muxer writes, does not count)."""
    try:
        block = decoder.get_samples_played_in_range(seconds, seconds + 1.0)
        return block.data.shape[-1] >= 0.5 * block.sample_rate
    except Exception as exc:
        return _NO_FRAMES not in str(exc)  # other trouble there: let the bounded decode report it


def _too_long(duration: float, max_duration: float) -> str:
    return (f"too long: {duration:.1f} s, over the {max_duration:g} s limit (max_duration); "
            f"stream long recordings with ser_hf.audio.iter_chunks")


def _libsndfile_fallback(source, stop: float | None) -> tuple[np.ndarray, int] | None:
    """Whole frames libsndfile can read when FFmpeg gives up mid-stream (a WAV cut inside a
    sample), downmixed by FFmpeg as everything else is. None when libsndfile cannot read it either."""
    import soundfile as sf
    from torchcodec.decoders import AudioDecoder

    try:
        with sf.SoundFile(io.BytesIO(source) if isinstance(source, bytes) else str(source)) as f:
            frames = f.read(frames=-1 if stop is None else int(stop * f.samplerate) + 1,
                            dtype="float32", always_2d=True)
            rate = f.samplerate
        if frames.size == 0:
            return None
        buffer = io.BytesIO()
        sf.write(buffer, frames, rate, format="WAV", subtype="FLOAT")
        decoded = AudioDecoder(buffer.getvalue(), num_channels=1).get_all_samples()
        return decoded.data.numpy().reshape(-1), rate
    except Exception:
        return None


@functools.cache
def ffmpeg_available() -> bool:
    """Whether torchcodec and FFmpeg's shared libraries load; warns once when they do not."""
    try:
        from torchcodec.decoders import AudioDecoder  # noqa: F401
    except Exception as exc:  # ImportError, or OSError/RuntimeError when the libraries are missing
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        warnings.warn(f"torchcodec/FFmpeg unavailable ({reason}): decoding with libsndfile (WAV, FLAC, OGG, "
                      f"AIFF only) and resampling with soxr", RuntimeWarning, stacklevel=2)
        return False
    return True


def _decode_libsndfile(source, sampling_rate: int, max_duration: float | None) -> np.ndarray:
    """Decode without FFmpeg: libsndfile, FFmpeg's stereo matrix, soxr. Same checks as FFmpeg's path."""
    import soundfile as sf

    name = _describe(source)
    if isinstance(source, (str, os.PathLike)):
        _check_path(Path(source), name)
        opened = str(source)
    elif len(source) == 0:
        raise AudioError(name, "empty input (0 bytes)")
    else:
        opened = io.BytesIO(source)
    try:
        with sf.SoundFile(opened) as f:
            rate = f.samplerate
            if not MIN_RATE <= rate <= MAX_RATE:
                raise AudioError(name, _implausible(rate))
            if max_duration and f.frames > max_duration * rate:
                raise AudioError(name, _too_long(f.frames / rate, max_duration))
            frames = f.read(dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as exc:
        raise AudioError(name, f"not a readable audio file without FFmpeg (libsndfile: {_reason(exc)})") from None
    if frames.size == 0:
        raise AudioError(name, "no audio samples (header only or empty stream)")
    return _from_array(frames, rate, sampling_rate, name, max_duration)


def _resample(samples: np.ndarray, rate: int, sampling_rate: int) -> np.ndarray:
    """FFmpeg's resampler (the one datasets.Audio uses) over a clean mono float stream.

    Asking torchcodec to resample while it decodes would be one step, but a corrupt stream that
    changes its rate mid-way (fuzzing found an ADTS one) crashes the process in that path;
    decoding at the file's own rate raises a clean error on the same input instead.
    """
    if not ffmpeg_available():
        import soxr

        return soxr.resample(np.ascontiguousarray(samples, np.float32), rate, sampling_rate, "HQ")
    import soundfile as sf
    from torchcodec.decoders import AudioDecoder

    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="FLOAT")
    del samples
    return AudioDecoder(buffer.getvalue(), sample_rate=sampling_rate).get_all_samples().data.numpy().reshape(-1)


def _decode_file(source, sampling_rate: int, max_duration: float | None) -> np.ndarray:
    if not ffmpeg_available():
        return _decode_libsndfile(source, sampling_rate, max_duration)
    name = _describe(source)
    decoder = _open(source, None, name)
    duration = _header_duration(decoder)
    if max_duration and duration and duration > max_duration:
        # Headers lie both ways (torchcodec's own webm muxer writes 96 s for a 2 s clip): refuse
        # only when there is audio past the limit, which one seek and a second of decoding show.
        if _has_audio_after(decoder, max_duration):
            raise AudioError(name, _too_long(duration, max_duration))
        decoder = _open(source, None, name)
    # Never decode past the limit, whatever the header says (or when it says nothing, as in a
    # browser's webm): memory is bounded by max_duration, not by the file.
    stop = max_duration + 1.0 if max_duration else None
    try:
        block = decoder.get_samples_played_in_range(0.0, stop)
        samples, rate = block.data.numpy().reshape(-1), block.sample_rate
    except Exception as exc:
        fallback = None if _NO_FRAMES in str(exc) else _libsndfile_fallback(source, stop)
        if fallback is None:
            raise AudioError(name, _problem(exc)) from None
        samples, rate = fallback
    if max_duration and samples.size > max_duration * rate:
        raise AudioError(name, _too_long(samples.size / rate, max_duration) + " (longer than its header says)")
    if not np.isfinite(samples).all():
        raise AudioError(name, "contains NaN or infinite samples")
    if samples.size and rate != sampling_rate:
        try:
            samples = _resample(samples, rate, sampling_rate)
        except Exception as exc:
            raise AudioError(name, f"cannot resample from {rate} Hz ({_reason(exc)})") from None
    if samples.size == 0:  # e.g. one sample at 8 kHz: FFmpeg's resampler keeps it as its delay
        raise AudioError(name, "no audio samples (header only, empty stream, or too short to resample)")
    return samples.astype(np.float32, copy=False)


def _to_float(array: np.ndarray) -> np.ndarray:
    """Integer PCM to [-1, 1] floats; unsigned 8-bit is centred first."""
    if array.dtype == np.uint8:
        return (array.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.float32) / float(np.iinfo(array.dtype).max + 1)
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32, copy=False)
    raise TypeError(f"unsupported sample type {array.dtype}")


def _from_array(array, sr, sampling_rate: int, name: str, max_duration: float | None) -> np.ndarray:
    try:
        array = _to_float(np.asarray(array))
    except TypeError as exc:
        raise AudioError(name, str(exc)) from None
    if array.ndim == 2:
        # Gradio and soundfile give (samples, channels); torch-style is (channels, samples).
        frames = array if array.shape[0] > array.shape[1] else array.T
        if frames.shape[1] == 1:
            array = frames[:, 0]
        elif np.isfinite(frames).all():
            array = _downmix(frames, int(sr) if sr else 1, name)
        else:
            raise AudioError(name, "contains NaN or infinite samples")
    elif array.ndim != 1:
        raise AudioError(name, f"expected 1-D or 2-D samples, got shape {array.shape}")
    if not isinstance(sr, (int, np.integer, float)) or not sr or sr <= 0:
        raise AudioError(name, f"invalid sample rate {sr!r}")
    if max_duration and array.size > max_duration * sr:
        raise AudioError(name, _too_long(array.size / sr, max_duration))
    if not np.isfinite(array).all():  # before resampling: one NaN would smear over the clip
        raise AudioError(name, "contains NaN or infinite samples")
    if int(sr) != sampling_rate and array.size:
        try:
            array = _resample(array, int(sr), sampling_rate)
        except Exception as exc:
            raise AudioError(name, f"cannot resample from {sr} Hz ({_reason(exc)})") from None
    return array.astype(np.float32, copy=False)


def _downmix(frames: np.ndarray, rate: int, name: str) -> np.ndarray:
    """FFmpeg's downmix of ``(samples, channels)`` floats: arrays get what their file would get."""
    if not ffmpeg_available():
        # FFmpeg's stereo matrix; for more channels a plain mean (FFmpeg weighs them by layout).
        if frames.shape[1] == 2:
            return (frames[:, 0] + frames[:, 1]) / np.float32(np.sqrt(2))
        return frames.mean(axis=1)
    import soundfile as sf
    from torchcodec.decoders import AudioDecoder

    buffer = io.BytesIO()
    try:
        sf.write(buffer, frames, rate, format="WAV", subtype="FLOAT")
        return AudioDecoder(buffer.getvalue(), num_channels=1).get_all_samples().data.numpy().reshape(-1)
    except Exception as exc:
        raise AudioError(name, f"cannot downmix {frames.shape[1]} channels ({_reason(exc)})") from None


def load_audio(
    source: AudioSource,
    sampling_rate: int = SAMPLING_RATE,
    sr: int | None = None,
    *,
    max_duration: float | None = MAX_DURATION,
    min_duration: float = 0.0,
) -> np.ndarray:
    """Decode ``source`` to mono float32 samples at ``sampling_rate``.

    ``source`` is a path, raw bytes, a numpy array (give its ``sr``), Gradio's ``(sr, array)``
    tuple, or a ``datasets`` audio dict (``{"array", "sampling_rate"}`` or ``{"path", "bytes"}``).
    ``max_duration`` (seconds, None for no limit) refuses longer input without decoding it all;
    ``min_duration`` refuses shorter input (0 by default: the corpus loaders take any length;
    the recogniser asks for 0.1 s).

    Raises:
        AudioError: the source is empty, unreadable, not audio, too long or too short, or holds
            NaN/Inf samples; the message names the source and the problem.

    Example:
        >>> load_audio("clip.mp3").dtype
        dtype('float32')
    """
    name = _describe(source)
    if isinstance(source, dict):
        if source.get("array") is not None:
            samples = _from_array(source["array"], source.get("sampling_rate"), sampling_rate, name, max_duration)
        else:
            name = source.get("path") or name
            data = source.get("bytes") or source.get("path")
            if data is None:
                raise AudioError(name, "audio dict holds neither samples, bytes nor a path")
            try:
                return load_audio(data, sampling_rate, max_duration=max_duration, min_duration=min_duration)
            except AudioError as exc:
                raise AudioError(name, exc.problem) from None
    elif isinstance(source, tuple):
        if len(source) != 2:
            raise AudioError(name, "expected a (sample_rate, samples) tuple")
        samples = _from_array(source[1], source[0], sampling_rate, name, max_duration)
    elif isinstance(source, np.ndarray):
        if sr is None:
            raise AudioError(name, "a numpy array needs its sample rate (sr=...)")
        samples = _from_array(source, sr, sampling_rate, name, max_duration)
    elif isinstance(source, (str, os.PathLike, bytes, bytearray)):
        source = bytes(source) if isinstance(source, bytearray) else source
        samples = _decode_file(source, sampling_rate, max_duration)
    else:
        raise AudioError(name, "unsupported input type; pass a path, bytes, an array with sr, or (sr, array)")
    if samples.size == 0:
        raise AudioError(name, "no audio samples (header only or empty stream)")
    if not np.isfinite(samples).all():
        raise AudioError(name, "contains NaN or infinite samples")
    if samples.size < min_duration * sampling_rate:
        raise AudioError(name, f"too short: {samples.size / sampling_rate:.3f} s, under the {min_duration:g} s minimum")
    return samples


def _native_blocks(decoder, block_seconds: float, name: str) -> Iterator[np.ndarray]:
    """Consecutive mono blocks at the file's own rate, cut on its sample grid: no gaps, no overlaps.

    At the native rate every block starts on a sample of the original stream, so joining them
    gives exactly the full decode; resampling is left to the caller's stream resampler.
    """
    rate = decoder.metadata.sample_rate
    size = max(1, round(block_seconds * rate))
    margin = 16  # samples either side, against float rounding of block edges
    # The time of sample 0, the first one load_audio returns (after 0 s: an mp3's encoder delay
    # puts it at 0.07 s, a webm's pre-roll is cut at 0 s).
    first_frame = max(0.0, decoder.metadata.begin_stream_seconds or 0.0)
    try:
        origin = decoder.get_samples_played_in_range(0.0, first_frame + max(1.0, block_seconds)).pts_seconds
    except Exception as exc:
        raise AudioError(name, _problem(exc)) from None
    index = 0
    while True:
        begin = origin + max(0, index - margin) / rate
        try:
            block = decoder.get_samples_played_in_range(begin, origin + (index + size + margin) / rate)
        except Exception as exc:
            if _NO_FRAMES in str(exc) and index:
                return  # ran past the end, which a header need not tell us
            raise AudioError(name, _problem(exc)) from None
        first = round((block.pts_seconds - origin) * rate)
        samples = block.data.numpy().reshape(-1)[max(0, index - first): index + size - first]
        if not np.isfinite(samples).all():
            raise AudioError(name, f"contains NaN or infinite samples (in the block at {index / rate:g} s)")
        if samples.size:
            yield samples
        if samples.size < size:
            return
        index += size


def iter_chunks(
    source: str | os.PathLike | bytes,
    chunk_seconds: float = 30.0,
    sampling_rate: int = SAMPLING_RATE,
) -> Iterator[np.ndarray]:
    """Mono float32 blocks of ``chunk_seconds`` (the last one shorter) from a file of any length.

    Memory is one block, not the recording: for timelines over hour-long files, which
    :func:`load_audio` refuses past ``max_duration``. Blocks are decoded at the file's own rate
    and resampled by one continuous soxr stream, so they join without gaps, overlaps or edge
    clicks. Against :func:`load_audio` (FFmpeg's resampler over the whole file) the joined
    blocks have the same length within a few samples, and the same values when the file is
    already at ``sampling_rate``; otherwise they differ by the two resamplers' small error.

    Raises:
        AudioError: as :func:`load_audio`, when the source cannot be opened, holds no samples
            or a block holds NaN/Inf (raised when that block is reached).
    """
    import soxr

    if chunk_seconds <= 0:
        raise ValueError(f"chunk_seconds must be positive, got {chunk_seconds}")
    name = _describe(source)
    decoder = _open(bytes(source) if isinstance(source, bytearray) else source, None, name)
    rate = decoder.metadata.sample_rate
    if not rate or rate <= 0:
        raise AudioError(name, f"invalid sample rate {rate!r} in the header")
    size = max(1, round(chunk_seconds * sampling_rate))
    stream = soxr.ResampleStream(rate, sampling_rate, 1, dtype="float32") if rate != sampling_rate else None
    pending, count = np.zeros(0, np.float32), 0
    for native in _native_blocks(decoder, chunk_seconds, name):
        out = native if stream is None else stream.resample_chunk(np.ascontiguousarray(native, np.float32))
        pending = np.concatenate([pending, out.astype(np.float32, copy=False)])
        while pending.size >= size:
            count += 1
            yield pending[:size]
            pending = pending[size:]
    if stream is not None:
        pending = np.concatenate([pending, stream.resample_chunk(np.zeros(0, np.float32), last=True)])
    if pending.size:
        yield pending
    elif not count:
        raise AudioError(name, "no audio samples (header only or empty stream)")


def probe(path: str | os.PathLike) -> dict:
    """Sample rate, channels and duration, read from the header (no decoding when it has them).

    libsndfile reads the common formats by their content, whatever the extension (the AIFF
    files named ``.wav`` in TESS), and sizes a lying WAV header by the real file; FFmpeg takes
    the rest (m4a, webm). A stream whose header gives no duration (a browser's webm) is
    decoded block by block to measure it. A file probe accepts, :func:`load_audio` decodes,
    unless its payload (not its header) is corrupt; a file probe refuses, load_audio refuses
    with the same problem.

    Raises:
        AudioError: the file is missing, empty, a folder, or no decoder recognises it.
    """
    import soundfile as sf

    name = str(path)
    _check_path(Path(path), name)
    try:
        info = sf.info(name)
    except Exception:
        info = None
    if info is not None and info.samplerate > 0 and info.channels > 0:
        if not MIN_RATE <= info.samplerate <= MAX_RATE:
            raise AudioError(name, _implausible(info.samplerate))
        if info.frames <= 0:
            raise AudioError(name, "no audio samples (header only or empty stream)")
        return {"sampling_rate": info.samplerate, "channels": info.channels, "duration": info.duration}
    if not ffmpeg_available():
        raise AudioError(name, "not a format libsndfile reads (WAV, FLAC, OGG, AIFF), and FFmpeg is unavailable")
    decoder = _open(path, None, name, mono=False)
    meta = decoder.metadata
    duration = _header_duration(decoder)
    if duration is None:
        rate = meta.sample_rate or SAMPLING_RATE
        duration = sum(block.size for block in iter_chunks(path, 60.0, rate)) / rate
    if duration <= 0:
        raise AudioError(name, "no audio samples (header only or empty stream)")
    return {"sampling_rate": meta.sample_rate, "channels": meta.num_channels, "duration": float(duration)}
