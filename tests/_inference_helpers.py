"""Tiny random audio-classification models, saved like real ones, for the inference, CLI and app tests.

Two architectures on purpose: a variable-length one (wav2vec2) and a fixed-window one (Whisper,
cut to a few seconds as the shipped model is), so the one code path of ``EmotionRecognizer`` is exercised
on both kinds of feature extractor.
"""

from __future__ import annotations

from pathlib import Path

from ser_hf.taxonomy import label_names

LABELS = label_names("7")


def _labels():
    return {"num_labels": len(LABELS), "id2label": dict(enumerate(LABELS)),
            "label2id": {name: i for i, name in enumerate(LABELS)}}


def save_tiny_wav2vec2(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(seed)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                            conv_dim=(32, 32), conv_kernel=(16, 10), conv_stride=(16, 10), num_conv_pos_embeddings=16,
                            num_conv_pos_embedding_groups=2, classifier_proj_size=16, **_labels())
    Wav2Vec2ForSequenceClassification(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=False).save_pretrained(folder)
    return Path(folder)


def save_tiny_whisper(folder: Path, seed: int = 0, seconds: int = 3, layers: int = 1) -> Path:
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForAudioClassification

    torch.manual_seed(seed)
    config = WhisperConfig(d_model=32, encoder_layers=layers, encoder_attention_heads=2, encoder_ffn_dim=37,
                           decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=37, num_mel_bins=80,
                           max_source_positions=seconds * 50, classifier_proj_size=16, vocab_size=100,
                           pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=3, **_labels())
    WhisperForAudioClassification(config).save_pretrained(folder)
    WhisperFeatureExtractor(feature_size=80, chunk_length=seconds).save_pretrained(folder)
    return Path(folder)


def save_tiny_mfcc_cnn(folder: Path, seed: int = 0, adaptive: bool = False) -> Path:
    """The baseline's own classes (registered by ``import ser_hf``), randomly initialised and small;
    ``adaptive``: the speaker-adaptive kind (features normalised by the speaker's statistics)."""
    import torch

    from ser_hf.models import MfccCnnConfig, MfccCnnFeatureExtractor, MfccCnnForAudioClassification

    torch.manual_seed(seed)
    config = MfccCnnConfig(num_features=32, channels=(16, 16), normalization="none" if adaptive else "utterance",
                           **_labels())
    MfccCnnForAudioClassification(config).save_pretrained(folder)
    MfccCnnFeatureExtractor(feature_size=32, n_mels=32, speaker_normalization=adaptive).save_pretrained(folder)
    return Path(folder)
