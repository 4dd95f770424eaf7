"""Leave-speakers-out cross-validation over several corpora, every method on the same folds.

One held-out split says little (15 speakers decide it), and one corpus says
nothing about the next. Here every speaker of every corpus is tested once, by a
model that never heard them: folds are stratified group k-fold with the speaker
as the group (stratified by corpus and gender), fold k tests, fold k+1 validates
(early stopping, calibration), the rest train. Methods compared on those folds:

* ``default``: the default recipe (``recipes``);
* ``seed, speaker-disjoint``: the seed's recipe (MFCC, 25 epochs, lr 0.001), which
  needs no validation speakers, so they train too;
* ``seed, leaky clip split``: the same recipe on folds drawn by clip, as the seed
  validated it, so the same speakers are trained and tested on; the gap between
  the two seed rows is what the leak was worth;
* ``pitch baseline``: median F0, threshold fitted on the training folds;
* ``voice2gender``: the PyPI package's own model, untrained by us.

Every recipe's fold model scores its test clips whole, as ``audiogender predict``
scores a file (voice detection, 1 s windows, mean log-odds).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..labels import labels
from ..predict import GenderClassifier
from . import project
from .baselines import PitchBaseline, file_median_f0, file_voice2gender, voice2gender_available
from .cache import FEATURE_CODE, per_clip_cached
from .calibrate import predict_clips
from .evaluate import scorecard
from .networks import TorchNetwork, save_checkpoint
from .outputs import atomic_directory, write_json, write_yaml
from .recipes import RECIPES, Recipe
from .splits import fold_masks, fold_tested_in, group_kfold_splits, leaky_masks, role_masks
from .train import fit

# methods that train a recipe: (recipe name, folds) where folds are "speakers" (the splits) or "leaky" (by clip)
RECIPE_METHODS = {"seed, leaky clip split": ("seed", "leaky"), "seed, speaker-disjoint": ("seed", "speakers"), "default": ("default", "speakers")}
METHODS = ("seed, leaky clip split", "seed, speaker-disjoint", "pitch baseline", "voice2gender", "default")


def fold_random_state(fold: int, training_random_state: int = 0) -> int:
    """The random state fold ``fold`` trains with: its own per fold, and another set for each ``training_random_state``."""
    return fold + 1000 * training_random_state


def whole_clip_proba(classifier: GenderClassifier, paths) -> np.ndarray:
    """p(female) of each file as :meth:`GenderClassifier.predict` gives it; NaN where it found no voice."""
    return np.array([np.nan if p.p_female is None else p.p_female for p in classifier.predict_files(paths)], dtype=float)


def crossval_recipe(
    clips: pd.DataFrame,
    recipe: Recipe,
    data,
    folds: list[dict[str, np.ndarray]],
    method: str,
    device: str = "auto",
    progress: bool = True,
    training_random_state: int = 0,
) -> tuple[pd.DataFrame, list]:
    """Out-of-fold predictions of a recipe, and its fold networks.

    ``folds`` are role masks (``splits.fold_masks`` or ``splits.leaky_masks``). Each
    fold's model trains as its recipe says and scores its test clips whole; a clip in
    which voice detection finds too little speech is scored on its fixed windows
    instead, so every clip is counted (``no_answer`` marks them). Another
    ``training_random_state`` draws other initial weights and crops on the same
    folds, which shows how much of a difference between recipes is luck.
    """
    p, silent, fold_of, networks = np.full(len(clips), np.nan), np.zeros(len(clips), bool), np.full(len(clips), -1), []
    for k, masks in enumerate(tqdm(folds, desc=f"{method}, folds", disable=not progress)):
        net = fit(recipe, data, clips, masks, device, random_state=fold_random_state(k, training_random_state))
        classifier = GenderClassifier(TorchNetwork(net.module_, recipe.features, device))
        rows = masks["test"]
        p[rows] = whole_clip_proba(classifier, clips.loc[rows, "path"])
        silent[rows], fold_of[rows] = np.isnan(p[rows]), k
        unheard = rows & silent
        if unheard.any():
            p[unheard] = predict_clips(net.module_, data, unheard)
        networks.append(net.module_.cpu())
    return _predictions(clips, method, p, fold_of, silent=silent), networks


def crossval_pitch(clips: pd.DataFrame, f0: np.ndarray, splits: list[dict]) -> tuple[pd.DataFrame, list[float]]:
    """Out-of-fold predictions of the median-F0 baseline, and each fold's threshold in Hz."""
    y = labels(clips["gender"])
    p, thresholds = np.full(len(clips), np.nan), []
    for split in splits:
        masks = role_masks(clips, split)
        train = masks["train"] | masks["validation"]
        baseline = PitchBaseline().fit(f0[train], y[train])
        p[masks["test"]] = baseline.predict_proba(f0[masks["test"]])[:, 1]
        thresholds.append(baseline.threshold_hz)
    return _predictions(clips, "pitch baseline", p, fold_tested_in(clips, splits)), thresholds


def voice2gender_predictions(clips: pd.DataFrame, p_female: np.ndarray, splits: list[dict]) -> pd.DataFrame:
    """``voice2gender``'s answers on the same test folds; audio it refuses counts as 0.5 (no answer)."""
    refused = np.isnan(p_female)
    return _predictions(clips, "voice2gender", np.where(refused, 0.5, p_female), fold_tested_in(clips, splits), silent=refused)


def _predictions(clips: pd.DataFrame, method: str, p_female: np.ndarray, fold: np.ndarray, silent: np.ndarray | None = None) -> pd.DataFrame:
    """One row per clip tested, its path as the project names it (never this machine's)."""
    columns = [c for c in ("speaker", "gender", "corpus", "source", "language", "emotion") if c in clips]
    table = clips[columns].assign(path=_paths(clips), method=method, fold=fold, p_female=p_female, no_answer=False if silent is None else silent)
    return table[table["fold"] >= 0].reset_index(drop=True)


def _paths(clips: pd.DataFrame) -> list[str]:
    return [project.relative(p) for p in clips["path"]]


@dataclass
class CrossValidation:
    """What :func:`run_crossval` found: one row per clip and method, and each recipe method's fold networks."""

    predictions: pd.DataFrame
    splits: list[dict]
    networks: dict[str, list] = field(default_factory=dict)
    recipes: dict[str, Recipe] = field(default_factory=dict)
    pitch_thresholds: list[float] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)  # the methods run here; the others' predictions were reused

    @property
    def reused(self) -> list[str]:
        """Methods whose predictions came from an earlier run."""
        return [m for m in self.predictions["method"].unique() if m not in self.methods]

    def scorecard(self) -> pd.DataFrame:
        return scorecard(self.predictions)


def run_crossval(
    clips: pd.DataFrame,
    methods=METHODS,
    n_folds: int = 5,
    random_state: int = 0,
    recipes: dict[str, Recipe] | None = None,
    device: str = "auto",
    cache_dir: str | os.PathLike | None = "data/cache",
    progress: bool = True,
    reuse_from: str | os.PathLike | None = None,
    training_random_state: int = 0,
) -> CrossValidation:
    """Every method in ``methods`` on the same speaker-disjoint folds (see the module's docstring).

    ``random_state`` deals the folds and draws the augmented views. ``recipes`` replace
    the named recipes of :data:`recipes.RECIPES` (e.g. ``{"default": get_recipe("default", epochs=3)}``).
    Features, frame banks, pitch tracks and voice2gender's answers are cached per
    clip, so a second run only retrains. ``reuse_from`` (an earlier ``crossval_N``
    folder on the same clips and folds) keeps its predictions for every method it
    holds that is not in ``methods``, so a fixed baseline is not re-run.
    ``voice2gender`` is left out, with a warning, where it is not installed.
    """
    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}: use some of {', '.join(METHODS)}")
    if "voice2gender" in methods and not voice2gender_available():
        warnings.warn("voice2gender is not installed (make install installs it): left out", stacklevel=2)
        methods.remove("voice2gender")
    recipes = {**RECIPES, **(recipes or {})}
    splits = group_kfold_splits(clips, n_folds, random_state)
    result = CrossValidation(pd.DataFrame(), splits, methods=methods)
    tables = [] if reuse_from is None else [reused_predictions(reuse_from, clips, splits, exclude=methods)]
    data = {}
    for method in methods:
        if method in RECIPE_METHODS:
            name, kind = RECIPE_METHODS[method]
            recipe = result.recipes[method] = recipes[name]
            if name not in data:
                data[name] = recipe.training_data(clips, cache_dir, random_state, progress)
            folds = leaky_masks(clips, n_folds, random_state) if kind == "leaky" else fold_masks(clips, splits, recipe.uses_validation)
            table, result.networks[method] = crossval_recipe(clips, recipe, data[name], folds, method, device, progress, training_random_state)
        elif method == "pitch baseline":
            f0 = per_clip_cached(clips, file_median_f0, "pyin", "f0", cache_dir, progress=progress, code=(*FEATURE_CODE, "audiogender.lab.baselines"))
            table, result.pitch_thresholds = crossval_pitch(clips, f0, splits)
        else:
            p = per_clip_cached(clips, file_voice2gender, "voice2gender-0.1.1", "voice2gender", cache_dir, progress=progress,
                                code=(*FEATURE_CODE, "audiogender.lab.baselines"))  # fmt: skip
            table = voice2gender_predictions(clips, p, splits)
        tables.append(table)
    result.predictions = pd.concat(tables, ignore_index=True)
    return result


def reused_predictions(folder: str | os.PathLike, clips: pd.DataFrame, splits: list[dict], exclude=()) -> pd.DataFrame:
    """An earlier run's predictions, for methods not in ``exclude``; refused unless its folds and clips are these."""
    folder = Path(folder)
    earlier = json.loads((folder / "splits.json").read_text())["splits"]
    if earlier != splits:
        raise ValueError(f"{folder}: its folds are not this run's (other corpora, n_folds or random_state); run every method afresh")
    table = pd.read_csv(folder / "predictions.csv", dtype={"speaker": str})
    table = table[~table["method"].isin(list(exclude))]
    for method, rows in table.groupby("method"):
        if sorted(rows["path"]) != sorted(_paths(clips)):
            raise ValueError(f"{folder}: {method!r} was run on other clips")
    return table.assign(reused_from=folder.name)


def _slug(method: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", method.lower()).strip("-")


def save_crossval(result: CrossValidation, outputs_dir: str | os.PathLike = "outputs", settings: dict | None = None) -> Path:
    """Write ``outputs_dir/crossval_N/``: predictions.csv, scorecard.csv, splits.json, settings.yml (with every
    recipe) and each recipe method's fold networks (``networks/{method}/fold_K.pt``); built under a temporary name, never half-written."""
    with atomic_directory(outputs_dir, "crossval") as folder:
        for method, networks in result.networks.items():
            recipe = result.recipes[method]
            for k, network in enumerate(networks):
                save_checkpoint(folder / "networks" / _slug(method) / f"fold_{k}.pt", network, recipe.network, recipe.features, fold=k, recipe=recipe.to_dict())
        result.predictions.to_csv(folder / "predictions.csv", index=False)
        result.scorecard().to_csv(folder / "scorecard.csv", index=False)
        write_json(folder / "splits.json", {"protocol": "stratified-group-kfold", "splits": result.splits})
        write_yaml(folder / "settings.yml", {
            **(settings or {}), "recipes": {method: recipe.to_dict() for method, recipe in result.recipes.items()},
            "pitch_thresholds_hz": [round(t, 1) for t in result.pitch_thresholds],
        })  # fmt: skip
    return folder.final
