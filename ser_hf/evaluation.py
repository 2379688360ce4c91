"""Run an evaluation protocol and report it: per fold, mean ± std, per corpus, per class, plots, JSON.

Two halves, kept apart so every model shares the second:

- :func:`run_protocol` trains and tests one model recipe on each fold of a protocol
  (:func:`ser_hf.splits.protocol_folds`). The recipe is any ``fit_predict(train, test, fold)``
  callable returning ``{"y_true", "y_pred", "corpus", "history"}``: the baseline's is
  :func:`baseline_recipe`; a fine-tuned transformer brings its own.
- The report functions (:func:`summarize`, :func:`per_corpus`, :func:`plot_confusion`,
  :func:`plot_curves`, :func:`write_report`) only see labels, predictions and per-epoch
  histories, whatever produced them.

Metrics are pooled two ways: the mean ± std over folds of each fold's score (the protocol's
headline, as the SER literature reports k-fold results), and the scores of all folds'
predictions pooled together (per corpus, per class and the confusion matrix).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .metrics import classification_report_dict, scores
from .splits import check_speaker_independent, protocol_folds

logger = logging.getLogger(__name__)

METRICS = ("accuracy", "unweighted_accuracy", "macro_f1")
LEAKING_PROTOCOLS = ("random",)  # speakers in both train and test, only to reproduce the seeds
# A saved model scored as it is: which speakers it heard in training is not known here (the shipped models heard
# every speaker of the shared corpora), so its report claims no speaker independence.
UNKNOWN_SPEAKERS_PROTOCOLS = ("as_is",)

FitPredict = Callable[..., dict]


def run_protocol(ds, protocol: str, fit_predict: FitPredict, names: list[str], out_dir=None,
                 max_folds: int | None = None, title: str = "", folds: list | None = None,
                 **protocol_options) -> dict:
    """Train and test ``fit_predict`` on every fold of ``protocol`` over ``ds``; report (and write) it.

    Args:
        ds: a corpus Dataset (``load_corpora``'s shape), with ``emotion`` a ClassLabel of ``names``.
        protocol: ``kfold``, ``loso``, ``cross_corpus``, ``tess_cross_speaker``, ``random`` or ``fixed``.
        fit_predict: ``fit_predict(train_ds, test_ds, fold_name)`` -> ``{"y_true", "y_pred",
            "corpus", "history"}`` (history: per-epoch dicts, may be empty).
        out_dir: where to write ``report.json``, ``confusion.png`` and ``curves.png`` (None: nowhere).
        max_folds: run only the first folds (quick looks; the report says so).
        folds: ready-made ``[(name, DatasetDict(train=, test=))]`` to run instead of the protocol's
            own (e.g. leave-one-SAVEE-speaker-out with other corpora added to every training set);
            ``protocol`` then only names them, and speaker independence is still checked.
        **protocol_options: passed to the protocol (``n_folds``, ``seed``, ``train``, ``test``, ...).

    Returns:
        The report dict (see :func:`summarize`).
    """
    if folds is None:
        folds = protocol_folds(ds, protocol, **protocol_options)
    if max_folds:
        folds = folds[:max_folds]
    results = []
    for name, split in folds:
        if protocol not in LEAKING_PROTOCOLS:
            check_speaker_independent(split)
        start = time.perf_counter()
        logger.info("fold %s: %d train / %d test clips", name, len(split["train"]), len(split["test"]))
        out = fit_predict(split["train"], split["test"], name)
        out = {k: out[k] for k in ("y_true", "y_pred", "corpus", "history") if k in out}
        out["fold"] = name
        out["seconds"] = time.perf_counter() - start
        results.append(out)
        logger.info("fold %s: %s", name, scores(out["y_true"], out["y_pred"]))
    report = summarize(results, names, protocol=protocol, title=title, options=protocol_options)
    if out_dir is not None:
        write_report(report, results, out_dir)
    return report


def summarize(folds: list[dict], names: list[str], protocol: str = "", title: str = "",
              options: dict | None = None) -> dict:
    """The report of a protocol's folds: per-fold scores, mean ± std, pooled per corpus and per class."""
    per_fold = []
    for f in folds:
        row = {"fold": f["fold"], "test_clips": int(len(f["y_true"])), **scores(f["y_true"], f["y_pred"])}
        if "seconds" in f:
            row["seconds"] = round(float(f["seconds"]), 1)
        per_fold.append(row)
    summary = {m: {"mean": float(np.mean([r[m] for r in per_fold])),
                   "std": float(np.std([r[m] for r in per_fold]))} for m in METRICS}
    y_true = np.concatenate([np.asarray(f["y_true"]) for f in folds])
    y_pred = np.concatenate([np.asarray(f["y_pred"]) for f in folds])
    corpus = sum((list(f.get("corpus") or ["?"] * len(f["y_true"])) for f in folds), [])
    return {
        "title": title, "protocol": protocol, "options": {k: _jsonable(v) for k, v in (options or {}).items()},
        "speaker_independent": (None if protocol in UNKNOWN_SPEAKERS_PROTOCOLS
                                else protocol not in LEAKING_PROTOCOLS),
        "labels": list(names), "folds": per_fold, "summary": summary,
        "pooled": classification_report_dict(y_true, y_pred, list(names)),
        "per_corpus": per_corpus(y_true, y_pred, corpus, names),
        "history": {f["fold"]: f.get("history", []) for f in folds},
    }


def per_corpus(y_true, y_pred, corpus, names: list[str]) -> dict:
    """Scores and per-class recall of each corpus's clips."""
    y_true, y_pred, corpus = np.asarray(y_true), np.asarray(y_pred), np.asarray(corpus)
    out = {}
    for name in sorted(set(corpus.tolist())):
        sel = corpus == name
        report = classification_report_dict(y_true[sel], y_pred[sel], list(names))
        present = {c: v["recall"] for c, v in report["per_class"].items() if v["support"]}
        out[name] = {"clips": int(sel.sum()), **{m: report[m] for m in METRICS}, "recall_per_class": present}
    return out


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value if isinstance(value, (str, int, float, bool, type(None), dict)) else str(value)


def format_summary(report: dict) -> str:
    """One line per metric, ``mean ± std`` over folds, in percent; a warning line where the figures are not (or
    not known to be) speaker-independent."""
    lines = [f"{report.get('title') or report['protocol']}: {len(report['folds'])} fold(s)"]
    independent = report.get("speaker_independent", True)
    if independent is not True:
        lines.append("  not speaker-independent: test speakers were heard in training" if independent is False else
                     "  speaker independence unknown: figures are inflated if the model heard these speakers in training")
    for metric, v in report["summary"].items():
        lines.append(f"  {metric:<20} {100 * v['mean']:6.2f} % ± {100 * v['std']:.2f}")
    for corpus, v in report["per_corpus"].items():
        lines.append(f"  {corpus:<12} UA {100 * v['unweighted_accuracy']:6.2f} %  ({v['clips']} clips)")
    return "\n".join(lines)


def plot_confusion(matrix, names: list[str], path, title: str = "") -> Path:
    """Row-normalised confusion matrix (recall on the diagonal) with the counts, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix, dtype=float)
    used = (matrix.sum(0) + matrix.sum(1)) > 0  # classes a task does not use (a 4-emotion subset) are left out
    if used.any():
        matrix, names = matrix[used][:, used], [n for n, u in zip(names, used) if u]
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(names), 0.8 + 0.7 * len(names)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title or "confusion matrix (rows: true class)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_curves(histories: dict[str, list[dict]], path, title: str = "") -> Path:
    """Training loss, evaluation loss and evaluation accuracy/UA per epoch, one line per fold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for fold, rows in histories.items():
        epochs = [r["epoch"] for r in rows]
        for key, style in (("train_loss", "-"), ("eval_loss", "--")):
            if any(key in r for r in rows):
                loss_ax.plot(epochs, [r.get(key, np.nan) for r in rows], style, label=f"{fold} {key[:-5]}")
        for key, style in (("eval_accuracy", "-"), ("eval_unweighted_accuracy", ":")):
            if any(key in r for r in rows):
                acc_ax.plot(epochs, [r.get(key, np.nan) for r in rows], style,
                            label=f"{fold} {key[5:].replace('unweighted_accuracy', 'UA')}")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("test accuracy / UA")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, ncol=2)
    fig.suptitle(title or "training curves")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def write_report(report: dict, folds: list[dict], out_dir) -> dict[str, Path]:
    """``report.json`` (with every fold's predictions), ``confusion.png`` and ``curves.png`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = dict(report)
    data["predictions"] = {f["fold"]: {"y_true": np.asarray(f["y_true"]).tolist(),
                                       "y_pred": np.asarray(f["y_pred"]).tolist()} for f in folds}
    paths = {"json": out_dir / "report.json", "confusion": out_dir / "confusion.png", "curves": out_dir / "curves.png"}
    paths["json"].write_text(json.dumps(data, indent=1) + "\n")
    plot_confusion(report["pooled"]["confusion_matrix"], report["labels"], paths["confusion"],
                   title=f"{report.get('title') or report['protocol']} (all folds pooled)")
    plot_curves(report["history"], paths["curves"], title=report.get("title") or report["protocol"])
    return paths


def baseline_recipe(names: list[str], architecture: str = "cnn1d", config=None, ds=None,
                    work_dir="runs/evaluate", progress: bool = False, teachers: dict | None = None,
                    hints: dict | None = None) -> FitPredict:
    """The baseline's ``fit_predict``: a fresh model per fold, features of ``ds`` cached once for all folds.

    ``ds`` (the whole Dataset the folds come from) must carry a ``clip_id`` column (row numbers,
    see :func:`with_clip_ids`) for the shared featurization; without it each fold featurizes its own rows.
    ``teachers``: ``{fold name: {clip_id: probabilities}}`` for distillation (``config.distill_weight``),
    each fold's from a teacher trained without that fold's test speakers; ``hints``: ``{fold name:
    {clip_id: embedding}}`` for a model with a hint head (feature-level distillation).
    """
    from .training import TrainingConfig, build_baseline, featurize, fit_predict_baseline

    config = config or TrainingConfig()
    shared = None
    if ds is not None and "clip_id" in ds.column_names:
        _, fe = build_baseline(names, architecture, front_end_from=config.front_end_from,  # for its extractor
                               feature_overrides=config.feature_overrides)
        copies = config.copies_for(architecture)
        shared = featurize(ds, fe, augment_copies=copies, augmenter=config.wave_augmenter(), seed=config.seed,
                           num_proc=config.threads)

    def fit_predict(train_ds, test_ds, fold: str) -> dict:
        features = None
        if shared is not None:
            features = (shared, train_ds["clip_id"], test_ds["clip_id"])
        teacher = None if teachers is None else teachers[fold]
        return fit_predict_baseline(train_ds, test_ds, names, architecture=architecture, config=config,
                                    output_dir=Path(work_dir) / fold, features=features, progress=progress,
                                    teacher=teacher, hints=None if hints is None else hints[fold])

    return fit_predict


def with_clip_ids(ds):
    """``ds`` with a ``clip_id`` column (its row numbers), which survives the protocols' selections."""
    if "clip_id" in ds.column_names:
        return ds
    return ds.add_column("clip_id", list(range(len(ds))))


def evaluate_pretrained(model_dir, ds, batch_size: int = 16) -> dict:
    """Predictions of a trained model, as it is (no retraining), on every clip of ``ds``.

    Unreadable clips are skipped and reported. The model's label names must be those of the
    Dataset's ``emotion`` ClassLabel (a 7-class model on 7-class data).
    """
    from .inference import EmotionRecognizer

    recognizer = EmotionRecognizer.from_pretrained(str(model_dir), batch_size=batch_size)
    names = ds.features["emotion"].names
    model_names = [recognizer.model.config.id2label[i] for i in range(recognizer.model.config.num_labels)]
    if model_names != names:
        raise ValueError(f"{model_dir}: the model's labels {model_names} differ from the data's {names}; "
                         "load the data with the model's label set")
    y_true, y_pred, corpus, skipped = [], [], [], {}
    labels, corpora = ds["emotion"], ds["corpus"]
    for i, (path, probs) in enumerate(recognizer.iter_predict(ds["path"])):
        if isinstance(probs, Exception):
            skipped[path] = getattr(probs, "problem", str(probs))
            continue
        y_true.append(labels[i])
        y_pred.append(names.index(max(probs, key=probs.get)))
        corpus.append(corpora[i])
    if skipped:
        logger.warning("skipped %d unreadable clip(s), e.g. %s", len(skipped), next(iter(skipped.items())))
    return {"y_true": np.asarray(y_true), "y_pred": np.asarray(y_pred), "corpus": corpus, "history": [],
            "skipped": skipped}
