"""Whether a sound holds a voice at all: the decision a dog, a drill or a piano must come out of as "no voice".

Silero VAD alone let about 3 in 10 of 696 recordings of street sounds, animals and
instruments through, and heard no speech at all in some shouted or frightened
voices. So the decision is learned (``lab.detector``): a small CNN, trained on speech of
ten corpora against street and machine sounds, animals, instruments and made-up
signals, judges every 1 s window of a sound's 40-band log-mel (the features our
gender CNN reads, so the CNN model computes them once), and a logistic head weighs
what the windows say (their mean, highest and upper-quartile log-odds) with, where
it is unsure, what Silero hears (its highest speech probability and the share of
chunks above its threshold).

* A short recording (up to 5 s) is first cut to its sounding part (:func:`active_span`).
  The CNN decides alone where its head is sure; Silero is run only for the rest.
  ``speech_seconds`` is then the length of the sounding part, if it is a voice.
* A long recording's stretches are found by Silero (``vad``), and the head, given
  both, judges each piece Silero is unsure of (:func:`silero_is_sure`): a dog barking
  in an interview is dropped, not called a man.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .audio import HOP_LENGTH, N_FFT, SAMPLE_RATE, SILENCE_RMS, frame_rms, level_of_frames, quantile
from .labels import female_log_odds
from .runtime import OnnxFile
from .shipped import VOICE_FILE, asset_path

ACTIVE_DB = 30.0  # a frame this far below the recording's loud level, or further, is silence around the sound
ACTIVE_PAD_SECONDS = 0.05  # kept either side of the sounding part
HEAD_KEY = "voice_head"  # ONNX metadata of the detector: its head, as JSON
# A long recording's stretch that Silero hears this surely (its highest probability, its share of chunks) is a voice
# without asking the detector: the head kept every such stretch and recording it was measured on
SILERO_SURE_MAX, SILERO_SURE_SHARE = 0.9, 0.6


def active_span(audio: np.ndarray, floor_db: float = ACTIVE_DB, pad_seconds: float = ACTIVE_PAD_SECONDS, rms: np.ndarray | None = None) -> tuple[int, int]:
    """(start, end) samples of the part of a 16 kHz waveform that sounds: from its first frame within ``floor_db`` of
    its loud level to its last, widened by ``pad_seconds``; (0, 0) for silence. ``rms``: its ``frame_rms``, if measured."""
    rms = frame_rms(audio) if rms is None else rms
    level = level_of_frames(rms)
    if level < SILENCE_RMS:
        return 0, 0
    loud = np.flatnonzero(rms >= level * 10 ** (-floor_db / 20))
    pad = int(pad_seconds * SAMPLE_RATE)
    return max(0, int(loud[0]) * HOP_LENGTH - pad), min(audio.size, int(loud[-1]) * HOP_LENGTH + N_FFT + pad)


def window_summary(log_odds: np.ndarray) -> list[float]:
    """What the head reads of a sound's windows: the mean, the highest and the upper quartile of their voice log-odds."""
    return [float(np.mean(log_odds)), float(np.max(log_odds)), quantile(log_odds, 0.75)]


def silero_summary(probabilities: np.ndarray, threshold: float) -> list[float]:
    """What the head reads of Silero: its highest speech probability over the sound, and the share of chunks above ``threshold``."""
    return [float(np.max(probabilities, initial=0.0)), float(np.mean(probabilities >= threshold)) if probabilities.size else 0.0]


def silero_is_sure(silero: list[float]) -> bool:
    """Whether Silero's summary (:func:`silero_summary`) of a long recording's stretch settles it as a voice."""
    return silero[0] >= SILERO_SURE_MAX and silero[1] >= SILERO_SURE_SHARE


@dataclass(frozen=True)
class VoiceHead:
    """Two logistic regressions: ``alone`` on the window summary, ``with_silero`` on it and Silero's.

    ``sure`` (low, high): the CNN alone decides where its score is outside; ``threshold``:
    the score above which the sound is a voice.
    """

    alone: tuple[list[float], float]
    with_silero: tuple[list[float], float]
    sure: tuple[float, float]
    threshold: float

    @staticmethod
    def score(model: tuple[list[float], float], x: list[float]) -> float:
        weights, bias = model
        return float(np.dot(weights, x) + bias)

    def to_json(self) -> str:
        return json.dumps({"alone": self.alone, "with_silero": self.with_silero, "sure": self.sure, "threshold": self.threshold})

    @classmethod
    def from_json(cls, text: str) -> VoiceHead:
        d = json.loads(text)
        return cls(tuple(d["alone"]), tuple(d["with_silero"]), tuple(d["sure"]), float(d["threshold"]))


class VoiceDetector:
    """The exported detector: log-mel windows in, voice log-odds out; its head in the file's metadata."""

    def __init__(self, file: OnnxFile):
        self.file, self.features = file, file.features
        self.head = VoiceHead.from_json(file.metadata[HEAD_KEY])

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        """The log-odds that each window holds a voice."""
        return female_log_odds(self.file.run(features)) if len(features) else np.zeros(0)

    def decide(self, log_odds: np.ndarray, silero) -> tuple[bool, bool]:
        """(a voice?, whether Silero was asked) of a sound's windows; ``silero()`` gives Silero's summary when it is needed."""
        if not len(log_odds):
            return False, False
        summary = window_summary(log_odds)
        alone = self.head.score(self.head.alone, summary)
        low, high = self.head.sure
        if alone <= low or alone >= high:
            return alone >= high, False
        return self.head.score(self.head.with_silero, summary + silero()) >= self.head.threshold, True

    def decide_with(self, log_odds: np.ndarray, silero: list[float]) -> bool:
        """Whether a sound holds a voice, by its windows and Silero's summary (which a long recording has anyway)."""
        return bool(len(log_odds)) and self.head.score(self.head.with_silero, window_summary(log_odds) + silero) >= self.head.threshold

    def __repr__(self) -> str:
        return f"VoiceDetector({self.file.name!r})"


@lru_cache(maxsize=None)
def shipped_detector() -> VoiceDetector:
    """The voice detector shipped in the package (one session, shared: ONNX Runtime runs it from any thread)."""
    return VoiceDetector(OnnxFile(asset_path(VOICE_FILE), threads=1))
