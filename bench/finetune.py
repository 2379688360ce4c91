"""The fine-tuned Whisper-tiny.en targets: speaker-independent UA, cost, and the window question.

Stages (``python -m bench.finetune STAGE ...``; ``python -m bench finetune`` runs them all, hours
on a CPU):

- ``reference``: the frozen encoder (mean over frames and layers) + logistic regression on
  RAVDESS 8 classes, 5 speaker-independent folds, three ways of feeding Whisper: padded to 30 s
  as stock, padded to the 4 s window the shipped model uses, and each clip at its own length.
  Accuracy and encoder time per clip for each: what the window costs.
- ``layers``: where the frozen encoder keeps what tells emotions apart in unseen speakers: logistic
  regression on each hidden state's mean (and mean + std) over frames, the stem's output first, on the
  three corpora's 5 speaker folds and SAVEE's leave-one-speaker-out, the baseline's two unmet goals.
- ``timing``: the classifier's time per clip for the three inputs, side by side on 40 clips.
- ``ravdess``: ``finetune/train.py`` on the same folds (8 classes); ``all3``: RAVDESS + TESS + SAVEE,
  7 classes, 5 speaker folds; ``savee``: SAVEE leave-one-speaker-out. Each reads the per-fold runs'
  ``all_results.json`` and reports mean UA, throughput (s per clip per epoch) and peak RAM.

Results merge into ``bench/results/finetune.json`` stage by stage, so stages can run apart.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .common import DATA, RESULTS, row

NAME = "finetune"
BACKBONE = Path(os.environ.get("SER_WHISPER", Path(__file__).resolve().parents[2] / "shared" / "models" / "whisper-tiny.en"))
RUNS = Path(os.environ.get("SER_FINETUNE_RUNS", "/tmp/ser_finetune_runs"))
ROOT = Path(__file__).resolve().parents[1]
REFERENCE_WINDOW_SECONDS = 3  # the frozen reference's window (measured before the shipped recipe moved to 4 s)
SHIPPED_WINDOW_SECONDS = 4  # the shipped model's window (finetune/recipes/whisper_tiny.json)
TIMING_CLIPS = 50  # clips timed for a variant whose accuracy is not measured
REFERENCE_C = 0.1  # the reference regression's regularisation (bench.baseline's frozen teachers use it too)
# Cross-validation runs report the last epoch: choosing the best epoch on the test fold would flatter them.
DEFAULT_TRAIN_ARGS = (f"{ROOT / 'finetune' / 'recipes' / 'whisper_tiny.json'} "
                      "--save_strategy no --load_best_model_at_end False")


def _merge(rows: list[dict], whole_benchmarks: bool = False) -> None:
    """Replace this stage's rows in finetune.json, keep the other stages' rows.

    ``whole_benchmarks``: also drop the old rows of these benchmarks that ``rows`` do not renew
    (a compact summary replaces a full one)."""
    from .common import write

    path = RESULTS / f"{NAME}.json"
    old = json.loads(path.read_text()) if path.exists() else []
    keys = {(r["benchmark"], r["metric"]) for r in rows}
    names = {r["benchmark"] for r in rows} if whole_benchmarks else set()
    write(NAME, [r for r in old if (r["benchmark"], r["metric"]) not in keys and r["benchmark"] not in names] + rows)


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def encode_reference(ds, cache: Path, variants=("padded", "window", "own")) -> dict:
    """Pooled frozen-encoder states of every clip for each variant; cached in ``cache`` (npz).

    ``padded``: stock, 30 s; ``window``: padded to a 3 s window; ``own``: the clip's
    own length. A variant left out of ``variants`` is only timed, on the first ``TIMING_CLIPS`` clips.
    """
    if cache.exists():
        cached = dict(np.load(cache))
        if all(v in cached for v in variants):
            return cached
    import torch
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    from ser_hf.audio import load_audio
    from ser_hf.models.whisper_clip import fit_window, own_length, own_length_features

    fe = AutoFeatureExtractor.from_pretrained(BACKBONE)
    padded = AutoModelForAudioClassification.from_pretrained(BACKBONE, num_labels=2).eval()
    short_fe = AutoFeatureExtractor.from_pretrained(BACKBONE)
    windowed = AutoModelForAudioClassification.from_pretrained(BACKBONE, num_labels=2).eval()
    fit_window(windowed, short_fe, REFERENCE_WINDOW_SECONDS)

    def pooled(model, features, frames):
        out = model.encoder(features, output_hidden_states=True)
        states = torch.stack(out.hidden_states[1:], 0)[:, 0, :frames]  # layers x frames x dim
        return states.mean(dim=(0, 1)).numpy()

    def run(variant, audio, frames):
        if variant == "padded":
            return pooled(padded, fe(audio, sampling_rate=16000, return_tensors="pt").input_features, frames)
        if variant == "window":
            x = short_fe(audio, sampling_rate=16000, return_tensors="pt").input_features
            return pooled(windowed, x, min(frames, REFERENCE_WINDOW_SECONDS * 50))
        x = own_length_features(fe, audio)
        with own_length(padded, x.shape[-1]):
            return pooled(padded, x, frames)

    feats = {k: [] for k in ("padded", "window", "own")}
    seconds = {k: 0.0 for k in feats}
    counts = {k: 0 for k in feats}
    with torch.inference_mode():
        for i, path in enumerate(ds["path"]):
            audio = load_audio(path)
            frames = max(1, int(np.ceil(len(audio) / fe.hop_length / 2)))
            for variant in feats:
                if variant not in variants and i >= TIMING_CLIPS:
                    continue
                t = time.perf_counter()
                feats[variant].append(run(variant, audio, frames))
                seconds[variant] += time.perf_counter() - t
                counts[variant] += 1
            if i % 100 == 0:
                print(f"encoded {i}/{len(ds)}", {k: round(v / max(1, counts[k]), 4) for k, v in seconds.items()}, flush=True)
    result = {k: np.stack(v) for k, v in feats.items() if k in variants}
    result.update({f"seconds_{k}": np.array(v / counts[k]) for k, v in seconds.items()})
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **result)
    return result


def hidden_states(paths, clean=None):
    """Each clip's hidden states of the frozen encoder (the stem's output with positions, then each layer's),
    ``[layers + 1, frames, d_model]`` over its real frames (50 a second), in a 3 s window as the reference;
    ``clean``: a function of the waveform applied first (e.g. the baseline extractor's silence trim)."""
    import torch
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    from ser_hf.audio import load_audio
    from ser_hf.models.whisper_clip import fit_window

    fe = AutoFeatureExtractor.from_pretrained(BACKBONE)
    model = AutoModelForAudioClassification.from_pretrained(BACKBONE).eval()  # the encoder is what is read
    fit_window(model, fe, REFERENCE_WINDOW_SECONDS)
    with torch.inference_mode():
        for i, path in enumerate(paths):
            audio = load_audio(path) if clean is None else clean(load_audio(path))
            frames = min(max(1, int(np.ceil(len(audio) / fe.hop_length / 2))), REFERENCE_WINDOW_SECONDS * 50)
            x = fe(audio, sampling_rate=16000, return_tensors="pt").input_features
            if i % 500 == 0:
                print(f"encoded {i}/{len(paths)}", flush=True)
            yield torch.stack(model.encoder(x, output_hidden_states=True).hidden_states, 0)[:, 0, :frames].numpy()


def encode_layers(ds, cache: Path) -> np.ndarray:
    """``[clips, layers + 1, 2 x d_model]``: the mean and the std over the real frames of each of
    :func:`hidden_states`; cached in ``cache`` (npz)."""
    if cache.exists():
        return np.load(cache)["states"]
    states = np.stack([np.concatenate([h.mean(1), h.std(1)], -1) for h in hidden_states(ds["path"])]).astype(np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, states=states)
    return states


def layers() -> list[dict]:
    """Logistic regression on each hidden state of the frozen encoder: three corpora (5 folds) and SAVEE (LOSO)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import ser_hf
    from ser_hf.evaluation import with_clip_ids
    from ser_hf.metrics import scores
    from ser_hf.splits import protocol_folds

    ds = with_clip_ids(ser_hf.load_corpora(DATA, names=["ravdess", "tess", "savee"], label_set="7"))
    states = encode_layers(ds, RUNS / f"layer_states_all3_{len(ds)}.npz")  # reads the paths only
    labels, d = np.asarray(ds["emotion"]), states.shape[-1] // 2
    savee = ds.filter(lambda r: r["corpus"] == "savee")
    protocols = (("RAVDESS+TESS+SAVEE 7 classes, 5 speaker folds", ds, "kfold", {"n_folds": 5, "seed": 0}, 65),
                 ("SAVEE 7 classes, leave one speaker out", savee, "loso", {}, 55))
    rows = []
    for benchmark, part, protocol, options, goal in protocols:
        folds = protocol_folds(part, protocol, **options)
        for layer in range(states.shape[1]):
            for pooled, width in (("mean", d), ("mean + std", 2 * d)):
                uas = []
                for _, split in folds:
                    train, test = np.asarray(split["train"]["clip_id"]), np.asarray(split["test"]["clip_id"])
                    clf = make_pipeline(StandardScaler(), LogisticRegression(C=REFERENCE_C, max_iter=3000))
                    clf.fit(states[train, layer, :width], labels[train])
                    uas.append(scores(labels[test], clf.predict(states[test, layer, :width]))["unweighted_accuracy"])
                what = "the stem's output (+ positions)" if layer == 0 else f"layer {layer}'s output"
                rows.append(row(f"{benchmark}, frozen whisper-tiny.en + logistic regression, by layer",
                                f"UA, {what}, {pooled} over frames", round(100 * float(np.mean(uas)), 1), "%",
                                notes=f"per fold {[round(100 * u, 1) for u in uas]}; 3 s window; C {REFERENCE_C}; "
                                      f"the baseline's goal {goal} %"))
    return rows


def _reference_uas(ds, features, labels, folds) -> list[float]:
    """Logistic regression on pooled frozen states, UA on each of the given RAVDESS folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ser_hf.metrics import scores
    from ser_hf.splits import protocol_folds

    all_folds = protocol_folds(ds, "kfold", n_folds=5)
    uas = []
    for index in folds:
        split = all_folds[index][1]
        train, test = np.asarray(split["train"]["row"]), np.asarray(split["test"]["row"])
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=REFERENCE_C, max_iter=2000))
        clf.fit(features[train], labels[train])
        uas.append(scores(labels[test], clf.predict(features[test]))["unweighted_accuracy"])
    return uas


def reference_on_folds(folds) -> float | None:
    """Mean UA of the frozen reference (3 s window) on these RAVDESS folds, from the cached features."""
    import ser_hf

    cache = RUNS / "reference_features.npz"
    if not cache.exists():
        return None
    ds = ser_hf.load_corpora(DATA, names=["ravdess"], label_set="8")
    ds = ds.add_column("row", list(range(len(ds))))
    return float(np.mean(_reference_uas(ds, np.load(cache)["window"], np.asarray(ds["emotion"]), folds)))


def reference(variants=("padded", "window", "own")) -> list[dict]:
    """Frozen encoder + logistic regression on RAVDESS 8-class folds: padded vs window vs own length."""
    import ser_hf

    ds = ser_hf.load_corpora(DATA, names=["ravdess"], label_set="8")
    ds = ds.add_column("row", list(range(len(ds))))
    feats = encode_reference(ds.remove_columns("audio"), RUNS / "reference_features.npz", variants)
    labels = np.asarray(ds["emotion"])
    rows, base = [], "RAVDESS 8 classes, 5 speaker folds, frozen whisper-tiny.en + logistic regression"
    for variant, what in (("padded", "padded to 30 s (stock)"), ("window", f"padded to a {REFERENCE_WINDOW_SECONDS} s window"),
                          ("own", "own length")):
        if variant in feats:
            uas = _reference_uas(ds, feats[variant], labels, range(5))
            rows.append(row(base, f"UA, input {what}", round(100 * float(np.mean(uas)), 1), "%",
                            notes=f"per fold {[round(100 * u, 1) for u in uas]}; std {100 * np.std(uas):.1f}"))
        timed = len(ds) if variant in feats else TIMING_CLIPS
        rows.append(row(base, f"encoder time per clip, input {what}", round(1000 * float(feats[f'seconds_{variant}']), 1),
                        "ms", notes=f"{_threads()} torch thread(s), one clip at a time, {timed} clips, "
                                    "2-core machine shared with other jobs"))
    return rows


def timing(clips: int = 40) -> list[dict]:
    """Classifier time per clip: stock 30 s, 3 s and 4 s windows, own length, side by side (interleaved)."""
    import torch
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    import ser_hf
    from ser_hf.audio import load_audio
    from ser_hf.models.whisper_clip import fit_window, own_length, own_length_features

    fe = AutoFeatureExtractor.from_pretrained(BACKBONE)
    stock = AutoModelForAudioClassification.from_pretrained(BACKBONE, num_labels=8).eval()
    windows = {}
    for seconds_ in (REFERENCE_WINDOW_SECONDS, SHIPPED_WINDOW_SECONDS):
        short_fe = AutoFeatureExtractor.from_pretrained(BACKBONE)
        windowed = AutoModelForAudioClassification.from_pretrained(BACKBONE, num_labels=8).eval()
        fit_window(windowed, short_fe, seconds_)
        windows[seconds_] = (windowed, short_fe)
    ds = ser_hf.load_corpora(DATA, names=["ravdess"], label_set="8").shuffle(seed=0).select(range(clips))
    seconds = {"padded": 0.0, **{w: 0.0 for w in windows}, "own": 0.0}
    with torch.inference_mode():
        for path in ds["path"]:
            audio = load_audio(path)
            t = time.perf_counter()
            stock(fe(audio, sampling_rate=16000, return_tensors="pt").input_features)
            seconds["padded"] += time.perf_counter() - t
            for w, (windowed, short_fe) in windows.items():
                t = time.perf_counter()
                windowed(short_fe(audio, sampling_rate=16000, return_tensors="pt").input_features)
                seconds[w] += time.perf_counter() - t
            t = time.perf_counter()
            x = own_length_features(fe, audio)
            with own_length(stock, x.shape[-1]):
                stock(x)
            seconds["own"] += time.perf_counter() - t
    base = "whisper-tiny.en classifier forward (features + encoder + head), RAVDESS clips"
    ms = {k: 1000 * v / clips for k, v in seconds.items()}
    note = f"{clips} clips, interleaved, {_threads()} torch thread(s), 2-core machine shared with other jobs"
    rows = [row(base, "time per clip, padded to 30 s (stock)", round(ms["padded"], 1), "ms", notes=note)]
    for w in windows:
        shipped = " (shipped)" if w == SHIPPED_WINDOW_SECONDS else ""
        rows.append(row(base, f"time per clip, {w} s window{shipped}", round(ms[w], 1), "ms",
                        notes=f"{ms['padded'] / ms[w]:.1f}x faster than 30 s; {note}"))
    rows.append(row(base, "time per clip, own length", round(ms["own"], 1), "ms",
                    notes=f"{ms['padded'] / ms['own']:.1f}x faster than 30 s; {note}"))
    return rows


def finished(out: Path) -> dict | None:
    """A fold's results, or None if it has not finished: a run stopped between training and its
    evaluation (a deadline, a kill) leaves an ``all_results.json`` with the training metrics only."""
    path = out / "all_results.json"
    if not path.exists():
        return None
    results = json.loads(path.read_text())
    return results if "eval_unweighted_accuracy" in results else None


def _run_folds(stage: str, corpora: list[str], label_set: str, protocol: str, folds: list[int],
               extra: list[str], jobs: int = 1, launcher: list[str] = (), tag: str = "") -> list[Path]:
    """Run finetune/train.py once per fold, ``jobs`` at a time (skipping folds already done).

    ``launcher`` prefixes each command (e.g. ``accelerate launch --config_file finetune/accelerate/gpu.yaml``);
    on one GPU several folds of a small backbone run side by side. Returns the run folders.
    """
    outs, pending = [], []
    for fold in folds:
        out = RUNS / (f"{stage}-{tag}" if tag else stage) / f"fold{fold}"
        outs.append(out)
        if finished(out):
            continue
        script = [str(ROOT / "finetune" / "train.py")] if launcher else [sys.executable, str(ROOT / "finetune" / "train.py")]
        cmd = [*launcher, *script, *extra[:1], "--model_name_or_path", str(BACKBONE),
               "--data_root", str(DATA), "--corpora", *corpora, "--label_set", label_set,
               "--protocol", protocol, "--fold", str(fold), "--output_dir", str(out), *extra[1:]]
        pending.append((cmd, out))
    running = []
    while pending or running:
        while pending and len(running) < jobs:
            cmd, out = pending.pop(0)
            out.mkdir(parents=True, exist_ok=True)
            print(" ".join(cmd), flush=True)
            log = open(out / "train.log", "w") if jobs > 1 else None
            running.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT if log else None), out, log))
        time.sleep(1)
        for item in list(running):
            proc, out, log = item
            if proc.poll() is None:
                continue
            running.remove(item)
            if log:
                log.close()
            if proc.returncode:
                print(f"fold run failed ({proc.returncode}): {out}; log: {out / 'train.log'}", flush=True)
    return outs


def summarise(stage: str, benchmark: str, outs: list[Path], goal: float | None, goal_text: str | None,
              folds=(), total_folds: int | None = None) -> list[dict]:
    """Mean last-epoch UA over the finished folds, throughput and RAM from their results.

    A goal is only judged (met / not met) when all ``total_folds`` of the protocol are in.
    """
    results = [r for r in map(finished, outs) if r]
    if not results:
        return []
    uas = [r["eval_unweighted_accuracy"] for r in results]
    mean = 100 * float(np.mean(uas))
    counted = f"{len(results)} fold(s)"
    best = 100 * float(np.mean([max(e["eval_unweighted_accuracy"] for e in r["eval_per_epoch"]) for r in results]))
    judged = goal is not None and (total_folds is None or len(results) >= total_folds)
    rows = [row(benchmark, "UA (last epoch)", round(mean, 1), "%", goal_text, mean >= goal if judged else None,
                notes=f"{counted}, per fold {[round(100 * u, 1) for u in uas]}"),
            row(benchmark, "accuracy (last epoch)", round(100 * float(np.mean([r['eval_accuracy'] for r in results])), 1), "%",
                notes=counted),
            row(benchmark, "macro-F1 (last epoch)", round(100 * float(np.mean([r['eval_macro_f1'] for r in results])), 1), "%",
                notes=counted),
            row(benchmark, "UA (best epoch, chosen on the test fold: optimistic)", round(best, 1), "%",
                notes=f"{counted}; for comparison only")]
    if stage.startswith("ravdess"):
        done = [f for f, o in zip(folds, outs) if finished(o)]
        ref = reference_on_folds(done)
        if ref is not None:
            rows.append(row(benchmark, "UA gain over the frozen reference on the same folds", round(mean - 100 * ref, 1),
                            "points", "> 0", mean > 100 * ref,
                            notes=f"frozen encoder (3 s window) + logistic regression: {100 * ref:.1f} % on fold(s) {done}"))
    per_clip = [r["train_runtime"] / (r["train_samples"] * r["epoch"]) for r in results if "train_runtime" in r]
    if per_clip:
        where = (f"{results[0]['gpu']}, {results[0].get('mixed_precision', 'no')} mixed precision, folds run side by side"
                 if results[0].get("gpu") else f"{results[0].get('torch_threads', '?')} torch threads on the shared 2-core machine")
        rows.append(row(benchmark, "training time per clip per epoch", round(1000 * float(np.mean(per_clip)), 1), "ms",
                        notes=where))
    gpu = [r["peak_gpu_memory_mb"] for r in results if "peak_gpu_memory_mb" in r]
    if gpu:
        rows.append(row(benchmark, "peak GPU memory per run", round(max(gpu)), "MB", notes="torch.cuda.max_memory_allocated"))
    ram = [r["peak_ram_mb"] for r in results if "peak_ram_mb" in r]
    if ram:
        rows.append(row(benchmark, "peak RAM", round(max(ram)), "MB"))
    return rows


def _defer_to_pool(benchmarks: list[str]) -> list[dict]:
    """The single-seed UA rows of a pooled recipe, no longer judged alone (one lucky seed is not a result)."""
    path = RESULTS / f"{NAME}.json"
    rows = [r for r in (json.loads(path.read_text()) if path.exists() else [])
            if r["benchmark"] in benchmarks and r["metric"] == "UA (last epoch)"]
    for r in rows:
        r["met"] = None
        if "seeds-pooled row" not in r["notes"]:
            r["notes"] += "; one seed of several: the goal is judged on the seeds-pooled row"
    return rows


def describe_tag(tag: str) -> str:
    """What a recipe-search tag means: ``[gpu-]w<seconds>[f0][e<epochs>][ns|ls|cw|lscw][s<seed>]``.

    Every tag is whisper_tiny.json's learning rates, batch and freezing with the changes it names;
    no ``e<N>`` means 5 epochs (the recipe when those runs were made), ``ls`` label smoothing 0.1
    (in the recipe since the third GPU lease), ``ns`` noise at SNR >= 15 dB plus label smoothing,
    ``cw`` a class-weighted loss, ``lscw`` both.
    """
    m = re.fullmatch(r"(gpu-)?w(\d+)(f0)?(?:e(\d+))?(ns|lscw|ls|cw)?(?:s(\d+))?", tag)
    if not m:
        return ""
    gpu, window, unfrozen, epochs, variant, seed = m.groups()
    parts = [f"{window} s window", "all 4 encoder layers trained" if unfrozen else "conv + 2 lowest layers frozen",
             f"{epochs or 5} epochs"]
    parts += {"ns": ["noise (SNR >= 15 dB) + label smoothing 0.1"], "ls": ["label smoothing 0.1"],
              "cw": ["class-weighted loss"], "lscw": ["label smoothing 0.1", "class-weighted loss"]}.get(variant, [])
    parts += [f"seed {seed or 0}", "one H100, bf16, folds side by side" if gpu else "CPU"]
    return "recipe: " + ", ".join(parts)


def pool_seeds(benchmark: str, outs_per_seed: dict[str, list[Path]], goal: float | None, goal_text: str | None,
               total_folds: int) -> list[dict]:
    """One row: the mean over seeds (one tag per seed) of each seed's mean UA over the folds.

    A single seed's mean swings by about a point between seeds on these folds, so a goal at the
    margin is judged on the pooled mean, and only when every seed has all of its folds. A seed with
    some folds missing is listed but kept out of the mean (its folds are not a random sample).
    """
    means, partial = {}, {}
    for tag, outs in outs_per_seed.items():
        done = [r["eval_unweighted_accuracy"] for r in map(finished, outs) if r]
        if done:
            (means if len(done) >= total_folds else partial)[tag] = (100 * float(np.mean(done)), len(done))
    if not means and not partial:
        return []
    pooled = means or partial
    mean, spread = float(np.mean([m for m, _ in pooled.values()])), float(np.std([m for m, _ in pooled.values()]))
    per_seed = ", ".join(f"{tag} {m:.1f}" for tag, (m, _) in means.items())
    incomplete = ", ".join(f"{tag} {m:.1f} on {n} of {total_folds} folds" for tag, (m, n) in partial.items())
    notes = f"{len(means) + len(partial)} seeds, per seed (mean over folds): {per_seed or incomplete}"
    notes += f"; std over seeds {spread:.1f} points"
    if means and partial:
        notes += f"; not in the mean, unfinished: {incomplete}"
    return [row(benchmark, "UA (last epoch), mean over seeds", round(mean, 1), "%", goal_text,
                mean >= goal if goal is not None and not partial else None, notes=notes)]


STAGES = {
    "ravdess": dict(corpora=["ravdess"], label_set="8", protocol="kfold", folds=range(5),
                    benchmark="RAVDESS 8 classes, 5 speaker folds (4 actors each), fine-tuned whisper-tiny.en",
                    goal=75.0, goal_text=">= 75 % (beat the frozen reference first)"),
    "all3": dict(corpora=["ravdess", "tess", "savee"], label_set="7", protocol="kfold", folds=range(5),
                 benchmark="RAVDESS+TESS+SAVEE 7 classes, 5 speaker folds, fine-tuned whisper-tiny.en",
                 goal=75.0, goal_text=">= 75 %"),
    "savee": dict(corpora=["savee"], label_set="7", protocol="loso", folds=range(4),
                  benchmark="SAVEE 7 classes, leave one speaker out, fine-tuned whisper-tiny.en",
                  goal=65.0, goal_text=">= 65 %"),
    # The same test folds, with the other corpora's speakers added to every training split.
    "ravdess_extra": dict(corpora=["ravdess"], extra=["tess", "savee"], label_set="8", protocol="kfold", folds=range(5),
                          benchmark="RAVDESS 8 classes, 5 speaker folds, fine-tuned whisper-tiny.en, TESS+SAVEE added to training",
                          goal=75.0, goal_text=">= 75 %"),
    "savee_extra": dict(corpora=["savee"], extra=["ravdess", "tess"], label_set="7", protocol="loso", folds=range(4),
                        benchmark="SAVEE 7 classes, leave one speaker out, fine-tuned whisper-tiny.en, RAVDESS+TESS added to training",
                        goal=65.0, goal_text=">= 65 %"),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.finetune", description=__doc__.split("\n\n")[0])
    parser.add_argument("stages", nargs="*", default=["reference", "timing", "layers", *STAGES],
                        choices=["reference", "timing", "layers", *STAGES])
    parser.add_argument("--folds", type=int, nargs="*", help="fold indices to run (default: all)")
    parser.add_argument("--with-padded", action="store_true",
                        help="reference: also measure the accuracy of 30 s padding (ten times the encoder time)")
    parser.add_argument("--summarise-only", action="store_true", help="only read finished runs")
    parser.add_argument("--train-args", default=DEFAULT_TRAIN_ARGS,
                        help="recipe JSON then finetune/train.py options (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=1, help="folds trained side by side (default 1)")
    parser.add_argument("--launcher", default="", help="command before train.py, e.g. "
                        "'accelerate launch --config_file finetune/accelerate/gpu.yaml'")
    parser.add_argument("--tag", default="", help="name of this recipe: runs go to STAGE-TAG, rows say it")
    parser.add_argument("--compact", action="store_true",
                        help="write only the UA row (for a recipe search: one row per recipe)")
    parser.add_argument("--seeds", nargs="+", metavar="TAG",
                        help="with --summarise-only: one row pooling these tags (one per seed, --tag first)")
    args = parser.parse_args([] if argv is None else argv)
    extra = shlex.split(args.train_args)
    for stage in args.stages:
        if stage == "reference":
            _merge(reference(("padded", "window", "own") if args.with_padded else ("window", "own")))
            continue
        if stage == "timing":
            _merge(timing())
            continue
        if stage == "layers":
            _merge(layers())
            continue
        spec = STAGES[stage]
        folds = args.folds if args.folds is not None else list(spec["folds"])
        stage_extra = [*extra, "--extra_train_corpora", *spec["extra"]] if spec.get("extra") else extra
        if args.summarise_only:
            outs = [RUNS / (f"{stage}-{args.tag}" if args.tag else stage) / f"fold{f}" for f in folds]
        else:
            outs = _run_folds(stage, spec["corpora"], spec["label_set"], spec["protocol"], folds, stage_extra,
                              args.jobs, shlex.split(args.launcher), args.tag)
        if args.seeds:
            runs = {tag: [RUNS / f"{stage}-{tag}" / f"fold{f}" for f in folds] for tag in args.seeds}
            pooled = pool_seeds(f"{spec['benchmark']} [recipe {args.seeds[0]}, seeds pooled]", runs,
                                spec["goal"], spec["goal_text"], len(spec["folds"]))
            _merge(pooled + _defer_to_pool([f"{spec['benchmark']} [recipe {tag}]" for tag in args.seeds]))
            continue
        benchmark = f"{spec['benchmark']} [recipe {args.tag}]" if args.tag else spec["benchmark"]
        rows = summarise(stage, benchmark, outs, spec["goal"], spec["goal_text"], folds, len(spec["folds"]))
        if args.compact and rows:
            timing = next((r for r in rows if r["metric"] == "training time per clip per epoch"), None)
            rows[0]["notes"] += f"; {timing['value']} ms per clip per epoch ({timing['notes']})" if timing else ""
            rows = rows[:1]
        if rows and describe_tag(args.tag):
            rows[0]["notes"] += f"; {describe_tag(args.tag)}"
        _merge(rows, whole_benchmarks=args.compact)
    print(f"peak RAM of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main(sys.argv[1:])
