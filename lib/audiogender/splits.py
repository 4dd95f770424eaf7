"""Speaker-disjoint splits: no speaker is ever on both sides of a split.

AudioMNIST has 500 clips per speaker, so a split by clip lets a model recognise
speakers instead of gender. On AudioMNIST we use Becker et al.'s four gender splits
(12 female and 12 male speakers in four groups of six); on any other corpus,
stratified group k-fold with the speaker as the group, laid out the same way:
split k tests on fold k, validates on fold k+1 and trains on the rest.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from .files import write_json

# Becker et al. (2018), arXiv 1807.03418: female | male speakers of each group
BECKER_GROUPS = {
    "A": ["43", "28", "52", "48", "53", "41"],
    "B": ["58", "59", "60", "07", "23", "38"],
    "C": ["36", "47", "56", "02", "44", "50"],
    "D": ["26", "12", "57", "25", "37", "45"],
}
BECKER_SPLITS = [  # (train, validation, test)
    ("CD", "A", "B"),
    ("DA", "B", "C"),
    ("AB", "C", "D"),
    ("BC", "D", "A"),
]
AUDIOMNIST_FEMALE = {"12", "26", "28", "36", "43", "47", "52", "56", "57", "58", "59", "60"}
ROLES = ("train", "validation", "test")


def is_audiomnist(clips: pd.DataFrame) -> bool:
    """Whether the table holds AudioMNIST's 60 speakers, so Becker's splits apply."""
    genders = clips.groupby("speaker")["gender"].first()
    expected = {f"{i:02d}": "female" if f"{i:02d}" in AUDIOMNIST_FEMALE else "male" for i in range(1, 61)}
    return genders.to_dict() == expected


def becker_splits() -> list[dict]:
    """Becker et al.'s four gender splits as lists of speaker ids."""
    return [
        {
            "train": sorted(s for g in train for s in BECKER_GROUPS[g]),
            "validation": sorted(BECKER_GROUPS[val]),
            "test": sorted(BECKER_GROUPS[test]),
        }
        for train, val, test in BECKER_SPLITS
    ]


def speaker_folds(clips: pd.DataFrame, n_folds: int = 4, seed: int = 0) -> list[np.ndarray]:
    """Row indices of each fold: stratified group k-fold with the speaker as the group.

    Strata are corpus and gender together, so every fold gets its share of each.
    """
    strata = (clips["corpus"] + "/" + clips["gender"]).to_numpy()
    folder = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a corpus with fewer speakers than folds is fine
        warnings.simplefilter("ignore", UserWarning)
        return [test for _, test in folder.split(clips.index, strata, groups=clips["speaker"].to_numpy())]


def group_kfold_splits(clips: pd.DataFrame, n_folds: int = 4, seed: int = 0) -> list[dict]:
    """Stratified group k-fold by speaker: fold k tests, fold k+1 validates, the rest train."""
    speakers = clips.groupby("speaker")[["gender", "corpus"]].first().reset_index()
    counts = speakers["gender"].value_counts()
    if len(counts) < 2 or counts.min() < n_folds:
        raise ValueError(f"need at least {n_folds} speakers of each gender for {n_folds} folds, have {counts.to_dict()}")
    folds = [sorted(speakers["speaker"][rows]) for rows in speaker_folds(speakers, n_folds, seed)]
    splits = []
    for k in range(n_folds):
        held = {*folds[k], *folds[(k + 1) % n_folds]}
        splits.append(
            {
                "train": sorted(s for s in speakers["speaker"] if s not in held),
                "validation": folds[(k + 1) % n_folds],
                "test": folds[k],
            }
        )
    return splits


def make_splits(clips: pd.DataFrame, n_folds: int = 4, seed: int = 0) -> dict:
    """The splits for this corpus: Becker's on AudioMNIST, stratified group k-fold elsewhere."""
    if is_audiomnist(clips):
        protocol, splits = "becker", becker_splits()
    else:
        protocol, splits = "stratified-group-kfold", group_kfold_splits(clips, n_folds, seed)
    for split in splits:
        check_disjoint(split)
    return {"protocol": protocol, "seed": seed, "splits": splits}


def check_disjoint(split: dict) -> None:
    """Raise if any speaker appears in two roles of one split."""
    for i, a in enumerate(ROLES):
        for b in ROLES[i + 1 :]:
            shared = set(split[a]) & set(split[b])
            if shared:
                raise ValueError(f"speakers {sorted(shared)} are in both {a} and {b}")


def save_splits(splits: dict, path: str | os.PathLike) -> None:
    write_json(path, splits)


def load_splits(path: str | os.PathLike, clips: pd.DataFrame | None = None) -> dict:
    """Read the splits ``02_split`` wrote; if there are none yet and ``clips`` is given, make and save them.

    So a later notebook can run alone, with the same splits ``02_split`` would make.
    """
    path = Path(path)
    if not path.exists() and clips is not None:
        save_splits(make_splits(clips), path)
    return json.loads(path.read_text())


def role_masks(clips: pd.DataFrame, split: dict) -> dict[str, np.ndarray]:
    """Boolean masks over the clip table for the train, validation and test speakers."""
    return {role: clips["speaker"].isin(split[role]).to_numpy() for role in ROLES}


def assignment_table(clips: pd.DataFrame, splits: dict) -> pd.DataFrame:
    """One row per speaker, one column per split, each cell the speaker's role (or empty)."""
    speakers = clips.groupby("speaker")["gender"].first()
    table = pd.DataFrame(index=speakers.index)
    table["gender"] = speakers
    for k, split in enumerate(splits["splits"]):
        role = {s: r for r in ROLES for s in split[r]}
        table[f"split {k}"] = [role.get(s, "") for s in table.index]
    return table


def training_split(splits: dict, fold: int | str = 0) -> dict:
    """Split ``fold`` of ``splits``; ``"all"`` trains on every speaker but split 0's validation ones.

    ``"all"`` is for the model that ships: it keeps a speaker-disjoint validation
    fold for early stopping and calibration, and tests on no one (the
    cross-validation in ``05_evaluate`` measures the recipe).
    """
    if fold == "all":
        first = splits["splits"][0]
        return {"train": sorted(first["train"] + first["test"]), "validation": first["validation"], "test": []}
    return splits["splits"][int(fold)]
