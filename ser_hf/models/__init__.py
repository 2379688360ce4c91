"""Models of ser_hf, each registered with the transformers Auto classes when imported."""

from .mfcc_cnn import MfccCnnConfig, MfccCnnFeatureExtractor, MfccCnnForAudioClassification, SpeakerStatistics

__all__ = ["MfccCnnConfig", "MfccCnnFeatureExtractor", "MfccCnnForAudioClassification", "SpeakerStatistics"]
