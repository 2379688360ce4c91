"""finetune/train.py end to end on real clips, the Whisper window, and the shipped checkpoint.

The backbone is a tiny random wav2vec2 (hidden size 32) built here: no weights can be downloaded,
and the script must work for any ``AutoModelForAudioClassification`` backbone, not only Whisper.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ser_hf.taxonomy import label_names

REPO = Path(__file__).resolve().parents[1]
TRAIN = REPO / "finetune" / "train.py"
SHIPPED = REPO / "models" / "ser-whisper-tiny"
STEPS = 24  # 16 clips in batches of 8: twelve epochs, enough for a random model to start fitting them


def _env() -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false"}


def _launch(args: list[str], accelerate: bool = True, ddp_port: int | None = None) -> subprocess.CompletedProcess:
    """Run train.py: plainly, through ``accelerate launch --cpu``, or (``ddp_port``) as two DDP processes."""
    processes = ["--cpu", "--num_processes", "1"] if ddp_port is None else \
        ["--multi_gpu", "--num_processes", "2", "--main_process_port", str(ddp_port)]
    launcher = ([sys.executable, "-m", "accelerate.commands.launch", *processes,
                 "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
                if accelerate else [sys.executable])
    done = subprocess.run([*launcher, str(TRAIN), *args], env=_env(), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _tiny_wav2vec2(folder: Path) -> Path:
    """A random wav2vec2 with layer-norm feature extraction, i.e. one trained with an attention mask."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(0)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                            conv_dim=(32, 32), conv_kernel=(16, 10), conv_stride=(16, 10), feat_extract_norm="layer",
                            do_stable_layer_norm=True, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                            classifier_proj_size=16)
    Wav2Vec2ForSequenceClassification(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=True).save_pretrained(folder)
    return folder


def _args(backbone: Path, data_root: Path, out: Path) -> list[str]:
    return ["--model_name_or_path", str(backbone), "--data_root", str(data_root), "--corpora", "savee",
            "--label_set", "7", "--protocol", "loso", "--fold", "0", "--max_train_samples", "16",
            "--max_eval_samples", "16", "--max_length_seconds", "3", "--per_device_train_batch_size", "8",
            "--per_device_eval_batch_size", "16", "--learning_rate", "1e-2", "--lr_scheduler_type", "constant",
            "--freeze_feature_encoder", "False",
            "--max_steps", str(STEPS), "--logging_strategy", "steps", "--logging_steps", "1",
            "--eval_strategy", "steps", "--eval_steps", str(STEPS // 2), "--save_strategy", "steps",
            "--save_steps", str(STEPS // 2), "--load_best_model_at_end", "False", "--dataloader_pin_memory", "False",
            "--seed", "0", "--output_dir", str(out)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_root):
    """One short accelerate run: (backbone folder, run folder, its trainer_state)."""
    root = tmp_path_factory.mktemp("finetune")
    backbone, out = _tiny_wav2vec2(root / "backbone"), root / "run"
    _launch(_args(backbone, data_root, out))
    return backbone, out, json.loads((out / "trainer_state.json").read_text())


def _losses(state: dict) -> dict[int, float]:
    return {h["step"]: h["loss"] for h in state["log_history"] if "loss" in h}


def test_training_loss_falls_and_evaluates_each_round(trained):
    _, out, state = trained
    losses = _losses(state)
    assert sorted(losses) == list(range(1, STEPS + 1))
    # Batches are small and crops random: compare the first two epochs with the last four.
    first, last = np.mean([losses[s] for s in range(1, 5)]), np.mean([losses[s] for s in range(STEPS - 7, STEPS + 1)])
    assert last < first - 0.05, f"loss did not fall: first steps {first:.3f}, last steps {last:.3f}"
    evals = [h for h in state["log_history"] if "eval_unweighted_accuracy" in h]
    assert [h["step"] for h in evals][:2] == [STEPS // 2, STEPS]
    assert all({"eval_accuracy", "eval_macro_f1"} <= set(h) for h in evals)
    results = json.loads((out / "all_results.json").read_text())
    assert results["recipe"]["attention_mask_used"] is True  # layer-norm wav2vec2 was trained with a mask
    card = (out / "README.md").read_text()
    assert "leave one speaker out" in card and "SAVEE" in card and "free for research use" in card


def test_resume_continues_at_the_checkpoint_step(trained, data_root, tmp_path):
    backbone, out, state = trained
    checkpoint = out / f"checkpoint-{STEPS // 2}"
    resumed_dir = tmp_path / "resumed"
    _launch([*_args(backbone, data_root, resumed_dir), "--resume_from_checkpoint", str(checkpoint)], accelerate=False)
    resumed = json.loads((resumed_dir / "trainer_state.json").read_text())
    assert resumed["global_step"] == STEPS
    losses, before = _losses(resumed), _losses(state)
    assert sorted(losses) == list(range(1, STEPS + 1))  # no step trained twice, none skipped
    # The first half comes from the checkpoint unchanged: training went on from there, not from scratch.
    assert [losses[s] for s in range(1, STEPS // 2 + 1)] == [before[s] for s in range(1, STEPS // 2 + 1)]


def test_saved_model_serves_in_the_pipeline(trained, data_root):
    from transformers import pipeline

    _, out, _ = trained
    classify = pipeline("audio-classification", model=str(out), device="cpu")
    clips = sorted((data_root / "SAVEE").glob("JK_*.flac"))[:2]
    for clip in clips:
        scores = classify(str(clip), top_k=None)
        assert sorted(s["label"] for s in scores) == sorted(label_names("7"))
        assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-4)


def test_ddp_processes_train_one_model_on_a_mean_loss(tmp_path, data_root):
    """Two DistributedDataParallel processes (gloo on CPU: the multi-GPU code path without GPUs).

    They share the steps (one epoch is half the steps of one process), the logged loss is the mean
    cross-entropy and not that times the process count (Trainer's default token averaging across
    devices would scale a clip classifier's loss, and its gradients, by the number of GPUs), and the
    main process alone writes a model that serves in the pipeline.
    """
    import socket

    from transformers import pipeline

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    backbone, out = _tiny_wav2vec2(tmp_path / "backbone"), tmp_path / "ddp"
    args = _args(backbone, data_root, out)
    args[args.index("--max_train_samples") + 1] = "32"
    args[args.index("--per_device_train_batch_size") + 1] = "4"
    args[args.index("--max_steps") + 1] = "4"
    args[args.index("--save_strategy") + 1] = "no"
    args[args.index("--eval_strategy") + 1] = "no"
    _launch([*args, "--use_cpu"], ddp_port=port)
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and state["epoch"] == pytest.approx(1.0)  # 4 steps x 4 clips x 2 processes = 32
    first = _losses(state)[1]
    assert abs(first - np.log(7)) < 0.5, f"first loss {first:.2f}: not a mean over 7 classes (ln 7 = 1.95)"
    classify = pipeline("audio-classification", model=str(out), device="cpu")
    scores = classify(str(sorted((data_root / "SAVEE").glob("JK_*.flac"))[0]), top_k=None)
    assert sorted(s["label"] for s in scores) == sorted(label_names("7"))


def test_unreachable_hub_id_gives_one_clear_message(tmp_path):
    done = subprocess.run([sys.executable, str(TRAIN), "--model_name_or_path", "facebook/wav2vec2-base",
                           "--output_dir", str(tmp_path / "out")], env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "cannot load model 'facebook/wav2vec2-base'" in done.stderr
    assert "Pass a local folder" in done.stderr
    assert "Traceback" not in done.stderr



def test_push_to_hub_uploads_the_model_with_its_card(tmp_path, data_root):
    """--push_to_hub against a Hub on loopback (tests/hub_server.py): the real Trainer upload, then the model
    comes back by its repo id with the output folder's predictions."""
    from hub_server import client_env, serve

    server, repos = serve()
    try:
        backbone, out = _tiny_wav2vec2(tmp_path / "backbone"), tmp_path / "run"
        env = client_env(server, _env(), tmp_path / "hf_home")
        args = _args(backbone, data_root, out) + ["--max_steps", "4", "--eval_steps", "4", "--save_steps", "4",
                                                  "--push_to_hub", "True", "--hub_model_id", "me/ser-wav2vec2"]
        done = subprocess.run([sys.executable, str(TRAIN), *args], env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-3000:]
        pushed = repos["me/ser-wav2vec2"]
        assert {"config.json", "model.safetensors", "preprocessor_config.json", "README.md"} <= set(pushed)
        card = pushed["README.md"].decode()
        assert card == (out / "README.md").read_text()  # the project's card (labels, licences, figures), not a stub
        assert "license: cc-by-nc-sa-4.0" in card and "| 3 | angry |" in card and "fine-tuned with `finetune/train.py`" in card
        clip = str(data_root / "SAVEE" / "DC_a01.flac")
        code = ("import json, sys; from transformers import pipeline; "
                "print(json.dumps([pipeline('audio-classification', model=m)(sys.argv[3], top_k=None) for m in sys.argv[1:3]]))")
        back = subprocess.run([sys.executable, "-c", code, "me/ser-wav2vec2", str(out), clip], env=env,
                              capture_output=True, text=True, timeout=120)
        assert back.returncode == 0, back.stderr[-3000:]
        from_hub, local = json.loads(back.stdout.splitlines()[-1])
        assert from_hub == local and len(local) == 7
    finally:
        server.shutdown()

def _tiny_whisper():
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForAudioClassification

    torch.manual_seed(0)
    config = WhisperConfig(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=37,
                           decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=37, num_mel_bins=80,
                           classifier_proj_size=16, vocab_size=100, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                           decoder_start_token_id=3, num_labels=7, id2label=dict(enumerate(label_names("7"))),
                           label2id={n: i for i, n in enumerate(label_names("7"))})
    return WhisperForAudioClassification(config).eval(), WhisperFeatureExtractor(feature_size=80)


def test_whisper_window_is_cut_and_served_by_stock_classes(tmp_path, data_root):
    from transformers import AutoModelForAudioClassification, pipeline

    from ser_hf.audio import load_audio
    from ser_hf.models.whisper_clip import fit_window, freeze_front_end, own_length, own_length_features

    model, fe = _tiny_whisper()
    reference, _ = _tiny_whisper()  # same seed, same weights, 30 s window
    assert fit_window(model, fe, 2.5) == 3
    assert model.config.max_source_positions == 150 and fe.n_samples == 48000 and fe.nb_max_frames == 300
    audio = load_audio(next((data_root / "SAVEE").glob("DC_a01.flac")))
    features = fe(audio, sampling_rate=16000, return_tensors="pt").input_features
    assert features.shape[-1] == 300  # padded or truncated to 3 s, not 30 s
    with torch.no_grad(), own_length(reference, 300):
        expected = reference(features).logits
    with torch.no_grad():
        assert torch.allclose(model(features).logits, expected, atol=1e-5)
    assert reference.config.max_source_positions == 1500  # own_length restores the window
    assert own_length_features(fe, audio[:16000]).shape[-1] == 100

    frozen = freeze_front_end(model, lower_layers=1)
    assert frozen == ["encoder.conv1", "encoder.conv2", "layer0"]
    assert not any(p.requires_grad for p in model.encoder.layers[0].parameters())
    assert all(p.requires_grad for p in model.encoder.layers[1].parameters())

    model.save_pretrained(tmp_path)
    fe.save_pretrained(tmp_path)
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path)
    assert type(loaded).__name__ == "WhisperForAudioClassification"
    classify = pipeline("audio-classification", model=str(tmp_path), device="cpu")
    for clip in (audio, audio[:8000], np.tile(audio, 3)):  # 3.5 s, 0.5 s, 10 s
        scores = classify({"raw": clip, "sampling_rate": 16000}, top_k=None)
        assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-4)


def test_shipped_model_classifies_real_clips(data_root):
    """The shipped fine-tuned Whisper loads with stock classes and recognises clips it was trained on."""
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification, pipeline

    assert (SHIPPED / "model.safetensors").stat().st_size < 20e6
    model = AutoModelForAudioClassification.from_pretrained(SHIPPED)
    assert model.config.id2label == dict(enumerate(label_names("7")))
    assert AutoFeatureExtractor.from_pretrained(SHIPPED).n_samples <= 5 * 16000  # not Whisper's 30 s
    classify = pipeline("audio-classification", model=str(SHIPPED), device="cpu")
    clips = {"angry": "TESS/YAF_angry/YAF_back_angry.flac", "sad": "TESS/OAF_Sad/OAF_back_sad.flac",
             "happy": "SAVEE/DC_h01.flac", "neutral": "SAVEE/JE_n01.flac",
             "fearful": "RAVDESS/Actor_01/03-01-06-02-01-01-01.flac",
             "disgust": "RAVDESS/Actor_02/03-01-07-02-01-01-02.flac",
             "surprised": "TESS/YAF_pleasant_surprised/YAF_back_ps.flac"}
    right = 0
    for emotion, clip in clips.items():
        scores = classify(str(data_root / clip), top_k=None)
        assert sorted(s["label"] for s in scores) == sorted(label_names("7"))
        assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-3)
        right += scores[0]["label"] == emotion
    assert right >= 4, f"only {right} of 7 training clips recognised: a broken export?"


def _train_module():
    sys.path.insert(0, str(TRAIN.parent))
    import train

    return train


def test_extra_corpora_join_training_only(tmp_path, data_root):
    """SAVEE speaker DC held out; all of RAVDESS joins the 360 SAVEE training clips, never the evaluation."""
    args = [*_args(_tiny_wav2vec2(tmp_path / "backbone"), data_root, tmp_path / "run"), "--extra_train_corpora", "ravdess",
            "--do_train", "False"]
    results = _train_module().main(args)
    assert results["train_samples"] == 16  # --max_train_samples applies after the join
    args[args.index("--max_train_samples") + 1] = "100000"
    results = _train_module().main(args)
    assert results["train_samples"] == 360 + 1200
    assert results["eval_samples"] == 16 and results["recipe"]["extra_train_corpora"] == ["ravdess"]


def test_extra_corpora_sharing_test_speakers_are_refused(tmp_path, data_root):
    args = [*_args(_tiny_wav2vec2(tmp_path / "backbone"), data_root, tmp_path / "run"), "--extra_train_corpora", "savee"]
    with pytest.raises(SystemExit, match="share speakers with the evaluation split"):
        _train_module().main(args)


def test_spec_augment_masks_bands_and_workers_draw_their_own_crops(data_root, monkeypatch):
    from transformers import WhisperFeatureExtractor

    train = _train_module()
    rows = [{"path": str(p), "emotion": 0} for p in sorted((data_root / "SAVEE").glob("DC_a0*.flac"))[:4]]
    fe = WhisperFeatureExtractor(feature_size=80, chunk_length=3)
    plain = train.AudioBatches(fe, True, 48000, False, seed=0)(rows)["input_features"]
    masked = train.AudioBatches(fe, True, 48000, False, spec_masks=2, seed=0)(rows)["input_features"]
    changed = (plain != masked)
    assert changed.any() and changed.float().mean() < 0.6  # bands, not the whole clip
    evaluation = train.AudioBatches(fe, False, 48000, False, spec_masks=2, seed=0)(rows)["input_features"]
    assert torch.equal(evaluation, fe([train.load_audio(r["path"]) for r in rows], sampling_rate=16000,
                                      return_tensors="pt")["input_features"])  # never at evaluation

    class Worker:  # what torch.utils.data.get_worker_info() gives inside a dataloader worker
        def __init__(self, seed):
            self.seed = seed

    crops = []
    for seed in (11, 12):
        monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda seed=seed: Worker(seed))
        crops.append(train.AudioBatches(fe, True, 8000, False, seed=0)(rows)["input_features"])
    assert not torch.equal(crops[0], crops[1])


def test_linear_probe_epochs_train_the_head_before_the_backbone(tmp_path, data_root):
    """LP-FT: after one head-only epoch the backbone is as loaded and the head has moved; after a
    second epoch the backbone has moved too."""
    from safetensors.torch import load_file

    backbone = _tiny_wav2vec2(tmp_path / "backbone")
    start = load_file(backbone / "model.safetensors")
    moved = {}
    for steps in (2, 4):  # 16 clips in batches of 8: 2 steps an epoch
        args = _args(backbone, data_root, tmp_path / f"run{steps}")
        args[args.index("--max_steps") + 1] = str(steps)
        args += ["--linear_probe_epochs", "1", "--save_strategy", "no", "--eval_strategy", "no"]
        _train_module().main(args)
        weights = load_file(tmp_path / f"run{steps}" / "model.safetensors")
        moved[steps] = {name for name, w in weights.items() if not torch.equal(w, start[name])}
    assert moved[2] and all(name.startswith(("projector.", "classifier.")) for name in moved[2])
    assert any(name.startswith("wav2vec2.encoder.") for name in moved[4])
