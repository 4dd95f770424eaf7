"""audiogender: tell male from female voices in a recording with a small CNN.

    import audiogender
    model = audiogender.load_model()
    model.predict("interview.wav")   # Prediction(label='female', p_female=0.97, ...)

Where things are: the CNNs in ``model``, the features in ``features``, the
speaker-disjoint splits in ``splits``, audio loading in ``audio``.
"""

from .audio import SAMPLE_RATE, AudioError, load_audio
from .features import FeatureConfig, compute_features
from .predict import GenderClassifier, Prediction, load_model


def model_card() -> str:
    """The shipped model's card: what it is, the data it saw, how well it does, its limits."""
    from importlib import resources

    return (resources.files("audiogender") / "MODEL_CARD.md").read_text(encoding="utf-8")


__version__ = "0.1.0"
__all__ = ["SAMPLE_RATE", "AudioError", "FeatureConfig", "GenderClassifier", "Prediction", "compute_features", "load_audio", "load_model", "model_card"]
