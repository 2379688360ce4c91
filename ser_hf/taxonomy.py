"""One emotion taxonomy for every corpus, and the label sets chosen by name.

Each corpus maps its own labels onto the eight RAVDESS emotions (see ``docs/taxonomy.md``).
A label set then folds or drops emotions: ``"7"`` merges calm into neutral (calm exists only
in RAVDESS), ``"6"`` is CREMA-D's set (no surprise), ``"4"`` keeps angry, happy, neutral, sad.
"""

from __future__ import annotations

EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")

LABEL_SETS: dict[str, tuple[str, ...]] = {
    "8": EMOTIONS,
    "7": ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"),
    "6": ("neutral", "happy", "sad", "angry", "fearful", "disgust"),
    "4": ("neutral", "happy", "sad", "angry"),
}

# Emotions a smaller label set folds into another one rather than dropping.
_MERGES = {"calm": "neutral"}


def label_names(label_set: str | int = "7") -> list[str]:
    """Class names of a label set, in ClassLabel order."""
    key = str(label_set)
    if key not in LABEL_SETS:
        raise ValueError(f"unknown label set {label_set!r}; choose one of {sorted(LABEL_SETS)}")
    return list(LABEL_SETS[key])


def map_emotion(emotion: str, label_set: str | int = "7") -> str | None:
    """The label of ``emotion`` (a taxonomy name) in ``label_set``, or None when the set drops it."""
    if emotion not in EMOTIONS:
        raise ValueError(f"{emotion!r} is not in the taxonomy {EMOTIONS}")
    names = label_names(label_set)
    if emotion in names:
        return emotion
    merged = _MERGES.get(emotion)
    return merged if merged in names else None
