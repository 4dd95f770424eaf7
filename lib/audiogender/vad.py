"""Voice activity detection: where in a recording someone is speaking.

Silero VAD (MIT licence; see NOTICE.md): its ONNX "sequence" export, copied from
the silero-vad 6.2.3 wheel into this package's assets, so it works offline and
needs neither torch nor the silero-vad package. ONNX Runtime runs it: one call
judges up to 16 s of audio, so classifying one file starts fast.
Only the voiced stretches are classified, so music, birdsong or silence is
answered "no voice" rather than given a gender.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .audio import SAMPLE_RATE
from .runtime import onnx_session
from .shipped import SILERO_FILE, asset_path

CHUNK = 512  # samples Silero judges at a time (32 ms at 16 kHz)
CONTEXT = 64  # samples of the previous chunk Silero sees before each chunk
STATE_SHAPE = (1, 1, 128)  # the LSTM's hidden and cell state
MAX_CHUNKS = 512  # chunks per ONNX call (16.4 s): longer audio is judged in blocks, state carried over
# Silero's own rules for turning probabilities into stretches (get_speech_timestamps' defaults)
NEG_THRESHOLD_GAP = 0.15  # once speaking, a chunk counts as silence below threshold - 0.15
MIN_SILENCE_SECONDS = 0.1  # a stretch ends after this much silence
SPEECH_PAD_SECONDS = 0.03  # each stretch is widened by this much on both sides
# A short recording may be trimmed tight to the word (spoken digits, phone prompts), where Silero, which needs
# context before speech, finds none: where the learned decision (audiogender.voice) asks Silero, it hears it with silence around it
SHORT_CLIP_SECONDS = 5.0  # a whole recording no longer than this is a short clip
CLIP_LEAD_SECONDS = 0.5  # the silence a short clip is heard after
SHORT_MIN_SPEECH_SECONDS = 0.06  # the least speech a short clip is judged on (two chunks)


@lru_cache(maxsize=None)
def _session():
    """The ONNX Runtime session for Silero, shared: the state is passed in and out, and
    ONNX Runtime lets threads run one session at once, each on its own core."""
    return onnx_session(asset_path(SILERO_FILE), threads=1)


def chunk_rows(audio: np.ndarray) -> np.ndarray:
    """The waveform as (chunks, CONTEXT + CHUNK) rows: each 32 ms chunk after the last 4 ms of the one before.

    The last chunk is zero-padded; the first sees zeros before it, as in Silero's streaming model.
    """
    n_chunks = max(1, -(-audio.size // CHUNK))
    padded = np.zeros(CONTEXT + n_chunks * CHUNK, dtype=np.float32)
    padded[CONTEXT : CONTEXT + audio.size] = audio
    return np.lib.stride_tricks.sliding_window_view(padded, CONTEXT + CHUNK)[::CHUNK]


def speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """Silero's speech probability for every 32 ms chunk of a 16 kHz waveform.

    The same numbers as Silero's streaming model (chunk after chunk, state carried),
    but up to 512 chunks per call, so the loop runs inside ONNX Runtime.
    """
    return _run(audio, *_start_state())[0]


def _start_state() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(STATE_SHAPE, dtype=np.float32), np.zeros(STATE_SHAPE, dtype=np.float32)


def _run(audio: np.ndarray, hidden: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the probability of each chunk, the LSTM's state after the last) of a waveform heard from state ``hidden, cell``."""
    rows = chunk_rows(np.asarray(audio, dtype=np.float32))
    session = _session()
    probs = []
    for start in range(0, len(rows), MAX_CHUNKS):
        block = np.ascontiguousarray(rows[start : start + MAX_CHUNKS])
        p, hidden, cell = session.run(["speech_probs", "hn", "cn"], {"input": block, "h": hidden, "c": cell})
        probs.append(p.reshape(-1))
    return np.concatenate(probs), hidden, cell


@lru_cache(maxsize=None)
def _after_silence(samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Silero's state after hearing ``samples`` (whole chunks) of silence from the start: the same for every clip, so heard once."""
    _, hidden, cell = _run(np.zeros(samples, np.float32), *_start_state())
    return hidden, cell


def regions_from_probabilities(probs: np.ndarray, n_samples: int, threshold: float, min_speech_seconds: float) -> list[tuple[int, int]]:
    """(start, end) sample indices of the voiced stretches, by Silero's rules.

    As ``silero_vad.get_speech_timestamps_from_probs`` with its defaults (a test
    checks they agree): speech starts at a chunk above ``threshold``, ends after
    100 ms below ``threshold - 0.15``; stretches no longer than
    ``min_speech_seconds`` are dropped, and the rest padded by 30 ms, split
    evenly where two nearly touch. Written out here because Silero's own
    module imports torch.
    """
    negative = max(threshold - NEG_THRESHOLD_GAP, 0.01)
    min_speech, min_silence = SAMPLE_RATE * min_speech_seconds, SAMPLE_RATE * MIN_SILENCE_SECONDS
    stretches: list[list[int]] = []
    start, silence_from = None, 0
    for i, p in enumerate(probs):
        here = CHUNK * i
        if p >= threshold:
            silence_from = 0
            if start is None:
                start = here
            continue
        if start is not None and p < negative:
            silence_from = silence_from or here
            if here - silence_from >= min_silence:
                if silence_from - start > min_speech:
                    stretches.append([start, silence_from])
                start, silence_from = None, 0
    if start is not None and n_samples - start > min_speech:
        stretches.append([start, n_samples])
    return _pad(stretches, n_samples)


def _pad(stretches: list[list[int]], n_samples: int) -> list[tuple[int, int]]:
    """Widen each stretch by 30 ms, or by half the gap when two are closer than 60 ms (Silero's padding)."""
    pad = SAMPLE_RATE * SPEECH_PAD_SECONDS
    for i, stretch in enumerate(stretches):
        if i == 0:
            stretch[0] = int(max(0, stretch[0] - pad))
        if i < len(stretches) - 1:
            following = stretches[i + 1]
            gap = following[0] - stretch[1]
            if gap < 2 * pad:
                stretch[1] += int(gap // 2)
                following[0] = int(max(0, following[0] - gap // 2))
            else:
                stretch[1] = int(min(n_samples, stretch[1] + pad))
                following[0] = int(max(0, following[0] - pad))
        else:
            stretch[1] = int(min(n_samples, stretch[1] + pad))
    return [(int(a), int(b)) for a, b in stretches]


def speech_regions(audio: np.ndarray, threshold: float, min_speech_seconds: float) -> list[tuple[int, int]]:
    """(start, end) sample indices of the voiced stretches of a 16 kHz waveform."""
    return regions_from_probabilities(speech_probabilities(audio), audio.size, threshold, min_speech_seconds)


def short_clip_min_speech(min_speech_seconds: float) -> float:
    """The least speech a short clip is judged on: a spoken digit may hold less than the usual minimum."""
    return min(min_speech_seconds, SHORT_MIN_SPEECH_SECONDS)


def short_clip_probabilities(audio: np.ndarray) -> np.ndarray:
    """:func:`speech_probabilities` of a whole short recording heard after ``CLIP_LEAD_SECONDS`` of silence, for its chunks:
    Silero, which needs context before speech, hears a word cut tight to its edges that way. Silero is causal, so the
    silence is heard once, and what follows a clip would change none of its chunks."""
    lead = int(CLIP_LEAD_SECONDS * SAMPLE_RATE) // CHUNK * CHUNK  # whole chunks: the clip's own chunks stay where they were
    return _run(audio, *_after_silence(lead))[0]
