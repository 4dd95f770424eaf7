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

The methods compared on those folds are ``methods.METHODS``: every recipe, the
seed's recipe on leaky folds, a pitch baseline and ``voice2gender``.
:func:`evaluate_protocol` is what ``05_evaluate`` runs: one protocol run (or re-scored
from an earlier run), saved, and, where the corpora given cannot be left out one by
one, the published run on all ten folders instead.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import project
from .base import Recipe
from .evaluate import scorecard
from .methods import METHODS, Job, project_paths
from .outputs import atomic_directory, write_json, write_yaml
from .recipes import RECIPES
from .splits import corpus_groups, corpus_masks, fold_masks, folds_as_splits, group_kfold_splits

PROTOCOLS = ("speakers", "corpora")
NOTES = tuple(note for method in METHODS.values() for note in method.notes)  # what methods note in a run's settings, read back with it


@dataclass
class CrossValidation:
    """What :func:`run_crossval` found: one row per clip and method, and each recipe method's fold models."""

    predictions: pd.DataFrame
    splits: list[dict]
    protocol: str = "speakers"
    groups: list[str] = field(default_factory=list)  # what each fold holds out (leave-one-corpus-out: a folder)
    models: dict[str, list] = field(default_factory=dict)
    recipes: dict[str, Recipe] = field(default_factory=dict)
    notes: dict = field(default_factory=dict)  # what methods noted (the pitch baseline's thresholds)
    methods: list[str] = field(default_factory=list)  # the methods run here; the others' predictions were reused

    @property
    def reused(self) -> list[str]:
        """Methods whose predictions came from an earlier run."""
        return [m for m in self.predictions["method"].unique() if m not in self.methods]

    def scorecard(self) -> pd.DataFrame:
        return scorecard(self.predictions, by="group")


def protocol_folds(clips: pd.DataFrame, protocol: str = "speakers", n_folds: int = 5, random_state: int = 0) -> tuple[list[str], list[dict], np.ndarray]:
    """(what each fold holds out, role masks, the group each clip is tested with) of a protocol (see the module's docstring)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}: use one of {', '.join(PROTOCOLS)}")
    if protocol == "corpora":
        names, folds = corpus_masks(clips, random_state)
        return names, folds, corpus_groups(clips)
    return [f"fold {k}" for k in range(n_folds)], fold_masks(clips, group_kfold_splits(clips, n_folds, random_state)), clips["source"].to_numpy()


def chosen_methods(methods, protocol: str) -> list[str]:
    """The methods asked for that mean something under ``protocol`` and can run here (each left out said why, as a warning)."""
    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}: use some of {', '.join(METHODS)}")
    kept = []
    for name in methods:
        missing = METHODS[name].missing()
        if missing:
            warnings.warn(f"{missing}: {name} left out", stacklevel=3)
        elif METHODS[name].applies_to(protocol):
            kept.append(name)
    return kept


def run_crossval(
    clips: pd.DataFrame,
    methods=tuple(METHODS),
    protocol: str = "speakers",
    n_folds: int = 5,
    random_state: int = 0,
    recipes: dict[str, Recipe] | None = None,
    device: str = "auto",
    cache_dir: str | os.PathLike | None = "data/cache",
    progress: bool = True,
    reuse_from: str | os.PathLike | None = None,
    training_random_state: int = 0,
) -> CrossValidation:
    """Every method in ``methods`` (names of ``methods.METHODS``) on the same folds of ``protocol``.

    ``random_state`` deals the folds and draws the augmented views. ``recipes`` replace
    the named recipes of :data:`recipes.RECIPES` (e.g. ``{"default": get_recipe("default", epochs=3)}``).
    Features, frame banks, embeddings, pitch tracks and voice2gender's answers are
    cached per clip, so a second run only retrains. ``reuse_from`` (an earlier
    ``crossval_N`` folder on the same clips and folds) keeps its predictions for
    every method it holds that is not in ``methods``, so a fixed baseline is not
    re-run. A method that cannot run here (``voice2gender`` not installed) is left
    out with a warning; one that means nothing under the protocol (the leaky split,
    leaving one corpus out) is left out.
    """
    methods = chosen_methods(methods, protocol)
    groups, folds, group_of = protocol_folds(clips, protocol, n_folds, random_state)
    clips = clips.assign(group=group_of)
    splits = folds_as_splits(clips, folds)
    job = Job(clips, folds, {**RECIPES, **(recipes or {})}, n_folds, random_state, training_random_state, device, cache_dir, progress)
    result = CrossValidation(pd.DataFrame(), splits, protocol, groups, methods=methods)
    tables = [] if reuse_from is None else [reused_predictions(reuse_from, clips, splits, exclude=methods)]
    for name in methods:
        outcome = METHODS[name].run(job)
        tables.append(outcome.predictions)
        result.notes.update(outcome.notes)
        if outcome.recipe is not None:
            result.recipes[name], result.models[name] = outcome.recipe, outcome.models
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
        if sorted(rows["path"]) != sorted(project_paths(clips)):
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
                           notes={k: settings[k] for k in NOTES if k in settings}, methods=list(predictions["method"].unique()))  # fmt: skip


def save_crossval(result: CrossValidation, outputs_dir: str | os.PathLike = "outputs", settings: dict | None = None) -> Path:
    """Write ``outputs_dir/crossval_N/``: predictions.csv, scorecard.csv, splits.json, settings.yml (with every
    recipe) and each recipe method's fold models (``models/{method}/fold_K.pt`` and ``.onnx``); built under a
    temporary name, never half-written."""
    with atomic_directory(outputs_dir, "crossval") as folder:
        for method, models in result.models.items():
            for k, model in enumerate(models):
                model.save(folder / "models" / method / f"fold_{k}.pt", fold=k, held_out=result.groups[k] if k < len(result.groups) else None)
        result.predictions.to_csv(folder / "predictions.csv", index=False)
        result.scorecard().to_csv(folder / "scorecard.csv", index=False)
        write_json(folder / "splits.json", {"protocol": result.protocol, "groups": result.groups, "splits": result.splits})
        write_yaml(folder / "settings.yml", {
            **(settings or {}), "protocol": result.protocol, "recipes": {method: recipe.to_dict() for method, recipe in result.recipes.items()},
            **result.notes,
        })  # fmt: skip
    return folder.final


def evaluate_protocol(
    clips: pd.DataFrame,
    protocol: str,
    methods,
    recipes: dict[str, Recipe],
    outputs_dir: str | os.PathLike = "outputs",
    reuse_from: str | os.PathLike | None = None,
    record: dict | None = None,
    **options,
) -> tuple[CrossValidation, str]:
    """Run (or re-score, with ``reuse_from``) one protocol and save it: (the result, a line on what ran and where it went).

    ``record`` (where the data came from, ``project.data_record``) and ``options``
    (those of :func:`run_crossval`) go into its ``settings.yml`` with the methods run here.
    """
    result = run_crossval(clips, methods, protocol=protocol, recipes=recipes, reuse_from=reuse_from, **options)
    kept = {k: v for k, v in options.items() if k in ("n_folds", "random_state", "training_random_state")}
    settings = {**(record or {}), "methods": result.methods, **kept, "reused_from": project.relative(reuse_from) if reuse_from else None}
    folder = save_crossval(result, outputs_dir, settings)
    said = (f"{project.relative(folder)}: predictions.csv, scorecard.csv, splits.json, settings.yml, models/; "
            f"run here: {', '.join(result.methods) or 'none (every figure re-scored from earlier predictions)'}"
            + (f"; predictions reused from {project.relative(reuse_from)}: {', '.join(result.reused)}" if result.reused else ""))  # fmt: skip
    return result, said


def corpora_or_published(clips: pd.DataFrame, published: str | os.PathLike | None, **run) -> tuple[CrossValidation | None, str]:
    """Leave one corpus out if the clips hold two corpora or more (``run``: :func:`evaluate_protocol`'s arguments);
    else the published run, re-scored from its predictions, if there is one. (The result or None, and what was done.)"""
    groups = sorted(set(corpus_groups(clips)))
    if len(groups) > 1:
        return evaluate_protocol(clips, "corpora", **run)
    if published and Path(published).exists():
        result = load_crossval(published)
        return result, (f"Leaving one corpus out needs two corpora or more (small folders are pooled), and here there is {', '.join(groups)}: "
                        f"shown instead, re-scored from its predictions, the published run on {len(result.groups)} held-out folders "
                        f"({project.relative(published)}).")  # fmt: skip
    return None, f"left out: leaving one corpus out needs two corpora or more, and here there is only {', '.join(groups)}"
