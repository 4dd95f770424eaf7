"""audiogender: tell male from female voices in a recording with a small CNN.

    import audiogender
    model = audiogender.load_model()
    model.predict("interview.wav")   # Prediction(label='female', p_female=0.97, ...)

What ``audiogender predict`` runs sits here, beside this file, and never imports
torch or the lab: reading audio (``audio``), features (``features``), voice
detection (``vad``), windows (``windows``), the ONNX runtime (``runtime``), the
answer (``predict``), the file scheduler (``scheduler``) and the command line
(``cli``). Training, corpora, splits, recipes and evaluation live in
``audiogender.lab`` (see its docstring).
"""

from .audio import SAMPLE_RATE, AudioError, load_audio
from .features import FeatureConfig, compute_features
from .predict import GenderClassifier, Prediction, Segment, Timeline, load_model
from .runtime import ModelError


def model_card() -> str:
    """The shipped model's card: what it is, the data it saw, how well it does, its limits."""
    from importlib import resources

    return (resources.files("audiogender") / "MODEL_CARD.md").read_text(encoding="utf-8")


__version__ = "0.1.0"
__all__ = [
    "SAMPLE_RATE", "AudioError", "FeatureConfig", "GenderClassifier", "ModelError", "Prediction", "Segment", "Timeline",
    "compute_features", "load_audio", "load_model", "model_card",
]  # fmt: skip
