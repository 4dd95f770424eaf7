"""The CNN recipes (``seed``, ``default``, ``distilled``): their settings, their skorch estimator, the CNN they train.

A :class:`CnnRecipe` says which network reads which features, what it learns from
(each clip's loudest second, or random crops of augmented views), how long and how
fast, whether it keeps its best epoch, whether it is calibrated, and whether an
encoder recipe teaches it (``distill``). It builds its own training data and its
estimator, a skorch ``NeuralNetClassifier`` with scikit-learn's conventions
(``fit``, ``predict_proba``, ``clone``), which the search varies; :meth:`CnnRecipe.fit`
trains it into a :class:`TrainedCNN`.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping, EpochScoring
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from ..features import FeatureConfig
from ..labels import GENDERS, labels
from ..predict import GenderClassifier
from .augment import Augmenter
from .base import Recipe
from .cache import load_features
from .calibrate import fit_temperature, predict_clips
from .callbacks import AnnealedLR, FitInputs, InitialWeights, RestoreBest, train_accuracy
from .datasets import BALANCES, ClipDataset, ClipFeatures, FrameBank, example_weights, load_frame_bank, rows_index
from .device import pick_device
from .distill import TaughtFrames
from .head import EncoderRecipe
from .networks import NETWORKS, TorchNetwork, save_checkpoint

LR_SCHEDULES = (None, "cosine")
NETWORK_OPTIONS = ("width", "dropout")  # recipe settings that are the network's own options
# a recipe's names for what the search varies -> the skorch estimator's parameter names
ESTIMATOR_PARAMS = {
    "epochs": "max_epochs",
    "lr": "lr",
    "batch_size": "batch_size",
    "weight_decay": "optimizer__weight_decay",
    "width": "module__width",
    "dropout": "module__dropout",
}


@dataclass(frozen=True)
class CnnRecipe(Recipe):
    """How one CNN is trained (see the module's docstring). Change it with :meth:`replace`."""

    kind: ClassVar[str] = "cnn"
    name: str
    network: str  # a key of networks.NETWORKS
    features: FeatureConfig
    epochs: int
    lr: float = 0.001
    batch_size: int = 64
    weight_decay: float = 0.0
    network_options: dict = field(default_factory=dict)  # e.g. width, dropout of the gender CNN
    crops: bool = False  # True: random 1 s crops of clean and augmented views; False: each clip's loudest second
    n_views: int = 3  # with crops: each clip once clean and n_views - 1 times augmented
    augment: Augmenter = Augmenter()  # with crops: how the augmented views are made
    balance: str | None = None  # with crops, "folder-gender": clips drawn so each folder's women and men weigh alike (datasets.example_weights)
    teacher: EncoderRecipe | None = None  # with crops, a head on the encoder that teaches: targets blend label and its answer (distill)
    distill: float = 0.5  # with a teacher: the weight of its answer in each target
    restore_best: bool = False  # keep the epoch with the best validation balanced accuracy (else the last)
    patience: int | None = None  # stop after this many epochs without a lower validation loss
    lr_schedule: str | None = None  # "cosine": anneal the learning rate to zero over the epochs
    calibrate: bool = False  # fit a temperature on the validation speakers

    def __post_init__(self):
        if self.network not in NETWORKS:
            raise ValueError(f"unknown network {self.network!r}: use one of {', '.join(NETWORKS)}")
        object.__setattr__(self, "network_options", dict(self.network_options))  # its own copy: recipes never share one
        accepted = set(inspect.signature(NETWORKS[self.network]).parameters) - {"n_features", "n_frames", "n_classes"}
        if set(self.network_options) - accepted:
            raise ValueError(f"the {self.network} network takes no {sorted(set(self.network_options) - accepted)}; it takes {sorted(accepted) or 'no options'}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}: use 'cosine' or None")
        if self.crops and self.features.kind != "logmel":
            raise ValueError("random crops are taken from log-mel features")
        if self.balance not in BALANCES:
            raise ValueError(f"unknown balance {self.balance!r}: use one of {BALANCES}")
        if self.teacher is not None and not (self.crops and isinstance(self.teacher, EncoderRecipe)):
            raise ValueError(f"a teacher ({self.teacher!r}) must be an encoder recipe, and teaches only a recipe with crops")

    @property
    def uses_validation(self) -> bool:
        return self.restore_best or self.calibrate or bool(self.patience)

    def translate(self, changes: dict) -> dict:
        """``width`` and ``dropout`` go to the network's options; ``features`` may be a dict of FeatureConfig fields."""
        options = {k: changes.pop(k) for k in NETWORK_OPTIONS if k in changes}
        if options:
            changes["network_options"] = {**self.network_options, **options}
        if isinstance(changes.get("features"), dict):
            changes["features"] = FeatureConfig(**changes["features"])
        return changes

    def describe(self) -> str:
        data = f"random 1 s crops of {self.n_views} views (clean + augmented)" if self.crops else "each clip's loudest second"
        steps = [
            f"{self.name}: {self.network} {self.network_options or ''} on {self.features.kind} features, {data}".replace("  ", " "),
            f"{self.epochs} epochs of Adam, lr {self.lr}" + (f" annealed ({self.lr_schedule})" if self.lr_schedule else "") + f", batch {self.batch_size}",
            *(["weight decay " + str(self.weight_decay)] if self.weight_decay else []),
            *([f"{self.balance} balanced"] if self.balance else []),
            *([f"taught by the {self.teacher.name} head (targets {self.distill:g} its answer, {1 - self.distill:g} the label)"] if self.teacher else []),
            "the best validation epoch kept" if self.restore_best else "the last epoch kept",
            *([f"stops after {self.patience} epochs without progress"] if self.patience else []),
            "calibrated on the validation speakers" if self.calibrate else "uncalibrated",
        ]
        return "; ".join(steps)

    @classmethod
    def from_dict(cls, settings: dict) -> CnnRecipe:
        teacher = settings.get("teacher")
        recipe = super().from_dict({**settings, "teacher": None})
        return recipe if teacher is None else recipe.replace(teacher=EncoderRecipe.from_dict(teacher))

    def training_data(
        self, clips: pd.DataFrame, cache_dir: str | os.PathLike | None = "data/cache", random_state: int = 0, progress: bool = True
    ) -> ClipFeatures | FrameBank | TaughtFrames:
        if not self.crops:
            return ClipFeatures(load_features(clips, self.features, cache_dir, progress=progress))
        bank = load_frame_bank(clips, self.features, self.n_views, self.augment, random_state, cache_dir, progress=progress)
        if self.teacher is None:
            return bank
        teacher = self.teacher.replace(n_views=self.n_views, augment=self.augment)  # the bank's very views
        embeddings = teacher.training_data(clips, cache_dir, random_state, progress)
        return TaughtFrames(bank, embeddings, clips["speaker"].to_numpy(), teacher.C, self.distill)

    def fit(self, data, clips: pd.DataFrame, masks: dict[str, np.ndarray], device: str = "auto", random_state: int = 0) -> TrainedCNN:
        """Fit the estimator on the ``train`` rows of ``data``; score the ``validation`` rows every epoch, calibrate on them."""
        y = labels(clips["gender"])
        validation = masks["validation"]
        windows = None
        if validation.any():
            windows, owner = data.windows(validation)
            windows = (windows, y[validation][owner])
        net = self.estimator(data.n_features, device, random_state, windows)
        net.fit(data.training_set(masks["train"], y, random_state, example_weights(clips, self.balance)), None)
        if self.calibrate and validation.any():
            fit_temperature(net.module_, data, validation, y[validation], clips["speaker"].to_numpy()[validation])
        return TrainedCNN(self, net)

    def estimator(
        self,
        n_features: int,
        device: str = "auto",
        random_state: int = 0,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        verbose: int = 0,
    ) -> NeuralNetClassifier:
        """A fresh skorch classifier for this recipe.

        ``validation`` (window features, labels) of held-out speakers is scored every
        epoch, for the learning curves, ``restore_best`` and ``patience``.
        """
        callbacks = [
            ("initial_weights", InitialWeights(random_state)),
            ("fit_inputs", FitInputs()),
            ("train_acc", EpochScoring(train_accuracy, on_train=True, name="train_acc", lower_is_better=False)),
        ]
        if self.lr_schedule == "cosine":
            callbacks.append(("lr_schedule", AnnealedLR(torch.optim.lr_scheduler.CosineAnnealingLR)))
        if validation is not None:
            callbacks.append(("valid_bacc", EpochScoring("balanced_accuracy", name="valid_bacc", lower_is_better=False)))
            if self.restore_best:
                callbacks.append(("restore_best", RestoreBest()))
            if self.patience:
                callbacks.append(("early_stopping", EarlyStopping(patience=self.patience, load_best=False)))
        return NeuralNetClassifier(
            module=NETWORKS[self.network],
            module__n_features=n_features,
            **{f"module__{k}": v for k, v in self.network_options.items()},
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.epochs,
            batch_size=self.batch_size,
            device=pick_device(device),
            dataset=ClipDataset,
            train_split=predefined_split(Dataset(*validation)) if validation is not None else None,
            iterator_train__shuffle=True,
            callbacks=callbacks,
            classes=list(range(len(GENDERS))),
            verbose=verbose,
        )


@dataclass
class TrainedCNN:
    """A CNN a recipe trained (a ``base.TrainedInEpochs``): the skorch estimator, fitted."""

    recipe: CnnRecipe
    net: NeuralNetClassifier

    @property
    def module(self) -> torch.nn.Module:
        return self.net.module_

    @property
    def temperature(self) -> float:
        return float(self.module.temperature)

    @property
    def device(self) -> str:
        return str(self.net.device)

    def history(self) -> pd.DataFrame:
        keys = ["epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "valid_bacc", "best", "dur"]
        return pd.DataFrame([{k: row.get(k) for k in keys if k in row} for row in self.net.history])

    def network(self, device: str = "auto") -> TorchNetwork:
        return TorchNetwork(self.module, self.recipe.features, device)

    def predict_clips(self, data, rows) -> np.ndarray:
        """Calibrated p(female) of the clips at ``rows`` of the training data, from their fixed windows."""
        return predict_clips(self.module, data, rows)

    def score_clips(self, clips: pd.DataFrame, data, rows, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """(p(female), no voice found) of the clips at ``rows``, each judged whole as ``audiogender predict`` judges a file.

        Where voice detection finds too little speech, the clip is scored on its fixed
        windows instead, so every clip counts.
        """
        classifier = GenderClassifier(self.network(device))
        p = np.array([np.nan if a.p_female is None else a.p_female for a in classifier.predict_files(clips.loc[rows, "path"])], dtype=float)
        silent = np.isnan(p)
        if silent.any():
            p[silent] = self.predict_clips(data, rows_index(rows)[silent])
        return p, silent

    def save(self, path: str | os.PathLike, **meta) -> None:
        save_checkpoint(path, self.module, self.recipe.network, self.recipe.features, self.recipe.network_options, recipe=self.recipe.to_dict(), **meta)
