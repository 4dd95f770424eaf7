"""What the models listened to, over many clips: the evidence behind chapter 5's section on explanations.

- :func:`lrp`: the CNN's relevance by layer-wise relevance propagation (the epsilon
  rule, batch normalisation folded into each convolution), AudioMNIST's paper's method,
  written for ``GenderCNN`` in torch; :func:`integrated_gradients` (Sundararajan et
  al. 2017) is a second gradient method. They check the product's maps
  (``audiogender.explain``, which fades each patch) on the same clips (:func:`agreement`).
- :func:`band_profiles`: each clip's share of the relevance per mel band, by the
  product's maps, for both shipped models (and LRP beside them for the CNN), over the
  calm and the excited clips of one folder.
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
import torch.nn.functional as F
from torch import nn

from ..explain import FREQUENCY_RANGES, PATCH_BANDS, PATCH_FRAMES, first_frames, map_frames, placed
from ..features import band_centres
from .baselines import file_median_f0
from .evaluate import CALM, EXCITED
from .networks import load_checkpoint

PUBLISHED = "book/results/listening"
LRP_EPSILON = 1e-6  # the epsilon rule's stabiliser: small, so that relevance is kept, not absorbed
IG_STEPS = 32  # points on the path from silence to the window: the attributions then sum to the change within 1%
CLIPS_PER_SPEAKER = 3  # clips whose median F0 stands for a speaker's


def integrated_gradients(module: torch.nn.Module, windows: np.ndarray, sign: float, steps: int = IG_STEPS, baseline=None) -> np.ndarray:
    """Relevance of every cell of ``windows`` (n, frames, bands) to ``sign`` times the mean log-odds of female,
    from ``baseline`` (broadcast to the windows; by default silence: each window at its quietest value, the
    floor ``explain`` fades toward with ``to_silence``) to the windows themselves."""
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


def folded(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights and bias of a convolution followed by batch normalisation (as it runs in evaluation), as one."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    bias = norm.bias - norm.running_mean * scale + (conv.bias * scale if conv.bias is not None else 0.0)
    return (conv.weight * scale[:, None, None, None]).detach(), bias.detach()


def epsilon_rule(inputs: torch.Tensor, layer, relevance: torch.Tensor, epsilon: float = LRP_EPSILON) -> torch.Tensor:
    """LRP's epsilon rule through ``layer`` (linear in its input, or a max): each input's share of the relevance
    of the outputs it fed, in proportion to its contribution (Montavon et al. 2019, the autograd form)."""
    inputs = inputs.detach().requires_grad_(True)
    z = layer(inputs)
    z = z + epsilon * torch.where(z >= 0, 1.0, -1.0)
    (contribution,) = torch.autograd.grad(z, inputs, (relevance / z).detach())
    return (inputs * contribution).detach()


def lrp(module: nn.Module, windows: np.ndarray, sign: float) -> np.ndarray:
    """Relevance of every cell of ``windows`` (n, frames, bands) to ``sign`` times each window's log-odds of female,
    by the epsilon rule through a ``GenderCNN`` (standardised input, conv blocks, mean and max over time, dense).

    Its reference is the standardisation's mean: a cell at the training mean has no relevance.
    """
    module = module.eval()
    with torch.no_grad():
        x = module.standardize(torch.as_tensor(windows, dtype=torch.float32)).unsqueeze(1)
        layers, inputs = [], []
        for block in module.features:
            conv1, norm1, _, conv2, norm2, _, pool = block
            for weight, bias in (folded(conv1, norm1), folded(conv2, norm2)):
                layers.append(lambda t, w=weight, b=bias: F.conv2d(t, w, b, padding=1))
                inputs.append(x)
                x = F.relu(layers[-1](x))
            layers.append(pool)
            inputs.append(x)
            x = pool(x)
        over_time = lambda t: torch.cat([t.mean(dim=2), t.amax(dim=2)], dim=1).flatten(1)  # noqa: E731
        dense, last = module.classifier[1], module.classifier[4]
        pooled = over_time(x)
        hidden = F.relu(dense(pooled))
        weight, bias = (last.weight[1] - last.weight[0]) * sign, (last.bias[1] - last.bias[0]) * sign
        female = lambda t: t @ weight + bias  # noqa: E731
        relevance = female(hidden)
    relevance = epsilon_rule(hidden, female, relevance)
    relevance = epsilon_rule(pooled, dense, relevance)
    relevance = epsilon_rule(x, over_time, relevance)
    for layer, seen in zip(reversed(layers), reversed(inputs)):
        relevance = epsilon_rule(seen, layer, relevance)
    return relevance[:, 0].numpy()


def on_map_grid(relevance: np.ndarray, voiced, config, n_samples: int) -> np.ndarray:
    """Relevance per cell of each judged window (n, frames, bands) on the grid of ``audiogender.explain``'s map
    of a recording of ``n_samples``: summed per patch, then spread over its frames as the product spreads its own."""
    n_windows, n_frames, n_bands = relevance.shape
    padded = np.pad(relevance, ((0, 0), (0, -n_frames % PATCH_FRAMES), (0, 0)))
    patches = padded.reshape(n_windows, -1, PATCH_FRAMES, n_bands // PATCH_BANDS, PATCH_BANDS).sum(axis=(2, 4))
    return placed(patches, first_frames(voiced, config), map_frames(n_samples))


def lrp_map(module: nn.Module, model, audio: np.ndarray, sign: float) -> np.ndarray:
    """LRP's map of a recording (16 kHz) as ``model`` (the CNN's ``predict.GenderClassifier``) judges it, on
    the product's grid."""
    (voiced,) = list(model.voiced([audio]))
    relevance = lrp(module, voiced.features, sign) / len(voiced.features)  # the recording is judged by the windows' mean
    return on_map_grid(relevance, voiced, model.features, len(audio))


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


MAP, LRP = "fading (explain)", "LRP"  # the methods' names in the published profiles


def band_profiles(clips: pd.DataFrame, models: dict, with_lrp: bool = True) -> pd.DataFrame:
    """A row per (clip, model, method, band): the band's share of what spoke for the answer.

    ``models`` maps a name to a ``predict.GenderClassifier``; for the CNN (``cnn``) LRP on
    its torch twin is added beside the product's map, on the same windows and grid.
    """
    module = load_checkpoint()[0] if with_lrp and "cnn" in models else None
    rows = []
    for name, model in models.items():
        band_hz = band_centres(model.features.n_mels)
        for clip in clips.itertuples():
            explanation = model.explain(clip.path)
            if explanation.p_female is None:
                continue
            found = {MAP: band_shares(explanation.relevance)}
            if module is not None and name == "cnn":
                sign = 1.0 if explanation.p_female >= 0.5 else -1.0
                found[LRP] = band_shares(lrp_map(module, model, explanation.audio, sign))
            for method, shares in found.items():
                rows += [(clip.path, clip.speaker, clip.gender, clip.state, name, method, explanation.p_female, hz, share)
                         for hz, share in zip(band_hz, shares)]  # fmt: skip
    return pd.DataFrame(rows, columns=["path", "speaker", "gender", "state", "model", "method", "p_female", "band_hz", "share"])


def top_group(shares: np.ndarray) -> int:
    """Which group of ``PATCH_BANDS`` adjacent mel bands (the map's own resolution) carries most relevance."""
    return int(np.argmax(shares.reshape(-1, PATCH_BANDS).sum(axis=1)))


def agreement(profiles: pd.DataFrame) -> pd.DataFrame:
    """Per clip of the CNN: the rank correlation of the product's and LRP's band profiles, and whether they put
    the most relevance in the same group of four mel bands and in the same of ``FREQUENCY_RANGES``."""
    cnn = profiles[profiles["model"] == "cnn"]
    rows = []
    for path, clip in cnn.groupby("path"):
        wide = clip.pivot(index="band_hz", columns="method", values="share").sort_index()
        if wide.shape[1] < 2:
            continue
        ranges = {m: range_shares(wide[m].to_numpy(), wide.index.to_numpy()) for m in wide}
        top = {m: max(r, key=r.get) for m, r in ranges.items()}
        rows.append((path, clip["gender"].iloc[0], clip["state"].iloc[0], wide[MAP].corr(wide[LRP], method="spearman"),
                     top_group(wide[MAP].to_numpy()) == top_group(wide[LRP].to_numpy()), top[MAP] == top[LRP]))  # fmt: skip
    return pd.DataFrame(rows, columns=["path", "gender", "state", "spearman", "same_top_group", "same_top_range"])


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
