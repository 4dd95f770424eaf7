"""What a CNN trains on, in two kinds with one interface: fixed clips, or random crops of augmented views.

* :class:`ClipFeatures`: each clip's loudest second, once (the seed's way). A 15 s
  LibriSpeech utterance gives one example, and the model only sees loud speech.
* :class:`FrameBank`: every clip kept whole as log-mel power in dB, once clean and
  ``n_views - 1`` times augmented; training draws a fresh 1 s crop each time it
  visits a clip, so long clips give many examples, quiet and mid-sentence speech too.

Both give a training set for skorch (``training_set``: a torch dataset with the
``labels`` and ``sample_features`` that ``train.FitInputs`` fits on) and fixed
windows of chosen clips for validation, calibration and scoring (``windows``),
so training code never asks which kind it holds.

A crop's features equal those of the same second computed on its own, because
the dB values are stored relative to 1.0 and only re-referenced to the crop's
loudest bin when it is drawn (as :func:`features.log_mel` does).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from skorch.dataset import Dataset

from ..audio import HOP_LENGTH, N_FRAMES, N_SAMPLES, SAMPLE_RATE
from ..features import TOP_DB, FeatureConfig, log_mel
from ..files import atomic_file
from . import augment, progress_bar
from .augment import Augmenter
from .cache import FEATURE_CODE, cache_path

CROP_FLOOR_DB = 6.0  # a crop holds at least a quarter of the loudest second's energy, so pauses are not drawn
MOST_CROPS = 6  # crops a clip gives per epoch, at most: one per second of audio
EVAL_WINDOWS = 4  # fixed windows of each clip's clean view, for validation and calibration


BALANCES = (None, "folder-gender")


def example_weights(clips: pd.DataFrame, balance: str | None = None) -> np.ndarray:
    """How much each clip counts in training (mean 1): equally (None), or ``"folder-gender"``.

    ``"folder-gender"``: every speaker's clips share one speaker's worth, and each
    folder's women and its men then weigh the same in all, so that 3,000 digits of 59
    Azerbaijani speakers do not outweigh a folder of 9 actors, nor men women.
    """
    if balance not in BALANCES:
        raise ValueError(f"unknown balance {balance!r}: use one of {BALANCES}")
    if balance is None:
        return np.ones(len(clips))
    per_speaker = 1.0 / clips.groupby("speaker")["path"].transform("size").to_numpy()
    group = (clips["source"] if "source" in clips else clips["corpus"]).astype(str) + "/" + clips["gender"].astype(str)  # a folder, else a corpus
    weight = per_speaker / pd.Series(per_speaker, index=clips.index).groupby(group).transform("sum").to_numpy()
    return weight * len(weight) / weight.sum()


def rows_index(rows) -> np.ndarray:
    """Row indices from a boolean mask or from indices."""
    rows = np.asarray(rows)
    return np.flatnonzero(rows) if rows.dtype == bool else rows


class ClipDataset(Dataset):
    """Fixed examples and their labels, as skorch wraps arrays, with what ``FitInputs`` fits on."""

    def labels(self) -> np.ndarray:
        return np.asarray(self.y)

    def sample_features(self) -> np.ndarray:
        return np.asarray(self.X)


@dataclass
class ClipFeatures:
    """Each clip's loudest second as one feature matrix: ``features`` is (clips, frames, width)."""

    features: np.ndarray

    @property
    def n_features(self) -> int:
        return self.features.shape[-1]

    def __str__(self) -> str:
        return f"{len(self.features):,} clips, one {self.features.shape[1]} x {self.n_features} matrix each, {self.features.nbytes / 1e6:.0f} MB"

    def training_set(self, rows, y: np.ndarray, random_state: int = 0, weight: np.ndarray | None = None) -> ClipDataset:
        """The clips at ``rows`` (a ``weight`` per clip is not used: the seed's recipe weighs clips alike)."""
        rows = rows_index(rows)
        return ClipDataset(self.features[rows], np.asarray(y)[rows])

    def windows(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """The clips at ``rows``, one window each: (windows, which clip each window is from)."""
        rows = rows_index(rows)
        return self.features[rows], np.arange(len(rows))


@dataclass
class FrameBank:
    """Log-mel dB frames of every clip and view, stored end to end.

    ``frames`` is (total frames, n_mels) float16; ``bounds[c, v]`` is the (start,
    end) row range of clip ``c``'s view ``v``; ``starts[c, v]`` lists the frame
    offsets a crop may begin at (those as loud as the clip's loud part).
    """

    frames: np.ndarray
    bounds: np.ndarray
    starts: list[list[np.ndarray]]

    @property
    def n_clips(self) -> int:
        return self.bounds.shape[0]

    @property
    def n_views(self) -> int:
        return self.bounds.shape[1]

    @property
    def n_features(self) -> int:
        return self.frames.shape[1]

    def __str__(self) -> str:
        return f"{self.n_clips:,} clips x {self.n_views} views, {len(self.frames):,} frames of {self.n_features} bands, {self.frames.nbytes / 1e6:.0f} MB"

    def seconds(self) -> np.ndarray:
        """Length of each clip's clean view, in seconds."""
        return (self.bounds[:, 0, 1] - self.bounds[:, 0, 0]) * HOP_LENGTH / SAMPLE_RATE

    def crop(self, clip: int, view: int, start: int) -> np.ndarray:
        """The 98-frame crop at ``start`` as model features: dB from the crop's loudest bin."""
        a, _ = self.bounds[clip, view]
        db = self.frames[a + start : a + start + N_FRAMES].astype(np.float32)
        return np.maximum(db - db.max(), -TOP_DB)

    def eval_windows(self, clip: int, per_clip: int = EVAL_WINDOWS) -> np.ndarray:
        """Up to ``per_clip`` evenly spaced crops of the clean view: fixed examples for validation."""
        starts = self.starts[clip][0]
        chosen = starts[np.linspace(0, len(starts) - 1, min(per_clip, len(starts))).round().astype(int)]
        return np.stack([self.crop(clip, 0, int(s)) for s in np.unique(chosen)])

    def subset(self, clips) -> "FrameBank":
        """The bank restricted to the clips at the given indices (frames are shared, not copied)."""
        clips = rows_index(clips)
        return FrameBank(self.frames, self.bounds[clips], [self.starts[c] for c in clips])

    def training_set(self, rows, y: np.ndarray, random_state: int = 0, weight: np.ndarray | None = None) -> "CropDataset":
        """Random crops of random views of the clips at ``rows``, fresh at every visit; with ``weight`` (per clip), clips drawn by it."""
        rows = rows_index(rows)
        return CropDataset(self.subset(rows), np.asarray(y)[rows], random_state=random_state, weight=None if weight is None else np.asarray(weight)[rows])

    def windows(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """Up to four evenly spaced 1 s windows of each clean clip at ``rows``: (windows, which clip each is from)."""
        rows = rows_index(rows)
        windows = [self.eval_windows(int(c)) for c in rows]
        return np.concatenate(windows), np.repeat(np.arange(len(rows)), [len(w) for w in windows])


def crop_starts(db: np.ndarray, floor_db: float = CROP_FLOOR_DB) -> np.ndarray:
    """Frame offsets whose 1 s window is within ``floor_db`` of the loudest 1 s window."""
    if len(db) <= N_FRAMES:
        return np.zeros(1, dtype=np.int32)
    power = np.concatenate([[0.0], np.cumsum(np.sum(10 ** (db / 10), axis=1))])  # running frame power
    window = 10 * np.log10(power[N_FRAMES:] - power[:-N_FRAMES] + 1e-20)
    return np.flatnonzero(window >= window.max() - floor_db).astype(np.int32)


def clip_views(audio: np.ndarray, n_views: int, augmenter: Augmenter, n_mels: int, random_state: int = 0, clip: int = 0) -> list[np.ndarray]:
    """dB frames of one prepared waveform: the clean view, then ``n_views - 1`` augmented ones (``augment.view``), at least 1 s each."""
    views = [augment.view(audio, v, augmenter, random_state, clip) for v in range(n_views)]
    return [log_mel(np.pad(v, (0, max(0, N_SAMPLES - v.size))), n_mels, reference="one").astype(np.float16) for v in views]


def load_frame_bank(
    clips: pd.DataFrame,
    config: FeatureConfig = FeatureConfig("logmel"),
    n_views: int = 3,
    augmenter: Augmenter = Augmenter(),
    random_state: int = 0,
    cache_dir: str | os.PathLike | None = "data/cache",
    n_jobs: int | None = None,
    progress: bool = True,
) -> FrameBank:
    """The frame bank of every clip in the table, cached on disk like ``cache.load_features``.

    Each view has its own generator (``augment.view``), so the bank is the same whether
    it is built in one thread or many, and its views are the embeddings' views.
    """
    if config.kind != "logmel":
        raise ValueError("random crops are taken from log-mel features; the seed's MFCCs use load_features")
    paths = list(clips["path"])
    settings = f"{config.cache_key()}|{n_views}|{augmenter}|{random_state}|{augment.MAX_SECONDS}"
    cache = cache_path(paths, settings, cache_dir, "bank", ".npz", code=(*FEATURE_CODE, "audiogender.lab.augment", __name__))
    if cache is not None and cache.exists():
        with np.load(cache) as stored:
            return _unpack(stored["frames"], stored["bounds"])

    def views(i: int) -> list[np.ndarray]:
        return clip_views(augment.clip_audio(paths[i]), n_views, augmenter, config.n_mels, random_state, i)

    with ThreadPoolExecutor(max_workers=n_jobs or os.cpu_count()) as pool:
        per_clip = list(progress_bar(pool.map(views, range(len(paths))), progress, total=len(paths), desc="views"))
    lengths = np.array([[len(v) for v in clip] for clip in per_clip]).reshape(len(paths), n_views)
    ends = np.cumsum(lengths.ravel()).reshape(lengths.shape)
    bounds = np.stack([ends - lengths, ends], axis=-1)
    frames = np.concatenate([v for clip in per_clip for v in clip]) if per_clip else np.zeros((0, config.n_mels), np.float16)
    if cache is not None:
        with atomic_file(cache, "wb") as f:
            np.savez(f, frames=frames, bounds=bounds)
    return _unpack(frames, bounds)


def _unpack(frames: np.ndarray, bounds: np.ndarray) -> FrameBank:
    starts = [[crop_starts(frames[a:b].astype(np.float32)) for a, b in clip] for clip in bounds]
    return FrameBank(frames, bounds, starts)


def crops_per_clip(seconds: np.ndarray, most: int = MOST_CROPS) -> np.ndarray:
    """How many crops a clip gives per epoch: one per second of audio, at least one, at most ``most``."""
    return np.clip(np.round(seconds).astype(int), 1, most)


class CropDataset(torch.utils.data.Dataset):
    """Random 1 s crops of random views: a fresh example every time a clip is visited.

    Each clip appears ``crops_per_clip`` times per epoch, so long clips give more
    examples, but no more than ``most`` each, so one long corpus does not drown the rest.
    With ``weight`` (one per clip), every example is instead of a clip drawn with
    probability proportional to its weight, for as many examples per epoch. With
    ``soft`` (clips x views), an example's target is its view's p(female) as a
    (male, female) pair, not its label (distillation).
    """

    def __init__(
        self, bank: FrameBank, y: np.ndarray, most: int = MOST_CROPS, random_state: int = 0, weight: np.ndarray | None = None, soft: np.ndarray | None = None
    ):
        self.bank, self.y = bank, np.asarray(y, dtype=np.int64)
        self.soft = None if soft is None else np.asarray(soft, dtype=np.float32)  # (clips, views) p(female) targets, if not the labels
        self.index = np.repeat(np.arange(bank.n_clips), crops_per_clip(bank.seconds(), most))
        self.rng = np.random.default_rng(random_state)
        self.cdf = None if weight is None else np.cumsum(np.asarray(weight, dtype=float))

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        clip = int(self.index[i]) if self.cdf is None else self._draw(self.rng)
        view = int(self.rng.integers(self.bank.n_views))
        starts = self.bank.starts[clip][view]
        start = int(starts[self.rng.integers(len(starts))])
        if self.soft is None:
            return self.bank.crop(clip, view, start), self.y[clip]
        p_female = self.soft[clip, view]
        return self.bank.crop(clip, view, start), np.array([1 - p_female, p_female], np.float32)

    def _draw(self, rng: np.random.Generator, size=None):
        """Clips drawn with probability proportional to their weight."""
        drawn = np.searchsorted(self.cdf, rng.random(size) * self.cdf[-1], side="right")
        return np.minimum(drawn, len(self.cdf) - 1) if size else int(min(drawn, len(self.cdf) - 1))

    def labels(self) -> np.ndarray:
        """The label of every example in an epoch (for class weights); with weights, of a draw as large."""
        if self.cdf is None:
            return self.y[self.index]
        return self.y[self._draw(np.random.default_rng(0), len(self.index))]

    def sample_features(self, n: int = 2000) -> np.ndarray:
        """Crops of clean views, for fitting the feature standardisation."""
        rng = np.random.default_rng(0)
        clips = rng.choice(self.bank.n_clips, size=min(n, self.bank.n_clips), replace=False)
        return np.stack([self.bank.crop(int(c), 0, int(self.bank.starts[c][0][0])) for c in clips])
