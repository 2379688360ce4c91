"""EmotionRecognizer and the VAD on real clips, with tiny random models of both kinds (wav2vec2, Whisper)."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import torch

from ser_hf.audio import load_audio
from ser_hf.errors import AudioError, SerError
from ser_hf.inference import EmotionRecognizer
from ser_hf.vad import EnergyVAD, stream_audio

CLIP = "SAVEE/DC_a01.flac"


@pytest.fixture(scope="module", params=["whisper", "wav2vec2", "mfcc_cnn"])
def recognizer(request, tiny_whisper, tiny_wav2vec2, tiny_mfcc_cnn):
    path = {"whisper": tiny_whisper, "wav2vec2": tiny_wav2vec2, "mfcc_cnn": tiny_mfcc_cnn}[request.param]
    return EmotionRecognizer.from_pretrained(path, device="cpu")


@pytest.fixture(scope="module")
def whisper(tiny_whisper):
    return EmotionRecognizer.from_pretrained(tiny_whisper, device="cpu")


def make_recording(data_root, path, clips, pause=1.5, lead=1.0):
    """Real clips separated by digital silence; returns the speech spans (s) by construction."""
    pieces, spans, t = [np.zeros(int(lead * 16000), np.float32)], [], lead
    for clip in clips:
        samples = load_audio(str(data_root / clip))
        pieces += [samples, np.zeros(int(pause * 16000), np.float32)]
        spans.append((t, t + len(samples) / 16000))
        t += len(samples) / 16000 + pause
    sf.write(path, np.concatenate(pieces), 16000)
    return spans


def test_predict_returns_a_distribution_over_the_model_labels(recognizer, data_root):
    probs = recognizer.predict(data_root / CLIP)
    assert list(probs) == ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
    assert all(0.0 <= p <= 1.0 for p in probs.values())
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)


def test_every_input_kind_gives_the_same_probabilities(recognizer, data_root):
    path = data_root / CLIP
    samples = load_audio(str(path))
    expected = recognizer.predict(path)
    pcm16 = (samples * 32767).astype(np.int16)
    for source, sr in [(str(path), None), (path.read_bytes(), None), (samples, 16000)]:
        assert recognizer.predict(source, sr=sr) == pytest.approx(expected, abs=1e-5)
    # Gradio's microphone tuple holds int16: rounding to 16 bits moves the features a hair.
    assert recognizer.predict((16000, pcm16)) == pytest.approx(expected, abs=2e-3)


@pytest.mark.parametrize("ext", ["wav", "ogg", "mp3", "webm", "m4a"])
def test_browser_and_user_formats_decode_and_predict(whisper, data_root, tmp_path, ext):
    from torchcodec.encoders import AudioEncoder

    samples = load_audio(str(data_root / CLIP), 48000)
    stereo = torch.from_numpy(np.stack([samples, samples * 0.5]))
    path = tmp_path / f"clip.{ext}"
    AudioEncoder(stereo, sample_rate=48000).to_file(str(path))
    lossless = whisper.predict(data_root / CLIP)
    got = whisper.predict(path)
    assert got.keys() == lossless.keys()
    assert max(abs(got[k] - lossless[k]) for k in got) < 0.05  # lossy codecs move features, not the result


def test_release_quirks_predict(whisper, originals_root):
    quirky = ["RAVDESS/Actor_01/03-01-08-01-02-02-01.wav",  # stereo, 48 kHz
              "TESS/YAF_angry/YAF_germ_angry.wav",          # AIFF named .wav
              "TESS/OAF_Fear/OAF_food_fear.wav"]            # 96 kHz
    found = [originals_root / q for q in quirky if (originals_root / q).exists()]
    assert len(found) == 3, f"missing originals: {quirky}"
    results = whisper.predict_batch(found)
    assert all(sum(r.values()) == pytest.approx(1.0, abs=1e-5) for r in results)


def test_batch_equals_one_by_one_and_keeps_order(recognizer, data_root):
    paths = sorted((data_root / "RAVDESS" / "Actor_02").glob("*.flac"))[:5] + [data_root / CLIP]
    batched = recognizer.predict_batch(paths, batch_size=4)
    for path, result in zip(paths, batched):
        assert result == pytest.approx(recognizer.predict(path), abs=1e-5)


def test_bad_inputs_raise_clear_audio_errors(whisper, tmp_path):
    (tmp_path / "text.wav").write_text("this is not audio")
    (tmp_path / "empty.wav").write_bytes(b"")
    sf.write(tmp_path / "silent.wav", np.zeros(16000, np.float32), 16000)
    sf.write(tmp_path / "hum.wav", 0.001 * np.sin(np.arange(16000) / 5).astype(np.float32), 16000)  # -63 dBFS
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "short.wav", 0.1 * rng.standard_normal(800).astype(np.float32), 16000)
    sf.write(tmp_path / "long.wav", 0.1 * rng.standard_normal(16000 * 61).astype(np.float32), 16000)
    expected = {"text.wav": "not a readable audio file", "empty.wav": "empty file",
                "silent.wav": "no speech found", "hum.wav": "no speech found",
                "short.wav": "too short", "long.wav": "too long", "missing.wav": "no such file"}
    for name, problem in expected.items():
        with pytest.raises(AudioError) as caught:
            whisper.predict(tmp_path / name)
        assert problem in caught.value.problem and name in str(caught.value)


def test_one_broken_file_is_reported_in_place_and_the_rest_go_on(whisper, data_root, tmp_path):
    broken = tmp_path / "broken.flac"
    broken.write_bytes(b"fLaC" + b"\0" * 100)
    paths = [data_root / CLIP, broken, data_root / "SAVEE/DC_h01.flac"]
    results = whisper.predict_batch(paths, errors="return")
    assert isinstance(results[1], AudioError) and "broken.flac" in str(results[1])
    assert results[0] == pytest.approx(whisper.predict(paths[0]), abs=1e-5)
    assert results[2] == pytest.approx(whisper.predict(paths[2]), abs=1e-5)
    with pytest.raises(AudioError):
        whisper.predict_batch(paths)


def test_fixed_window_model_averages_windows_of_a_long_clip(whisper, data_root, tmp_path):
    clips = ["SAVEE/DC_a01.flac", "SAVEE/DC_h01.flac", "SAVEE/DC_sa01.flac"]
    audio = np.concatenate([load_audio(str(data_root / c)) for c in clips])
    assert whisper.window == 3.0 and len(audio) > 4 * 48000 / 1.25
    size = 48000
    starts = list(range(0, len(audio) - size, size)) + [len(audio) - size]
    windows = np.array([list(whisper.predict((16000, audio[s: s + size])).values()) for s in starts])
    assert list(whisper.predict((16000, audio)).values()) == pytest.approx(windows.mean(axis=0).tolist(), abs=1e-5)


def test_loading_errors_name_the_source(tmp_path):
    with pytest.raises(SerError, match="nowhere"):
        EmotionRecognizer.from_pretrained(tmp_path / "nowhere")


def test_vad_finds_the_clips_of_a_recording(data_root, tmp_path):
    clips = ["SAVEE/DC_a01.flac", "RAVDESS/Actor_02/03-01-05-02-01-01-02.flac", "TESS/OAF_Fear/OAF_back_fear.flac"]
    spans = make_recording(data_root, tmp_path / "rec.wav", clips)
    segments = EnergyVAD().segments(load_audio(str(tmp_path / "rec.wav")))
    # Each segment lies inside one clip's span (clips begin and end with room tone, not speech) ...
    owners = []
    for seg in segments:
        inside = [i for i, (a, b) in enumerate(spans) if a - 0.15 <= seg.start and seg.end <= b + 0.15]
        assert inside, f"segment {seg.start:.2f}-{seg.end:.2f} s lies in no clip {spans}"
        owners.append(inside[0])
    # ... and every clip has speech found in it, covering most of what the clip holds.
    assert sorted(set(owners)) == [0, 1, 2]
    assert all(seg.samples.shape == (round((seg.end - seg.start) * 16000),) for seg in segments)


def test_vad_streams_lazily_and_chunking_does_not_change_segments(data_root, tmp_path):
    spans = make_recording(data_root, tmp_path / "rec.wav", ["SAVEE/DC_a01.flac", "SAVEE/DC_sa01.flac"] * 3)
    samples = load_audio(str(tmp_path / "rec.wav"))
    whole = [(s.start, s.end) for s in EnergyVAD().segments(samples)]
    chunked = [(s.start, s.end) for s in EnergyVAD().stream(stream_audio(tmp_path / "rec.wav", chunk_seconds=1.3))]
    assert len(chunked) == len(whole) == 6
    assert np.ravel(chunked) == pytest.approx(np.ravel(whole), abs=0.031)  # within one 30 ms frame

    def endless():  # the recording, then an error: only a lazy detector gets a segment out first
        yield from stream_audio(tmp_path / "rec.wav", chunk_seconds=2.0)
        raise AssertionError("the detector read past the first segment")
    first = next(iter(EnergyVAD().stream(itertools.islice(endless(), 4))))
    assert first.start == pytest.approx(whole[0][0], abs=0.031)
    assert all(a - 0.15 <= start and end <= b + 0.15 for (a, b), (start, end) in zip(spans, whole))


def test_vad_cuts_long_speech_to_max_segment():
    rng = np.random.default_rng(1)
    noise = 0.2 * rng.standard_normal(16000 * 20).astype(np.float32)
    signal = np.concatenate([np.zeros(16000, np.float32), noise, np.zeros(16000, np.float32)])
    segments = EnergyVAD(max_segment=4.0).segments(signal)
    assert len(segments) >= 5 and max(s.end - s.start for s in segments) <= 4.0 + 0.11
    # The noise runs 1-21 s: found from its first frame (less the 0.1 s pad) to within a frame of its end.
    assert segments[0].start == pytest.approx(0.9, abs=0.05) and 20.9 <= segments[-1].end <= 21.1


def test_timeline_of_a_long_file_is_bounded_in_memory(whisper, data_root, tmp_path):
    clips = sorted((data_root / "RAVDESS" / "Actor_03").glob("*.flac"))[:12]
    spans = make_recording(data_root, tmp_path / "rec.flac", [c.relative_to(data_root) for c in clips], pause=2.0)
    # Five copies: ~5 minutes, 20 MB as float32 at 16 kHz.
    base, _ = sf.read(tmp_path / "rec.flac", dtype="float32")
    sf.write(tmp_path / "long.flac", np.tile(base, 5), 16000)
    full_bytes = len(base) * 5 * 4
    tracemalloc.start()
    rows = whisper.timeline(tmp_path / "long.flac", chunk_seconds=10)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < full_bytes / 4, f"peak {peak / 1e6:.1f} MB for a {full_bytes / 1e6:.0f} MB recording"
    assert len(rows) >= 5 * len(spans)
    assert [r["start"] for r in rows] == sorted(r["start"] for r in rows)
    for row in rows:
        assert row["emotion"] == max(row["probabilities"], key=row["probabilities"].get)
        assert row["end"] - row["start"] <= whisper.window + 0.11


def test_timeline_of_silence_says_no_speech(whisper, tmp_path):
    sf.write(tmp_path / "quiet.wav", np.zeros(16000 * 5, np.float32), 16000)
    with pytest.raises(AudioError, match="no speech found"):
        whisper.timeline(tmp_path / "quiet.wav")
