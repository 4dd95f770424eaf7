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
CALM = ("neutral", "level0")  # the acted corpora's calmest


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


# What kind of recording each held-out folder is (its channel and speaking style), for the error analysis
SETTINGS = {
    "audiomnist-az": "spoken digits", "audiomnist-sample+samples": "spoken digits", "ukrainian-digits": "spoken digits",
    "librispeech-251": "read audiobooks", "nemo": "acted emotion", "baved": "acted emotion", "urdu": "talk-show emotion",
    "telephone-8k": "telephone line", "voxceleb-sample": "interviews from web video",
}  # fmt: skip
PITCH_BANDS = (("male", 0, 160), ("male", 160, 185), ("male", 185, 1000), ("female", 0, 185), ("female", 185, 1000))  # Hz


def pitch_band(gender: str, f0: float) -> str:
    """Where a speaker's median F0 sits among :data:`PITCH_BANDS`: men near 160-185 Hz are the commonest error."""
    if not np.isfinite(f0):
        return f"{gender}, F0 unknown"
    low, high = next((lo, hi) for g, lo, hi in PITCH_BANDS if g == gender and lo <= f0 < hi)
    return f"{gender}, F0 {low}-{high} Hz" if high < 1000 else f"{gender}, F0 {low}+ Hz"


def voices(predictions: pd.DataFrame, pitch: pd.DataFrame, method: str, by: str = "group") -> pd.DataFrame:
    """A row per speaker of ``method``'s answered clips: folder, setting, language, median F0 (from ``pitch``,
    as :func:`lab.listening.speaker_pitch` measures it), the share of excited clips, and the vote."""
    clips = predictions[(predictions["method"] == method) & predictions["p_female"].notna()]
    excited = clips["emotion"].isin(EXCITED) if "emotion" in clips else pd.Series(False, index=clips.index)
    about = clips.assign(excited=excited).groupby("speaker").agg(
        folder=(by, "first"), language=("language", "first"), excited=("excited", "mean"))
    table = per_speaker(clips).merge(about.reset_index(), on="speaker")
    f0 = pitch.drop_duplicates("speaker").set_index("speaker")["f0"] if len(pitch) else pd.Series(dtype=float)
    table["f0"] = table["speaker"].map(f0).astype(float)
    table["setting"] = table["folder"].map(SETTINGS).fillna("other")
    table["language"] = table["language"].fillna("unknown")
    table["pitch"] = [pitch_band(g, f) for g, f in zip(table["gender"], table["f0"])]
    return table


def error_factors(predictions: pd.DataFrame, pitch: pd.DataFrame, methods, by: str = "group") -> pd.DataFrame:
    """What failing voices have in common: for each level of pitch band, emotion, setting and language, the share
    of clips each method gets wrong, and its speakers voted wrong out of those with clips there."""
    rows = []
    for method in methods:
        speakers = voices(predictions, pitch, method, by).set_index("speaker")
        clips = predictions[(predictions["method"] == method) & predictions["p_female"].notna()].copy()
        clips["wrong"] = (clips["p_female"] >= 0.5) != (clips["gender"] == "female")
        emotion = clips["emotion"] if "emotion" in clips else pd.Series(np.nan, index=clips.index)
        clips["emotion"] = np.where(emotion.isna(), "not labelled", np.where(emotion.isin(EXCITED), "excited", "calm or other"))
        for factor in ("pitch", "setting", "language"):
            clips[factor] = clips["speaker"].map(speakers[factor])
        for factor in ("pitch", "emotion", "setting", "language"):
            for level, these in clips.groupby(factor):
                who = speakers.loc[these["speaker"].unique()]
                rows.append({"factor": factor, "level": level, "method": method, "clips": len(these), "clip_error": these["wrong"].mean(),
                             "speakers": len(who), "voted_wrong": int((~who["voted_correct"]).sum())})  # fmt: skip
    return pd.DataFrame(rows)


def overall(card: pd.DataFrame, method: str, level: str = "clip") -> float:
    """A method's balanced accuracy over every clip (or speaker) of a scorecard; NaN where it did not run."""
    rows = card[(card["method"] == method) & (card["corpus"] == "all") & (card["level"] == level)]
    return float(rows["balanced_accuracy"].iloc[0]) if len(rows) else float("nan")
