"""Classifying recordings: any length, any rate, one file or thousands.

A recording is read a block (60 s) at a time, so memory does not grow with its
length; each block's voiced pieces are cut into windows (``windows``), the network
judges the windows, and :meth:`GenderClassifier.answer` turns a recording's judged windows into its
timeline and its answer. A recording's p(female) comes from the mean over all its
windows of the log-odds of female; a piece's from the mean over its own. Log-odds,
not probabilities, because a mean of probabilities drifts towards 0.5 as a
recording gets longer, so long recordings came out underconfident (calibration
error 0.095 on LibriSpeech, 0.022 with log-odds). Too little speech answers "no voice".

Nothing here imports torch: the network is an ONNX file run by ONNX Runtime
(``runtime``), so classifying a file does not wait for torch to import.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from .audio import BLOCK_SECONDS, SAMPLE_RATE, AudioStream, stream_audio, to_model_rate
from .explain import Explanation, explain
from .labels import GENDERS, NO_VOICE, UNCERTAIN, sigmoid
from .runtime import ModelError, Network, load_network
from .scheduler import BATCH_WINDOWS, Source, Tally, judge
from .settings import Settings
from .shipped import DEFAULT_MODEL, SHIPPED_MODELS, asset_path
from .voice import VoiceDetector, shipped_detector
from .windows import VoicedBlock, voiced_blocks


@dataclass
class Prediction:
    """One recording's answer.

    ``label`` is ``male``, ``female``, ``uncertain`` (p_female inside the uncertain
    band), ``mixed`` (substantial speech of both, see :meth:`settings.Settings.label_of_recording`)
    or ``no voice`` (less than the minimum of speech to judge); ``p_female`` is
    the probability that the voice is female, over all its speech; ``female_seconds``
    and ``male_seconds`` are the speaking time its timeline gives each; ``warning``
    says what was wrong with the file that did not stop it being read (it ends
    before its header says); ``error`` is set, and the rest empty, when the
    recording could not be read.
    """

    path: str | None
    label: str | None
    p_female: float | None
    speech_seconds: float | None
    duration_seconds: float | None
    female_seconds: float | None = None
    male_seconds: float | None = None
    warning: str | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def failed(cls, path, reason: str) -> "Prediction":
        """The answer for a recording that could not be read."""
        return cls(str(path), None, None, None, None, error=reason)


PREDICTION_FIELDS = [f.name for f in fields(Prediction)]  # a row of predict's output: path, label, p_female, ..., error


@dataclass
class Segment:
    """One voiced stretch of a recording: seconds from the start, its label and p(female)."""

    start: float
    end: float
    label: str
    p_female: float

    def to_dict(self) -> dict:
        return asdict(self)


SEGMENT_FIELDS = [f.name for f in fields(Segment)]  # a row of segment's output: start, end, label, p_female


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
        totals = {GENDERS[1]: 0.0, GENDERS[0]: 0.0, UNCERTAIN: 0.0}
        for segment in self.segments:
            totals[segment.label] += segment.end - segment.start
        return {label: round(float(seconds), 2) for label, seconds in totals.items()}

    def to_dict(self) -> dict:
        """What ``audiogender segment --format json`` prints: the stretches and the speaking time."""
        return {"path": self.path, "duration_seconds": self.duration_seconds, "segments": [s.to_dict() for s in self.segments],
                "speaking_seconds": self.speaking_seconds()}  # fmt: skip


def file_source(path: str | os.PathLike, max_seconds: float | None = None) -> Source:
    """A file to judge, read a block at a time (refused past ``max_seconds`` of audio)."""
    return Source(str(path), lambda: stream_audio(path, max_seconds=max_seconds))


def array_source(samples, sample_rate: int | None = None) -> Source:
    """An array of samples to judge: resampled to 16 kHz now (a bad array raises here), then cut into blocks."""
    waveform = to_model_rate(samples, SAMPLE_RATE if sample_rate is None else sample_rate)
    step = int(BLOCK_SECONDS * SAMPLE_RATE)
    return Source(None, lambda: AudioStream(waveform[i : i + step] for i in range(0, waveform.size, step)))


class GenderClassifier:
    """A trained network with voice detection and the rules for answering: what :func:`load_model` returns.

    ``network`` is any :class:`runtime.Network`: a CNN or a head on the speaker
    encoder run by ONNX Runtime, or, in the lab, a network being evaluated.
    ``settings`` (:class:`settings.Settings`) set the voice detector and the uncertain band;
    ``detector`` decides whether a sound holds a voice (default: ``voice.shipped_detector()``).
    """

    def __init__(self, network: Network, settings: Settings = Settings(), detector: VoiceDetector | None = None):
        self.network = network
        self.settings = settings
        self.detector = detector or shipped_detector()
        self.features = network.features
        self.meta = network.meta

    def window_outputs(self, features: np.ndarray, batch_size: int = BATCH_WINDOWS) -> np.ndarray:
        """What the network keeps of each window until its group is judged (log-odds, or embeddings), a row each."""
        out = [self.network.window_outputs(features[start : start + batch_size]) for start in range(0, len(features), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def voiced(self, blocks) -> Iterator[VoicedBlock]:
        """A recording's 16 kHz blocks as voiced pieces and window features, with this classifier's detector settings."""
        return voiced_blocks(blocks, self.features, self.settings, self.detector)

    def answer(self, tally: Tally) -> Timeline:
        """A recording's timeline and answer from its judged windows: the one place windows become an answer.

        Each piece is one group of windows, judged by the network's pooled log-odds
        (the CNN: the mean of their log-odds; the encoder: its head on their mean
        embedding), and the whole recording another. No windows: ``no voice``.
        """
        segments = []
        for (start, end), outputs in zip(tally.pieces, tally.outputs):
            p_female = float(sigmoid(self.network.pooled_log_odds(outputs)))
            seconds = round(start / SAMPLE_RATE, 3), round(end / SAMPLE_RATE, 3)
            segments.append(Segment(*seconds, self.settings.label_for(p_female), round(p_female, 4)))
        duration, speech = round(tally.samples / SAMPLE_RATE, 3), round(tally.speech_seconds, 3)
        timeline = Timeline(tally.name, duration, segments)
        spoken = timeline.speaking_seconds()
        female, male, warning = spoken[GENDERS[1]], spoken[GENDERS[0]], "; ".join(tally.warnings) or None
        if not tally.outputs:
            prediction = Prediction(tally.name, NO_VOICE, None, speech, duration, female, male, warning)
        else:
            p_female = float(sigmoid(self.network.pooled_log_odds(np.concatenate(tally.outputs))))
            label = self.settings.label_of_recording(p_female, female, male)
            prediction = Prediction(tally.name, label, round(p_female, 4), speech, duration, female, male, warning)
        timeline.prediction = prediction
        return timeline

    def predict(self, audio, sample_rate: int | None = None, **reading) -> Prediction:
        """Classify a file path, or an array of samples at ``sample_rate`` (default 16 kHz).

        A file is read a block (60 s) at a time, so memory does not grow with its
        length. Raises :class:`AudioError` for a file that cannot be read; ``reading``
        as for :meth:`segment`.
        """
        return self.segment(audio, sample_rate, **reading).prediction

    def segment(self, audio, sample_rate: int | None = None, max_seconds: float | None = None, cancel: threading.Event | None = None) -> Timeline:
        """The voiced stretches of a recording (a path, or samples at ``sample_rate``), each classified.

        Stretches longer than 5 s are judged in pieces, so a change of speaker shows.
        The timeline's ``prediction`` is the whole recording's answer, from the same
        windows. One thread reads and prepares the next block while the network
        judges this one. A file past ``max_seconds`` of audio raises ``audio.TooLong``;
        once ``cancel`` is set, the work stops and ``scheduler.Cancelled`` is raised.
        """
        source = file_source(audio, max_seconds) if isinstance(audio, (str, os.PathLike)) else array_source(audio, sample_rate)
        (judged,) = self._judge([source], n_jobs=1, cancel=cancel)
        if judged.error is not None:
            raise judged.error
        return self.answer(judged.tally)

    def predict_files(
        self, paths, n_jobs: int | None = None, batch_windows: int = BATCH_WINDOWS, max_seconds: float | None = None, cancel: threading.Event | None = None
    ) -> Iterator[Prediction]:
        """Classify files, yielding one Prediction per file, in order.

        ``n_jobs`` threads (default: one per core) read the files and prepare their
        windows while the network judges up to ``batch_windows`` windows at a time
        (see ``scheduler``). A file that fails gets a Prediction with its error, and
        the rest go on; ``max_seconds`` and ``cancel`` as for :meth:`segment`.
        """
        sources = (file_source(path, max_seconds) for path in paths)
        for judged in self._judge(sources, n_jobs, batch_windows, cancel):
            yield Prediction.failed(judged.name, judged.error.reason) if judged.error is not None else self.answer(judged.tally).prediction

    def explain(self, audio, sample_rate: int | None = None, **options) -> Explanation:
        """What the network listened to: the answer for a recording (at most a minute; a path, or samples at
        ``sample_rate``) and a relevance map over its time and mel bands (``options``: see ``explain.explain``)."""
        return explain(self, audio, sample_rate, **options)

    def _judge(self, sources, n_jobs: int | None = None, batch_windows: int = BATCH_WINDOWS, cancel: threading.Event | None = None):
        return judge(sources, self.voiced, self.window_outputs, n_jobs, batch_windows, cancel)

    def __repr__(self) -> str:
        return f"GenderClassifier({self.network.describe()})"


def shipped_model_path(kind: str = DEFAULT_MODEL) -> Path:
    """The ONNX file of a model that ships inside the package (a key of :data:`shipped.SHIPPED_MODELS`)."""
    if kind not in SHIPPED_MODELS:
        raise ModelError(f"no shipped model of kind {kind!r}: use one of {', '.join(SHIPPED_MODELS)}, or a model file")
    return asset_path(SHIPPED_MODELS[kind])


def load_model(
    path: str | os.PathLike | None = None,
    device: str = "auto",
    threads: int | None = None,
    kind: str | None = None,
    settings: Settings | None = None,
    **changes,
) -> GenderClassifier:
    """Load a trained model: one shipped inside the package, or an exported one.

    ``kind`` names a shipped model (``cnn``: our small CNN; ``encoder``: a head on a
    pretrained speaker encoder; None: :data:`shipped.DEFAULT_MODEL`); ``path`` is instead an
    ``.onnx`` file, a ``.pt`` checkpoint with its ONNX twin beside it, or a run folder
    (a shipped kind's name works there too). The network runs in ONNX Runtime, on
    ``device`` (``auto``: a CUDA GPU if onnxruntime-gpu sees one, else the CPU), with
    ``threads`` intra-op threads (None: one per core). ``settings`` (default:
    :class:`settings.Settings`'s defaults), and ``changes`` to any of its fields
    (``vad_threshold``, ``min_speech_seconds``, ``uncertain_band``), set how it answers.
    Raises :class:`runtime.ModelError` for a model that cannot be used, ValueError for settings that make no sense.
    """
    if path is not None and kind is not None:
        raise ValueError("give a model's path or a shipped kind, not both")
    settings = dataclasses.replace(settings or Settings(), **changes)
    if path is None or str(path) in SHIPPED_MODELS:
        path = shipped_model_path(kind or (str(path) if path is not None else DEFAULT_MODEL))
    return GenderClassifier(load_network(path, threads, device), settings)
