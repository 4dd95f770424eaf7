"""Training clips: a recording cut to what the seed's recipe and the augmentation start from.

The seed's CNN reads one second of each recording, its loudest (:func:`prepare_clip`);
augmented views start from a recording's loudest stretch of up to 20 s
(:func:`loudest_stretch`), and so does the pitch baseline. Prediction never cuts a
recording like this: it judges every voiced window (``audiogender.windows``).
"""

from __future__ import annotations

import numpy as np

from ..audio import N_SAMPLES, SAMPLE_RATE, prepare


def loudest_window(audio: np.ndarray, length: int = N_SAMPLES, hop: int = N_SAMPLES // 10) -> int:
    """Start of the ``length``-sample window with the most energy."""
    if audio.size <= length:
        return 0
    energy = np.concatenate([[0.0], np.cumsum(np.square(audio, dtype=np.float64))])
    starts = np.arange(0, audio.size - length + 1, hop)
    return int(starts[np.argmax(energy[starts + length] - energy[starts])])


def loudest_stretch(audio: np.ndarray, seconds: float) -> np.ndarray:
    """The loudest ``seconds`` of a waveform, in whole-second steps (all of it, if shorter)."""
    length = int(seconds * SAMPLE_RATE)
    if audio.size <= length:
        return audio
    start = loudest_window(audio, length, hop=SAMPLE_RATE)
    return audio[start : start + length]


def pad_or_trim(audio: np.ndarray, length: int = N_SAMPLES) -> np.ndarray:
    """Fit ``audio`` to ``length`` samples: zero-pad the end, or keep the loudest window."""
    if audio.size >= length:
        start = loudest_window(audio, length)
        return audio[start : start + length]
    return np.pad(audio, (0, length - audio.size))


def prepare_clip(audio: np.ndarray, length: int = N_SAMPLES) -> np.ndarray:
    """``audio.prepare``, then fit to one clip: the training examples' waveform."""
    return pad_or_trim(prepare(audio), length)


def level_survey(paths, n: int = 300, random_state: int = 0):
    """DC offset and loud level (``audio.loud_level``) of up to ``n`` recordings drawn from ``paths``, as
    recorded and after ``audio.prepare``: a row per recording and stage, what preprocessing changes."""
    import pandas as pd

    from ..audio import load_audio, loud_level

    paths = list(paths)
    picked = np.random.default_rng(random_state).choice(len(paths), size=min(n, len(paths)), replace=False)
    rows = []
    for index in sorted(picked):
        raw = load_audio(paths[index])
        for stage, audio in (("as recorded", raw), ("prepared", prepare(raw))):
            rows.append({"path": paths[index], "stage": stage, "dc_offset": float(audio.mean()), "level": loud_level(audio)})
    return pd.DataFrame(rows)
