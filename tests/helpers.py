"""Signals and paths the tests share."""

import csv
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
SAMPLES = DATA / "samples"
AUDIOMNIST_SAMPLE = DATA / "audiomnist-sample"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def harmonic_tone(f0: float, seconds: float = 1.0, rate: int = 16_000, amplitude: float = 0.3) -> np.ndarray:
    """A buzz with harmonics up to 4 kHz: a crude voiced sound with a given pitch."""
    t = np.arange(int(seconds * rate)) / rate
    harmonics = np.arange(1, int(4000 // f0) + 1)
    wave = (np.sin(2 * np.pi * f0 * harmonics[:, None] * t) / harmonics[:, None]).sum(0)
    return (amplitude * wave / np.abs(wave).max()).astype(np.float32)


def manifest(folder: Path) -> list[dict]:
    """The rows of a folder's manifest.csv, paths made whole (without the lab's pandas reader)."""
    with open(folder / "manifest.csv", newline="") as f:
        return [{**row, "path": str(folder / row["path"])} for row in csv.DictReader(f)]
