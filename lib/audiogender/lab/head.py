"""The ``encoder`` recipe: a linear head on the frozen speaker encoder's embeddings, its training and its export.

The head is logistic regression on each clip's unit embedding (``embeddings``), and
on its augmented views', every clip weighed so that folders and genders count
alike, calibrated by a temperature fitted on the validation speakers. It is
exported as a small ONNX file that names the encoder beneath it, which
``runtime.EncoderNetwork`` runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from ..features import FeatureConfig
from ..files import atomic_file
from ..labels import labels, sigmoid
from ..runtime import ENCODER_KEY, ENCODER_WEIGHTS_KEY, EncoderNetwork, network_from
from ..shipped import GE2E_FILE
from .augment import Augmenter
from .base import Recipe
from .calibrate import best_temperature
from .datasets import BALANCES, example_weights, rows_index
from .embeddings import ClipEmbeddings, load_embeddings
from .ge2e import EMBEDDING_SIZE, ENCODER_FEATURES, shipped_encoder_weights
from .onnx_export import describe, onnx_bytes, with_metadata, write_onnx

HEAD_CHECKPOINT = "encoder-head"  # what a head's .pt says it is


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
    model = onnx_bytes(LinearHead(weight, bias, temperature), torch.rand(2, EMBEDDING_SIZE), "embedding", "logits", {0: "n"})
    return with_metadata(model, describe(ENCODER_FEATURES, meta, source, **{ENCODER_KEY: GE2E_FILE, ENCODER_WEIGHTS_KEY: shipped_encoder_weights()}))


@dataclass(frozen=True)
class EncoderRecipe(Recipe):
    """How a head on the frozen speaker encoder is trained (see the module's docstring).

    ``C`` is the strength of regularisation of the logistic regression; every clip is
    weighed by ``balance`` (``datasets.example_weights``); with ``calibrate``, a
    temperature is fitted on the validation speakers.
    """

    kind: ClassVar[str] = "encoder"
    name: str = "encoder"
    C: float = 0.3
    n_views: int = 1  # each clip once as recorded and n_views - 1 times augmented
    augment: Augmenter = Augmenter()
    balance: str | None = "folder-gender"
    calibrate: bool = True
    features: FeatureConfig = ENCODER_FEATURES  # what the encoder reads; fixed by its training, recorded for the reader

    def __post_init__(self):
        if self.balance not in BALANCES:
            raise ValueError(f"unknown balance {self.balance!r}: use one of {BALANCES}")
        if self.features != ENCODER_FEATURES:
            raise ValueError(f"the encoder reads its own features ({ENCODER_FEATURES}), not {self.features}")

    @property
    def uses_validation(self) -> bool:
        return self.calibrate

    def describe(self) -> str:
        views = f"{self.n_views} views (clean + augmented)" if self.n_views > 1 else "clean clips"
        return (f"{self.name}: a logistic head (C {self.C}) on the frozen GE2E speaker encoder's embeddings of {views}"
                + (f", {self.balance} balanced" if self.balance else "") + ("; calibrated on the validation speakers" if self.calibrate else ""))  # fmt: skip

    def training_data(self, clips: pd.DataFrame, cache_dir="data/cache", random_state: int = 0, progress: bool = True) -> ClipEmbeddings:
        """Every clip's embedding in ``n_views`` views (``embeddings.load_embeddings``), cached."""
        return load_embeddings(clips, self.n_views, self.augment, random_state, cache_dir, progress=progress)

    def fit(self, data: ClipEmbeddings, clips: pd.DataFrame, masks: dict, device: str = "auto", random_state: int = 0) -> TrainedHead:
        """Fit the head on the ``train`` rows' embeddings (every view), calibrate it on the ``validation`` rows'."""
        y = labels(clips["gender"])
        model = logistic_head(*data.training_set(masks["train"], y, random_state, example_weights(clips, self.balance)), self.C)
        head = TrainedHead(self, model.coef_[0].astype(np.float32), float(model.intercept_[0]))
        validation = masks["validation"]
        if self.calibrate and validation.any():
            head.temperature = best_temperature(head.log_odds(data.windows(validation)[0]), y[validation], clips["speaker"].to_numpy()[validation])
        return head


@dataclass
class TrainedHead:
    """A head an encoder recipe trained (a ``base.TrainedModel``)."""

    recipe: EncoderRecipe
    weight: np.ndarray
    bias: float
    temperature: float = 1.0
    device: ClassVar[str] = "cpu"  # scikit-learn fits it on the CPU

    def log_odds(self, embeddings: np.ndarray) -> np.ndarray:
        return (np.asarray(embeddings, dtype=np.float64) @ self.weight + self.bias) / self.temperature

    def network(self, device: str = "auto") -> EncoderNetwork:
        """The head on the encoder, as prediction runs them (ONNX Runtime)."""
        return network_from(head_onnx(self.weight, self.bias, self.temperature), device=device)

    def predict_clips(self, data: ClipEmbeddings, rows) -> np.ndarray:
        """Calibrated p(female) of the clips at ``rows``, from their clean embeddings (what prediction judges)."""
        embeddings, _ = data.windows(rows)
        return sigmoid(self.log_odds(embeddings))

    def score_clips(self, clips: pd.DataFrame, data: ClipEmbeddings, rows, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
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
            torch.save({"kind": HEAD_CHECKPOINT, "weight": torch.as_tensor(self.weight), "bias": self.bias, "temperature": self.temperature, "meta": meta}, f)
        write_onnx(path.with_suffix(".onnx"), head_onnx(self.weight, self.bias, self.temperature, meta, source=path))


def export_head_twin(checkpoint: str | os.PathLike) -> Path:
    """Write (again) the ONNX twin of a head's ``.pt``, from its numbers; returns the twin's path."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    twin = Path(checkpoint).with_suffix(".onnx")
    write_onnx(twin, head_onnx(saved["weight"].numpy(), saved["bias"], saved["temperature"], saved["meta"], source=checkpoint))
    return twin


def logistic_head(X: np.ndarray, y: np.ndarray, weight: np.ndarray, C: float) -> LogisticRegression:
    """Logistic regression of labels on embeddings, each example weighed, the two classes balanced: every head's fit."""
    return LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(X, y, sample_weight=weight)
