"""Train any audio-classification ``PreTrainedModel`` with ``transformers.Trainer``; the baseline's recipe.

The steps, each a function so other models reuse them:

1. :func:`featurize`: a ``datasets.map`` that decodes each clip with :func:`ser_hf.load_audio`,
   runs the model's own feature extractor (so preprocessing is the inference code), and renders
   ``augment_copies`` waveform-augmented copies of each clip (:class:`ser_hf.augment.WaveAugmenter`,
   seeded per clip). The result is cached in ``cache_dir`` under a key made of the clips, their
   file sizes and times, the extractor's config and the augmentation, so a rerun, or the next fold
   of a protocol, reads the cache. ``datasets`` writes the cache to a temporary file and renames
   it when done: an interrupted run leaves no half-written cache behind. Unreadable or empty
   clips become rows with an ``error`` and are dropped and reported (:class:`SkippedClipsWarning`).
2. :func:`train_model`: ``Trainer`` with :func:`ser_hf.metrics.compute_metrics`, evaluation and
   logging every epoch (the curves), random crops of ``crop_frames`` frames as the cheap fresh
   augmentation of every epoch (the model adds SpecAugment-style masks while training).
3. :func:`fit_predict_baseline`: both, for one train/test fold, returning predictions and the
   per-epoch history that :mod:`ser_hf.evaluation` turns into reports. A model whose first layers
   are a frozen pretrained stem gets that stem's output computed once per clip
   (:func:`front_end_frames`, another cached map) instead of on every epoch.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import datasets
import numpy as np

from .audio import load_audio
from .augment import WaveAugmenter, clip_rng
from .errors import AudioError
from .heap import keep_freed_memory

logger = logging.getLogger(__name__)

CACHE_VERSION = "2"  # 2: features computed with one BLAS thread (featurize)


class SkippedClipsWarning(UserWarning):
    """Clips left out of training or evaluation; ``.skipped`` maps each clip to the reason."""

    def __init__(self, message: str, skipped: dict[str, str]):
        super().__init__(message)
        self.skipped = skipped


def default_cache_dir() -> Path:
    """``$SER_CACHE`` or ``~/.cache/ser_hf/features``: the feature cache lives beside the HF caches."""
    root = os.environ.get("SER_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ser_hf"
    return Path(root) / "features"


def _clip_key(ds: datasets.Dataset) -> str:
    """What the cached features depend on in the data: which files, their sizes and times, their labels."""
    digest = hashlib.sha256()
    for path, label in zip(ds["path"], ds["emotion"]):
        try:
            stat = os.stat(path)
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{label}\n".encode())
        except OSError:
            digest.update(f"{path}|missing|{label}\n".encode())
    return digest.hexdigest()


def featurize(ds: datasets.Dataset, feature_extractor, augment_copies: int = 0,
              augmenter: WaveAugmenter | None = None, cache_dir: str | os.PathLike | None = None,
              num_proc: int | None = None, seed: int = 0, desc: str = "features") -> datasets.Dataset:
    """Features of every clip of ``ds`` (+ ``augment_copies`` augmented copies), cached.

    Returns a Dataset with ``input_features`` (``[frames, feature_size]``, float32), ``length``
    (frames), ``label``, ``clip`` (the row of ``ds`` it came from), ``copy`` (0 = the clean clip)
    and ``corpus``/``speaker``, without the skipped clips.

    ``feature_extractor`` needs ``extract(wave) -> [feature_size, frames]`` and ``sampling_rate``
    (:class:`~ser_hf.models.MfccCnnFeatureExtractor` has them).
    """
    augmenter = augmenter or WaveAugmenter()
    key_parts = {
        "version": CACHE_VERSION, "clips": _clip_key(ds), "extractor": feature_extractor.to_dict(),
        "copies": augment_copies, "augmenter": augmenter.to_dict() if augment_copies else None, "seed": seed,
    }
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True, default=str).encode()).hexdigest()[:24]
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    size = feature_extractor.feature_size
    out_features = datasets.Features({
        "input_features": datasets.Array2D(shape=(None, size), dtype="float32"),
        "length": datasets.Value("int32"),
        "label": datasets.Value("int64"),
        "clip": datasets.Value("int64"),
        "copy": datasets.Value("int32"),
        "corpus": datasets.Value("string"),
        "speaker": datasets.Value("string"),
        "path": datasets.Value("string"),
        "error": datasets.Value("string"),
    })

    workers = num_proc if num_proc and num_proc > 1 and len(ds) >= 64 else None

    def compute(batch, indices):
        # One BLAS/OpenMP thread, in a worker or not. With ``num_proc`` workers already filling
        # the cores, each one's own thread pool on top made two workers slower than one (33 s
        # against 24 s for 1120 clips on 2 cores; 16 s with this); and the features no longer
        # depend on the machine's core count (the mel product's rounding did, by ~1e-5 dB).
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return _compute(batch, indices)

    def _compute(batch, indices):
        out = {name: [] for name in out_features}
        for i, path, label, corpus, speaker in zip(indices, batch["path"], batch["emotion"],
                                                   batch["corpus"], batch["speaker"]):
            try:
                wave = load_audio(path, feature_extractor.sampling_rate)
                versions = [feature_extractor.extract(wave)]
                for copy in range(1, augment_copies + 1):
                    noisy = augmenter(feature_extractor.clean(wave), clip_rng(path, copy, seed))
                    versions.append(feature_extractor.frames(noisy))
                error = None
            except AudioError as exc:
                versions, error = [np.zeros((size, 0), np.float32)], exc.problem
            for copy, frames in enumerate(versions):
                out["input_features"].append(np.ascontiguousarray(frames.T))
                out["length"].append(frames.shape[1])
                out["label"].append(label)
                out["clip"].append(i)
                out["copy"].append(copy)
                out["corpus"].append(corpus)
                out["speaker"].append(speaker)
                out["path"].append(path)
                out["error"].append(error)
        return out

    source = ds.select_columns(["path", "emotion", "corpus", "speaker"])
    result = source.map(
        compute, batched=True, batch_size=16, with_indices=True, remove_columns=source.column_names,
        features=out_features, cache_file_name=str(cache_dir / f"{key}.arrow"), load_from_cache_file=True,
        num_proc=workers, desc=desc)
    errors = result["error"]
    skipped = {p: e for p, e in zip(result["path"], errors) if e}
    if skipped:
        first = "; ".join(f"{p} ({why})" for p, why in list(skipped.items())[:5])
        message = f"skipped {len(skipped)} unreadable clip(s), e.g. {first}"
        logger.warning(message)
        warnings.warn(SkippedClipsWarning(message, skipped), stacklevel=2)
        result = result.select([i for i, e in enumerate(errors) if not e])
    return result.remove_columns("error").with_format("numpy", columns=["input_features"], output_all_columns=True)


def rows_of(features: datasets.Dataset, clips, copies: bool) -> datasets.Dataset:
    """The featurized rows of the clips ``clips`` (row numbers of the source Dataset), with or without copies."""
    wanted = set(int(c) for c in clips)
    clip_col, copy_col = features["clip"], features["copy"]
    keep = [i for i, (c, k) in enumerate(zip(clip_col, copy_col)) if c in wanted and (copies or k == 0)]
    return features.select(keep)


def front_end_frames(features: datasets.Dataset, model, cache_dir: str | os.PathLike | None = None,
                     desc: str = "front end") -> datasets.Dataset:
    """``features`` with each row replaced by ``model``'s frozen front end's output, cached.

    A frozen stem (Whisper's, ``front_end_from``) gives the same output every epoch: computing it
    once per clip, not once per clip and epoch, is what keeps the stem's training time close to
    the plain network's. The random crop and SpecAugment masks of training then act on the stem's
    frames (SpecAugment did anyway), and the stem's loudness floor comes from the whole clip, as at
    inference, rather than from the crop. Rows become ``[frames / stride, channels]``;
    :func:`train_model` and :func:`predict` see it from the rows' width and tell the model to skip
    its front end. The cache key is the featurization's fingerprint, the stem's stride and its weights.
    A model without a frozen front end gets ``features`` back as they are.
    """
    import torch

    if not getattr(model, "frozen_front_end", False) or _skips_front_end(model, features):
        return features
    # The stride is in the key beside the weights: the same stem at another stride gives other frames.
    digest = hashlib.sha256(f"{CACHE_VERSION}|{features._fingerprint}|stride {model.front_end_stride}|".encode())
    for name, tensor in sorted(model.net.front_end.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    channels = model.config.front_end_channels
    schema = features.features.copy()
    schema["input_features"] = datasets.Array2D(shape=(None, channels), dtype="float32")
    was_training = model.training
    model.eval()

    def compute(batch):  # an Arrow table: its rows are read as ArrowRows reads them, not formatted one by one
        frames, lengths = [], []
        with torch.inference_mode():
            for x in ArrowRows.arrays(batch):
                x = torch.tensor(x).T[None]
                out, mask = model.front_end_features(x)
                n = int(mask.sum())
                frames.append(np.ascontiguousarray(out[0, :, :n].T.numpy()))
                lengths.append(n)
        return {**batch.drop_columns(["input_features", "length"]).to_pydict(), "input_features": frames, "length": lengths}

    try:
        result = features.with_format("arrow").map(
            compute, batched=True, batch_size=32, features=schema, desc=desc,
            cache_file_name=str(cache_dir / f"front-end-{digest.hexdigest()[:24]}.arrow"), load_from_cache_file=True)
    finally:
        model.train(was_training)
    return result.with_format("numpy", columns=["input_features"], output_all_columns=True)


class ArrowRows:
    """The rows of a featurized ``Dataset`` as ``Trainer``'s data loader wants them, read from Arrow.

    ``datasets``' numpy formatter builds each ragged ``[frames, channels]`` row through its generic
    per-row machinery, about 1 ms a row: a third of every epoch of the shipped recipe (10 of 31 s).
    Here a batch of rows is one Arrow ``take`` and each row a view of its flat float buffer: the
    same arrays, so the same batches and weights, for a fortieth of the time. Other columns come
    as Python values, as from the numpy formatter with ``output_all_columns``.
    """

    def __init__(self, features: datasets.Dataset, column: str = "input_features"):
        self.features, self.column = features, column
        self._arrow = features.with_format("arrow")

    def __len__(self) -> int:
        return len(self.features)

    def rows(self, keys) -> list[dict]:
        """The rows numbered ``keys``, in that order."""
        table = self._arrow[[int(k) for k in keys]]
        rows = table.drop_columns([self.column]).to_pylist()
        for row, array in zip(rows, self.arrays(table, self.column)):
            row[self.column] = array
        return rows

    def batches(self, size: int):
        """All rows in order, ``size`` at a time (lists of rows)."""
        for start in range(0, len(self), size):
            yield self.rows(range(start, min(start + size, len(self))))

    @staticmethod
    def arrays(table, column: str = "input_features") -> list[np.ndarray]:
        """The ``[frames, width]`` arrays of an ``Array2D`` column of an Arrow table, as read-only views."""
        import pyarrow as pa

        array = table.column(column).combine_chunks()
        rows_list = array.storage if isinstance(array, pa.ExtensionArray) else array
        offsets = rows_list.offsets.to_numpy()
        frames = rows_list.flatten()
        values = frames.flatten().to_numpy()
        values = values.reshape(len(frames), -1) if len(frames) else values.reshape(0, 0)
        return [values[a:b] for a, b in zip(offsets[:-1] - offsets[0], offsets[1:] - offsets[0])]

    __getitems__ = rows  # what torch's DataLoader calls for a batch

    def __getitem__(self, key) -> dict:
        return self.rows([key])[0]


def _skips_front_end(model, features: datasets.Dataset | None) -> bool:
    """Whether ``features`` rows are ``model``'s front-end output (:func:`front_end_frames`), from their width."""
    if features is None or getattr(getattr(model, "config", None), "front_end", None) is None:
        return False
    width = features.features["input_features"].shape[-1]
    config = model.config
    if width == config.front_end_channels and width != config.num_features:
        return True
    if width != config.num_features:
        raise ValueError(f"feature rows are {width} wide; the model reads {config.num_features} "
                         f"(extractor frames) or {config.front_end_channels} (its front end's output)")
    return False


def _speaker_inputs(model, speaker_stats: dict | None) -> bool:
    """Whether ``model`` applies the speaker statistics itself (``takes_speaker_statistics``: its
    ``normalization`` is ``"speaker"`` or ``"utterance+speaker"``): the collator then hands them over
    instead of normalising the rows; such a model needs them."""
    inputs = bool(getattr(model, "takes_speaker_statistics", False))
    if inputs and speaker_stats is None:
        raise ValueError(f"this model adapts to the speaker (normalization={model.config.normalization!r}): "
                         "pass speaker_stats")
    return inputs


@dataclass
class PadCollator:
    """Pad ``[frames, feature_size]`` rows into ``input_features [batch, feature_size, frames]`` + mask.

    With ``speaker_stats`` (``{speaker: (mean, std)}``, see :func:`speaker_statistics`), each row is
    first normalised by its speaker's statistics (speaker-level CMVN); with ``speaker_inputs`` as
    well, the rows stay as they are and the batch carries each row's ``speaker_mean`` and
    ``speaker_std`` for the model to apply to the stem's output (``takes_speaker_statistics``).

    With ``crop_frames`` set (training), each clip longer than that is cut at a random start: a
    fresh time shift every epoch and a bounded cost per step. The start is drawn from
    ``(seed, epoch, clip, copy)``, not from a running generator, so a run resumed from a
    checkpoint crops exactly as the uninterrupted run did (:class:`_CropEpoch` sets ``epoch``).

    With ``soft_labels`` (``{clip: class probabilities}``, see :func:`soft_targets`), each row's
    ``labels`` are its clip's probabilities, not its class id; the model's loss takes either.
    With ``hint_targets`` (``{clip: teacher embedding}``, see :func:`per_clip`), the batch carries
    each row's clip's embedding as ``hint_targets`` (feature-level distillation, ``MfccCnnConfig.hint_size``).
    With ``hint_stride`` as well, the embeddings are frame by frame (``{clip: [frames, size]}``, the
    clean clip's, aligned with its rows' frames): each row gets the stretch its crop kept, averaged over
    ``hint_stride`` frames (the model's last block's frame), as ``hint_targets`` ``[batch, size, frames]``
    and ``hint_mask``, which is 0 where the teacher has no frame and for augmented copies (time-stretched
    and shifted, they no longer line up with the clean clip).

    ``skip_front_end``: the rows are a frozen front end's output (:func:`front_end_frames`), and
    the batch tells the model so.
    """

    crop_frames: int | None = None
    padding_value: float = 0.0
    fixed_frames: int | None = None
    seed: int = 0
    epoch: int = 0
    speaker_stats: dict | None = None
    soft_labels: dict | None = None
    hint_targets: dict | None = None
    hint_stride: int | None = None
    skip_front_end: bool = False
    speaker_inputs: bool = False

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        feats, starts = [], []
        for row in rows:
            x = np.asarray(row["input_features"], dtype=np.float32)
            if self.speaker_stats is not None and not self.speaker_inputs:
                mean, std = self.speaker_stats[row["speaker"]]
                x = (x - mean) / std
            if self.crop_frames and x.shape[0] > self.crop_frames:
                rng = np.random.default_rng([self.seed, self.epoch, int(row.get("clip", 0)), int(row.get("copy", 0))])
                start = int(rng.integers(0, x.shape[0] - self.crop_frames + 1))
                x = x[start:start + self.crop_frames]
            else:
                start = 0
            feats.append(x)
            starts.append(start)
        width = self.fixed_frames or max(max(f.shape[0] for f in feats), 1)
        batch = np.full((len(feats), feats[0].shape[1], width), self.padding_value, np.float32)
        mask = np.zeros((len(feats), width), np.int64)
        for i, f in enumerate(feats):
            n = min(f.shape[0], width)
            batch[i, :, :n] = f[:n].T
            mask[i, :n] = 1
        out = {"input_features": torch.from_numpy(batch), "attention_mask": torch.from_numpy(mask)}
        if self.skip_front_end:
            out["skip_front_end"] = True
        if self.speaker_inputs:
            stats = [self.speaker_stats[row["speaker"]] for row in rows]
            out["speaker_mean"] = torch.from_numpy(np.stack([m for m, _ in stats]).astype(np.float32))
            out["speaker_std"] = torch.from_numpy(np.stack([s for _, s in stats]).astype(np.float32))
        if self.hint_targets is not None and self.hint_stride:
            out["hint_targets"], out["hint_mask"] = self._frame_hints(rows, starts, [len(f) for f in feats], width)
        elif self.hint_targets is not None:
            out["hint_targets"] = torch.from_numpy(np.stack([self.hint_targets[int(r["clip"])] for r in rows]))
        if self.soft_labels is not None:
            out["labels"] = torch.from_numpy(np.stack([self.soft_labels[int(r["clip"])] for r in rows]))
        elif "label" in rows[0]:
            out["labels"] = torch.tensor([int(r["label"]) for r in rows])
        return out

    def _frame_hints(self, rows: list[dict], starts: list[int], lengths: list[int], width: int):
        import torch

        stride = self.hint_stride
        n = -(-width // stride)
        size = next(iter(self.hint_targets.values())).shape[1]
        targets = np.zeros((len(rows), size, n), np.float32)
        mask = np.zeros((len(rows), n), np.float32)
        for i, (row, start, length) in enumerate(zip(rows, starts, lengths)):
            if int(row.get("copy", 0)) != 0:
                continue
            teacher = self.hint_targets[int(row["clip"])][start:start + min(width, length)]
            for j in range(-(-len(teacher) // stride)):
                targets[i, :, j] = teacher[j * stride:(j + 1) * stride].mean(0)
                mask[i, j] = 1.0
        return torch.from_numpy(targets), torch.from_numpy(mask)


def speaker_statistics(features: datasets.Dataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-speaker mean and std of every feature row, over the frames of the speaker's clean clips.

    Speaker-level CMVN (:class:`~ser_hf.models.mfcc_cnn.SpeakerStatistics`, the same computation
    a speaker-adaptive model's feature extractor applies at inference): emotion shows as a
    departure from the speaker's usual voice, so the features are measured against that speaker's
    own average rather than the utterance's. The statistics use no labels; in the benchmarks a test
    speaker's come from that speaker's own unlabelled test audio (transductive), which a
    deployment matches by gathering some speech of each speaker first (``timeline`` does, as a
    recording goes on). The evaluation reports name the protocols that use it.
    """
    from .models.mfcc_cnn import SpeakerStatistics

    per_speaker: dict[str, SpeakerStatistics] = {}
    for batch in ArrowRows(features).batches(256):
        for row in batch:
            if int(row["copy"]) == 0:  # rows are [frames, feature_size]
                per_speaker.setdefault(row["speaker"], SpeakerStatistics()).add(np.asarray(row["input_features"]).T)
    return {speaker: (stats.mean, stats.std) for speaker, stats in per_speaker.items()}


# The shipped per-clip model's design (models/ser-mfcc-cnn), as MfccCnnConfig fields behind a Whisper checkpoint's
# stem (TrainingConfig.front_end_from): Whisper's first transformer layer too, frozen, its linear weights in int8
# (since 2026-11-25: on unseen speakers SAVEE 48.3 -> 56.8 %, within 5 MB stored in float16), and since 2026-12-07
# the stem's second convolution at stride 4 (25 frames a second; the time masks kept at 0.2 s): a third less time
# a clip, and no less accurate on unseen speakers (docs/baseline_design.md; bench.baseline's SHIPPED_VARIANT).
SHIPPED_DESIGN = {"front_end_layers": 1, "front_end_int8": True, "front_end_stride": 4, "time_mask_width": 5}


def default_whisper() -> str:
    """Where the front end comes from when none is named: ``$SER_WHISPER`` (a local copy, offline) or the Hub's
    ``openai/whisper-tiny.en``, the weights the shipped models were built from."""
    return os.environ.get("SER_WHISPER") or "openai/whisper-tiny.en"


@dataclass
class TrainingConfig:
    """The baseline's training recipe (what ``scripts/train_baseline.py`` and the benchmarks use).

    ``speaker_norm`` switches a protocol to speaker-level CMVN (:func:`speaker_statistics`) with a
    model that does no per-utterance normalisation: the strongest lever for unseen speakers
    (RAVDESS, SAVEE), but it needs unlabelled audio of each test speaker, so the shipped model
    (one clip at a time) keeps it off. ``model_overrides``: :class:`MfccCnnConfig` fields for the
    fresh model of each fold (e.g. ``{"pooling": "meanstd"}``), so a benchmark can compare designs.
    ``distill_weight``: with a teacher (:func:`teacher_probabilities`), each training target is
    ``(1 - w) * one-hot + w * the teacher's probabilities`` (knowledge distillation): the teacher's
    soft labels say which emotions a clip resembles, which one-hot labels of a few speakers cannot.
    ``front_end_from``: a Whisper checkpoint (a folder or a Hub id) whose convolutional stem becomes
    the network's first layers (:class:`MfccCnnConfig` ``front_end``), frozen.
    ``augmenter``: :class:`WaveAugmenter` fields for the augmented copies (e.g. ``{"semitones": [-4, 4]}``).
    ``balance``: ``"speaker"`` or ``"corpus"`` draws each epoch's rows (as many as there are, with
    replacement) so that every speaker, or corpus, weighs the same: in the three corpora one TESS
    speaker is 1400 clips against RAVDESS's 60 an actor, and a network can learn her voice as the emotion.
    ``balance_power`` < 1 balances part of the way: a group of n rows weighs n ** (1 - power) in all.
    ``feature_overrides``: :class:`MfccCnnFeatureExtractor` fields, e.g. ``{"reduce_noise": True}`` or
    ``{"trim_db": None}``: the preprocessing the seeds used, saved with the model's extractor, so inference
    preprocesses as training did.
    """

    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 1e-2
    warmup_ratio: float = 0.05
    crop_frames: int | None = 250
    augment_copies: int = 1
    seed: int = 0
    threads: int = 2
    speaker_norm: bool = False
    model_overrides: dict = field(default_factory=dict)
    distill_weight: float = 0.0
    front_end_from: str | None = None
    augmenter: dict = field(default_factory=dict)
    balance: str | None = None
    balance_power: float = 1.0
    feature_overrides: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.balance not in (None, "speaker", "corpus"):
            raise ValueError(f"balance must be None, 'speaker' or 'corpus', not {self.balance!r}")
        if not 0 < self.balance_power <= 1:
            raise ValueError(f"balance_power must be in (0, 1], not {self.balance_power}")

    def to_dict(self) -> dict:
        return asdict(self)

    def wave_augmenter(self) -> WaveAugmenter:
        """The waveform augmentation of the recipe's augmented copies."""
        return WaveAugmenter(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.augmenter.items()})

    def copies_for(self, architecture: str) -> int:
        """Augmented copies of each training clip for ``architecture`` (the seed network trains on clean clips)."""
        return self.augment_copies if architecture != "seed" else 0


def train_model(model, train_features: datasets.Dataset, eval_features: datasets.Dataset | None = None,
                config: TrainingConfig | None = None, output_dir: str | os.PathLike = "runs/baseline",
                fixed_frames: int | None = None, progress: bool = True, save_steps: int | None = None,
                resume_from_checkpoint: str | bool | None = None, speaker_stats: dict | None = None,
                soft_labels: dict | None = None, hint_targets: dict | None = None):
    """Fit ``model`` with ``Trainer``; evaluate (when ``eval_features``) and log every epoch.

    Returns the Trainer (``trainer.state.log_history`` holds the per-epoch loss and metrics).
    The final model is the last epoch's: the evaluation set never picks a checkpoint.
    ``save_steps`` writes a ``checkpoint-N`` folder every N steps (none by default);
    ``resume_from_checkpoint`` (a folder, or True for the last one in ``output_dir``) goes on
    from one and ends as the uninterrupted run does (``tests/test_faults.py``). ``soft_labels``
    (:func:`soft_targets`) replace the training rows' class ids; evaluation keeps the labels.
    ``hint_targets`` (:func:`per_clip`): a teacher's embedding of each training row's clip, for a model
    with a hint head (``MfccCnnConfig.hint_size``); with ``hint_frames`` models, frame by frame, averaged
    over the rows' frames of one last-block frame (see :class:`PadCollator`).
    """
    import torch
    from transformers import TrainingArguments, set_seed

    from .metrics import compute_metrics
    from .trainer import ClipTrainer

    config = config or TrainingConfig()
    torch.set_num_threads(config.threads)
    set_seed(config.seed)
    args = TrainingArguments(
        output_dir=str(output_dir), num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=64,
        learning_rate=config.learning_rate, weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio, lr_scheduler_type="cosine",
        eval_strategy="epoch" if eval_features is not None else "no", logging_strategy="epoch",
        save_strategy="steps" if save_steps else "no", save_steps=save_steps or 500, report_to=[], use_cpu=True, seed=config.seed, data_seed=config.seed,
        dataloader_num_workers=0, remove_unused_columns=False, disable_tqdm=not progress,
        label_names=["labels"],
    )
    skip = _skips_front_end(model, train_features)
    if skip != _skips_front_end(model, eval_features if eval_features is not None else train_features):
        raise ValueError("the training and evaluation rows must both be extractor frames or both the front end's output")
    crop = None if fixed_frames or not config.crop_frames else -(-config.crop_frames // (model.front_end_stride if skip else 1))
    inputs = _speaker_inputs(model, speaker_stats)
    hint_stride = model.frames_per_last_block_frame(skip) if hint_targets is not None and model.config.hint_frames else None
    collator = PadCollator(crop_frames=crop, fixed_frames=fixed_frames, seed=config.seed, speaker_stats=speaker_stats,
                           soft_labels=soft_labels, hint_targets=hint_targets, hint_stride=hint_stride,
                           skip_front_end=skip, speaker_inputs=inputs)
    # Evaluation must see whole clips: its own collator, without the random crop.
    eval_collator = PadCollator(fixed_frames=fixed_frames, speaker_stats=speaker_stats, skip_front_end=skip,
                                speaker_inputs=inputs)
    trainer = ClipTrainer(
        model=model, args=args, train_dataset=ArrowRows(train_features),
        eval_dataset=ArrowRows(eval_features) if eval_features is not None else None,
        data_collator=collator, compute_metrics=compute_metrics, callbacks=[_CropEpoch(collator)],
        eval_collator=eval_collator,
        train_sampler=balanced_sampler(train_features[config.balance], config.seed, config.balance_power)
        if config.balance else None,
    )
    if resume_from_checkpoint is True:
        resume_from_checkpoint = last_checkpoint(output_dir)
    keep_freed_memory()  # the steps reuse their activations' pages instead of faulting them in again
    trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    return trainer


def last_checkpoint(output_dir: str | os.PathLike) -> str:
    """The newest *complete* ``checkpoint-N`` in ``output_dir``.

    Trainer writes a checkpoint in place and ``trainer_state.json`` last, so a run killed while
    saving leaves a folder without it; Trainer's own ``get_last_checkpoint`` would pick that
    folder and the resume would fail. Raises FileNotFoundError when there is none.
    """
    done = [p for p in Path(output_dir).glob("checkpoint-*")
            if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()]
    if not done:
        raise FileNotFoundError(f"{output_dir}: no complete checkpoint-N folder to resume from")
    return str(max(done, key=lambda p: int(p.name.split("-")[-1])))


def _CropEpoch(collator: PadCollator):
    """A callback that tells the collator which epoch it is crops for (also after a resume)."""
    from transformers import TrainerCallback

    class CropEpoch(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kwargs):
            collator.epoch = int(math.floor((state.epoch or 0) + 1e-6))

    return CropEpoch()


def balanced_weights(groups, power: float = 1.0) -> np.ndarray:
    """Row weights ``n ** -power`` for a row whose group (speaker, corpus) has n rows: with power 1 every
    group weighs the same in all; with 0.5 a group weighs the square root of its size."""
    _, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    return counts[inverse].astype(np.float64) ** -power


def balanced_sampler(groups, seed: int, power: float = 1.0):
    """A sampler drawing ``len(groups)`` rows with replacement by :func:`balanced_weights`.

    Each epoch's draw comes from ``(seed, epoch)`` (``Trainer`` calls ``set_epoch``), not from a running
    generator, so a run resumed from a checkpoint draws what the uninterrupted run drew.
    """
    import torch
    from torch.utils.data import WeightedRandomSampler

    class EpochWeightedSampler(WeightedRandomSampler):
        epoch = 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = int(epoch)

        def __iter__(self):
            self.generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, self.epoch]).generate_state(1)[0]))
            return super().__iter__()

    weights = torch.as_tensor(balanced_weights(groups, power), dtype=torch.double)
    return EpochWeightedSampler(weights, num_samples=len(weights), replacement=True)


def predict(model, features: datasets.Dataset, fixed_frames: int | None = None, batch_size: int = 64,
            speaker_stats: dict | None = None) -> np.ndarray:
    """Logits of ``model`` on featurized whole clips (no crop, no augmentation); rows may be
    extractor frames or the model's front-end output (:func:`front_end_frames`)."""
    import torch

    collator = PadCollator(fixed_frames=fixed_frames, speaker_stats=speaker_stats,
                           skip_front_end=_skips_front_end(model, features),
                           speaker_inputs=_speaker_inputs(model, speaker_stats))
    model.eval()
    out = []
    with torch.inference_mode():
        for rows in ArrowRows(features).batches(batch_size):
            batch = collator(rows)
            batch.pop("labels", None)
            out.append(model(**batch).logits.float().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.num_labels), np.float32)


def epoch_history(log_history: list[dict]) -> list[dict]:
    """Per-epoch rows ``{epoch, train_loss, eval_loss, eval_accuracy, ...}`` from Trainer's log."""
    epochs: dict[int, dict] = {}
    for entry in log_history:
        if "epoch" not in entry:
            continue
        epoch = int(round(entry["epoch"]))
        row = epochs.setdefault(epoch, {"epoch": epoch})
        if "loss" in entry:
            row["train_loss"] = entry["loss"]
        for k, v in entry.items():
            if k.startswith("eval_") and isinstance(v, (int, float)):
                row[k] = v
    return [epochs[e] for e in sorted(epochs) if len(epochs[e]) > 1]


def build_baseline(names: list[str], architecture: str = "cnn1d", seed: int | None = None,
                   speaker_norm: bool = False, front_end_from: str | os.PathLike | None = None,
                   feature_overrides: dict | None = None, **config_overrides):
    """A fresh baseline model and its feature extractor for the class ``names``.

    With ``seed``, the random initial weights are seeded too (reproducible training starts here).
    ``speaker_norm``: a speaker-adaptive pair: the feature extractor normalises by the speaker's
    statistics (``speaker_normalization``), so the model does no per-clip normalisation of its own.
    ``front_end_from``: a Whisper checkpoint whose convolutional stem is copied in as the first
    layers (``front_end="whisper"``), read from an 80-band extractor; ``cnn1d`` only. With
    ``speaker_norm`` too, the speaker's statistics are taken over the stem's output and applied by
    the model (``normalization="speaker"``), as the stem needs the clip's own decibels.
    ``feature_overrides``: feature-extractor fields set over the architecture's (``TrainingConfig.feature_overrides``).
    """
    from transformers import set_seed

    from .models import MfccCnnConfig, MfccCnnFeatureExtractor, MfccCnnForAudioClassification

    # The stem is read before seeding: loading a checkpoint draws random numbers (its new head), and
    # the first load in a process would otherwise start the network from other weights than the next.
    layers, ffn = int(config_overrides.get("front_end_layers", 0)), config_overrides.get("front_end_ffn_dim")
    stem = _whisper_stem(str(front_end_from), layers, ffn) if front_end_from is not None else None
    if seed is not None:
        set_seed(seed)

    id2label = dict(enumerate(names))
    label2id = {n: i for i, n in id2label.items()}
    if architecture == "seed":
        # Seed 000: 40 MFCC x 60 frames (1.9 s at 16 kHz, hop 512) = its 2400-long input vector.
        fe = MfccCnnFeatureExtractor(feature_size=40, n_mfcc=40, n_mels=128, n_fft=2048, hop_length=512,
                                     fixed_frames=60, trim_db=None)
        config = MfccCnnConfig(architecture="seed", num_features=40, seed_frames=60, dropout=0.2,
                               label_smoothing=0.0, id2label=id2label, label2id=label2id, **config_overrides)
    elif front_end_from is not None:
        if architecture != "cnn1d":
            raise ValueError("a Whisper front end goes with architecture 'cnn1d' only")
        channels, bands, _ = stem["conv1.weight"].shape
        fe = MfccCnnFeatureExtractor(feature_size=bands, n_mels=bands, fmin=0.0)
        design = {"freq_mask_width": 32, "time_mask_width": 10,  # over 384 channels at 50 frames/s
                  **({"normalization": "speaker"} if speaker_norm else {}), **config_overrides, "front_end_ffn_dim": stem.ffn_dim}
        config = MfccCnnConfig(architecture=architecture, num_features=fe.feature_size, use_deltas=False,
                               front_end="whisper", front_end_channels=channels, front_end_heads=stem.heads,
                               id2label=id2label, label2id=label2id, **design)
        model = MfccCnnForAudioClassification(config)
        model.net.front_end.load_whisper(stem)
        return model, _with_fields(fe, feature_overrides)
    else:
        fe = MfccCnnFeatureExtractor(speaker_normalization=speaker_norm)
        if speaker_norm:
            config_overrides["normalization"] = "none"
        config = MfccCnnConfig(architecture=architecture, num_features=fe.feature_size,
                               id2label=id2label, label2id=label2id, **config_overrides)
    return MfccCnnForAudioClassification(config), _with_fields(fe, feature_overrides)


# The extractor's preprocessing options a recipe may change; its shape (bands, hop, frames) belongs to the design.
FEATURE_OPTIONS = ("trim_db", "reduce_noise")


def _with_fields(fe, overrides: dict | None):
    """``fe`` with the preprocessing fields of ``overrides`` set (the same object)."""
    for name, value in (overrides or {}).items():
        if name not in FEATURE_OPTIONS:
            raise ValueError(f"feature_overrides: {name!r} is not one of {FEATURE_OPTIONS}")
        setattr(fe, name, value)
    return fe


class _Stem(dict):
    """A front end's weights (a state dict) and the shape of its layers (attention heads, feed-forward width)."""
    heads: int = 6
    ffn_dim: int | None = None


@functools.lru_cache(maxsize=4)
def _whisper_stem(checkpoint: str, layers: int = 0, ffn_dim: int | None = None) -> _Stem:
    """The ``conv1``/``conv2`` weights of a Whisper checkpoint's encoder (folder or Hub id), and
    those of its first ``layers`` transformer layers.

    ``ffn_dim`` below the checkpoint's keeps that many of each layer's feed-forward units, those whose
    input and output weights have the largest norms (data-free, so no fold's clips choose them); 0
    keeps none (the layer's attention half only). Loaded once per process: every fold of a protocol
    starts from the same stem.
    """
    from transformers import WhisperForAudioClassification

    try:
        encoder = WhisperForAudioClassification.from_pretrained(checkpoint).encoder
    except (OSError, ValueError) as e:
        from .errors import ModelSourceError

        raise ModelSourceError(f"{checkpoint}: cannot load a Whisper encoder for the front end: {e} "
                               "(offline: pass a local folder with --front-end-from or $SER_WHISPER)") from e
    if layers > len(encoder.layers):
        raise ValueError(f"{checkpoint}: front_end_layers={layers}, but the encoder has {len(encoder.layers)} layers")
    keep = ("conv1.", "conv2.") + tuple(f"layers.{i}." for i in range(layers))
    stem = _Stem({k: v.detach().clone() for k, v in encoder.state_dict().items() if k.startswith(keep)})
    stem.heads, stem.ffn_dim = encoder.config.encoder_attention_heads, encoder.config.encoder_ffn_dim
    if ffn_dim is not None and ffn_dim < stem.ffn_dim:
        for i in range(layers if ffn_dim else 0):  # with none kept, the front end just loads no fc weights
            fc1, fc2 = f"layers.{i}.fc1.", f"layers.{i}.fc2."
            score = stem[fc1 + "weight"].norm(dim=1) * stem[fc2 + "weight"].norm(dim=0)
            units = score.topk(ffn_dim).indices.sort().values
            stem[fc1 + "weight"], stem[fc1 + "bias"] = stem[fc1 + "weight"][units], stem[fc1 + "bias"][units]
            stem[fc2 + "weight"] = stem[fc2 + "weight"][:, units]
        stem.ffn_dim = ffn_dim
    return stem


def fit_predict_baseline(train_ds: datasets.Dataset, test_ds: datasets.Dataset, names: list[str],
                         architecture: str = "cnn1d", config: TrainingConfig | None = None,
                         output_dir: str | os.PathLike = "runs/baseline", features: tuple | None = None,
                         progress: bool = True, teacher: dict | None = None, hints: dict | None = None) -> dict:
    """Train a fresh baseline on ``train_ds`` and predict ``test_ds`` (one fold of a protocol).

    ``features`` may pass ``(featurized_all, source_clip_ids_train, source_clip_ids_test)`` so the
    folds of a protocol share one cached featurization of the whole corpus. ``teacher``
    (``{clip_id: probabilities}`` over ``names`` for the training clips, from a model that never saw
    the test speakers) turns on distillation with ``config.distill_weight``; ``hints``
    (``{clip_id: embedding}`` for the training clips) trains the hint head of a model with
    ``hint_size`` (in ``config.model_overrides``) to give each clip's embedding.

    Returns ``{"y_true", "y_pred", "corpus", "speaker", "history", "model", "feature_extractor",
    "test_features", "speaker_stats"}`` (the last two: what the predictions were made from, so a
    benchmark can predict the fold again, e.g. with other speaker statistics).
    """
    config = config or TrainingConfig()
    model, fe = build_baseline(names, architecture, seed=config.seed, front_end_from=config.front_end_from,
                               feature_overrides=config.feature_overrides,
                               speaker_norm=config.speaker_norm and architecture != "seed", **config.model_overrides)
    copies = config.copies_for(architecture)
    if features is None:
        train_f = front_end_frames(featurize(train_ds, fe, augment_copies=copies, augmenter=config.wave_augmenter(),
                                             seed=config.seed, desc="train features"), model)
        test_f = front_end_frames(featurize(test_ds, fe, desc="test features"), model)
    else:
        all_f, train_ids, test_ids = features
        all_f = front_end_frames(all_f, model)  # a frozen stem runs once per clip, for all folds
        train_f, test_f = rows_of(all_f, train_ids, copies=copies > 0), rows_of(all_f, test_ids, copies=False)
    soft = None
    if teacher is not None and config.distill_weight > 0:
        soft = soft_targets(train_f, teacher, len(names), config.distill_weight,
                            None if features is not None else train_ds["clip_id"])
    hint_targets = None
    if hints is not None:
        if not model.config.hint_size:
            raise ValueError("hints given, but the model has no hint head: set hint_size in config.model_overrides")
        hint_targets = per_clip(train_f, hints, "embedding", None if features is not None else train_ds["clip_id"])
    stats = None
    if config.speaker_norm and architecture != "seed":  # speaker CMVN; test speakers' from their unlabelled clips
        stats = {**speaker_statistics(train_f), **speaker_statistics(test_f)}
    trainer = train_model(model, train_f, test_f, config, output_dir=output_dir,
                          fixed_frames=fe.fixed_frames, progress=progress, speaker_stats=stats, soft_labels=soft,
                          hint_targets=hint_targets)
    logits = predict(model, test_f, fixed_frames=fe.fixed_frames, speaker_stats=stats)
    return {
        "y_true": np.asarray(test_f["label"]), "y_pred": logits.argmax(-1), "corpus": list(test_f["corpus"]),
        "speaker": list(test_f["speaker"]), "history": epoch_history(trainer.state.log_history),
        "model": model, "feature_extractor": fe, "test_features": test_f, "speaker_stats": stats,
    }


def train_on_all(ds: datasets.Dataset, names: list[str], architecture: str = "cnn1d",
                 config: TrainingConfig | None = None, output_dir: str | os.PathLike = "runs/baseline",
                 progress: bool = True) -> dict:
    """Train a fresh baseline on every clip of ``ds``, nothing held out: a model to ship or deploy.

    The recipe of ``ser train --split all`` and of the shipped models' rebuild script, in one place.
    Returns ``{"model", "feature_extractor", "features", "seconds_features", "seconds_training"}``.
    """
    config = config or TrainingConfig()
    adaptive = config.speaker_norm and architecture != "seed"
    start = time.perf_counter()
    model, fe = build_baseline(names, architecture, seed=config.seed, speaker_norm=adaptive,
                               feature_overrides=config.feature_overrides,
                               front_end_from=config.front_end_from, **config.model_overrides)
    copies = config.copies_for(architecture)
    features = front_end_frames(featurize(ds, fe, augment_copies=copies, augmenter=config.wave_augmenter(),
                                          seed=config.seed, num_proc=config.threads), model)
    featurized = time.perf_counter()
    train_model(model, features, None, config, output_dir=output_dir, fixed_frames=fe.fixed_frames,
                progress=progress, speaker_stats=speaker_statistics(features) if adaptive else None)
    return {"model": model, "feature_extractor": fe, "features": features,
            "seconds_features": featurized - start, "seconds_training": time.perf_counter() - featurized}


def soft_targets(features: datasets.Dataset, teacher: dict, num_labels: int, weight: float,
                 clip_ids: list | None = None) -> dict[int, np.ndarray]:
    """``{clip: (1 - weight) * one-hot + weight * teacher[clip_id]}`` for the rows of ``features``.

    The rows' ``clip`` column holds source clip ids (shared featurization) or, with ``clip_ids``,
    positions into that list. A training clip the teacher has no probabilities for is an error,
    not a silent one-hot: distillation would quietly cover only part of the data.
    """
    probs = per_clip(features, teacher, "probabilities", clip_ids)
    eye = np.eye(num_labels, dtype=np.float32)
    return {int(c): (1 - weight) * eye[int(label)] + weight * probs[int(c)]
            for c, label in zip(features["clip"], features["label"])}


def per_clip(features: datasets.Dataset, table: dict, what: str, clip_ids: list | None = None) -> dict[int, np.ndarray]:
    """``{clip: table[clip_id]}`` (float32) for the rows of ``features`` (a teacher's ``what`` of each clip).

    The rows' ``clip`` column holds source clip ids (shared featurization) or, with ``clip_ids``,
    positions into that list. A training clip missing from ``table`` is an error, not a silent
    gap: distillation would quietly cover only part of the data.
    """
    clips = [int(c) for c in features["clip"]]
    ids = clips if clip_ids is None else [int(clip_ids[c]) for c in clips]
    missing = sorted({i for i in ids if i not in table})
    if missing:
        raise ValueError(f"the teacher has no {what} for {len(missing)} training clip(s), e.g. clip ids {missing[:5]}")
    return {clip: np.asarray(table[i], dtype=np.float32) for clip, i in zip(clips, ids)}


def teacher_probabilities(model_dir: str | os.PathLike, ds: datasets.Dataset, names: list[str],
                          batch_size: int = 16) -> dict[int, np.ndarray]:
    """``{clip_id: probabilities over names}`` of a trained model (e.g. a fine-tuned Whisper run) on ``ds``.

    The model's labels must be ``names`` in the same order. Clips the recognizer refuses (unreadable,
    empty, silent) are left out, and :func:`soft_targets` then names them.
    """
    from .inference import EmotionRecognizer

    recognizer = EmotionRecognizer.from_pretrained(str(model_dir), batch_size=batch_size)
    labels = [recognizer.model.config.id2label[i] for i in range(recognizer.model.config.num_labels)]
    if labels != list(names):
        raise ValueError(f"{model_dir}: the teacher's labels {labels} differ from the student's {list(names)}")
    results = recognizer.predict_batch(ds["path"], errors="return")
    return {int(clip_id): np.array([result[name] for name in names])
            for clip_id, result in zip(ds["clip_id"], results) if isinstance(result, dict)}
