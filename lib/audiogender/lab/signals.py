"""Sounds that are not a voice, made to order: what the voice detector must answer "no voice" to, beside real recordings.

Each kind is a family a microphone meets and a detector trained on speech alone
mistakes for it: noise of several colours, pure tones, chords, hums with their
harmonics, buzzes (harmonic tones with a voice-like pitch), clipped square waves,
clicks, DTMF key tones, sweeps, and silence. :func:`signal` draws one of a kind at
random; :func:`signals` a set of every kind. All are 16 kHz mono float32.
"""

from __future__ import annotations

import numpy as np

from ..audio import SAMPLE_RATE
from .augment import coloured_noise

DTMF_ROWS, DTMF_COLUMNS = (697, 770, 852, 941), (1209, 1336, 1477, 1633)  # Hz: a key is one of each
KINDS = ("white noise", "pink noise", "brown noise", "tone", "chord", "hum", "buzz", "square wave", "clicks", "dtmf", "sweep", "silence")


def harmonics(f0: float, t: np.ndarray, top_hz: float = 4000.0, rolloff: float = 1.0) -> np.ndarray:
    """A sum of the harmonics of ``f0`` up to ``top_hz``, each 1/k^rolloff as loud as the first."""
    k = np.arange(1, max(2, int(top_hz // f0) + 1))
    return (np.sin(2 * np.pi * f0 * k[:, None] * t) / k[:, None] ** rolloff).sum(0)


def signal(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """One sound of ``kind`` (one of :data:`KINDS`), ``seconds`` long, at a random level."""
    n = max(1, int(seconds * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    if kind.endswith("noise"):
        wave = coloured_noise(n, {"white noise": 0.0, "pink noise": 1.0, "brown noise": 2.0}[kind], rng)
    elif kind == "tone":
        wave = np.sin(2 * np.pi * rng.uniform(60, 4000) * t)
    elif kind == "chord":
        root = rng.uniform(110, 440)
        wave = sum(harmonics(root * ratio, t, rolloff=2.0) for ratio in (1.0, 1.26, 1.5))  # a major triad, organ-like
    elif kind == "hum":
        wave = harmonics(rng.choice([50.0, 60.0]), t, top_hz=1000.0, rolloff=1.5)  # mains hum
    elif kind == "buzz":
        wave = harmonics(rng.uniform(80, 300), t)  # a voice's pitch, without a voice's changes
    elif kind == "square wave":
        wave = np.clip(3 * np.sin(2 * np.pi * rng.uniform(80, 1000) * t), -1, 1)
    elif kind == "clicks":
        wave = np.zeros(n)
        wave[:: max(1, int(SAMPLE_RATE / rng.uniform(2, 40)))] = 1.0
    elif kind == "dtmf":
        wave = np.zeros(n)
        tone, gap = int(0.1 * SAMPLE_RATE), int(0.06 * SAMPLE_RATE)
        for start in range(0, n, tone + gap):
            piece = t[start : start + tone]
            wave[start : start + tone] = np.sin(2 * np.pi * rng.choice(DTMF_ROWS) * piece) + np.sin(2 * np.pi * rng.choice(DTMF_COLUMNS) * piece)
    elif kind == "sweep":
        low, high = sorted(rng.uniform(100, 6000, 2))
        wave = np.sin(2 * np.pi * np.cumsum(np.geomspace(low, high, n)) / SAMPLE_RATE)
    elif kind == "silence":
        return np.zeros(n, np.float32)
    else:
        raise ValueError(f"unknown kind of signal {kind!r}: use one of {', '.join(KINDS)}")
    peak = max(float(np.abs(wave).max()), 1e-9)
    return (wave / peak * 10 ** (rng.uniform(-30, -3) / 20)).astype(np.float32)


def signals(seconds: float, random_state: int = 0) -> dict[str, np.ndarray]:
    """One sound of every kind, ``seconds`` long."""
    rng = np.random.default_rng(random_state)
    return {kind: signal(kind, seconds, rng) for kind in KINDS}
