"""Cross-validation over several corpora, every method on the same folds, by speaker or by corpus.

Two protocols, each testing every clip once, by a model that never heard its speaker:

* ``speakers``: leave speakers out. Speakers are dealt into folds (stratified group
  k-fold, stratified by folder and gender); fold k tests, fold k+1 validates (early
  stopping, calibration), the rest train. It says how well a method knows voices
  like those it trained on.
* ``corpora``: leave one corpus out. Each folder (the small ones pooled) is tested by
  models trained on all the others, a fifth of their speakers validating. It says
  how well a method does on recordings unlike any it trained on, which is what a
  user's recordings are.

Methods compared on those folds:

* the recipes (``recipes``): ``default`` (our CNN), ``encoder`` (a head on the
  pretrained speaker encoder), ``distilled`` (our CNN taught by the encoder too),
  ``seed`` (the seed's recipe: MFCC, 25 epochs, no validation, so
  the validation speakers train too);
* ``seed (leaky clip split)`` (leave-speakers-out only): the seed's recipe on folds
  drawn by clip, as the seed validated it, so the same speakers are trained and
  tested on; the gap between the two seed rows is what the leak was worth;
* ``pitch baseline``: median F0, threshold fitted on the training folds;
* ``voice2gender``: the PyPI package's own model, untrained by us.

Every recipe's fold model judges its test clips whole, as ``audiogender predict``
judges a file (voice detection, windows, pooled log-odds or embeddings).
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
import yaml

from ..labels import labels
from . import progress_bar, project
from .baselines import PitchBaseline, file_median_f0, file_voice2gender, voice2gender_available
from .cache import FEATURE_CODE, per_clip_cached
from .evaluate import scorecard
from .outputs import atomic_directory, write_json, write_yaml
from .recipes import RECIPES
from .splits import corpus_masks, fold_masks, fold_tested_in, folds_as_splits, group_kfold_splits, leaky_masks, without_validation
from .train import fit

PROTOCOLS = ("speakers", "corpora")
# methods that train a recipe: (recipe name, folds) where folds are the protocol's, or "leaky" (by clip)
RECIPE_METHODS = {"seed (leaky clip split)": ("seed", "leaky"), **{name: (name, "protocol") for name in RECIPES}}
METHODS = ("seed (leaky clip split)", "seed", "pitch baseline", "voice2gender", "default", "distilled", "encoder")


def fold_random_state(fold: int, training_random_state: int = 0) -> int:
    """The random state fold ``fold`` trains with: its own per fold, and another set for each ``training_random_state``."""
    return fold + 1000 * training_random_state


def crossval_recipe(
    clips: pd.DataFrame,
    recipe,
    data,
    folds: list[dict[str, np.ndarray]],
    method: str,
    device: str = "auto",
    progress: bool = True,
    training_random_state: int = 0,
) -> tuple[pd.DataFrame, list]:
    """Out-of-fold predictions of a recipe, and its fold models.

    ``folds`` are role masks (``splits``). Each fold's model trains as its recipe
    says and judges its test clips whole; where voice detection finds too little
    speech, on the clip's fixed windows instead, so every clip is counted
    (``no_answer`` marks them). Another ``training_random_state`` draws other initial
    weights and crops on the same folds, which shows how much of a difference
    between recipes is luck.
    """
    p, silent, fold_of, models = np.full(len(clips), np.nan), np.zeros(len(clips), bool), np.full(len(clips), -1), []
    for k, masks in enumerate(progress_bar(folds, progress, desc=f"{method}, folds")):
        model = fit(recipe, data, clips, masks, device, random_state=fold_random_state(k, training_random_state))
        rows = masks["test"]
        p[rows], silent[rows] = model.score_clips(clips, data, rows, device)
        fold_of[rows] = k
        models.append(model.cpu())
    return _predictions(clips, method, p, fold_of, silent=silent), models


def crossval_pitch(clips: pd.DataFrame, f0: np.ndarray, folds: list[dict[str, np.ndarray]]) -> tuple[pd.DataFrame, list[float]]:
    """Out-of-fold predictions of the median-F0 baseline (fitted on training and validation clips), and each fold's threshold in Hz."""
    y = labels(clips["gender"])
    p, thresholds = np.full(len(clips), np.nan), []
    for masks in without_validation(folds):
        baseline = PitchBaseline().fit(f0[masks["train"]], y[masks["train"]])
        p[masks["test"]] = baseline.predict_proba(f0[masks["test"]])[:, 1]
        thresholds.append(baseline.threshold_hz)
    return _predictions(clips, "pitch baseline", p, fold_tested_in(folds)), thresholds


def voice2gender_predictions(clips: pd.DataFrame, p_female: np.ndarray, folds: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """``voice2gender``'s answers on the same test folds; audio it refuses counts as 0.5 (no answer)."""
    refused = np.isnan(p_female)
    return _predictions(clips, "voice2gender", np.where(refused, 0.5, p_female), fold_tested_in(folds), silent=refused)


def _predictions(clips: pd.DataFrame, method: str, p_female: np.ndarray, fold: np.ndarray, silent: np.ndarray | None = None) -> pd.DataFrame:
    """One row per clip tested, its path as the project names it (never this machine's)."""
    columns = [c for c in ("speaker", "gender", "corpus", "source", "group", "language", "emotion") if c in clips]
    table = clips[columns].assign(path=_paths(clips), method=method, fold=fold, p_female=p_female, no_answer=False if silent is None else silent)
    return table[table["fold"] >= 0].reset_index(drop=True)


def _paths(clips: pd.DataFrame) -> list[str]:
    return [project.relative(p) for p in clips["path"]]


@dataclass
class CrossValidation:
    """What :func:`run_crossval` found: one row per clip and method, and each recipe method's fold models."""

    predictions: pd.DataFrame
    splits: list[dict]
    protocol: str = "speakers"
    groups: list[str] = field(default_factory=list)  # what each fold holds out (leave-one-corpus-out: a folder)
    models: dict[str, list] = field(default_factory=dict)
    recipes: dict[str, object] = field(default_factory=dict)
    pitch_thresholds: list[float] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)  # the methods run here; the others' predictions were reused

    @property
    def reused(self) -> list[str]:
        """Methods whose predictions came from an earlier run."""
        return [m for m in self.predictions["method"].unique() if m not in self.methods]

    def scorecard(self) -> pd.DataFrame:
        return scorecard(self.predictions, by="group")


def protocol_folds(clips: pd.DataFrame, protocol: str = "speakers", n_folds: int = 5, random_state: int = 0) -> tuple[list[str], list[dict]]:
    """(what each fold holds out, role masks) of a protocol (see the module's docstring); adds the ``group`` column to ``clips``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}: use one of {', '.join(PROTOCOLS)}")
    if protocol == "corpora":
        names, folds = corpus_masks(clips, random_state)
        clips["group"] = np.array(names)[fold_tested_in(folds)]
        return names, folds
    clips["group"] = clips["source"]
    return [f"fold {k}" for k in range(n_folds)], fold_masks(clips, group_kfold_splits(clips, n_folds, random_state))


def run_crossval(
    clips: pd.DataFrame,
    methods=METHODS,
    protocol: str = "speakers",
    n_folds: int = 5,
    random_state: int = 0,
    recipes: dict | None = None,
    device: str = "auto",
    cache_dir: str | os.PathLike | None = "data/cache",
    progress: bool = True,
    reuse_from: str | os.PathLike | None = None,
    training_random_state: int = 0,
) -> CrossValidation:
    """Every method in ``methods`` on the same folds of ``protocol`` (see the module's docstring).

    ``random_state`` deals the folds and draws the augmented views. ``recipes`` replace
    the named recipes of :data:`recipes.RECIPES` (e.g. ``{"default": get_recipe("default", epochs=3)}``).
    Features, frame banks, embeddings, pitch tracks and voice2gender's answers are
    cached per clip, so a second run only retrains. ``reuse_from`` (an earlier
    ``crossval_N`` folder on the same clips and folds) keeps its predictions for
    every method it holds that is not in ``methods``, so a fixed baseline is not
    re-run. ``voice2gender`` is left out, with a warning, where it is not installed;
    the leaky split, under leave-one-corpus-out, where it means nothing.
    """
    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}: use some of {', '.join(METHODS)}")
    if "voice2gender" in methods and not voice2gender_available():
        warnings.warn("voice2gender is not installed (make install installs it): left out", stacklevel=2)
        methods.remove("voice2gender")
    if protocol == "corpora" and "seed (leaky clip split)" in methods:
        methods.remove("seed (leaky clip split)")
    clips = clips.copy()
    recipes = {**RECIPES, **(recipes or {})}
    groups, folds = protocol_folds(clips, protocol, n_folds, random_state)
    splits = folds_as_splits(clips, folds)
    result = CrossValidation(pd.DataFrame(), splits, protocol, groups, methods=methods)
    tables = [] if reuse_from is None else [reused_predictions(reuse_from, clips, splits, exclude=methods)]
    data = {}
    for method in methods:
        if method in RECIPE_METHODS:
            name, kind = RECIPE_METHODS[method]
            recipe = result.recipes[method] = recipes[name]
            if name not in data:
                data[name] = recipe.training_data(clips, cache_dir, random_state, progress)
            chosen = leaky_masks(clips, n_folds, random_state) if kind == "leaky" else folds if recipe.uses_validation else without_validation(folds)
            table, result.models[method] = crossval_recipe(clips, recipe, data[name], chosen, method, device, progress, training_random_state)
        elif method == "pitch baseline":
            f0 = per_clip_cached(clips, file_median_f0, "pyin", "f0", cache_dir, progress=progress, code=(*FEATURE_CODE, "audiogender.lab.baselines"))
            table, result.pitch_thresholds = crossval_pitch(clips, f0, folds)
        else:
            p = per_clip_cached(clips, file_voice2gender, "voice2gender-0.1.1", "voice2gender", cache_dir, progress=progress,
                                code=(*FEATURE_CODE, "audiogender.lab.baselines"))  # fmt: skip
            table = voice2gender_predictions(clips, p, folds)
        tables.append(table)
    result.predictions = pd.concat(tables, ignore_index=True)
    return result


def reused_predictions(folder: str | os.PathLike, clips: pd.DataFrame, splits: list[dict], exclude=()) -> pd.DataFrame:
    """An earlier run's predictions, for methods not in ``exclude``; refused unless its folds and clips are these."""
    folder = Path(folder)
    earlier = json.loads((folder / "splits.json").read_text())["splits"]
    if earlier != splits:
        raise ValueError(f"{folder}: its folds are not this run's (other corpora, protocol, n_folds or random_state); run every method afresh")
    table = _saved_predictions(folder)
    table = table[~table["method"].isin(list(exclude))]
    for method, rows in table.groupby("method"):
        if sorted(rows["path"]) != sorted(_paths(clips)):
            raise ValueError(f"{folder}: {method!r} was run on other clips")
    return table.assign(reused_from=folder.name)


def _saved_predictions(folder: Path) -> pd.DataFrame:
    """A saved run's predictions: ``predictions.csv``, or ``.csv.gz`` as published."""
    return pd.read_csv(next(folder.glob("predictions.csv*")), dtype={"speaker": str})


def publish(folder: str | os.PathLike, to: str | os.PathLike) -> Path:
    """Copy what re-scores a cross-validation (its predictions, gzipped, splits and settings) to a tracked folder.

    The report's chapter 5 is re-scored from such a copy (``reuse_from``), so the
    repository holds what its figures come from, though retraining takes hours.
    """
    folder, to = Path(folder), Path(to)
    to.mkdir(parents=True, exist_ok=True)
    pd.read_csv(folder / "predictions.csv", dtype={"speaker": str}).to_csv(to / "predictions.csv.gz", index=False)
    for name in ("splits.json", "settings.yml", "scorecard.csv"):
        (to / name).write_bytes((folder / name).read_bytes())
    return to


def load_crossval(folder: str | os.PathLike) -> CrossValidation:
    """A saved or published cross-validation, from its predictions, splits and settings: re-scored, not retrained."""
    folder = Path(folder)
    predictions = _saved_predictions(folder)
    splits = json.loads((folder / "splits.json").read_text())
    settings = yaml.safe_load((folder / "settings.yml").read_text())
    return CrossValidation(predictions, splits["splits"], splits.get("protocol", "speakers"), splits.get("groups", []),
                           pitch_thresholds=settings.get("pitch_thresholds_hz", []), methods=list(predictions["method"].unique()))  # fmt: skip


def _slug(method: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", method.lower()).strip("-")


def save_crossval(result: CrossValidation, outputs_dir: str | os.PathLike = "outputs", settings: dict | None = None) -> Path:
    """Write ``outputs_dir/crossval_N/``: predictions.csv, scorecard.csv, splits.json, settings.yml (with every
    recipe) and each recipe method's fold models (``models/{method}/fold_K.pt`` and ``.onnx``); built under a
    temporary name, never half-written."""
    with atomic_directory(outputs_dir, "crossval") as folder:
        for method, models in result.models.items():
            for k, model in enumerate(models):
                model.save(folder / "models" / _slug(method) / f"fold_{k}.pt", fold=k, held_out=result.groups[k] if k < len(result.groups) else None)
        result.predictions.to_csv(folder / "predictions.csv", index=False)
        result.scorecard().to_csv(folder / "scorecard.csv", index=False)
        write_json(folder / "splits.json", {"protocol": result.protocol, "groups": result.groups, "splits": result.splits})
        write_yaml(folder / "settings.yml", {
            **(settings or {}), "protocol": result.protocol, "recipes": {method: recipe.to_dict() for method, recipe in result.recipes.items()},
            "pitch_thresholds_hz": [round(t, 1) for t in result.pitch_thresholds],
        })  # fmt: skip
    return folder.final
