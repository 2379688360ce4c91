"""Emotion probabilities for any audio, from any saved audio-classification model.

:class:`EmotionRecognizer` serves every model that ``AutoModelForAudioClassification`` and
``AutoFeatureExtractor`` load (the MFCC-CNN baseline, fine-tuned Whisper, wav2vec2, ...), from a
local folder or a Hub id, through one code path: decode with :func:`ser_hf.load_audio`, extract
features with the model's own feature extractor, batch, softmax. The CLI (``ser predict``) and
the demo (``app/``) both call it, so they agree.

What unusable input does, everywhere (library, CLI, app): it raises
:class:`~ser_hf.errors.AudioError` naming the source and the problem, never a guess.

- not audio, empty file, no samples: ``"not a readable audio file (...)"`` / ``"empty file (0 bytes)"``
- shorter than :data:`MIN_DURATION` (0.1 s): ``"too short: 0.05 s; at least 0.1 s of audio is needed"``
- silent (loudest 30 ms frame below -50 dBFS): ``"no speech found: the audio is silent (...)"``
- longer than ``max_duration`` (60 s by default) in :meth:`~EmotionRecognizer.predict`:
  ``"too long: ... use timeline() (ser predict --long) for long recordings"``
- :meth:`~EmotionRecognizer.timeline` on a recording where the detector finds no speech:
  ``"no speech found ..."``

On the CPU, a per-clip MFCC-CNN (the shipped default) runs in ONNX Runtime, exported when loaded
(:mod:`ser_hf.onnx_runtime`: the same logits, about 1.4x faster on one thread); ``runtime="torch"`` keeps
PyTorch, and every other model runs in PyTorch.

Models with a fixed input window (fine-tuned Whisper: the feature extractor's ``n_samples``)
see a longer clip as consecutive windows whose probabilities are averaged, not only its start.

Speaker-adaptive models (``models/ser-mfcc-cnn-adaptive``: the feature extractor's
``speaker_normalization``, or, behind a front end, the model's ``normalization="speaker"`` or
``"utterance+speaker"``, whose statistics are of the front end's output) measure each clip against the speaker's usual voice, so they need some
speech of that speaker: :meth:`~EmotionRecognizer.speaker_statistics` of a few clips, passed as
``speaker=``; :meth:`~EmotionRecognizer.timeline` gathers them from the recording itself.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from itertools import groupby
from typing import Iterable, Iterator

import numpy as np

from .audio import load_audio
from .errors import AudioError, SerError
from .vad import SILENCE_DB, EnergyVAD, loudest_frame_db, stream_audio

logger = logging.getLogger(__name__)

MIN_DURATION = 0.1
MAX_DURATION = 60.0
RUNTIMES = ("auto", "onnx", "torch")


class EmotionRecognizer:
    """A loaded audio-classification model and its feature extractor, ready to predict.

    Args:
        model: an ``AutoModelForAudioClassification`` model.
        feature_extractor: the model's feature extractor (defines the sampling rate).
        batch_size: clips per forward pass in :meth:`predict_batch` and :meth:`timeline`.
        max_duration: longest clip :meth:`predict` accepts, in seconds (None: no limit).
        name: shown in tables and the app (default: the folder or Hub id it was loaded from).
        runtime: ``"auto"`` (ONNX Runtime where :func:`ser_hf.onnx_runtime.supports` the model and onnxruntime
            is installed, else PyTorch), ``"onnx"`` (ONNX Runtime or an error) or ``"torch"``.

    Example:
        >>> recognizer = EmotionRecognizer.from_pretrained("models/ser-mfcc-cnn")
        >>> recognizer.predict("clip.wav")
        {'neutral': 0.02, 'happy': 0.81, 'sad': 0.01, ...}
    """

    def __init__(self, model, feature_extractor, *, batch_size: int = 16,
                 max_duration: float | None = MAX_DURATION, name: str | None = None, runtime: str = "auto"):
        self.model = model.eval()
        self.feature_extractor = feature_extractor
        self.batch_size = batch_size
        self.max_duration = max_duration
        self.name = name or getattr(model.config, "_name_or_path", "") or type(model).__name__
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        self.onnx = self._onnx_model(runtime)

    def _onnx_model(self, runtime: str):
        """The model in ONNX Runtime when ``runtime`` asks for it and it applies, else None (PyTorch)."""
        from .onnx_runtime import OnnxRuntimeModel, supports

        if runtime not in RUNTIMES:
            raise SerError(f"unknown runtime {runtime!r}; choose one of {RUNTIMES}")
        if runtime == "torch" or (runtime == "auto" and not supports(self.model)):
            return None
        if not supports(self.model):
            raise SerError(f"{self.name}: ONNX Runtime serves per-clip MFCC-CNN models on the CPU only; "
                           "use runtime='torch'")
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            if runtime == "onnx":
                raise SerError("runtime 'onnx' needs onnxruntime: pip install onnxruntime") from None
            return None
        try:
            return OnnxRuntimeModel(self.model)
        except Exception as exc:  # torch.onnx's errors have no common base; any of them means "not exportable"
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if runtime == "onnx":
                raise SerError(f"{self.name}: could not be exported to ONNX ({reason}); use runtime='torch'") from None
            logger.info("%s runs in PyTorch: ONNX export failed (%s)", self.name, reason)
            return None

    @property
    def runtime(self) -> str:
        """What runs the model: ``"onnxruntime"`` or ``"torch"``."""
        return "onnxruntime" if self.onnx is not None else "torch"

    @classmethod
    def from_pretrained(cls, path_or_id: str | os.PathLike, *, device: str | None = None, **kwargs) -> "EmotionRecognizer":
        """Load a model folder (``save_pretrained`` output) or a Hub id; safetensors weights only.

        Raises:
            SerError: nothing loadable there (missing folder, no weights, Hub unreachable).
        """
        import torch
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        source = str(path_or_id)
        try:
            feature_extractor = AutoFeatureExtractor.from_pretrained(source)
            model = AutoModelForAudioClassification.from_pretrained(source, use_safetensors=True)
        except Exception as exc:  # OSError, ValueError, EnvironmentError: all mean "not loadable here"
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SerError(f"{source}: could not load an audio-classification model ({reason})") from None
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        name = os.path.basename(os.path.normpath(source)) if os.path.isdir(source) else source
        return cls(model.to(device), feature_extractor, name=kwargs.pop("name", name), **kwargs)

    @property
    def sampling_rate(self) -> int:
        return self.feature_extractor.sampling_rate

    @property
    def window(self) -> float | None:
        """The model's fixed input window in seconds, if its feature extractor pads to one."""
        samples = getattr(self.feature_extractor, "n_samples", None)
        return samples / self.sampling_rate if samples else None

    # -- one clip --------------------------------------------------------------------------

    def load(self, source, sr: int | None = None) -> np.ndarray:
        """Decode ``source`` and check it is a usable clip (see the module docstring)."""
        samples = load_audio(source, self.sampling_rate, sr=sr)
        self.check(samples, source)
        return samples

    def check(self, samples: np.ndarray, source) -> None:
        """Raise :class:`AudioError` for clips too short, too long or silent."""
        name = source if isinstance(source, (str, os.PathLike)) else f"<{type(source).__name__}>"
        seconds = len(samples) / self.sampling_rate
        if seconds < MIN_DURATION:
            raise AudioError(name, f"too short: {seconds:.2f} s; at least {MIN_DURATION} s of audio is needed")
        if self.max_duration and seconds > self.max_duration:
            raise AudioError(name, f"too long: {seconds:.1f} s, more than {self.max_duration:g} s; use "
                                   "timeline() (ser predict --long) for long recordings")
        level = loudest_frame_db(samples, self.sampling_rate)
        if level < SILENCE_DB:
            raise AudioError(name, f"no speech found: the audio is silent (loudest frame {level:.0f} dBFS, "
                                   f"below {SILENCE_DB:.0f} dBFS)")

    def predict(self, source, sr: int | None = None, speaker=None) -> dict[str, float]:
        """Probability of each emotion for one clip: a path, bytes, an array (with ``sr``) or ``(sr, array)``.

        ``speaker``: the speaker's :meth:`speaker_statistics`, for speaker-adaptive models (required there).

        Raises:
            AudioError: the clip is unreadable, too short, too long or silent.
        """
        return self._as_dict(self.predict_arrays([self.load(source, sr)], speaker=speaker)[0])

    # -- speaker adaptation ----------------------------------------------------------------

    @property
    def adaptive(self) -> bool:
        """Whether the model measures clips against the speaker's statistics (and so needs them)."""
        return bool(getattr(self.feature_extractor, "speaker_normalization", False)) or self._model_adapts

    @property
    def _model_adapts(self) -> bool:
        """The model applies the statistics itself, to its front end's output (``takes_speaker_statistics``)."""
        return bool(getattr(self.model, "takes_speaker_statistics", False))

    def speaker_statistics(self, sources: Iterable, sr: int | None = None):
        """The statistics of one speaker's voice from some of their clips (no labels needed).

        Which clips: any speech of the speaker, the more and the more varied the better; the
        benchmarks (``python -m bench.baseline adaptive_enrolment``) show how accuracy grows with
        their number. A clip that cannot be used is skipped with a warning naming it.

        Raises:
            SerError: not a speaker-adaptive model, or none of the clips is usable.
        """
        if not self.adaptive:
            raise SerError(f"{self.name} does not adapt to the speaker: it needs no speaker statistics")
        waves = []
        for source in sources:
            try:
                waves.append(self.load(source, sr))
            except AudioError as exc:
                logger.warning("speaker statistics: skipped %s", exc)
        if not waves:
            raise SerError("speaker statistics: none of the clips is usable audio")
        from .models.mfcc_cnn import SpeakerStatistics

        stats = SpeakerStatistics()
        for wave in waves:
            stats.add(self._statistics_frames(self.feature_extractor.extract(wave)))
        return stats

    def speech_seconds(self, stats) -> float:
        """How much speech (seconds, after silence trimming) ``stats`` were gathered from."""
        stride = self.model.front_end_stride if self._model_adapts else 1
        return stats.count * stride * self.feature_extractor.hop_length / self.sampling_rate

    def _statistics_frames(self, frames: np.ndarray) -> np.ndarray:
        """What speaker statistics are gathered over: the extractor's ``[feature_size, frames]``, or
        for a model that adapts behind its front end, that front end's output for them."""
        if not self._model_adapts:
            return frames
        import torch

        with torch.inference_mode():
            out, mask = self.model.front_end_features(torch.from_numpy(frames)[None].to(self.model.device))
        return out[0, :, :int(mask.sum())].float().cpu().numpy()

    def _adapted(self, frames: np.ndarray, stats) -> dict[str, np.ndarray]:
        """Model inputs of one clip's extracted frames, measured against the speaker's ``stats``."""
        if self._model_adapts:
            return {**self._pad(frames), "speaker_mean": stats.mean[None], "speaker_std": stats.std[None]}
        return self._pad(stats.normalize(frames))

    # -- many clips ------------------------------------------------------------------------

    def iter_predict(self, sources: Iterable, batch_size: int | None = None,
                     speaker=None) -> Iterator[tuple[object, dict | AudioError]]:
        """``(source, probabilities or AudioError)`` for each source, in order, decoded lazily.

        A broken file yields its error and the rest go on: one bad file among thousands is
        reported, never a crash. ``speaker``: as in :meth:`predict`.
        """
        batch_size = batch_size or self.batch_size
        pending: list[tuple[object, np.ndarray | AudioError]] = []

        def flush():
            arrays = [s for _, s in pending if not isinstance(s, AudioError)]
            probs = iter(self.predict_arrays(arrays, speaker=speaker)) if arrays else iter(())
            for source, s in pending:
                yield source, s if isinstance(s, AudioError) else self._as_dict(next(probs))
            pending.clear()

        for source in sources:
            try:
                pending.append((source, self.load(source)))
            except AudioError as exc:
                pending.append((source, exc))
            if len(pending) >= batch_size:
                yield from flush()
        yield from flush()

    def predict_batch(self, sources: Iterable, batch_size: int | None = None,
                      errors: str = "raise", speaker=None) -> list[dict[str, float] | AudioError]:
        """Probabilities for many clips, ``batch_size`` per forward pass.

        Args:
            errors: ``"raise"`` stops at the first unusable clip; ``"return"`` puts its
                :class:`AudioError` in its place in the list and goes on.
            speaker: as in :meth:`predict`.
        """
        if errors not in ("raise", "return"):
            raise ValueError(f"errors must be 'raise' or 'return', not {errors!r}")
        results = []
        for _, result in self.iter_predict(sources, batch_size, speaker=speaker):
            if isinstance(result, AudioError) and errors == "raise":
                raise result
            results.append(result)
        return results

    def predict_arrays(self, arrays: list[np.ndarray], speaker=None) -> np.ndarray:
        """Probabilities ``[len(arrays), len(labels)]`` for decoded 16 kHz clips (no checks).

        Each clip is featurised alone, exactly as ``pipeline("audio-classification")`` does,
        and clips whose features have the same shape share a forward pass, so a clip gets the
        same probabilities alone or in a batch. (Padding clips of other lengths would break that
        even with an attention mask: convolutions see the padding at a clip's edge.) Clips longer
        than a fixed-window model's window are split into windows whose probabilities are averaged.
        ``speaker``: as in :meth:`predict`.
        """
        self._check_speaker(speaker)
        pieces, owner = [], []
        for index, samples in enumerate(arrays):
            for window in self._windows(samples):
                pieces.append(self._features(window, speaker))
                owner.append(index)
        window_probs = self._predict_pieces(pieces)
        probs = np.zeros((len(arrays), len(self.labels)), dtype=np.float64)
        counts = np.zeros(len(arrays))
        np.add.at(probs, owner, window_probs)
        np.add.at(counts, owner, 1)
        return probs / np.maximum(counts, 1)[:, None]

    # -- long recordings -------------------------------------------------------------------

    def timeline(self, source, sr: int | None = None, vad: EnergyVAD | None = None,
                 chunk_seconds: float = 30.0, batch_size: int | None = None, speaker=None,
                 adapt_seconds: float = 60.0) -> list[dict]:
        """Split a recording into speech segments and predict each: the emotion timeline.

        Files are decoded ``chunk_seconds`` at a time, so memory stays bounded on an hour-long
        recording. Segments are at most ``vad.max_segment`` long (and at most the model's
        window, for fixed-window models).

        A speaker-adaptive model measures the recording against its own speaker (one speaker per
        recording or channel): the statistics grow with every speech segment, and the first
        segments wait until ``adapt_seconds`` of speech have been heard (or the recording ends),
        so a live stream is served in one pass. ``speaker`` (from :meth:`speaker_statistics`)
        gives an enrolled speaker's statistics instead, fixed.

        Returns:
            One dict per segment: ``start`` and ``end`` (seconds), ``emotion`` (the most likely),
            ``score`` (its probability) and ``probabilities`` (every emotion).

        Raises:
            AudioError: unreadable, or no speech found anywhere in the recording.
        """
        vad = vad or EnergyVAD()
        if self.window:
            vad = dataclasses.replace(vad, max_segment=min(vad.max_segment, self.window))
        if sr is not None:
            source = (sr, source)
        self._check_speaker(speaker, required=False)
        batch_size = batch_size or self.batch_size
        running = None
        if self.adaptive and speaker is None:
            from .models.mfcc_cnn import SpeakerStatistics

            running = SpeakerStatistics()
        rows, pending = [], []

        def flush():
            if self.adaptive:  # features already extracted: measure them against the speaker now
                stats = speaker or running
                probs = self._predict_pieces([self._adapted(frames, stats) for _, frames in pending])
            else:
                probs = self.predict_arrays([seg.samples for seg, _ in pending])
            for (seg, _), p in zip(pending, probs):
                best = int(np.argmax(p))
                rows.append({"start": round(seg.start, 3), "end": round(seg.end, 3), "emotion": self.labels[best],
                             "score": float(p[best]), "probabilities": self._as_dict(p)})
            pending.clear()

        chunks = stream_audio(source, self.sampling_rate, chunk_seconds)
        for segment in vad.stream(chunks, self.sampling_rate):
            if segment.end - segment.start < MIN_DURATION:
                continue
            frames = self.feature_extractor.extract(segment.samples) if self.adaptive else None
            if running is not None:
                running.add(self._statistics_frames(frames))
            pending.append((segment, frames))
            warm = running is None or self.speech_seconds(running) >= adapt_seconds
            if len(pending) >= batch_size and warm:
                flush()
        if pending:
            flush()
        if not rows:
            name = source if isinstance(source, (str, os.PathLike)) else f"<{type(source).__name__}>"
            raise AudioError(name, f"no speech found: no stretch of at least {vad.min_speech:g} s louder than "
                                   f"{vad.min_level_db:.0f} dBFS and {vad.threshold_db:g} dB above the noise floor")
        return rows

    # -- internals -------------------------------------------------------------------------

    def _windows(self, samples: np.ndarray) -> list[np.ndarray]:
        window = self.window
        if not window:
            return [samples]
        size = int(window * self.sampling_rate)
        if len(samples) <= size * 1.25:
            return [samples]
        starts = list(range(0, len(samples) - size, size)) + [len(samples) - size]
        return [samples[s: s + size] for s in starts]

    def _check_speaker(self, speaker, required: bool = True) -> None:
        """An adaptive model needs statistics (unless ``required`` is False: timeline gathers them); others take none."""
        if self.adaptive and speaker is None and required:
            raise SerError(f"{self.name} adapts to the speaker: pass speaker=recognizer.speaker_statistics(clips) "
                           "(some speech of the same speaker), or use timeline() on a recording, which gathers "
                           "them as it goes")
        if speaker is not None and not self.adaptive:
            raise SerError(f"{self.name} does not adapt to the speaker: it takes no speaker statistics")

    def _features(self, samples: np.ndarray, speaker=None) -> dict[str, np.ndarray]:
        if self._model_adapts:
            return self._adapted(self.feature_extractor.extract(samples), speaker)
        extra = {"speaker_statistics": speaker} if speaker is not None else {}
        features = self.feature_extractor(samples, sampling_rate=self.sampling_rate, return_tensors="np", **extra)
        return {key: np.asarray(value) for key, value in features.items()}

    def _pad(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """Model inputs of one clip's already-extracted frames."""
        features = self.feature_extractor.pad_frames([frames], return_tensors="np")
        return {key: np.asarray(value) for key, value in features.items()}

    def _predict_pieces(self, pieces: list[dict[str, np.ndarray]]) -> np.ndarray:
        """Probabilities of featurised pieces; pieces of one shape share a forward pass."""
        probs = np.zeros((len(pieces), len(self.labels)), dtype=np.float64)
        signature = lambda i: tuple((k, v.shape) for k, v in sorted(pieces[i].items()))  # noqa: E731
        for _, group in groupby(sorted(range(len(pieces)), key=signature), key=signature):
            group = list(group)
            for start in range(0, len(group), self.batch_size):
                chosen = group[start: start + self.batch_size]
                probs[chosen] = self._forward([pieces[i] for i in chosen])
        return probs

    def _forward(self, features: list[dict[str, np.ndarray]]) -> np.ndarray:
        import torch

        if self.onnx is not None:  # pieces of one shape: never padded (_predict_pieces groups them so)
            batch = {key: np.concatenate([f[key] for f in features], axis=0) for key in features[0]}
            logits = torch.from_numpy(self.onnx.logits(**batch))
            return logits.float().softmax(-1).numpy()
        device = self.model.device
        dtype = self.model.dtype
        batch = {}
        for key in features[0]:
            tensor = torch.from_numpy(np.concatenate([f[key] for f in features], axis=0)).to(device)
            batch[key] = tensor.to(dtype) if tensor.is_floating_point() else tensor
        with torch.inference_mode():
            logits = self.model(**batch).logits
        return logits.float().softmax(-1).cpu().numpy()

    def _as_dict(self, probs: np.ndarray) -> dict[str, float]:
        return {label: float(p) for label, p in zip(self.labels, probs)}

    def __repr__(self) -> str:
        return f"EmotionRecognizer({self.name!r}, labels={self.labels}, runtime={self.runtime!r})"
