"""Features, defined once and used by training and prediction alike.

* ``mfcc``, the seed's: pre-emphasis 0.97, 25 ms Hann windows every 10 ms, no
  centring, 40 mel bands, 12 cepstral coefficients with a lifter of 22, on a window
  of 1 s, giving a 98 x 12 matrix.
* ``logmel``, our CNN's: the 40 bands (98 x 40), in dB relative to the window's
  loudest bin, so it does not change with the recording's level.
* ``mel``, the GE2E speaker encoder's: mel power itself (not its log), frames
  centred as librosa centres them, no pre-emphasis, on 1.6 s windows (160 x 40),
  as Resemblyzer computes them.

A :class:`FeatureConfig` also says how long the windows a network judges are and
how far apart, so a recording is cut into windows the same way in training and in
prediction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from .audio import CLIP_SECONDS, HOP_LENGTH, N_FFT, SAMPLE_RATE
from .shipped import MEL_FILTERS_FILE, asset_path

PRE_EMPHASIS = 0.97
N_MELS = 40
N_MFCC = 12
LIFTER = 22
TOP_DB = 80.0  # dynamic range kept below the loudest bin, as librosa.power_to_db
KINDS = ("mfcc", "logmel", "mel")


@dataclass(frozen=True)
class FeatureConfig:
    """Which features a network reads (``kind``, see the module's docstring), and the windows it judges."""

    kind: str = "mfcc"
    n_mels: int = N_MELS
    n_mfcc: int = N_MFCC
    window_seconds: float = CLIP_SECONDS  # each window the network judges
    hop_seconds: float = CLIP_SECONDS / 2  # between the starts of neighbouring windows
    pad_start: bool = False  # a stretch shorter than a window is padded before it (so it ends the window), not after

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown feature kind {self.kind!r}: use one of {', '.join(KINDS)}")

    @property
    def n_features(self) -> int:
        """Width of the feature matrix (its height is the number of frames)."""
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * SAMPLE_RATE))

    @property
    def hop_samples(self) -> int:
        return int(round(self.hop_seconds * SAMPLE_RATE))

    @property
    def n_frames(self) -> int:
        """Frames in one window: centred frames (``mel``) also cover its two ends."""
        if self.kind == "mel":
            return 1 + self.window_samples // HOP_LENGTH
        return 1 + (self.window_samples - N_FFT) // HOP_LENGTH

    def to_dict(self) -> dict:
        return asdict(self)

    def cache_key(self) -> str:
        """Names these features (the code that computes them is keyed by ``lab.cache``)."""
        return "-".join(f"{value}" for value in asdict(self).values())


@lru_cache(maxsize=None)
def mel_filters(n_mels: int = N_MELS) -> np.ndarray:
    """The mel filterbank (n_mels x bins), loaded once and reused.

    As Whisper does, the filters librosa defines are stored in ``assets/mel_filters.npz``
    (a test checks the stored copy against librosa); other sizes are built by
    :func:`slaney_mel_filters`, the same formula, without librosa.
    """
    with np.load(asset_path(MEL_FILTERS_FILE)) as stored:
        if f"mel_{n_mels}" in stored:
            return stored[f"mel_{n_mels}"]
    return slaney_mel_filters(n_mels)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (3 mel per 200 Hz), logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1000.0) / 1000.0) / (np.log(6.4) / 27.0), linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


def band_centres(n_mels: int = N_MELS) -> np.ndarray:
    """The centre frequency (Hz) of each of :func:`mel_filters`' bands."""
    return _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), n_mels + 2))[1:-1]


def slaney_mel_filters(n_mels: int, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """Triangular mel filters with Slaney's scale and area normalisation: ``librosa.filters.mel``'s defaults."""
    bins = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2))
    ramps = edges[:, None] - bins[None, :]
    widths = np.diff(edges)
    rising, falling = -ramps[:-2] / widths[:-1, None], ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(rising, falling)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


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


def power_spectrogram(audio: np.ndarray, center: bool = False) -> np.ndarray:
    """|STFT|^2 of 25 ms frames every 10 ms: (..., samples) -> (..., frames, bins).

    Without ``center`` the first frame starts at the first sample (the seed's way);
    with it, frames are centred on every 10th ms and the ends padded with zeros, as
    ``librosa.stft`` does. numpy's FFT: scipy's is twice as fast on float32 frames (0.07
    ms a 1-s clip), but importing it took longer than judging the clip that needs it.
    """
    if center:
        audio = np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(N_FFT // 2, N_FFT // 2)])
    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT, axis=-1)[..., ::HOP_LENGTH, :]
    spectrum = np.fft.rfft(frames * _window(), axis=-1)
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


def mel_power(audio: np.ndarray, n_mels: int = N_MELS) -> np.ndarray:
    """Mel power of centred frames, no pre-emphasis, no log: (..., samples) -> (..., frames, n_mels).

    What ``librosa.feature.melspectrogram`` gives with its defaults, and so what the
    GE2E speaker encoder (Resemblyzer) was trained on.
    """
    return (power_spectrogram(audio, center=True) @ mel_filters(n_mels).T).astype(np.float32)


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
    if config.kind == "mel":
        return mel_power(audio, config.n_mels)
    return log_mel(audio, config.n_mels).astype(np.float32)
