"""Every way the project divides clips: speaker-disjoint splits, search folds, and the seed's leaky folds.

AudioMNIST has 500 clips per speaker, so a split by clip lets a model recognise
speakers instead of gender. On AudioMNIST we use Becker et al.'s four gender splits
(12 female and 12 male speakers in four groups of six); on any other corpus,
stratified group k-fold with the speaker as the group, laid out the same way:
split k tests on fold k, validates on fold k+1 and trains on the rest. The
hyperparameter search divides a split's training speakers the same way
(:func:`search_folds`); :func:`leaky_folds` deals clips regardless of speaker, as the
seed did, only to show what that leak was worth. :func:`check_disjoint` is the one
check that no speaker is on two sides.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedGroupKFold

from .outputs import write_json

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


def speaker_folds(clips: pd.DataFrame, n_folds: int = 4, random_state: int = 0) -> list[np.ndarray]:
    """Row indices of each fold: stratified group k-fold with the speaker as the group.

    Strata are corpus and gender together, so every fold gets its share of each.
    """
    strata = (clips["corpus"] + "/" + clips["gender"]).to_numpy()
    folder = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():  # a corpus with fewer speakers than folds is fine
        warnings.simplefilter("ignore", UserWarning)
        return [test for _, test in folder.split(clips.index, strata, groups=clips["speaker"].to_numpy())]


def group_kfold_splits(clips: pd.DataFrame, n_folds: int = 4, random_state: int = 0) -> list[dict]:
    """Stratified group k-fold by speaker: fold k tests, fold k+1 validates, the rest train."""
    speakers = clips.groupby("speaker")[["gender", "corpus"]].first().reset_index()
    counts = speakers["gender"].value_counts()
    if len(counts) < 2 or counts.min() < n_folds:
        raise ValueError(f"need at least {n_folds} speakers of each gender for {n_folds} folds, have {counts.to_dict()}")
    folds = [sorted(speakers["speaker"][rows]) for rows in speaker_folds(speakers, n_folds, random_state)]
    splits = []
    for k in range(n_folds):
        held = {*folds[k], *folds[(k + 1) % n_folds]}
        split = {"train": sorted(s for s in speakers["speaker"] if s not in held), "validation": folds[(k + 1) % n_folds], "test": folds[k]}
        check_disjoint(split, where=f"split {k}: ")
        splits.append(split)
    return splits


def make_splits(clips: pd.DataFrame, n_folds: int = 4, random_state: int = 0) -> dict:
    """The splits for this corpus: Becker's on AudioMNIST, stratified group k-fold elsewhere."""
    if is_audiomnist(clips):
        protocol, splits = "becker", becker_splits()
    else:
        protocol, splits = "stratified-group-kfold", group_kfold_splits(clips, n_folds, random_state)
    for k, split in enumerate(splits):
        check_disjoint(split, where=f"split {k}: ")
    return {"protocol": protocol, "random_state": random_state, "splits": splits}


def shared_speakers(parts: dict) -> dict[tuple[str, str], list]:
    """Speakers found in two of ``parts`` (name -> speakers), for each pair of parts that share any."""
    names = list(parts)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    return {(a, b): sorted(shared) for a, b in pairs if (shared := set(parts[a]) & set(parts[b]))}


def check_disjoint(parts: dict, where: str = "") -> None:
    """Raise if any speaker is in two of ``parts``: the roles of a split, or a fold's fit and score."""
    for (a, b), shared in shared_speakers(parts).items():
        raise ValueError(f"{where}speakers {shared} are in both {a} and {b}")


def save_splits(splits: dict, path: str | os.PathLike) -> None:
    write_json(path, splits)


def load_splits(path: str | os.PathLike, clips: pd.DataFrame | None = None) -> dict:
    """Read the splits ``02_split`` wrote; if there are none yet and ``clips`` is given, make and save them.

    So a later notebook can run alone, with the same splits ``02_split`` would make.
    Splits that name speakers ``clips`` lacks were made for another corpus, and are refused.
    """
    path = Path(path)
    if not path.exists() and clips is not None:
        save_splits(make_splits(clips), path)
    splits = json.loads(path.read_text())
    if clips is not None:
        unknown = {s for split in splits["splits"] for role in ROLES for s in split[role]} - set(clips["speaker"])
        if unknown:
            raise ValueError(f"{path}: made for another corpus ({len(unknown)} of its speakers are not in this one, e.g. "
                             f"{sorted(unknown)[0]!r}); run 02_split again, or delete it")  # fmt: skip
    return splits


def role_masks(clips: pd.DataFrame, split: dict) -> dict[str, np.ndarray]:
    """Boolean masks over the clip table for the train, validation and test speakers."""
    return {role: clips["speaker"].isin(split[role]).to_numpy() for role in ROLES}


def role_counts(clips: pd.DataFrame, splits: dict) -> pd.DataFrame:
    """Speakers (female, male) and clips in each role of each split."""
    gender = clips.groupby("speaker")["gender"].first()
    rows = []
    for k, split in enumerate(splits["splits"]):
        for role in ROLES:
            genders = gender.reindex(split[role]).value_counts()
            rows.append({"split": k, "role": role, "speakers": len(split[role]), "female": int(genders.get("female", 0)),
                         "male": int(genders.get("male", 0)), "clips": int(clips["speaker"].isin(split[role]).sum())})  # fmt: skip
    return pd.DataFrame(rows).pivot(index="split", columns="role", values=["speakers", "female", "male", "clips"])


def assignment_table(clips: pd.DataFrame, splits: dict) -> pd.DataFrame:
    """One row per speaker, one column per split, each cell the speaker's role (or empty)."""
    speakers = clips.groupby("speaker")["gender"].first()
    table = pd.DataFrame(index=speakers.index)
    table["gender"] = speakers
    for k, split in enumerate(splits["splits"]):
        role = {s: r for r in ROLES for s in split[r]}
        table[f"split {k}"] = [role.get(s, "") for s in table.index]
    return table


def fold_masks(clips: pd.DataFrame, splits: list[dict], validate: bool = True) -> list[dict[str, np.ndarray]]:
    """Role masks of each split; without ``validate``, the validation speakers train too (for recipes that need none)."""
    folds = [role_masks(clips, split) for split in splits]
    return folds if validate else without_validation(folds)


def without_validation(folds: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """The same folds with their validation clips training too."""
    return [{"train": m["train"] | m["validation"], "validation": np.zeros_like(m["validation"]), "test": m["test"]} for m in folds]


POOLED_FOLDERS = {"audiomnist-sample": "audiomnist-sample+samples", "samples": "audiomnist-sample+samples"}  # too few voices alone
VALIDATION_SHARE = 0.2  # of the training speakers, kept for early stopping and calibration


def corpus_groups(clips: pd.DataFrame, pooled: dict[str, str] = POOLED_FOLDERS) -> np.ndarray:
    """The group each clip is held out with when corpora are left out: its folder, small folders pooled."""
    return clips["source"].map(lambda folder: pooled.get(folder, folder)).to_numpy()


def corpus_masks(
    clips: pd.DataFrame, random_state: int = 0, pooled: dict[str, str] = POOLED_FOLDERS, validation_share: float = VALIDATION_SHARE
) -> tuple[list[str], list[dict[str, np.ndarray]]]:
    """Leave one corpus out: (group names, role masks), one fold per folder (small ones pooled).

    Fold g tests every clip of group g; no speaker heard there trains (a speaker found in
    two folders is left out of the other too); a speaker-disjoint ``validation_share``
    of the remaining speakers, stratified by folder and gender, validates, and the rest train.
    """
    groups = corpus_groups(clips, pooled)
    names, folds = sorted(set(groups)), []
    n_splits = max(2, round(1 / validation_share))
    for name in names:
        test = groups == name
        others = ~test & ~clips["speaker"].isin(set(clips.loc[test, "speaker"])).to_numpy()
        pool = clips[others]
        strata = (pool["source"] + "/" + pool["gender"]).to_numpy()
        with warnings.catch_warnings():  # a folder with fewer speakers than splits is fine
            warnings.simplefilter("ignore", UserWarning)
            _, held = next(StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state).split(pool, strata, pool["speaker"]))
        validation = np.zeros(len(clips), bool)
        validation[np.flatnonzero(others)[held]] = True
        fold = {"train": others & ~validation, "validation": validation, "test": test}
        check_disjoint({role: clips.loc[mask, "speaker"] for role, mask in fold.items()}, where=f"leaving out {name}: ")
        folds.append(fold)
    return names, folds


def folds_as_splits(clips: pd.DataFrame, folds: list[dict[str, np.ndarray]]) -> list[dict]:
    """Each fold's speakers by role, as the splits files record them."""
    return [{role: sorted(set(clips.loc[mask, "speaker"])) for role, mask in fold.items()} for fold in folds]


def leaky_masks(clips: pd.DataFrame, n_folds: int = 5, random_state: int = 0) -> list[dict[str, np.ndarray]]:
    """Role masks of clip folds dealt regardless of speaker (the seed's mistake): fold k tests, the rest train."""
    folds = []
    for rows in leaky_folds(clips, n_folds, random_state):
        test = np.zeros(len(clips), bool)
        test[rows] = True
        folds.append({"train": ~test, "validation": np.zeros(len(clips), bool), "test": test})
    return folds


def fold_tested_in(folds: list[dict[str, np.ndarray]]) -> np.ndarray:
    """The fold in which each clip is tested (-1 if never)."""
    fold = np.full(len(folds[0]["test"]), -1)
    for k, masks in enumerate(folds):
        fold[masks["test"]] = k
    return fold


def leaky_folds(clips: pd.DataFrame, n_folds: int = 5, random_state: int = 0) -> list[np.ndarray]:
    """Row indices of each fold when clips are shuffled into folds regardless of speaker (the seed's mistake)."""
    return [test for _, test in KFold(n_folds, shuffle=True, random_state=random_state).split(clips)]


def search_folds(clips: pd.DataFrame, pool: np.ndarray, cv: int = 4, protocol: str = "", random_state: int = 0):
    """(fit, score) index pairs into the clips of ``pool``, no speaker on both sides of any.

    On AudioMNIST (``protocol="becker"``) each of Becker et al.'s groups in the pool
    is one fold (``cv`` is then the number of groups, 3); elsewhere stratified group
    k-fold by speaker (stratified by corpus and gender).
    """
    table = clips[pool].reset_index(drop=True)
    if protocol == "becker":
        group_of = {s: g for g, members in BECKER_GROUPS.items() for s in members}
        groups = table["speaker"].map(group_of).to_numpy()
        folds = [(np.flatnonzero(groups != g), np.flatnonzero(groups == g)) for g in sorted(set(groups))]
    else:
        folds = [(np.setdiff1d(np.arange(len(table)), score), score) for score in speaker_folds(table, cv, random_state)]
    speakers = table["speaker"].to_numpy()
    for k, (fit, score) in enumerate(folds):
        check_disjoint({"fit": speakers[fit], "score": speakers[score]}, where=f"fold {k}: ")
    return folds


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
