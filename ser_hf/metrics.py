"""Metrics as plain functions (scikit-learn), so they work offline and everywhere alike.

Unweighted accuracy (UA, the mean of per-class recalls, ``balanced_accuracy_score``) is the SER
literature's headline figure: acted corpora are unbalanced (RAVDESS has half as many neutral
clips), and plain accuracy rewards predicting the big classes.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support)


def scores(y_true, y_pred) -> dict[str, float]:
    """Accuracy, unweighted accuracy and macro-F1 of two label sequences."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "unweighted_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def compute_metrics(eval_pred) -> dict[str, float]:
    """``Trainer``'s ``compute_metrics``: logits and labels in, the three scores out."""
    logits, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    return scores(labels, np.argmax(logits, axis=-1))


def classification_report_dict(y_true, y_pred, names: list[str]) -> dict:
    """Overall scores, per-class precision/recall/F1/support and the confusion matrix."""
    labels = list(range(len(names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    return {
        **scores(y_true, y_pred),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(names, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "labels": list(names),
    }
