"""Training one model by its recipe, and run folders that are never half-written.

:func:`fit` trains a recipe on the training speakers of a split, and returns a
trained model that the lab can score, turn into a network for prediction, and save:
for a CNN recipe (:func:`fit_cnn`) its skorch ``NeuralNetClassifier``, built by
``recipes.Recipe.estimator``, validated every epoch and calibrated; for a head on
the speaker encoder, ``encoder.fit_head``. :func:`train_run` writes everything a
run left behind to ``outputs/run_N/``. The callbacks here are the CNN recipe's
building blocks.
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
from skorch.callbacks import Callback, LRScheduler

from ..labels import GENDERS, labels
from ..predict import GenderClassifier
from . import project
from .calibrate import fit_temperature, predict_clips
from .datasets import example_weights, rows_index
from .evaluate import clip_metrics
from .networks import TorchNetwork, save_checkpoint
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


def train_accuracy(net, X, y) -> float:
    """Accuracy on the training examples, whether their targets are labels or soft probabilities (distillation)."""
    y = np.asarray(y)
    return float(np.mean(net.predict(X) == (y.argmax(axis=1) if y.ndim == 2 else y)))


@dataclass
class TrainedCNN:
    """A CNN a recipe trained: the skorch estimator, and what the lab asks of any trained model."""

    recipe: object
    net: NeuralNetClassifier

    @property
    def module(self) -> torch.nn.Module:
        return self.net.module_

    @property
    def device(self) -> str:
        return str(self.net.device)

    @property
    def temperature(self) -> float:
        return float(self.module.temperature)

    def history(self) -> pd.DataFrame:
        """The per-epoch history as a table: epoch, losses, accuracies, time."""
        keys = ["epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "valid_bacc", "best", "dur"]
        return pd.DataFrame([{k: row.get(k) for k in keys if k in row} for row in self.net.history])

    def network(self, device: str = "auto") -> TorchNetwork:
        """The network behind the interface prediction uses (``GenderClassifier``)."""
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
        """``path`` (a ``.pt`` checkpoint) and its ONNX twin, which ``audiogender.load_model`` runs."""
        save_checkpoint(path, self.module, self.recipe.network, self.recipe.features, recipe=self.recipe.to_dict(), **meta)

    def cpu(self) -> "TrainedCNN":
        """The same, its network moved to the CPU (to keep many without filling a GPU)."""
        self.module.cpu()
        return self


def fit_cnn(recipe, data, clips: pd.DataFrame, masks: dict[str, np.ndarray], device: str = "auto", random_state: int = 0) -> TrainedCNN:
    """Fit a CNN recipe's estimator on the ``train`` rows of ``data``; score the ``validation`` rows every epoch, calibrate on them."""
    y = labels(clips["gender"])
    validation = masks["validation"]
    windows = None
    if validation.any():
        windows, owner = data.windows(validation)
        windows = (windows, y[validation][owner])
    net = recipe.estimator(data.n_features, device, random_state, windows)
    net.fit(data.training_set(masks["train"], y, random_state, example_weights(clips, recipe.balance)), None)
    if recipe.calibrate and validation.any():
        fit_temperature(net.module_, data, validation, y[validation], clips["speaker"].to_numpy()[validation])
    return TrainedCNN(recipe, net)


def fit(recipe, data, clips: pd.DataFrame, masks: dict[str, np.ndarray], device: str = "auto", random_state: int = 0):
    """Train ``recipe`` on the ``train`` rows of ``data`` (its training data for the clip table ``clips``).

    ``masks`` are boolean masks over the clips (``splits.role_masks``): the
    ``validation`` rows serve early stopping and calibration, if the recipe uses them.
    Returns the trained model (``TrainedCNN``, or ``encoder.TrainedHead``).
    """
    return recipe.fit(data, clips, masks, device, random_state)


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
    started = time.time()
    trained = fit(recipe, data, clips, masks, device, random_state)
    history = trained.history()
    metrics = {"train_seconds": round(time.time() - started, 1), "epochs_run": len(history)}
    if recipe.calibrate and masks["validation"].any():
        metrics["temperature"] = trained.temperature
    predictions = None
    for role in ("validation", "test"):
        if masks[role].any():
            p_female = trained.predict_clips(data, masks[role])
            metrics[role] = clip_metrics(y[masks[role]], p_female)
            if role == "test":
                tested = clips.loc[masks[role], ["path", "speaker", "gender", "corpus"]]
                predictions = tested.assign(path=[project.relative(p) for p in tested["path"]], p_female=p_female)
    settings = {"recipe": recipe.to_dict(), "device": trained.device, "random_state": random_state, **(extra or {})}

    with atomic_directory(outputs_dir, "run") as folder:
        write_yaml(folder / "settings.yml", settings)
        history.to_csv(folder / "history.csv", index=False)
        for kind, figure in (plot_history(history) if len(history) else {}).items():  # a head on the encoder has no epochs
            figure.savefig(folder / f"{kind}.png", dpi=100, bbox_inches="tight")
        trained.save(folder / "model.pt", **(extra or {}))
        write_json(folder / "split.json", split)
        write_json(folder / "metrics.json", metrics)
        if predictions is not None:
            predictions.to_csv(folder / "test_predictions.csv", index=False)
    return Run(folder.final, history, metrics, settings)
