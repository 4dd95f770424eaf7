"""The CNNs, and saving them with the features they read, as a torch checkpoint and its ONNX twin.

``seed-cnn`` is the seed project's network, layer for layer; ``gender-cnn`` is ours:
batch normalisation, dropout, and pooling over time only, so it reads clips of any
length while keeping where in frequency the energy lies (formants, pitch).
A checkpoint ``X.pt`` is always written with ``X.onnx`` beside it, which is what
prediction runs (``audiogender.runtime``); torch is needed only here, in the lab.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..audio import N_FRAMES
from ..features import FeatureConfig
from ..files import atomic_file
from ..labels import female_log_odds
from ..predict import shipped_model_path
from ..runtime import REFERENCE_KEY, MeanLogOdds
from .device import pick_device
from .head import HEAD_CHECKPOINT, export_head_twin
from .onnx_export import describe, onnx_bytes, with_metadata, write_onnx


class Standardize(nn.Module):
    """Per-feature mean and scale, fitted on the training clips and saved with the weights."""

    def __init__(self, n_features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    def fit(self, features: np.ndarray) -> "Standardize":
        flat = torch.as_tensor(features.reshape(-1, features.shape[-1]), dtype=torch.float32)
        self.mean.copy_(flat.mean(0))
        self.scale.copy_(flat.std(0).clamp_min(1e-3))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale


class Calibrated(nn.Module):
    """A network whose logits are divided by a temperature fitted on held-out speakers.

    Temperature scaling (Guo et al. 2017) leaves every decision as it was and only
    makes p(female) mean what it says; 1.0 until :func:`calibrate.fit_temperature` sets it.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("temperature", torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x) / self.temperature


class SeedCNN(Calibrated):
    """The seed's CNN: conv 3x3 32, ReLU, pool 2, conv 3x3 64, ReLU, pool 2, dense 128, ReLU, dense 2.

    Reads one (98 x 12) MFCC matrix; the convolutions are unpadded, as in the seed.
    """

    def __init__(self, n_features: int = 12, n_frames: int = N_FRAMES, n_classes: int = 2):
        super().__init__()
        self.standardize = Standardize(n_features)
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        height, width = ((n_frames - 2) // 2 - 2) // 2, ((n_features - 2) // 2 - 2) // 2
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * height * width, 128), nn.ReLU(), nn.Linear(128, n_classes)
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, frames, features) -> (batch, classes) logits."""
        return self.classifier(self.features(self.standardize(x).unsqueeze(1)))


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 convolutions with batch norm and ReLU, then 2x2 max pooling."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.MaxPool2d(2),
    )  # fmt: skip


class GenderCNN(Calibrated):
    """Our default: three conv blocks on log-mel frames, mean and max over time, then dense.

    Pooling over time makes the network indifferent to clip length and to where in
    the clip the word falls; keeping the frequency axis keeps the spectral envelope.
    """

    def __init__(self, n_features: int = 40, n_frames: int = N_FRAMES, n_classes: int = 2, width: int = 16, dropout: float = 0.1):
        super().__init__()
        self.standardize = Standardize(n_features)
        self.features = nn.Sequential(conv_block(1, width), conv_block(width, 2 * width), conv_block(2 * width, 4 * width))
        flat = 2 * 4 * width * (n_features // 8)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(flat, 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, n_classes)
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, frames, features) -> (batch, classes) logits; frames may be any number >= 8."""
        h = self.features(self.standardize(x).unsqueeze(1))  # (batch, channels, time, freq)
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)  # over time only
        return self.classifier(pooled.flatten(1))


NETWORKS = {"seed-cnn": SeedCNN, "gender-cnn": GenderCNN}
_OLD_NAMES = {"seed": "seed-cnn", "default": "gender-cnn"}  # what checkpoints saved before the lab was split off call them


def build_network(name: str, n_features: int, **options) -> nn.Module:
    """A fresh network by name (one of :data:`NETWORKS`), sized for ``n_features`` feature columns."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}: use one of {', '.join(NETWORKS)}")
    return NETWORKS[name](n_features=n_features, **options)


def save_checkpoint(
    path: str | os.PathLike, network: nn.Module, name: str, features: FeatureConfig, options: dict | None = None, onnx: bool = True, **meta
) -> None:
    """Save weights with everything needed to rebuild the network (its name and ``options``, e.g. width) and its features.

    With ``onnx``, its ONNX twin is written beside it (``model.pt`` -> ``model.onnx``),
    which :func:`audiogender.load_model` runs without torch.
    """
    checkpoint = {
        "network": name,
        "n_features": features.n_features,
        "options": dict(options or {}),
        "features": features.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in network.state_dict().items()},
        "meta": meta,
    }
    with atomic_file(path, "wb") as f:
        torch.save(checkpoint, f)
    if onnx:
        export_onnx(network, features, Path(path).with_suffix(".onnx"), source=path, meta=meta)


def export_twin(checkpoint: str | os.PathLike) -> Path:
    """Write (again) the ONNX twin of a ``.pt`` checkpoint (a CNN's or a head's), from its weights; returns the twin's path."""
    if torch.load(checkpoint, map_location="cpu", weights_only=True).get("kind") == HEAD_CHECKPOINT:
        return export_head_twin(checkpoint)
    network, features, meta = load_checkpoint(checkpoint)
    twin = Path(checkpoint).with_suffix(".onnx")
    export_onnx(network, features, twin, source=checkpoint, meta=meta)
    return twin


def feature_mean(network: nn.Module) -> np.ndarray | None:
    """The training windows' mean of each feature, which the network standardises by; None if it has none."""
    standardize = getattr(network, "standardize", None)
    return standardize.mean.detach().cpu().numpy() if isinstance(standardize, Standardize) else None


def export_onnx(
    network: nn.Module, features: FeatureConfig, path: str | os.PathLike, source: str | os.PathLike | None = None, meta: dict | None = None,
    extra: dict[str, str] | None = None,
) -> None:
    """Write ``network`` as ONNX: (windows, frames, width) features in, calibrated logits out; the batch and frames may vary.
    ``extra`` is more metadata (the voice detector's head); the features' training mean goes with it (``runtime.REFERENCE_KEY``)."""
    model = onnx_bytes(network, torch.zeros(2, N_FRAMES, features.n_features), "features", "logits", {0: "windows", 1: "frames"})
    mean = feature_mean(network)
    reference = {} if mean is None else {REFERENCE_KEY: json.dumps(np.round(mean, 4).tolist())}
    write_onnx(path, with_metadata(model, describe(features, meta, source, **reference, **(extra or {}))))


class TorchNetwork(MeanLogOdds):
    """A torch CNN as a :class:`runtime.Network`: features in, log-odds of female out, a group judged by their mean.

    For scoring a network while it is in the lab (cross-validation folds), on any torch device.
    """

    def __init__(self, module: nn.Module, features: FeatureConfig, device: str = "auto", meta: dict | None = None):
        self.device = pick_device(device)
        self.module = module.to(self.device).eval()
        self.features = features
        self.meta = meta or {}
        self.reference = feature_mean(module)

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits = self.module(torch.as_tensor(features, dtype=torch.float32, device=self.device))
        return female_log_odds(logits.cpu().numpy())

    def describe(self) -> str:
        return f"{type(self.module).__name__} (torch, {self.device}) on {self.features.kind} windows"

    def __repr__(self) -> str:
        return f"TorchNetwork({type(self.module).__name__}, device={self.device!r})"


def shipped_checkpoint() -> Path:
    """The torch checkpoint of the CNN the package ships (``assets/cnn.pt``, twin of ``cnn.onnx``)."""
    return shipped_model_path("cnn").with_suffix(".pt")


def load_checkpoint(path: str | os.PathLike | None = None) -> tuple[nn.Module, FeatureConfig, dict]:
    """Rebuild (network in eval mode, feature config, metadata) from a checkpoint file (default: the shipped one)."""
    path = Path(path) if path else shipped_checkpoint()
    path = path / "model.pt" if path.is_dir() else path
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    name = checkpoint.get("network") or _OLD_NAMES[checkpoint["model"]]
    network = build_network(name, checkpoint["n_features"], **checkpoint.get("options", {}))
    missing, unexpected = network.load_state_dict(checkpoint["state_dict"], strict=False)
    if unexpected or set(missing) - {"temperature"}:  # checkpoints from before calibration lack only that
        raise ValueError(f"{path}: weights do not fit a {name} network (missing {missing}, unexpected {unexpected})")
    return network.eval(), FeatureConfig(**checkpoint["features"]), dict(checkpoint.get("meta", {}))
