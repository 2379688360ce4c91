"""Models of ser_hf, each registered with the transformers Auto classes when imported."""

from .mfcc_cnn import MfccCnnConfig, MfccCnnFeatureExtractor, MfccCnnForAudioClassification, SpeakerStatistics

__all__ = ["MfccCnnConfig", "MfccCnnFeatureExtractor", "MfccCnnForAudioClassification", "SpeakerStatistics",
           "save_model", "save_pretrained_half"]


def save_pretrained_half(model, folder, **kwargs) -> None:
    """``model.save_pretrained(folder)`` with the weights stored in float16 and the config left in float32:
    half the file, and ``from_pretrained`` still computes in float32 (CPUs lack fast float16 kernels).
    Both shipped models are stored so; the rounding moves their probabilities by about 1e-3."""
    half = {name: t.half() if t.is_floating_point() else t for name, t in model.state_dict().items()}
    model.save_pretrained(folder, state_dict=half, **kwargs)


def save_model(model, folder) -> None:
    """Save a trained baseline as the shipped ones are: in float16 where its front end holds transformer layers
    (models/ser-mfcc-cnn: 3.83 MB, within the 5 MB budget; 5.9 MB in float32), else as it is."""
    if getattr(model.config, "front_end_layers", 0):
        save_pretrained_half(model, folder)
    else:
        model.save_pretrained(folder)
