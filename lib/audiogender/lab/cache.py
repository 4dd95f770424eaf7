"""Results computed per clip, cached on disk, and never stale.

A cache file's name hashes what was computed (its settings), the source code of the
modules that compute it, and every input file's resolved path, size and
modification time. So a run from another working directory finds the same cache,
and a change to a file, a setting or the code (the augmentation, say) computes
afresh instead of reading a stale result.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..audio import load_audio
from ..features import FeatureConfig, compute_features
from ..files import atomic_file
from . import progress_bar
from .clips import prepare_clip

FEATURE_CODE = ("audiogender.audio", "audiogender.features", "audiogender.lab.clips")  # the modules every feature depends on


@lru_cache(maxsize=None)
def _source_sha1(module: str) -> str:
    return hashlib.sha1(Path(importlib.util.find_spec(module).origin).read_bytes()).hexdigest()


def code_version(*modules: str) -> str:
    """A fingerprint of the named modules' source code: it changes when any of them is edited."""
    return "+".join(_source_sha1(module)[:12] for module in modules)


def cache_path(paths, settings: str, cache_dir, prefix: str, suffix: str, code: tuple[str, ...] = ()) -> Path | None:
    """Where results computed from these files with these settings and this code are cached (None: no cache)."""
    if cache_dir is None:
        return None
    key = hashlib.sha1(f"{settings}|{code_version(*code)}".encode())
    for p in paths:
        resolved = os.path.realpath(p)
        stat = os.stat(resolved)
        key.update(f"{resolved}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return Path(cache_dir) / f"{prefix}-{key.hexdigest()[:16]}{suffix}"


def per_clip_cached(
    clips: pd.DataFrame, compute, settings: str, prefix: str, cache_dir="data/cache", n_jobs=None, progress=True, code=()
) -> np.ndarray:
    """``compute(path)`` of every clip, in ``n_jobs`` threads, stacked and cached on disk.

    ``code`` names the modules whose source ``compute`` depends on (see :func:`cache_path`).
    """
    paths = list(clips["path"])
    cache = cache_path(paths, settings, cache_dir, prefix, ".npy", code)
    if cache is not None and cache.exists():
        return np.load(cache)
    # soundfile, soxr and numpy release the GIL, so threads run in parallel here
    with ThreadPoolExecutor(max_workers=n_jobs or os.cpu_count()) as pool:
        values = np.stack(list(progress_bar(pool.map(compute, paths), progress, total=len(paths), desc=prefix)))
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
    """Features of every clip's loudest second, (clips, frames, width), cached on disk."""
    compute = lambda path: clip_features(path, config)  # noqa: E731
    return per_clip_cached(clips, compute, config.cache_key(), f"features-{config.kind}", cache_dir, n_jobs, progress, (*FEATURE_CODE, __name__))
