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


CHUNK = 512  # samples Silero judges at a time (32 ms at 16 kHz)


def speech_probabilities(waveforms: list[np.ndarray]) -> list[np.ndarray]:
    """Silero's speech probability for every 32 ms chunk of each 16 kHz waveform, in one batch.

    The waveforms are zero-padded to a common length and run through the model
    together (its ``audio_forward`` loops over chunks inside TorchScript), which is
    many times faster than one chunk of one file at a time. The model is causal,
    so the padding after a waveform does not change its own chunks' probabilities.
    """
    if not waveforms:
        return []
    chunks = [-(-w.size // CHUNK) for w in waveforms]
    batch = np.zeros((len(waveforms), max(chunks) * CHUNK), dtype=np.float32)
    for row, w in enumerate(waveforms):
        batch[row, : w.size] = w
    model = _silero()
    with torch.inference_mode():
        model.reset_states()
        probs = model.audio_forward(torch.from_numpy(batch), SAMPLE_RATE).numpy()
    return [probs[row, :n] for row, n in enumerate(chunks)]


def regions_from_probabilities(
    probs: np.ndarray, n_samples: int, threshold: float = VAD_THRESHOLD, min_speech_seconds: float = MIN_SPEECH_SECONDS
) -> list[tuple[int, int]]:
    """(start, end) sample indices of the voiced stretches, by Silero's own rules (hysteresis, padding)."""
    from silero_vad import get_speech_timestamps_from_probs

    stamps = get_speech_timestamps_from_probs(
        [float(p) for p in probs], sampling_rate=SAMPLE_RATE, threshold=threshold,
        min_speech_duration_ms=int(1000 * min_speech_seconds), audio_length_samples=n_samples,
    )  # fmt: skip
    return [(int(s["start"]), int(s["end"])) for s in stamps]


def speech_regions(
    audio: np.ndarray, threshold: float = VAD_THRESHOLD, min_speech_seconds: float = MIN_SPEECH_SECONDS
) -> list[tuple[int, int]]:
    """(start, end) sample indices of the voiced stretches of a 16 kHz waveform."""
    return batch_speech_regions([audio], threshold, min_speech_seconds)[0]


def batch_speech_regions(
    waveforms: list[np.ndarray], threshold: float = VAD_THRESHOLD, min_speech_seconds: float = MIN_SPEECH_SECONDS
) -> list[list[tuple[int, int]]]:
    """The voiced stretches of each of several 16 kHz waveforms, detected in one batch."""
    waveforms = [np.ascontiguousarray(w, dtype=np.float32) for w in waveforms]
    probs = speech_probabilities(waveforms)
    return [regions_from_probabilities(p, w.size, threshold, min_speech_seconds) for p, w in zip(probs, waveforms)]
