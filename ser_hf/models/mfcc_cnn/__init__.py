"""The MFCC-CNN baseline: config, model and feature extractor, registered with the Auto classes."""

from transformers import AutoConfig, AutoFeatureExtractor, AutoModelForAudioClassification

from .configuration_mfcc_cnn import MfccCnnConfig
from .feature_extraction_mfcc_cnn import MfccCnnFeatureExtractor, SpeakerStatistics
from .modeling_mfcc_cnn import MfccCnnForAudioClassification, MfccCnnPreTrainedModel

AutoConfig.register(MfccCnnConfig.model_type, MfccCnnConfig, exist_ok=True)
AutoModelForAudioClassification.register(MfccCnnConfig, MfccCnnForAudioClassification, exist_ok=True)
AutoFeatureExtractor.register(MfccCnnConfig, MfccCnnFeatureExtractor, exist_ok=True)

__all__ = ["MfccCnnConfig", "MfccCnnFeatureExtractor", "MfccCnnForAudioClassification", "MfccCnnPreTrainedModel",
           "SpeakerStatistics"]
