"""What the models listened to, over many clips: the evidence behind chapter 5's section on explanations.

- :func:`integrated_gradients`: the CNN's relevance by integrated gradients
  (Sundararajan et al. 2017) in torch, the gradient method, to check the product's
  occlusion maps (``audiogender.explain``) on the same clips (:func:`agreement`).
- :func:`band_profiles`: each clip's share of the relevance per mel band, by
  occlusion, for both shipped models, over the calm and the excited clips of one folder.
- :func:`speaker_pitch`: each speaker's median F0 beside each method's mean
  p(female) leaving one corpus out (the published predictions).

``python -m audiogender.lab listening`` computes them and publishes them in
``book/results/listening``, which ``05_evaluate`` reads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..explain import FREQUENCY_RANGES
from ..features import band_centres
from .baselines import file_median_f0
from .networks import load_checkpoint

PUBLISHED = "book/results/listening"
IG_STEPS = 32  # points on the path from silence to the window: the attributions then sum to the change within 1%
CALM, EXCITED = ("level0", "neutral"), ("level2", "anger", "angry", "fear", "happiness", "happy", "surprised")
CLIPS_PER_SPEAKER = 3  # clips whose median F0 stands for a speaker's


def integrated_gradients(module: torch.nn.Module, windows: np.ndarray, sign: float, steps: int = IG_STEPS, baseline=None) -> np.ndarray:
    """Relevance of every cell of ``windows`` (n, frames, bands) to ``sign`` times the mean log-odds of female,
    from ``baseline`` (broadcast to the windows; by default silence: each window at its quietest value, as
    occlusion hides a patch) to the windows themselves."""
    x = torch.as_tensor(windows, dtype=torch.float32)
    if baseline is None:
        baseline = x.amin(dim=(1, 2), keepdim=True).expand_as(x)
    else:
        baseline = torch.as_tensor(np.broadcast_to(baseline, x.shape).copy(), dtype=torch.float32)
    total = torch.zeros_like(x)
    for alpha in (np.arange(steps) + 0.5) / steps:  # the midpoint rule
        point = (baseline + alpha * (x - baseline)).requires_grad_(True)
        logits = module(point)
        score = sign * (logits[:, 1] - logits[:, 0]).mean()
        (gradient,) = torch.autograd.grad(score, point)
        total += gradient
    return ((x - baseline) * total / steps).numpy()


def band_shares(relevance: np.ndarray) -> np.ndarray:
    """Each mel band's share of the positive relevance (rows are bands, columns frames)."""
    positive = np.clip(relevance, 0, None).sum(axis=1)
    return positive / max(float(positive.sum()), 1e-12)


def range_shares(shares: np.ndarray, band_hz: np.ndarray) -> dict[str, float]:
    return {f"{low}-{high} Hz": float(shares[(band_hz >= low) & (band_hz < high)].sum()) for low, high in FREQUENCY_RANGES}


def calm_and_excited(clips: pd.DataFrame) -> pd.DataFrame:
    """The calm and the excited clips of an acted corpus, with a ``state`` column."""
    state = np.where(clips["emotion"].isin(CALM), "calm", np.where(clips["emotion"].isin(EXCITED), "excited", ""))
    return clips.assign(state=state)[state != ""].reset_index(drop=True)


def band_profiles(clips: pd.DataFrame, models: dict, with_gradients: bool = True) -> pd.DataFrame:
    """A row per (clip, model, method, band): the band's share of what spoke for the answer.

    ``models`` maps a name to a ``predict.GenderClassifier``; for the CNN (``cnn``) the
    integrated gradients of its torch twin are added beside occlusion, on the same windows.
    """
    module = load_checkpoint()[0] if with_gradients and "cnn" in models else None
    rows = []
    for name, model in models.items():
        band_hz = band_centres(model.features.n_mels)
        for clip in clips.itertuples():
            explanation = model.explain(clip.path)
            if explanation.p_female is None:
                continue
            found = {"occlusion": band_shares(explanation.relevance)}
            if module is not None and name == "cnn":
                (voiced,) = list(model.voiced([explanation.audio]))
                relevance = integrated_gradients(module, voiced.features, 1.0 if explanation.p_female >= 0.5 else -1.0)
                found["integrated gradients"] = band_shares(relevance.sum(axis=0).T)
            for method, shares in found.items():
                rows += [(clip.path, clip.speaker, clip.gender, clip.state, name, method, explanation.p_female, hz, share)
                         for hz, share in zip(band_hz, shares)]  # fmt: skip
    return pd.DataFrame(rows, columns=["path", "speaker", "gender", "state", "model", "method", "p_female", "band_hz", "share"])


def agreement(profiles: pd.DataFrame) -> pd.DataFrame:
    """Per clip of the CNN: the rank correlation of the two methods' band profiles, and whether they put the
    most relevance in the same of ``FREQUENCY_RANGES``."""
    cnn = profiles[profiles["model"] == "cnn"]
    rows = []
    for path, clip in cnn.groupby("path"):
        wide = clip.pivot(index="band_hz", columns="method", values="share")
        if wide.shape[1] < 2:
            continue
        ranges = {m: range_shares(wide[m].to_numpy(), wide.index.to_numpy()) for m in wide}
        top = {m: max(r, key=r.get) for m, r in ranges.items()}
        rows.append((path, wide["occlusion"].corr(wide["integrated gradients"], method="spearman"),
                     top["occlusion"] == top["integrated gradients"]))  # fmt: skip
    return pd.DataFrame(rows, columns=["path", "spearman", "same_top_range"])


def speaker_pitch(predictions: pd.DataFrame, methods=("encoder", "default"), n_jobs: int | None = None) -> pd.DataFrame:
    """A row per (speaker, method): the speaker's median F0 (over at most ``CLIPS_PER_SPEAKER`` clips) and
    mean p(female) leaving one corpus out."""
    picked = predictions[predictions["method"] == methods[0]].groupby("speaker").head(CLIPS_PER_SPEAKER)
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        f0 = pd.Series(list(pool.map(file_median_f0, picked["path"])), index=picked.index)
    per_speaker = picked.assign(f0=f0).groupby("speaker").agg(corpus=("corpus", "first"), gender=("gender", "first"), f0=("f0", "median"))
    answered = predictions[predictions["method"].isin(methods) & predictions["p_female"].notna()]
    p = answered.groupby(["speaker", "method"])["p_female"].mean().rename("p_female").reset_index()
    return p.merge(per_speaker.reset_index(), on="speaker").dropna(subset=["f0"])


def publish(profiles: pd.DataFrame, pitch: pd.DataFrame, folder: str | Path) -> str:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    profiles.to_csv(folder / "bands.csv.gz", index=False, float_format="%.5g")
    pitch.to_csv(folder / "pitch.csv.gz", index=False, float_format="%.5g")
    return f"published {profiles['path'].nunique()} clips' band profiles and {pitch['speaker'].nunique()} speakers' pitch in {folder}"


def load_published(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = Path(folder)
    return pd.read_csv(folder / "bands.csv.gz"), pd.read_csv(folder / "pitch.csv.gz")


def pooled(profiles: pd.DataFrame) -> pd.DataFrame:
    """Mean band share per (model, method, gender, state, band): the figure's lines."""
    return profiles.groupby(["model", "method", "gender", "state", "band_hz"], as_index=False)["share"].mean()


def pooled_ranges(profiles: pd.DataFrame) -> pd.DataFrame:
    """Mean share per frequency range, by model, method, gender and state: the figure as a table."""
    rows = []
    for key, group in pooled(profiles).groupby(["model", "method", "gender", "state"]):
        rows.append((*key, *range_shares(group["share"].to_numpy(), group["band_hz"].to_numpy()).values()))
    columns = ["model", "method", "gender", "state", *(f"{low}-{high} Hz" for low, high in FREQUENCY_RANGES)]
    return pd.DataFrame(rows, columns=columns)
