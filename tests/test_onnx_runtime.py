"""ONNX Runtime for the MFCC-CNN (ser_hf.onnx_runtime): the same logits as PyTorch, where it applies, on real clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

from _inference_helpers import save_tiny_whisper
from conftest import REPO
from ser_hf.audio import load_audio
from ser_hf.errors import SerError
from ser_hf.inference import EmotionRecognizer
from ser_hf.onnx_runtime import OnnxRuntimeModel, supports
from ser_hf.taxonomy import label_names
from ser_hf.training import build_baseline

SHIPPED = REPO / "models" / "ser-mfcc-cnn"


@pytest.fixture(scope="module")
def clips(data_root):
    paths = [data_root / "RAVDESS" / "Actor_03" / "03-01-05-02-01-01-03.flac",
             data_root / "SAVEE" / "JK_sa07.flac", data_root / "TESS" / "OAF_angry" / "OAF_back_angry.flac",
             data_root / "SAVEE" / "DC_n11.flac"]
    return [load_audio(p) for p in paths]


def _torch_logits(model, features):
    with torch.inference_mode():
        return model(**{k: torch.from_numpy(v) for k, v in features.items()}).logits.numpy()


def test_the_shipped_model_gives_pytorchs_logits_at_any_length_and_in_batches(clips):
    fe = AutoFeatureExtractor.from_pretrained(SHIPPED)
    model = AutoModelForAudioClassification.from_pretrained(SHIPPED).eval()
    assert supports(model)
    onnx = OnnxRuntimeModel(model, threads=1)
    lengths = set()
    for wave in clips:
        features = fe(wave, sampling_rate=16000, return_tensors="np")
        lengths.add(features["input_features"].shape[-1])
        np.testing.assert_allclose(onnx.logits(**features), _torch_logits(model, features), atol=1e-4, rtol=1e-4)
    assert len(lengths) == len(clips)  # the graph is not tied to the traced example's length
    same = fe([clips[0], 0.5 * clips[0]], sampling_rate=16000, return_tensors="np")  # one length, two clips
    np.testing.assert_allclose(onnx.logits(**same), _torch_logits(model, same), atol=1e-4, rtol=1e-4)
    padded = fe(clips[:2], sampling_rate=16000, return_tensors="np")
    with pytest.raises(ValueError, match="one length"):
        onnx.logits(**padded)  # its frames would need the mask the graph was not traced with


def test_the_recognizer_serves_the_shipped_model_in_onnx_runtime_with_pytorchs_answers(data_root):
    served = EmotionRecognizer.from_pretrained(SHIPPED)
    plain = EmotionRecognizer.from_pretrained(SHIPPED, runtime="torch")
    assert served.runtime == "onnxruntime" and plain.runtime == "torch" and "onnxruntime" in repr(served)
    paths = sorted((data_root / "SAVEE").glob("KL_*.flac"))[:6]
    for ours, theirs in zip(served.predict_batch(paths), plain.predict_batch(paths)):
        assert ours.keys() == theirs.keys()
        np.testing.assert_allclose(list(ours.values()), list(theirs.values()), atol=1e-5)
    recording = np.concatenate([load_audio(p) for p in paths])
    ours, theirs = served.timeline(recording, sr=16000), plain.timeline(recording, sr=16000)
    assert len(ours) == len(theirs) > 1
    for a, b in zip(ours, theirs):
        assert (a["start"], a["end"]) == (b["start"], b["end"])
        np.testing.assert_allclose(list(a["probabilities"].values()), list(b["probabilities"].values()), atol=1e-5)


def test_models_it_does_not_serve_stay_in_pytorch_and_an_explicit_request_says_why(tmp_path, tiny_wav2vec2):
    adaptive = EmotionRecognizer.from_pretrained(REPO / "models" / "ser-mfcc-cnn-adaptive")
    assert adaptive.runtime == "torch"  # it takes the speaker's statistics beside the frames
    assert EmotionRecognizer.from_pretrained(tiny_wav2vec2).runtime == "torch"
    with pytest.raises(SerError, match="runtime='torch'"):
        EmotionRecognizer.from_pretrained(tiny_wav2vec2, runtime="onnx")
    plain, fe = build_baseline(label_names("7"), seed=0)  # log-mel with deltas: their kernel does not export
    assert EmotionRecognizer(plain, fe).runtime == "torch"
    with pytest.raises(SerError, match="could not be exported to ONNX"):
        EmotionRecognizer(plain, fe, runtime="onnx")
    with pytest.raises(SerError, match="unknown runtime 'tensorrt'"):
        EmotionRecognizer.from_pretrained(SHIPPED, runtime="tensorrt")


def test_a_strided_stem_with_an_int8_layer_exports_exactly(tmp_path, clips):
    """The shipped kind of front end (stride 4, Whisper's first layer, int8 weights) on a tiny random Whisper."""
    checkpoint = save_tiny_whisper(tmp_path / "whisper", layers=1)
    model, fe = build_baseline(label_names("7"), seed=0, front_end_from=checkpoint, front_end_layers=1,
                               front_end_int8=True, front_end_stride=4)
    model.eval()
    onnx = OnnxRuntimeModel(model, threads=1)
    for wave in clips:
        features = fe(wave, sampling_rate=16000, return_tensors="np")
        np.testing.assert_allclose(onnx.logits(**features), _torch_logits(model, features), atol=1e-4, rtol=1e-4)
