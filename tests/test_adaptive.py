"""Speaker adaptation: statistics of a speaker's voice, the adaptive feature extractor, recognizer,
timeline and CLI, on real clips (a tiny random adaptive model), and the shipped adaptive model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoFeatureExtractor, pipeline

from ser_hf.audio import load_audio
from ser_hf.cli import main
from ser_hf.errors import SerError
from ser_hf.inference import EmotionRecognizer
from ser_hf.models import MfccCnnFeatureExtractor, SpeakerStatistics
from ser_hf.vad import EnergyVAD

from conftest import savee_corpora
from test_inference import make_recording

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "ser-mfcc-cnn-adaptive"
EMOTIONS = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral", "sa": "sad", "su": "surprised"}


@pytest.fixture(scope="module")
def tiny_adaptive(tmp_path_factory):
    from _inference_helpers import save_tiny_mfcc_cnn
    return save_tiny_mfcc_cnn(tmp_path_factory.mktemp("tiny-adaptive"), adaptive=True)


@pytest.fixture(scope="module")
def adaptive(tiny_adaptive):
    return EmotionRecognizer.from_pretrained(tiny_adaptive, device="cpu")


def savee(data_root, speaker, names=("a01", "d02", "f03", "h04", "n05", "sa06", "su07", "n08", "a09", "h10")):
    return [data_root / "SAVEE" / f"{speaker}_{n}.flac" for n in names]


def test_statistics_are_the_mean_and_std_of_the_speakers_frames(data_root):
    fe = MfccCnnFeatureExtractor()
    waves = [load_audio(p) for p in savee(data_root, "JK")[:4]]
    frames = np.concatenate([fe.extract(w) for w in waves], axis=1)
    stats = fe.speaker_statistics(waves)
    assert stats.count == frames.shape[1]
    np.testing.assert_allclose(stats.mean, frames.mean(1), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(stats.std, frames.std(1) + 1e-3, rtol=1e-4, atol=1e-4)
    # Accumulated clip by clip (as a recording goes on), or restored from JSON: the same statistics.
    grown = SpeakerStatistics()
    for w in waves:
        grown.add(fe.extract(w))
    restored = SpeakerStatistics.from_dict(json.loads(json.dumps(grown.to_dict())))
    np.testing.assert_allclose(restored.mean, stats.mean, rtol=1e-6)
    np.testing.assert_allclose(restored.std, stats.std, rtol=1e-6)
    normalised = stats.normalize(frames)
    np.testing.assert_allclose(normalised.mean(1), 0, atol=1e-3)
    np.testing.assert_allclose(normalised.std(1), 1, atol=1e-2)
    for empty in (lambda: SpeakerStatistics().mean, lambda: SpeakerStatistics().std):
        with pytest.raises(ValueError, match="no speech accumulated"):
            empty()


def test_adaptation_cancels_the_speakers_recording_level(data_root):
    """A speaker recorded 6 dB quieter, adapted to their own quiet clips, gets the features the
    original gets adapted to the original: the level is the speaker's, not the emotion's."""
    fe = MfccCnnFeatureExtractor(speaker_normalization=True)
    loud = [load_audio(p) for p in savee(data_root, "DC")]
    quiet = [w * 0.5 for w in loud]
    plain = MfccCnnFeatureExtractor()(loud[0], sampling_rate=16000)["input_features"]
    level = np.mean(plain) - np.mean(MfccCnnFeatureExtractor()(quiet[0], sampling_rate=16000)["input_features"])
    assert level == pytest.approx(6.02, abs=0.05)
    a = fe(loud[0], sampling_rate=16000, speaker_statistics=fe.speaker_statistics(loud))["input_features"]
    b = fe(quiet[0], sampling_rate=16000, speaker_statistics=fe.speaker_statistics(quiet))["input_features"]
    # Equal but in the few near-silent bins where the quiet copy's power falls under log-mel's floor.
    diff = np.abs(a - b)
    assert np.quantile(diff, 0.99) < 1e-3 and diff.max() < 0.5, (np.quantile(diff, 0.99), diff.max())


def test_adaptive_feature_extractor_needs_statistics_and_keeps_the_setting(data_root, tmp_path):
    wave = load_audio(savee(data_root, "DC")[0])
    fe = MfccCnnFeatureExtractor(speaker_normalization=True)
    with pytest.raises(ValueError, match="adapts to the speaker"):
        fe(wave, sampling_rate=16000)
    with pytest.raises(ValueError, match="does not use them"):
        MfccCnnFeatureExtractor()(wave, sampling_rate=16000, speaker_statistics=fe.speaker_statistics([wave]))
    fe.save_pretrained(tmp_path)
    assert AutoFeatureExtractor.from_pretrained(tmp_path).speaker_normalization is True


def test_recognizer_uses_the_speakers_statistics(adaptive, tiny_mfcc_cnn, data_root):
    dc, kl = savee(data_root, "DC"), savee(data_root, "KL")
    with pytest.raises(SerError, match="adapts to the speaker"):
        adaptive.predict(dc[0])
    stats_dc, stats_kl = adaptive.speaker_statistics(dc), adaptive.speaker_statistics(kl)
    probs = adaptive.predict(dc[0], speaker=stats_dc)
    assert set(probs) == set(adaptive.labels) and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    # The same clip measured against another speaker's voice is another input: other probabilities.
    other = adaptive.predict(dc[0], speaker=stats_kl)
    assert max(abs(probs[k] - other[k]) for k in probs) > 1e-3
    # What the model sees is exactly the clip's frames normalised by the statistics.
    fe = adaptive.feature_extractor
    x = torch.from_numpy(stats_dc.normalize(fe.extract(load_audio(dc[0]))))[None]
    with torch.inference_mode():
        expected = adaptive.model(input_features=x).logits.softmax(-1)[0].numpy()
    np.testing.assert_allclose([probs[k] for k in adaptive.labels], expected, atol=1e-5)
    batch = adaptive.predict_batch(dc[:3], speaker=stats_dc)
    assert batch[0] == pytest.approx(probs, abs=1e-6)
    with pytest.raises(SerError, match="does not adapt"):
        EmotionRecognizer.from_pretrained(tiny_mfcc_cnn, device="cpu").predict(dc[0], speaker=stats_dc)


def test_speaker_statistics_skip_a_broken_clip_and_name_it(adaptive, data_root, tmp_path, caplog):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEjunk")
    stats = adaptive.speaker_statistics([broken] + savee(data_root, "JE")[:2])
    assert stats.count > 0 and "broken.wav" in caplog.text
    with pytest.raises(SerError, match="none of the clips"):
        adaptive.speaker_statistics([broken])


def test_timeline_adapts_to_the_recording_as_it_goes(adaptive, data_root, tmp_path):
    clips = [p.relative_to(data_root) for p in savee(data_root, "JK")[:6]]
    make_recording(data_root, tmp_path / "rec.wav", clips)
    segments = [s for s in EnergyVAD().segments(load_audio(str(tmp_path / "rec.wav"))) if s.end - s.start >= 0.1]
    fe = adaptive.feature_extractor
    frames = [fe.extract(s.samples) for s in segments]

    def expected(stats, seg):
        return adaptive.predict_arrays([seg.samples], speaker=stats)[0]

    # Warm-up longer than the recording: every segment is measured against the whole recording.
    whole = SpeakerStatistics()
    for f in frames:
        whole.add(f)
    rows = adaptive.timeline(tmp_path / "rec.wav", chunk_seconds=1000, adapt_seconds=1e6)
    assert [(r["start"], r["end"]) for r in rows] == [(round(s.start, 3), round(s.end, 3)) for s in segments]
    for row, seg in zip(rows, segments):
        np.testing.assert_allclose(list(row["probabilities"].values()), expected(whole, seg), atol=1e-5)
    # No warm-up, one segment per batch: each is measured against the speech heard so far.
    rows = adaptive.timeline(tmp_path / "rec.wav", chunk_seconds=1000, adapt_seconds=0, batch_size=1)
    first = SpeakerStatistics().add(frames[0])
    np.testing.assert_allclose(list(rows[0]["probabilities"].values()), expected(first, segments[0]), atol=1e-5)
    np.testing.assert_allclose(list(rows[-1]["probabilities"].values()), expected(whole, segments[-1]), atol=1e-5)
    assert max(abs(a - b) for a, b in zip(rows[0]["probabilities"].values(), expected(whole, segments[0]))) > 1e-4
    # An enrolled speaker's statistics, fixed.
    enrolled = adaptive.speaker_statistics(savee(data_root, "JK")[6:])
    rows = adaptive.timeline(tmp_path / "rec.wav", chunk_seconds=1000, speaker=enrolled)
    np.testing.assert_allclose(list(rows[2]["probabilities"].values()), expected(enrolled, segments[2]), atol=1e-5)


def test_cli_adapts_to_the_input_clips_or_to_enrolment_clips(tiny_adaptive, tiny_mfcc_cnn, data_root, capsys):
    clips = [str(p) for p in savee(data_root, "DC")[:3]]
    assert main(["predict", str(tiny_adaptive), *clips, "--format", "json", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert len(json.loads(out)) == 3 and "statistics from the input clips" in err and "warning: only" in err
    enrol = [str(p) for p in savee(data_root, "DC")[3:]]
    assert main(["predict", str(tiny_adaptive), clips[0], "--speaker-clips", *enrol, "--format", "json",
                 "--no-progress"]) == 0
    out, err = capsys.readouterr()
    recognizer = EmotionRecognizer.from_pretrained(tiny_adaptive, device="cpu")
    want = recognizer.predict(clips[0], speaker=recognizer.speaker_statistics(enrol))
    assert json.loads(out)[0]["probabilities"] == pytest.approx(want, abs=1e-6)
    assert "statistics from --speaker-clips" in err
    assert main(["predict", str(tiny_mfcc_cnn), clips[0], "--speaker-clips", *enrol, "--no-progress"]) == 2
    assert "does not adapt" in capsys.readouterr().err


def test_shipped_adaptive_model_recognises_training_speakers_adapted_to_them(data_root):
    """The committed adaptive model: refuses a lone clip through the stock pipeline, and adapted to
    a speaker it was trained on gets most of their clips right."""
    assert (SHIPPED / "model.safetensors").is_file(), "run scripts/train_baseline.py --adaptive"
    assert (SHIPPED / "model.safetensors").stat().st_size < 5e6 and (SHIPPED / "README.md").is_file()
    classifier = pipeline("audio-classification", model=str(SHIPPED), device="cpu")
    with pytest.raises(ValueError, match="adapts to the speaker"):
        classifier(str(savee(data_root, "DC")[0]))
    recognizer = EmotionRecognizer.from_pretrained(SHIPPED, device="cpu")
    correct = total = 0
    for speaker in ("DC", "KL"):
        clips = sorted((data_root / "SAVEE").glob(f"{speaker}_*.flac"))
        stats = recognizer.speaker_statistics(clips)
        chosen = clips[::6]
        for path, probs in zip(chosen, recognizer.predict_batch(chosen, speaker=stats)):
            truth = EMOTIONS[path.stem.split("_")[1].rstrip("0123456789")]
            correct += max(probs, key=probs.get) == truth
            total += 1
    assert correct >= 0.7 * total, f"{correct} of {total} right (chance: 1 in 7)"


def test_demo_does_not_serve_an_adaptive_model_on_lone_clips(tiny_adaptive, tiny_whisper):
    """The demo classifies lone clips, which an adaptive model cannot: a notice, not a broken tab."""
    import argparse

    from app.__main__ import load_models

    args = argparse.Namespace(baseline=str(tiny_adaptive), transformer=str(tiny_whisper), max_duration=60.0)
    recognizers, notices = load_models(args)
    assert list(recognizers) == [tiny_whisper.name]
    assert len(notices) == 1 and "adapts to the speaker" in notices[0] and str(tiny_adaptive) in notices[0]


@pytest.mark.parametrize("split, stem", [("all", False), ("fixed", False), ("all", True)])
def test_ser_train_speaker_norm_saves_an_adaptive_model(data_root, tmp_path, monkeypatch, split, stem, tiny_whisper):
    """``ser train --speaker-norm`` saves the adaptive kind, which the recognizer then adapts to a speaker;
    with ``--front-end-from`` the model applies the statistics behind the stem (``normalization="speaker"``)."""
    root = savee_corpora(data_root, tmp_path / "corpora", speakers=("DC", "JE", "JK", "KL"),
                         clips=("a01", "n01", "n02")) / "SAVEE"
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "model"
    assert main(["train", "--data", str(tmp_path / "corpora"), "--epochs", "1", "--threads", "1", "--split", split,
                 "--speaker-norm", "--output", str(out), *(["--front-end-from", str(tiny_whisper)] if stem else [])]) == 0
    recognizer = EmotionRecognizer.from_pretrained(out, device="cpu")
    assert recognizer.adaptive and recognizer.model.config.normalization == ("speaker" if stem else "none")
    assert recognizer.feature_extractor.speaker_normalization is not stem
    assert json.loads((out / "training_config.json").read_text())["speaker_norm"] is True
    clips = sorted(root.glob("DC_*.flac"))
    probs = recognizer.predict(clips[0], speaker=recognizer.speaker_statistics(clips))
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(SerError, match="adapts to the speaker"):
        recognizer.predict(clips[0])
