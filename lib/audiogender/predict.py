"""Classifying recordings: any length, any rate, one file or thousands.

A recording is prepared like the training clips (DC removed, level normalised),
cut into 1 s windows every 0.5 s, and the windows that carry signal are classified
in one batch; the recording's p(female) is the mean over those windows.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .audio import (
    N_SAMPLES,
    SAMPLE_RATE,
    SILENCE_RMS,
    AudioError,
    load_audio,
    loud_level,
    normalize_level,
    remove_dc,
    to_model_rate,
)
from .device import pick_device
from .features import FeatureConfig, compute_features
from .model import load_checkpoint

WINDOW_HOP = N_SAMPLES // 2  # windows overlap by half
QUIET_WINDOW = 0.25  # windows below this fraction of the loud level are pauses, not voice
NO_VOICE = "no voice"


@dataclass
class Prediction:
    """One recording's answer: ``label`` is ``male``, ``female`` or ``no voice``; ``error`` is set when it failed."""

    path: str | None
    label: str | None
    p_female: float | None
    duration_seconds: float | None
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def voiced_windows(audio: np.ndarray) -> np.ndarray:
    """The prepared recording as 1 s windows (windows x samples), pauses left out.

    Short recordings are zero-padded to one window; a recording with no signal gives none.
    """
    audio = remove_dc(audio)
    if loud_level(audio) < SILENCE_RMS:
        return np.zeros((0, N_SAMPLES), dtype=np.float32)
    audio = normalize_level(audio)
    if audio.size <= N_SAMPLES:
        return np.pad(audio, (0, N_SAMPLES - audio.size))[None]
    starts = np.arange(0, audio.size - N_SAMPLES + WINDOW_HOP, WINDOW_HOP)
    audio = np.pad(audio, (0, max(0, starts[-1] + N_SAMPLES - audio.size)))
    windows = np.stack([audio[s : s + N_SAMPLES] for s in starts])
    rms = np.sqrt(np.mean(np.square(windows), axis=1))
    return windows[rms >= QUIET_WINDOW * rms.max()]


class GenderClassifier:
    """A trained CNN with its feature settings: what :func:`load_model` returns."""

    classes = ("male", "female")

    def __init__(self, network: torch.nn.Module, features: FeatureConfig, meta: dict | None = None, device: str = "auto"):
        self.device = pick_device(device)
        self.network = network.to(self.device).eval()
        self.features = features
        self.meta = meta or {}

    def predict_proba_features(self, features: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """p(female) of each feature matrix in a batch (windows x frames x width)."""
        out = []
        with torch.inference_mode():
            for start in range(0, len(features), batch_size):
                batch = torch.as_tensor(features[start : start + batch_size], device=self.device)
                out.append(torch.softmax(self.network(batch), dim=1)[:, 1].cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def predict(self, audio, sample_rate: int | None = None) -> Prediction:
        """Classify a file path, or an array of samples at ``sample_rate`` (default 16 kHz).

        Raises :class:`AudioError` for a file that cannot be read.
        """
        if isinstance(audio, (str, os.PathLike)):
            path, waveform = str(audio), load_audio(audio)
        else:
            path, waveform = None, to_model_rate(np.asarray(audio), sample_rate or SAMPLE_RATE)
        windows = voiced_windows(waveform)
        duration = round(waveform.size / SAMPLE_RATE, 3)
        if len(windows) == 0:
            return Prediction(path, NO_VOICE, None, duration)
        p_female = float(self.predict_proba_features(compute_features(windows, self.features)).mean())
        return Prediction(path, self.classes[int(p_female >= 0.5)], round(p_female, 4), duration)

    def predict_files(self, paths):
        """Classify each file in turn; a file that fails gets a Prediction with its error."""
        for path in paths:
            try:
                yield self.predict(path)
            except AudioError as error:
                yield Prediction(str(path), None, None, None, error.reason)


def load_model(path: str | os.PathLike | None = None, device: str = "auto") -> GenderClassifier:
    """Load a trained model: the one shipped inside the package, or a ``model.pt`` / run folder."""
    network, features, meta = load_checkpoint(path)
    return GenderClassifier(network, features, meta, device)
