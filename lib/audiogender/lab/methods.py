"""The methods cross-validation compares, each named once: every recipe, the seed's recipe on leaky folds, and the baselines.

A :class:`Method` turns the folds of a protocol (a :class:`Job`) into out-of-fold
predictions, one row per clip tested, by a model that never heard its speaker:

* every recipe of ``recipes.RECIPES`` under its own name (:class:`RecipeMethod`):
  each fold's model trains as its recipe says and judges its test clips whole, as
  ``audiogender predict`` judges a file;
* ``seed-leaky`` (leaving speakers out only): the seed's recipe on folds drawn by
  clip, as the seed validated it, so the same speakers are trained and tested on;
  the gap between it and ``seed`` is what the leak was worth;
* ``pitch``: median F0, threshold fitted on the training folds (:class:`PitchMethod`);
* ``voice2gender``: the PyPI package's own model, untrained by us.

Names are identifiers (what tables and parameters hold); ``title`` is what a reader is shown.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..labels import labels
from . import progress_bar, project
from .base import Recipe, TrainedModel
from .baselines import PitchBaseline, file_median_f0, file_voice2gender, voice2gender_available
from .cache import FEATURE_CODE, per_clip_cached
from .recipes import RECIPES
from .splits import fold_tested_in, leaky_masks, without_validation

BASELINE_CODE = (*FEATURE_CODE, "audiogender.lab.baselines")


@dataclass
class Job:
    """What every method of one cross-validation runs on: the clips (with their ``group``), the folds, and how to train.

    ``data`` holds each recipe's training data once built, so methods that share a recipe share it.
    """

    clips: pd.DataFrame
    folds: list[dict[str, np.ndarray]]
    recipes: dict[str, Recipe]
    n_folds: int = 5
    random_state: int = 0
    training_random_state: int = 0
    device: str = "auto"
    cache_dir: str | os.PathLike | None = "data/cache"
    progress: bool = True
    data: dict = field(default_factory=dict)

    def training_data(self, name: str):
        if name not in self.data:
            self.data[name] = self.recipes[name].training_data(self.clips, self.cache_dir, self.random_state, self.progress)
        return self.data[name]


@dataclass
class Outcome:
    """What a method gave: its predictions, and for a recipe the recipe and its fold models; ``notes`` for the settings file."""

    predictions: pd.DataFrame
    recipe: Recipe | None = None
    models: list[TrainedModel] = field(default_factory=list)
    notes: dict = field(default_factory=dict)


class Method(ABC):
    """A way of answering every clip of a cross-validation's folds."""

    name: str
    title: str
    notes: tuple[str, ...] = ()  # what it notes in a run's settings (``Outcome.notes``)

    def applies_to(self, protocol: str) -> bool:
        """Whether the method means anything under ``protocol``."""
        return True

    def missing(self) -> str | None:
        """Why the method cannot run here (a package not installed), or None."""
        return None

    @abstractmethod
    def run(self, job: Job) -> Outcome:
        """Out-of-fold predictions for every clip the job's folds test."""


def fold_random_state(fold: int, training_random_state: int = 0) -> int:
    """The random state fold ``fold`` trains with: its own per fold, and another set for each ``training_random_state``."""
    return fold + 1000 * training_random_state


class RecipeMethod(Method):
    """A recipe, trained on each fold's training speakers (or, ``leaky``, on clip folds that mix speakers)."""

    def __init__(self, name: str, recipe: str, leaky: bool = False, title: str | None = None):
        self.name, self.recipe, self.leaky, self.title = name, recipe, leaky, title or name

    def applies_to(self, protocol: str) -> bool:
        return not (self.leaky and protocol == "corpora")  # a corpus left out cannot leak by clip

    def run(self, job: Job) -> Outcome:
        """Each fold's model trains as its recipe says and judges its test clips whole; where voice detection finds too
        little speech, on the clip's fixed windows instead, so every clip is counted (``no_answer`` marks them). Another
        ``training_random_state`` draws other initial weights and crops on the same folds: what a difference between
        recipes must beat is that luck."""
        recipe, data, clips = job.recipes[self.recipe], job.training_data(self.recipe), job.clips
        folds = leaky_masks(clips, job.n_folds, job.random_state) if self.leaky else job.folds if recipe.uses_validation else without_validation(job.folds)
        p, silent, fold_of, models = np.full(len(clips), np.nan), np.zeros(len(clips), bool), np.full(len(clips), -1), []
        for k, masks in enumerate(progress_bar(folds, job.progress, desc=f"{self.name}, folds")):
            model = recipe.fit(data, clips, masks, job.device, random_state=fold_random_state(k, job.training_random_state))
            rows = masks["test"]
            p[rows], silent[rows] = model.score_clips(clips, data, rows, job.device)
            fold_of[rows] = k
            models.append(model)
        return Outcome(prediction_rows(clips, self.name, p, fold_of, silent), recipe, models)


class PitchMethod(Method):
    """The median-F0 baseline, fitted on each fold's training and validation clips."""

    name, title, notes = "pitch", "pitch baseline", ("pitch_thresholds_hz",)

    def run(self, job: Job) -> Outcome:
        f0 = per_clip_cached(job.clips, file_median_f0, "pyin", "f0", job.cache_dir, progress=job.progress, code=BASELINE_CODE)
        y = labels(job.clips["gender"])
        p, thresholds = np.full(len(job.clips), np.nan), []
        for masks in without_validation(job.folds):
            baseline = PitchBaseline().fit(f0[masks["train"]], y[masks["train"]])
            p[masks["test"]] = baseline.predict_proba(f0[masks["test"]])[:, 1]
            thresholds.append(round(baseline.threshold_hz, 1))
        return Outcome(prediction_rows(job.clips, self.name, p, fold_tested_in(job.folds)), notes={self.notes[0]: thresholds})


class Voice2GenderMethod(Method):
    """``voice2gender``'s answers on the same test folds; audio it refuses counts as 0.5 (no answer)."""

    name = title = "voice2gender"

    def missing(self) -> str | None:
        return None if voice2gender_available() else "voice2gender is not installed (make install installs it)"

    def run(self, job: Job) -> Outcome:
        p = per_clip_cached(job.clips, file_voice2gender, "voice2gender-0.1.1", "voice2gender", job.cache_dir, progress=job.progress, code=BASELINE_CODE)
        refused = np.isnan(p)
        return Outcome(prediction_rows(job.clips, self.name, np.where(refused, 0.5, p), fold_tested_in(job.folds), refused))


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        RecipeMethod("seed-leaky", "seed", leaky=True, title="seed (leaky clip split)"),
        *(RecipeMethod(name, name) for name in RECIPES),
        PitchMethod(),
        Voice2GenderMethod(),
    )
}


def title(name: str) -> str:
    """What a reader is shown for a method's name."""
    return METHODS[name].title if name in METHODS else name


def prediction_rows(clips: pd.DataFrame, method: str, p_female: np.ndarray, fold: np.ndarray, silent: np.ndarray | None = None) -> pd.DataFrame:
    """One row per clip tested, its path as the project names it (never this machine's)."""
    columns = [c for c in ("speaker", "gender", "corpus", "source", "group", "language", "emotion") if c in clips]
    table = clips[columns].assign(path=project_paths(clips), method=method, fold=fold, p_female=p_female, no_answer=False if silent is None else silent)
    return table[table["fold"] >= 0].reset_index(drop=True)


def project_paths(clips: pd.DataFrame) -> list[str]:
    """The clips' paths as the project records them."""
    return [project.relative(p) for p in clips["path"]]
