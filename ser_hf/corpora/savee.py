"""SAVEE: Surrey Audio-Visual Expressed Emotion (Haq & Jackson, 2009).

Four male British speakers (DC, JE, JK, KL) read phonetically balanced TIMIT sentences: 15 per
emotion and 30 neutral each, 480 files at 44.1 kHz. Copies circulate flat (``DC_a01.wav``) or as
released (``AudioData/DC/a01.wav``); both are read. Licence: free for research use.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._base import Corpus

NAME = "savee"
FOLDER = "SAVEE"
LICENSE = "free for research use (University of Surrey)"

SPEAKERS = ("DC", "JE", "JK", "KL")
EMOTIONS = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy",
            "n": "neutral", "sa": "sad", "su": "surprised"}
_CODE = r"(sa|su|a|d|f|h|n)(\d\d)"
_FLAT = re.compile(rf"({'|'.join(SPEAKERS)})_{_CODE}")
_RELEASED = re.compile(_CODE)


def parse(path: Path, context: dict) -> dict | None:
    flat = _FLAT.fullmatch(path.stem)
    if flat:
        speaker, code, number = flat.groups()
    else:
        released = _RELEASED.fullmatch(path.stem)
        if not (released and path.parent.name in SPEAKERS):
            return None
        speaker, (code, number) = path.parent.name, released.groups()
    return {
        "emotion": EMOTIONS[code],
        "original_label": code,
        "speaker": f"{NAME}_{speaker}",
        "gender": "male",
        "sentence_number": int(number),
    }


CORPUS = Corpus(NAME, FOLDER, parse, license=LICENSE, extra_fields=("sentence_number",))
