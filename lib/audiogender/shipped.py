"""The files that ship inside the package, named here and nowhere else.

``assets/`` holds the models (``cnn.onnx``, ``encoder.onnx``, each beside the ``.pt``
it was exported from, and ``ge2e.onnx``, the speaker encoder beneath ``encoder.onnx``),
the voice detector (``voice.onnx``), Silero VAD and the mel filters; ``web/`` the page ``audiogender serve``
shows; ``MODEL_CARD.md`` what the shipped models are.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SHIPPED_MODELS = {"cnn": "cnn.onnx", "encoder": "encoder.onnx"}  # a model kind -> its ONNX file
# what audiogender predict and load_model() use: 0.961 against the CNN's 0.901 leaving one corpus out (model card)
DEFAULT_MODEL = "encoder"
GE2E_FILE = "ge2e.onnx"  # the speaker encoder beneath the encoder's head
SILERO_FILE = "silero_vad_16k_sequence.onnx"  # Silero VAD's sequence model
VOICE_FILE = "voice.onnx"  # the learned voice decision (audiogender.voice)
MEL_FILTERS_FILE = "mel_filters.npz"
WEB_FILES = {"index.html": "text/html", "app.js": "text/javascript", "app.css": "text/css"}  # the page and its media types
WEB_PAGE = "index.html"  # what / serves; the others are served under /static/
STATIC_FILES = tuple(name for name in WEB_FILES if name != WEB_PAGE)


def _package() -> Path:
    return Path(str(resources.files("audiogender")))


def asset_path(name: str) -> Path:
    """A file of the package's ``assets/``."""
    return _package() / "assets" / name


def web_text(name: str) -> str:
    """A file of the web page (one of :data:`WEB_FILES`)."""
    if name not in WEB_FILES:  # a fixed list: a name from a request never becomes a path
        raise KeyError(name)
    return (_package() / "web" / name).read_text(encoding="utf-8")


def model_card() -> str:
    """The shipped models' card: what they are, the data they saw, how well they do, their limits."""
    return (_package() / "MODEL_CARD.md").read_text(encoding="utf-8")
