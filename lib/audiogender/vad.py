"""Voice activity detection: where in a recording someone is speaking.

Silero VAD, whose small model ships inside its wheel and needs only torch, so it
works offline. Only the voiced stretches are classified, so music, birdsong or
silence is answered "no voice" rather than given a gender.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import torch

from .audio import SAMPLE_RATE

VAD_THRESHOLD = 0.5  # Silero's speech probability above which a frame is speech
MIN_SPEECH_SECONDS = 0.25  # shorter stretches, and recordings with less speech in all, are not judged


_local = threading.local()


def _silero():
    """This thread's Silero model: it keeps state between chunks, so threads must not share one."""
    if not hasattr(_local, "model"):
        from silero_vad import load_silero_vad

        with warnings.catch_warnings():  # torch deprecates the TorchScript loader Silero uses
            warnings.simplefilter("ignore", DeprecationWarning)
            _local.model = load_silero_vad()
    return _local.model


def speech_regions(
    audio: np.ndarray, threshold: float = VAD_THRESHOLD, min_speech_seconds: float = MIN_SPEECH_SECONDS
) -> list[tuple[int, int]]:
    """(start, end) sample indices of the voiced stretches of a 16 kHz waveform."""
    from silero_vad import get_speech_timestamps

    with torch.inference_mode():
        stamps = get_speech_timestamps(
            torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), _silero(),
            sampling_rate=SAMPLE_RATE, threshold=threshold, min_speech_duration_ms=int(1000 * min_speech_seconds),
        )  # fmt: skip
    return [(int(s["start"]), int(s["end"])) for s in stamps]
