"""Fixtures shared by every test module. Add new fixtures in their own section below."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (a CI failure reproduces); HYPOTHESIS_PROFILE=explore
# draws new ones, as for hunting bugs locally.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

import synth

REPO = Path(__file__).resolve().parents[1]

# Tests never reach the Hugging Face Hub (models are built in the tests, data is on disk).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


# --- Real corpora --------------------------------------------------------------------------------

def savee_corpora(data_root: Path, folder: Path, speakers=("DC", "JE"), clips=("a01", "n01", "sa01")) -> Path:
    """A corpora folder holding a few real SAVEE clips (``{speaker}_{clip}.flac`` for each pair), for the CLI's
    tests; returns the folder (its ``SAVEE/`` is where a test adds broken files)."""
    import shutil

    (folder / "SAVEE").mkdir(parents=True)
    for speaker in speakers:
        for clip in clips:
            shutil.copy(data_root / "SAVEE" / f"{speaker}_{clip}.flac", folder / "SAVEE")
    return folder


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared real corpora: ``$SER_DATA`` (relative to the repo), default ``<repo>/../shared/corpora``.

    Missing data FAILS the tests that need it (a skip would pass CI without ever reading real audio).
    """
    root = Path(os.environ.get("SER_DATA", "../shared/corpora"))
    if not root.is_absolute():
        root = (REPO / root).resolve()
    if not (root / "RAVDESS").is_dir():
        pytest.fail(f"real corpora not found at {root} (set SER_DATA to the folder holding RAVDESS/, TESS/, "
                    f"SAVEE/ and originals/; see the README)", pytrace=False)
    return root


@pytest.fixture(scope="session")
def originals_root(data_root) -> Path:
    """The 37 untouched release WAVs (48, 44.1, 24.4 and 96 kHz; stereo; AIFF named .wav)."""
    return data_root / "originals"


# --- Synthetic corpora (tests/synth.py) ----------------------------------------------------------

@pytest.fixture
def make_corpus(tmp_path):
    """``make_corpus(name, **options) -> (folder, clips)``: a small synthetic corpus under tmp_path."""
    def make(name: str, root: Path | None = None, **options):
        return synth.make_corpus(root or tmp_path, name, **options)
    return make


@pytest.fixture(scope="session")
def synthetic_corpora(tmp_path_factory) -> tuple[Path, dict[str, list[synth.Clip]]]:
    """(root, {corpus: clips}): all four corpora in their released layouts, written once per session."""
    root = tmp_path_factory.mktemp("corpora")
    return root, synth.make_corpora(root)


# --- Tiny random audio-classification models (tests/_inference_helpers.py) ----------------------

@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory) -> Path:
    """A random WhisperForAudioClassification with a 3 s window, saved like the shipped model (4 s)."""
    from _inference_helpers import save_tiny_whisper
    return save_tiny_whisper(tmp_path_factory.mktemp("tiny-whisper"))


@pytest.fixture(scope="session")
def tiny_wav2vec2(tmp_path_factory) -> Path:
    """A random wav2vec2 classifier (hidden size 32): the variable-length kind of model."""
    from _inference_helpers import save_tiny_wav2vec2
    return save_tiny_wav2vec2(tmp_path_factory.mktemp("tiny-wav2vec2"))


@pytest.fixture(scope="session")
def demo_app(tiny_whisper, tiny_wav2vec2):
    """The demo (app.ui) serving both tiny models on loopback; yields its URL.

    ``SER_APP_MODELS=models/ser-mfcc-cnn,models/ser-whisper-tiny`` serves those instead (for the
    README screenshot, taken by tests/test_browser.py with ``SER_SCREENSHOT=docs/screenshot.png``).
    """
    import socket
    import sys

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # app/ is a folder at the root, not an installed package
    from app import examples, ui
    from ser_hf.inference import EmotionRecognizer

    paths = os.environ.get("SER_APP_MODELS", "").split(",") if os.environ.get("SER_APP_MODELS") else \
        [tiny_whisper, tiny_wav2vec2]
    recognizers = {}
    for path in paths:
        recognizer = EmotionRecognizer.from_pretrained(path, device="cpu")
        recognizers[recognizer.name] = recognizer
    clips, recordings = examples.prepare() if os.environ.get("SER_APP_MODELS") else ([], [])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = ui.build(recognizers, examples=clips, long_examples=recordings)
    demo.queue(default_concurrency_limit=4)
    folders = sorted({os.path.dirname(p) for p in clips + recordings})
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                show_error=True, allowed_paths=folders)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def tiny_mfcc_cnn(tmp_path_factory) -> Path:
    """A random, small MFCC-CNN (the baseline's classes): features with an attention mask."""
    from _inference_helpers import save_tiny_mfcc_cnn
    return save_tiny_mfcc_cnn(tmp_path_factory.mktemp("tiny-mfcc-cnn"))
