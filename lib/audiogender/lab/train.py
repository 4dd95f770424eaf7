"""Training one model by its recipe, and run folders that are never half-written.

:func:`fit` trains a recipe's estimator (a skorch ``NeuralNetClassifier``, built by
``recipes.Recipe.estimator``) on the training speakers of a split, scores the
validation speakers every epoch and, if the recipe says so, calibrates on them.
:func:`train_run` does that and writes everything the run left behind to
``outputs/run_N/``. The callbacks here are the recipe's building blocks.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, LRScheduler

from ..labels import GENDERS, labels
from . import project
from .calibrate import fit_temperature, predict_clips
from .evaluate import clip_metrics
from .networks import save_checkpoint
from .outputs import atomic_directory, write_json, write_yaml
from .splits import check_disjoint, role_masks


class InitialWeights(Callback):
    """Seed torch's random generator before the weights are drawn, so a run can be repeated exactly."""

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def initialize(self):
        torch.manual_seed(self.random_state)
        return self


class FitInputs(Callback):
    """Fit the network's feature standardisation and the class weights on the training data.

    Class weights are the inverse class frequencies, so the loss treats the minority
    (12 female vs 48 male speakers on AudioMNIST) as much as the majority. The
    training set (``datasets.ClipDataset`` or ``CropDataset``) says what to fit on.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        dataset = net.get_dataset(X, y)
        net.module_.standardize.fit(dataset.sample_features())
        counts = np.bincount(dataset.labels(), minlength=len(GENDERS)).astype(np.float32)
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


class AnnealedLR(LRScheduler):
    """A learning-rate schedule over however many epochs the net runs (``T_max`` follows ``max_epochs``, also in a search)."""

    def on_train_begin(self, net, **kwargs):
        self.T_max = net.max_epochs
        super().on_train_begin(net, **kwargs)


def fit(recipe, data, clips: pd.DataFrame, masks: dict[str, np.ndarray], device: str = "auto", random_state: int = 0) -> NeuralNetClassifier:
    """Fit ``recipe``'s estimator on the ``train`` rows of ``data``; score the ``validation`` rows every epoch, calibrate on them.

    ``data`` is the recipe's training data for the clip table ``clips`` (see
    ``Recipe.training_data``); ``masks`` are boolean masks over it (``splits.role_masks``).
    """
    y = labels(clips["gender"])
    validation = masks["validation"]
    windows = None
    if validation.any():
        windows, owner = data.windows(validation)
        windows = (windows, y[validation][owner])
    net = recipe.estimator(data.n_features, device, random_state, windows)
    net.fit(data.training_set(masks["train"], y, random_state), None)
    if recipe.calibrate and validation.any():
        fit_temperature(net.module_, data, validation, y[validation], clips["speaker"].to_numpy()[validation])
    return net


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
    settings: dict


def train_run(
    clips: pd.DataFrame,
    recipe,
    split: dict,
    *,
    data=None,
    device: str = "auto",
    random_state: int = 0,
    cache_dir: str | os.PathLike | None = "data/cache",
    outputs_dir: str | os.PathLike = "outputs",
    progress: bool = True,
    extra: dict | None = None,
) -> Run:
    """Train ``recipe`` on the split's training speakers, validate and test on its held-out ones.

    ``data`` is the recipe's training data for ``clips`` (built, and cached, if not given).
    Writes ``outputs_dir/run_N/`` holding ``settings.yml`` (the whole recipe, the
    device, the random state and ``extra``), ``history.csv``, ``accuracy.png``,
    ``loss.png``, ``model.pt`` and its ONNX twin ``model.onnx``, ``split.json``,
    ``metrics.json`` and ``test_predictions.csv``, built in a temporary folder and
    renamed when complete.
    """
    from .plots import plot_history

    check_disjoint(split)
    data = recipe.training_data(clips, cache_dir, random_state, progress) if data is None else data
    masks = role_masks(clips, split)
    y = labels(clips["gender"])
    net = fit(recipe, data, clips, masks, device, random_state)
    history = history_frame(net)
    metrics = {"train_seconds": round(float(history["dur"].sum()), 1), "epochs_run": len(history)}
    if recipe.calibrate and masks["validation"].any():
        metrics["temperature"] = float(net.module_.temperature)
    predictions = None
    for role in ("validation", "test"):
        if masks[role].any():
            p_female = predict_clips(net.module_, data, masks[role])
            metrics[role] = clip_metrics(y[masks[role]], p_female)
            if role == "test":
                tested = clips.loc[masks[role], ["path", "speaker", "gender", "corpus"]]
                predictions = tested.assign(path=[project.relative(p) for p in tested["path"]], p_female=p_female)
    settings = {"recipe": recipe.to_dict(), "device": str(net.device), "random_state": random_state, **(extra or {})}

    with atomic_directory(outputs_dir, "run") as folder:
        write_yaml(folder / "settings.yml", settings)
        history.to_csv(folder / "history.csv", index=False)
        for kind, figure in plot_history(history).items():
            figure.savefig(folder / f"{kind}.png", dpi=100, bbox_inches="tight")
        save_checkpoint(folder / "model.pt", net.module_, recipe.network, recipe.features, recipe=recipe.to_dict(), **(extra or {}))
        write_json(folder / "split.json", split)
        write_json(folder / "metrics.json", metrics)
        if predictions is not None:
            predictions.to_csv(folder / "test_predictions.csv", index=False)
    return Run(folder.final, history, metrics, settings)
