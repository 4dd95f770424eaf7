"""Where the notebooks find the project's folders and the corpus they work on.

Relative paths are taken from the project root (the folder holding ``_toc.yml``),
so a notebook finds the same files whether it runs in JupyterLab, under papermill
or under nbval. The corpus is, in order: the ``data_dir`` parameter, the
``AUDIOGENDER_DATA`` environment variable, or AudioMNIST downloaded into ``data/``.
Either may name several corpus folders, separated by commas.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .corpora import read_corpora
from .download import download_audiomnist

DATA_ENV = "AUDIOGENDER_DATA"


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: here) holding ``_toc.yml``; else ``start``."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    return start


def resolve(path: str | os.PathLike) -> Path:
    """``path`` itself if absolute, else relative to the project root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else project_root() / path


def relative(path: str | os.PathLike) -> str:
    """``path`` as it should be recorded: relative to the project root when inside it (never this machine's checkout)."""
    path = Path(path).resolve()
    root = project_root()
    return os.path.relpath(path, root) if path.is_relative_to(root) or path.is_relative_to(root.parent) else str(path)


def corpus_dirs(data_dir: str | os.PathLike | list | None = None) -> list[Path]:
    """The corpus folders to use (see the module's docstring), downloading AudioMNIST if needed."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    if not chosen:
        return [download_audiomnist(resolve("data"))]
    if isinstance(chosen, (str, os.PathLike)):
        chosen = [p for p in str(chosen).split(",") if p.strip()]
    return [resolve(p.strip() if isinstance(p, str) else p) for p in chosen]


def data_record(data_dir=None) -> dict:
    """Where a run's data came from, as its settings record it: the corpus folders, relative to the project."""
    return {"data": [relative(p) for p in corpus_dirs(data_dir)]}


def load_corpus(data_dir=None) -> pd.DataFrame:
    """The clip table of the chosen corpus folders."""
    return read_corpora(corpus_dirs(data_dir))


def latest_search(outputs_dir: str | os.PathLike = "outputs") -> Path:
    """The newest complete search folder, ``outputs_dir/search_N``."""
    searches = [p for p in resolve(outputs_dir).glob("search_*") if (p / "best_params.yaml").is_file()]
    if not searches:
        raise FileNotFoundError(f"no search in {resolve(outputs_dir)}: run 03_search first")
    return max(searches, key=lambda p: int(p.name.split("_")[1]))
