"""Training recipes: everything that decides how a model is trained, in one object, each named once.

A :class:`Recipe` says which network reads which features, what it learns from
(each clip's loudest second, or random crops of augmented views), how long and how
fast, whether it keeps its best epoch, and whether it is calibrated. It builds its
own training data (:meth:`Recipe.training_data`) and its estimator
(:meth:`Recipe.estimator`), so the notebooks, the Makefile, ``train.train_run``,
``search.run_search`` and ``crossval.run_crossval`` all train the same thing by name:

    get_recipe("seed", epochs=5)            # the seed's recipe, 5 epochs instead of 25
    get_recipe("default", augment={"p_pitch": 0.6})

The recipes (:data:`RECIPES`):

* ``seed``: the seed project's CNN and recipe exactly: MFCCs of each clip's loudest
  second, 25 epochs of Adam at 0.001, batch 64, the last epoch kept, no calibration.
* ``default``: ours: the gender CNN on log-mel crops of clean and augmented views,
  6 epochs with the learning rate annealed to zero (cosine), the epoch with the
  best validation balanced accuracy kept, and a temperature fitted on validation
  speakers (cross-validated in ``05_evaluate``; see the model card).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping, EpochScoring
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from ..features import FeatureConfig
from ..labels import GENDERS
from .augment import Augmenter
from .cache import load_features
from .datasets import BALANCES, ClipDataset, ClipFeatures, FrameBank, load_frame_bank
from .device import pick_device
from .distill import TaughtFrames
from .encoder import EncoderRecipe
from .networks import NETWORKS
from .train import AnnealedLR, FitInputs, InitialWeights, RestoreBest, TrainedCNN, fit_cnn, train_accuracy

LR_SCHEDULES = (None, "cosine")
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
class Recipe:
    """How one model is trained (see the module's docstring). Change it with :meth:`replace`."""

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
    teacher: str | None = None  # with crops, an encoder recipe whose head teaches: targets blend label and its answer (distill)
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
        if self.teacher is not None and not (self.crops and isinstance(RECIPES.get(self.teacher, self.teacher), EncoderRecipe)):
            raise ValueError(f"a teacher ({self.teacher!r}) must name an encoder recipe, and teaches only a recipe with crops")

    @property
    def uses_validation(self) -> bool:
        """Whether training needs validation speakers (to keep the best epoch, stop early or calibrate)."""
        return self.restore_best or self.calibrate or bool(self.patience)

    def replace(self, **changes) -> "Recipe":
        """This recipe with some settings changed.

        ``width`` and ``dropout`` go to the network's options; ``augment`` is a dict of
        :class:`augment.Augmenter` fields changed from this recipe's augmentation.
        """
        options = {k: changes.pop(k) for k in ("width", "dropout") if k in changes}
        if options:
            changes["network_options"] = {**self.network_options, **options}
        if isinstance(changes.get("augment"), dict):
            changes["augment"] = self.augment.with_options(changes["augment"])
        if isinstance(changes.get("features"), dict):
            changes["features"] = FeatureConfig(**changes["features"])
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown recipe settings {sorted(unknown)}: use some of {', '.join(f.name for f in dataclasses.fields(self))}, width, dropout")
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """The recipe in one line, for a reader."""
        data = f"random 1 s crops of {self.n_views} views (clean + augmented)" if self.crops else "each clip's loudest second"
        steps = [
            f"{self.name}: {self.network} {self.network_options or ''} on {self.features.kind} features, {data}".replace("  ", " "),
            f"{self.epochs} epochs of Adam, lr {self.lr}" + (f" annealed ({self.lr_schedule})" if self.lr_schedule else "") + f", batch {self.batch_size}",
            *(["weight decay " + str(self.weight_decay)] if self.weight_decay else []),
            *([f"{self.balance} balanced"] if self.balance else []),
            *([f"taught by the {self.teacher} head (targets {self.distill:g} its answer, {1 - self.distill:g} the label)"] if self.teacher else []),
            "the best validation epoch kept" if self.restore_best else "the last epoch kept",
            *([f"stops after {self.patience} epochs without progress"] if self.patience else []),
            "calibrated on the validation speakers" if self.calibrate else "uncalibrated",
        ]
        return "; ".join(steps)

    def to_dict(self) -> dict:
        """Every setting, as plain values (what a run folder records)."""
        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {**settings, "features": self.features.to_dict(), "augment": self.augment.to_dict(), "kind": "cnn"}

    @classmethod
    def from_dict(cls, settings: dict) -> "Recipe":
        """The recipe :meth:`to_dict` wrote."""
        settings = {k: v for k, v in settings.items() if k != "kind"}
        return cls(**{**settings, "features": FeatureConfig(**settings["features"]), "augment": Augmenter.from_options(settings["augment"])})

    def training_data(
        self, clips: pd.DataFrame, cache_dir: str | os.PathLike | None = "data/cache", random_state: int = 0, progress: bool = True
    ) -> ClipFeatures | FrameBank | TaughtFrames:
        """What this recipe trains on, for every clip of the table (cached on disk)."""
        if not self.crops:
            return ClipFeatures(load_features(clips, self.features, cache_dir, progress=progress))
        bank = load_frame_bank(clips, self.features, self.n_views, self.augment, random_state, cache_dir, progress=progress)
        if self.teacher is None:
            return bank
        teacher = RECIPES[self.teacher].replace(n_views=self.n_views, augment=self.augment)  # the bank's very views
        embeddings = teacher.training_data(clips, cache_dir, random_state, progress)
        return TaughtFrames(bank, embeddings, clips["speaker"].to_numpy(), teacher.C, self.distill)

    def fit(self, data, clips: pd.DataFrame, masks: dict, device: str = "auto", random_state: int = 0) -> TrainedCNN:
        """Train on ``data``'s ``train`` rows, validating on its ``validation`` rows (``train.fit_cnn``)."""
        return fit_cnn(self, data, clips, masks, device, random_state)

    def estimator(
        self,
        n_features: int,
        device: str = "auto",
        random_state: int = 0,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        verbose: int = 0,
    ) -> NeuralNetClassifier:
        """A fresh skorch classifier (scikit-learn's conventions: ``fit``, ``predict_proba``, ``clone``) for this recipe.

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


RECIPES = {
    "seed": Recipe("seed", "seed-cnn", FeatureConfig("mfcc"), epochs=25),
    "default": Recipe(
        "default", "gender-cnn", FeatureConfig("logmel"), epochs=6, crops=True, balance="folder-gender",
        restore_best=True, lr_schedule="cosine", calibrate=True,
    ),  # fmt: skip
    "encoder": EncoderRecipe(),
}
RECIPES["distilled"] = RECIPES["default"].replace(name="distilled", teacher="encoder")


def recipe_from_dict(settings: dict) -> "Recipe | EncoderRecipe":
    """The recipe a ``to_dict`` wrote, of whichever kind."""
    return (EncoderRecipe if settings.get("kind") == "encoder" else Recipe).from_dict(settings)


def get_recipe(name: "str | Recipe | EncoderRecipe" = "default", overrides: dict | None = None, **settings) -> "Recipe | EncoderRecipe":
    """The recipe called ``name`` (or a recipe itself), changed (see :meth:`Recipe.replace`).

    ``settings`` are notebook parameters, where None means "the recipe's own" and is
    skipped; ``overrides`` are applied as given, None included (``-y 'overrides: {lr_schedule: null}'``).
    """
    recipe = RECIPES.get(name) if isinstance(name, str) else name
    if recipe is None:
        raise ValueError(f"unknown recipe {name!r}: use one of {', '.join(RECIPES)}")
    return recipe.replace(**{**{k: v for k, v in settings.items() if v is not None}, **(overrides or {})})
