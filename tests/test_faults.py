"""Faults: training killed with SIGKILL mid-epoch, and the feature cache killed mid-computation.

Each fault is a real ``kill -9`` of a subprocess that runs the library (``ser_hf.training``) on
real SAVEE clips, then the next run is compared with an uninterrupted one:

- training resumed from the last checkpoint ends with bit-identical weights and identical
  evaluation metrics (CPU, one thread, same seed: every random draw, including the collator's
  random crops, is restored or derived from the seed, so the tolerance is exactly 0);
- a feature cache killed while ``datasets.map`` writes it leaves no cache file (datasets writes a
  temporary file and renames it when done); the next run recomputes and equals a clean run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# 16 real clips: two speakers x four emotions x two; with one augmented copy each, 32 rows:
# batch 8 -> 4 steps an epoch; a checkpoint every 3 steps lands mid-epoch (steps 3 and 6).
TABLE = textwrap.dedent('''
    def savee_table(root, per_class):
        """``per_class`` real SAVEE clips of each of two speakers and four emotions (2: 16 clips)."""
        import datasets
        from pathlib import Path
        from ser_hf.taxonomy import label_names

        names = label_names("7")
        paths, labels = [], []
        for speaker in ("DC", "JE"):
            for code, emotion in (("a", "angry"), ("h", "happy"), ("n", "neutral"), ("sa", "sad")):
                for n in range(1, int(per_class) + 1):
                    paths.append(str(Path(root) / "SAVEE" / f"{speaker}_{code}{n:02d}.flac"))
                    labels.append(names.index(emotion))
        return datasets.Dataset.from_dict({"path": paths, "emotion": labels, "corpus": ["savee"] * len(paths),
                                           "speaker": ["savee_" + Path(p).name[:2] for p in paths]})
''')
exec(TABLE)  # savee_table, for the in-process runs; the driver gets the same text

DRIVER = TABLE + textwrap.dedent('''
    import glob, json, os, sys, time
    from pathlib import Path

    import datasets, numpy as np, torch
    from safetensors.torch import save_file

    import ser_hf.training as training
    from ser_hf.taxonomy import label_names

    mode, root, out, cache, per_class = sys.argv[1:6]
    names = label_names("7")
    ds = savee_table(root, per_class)
    datasets.disable_progress_bars()
    model, fe = training.build_baseline(names, seed=0)
    if mode == "featurize-slow":  # the cache fault: slow down once datasets has opened its temp file
        real = fe.extract
        def slow(wave):
            if [f for f in os.listdir(cache) if f.startswith("tmp")]:
                time.sleep(30)
            return real(wave)
        fe.extract = slow
    features = training.featurize(ds, fe, augment_copies=1, cache_dir=cache, seed=0)
    if mode.startswith("featurize"):
        np.save(Path(out) / "features.npy", np.concatenate([np.asarray(x) for x in features["input_features"]]))
        sys.exit(0)
    if mode == "killed":  # once a checkpoint is complete, the next batch waits: the kill lands mid-epoch
        real_call = training.PadCollator.__call__
        def call(self, rows):
            if self.crop_frames and glob.glob(os.path.join(out, "checkpoint-*", "trainer_state.json")):
                time.sleep(60)
            return real_call(self, rows)
        training.PadCollator.__call__ = call
    config = training.TrainingConfig(epochs=2, batch_size=8, augment_copies=1, crop_frames=60, threads=1, seed=0)
    evaluation = training.rows_of(features, range(len(ds)), copies=False)
    trainer = training.train_model(model, features, evaluation, config, output_dir=out, progress=False,
                                   save_steps=3, resume_from_checkpoint=True if mode == "resume" else None)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(Path(out) / "final.safetensors"))
    (Path(out) / "history.json").write_text(json.dumps(
        {"log": trainer.state.log_history, "global_step": trainer.state.global_step}))
''')


def _features(data_root, cache, per_class=2):
    """What the driver's ``featurize`` computes, in this process."""
    from ser_hf.taxonomy import label_names
    from ser_hf.training import build_baseline, featurize

    _, fe = build_baseline(label_names("7"), seed=0)
    features = featurize(savee_table(data_root, per_class), fe, augment_copies=1, cache_dir=cache, seed=0)
    return np.concatenate([np.asarray(x) for x in features["input_features"]])


def _start(mode, data_root, out, cache, per_class=2) -> subprocess.Popen:
    """The driver on ``per_class`` clips of each speaker and emotion (2: 16 clips, 5: 40)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0"}
    return subprocess.Popen([sys.executable, "-c", DRIVER, mode, str(data_root), str(out), str(cache), str(per_class)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process, timeout=180) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output


def _wait_for(condition, process, timeout=120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the process ended before the fault could be injected:\n" + process.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "timed out waiting to inject the fault"
        time.sleep(0.02)


def _kill(process) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def test_sigkill_mid_epoch_then_resume_ends_as_the_uninterrupted_run(data_root, tmp_path):
    import torch
    from safetensors.torch import load_file

    from ser_hf.training import last_checkpoint

    cache = tmp_path / "cache"
    cache.mkdir()
    _features(data_root, cache)  # both runs then read one cache
    full_dir, killed_dir = tmp_path / "full", tmp_path / "killed"
    full = _start("full", data_root, full_dir, cache)
    killed = _start("killed", data_root, killed_dir, cache)
    _wait_for(lambda: list(killed_dir.glob("checkpoint-*/trainer_state.json")), killed)
    _kill(killed)
    assert not (killed_dir / "final.safetensors").exists()
    checkpoint = Path(last_checkpoint(killed_dir))
    step = int(checkpoint.name.split("-")[1])
    assert step == 3 and step % 4 != 0  # mid-epoch: 3 of the first epoch's 4 steps done
    # What a kill during the next save leaves: a newer checkpoint folder without trainer_state.json.
    partial = killed_dir / "checkpoint-6"
    partial.mkdir(exist_ok=True)
    (partial / "model.safetensors").write_bytes((checkpoint / "model.safetensors").read_bytes()[:1000])
    assert last_checkpoint(killed_dir) == str(checkpoint)  # the half-written one is passed over

    _finish(_start("resume", data_root, killed_dir, cache))
    _finish(full)
    ours, theirs = (json.loads((d / "history.json").read_text()) for d in (killed_dir, full_dir))
    assert ours["global_step"] == theirs["global_step"] == 8
    evals = [[{k: v for k, v in e.items() if k.startswith("eval_") and "runtime" not in k and "per_second" not in k}
              for e in h["log"] if "eval_loss" in e] for h in (ours, theirs)]
    assert len(evals[0]) == len(evals[1]) == 2
    assert evals[0] == evals[1]  # every evaluation metric, both epochs: exactly equal
    resumed, uninterrupted = (load_file(str(d / "final.safetensors")) for d in (killed_dir, full_dir))
    assert resumed.keys() == uninterrupted.keys()
    for name in resumed:
        assert torch.equal(resumed[name], uninterrupted[name]), name  # tolerance 0: bit-identical weights
    # and training did move the weights (a resume that loaded nothing would not match anyway)
    start = load_file(str(checkpoint / "model.safetensors"))
    assert any(not torch.equal(start[n], resumed[n]) for n in start)


def test_sigkill_while_featurizing_leaves_no_cache_and_the_rerun_recomputes(data_root, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (tmp_path / "killed").mkdir()
    # 40 clips: three batches of datasets.map (16 a batch), so the kill lands between two of them.
    killed = _start("featurize-slow", data_root, tmp_path / "killed", cache, per_class=5)
    _wait_for(lambda: [f for f in os.listdir(cache) if f.startswith("tmp")], killed)
    time.sleep(0.3)  # well inside the map: the first batch is computed, the next one sleeps
    _kill(killed)
    left = sorted(os.listdir(cache))
    assert not [f for f in left if f.endswith(".arrow")], left  # no cache file: nothing to load by mistake
    assert [f for f in left if f.startswith("tmp")], left  # only datasets' temporary file, never renamed
    rerun = _features(data_root, cache, per_class=5)
    assert len(list(cache.glob("*.arrow"))) == 1
    reference = _features(data_root, tmp_path / "clean-cache", per_class=5)
    assert [p.name for p in cache.glob("*.arrow")] == [p.name for p in (tmp_path / "clean-cache").glob("*.arrow")]
    assert rerun.shape == reference.shape and rerun.shape[0] > 0
    np.testing.assert_array_equal(rerun, reference)
