"""The MFCC-CNN baseline as a Hugging Face model: save/load, Auto classes, pipeline, seed network, shipped model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import (AutoConfig, AutoFeatureExtractor, AutoModelForAudioClassification, pipeline)

import ser_hf
from ser_hf.audio import load_audio
from ser_hf.augment import WaveAugmenter, time_shift
from ser_hf.models import MfccCnnConfig, MfccCnnFeatureExtractor, MfccCnnForAudioClassification
from ser_hf.taxonomy import label_names
from ser_hf.training import build_baseline

from conftest import REPO

SHIPPED = REPO / "models" / "ser-mfcc-cnn"


@pytest.fixture(scope="module")
def clips(data_root):
    """Real clips: one per TESS emotion folder of OAF, and SAVEE DC's first clip of each emotion."""
    tess = [sorted((data_root / "TESS" / folder).glob("*.flac"))[3] for folder in
            ("OAF_angry", "OAF_disgust", "OAF_Fear", "OAF_happy", "OAF_neutral", "OAF_Pleasant_surprise", "OAF_Sad")]
    savee = [data_root / "SAVEE" / f"DC_{code}02.flac" for code in ("a", "d", "f", "h", "n", "su", "sa")]
    return {"tess": tess, "savee": savee}


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    model, fe = build_baseline(label_names("7"))
    path = tmp_path_factory.mktemp("mfcc_cnn")
    model.save_pretrained(path)
    fe.save_pretrained(path)
    return path, model.eval(), fe


def test_save_load_round_trip_through_auto_classes(saved_model, clips):
    path, model, fe = saved_model
    assert (path / "model.safetensors").is_file()
    assert not list(path.glob("*.bin"))
    assert isinstance(AutoConfig.from_pretrained(path), MfccCnnConfig)
    loaded = AutoModelForAudioClassification.from_pretrained(path).eval()
    loaded_fe = AutoFeatureExtractor.from_pretrained(path)
    assert isinstance(loaded, MfccCnnForAudioClassification)
    assert isinstance(loaded_fe, MfccCnnFeatureExtractor)
    assert loaded_fe.to_dict() == fe.to_dict()
    inputs = fe(load_audio(clips["savee"][0]), sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        assert torch.allclose(model(**inputs).logits, loaded(**inputs).logits, atol=1e-6)


def test_pipeline_gives_probabilities_over_the_labels(saved_model, clips):
    path, model, _ = saved_model
    classifier = pipeline("audio-classification", model=str(path), device="cpu")
    for source in (str(clips["tess"][0]), {"array": load_audio(clips["savee"][1]), "sampling_rate": 16000}):
        out = classifier(source, top_k=None)
        assert sorted(o["label"] for o in out) == sorted(label_names("7"))
        assert sum(o["score"] for o in out) == pytest.approx(1.0, abs=1e-5)
    # The pipeline's answer is the model's own softmax on the feature extractor's output.
    wave = load_audio(clips["tess"][0])
    inputs = AutoFeatureExtractor.from_pretrained(path)(wave, sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        probs = model(**inputs).logits.softmax(-1)[0]
    top = classifier(wave, top_k=1)[0]
    assert top["label"] == model.config.id2label[int(probs.argmax())]
    assert top["score"] == pytest.approx(float(probs.max()), abs=1e-5)


def test_feature_extractor_batches_like_single_clips(clips):
    fe = MfccCnnFeatureExtractor()
    a, b = load_audio(clips["tess"][0]), load_audio(clips["savee"][0])
    batch = fe([a, b], sampling_rate=16000, return_tensors="np")
    single = fe(b, sampling_rate=16000, return_tensors="np")
    n = single["input_features"].shape[-1]
    assert batch["input_features"].shape[:2] == (2, 64)
    assert batch["attention_mask"][1].sum() == n
    np.testing.assert_allclose(batch["input_features"][1, :, :n], single["input_features"][0])
    with pytest.raises(ValueError, match="16000 Hz"):
        fe(a, sampling_rate=8000)


def test_padding_does_not_change_the_prediction(saved_model, clips):
    """Masked pooling: a clip padded inside a batch scores as it does alone."""
    _, model, fe = saved_model
    short, long = load_audio(clips["tess"][2]), load_audio(clips["savee"][2])
    with torch.inference_mode():
        alone = model(**fe(short, sampling_rate=16000, return_tensors="pt")).logits[0]
        together = model(**fe([long, short], sampling_rate=16000, return_tensors="pt")).logits[1]
    assert torch.allclose(alone, together, atol=1e-4)


def test_seed_architecture_matches_the_seed_layer_table():
    model, fe = build_baseline([str(i) for i in range(14)], "seed")
    assert sum(p.numel() for p in model.parameters()) == 481_518
    assert fe.feature_size * fe.fixed_frames == 2400
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [(c.out_channels, c.kernel_size[0]) for c in convs] == [(8, 13), (16, 11), (32, 9), (64, 7)]
    x = torch.randn(3, 40, 60)
    lengths = [2400]
    for conv in convs:
        lengths.append((lengths[-1] - conv.kernel_size[0] + 1) // 3)
    assert lengths == [2400, 796, 262, 84, 26]  # the table's pooled shapes
    assert model.eval()(x).logits.shape == (3, 14)


def test_default_model_is_small():
    model, _ = build_baseline(label_names("7"))
    assert sum(p.numel() for p in model.parameters()) * 4 < 5e6


def test_augmentation_only_while_training(clips):
    wave = load_audio(clips["savee"][3])
    augmented = WaveAugmenter(p=1.0)(wave, np.random.default_rng(0))
    assert augmented.shape != wave.shape or not np.allclose(augmented, wave)
    assert np.array_equal(time_shift(wave, 0.1)[1600:], wave[:-1600])
    # SpecAugment masks live in the model's training mode; evaluation is deterministic.
    model, fe = build_baseline(label_names("7"))
    inputs = fe(wave, sampling_rate=16000, return_tensors="pt")
    model.train()
    for module in model.modules():  # isolate the masks from dropout and batch-norm updates
        if isinstance(module, (torch.nn.Dropout, torch.nn.BatchNorm1d)):
            module.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        train_outputs = [model(**inputs).logits for _ in range(3)]
        model.eval()
        eval_outputs = [model(**inputs).logits for _ in range(2)]
    assert not torch.allclose(train_outputs[0], train_outputs[1]) or not torch.allclose(train_outputs[1], train_outputs[2])
    assert torch.equal(eval_outputs[0], eval_outputs[1])


def test_preprocessing_is_part_of_the_saved_extractor(tmp_path, clips):
    """Trimming and noise reduction are extractor settings: saved, reloaded, applied identically."""
    fe = MfccCnnFeatureExtractor(trim_db=25.0, reduce_noise=True)
    fe.save_pretrained(tmp_path)
    loaded = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert (loaded.trim_db, loaded.reduce_noise) == (25.0, True)
    wave = load_audio(clips["savee"][4])
    cleaned = loaded.clean(wave)
    assert 0 < cleaned.size < wave.size  # SAVEE clips start and end with silence
    np.testing.assert_array_equal(loaded(wave, sampling_rate=16000)["input_features"][0], fe.extract(wave))


def test_noise_reduction_brings_a_noisy_clip_back_towards_the_clean_one(clips):
    """White noise at 10 dB SNR on a real clip: after reduce_noise its log-mel features are closer
    to the clean clip's; digital silence inside a clip stays silent (no NaN from the library)."""
    import librosa

    from ser_hf.preprocess import reduce_noise

    wave = load_audio(clips["savee"][2])
    rng = np.random.default_rng(0)
    noisy = wave + rng.normal(0, np.sqrt(np.mean(wave ** 2) / 10), wave.shape).astype(np.float32)

    def logmel(x):
        return librosa.power_to_db(librosa.feature.melspectrogram(y=x, sr=16000, n_fft=512, hop_length=160, n_mels=64),
                                   ref=1.0, top_db=None)

    top = logmel(wave).max()
    clean = np.maximum(logmel(wave), top - 80)
    before = np.abs(np.maximum(logmel(noisy), top - 80) - clean).mean()
    after = np.abs(np.maximum(logmel(reduce_noise(noisy)), top - 80) - clean).mean()
    assert after < before - 3, (before, after)
    gapped = np.concatenate([np.zeros(8000, np.float32), noisy, np.zeros(8000, np.float32)])
    cleaned = reduce_noise(gapped)
    assert cleaned.shape == gapped.shape and np.isfinite(cleaned).all() and not cleaned[:4000].any()


def test_shipped_model_loads_and_recognises_training_speakers(clips):
    """The committed default model: 7 labels, and right on most clips of speakers it was trained on."""
    assert (SHIPPED / "model.safetensors").is_file(), "models/ser-mfcc-cnn is missing; run scripts/train_baseline.py"
    config = AutoConfig.from_pretrained(SHIPPED)
    assert [config.id2label[i] for i in range(config.num_labels)] == label_names("7")
    classifier = pipeline("audio-classification", model=str(SHIPPED), device="cpu")
    names = {"tess": ["angry", "disgust", "fearful", "happy", "neutral", "surprised", "sad"],
             "savee": ["angry", "disgust", "fearful", "happy", "neutral", "surprised", "sad"]}
    correct = 0
    for corpus, paths in clips.items():
        for path, truth in zip(paths, names[corpus]):
            correct += classifier(str(path), top_k=1)[0]["label"] == truth
    assert correct >= 10, f"{correct} of 14 right (chance: 2)"
    assert ser_hf.models.MfccCnnConfig.model_type == config.model_type


@pytest.mark.parametrize("options", [{"normalization": "utterance_global", "pooling": "meanstd"},
                                     {"normalization": "none", "pooling": "meanstd"},
                                     {"architecture": "cnn2d", "channels": [8, 8, 16, 16]},
                                     {"architecture": "cnn2d", "channels": [8, 16], "normalization": "utterance_global"}])
def test_other_normalisations_and_poolings_ignore_padding(clips, options):
    """Every normalisation and pooling option is masked: a clip padded in a batch scores as alone."""
    model, fe = build_baseline(label_names("7"), seed=0, **options)
    model.eval()
    short, long = load_audio(clips["tess"][2]), load_audio(clips["savee"][2])
    with torch.inference_mode():
        alone = model(**fe(short, sampling_rate=16000, return_tensors="pt")).logits[0]
        together = model(**fe([long, short], sampling_rate=16000, return_tensors="pt")).logits[1]
    assert torch.allclose(alone, together, atol=1e-4)
    with pytest.raises(ValueError, match="normalization"):
        MfccCnnConfig(normalization="speaker")


def test_2d_network_round_trips_through_auto_classes(tmp_path, clips):
    """The 2-D option is the same Hugging Face model: saved, reloaded by the Auto classes, same scores."""
    model, fe = build_baseline(label_names("7"), "cnn2d", seed=0, channels=[8, 16, 16])
    assert any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    model.save_pretrained(tmp_path)
    fe.save_pretrained(tmp_path)
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    assert loaded.config.architecture == "cnn2d"
    inputs = AutoFeatureExtractor.from_pretrained(tmp_path)([load_audio(p) for p in clips["savee"][:3]],
                                                            sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        assert torch.equal(model.eval()(**inputs).logits, loaded(**inputs).logits)


def test_mixup_blends_the_batch_only_while_training(clips):
    """With mixup on, a training loss mixes two targets; evaluation ignores it."""
    model, fe = build_baseline(label_names("7"), seed=0, mixup_alpha=0.4)
    waves = [load_audio(p) for p in clips["savee"][:4]]
    inputs = fe(waves, sampling_rate=16000, return_tensors="pt")
    labels = torch.tensor([0, 1, 2, 3])
    model.train()
    torch.manual_seed(0)
    loss = model(**inputs, labels=labels).loss
    assert torch.isfinite(loss)
    model.eval()
    with torch.inference_mode():
        first = model(**inputs, labels=labels)
        second = model(**inputs, labels=labels)
    assert torch.equal(first.logits, second.logits)
    assert torch.isclose(first.loss, torch.nn.functional.cross_entropy(first.logits, labels))


def test_log_mel_frames_are_librosas(data_root):
    """The cached filter bank and matrix product give librosa.feature.melspectrogram's values."""
    import librosa

    from ser_hf.audio import load_audio
    from ser_hf.models.mfcc_cnn import MfccCnnFeatureExtractor

    fe = MfccCnnFeatureExtractor()
    wave = load_audio(data_root / "SAVEE" / "JE_sa03.flac")
    reference = librosa.power_to_db(librosa.feature.melspectrogram(
        y=wave, sr=fe.sampling_rate, n_fft=fe.n_fft, hop_length=fe.hop_length, n_mels=fe.n_mels, fmin=fe.fmin,
        fmax=fe.fmax, power=2.0), ref=1.0, top_db=None)
    np.testing.assert_allclose(fe.frames(wave), reference, atol=1e-4)
