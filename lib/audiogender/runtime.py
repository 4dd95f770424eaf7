"""Running a trained network without torch: its ONNX twin in ONNX Runtime.

``import torch`` alone takes over a second and a half; ONNX Runtime imports in a
third of that and runs this small CNN faster on the CPU. Every checkpoint
``X.pt`` is saved with an ``X.onnx`` beside it (:func:`model.export_onnx`) that
records the SHA-256 of the ``.pt`` it came from, so a twin left behind by an
older checkpoint is never used in its place. torch still trains, and runs the
network on a GPU when one is asked for.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np

from .features import FeatureConfig

SOURCE_KEY = "source_sha256"  # ONNX metadata: the checkpoint the twin was exported from
SHIPPED_MODEL = "default.pt"  # in the package's assets, with its twin default.onnx


def shipped_model_path() -> Path:
    """The model that ships inside the package."""
    from importlib import resources

    return Path(str(resources.files("audiogender") / "assets" / SHIPPED_MODEL))


def checkpoint_path(path: str | os.PathLike | None = None) -> Path:
    """The checkpoint file meant by ``path``: the shipped model for None, ``model.pt`` inside a run folder."""
    path = Path(path) if path else shipped_model_path()
    return path / "model.pt" if path.is_dir() else path


def onnx_session(path: str | os.PathLike, threads: int | None = None):
    """An ONNX Runtime CPU session; ``threads`` bounds its intra-op threads (None: one per core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    # idle pool threads sleep instead of spinning: the threads reading and preparing files need the cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def installed(module: str) -> bool:
    """Whether ``module`` is installed, found without importing it (onnx and onnxruntime are slow to import)."""
    return importlib.util.find_spec(module) is not None


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def female_log_odds(logits: np.ndarray) -> np.ndarray:
    """log(p(female) / p(male)) of each row of (windows, 2) logits: the difference of the two."""
    logits = np.asarray(logits, dtype=np.float64)
    return logits[:, 1] - logits[:, 0]


def sigmoid(log_odds) -> np.ndarray:
    """Probability from log-odds, without overflow at either end."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(log_odds, dtype=np.float64)))


class OnnxNetwork:
    """A CNN exported to ONNX: feature matrices in, log-odds of female out (its temperature is in the graph)."""

    device = "cpu"

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        self.path = Path(path)
        self.session = onnx_session(self.path, threads)
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.features = FeatureConfig(**json.loads(metadata["features"]))
        self.meta = json.loads(metadata.get("meta", "{}"))
        self.source_sha256 = metadata.get(SOURCE_KEY)

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        """Calibrated log(p(female) / p(male)) of each (frames x width) matrix in a batch."""
        (logits,) = self.session.run(None, {"features": np.ascontiguousarray(features, dtype=np.float32)})
        return female_log_odds(logits)

    def __repr__(self) -> str:
        return f"OnnxNetwork({self.path.name!r})"


def onnx_twin(checkpoint: str | os.PathLike, threads: int | None = None) -> OnnxNetwork | None:
    """The ONNX twin of a ``.pt`` checkpoint, if there is one, ONNX Runtime is installed and it was exported from these very weights."""
    twin = Path(checkpoint).with_suffix(".onnx")
    if not twin.exists() or not installed("onnxruntime"):
        return None
    network = OnnxNetwork(twin, threads)
    return network if network.source_sha256 == file_sha256(checkpoint) else None
