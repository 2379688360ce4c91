"""Fuzz target: ``ser_hf.audio.load_audio(bytes)`` and ``probe(path)`` on mutated audio files.

The contract: whatever the bytes, the result is mono float32 finite samples or an AudioError;
any other exception, a crash of the process (FFmpeg, libsndfile) or an input that takes longer
than ``-timeout`` seconds is a finding.

    python fuzz/fuzz_decode.py -max_total_time=25 -timeout=10      # atheris (coverage-guided)
    python fuzz/fuzz_decode.py --plain 25                           # no atheris: random mutations

Seeds are small valid files of every format the library reads, written at start-up, so the
fuzzer starts inside the parsers rather than at their front door. tests/test_fuzz.py runs it
for a bounded time in CI.
"""

from __future__ import annotations

import io
import os
import random
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

try:
    import atheris
except ImportError:  # the plain mutation loop below does the same job, unguided
    atheris = None

if atheris is not None:
    with atheris.instrument_imports(include=["ser_hf"]):
        from ser_hf.audio import load_audio, probe
else:
    from ser_hf.audio import load_audio, probe
from ser_hf.errors import AudioError

SCRATCH = os.path.join(tempfile.mkdtemp(prefix="ser_fuzz_"), "input.wav")


def seeds() -> list[bytes]:
    """One small clip per container and sample format (0.1 s of a tone, mono and stereo)."""
    import soundfile as sf
    import torch
    from torchcodec.encoders import AudioEncoder

    t = np.arange(1600) / 16000
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = []
    for container, subtype in [("WAV", "PCM_16"), ("WAV", "PCM_U8"), ("WAV", "FLOAT"), ("WAV", "PCM_24"),
                               ("FLAC", "PCM_16"), ("AIFF", "PCM_16"), ("OGG", "VORBIS")]:
        for data in (x, np.stack([x, -x], 1)):
            buffer = io.BytesIO()
            sf.write(buffer, data, 16000, format=container, subtype=subtype)
            out.append(buffer.getvalue())
    samples = torch.from_numpy(x)[None]
    for fmt in ("mp3", "webm", "ipod", "adts"):
        try:  # opus wants 48 kHz from torchcodec's encoder
            out.append(AudioEncoder(samples, sample_rate=16000).to_tensor(fmt, sample_rate=48000).numpy().tobytes())
        except Exception:
            pass
    return out


def check(data: bytes) -> None:
    try:
        y = load_audio(data, max_duration=30)
    except AudioError:
        pass
    else:
        if not (y.dtype == np.float32 and y.ndim == 1 and y.size and np.isfinite(y).all()):
            raise AssertionError(f"load_audio returned bad samples for {len(data)} bytes")
    with open(SCRATCH, "wb") as f:
        f.write(data)
    try:
        probe(SCRATCH)
    except AudioError:
        pass


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(6)
        pos = rng.randrange(len(b)) if b else 0
        if op == 0 and b:                       # flip bits
            b[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and b:                     # interesting integers in headers
            value = rng.choice([0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, rng.getrandbits(32)])
            b[pos:pos + 4] = value.to_bytes(4, "little")
        elif op == 2:                           # truncate
            del b[pos:]
        elif op == 3:                           # insert random bytes
            b[pos:pos] = rng.randbytes(rng.randint(1, 64))
        elif op == 4 and b:                     # delete a run
            del b[pos:pos + rng.randint(1, 256)]
        else:                                   # duplicate a run
            b[pos:pos] = b[pos:pos + rng.randint(1, 512)]
    return bytes(b)


def plain(seconds: float, seed: int = 0) -> int:
    """Unguided mutation fuzzing of the seeds for ``seconds``; returns the number of inputs run."""
    rng = random.Random(seed)
    corpus = seeds()
    deadline, runs = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        data = mutate(rng.choice(corpus), rng) if rng.random() < 0.95 else rng.randbytes(rng.randint(0, 4096))
        started = time.monotonic()
        check(data)
        if time.monotonic() - started > 10:
            raise AssertionError(f"one input took {time.monotonic() - started:.1f} s")
        runs += 1
    return runs


def main(argv: list[str]) -> None:
    if "--plain" in argv or atheris is None:
        seconds = float(argv[argv.index("--plain") + 1]) if "--plain" in argv else 20.0
        runs = plain(seconds)
        print(f"plain fuzz: {runs} inputs in {seconds:g} s, no finding")
        return
    corpus_dir = tempfile.mkdtemp(prefix="ser_fuzz_seeds_")
    for i, data in enumerate(seeds()):
        with open(os.path.join(corpus_dir, f"seed{i}"), "wb") as f:
            f.write(data)
    atheris.Setup([argv[0], *argv[1:], corpus_dir], check)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
