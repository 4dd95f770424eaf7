"""Classifying recordings: any length, any rate, one file or thousands.

A recording is read a block (60 s) at a time, so memory does not grow with its
length. Its DC offset is removed, voice activity detection finds where someone
speaks, the level is normalised on those stretches, and they are cut into 1 s
windows every 0.5 s and classified in one batch; the recording's p(female) is the
mean over those windows. Too little speech answers "no voice".
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .audio import (
    BLOCK_SECONDS,
    N_SAMPLES,
    SAMPLE_RATE,
    SILENCE_RMS,
    AudioError,
    loud_level,
    normalize_level,
    remove_dc,
    stream_audio,
    to_model_rate,
)
from .device import pick_device
from .features import FeatureConfig, compute_features
from .model import load_checkpoint
from .vad import MIN_SPEECH_SECONDS, VAD_THRESHOLD, batch_speech_regions, speech_regions

WINDOW_HOP = N_SAMPLES // 2  # windows overlap by half
NO_VOICE = "no voice"
UNCERTAIN = "uncertain"
UNCERTAIN_BAND = (0.4, 0.6)  # p(female) strictly inside this band is too close to call
SEGMENT_SECONDS = 5.0  # longer voiced stretches are judged in pieces, so a change of speaker shows


@dataclass
class Prediction:
    """One recording's answer.

    ``label`` is ``male``, ``female``, ``uncertain`` (p_female inside the uncertain
    band) or ``no voice`` (less than the minimum of speech to judge); ``p_female`` is the probability that the voice is female; ``error`` is
    set, and the rest empty, when the recording could not be read.
    """

    path: str | None
    label: str | None
    p_female: float | None
    speech_seconds: float | None
    duration_seconds: float | None
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def failed(cls, path, reason: str) -> "Prediction":
        """The answer for a recording that could not be read."""
        return cls(str(path), None, None, None, None, reason)


@dataclass
class Segment:
    """One voiced stretch of a recording: seconds from the start, its label and p(female)."""

    start: float
    end: float
    label: str
    p_female: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Timeline:
    """Who speaks when: the voiced stretches of a recording and the speaking time per label."""

    path: str | None
    duration_seconds: float
    segments: list[Segment]

    def speaking_seconds(self) -> dict[str, float]:
        """Seconds of speech per label (female, male, uncertain)."""
        totals = {"female": 0.0, "male": 0.0, UNCERTAIN: 0.0}
        for segment in self.segments:
            totals[segment.label] += segment.end - segment.start
        return {label: round(float(seconds), 2) for label, seconds in totals.items()}


def region_windows(audio: np.ndarray, start: int, end: int) -> np.ndarray:
    """1 s windows every 0.5 s over ``audio[start:end]``; a shorter stretch is zero-padded to one."""
    stretch = audio[start:end]
    if stretch.size <= N_SAMPLES:
        return np.pad(stretch, (0, N_SAMPLES - stretch.size))[None]
    starts = np.arange(0, stretch.size - N_SAMPLES + WINDOW_HOP, WINDOW_HOP)
    stretch = np.pad(stretch, (0, max(0, starts[-1] + N_SAMPLES - stretch.size)))
    return np.stack([stretch[s : s + N_SAMPLES] for s in starts])


def level_for_detection(audio: np.ndarray) -> tuple[np.ndarray, bool]:
    """The waveform without DC and at a normal level, and whether it holds any signal at all.

    DC is removed first (an offset makes silence look loud) and the level normalised
    before detection, because the detector is not level-free: quiet speech would be missed.
    """
    audio = remove_dc(audio)
    if loud_level(audio) < SILENCE_RMS:
        return audio, False
    return normalize_level(audio), True


def find_speech(
    audio: np.ndarray, vad_threshold: float = VAD_THRESHOLD, min_speech_seconds: float = MIN_SPEECH_SECONDS
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The waveform ready for detection (see :func:`level_for_detection`) and its voiced stretches (none for silence)."""
    audio, has_signal = level_for_detection(audio)
    return audio, speech_regions(audio, vad_threshold, min_speech_seconds) if has_signal else []


def speech_windows(audio: np.ndarray, regions: list[tuple[int, int]], min_speech_seconds: float = MIN_SPEECH_SECONDS) -> tuple[np.ndarray, float]:
    """The voiced stretches as 1 s windows, and the seconds of speech (no windows if too little).

    The level is set from the voiced stretches, as the training clips' level was set
    from their loud part.
    """
    speech = sum(end - start for start, end in regions)
    if not regions or speech < min_speech_seconds * SAMPLE_RATE:
        return np.zeros((0, N_SAMPLES), dtype=np.float32), speech / SAMPLE_RATE
    audio = normalize_level(audio, reference=np.concatenate([audio[start:end] for start, end in regions]))
    return np.concatenate([region_windows(audio, start, end) for start, end in regions]), speech / SAMPLE_RATE


def voiced_windows(
    audio: np.ndarray, vad_threshold: float = VAD_THRESHOLD, min_speech_seconds: float = MIN_SPEECH_SECONDS
) -> tuple[np.ndarray, float]:
    """The voiced stretches of a 16 kHz waveform as 1 s windows, and the seconds of speech."""
    audio, regions = find_speech(audio, vad_threshold, min_speech_seconds)
    return speech_windows(audio, regions, min_speech_seconds)


def length_groups(lengths: list[int], waste: float = 2.0) -> list[list[int]]:
    """Indices grouped by similar length, so padding a group to its longest costs at most ``waste`` times its samples."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    for i in order:
        group = groups[-1] if groups else None
        if group and (len(group) + 1) * lengths[i] <= waste * (sum(lengths[j] for j in group) + lengths[i]):
            group.append(i)
        else:
            groups.append([i])
    return groups


def split_long(regions: list[tuple[int, int]], longest: int = int(SEGMENT_SECONDS * SAMPLE_RATE)) -> list[tuple[int, int]]:
    """Cut stretches longer than ``longest`` samples into near-equal pieces no longer than it."""
    pieces = []
    for start, end in regions:
        count = -(-(end - start) // longest)
        bounds = np.linspace(start, end, count + 1).astype(int)
        pieces += [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
    return pieces


class GenderClassifier:
    """A trained CNN with its feature settings: what :func:`load_model` returns."""

    classes = ("male", "female")

    def __init__(
        self,
        network: torch.nn.Module,
        features: FeatureConfig,
        meta: dict | None = None,
        device: str = "auto",
        vad_threshold: float = VAD_THRESHOLD,
        min_speech_seconds: float = MIN_SPEECH_SECONDS,
        uncertain_band: tuple[float, float] = UNCERTAIN_BAND,
    ):
        self.device = pick_device(device)
        self.network = network.to(self.device).eval()
        self.features = features
        self.meta = meta or {}
        self.vad_threshold = vad_threshold
        self.min_speech_seconds = min_speech_seconds
        self.uncertain_band = tuple(uncertain_band)

    def label(self, p_female: float) -> str:
        """``female`` or ``male``, or ``uncertain`` strictly inside the uncertain band."""
        low, high = self.uncertain_band
        return UNCERTAIN if low < p_female < high else self.classes[int(p_female >= 0.5)]

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

        A file is read a block (60 s) at a time, so memory does not grow with its
        length; p(female) is the mean over the voiced windows of all blocks. Raises
        :class:`AudioError` for a file that cannot be read.
        """
        path, blocks = self._blocks(audio, sample_rate)
        p_sum, n_windows, speech, samples = 0.0, 0, 0.0, 0
        for block in blocks:
            samples += block.size
            windows, block_speech = voiced_windows(block, self.vad_threshold, self.min_speech_seconds)
            speech += block_speech
            if len(windows):
                p_sum += float(self.predict_proba_features(compute_features(windows, self.features)).sum())
                n_windows += len(windows)
        return self._answer(path, p_sum, n_windows, speech, samples)

    def _answer(self, path, p_sum: float, n_windows: int, speech_seconds: float, samples: int) -> Prediction:
        """A recording's Prediction from the sum of its windows' p(female): ``no voice`` if it has none."""
        duration = round(samples / SAMPLE_RATE, 3)
        if n_windows == 0:
            return Prediction(path, NO_VOICE, None, round(speech_seconds, 3), duration)
        p_female = p_sum / n_windows
        return Prediction(path, self.label(p_female), round(p_female, 4), round(speech_seconds, 3), duration)

    def segment(self, audio, sample_rate: int | None = None) -> Timeline:
        """The voiced stretches of a recording (a path, or samples at ``sample_rate``), each classified.

        Stretches longer than 5 s are judged in pieces, so a change of speaker shows;
        a file is read a block at a time, as in :meth:`predict`.
        """
        path, blocks = self._blocks(audio, sample_rate)
        segments, offset = [], 0
        for block in blocks:
            segments += self._segment_block(block, offset)
            offset += block.size
        return Timeline(path, round(offset / SAMPLE_RATE, 3), segments)

    def _segment_block(self, block: np.ndarray, offset: int) -> list[Segment]:
        audio, regions = find_speech(block, self.vad_threshold, self.min_speech_seconds)
        regions = split_long(regions)
        if not regions:
            return []
        windows = [region_windows(normalize_level(audio[s:e]), 0, e - s) for s, e in regions]
        p_windows = self.predict_proba_features(compute_features(np.concatenate(windows), self.features))
        edges = np.cumsum([0] + [len(w) for w in windows])
        segments = []
        for (start, end), a, b in zip(regions, edges[:-1], edges[1:]):
            p_female = float(p_windows[a:b].mean())
            seconds = (round((offset + start) / SAMPLE_RATE, 3), round((offset + end) / SAMPLE_RATE, 3))
            segments.append(Segment(*seconds, self.label(p_female), round(p_female, 4)))
        return segments

    @staticmethod
    def _blocks(audio, sample_rate: int | None):
        """(path or None, iterator of 16 kHz mono blocks) of a file path or an array of samples."""
        if isinstance(audio, (str, os.PathLike)):
            return str(audio), stream_audio(audio)
        waveform = to_model_rate(np.asarray(audio), sample_rate or SAMPLE_RATE)
        step = int(BLOCK_SECONDS * SAMPLE_RATE)
        return None, (waveform[i : i + step] for i in range(0, waveform.size, step))

    def predict_files(self, paths, n_jobs: int | None = None, batch_size: int = 64):
        """Classify files, yielding one Prediction per file, in order.

        Files are read ``n_jobs`` at a time in threads (default: one per core), and
        short ones (up to one 60 s block) are judged ``batch_size`` at a time: voice
        detection on a batch of similar lengths, the network on all their windows at
        once. Longer files go through :meth:`predict` block by block. A file that
        fails gets a Prediction with its error, and the rest go on.
        """
        paths = list(paths)
        with ThreadPoolExecutor(max_workers=n_jobs or os.cpu_count() or 1) as pool:
            for start in range(0, len(paths), batch_size):
                batch = paths[start : start + batch_size]
                yield from self._predict_batch(batch, list(pool.map(_read_short, batch)))

    def _predict_batch(self, paths: list, loaded: list[tuple[str, object]]) -> list[Prediction]:
        results: dict[int, Prediction] = {}
        short: dict[int, np.ndarray] = {}
        for i, (path, (kind, value)) in enumerate(zip(paths, loaded)):
            if kind == "error":
                results[i] = Prediction.failed(path, value)
            elif kind == "long":
                results[i] = self._predict_or_error(path)
            else:
                short[i] = value
        ready = {i: level_for_detection(w) for i, w in short.items()}
        regions: dict[int, list] = {i: [] for i in short}
        voiced = [i for i in short if ready[i][1]]
        for group in length_groups([short[i].size for i in voiced]):
            members = [voiced[g] for g in group]
            found = batch_speech_regions([ready[i][0] for i in members], self.vad_threshold, self.min_speech_seconds)
            regions.update(zip(members, found))
        windows = {i: speech_windows(ready[i][0], regions[i], self.min_speech_seconds) for i in short}
        stacked = [windows[i][0] for i in short if len(windows[i][0])]
        p_windows = self.predict_proba_features(compute_features(np.concatenate(stacked), self.features)) if stacked else np.zeros(0)
        offset = 0
        for i, (w, speech) in windows.items():
            p_sum = float(p_windows[offset : offset + len(w)].sum())
            offset += len(w)
            results[i] = self._answer(str(paths[i]), p_sum, len(w), speech, short[i].size)
        return [results[i] for i in range(len(paths))]

    def _predict_or_error(self, path) -> Prediction:
        try:
            return self.predict(path)
        except AudioError as error:
            return Prediction.failed(path, error.reason)


def _read_short(path) -> tuple[str, object]:
    """("short", waveform) for a file of one block, ("long", None) for a longer one, ("error", reason) if unreadable."""
    blocks = stream_audio(path)
    try:
        first = next(blocks)
        return ("long", None) if next(blocks, None) is not None else ("short", first)
    except AudioError as error:
        return ("error", error.reason)
    finally:
        blocks.close()


def load_model(path: str | os.PathLike | None = None, device: str = "auto", **options) -> GenderClassifier:
    """Load a trained model: the one shipped inside the package, or a ``model.pt`` / run folder.

    ``options`` (``vad_threshold``, ``min_speech_seconds``, ``uncertain_band``) go to :class:`GenderClassifier`.
    """
    network, features, meta = load_checkpoint(path)
    return GenderClassifier(network, features, meta, device, **options)
