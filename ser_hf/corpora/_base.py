"""What every corpus module shares: the one record shape, file discovery, and assembly.

A corpus module (``ravdess.py``, ...) only knows its naming convention: ``parse(path, context)``
turns one file path into a record, or None when the name fits no convention. Everything else
(finding audio, probing headers, skipping and reporting bad files, the ``datasets`` schema)
lives here, so adding a corpus means adding one page-long module.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pyarrow as pa

from ..audio import AUDIO_EXTENSIONS, SAMPLING_RATE, probe
from ..errors import AudioError, CorpusError
from ..taxonomy import label_names, map_emotion

logger = logging.getLogger(__name__)

# Corpus-specific fields; a corpus leaves the others None so all corpora concatenate.
EXTRA_FIELDS = {
    "intensity": datasets.Value("string"),        # RAVDESS: normal | strong
    "statement": datasets.Value("string"),        # RAVDESS: the sentence spoken
    "repetition": datasets.Value("int32"),        # RAVDESS: 1 | 2
    "vocal_channel": datasets.Value("string"),    # RAVDESS: speech | song
    "sentence": datasets.Value("string"),         # CREMA-D: sentence code (IEO, TIE, ...)
    "level": datasets.Value("string"),            # CREMA-D: LO | MD | HI | XX
    "age": datasets.Value("int32"),               # CREMA-D (demographics), TESS
    "age_group": datasets.Value("string"),        # TESS: older | younger
    "word": datasets.Value("string"),             # TESS: the target word
    "sentence_number": datasets.Value("int32"),   # SAVEE: 1-30
}


def features(label_set: str | int = "7") -> datasets.Features:
    """The one schema every loader returns, with ``emotion`` as a ClassLabel of ``label_set``."""
    return datasets.Features(
        {
            "audio": datasets.Audio(sampling_rate=SAMPLING_RATE, num_channels=1),
            "path": datasets.Value("string"),
            "emotion": datasets.ClassLabel(names=label_names(label_set)),
            "original_label": datasets.Value("string"),
            "corpus": datasets.Value("string"),
            "speaker": datasets.Value("string"),
            "gender": datasets.Value("string"),
            "duration": datasets.Value("float32"),
            "sampling_rate": datasets.Value("int32"),
            "channels": datasets.Value("int32"),
            **EXTRA_FIELDS,
        }
    )


class SkippedFilesWarning(UserWarning):
    """Files left out of a corpus; ``.skipped`` maps each path to the reason."""

    def __init__(self, message: str, skipped: dict[str, str]):
        super().__init__(message)
        self.skipped = skipped


@dataclass
class Corpus:
    """A corpus: its name, its folder name as released, and its naming convention."""

    name: str
    folder: str
    parse: callable
    context: callable = lambda root, **options: {}
    aliases: tuple[str, ...] = ()
    license: str = ""
    extra_fields: tuple[str, ...] = field(default_factory=tuple)


def find_audio(root: Path) -> list[Path]:
    """Every file under ``root`` with an audio extension (any case), sorted for determinism."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            if name.startswith("."):
                continue  # macOS resource forks (._file.wav) ship in some zips
            if os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS:
                found.append(Path(dirpath, name))
    return sorted(found)


def _report(corpus: str, skipped: dict[str, str]) -> None:
    if not skipped:
        return
    first = "; ".join(f"{p} ({why})" for p, why in list(skipped.items())[:5])
    message = f"{corpus}: skipped {len(skipped)} file(s), e.g. {first}"
    logger.warning(message)
    warnings.warn(SkippedFilesWarning(message, skipped), stacklevel=3)


def build(corpus: Corpus, root, label_set: str | int = "7", probe_audio: bool = True, **options) -> datasets.Dataset:
    """Walk ``root``, parse every audio file's name, probe its header, and return the Dataset.

    Files whose names fit no convention, or whose audio cannot be read, are skipped and reported
    in one :class:`SkippedFilesWarning` (count and first paths); they never stop the load.
    ``probe_audio=False`` skips the header read (no duration, no check): fastest, for listings.
    """
    root = Path(root).absolute()
    if not root.is_dir():
        raise CorpusError(f"{root}: no such folder; expected the {corpus.folder} corpus as released")
    files = find_audio(root)
    if not files:
        raise CorpusError(
            f"{root}: no audio files found; expected the {corpus.folder} corpus as released "
            f"(files with one of the extensions {', '.join(AUDIO_EXTENSIONS)})"
        )
    context = corpus.context(root, **options)
    names = label_names(label_set)
    schema = features(label_set)
    columns = {key: [] for key in schema}
    skipped: dict[str, str] = {}
    no_header = {"sampling_rate": None, "channels": None, "duration": None}
    for path in files:
        record = corpus.parse(path, context)
        if record is None:
            skipped[str(path)] = f"name fits no {corpus.folder} convention"
            continue
        if record is False:  # the convention matched but the options leave the file out
            continue
        label = map_emotion(record["emotion"], label_set)
        if label is None:
            continue  # an emotion the label set drops, not a problem with the file
        header = no_header
        if probe_audio:
            try:
                header = probe(path)
            except AudioError as exc:
                skipped[str(path)] = exc.problem
                continue
        name = str(path)
        fields = {**record, **header}
        for key, values in columns.items():
            values.append(fields.get(key))
        columns["audio"][-1] = {"bytes": None, "path": name}
        columns["path"][-1] = name
        columns["corpus"][-1] = corpus.name
        columns["emotion"][-1] = names.index(label)
    _report(corpus.name, skipped)
    if not columns["path"]:
        raise CorpusError(
            f"{root}: none of {len(files)} audio files could be used as {corpus.folder} "
            f"(see the warning for why); is this the right folder?"
        )
    # Typed Arrow columns skip datasets' per-value encoding, which is most of the build time and
    # imports torch (via Audio.encode_example) before any audio is needed.
    arrays = {key: pa.array(values, type=schema.arrow_schema.field(key).type) for key, values in columns.items()}
    return datasets.Dataset.from_dict(arrays, features=schema)
