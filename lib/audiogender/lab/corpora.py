"""Corpora as clip tables: one row per recording, with its speaker and gender.

A corpus is read into a :class:`pandas.DataFrame` with one row per clip and the
columns of ``manifest.csv``: ``path, speaker, gender, corpus, language, digit``.
Two layouts are read: AudioMNIST's own (``data/NN/{digit}_{NN}_{index}.wav`` with
``data/audioMNIST_meta.txt``) and any folder with a ``manifest.csv``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd

from ..labels import GENDERS

COLUMNS = ["path", "speaker", "gender", "corpus", "language", "digit"]
OPTIONAL_COLUMNS = ["emotion"]  # kept when a manifest has them (the acted and talk-show corpora)
AUDIOMNIST_NAME = re.compile(r"^(\d+)_(\d+)_(\d+)\.wav$")  # data/NN/{digit}_{NN}_{index}.wav


def audiomnist_meta_path(root: str | os.PathLike) -> Path | None:
    """``audioMNIST_meta.txt`` under ``root`` or ``root/data``, if there is one."""
    for folder in (Path(root), Path(root) / "data"):
        if (folder / "audioMNIST_meta.txt").is_file():
            return folder / "audioMNIST_meta.txt"
    return None


def read_audiomnist(root: str | os.PathLike, corpus: str | None = None, language: str = "en") -> pd.DataFrame:
    """Read a folder in AudioMNIST's layout into a clip table.

    ``root`` is the corpus folder (holding ``data/``) or ``data/`` itself. Speakers
    listed in the metadata without recordings are skipped; recordings of speakers
    missing from the metadata are an error, since their gender is unknown.
    """
    meta_path = audiomnist_meta_path(root)
    if meta_path is None:
        raise FileNotFoundError(f"{root}: no data/audioMNIST_meta.txt, so not in AudioMNIST's layout")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    corpus = corpus or Path(root).resolve().name
    rows = []
    for wav in sorted(meta_path.parent.glob("*/*.wav")):
        match = AUDIOMNIST_NAME.match(wav.name)
        if not match:
            continue
        digit, speaker, _ = match.groups()
        if speaker not in meta:
            raise ValueError(f"{wav}: speaker {speaker} is not in {meta_path}")
        gender = str(meta[speaker]["gender"]).strip().lower()
        rows.append((str(wav), speaker, gender, corpus, language, int(digit)))
    if not rows:
        raise FileNotFoundError(f"{root}: no recordings named like data/NN/{{digit}}_{{NN}}_{{index}}.wav")
    return pd.DataFrame(rows, columns=COLUMNS)


def read_manifest(folder: str | os.PathLike) -> pd.DataFrame:
    """Read a folder with a ``manifest.csv``; its paths are made relative to where the folder is named from, not to the folder."""
    folder = Path(folder)
    table = pd.read_csv(folder / "manifest.csv", dtype={"speaker": str, "language": str})
    missing = set(COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"{folder / 'manifest.csv'}: missing columns {sorted(missing)}")
    table["path"] = [str(folder / p) for p in table["path"]]
    table["digit"] = pd.to_numeric(table["digit"], errors="coerce").astype("Int64")
    return table[COLUMNS + [c for c in OPTIONAL_COLUMNS if c in table]]


def read_corpus(root: str | os.PathLike) -> pd.DataFrame:
    """Read one corpus folder: AudioMNIST's layout if present, else its ``manifest.csv``."""
    has_manifest = (Path(root) / "manifest.csv").is_file()
    if audiomnist_meta_path(root) is not None:
        clips = read_audiomnist(root)
        if has_manifest:  # AudioMNIST's metadata has no language; a manifest beside it may say
            language = read_manifest(root).assign(path=lambda t: t["path"].map(os.path.abspath)).set_index("path")["language"]
            clips["language"] = clips["path"].map(os.path.abspath).map(language).fillna(clips["language"])
        return clips
    if has_manifest:
        return read_manifest(root)
    raise FileNotFoundError(f"{root}: neither AudioMNIST's layout nor a manifest.csv")


def read_corpora(roots) -> pd.DataFrame:
    """Read several corpus folders into one table of voiced clips (``gender`` male or female).

    With more than one corpus, speaker ids are prefixed by the corpus so they never collide
    (and a speaker found in two folders of the same corpus stays one speaker). The
    ``source`` column names the folder each clip came from.
    """
    roots = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
    tables = [(t := read_corpus(root))[t["gender"].isin(GENDERS)].assign(source=Path(root).name) for root in roots]
    clips = pd.concat(tables, ignore_index=True)
    if len(tables) > 1:
        clips["speaker"] = [s if s.startswith(f"{c}:") else f"{c}:{s}" for c, s in zip(clips["corpus"], clips["speaker"])]
    return clips


def speaker_table(clips: pd.DataFrame) -> pd.DataFrame:
    """One row per speaker: corpus, gender and number of clips."""
    return (
        clips.groupby("speaker")
        .agg(corpus=("corpus", "first"), gender=("gender", "first"), clips=("path", "size"))
        .reset_index()
    )


def speaker_counts(clips: pd.DataFrame, by: str = "source") -> pd.DataFrame:
    """Female and male speakers, and clips, of each folder (or of each value of ``by``), and in all."""
    table = clips.groupby([by, "gender"])["speaker"].nunique().unstack(fill_value=0).reindex(columns=list(GENDERS[::-1]), fill_value=0)
    table["clips"] = clips.groupby(by).size()
    table.loc["all"] = [clips.loc[clips["gender"] == g, "speaker"].nunique() for g in GENDERS[::-1]] + [len(clips)]
    return table
