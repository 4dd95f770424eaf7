"""Hyperparameter search: scikit-learn's GridSearchCV over the skorch estimator, by speaker.

The seed searched epochs x learning rate on one batch of 32 clips at a time with
folds that mixed speakers, so every candidate was scored on voices it had trained
on, and its "best" parameters meant little. Here every fold keeps speakers apart:
the search runs on the training and validation speakers of one split (its test
speakers are never seen), in ``cv`` folds grouped by speaker (on AudioMNIST,
Becker et al.'s groups), scored by balanced accuracy.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import yaml
from sklearn.model_selection import GridSearchCV

from .data import labels
from .files import atomic_directory, write_yaml
from .splits import BECKER_GROUPS, speaker_folds
from .train import make_estimator

SEED_GRID = {"epochs": [5, 10, 20, 25], "lr": [0.01, 0.001, 0.005, 0.0005]}
# the names users write in a grid -> the estimator's parameter names
PARAM_NAMES = {
    "epochs": "max_epochs",
    "lr": "lr",
    "batch_size": "batch_size",
    "weight_decay": "optimizer__weight_decay",
    "width": "module__width",
    "dropout": "module__dropout",
}


def load_grid(grid: dict | str | os.PathLike | None) -> dict[str, list]:
    """A grid as a dict of lists, from a dict, a YAML file, or None (the seed's grid)."""
    if grid is None:
        return dict(SEED_GRID)
    if isinstance(grid, (str, os.PathLike)):
        grid = yaml.safe_load(Path(grid).read_text())
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"a grid is a mapping of parameter names to lists of values, got {grid!r}")
    return {name: list(values) if isinstance(values, (list, tuple)) else [values] for name, values in grid.items()}


def estimator_grid(grid: dict[str, list]) -> dict[str, list]:
    """Rename a user's grid to the estimator's parameter names (unknown names pass through)."""
    return {PARAM_NAMES.get(name, name): values for name, values in grid.items()}


def search_folds(clips: pd.DataFrame, pool: np.ndarray, cv: int = 4, protocol: str = "", seed: int = 0):
    """(fit, score) index pairs into the clips of ``pool``, no speaker on both sides of any.

    On AudioMNIST (``protocol="becker"``) each of Becker et al.'s groups in the pool
    is one fold (``cv`` is then the number of groups, 3); elsewhere stratified group k-fold by speaker (stratified by corpus and gender).
    """
    table = clips[pool].reset_index(drop=True)
    if protocol == "becker":
        group_of = {s: g for g, members in BECKER_GROUPS.items() for s in members}
        groups = table["speaker"].map(group_of).to_numpy()
        return [(np.flatnonzero(groups != g), np.flatnonzero(groups == g)) for g in sorted(set(groups))]
    return [(np.setdiff1d(np.arange(len(table)), score), score) for score in speaker_folds(table, cv, seed)]


def check_folds(speakers: np.ndarray, folds) -> None:
    """Raise if any speaker is in both the fitting and the scoring part of a fold."""
    for k, (fit, score) in enumerate(folds):
        shared = set(speakers[fit]) & set(speakers[score])
        if shared:
            raise ValueError(f"fold {k}: speakers {sorted(shared)} are both fitted and scored")


@dataclass
class Search:
    """What one search left behind."""

    path: Path
    results: pd.DataFrame
    best_params: dict
    best_score: float
    seconds: float


def run_search(
    clips: pd.DataFrame,
    features: np.ndarray,
    split: dict,
    *,
    model: str = "default",
    grid: dict | str | None = None,
    cv: int = 4,
    n_jobs: int = 1,
    device: str = "auto",
    seed: int = 0,
    batch_size: int = 64,
    protocol: str = "",
    outputs_dir: str | os.PathLike = "outputs",
    verbose: int = 2,
) -> Search:
    """Grid-search the CNN called ``model`` on the split's training and validation speakers.

    Writes ``outputs_dir/search_N/`` with ``best_params.yaml``, ``cv_results.csv``
    (mean and spread of balanced accuracy and fit time per candidate, and each
    fold's score), ``heatmap.png`` and ``search.yml`` (the settings and folds).
    ``verbose=2`` prints each fit's score and time as it ends.
    """
    from .plots import plot_search_heatmap

    grid = load_grid(grid)
    pool = clips["speaker"].isin([*split["train"], *split["validation"]]).to_numpy()
    speakers = clips.loc[pool, "speaker"].to_numpy()
    folds = search_folds(clips, pool, cv, protocol, seed)
    check_folds(speakers, folds)
    estimator = make_estimator(model, batch_size=batch_size, device=device, seed=seed, n_features=features.shape[-1])
    search = GridSearchCV(
        estimator, estimator_grid(grid), scoring="balanced_accuracy", cv=folds,
        n_jobs=n_jobs, refit=False, verbose=verbose, error_score="raise",
    )  # fmt: skip
    threads = max(1, (os.cpu_count() or 1) // max(1, n_jobs))  # no oversubscription across workers
    started = time.time()
    with joblib.parallel_config(backend="loky", inner_max_num_threads=threads):
        search.fit(features[pool], labels(clips.loc[pool, "gender"]))
    seconds = time.time() - started

    results = results_frame(search.cv_results_, grid)
    best_index = int(np.argmin(search.cv_results_["rank_test_score"]))
    best = results.loc[best_index]
    chosen = search.cv_results_["params"][best_index]  # the grid's own values and types
    best_params = {name: _plain(chosen[PARAM_NAMES.get(name, name)]) for name in grid}
    with atomic_directory(outputs_dir, "search") as folder:
        write_yaml(folder / "best_params.yaml", {**best_params, "balanced_accuracy": float(best["mean_balanced_accuracy"]),
                                                  "model": model})  # fmt: skip
        results.to_csv(folder / "cv_results.csv", index=False)
        plot_search_heatmap(results, grid).savefig(folder / "heatmap.png", dpi=100, bbox_inches="tight")
        write_yaml(folder / "search.yml", {
            "model": model, "grid": grid, "cv": len(folds), "scoring": "balanced_accuracy", "n_jobs": n_jobs,
            "device": estimator.device, "seed": seed, "batch_size": batch_size, "wall_seconds": round(seconds, 1),
            "held_out_test_speakers": list(split["test"]),
            "folds": [{"fit": sorted(set(speakers[f])), "score": sorted(set(speakers[s]))} for f, s in folds],
        })  # fmt: skip
    return Search(folder.final, results, best_params, float(best["mean_balanced_accuracy"]), seconds)


def results_frame(cv_results: dict, grid: dict) -> pd.DataFrame:
    """One row per candidate: its parameters (the user's names), scores and fit time."""
    frame = pd.DataFrame({name: [p[PARAM_NAMES.get(name, name)] for p in cv_results["params"]] for name in grid})
    frame["mean_balanced_accuracy"] = cv_results["mean_test_score"]
    frame["std_balanced_accuracy"] = cv_results["std_test_score"]
    frame["mean_fit_seconds"] = cv_results["mean_fit_time"]
    frame["std_fit_seconds"] = cv_results["std_fit_time"]
    frame["rank"] = cv_results["rank_test_score"]
    folds = sorted(k for k in cv_results if k.startswith("split") and k.endswith("_test_score"))
    for k in folds:
        frame[f"fold{k[5:-11]}_balanced_accuracy"] = cv_results[k]
    return frame


def _plain(value):
    """numpy scalars -> Python numbers, so YAML stays readable."""
    return value.item() if hasattr(value, "item") else value


def load_best_params(search_dir: str | os.PathLike) -> dict:
    """The best parameters a search folder recorded (the user's names), with the model searched."""
    params = yaml.safe_load((Path(search_dir) / "best_params.yaml").read_text())
    return {k: v for k, v in params.items() if k != "balanced_accuracy"}


def training_params(defaults: dict, params_from: str | os.PathLike | None) -> tuple[dict, dict]:
    """The parameters to train with: ``defaults`` overridden by a search's best, if given.

    ``defaults`` are ``train_run``'s keyword arguments (model, epochs, lr, ...); a
    search's model and parameters replace them, and training keeps the last epoch
    (no early stopping) as the search did, so what was searched is what is trained. Returns (train_run keyword arguments, estimator parameters beyond them).
    """
    chosen = {**defaults, **(load_best_params(params_from) if params_from else {})}
    if params_from:  # the search scored fixed-epoch training, so train the same way
        chosen["restore_best"] = False
    extra = {PARAM_NAMES.get(k, k): v for k, v in chosen.items() if k not in defaults}
    return {k: v for k, v in chosen.items() if k in defaults}, extra
