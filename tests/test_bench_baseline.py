"""How bench/baseline.py gathers runs: a report is reused only for the recipe it measured; seeds pool into one row."""

from __future__ import annotations

import json

import pytest

import bench.baseline as baseline
import bench.report as bench_report
from bench.common import machine
from ser_hf.corpora import load_corpora


@pytest.fixture
def savee_few(data_root, tmp_path):
    """Four real SAVEE clips of each of two speakers (leave-one-speaker-out: two folds)."""
    import shutil

    for path in sorted((data_root / "SAVEE").glob("*_[an]0[12].flac")):
        if path.name[:2] in ("DC", "JE"):
            (tmp_path / "corpora" / "SAVEE").mkdir(parents=True, exist_ok=True)
            shutil.copy(path, tmp_path / "corpora" / "SAVEE" / path.name)
    return load_corpora(tmp_path / "corpora", names=["savee"], label_set="7")


def test_a_report_is_reused_only_for_the_recipe_it_measured(savee_few, tmp_path, monkeypatch):
    monkeypatch.setattr(baseline, "OUT", tmp_path / "out")
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    trained = []
    import ser_hf.evaluation as evaluation  # bench.baseline._run imports the recipe from here on each call

    original = evaluation.baseline_recipe

    def counting(*args, **kwargs):
        trained.append(kwargs["config"].epochs)
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluation, "baseline_recipe", counting)
    small = {"epochs": 1, "batch_size": 4, "threads": 1}
    first = baseline._run("few", savee_few, "loso", training_overrides=small)
    assert trained == [1] and (tmp_path / "out" / "few" / "run.json").is_file()
    assert first["machine"] == machine()  # where it ran, kept with the run

    monkeypatch.setenv("SER_BENCH_REUSE", "1")
    again = baseline._run("few", savee_few, "loso", training_overrides=small)
    assert trained == [1]  # nothing trained: the saved report came back
    assert again["summary"] == first["summary"] and again["epochs"] == 1 and again["seconds"] == first["seconds"]
    assert again["machine"] == first["machine"]

    other = baseline._run("few", savee_few, "loso", training_overrides={**small, "epochs": 2})
    assert trained == [1, 2]  # another recipe under the same name trains again...
    assert json.loads((tmp_path / "out" / "few" / "run.json").read_text())["run"]["epochs"] == 2  # ...and is recorded
    assert other["epochs"] == 2

    # A report saved before TrainingConfig had a field ran with that field's default: still reused.
    run_json = tmp_path / "out" / "few" / "run.json"
    saved = json.loads(run_json.read_text())
    key = json.loads(saved["key"])
    del key["config"]["balance"], key["config"]["balance_power"]
    run_json.write_text(json.dumps({**saved, "key": json.dumps(key, sort_keys=True)}))
    baseline._run("few", savee_few, "loso", training_overrides={**small, "epochs": 2})
    assert trained == [1, 2]
    baseline._run("few", savee_few, "loso", training_overrides={**small, "epochs": 2, "balance": "speaker"})
    assert trained == [1, 2, 2]  # a value other than the default is another recipe

    # A key saved before keys recorded the copies' effects ran WaveAugmenter's defaults of then (+-2
    # semitones): reused where the recipe asks for exactly those, trained again under today's +-4.
    pitch2 = {**small, "epochs": 2, "augmenter": {"semitones": [-2.0, 2.0]}}
    baseline._run("few", savee_few, "loso", training_overrides=pitch2)
    assert trained == [1, 2, 2, 2]
    saved = json.loads(run_json.read_text())
    key = json.loads(saved["key"])
    assert key["effects"]["semitones"] == [-2.0, 2.0]
    del key["effects"]
    key["config"]["augmenter"] = {}
    run_json.write_text(json.dumps({**saved, "key": json.dumps(key, sort_keys=True)}))
    baseline._run("few", savee_few, "loso", training_overrides={**pitch2, "augmenter": {}})
    assert trained == [1, 2, 2, 2, 2]  # today's default effects are not the old run's
    run_json.write_text(json.dumps({**saved, "key": json.dumps(key, sort_keys=True)}))
    baseline._run("few", savee_few, "loso", training_overrides=pitch2)
    assert trained == [1, 2, 2, 2, 2]  # the same effects asked for explicitly: reused


def test_seeds_pool_into_one_row_named_by_the_seeds_run(monkeypatch):
    def report(seed):
        return {"summary": {"unweighted_accuracy": {"mean": 0.40 + 0.02 * seed}}, "epochs": 20, "threads": 2,
                "design": "cnn1d", "seconds": 10.0}

    row = baseline._over_seeds(report, "SAVEE, training seeds {seeds}", "UA, mean over seeds", 55)
    assert row["benchmark"] == "SAVEE, training seeds 0-2" and row["value"] == pytest.approx(42.0)
    assert row["met"] is False and "per seed [40.0, 42.0, 44.0]" in row["notes"]
    monkeypatch.setenv("SER_BENCH_SEEDS", "1")
    row = baseline._over_seeds(report, "SAVEE, training seeds {seeds}", "UA, mean over seeds", 40)
    assert row["benchmark"] == "SAVEE, training seeds 1" and row["value"] == pytest.approx(42.0) and row["met"] is True


def test_a_row_names_the_machines_its_runs_ran_on_not_the_one_that_gathered_them():
    def report(machine):
        return lambda seed: {"summary": {"unweighted_accuracy": {"mean": 0.5}}, "epochs": 20, "threads": 1,
                             "design": "cnn1d", "seconds": 1.0, **({"machine": machine(seed)} if machine else {})}

    fast, slow = "2 cores, AMD EPYC (AVX-512), Python 3.11.7", "2 cores, AMD EPYC (AVX2), Python 3.11.7"
    row = baseline._over_seeds(report(lambda seed: fast), "SAVEE {seeds}", "UA", 55)
    assert row["machine"] == fast and "Machine per seed" not in row["notes"]
    row = baseline._over_seeds(report(lambda seed: fast if seed == 0 else slow), "SAVEE {seeds}", "UA", 55)
    assert row["machine"] == f"{fast} / {slow}"
    assert row["notes"].startswith(f"Machine per seed {[fast, slow, slow]}.")
    row = baseline._over_seeds(report(None), "SAVEE {seeds}", "UA", 55)  # runs recorded before runs kept it
    assert row["machine"] == "not recorded"
    assert bench_report._machine_column(f"{fast} / {slow}") == "AMD EPYC (AVX-512) / AMD EPYC (AVX2)"
    assert bench_report._machine_column("16 cores, x86_64, Python 3.12.3") == "16 cores, x86_64, Python 3.12.3"


def test_the_latency_goal_is_timed_on_three_seconds_left_after_trimming(data_root, monkeypatch):
    """The goal's clip is 3 s of speech: the extractor trims next to nothing, as from someone talking."""
    from transformers import AutoFeatureExtractor

    import ser_hf  # noqa: F401

    monkeypatch.setattr(baseline, "DATA", data_root)
    wave = baseline._three_seconds_of_speech()
    assert wave.shape == (48000,)
    fe = AutoFeatureExtractor.from_pretrained(baseline.ROOT / "models" / "ser-mfcc-cnn")
    frames = fe(wave, sampling_rate=16000)["input_features"][0].shape[-1]
    assert frames >= 290  # of 300 at 100 frames a second; the RAVDESS clip the goal was judged on before kept 144


def test_a_distilled_run_is_reused_only_under_its_teachers_key(savee_few, tmp_path, monkeypatch):
    from ser_hf.evaluation import with_clip_ids
    from ser_hf.splits import protocol_folds

    monkeypatch.setattr(baseline, "OUT", tmp_path / "out")
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SER_BENCH_REUSE", "1")
    trained = []
    import ser_hf.evaluation as evaluation

    original = evaluation.baseline_recipe

    def counting(*args, **kwargs):
        trained.append(kwargs["teachers"] is not None)
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluation, "baseline_recipe", counting)
    ds = with_clip_ids(savee_few)
    uniform = {fold: {int(i): [1 / 7] * 7 for i in split["train"]["clip_id"]} for fold, split in protocol_folds(ds, "loso")}
    small = {"epochs": 1, "batch_size": 4, "threads": 1}
    baseline._run("kd", ds, "loso", training_overrides=small, teachers=uniform)
    baseline._run("kd", ds, "loso", training_overrides=small, teachers=uniform)
    assert trained == [True, True] and not (tmp_path / "out" / "kd" / "run.json").exists()  # no key: never reused
    baseline._run("kd", ds, "loso", training_overrides=small, teachers=uniform, teacher_key="uniform")
    baseline._run("kd", ds, "loso", training_overrides=small, teachers=uniform, teacher_key="uniform")
    assert trained == [True, True, True]  # the same teacher: the saved report came back
    assert json.loads(json.loads((tmp_path / "out" / "kd" / "run.json").read_text())["key"])["teacher"] == "uniform"
    baseline._run("kd", ds, "loso", training_overrides=small, teachers=uniform, teacher_key="another")
    baseline._run("kd", ds, "loso", training_overrides=small)
    assert trained == [True, True, True, True, False]  # another teacher, or none, is another run


def test_the_shipped_design_is_the_one_its_benchmark_stages_measure():
    """scripts/train_baseline.py's SHIPPED_DESIGN and bench.baseline's SHIPPED_VARIANT stages are one design."""
    overrides, label = baseline.LAYER1_VARIANTS[baseline.SHIPPED_VARIANT]
    assert baseline._train_baseline().SHIPPED_DESIGN == {"front_end_layers": 1, **overrides}
    assert "25 frames a second" in label and baseline._layer1_status(baseline.SHIPPED_VARIANT).startswith("The shipped")
    assert {f"{p}_whisper_layer1{baseline.SHIPPED_VARIANT}" for p in ("savee", "all3", "ravdess", "tess")} <= set(
        baseline.EXPERIMENTS)


def test_a_rebuild_is_checked_against_the_committed_weights_bit_for_bit(tmp_path):
    """training_time says whether the rebuild equals the shipped weights: one changed value must tell."""
    from safetensors.torch import load_file, save_file

    shipped = baseline.ROOT / "models" / "ser-mfcc-cnn"
    assert baseline.same_weights(shipped, shipped)
    weights = load_file(shipped / "model.safetensors")
    name = next(k for k, v in weights.items() if v.is_floating_point())
    weights[name] = weights[name].clone()
    weights[name].view(-1)[0] += 1
    (tmp_path / "changed").mkdir()
    save_file(weights, tmp_path / "changed" / "model.safetensors")
    assert not baseline.same_weights(shipped, tmp_path / "changed")


def test_the_readme_gets_one_table_per_results_file_under_what_it_measures(tmp_path, monkeypatch):
    def result(name):
        return {"benchmark": name, "metric": "m", "value": 1.0, "unit": "s", "machine": "2 cores, x86_64"}

    (tmp_path / "zzz_new.json").write_text(json.dumps([result("a new one")]))
    (tmp_path / "finetune.json").write_text(json.dumps([result("ft 1"), result("ft 2")]))
    (tmp_path / "baseline.json").write_text(json.dumps([result("base")]))
    monkeypatch.setattr(bench_report, "RESULTS", tmp_path)
    lines = bench_report.table().splitlines()
    headings = [line for line in lines if line.startswith("### ")]
    assert [h.rsplit("`bench/results/", 1)[1] for h in headings] == ["baseline.json`)", "finetune.json`)", "zzz_new.json`)"]
    assert headings[0].startswith("### The MFCC-CNN baseline")
    rows = [line.split(" | ")[0] for line in lines if line.startswith("| ") and "---" not in line and "benchmark |" not in line]
    assert rows == ["| base", "| ft 1", "| ft 2", "| a new one"]
