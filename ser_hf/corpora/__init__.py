"""The four acted-emotion corpora as ``datasets.Dataset`` objects of one shape (see ``_base``)."""

from __future__ import annotations

from pathlib import Path

import datasets

from . import crema_d, ravdess, savee, tess
from ._base import EXTRA_FIELDS, Corpus, SkippedFilesWarning, build, features
from ..errors import CorpusError

CORPORA: dict[str, Corpus] = {m.NAME: m.CORPUS for m in (ravdess, crema_d, tess, savee)}


def load_corpus(name: str, root, label_set: str | int = "7", probe_audio: bool = True, **options) -> datasets.Dataset:
    """Load one corpus from ``root``, the corpus's own folder as the user unpacked it.

    Args:
        name: ``"ravdess"``, ``"crema_d"``, ``"tess"`` or ``"savee"``.
        root: the corpus folder (for RAVDESS, the one holding ``Actor_01`` ...).
        label_set: ``"8"``, ``"7"``, ``"6"`` or ``"4"`` (see :mod:`ser_hf.taxonomy`).
        probe_audio: read each file's header (duration, rate; unreadable files skipped).
        **options: corpus options, e.g. ``include_song=True`` for RAVDESS.

    Example:
        >>> ds = load_corpus("savee", "corpora/SAVEE", label_set="7")
        >>> ds.features["emotion"].names[ds[0]["emotion"]]
        'angry'
    """
    key = name.lower().replace("-", "_")
    if key not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose one of {sorted(CORPORA)}")
    return build(CORPORA[key], root, label_set=label_set, probe_audio=probe_audio, **options)


def find_corpora(root) -> dict[str, Path]:
    """``{name: folder}`` for each corpus folder under ``root`` (``RAVDESS``, ``CREMA-D``, ... any case)."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"{root}: no such folder")
    by_folder = {}
    for corpus in CORPORA.values():
        for folder in (corpus.folder, *corpus.aliases):
            by_folder[folder.lower()] = corpus.name
    return {by_folder[p.name.lower()]: p for p in sorted(root.iterdir())
            if p.is_dir() and p.name.lower() in by_folder}


def load_corpora(root, names=None, label_set: str | int = "7", probe_audio: bool = True, **options) -> datasets.Dataset:
    """Find the corpora under ``root`` and concatenate them into one Dataset.

    ``root`` holds one sub-folder per corpus: ``RAVDESS``, ``CREMA-D``, ``TESS``, ``SAVEE`` (any
    case). ``names`` picks some of them (all found ones by default); options such as
    ``include_song`` go to the corpora that take them.
    """
    found = find_corpora(root)
    expected = ", ".join(c.folder for c in CORPORA.values())
    if not found:
        raise CorpusError(f"{root}: no corpus folders found; expected sub-folders named {expected}")
    if isinstance(names, str):
        names = [names]  # one name, not its letters
    wanted = [n.lower().replace("-", "_") for n in (names or found)]
    missing = [n for n in wanted if n not in found]
    if missing:
        raise CorpusError(f"{root}: no folder for {', '.join(missing)}; expected sub-folders named {expected}")
    parts = []
    for name in wanted:
        corpus_options = {k: v for k, v in options.items() if name == "ravdess" or k != "include_song"}
        parts.append(load_corpus(name, found[name], label_set=label_set, probe_audio=probe_audio, **corpus_options))
    return datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]


__all__ = ["CORPORA", "EXTRA_FIELDS", "SkippedFilesWarning", "features", "find_corpora", "load_corpora", "load_corpus"]
