"""Features, defined once and used by training and prediction alike.

The seed's recipe: pre-emphasis 0.97, 25 ms Hann windows every 10 ms, no centring,
40 mel bands, 12 cepstral coefficients with a lifter of 22, on a clip of 1 s, giving
a 98 x 12 matrix. The log-mel option keeps the 40 bands (98 x 40), in dB relative to
the clip's loudest bin, so it does not change with the recording's level.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from .audio import HOP_LENGTH, N_FFT, SAMPLE_RATE

PRE_EMPHASIS = 0.97
N_MELS = 40
N_MFCC = 12
LIFTER = 22
TOP_DB = 80.0  # dynamic range kept below the loudest bin, as librosa.power_to_db
FEATURES_VERSION = 1  # bump when the computation changes, so cached features are recomputed


@dataclass(frozen=True)
class FeatureConfig:
    """Which features a model reads: ``"mfcc"`` (the seed's) or ``"logmel"``."""

    kind: str = "mfcc"
    n_mels: int = N_MELS
    n_mfcc: int = N_MFCC

    def __post_init__(self):
        if self.kind not in ("mfcc", "logmel"):
            raise ValueError(f"unknown feature kind {self.kind!r}: use 'mfcc' or 'logmel'")

    @property
    def n_features(self) -> int:
        """Width of the feature matrix (its height is the number of frames)."""
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    def to_dict(self) -> dict:
        return asdict(self)

    def cache_key(self) -> str:
        """Names these features and the code version that computes them."""
        return f"{self.kind}-{self.n_mels}-{self.n_mfcc}-v{FEATURES_VERSION}"


@lru_cache(maxsize=None)
def mel_filters(n_mels: int = N_MELS) -> np.ndarray:
    """The mel filterbank (n_mels x bins), loaded once and reused.

    As Whisper does, the filters librosa defines are stored in ``assets/mel_filters.npz``,
    so classifying a file does not wait a second for librosa to build them (a test
    checks the stored copy against librosa); other sizes are built with librosa.
    """
    with np.load(resources.files("audiogender") / "assets" / "mel_filters.npz") as stored:
        if f"mel_{n_mels}" in stored:
            return stored[f"mel_{n_mels}"]
    import librosa  # slow to import, so only when a size is not stored

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels).astype(np.float32)


@lru_cache(maxsize=None)
def _window() -> np.ndarray:
    """The periodic Hann window librosa uses (``scipy.signal.get_window("hann", N_FFT)``), written out."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


@lru_cache(maxsize=None)
def _dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """The first ``n_mfcc`` rows of the orthonormal DCT-II, as ``scipy.fft.dct(norm="ortho")``."""
    k, n = np.arange(n_mfcc)[:, None], np.arange(n_mels)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels)) * np.sqrt(2.0 / n_mels)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


@lru_cache(maxsize=None)
def _lifter(n_mfcc: int) -> np.ndarray:
    return (1 + (LIFTER / 2) * np.sin(np.pi * np.arange(1, n_mfcc + 1) / LIFTER)).astype(np.float32)


def pre_emphasis(audio: np.ndarray) -> np.ndarray:
    """y[n] = x[n] - 0.97 x[n-1]: lifts the high frequencies that speech loses."""
    return np.concatenate([audio[..., :1], audio[..., 1:] - PRE_EMPHASIS * audio[..., :-1]], axis=-1)


def power_spectrogram(audio: np.ndarray) -> np.ndarray:
    """|STFT|^2 of frames without centring: (..., samples) -> (..., frames, bins).

    scipy's FFT, because on float32 frames it is about four times faster than numpy's.
    """
    from scipy import fft  # imported here: a third of a second that only feature extraction needs

    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT, axis=-1)[..., ::HOP_LENGTH, :]
    spectrum = fft.rfft(frames * _window(), axis=-1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


def log_mel(audio: np.ndarray, n_mels: int = N_MELS, reference: str = "max") -> np.ndarray:
    """Mel power in dB: (..., samples) -> (..., frames, n_mels).

    ``reference="max"`` measures from each clip's loudest bin (level-free);
    ``"one"`` measures from 1.0, as ``librosa.power_to_db`` does by default.
    """
    mel = power_spectrogram(pre_emphasis(audio)) @ mel_filters(n_mels).T
    if reference == "max":  # a ratio to the loudest bin: scaling the audio changes nothing
        peak = np.maximum(mel.max(axis=(-2, -1), keepdims=True), 1e-20)
        return 10.0 * np.log10(np.maximum(mel / peak, 10 ** (-TOP_DB / 10)))
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    return np.maximum(db, db.max(axis=(-2, -1), keepdims=True) - TOP_DB)


def mfcc(audio: np.ndarray, n_mfcc: int = N_MFCC, n_mels: int = N_MELS) -> np.ndarray:
    """The seed's MFCCs: (..., samples) -> (..., frames, n_mfcc), as librosa computes them."""
    db = log_mel(audio, n_mels, reference="one")
    cepstra = db @ _dct_matrix(n_mfcc, n_mels).T
    return (cepstra * _lifter(n_mfcc)).astype(np.float32)


def compute_features(audio: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Features of one prepared clip or a batch of them: (..., samples) -> (..., frames, width)."""
    audio = np.asarray(audio, dtype=np.float32)
    if config.kind == "mfcc":
        return mfcc(audio, config.n_mfcc, config.n_mels)
    return log_mel(audio, config.n_mels).astype(np.float32)
