"""Scoring on held-out speakers: balanced accuracy, recall per class, per-speaker results.

Balanced accuracy (the mean of male and female recall) is the headline figure,
because AudioMNIST holds 48 male and 12 female speakers: a model that always says
"male" scores 80% accuracy but only 50% balanced accuracy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, recall_score

from .data import GENDERS, labels


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
        "confusion": confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist(),
    }


def per_speaker(predictions: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Accuracy of each speaker's clips, and the speaker-level vote (mean p(female)).

    ``predictions`` has columns ``speaker``, ``gender`` and ``p_female``, one row per clip.
    """
    table = predictions.assign(correct=(predictions["p_female"] >= threshold) == (predictions["gender"] == "female"))
    speakers = table.groupby("speaker").agg(
        gender=("gender", "first"), clips=("p_female", "size"), accuracy=("correct", "mean"), p_female=("p_female", "mean")
    )
    speakers["voted"] = np.where(speakers["p_female"] >= threshold, "female", "male")
    speakers["voted_correct"] = speakers["voted"] == speakers["gender"]
    return speakers.sort_values(["gender", "accuracy"]).reset_index()


def summary(predictions: pd.DataFrame, threshold: float = 0.5) -> dict:
    """Clip-level figures and speaker-level (voted) balanced accuracy for one set of predictions."""
    figures = clip_metrics(labels(predictions["gender"]), predictions["p_female"], threshold)
    speakers = per_speaker(predictions, threshold)
    figures["speakers"] = len(speakers)
    figures["speaker_balanced_accuracy"] = clip_metrics(labels(speakers["gender"]), speakers["p_female"], threshold)["balanced_accuracy"]
    return figures


def confusion_table(predictions: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """The clip-level confusion matrix with named rows (true) and columns (predicted)."""
    matrix = clip_metrics(labels(predictions["gender"]), predictions["p_female"], threshold)["confusion"]
    return pd.DataFrame(matrix, index=[f"true {g}" for g in GENDERS], columns=[f"predicted {g}" for g in GENDERS])
