"""Scoring on held-out speakers: balanced accuracy, recall per class, per-speaker results.

Balanced accuracy (the mean of male and female recall) is the headline figure,
because AudioMNIST holds 48 male and 12 female speakers: a model that always says
"male" scores 80% accuracy but only 50% balanced accuracy. ROC AUC says how well
p(female) ranks voices whatever the threshold; the expected calibration error
(ECE) says whether p(female) = 0.8 is right four times in five.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, recall_score, roc_auc_score

from ..labels import labels, log_odds, sigmoid

CALIBRATION_BINS = 10


def clip_metrics(y_true, p_female, threshold: float = 0.5) -> dict:
    """Clip-level figures for labels (0 male, 1 female) and predicted p(female)."""
    y_true = np.asarray(y_true)
    y_pred = (np.asarray(p_female) >= threshold).astype(int)
    recalls = recall_score(y_true, y_pred, labels=[0, 1], average=None, zero_division=np.nan)
    return {
        "clips": int(y_true.size),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)) if len(set(y_true)) > 1 else float(np.nanmean(recalls)),
        "accuracy": float(np.mean(y_true == y_pred)),
        "recall_male": float(recalls[0]),
        "recall_female": float(recalls[1]),
        "roc_auc": float(roc_auc_score(y_true, p_female)) if len(set(y_true)) > 1 else float("nan"),
        "ece": expected_calibration_error(y_true, p_female),
        "confusion": confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist(),
    }


def calibration_table(y_true, p_female, n_bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Clips binned by p(female) in equal-width bins: mean predicted p, observed share female, count."""
    y_true, p_female = np.asarray(y_true, dtype=float), np.asarray(p_female, dtype=float)
    bins = np.minimum((p_female * n_bins).astype(int), n_bins - 1)
    table = pd.DataFrame({"bin": bins, "predicted": p_female, "observed": y_true})
    table = table.groupby("bin").agg(predicted=("predicted", "mean"), observed=("observed", "mean"), clips=("observed", "size"))
    return table.reset_index()


def expected_calibration_error(y_true, p_female, n_bins: int = CALIBRATION_BINS) -> float:
    """The clip-weighted mean gap between predicted p(female) and the observed share female, over bins."""
    table = calibration_table(y_true, p_female, n_bins)
    if table.empty:
        return float("nan")
    return float(np.sum(table["clips"] * np.abs(table["predicted"] - table["observed"])) / table["clips"].sum())


def per_speaker(predictions: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Accuracy of each speaker's clips, and the speaker-level vote.

    The vote is sigmoid(mean log-odds of the speaker's clips), the way a recording
    pools its windows (:meth:`GenderClassifier.predict`), so speakers and recordings are
    judged alike; a mean of probabilities is pulled towards 0.5 by every hesitant clip.
    ``predictions`` has columns ``speaker``, ``gender`` and ``p_female``, one row per clip.
    """
    table = predictions.assign(
        correct=(predictions["p_female"] >= threshold) == (predictions["gender"] == "female"), log_odds=log_odds(predictions["p_female"])
    )
    speakers = table.groupby("speaker").agg(
        gender=("gender", "first"), clips=("p_female", "size"), accuracy=("correct", "mean"), log_odds=("log_odds", "mean")
    )
    speakers["p_female"] = sigmoid(speakers.pop("log_odds"))
    speakers["voted"] = np.where(speakers["p_female"] >= threshold, "female", "male")
    speakers["voted_correct"] = speakers["voted"] == speakers["gender"]
    return speakers.sort_values(["gender", "accuracy"]).reset_index()


def scorecard(predictions: pd.DataFrame, by: str = "source", threshold: float = 0.5) -> pd.DataFrame:
    """Every figure for every method, per corpus and overall, at clip and at speaker level.

    ``predictions`` has one row per clip and method: ``method``, ``speaker``,
    ``gender``, ``p_female`` and the ``by`` column. At speaker level each speaker's
    clips are voted together (mean log-odds, see :func:`per_speaker`); ``speakers_wrong`` lists those the vote gets wrong.
    """
    rows = []
    for method, clips in predictions.groupby("method", sort=False):
        for corpus, group in [("all", clips), *clips.groupby(by)]:
            speakers = per_speaker(group, threshold)
            levels = {
                "clip": clip_metrics(labels(group["gender"]), group["p_female"], threshold),
                "speaker": clip_metrics(labels(speakers["gender"]), speakers["p_female"], threshold),
            }
            voices = speakers["gender"].value_counts()
            for level, figures in levels.items():
                rows.append(
                    {
                        "method": method, "corpus": corpus, "level": level, "n": figures["clips"],
                        "female_speakers": int(voices.get("female", 0)), "male_speakers": int(voices.get("male", 0)),
                        **{k: figures[k] for k in ("balanced_accuracy", "recall_male", "recall_female", "roc_auc", "ece")},
                        "speakers_wrong": ", ".join(speakers.loc[~speakers["voted_correct"], "speaker"]) if level == "speaker" else "",
                    }
                )  # fmt: skip
    return pd.DataFrame(rows)


EXCITED = ("anger", "angry", "happiness", "happy", "fear", "surprised", "surprise", "level2")  # emotions that lift men's pitch; BAVED's level 2 is its strongest


def emotion_recalls(predictions: pd.DataFrame, by: str = "group") -> pd.DataFrame:
    """Male and female recall of every method per folder and emotion, for the clips that have one."""
    if "emotion" not in predictions:
        return pd.DataFrame(columns=["method", by, "emotion", "excited", "recall_male", "recall_female", "male_clips", "female_clips"])
    acted = predictions.dropna(subset=["emotion"]).assign(right=lambda t: (t["p_female"] >= 0.5) == (t["gender"] == "female"))
    table = (
        acted.groupby(["method", by, "emotion", "gender"])["right"].agg(["mean", "size"]).unstack("gender")
        .reindex(columns=pd.MultiIndex.from_product([["mean", "size"], ["male", "female"]]))
    )  # fmt: skip
    table.columns = ["recall_male", "recall_female", "male_clips", "female_clips"]
    table = table.reset_index()
    table.insert(3, "excited", table["emotion"].isin(EXCITED))
    return table


def headline(card: pd.DataFrame) -> pd.DataFrame:
    """Balanced accuracy of every method on every corpus, at clip and speaker level: the scorecard's first table."""
    return card.pivot_table(index=["level", "method"], columns="corpus", values="balanced_accuracy", sort=False)


def wrong_speakers(predictions: pd.DataFrame, method: str) -> pd.DataFrame:
    """The speakers ``method``'s vote gets wrong, with the share of their clips judged right and their voted p(female)."""
    speakers = per_speaker(predictions[predictions["method"] == method])
    return speakers[~speakers["voted_correct"]].reset_index(drop=True)


def speaker_bootstrap(predictions: pd.DataFrame, by: str = "source", n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Clip balanced accuracy per method and ``by`` group with a ``level`` interval from resampling *speakers*
    (with replacement, each gender apart, all of a drawn speaker's clips together): a folder of 9 speakers
    gets the wide interval it deserves, however many clips each spoke."""
    rng = np.random.default_rng(seed)
    rows = []
    for (method, group), clips in predictions[predictions["p_female"].notna()].groupby(["method", by], sort=False):
        right = (clips["p_female"] >= 0.5) == (clips["gender"] == "female")
        per = clips.assign(right=right).groupby("speaker").agg(gender=("gender", "first"), right=("right", "sum"), n=("right", "size"))
        recalls, point = [], {}
        for gender in ("female", "male"):
            voices = per[per["gender"] == gender]
            if voices.empty:
                break
            point[gender] = voices["right"].sum() / voices["n"].sum()
            draws = rng.integers(0, len(voices), (n_boot, len(voices)))
            recalls.append(voices["right"].to_numpy()[draws].sum(1) / voices["n"].to_numpy()[draws].sum(1))
        if len(recalls) < 2:
            continue
        boot = (recalls[0] + recalls[1]) / 2
        low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
        rows.append({"method": method, by: group, "speakers": len(per), "balanced_accuracy": (point["female"] + point["male"]) / 2,
                     "low": low, "high": high})  # fmt: skip
    return pd.DataFrame(rows)
