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
CHUNK = 512  # samples Silero judges at a time (32 ms at 16 kHz)
ROW_SECONDS = 8.192  # long waveforms are judged as rows of this length (256 chunks), side by side


_local = threading.local()


def _silero():
    """This thread's Silero model: it keeps state between chunks, so threads must not share one."""
    if not hasattr(_local, "model"):
        from silero_vad import load_silero_vad

        with warnings.catch_warnings():  # torch deprecates the TorchScript loader Silero uses
            warnings.simplefilter("ignore", DeprecationWarning)
            _local.model = load_silero_vad()
    return _local.model


def speech_probabilities(waveforms: list[np.ndarray], row_seconds: float = ROW_SECONDS) -> list[np.ndarray]:
    """Silero's speech probability for every 32 ms chunk of each 16 kHz waveform, in one batch.

    Each waveform is cut into rows of ``row_seconds``, zero-padded to a common
    length, and all rows run through the model together (its ``audio_forward``
    loops over chunks inside TorchScript): many times faster than one chunk of one
    file at a time. The model is causal, so padding after a row does not change its
    probabilities; a row starts afresh, which only the first 32 ms of it notice.
    """
    if not waveforms:
        return []
    row = int(row_seconds * SAMPLE_RATE) // CHUNK * CHUNK
    pieces, owners = [], []
    for k, w in enumerate(waveforms):
        for start in range(0, max(w.size, 1), row):
            pieces.append(w[start : start + row])
            owners.append(k)
    chunks = [-(-p.size // CHUNK) for p in pieces]
    batch = np.zeros((len(pieces), max(chunks) * CHUNK), dtype=np.float32)
    for r, piece in enumerate(pieces):
        batch[r, : piece.size] = piece
    model = _silero()
    # TorchScript's profiling optimiser costs 0.13 s on the first call and gains nothing here
    with torch.inference_mode(), torch.jit.optimized_execution(False):
        model.reset_states()
        probs = model.audio_forward(torch.from_numpy(batch), SAMPLE_RATE).numpy()
    per_row = [probs[r, :n] for r, n in enumerate(chunks)]
    return [np.concatenate([p for p, o in zip(per_row, owners) if o == k]) for k in range(len(waveforms))]


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
