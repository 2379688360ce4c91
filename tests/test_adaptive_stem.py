"""The speaker-adaptive baseline behind Whisper's stem (``normalization="speaker"``): the speaker's
statistics are of the stem's output and the model applies them, so the recognizer, the timeline,
the stock pipeline and training must all hand them over. A tiny random Whisper checkpoint stands
in for whisper-tiny.en; real SAVEE clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import pipeline

from ser_hf.audio import load_audio
from ser_hf.errors import SerError
from ser_hf.inference import EmotionRecognizer
from ser_hf.models import MfccCnnConfig, MfccCnnForAudioClassification, SpeakerStatistics
from ser_hf.taxonomy import label_names
from ser_hf.training import TrainingConfig, build_baseline, featurize, fit_predict_baseline, predict
from ser_hf.vad import EnergyVAD

from test_adaptive import savee
from test_front_end import _savee_table
from test_inference import make_recording

NAMES = label_names("7")


@pytest.fixture(scope="module")
def stem_adaptive(tiny_whisper, tmp_path_factory):
    model, fe = build_baseline(NAMES, seed=0, front_end_from=tiny_whisper, speaker_norm=True)
    folder = tmp_path_factory.mktemp("stem-adaptive")
    model.save_pretrained(folder)
    fe.save_pretrained(folder)
    return EmotionRecognizer.from_pretrained(folder, device="cpu")


def stem_frames(recognizer, wave) -> np.ndarray:
    """``[channels, frames]``: the stem's output for one clip, straight from the model."""
    x = torch.from_numpy(recognizer.feature_extractor.extract(wave))[None]
    with torch.inference_mode():
        out, mask = recognizer.model.front_end_features(x)
    return out[0, :, :int(mask.sum())].numpy()


def test_statistics_are_of_the_stems_output_and_the_model_measures_the_clip_against_them(stem_adaptive, data_root):
    recognizer = stem_adaptive
    assert recognizer.model.config.normalization == "speaker" and recognizer.adaptive
    assert not recognizer.feature_extractor.speaker_normalization  # the stem reads the clip's own decibels
    dc, kl = savee(data_root, "DC"), savee(data_root, "KL")
    with pytest.raises(SerError, match="adapts to the speaker"):
        recognizer.predict(dc[0])
    stats = recognizer.speaker_statistics(dc)
    frames = np.concatenate([stem_frames(recognizer, load_audio(p)) for p in dc], axis=1)
    assert frames.shape[0] == 32 and stats.count == frames.shape[1]
    np.testing.assert_allclose(stats.mean, frames.mean(1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(stats.std, frames.std(1) + 1e-3, rtol=1e-3, atol=1e-5)
    # Seconds of speech heard: stem frames come at half the extractor's rate.
    extractor_frames = sum(recognizer.feature_extractor.extract(load_audio(p)).shape[1] for p in dc)
    assert recognizer.speech_seconds(stats) == pytest.approx(extractor_frames * 160 / 16000, abs=len(dc) * 0.01)

    probs = recognizer.predict(dc[0], speaker=stats)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    # The same weights without normalisation of their own, fed the stem's frames measured against
    # the statistics by hand, give the same probabilities: that is what the model does inside.
    plain = MfccCnnForAudioClassification(MfccCnnConfig(**{**recognizer.model.config.to_dict(),
                                                           "normalization": "none"})).eval()
    plain.load_state_dict(recognizer.model.state_dict())
    by_hand = torch.from_numpy(stats.normalize(stem_frames(recognizer, load_audio(dc[0]))))[None]
    with torch.inference_mode():
        expected = plain(input_features=by_hand, skip_front_end=True).logits.softmax(-1)[0].numpy()
    np.testing.assert_allclose([probs[k] for k in recognizer.labels], expected, atol=1e-5)
    other = recognizer.predict(dc[0], speaker=recognizer.speaker_statistics(kl))
    assert max(abs(probs[k] - other[k]) for k in probs) > 1e-3
    assert recognizer.predict_batch(dc[:3], speaker=stats)[0] == pytest.approx(probs, abs=1e-6)


def test_the_stock_pipeline_and_the_model_refuse_to_guess_without_statistics(stem_adaptive, data_root):
    folder = stem_adaptive.model.name_or_path
    with pytest.raises(ValueError, match="adapts to the speaker"):
        pipeline("audio-classification", model=folder, device="cpu")(str(savee(data_root, "DC")[0]))
    x = torch.zeros(1, 80, 50)
    with pytest.raises(ValueError, match="together"):
        stem_adaptive.model(input_features=x, speaker_mean=torch.zeros(1, 32))
    with pytest.raises(ValueError, match="needs a front end"):
        MfccCnnConfig(normalization="speaker")
    with pytest.raises(ValueError, match="frozen front end"):
        MfccCnnConfig(normalization="speaker", front_end="whisper", freeze_front_end=False)


def test_a_per_clip_model_refuses_speaker_statistics(tiny_whisper):
    model, _ = build_baseline(NAMES, seed=0, front_end_from=tiny_whisper)
    with pytest.raises(ValueError, match="does not take speaker statistics"):
        model(input_features=torch.zeros(1, 80, 50), speaker_mean=torch.zeros(1, 32), speaker_std=torch.ones(1, 32))


def test_timeline_gathers_the_stems_statistics_from_the_recording(stem_adaptive, data_root, tmp_path):
    recognizer = stem_adaptive
    clips = [p.relative_to(data_root) for p in savee(data_root, "JK")[:6]]
    make_recording(data_root, tmp_path / "rec.wav", clips)
    segments = [s for s in EnergyVAD().segments(load_audio(str(tmp_path / "rec.wav"))) if s.end - s.start >= 0.1]
    whole = SpeakerStatistics()
    for seg in segments:
        whole.add(stem_frames(recognizer, seg.samples))
    rows = recognizer.timeline(tmp_path / "rec.wav", chunk_seconds=1000, adapt_seconds=1e6)
    assert len(rows) == len(segments)
    for row, seg in zip(rows, segments):
        want = recognizer.predict_arrays([seg.samples], speaker=whole)[0]
        np.testing.assert_allclose(list(row["probabilities"].values()), want, atol=1e-5)
    first = SpeakerStatistics().add(stem_frames(recognizer, segments[0].samples))
    rows = recognizer.timeline(tmp_path / "rec.wav", chunk_seconds=1000, adapt_seconds=0, batch_size=1)
    np.testing.assert_allclose(list(rows[0]["probabilities"].values()),
                               recognizer.predict_arrays([segments[0].samples], speaker=first)[0], atol=1e-5)


def test_the_fold_recipe_measures_each_speaker_against_their_stem_statistics(tiny_whisper, data_root, tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    ds = _savee_table(data_root, speakers=("DC", "JE", "JK"))
    train, test = ds.select(range(12)), ds.select(range(12, 18))
    config = TrainingConfig(epochs=2, batch_size=4, threads=1, front_end_from=str(tiny_whisper), speaker_norm=True)
    out = fit_predict_baseline(train, test, NAMES, config=config, output_dir=tmp_path / "run", progress=False)
    model, stats = out["model"], out["speaker_stats"]
    assert model.config.normalization == "speaker" and set(stats) == {"DC", "JE", "JK"}
    # The test speaker's statistics are those of its own clips' stem frames (no labels used).
    recognizer = EmotionRecognizer(model, out["feature_extractor"])
    jk = recognizer.speaker_statistics(test["path"])
    np.testing.assert_allclose(stats["JK"][0], jk.mean, rtol=1e-4, atol=1e-4)
    # The fold's predictions are the recognizer's with those statistics.
    probs = recognizer.predict_batch(test["path"], speaker=jk)
    assert [NAMES.index(max(p, key=p.get)) for p in probs] == list(out["y_pred"])
    with pytest.raises(ValueError, match="pass speaker_stats"):
        predict(model, featurize(test, out["feature_extractor"]))
