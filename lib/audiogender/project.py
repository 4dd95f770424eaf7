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
import yaml

from .data import download_audiomnist, read_corpora

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


def corpus_dirs(data_dir: str | os.PathLike | list | None = None) -> list[Path]:
    """The corpus folders to use (see the module's docstring), downloading AudioMNIST if needed."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    if not chosen:
        return [download_audiomnist(resolve("data"))]
    if isinstance(chosen, (str, os.PathLike)):
        chosen = [p for p in str(chosen).split(",") if p.strip()]
    return [resolve(p.strip() if isinstance(p, str) else p) for p in chosen]


def load_corpus(data_dir=None) -> pd.DataFrame:
    """The clip table of the chosen corpus folders."""
    return read_corpora(corpus_dirs(data_dir))


def run_folders(outputs_dir: str | os.PathLike = "outputs") -> list[Path]:
    """Complete run folders, oldest first."""
    runs = [p for p in resolve(outputs_dir).glob("run_*") if (p / "metrics.json").is_file()]
    return sorted(runs, key=lambda p: int(p.name.split("_")[1]))


def run_label(run: Path) -> str:
    """A run's model, and the search its parameters came from, if any: ``seed`` or ``seed, search_2``."""
    hyperparams = yaml.safe_load((run / "hyperparams.yml").read_text())
    source = hyperparams.get("params_from", "")
    searched = source and source != "notebook parameters"
    return f"{hyperparams['model']}, {Path(source).name}" if searched else hyperparams["model"]


def latest_runs(outputs_dir: str | os.PathLike = "outputs") -> dict[str, Path]:
    """The newest run of each model (and of each model trained with a search's parameters)."""
    return {run_label(run): run for run in run_folders(outputs_dir)}


def latest_search(outputs_dir: str | os.PathLike = "outputs") -> Path:
    """The newest complete search folder, ``outputs_dir/search_N``."""
    searches = [p for p in resolve(outputs_dir).glob("search_*") if (p / "best_params.yaml").is_file()]
    if not searches:
        raise FileNotFoundError(f"no search in {resolve(outputs_dir)}: run 03_search first")
    return max(searches, key=lambda p: int(p.name.split("_")[1]))
