"""How bench/finetune.py turns per-fold runs into result rows: when a goal is judged, how seeds pool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.finetune import describe_tag, pool_seeds, summarise

REPO = Path(__file__).resolve().parents[1]


def _runs(root: Path, uas: list[float]) -> list[Path]:
    """Fold folders as finetune/train.py leaves them (only the keys the summary reads)."""
    outs = []
    for fold, ua in enumerate(uas):
        out = root / f"fold{fold}"
        out.mkdir(parents=True)
        (out / "all_results.json").write_text(json.dumps({
            "eval_unweighted_accuracy": ua, "eval_accuracy": ua + 0.01, "eval_macro_f1": ua - 0.01,
            "eval_per_epoch": [{"eval_unweighted_accuracy": ua - 0.05}, {"eval_unweighted_accuracy": ua}],
            "train_runtime": 100.0, "train_samples": 1000, "epoch": 2.0, "peak_ram_mb": 900.0}))
        outs.append(out)
    return outs


def test_goal_is_judged_only_when_every_fold_is_in(tmp_path):
    outs = _runs(tmp_path, [0.80, 0.78, 0.76])
    missing = outs + [tmp_path / "fold3", tmp_path / "fold4"]  # not run yet
    (tmp_path / "fold3").mkdir()  # stopped after training, before its evaluation (a GPU lease's deadline)
    (tmp_path / "fold3" / "all_results.json").write_text(json.dumps({"train_runtime": 90.0, "epoch": 12.0}))
    partial = summarise("all3", "b", missing, 75.0, ">= 75 %", range(5), total_folds=5)
    assert partial[0]["metric"] == "UA (last epoch)" and partial[0]["value"] == pytest.approx(78.0)
    assert partial[0]["met"] is None and "3 fold(s)" in partial[0]["notes"]
    _runs(tmp_path / "rest", [0.70, 0.70])
    (tmp_path / "fold3" / "all_results.json").unlink()
    (tmp_path / "fold3").rmdir()
    for fold in (3, 4):
        (tmp_path / f"fold{fold}").symlink_to(tmp_path / "rest" / f"fold{fold - 3}")
    complete = summarise("all3", "b", missing, 75.0, ">= 75 %", range(5), total_folds=5)
    assert complete[0]["value"] == pytest.approx(74.8) and complete[0]["met"] is False
    time_row = next(r for r in complete if r["metric"] == "training time per clip per epoch")
    assert time_row["value"] == pytest.approx(50.0)  # 100 s / (1000 clips x 2 epochs), in ms


def test_seeds_pool_to_their_mean_and_an_incomplete_seed_is_not_judged(tmp_path):
    seeds = {"s0": _runs(tmp_path / "s0", [0.77, 0.75]), "s1": _runs(tmp_path / "s1", [0.74, 0.72])}
    (row,) = pool_seeds("b", seeds, 75.0, ">= 75 %", total_folds=2)
    assert row["value"] == pytest.approx(74.5) and row["met"] is False
    assert "s0 76.0" in row["notes"] and "s1 73.0" in row["notes"] and "std over seeds 1.5" in row["notes"]
    seeds["s2"] = _runs(tmp_path / "s2", [0.90])  # one fold of two: the pool is reported, not judged
    (row,) = pool_seeds("b", seeds, 75.0, ">= 75 %", total_folds=2)
    assert row["met"] is None and row["notes"].startswith("3 seeds")
    assert row["value"] == pytest.approx(74.5) and "not in the mean, unfinished: s2 90.0 on 1 of 2 folds" in row["notes"]
    (tmp_path / "s2" / "fold1").mkdir()  # trained, not evaluated: still one fold of two
    (tmp_path / "s2" / "fold1" / "all_results.json").write_text(json.dumps({"train_runtime": 90.0}))
    seeds["s2"].append(tmp_path / "s2" / "fold1")
    (row,) = pool_seeds("b", seeds, 75.0, ">= 75 %", total_folds=2)
    assert row["met"] is None
    assert pool_seeds("b", {"none": [tmp_path / "nothing"]}, 75.0, ">= 75 %", total_folds=1) == []


def test_recipe_search_tags_say_what_they_changed():
    assert describe_tag("gpu-w5f0e8s2") == ("recipe: 5 s window, all 4 encoder layers trained, 8 epochs, seed 2, "
                                            "one H100, bf16, folds side by side")
    assert "4 s window, conv + 2 lowest layers frozen, 5 epochs, seed 0, CPU" in describe_tag("w4")
    assert "label smoothing" in describe_tag("gpu-w5e8ns")
    assert "8 epochs, label smoothing 0.1, seed 1" in describe_tag("gpu-w4e8lss1")
    assert "10 epochs, class-weighted loss, seed 0" in describe_tag("gpu-w4e10cw")
    assert "8 epochs, label smoothing 0.1, class-weighted loss, seed 2" in describe_tag("gpu-w4e8lscws2")
    assert describe_tag("window4") == "" and describe_tag("lpft") == ""


def test_the_model_card_takes_the_shipped_recipes_rows_only():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_whisper_model", REPO / "scripts" / "build_whisper_model.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    bench = "RAVDESS+TESS+SAVEE 7 classes, 5 speaker folds, fine-tuned whisper-tiny.en"
    rows = [{"benchmark": f"{bench} [recipe {tag}]"} for tag in
            ("gpu-w4e8ls", "gpu-w4e8lss2", "gpu-w4e8ls, seeds pooled", "w4e8ls", "gpu-w4e8", "w4e8s1",
             "gpu-w4e8cw", "gpu-w4e10s1", "gpu-w4e12", "window4", "gpu-w5e8")]
    rows += [{"benchmark": bench}, {"benchmark": "RAVDESS 8 classes, frozen whisper-tiny.en + logistic regression"}]
    kept = [r["benchmark"] for r in build.cross_validation_results(rows)]
    assert [k.split("[recipe ")[-1] for k in kept] == [
        "gpu-w4e8ls]", "gpu-w4e8lss2]", "gpu-w4e8ls, seeds pooled]", "w4e8ls]", "gpu-w4e8]", "w4e8s1]",
        "RAVDESS 8 classes, frozen whisper-tiny.en + logistic regression"]


def test_layer_states_pool_each_hidden_state(data_root, tiny_whisper, tmp_path, monkeypatch):
    """``encode_layers``: one mean and one std per hidden state (the stem's output, then each layer) of
    each real clip, cached."""
    import datasets
    import numpy as np
    from transformers import WhisperConfig

    import bench.finetune as finetune

    monkeypatch.setattr(finetune, "BACKBONE", tiny_whisper)
    paths = [str(data_root / "SAVEE" / f"DC_{code}.flac") for code in ("a01", "h01", "n01")]
    ds = datasets.Dataset.from_dict({"path": paths})
    states = finetune.encode_layers(ds, tmp_path / "layers.npz")
    config = WhisperConfig.from_pretrained(tiny_whisper)
    assert states.shape == (3, config.encoder_layers + 1, 2 * config.d_model)
    assert (states[..., config.d_model:] > 0).all()  # the std half
    assert not np.allclose(states[:, 0], states[:, -1])  # the layers differ
    np.testing.assert_array_equal(finetune.encode_layers(ds.select([0]), tmp_path / "layers.npz"), states)  # cached

