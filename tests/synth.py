"""Small synthetic corpora in the four release naming conventions, written with soundfile.

Tests (any helper's) import these to get corpora whose every field is known: each writer returns
``Clip`` records holding the path and the fields a loader must parse from it, worked out here from
the naming convention itself (never by calling the loaders). Audio varies on purpose: sample rates
from 8 to 48 kHz, mono and stereo, WAV, FLAC, OGG and AIFF, so loaders and decoders meet what
real users have. Clips are short (0.25-0.6 s) so a corpus writes in milliseconds.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

# (sample rate, channels, extension) cycled through by the writers.
VARIANTS = (
    (16000, 1, ".wav"),
    (44100, 2, ".wav"),
    (48000, 1, ".flac"),
    (8000, 1, ".ogg"),
    (22050, 2, ".aiff"),
    (24414, 1, ".wav"),
    (32000, 2, ".flac"),
    (48000, 2, ".wav"),
    (8000, 2, ".wav"),
    (11025, 1, ".flac"),
)

RAVDESS_EMOTIONS = {1: "neutral", 2: "calm", 3: "happy", 4: "sad", 5: "angry", 6: "fearful", 7: "disgust",
                    8: "surprised"}
RAVDESS_STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
RAVDESS_SONG_EMOTIONS = (1, 2, 3, 4, 5, 6)  # the song part has no disgust or surprise
CREMA_D_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral",
                    "SAD": "sad"}
CREMA_D_SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
TESS_EMOTIONS = {"angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy",
                 "neutral": "neutral", "ps": "surprised", "sad": "sad"}
# Folder names as released: case and spelling vary.
TESS_FOLDERS = {
    "OAF": {"angry": "OAF_angry", "disgust": "OAF_disgust", "fear": "OAF_Fear", "happy": "OAF_happy",
            "neutral": "OAF_neutral", "ps": "OAF_Pleasant_surprise", "sad": "OAF_Sad"},
    "YAF": {"angry": "YAF_angry", "disgust": "YAF_disgust", "fear": "YAF_fear", "happy": "YAF_happy",
            "neutral": "YAF_neutral", "ps": "YAF_pleasant_surprised", "sad": "YAF_sad"},
}
TESS_AGES = {"OAF": (64, "older"), "YAF": (26, "younger")}
SAVEE_EMOTIONS = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral", "sa": "sad",
                  "su": "surprised"}


@dataclass
class Clip:
    """One written file and what a loader must make of it."""

    path: Path
    sampling_rate: int
    channels: int
    duration: float
    fields: dict = field(default_factory=dict)  # emotion (taxonomy name), speaker, gender, ...


def write_audio(path, duration: float = 0.3, sampling_rate: int = 16000, channels: int = 1,
                frequency: float = 220.0, noise: float = 0.05, seed: int = 0) -> Clip:
    """A tone plus a little noise; the format follows the extension (.wav, .flac, .ogg, .aiff)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(duration * sampling_rate))
    t = np.arange(n) / sampling_rate
    rng = np.random.default_rng(seed)
    mono = 0.3 * np.sin(2 * np.pi * frequency * t) + noise * rng.standard_normal(n)
    data = np.stack([mono * (0.5 + 0.5 * c) for c in range(channels)], axis=1) if channels > 1 else mono
    subtype = "VORBIS" if path.suffix.lower() == ".ogg" else "PCM_16"
    sf.write(path, data.astype(np.float32), sampling_rate, subtype=subtype)
    return Clip(path, sampling_rate, channels, n / sampling_rate)


def _writer(variants):
    """Write each clip in the next audio variant, with its own duration and pitch."""
    counter = itertools.count()

    def write(stem: Path, fields: dict) -> Clip:
        i = next(counter)
        rate, channels, ext = variants[i % len(variants)]
        clip = write_audio(stem.with_name(stem.name + ext), duration=0.25 + 0.05 * (i % 8),
                           sampling_rate=rate, channels=channels, frequency=150 + 40 * (i % 11), seed=i)
        clip.fields = fields
        return clip

    return write


def ravdess_name(emotion: int, actor: int, intensity: int = 1, statement: int = 1, repetition: int = 1,
                 channel: int = 1, modality: int = 3) -> str:
    """``MM-VV-EE-II-SS-RR-AA``, e.g. ``03-01-05-02-01-02-07``."""
    return "-".join(f"{v:02d}" for v in (modality, channel, emotion, intensity, statement, repetition, actor))


def make_ravdess(root, actors=(1, 2), song: bool = True, variants=VARIANTS) -> list[Clip]:
    """``Actor_NN/MM-VV-EE-II-SS-RR-AA.ext``: per actor every speech emotion (neutral at normal
    intensity only, as released; the others at both), both statements, repetition 1 and 2 varied;
    plus song files (emotions 01-06) when ``song``."""
    write = _writer(variants)
    clips = []
    for actor in actors:
        folder = Path(root) / f"Actor_{actor:02d}"
        for channel in (1, 2) if song else (1,):
            emotions = RAVDESS_EMOTIONS if channel == 1 else RAVDESS_SONG_EMOTIONS
            for emotion in emotions:
                for intensity in (1,) if emotion == 1 else (1, 2):
                    statement = 1 + (emotion + intensity) % 2
                    repetition = 1 + (emotion + actor) % 2
                    name = ravdess_name(emotion, actor, intensity, statement, repetition, channel)
                    clips.append(write(folder / name, {
                        "emotion": RAVDESS_EMOTIONS[emotion], "original_label": RAVDESS_EMOTIONS[emotion],
                        "speaker": f"ravdess_{actor:02d}", "gender": "male" if actor % 2 else "female",
                        "intensity": "normal" if intensity == 1 else "strong",
                        "statement": RAVDESS_STATEMENTS[statement], "repetition": repetition,
                        "vocal_channel": "speech" if channel == 1 else "song",
                    }))
    return clips


def crema_d_name(actor: int, sentence: str, emotion: str, level: str) -> str:
    """``AAAA_SSS_EEE_LL``, e.g. ``1001_DFA_ANG_XX``."""
    return f"{actor}_{sentence}_{emotion}_{level}"


DEMOGRAPHICS = {  # ActorID: (Age, Sex, Race, Ethnicity), in the release's VideoDemographics.csv style
    1001: (51, "Male", "Caucasian", "Not Hispanic"),
    1002: (21, "Female", "Caucasian", "Not Hispanic"),
    1003: (21, "Female", "Caucasian", "Not Hispanic"),
    1004: (42, "Female", "Caucasian", "Not Hispanic"),
    1005: (29, "Male", "African American", "Not Hispanic"),
}


def write_demographics(path, actors=DEMOGRAPHICS) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ActorID", "Age", "Sex", "Race", "Ethnicity"])
        for actor, (age, sex, race, ethnicity) in actors.items():
            writer.writerow([actor, age, sex, race, ethnicity])
    return path


def make_crema_d(root, actors=(1001, 1002, 1005), demographics: bool = True, variants=VARIANTS) -> list[Clip]:
    """``AudioWAV/AAAA_SSS_EEE_LL.ext`` plus ``VideoDemographics.csv`` (when ``demographics``): per
    actor all six emotions, sentences cycled, levels LO/MD/HI on one sentence and XX elsewhere."""
    root = Path(root)
    if demographics:
        write_demographics(root / "VideoDemographics.csv")
    write = _writer(variants)
    clips = []
    levels = itertools.cycle(("XX", "LO", "MD", "HI"))
    sentences = itertools.cycle(CREMA_D_SENTENCES)
    for actor in actors:
        for code, emotion in CREMA_D_EMOTIONS.items():
            sentence, level = next(sentences), next(levels)
            age, sex = DEMOGRAPHICS[actor][:2] if demographics else (None, "unknown")
            clips.append(write(root / "AudioWAV" / crema_d_name(actor, sentence, code, level), {
                "emotion": emotion, "original_label": code, "speaker": f"crema_d_{actor}",
                "gender": sex.lower(), "age": age, "sentence": sentence, "level": level,
            }))
    return clips


def make_tess(root, words=("back", "bite", "chair"), variants=VARIANTS) -> list[Clip]:
    """The 14 released folders (``OAF_Fear/OAF_back_fear.ext`` ...), ``len(words)`` clips each."""
    write = _writer(variants)
    clips = []
    for speaker, folders in TESS_FOLDERS.items():
        age, group = TESS_AGES[speaker]
        for code, folder in folders.items():
            for word in words:
                clips.append(write(Path(root) / folder / f"{speaker}_{word}_{code}", {
                    "emotion": TESS_EMOTIONS[code], "original_label": code, "speaker": f"tess_{speaker}",
                    "gender": "female", "age": age, "age_group": group, "word": word,
                }))
    return clips


def make_savee(root, speakers=("DC", "JE"), per_emotion: int = 2, layout: str = "flat",
               variants=VARIANTS) -> list[Clip]:
    """``DC_a01.ext`` (``layout="flat"``) or ``AudioData/DC/a01.ext`` (``"released"``): per speaker
    ``per_emotion`` clips of each emotion and twice that many neutral, as the release has 15 and 30."""
    if layout not in ("flat", "released"):
        raise ValueError(f"layout is 'flat' or 'released', not {layout!r}")
    write = _writer(variants)
    clips = []
    for speaker in speakers:
        for code, emotion in SAVEE_EMOTIONS.items():
            for number in range(1, (2 if code == "n" else 1) * per_emotion + 1):
                stem = (Path(root) / f"{speaker}_{code}{number:02d}" if layout == "flat"
                        else Path(root) / "AudioData" / speaker / f"{code}{number:02d}")
                clips.append(write(stem, {
                    "emotion": emotion, "original_label": code, "speaker": f"savee_{speaker}",
                    "gender": "male", "sentence_number": number,
                }))
    return clips


MAKERS = {"ravdess": make_ravdess, "crema_d": make_crema_d, "tess": make_tess, "savee": make_savee}
FOLDERS = {"ravdess": "RAVDESS", "crema_d": "CREMA-D", "tess": "TESS", "savee": "SAVEE"}


def make_corpus(root, name: str, **options) -> tuple[Path, list[Clip]]:
    """Write corpus ``name`` into ``root/<its released folder name>``; returns (folder, clips)."""
    folder = Path(root) / FOLDERS[name]
    return folder, MAKERS[name](folder, **options)


def make_corpora(root, names=tuple(MAKERS), **options) -> dict[str, list[Clip]]:
    """All (or ``names``) corpora under ``root``, as ``load_corpora(root)`` expects them."""
    return {name: make_corpus(root, name, **options.get(name, {}))[1] for name in names}
