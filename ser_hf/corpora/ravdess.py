"""RAVDESS: the Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone & Russo, 2018).

24 professional actors (odd numbers male, even female) say two statements in eight emotions,
at normal and strong intensity, twice each: 1440 speech files, plus 1012 sung ones. Released as
``Actor_NN/MM-VV-EE-II-SS-RR-AA.wav`` at 48 kHz; a handful of files are stereo.
Licence: CC BY-NC-SA 4.0.

Name fields: modality (03 audio-only), vocal channel (01 speech, 02 song), emotion, intensity
(01 normal, 02 strong), statement (01, 02), repetition, actor (01-24). The name is the source of
truth; the ``Actor_NN`` folder is not needed.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._base import Corpus

NAME = "ravdess"
FOLDER = "RAVDESS"
LICENSE = "CC BY-NC-SA 4.0"

_PATTERN = re.compile(r"(\d\d)-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)")
EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad",
            "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}


def context(root: Path, include_song: bool = False) -> dict:
    return {"include_song": include_song}


def parse(path: Path, context: dict) -> dict | bool | None:
    """One RAVDESS file name to a record; False for song when song is off; None if no match."""
    match = _PATTERN.fullmatch(path.stem)
    if not match:
        return None
    _, channel, emotion, intensity, statement, repetition, actor = match.groups()
    vocal_channel = "speech" if channel == "01" else "song"
    if vocal_channel == "song" and not context.get("include_song"):
        return False
    return {
        "emotion": EMOTIONS[emotion],
        "original_label": EMOTIONS[emotion],
        "speaker": f"{NAME}_{actor}",
        "gender": "male" if int(actor) % 2 else "female",
        "intensity": "normal" if intensity == "01" else "strong",
        "statement": STATEMENTS[statement],
        "repetition": int(repetition),
        "vocal_channel": vocal_channel,
    }


CORPUS = Corpus(NAME, FOLDER, parse, context, license=LICENSE,
                extra_fields=("intensity", "statement", "repetition", "vocal_channel"))
