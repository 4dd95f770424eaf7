"""Leave-speakers-out cross-validation over several corpora, every method on the same folds.

One held-out split says little (15 speakers decide it), and one corpus says
nothing about the next. Here every speaker of every corpus is tested once, by a
model that never heard them: folds are stratified group k-fold with the speaker
as the group (stratified by corpus and gender), fold k tests, fold k+1 validates
(early stopping, calibration), the rest train. Methods compared on those folds:

* ``default``: our CNN, trained on random crops of augmented clips, scored on
  whole clips as :meth:`GenderClassifier.predict` scores a file;
* ``seed, speaker-disjoint``: the seed's CNN and recipe (MFCC, 25 epochs, lr 0.001);
* ``seed, leaky clip split``: the same recipe on folds drawn by clip, as the seed
  validated it, so the same speakers are trained and tested on; the gap between
  the two seed rows is what the leak was worth;
* ``pitch baseline``: median F0, threshold fitted on the training folds;
* ``voice2gender``: the PyPI package's own model, untrained by us.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import KFold
from tqdm.auto import tqdm

from .augment import Augmenter
from .baselines import PitchBaseline, file_median_f0, file_voice2gender
from .crops import FrameBank, load_frame_bank
from .data import labels, load_features, per_clip_cached
from .evaluate import scorecard
from .features import FeatureConfig
from .files import atomic_directory, write_json, write_yaml
from .model import save_checkpoint
from .predict import GenderClassifier
from .splits import group_kfold_splits, role_masks
from .train import fit_estimator, fit_temperature, predict_clips

SEED_RECIPE = {"model": "seed", "lr": 0.001, "epochs": 25, "batch_size": 64, "restore_best": False}
DEFAULT_RECIPE = {"model": "default", "lr": 0.001, "epochs": 6, "batch_size": 64, "restore_best": True, "patience": None, "lr_schedule": "cosine"}


def leaky_folds(clips: pd.DataFrame, n_folds: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Row indices of each fold when clips are shuffled into folds regardless of speaker (the seed's mistake)."""
    return [test for _, test in KFold(n_folds, shuffle=True, random_state=seed).split(clips)]


def test_folds(clips: pd.DataFrame, splits: list[dict]) -> np.ndarray:
    """The fold in which each clip is tested (-1 if never)."""
    fold = np.full(len(clips), -1)
    for k, split in enumerate(splits):
        fold[clips["speaker"].isin(split["test"]).to_numpy()] = k
    return fold


def whole_clip_proba(classifier: GenderClassifier, paths) -> np.ndarray:
    """p(female) of each file as :meth:`GenderClassifier.predict` gives it; NaN where it found no voice."""
    return np.array([np.nan if (p := classifier.predict(path).p_female) is None else p for path in paths], dtype=float)


def crossval_default(
    clips: pd.DataFrame, bank: FrameBank, splits: list[dict], device: str = "auto", progress: bool = True, training_seed: int = 0, **recipe
) -> tuple[pd.DataFrame, list[torch.nn.Module]]:
    """Out-of-fold predictions of the default recipe, and the fold models.

    Each fold's model trains on random crops of its training speakers, keeps its best
    epoch and is calibrated on its validation speakers, and scores its test speakers'
    whole clips. A clip in which voice detection finds too little speech is scored on
    its loudest second instead, so every clip is counted (``no_answer`` marks them).
    Another ``training_seed`` draws other initial weights and crops on the same folds,
    which shows how much of a difference between recipes is luck.
    """
    recipe = {**DEFAULT_RECIPE, **recipe}
    y = labels(clips["gender"])
    p, silent, fold_of, models = np.full(len(clips), np.nan), np.zeros(len(clips), bool), test_folds(clips, splits), []
    for k, split in enumerate(tqdm(splits, desc="default, folds", disable=not progress)):
        masks = role_masks(clips, split)
        net = fit_estimator(bank, y, masks, device=device, seed=k + 1000 * training_seed, **recipe)
        validation = masks["validation"]
        fit_temperature(net.module_, bank, validation, y[validation], clips["speaker"].to_numpy()[validation])
        classifier = GenderClassifier(net.module_, FeatureConfig("logmel", n_mels=bank.n_features), device=device)
        rows = masks["test"]
        p[rows] = whole_clip_proba(classifier, clips.loc[rows, "path"])
        silent[rows] = np.isnan(p[rows])
        unheard = rows & silent
        if unheard.any():
            p[unheard] = predict_clips(net.module_, bank, unheard)
        models.append(net.module_.cpu())
    return _predictions(clips, "default", p, fold_of, silent=silent), models


def crossval_seed(
    clips: pd.DataFrame, features: np.ndarray, splits: list[dict] | None = None, n_folds: int = 5, device: str = "auto", progress: bool = True
) -> pd.DataFrame:
    """Out-of-fold predictions of the seed's recipe: on the speaker splits, or on leaky clip folds when ``splits`` is None.

    The seed had no early stopping, so it trains on every clip outside the test fold.
    """
    y = labels(clips["gender"])
    if splits is None:
        method, folds = "seed, leaky clip split", leaky_folds(clips, n_folds)
    else:
        method, folds = "seed, speaker-disjoint", [np.flatnonzero(clips["speaker"].isin(s["test"])) for s in splits]
    p, fold_of = np.full(len(clips), np.nan), np.full(len(clips), -1)
    for k, rows in enumerate(tqdm(folds, desc=f"{method}, folds", disable=not progress)):
        test = np.zeros(len(clips), bool)
        test[rows] = True
        masks = {"train": ~test, "validation": np.zeros(len(clips), bool), "test": test}
        net = fit_estimator(features, y, masks, device=device, seed=k, **SEED_RECIPE)
        p[test], fold_of[test] = predict_clips(net.module_, features, test), k
    return _predictions(clips, method, p, fold_of)


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
    return _predictions(clips, "pitch baseline", p, test_folds(clips, splits)), thresholds


def voice2gender_predictions(clips: pd.DataFrame, p_female: np.ndarray, splits: list[dict]) -> pd.DataFrame:
    """``voice2gender``'s answers on the same test folds; audio it refuses counts as 0.5 (no answer)."""
    refused = np.isnan(p_female)
    return _predictions(clips, "voice2gender", np.where(refused, 0.5, p_female), test_folds(clips, splits), silent=refused)


def _predictions(clips: pd.DataFrame, method: str, p_female: np.ndarray, fold: np.ndarray, silent: np.ndarray | None = None) -> pd.DataFrame:
    columns = [c for c in ("path", "speaker", "gender", "corpus", "source", "language") if c in clips]
    table = clips[columns].assign(method=method, fold=fold, p_female=p_female, no_answer=False if silent is None else silent)
    return table[table["fold"] >= 0].reset_index(drop=True)


METHODS = ("seed, leaky clip split", "seed, speaker-disjoint", "pitch baseline", "voice2gender", "default")


@dataclass
class CrossValidation:
    """What :func:`run_crossval` found: one row per clip and method, and the fold models of ``default``."""

    predictions: pd.DataFrame
    splits: list[dict]
    models: list = field(default_factory=list)
    pitch_thresholds: list[float] = field(default_factory=list)

    def scorecard(self) -> pd.DataFrame:
        return scorecard(self.predictions)


def run_crossval(
    clips: pd.DataFrame,
    methods=METHODS,
    n_folds: int = 5,
    seed: int = 0,
    n_views: int = 3,
    device: str = "auto",
    cache_dir: str | os.PathLike | None = "data/cache",
    progress: bool = True,
    reuse_from: str | os.PathLike | None = None,
    training_seed: int = 0,
    augmenter: Augmenter = Augmenter(),
    **recipe,
) -> CrossValidation:
    """Every method in ``methods`` on the same speaker-disjoint folds (see the module's docstring).

    Features, frame banks, pitch tracks and voice2gender's answers are cached per
    clip, so a second run only retrains. ``recipe`` overrides :data:`DEFAULT_RECIPE`.
    ``reuse_from`` (an earlier ``crossval_N`` folder on the same clips and folds)
    keeps its predictions for every method it holds that is not in ``methods``,
    so a fixed baseline can be re-run without retraining the networks.
    ``augmenter`` makes the default model's augmented views.
    """
    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}: use some of {', '.join(METHODS)}")
    splits = group_kfold_splits(clips, n_folds, seed)
    result = CrossValidation(pd.DataFrame(), splits)
    tables = [] if reuse_from is None else [reused_predictions(reuse_from, clips, splits, exclude=methods)]
    if {"seed, leaky clip split", "seed, speaker-disjoint"} & set(methods):
        mfcc = load_features(clips, FeatureConfig("mfcc"), cache_dir=cache_dir, progress=progress)
        if "seed, leaky clip split" in methods:
            tables.append(crossval_seed(clips, mfcc, None, n_folds, device, progress))
        if "seed, speaker-disjoint" in methods:
            tables.append(crossval_seed(clips, mfcc, splits, n_folds, device, progress))
    if "pitch baseline" in methods:
        f0 = per_clip_cached(clips, file_median_f0, "pyin-v1", "f0", cache_dir, progress=progress)
        table, result.pitch_thresholds = crossval_pitch(clips, f0, splits)
        tables.append(table)
    if "voice2gender" in methods:
        p = per_clip_cached(clips, file_voice2gender, "voice2gender-0.1.1", "voice2gender", cache_dir, progress=progress)
        tables.append(voice2gender_predictions(clips, p, splits))
    if "default" in methods:
        bank = load_frame_bank(clips, n_views=n_views, augmenter=augmenter, seed=seed, cache_dir=cache_dir, progress=progress)
        table, result.models = crossval_default(clips, bank, splits, device, progress, training_seed, **recipe)
        tables.append(table)
    result.predictions = pd.concat(tables, ignore_index=True)
    return result


def reused_predictions(folder: str | os.PathLike, clips: pd.DataFrame, splits: list[dict], exclude=()) -> pd.DataFrame:
    """An earlier run's predictions, for methods not in ``exclude``; refused unless its folds and clips are these."""
    folder = Path(folder)
    earlier = json.loads((folder / "splits.json").read_text())["splits"]
    if earlier != splits:
        raise ValueError(f"{folder}: its folds are not this run's (other corpora, n_folds or seed); run every method afresh")
    table = pd.read_csv(folder / "predictions.csv", dtype={"speaker": str})
    table = table[~table["method"].isin(list(exclude))]
    for method, rows in table.groupby("method"):
        if sorted(rows["path"]) != sorted(clips["path"]):
            raise ValueError(f"{folder}: {method!r} was run on other clips")
    return table.assign(reused_from=str(folder))


def save_crossval(result: CrossValidation, outputs_dir: str | os.PathLike = "outputs", settings: dict | None = None) -> Path:
    """Write ``outputs_dir/crossval_N/``: predictions.csv, scorecard.csv, splits.json, settings.yml
    and each fold's default model (``fold_K.pt``); built under a temporary name, never half-written."""
    with atomic_directory(outputs_dir, "crossval") as folder:
        for k, network in enumerate(result.models):
            save_checkpoint(folder / f"fold_{k}.pt", network, "default", FeatureConfig("logmel", n_mels=network.standardize.mean.numel()), fold=k)
        result.predictions.to_csv(folder / "predictions.csv", index=False)
        result.scorecard().to_csv(folder / "scorecard.csv", index=False)
        write_json(folder / "splits.json", {"protocol": "stratified-group-kfold", "splits": result.splits})
        write_yaml(folder / "settings.yml", {**(settings or {}), "pitch_thresholds_hz": [round(t, 1) for t in result.pitch_thresholds]})
    return folder.final
