"""Classifying recordings: any length, any rate, one file or thousands.

A recording is read a block (60 s) at a time, so memory does not grow with its
length. Its DC offset is removed, voice activity detection finds where someone
speaks, and the voiced stretches are cut into pieces of at most 5 s, each set to a
normal level and cut into 1 s windows every 0.5 s for the network. A recording's
p(female) comes from the mean over all its windows of the log-odds of female; a
piece's from the mean over its own (:meth:`GenderClassifier.segment`). Log-odds,
not probabilities, because a mean of probabilities drifts towards 0.5 as a
recording gets longer, so long recordings came out underconfident (calibration
error 0.095 on LibriSpeech, 0.022 with log-odds). Too little speech answers "no voice".

The network runs in ONNX Runtime when the model has an ONNX twin (see
``runtime``), so classifying a file does not wait for torch to import.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import chain

import numpy as np

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
from .features import N_FRAMES, FeatureConfig, compute_features
from .runtime import checkpoint_path, onnx_twin, sigmoid
from .vad import MIN_SPEECH_SECONDS, VAD_THRESHOLD, speech_regions

WINDOW_HOP = N_SAMPLES // 2  # windows overlap by half
NO_VOICE = "no voice"
UNCERTAIN = "uncertain"
UNCERTAIN_BAND = (0.4, 0.6)  # p(female) strictly inside this band is too close to call
PIECE_SECONDS = 5.0  # longer voiced stretches are judged in pieces, so a change of speaker shows


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
    """Who speaks when: the voiced stretches of a recording, the speaking time per label,
    and the whole recording's answer (``prediction``, the one :meth:`GenderClassifier.predict` gives)."""

    path: str | None
    duration_seconds: float
    segments: list[Segment]
    prediction: Prediction | None = field(default=None, repr=False)

    def speaking_seconds(self) -> dict[str, float]:
        """Seconds of speech per label (female, male, uncertain)."""
        totals = {"female": 0.0, "male": 0.0, UNCERTAIN: 0.0}
        for segment in self.segments:
            totals[segment.label] += segment.end - segment.start
        return {label: round(float(seconds), 2) for label, seconds in totals.items()}


def stretch_windows(stretch: np.ndarray) -> np.ndarray:
    """1 s windows every 0.5 s over a stretch of samples; a shorter stretch is zero-padded to one."""
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
    level = loud_level(audio)
    return normalize_level(audio, level=level), level >= SILENCE_RMS


def split_long(regions: list[tuple[int, int]], longest: int = int(PIECE_SECONDS * SAMPLE_RATE)) -> list[tuple[int, int]]:
    """Cut stretches longer than ``longest`` samples into near-equal pieces no longer than it."""
    pieces = []
    for start, end in regions:
        count = -(-(end - start) // longest)
        bounds = np.linspace(start, end, count + 1).astype(int)
        pieces += [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
    return pieces


@dataclass
class VoicedBlock:
    """What the network is shown of one block of a recording: its voiced pieces (sample
    bounds in the block), the features of their windows, and how many windows each has."""

    samples: int
    speech_seconds: float
    pieces: list[tuple[int, int]]
    features: np.ndarray
    counts: list[int]


def voiced_block(
    block: np.ndarray,
    config: FeatureConfig,
    vad_threshold: float = VAD_THRESHOLD,
    min_speech_seconds: float = MIN_SPEECH_SECONDS,
) -> VoicedBlock:
    """Find the speech in a 16 kHz block and turn it into window features.

    Each piece (a voiced stretch, cut to at most 5 s) is set to a normal level on its
    own, as training clips were, and cut into 1 s windows every 0.5 s. With less than
    ``min_speech_seconds`` of speech there are no pieces.
    """
    audio, has_signal = level_for_detection(block)
    regions = speech_regions(audio, vad_threshold, min_speech_seconds) if has_signal else []
    speech = sum(end - start for start, end in regions) / SAMPLE_RATE
    pieces = split_long(regions) if regions and speech >= min_speech_seconds else []
    windows = [stretch_windows(normalize_level(audio[s:e])) for s, e in pieces]
    features = compute_features(np.concatenate(windows), config) if windows else np.zeros((0, N_FRAMES, config.n_features), np.float32)
    return VoicedBlock(block.size, speech, pieces, features, [len(w) for w in windows])


class GenderClassifier:
    """A trained CNN with its feature settings and voice detection: what :func:`load_model` returns.

    ``network`` is anything with a ``log_odds(features)`` method (an
    :class:`runtime.OnnxNetwork`, a :class:`model.TorchNetwork`), or a torch module,
    which is wrapped to run on ``device``.
    """

    classes = ("male", "female")

    def __init__(
        self,
        network,
        features: FeatureConfig,
        meta: dict | None = None,
        device: str = "auto",
        vad_threshold: float = VAD_THRESHOLD,
        min_speech_seconds: float = MIN_SPEECH_SECONDS,
        uncertain_band: tuple[float, float] = UNCERTAIN_BAND,
    ):
        if not hasattr(network, "log_odds"):
            from .model import TorchNetwork

            network = TorchNetwork(network, device)
        self.network = network
        self.device = network.device
        self.features = features
        self.meta = meta or {}
        self.vad_threshold = vad_threshold
        self.min_speech_seconds = min_speech_seconds
        self.uncertain_band = tuple(uncertain_band)

    def label(self, p_female: float) -> str:
        """``female`` or ``male``, or ``uncertain`` strictly inside the uncertain band."""
        low, high = self.uncertain_band
        return UNCERTAIN if low < p_female < high else self.classes[int(p_female >= 0.5)]

    def log_odds_features(self, features: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Calibrated log(p(female) / p(male)) of each feature matrix in a batch (windows x frames x width)."""
        out = [self.network.log_odds(features[start : start + batch_size]) for start in range(0, len(features), batch_size)]
        return np.concatenate(out) if out else np.zeros(0)

    def predict(self, audio, sample_rate: int | None = None) -> Prediction:
        """Classify a file path, or an array of samples at ``sample_rate`` (default 16 kHz).

        A file is read a block (60 s) at a time, so memory does not grow with its
        length; p(female) is from the mean log-odds over the voiced windows of all blocks. Raises
        :class:`AudioError` for a file that cannot be read.
        """
        return self.segment(audio, sample_rate).prediction

    def segment(self, audio, sample_rate: int | None = None) -> Timeline:
        """The voiced stretches of a recording (a path, or samples at ``sample_rate``), each classified.

        Stretches longer than 5 s are judged in pieces, so a change of speaker shows;
        a file is read a block at a time, as in :meth:`predict`. The timeline's
        ``prediction`` is the whole recording's answer, from the same windows.
        """
        return self._timeline(*self._blocks(audio, sample_rate))

    def _timeline(self, path: str | None, blocks) -> Timeline:
        """:meth:`segment` of a recording given as an iterator of 16 kHz blocks."""
        segments, log_odds_sum, n_windows, speech, offset = [], 0.0, 0, 0.0, 0
        for voiced in self._voiced_blocks(blocks):
            log_odds = self.log_odds_features(voiced.features)
            edges = np.cumsum([0] + voiced.counts)
            for (start, end), a, b in zip(voiced.pieces, edges[:-1], edges[1:]):
                p_female = float(sigmoid(log_odds[a:b].mean()))
                seconds = (round((offset + start) / SAMPLE_RATE, 3), round((offset + end) / SAMPLE_RATE, 3))
                segments.append(Segment(*seconds, self.label(p_female), round(p_female, 4)))
            log_odds_sum, n_windows, speech = log_odds_sum + float(log_odds.sum()), n_windows + len(log_odds), speech + voiced.speech_seconds
            offset += voiced.samples
        prediction = self._answer(path, log_odds_sum, n_windows, speech, offset)
        return Timeline(path, round(offset / SAMPLE_RATE, 3), segments, prediction)

    def _voiced(self, block: np.ndarray) -> VoicedBlock:
        return voiced_block(block, self.features, self.vad_threshold, self.min_speech_seconds)

    def _voiced_blocks(self, blocks):
        """Each block's :class:`VoicedBlock`; a thread reads and prepares the next block while the network judges this one."""
        blocks = iter(blocks)

        def prepare_next():
            block = next(blocks, None)
            return None if block is None else self._voiced(block)

        with ThreadPoolExecutor(max_workers=1) as ahead:  # one worker, so the blocks are read in order
            pending = ahead.submit(prepare_next)
            while (voiced := pending.result()) is not None:
                pending = ahead.submit(prepare_next)
                yield voiced

    def _answer(self, path, log_odds_sum: float, n_windows: int, speech_seconds: float, samples: int) -> Prediction:
        """A recording's Prediction from the sum of its windows' log-odds of female: ``no voice`` if it has none."""
        duration = round(samples / SAMPLE_RATE, 3)
        if n_windows == 0:
            return Prediction(path, NO_VOICE, None, round(speech_seconds, 3), duration)
        p_female = float(sigmoid(log_odds_sum / n_windows))
        return Prediction(path, self.label(p_female), round(p_female, 4), round(speech_seconds, 3), duration)

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

        ``n_jobs`` threads (default: one per core) read each file, find its speech and
        take its features, while the network judges the windows of the batch before,
        ``batch_size`` files at once. A file longer than one 60 s block is judged block
        by block, as :meth:`predict` does, by the thread that reads it. A file that
        fails gets a Prediction with its error, and the rest go on.
        """
        paths = list(paths)
        batches = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
        with ThreadPoolExecutor(max_workers=n_jobs or os.cpu_count() or 1) as pool:
            pending = [pool.submit(self._prepare_file, p) for p in batches[0]] if batches else []
            for k, batch in enumerate(batches):
                ready, pending = pending, [pool.submit(self._prepare_file, p) for p in batches[k + 1]] if k + 1 < len(batches) else []
                yield from self._judge_batch(batch, [f.result() for f in ready])

    def _prepare_file(self, path) -> tuple[str, object]:
        """("short", VoicedBlock) for a file of one block, to be judged with its batch;
        ("done", Prediction) for a longer one, judged here block by block as it is read (once);
        ("error", reason) if it cannot be read."""
        blocks = stream_audio(path)
        try:
            first = next(blocks)
            second = next(blocks, None)
            if second is not None:
                return "done", self._timeline(str(path), chain([first, second], blocks)).prediction
        except AudioError as error:
            return "error", error.reason
        finally:
            blocks.close()
        return "short", self._voiced(first)

    def _judge_batch(self, paths: list, prepared: list[tuple[str, object]]) -> list[Prediction]:
        """The network on all windows of a batch's short files at once; long files were judged as they were read."""
        voiced = [value for kind, value in prepared if kind == "short"]
        features = [v.features for v in voiced if len(v.features)]
        log_odds = self.log_odds_features(np.concatenate(features)) if features else np.zeros(0)
        edges = np.cumsum([0] + [len(v.features) for v in voiced])
        answers, shorts = [], iter(zip(voiced, edges[:-1], edges[1:]))
        for path, (kind, value) in zip(paths, prepared):
            if kind == "error":
                answers.append(Prediction.failed(path, value))
            elif kind == "done":
                answers.append(value)
            else:
                v, a, b = next(shorts)
                answers.append(self._answer(str(path), float(log_odds[a:b].sum()), b - a, v.speech_seconds, v.samples))
        return answers


def load_model(path: str | os.PathLike | None = None, device: str = "auto", **options) -> GenderClassifier:
    """Load a trained model: the one shipped inside the package, or a ``model.pt`` / run folder.

    On ``device`` ``"auto"`` or ``"cpu"``, the checkpoint's ONNX twin runs in ONNX
    Runtime when it has one (no torch is imported: a cold start is fast); otherwise,
    or on ``"cuda"`` / ``"mps"``, torch runs the checkpoint itself. ``options``
    (``vad_threshold``, ``min_speech_seconds``, ``uncertain_band``) go to
    :class:`GenderClassifier`.
    """
    checkpoint = checkpoint_path(path)
    if (device or "auto") in ("auto", "cpu") and (twin := onnx_twin(checkpoint)) is not None:
        return GenderClassifier(twin, twin.features, twin.meta, **options)
    from .model import load_checkpoint

    network, features, meta = load_checkpoint(checkpoint)
    return GenderClassifier(network, features, meta, device, **options)
