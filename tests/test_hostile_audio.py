"""Hostile audio at the decoding entry points (load_audio, probe, iter_chunks).

Every case ends either in a correct decode (right length at 16 kHz mono, finite, the tone that
was written) or in one AudioError naming the file and the problem; never another exception,
never a hang. All files are generated in tmp_path; docs/reliability.md is the table of them.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import soundfile as sf

from ser_hf.audio import MAX_DURATION, SAMPLING_RATE, iter_chunks, load_audio, probe
from ser_hf.errors import AudioError

FFMPEG = shutil.which("ffmpeg")
SECONDS = 1.0
FREQ = 440.0


def tone(sr: int, seconds: float = SECONDS, channels: int = 1, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(sr * seconds)) / sr
    x = amp * np.sin(2 * np.pi * FREQ * t)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def dominant_hz(y: np.ndarray, sr: int = SAMPLING_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spectrum)])


def wav_bytes(x: np.ndarray, sr: int, subtype: str = "PCM_16") -> bytes:
    path = f"/tmp/_ser_wav_{os.getpid()}.wav"
    sf.write(path, x, sr, subtype=subtype)
    try:
        return open(path, "rb").read()
    finally:
        os.remove(path)


def ffmpeg_encode(src, dst, *args) -> None:
    assert FFMPEG, "the ffmpeg CLI is needed to write mp3/opus/webm/m4a (scripts/setup.sh installs it)"
    subprocess.run([FFMPEG, "-nostdin", "-y", "-loglevel", "error", "-i", str(src), *args, str(dst)], check=True)


def assert_decodes(y: np.ndarray, seconds: float = SECONDS, tolerance: float = 0.03, freq: float | None = FREQ):
    assert y.dtype == np.float32 and y.ndim == 1
    assert np.isfinite(y).all()
    assert abs(len(y) / SAMPLING_RATE - seconds) <= tolerance, len(y)
    if freq:
        assert abs(dominant_hz(y) - freq) < 5


def assert_refused(path_or_name, problem: str, call, *args, **kwargs) -> AudioError:
    with pytest.raises(AudioError) as info:
        call(*args, **kwargs)
    assert str(path_or_name) in str(info.value)
    assert problem in info.value.problem, info.value.problem
    return info.value


# ---------------------------------------------------------------- formats that must decode

@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_bit_depths_decode(tmp_path, subtype):
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, tone(22050), 22050, subtype=subtype)
    y = load_audio(path)
    assert_decodes(y, tolerance=1 / SAMPLING_RATE)
    assert 0.45 < np.abs(y).max() < 0.55  # the level survives: u8 centred, ints scaled to [-1, 1]
    assert probe(path) == {"sampling_rate": 22050, "channels": 1, "duration": 1.0}


@pytest.mark.parametrize("sr", [8000, 11025, 16000, 22050, 24414, 44100, 48000, 96000])
def test_sample_rates_decode(tmp_path, sr):
    path = tmp_path / f"{sr}.wav"
    sf.write(path, tone(sr), sr)
    assert_decodes(load_audio(path), tolerance=1 / SAMPLING_RATE)


@pytest.mark.parametrize("channels", range(1, 9))
def test_channels_downmixed(tmp_path, channels):
    path = tmp_path / f"{channels}ch.wav"
    sf.write(path, tone(44100, channels=channels), 44100)
    y = load_audio(path)
    assert_decodes(y, tolerance=1 / SAMPLING_RATE)
    # FFmpeg's downmix matrix (the one datasets.Audio(num_channels=1) uses) sums channels with
    # weights up to 1: louder for many identical channels, never silent, never unbounded.
    assert 0.3 < np.abs(y).max() <= 0.5 * channels + 0.01


def test_stereo_matches_datasets_audio(tmp_path):
    """The decode the recogniser sees is the one training sees through datasets.Audio."""
    import datasets

    path = tmp_path / "stereo 44k.wav"
    stereo = np.stack([tone(44100), tone(44100, amp=0.2)], axis=1)
    sf.write(path, stereo, 44100)
    ds = datasets.Dataset.from_dict({"audio": [str(path)]}).cast_column(
        "audio", datasets.Audio(sampling_rate=SAMPLING_RATE, num_channels=1))
    via_datasets = ds[0]["audio"].get_all_samples().data.numpy().reshape(-1)
    ours = load_audio(path)
    assert ours.shape == via_datasets.shape
    # Same FFmpeg downmix and resampler; ours resamples after the downmix (see audio._resample),
    # which moves the last bit of a float32 at most.
    np.testing.assert_allclose(ours, via_datasets, rtol=0, atol=1e-6)


def test_container_formats_decode(tmp_path):
    src = tmp_path / "src.wav"
    sf.write(src, tone(48000), 48000)
    sf.write(tmp_path / "aiff named.wav", tone(16000), 16000, format="AIFF")  # as in TESS
    sf.write(tmp_path / "x.flac", tone(44100), 44100)
    sf.write(tmp_path / "x.ogg", tone(44100), 44100, format="OGG", subtype="VORBIS")
    ffmpeg_encode(src, tmp_path / "x.mp3", "-c:a", "libmp3lame")
    ffmpeg_encode(src, tmp_path / "x.opus", "-c:a", "libopus")
    ffmpeg_encode(src, tmp_path / "opus in.ogg", "-c:a", "libopus")
    ffmpeg_encode(src, tmp_path / "x.m4a", "-c:a", "aac")
    ffmpeg_encode(src, tmp_path / "x.webm", "-c:a", "libopus")
    names = ["aiff named.wav", "x.flac", "x.ogg", "x.mp3", "x.opus", "opus in.ogg", "x.m4a", "x.webm"]
    for name in names:
        y = load_audio(tmp_path / name)
        assert_decodes(y, tolerance=0.08)  # codec priming and padding: tens of milliseconds
        header = probe(tmp_path / name)
        assert abs(header["duration"] - len(y) / SAMPLING_RATE) < 0.1, name
        np.testing.assert_array_equal(load_audio((tmp_path / name).read_bytes()), y)


def test_browser_webm_without_duration(tmp_path):
    """MediaRecorder streams webm: no duration in the header; it must still decode and probe."""
    webm = tmp_path / "mic.webm"
    with open(webm, "wb") as out:  # a pipe is not seekable, so the muxer writes no duration, like a browser
        subprocess.run([FFMPEG, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", f"sine=f={FREQ:g}:d=2:r=48000",
                        "-c:a", "libopus", "-f", "webm", "pipe:1"], stdout=out, check=True)
    from torchcodec.decoders import AudioDecoder

    assert AudioDecoder(str(webm)).metadata.duration_seconds is None
    assert_decodes(load_audio(webm), seconds=2.0, tolerance=0.03)
    assert abs(probe(webm)["duration"] - 2.0) < 0.03
    assert_decodes(load_audio(webm, max_duration=2.5), seconds=2.0)
    assert_refused(webm, "too long", load_audio, webm, max_duration=1.0)  # no header to ask: decoding bounds it


@pytest.mark.parametrize("name", ["ünïcødé ñame.wav", "spaces  in  name .wav", "日本語 (1).wav", "-dash.wav"])
def test_unicode_and_spaces_in_names(tmp_path, name):
    path = tmp_path / name
    sf.write(path, tone(16000), 16000)
    assert_decodes(load_audio(path))
    assert_decodes(load_audio(str(path)))
    assert probe(path)["duration"] == 1.0
    broken = tmp_path / ("broken " + name)
    broken.write_text("not audio")
    assert_refused(broken, "not a readable audio file", load_audio, broken)
    assert_refused(broken, "not a readable audio file", probe, broken)


def test_signal_oddities_decode_as_they_are(tmp_path):
    """Silence, clipping and DC offset are audio: decoded unchanged (the recogniser decides)."""
    sf.write(tmp_path / "silence.wav", np.zeros(16000), 16000)
    silence = load_audio(tmp_path / "silence.wav")
    assert len(silence) == 16000 and not silence.any()
    sf.write(tmp_path / "clipped.wav", np.clip(4 * tone(16000), -1, 1), 16000)
    clipped = load_audio(tmp_path / "clipped.wav")
    assert_decodes(clipped)
    assert np.mean(np.abs(clipped) > 0.99) > 0.5
    sf.write(tmp_path / "dc.wav", 0.3 * tone(16000) + 0.6, 16000)
    dc = load_audio(tmp_path / "dc.wav")
    assert abs(dc.mean() - 0.6) < 0.01 and np.isfinite(dc).all()


def test_short_clips(tmp_path):
    """Too short is the caller's call: 0 s minimum by default (loaders), min_duration=0.1 for the recogniser."""
    path = tmp_path / "short.wav"
    sf.write(path, tone(16000, 0.05), 16000)
    assert len(load_audio(path)) == 800
    assert_refused(path, "too short: 0.050 s, under the 0.1 s minimum", load_audio, path, min_duration=0.1)
    one = tmp_path / "one sample.wav"
    sf.write(one, np.array([0.25]), 16000)
    assert load_audio(one).tolist() == [0.25]
    assert_refused(one, "too short", load_audio, one, min_duration=0.1)
    sf.write(one, np.array([0.25]), 8000)  # FFmpeg's resampler keeps a lone sample as its delay
    assert_refused(one, "no audio samples (header only, empty stream, or too short to resample)", load_audio, one)
    assert_refused("<ndarray>", "too short", load_audio, np.zeros(100, np.float32), sr=16000, min_duration=0.1)


# ---------------------------------------------------------------- inputs that must be refused

def test_nan_and_inf(tmp_path):
    for bad in (np.nan, np.inf, -np.inf):
        x = tone(16000).astype(np.float32)
        x[1000] = bad
        path = tmp_path / f"{bad}.wav"
        sf.write(path, x, 16000, subtype="FLOAT")
        assert_refused(path, "NaN or infinite", load_audio, path)
        assert_refused("<ndarray>", "NaN or infinite", load_audio, x, sr=16000)
        assert_refused(path, "NaN or infinite", lambda p: list(iter_chunks(p, 0.25)), path)


def _broken_files(tmp_path) -> dict:
    good = wav_bytes(tone(16000), 16000)
    files = {
        "empty.wav": (b"", "empty file (0 bytes)"),
        "text.wav": (b"this is a text file, not audio\n" * 20, "not a readable audio file"),
        "random.wav": (np.random.default_rng(0).bytes(4096), "not a readable audio file"),
        "header only.wav": (good[:44], "no audio samples"),
        "cut in header.wav": (good[:20], "not a readable audio file"),
        "rate 1 Hz.wav": (good[:24] + struct.pack("<II", 1, 2) + good[32:], "implausible sample rate 1 Hz"),
        "rate 220 MHz.wav": (good[:24] + struct.pack("<II", 220_000_000, 440_000_000) + good[32:], "implausible sample rate"),
        "fake.mp3": (b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 100, "not a readable audio file"),
    }
    for name, (data, _) in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "folder.wav").mkdir()
    files["folder.wav"] = (None, "is a folder, not an audio file")
    files["missing.wav"] = (None, "no such file")
    return {name: problem for name, (_, problem) in files.items()}


def test_broken_files_refused_by_load_audio_and_probe_alike(tmp_path):
    for name, problem in _broken_files(tmp_path).items():
        path = tmp_path / name
        started = time.perf_counter()
        from_load = assert_refused(path, problem, load_audio, path)
        from_probe = assert_refused(path, problem, probe, path)
        assert time.perf_counter() - started < 5, f"{name} took too long"  # never a hang
        assert from_load.problem.split(" (")[0] == from_probe.problem.split(" (")[0], name


def test_broken_bytes_refused(tmp_path):
    for data, problem in [(b"", "empty input (0 bytes)"), (b"RIFF", "not a readable audio file"),
                          (np.random.default_rng(1).bytes(10_000), "not a readable audio file"),
                          (wav_bytes(tone(16000), 16000)[:44], "no audio samples")]:
        assert_refused(f"<{len(data)} bytes>", problem, load_audio, data)
    assert_refused("clip.wav", "no such file", load_audio, {"path": "clip.wav", "bytes": None})
    assert_refused("clip.wav", "not a readable audio file", load_audio, {"path": "clip.wav", "bytes": b"RIFF...."})


def test_fifo_named_wav_does_not_hang(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    assert_refused(fifo, "not a regular file", load_audio, fifo)
    assert_refused(fifo, "not a regular file", probe, fifo)


def test_unsupported_inputs():
    assert_refused("<list>", "unsupported input type", load_audio, [0.0, 0.1])
    assert_refused("<ndarray>", "needs its sample rate", load_audio, np.zeros(10))
    assert_refused("<tuple>", "invalid sample rate", load_audio, (0, np.zeros(10)))
    assert_refused("<tuple>", "expected 1-D or 2-D", load_audio, (16000, np.zeros((2, 2, 2))))


# ---------------------------------------------------------------- headers that lie

def test_lying_headers(tmp_path):
    good = wav_bytes(tone(16000), 16000)

    def patched(riff=None, data=None, keep=None) -> bytes:
        b = bytearray(good[:keep] if keep else good)
        if riff is not None:
            b[4:8] = struct.pack("<I", riff)
        if data is not None:
            b[40:44] = struct.pack("<I", data)
        return bytes(b)

    cases = {
        # header claims more than the file holds: the samples that are there
        "data 10x.wav": (patched(data=320_000, riff=320_036), 1.0),
        "data 4 GB.wav": (patched(data=0xFFFFFFFF, riff=0xFFFFFFFF), 1.0),
        "riff wrong.wav": (patched(riff=12), 1.0),
        "cut mid-file.wav": (good[:44 + 16_000], 0.5),
        "cut inside a sample.wav": (good[:44 + 16_001], 0.5),  # FFmpeg gives up; libsndfile reads the whole samples
        # header claims less: RIFF says the rest is not audio; FFmpeg and libsndfile agree
        "data says 1000 bytes.wav": (patched(data=1000), 500 / 16000),
    }
    for name, (data, seconds) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        y = load_audio(path)
        assert_decodes(y, seconds=seconds, tolerance=2 / SAMPLING_RATE, freq=FREQ if seconds > 0.1 else None)
        assert abs(probe(path)["duration"] - seconds) <= 2 / SAMPLING_RATE, name
        np.testing.assert_array_equal(load_audio(data), y)


def test_corrupt_payload_is_probe_ok_but_decode_refused(tmp_path):
    """probe reads headers only: a FLAC whose frames are garbage passes it and fails at decode."""
    path = tmp_path / "corrupt.flac"
    sf.write(path, tone(16000), 16000)
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 2000] = np.random.default_rng(2).bytes(2000)
    path.write_bytes(bytes(data))
    assert probe(path)["duration"] == 1.0
    assert_refused(path, "not a readable audio file (Could not receive frame from decoder", load_audio, path)


# ---------------------------------------------------------------- long recordings: bounded memory

def sparse_wav(path, seconds: float, sr: int = 16000) -> None:
    """A valid 16-bit mono WAV of silence that takes no disk: header, then a hole."""
    n = int(seconds * sr) * 2
    header = (b"RIFF" + struct.pack("<I", 36 + n) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, sr, 2 * sr, 2, 16)
              + b"data" + struct.pack("<I", n))
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(44 + n)


def test_two_hours_refused_from_header_and_streamed_in_bounded_memory(tmp_path):
    """load_audio refuses 2 h before decoding it; iter_chunks walks 20 min with one block in memory.

    Run in a fresh interpreter so that ru_maxrss (the peak) measures this work alone.
    """
    two_hours, twenty_min = tmp_path / "two hours.wav", tmp_path / "twenty min.wav"
    sparse_wav(two_hours, 7200, sr=8000)
    sparse_wav(twenty_min, 1200)
    script = textwrap.dedent(f"""
        import json, resource, time, numpy as np
        from ser_hf.audio import load_audio, iter_chunks
        from ser_hf.errors import AudioError
        next(iter_chunks({str(twenty_min)!r}, 1.0))
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        base = peak(); t = time.perf_counter()
        try:
            load_audio({str(two_hours)!r})
        except AudioError as e:
            refused = dict(message=str(e), seconds=time.perf_counter() - t, grew_mb=peak() - base)
        base = peak(); n = 0
        for block in iter_chunks({str(twenty_min)!r}, 30.0):
            n += block.size
        print(json.dumps(dict(refused=refused, streamed=dict(samples=n, grew_mb=peak() - base))))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    refused, streamed = result["refused"], result["streamed"]
    assert "two hours.wav: too long: 7200.0 s, over the 600 s limit" in refused["message"]
    assert refused["seconds"] < 1.0 and refused["grew_mb"] < 40, refused  # all of it: 460 MB of float32
    assert streamed["samples"] == 1200 * 16000
    assert streamed["grew_mb"] < 40, streamed  # the whole recording would be 77 MB of float32


def test_max_duration_catches_headers_that_understate(tmp_path):
    """A stream with no duration in its header is bounded by the decode itself."""
    path = tmp_path / "no header duration.webm"
    with open(path, "wb") as out:
        subprocess.run([FFMPEG, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=440:d=3:r=48000",
                        "-c:a", "libopus", "-f", "webm", "pipe:1"], stdout=out, check=True)
    assert_decodes(load_audio(path, max_duration=None), seconds=3.0, tolerance=0.03)
    assert_refused(path, "too long", load_audio, path, max_duration=2.0)
    assert MAX_DURATION == 600.0


# ---------------------------------------------------------------- iter_chunks

@pytest.mark.parametrize("name,sr,channels", [("a.wav", 16000, 1), ("b.wav", 44100, 2), ("c.flac", 48000, 1), ("d.mp3", 48000, 1)])
def test_iter_chunks_join_into_load_audio(tmp_path, name, sr, channels):
    t = np.arange(int(3.3 * sr)) / sr
    chirp = 0.4 * np.sin(2 * np.pi * (200 + 300 * t) * t)  # speech-band sweep, 200-2200 Hz
    x = np.repeat(chirp[:, None], channels, axis=1) if channels > 1 else chirp
    path = tmp_path / name
    if name.endswith(".mp3"):
        sf.write(tmp_path / "src.wav", x, sr)
        ffmpeg_encode(tmp_path / "src.wav", path, "-c:a", "libmp3lame")
    else:
        sf.write(path, x, sr)
    full = load_audio(path)
    for chunk_seconds in (1.0, 0.37):
        blocks = list(iter_chunks(path, chunk_seconds))
        size = round(chunk_seconds * SAMPLING_RATE)
        assert all(len(b) == size for b in blocks[:-1]) and 0 < len(blocks[-1]) <= size
        joined = np.concatenate(blocks)
        assert abs(len(joined) - len(full)) <= 2, (len(joined), len(full))
        n = min(len(joined), len(full))
        error = np.abs(joined[:n] - full[:n])
        if sr == SAMPLING_RATE:
            assert error.max() == 0
        else:  # soxr's stream vs FFmpeg's resampler: they differ a little, most at the file's two ends
            assert error[50:-50].max() < 0.01 and error.max() < 0.05, (error[50:-50].max(), error.max())


def test_iter_chunks_refuses_like_load_audio(tmp_path):
    for name, problem in _broken_files(tmp_path).items():
        assert_refused(tmp_path / name, problem, lambda p: list(iter_chunks(p)), tmp_path / name)
    with pytest.raises(ValueError):
        next(iter_chunks(tmp_path / "empty.wav", 0))
