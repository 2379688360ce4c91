"""``normalization="utterance+speaker"``: the convolutions read utterance-normalised stem frames (as
the per-clip model) and the classifier also reads the utterance's levels against the speaker's. A tiny
random Whisper checkpoint stands in for whisper-tiny.en; real SAVEE clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ser_hf.audio import load_audio
from ser_hf.errors import SerError
from ser_hf.inference import EmotionRecognizer
from ser_hf.models import MfccCnnConfig
from ser_hf.taxonomy import label_names
from ser_hf.training import TrainingConfig, fit_predict_baseline

from test_adaptive import savee
from test_adaptive_stem import stem_frames
from test_front_end import _savee_table

NAMES = label_names("7")
LEVELS = {"normalization": "utterance+speaker"}


@pytest.fixture(scope="module")
def fold(tiny_whisper, data_root, tmp_path_factory):
    """One short training fold of the design on real clips: two speakers train, a third is tested."""
    tmp = tmp_path_factory.mktemp("levels")
    mp = pytest.MonkeyPatch()
    mp.setenv("SER_CACHE", str(tmp / "cache"))
    ds = _savee_table(data_root, speakers=("DC", "JE", "JK"))
    train, test = ds.select(range(12)), ds.select(range(12, 18))
    config = TrainingConfig(epochs=2, batch_size=4, threads=1, front_end_from=str(tiny_whisper), speaker_norm=True,
                            model_overrides=LEVELS)
    out = fit_predict_baseline(train, test, NAMES, config=config, output_dir=tmp / "run", progress=False)
    mp.undo()
    return out, test


def test_the_classifier_reads_the_utterances_levels_against_the_speakers(fold, data_root):
    out, _ = fold
    model = out["model"].eval()
    assert model.config.normalization == "utterance+speaker" and model.takes_speaker_statistics
    recognizer = EmotionRecognizer(model, out["feature_extractor"])
    assert recognizer.adaptive
    clip = savee(data_root, "KL")[0]
    with pytest.raises(SerError, match="adapts to the speaker"):
        recognizer.predict(clip)
    seen = []
    model.net.classifier.register_forward_hook(lambda module, args, result: seen.append(args[0].clone()))
    frames = stem_frames(recognizer, load_audio(clip))  # [channels, frames]
    answers = {}
    for speaker in ("KL", "DC"):
        stats = recognizer.speaker_statistics(savee(data_root, speaker))
        answers[speaker] = recognizer.predict_arrays([load_audio(clip)], speaker=stats)[0]
        channels = frames.shape[0]
        levels = seen[-1][0, -2 * channels:].numpy()
        np.testing.assert_allclose(levels[:channels], (frames.mean(1) - stats.mean) / stats.std, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(levels[channels:], np.log((frames.std(1) ** 2 + 1e-5) ** 0.5 / stats.std),
                                   rtol=1e-3, atol=1e-4)
    # The convolutions read the utterance-normalised frames: only the levels change with the speaker.
    pooled = [s[0, :-2 * frames.shape[0]] for s in seen]
    torch.testing.assert_close(pooled[0], pooled[1])
    assert not np.allclose(answers["KL"], answers["DC"])


def test_the_fold_recipe_hands_each_speakers_statistics_over(fold):
    out, test = fold
    stats = out["speaker_stats"]
    assert set(stats) == {"DC", "JE", "JK"}
    recognizer = EmotionRecognizer(out["model"], out["feature_extractor"])
    jk = recognizer.speaker_statistics(test["path"])
    np.testing.assert_allclose(stats["JK"][0], jk.mean, rtol=1e-4, atol=1e-4)
    probs = recognizer.predict_batch(test["path"], speaker=jk)
    assert [NAMES.index(max(p, key=p.get)) for p in probs] == list(out["y_pred"])


def test_the_design_needs_a_frozen_front_end():
    with pytest.raises(ValueError, match="needs a front end"):
        MfccCnnConfig(normalization="utterance+speaker")
    with pytest.raises(ValueError, match="frozen front end"):
        MfccCnnConfig(normalization="utterance+speaker", front_end="whisper", freeze_front_end=False, num_features=80)
