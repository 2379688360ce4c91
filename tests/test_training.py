"""Training helper: cached featurization, bad clips skipped and reported, a real Trainer run that learns."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from ser_hf.audio import load_audio
from ser_hf.augment import WaveAugmenter
from ser_hf.taxonomy import label_names
from ser_hf.training import (ArrowRows, SkippedClipsWarning, TrainingConfig, build_baseline, epoch_history, featurize,
                             rows_of, train_model)


def _table(paths, labels, corpus="savee"):
    return datasets.Dataset.from_dict({
        "path": [str(p) for p in paths], "emotion": list(labels), "corpus": [corpus] * len(paths),
        "speaker": [f"{corpus}_{p.name[:2]}" for p in paths]})


@pytest.fixture(scope="module")
def savee_small(data_root):
    """40 real SAVEE clips of two speakers, 4 emotions (angry, happy, neutral, sad)."""
    names = label_names("7")
    paths, labels = [], []
    for speaker in ("DC", "JE"):
        for code, emotion in (("a", "angry"), ("h", "happy"), ("n", "neutral"), ("sa", "sad")):
            for n in range(1, 6):
                paths.append(data_root / "SAVEE" / f"{speaker}_{code}{n:02d}.flac")
                labels.append(names.index(emotion))
    return _table(paths, labels)


def test_featurize_caches_and_matches_the_inference_path(savee_small, tmp_path):
    _, fe = build_baseline(label_names("7"))
    part = savee_small.select(range(6))
    first = featurize(part, fe, augment_copies=1, cache_dir=tmp_path)
    cached = list(tmp_path.glob("*.arrow"))
    assert len(cached) == 1
    assert len(first) == 12 and sorted(set(first["copy"])) == [0, 1]
    again = featurize(part, fe, augment_copies=1, cache_dir=tmp_path)
    assert list(tmp_path.glob("*.arrow")) == cached
    assert again.cache_files[0]["filename"] == str(cached[0])
    clean = rows_of(first, [2], copies=False)[0]
    copy = rows_of(first, [2], copies=True)
    # The clean row is what the pipeline computes for that file; the copy is augmented. (featurize
    # holds BLAS to one thread, and the mel product's rounding depends on the thread count.)
    with threadpool_limits(1):
        expected = fe(load_audio(part[2]["path"]), sampling_rate=16000)["input_features"][0]
    np.testing.assert_array_equal(np.asarray(clean["input_features"]).T, expected)
    assert len(copy) == 2
    assert not np.array_equal(np.asarray(copy[0]["input_features"]), np.asarray(copy[1]["input_features"]))


def test_arrow_rows_are_the_rows_datasets_formats(savee_small, tmp_path):
    """The training loader's reader gives, for any keys in any order, what ``datasets`` gives."""
    _, fe = build_baseline(label_names("7"))
    features = featurize(savee_small.select(range(10)), fe, augment_copies=1, cache_dir=tmp_path)
    subset = features.select([17, 3, 8, 0, 12, 5])  # an indices mapping over the cached table
    reader = ArrowRows(subset)
    assert len(reader) == 6
    keys = [4, 0, 5, 2]
    rows = reader.rows(keys)
    for key, row in zip(keys, rows):
        expected = subset[key]
        assert set(row) == set(expected)
        np.testing.assert_array_equal(row["input_features"], expected["input_features"])
        assert row["input_features"].shape == (expected["length"], fe.feature_size)
        for name in ("label", "clip", "copy", "speaker", "path", "length"):
            assert row[name] == expected[name], name
    assert reader.__getitems__(keys)[1]["clip"] == subset[0]["clip"]
    np.testing.assert_array_equal(reader[2]["input_features"], subset[2]["input_features"])


def test_interrupted_featurization_leaves_no_cache(savee_small, tmp_path, monkeypatch):
    _, fe = build_baseline(label_names("7"))
    calls = {"n": 0}
    real = fe.extract

    def failing(wave):
        calls["n"] += 1
        if calls["n"] > 20:
            raise KeyboardInterrupt
        return real(wave)

    monkeypatch.setattr(fe, "extract", failing)
    with pytest.raises(KeyboardInterrupt):
        featurize(savee_small, fe, cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.arrow"))  # only a finished map is renamed into place
    monkeypatch.setattr(fe, "extract", real)
    assert len(featurize(savee_small, fe, cache_dir=tmp_path)) == len(savee_small)


def test_unreadable_clips_are_skipped_and_reported(savee_small, tmp_path):
    broken = tmp_path / "DC_a99.wav"
    broken.write_bytes(b"RIFF\x00\x00garbage, not audio" * 10)
    empty = tmp_path / "DC_h99.wav"
    empty.write_bytes(b"")
    paths = [broken, empty]
    good = savee_small.select(range(4))
    ds = datasets.concatenate_datasets([good, _table(paths, [0, 1])])
    _, fe = build_baseline(label_names("7"))
    with pytest.warns(SkippedClipsWarning) as caught:
        features = featurize(ds, fe, cache_dir=tmp_path / "cache")
    skipped = caught[0].message.skipped
    assert set(skipped) == {str(broken), str(empty)}
    assert "empty" in skipped[str(empty)]
    assert len(features) == 4 and str(broken) not in features["path"]


def test_a_short_trainer_run_lowers_the_training_loss(savee_small, tmp_path):
    model, fe = build_baseline(label_names("7"))
    features = featurize(savee_small, fe, cache_dir=tmp_path / "cache")
    config = TrainingConfig(epochs=4, batch_size=8, learning_rate=3e-3, augment_copies=0, threads=1)
    trainer = train_model(model, features, features.select(range(0, 40, 4)), config,
                          output_dir=tmp_path / "run", progress=False)
    history = epoch_history(trainer.state.log_history)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert {"eval_accuracy", "eval_unweighted_accuracy", "eval_macro_f1"} <= set(history[-1])


def test_the_per_epoch_evaluation_scores_every_evaluation_clip(savee_small, tmp_path, monkeypatch):
    """Each epoch's metrics (the curves) cover the whole evaluation set and equal ``predict``'s scores
    at the end (a training set with a short last batch once cut the evaluation to that batch's size)."""
    from ser_hf import metrics
    from ser_hf.training import predict

    seen = []

    def spy(eval_pred):
        seen.append(len(eval_pred.label_ids))
        return metrics.scores(eval_pred.label_ids, np.argmax(eval_pred.predictions, axis=-1))

    monkeypatch.setattr(metrics, "compute_metrics", spy)
    model, fe = build_baseline(label_names("7"), seed=0)
    features = featurize(savee_small, fe, cache_dir=tmp_path / "cache")
    train, evaluation = features.select(range(0, 27)), features.select(range(27, len(features)))
    config = TrainingConfig(epochs=2, batch_size=8, augment_copies=0, threads=1)
    trainer = train_model(model, train, evaluation, config, output_dir=tmp_path / "run", progress=False)
    assert len(train) % 8 and seen == [len(evaluation)] * 2
    last = epoch_history(trainer.state.log_history)[-1]
    expected = metrics.scores(evaluation["label"], predict(model, evaluation).argmax(-1))
    assert last["eval_unweighted_accuracy"] == pytest.approx(expected["unweighted_accuracy"])


def test_training_is_reproducible(savee_small, tmp_path):
    """Same seed, data and threads: the same weights (what scripts/train_baseline.py relies on)."""
    _, fe = build_baseline(label_names("7"))
    features = featurize(savee_small.select(range(0, 40, 2)), fe, augment_copies=1, cache_dir=tmp_path / "cache")
    config = TrainingConfig(epochs=1, batch_size=8, threads=1)
    weights = []
    for run in range(2):
        model, _ = build_baseline(label_names("7"), seed=config.seed)
        train_model(model, features, None, config, output_dir=tmp_path / f"run{run}", progress=False)
        weights.append(model.state_dict())
    for name, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][name]), name


def test_the_recipes_augmenter_renders_the_augmented_copies(savee_small, tmp_path):
    """``TrainingConfig.augmenter`` (a JSON-able dict) sets the waveform effects of the augmented
    copies: a copy shifted up 3 semitones has its energy in higher mel bands than the clean clip, one
    shifted down in lower bands; the clean rows do not change."""
    import json

    def centroid(frames):  # [frames, 64] log-mel: the band index weighted by each band's mean power
        power = np.exp(np.asarray(frames, np.float64) / 10 * np.log(10)).mean(0)
        return float((np.arange(power.size) * power).sum() / power.sum())

    _, fe = build_baseline(label_names("7"))
    part = savee_small.select(range(0, 40, 10))
    fixed = {"p": 1.0, "snr_db": [80.0, 80.0], "stretch": [1.0, 1.0], "shift_s": 0.0}
    shifted = {}
    for semitones in (3.0, -3.0):
        config = TrainingConfig(augmenter={**fixed, "semitones": [semitones, semitones]})
        assert TrainingConfig(**json.loads(json.dumps(config.to_dict()))).wave_augmenter() == config.wave_augmenter()
        shifted[semitones] = featurize(part, fe, augment_copies=1, augmenter=config.wave_augmenter(),
                                       cache_dir=tmp_path)
    up, down = shifted[3.0], shifted[-3.0]
    for row in range(0, len(up), 2):  # each clip's clean row, then its copy
        np.testing.assert_array_equal(up[row]["input_features"], down[row]["input_features"])
        clean = centroid(up[row]["input_features"])
        assert centroid(down[row + 1]["input_features"]) < clean < centroid(up[row + 1]["input_features"])
    assert TrainingConfig().wave_augmenter() == WaveAugmenter()  # the recipe's own effects by default


def test_balanced_sampling_draws_each_speaker_equally(savee_small, tmp_path, monkeypatch):
    """``TrainingConfig(balance="speaker")``: a speaker with 4 of 24 rows fills about half of each epoch
    (1/6 without it), the same rows again for the same seed; a typo in the group is refused."""
    from ser_hf import training

    _, fe = build_baseline(label_names("7"))
    features = featurize(savee_small, fe, cache_dir=tmp_path / "cache")  # DC's 20 clips, then JE's 20
    features = features.select(list(range(20)) + [20, 25, 30, 35])
    seen = []
    collate = training.PadCollator.__call__
    monkeypatch.setattr(training.PadCollator, "__call__",
                        lambda self, rows: seen.extend(r["speaker"] for r in rows) or collate(self, rows))

    def drawn(balance):
        seen.clear()
        model, _ = build_baseline(label_names("7"), seed=0)
        config = TrainingConfig(epochs=5, batch_size=8, augment_copies=0, threads=1, balance=balance)
        train_model(model, features, None, config, output_dir=tmp_path / f"run_{balance}", progress=False)
        return list(seen)

    plain, balanced, again = drawn(None), drawn("speaker"), drawn("speaker")
    assert len(plain) == len(balanced) == 5 * 24
    assert plain.count("savee_JE") == 5 * 4
    assert 0.35 < balanced.count("savee_JE") / len(balanced) < 0.65
    assert balanced == again and balanced[:24] != balanced[24:48]  # Trainer sets each epoch's draw
    with pytest.raises(ValueError, match="balance"):
        TrainingConfig(balance="speakers")
    # Each epoch's draw is (seed, epoch)'s: a run resumed at epoch 2 draws what the whole run drew.
    whole = training.balanced_sampler(features["speaker"], seed=0)
    epochs = []
    for epoch in range(3):
        whole.set_epoch(epoch)
        epochs.append(list(whole))
    resumed = training.balanced_sampler(features["speaker"], seed=0)
    resumed.set_epoch(2)
    assert list(resumed) == epochs[2] and epochs[1] != epochs[2]
    # Part of the way: groups of 20 and 4 rows weigh sqrt(20) : sqrt(4) in all, so JE fills 2 / (2 + 4.47).
    assert training.balanced_weights(features["speaker"], 0.5)[20:].sum() / training.balanced_weights(
        features["speaker"], 0.5).sum() == pytest.approx(2 / (2 + 20 ** 0.5))


def test_speaker_cmvn_removes_each_speakers_level(savee_small, tmp_path):
    """Speaker-level CMVN: each speaker's clean frames end at zero mean and unit std per row,
    so a speaker recorded 20 dB quieter gives the same normalised features."""
    from ser_hf.training import PadCollator, speaker_statistics

    _, fe = build_baseline(label_names("7"))
    quiet_dir = tmp_path / "quiet"
    quiet_dir.mkdir()
    import soundfile as sf

    je = [p for p in savee_small["path"] if "/JE_" in p]
    quiet_paths = []
    for p in je:
        wave = load_audio(p)
        out = quiet_dir / (p.rsplit("/", 1)[1].replace(".flac", ".wav"))
        sf.write(out, wave * 0.1, 16000, subtype="FLOAT")
        quiet_paths.append(out)
    table = savee_small.add_column("quiet", [False] * len(savee_small))
    quiet = _table(quiet_paths, [e for p, e in zip(savee_small["path"], savee_small["emotion"]) if "/JE_" in p])
    quiet = quiet.map(lambda r: {"speaker": "savee_JE_quiet"})
    both = datasets.concatenate_datasets([table.remove_columns("quiet"), quiet])
    features = featurize(both, fe, augment_copies=1, cache_dir=tmp_path / "cache")
    stats = speaker_statistics(features)
    assert set(stats) == {"savee_DC", "savee_JE", "savee_JE_quiet"}
    assert 18 < float(np.mean(stats["savee_JE"][0] - stats["savee_JE_quiet"][0])) < 22  # 20 dB quieter
    collator = PadCollator(speaker_stats=stats)
    clean = features.filter(lambda c: c == 0, input_columns="copy")
    rows = [clean[i] for i in range(len(clean))]
    for speaker in stats:
        own = [r for r in rows if r["speaker"] == speaker]
        frames = np.concatenate([collator([r])["input_features"][0].numpy().T for r in own])
        np.testing.assert_allclose(frames.mean(0), 0, atol=1e-3)
        np.testing.assert_allclose(frames.std(0), 1, atol=1e-2)
    loud = [r for r in rows if r["speaker"] == "savee_JE"][0]
    soft = [r for r in rows if r["speaker"] == "savee_JE_quiet" and r["path"].endswith(loud["path"].rsplit("/", 1)[1].replace(".flac", ".wav"))][0]
    gap = np.abs(collator([loud])["input_features"].numpy() - collator([soft])["input_features"].numpy())
    assert gap.mean() < 0.05, gap.mean()  # (near-silent bins hit the -100 dB floor of the log and differ)
    assert np.quantile(gap, 0.9) < 0.05


def test_distillation_trains_on_the_teachers_probabilities(savee_small, tmp_path):
    """With distill_weight 1 the targets are the teacher's alone: a teacher that calls every clip the
    next emotion round teaches the student that mapping, not the labels (so the soft labels are used)."""
    from ser_hf.evaluation import with_clip_ids
    from ser_hf.training import fit_predict_baseline, soft_targets

    names = label_names("7")
    ds = with_clip_ids(savee_small)
    shifted = {i: np.eye(7)[(label + 1) % 7] for i, label in zip(ds["clip_id"], ds["emotion"])}
    config = TrainingConfig(epochs=8, batch_size=8, augment_copies=1, threads=1, crop_frames=None, distill_weight=1.0)
    _, fe = build_baseline(names)
    shared = featurize(ds, fe, augment_copies=1, cache_dir=tmp_path / "shared")  # as the benchmarks' folds share it
    out = fit_predict_baseline(ds, ds, names, config=config, output_dir=tmp_path / "run", progress=False,
                               teacher=shifted, features=(shared, ds["clip_id"], ds["clip_id"]))
    teacher_says = (out["y_true"] + 1) % 7
    assert np.mean(out["y_pred"] == teacher_says) >= 0.8
    assert np.mean(out["y_pred"] == out["y_true"]) <= 0.2

    # The mix, and no silent one-hot for a clip the teacher did not label.
    _, fe = build_baseline(names)
    features = featurize(ds.select(range(4)), fe, augment_copies=1, cache_dir=tmp_path / "cache")
    soft = soft_targets(features, {0: np.full(7, 1 / 7), 1: np.eye(7)[6], 2: np.eye(7)[0], 3: np.eye(7)[0]},
                        7, 0.5, clip_ids=[0, 1, 2, 3])
    assert sorted(soft) == [0, 1, 2, 3]
    np.testing.assert_allclose(soft[0], 0.5 * np.eye(7)[ds[0]["emotion"]] + 0.5 / 7, atol=1e-6)
    with pytest.raises(ValueError, match="no probabilities for 1 training clip"):
        soft_targets(features, {0: np.eye(7)[0], 1: np.eye(7)[0], 2: np.eye(7)[0]}, 7, 0.5, clip_ids=[0, 1, 2, 3])


def test_teacher_probabilities_cover_every_readable_clip(savee_small, tiny_whisper, tmp_path):
    """A fine-tuned audio classifier as teacher: one probability vector per clip id, in the student's
    label order; an unreadable clip is left out; a teacher with other labels is refused."""
    from ser_hf.evaluation import with_clip_ids
    from ser_hf.training import teacher_probabilities

    broken = tmp_path / "DC_a98.wav"
    broken.write_bytes(b"not audio at all" * 20)
    ds = with_clip_ids(datasets.concatenate_datasets([savee_small.select(range(5)), _table([broken], [3])]))
    probs = teacher_probabilities(tiny_whisper, ds, label_names("7"), batch_size=2)
    assert sorted(probs) == [0, 1, 2, 3, 4]
    for p in probs.values():
        assert p.shape == (7,) and p.sum() == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="differ from the student"):
        teacher_probabilities(tiny_whisper, ds, label_names("8"))


def test_hints_fit_the_teachers_embedding(savee_small, tmp_path):
    """Feature-level distillation: the hint head learns each training clip's embedding from the pooled
    features (a speaker code here: +1 for DC's clips, -1 for JE's), the loss counts it only while training,
    and a model without a hint head, or a clip without an embedding, is an error."""
    from ser_hf.evaluation import with_clip_ids
    from ser_hf.training import PadCollator, fit_predict_baseline, per_clip

    names = label_names("7")
    ds = with_clip_ids(savee_small)
    code = {i: np.full(4, 1.0 if s == "savee_DC" else -1.0, np.float32) for i, s in zip(ds["clip_id"], ds["speaker"])}
    config = TrainingConfig(epochs=8, batch_size=8, augment_copies=1, threads=1, crop_frames=None,
                            model_overrides={"hint_size": 4, "hint_weight": 1.0})
    _, fe = build_baseline(names)
    shared = featurize(ds, fe, augment_copies=1, cache_dir=tmp_path / "shared")
    out = fit_predict_baseline(ds, ds, names, config=config, output_dir=tmp_path / "run", progress=False,
                               hints=code, features=(shared, ds["clip_id"], ds["clip_id"]))
    model, test_f = out["model"], out["test_features"]
    batch = PadCollator()([test_f[i] for i in range(len(test_f))])
    batch.pop("labels")
    model.train()  # the pooled features are kept only while training; no_grad keeps the weights as they are
    with torch.no_grad():
        model(**batch)
        said = model.net.hint(model.net.hinted).mean(1).numpy()
    truth = np.where(np.asarray(test_f["speaker"]) == "savee_DC", 1.0, -1.0)
    assert np.mean(np.sign(said) == truth) >= 0.9, said

    model.eval()
    hint = torch.from_numpy(np.stack([code[int(c)] for c in test_f["clip"]]))
    labels = torch.tensor(test_f["label"])
    with torch.no_grad():  # inference ignores the hint: the same loss with or without it
        assert model(**batch, labels=labels, hint_targets=hint).loss == model(**batch, labels=labels).loss

    with pytest.raises(ValueError, match="no hint head"):
        fit_predict_baseline(ds, ds, names, config=TrainingConfig(epochs=1, threads=1), output_dir=tmp_path / "no",
                             progress=False, hints=code, features=(shared, ds["clip_id"], ds["clip_id"]))
    with pytest.raises(ValueError, match="no embedding for 1 training clip"):
        per_clip(shared.filter(lambda r: r["copy"] == 0), {i: code[i] for i in list(code)[1:]}, "embedding")


def test_frame_hints_follow_the_crop_and_skip_augmented_copies():
    """Frame hints: each row gets the teacher frames its random crop kept, averaged per last-block frame;
    frames past the teacher's end and augmented copies are masked out, and the loss reads only the rest."""
    from ser_hf.models import MfccCnnConfig, MfccCnnForAudioClassification
    from ser_hf.training import PadCollator

    model = MfccCnnForAudioClassification(MfccCnnConfig(num_labels=3, channels=[8, 8, 8], hint_size=4, hint_frames=True))
    stride = model.frames_per_last_block_frame()
    assert stride == 8  # the first block's stride 2, then two poolings
    rng = np.random.default_rng(0)
    teacher = {0: rng.normal(size=(60, 4)).astype(np.float32), 1: rng.normal(size=(40, 4)).astype(np.float32)}
    rows = [{"input_features": rng.normal(size=(100, 64)).astype(np.float32), "clip": 0, "copy": 0, "label": 1},
            {"input_features": rng.normal(size=(40, 64)).astype(np.float32), "clip": 1, "copy": 0, "label": 2},
            {"input_features": rng.normal(size=(45, 64)).astype(np.float32), "clip": 1, "copy": 1, "label": 2}]
    collator = PadCollator(crop_frames=48, seed=3, hint_targets=teacher, hint_stride=stride)
    batch = collator(rows)
    start = int(np.random.default_rng([3, 0, 0, 0]).integers(0, 100 - 48 + 1))  # the collator's crop of row 0
    kept = teacher[0][start:start + 48]
    assert batch["hint_targets"].shape == (3, 4, 6)
    for j in range(6):
        if j * stride < len(kept):
            np.testing.assert_allclose(batch["hint_targets"][0, :, j], kept[j * stride:(j + 1) * stride].mean(0), rtol=1e-5)
    np.testing.assert_array_equal(batch["hint_mask"][0], [1.0 if j * stride < len(kept) else 0.0 for j in range(6)])
    np.testing.assert_array_equal(batch["hint_mask"][1], [1, 1, 1, 1, 1, 0])  # 40 frames: 5 of 8
    assert batch["hint_mask"][2].sum() == 0  # the augmented copy

    model.train()
    torch.manual_seed(0)
    loss = model(**batch).loss
    moved = dict(batch, hint_targets=batch["hint_targets"] + 100 * (1 - batch["hint_mask"])[:, None, :])
    torch.manual_seed(0)
    assert torch.isclose(model(**moved).loss, loss)  # masked frames do not count
    torch.manual_seed(0)
    assert model(**dict(batch, hint_targets=batch["hint_targets"] + 10)).loss > loss + 10  # the kept ones do
