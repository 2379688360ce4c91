"""TESS: the Toronto Emotional Speech Set (Dupuis & Pichora-Fuller, 2010).

Two actresses, aged 64 (OAF) and 26 (YAF), say 200 target words in the carrier phrase
"Say the word _" in seven emotions: 2800 files in 14 folders such as ``OAF_Fear/OAF_back_fear.wav``,
at 24414 Hz. Licence: CC BY-NC-ND 4.0.

The folder, not the file name, is the source of speaker and emotion: the release has a file
missing a letter of its speaker prefix (``OA_bite_neutral.wav``), folders whose case and spelling
vary (``OAF_Pleasant_surprise``, ``YAF_pleasant_surprised``), and AIFF files named ``.wav``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._base import Corpus

NAME = "tess"
FOLDER = "TESS"
LICENSE = "CC BY-NC-ND 4.0"

SPEAKERS = {"OAF": {"age": 64, "age_group": "older"}, "YAF": {"age": 26, "age_group": "younger"}}
EMOTIONS = {"angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy",
            "neutral": "neutral", "sad": "sad", "ps": "surprised",
            "pleasant_surprise": "surprised", "pleasant_surprised": "surprised"}
_FOLDER = re.compile(r"(OAF|YAF)_([a-z_]+)", re.IGNORECASE)
_FILE = re.compile(r"(OAF|YAF|OA|YA)_([a-z]+)_([a-z_]+)", re.IGNORECASE)


def parse(path: Path, context: dict) -> dict | None:
    folder = _FOLDER.fullmatch(path.parent.name)
    file = _FILE.fullmatch(path.stem)
    if not file:
        return None  # a stray file such as "OAF_back_fear (1).wav" (a duplicate) or "notes.wav"
    if folder and folder.group(2).lower() in EMOTIONS:
        speaker, emotion = folder.group(1).upper(), folder.group(2).lower()
    elif file and file.group(3).lower() in EMOTIONS and file.group(1).upper() in SPEAKERS:
        speaker, emotion = file.group(1).upper(), file.group(3).lower()  # a flat copy of TESS
    else:
        return None
    return {
        "emotion": EMOTIONS[emotion],
        "original_label": "ps" if EMOTIONS[emotion] == "surprised" else emotion,  # one code, not 3 spellings
        "speaker": f"{NAME}_{speaker}",
        "gender": "female",
        "word": file.group(2).lower(),
        **SPEAKERS[speaker],
    }


CORPUS = Corpus(NAME, FOLDER, parse, license=LICENSE, extra_fields=("age_group", "age", "word"))
