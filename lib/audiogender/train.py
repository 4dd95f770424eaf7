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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EarlyStopping, EpochScoring, LRScheduler
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from .crops import CropDataset, FrameBank
from .data import GENDERS, labels
from .device import pick_device
from .evaluate import clip_metrics
from .features import FeatureConfig
from .files import atomic_directory, write_json, write_yaml
from .model import DEFAULT_FEATURES, MODELS, save_checkpoint
from .runtime import female_log_odds, sigmoid
from .splits import check_disjoint, role_masks


# temperatures fit_temperature chooses from (log-spaced); pooled log-odds of long recordings may want sharpening well below 1
TEMPERATURE_RANGE = (0.05, 10.0)


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
        if isinstance(X, CropDataset):  # random crops: fit on clean crops, weigh by an epoch's labels
            X, y = X.sample_features(), X.labels()
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
    patience: int | None = None,
    lr_schedule: str | None = None,
    n_features: int | None = None,
    verbose: int = 0,
    **params,
) -> NeuralNetClassifier:
    """A skorch classifier around the CNN called ``model``, trained with Adam.

    ``validation`` (features, labels) of held-out speakers is scored every epoch;
    with ``restore_best`` the best epoch's weights are kept, else the last epoch's;
    with ``patience`` training stops after that many epochs without a lower validation loss;
    ``lr_schedule="cosine"`` anneals the learning rate to zero over ``epochs``, so the
    last epochs take small, steady steps (augmented crops make every epoch's loss noisy).
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}: use one of {', '.join(MODELS)}")
    callbacks = [
        ("seed", Seed(seed)),
        ("fit_inputs", FitInputs()),
        ("train_acc", EpochScoring("accuracy", on_train=True, name="train_acc", lower_is_better=False)),
    ]
    if lr_schedule == "cosine":
        callbacks.append(("lr_schedule", LRScheduler(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=epochs)))
    elif lr_schedule is not None:
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}: use 'cosine' or None")
    if validation is not None:
        callbacks.append(("valid_bacc", EpochScoring("balanced_accuracy", name="valid_bacc", lower_is_better=False)))
        if restore_best:
            callbacks.append(("restore_best", RestoreBest()))
        if patience:
            callbacks.append(("early_stopping", EarlyStopping(patience=patience, load_best=False)))
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


def fit_estimator(
    features: np.ndarray | FrameBank,
    y: np.ndarray,
    masks: dict[str, np.ndarray],
    *,
    model: str = "default",
    seed: int = 0,
    estimator_params: dict | None = None,
    **options,
) -> NeuralNetClassifier:
    """Fit a fresh estimator on the ``train`` rows, scoring the ``validation`` rows every epoch.

    A frame bank trains on random crops of augmented views and validates on fixed
    windows of the clean ones; fixed-clip features train and validate on the clips.
    """
    if masks["validation"].any():
        windows, owner = clip_windows(features, masks["validation"])
        validation = (windows, y[masks["validation"]][owner])
    else:
        validation = None
    net = make_estimator(model, seed=seed, validation=validation, n_features=features.n_features if isinstance(features, FrameBank) else features.shape[-1],
                         **options, **(estimator_params or {}))  # fmt: skip
    if isinstance(features, FrameBank):
        net.fit(CropDataset(features.subset(masks["train"]), y[masks["train"]], seed=seed), None)
    else:
        net.fit(features[masks["train"]], y[masks["train"]])
    return net


def history_frame(net: NeuralNetClassifier) -> pd.DataFrame:
    """The per-epoch history as a table: epoch, losses, accuracies, time."""
    keys = ["epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "valid_bacc", "best", "dur"]
    rows = [{k: row.get(k) for k in keys if k in row} for row in net.history]
    return pd.DataFrame(rows)


def clip_windows(features: np.ndarray | FrameBank, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fixed examples of the clips at ``rows``: (windows, which clip each window is from).

    Fixed-clip features give one window per clip; a frame bank gives up to four
    evenly spaced 1 s windows of each clip's clean view.
    """
    rows = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
    if not isinstance(features, FrameBank):
        return features[rows], np.arange(len(rows))
    windows = [features.eval_windows(int(c)) for c in rows]
    return np.concatenate(windows), np.repeat(np.arange(len(rows)), [len(w) for w in windows])


def window_logits(network: torch.nn.Module, windows: np.ndarray, batch_size: int = 512) -> torch.Tensor:
    """Uncalibrated logits of a batch of windows, on the network's device."""
    device = next(network.parameters()).device
    network.eval()
    with torch.inference_mode():
        out = [network.logits(torch.as_tensor(windows[i : i + batch_size], device=device)) for i in range(0, len(windows), batch_size)]
    return torch.cat(out).cpu() if out else torch.zeros((0, 2))


def clip_log_odds(logits: torch.Tensor, owner: np.ndarray, n_clips: int) -> np.ndarray:
    """Each clip's mean over its windows of the (uncalibrated) log-odds of female, as prediction pools them."""
    log_odds = female_log_odds(logits.numpy())
    return np.bincount(owner, log_odds, minlength=n_clips) / np.maximum(np.bincount(owner, minlength=n_clips), 1)


def clip_proba(logits: torch.Tensor, owner: np.ndarray, n_clips: int, temperature: float = 1.0) -> np.ndarray:
    """p(female) of each clip from the mean of its windows' log-odds, as prediction takes it."""
    return sigmoid(clip_log_odds(logits, owner, n_clips) / temperature)


def speaker_weights(speakers) -> np.ndarray:
    """1 / (the speaker's number of clips) for each clip, so that every speaker counts once."""
    speakers = pd.Series(np.asarray(speakers))
    return 1.0 / speakers.map(speakers.value_counts()).to_numpy(dtype=float)


def fit_temperature(network: torch.nn.Module, features, rows: np.ndarray, y: np.ndarray, speakers=None) -> float:
    """Set the network's temperature to the one that best predicts these clips' labels (least log loss).

    Fitted on validation speakers, never test ones; a single number, so it cannot overfit them.
    With ``speakers`` (one per clip) every speaker weighs the same, however many clips
    they have: otherwise fifty AudioMNIST digits of one speaker outweigh fifty
    LibriSpeech readers, and long recordings come out miscalibrated.
    """
    windows, owner = clip_windows(features, rows)
    log_odds = clip_log_odds(window_logits(network, windows), owner, len(y))  # the temperature only divides these
    weight = np.ones(len(y)) if speakers is None else speaker_weights(speakers)
    temperatures = np.exp(np.linspace(np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1]), 101))
    losses = []
    for t in temperatures:
        p = np.clip(sigmoid(log_odds / t), 1e-6, 1 - 1e-6)
        losses.append(-np.sum(weight * (y * np.log(p) + (1 - y) * np.log(1 - p))))
    best = float(temperatures[int(np.argmin(losses))])
    network.temperature.fill_(best)
    return best


def predict_clips(network: torch.nn.Module, features, rows: np.ndarray) -> np.ndarray:
    """Calibrated p(female) of the clips at ``rows``."""
    windows, owner = clip_windows(features, rows)
    return clip_proba(window_logits(network, windows), owner, int(owner.max(initial=-1)) + 1, float(network.temperature))


@dataclass
class Run:
    """What one training run left behind."""

    path: Path
    history: pd.DataFrame
    metrics: dict
    hyperparams: dict


def train_run(
    clips: pd.DataFrame,
    features: np.ndarray | FrameBank,
    split: dict,
    *,
    model: str = "default",
    feature_config: FeatureConfig | None = None,
    epochs: int = 25,
    lr: float = 0.001,
    batch_size: int = 64,
    restore_best: bool = True,
    patience: int | None = None,
    lr_schedule: str | None = None,
    calibrate: bool = True,
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

    ``features`` are fixed clips (clips x frames x width, from ``load_features``) or
    a :class:`FrameBank`, from which training draws random crops of augmented views.
    With ``calibrate`` the temperature is fitted on the validation speakers.

    Writes ``outputs_dir/run_N/`` holding ``hyperparams.yml``, ``history.csv``,
    ``accuracy.png``, ``loss.png``, ``model.pt`` (and ``model.onnx``), ``split.json``, ``metrics.json``
    and ``test_predictions.csv``, built in a temporary folder and renamed when complete.
    """
    from .plots import plot_history

    check_disjoint(split)
    feature_config = feature_config or DEFAULT_FEATURES[model]
    masks = role_masks(clips, split)
    y = labels(clips["gender"])
    net = fit_estimator(features, y, masks, model=model, lr=lr, epochs=epochs, batch_size=batch_size, restore_best=restore_best,
                        patience=patience, lr_schedule=lr_schedule, device=device, seed=seed, estimator_params=estimator_params)  # fmt: skip
    history = history_frame(net)
    metrics = {"train_seconds": round(float(history["dur"].sum()), 1), "epochs_run": len(history)}
    if calibrate and masks["validation"].any():
        validation = masks["validation"]
        metrics["temperature"] = fit_temperature(net.module_, features, validation, y[validation], clips["speaker"].to_numpy()[validation])
    predictions = None
    for role in ("validation", "test"):
        if masks[role].any():
            p_female = predict_clips(net.module_, features, masks[role])
            metrics[role] = clip_metrics(y[masks[role]], p_female)
            if role == "test":
                predictions = clips.loc[masks[role], ["path", "speaker", "gender", "corpus"]].assign(p_female=p_female)
    hyperparams = {
        "model": model, "epochs": epochs, "lr": lr, "batch_size": batch_size, "restore_best": restore_best, "device": net.device,
        "patience": patience, "lr_schedule": lr_schedule, "calibrate": calibrate, "crops": isinstance(features, FrameBank),
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
