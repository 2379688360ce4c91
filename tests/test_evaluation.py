"""Evaluation protocols and reports: consistent figures, the PNGs and JSON, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from ser_hf.cli import main as cli
from ser_hf.corpora import load_corpus
from ser_hf.evaluation import baseline_recipe, run_protocol, summarize, with_clip_ids
from conftest import savee_corpora
from ser_hf.training import TrainingConfig

TWELVE = [f"{code}0{n}" for code in ("a", "h", "n", "sa") for n in (1, 2, 3)]  # SAVEE clips of each speaker


@pytest.fixture(scope="module")
def savee_subset(data_root):
    """Every 4th clip of SAVEE speakers DC and JE: 60 real clips, all 7 emotions."""
    ds = load_corpus("savee", data_root / "SAVEE", label_set="7")
    keep = [i for i, s in enumerate(ds["speaker"]) if s in ("savee_DC", "savee_JE")][::4]
    return ds.select(keep)


def _check_png(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_protocol_report_is_consistent_with_sklearn(savee_subset, tmp_path, monkeypatch):
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))  # featurize for real, not from a user's cache
    ds = with_clip_ids(savee_subset)
    names = ds.features["emotion"].names
    config = TrainingConfig(epochs=2, batch_size=16, threads=1)
    recipe = baseline_recipe(names, "cnn1d", config=config, ds=ds, work_dir=tmp_path / "runs")
    report = run_protocol(ds, "loso", recipe, names, out_dir=tmp_path / "out")
    for name in ("report.json", "confusion.png", "curves.png"):
        assert (tmp_path / "out" / name).is_file()
    _check_png(tmp_path / "out" / "confusion.png")
    _check_png(tmp_path / "out" / "curves.png")
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [f["fold"] for f in saved["folds"]] == ["savee_DC", "savee_JE"]
    fold_ua = []
    for fold in saved["folds"]:
        pred = saved["predictions"][fold["fold"]]
        ua = balanced_accuracy_score(pred["y_true"], pred["y_pred"])
        assert fold["unweighted_accuracy"] == pytest.approx(ua)
        assert fold["macro_f1"] == pytest.approx(f1_score(pred["y_true"], pred["y_pred"], average="macro"))
        fold_ua.append(ua)
    assert saved["summary"]["unweighted_accuracy"]["mean"] == pytest.approx(np.mean(fold_ua))
    assert saved["summary"]["unweighted_accuracy"]["std"] == pytest.approx(np.std(fold_ua))
    assert np.sum(saved["pooled"]["confusion_matrix"]) == len(ds)
    assert saved["per_corpus"]["savee"]["clips"] == len(ds)
    assert saved["speaker_independent"] is True
    assert [h["epoch"] for h in saved["history"]["savee_DC"]] == [1, 2]
    assert report["summary"] == saved["summary"]


def test_summary_pools_per_corpus_and_class():
    names = ["neutral", "happy", "sad"]
    folds = [
        {"fold": "a", "y_true": [0, 1, 2, 2], "y_pred": [0, 1, 1, 2], "corpus": ["ravdess"] * 4},
        {"fold": "b", "y_true": [0, 0, 1, 2], "y_pred": [0, 2, 1, 2], "corpus": ["tess", "tess", "savee", "savee"]},
    ]
    report = summarize(folds, names, protocol="kfold")
    assert report["folds"][0]["unweighted_accuracy"] == pytest.approx((1 + 1 + 0.5) / 3)
    tess = report["per_corpus"]["tess"]
    assert (tess["clips"], tess["accuracy"], tess["recall_per_class"]) == (2, 0.5, {"neutral": 0.5})
    assert report["summary"]["accuracy"]["mean"] == pytest.approx((0.75 + 0.75) / 2)
    assert report["pooled"]["per_class"]["sad"]["recall"] == pytest.approx(2 / 3)


def test_the_random_protocol_is_marked_as_leaking(savee_subset):
    ds = savee_subset
    # The random protocol is allowed to leak (it reproduces the seeds); the report says so.
    seen = []

    def fit_predict(train, test, fold):
        seen.append(set(train["speaker"]) & set(test["speaker"]))
        return {"y_true": np.asarray(test["emotion"]), "y_pred": np.zeros(len(test), int), "corpus": test["corpus"]}

    report = run_protocol(ds, "random", fit_predict, ds.features["emotion"].names, test_size=0.25, seed=0)
    assert seen[0] and report["speaker_independent"] is False


def test_cli_evaluate_writes_the_report(data_root, tmp_path, monkeypatch, capsys):
    root = savee_corpora(data_root, tmp_path / "corpora", clips=TWELVE) / "SAVEE"
    (root / "JE_a09.flac").write_bytes(b"")  # a broken file among good ones: reported, skipped
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "report"
    code = cli(["evaluate", "seed", "--data", str(tmp_path / "corpora"), "--protocol", "loso", "--epochs", "1",
                "--threads", "1", "--output", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "unweighted_accuracy" in text and "2 fold(s)" in text
    saved = json.loads((out / "report.json").read_text())
    assert sum(f["test_clips"] for f in saved["folds"]) == 24



def test_cli_evaluate_as_is_scores_the_shipped_model_and_skips_a_clip_it_cannot_decode(data_root, tmp_path, capsys):
    """--protocol as_is: the saved model, no retraining; a file whose header reads but whose data is cut short
    gets past the corpus loader and is skipped and reported at scoring; the report claims no speaker independence."""
    root = savee_corpora(data_root, tmp_path / "corpora", clips=TWELVE) / "SAVEE"
    whole = (data_root / "SAVEE" / "JE_h04.flac").read_bytes()
    (root / "JE_h04.flac").write_bytes(whole[: len(whole) // 3])
    out = tmp_path / "report"
    code = cli(["evaluate", "models/ser-mfcc-cnn", "--data", str(tmp_path / "corpora"), "--protocol", "as_is",
                "--output", str(out)])
    assert code == 0
    saved = json.loads((out / "report.json").read_text())
    assert list(saved["skipped"]) == [str(root / "JE_h04.flac")]
    assert "not a readable audio file" in saved["skipped"][str(root / "JE_h04.flac")]
    assert saved["folds"][0]["test_clips"] == 24
    assert saved["speaker_independent"] is None
    assert "speaker independence unknown" in capsys.readouterr().out
    # The shipped model was trained on these very clips: it must recognise nearly all of them.
    assert saved["summary"]["accuracy"]["mean"] >= 0.8
    _check_png(out / "confusion.png")


def test_the_effect_options_reach_the_recipe_and_a_saved_recipe(tmp_path):
    from ser_hf.cli import build_parser
    from ser_hf.commands.evaluate import recipe_config
    from ser_hf.training import SHIPPED_DESIGN

    def config(*argv):
        return recipe_config(build_parser().parse_args(["evaluate", *argv, "--data", str(tmp_path)]))

    mine = config("mfcc-cnn", "--noise-snr", "5", "15", "--pitch", "-2", "2", "--time-shift", "0.1")
    assert mine.augmenter == {"snr_db": [5.0, 15.0], "semitones": [-2.0, 2.0], "shift_s": 0.1}
    effects = mine.wave_augmenter()
    assert (effects.snr_db, effects.semitones, effects.stretch, effects.p) == ((5.0, 15.0), (-2.0, 2.0), (0.85, 1.15), 0.6)
    assert config("mfcc-cnn").augmenter == {}
    shipped = config("models/ser-mfcc-cnn", "--effect-p", "0.3")  # the shipped recipe with one effect changed
    assert shipped.augmenter == {"p": 0.3} and shipped.model_overrides == SHIPPED_DESIGN


def test_ser_train_preprocessing_options_train_and_serve_the_same(data_root, tmp_path, monkeypatch):
    """--reduce-noise / --no-trim change the extractor the model trains with and is saved with, so inference
    preprocesses as training did."""
    import numpy as np
    from transformers import AutoFeatureExtractor

    from ser_hf.audio import load_audio
    from ser_hf.models import MfccCnnFeatureExtractor
    from ser_hf.training import build_baseline

    savee_corpora(data_root, tmp_path / "corpora")
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "model"
    assert cli(["train", "--data", str(tmp_path / "corpora"), "--epochs", "1", "--threads", "1", "--split", "all",
                "--reduce-noise", "--no-trim", "--output", str(out)]) == 0
    saved = AutoFeatureExtractor.from_pretrained(out)
    assert (saved.reduce_noise, saved.trim_db) == (True, None)
    assert json.loads((out / "training_config.json").read_text())["feature_overrides"] == {"reduce_noise": True,
                                                                                           "trim_db": None}
    wave = load_audio(sorted((data_root / "RAVDESS" / "Actor_01").glob("*.flac"))[0])  # a second of silence first
    ours = saved(wave, sampling_rate=16000)["input_features"][0]
    plain = MfccCnnFeatureExtractor()(wave, sampling_rate=16000)["input_features"][0]
    same = MfccCnnFeatureExtractor(reduce_noise=True, trim_db=None)(wave, sampling_rate=16000)["input_features"][0]
    assert np.array_equal(ours, same) and ours.shape[-1] > plain.shape[-1]  # untrimmed: more frames
    with pytest.raises(ValueError, match="feature_overrides"):
        build_baseline(["a", "b"], feature_overrides={"n_mels": 40})

def test_cli_evaluate_with_speaker_norm(data_root, tmp_path, monkeypatch, capsys):
    """--speaker-norm reaches the recipe: each fold's model is the speaker-adaptive kind (no
    per-utterance normalisation; its feature extractor normalises by the speaker's statistics)."""
    savee_corpora(data_root, tmp_path / "corpora", clips=[f"{code}0{n}" for code in ("a", "n") for n in (1, 2, 3)])
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    built = []
    from ser_hf import training

    original = training.build_baseline
    monkeypatch.setattr(training, "build_baseline", lambda *a, **k: built.append((k, original(*a, **k))) or built[-1][1])
    out = tmp_path / "report"
    assert cli(["evaluate", "mfcc-cnn", "--data", str(tmp_path / "corpora"), "--protocol", "loso", "--epochs", "1",
                "--threads", "1", "--speaker-norm", "--output", str(out)]) == 0
    fold_models = [pair for k, pair in built if "seed" in k]  # the other call only makes the feature extractor
    assert len(fold_models) == 2, built
    assert all(m.config.normalization == "none" and fe.speaker_normalization for m, fe in fold_models)
    assert json.loads((out / "report.json").read_text())["folds"]


def test_model_overrides_reach_each_folds_model(savee_subset, tmp_path, monkeypatch):
    """TrainingConfig.model_overrides builds every fold's model with them (how benchmarks compare designs)."""
    from ser_hf.training import fit_predict_baseline

    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    names = savee_subset.features["emotion"].names
    train, test = savee_subset.select(range(0, 60, 2)), savee_subset.select(range(1, 60, 2))
    config = TrainingConfig(epochs=1, batch_size=16, threads=1, model_overrides={"pooling": "meanstd"})
    out = fit_predict_baseline(train, test, names, config=config, output_dir=tmp_path / "run", progress=False)
    assert out["model"].config.pooling == "meanstd" and len(out["y_pred"]) == 30
    config = TrainingConfig(epochs=1, batch_size=16, threads=1, speaker_norm=True, model_overrides={"pooling": "meanstd"})
    out = fit_predict_baseline(train, test, names, config=config, output_dir=tmp_path / "spk", progress=False)
    assert (out["model"].config.pooling, out["model"].config.normalization) == ("meanstd", "none")


def test_model_overrides_alone_score_each_clip_by_itself(savee_subset, tmp_path, monkeypatch):
    """A design override is not speaker CMVN: without ``speaker_norm`` no speaker statistics are
    computed, and each test clip gets the prediction it gets alone (a bug once normalised by speaker
    whenever any override was set, which made ``normalization="none"`` silently transductive)."""
    from ser_hf import training

    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    calls = []
    real = training.speaker_statistics
    monkeypatch.setattr(training, "speaker_statistics", lambda f: calls.append(len(f)) or real(f))
    names = savee_subset.features["emotion"].names
    train, test = savee_subset.select(range(0, 60, 2)), savee_subset.select(range(1, 60, 2))
    config = TrainingConfig(epochs=2, batch_size=16, threads=1, model_overrides={"normalization": "none"})
    out = training.fit_predict_baseline(train, test, names, config=config, output_dir=tmp_path / "run", progress=False)
    assert calls == []
    fe = out["feature_extractor"]
    alone = [int(training.predict(out["model"], training.featurize(test.select([i]), fe, cache_dir=tmp_path / "one"),
                                  fixed_frames=fe.fixed_frames).argmax(-1)[0]) for i in range(len(test))]
    assert alone == [int(p) for p in out["y_pred"]]
    config = TrainingConfig(epochs=1, batch_size=16, threads=1, speaker_norm=True, model_overrides={"normalization": "none"})
    training.fit_predict_baseline(train, test, names, config=config, output_dir=tmp_path / "spk", progress=False)
    assert len(calls) == 2  # training speakers' and test speakers' statistics
