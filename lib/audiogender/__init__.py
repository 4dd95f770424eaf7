"""audiogender: tell male from female voices in a recording.

    import audiogender
    model = audiogender.load_model()
    model.predict("interview.wav")   # Prediction(label='female', p_female=0.97, ...)

What ``audiogender predict`` runs sits here, beside this file, and never imports
torch or the lab: reading audio (``audio``), features (``features``), voice
detection (``vad``), windows (``windows``), the ONNX runtime and the networks it
runs (``runtime``), the answer (``predict``), the settings a user may change
(``settings``), the file scheduler (``scheduler``), the files shipped in the package
(``shipped``) and the command line (``cli``). Training, corpora, splits, recipes and evaluation live in
``audiogender.lab`` (see its docstring).
"""

from .audio import SAMPLE_RATE, AudioError, load_audio
from .features import FeatureConfig, compute_features
from .predict import GenderClassifier, Prediction, Segment, Timeline, load_model
from .runtime import ModelError, Network
from .settings import Settings
from .shipped import model_card

__version__ = "0.1.0"
__all__ = [
    "SAMPLE_RATE", "AudioError", "FeatureConfig", "GenderClassifier", "ModelError", "Network", "Prediction", "Segment", "Settings",
    "Timeline", "compute_features", "load_audio", "load_model", "model_card",
]  # fmt: skip
