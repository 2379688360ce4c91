"""Faults: a corpus with broken files mixed in loads with exact counts of what was kept and
skipped, and the warning names every skipped file with its reason."""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest
import soundfile as sf

from ser_hf import load_corpus
from ser_hf.audio import load_audio
from ser_hf.corpora import SkippedFilesWarning
from ser_hf.errors import AudioError


def tone(sr: int, seconds: float = 0.5, channels: int = 1) -> np.ndarray:
    x = 0.3 * np.sin(2 * np.pi * 220 * np.arange(int(sr * seconds)) / sr)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def corrupt_flac(path) -> None:
    """Valid header, garbage frames: probe (header only) keeps it, decoding fails."""
    sf.write(path, tone(16000, 1.0), 16000)
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 2000] = np.random.default_rng(0).bytes(2000)
    path.write_bytes(bytes(data))


def load_with_warning(name, root, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_corpus(name, root, **kwargs)
    skipped = [w.message for w in caught if isinstance(w.message, SkippedFilesWarning)]
    assert len(skipped) <= 1
    return ds, (skipped[0].skipped if skipped else {}), (str(skipped[0]) if skipped else "")


@pytest.fixture
def ravdess(tmp_path):
    actor = tmp_path / "RAVDESS" / "Actor_01"
    actor.mkdir(parents=True)
    kept = {
        "03-01-01-01-01-01-01.wav": lambda p: sf.write(p, tone(48000), 48000),
        "03-01-03-01-01-01-01.wav": lambda p: sf.write(p, tone(48000, channels=2), 48000),  # stereo, as 5 real ones are
        "03-01-05-02-02-02-01.wav": lambda p: sf.write(p, tone(44100), 44100, subtype="PCM_24"),
        "03-01-04-01-01-02-01.flac": lambda p: sf.write(p, tone(16000), 16000),
        "03-01-06-01-01-01-01.wav": lambda p: p.write_bytes(_wav(tone(16000))[:44 + 8001]),  # cut inside a sample
        "03-01-07-01-01-01-01.flac": corrupt_flac,                                           # corrupt payload
    }
    skipped = {
        "03-01-02-01-01-01-01.wav": (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
        "03-01-02-02-01-01-01.wav": (lambda p: p.write_text("a text file\n" * 50), "not a readable audio file"),
        "03-01-02-01-02-01-01.wav": (lambda p: p.write_bytes(_wav(tone(16000))[:20]), "not a readable audio file"),
        "03-01-02-02-02-01-01.wav": (lambda p: p.write_bytes(_wav(tone(16000))[:44]), "no audio samples"),
        "03-01-08-01-01-01-01.wav": (lambda p: p.write_bytes(_wav(tone(16000))[:24] + struct.pack("<II", 1, 2)
                                                           + _wav(tone(16000))[32:]), "implausible sample rate 1 Hz"),
        "notes.wav": (lambda p: sf.write(p, tone(16000), 16000), "name fits no RAVDESS convention"),
        "03-01-01-01-01-01.wav": (lambda p: sf.write(p, tone(16000), 16000), "name fits no RAVDESS convention"),
    }
    for name, write in kept.items():
        write(actor / name)
    for name, (write, _) in skipped.items():
        write(actor / name)
    (actor / "03-02-03-01-01-01-01.wav").write_bytes(_wav(tone(16000)))  # song: left out by option, not an error
    (actor / "03-01-08-02-02-02-01.wav").mkdir()                          # a folder named like a file
    (actor / "._03-01-01-01-01-01-01.wav").write_bytes(b"\x00\x05\x16\x07")  # macOS resource fork
    (actor / "readme.txt").write_text("not audio, not an audio extension")
    return tmp_path / "RAVDESS", actor, kept, {n: why for n, (_, why) in skipped.items()}


def _wav(x: np.ndarray, sr: int = 16000) -> bytes:
    import io

    buffer = io.BytesIO()
    sf.write(buffer, x, sr, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_ravdess_with_broken_files_exact_counts(ravdess):
    root, actor, kept, skipped = ravdess
    ds, reported, message = load_with_warning("ravdess", root, label_set="8")
    assert sorted(ds["path"]) == sorted(str(actor / n) for n in kept)
    assert len(ds) == 6
    assert set(reported) == {str(actor / n) for n in skipped} and len(reported) == 7
    for name, why in skipped.items():
        assert reported[str(actor / name)].startswith(why), (name, reported[str(actor / name)])
    assert message.startswith("ravdess: skipped 7 file(s), e.g. ")
    # the song is left out by option, the folder and the resource fork are not audio files: none is "skipped"
    assert not any("03-02-03" in p or "03-01-08-02-02-02-01" in p or "._" in p for p in [*reported, *ds["path"]])
    stereo = ds.filter(lambda row: row["channels"] == 2)
    assert stereo["path"] == [str(actor / "03-01-03-01-01-01-01.wav")]
    # with the header check off, nothing is opened: every name that parses is kept, broken or not
    fast, reported_fast, _ = load_with_warning("ravdess", root, label_set="8", probe_audio=False)
    assert len(fast) == 6 + 5 and len(reported_fast) == 2


def test_kept_file_with_corrupt_payload_at_decode_time(ravdess):
    """What the header check cannot see. load_audio: AudioError naming the file (or, for a WAV
    cut inside a sample, the whole samples that are there). datasets.Audio decoding in a map:
    torchcodec's RuntimeError ("Could not receive frame from decoder: Invalid data found when
    processing input"), raised out of Dataset.map and stopping it; so training decodes with
    load_audio inside its map and drops the rows it refuses (docs/reliability.md)."""
    root, actor, _, _ = ravdess
    ds, _, _ = load_with_warning("ravdess", root, label_set="8")
    corrupt, cut = str(actor / "03-01-07-01-01-01-01.flac"), str(actor / "03-01-06-01-01-01-01.wav")
    with pytest.raises(AudioError, match="03-01-07-01-01-01-01.flac: not a readable audio file"):
        load_audio(corrupt)
    assert len(load_audio(cut)) == 4000  # 8001 data bytes: 4000 whole 16-bit samples
    for path in (corrupt, cut):
        one = ds.filter(lambda row: row["path"] == path)
        with pytest.raises(RuntimeError, match="Invalid data found when processing input"):
            one.map(lambda row: {"n": row["audio"].get_all_samples().data.shape[-1]})

    def decode(row):
        try:
            return {"n": len(load_audio(row["path"])), "error": None}
        except AudioError as exc:
            return {"n": 0, "error": exc.problem}

    decoded = ds.map(decode)
    assert [p for p, e in zip(decoded["path"], decoded["error"]) if e] == [corrupt]


def test_savee_with_broken_files_exact_counts(tmp_path):
    root = tmp_path / "SAVEE"
    root.mkdir()
    for name in ("DC_a01.wav", "JE_sa03.wav", "KL_n30.flac"):
        sf.write(root / name, tone(44100), 44100)
    (root / "JK_su02.wav").write_bytes(b"")
    (root / "DC_h05.wav").write_bytes(np.random.default_rng(3).bytes(3000))
    sf.write(root / "XX_a01.wav", tone(16000), 16000)
    (root / "DC_f01.wav").mkdir()
    ds, reported, _ = load_with_warning("savee", root)
    assert sorted(ds["path"]) == sorted(str(root / n) for n in ("DC_a01.wav", "JE_sa03.wav", "KL_n30.flac"))
    assert reported == {
        str(root / "JK_su02.wav"): "empty file (0 bytes)",
        str(root / "DC_h05.wav"): "not a readable audio file (Invalid data found when processing input)",
        str(root / "XX_a01.wav"): "name fits no SAVEE convention",
    }
