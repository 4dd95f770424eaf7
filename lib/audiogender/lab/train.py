"""Training one model by its recipe into a run folder that is never half-written.

:func:`train_run` trains any recipe (``base.Recipe.fit``) on the training speakers of
a split, scores its validation and test speakers, and writes everything the run left
behind to ``outputs/run_N/``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..labels import labels
from . import project
from .base import Recipe, TrainedInEpochs
from .evaluate import clip_metrics
from .outputs import atomic_directory, write_json, write_yaml
from .splits import check_disjoint, role_masks


@dataclass
class Run:
    """What one training run left behind."""

    path: Path
    history: pd.DataFrame | None  # per epoch, for a model trained in epochs
    metrics: dict
    settings: dict


def train_run(
    clips: pd.DataFrame,
    recipe: Recipe,
    split: dict,
    *,
    data=None,
    device: str = "auto",
    random_state: int = 0,
    cache_dir: str | os.PathLike | None = "data/cache",
    outputs_dir: str | os.PathLike = "outputs",
    progress: bool = True,
    extra: dict | None = None,
) -> Run:
    """Train ``recipe`` on the split's training speakers, validate and test on its held-out ones.

    ``data`` is the recipe's training data for ``clips`` (built, and cached, if not given).
    Writes ``outputs_dir/run_N/`` holding ``settings.yml`` (the whole recipe, the
    device, the random state and ``extra``), for a model trained in epochs ``history.csv``,
    ``accuracy.png`` and ``loss.png``, ``model.pt`` and its ONNX twin ``model.onnx``, ``split.json``,
    ``metrics.json`` and ``test_predictions.csv``, built in a temporary folder and
    renamed when complete.
    """
    from .plots import plot_history

    check_disjoint(split)
    data = recipe.training_data(clips, cache_dir, random_state, progress) if data is None else data
    masks = role_masks(clips, split)
    y = labels(clips["gender"])
    started = time.time()
    trained = recipe.fit(data, clips, masks, device, random_state)
    history = trained.history() if isinstance(trained, TrainedInEpochs) else None
    metrics = {"train_seconds": round(time.time() - started, 1), **({"epochs_run": len(history)} if history is not None else {})}
    if recipe.calibrate and masks["validation"].any():
        metrics["temperature"] = trained.temperature
    predictions = None
    for role in ("validation", "test"):
        if masks[role].any():
            p_female = trained.predict_clips(data, masks[role])
            metrics[role] = clip_metrics(y[masks[role]], p_female)
            if role == "test":
                tested = clips.loc[masks[role], ["path", "speaker", "gender", "corpus"]]
                predictions = tested.assign(path=[project.relative(p) for p in tested["path"]], p_female=p_female)
    settings = {"recipe": recipe.to_dict(), "device": trained.device, "random_state": random_state, **(extra or {})}

    with atomic_directory(outputs_dir, "run") as folder:
        write_yaml(folder / "settings.yml", settings)
        if history is not None:
            history.to_csv(folder / "history.csv", index=False)
            for kind, figure in plot_history(history).items():
                figure.savefig(folder / f"{kind}.png", dpi=100, bbox_inches="tight")
        trained.save(folder / "model.pt", **(extra or {}))
        write_json(folder / "split.json", split)
        write_json(folder / "metrics.json", metrics)
        if predictions is not None:
            predictions.to_csv(folder / "test_predictions.csv", index=False)
    return Run(folder.final, history, metrics, settings)
