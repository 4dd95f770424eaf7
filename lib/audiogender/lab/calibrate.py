"""Scoring fixed windows with a torch network, and calibrating it: one temperature, fitted on held-out speakers.

Temperature scaling (Guo et al. 2017) divides the log-odds by one number chosen to
best predict the validation clips' labels. It never changes a decision, only what
p(female) means; a single number cannot overfit the validation speakers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..labels import female_log_odds, sigmoid

# temperatures fit_temperature chooses from (log-spaced); pooled log-odds of long recordings may want sharpening well below 1
TEMPERATURE_RANGE = (0.05, 10.0)
TEMPERATURE_STEPS = 101


def window_logits(network: torch.nn.Module, windows: np.ndarray, batch_size: int = 512) -> torch.Tensor:
    """Uncalibrated logits of a batch of windows, on the network's device."""
    device = next(network.parameters()).device
    network.eval()
    with torch.inference_mode():
        out = [network.logits(torch.as_tensor(windows[i : i + batch_size], device=device)) for i in range(0, len(windows), batch_size)]
    return torch.cat(out).cpu() if out else torch.zeros((0, 2))


def clip_log_odds(logits: torch.Tensor, owner: np.ndarray, n_clips: int) -> np.ndarray:
    """Each clip's mean over its windows of the (uncalibrated) log-odds of female, as prediction pools them."""
    log_odds = female_log_odds(logits.numpy())
    return np.bincount(owner, log_odds, minlength=n_clips) / np.maximum(np.bincount(owner, minlength=n_clips), 1)


def speaker_weights(speakers) -> np.ndarray:
    """1 / (the speaker's number of clips) for each clip, so that every speaker counts once."""
    speakers = pd.Series(np.asarray(speakers))
    return 1.0 / speakers.map(speakers.value_counts()).to_numpy(dtype=float)


def fit_temperature(network: torch.nn.Module, data, rows: np.ndarray, y: np.ndarray, speakers=None) -> float:
    """Set the network's temperature to the one that best predicts these clips' labels (least log loss).

    ``data`` is the training data (``datasets.ClipFeatures`` or ``FrameBank``) and
    ``rows`` the validation clips in it, never test ones. With ``speakers`` (one per
    clip) every speaker weighs the same, however many clips they have: otherwise
    fifty AudioMNIST digits of one speaker outweigh fifty LibriSpeech readers, and
    long recordings come out miscalibrated.
    """
    windows, owner = data.windows(rows)
    log_odds = clip_log_odds(window_logits(network, windows), owner, len(y))  # the temperature only divides these
    best = best_temperature(log_odds, y, speakers)
    network.temperature.fill_(best)
    return best


def best_temperature(log_odds: np.ndarray, y: np.ndarray, speakers=None) -> float:
    """The temperature (from :data:`TEMPERATURE_RANGE`) that best predicts ``y`` from ``log_odds`` (least log loss).

    With ``speakers`` (one per clip) every speaker weighs the same.
    """
    weight = np.ones(len(y)) if speakers is None else speaker_weights(speakers)
    temperatures = np.exp(np.linspace(np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1]), TEMPERATURE_STEPS))
    losses = []
    for t in temperatures:
        p = np.clip(sigmoid(log_odds / t), 1e-6, 1 - 1e-6)
        losses.append(-np.sum(weight * (y * np.log(p) + (1 - y) * np.log(1 - p))))
    return float(temperatures[int(np.argmin(losses))])


def predict_clips(network: torch.nn.Module, data, rows: np.ndarray) -> np.ndarray:
    """Calibrated p(female) of the clips at ``rows`` of the training data, from their fixed windows."""
    windows, owner = data.windows(rows)
    n_clips = int(owner.max(initial=-1)) + 1
    return sigmoid(clip_log_odds(window_logits(network, windows), owner, n_clips) / float(network.temperature))
