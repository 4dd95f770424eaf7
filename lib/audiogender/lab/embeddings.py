"""What a head on the speaker encoder trains on: each clip's voice embedding, as recorded and augmented.

A clip's embedding is computed exactly as ``audiogender predict`` computes a
recording's: voice detection finds the voiced pieces, each is cut into 1.6 s windows
(``ge2e.ENCODER_FEATURES``), GE2E embeds every window, and the clip is the mean of
its windows' embeddings made unit length again (``runtime.unit_mean``). So a head
fitted on these judges what prediction will give it. Clips in which voice detection
finds too little speech are embedded whole (``voiced`` is False for them), so every
clip counts in training. Views after the first are augmented (``augment``), as the
CNN's are, so the head learns what does not change with rooms, lines and pitch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..audio import AudioStream
from ..files import atomic_file
from ..runtime import SpeakerEncoder, file_sha256, unit_mean
from ..scheduler import Source, judge
from ..shipped import VOICE_FILE, asset_path
from ..windows import piece_features, voiced_blocks
from . import augment, progress_bar
from .augment import Augmenter
from .cache import FEATURE_CODE, cache_path
from .datasets import rows_index
from .ge2e import EMBEDDING_SIZE, ENCODER_FEATURES, shipped_encoder


@dataclass
class ClipEmbeddings:
    """Unit embeddings of every clip and view: ``embeddings`` is (clips, views, 256); ``voiced[c, v]`` says voice detection found speech."""

    embeddings: np.ndarray
    voiced: np.ndarray

    n_clips = property(lambda self: self.embeddings.shape[0])
    n_views = property(lambda self: self.embeddings.shape[1])
    n_features = property(lambda self: self.embeddings.shape[2])  # EMBEDDING_SIZE

    def __str__(self) -> str:
        return f"{self.n_clips:,} clips x {self.n_views} views, {self.n_features}-dimensional embeddings, {int((~self.voiced[:, 0]).sum())} clips embedded whole (no voice found)"

    def training_set(self, rows, y: np.ndarray, random_state: int = 0, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(embeddings, labels, weights) of every view of the clips at ``rows``: a clip's weight is shared by its views."""
        rows = rows_index(rows)
        weight = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
        X = self.embeddings[rows].reshape(-1, self.n_features)
        return X, np.repeat(np.asarray(y)[rows], self.n_views), np.repeat(weight[rows] / self.n_views, self.n_views)

    def windows(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """The clean embedding of each clip at ``rows`` (what prediction judges), and which clip each is."""
        rows = rows_index(rows)
        return self.embeddings[rows, 0], np.arange(len(rows))


def _view_source(path: str, view: int, clip: int, augmenter: Augmenter, random_state: int) -> Source:
    def blocks():
        yield augment.view(augment.clip_audio(path), view, augmenter, random_state, clip)

    return Source(f"{path}#{view}", lambda: AudioStream(blocks()))


def _whole(path: str, encoder: SpeakerEncoder) -> np.ndarray:
    """The embedding of a whole clip, for clips in which voice detection finds too little speech."""
    return unit_mean(encoder.embed(piece_features(augment.clip_audio(path), ENCODER_FEATURES)))


def load_embeddings(
    clips: pd.DataFrame, n_views: int = 1, augmenter: Augmenter = Augmenter(), random_state: int = 0,
    cache_dir: str | os.PathLike | None = "data/cache", n_jobs: int | None = None, progress: bool = True,
) -> ClipEmbeddings:  # fmt: skip
    """Every clip's embedding in ``n_views`` views (the first as recorded), cached on disk like the CNN's training data."""
    paths = list(clips["path"])
    # the windows depend on the voice decision: its code and its weights
    settings = f"{ENCODER_FEATURES.cache_key()}|{n_views}|{augmenter}|{random_state}|{file_sha256(asset_path(VOICE_FILE))}"
    code = (*FEATURE_CODE, "audiogender.vad", "audiogender.voice", "audiogender.windows", "audiogender.settings", "audiogender.runtime", "audiogender.lab.augment",
            "audiogender.lab.ge2e", __name__)  # fmt: skip
    cache = cache_path(paths, settings, cache_dir, "embeddings", ".npz", code)
    if cache is not None and cache.exists():
        with np.load(cache) as stored:
            return ClipEmbeddings(stored["embeddings"], stored["voiced"])
    encoder = shipped_encoder()
    sources = (_view_source(p, v, c, augmenter, random_state) for c, p in enumerate(paths) for v in range(n_views))
    prepare_blocks = lambda blocks: voiced_blocks(blocks, ENCODER_FEATURES)  # noqa: E731
    embed = lambda features: encoder.embed(features) if len(features) else np.zeros((0, EMBEDDING_SIZE), np.float32)  # noqa: E731
    embeddings = np.zeros((len(paths), n_views, EMBEDDING_SIZE), np.float32)
    voiced = np.zeros((len(paths), n_views), bool)
    for judged in progress_bar(judge(sources, prepare_blocks, embed, n_jobs), progress, total=len(paths) * n_views, desc="embeddings"):
        clip, view = divmod(judged.index, n_views)
        if judged.error is not None:
            raise ValueError(f"{paths[clip]}: {judged.error.reason}")
        if judged.tally.outputs:
            embeddings[clip, view], voiced[clip, view] = unit_mean(np.concatenate(judged.tally.outputs)), True
        else:
            embeddings[clip, view] = _whole(paths[clip], encoder) if view == 0 else embeddings[clip, 0]
    if cache is not None:
        with atomic_file(cache, "wb") as f:
            np.savez(f, embeddings=embeddings, voiced=voiced)
    return ClipEmbeddings(embeddings, voiced)
