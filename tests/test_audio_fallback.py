"""Decoding without FFmpeg (libsndfile + soxr), as on GPU images whose torch no torchcodec matches.

Each test decodes the same real file both ways and compares: the fallback must give the samples
torchcodec gives, not merely some samples.
"""

import io

import numpy as np
import pytest

from ser_hf import audio
from ser_hf.audio import load_audio
from ser_hf.errors import AudioError


@pytest.fixture
def without_ffmpeg(monkeypatch):
    """load_audio as it runs where torchcodec cannot load."""
    def decode(*args, **kwargs):
        monkeypatch.setattr(audio, "ffmpeg_available", lambda: False)
        try:
            return load_audio(*args, **kwargs)
        finally:
            monkeypatch.undo()
    return decode


def test_ffmpeg_is_available_here():
    assert audio.ffmpeg_available()


def test_mono_flac_gives_ffmpegs_samples_exactly(data_root, without_ffmpeg):
    path = data_root / "RAVDESS" / "Actor_03" / "03-01-05-02-01-01-03.flac"
    np.testing.assert_array_equal(without_ffmpeg(path), load_audio(path))


def test_stereo_uses_ffmpegs_matrix(data_root, without_ffmpeg):
    path = data_root / "RAVDESS" / "Actor_01" / "03-01-08-01-02-02-01.flac"  # one of the stereo files
    fallback, ffmpeg = without_ffmpeg(path), load_audio(path)
    assert fallback.shape == ffmpeg.shape
    np.testing.assert_allclose(fallback, ffmpeg, atol=1e-6)


def test_48khz_original_is_resampled_like_ffmpeg(originals_root, without_ffmpeg):
    path = next((originals_root / "RAVDESS").rglob("*.wav"))
    fallback, ffmpeg = without_ffmpeg(path), load_audio(path)
    assert abs(fallback.size - ffmpeg.size) <= 2
    n = min(fallback.size, ffmpeg.size)
    assert np.corrcoef(fallback[:n], ffmpeg[:n])[0, 1] > 0.999


def test_aiff_named_wav_and_bytes(originals_root, without_ffmpeg):
    path = originals_root / "TESS" / "YAF_angry" / "YAF_germ_angry.wav"  # AIFF content, .wav name
    from_path = without_ffmpeg(path)
    np.testing.assert_array_equal(without_ffmpeg(path.read_bytes()), from_path)
    assert abs(from_path.size - load_audio(path).size) <= 2


def test_unreadable_input_names_file_and_problem(tmp_path, without_ffmpeg):
    bad = tmp_path / "notes.wav"
    bad.write_bytes(b"these are not audio samples" * 10)
    with pytest.raises(AudioError, match="notes.wav.*without FFmpeg"):
        without_ffmpeg(bad)
    with pytest.raises(AudioError, match="empty"):
        without_ffmpeg(b"")
    with pytest.raises(AudioError, match="no such file"):
        without_ffmpeg(tmp_path / "missing.flac")


def test_max_duration_is_enforced_from_the_header(data_root, without_ffmpeg):
    path = data_root / "RAVDESS" / "Actor_03" / "03-01-05-02-01-01-03.flac"
    with pytest.raises(AudioError, match="too long"):
        without_ffmpeg(path, max_duration=1.0)


def test_probe_refuses_what_only_ffmpeg_reads(tmp_path, monkeypatch):
    import soundfile as sf

    webm = tmp_path / "clip.webm"
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(1600, np.float32), 16000, format="WAV")
    webm.write_bytes(b"\x1aE\xdf\xa3" + buffer.getvalue()[4:])  # an EBML magic: libsndfile refuses it
    monkeypatch.setattr(audio, "ffmpeg_available", lambda: False)
    with pytest.raises(AudioError, match="clip.webm.*FFmpeg is unavailable"):
        audio.probe(webm)
