"""The pretrained speaker encoder: Resemblyzer's GE2E network, frozen, exported to ONNX, and the heads trained on it.

GE2E (Wan et al. 2018) as trained by Resemble AI on about 8,000 speakers of
LibriSpeech and VoxCeleb 1 and 2: a 3-layer LSTM (256 units) over 40 mel bands of
1.6 s windows, its last state through a dense layer and a ReLU, scaled to unit
length: a 256-dimensional embedding of who is speaking, which knows what a vocal
tract sounds like far better than a CNN trained on a few hundred voices. Its
weights come from the ``resemblyzer`` wheel on PyPI (Apache-2.0; see NOTICE.md),
read directly from the file, so neither that package nor its dependencies are
imported. The product runs the ONNX export (``assets/ge2e.onnx``) without torch.

A head (logistic regression on the embedding) is what the lab trains; it is
exported as a small ONNX file that names the encoder beneath it
(``runtime.EncoderNetwork``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..features import FeatureConfig
from ..files import atomic_file
from ..labels import labels, sigmoid
from ..runtime import ENCODER_KEY, ENCODER_WEIGHTS_KEY, SOURCE_KEY, EncoderNetwork, OnnxNetwork, assets_path, file_sha256, network_from
from .augment import Augmenter
from .calibrate import best_temperature
from .datasets import BALANCES, example_weights, rows_index

ENCODER_FILE = "ge2e.onnx"  # in the package's assets
# Resemblyzer's partials: 160 centred frames (1.6 s; 25,440 samples give 160 frames), 1.3 partials a second
# shorter pieces end their window (left-padded): the LSTM's last state then follows speech, not silence
# (leave-one-corpus-out, logistic head: audiomnist-az 0.907 -> 0.921, ukrainian-digits 0.926 -> 0.944)
ENCODER_FEATURES = FeatureConfig("mel", n_mels=40, window_seconds=1.59, hop_seconds=0.77, pad_start=True)
EMBEDDING_SIZE = 256


class GE2E(nn.Module):
    """Resemblyzer's VoiceEncoder, layer for layer: (windows, 160, 40) mel power -> (windows, 256) unit embeddings."""

    def __init__(self, n_mels: int = 40, hidden: int = 256, layers: int = 3, size: int = EMBEDDING_SIZE):
        super().__init__()
        self.lstm = nn.LSTM(n_mels, hidden, layers, batch_first=True)
        self.linear = nn.Linear(hidden, size)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        embedding = torch.relu(self.linear(hidden[-1]))
        return embedding / torch.norm(embedding, dim=1, keepdim=True).clamp_min(1e-12)


def resemblyzer_weights() -> Path:
    """``pretrained.pt`` inside the installed resemblyzer wheel, found without importing the package."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("resemblyzer is not installed: pip install --no-deps resemblyzer (make install does)")
    return Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"


def load_ge2e(weights: str | os.PathLike | None = None) -> GE2E:
    """The GE2E network with Resemblyzer's weights, in eval mode."""
    weights = Path(weights) if weights else resemblyzer_weights()
    checkpoint = torch.load(weights, map_location="cpu", weights_only=False)  # a plain dict of tensors and a step count
    network = GE2E()
    state = {k: v for k, v in checkpoint["model_state"].items() if k.startswith(("lstm.", "linear."))}  # not the GE2E loss's scale
    network.load_state_dict(state)
    return network.eval()


def _onnx_bytes(module: nn.Module, example: torch.Tensor, input_name: str, output_name: str, dynamic: dict) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated, but needs no onnxscript
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), buffer, input_names=[input_name], output_names=[output_name], dynamic_axes=dynamic, dynamo=False)
    return buffer.getvalue()


def _with_metadata(model: bytes, metadata: dict) -> bytes:
    import onnx

    proto = onnx.load_from_string(model)
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    return proto.SerializeToString()


def export_ge2e(path: str | os.PathLike | None = None, weights: str | os.PathLike | None = None) -> Path:
    """Write the GE2E encoder as ONNX (default: the package's ``assets/ge2e.onnx``), recording where its weights came from."""
    weights = Path(weights) if weights else resemblyzer_weights()
    path = Path(path) if path else assets_path(ENCODER_FILE)
    example = torch.rand(2, ENCODER_FEATURES.n_frames, ENCODER_FEATURES.n_mels)
    model = _onnx_bytes(load_ge2e(weights), example, "features", "embedding", {"features": {0: "windows", 1: "frames"}, "embedding": {0: "windows"}})
    meta = {"network": "GE2E speaker encoder (Wan et al. 2018), weights of Resemblyzer 0.1.4 (Resemble AI, Apache-2.0)", "weights_sha256": file_sha256(weights)}
    with atomic_file(path, "wb") as f:
        f.write(_with_metadata(model, {"features": json.dumps(ENCODER_FEATURES.to_dict()), "meta": json.dumps(meta)}))
    return path


def shipped_encoder_weights() -> str:
    """The SHA-256 of the weights the package's ``ge2e.onnx`` was exported from (its own metadata says)."""
    return OnnxNetwork(assets_path(ENCODER_FILE), 1).meta["weights_sha256"]


class LinearHead(nn.Module):
    """Logistic regression as a network: a unit embedding in, logits (male, female) out, divided by a temperature."""

    def __init__(self, weight: np.ndarray, bias: float, temperature: float = 1.0):
        super().__init__()
        self.register_buffer("weight", torch.as_tensor(np.asarray(weight, dtype=np.float32) / temperature))
        self.register_buffer("bias", torch.tensor(float(bias) / temperature))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        half = (embedding @ self.weight + self.bias)[:, None] / 2  # log-odds split evenly between the two logits
        return torch.cat([-half, half], dim=1)


def head_onnx(weight: np.ndarray, bias: float, temperature: float = 1.0, meta: dict | None = None, source: str | os.PathLike | None = None) -> bytes:
    """A head as ONNX bytes: ``embedding`` (n, 256) in, calibrated ``logits`` (n, 2) out; its metadata names the encoder beneath it."""
    model = _onnx_bytes(LinearHead(weight, bias, temperature), torch.rand(2, EMBEDDING_SIZE), "embedding", "logits", {"embedding": {0: "n"}, "logits": {0: "n"}})
    metadata = {
        "features": json.dumps(ENCODER_FEATURES.to_dict()), "meta": json.dumps(meta or {}, default=str),
        ENCODER_KEY: ENCODER_FILE, ENCODER_WEIGHTS_KEY: shipped_encoder_weights(),
    }  # fmt: skip
    if source is not None:
        metadata[SOURCE_KEY] = file_sha256(source)
    return _with_metadata(model, metadata)


HEADS = ("logistic",)


@dataclass(frozen=True)
class EncoderRecipe:
    """How a head on the frozen speaker encoder is trained: a recipe, as ``recipes.Recipe`` is for a CNN.

    The head is logistic regression on each clip's unit embedding (and on its
    augmented views'), with strength of regularisation ``C``, every clip weighed by
    ``balance`` (``datasets.example_weights``); with ``calibrate``, a temperature is
    fitted on the validation speakers.
    """

    name: str = "encoder"
    head: str = "logistic"
    C: float = 0.3
    n_views: int = 1  # each clip once as recorded and n_views - 1 times augmented
    augment: Augmenter = Augmenter()
    balance: str | None = "folder-gender"
    calibrate: bool = True
    features: FeatureConfig = ENCODER_FEATURES  # what the encoder reads; fixed by its training, recorded for the reader

    def __post_init__(self):
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}: use one of {', '.join(HEADS)}")
        if self.balance not in BALANCES:
            raise ValueError(f"unknown balance {self.balance!r}: use one of {BALANCES}")

    @property
    def uses_validation(self) -> bool:
        return self.calibrate

    def replace(self, **changes) -> "EncoderRecipe":
        """This recipe with some settings changed; ``augment`` may be a dict of Augmenter fields."""
        if isinstance(changes.get("augment"), dict):
            changes["augment"] = self.augment.with_options(changes["augment"])
        changes.pop("features", None)  # the encoder's features are its own
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown encoder recipe settings {sorted(unknown)}: use some of {', '.join(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        views = f"{self.n_views} views (clean + augmented)" if self.n_views > 1 else "clean clips"
        return (f"{self.name}: a {self.head} head (C {self.C}) on the frozen GE2E speaker encoder's embeddings of {views}"
                + (f", {self.balance} balanced" if self.balance else "") + ("; calibrated on the validation speakers" if self.calibrate else ""))  # fmt: skip

    def to_dict(self) -> dict:
        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {**settings, "features": self.features.to_dict(), "augment": self.augment.to_dict(), "kind": "encoder"}

    @classmethod
    def from_dict(cls, settings: dict) -> "EncoderRecipe":
        settings = {k: v for k, v in settings.items() if k not in ("kind", "features")}
        return cls(**{**settings, "augment": Augmenter.from_options(settings.get("augment"))})

    def training_data(self, clips: pd.DataFrame, cache_dir="data/cache", random_state: int = 0, progress: bool = True):
        """Every clip's embedding in ``n_views`` views (``embeddings.load_embeddings``), cached."""
        from .embeddings import load_embeddings

        return load_embeddings(clips, self.n_views, self.augment, random_state, cache_dir, progress=progress)

    def fit(self, data, clips: pd.DataFrame, masks: dict, device: str = "auto", random_state: int = 0) -> "TrainedHead":
        return fit_head(self, data, clips, masks, random_state)


@dataclass
class TrainedHead:
    """A head an encoder recipe trained: what the lab asks of any trained model (as ``train.TrainedCNN``)."""

    recipe: EncoderRecipe
    weight: np.ndarray
    bias: float
    temperature: float = 1.0
    device: str = "cpu"

    def history(self) -> pd.DataFrame:
        return pd.DataFrame()

    def log_odds(self, embeddings: np.ndarray) -> np.ndarray:
        return (np.asarray(embeddings, dtype=np.float64) @ self.weight + self.bias) / self.temperature

    def network(self, device: str = "auto") -> EncoderNetwork:
        """The head on the encoder, as prediction runs them (ONNX Runtime)."""
        return network_from(head_onnx(self.weight, self.bias, self.temperature), device=device)

    def predict_clips(self, data, rows) -> np.ndarray:
        """Calibrated p(female) of the clips at ``rows``, from their clean embeddings (what prediction judges)."""
        embeddings, _ = data.windows(rows)
        return sigmoid(self.log_odds(embeddings))

    def score_clips(self, clips: pd.DataFrame, data, rows, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """(p(female), no voice found) of the clips at ``rows``, judged whole as ``audiogender predict`` judges a file.

        A clip's clean embedding is the one prediction computes (``embeddings``), so the
        head on it is prediction's answer; clips without voice were embedded whole.
        """
        return self.predict_clips(data, rows), ~data.voiced[rows_index(rows), 0]

    def save(self, path: str | os.PathLike, **meta) -> None:
        """``path`` (a ``.pt`` holding the head's numbers and recipe) and its ONNX twin, which ``audiogender.load_model`` runs."""
        path = Path(path)
        meta = {"recipe": self.recipe.to_dict(), **meta}
        with atomic_file(path, "wb") as f:
            torch.save({"kind": "encoder-head", "weight": torch.as_tensor(self.weight), "bias": self.bias, "temperature": self.temperature, "meta": meta}, f)
        with atomic_file(path.with_suffix(".onnx"), "wb") as f:
            f.write(head_onnx(self.weight, self.bias, self.temperature, meta, source=path))

    def cpu(self) -> "TrainedHead":
        return self


def logistic_head(X: np.ndarray, y: np.ndarray, weight: np.ndarray, C: float):
    """Logistic regression of labels on embeddings, each example weighed, the two classes balanced: every head's fit."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(X, y, sample_weight=weight)


def fit_head(recipe: EncoderRecipe, data, clips: pd.DataFrame, masks: dict, random_state: int = 0) -> TrainedHead:
    """Fit the head on the ``train`` rows' embeddings (every view), calibrate it on the ``validation`` rows'."""
    y = labels(clips["gender"])
    model = logistic_head(*data.training_set(masks["train"], y, random_state, example_weights(clips, recipe.balance)), recipe.C)
    head = TrainedHead(recipe, model.coef_[0].astype(np.float32), float(model.intercept_[0]))
    validation = masks["validation"]
    if recipe.calibrate and validation.any():
        head.temperature = best_temperature(head.log_odds(data.windows(validation)[0]), y[validation], clips["speaker"].to_numpy()[validation])
    return head
