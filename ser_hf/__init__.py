"""ser-hf: speech emotion recognition on Hugging Face datasets, models and pipelines."""

from .audio import SAMPLING_RATE, load_audio
from .corpora import load_corpora, load_corpus
from .errors import AudioError, CorpusError, SerError
from . import models  # registers the MFCC-CNN baseline with the transformers Auto classes
from .inference import EmotionRecognizer
from .taxonomy import EMOTIONS, LABEL_SETS, label_names

__version__ = "0.1.0"

__all__ = [
    "EMOTIONS", "LABEL_SETS", "SAMPLING_RATE", "AudioError", "CorpusError", "EmotionRecognizer", "SerError",
    "label_names", "load_audio", "load_corpora", "load_corpus",
]
