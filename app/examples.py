"""Example inputs for the demo, taken at start-up from the corpora on this machine.

The repository ships no corpus audio (the corpora's licences forbid redistribution), so the
examples are copied from ``$SER_DATA`` (default ``../shared/corpora``) into a temporary folder
when the app starts: a few clips of different emotions and speakers, and one ~40 s recording
made of clips and pauses for the long-recording tab. Without the corpora there are no examples.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]

# (corpus-relative path stem, what it is): speakers and corpora mixed on purpose.
CLIPS = (
    "RAVDESS/Actor_01/03-01-05-02-01-01-01",   # angry, strong, male
    "RAVDESS/Actor_02/03-01-03-02-02-01-02",   # happy, strong, female
    "RAVDESS/Actor_03/03-01-04-02-01-01-03",   # sad, strong, male
    "RAVDESS/Actor_04/03-01-01-01-01-01-04",   # neutral, female
    "TESS/YAF_fear/YAF_back_fear",             # fearful, younger female
    "SAVEE/DC_su01",                           # surprised, male
)
LONG_RECORDING = "example_recording.wav"


def data_root() -> Path:
    root = Path(os.environ.get("SER_DATA", "../shared/corpora"))
    return root if root.is_absolute() else (REPO / root).resolve()


def _find(root: Path, stem: str) -> Path | None:
    for candidate in sorted((root / stem).parent.glob(Path(stem).name + ".*")):
        if candidate.suffix.lower() in (".wav", ".flac"):
            return candidate
    return None


def prepare(root: Path | None = None, folder: Path | None = None) -> tuple[list[str], list[str]]:
    """``(clips, long_recordings)``: example paths under ``folder`` (a new temp folder by default)."""
    import soundfile as sf

    from ser_hf.audio import load_audio

    root = Path(root) if root else data_root()
    found = [p for p in (_find(root, stem) for stem in CLIPS) if p]
    if not found:
        logger.info("no corpora at %s: the demo has no examples", root)
        return [], []
    folder = Path(folder or tempfile.mkdtemp(prefix="ser-demo-examples-"))
    clips = []
    for path in found:
        target = folder / f"{path.parent.name}_{path.name}"
        shutil.copyfile(path, target)
        clips.append(str(target))
    pause = np.zeros(16000 * 2, dtype=np.float32)
    pieces = [part for path in found for part in (load_audio(str(path)), pause)]
    recording = folder / LONG_RECORDING
    sf.write(recording, np.concatenate(pieces * 2), 16000)
    return clips, [str(recording)]
