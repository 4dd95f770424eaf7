"""Corpora as clip tables, the AudioMNIST downloader, and the on-disk feature cache.

A corpus is read into a :class:`pandas.DataFrame` with one row per clip and the
columns of ``manifest.csv``: ``path, speaker, gender, corpus, language, digit``.
Two layouts are read: AudioMNIST's own (``data/NN/{digit}_{NN}_{index}.wav`` with
``data/audioMNIST_meta.txt``) and any folder with a ``manifest.csv``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from .audio import load_audio, prepare_clip
from .features import FeatureConfig, compute_features
from .files import atomic_file

COLUMNS = ["path", "speaker", "gender", "corpus", "language", "digit"]
GENDERS = ("male", "female")  # class 0 and class 1: the model gives p(female)
AUDIOMNIST_URL = "https://github.com/soerenab/AudioMNIST/archive/refs/heads/master.zip"
AUDIOMNIST_CLIPS = 30_000
_AUDIOMNIST_NAME = re.compile(r"^(\d+)_(\d+)_(\d+)\.wav$")


def labels(genders) -> np.ndarray:
    """Class indices (0 male, 1 female) of a sequence of gender names."""
    return np.asarray([GENDERS.index(g) for g in genders], dtype=np.int64)


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
        match = _AUDIOMNIST_NAME.match(wav.name)
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
    """Read a folder with a ``manifest.csv``; paths become absolute."""
    folder = Path(folder)
    table = pd.read_csv(folder / "manifest.csv", dtype={"speaker": str, "language": str})
    missing = set(COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"{folder / 'manifest.csv'}: missing columns {sorted(missing)}")
    table["path"] = [str(folder / p) for p in table["path"]]
    table["digit"] = pd.to_numeric(table["digit"], errors="coerce").astype("Int64")
    return table[COLUMNS]


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


# --- the AudioMNIST downloader ---------------------------------------------------------


def download_audiomnist(
    dest: str | os.PathLike = "data",
    url: str = AUDIOMNIST_URL,
    expected_clips: int = AUDIOMNIST_CLIPS,
    sha256: str | None = None,
    progress: bool = True,
) -> Path:
    """Download AudioMNIST into ``dest/AudioMNIST`` and return that folder.

    The archive is fetched into ``AudioMNIST.zip.part``, resuming from where an
    interrupted download stopped; it is verified (the size the server announced,
    every member's CRC, ``sha256`` when given, and the number of clips) before it is
    renamed to ``AudioMNIST.zip``, and extracted through a temporary folder, so
    ``dest/AudioMNIST`` is either complete or absent. A verified corpus already
    there is returned at once.
    """
    dest = Path(dest)
    target = dest / "AudioMNIST"
    if audiomnist_meta_path(target) is not None:
        return target
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "AudioMNIST.zip"
    if not archive.exists():
        partial = dest / "AudioMNIST.zip.part"
        _fetch_resumable(url, partial, progress)
        _verify_archive(partial, expected_clips, sha256)
        os.replace(partial, archive)
    else:
        _verify_archive(archive, expected_clips, sha256)
    _extract_data(archive, target)
    archive.unlink()
    return target


def _fetch_resumable(url: str, partial: Path, progress: bool, chunk: int = 1 << 20) -> None:
    """Fetch ``url`` into ``partial``, asking only for the bytes it lacks."""
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        if have and response.status != 206:  # the server ignored the range: start again
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with open(partial, "ab" if have else "wb") as out, tqdm(
            total=total, initial=have, unit="B", unit_scale=True, desc="AudioMNIST", disable=not progress
        ) as bar:
            while block := response.read(chunk):
                out.write(block)
                bar.update(len(block))
    if total is not None and partial.stat().st_size != total:
        raise OSError(f"{url}: download stopped at {partial.stat().st_size} of {total} bytes; run again to resume")


def _verify_archive(archive: Path, expected_clips: int, sha256: str | None) -> None:
    """Raise unless ``archive`` is an intact zip holding AudioMNIST's metadata and clips."""
    if sha256 is not None:
        digest = hashlib.sha256()
        with open(archive, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            archive.unlink()
            raise OSError(f"{archive}: sha256 {digest.hexdigest()} is not the expected {sha256}; removed it")
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            names = zf.namelist()
    except zipfile.BadZipFile as error:
        archive.unlink()
        raise OSError(f"{archive}: not a valid zip archive ({error}); removed it, run again") from None
    if bad is not None:
        archive.unlink()
        raise OSError(f"{archive}: member {bad} is corrupt; removed it, run again")
    clips = sum(1 for n in names if "/data/" in n and _AUDIOMNIST_NAME.match(n.rsplit("/", 1)[-1]))
    if not any(n.endswith("data/audioMNIST_meta.txt") for n in names) or clips != expected_clips:
        raise OSError(f"{archive}: holds {clips} clips and {'a' if clips else 'no'} metadata; expected {expected_clips}")


def _extract_data(archive: Path, target: Path) -> None:
    """Extract the archive's ``data/`` folder to ``target/data`` through a temporary folder."""
    tmp = Path(tempfile.mkdtemp(prefix=".AudioMNIST-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                parts = member.filename.split("/")
                if "data" not in parts or member.is_dir():
                    continue
                relative = Path(*parts[parts.index("data") :])
                (tmp / relative).parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(tmp / relative, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- features, cached on disk ----------------------------------------------------------


def cache_path(paths, settings: str, cache_dir, prefix: str, suffix: str) -> Path | None:
    """Where results computed from these files with these settings are cached (None: no cache).

    The name hashes the settings and every file's path, size and modification time,
    so a changed file or setting gets a new name and nothing stale is ever read.
    """
    if cache_dir is None:
        return None
    key = hashlib.sha1(settings.encode())
    for p in paths:
        stat = os.stat(p)
        key.update(f"{p}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return Path(cache_dir) / f"{prefix}-{key.hexdigest()[:16]}{suffix}"


def per_clip_cached(clips: pd.DataFrame, compute, settings: str, prefix: str, cache_dir="data/cache", n_jobs=None, progress=True) -> np.ndarray:
    """``compute(path)`` of every clip, in ``n_jobs`` threads, stacked and cached on disk."""
    paths = list(clips["path"])
    cache = cache_path(paths, settings, cache_dir, prefix, ".npy")
    if cache is not None and cache.exists():
        return np.load(cache)
    with ThreadPoolExecutor(max_workers=n_jobs or os.cpu_count()) as pool:
        values = np.stack(list(tqdm(pool.map(compute, paths), total=len(paths), desc=prefix, disable=not progress)))
    if cache is not None:
        with atomic_file(cache, "wb") as f:
            np.save(f, values)
    return values


def clip_features(path: str | os.PathLike, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Features of one recording's training clip (its loudest second)."""
    return compute_features(prepare_clip(load_audio(path)), config)


def load_features(
    clips: pd.DataFrame,
    config: FeatureConfig = FeatureConfig(),
    cache_dir: str | os.PathLike | None = "data/cache",
    n_jobs: int | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Features of every clip in the table, (clips, frames, width), cached on disk.

    The cache key covers the feature settings and every file's path, size and
    modification time, so a changed file or setting recomputes and nothing stale is read.
    """
    # soundfile, soxr and numpy release the GIL, so threads run in parallel here
    compute = lambda path: clip_features(path, config)
    return per_clip_cached(clips, compute, config.cache_key(), f"features-{config.kind}", cache_dir, n_jobs, progress)
