"""Speaker-independent splits, and the random split the seed projects used (for comparison only).

Acted corpora have few speakers, each recorded in every emotion: a random split puts the same
voice in training and test, and a model can score by recognising the speaker. Every protocol
here except :func:`random_split` keeps speakers apart, and :func:`check_speaker_independent`
proves it. All splits are seeded and deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from datasets import Dataset, DatasetDict
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

PROTOCOLS = ("kfold", "loso", "cross_corpus", "tess_cross_speaker", "random", "fixed")


def _column(ds: Dataset, name: str) -> np.ndarray:
    # Through the indices mapping: a selected split's ``ds.data`` is still the whole table.
    return np.asarray(list(ds[name]))


def check_speaker_independent(splits: DatasetDict) -> DatasetDict:
    """Raise ValueError if any speaker appears in more than one split; return the splits."""
    seen: dict[str, str] = {}
    for split_name, split in splits.items():
        for speaker in set(_column(split, "speaker")):
            if speaker in seen and seen[speaker] != split_name:
                raise ValueError(f"speaker {speaker!r} is in both {seen[speaker]!r} and {split_name!r}")
            seen[speaker] = split_name
    return splits


def _select(ds: Dataset, **parts: Iterable[int]) -> DatasetDict:
    return DatasetDict({name: ds.select(np.sort(np.asarray(idx))) for name, idx in parts.items()})


def speaker_kfold(ds: Dataset, n_folds: int = 5, seed: int = 0) -> list[DatasetDict]:
    """K folds with each speaker in exactly one test fold, emotions stratified where possible.

    RAVDESS's 20 actors give 5 folds of 4 actors.
    """
    speakers = _column(ds, "speaker")
    if len(set(speakers)) < n_folds:
        raise ValueError(f"{n_folds} folds need at least {n_folds} speakers; the data has {len(set(speakers))}")
    folds = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [
        check_speaker_independent(_select(ds, train=train, test=test))
        for train, test in folds.split(np.zeros(len(ds)), _column(ds, "emotion"), groups=speakers)
    ]


def leave_one_speaker_out(ds: Dataset) -> list[DatasetDict]:
    """One fold per speaker: train on all the others, test on that speaker."""
    speakers = _column(ds, "speaker")
    return [
        check_speaker_independent(_select(ds, train=np.flatnonzero(speakers != s), test=np.flatnonzero(speakers == s)))
        for s in sorted(set(speakers))
    ]


def train_val_test(ds: Dataset, val_size: float = 0.1, test_size: float = 0.2, seed: int = 0) -> DatasetDict:
    """A fixed speaker-independent train/validation/test split (fractions of speakers' clips)."""
    speakers = _column(ds, "speaker")
    outer = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    rest, test = next(outer.split(np.zeros(len(ds)), groups=speakers))
    inner = GroupShuffleSplit(n_splits=1, test_size=val_size / (1 - test_size), random_state=seed)
    train, val = next(inner.split(rest, groups=speakers[rest]))
    return check_speaker_independent(_select(ds, train=rest[train], validation=rest[val], test=test))


def cross_corpus(ds: Dataset, train: str | Iterable[str] = ("ravdess", "savee"), test: str = "tess") -> DatasetDict:
    """Train on some corpora, test on another: the hardest and most honest test."""
    corpora = _column(ds, "corpus")
    train = [train] if isinstance(train, str) else list(train)
    if test in train:
        raise ValueError(f"corpus {test!r} cannot be both trained and tested on")
    missing = [c for c in (*train, test) if c not in set(corpora)]
    if missing:
        raise ValueError(f"corpora {missing} are not in the dataset (it has {sorted(set(corpora))})")
    return check_speaker_independent(
        _select(ds, train=np.flatnonzero(np.isin(corpora, train)), test=np.flatnonzero(corpora == test))
    )


def tess_cross_speaker(ds: Dataset, train_speaker: str = "tess_YAF") -> DatasetDict:
    """TESS's two actresses: train on one, test on the other."""
    speakers = _column(ds, "speaker")
    tess = sorted(s for s in set(speakers) if s.startswith("tess_"))
    if train_speaker not in tess or len(tess) != 2:
        raise ValueError(f"needs both TESS speakers with {train_speaker!r} among them; found {tess}")
    (test_speaker,) = [s for s in tess if s != train_speaker]
    return check_speaker_independent(
        _select(ds, train=np.flatnonzero(speakers == train_speaker), test=np.flatnonzero(speakers == test_speaker))
    )


def random_split(ds: Dataset, test_size: float = 0.2, seed: int = 0, stratify_by: str = "emotion") -> DatasetDict:
    """A stratified random split that leaks speakers: only to reproduce the seeds' published numbers."""
    return ds.train_test_split(test_size=test_size, seed=seed, stratify_by_column=stratify_by)


def protocol_folds(ds: Dataset, protocol: str, **options) -> list[tuple[str, DatasetDict]]:
    """The named folds of a protocol: ``[(fold_name, DatasetDict(train=..., test=...)), ...]``.

    Protocols: ``kfold`` (``n_folds``, ``seed``), ``loso``, ``cross_corpus`` (``train``, ``test``),
    ``tess_cross_speaker`` (``train_speaker``), ``random`` (``test_size``, ``seed``) and ``fixed``
    (``val_size``, ``test_size``, ``seed``; keeps its validation split).
    """
    if protocol == "kfold":
        folds = speaker_kfold(ds, **options)
        return [(f"fold{i}", f) for i, f in enumerate(folds)]
    if protocol == "loso":
        return [(str(_column(f["test"], "speaker")[0]), f) for f in leave_one_speaker_out(ds)]
    if protocol == "cross_corpus":
        split = cross_corpus(ds, **options)
        return [(f"to_{_column(split['test'], 'corpus')[0]}", split)]
    if protocol == "tess_cross_speaker":
        return [("tess_cross_speaker", tess_cross_speaker(ds, **options))]
    if protocol == "random":
        return [("random", random_split(ds, **options))]
    if protocol == "fixed":
        return [("fixed", train_val_test(ds, **options))]
    raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")
