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
ENCODER_KEY = "encoder"  # ONNX metadata of a head: the encoder file beneath it
ENCODER_WEIGHTS_KEY = "encoder_weights_sha256"  # ... and the SHA-256 of the weights that encoder was exported from
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


def onnx_session(model: str | os.PathLike | bytes, threads: int | None = None, device: str = "cpu"):
    """An ONNX Runtime session of a file or of its bytes; ``threads`` bounds its intra-op threads (None: one per core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    # idle pool threads sleep instead of spinning: the threads reading and preparing files need the cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), options, providers=providers(device))


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _open(model: str | os.PathLike | bytes, threads: int | None, device: str) -> tuple[object, dict, str]:
    """(session, custom metadata, name) of an ONNX file or of its bytes; :class:`ModelError` if it is no model."""
    name = "<in memory>" if isinstance(model, bytes) else str(model)
    try:
        session = onnx_session(model, threads, device)
        metadata = session.get_modelmeta().custom_metadata_map
        FeatureConfig(**json.loads(metadata["features"]))
    except ModelError:
        raise
    except Exception as error:  # ONNX Runtime raises its own exception types for a bad file
        raise ModelError(f"{name}: not a model audiogender can run ({str(error).splitlines()[0]})") from None
    return session, metadata, name


class OnnxNetwork:
    """An exported network that judges each window: feature matrices in, calibrated log-odds of female out (the CNNs).

    The file describes itself: its metadata holds the features it reads (``features``),
    what it was trained on (``meta``) and the checkpoint it came from. A group of
    windows (a piece, a recording) is judged by the mean of their log-odds.
    """

    def __init__(self, model: str | os.PathLike | bytes, threads: int | None = None, device: str = "cpu"):
        self.session, self.metadata, name = _open(model, threads, device)
        self.path = None if isinstance(model, bytes) else Path(model)
        self.name = Path(name).name
        self.features = FeatureConfig(**json.loads(self.metadata["features"]))
        self.meta = json.loads(self.metadata.get("meta", "{}"))
        self.source_sha256 = self.metadata.get(SOURCE_KEY)
        self.input_name = self.session.get_inputs()[0].name
        self.device = "cuda" if "CUDAExecutionProvider" in self.session.get_providers() else "cpu"

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        """Calibrated log(p(female) / p(male)) of each (frames x width) matrix in a batch."""
        (logits,) = self.session.run(None, {self.input_name: np.ascontiguousarray(features, dtype=np.float32)})
        return female_log_odds(logits)

    def outputs(self, features: np.ndarray) -> np.ndarray:
        """What is kept of each window until its group is judged: its log-odds, as a (windows, 1) column."""
        return self.log_odds(features)[:, None]

    def pooled_log_odds(self, outputs: np.ndarray) -> float:
        """The log-odds of a group of windows: the mean of theirs."""
        return float(np.mean(outputs[:, 0]))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class EncoderNetwork:
    """A frozen speaker encoder with a small head on top: windows in, embeddings kept, a group judged by its mean embedding.

    The encoder (GE2E, ``assets/ge2e.onnx``) turns each 1.6 s window of mel power into
    a 256-dimensional voice embedding of unit length; a piece or a recording is the
    mean of its windows' embeddings, made unit length again (as Resemblyzer embeds an
    utterance), and the head (an embedding in, calibrated logits out) judges that.
    ``log_odds`` judges each window on its own. The head's file describes the model
    (features, meta, provenance); the encoder's is shared by every head.
    """

    def __init__(self, head: OnnxNetwork, encoder: OnnxNetwork):
        self.head, self.encoder = head, encoder
        self.path, self.name, self.meta, self.source_sha256, self.device = head.path, head.name, head.meta, head.source_sha256, head.device
        self.features = head.features

    def embed(self, features: np.ndarray) -> np.ndarray:
        """Unit-length embeddings of each window's features."""
        (embeddings,) = self.encoder.session.run(None, {"features": np.ascontiguousarray(features, dtype=np.float32)})
        return embeddings

    def judge(self, embeddings: np.ndarray) -> np.ndarray:
        """Calibrated log-odds of female of each embedding."""
        return self.head.log_odds(embeddings)

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        return self.judge(self.embed(features))

    def outputs(self, features: np.ndarray) -> np.ndarray:
        return self.embed(features)

    def pooled_log_odds(self, outputs: np.ndarray) -> float:
        return float(self.judge(unit_mean(outputs)[None])[0])

    def __repr__(self) -> str:
        return f"EncoderNetwork({self.name!r} on {self.encoder.name!r})"


def unit_mean(embeddings: np.ndarray) -> np.ndarray:
    """The mean of unit-length embeddings, made unit length again: an utterance's embedding from its windows'."""
    mean = np.asarray(embeddings, dtype=np.float64).mean(axis=0)
    return (mean / max(np.linalg.norm(mean), 1e-12)).astype(np.float32)


def network_from(model: str | os.PathLike | bytes, threads: int | None = None, device: str = "cpu") -> OnnxNetwork | EncoderNetwork:
    """The network an ONNX file (or its bytes) holds: a CNN, or a head that names the encoder beneath it."""
    network = OnnxNetwork(model, threads, device)
    encoder = network.metadata.get(ENCODER_KEY)
    if encoder is None:
        return network
    wanted = network.metadata.get(ENCODER_WEIGHTS_KEY)
    for place in ([network.path.parent / encoder] if network.path else []) + [assets_path(encoder)]:
        if place.is_file():
            try:
                found = OnnxNetwork(place, threads, device)
            except ModelError:
                continue
            if wanted is None or found.meta.get("weights_sha256") == wanted:  # the very encoder the head was trained on
                return EncoderNetwork(network, found)
    raise ModelError(f"{network.name}: its encoder {encoder} (weights {str(wanted)[:12]}) is neither beside it nor in the package")


def assets_path(name: str) -> Path:
    """A file shipped in the package's assets."""
    from importlib import resources

    return Path(str(resources.files("audiogender") / "assets" / name))


def load_network(path: str | os.PathLike, threads: int | None = None, device: str = "cpu") -> OnnxNetwork | EncoderNetwork:
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
        return network_from(path, threads, device)
    twin = path.with_suffix(".onnx")
    if not twin.exists():
        raise ModelError(f"{path}: has no ONNX twin {twin.name}; export one with audiogender.lab.networks.export_twin({str(path)!r})")
    network = network_from(twin, threads, device)
    if network.source_sha256 != file_sha256(path):
        raise ModelError(f"{twin}: was exported from other weights than {path.name}; export it again with audiogender.lab.networks.export_twin")
    return network
