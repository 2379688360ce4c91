"""Raw 16 kHz audio to the MFCC-CNN's input: log-mel (or MFCC) frames, computed in numpy with librosa.

It is a ``SequenceFeatureExtractor``, saved beside the weights as ``preprocessor_config.json``,
so ``pipeline("audio-classification", model=dir)`` extracts features exactly as training did,
including the optional clean-up of :mod:`ser_hf.preprocess`.

A speaker-adaptive model (``speaker_normalization=True``) is fed features measured against its
speaker's usual voice (:class:`SpeakerStatistics`), not against the clip's own average.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from transformers import BatchFeature, SequenceFeatureExtractor

from ...preprocess import preprocess


@functools.lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)


@dataclass
class SpeakerStatistics:
    """Mean and standard deviation of each feature row over one speaker's frames (speaker CMVN).

    Emotion shows as a departure from the speaker's usual voice; a clip's own average cannot
    say how far it departs (a calm clip and an angry one are both "average" for themselves), so
    a speaker-adaptive model measures every clip against these. They use no labels: any speech
    of the speaker does, and they can be accumulated as a recording goes on (:meth:`add`).
    ``to_dict``/``from_dict`` keep an enrolled speaker's statistics as JSON.
    """

    count: int = 0
    total: np.ndarray | None = field(default=None, repr=False)
    squares: np.ndarray | None = field(default=None, repr=False)

    def add(self, frames: np.ndarray) -> "SpeakerStatistics":
        """Accumulate ``[feature_size, frames]`` features (what :meth:`MfccCnnFeatureExtractor.extract` returns)."""
        x = np.asarray(frames, dtype=np.float64)
        if self.total is None:
            self.total, self.squares = np.zeros(x.shape[0]), np.zeros(x.shape[0])
        self.count += x.shape[1]
        self.total = self.total + x.sum(1)
        self.squares = self.squares + (x ** 2).sum(1)
        return self

    def _moments(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.count:
            raise ValueError("no speech accumulated yet: speaker statistics need at least one clip")
        mean = self.total / self.count
        return mean, np.maximum(self.squares / self.count - mean ** 2, 0.0)

    @property
    def mean(self) -> np.ndarray:
        return self._moments()[0].astype(np.float32)

    @property
    def std(self) -> np.ndarray:
        return (np.sqrt(self._moments()[1]) + 1e-3).astype(np.float32)

    def normalize(self, frames: np.ndarray) -> np.ndarray:
        """``[feature_size, frames]`` measured against the speaker: zero mean, unit variance per row."""
        return ((np.asarray(frames, dtype=np.float32) - self.mean[:, None]) / self.std[:, None]).astype(np.float32)

    def to_dict(self) -> dict:
        return {"count": self.count, "total": self.total.tolist(), "squares": self.squares.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "SpeakerStatistics":
        return cls(int(data["count"]), np.asarray(data["total"], dtype=np.float64),
                   np.asarray(data["squares"], dtype=np.float64))


class MfccCnnFeatureExtractor(SequenceFeatureExtractor):
    """Log-mel spectrogram (``n_mfcc=0``) or MFCC frames of mono 16 kHz audio.

    Returns ``input_features`` ``[batch, feature_size, frames]`` (float32, padded with
    ``padding_value`` to the longest clip, or cropped/padded to ``fixed_frames``) and
    ``attention_mask`` ``[batch, frames]`` (1 on real frames).

    With ``speaker_normalization=True`` (a speaker-adaptive model) every call needs
    ``speaker_statistics=`` (:meth:`speaker_statistics` of some speech of the same speaker), and
    each clip's features are normalised by them: such a model judged by a clip's own statistics
    is near chance, so a call without them is an error, not a silent guess.

    Example:
        >>> fe = MfccCnnFeatureExtractor()
        >>> fe(wave, sampling_rate=16000, return_tensors="pt")["input_features"].shape
        torch.Size([1, 64, 301])
    """

    model_input_names = ["input_features", "attention_mask"]

    def __init__(self, feature_size: int = 64, sampling_rate: int = 16_000, padding_value: float = 0.0,
                 n_fft: int = 400, hop_length: int = 160, n_mels: int = 64, n_mfcc: int = 0,
                 fmin: float = 20.0, fmax: float | None = 8000.0, fixed_frames: int | None = None,
                 trim_db: float | None = 30.0, reduce_noise: bool = False, speaker_normalization: bool = False,
                 **kwargs):
        super().__init__(feature_size=feature_size, sampling_rate=sampling_rate,
                         padding_value=padding_value, **kwargs)
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.n_mfcc = n_mfcc
        self.fmin = fmin
        self.fmax = fmax
        self.fixed_frames = fixed_frames
        self.trim_db = trim_db
        self.reduce_noise = reduce_noise
        self.speaker_normalization = speaker_normalization

    def clean(self, wave: np.ndarray) -> np.ndarray:
        """The clip after the configured preprocessing (what the features are computed from)."""
        return preprocess(wave, self.sampling_rate, trim_db=self.trim_db, denoise=self.reduce_noise)

    def frames(self, wave: np.ndarray) -> np.ndarray:
        """``[feature_size, frames]`` of one already-cleaned clip."""
        import librosa

        wave = np.asarray(wave, dtype=np.float32)
        if wave.size < self.n_fft:
            wave = np.pad(wave, (0, self.n_fft - wave.size))
        # librosa.feature.melspectrogram's own steps (centred Hann STFT, power 2, its mel filters),
        # with the filter bank cached and applied by a matrix product instead of its einsum,
        # which took a quarter of the demo's time per request.
        power = np.abs(librosa.stft(wave, n_fft=self.n_fft, hop_length=self.hop_length)) ** 2
        mel = _mel_basis(self.sampling_rate, self.n_fft, self.n_mels, self.fmin, self.fmax) @ power
        log_mel = librosa.power_to_db(mel, ref=1.0, top_db=None).astype(np.float32)
        if self.n_mfcc:
            return librosa.feature.mfcc(S=log_mel, n_mfcc=self.n_mfcc).astype(np.float32)
        return log_mel

    def extract(self, wave: np.ndarray) -> np.ndarray:
        """Preprocess then compute the frames of one clip: the path both training and inference take."""
        return self.frames(self.clean(wave))

    def speaker_statistics(self, waves) -> SpeakerStatistics:
        """:class:`SpeakerStatistics` of one speaker's clips (16 kHz arrays), computed as the features are."""
        stats = SpeakerStatistics()
        for wave in waves:
            stats.add(self.extract(np.asarray(wave, dtype=np.float32).reshape(-1)))
        return stats

    def __call__(self, raw_speech, sampling_rate: int | None = None, return_tensors=None,
                 return_attention_mask: bool = True, speaker_statistics: SpeakerStatistics | None = None,
                 **kwargs) -> BatchFeature:
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise ValueError(f"expected audio at {self.sampling_rate} Hz, got {sampling_rate} Hz; resample first "
                             "(ser_hf.load_audio does)")
        is_batched = isinstance(raw_speech, (list, tuple)) or (
            isinstance(raw_speech, np.ndarray) and raw_speech.ndim == 2)
        clips = list(raw_speech) if is_batched else [raw_speech]
        feats = [self.extract(np.asarray(c, dtype=np.float32).reshape(-1)) for c in clips]
        if self.speaker_normalization:
            if speaker_statistics is None:
                raise ValueError("this model adapts to the speaker: pass speaker_statistics= (the feature "
                                 "extractor's speaker_statistics() of some speech of the same speaker), or use "
                                 "ser_hf.EmotionRecognizer, whose timeline() gathers them from the recording")
            feats = [speaker_statistics.normalize(f) for f in feats]
        elif speaker_statistics is not None:
            raise ValueError("speaker_statistics given, but this feature extractor does not use them "
                             "(speaker_normalization=False: the model normalises each clip itself)")
        return self.pad_frames(feats, return_tensors=return_tensors, return_attention_mask=return_attention_mask)

    def pad_frames(self, feats: list[np.ndarray], return_tensors=None,
                   return_attention_mask: bool = True) -> BatchFeature:
        """Stack ``[feature_size, frames]`` arrays into a padded batch with a frame mask."""
        lengths = [f.shape[1] for f in feats]
        width = self.fixed_frames or max(lengths)
        batch = np.full((len(feats), self.feature_size, width), self.padding_value, dtype=np.float32)
        mask = np.zeros((len(feats), width), dtype=np.int64)
        for i, f in enumerate(feats):
            n = min(f.shape[1], width)
            batch[i, :, :n] = f[:, :n]
            mask[i, :n] = 1
        data = {"input_features": batch}
        if return_attention_mask:
            data["attention_mask"] = mask
        return BatchFeature(data, tensor_type=return_tensors)
