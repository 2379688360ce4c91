#!/usr/bin/env python
"""Fine-tune any audio-classification backbone for speech emotion recognition with ``Trainer``.

In the shape of transformers' ``examples/pytorch/audio-classification/run_audio_classification.py``:
arguments are dataclasses (``--help`` lists them all, every ``TrainingArguments`` option included),
``Trainer`` owns the loop, checkpoints, resumption, logging and ``push_to_hub``; ``accelerate launch``
runs it on a CPU, one GPU or many (``finetune/accelerate/*.yaml``).

    python finetune/train.py --model_name_or_path ../shared/models/whisper-tiny.en \\
        --corpora ravdess --label_set 8 --protocol kfold --fold 0 --output_dir runs/ravdess0 ...
    python finetune/train.py finetune/recipes/whisper_tiny.json --output_dir runs/x   # replay a recipe

A first argument ending in ``.json`` supplies defaults; the command line overrides them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
import transformers
from transformers import (AutoConfig, AutoFeatureExtractor, AutoModelForAudioClassification, HfArgumentParser,
                          TrainerCallback, TrainingArguments, set_seed)
from transformers.trainer_utils import get_last_checkpoint

import ser_hf
from ser_hf.audio import load_audio
from ser_hf.metrics import compute_metrics
from ser_hf.models.whisper_clip import fit_window, freeze_front_end
from ser_hf.splits import PROTOCOLS, protocol_folds
from ser_hf.trainer import ClipTrainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_card import write_model_card  # noqa: E402  (a sibling file: the script runs from anywhere)

logger = logging.getLogger(__name__)
DEFAULT_DATA = os.environ.get("SER_DATA", "../shared/corpora")
HEAD_PREFIXES = ("projector.", "classifier.", "layer_weights")


@dataclass
class DataTrainingArguments:
    """Which corpora, labels and speaker-independent split to train and evaluate on."""

    data_root: str = field(default=DEFAULT_DATA, metadata={"help": "folder holding RAVDESS/, TESS/, SAVEE/, CREMA-D/ (env SER_DATA)"})
    corpora: list[str] = field(default_factory=lambda: ["ravdess", "tess", "savee"],
                               metadata={"help": "corpora to use: ravdess crema_d tess savee"})
    label_set: str = field(default="7", metadata={"help": "label set: 8, 7 (calm->neutral), 6 or 4"})
    protocol: str = field(default="kfold", metadata={"help": f"split protocol: {', '.join(PROTOCOLS)}, or none (train on everything)"})
    fold: int = field(default=0, metadata={"help": "which fold of the protocol to train and evaluate"})
    n_folds: int = field(default=5, metadata={"help": "folds for --protocol kfold"})
    split_seed: int = field(default=0, metadata={"help": "seed of the speaker folds (kept apart from --seed so folds stay put)"})
    max_length_seconds: float = field(default=4.0, metadata={"help": "random crop for training; Whisper's input window"})
    max_train_samples: int | None = field(default=None, metadata={"help": "truncate the training set (debugging, tests)"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "truncate the evaluation set"})
    class_weighted_loss: bool = field(default=False, metadata={"help": "weight the loss by inverse class frequency"})
    augment_gain_db: float = field(default=0.0, metadata={"help": "random gain in +-dB on training crops (0: off)"})
    augment_noise_snr_db: float | None = field(default=None, metadata={"help": "add white noise at a random SNR above this (dB)"})
    augment_spec_masks: int = field(default=0, metadata={
        "help": "SpecAugment on 2-D input features (Whisper's log-mel): this many time and frequency masks per clip "
                "(0: off; wav2vec2-style backbones mask inside the model, mask_time_prob)"})
    extra_train_corpora: list[str] = field(default_factory=list, metadata={
        "help": "corpora added whole to the training split only (more speakers to learn from; never evaluated)"})


@dataclass
class ModelArguments:
    """Which pretrained backbone to start from and what of it to train."""

    model_name_or_path: str = field(default="facebook/wav2vec2-base",
                                    metadata={"help": "Hub id or local folder of any AutoModelForAudioClassification backbone"})
    model_revision: str = field(default="main", metadata={"help": "branch, tag or commit of a Hub model"})
    cache_dir: str | None = field(default=None, metadata={"help": "where Hub downloads are cached"})
    token: str | None = field(default=None, metadata={"help": "Hub token (or `hf auth login`)"})
    freeze_feature_encoder: bool = field(default=True, metadata={"help": "freeze the convolutional front end"})
    freeze_encoder_layers: int = field(default=0, metadata={"help": "also freeze the N lowest transformer layers"})
    attention_mask: bool = field(default=True, metadata={
        "help": "pass an attention mask to backbones trained with one (feat_extract_norm == 'layer')"})
    head_learning_rate: float | None = field(default=None, metadata={"help": "learning rate of the new head (default: --learning_rate)"})
    linear_probe_epochs: int = field(default=0, metadata={
        "help": "train only the new head for the first N epochs, then the backbone layers left trainable too "
                "(LP-FT: a fitted head distorts the pretrained features less than a random one; one process or "
                "DDP with --ddp_find_unused_parameters True)"})
    config_overrides: str | None = field(default=None, metadata={
        "help": "config changes, e.g. 'dropout=0.1,encoder_layerdrop=0.1' (Whisper) or 'hidden_dropout=0.1' (wav2vec2)"})


def parse_args(argv: list[str]):
    parser = HfArgumentParser((ModelArguments, DataTrainingArguments, TrainingArguments))
    # Task defaults (each overridable): train, evaluate every epoch, keep the best epoch by UA.
    parser.set_defaults(do_train=True, eval_strategy="epoch", save_strategy="epoch", logging_strategy="epoch",
                        metric_for_best_model="unweighted_accuracy", greater_is_better=True,
                        load_best_model_at_end=True, save_total_limit=2, report_to="none")
    if argv and argv[0].endswith(".json"):
        parser.set_defaults(**json.loads(Path(argv[0]).read_text()))
        argv = argv[1:]
    return parser.parse_args_into_dataclasses(argv)


def load_backbone(model_args: ModelArguments, labels: list[str]):
    """Config, feature extractor and model; a Hub id that cannot be fetched ends with one clear message."""
    label2id = {name: i for i, name in enumerate(labels)}
    hub = dict(cache_dir=model_args.cache_dir, revision=model_args.model_revision, token=model_args.token)
    name = model_args.model_name_or_path
    try:
        config = AutoConfig.from_pretrained(name, num_labels=len(labels), label2id=label2id,
                                            id2label=dict(enumerate(labels)), finetuning_task="audio-classification", **hub)
        feature_extractor = AutoFeatureExtractor.from_pretrained(name, **hub)
    except OSError as exc:
        where = "a local folder" if Path(name).exists() else "the Hugging Face Hub (offline, or no such model)"
        raise SystemExit(
            f"train.py: error: cannot load model {name!r} from {where}: {str(exc).splitlines()[0]}\n"
            f"Pass a local folder holding config.json and the weights, e.g. "
            f"--model_name_or_path ../shared/models/whisper-tiny.en") from None
    if model_args.config_overrides:
        config.update_from_string(model_args.config_overrides)
    model = AutoModelForAudioClassification.from_pretrained(name, config=config, ignore_mismatched_sizes=True, **hub)
    return config, feature_extractor, model


class AudioBatches:
    """Decode, crop and extract features for a batch; pad with the feature extractor.

    Training crops a random ``max_samples`` window (new each epoch); evaluation takes whole clips.
    Whisper's feature extractor pads to its (shortened) window by itself, so no backbone-specific
    branch is needed here.
    """

    def __init__(self, feature_extractor, train: bool, max_samples: int, attention_mask: bool,
                 gain_db: float = 0.0, noise_snr_db: float | None = None, spec_masks: int = 0, seed: int = 0):
        self.fe, self.train, self.max_samples, self.attention_mask = feature_extractor, train, max_samples, attention_mask
        self.gain_db, self.noise_snr_db, self.spec_masks = gain_db, noise_snr_db, spec_masks
        self.rng = np.random.default_rng(seed)
        self._worker_seed = None

    def _generator(self) -> np.random.Generator:
        """The collator's own generator, or in a dataloader worker one seeded by that worker's seed:
        each worker gets a fresh copy of the collator every epoch, so its own copy of ``self.rng``
        would give every worker, every epoch, the same crops."""
        info = torch.utils.data.get_worker_info()
        if info is not None and self._worker_seed != info.seed:
            self.rng, self._worker_seed = np.random.default_rng(info.seed), info.seed
        return self.rng

    def _prepare(self, audio: np.ndarray) -> np.ndarray:
        if not self.train:
            return audio
        rng = self._generator()
        if len(audio) > self.max_samples:
            start = int(rng.integers(0, len(audio) - self.max_samples + 1))
            audio = audio[start:start + self.max_samples]
        if self.gain_db:
            audio = audio * 10 ** (rng.uniform(-self.gain_db, self.gain_db) / 20)
        if self.noise_snr_db is not None:
            snr = rng.uniform(self.noise_snr_db, self.noise_snr_db + 20)
            power = float(np.mean(audio ** 2)) + 1e-10
            audio = audio + rng.normal(0, math.sqrt(power / 10 ** (snr / 10)), len(audio)).astype(np.float32)
        return audio.astype(np.float32)

    def __call__(self, rows: list[dict]) -> dict:
        audio = [self._prepare(load_audio(r["path"])) for r in rows]
        kwargs = {"return_attention_mask": True} if self.attention_mask else {}
        features = self.fe(audio, sampling_rate=self.fe.sampling_rate, **kwargs)
        items = [{k: features[k][i] for k in features} for i in range(len(audio))]
        batch = self.fe.pad(items, padding=True, return_tensors="pt")
        if self.train and self.spec_masks and batch.get("input_features") is not None:
            self._spec_augment(batch["input_features"])
        batch["labels"] = torch.tensor([r["emotion"] for r in rows])
        return batch

    def _spec_augment(self, features: torch.Tensor) -> None:
        """SpecAugment (Park et al. 2019) in place on (batch, mel, frames): bands of up to 10 % of the
        frames and 15 % of the mel bins, filled with each clip's mean. WhisperForAudioClassification
        has no masking of its own (only WhisperModel applies ``apply_spec_augment``)."""
        _, bins, frames = features.shape
        rng = self._generator()
        for clip in features:
            fill = clip.mean()
            for _ in range(self.spec_masks):
                width = int(rng.integers(0, max(1, frames // 10) + 1))
                start = int(rng.integers(0, frames - width + 1))
                clip[:, start:start + width] = fill
                width = int(rng.integers(0, max(1, int(bins * 0.15)) + 1))
                start = int(rng.integers(0, bins - width + 1))
                clip[start:start + width, :] = fill


class HeadFirst(TrainerCallback):
    """LP-FT (Kumar et al., 2022): the backbone's trainable layers wait ``epochs`` epochs for the head.

    The optimizer already holds their parameters; while frozen they get no gradient, so AdamW
    skips them (no update, no weight decay). Decided at each epoch's start, so a resumed run is
    in the right phase.
    """

    def __init__(self, model: torch.nn.Module, epochs: int):
        self.epochs = epochs
        self.backbone = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith(HEAD_PREFIXES)]

    def on_epoch_begin(self, args, state, control, **kwargs):
        train_backbone = math.floor(state.epoch + 1e-9) >= self.epochs
        for param in self.backbone:
            param.requires_grad_(train_backbone)


class SerTrainer(ClipTrainer):
    """``ClipTrainer`` with a separate learning rate for the new head, a class-weighted loss and our model card."""

    def __init__(self, *args, head_learning_rate=None, class_weights=None, card=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.head_learning_rate, self.card = head_learning_rate, card
        if class_weights is not None:
            weights = torch.tensor(class_weights, dtype=torch.float32)
            self.compute_loss_func = lambda outputs, labels, num_items_in_batch=None: torch.nn.functional.cross_entropy(
                outputs.logits, labels, weight=weights.to(outputs.logits.device))

    def create_optimizer(self, model=None):
        if self.optimizer is None and self.head_learning_rate:
            model = self.model if model is None else model
            decay = set(self.get_decay_parameter_names(model))
            groups = {}
            for name, param in model.named_parameters():
                if not param.requires_grad:
                    continue
                head = name.startswith(HEAD_PREFIXES)
                key = (head, name in decay)
                groups.setdefault(key, {"params": [], "weight_decay": self.args.weight_decay if key[1] else 0.0,
                                        "lr": self.head_learning_rate if head else self.args.learning_rate})
                groups[key]["params"].append(param)
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
            self.optimizer = optimizer_cls(list(groups.values()), **optimizer_kwargs)
        return super().create_optimizer(model)

    def create_model_card(self, **kwargs):
        if self.card is not None and self.is_world_process_zero():
            write_model_card(self.args.output_dir, history=self.state.log_history, **self.card())


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, training_args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        level=training_args.get_process_log_level())
    transformers.utils.logging.set_verbosity(training_args.get_process_log_level())
    set_seed(training_args.seed)

    # Model: any audio-classification backbone; Whisper gets a window of max_length_seconds, not 30 s.
    labels = ser_hf.label_names(data_args.label_set)
    config, feature_extractor, model = load_backbone(model_args, labels)

    # Data: one Dataset shape for every corpus, then a speaker-independent fold.
    ds = ser_hf.load_corpora(data_args.data_root, names=data_args.corpora, label_set=data_args.label_set)
    if data_args.protocol == "none":
        fold_name, splits = "all", {"train": ds}
    else:
        options = {"kfold": {"n_folds": data_args.n_folds, "seed": data_args.split_seed}}.get(data_args.protocol, {})
        folds = protocol_folds(ds, data_args.protocol, **options)
        if not 0 <= data_args.fold < len(folds):
            raise SystemExit(f"train.py: error: --fold {data_args.fold} out of range; "
                             f"{data_args.protocol} has {len(folds)} folds")
        fold_name, splits = folds[data_args.fold]
    train_ds = splits["train"]
    eval_ds = splits.get("validation", splits.get("test"))
    if data_args.extra_train_corpora:
        # Whole corpora of other speakers join the training split only: the evaluation stays on unseen speakers.
        extra = ser_hf.load_corpora(data_args.data_root, names=data_args.extra_train_corpora, label_set=data_args.label_set)
        clash = set(extra.unique("speaker")) & set(eval_ds.unique("speaker") if eval_ds is not None else ())
        if clash:
            raise SystemExit(f"train.py: error: --extra_train_corpora share speakers with the evaluation split: {sorted(clash)}")
        train_ds = datasets.concatenate_datasets([train_ds, extra.cast(train_ds.features)])
    if data_args.max_train_samples:
        train_ds = train_ds.shuffle(seed=training_args.seed).select(range(min(data_args.max_train_samples, len(train_ds))))
    if eval_ds is not None and data_args.max_eval_samples:
        eval_ds = eval_ds.shuffle(seed=training_args.seed).select(range(min(data_args.max_eval_samples, len(eval_ds))))
    train_ds, eval_ds = (d.remove_columns("audio") if d is not None else None for d in (train_ds, eval_ds))
    logger.info("fold %s: %d training clips, %d evaluation clips", fold_name, len(train_ds), len(eval_ds or []))

    window = fit_window(model, feature_extractor, data_args.max_length_seconds)
    frozen = freeze_front_end(model, model_args.freeze_encoder_layers) if model_args.freeze_feature_encoder else []
    use_mask = model_args.attention_mask and getattr(config, "feat_extract_norm", None) == "layer"
    feature_extractor.return_attention_mask = use_mask

    max_samples = int(data_args.max_length_seconds * feature_extractor.sampling_rate)
    augment = dict(gain_db=data_args.augment_gain_db, noise_snr_db=data_args.augment_noise_snr_db,
                   spec_masks=data_args.augment_spec_masks)
    training_args.remove_unused_columns = False  # the collator needs "path"
    # Trainer multiplies the loss by the process count under DDP, expecting a token-level loss summed and
    # divided by the global token count; a clip classifier's loss is already a mean over the clips, so
    # that would scale the loss (and the logged value) by the number of GPUs.
    training_args.average_tokens_across_devices = False
    if eval_ds is None:
        training_args.eval_strategy, training_args.load_best_model_at_end = "no", False
    class_weights = None
    if data_args.class_weighted_loss:
        counts = np.bincount(train_ds["emotion"], minlength=len(labels)).astype(float)
        class_weights = (counts.sum() / (len(labels) * np.maximum(counts, 1))).tolist()

    recipe = {**{k: v for k, v in asdict(model_args).items() if k != "token"}, **asdict(data_args),
              "learning_rate": training_args.learning_rate, "num_train_epochs": training_args.num_train_epochs,
              "per_device_train_batch_size": training_args.per_device_train_batch_size,
              "weight_decay": training_args.weight_decay, "warmup_steps": training_args.warmup_steps,
              "lr_scheduler_type": getattr(training_args.lr_scheduler_type, "value", training_args.lr_scheduler_type),
              "seed": training_args.seed, "label_smoothing_factor": training_args.label_smoothing_factor,
              "frozen": frozen, "input_window_seconds": window, "attention_mask_used": use_mask}
    final_metrics: dict = {}

    def card() -> dict:
        return dict(model_name=training_args.hub_model_id or Path(training_args.output_dir).name,
                    base_model=model_args.model_name_or_path, labels=labels,
                    corpora=[*data_args.corpora, *data_args.extra_train_corpora],
                    protocol=data_args.protocol, fold=None if data_args.protocol == "none" else fold_name,
                    metrics=final_metrics, recipe=recipe)

    trainer = SerTrainer(
        model=model, args=training_args, train_dataset=train_ds, eval_dataset=eval_ds,
        data_collator=AudioBatches(feature_extractor, True, max_samples, use_mask, seed=training_args.seed, **augment),
        # Evaluation takes whole clips: a second collator without the crop.
        eval_collator=AudioBatches(feature_extractor, False, max_samples, use_mask),
        processing_class=feature_extractor, compute_metrics=compute_metrics,
        head_learning_rate=model_args.head_learning_rate, class_weights=class_weights, card=card)
    if model_args.linear_probe_epochs:
        trainer.add_callback(HeadFirst(model, model_args.linear_probe_epochs))

    results = {"fold": fold_name, "train_samples": len(train_ds), "recipe": recipe, "torch_threads": torch.get_num_threads()}
    if training_args.do_train:
        # --resume_from_checkpoint PATH, or True for the last checkpoint in --output_dir.
        checkpoint = training_args.resume_from_checkpoint
        if checkpoint in ("True", "true", True):
            checkpoint = get_last_checkpoint(training_args.output_dir)
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        trainer.save_model()
        trainer.log_metrics("train", train_result.metrics)
        trainer.save_metrics("train", train_result.metrics)
        trainer.save_state()
        results.update(train_result.metrics)
    if eval_ds is not None:
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)
        final_metrics.update(metrics)
        results.update(metrics)
        # One entry per evaluation round (the final evaluate() repeats the last one).
        history = {h["epoch"]: h for h in trainer.state.log_history if "eval_unweighted_accuracy" in h}
        keys = ("epoch", "eval_unweighted_accuracy", "eval_accuracy", "eval_macro_f1")
        results["eval_per_epoch"] = [{k: h[k] for k in keys} for h in history.values()]
        results["eval_samples"] = len(eval_ds)
    results["peak_ram_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        results["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
        results["gpu"] = torch.cuda.get_device_name()
    results["mixed_precision"] = "bf16" if training_args.bf16 else "fp16" if training_args.fp16 else \
        os.environ.get("ACCELERATE_MIXED_PRECISION", "no")
    if trainer.is_world_process_zero():
        Path(training_args.output_dir, "all_results.json").write_text(json.dumps(results, indent=2, default=str))
        trainer.create_model_card()
    if training_args.push_to_hub:
        trainer.push_to_hub(commit_message=f"fine-tuned on {', '.join(data_args.corpora)} ({data_args.protocol} {fold_name})")
    return results


if __name__ == "__main__":
    main()
