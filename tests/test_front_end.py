"""The baseline with Whisper's convolutional stem as its first layers (``front_end_from``).

A tiny random Whisper checkpoint stands in for whisper-tiny.en (the Hub is out of reach): what
is checked is the plumbing: the copied weights, the input Whisper expects, padding, freezing,
save/load and the pipeline, on real SAVEE clips.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForAudioClassification, WhisperFeatureExtractor, WhisperForAudioClassification, pipeline

from _inference_helpers import save_tiny_whisper
from conftest import savee_corpora
from ser_hf.audio import load_audio
from ser_hf.models import MfccCnnConfig
from ser_hf.taxonomy import label_names
from ser_hf.training import (TrainingConfig, build_baseline, featurize, fit_predict_baseline, front_end_frames,
                             predict, train_model)

NAMES = label_names("7")


@pytest.fixture(scope="module")
def waves(data_root):
    return [load_audio(data_root / "SAVEE" / f"DC_{code}02.flac") for code in ("a", "n", "sa")]


@pytest.fixture(scope="module")
def stem_model(tiny_whisper):
    return build_baseline(NAMES, seed=0, front_end_from=tiny_whisper)


def test_the_stem_is_whispers_own_and_reads_whispers_input(stem_model, tiny_whisper, waves):
    model, fe = stem_model
    encoder = WhisperForAudioClassification.from_pretrained(tiny_whisper).encoder.eval()
    stem = model.net.front_end
    for name in ("conv1", "conv2"):
        for part in ("weight", "bias"):
            assert torch.equal(getattr(getattr(stem, name), part), getattr(getattr(encoder, name), part))
    assert fe.feature_size == fe.n_mels == 80 and not model.config.use_deltas
    # The extractor's dB frames, put on Whisper's scale by the model, are what Whisper's own extractor gives.
    fe.trim_db = None
    try:
        ours = fe(waves[0], sampling_rate=16000, return_tensors="pt")
    finally:
        fe.trim_db = 30.0
    theirs = WhisperFeatureExtractor(feature_size=80)(waves[0], sampling_rate=16000, padding="longest",
                                                      return_tensors="pt").input_features
    frames = min(ours["input_features"].shape[-1], theirs.shape[-1]) // 2 * 2
    scaled = ours["input_features"] / 10.0
    scaled = (torch.maximum(scaled, scaled.max() - 8.0) + 4.0) / 4.0
    inner = slice(2, frames - 2)  # the STFTs pad the clip's ends differently
    assert np.corrcoef(scaled[0, :, inner].flatten(), theirs[0, :, inner].flatten())[0, 1] > 0.999
    with torch.inference_mode():
        out, mask = stem(ours["input_features"], ours["attention_mask"])
        x = nn_gelu(encoder.conv1(scaled))
        expected = nn_gelu(encoder.conv2(x))
    assert out.shape == expected.shape and mask.shape[-1] == out.shape[-1]
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)


def nn_gelu(x):
    return torch.nn.functional.gelu(x)


def test_a_padded_clip_scores_as_it_does_alone(stem_model, waves):
    model, fe = stem_model
    model.eval()
    batch = fe(waves, sampling_rate=16000, return_tensors="pt")
    assert len(set(batch["attention_mask"].sum(-1).tolist())) > 1  # the clips differ in length
    with torch.inference_mode():
        together = model(**batch).logits
        alone = torch.cat([model(**fe(w, sampling_rate=16000, return_tensors="pt")).logits for w in waves])
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)


def test_training_leaves_the_stem_as_copied_and_it_survives_save_and_load(tiny_whisper, waves, data_root, tmp_path):
    import datasets

    model, fe = build_baseline(NAMES, seed=0, front_end_from=tiny_whisper)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    paths = [str(data_root / "SAVEE" / f"{s}_{c}{n:02d}.flac") for s in ("DC", "JE") for c in ("a", "n") for n in (1, 2, 3)]
    ds = datasets.Dataset.from_dict({"path": paths, "emotion": [NAMES.index("angry" if "_a" in p else "neutral") for p in paths],
                                     "corpus": ["savee"] * len(paths), "speaker": [p.split("/")[-1][:2] for p in paths]})
    features = featurize(ds, fe, cache_dir=tmp_path / "cache")
    train_model(model, features, None, TrainingConfig(epochs=2, batch_size=4, threads=1), output_dir=tmp_path / "run",
                progress=False)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("net.front_end."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("net.blocks."))
    model.save_pretrained(tmp_path / "model")
    fe.save_pretrained(tmp_path / "model")
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path / "model").eval()
    assert loaded.config.front_end == "whisper" and loaded.config.freeze_front_end
    out = pipeline("audio-classification", model=str(tmp_path / "model"), device="cpu")(
        {"array": waves[1], "sampling_rate": 16000}, top_k=None)
    assert sorted(o["label"] for o in out) == sorted(NAMES)
    inputs = fe(waves[1], sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        probs = loaded(**inputs).logits.softmax(-1)[0]
    assert {o["label"]: round(o["score"], 5) for o in out} == {n: round(float(p), 5) for n, p in zip(NAMES, probs)}
    loaded.train()  # a loaded model trains on with the stem frozen too
    loaded(**inputs, labels=torch.tensor([0])).loss.backward()
    assert all(p.grad is None for p in loaded.net.front_end.parameters())
    assert all(p.grad is not None for p in loaded.net.blocks.parameters())


def _savee_table(data_root, speakers=("DC", "JE"), codes=("a", "n"), numbers=(1, 2, 3)):
    import datasets

    paths = [str(data_root / "SAVEE" / f"{s}_{c}{n:02d}.flac") for s in speakers for c in codes for n in numbers]
    return datasets.Dataset.from_dict({
        "path": paths, "emotion": [NAMES.index("angry" if "_a" in p else "neutral") for p in paths],
        "corpus": ["savee"] * len(paths), "speaker": [p.split("/")[-1][:2] for p in paths],
        "clip_id": list(range(len(paths)))})


def test_the_stem_is_computed_once_per_clip_and_the_model_reads_it_as_its_own(tiny_whisper, data_root, tmp_path):
    import datasets

    model, fe = build_baseline(NAMES, seed=0, front_end_from=tiny_whisper)
    model.eval()
    features = featurize(_savee_table(data_root), fe, cache_dir=tmp_path / "cache")
    frames = front_end_frames(features, model, cache_dir=tmp_path / "cache")
    assert frames.features["input_features"].shape[-1] == model.config.front_end_channels == 32
    for row, stem_row in zip(features, frames):
        assert stem_row["length"] == -(-row["length"] // 2) and stem_row["input_features"].shape == (stem_row["length"], 32)
    # The cached frames score as the extractor's frames do through the model's own stem.
    np.testing.assert_allclose(predict(model, frames), predict(model, features), atol=1e-5, rtol=1e-4)
    again = front_end_frames(features, model, cache_dir=tmp_path / "cache")
    assert again.cache_files == frames.cache_files
    assert front_end_frames(frames, model, cache_dir=tmp_path / "cache") is frames  # already the stem's output
    # Other stem weights are another cache entry, never a stale hit.
    other, _ = build_baseline(NAMES, seed=0, front_end_from=save_tiny_whisper(tmp_path / "other", seed=1))
    assert front_end_frames(features, other, cache_dir=tmp_path / "cache").cache_files != frames.cache_files
    # A model without a frozen front end reads the extractor's frames as they are.
    plain, _ = build_baseline(NAMES, seed=0)
    assert front_end_frames(features, plain, cache_dir=tmp_path / "cache") is features
    with pytest.raises(ValueError, match="17 wide"):
        predict(model, features.map(lambda r: {"input_features": np.zeros((3, 17), np.float32)},
                                    features=datasets.Features({**features.features,
                                                                "input_features": datasets.Array2D((None, 17), "float32")})))


def test_the_fold_recipe_trains_on_cached_stem_frames_and_leaves_the_stem_as_copied(tiny_whisper, data_root, tmp_path,
                                                                                    monkeypatch):
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    ds = _savee_table(data_root, speakers=("DC", "JE", "JK"))
    train, test = ds.select(range(12)), ds.select(range(12, 18))
    _, fe = build_baseline(NAMES, front_end_from=tiny_whisper)
    shared = featurize(ds, fe, augment_copies=1)
    seen = []
    real_forward = type(build_baseline(NAMES, front_end_from=tiny_whisper)[0].net.front_end).forward

    def counting_forward(self, x, mask):
        seen.append(x.shape[0])
        return real_forward(self, x, mask)

    monkeypatch.setattr(type(build_baseline(NAMES, front_end_from=tiny_whisper)[0].net.front_end), "forward",
                        counting_forward)
    config = TrainingConfig(epochs=3, batch_size=4, threads=1, front_end_from=str(tiny_whisper))
    out = fit_predict_baseline(train, test, NAMES, config=config, output_dir=tmp_path / "run", progress=False,
                               features=(shared, train["clip_id"], test["clip_id"]))
    assert sum(seen) == len(shared)  # each clip and augmented copy through the stem once, not once per epoch
    encoder = WhisperForAudioClassification.from_pretrained(tiny_whisper).encoder
    assert torch.equal(out["model"].net.front_end.conv1.weight, encoder.conv1.weight)
    assert len(out["history"]) == 3 and len(out["y_pred"]) == len(test)
    # The predictions are those of the model on the clips' own extractor frames.
    test_logmel = featurize(test, fe)
    np.testing.assert_array_equal(predict(out["model"], test_logmel).argmax(-1), out["y_pred"])


def test_bad_front_end_settings_are_refused(tmp_path, tiny_whisper):
    with pytest.raises(ValueError, match="no-such-checkpoint"):
        build_baseline(NAMES, front_end_from=tmp_path / "no-such-checkpoint")
    with pytest.raises(ValueError, match="cnn1d"):
        build_baseline(NAMES, "cnn2d", front_end_from=tiny_whisper)
    with pytest.raises(ValueError, match="cnn1d"):
        MfccCnnConfig(architecture="cnn2d", front_end="whisper")
    with pytest.raises(ValueError, match="unknown front_end"):
        MfccCnnConfig(front_end="wav2vec2")
    with pytest.raises(ValueError, match="first_kernel_size"):
        MfccCnnConfig(first_kernel_size=4)  # an even kernel would shift the frames against their mask
    with pytest.raises(ValueError, match="first_stride"):
        MfccCnnConfig(first_stride=0)


def test_a_one_frame_first_kernel_reads_padded_clips_as_alone_and_older_models_keep_their_kernel(
        stem_model, tiny_whisper, waves, tmp_path):
    """``first_kernel_size=1`` projects each stem frame (padding still changes nothing); a model saved
    before ``first_kernel_size`` existed (no such key in its config) loads the width-5 kernel it had."""
    import json

    model, fe = stem_model
    assert model.net.blocks[0][0].kernel_size == (5,)
    narrow, _ = build_baseline(NAMES, seed=0, front_end_from=tiny_whisper, first_kernel_size=1)
    narrow.eval()
    assert narrow.net.blocks[0][0].kernel_size == (1,)
    batch = fe(waves, sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        together = narrow(**batch).logits
        alone = torch.cat([narrow(**fe(w, sampling_rate=16000, return_tensors="pt")).logits for w in waves])
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)
    model.eval()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    del config["first_kernel_size"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    assert loaded.net.blocks[0][0].kernel_size == (5,)
    one = fe(waves[0], sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        torch.testing.assert_close(loaded(**one).logits, model(**one).logits)


def test_a_stride_two_first_block_halves_the_frames_and_reads_padded_clips_as_alone(stem_model, tiny_whisper,
                                                                                      waves, tmp_path):
    """``first_stride=2`` behind the stem: every block sees half the frames (the mask follows them),
    padding still changes nothing, and the setting survives save and load; the default stays 1."""
    model, fe = stem_model
    assert model.net.blocks[0][0].stride == (1,)
    strided, _ = build_baseline(NAMES, seed=0, front_end_from=tiny_whisper, first_stride=2)
    strided.eval()
    assert strided.net.blocks[0][0].stride == (2,)
    seen = {}
    for name, net in (("one", model), ("two", strided)):
        net.eval()
        hook = net.net.blocks[1][0].register_forward_hook(  # the frames the second block reads
            lambda mod, inp, out, name=name: seen.__setitem__(name, inp[0].shape[-1]))
        with torch.inference_mode():
            net(**fe(waves[0], sampling_rate=16000, return_tensors="pt"))
        hook.remove()
    assert seen["two"] == -(-seen["one"] // 2)
    batch = fe(waves, sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        together = strided(**batch).logits
        alone = torch.cat([strided(**fe(w, sampling_rate=16000, return_tensors="pt")).logits for w in waves])
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)
    strided.save_pretrained(tmp_path)
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    assert loaded.net.blocks[0][0].stride == (2,)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(**batch).logits, together)


def test_ser_train_front_end_from_saves_a_model_with_the_stem(data_root, tmp_path, monkeypatch, tiny_whisper):
    import json

    from ser_hf.cli import main

    savee_corpora(data_root, tmp_path / "corpora")
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "model"
    assert main(["train", "--data", str(tmp_path / "corpora"), "--epochs", "1", "--threads", "1", "--split", "all",
                 "--front-end-from", str(tiny_whisper), "--output", str(out)]) == 0
    model = AutoModelForAudioClassification.from_pretrained(out)
    encoder = WhisperForAudioClassification.from_pretrained(tiny_whisper).encoder
    assert model.config.front_end == "whisper"
    assert torch.equal(model.net.front_end.conv2.weight, encoder.conv2.weight)
    assert json.loads((out / "training_config.json").read_text())["front_end_from"] == str(tiny_whisper)
    assert model.config.front_end_layers == 0
    layered = tmp_path / "layered"
    assert main(["train", "--data", str(tmp_path / "corpora"), "--epochs", "1", "--threads", "1", "--split", "all",
                 "--front-end-from", str(tiny_whisper), "--front-end-layers", "1", "--output", str(layered)]) == 0
    model = AutoModelForAudioClassification.from_pretrained(layered)
    assert model.config.front_end_layers == 1
    # Stored as the shipped model is (float16): the copy is Whisper's weights rounded to float16.
    assert torch.equal(model.net.front_end.layers[0].fc2.weight, encoder.layers[0].fc2.weight.half().float())



def test_ser_train_and_evaluate_take_the_shipped_design(data_root, tmp_path, monkeypatch, tiny_whisper, capsys):
    """--shipped-design trains models/ser-mfcc-cnn's design (stored as it is: float16, the layer's weights int8),
    and ser evaluate on a saved folder retrains the recipe that folder records, not a bare cnn1d."""
    import json

    from safetensors import safe_open

    from ser_hf.cli import build_parser, main
    from ser_hf.commands.evaluate import recipe_config
    from ser_hf.training import SHIPPED_DESIGN

    savee_corpora(data_root, tmp_path / "corpora")
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "model"
    assert main(["train", "--data", str(tmp_path / "corpora"), "--epochs", "1", "--threads", "1", "--split", "all",
                 "--shipped-design", "--front-end-from", str(tiny_whisper), "--pitch", "-2", "2",
                 "--output", str(out)]) == 0
    model = AutoModelForAudioClassification.from_pretrained(out)
    assert (model.config.front_end_layers, model.config.front_end_int8, model.config.front_end_stride) == (1, True, 4)
    with safe_open(out / "model.safetensors", "pt") as weights:
        dtypes = {weights.get_tensor(k).dtype for k in weights.keys()}
    assert torch.float16 in dtypes and torch.int8 in dtypes and torch.float32 not in dtypes
    recorded = json.loads((out / "training_config.json").read_text())
    assert recorded["model_overrides"] == SHIPPED_DESIGN and recorded["augmenter"] == {"semitones": [-2.0, 2.0]}

    def config(*argv):
        return recipe_config(build_parser().parse_args(["evaluate", *argv, "--data", str(tmp_path / "corpora")]))

    mine = config(str(out), "--threads", "1")
    assert (mine.model_overrides, mine.front_end_from, mine.epochs, mine.threads) == (SHIPPED_DESIGN, str(tiny_whisper), 1, 1)
    assert mine.augmenter == {"semitones": [-2.0, 2.0]}
    assert f"recipe: {out / 'training_config.json'}" in capsys.readouterr().out
    shipped = config("models/ser-mfcc-cnn", "--epochs", "2")
    assert shipped.model_overrides == SHIPPED_DESIGN and shipped.epochs == 2 and shipped.front_end_from
    assert config("mfcc-cnn").model_overrides == {} and config("mfcc-cnn").front_end_from is None
    assert main(["train", "--data", str(tmp_path / "corpora"), "--shipped-design", "--architecture", "seed",
                 "--output", str(tmp_path / "x")]) == 2
    assert "--shipped-design is the cnn1d network" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "corpora"), "--shipped-design", "--split", "all", "--front-end-from",
                 str(tmp_path / "no-whisper-here"), "--output", str(tmp_path / "x")]) == 2  # one line, no traceback
    assert "no-whisper-here: cannot load a Whisper encoder for the front end" in capsys.readouterr().err
    assert main(["evaluate", str(out), "--data", str(tmp_path / "corpora"), "--protocol", "loso", "--max-folds", "1",
                 "--threads", "1", "--output", str(tmp_path / "report")]) == 0
    assert json.loads((tmp_path / "report" / "report.json").read_text())["folds"][0]["test_clips"] == 3

def test_the_rebuild_script_puts_the_stem_in_the_per_clip_model_and_credits_whisper(data_root, tmp_path, monkeypatch,
                                                                                    tiny_whisper):
    """``scripts/train_baseline.py`` on a few clips of each corpus: the saved model carries Whisper's stem
    and its card names Whisper's licence beside the corpora's; ``--no-front-end`` trains without it."""
    import json
    import shutil
    import sys

    from conftest import REPO

    sys.path.insert(0, str(REPO / "scripts"))
    import train_baseline

    corpora = tmp_path / "corpora"
    picks = [*(data_root / "RAVDESS" / "Actor_01").glob("03-01-0[15]-01-01-01-01.flac"),
             *(data_root / "TESS" / "OAF_angry").glob("OAF_ba[cr]*_angry.flac"),
             *(data_root / "SAVEE").glob("DC_[an]0[12].flac")]
    for path in picks:
        target = corpora / path.relative_to(data_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    monkeypatch.setenv("SER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "model"
    assert train_baseline.main(["--data", str(corpora), "--output", str(out), "--threads", "1",
                                "--front-end-from", str(tiny_whisper)]) == 0
    model = AutoModelForAudioClassification.from_pretrained(out)
    encoder = WhisperForAudioClassification.from_pretrained(tiny_whisper).encoder
    # The stem and the first layer (int8), stored in float16: Whisper's weights to that rounding.
    assert model.config.front_end_layers == 1 and model.config.front_end_int8
    assert torch.equal(model.net.front_end.conv1.weight, encoder.conv1.weight.half().float())
    fc2 = model.net.front_end.layers[0].fc2
    torch.testing.assert_close(fc2.weight.float() * fc2.scale[:, None], encoder.layers[0].fc2.weight,
                               atol=float(fc2.scale.max()), rtol=0)
    info = json.loads((out / "training_info.json").read_text())
    assert info["clips"] == len(picks) and info["recipe"]["front_end_from"] == str(tiny_whisper)
    card = (out / "README.md").read_text()
    assert "Whisper tiny.en weights (MIT licence" in card and "CC BY-NC-SA 4.0" in card
    assert "first two convolutions and first transformer layer are OpenAI's" in card
    assert str(tmp_path) not in card  # the card names the checkpoint, not this machine's folders
    from ser_hf.augment import WaveAugmenter

    assert info["effects"]["semitones"] == list(WaveAugmenter().semitones)  # the copies' effects, recorded...
    assert f"pitch shift within {WaveAugmenter().semitones[1]:g} semitones" in card  # ...and on the card
    plain = tmp_path / "plain"
    assert train_baseline.main(["--data", str(corpora), "--output", str(plain), "--threads", "1", "--no-front-end"]) == 0
    assert AutoModelForAudioClassification.from_pretrained(plain).config.front_end is None
    assert "MIT" not in (plain / "README.md").read_text()


def test_a_seeded_model_starts_from_the_same_weights_whether_or_not_the_stem_was_read_before(tmp_path):
    """Reading a checkpoint draws random numbers; the first fold of a protocol (which reads it) must
    start from the same weights as the next ones (which reuse it)."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    checkpoint = save_tiny_whisper(tmp_path / "fresh", seed=3)
    # As whisper-tiny.en is stored: without a classification head, which loading then initialises.
    config = WhisperConfig.from_pretrained(checkpoint)
    WhisperForConditionalGeneration(config).save_pretrained(checkpoint)
    first, _ = build_baseline(NAMES, seed=0, front_end_from=checkpoint)
    second, _ = build_baseline(NAMES, seed=0, front_end_from=checkpoint)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_front_end_with_whispers_first_layer_gives_its_hidden_states_and_pads_as_alone(waves, tmp_path):
    """``front_end_layers=1``: the stem, then the checkpoint's first transformer layer with Whisper's
    positions: on Whisper's full window it gives exactly the encoder's ``hidden_states[1]`` (of two layers,
    as the last one is after the encoder's final norm); a padded clip scores as it does alone; the layer
    stays frozen in training and survives save and load."""
    checkpoint = save_tiny_whisper(tmp_path / "whisper", layers=2)
    model, fe = build_baseline(NAMES, seed=0, front_end_from=checkpoint, front_end_layers=1)
    model.eval()
    encoder = WhisperForAudioClassification.from_pretrained(checkpoint).encoder.eval()
    theirs = encoder.layers[0].state_dict()
    assert {k: v for k, v in model.net.front_end.layers[0].state_dict().items()}.keys() == theirs.keys()
    assert all(torch.equal(v, theirs[k]) for k, v in model.net.front_end.layers[0].state_dict().items())
    window = 2 * encoder.config.max_source_positions  # the input frames Whisper's encoder takes
    x = fe(np.concatenate(waves), sampling_rate=16000, return_tensors="pt")["input_features"][..., :window]
    assert x.shape[-1] == window
    scaled = x / 10.0
    scaled = (torch.maximum(scaled, scaled.max() - 8.0) + 4.0) / 4.0
    with torch.inference_mode():
        ours, mask = model.front_end_features(x)
        expected = encoder(scaled, output_hidden_states=True).hidden_states[1]
    assert bool(mask.all()) and ours.shape == expected.transpose(1, 2).shape
    torch.testing.assert_close(ours, expected.transpose(1, 2), atol=1e-5, rtol=1e-4)
    batch = fe(waves, sampling_rate=16000, return_tensors="pt")
    assert len(set(batch["attention_mask"].sum(-1).tolist())) > 1
    with torch.inference_mode():
        together = model(**batch).logits
        alone = torch.cat([model(**fe(w, sampling_rate=16000, return_tensors="pt")).logits for w in waves])
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)
    model.save_pretrained(tmp_path / "model")
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path / "model")
    assert loaded.config.front_end_layers == 1
    with torch.inference_mode():
        torch.testing.assert_close(loaded.eval()(**batch).logits, together)
    loaded.train()
    loaded(**batch, labels=torch.tensor([0, 1, 2])).loss.backward()
    assert all(p.grad is None for p in loaded.net.front_end.parameters())
    assert all(p.grad is not None for p in loaded.net.blocks.parameters())
    with pytest.raises(ValueError, match="has 2 layers"):
        build_baseline(NAMES, front_end_from=checkpoint, front_end_layers=3)
    with pytest.raises(ValueError, match="needs a front end"):
        MfccCnnConfig(front_end_layers=1)


def test_an_attention_only_front_end_layer_keeps_the_attention_half_and_stores_no_feed_forward(waves, tmp_path):
    """``front_end_ffn_dim=0``: the first layer's attention (with its norm and residual) behind the stem, as
    Whisper computes it, and nothing of the feed-forward half in the model or its saved weights."""
    from safetensors import safe_open

    checkpoint = save_tiny_whisper(tmp_path / "whisper", layers=2)
    model, fe = build_baseline(NAMES, seed=0, front_end_from=checkpoint, front_end_layers=1, front_end_ffn_dim=0)
    model.eval()
    encoder = WhisperForAudioClassification.from_pretrained(checkpoint).encoder.eval()
    x = fe(waves[0], sampling_rate=16000, return_tensors="pt")["input_features"][..., :2 * encoder.config.max_source_positions]
    scaled = x / 10.0
    scaled = (torch.maximum(scaled, scaled.max() - 8.0) + 4.0) / 4.0
    with torch.inference_mode():
        ours, _ = model.front_end_features(x)
        h = nn_gelu(encoder.conv2(nn_gelu(encoder.conv1(scaled)))).transpose(1, 2)
        h = h + encoder.embed_positions.weight[:h.shape[1]]
        layer = encoder.layers[0]
        expected = h + layer.self_attn(layer.self_attn_layer_norm(h))[0]
    torch.testing.assert_close(ours, expected.transpose(1, 2), atol=1e-5, rtol=1e-4)
    model.save_pretrained(tmp_path / "model")
    with safe_open(tmp_path / "model" / "model.safetensors", "pt") as f:
        stored = list(f.keys())
    assert any(".self_attn." in k for k in stored) and not any(".fc1." in k or ".fc2." in k for k in stored)
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path / "model").eval()
    with torch.inference_mode():
        torch.testing.assert_close(loaded.front_end_features(x)[0], ours)


def test_a_model_saved_in_half_loads_in_float_and_scores_as_before(stem_model, waves, tmp_path):
    """``save_pretrained_half``: half the file, float32 weights after loading, the same scores to rounding."""
    from ser_hf.models import save_pretrained_half

    model, fe = stem_model
    model.eval()
    model.save_pretrained(tmp_path / "float")
    save_pretrained_half(model, tmp_path / "half")
    full, half = ((tmp_path / name / "model.safetensors").stat().st_size for name in ("float", "half"))
    assert half < 0.55 * full
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path / "half").eval()
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    batch = fe(waves, sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        torch.testing.assert_close(loaded(**batch).logits.softmax(-1), model(**batch).logits.softmax(-1),
                                   atol=5e-3, rtol=0)


def test_a_narrowed_feed_forward_keeps_the_units_of_largest_weights_and_computes_the_rest_as_zero(waves, tmp_path):
    """``front_end_ffn_dim`` below the checkpoint's: the layer keeps the units whose input and output weights
    have the largest norms, in their order, and gives what the full layer gives with the others silenced."""
    checkpoint = save_tiny_whisper(tmp_path / "whisper", layers=2)
    encoder = WhisperForAudioClassification.from_pretrained(checkpoint).encoder.eval()
    full, fe = build_baseline(NAMES, seed=0, front_end_from=checkpoint, front_end_layers=1)
    narrow, _ = build_baseline(NAMES, seed=0, front_end_from=checkpoint, front_end_layers=1, front_end_ffn_dim=20)
    layer = encoder.layers[0]
    score = layer.fc1.weight.norm(dim=1) * layer.fc2.weight.norm(dim=0)
    keep = sorted(score.argsort(descending=True)[:20].tolist())
    assert narrow.config.front_end_ffn_dim == 20 and full.config.front_end_ffn_dim == layer.fc1.out_features == 37
    torch.testing.assert_close(narrow.net.front_end.layers[0].fc1.weight, layer.fc1.weight[keep], atol=0, rtol=0)
    torch.testing.assert_close(narrow.net.front_end.layers[0].fc2.weight, layer.fc2.weight[:, keep], atol=0, rtol=0)
    silenced = [j for j in range(37) if j not in keep]
    with torch.no_grad():  # the full layer with the other units' output weights zeroed
        full.net.front_end.layers[0].fc2.weight[:, silenced] = 0
    x = fe(waves[0], sampling_rate=16000, return_tensors="pt")["input_features"]
    with torch.inference_mode():
        torch.testing.assert_close(narrow.eval().front_end_features(x)[0], full.eval().front_end_features(x)[0],
                                   atol=1e-5, rtol=1e-4)


def test_an_int8_front_end_layer_stores_a_quarter_and_reads_as_the_float_one_to_rounding(waves, tmp_path):
    """``front_end_int8``: the layer's linear weights are int8 rows with a scale each, within half a step
    of the checkpoint's; the front end's output stays within a few percent of the float layer's; saved
    (in half) and loaded, the model gives the same frames; the option needs a frozen layer."""
    from ser_hf.models import save_pretrained_half

    checkpoint = save_tiny_whisper(tmp_path / "whisper", layers=2)
    encoder = WhisperForAudioClassification.from_pretrained(checkpoint).encoder.eval()
    plain, fe = build_baseline(NAMES, seed=0, front_end_from=checkpoint, front_end_layers=1)
    rounded, _ = build_baseline(NAMES, seed=0, front_end_from=checkpoint, front_end_layers=1, front_end_int8=True)
    fc1 = rounded.net.front_end.layers[0].fc1
    assert fc1.weight.dtype == torch.int8 and int(fc1.weight.abs().max()) == 127
    step = fc1.scale[:, None]
    assert bool(((fc1.weight.float() * step - encoder.layers[0].fc1.weight).abs() <= step / 2 + 1e-7).all())
    assert not any(isinstance(m, torch.nn.Linear) for m in rounded.net.front_end.layers.modules())
    x = fe(waves[0], sampling_rate=16000, return_tensors="pt")["input_features"]
    with torch.inference_mode():
        ours, theirs = rounded.eval().front_end_features(x)[0], plain.eval().front_end_features(x)[0]
    assert float((ours - theirs).norm() / theirs.norm()) < 0.03
    save_pretrained_half(rounded, tmp_path / "model")
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path / "model").eval()
    assert loaded.net.front_end.layers[0].fc1.weight.dtype == torch.int8
    with torch.inference_mode():
        torch.testing.assert_close(loaded.front_end_features(x)[0], ours, atol=2e-2, rtol=1e-2)
    # The float weights kept between calls follow a change of the int8 ones.
    loaded.net.front_end.layers[0].fc2.weight.zero_()
    with torch.inference_mode():
        silenced = loaded.front_end_features(x)[0]
    assert not torch.allclose(silenced, ours, atol=1e-2)
    with pytest.raises(ValueError, match="front_end_int8"):
        MfccCnnConfig(front_end="whisper", front_end_int8=True)


def test_a_stride_four_stem_gives_every_other_frame_of_whispers_and_its_layer_pads_as_alone(waves, data_root, tmp_path):
    """``front_end_stride=4``: the stem's second convolution reads every 4th frame, so its frames are exactly
    every other one of the stride-2 stem's (no new weights, none retrained); with the first layer behind it,
    a padded clip scores as alone, the stride survives save and load, and the cache keeps the two apart."""
    checkpoint = save_tiny_whisper(tmp_path / "whisper", layers=1)
    plain, fe = build_baseline(NAMES, seed=0, front_end_from=checkpoint)
    strided, _ = build_baseline(NAMES, seed=0, front_end_from=checkpoint, front_end_stride=4)
    x = fe(waves[0], sampling_rate=16000, return_tensors="pt")["input_features"]
    assert strided.front_end_stride == 4 and plain.front_end_stride == 2
    with torch.inference_mode():
        every, _ = plain.eval().front_end_features(x)
        fewer, mask = strided.eval().front_end_features(x)
    assert fewer.shape[-1] == int(mask.sum()) == -(-x.shape[-1] // 4)
    torch.testing.assert_close(fewer, every[..., ::2])
    layered, _ = build_baseline(NAMES, seed=0, front_end_from=checkpoint, front_end_layers=1, front_end_int8=True,
                                front_end_stride=4)
    layered.eval()
    batch = fe(waves, sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        together = layered(**batch).logits
        alone = torch.cat([layered(**fe(w, sampling_rate=16000, return_tensors="pt")).logits for w in waves])
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)
    layered.save_pretrained(tmp_path / "model")
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path / "model").eval()
    assert loaded.config.front_end_stride == 4 and loaded.net.front_end.conv2.stride == (4,)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(**batch).logits, together)
    # The same stem weights at another stride are another cache entry, with a quarter of the frames.
    features = featurize(_savee_table(data_root), fe, cache_dir=tmp_path / "cache")
    two, four = (front_end_frames(features, m, cache_dir=tmp_path / "cache") for m in (plain, strided))
    assert two.cache_files != four.cache_files
    assert [r["length"] for r in four] == [-(-r["length"] // 4) for r in features]
    for bad in (3, 16):
        with pytest.raises(ValueError, match="front_end_stride"):
            MfccCnnConfig(front_end="whisper", front_end_stride=bad)
    with pytest.raises(ValueError, match="front_end_stride"):
        MfccCnnConfig(front_end_stride=4)  # no stem to stride
