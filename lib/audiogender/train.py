"""Training: one scikit-learn-style estimator, and run folders that are never half-written.

:func:`make_estimator` builds a skorch ``NeuralNetClassifier`` around one of the
CNNs. It takes feature arrays (clips x frames x features) and labels (0 male,
1 female) and follows scikit-learn's conventions (``fit``, ``predict``,
``predict_proba``, ``get_params``, ``clone``), so the hyperparameter search and
``04_train`` fit the same thing.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EpochScoring
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from .data import GENDERS, labels
from .device import pick_device
from .evaluate import clip_metrics
from .features import FeatureConfig
from .files import atomic_directory, write_json, write_yaml
from .model import DEFAULT_FEATURES, MODELS, save_checkpoint
from .splits import check_disjoint, role_masks


class Seed(Callback):
    """Seed torch before the weights are drawn, so a run can be repeated exactly."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def initialize(self):
        torch.manual_seed(self.seed)
        return self


class FitInputs(Callback):
    """Fit the network's feature standardisation and the class weights on the training data.

    Class weights are the inverse class frequencies, so the loss treats the minority
    (12 female vs 48 male speakers on AudioMNIST) as much as the majority.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        net.module_.standardize.fit(np.asarray(X))
        counts = np.bincount(np.asarray(y), minlength=len(GENDERS)).astype(np.float32)
        weight = counts.sum() / (len(counts) * np.maximum(counts, 1))
        net.criterion_.weight = torch.as_tensor(weight, device=net.device)


class RestoreBest(Callback):
    """Keep the weights of the epoch with the best validation balanced accuracy.

    Ties go to the lower validation loss. Validation speakers are disjoint from the
    training and test speakers, so this is early stopping without peeking at the test.
    """

    def on_train_begin(self, net, **kwargs):
        self.best_key, self.best_state = None, None

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        if "valid_bacc" not in row:
            return
        key = (row["valid_bacc"], -row["valid_loss"])
        if self.best_key is None or key > self.best_key:
            self.best_key, self.best_state = key, copy.deepcopy(net.module_.state_dict())
        net.history.record("best", key == self.best_key)

    def on_train_end(self, net, **kwargs):
        if self.best_state is not None:
            net.module_.load_state_dict(self.best_state)


def make_estimator(
    model: str = "default",
    lr: float = 0.001,
    epochs: int = 25,
    batch_size: int = 64,
    device: str = "auto",
    seed: int = 0,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    restore_best: bool = True,
    n_features: int | None = None,
    verbose: int = 0,
    **params,
) -> NeuralNetClassifier:
    """A skorch classifier around the CNN called ``model``, trained with Adam.

    ``validation`` (features, labels) of held-out speakers is scored every epoch;
    with ``restore_best`` the best epoch's weights are kept, else the last epoch's.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}: use one of {', '.join(MODELS)}")
    callbacks = [
        ("seed", Seed(seed)),
        ("fit_inputs", FitInputs()),
        ("train_acc", EpochScoring("accuracy", on_train=True, name="train_acc", lower_is_better=False)),
    ]
    if validation is not None:
        callbacks.append(("valid_bacc", EpochScoring("balanced_accuracy", name="valid_bacc", lower_is_better=False)))
        if restore_best:
            callbacks.append(("restore_best", RestoreBest()))
    return NeuralNetClassifier(
        module=MODELS[model],
        module__n_features=n_features or DEFAULT_FEATURES[model].n_features,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=lr,
        max_epochs=epochs,
        batch_size=batch_size,
        device=pick_device(device),
        train_split=predefined_split(Dataset(*validation)) if validation is not None else None,
        iterator_train__shuffle=True,
        callbacks=callbacks,
        classes=list(range(len(GENDERS))),
        verbose=verbose,
        **params,
    )


def history_frame(net: NeuralNetClassifier) -> pd.DataFrame:
    """The per-epoch history as a table: epoch, losses, accuracies, time."""
    keys = ["epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "valid_bacc", "best", "dur"]
    rows = [{k: row.get(k) for k in keys if k in row} for row in net.history]
    return pd.DataFrame(rows)


@dataclass
class Run:
    """What one training run left behind."""

    path: Path
    history: pd.DataFrame
    metrics: dict
    hyperparams: dict


def train_run(
    clips: pd.DataFrame,
    features: np.ndarray,
    split: dict,
    *,
    model: str = "default",
    feature_config: FeatureConfig | None = None,
    epochs: int = 25,
    lr: float = 0.001,
    batch_size: int = 64,
    restore_best: bool = True,
    device: str = "auto",
    seed: int = 0,
    outputs_dir: str | os.PathLike = "outputs",
    estimator_params: dict | None = None,
    extra: dict | None = None,
) -> Run:
    """Train on the split's training speakers, validate and test on its held-out ones.

    With ``restore_best`` the weights of the epoch with the best validation balanced
    accuracy are kept (early stopping on unseen speakers); without, the last epoch's,
    as the seed did and as the search scores candidates.

    Writes ``outputs_dir/run_N/`` holding ``hyperparams.yml``, ``history.csv``,
    ``accuracy.png``, ``loss.png``, ``model.pt``, ``split.json``, ``metrics.json``
    and ``test_predictions.csv``, built in a temporary folder and renamed when complete.
    """
    from .plots import plot_history

    check_disjoint(split)
    feature_config = feature_config or DEFAULT_FEATURES[model]
    masks = role_masks(clips, split)
    y = labels(clips["gender"])
    net = make_estimator(
        model, lr, epochs, batch_size, device, seed,
        validation=(features[masks["validation"]], y[masks["validation"]]) if masks["validation"].any() else None,
        restore_best=restore_best, n_features=features.shape[-1], **(estimator_params or {}),
    )  # fmt: skip
    started = time.time()
    net.fit(features[masks["train"]], y[masks["train"]])
    seconds = time.time() - started
    history = history_frame(net)

    metrics = {"train_seconds": round(seconds, 1)}
    predictions = None
    for role in ("validation", "test"):
        if masks[role].any():
            p_female = net.predict_proba(features[masks[role]])[:, 1]
            metrics[role] = clip_metrics(y[masks[role]], p_female)
            if role == "test":
                predictions = clips.loc[masks[role], ["path", "speaker", "gender", "corpus"]].assign(p_female=p_female)
    hyperparams = {
        "model": model, "epochs": epochs, "lr": lr, "batch_size": batch_size, "restore_best": restore_best, "device": net.device,
        "seed": seed, "features": feature_config.to_dict(), **(estimator_params or {}), **(extra or {}),
    }  # fmt: skip

    with atomic_directory(outputs_dir, "run") as folder:
        write_yaml(folder / "hyperparams.yml", hyperparams)
        history.to_csv(folder / "history.csv", index=False)
        for kind, figure in plot_history(history).items():
            figure.savefig(folder / f"{kind}.png", dpi=100, bbox_inches="tight")
        save_checkpoint(folder / "model.pt", net.module_, model, feature_config, hyperparams=hyperparams)
        write_json(folder / "split.json", split)
        write_json(folder / "metrics.json", metrics)
        if predictions is not None:
            predictions.to_csv(folder / "test_predictions.csv", index=False)
    return Run(folder.final, history, metrics, hyperparams)
