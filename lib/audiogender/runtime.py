"""Running an exported network without torch: ONNX files in ONNX Runtime.

``import torch`` alone takes over a second and a half; ONNX Runtime imports in a
third of that and runs these small networks faster on the CPU. Every network the
lab trains is saved as ``X.pt`` with an ``X.onnx`` twin that records its feature
settings and the SHA-256 of the ``.pt`` it came from (``lab.onnx_export``), so a
twin left behind by an older checkpoint is recognised and refused.

Two roles, kept apart: :class:`OnnxFile` is an ONNX file with its metadata (a session
to run); a :class:`Network` is what prediction needs of a model, whatever runs it:
:class:`CnnNetwork` judges each window (our CNNs), :class:`EncoderNetwork` embeds each
window with a :class:`SpeakerEncoder` and judges a group of windows by their mean
embedding. The lab scores torch networks behind the same :class:`Network` protocol.
"""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .features import FeatureConfig
from .labels import female_log_odds
from .shipped import asset_path

SOURCE_KEY = "source_sha256"  # ONNX metadata: the checkpoint the twin was exported from
ENCODER_KEY = "encoder"  # ONNX metadata of a head: the encoder file beneath it
ENCODER_WEIGHTS_KEY = "encoder_weights_sha256"  # ... and the SHA-256 of the weights that encoder was exported from
WEIGHTS_KEY = "weights_sha256"  # the meta of an encoder: the SHA-256 of the weights it was exported from
REFERENCE_KEY = "reference"  # ONNX metadata of a CNN: its training windows' mean per band, which explanations fade toward
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


class OnnxFile:
    """An exported network and what its metadata says of it: the features it reads (``features``),
    what it was trained on (``meta``) and the checkpoint it came from (``source_sha256``).

    Raises :class:`ModelError` for a file that is no model audiogender can run.
    """

    def __init__(self, model: str | os.PathLike | bytes, threads: int | None = None, device: str = "cpu"):
        self.path = None if isinstance(model, bytes) else Path(model)
        self.name = "<in memory>" if self.path is None else self.path.name
        try:
            self.session = onnx_session(model, threads, device)
            self.metadata = self.session.get_modelmeta().custom_metadata_map
            self.features = FeatureConfig(**json.loads(self.metadata["features"]))
        except ModelError:
            raise
        except Exception as error:  # ONNX Runtime raises its own exception types for a bad file
            raise ModelError(f"{self.path or self.name}: not a model audiogender can run ({str(error).splitlines()[0]})") from None
        self.meta = json.loads(self.metadata.get("meta", "{}"))
        self.source_sha256 = self.metadata.get(SOURCE_KEY)
        self.reference = np.asarray(json.loads(self.metadata[REFERENCE_KEY]), np.float32) if REFERENCE_KEY in self.metadata else None
        self.input_name = self.session.get_inputs()[0].name
        self.device = "cuda" if "CUDAExecutionProvider" in self.session.get_providers() else "cpu"

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """The network's first output for a batch of inputs."""
        return self.session.run(None, {self.input_name: np.ascontiguousarray(inputs, dtype=np.float32)})[0]

    def __repr__(self) -> str:
        return f"OnnxFile({self.name!r})"


@runtime_checkable
class Network(Protocol):
    """What prediction needs of a network: its features, an output for each window, and a group of windows judged.

    ``window_outputs`` are what is kept of each window (a row each) until its group
    (a piece of speech, a whole recording) is judged by ``pooled_log_odds``: the
    calibrated log(p(female) / p(male)) of the group. ``meta`` is what the network
    was trained on; ``describe`` says what it is in one line. ``reference`` is a
    typical window's features per band (its training windows' mean), or None where
    the network does not know it; explanations measure a window against it.
    """

    features: FeatureConfig
    meta: dict
    reference: np.ndarray | None

    def window_outputs(self, features: np.ndarray) -> np.ndarray: ...

    def pooled_log_odds(self, outputs: np.ndarray) -> float: ...

    def describe(self) -> str: ...


class MeanLogOdds(ABC):
    """A network that judges each window alone: it keeps each window's log-odds, and a group is judged by their mean.

    Subclasses say how a window is judged (``log_odds``).
    """

    @abstractmethod
    def log_odds(self, features: np.ndarray) -> np.ndarray:
        """Calibrated log(p(female) / p(male)) of each (frames x width) matrix in a batch."""

    def window_outputs(self, features: np.ndarray) -> np.ndarray:
        return self.log_odds(features)[:, None]

    def pooled_log_odds(self, outputs: np.ndarray) -> float:
        return float(np.mean(outputs[:, 0]))


class Exported:
    """What a network exported from the lab says of itself, from its (head's) ONNX file."""

    what = "a network"  # how ``describe`` names it

    def __init__(self, file: OnnxFile):
        self.path, self.features, self.meta, self.device, self.source_sha256 = file.path, file.features, file.meta, file.device, file.source_sha256
        self.reference = file.reference

    def describe(self) -> str:
        recipe = self.meta.get("recipe", {}).get("name")
        return f"{self.path.name if self.path else 'in memory'}: {self.what}" + (f" (recipe {recipe})" if recipe else "")


class CnnNetwork(Exported, MeanLogOdds):
    """An exported CNN: feature matrices in, calibrated logits (male, female) out, one pair per window."""

    def __init__(self, file: OnnxFile):
        super().__init__(file)
        self.file = file
        self.what = f"a CNN on {self.features.kind} windows of {self.features.window_seconds:g} s"

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        return female_log_odds(self.file.run(features))

    def __repr__(self) -> str:
        return f"CnnNetwork({self.file.name!r})"


STATE_INPUTS, STATE_OUTPUTS = ("hidden", "cell"), ("hidden_after", "cell_after")  # an encoder's LSTM state, in and out
SILENCE_STEP_FRAMES = 8  # the silence a batch of windows starts with is skipped in steps of this many frames


class SpeakerEncoder:
    """A frozen speaker encoder (GE2E, ``assets/ge2e.onnx``): each 1.6 s window of mel power in,
    a 256-dimensional voice embedding of unit length out.

    A piece shorter than a window is padded with silence before it, and silence is all
    zeros in mel power, so the LSTM's state after it depends on its length alone: an
    encoder that takes and gives its state starts a batch from its state after the
    silence every window begins with (kept once computed), rather than hearing that
    silence again. The embeddings are the same; a 1-s clip's window is 40% silence.
    """

    def __init__(self, file: OnnxFile):
        self.file = file
        self.path, self.features = file.path, file.features
        self.weights_sha256 = file.meta.get(WEIGHTS_KEY)
        inputs = {i.name: i.shape for i in file.session.get_inputs()}
        self.state_shape = (inputs[STATE_INPUTS[0]][0], inputs[STATE_INPUTS[0]][2]) if set(STATE_INPUTS) <= set(inputs) else None  # (layers, units)
        self._after_silence: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def embed(self, features: np.ndarray) -> np.ndarray:
        """Unit-length embeddings of a batch of windows' features."""
        if self.state_shape is None:  # an encoder exported without its state
            return self.file.run(features)
        if not len(features):
            return np.zeros((0, self.file.session.get_outputs()[0].shape[1]), np.float32)
        features = np.ascontiguousarray(features, dtype=np.float32)
        skip = silent_frames(features) // SILENCE_STEP_FRAMES * SILENCE_STEP_FRAMES
        hidden, cell = (np.repeat(state, len(features), axis=1) for state in self.state_after_silence(skip))
        return self._run(features[:, skip:], hidden, cell)[0]

    def state_after_silence(self, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """The LSTM's (hidden, cell) state after ``frames`` frames of silence, for one window."""
        if frames not in self._after_silence:
            layers, units = self.state_shape
            zero = np.zeros((layers, 1, units), np.float32)
            silence = np.zeros((1, frames, self.features.n_features), np.float32)
            self._after_silence[frames] = self._run(silence, zero, zero)[1:] if frames else (zero, zero)
        return self._after_silence[frames]

    def _run(self, features: np.ndarray, hidden: np.ndarray, cell: np.ndarray) -> list[np.ndarray]:
        return self.file.session.run(None, {self.file.input_name: features, STATE_INPUTS[0]: hidden, STATE_INPUTS[1]: cell})

    def __repr__(self) -> str:
        return f"SpeakerEncoder({self.file.name!r})"


def silent_frames(features: np.ndarray) -> int:
    """How many all-zero frames every window of a batch starts with (at most all but one)."""
    if not len(features):
        return 0
    sounding = features.any(axis=2)
    first = np.where(sounding.any(axis=1), sounding.argmax(axis=1), features.shape[1])  # all silence: all of it
    return int(min(first.min(), features.shape[1] - 1))


class EncoderNetwork(Exported):
    """A small head on a frozen speaker encoder: windows embedded, a group judged by its mean embedding.

    A piece or a recording is the mean of its windows' embeddings, made unit length
    again (as Resemblyzer embeds an utterance), and the head (an embedding in,
    calibrated logits out) judges that. The head's file describes the model
    (features, meta, provenance); the encoder's is shared by every head.
    """

    def __init__(self, head: OnnxFile, encoder: SpeakerEncoder):
        super().__init__(head)
        self.head, self.encoder = head, encoder
        self.what = f"a head on the {encoder.file.name} speaker encoder's mean embedding"

    def window_outputs(self, features: np.ndarray) -> np.ndarray:
        return self.encoder.embed(features)

    def judge(self, embeddings: np.ndarray) -> np.ndarray:
        """Calibrated log-odds of female of each embedding."""
        return female_log_odds(self.head.run(embeddings))

    def pooled_log_odds(self, outputs: np.ndarray) -> float:
        return float(self.judge(unit_mean(outputs)[None])[0])

    def __repr__(self) -> str:
        return f"EncoderNetwork({self.head.name!r} on {self.encoder.file.name!r})"


def unit_mean(embeddings: np.ndarray) -> np.ndarray:
    """The mean of unit-length embeddings, made unit length again: an utterance's embedding from its windows'."""
    mean = np.asarray(embeddings, dtype=np.float64).mean(axis=0)
    return (mean / max(np.linalg.norm(mean), 1e-12)).astype(np.float32)


def network_from(model: str | os.PathLike | bytes, threads: int | None = None, device: str = "cpu") -> CnnNetwork | EncoderNetwork:
    """The network an ONNX file (or its bytes) holds: a CNN, or a head that names the encoder beneath it."""
    file = OnnxFile(model, threads, device)
    encoder = file.metadata.get(ENCODER_KEY)
    if encoder is None:
        return CnnNetwork(file)
    wanted = file.metadata.get(ENCODER_WEIGHTS_KEY)
    for place in ([file.path.parent / encoder] if file.path else []) + [asset_path(encoder)]:
        if place.is_file():
            try:
                found = SpeakerEncoder(OnnxFile(place, threads, device))
            except ModelError:
                continue
            if wanted is None or found.weights_sha256 == wanted:  # the very encoder the head was trained on
                return EncoderNetwork(file, found)
    raise ModelError(f"{file.name}: its encoder {encoder} (weights {str(wanted)[:12]}) is neither beside it nor in the package")


def load_network(path: str | os.PathLike, threads: int | None = None, device: str = "cpu") -> CnnNetwork | EncoderNetwork:
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
