"""The roles every training recipe and every trained model play, declared once.

A :class:`Recipe` is a frozen dataclass that says everything about how one model is
trained: it builds its own training data from a clip table and fits a
:class:`TrainedModel` on the training speakers of a split. A trained model can be
scored on held-out clips as ``audiogender predict`` would judge them, turned into
the :class:`audiogender.runtime.Network` prediction runs, and saved with its ONNX
twin. The CNN recipes (``cnn.CnnRecipe``) and the head on the speaker encoder
(``head.EncoderRecipe``) meet these for real; ``train``, ``search`` and
``crossval`` know nothing else of them.
"""

from __future__ import annotations

import dataclasses
import os
from abc import ABC, abstractmethod
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from ..features import FeatureConfig
from ..runtime import Network
from .augment import Augmenter


class Recipe(ABC):
    """How one model is trained: a frozen dataclass with at least ``name``, ``features``, ``augment`` and ``calibrate``.

    ``kind`` names the subclass in what :meth:`to_dict` writes, so that
    ``recipes.recipe_from_dict`` rebuilds the right one.
    """

    kind: ClassVar[str]
    name: str
    features: FeatureConfig
    augment: Augmenter
    calibrate: bool  # fit a temperature on the validation speakers

    @property
    @abstractmethod
    def uses_validation(self) -> bool:
        """Whether training needs validation speakers (to keep the best epoch, stop early or calibrate)."""

    @abstractmethod
    def describe(self) -> str:
        """The recipe in one line, for a reader."""

    @abstractmethod
    def training_data(self, clips: pd.DataFrame, cache_dir: str | os.PathLike | None = "data/cache", random_state: int = 0, progress: bool = True):
        """What this recipe trains on, for every clip of the table (cached on disk)."""

    @abstractmethod
    def fit(self, data, clips: pd.DataFrame, masks: dict[str, np.ndarray], device: str = "auto", random_state: int = 0) -> TrainedModel:
        """Train on ``data``'s ``train`` rows (``masks`` from ``splits.role_masks``), validating on its ``validation`` rows."""

    def translate(self, changes: dict) -> dict:
        """Changes as the user names them, as fields of this recipe (a subclass may accept more names)."""
        return changes

    def replace(self, **changes) -> Recipe:
        """This recipe with some settings changed; ``augment`` may be a dict of :class:`augment.Augmenter` fields changed."""
        changes = self.translate(dict(changes))
        if isinstance(changes.get("augment"), dict):
            changes["augment"] = self.augment.with_options(changes["augment"])
        names = [f.name for f in dataclasses.fields(self)]
        unknown = set(changes) - set(names)
        if unknown:
            raise ValueError(f"unknown {self.kind} recipe settings {sorted(unknown)}: use some of {', '.join(names)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Every setting, as plain values (what a run folder records), and the recipe's ``kind``."""
        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: v.to_dict() if hasattr(v, "to_dict") else v for k, v in settings.items()} | {"kind": self.kind}

    @classmethod
    def from_dict(cls, settings: dict) -> Recipe:
        """The recipe :meth:`to_dict` wrote."""
        settings = {k: v for k, v in settings.items() if k != "kind"}
        return cls(**{**settings, "features": FeatureConfig(**settings["features"]), "augment": Augmenter.from_options(settings.get("augment"))})


@runtime_checkable
class TrainedModel(Protocol):
    """What a recipe's :meth:`Recipe.fit` returns, and all the lab asks of it."""

    recipe: Recipe
    device: str  # where it was trained

    @property
    def temperature(self) -> float:
        """The calibration temperature fitted on the validation speakers (1.0 if none)."""

    def network(self, device: str = "auto") -> Network:
        """The model as prediction runs it."""

    def predict_clips(self, data, rows) -> np.ndarray:
        """Calibrated p(female) of the clips at ``rows`` of the training data, from what the data holds of them."""

    def score_clips(self, clips: pd.DataFrame, data, rows, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """(p(female), no voice found) of the clips at ``rows``, each judged whole as ``audiogender predict`` judges a file."""

    def save(self, path: str | os.PathLike, **meta) -> None:
        """``path`` (a ``.pt``) and its ONNX twin, which ``audiogender.load_model`` runs."""


@runtime_checkable
class TrainedInEpochs(TrainedModel, Protocol):
    """A trained model that learnt epoch by epoch, and so has learning curves."""

    def history(self) -> pd.DataFrame:
        """The per-epoch history: epoch, losses, accuracies, time."""
