"""Raw 16 kHz audio to the MFCC-CNN's input: log-mel (or MFCC) frames, computed in numpy with librosa.

It is a ``SequenceFeatureExtractor``, saved beside the weights as ``preprocessor_config.json``,
so ``pipeline("audio-classification", model=dir)`` extracts features exactly as training did,
including the optional clean-up of :mod:`ser_hf.preprocess`.
"""

from __future__ import annotations

import functools

import numpy as np
from transformers import BatchFeature, SequenceFeatureExtractor

from ...preprocess import preprocess


@functools.lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)


class MfccCnnFeatureExtractor(SequenceFeatureExtractor):
    """Log-mel spectrogram (``n_mfcc=0``) or MFCC frames of mono 16 kHz audio.

    Returns ``input_features`` ``[batch, feature_size, frames]`` (float32, padded with
    ``padding_value`` to the longest clip, or cropped/padded to ``fixed_frames``) and
    ``attention_mask`` ``[batch, frames]`` (1 on real frames).

    Example:
        >>> fe = MfccCnnFeatureExtractor()
        >>> fe(wave, sampling_rate=16000, return_tensors="pt")["input_features"].shape
        torch.Size([1, 64, 301])
    """

    model_input_names = ["input_features", "attention_mask"]

    def __init__(self, feature_size: int = 64, sampling_rate: int = 16_000, padding_value: float = 0.0,
                 n_fft: int = 400, hop_length: int = 160, n_mels: int = 64, n_mfcc: int = 0,
                 fmin: float = 20.0, fmax: float | None = 8000.0, fixed_frames: int | None = None,
                 trim_db: float | None = 30.0, reduce_noise: bool = False, **kwargs):
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

    def __call__(self, raw_speech, sampling_rate: int | None = None, return_tensors=None,
                 return_attention_mask: bool = True, **kwargs) -> BatchFeature:
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise ValueError(f"expected audio at {self.sampling_rate} Hz, got {sampling_rate} Hz; resample first "
                             "(ser_hf.load_audio does)")
        is_batched = isinstance(raw_speech, (list, tuple)) or (
            isinstance(raw_speech, np.ndarray) and raw_speech.ndim == 2)
        clips = list(raw_speech) if is_batched else [raw_speech]
        feats = [self.extract(np.asarray(c, dtype=np.float32).reshape(-1)) for c in clips]
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
