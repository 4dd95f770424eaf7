"""Running an exported network without torch: ONNX files in ONNX Runtime.

``import torch`` alone takes over a second and a half; ONNX Runtime imports in a
third of that and runs these small networks faster on the CPU. Every network the
lab trains is saved as ``X.pt`` with an ``X.onnx`` twin that records its feature
settings and the SHA-256 of the ``.pt`` it came from (``lab.networks.export_onnx``),
so a twin left behind by an older checkpoint is recognised and refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .features import FeatureConfig
from .labels import female_log_odds

SOURCE_KEY = "source_sha256"  # ONNX metadata: the checkpoint the twin was exported from
DEVICES = ("auto", "cpu", "cuda")  # where ONNX Runtime runs a network; auto: cuda if onnxruntime-gpu sees one


class ModelError(ValueError):
    """A model file that cannot be used, with the file and the reason in the message."""


def providers(device: str = "auto") -> list[str]:
    """ONNX Runtime's execution providers for ``device`` (the CPU is always the fallback)."""
    import onnxruntime as ort

    device = (device or "auto").lower()
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    if device == "cuda" and not has_cuda:
        raise ModelError("device 'cuda' was asked for, but ONNX Runtime has no CUDA provider here (pip install onnxruntime-gpu)")
    return (["CUDAExecutionProvider"] if device != "cpu" and has_cuda else []) + ["CPUExecutionProvider"]


def onnx_session(path: str | os.PathLike, threads: int | None = None, device: str = "cpu"):
    """An ONNX Runtime session; ``threads`` bounds its intra-op threads (None: one per core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    # idle pool threads sleep instead of spinning: the threads reading and preparing files need the cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=providers(device))


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class OnnxNetwork:
    """An exported network: feature matrices in, calibrated log-odds of female out.

    The file describes itself: its metadata holds the features it reads (``features``),
    what it was trained on (``meta``) and the checkpoint it came from.
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None, device: str = "cpu"):
        self.path = Path(path)
        try:
            self.session = onnx_session(self.path, threads, device)
            metadata = self.session.get_modelmeta().custom_metadata_map
            self.features = FeatureConfig(**json.loads(metadata["features"]))
        except ModelError:
            raise
        except Exception as error:  # ONNX Runtime raises its own exception types for a bad file
            raise ModelError(f"{self.path}: not a model audiogender can run ({str(error).splitlines()[0]})") from None
        self.meta = json.loads(metadata.get("meta", "{}"))
        self.source_sha256 = metadata.get(SOURCE_KEY)
        self.device = "cuda" if "CUDAExecutionProvider" in self.session.get_providers() else "cpu"

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        """Calibrated log(p(female) / p(male)) of each (frames x width) matrix in a batch."""
        (logits,) = self.session.run(None, {"features": np.ascontiguousarray(features, dtype=np.float32)})
        return female_log_odds(logits)

    def __repr__(self) -> str:
        return f"OnnxNetwork({self.path.name!r})"


def load_network(path: str | os.PathLike, threads: int | None = None, device: str = "cpu") -> OnnxNetwork:
    """The exported network meant by ``path``: an ``.onnx`` file, a ``.pt`` checkpoint's twin, or a run folder's model.

    A twin is used only if it was exported from these very weights; otherwise
    :class:`ModelError` says how to export it (the lab has torch, prediction does not).
    """
    path = Path(path)
    if path.is_dir():  # a run folder: its checkpoint, so the twin's provenance is checked
        path = path / "model.pt" if (path / "model.pt").exists() else path / "model.onnx"
    if not path.exists():
        raise ModelError(f"{path}: no such model file")
    if path.suffix != ".pt":
        return OnnxNetwork(path, threads, device)
    twin = path.with_suffix(".onnx")
    if not twin.exists():
        raise ModelError(f"{path}: has no ONNX twin {twin.name}; export one with audiogender.lab.networks.export_twin({str(path)!r})")
    network = OnnxNetwork(twin, threads, device)
    if network.source_sha256 != file_sha256(path):
        raise ModelError(f"{twin}: was exported from other weights than {path.name}; export it again with audiogender.lab.networks.export_twin")
    return network
