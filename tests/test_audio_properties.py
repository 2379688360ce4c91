"""Property-based tests of load_audio: any signal in any common format comes back right, and
any bytes at all come back as audio or as AudioError, nothing else."""

from __future__ import annotations

import io
import struct

import numpy as np
import soundfile as sf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ser_hf.audio import SAMPLING_RATE, load_audio, probe
from ser_hf.errors import AudioError

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SUBTYPES = {"WAV": ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"], "FLAC": ["PCM_16", "PCM_24"],
            "AIFF": ["PCM_16", "PCM_24", "PCM_32", "FLOAT"]}


@st.composite
def audio_files(draw):
    container = draw(st.sampled_from(sorted(SUBTYPES)))
    subtype = draw(st.sampled_from(SUBTYPES[container]))
    rate = draw(st.integers(8000, 96000) if container != "FLAC" else st.sampled_from([8000, 22050, 44100, 48000, 96000]))
    channels = draw(st.integers(1, 8))
    seconds = draw(st.floats(0.02, 1.5))
    freq = draw(st.floats(100, 1000))
    amp = draw(st.floats(0.05, 0.9))
    return container, subtype, rate, channels, seconds, freq, amp


@SETTINGS
@given(spec=audio_files())
def test_any_signal_round_trips(tmp_path, spec):
    container, subtype, rate, channels, seconds, freq, amp = spec
    n = max(1, round(seconds * rate))
    t = np.arange(n) / rate
    x = amp * np.sin(2 * np.pi * freq * t)
    path = tmp_path / f"clip {rate} {channels}ch {subtype}.{ 'wav' if container != 'FLAC' else 'flac'}"
    sf.write(path, np.repeat(x[:, None], channels, axis=1), rate, format=container, subtype=subtype)

    assert probe(path) == {"sampling_rate": rate, "channels": channels, "duration": n / rate}
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1 and np.isfinite(y).all()
    assert abs(len(y) - n * SAMPLING_RATE / rate) <= 2
    # FFmpeg's downmix weights each channel by at most 1; the resampler may ring a little.
    assert np.abs(y).max() <= amp * channels * 1.1 + 0.02
    if channels == 1 and len(y) > 1600:
        # a tone well inside both bands keeps its level (rms of a sine: amp / sqrt 2), edges aside
        core = y[400:-400]
        assert abs(np.sqrt(np.mean(core ** 2)) - amp / np.sqrt(2)) < 0.05 * amp + 0.01


def _wav_header(fmt, channels, rate, bits, block_align, data_size) -> bytes:
    return (b"RIFF" + struct.pack("<I", (36 + data_size) & 0xFFFFFFFF) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, fmt, channels, rate, (rate * block_align) & 0xFFFFFFFF, block_align, bits)
            + b"data" + struct.pack("<I", data_size))


u16, u32 = st.integers(0, 2 ** 16 - 1), st.integers(0, 2 ** 32 - 1)
forged_wav = st.builds(
    lambda header, payload: header + payload,
    st.builds(_wav_header, st.sampled_from([1, 3, 6, 7, 0xFFFE]) | u16, st.integers(0, 9) | u16,
              st.sampled_from([1, 8000, 16000, 96000]) | u32, st.sampled_from([8, 16, 24, 32, 64]) | u16,
              st.integers(0, 16) | u16, u32),
    st.binary(max_size=4096),
)


def _decodes_or_refuses(data: bytes) -> None:
    try:
        y = load_audio(data, max_duration=60)
    except AudioError as exc:
        assert exc.problem and str(exc).startswith(f"<{len(data)} bytes>: ")
    else:
        assert y.dtype == np.float32 and y.size and np.isfinite(y).all()


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=4096) | forged_wav)
def test_any_bytes_give_audio_or_audio_error(data):
    _decodes_or_refuses(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=forged_wav | st.binary(max_size=2048), ext=st.sampled_from([".wav", ".mp3", ".flac", ".webm", ".m4a"]))
def test_probe_and_load_agree_on_any_file(tmp_path, data, ext):
    """probe refuses => load_audio refuses with the same problem; probe accepts => load_audio
    decodes, or refuses for what only decoding can see (a corrupt payload, NaN samples)."""
    path = tmp_path / f"fuzzed{ext}"
    path.write_bytes(data)
    try:
        header = probe(path)
    except AudioError as exc:
        refused = exc.problem.split(" (")[0]
        try:
            load_audio(path, max_duration=None)
        except AudioError as exc2:
            assert exc2.problem.split(" (")[0] == refused or (
                refused == "no audio samples" and exc2.problem.startswith("not a readable audio file"))
        else:
            raise AssertionError(f"probe refused ({exc.problem}) but load_audio decoded {path}")
        return
    assert header["duration"] >= 0 and header["channels"] >= 1
    try:
        load_audio(path, max_duration=60)
    except AudioError as exc:
        assert exc.problem.startswith(("not a readable audio file", "contains NaN or infinite samples",
                                       "no audio samples", "too long")), exc.problem


def test_array_inputs_round_trip():
    rng = np.random.default_rng(0)
    for rate in (8000, 16000, 44100):
        x = (0.1 * rng.standard_normal(rate)).astype(np.float32)
        for source, kw in [((rate, x), {}), (x, {"sr": rate}), ({"array": x, "sampling_rate": rate}, {}),
                           ((rate, (x * 32767).astype(np.int16)), {}), ((rate, np.stack([x, x], 1)), {})]:
            y = load_audio(source, **kw)
            assert abs(len(y) - SAMPLING_RATE) <= 1 and np.isfinite(y).all()
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(1000), 16000, format="WAV")
    assert load_audio(buffer.getvalue()).shape == (1000,)


def test_header_ffmpeg_refuses_gets_probes_reason(tmp_path):
    """Found by the property above: a 1 Hz header FFmpeg will not open; both must name the rate."""
    path = tmp_path / "one_hertz.wav"
    path.write_bytes(b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x02\x01\x00\x00\x00\x00\x00"
                     b"\x00\x00\x00\x00\x08\x00data\x00\x00\x00\x00")
    for read in (probe, load_audio):
        with pytest.raises(AudioError, match="implausible sample rate 1 Hz in the header"):
            read(path)
