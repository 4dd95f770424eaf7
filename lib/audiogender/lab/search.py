"""Hyperparameter search: scikit-learn's GridSearchCV over the skorch estimator, by speaker.

The seed searched epochs x learning rate on one batch of 32 clips at a time with
folds that mixed speakers, so every candidate was scored on voices it had trained
on, and its "best" parameters meant little. Here every fold keeps speakers apart:
the search runs on the training and validation speakers of one split (its test
speakers are never seen), in ``cv`` folds grouped by speaker (on AudioMNIST,
Becker et al.'s groups), scored by balanced accuracy. It varies a recipe's
settings, trained on each clip's loudest second and keeping the last epoch
(GridSearchCV fits arrays); :func:`searched_recipe` gives back the recipe it
found best, trained the same way.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import yaml
from sklearn.model_selection import GridSearchCV

from ..labels import labels
from . import project
from .cnn import ESTIMATOR_PARAMS, CnnRecipe
from .outputs import atomic_directory, write_yaml
from .splits import search_folds

SEED_GRID = {"epochs": [5, 10, 20, 25], "lr": [0.01, 0.001, 0.005, 0.0005]}


def load_grid(grid: dict | str | os.PathLike | None) -> dict[str, list]:
    """A grid as a dict of lists, from a dict, a YAML file, or None or ``"seed"`` (the seed's grid)."""
    if grid is None or grid == "seed":
        return dict(SEED_GRID)
    if isinstance(grid, (str, os.PathLike)):
        grid = yaml.safe_load(project.resolve(grid).read_text())
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"a grid is a mapping of parameter names to lists of values, got {grid!r}")
    unknown = set(grid) - set(ESTIMATOR_PARAMS)
    if unknown:
        raise ValueError(f"a grid may vary {', '.join(ESTIMATOR_PARAMS)}; not {sorted(unknown)}")
    return {name: list(values) if isinstance(values, (list, tuple)) else [values] for name, values in grid.items()}


def estimator_grid(grid: dict[str, list]) -> dict[str, list]:
    """Rename a grid's recipe names (epochs, lr, ...) to the estimator's parameter names."""
    return {ESTIMATOR_PARAMS[name]: values for name, values in grid.items()}


def searchable(recipe: CnnRecipe) -> CnnRecipe:
    """The recipe as the search trains it: each clip's loudest second, the last epoch kept.

    Its schedule (annealed over however many epochs a candidate runs) and calibration
    (which changes no decision) stay as the recipe has them.
    """
    return recipe.replace(crops=False, restore_best=False, patience=None)


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
    recipe: CnnRecipe,
    split: dict,
    *,
    grid: dict | str | None = None,
    cv: int = 4,
    n_jobs: int = 1,
    backend: str = "loky",
    ray_address: str | None = None,
    device: str = "auto",
    random_state: int = 0,
    protocol: str = "",
    cache_dir: str | os.PathLike | None = "data/cache",
    outputs_dir: str | os.PathLike = "outputs",
    progress: bool = True,
    verbose: int = 2,
) -> Search:
    """Grid-search ``recipe``'s settings on the split's training and validation speakers.

    Writes ``outputs_dir/search_N/`` with ``best_params.yaml``, ``cv_results.csv``
    (mean and spread of balanced accuracy and fit time per candidate, and each
    fold's score), ``heatmap.png`` and ``search.yml`` (the recipe searched, the
    settings and the folds). ``verbose=2`` prints each fit's score and time as it ends.
    ``backend`` is joblib's: ``loky`` (processes on this machine) or ``ray`` (the
    candidates on a Ray cluster, at ``ray_address`` or a local one; ``n_jobs=-1`` uses
    every CPU of the cluster). The folds, seeds and so the results are the same either way.
    """
    from .plots import plot_search_heatmap

    grid = load_grid(grid)
    recipe = searchable(recipe)
    features = recipe.training_data(clips, cache_dir, random_state, progress).features
    pool = clips["speaker"].isin([*split["train"], *split["validation"]]).to_numpy()
    speakers = clips.loc[pool, "speaker"].to_numpy()
    folds = search_folds(clips, pool, cv, protocol, random_state)
    estimator = recipe.estimator(features.shape[-1], device, random_state)
    search = GridSearchCV(
        estimator, estimator_grid(grid), scoring="balanced_accuracy", cv=folds,
        n_jobs=n_jobs, refit=False, verbose=verbose, error_score="raise",
    )  # fmt: skip
    threads = max(1, (os.cpu_count() or 1) // max(1, n_jobs))  # no oversubscription across workers
    started = time.time()
    with _parallel(backend, threads, ray_address):
        search.fit(features[pool], labels(clips.loc[pool, "gender"]))
    seconds = time.time() - started

    results = results_frame(search.cv_results_, grid)
    best_index = int(np.argmin(search.cv_results_["rank_test_score"]))
    best = results.loc[best_index]
    chosen = search.cv_results_["params"][best_index]  # the grid's own values and types
    best_params = {name: _plain(chosen[ESTIMATOR_PARAMS[name]]) for name in grid}
    with atomic_directory(outputs_dir, "search") as folder:
        write_yaml(folder / "best_params.yaml", {**best_params, "balanced_accuracy": float(best["mean_balanced_accuracy"])})
        results.to_csv(folder / "cv_results.csv", index=False)
        plot_search_heatmap(results, grid).savefig(folder / "heatmap.png", dpi=100, bbox_inches="tight")
        write_yaml(folder / "search.yml", {
            "recipe": recipe.to_dict(), "grid": grid, "cv": len(folds), "scoring": "balanced_accuracy", "n_jobs": n_jobs, "backend": backend,
            "device": str(estimator.device), "random_state": random_state, "wall_seconds": round(seconds, 1),
            "held_out_test_speakers": list(split["test"]),
            "folds": [{"fit": sorted(set(speakers[f])), "score": sorted(set(speakers[s]))} for f, s in folds],
        })  # fmt: skip
    return Search(folder.final, results, best_params, float(best["mean_balanced_accuracy"]), seconds)


@contextlib.contextmanager
def _parallel(backend: str, threads: int, ray_address: str | None = None):
    """joblib's backend for the candidates: loky here, or Ray (started here unless already running)."""
    if backend == "loky":
        with joblib.parallel_config(backend="loky", inner_max_num_threads=threads):
            yield
        return
    if backend != "ray":
        raise ValueError(f"backend is 'loky' or 'ray', not {backend!r}")
    from ray.util.joblib import register_ray

    from ..cluster import ray_session

    with ray_session(ray_address):
        register_ray()
        with joblib.parallel_config(backend="ray"):
            yield


def results_frame(cv_results: dict, grid: dict) -> pd.DataFrame:
    """One row per candidate: its parameters (the user's names), scores and fit time."""
    frame = pd.DataFrame({name: [p[ESTIMATOR_PARAMS[name]] for p in cv_results["params"]] for name in grid})
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


def searched_recipe(search_dir: str | os.PathLike, outputs_dir: str | os.PathLike = "outputs") -> CnnRecipe:
    """The recipe a search found best: the one it searched, with its best settings, trained as the search trained it.

    ``search_dir`` is a search folder, or ``"latest"``: the newest in ``outputs_dir``.
    """
    search_dir = project.latest_search(outputs_dir) if str(search_dir) == "latest" else project.resolve(search_dir)
    searched = CnnRecipe.from_dict(yaml.safe_load((search_dir / "search.yml").read_text())["recipe"])
    best = yaml.safe_load((search_dir / "best_params.yaml").read_text())
    return searched.replace(name=f"{searched.name}, best of {search_dir.name}", **{k: v for k, v in best.items() if k != "balanced_accuracy"})
