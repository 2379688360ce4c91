"""CREMA-D: the Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al., 2014).

91 actors (48 male, 43 female, aged 20-74, varied ethnicity) read 12 sentences in six emotions,
one sentence at low, medium and high level: 7442 clips, ``AudioWAV/AAAA_SSS_EEE_LL.wav`` at 16 kHz.
Actor sex and age are in the release's ``VideoDemographics.csv`` (read when present, from the
corpus folder or any folder below it). Licence: Open Database License (ODbL) with Database
Contents License.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

from ._base import Corpus

NAME = "crema_d"
FOLDER = "CREMA-D"
LICENSE = "ODbL 1.0"
logger = logging.getLogger(__name__)

SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
_PATTERN = re.compile(rf"(\d{{4}})_({'|'.join(SENTENCES)})_({'|'.join(EMOTIONS)})_(LO|MD|HI|XX|X)")


def read_demographics(root: Path) -> dict[str, dict]:
    """``{actor_id: {"age": int, "gender": str}}`` from VideoDemographics.csv, or {} if absent."""
    found = sorted(root.rglob("VideoDemographics.csv"))
    if not found:
        return {}
    demographics = {}
    with open(found[0], newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            try:
                demographics[row["ActorID"].strip()] = {
                    "age": int(row["Age"]),
                    "gender": row["Sex"].strip().lower(),
                }
            except (KeyError, ValueError):
                logger.warning("%s: unreadable demographics row %r, skipped", found[0], row)
    return demographics


def context(root: Path) -> dict:
    return {"demographics": read_demographics(root)}


def parse(path: Path, context: dict) -> dict | None:
    match = _PATTERN.fullmatch(path.stem)
    if not match:
        return None
    actor, sentence, emotion, level = match.groups()
    person = context["demographics"].get(actor, {})
    return {
        "emotion": EMOTIONS[emotion],
        "original_label": emotion,
        "speaker": f"{NAME}_{actor}",
        "gender": person.get("gender", "unknown"),
        "age": person.get("age"),
        "sentence": sentence,
        "level": "XX" if level == "X" else level,
    }


CORPUS = Corpus(NAME, FOLDER, parse, context, aliases=("CREMA_D", "CREMAD"), license=LICENSE,
                extra_fields=("sentence", "level", "age"))
