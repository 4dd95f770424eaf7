"""What the network is shown of a recording: its voiced pieces, cut into windows.

A block of audio (at most 60 s, see ``audio.stream_audio``) loses its DC offset and
is set to a normal level, so the voice detector hears quiet speech too; the voiced
stretches it finds are cut into pieces of at most 5 s (so a change of speaker shows
in ``segment``), each piece is set to a normal level on its own, as training clips
were, and cut into the windows the network's features say (the CNN's: 1 s every
0.5 s), whose features the network judges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .audio import N_SAMPLES, SAMPLE_RATE, SILENCE_RMS, loud_level, normalize_level, remove_dc
from .features import FeatureConfig, compute_features
from .vad import MIN_SPEECH_SECONDS, VAD_THRESHOLD, speech_regions

PIECE_SECONDS = 5.0  # longer voiced stretches are judged in pieces, so a change of speaker shows


@dataclass
class VoicedBlock:
    """One block of a recording as the network will see it: its voiced pieces (sample
    bounds in the block), the features of their windows, and how many windows each has."""

    samples: int
    speech_seconds: float
    pieces: list[tuple[int, int]]
    features: np.ndarray
    counts: list[int]


def stretch_windows(stretch: np.ndarray, length: int = N_SAMPLES, hop: int = N_SAMPLES // 2) -> np.ndarray:
    """Windows of ``length`` samples every ``hop`` over a stretch; a shorter stretch is zero-padded to one, the last window too."""
    if stretch.size <= length:
        return np.pad(stretch, (0, length - stretch.size))[None]
    starts = np.arange(0, stretch.size - length + hop, hop)
    stretch = np.pad(stretch, (0, max(0, starts[-1] + length - stretch.size)))
    return np.stack([stretch[s : s + length] for s in starts])


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


def voiced_block(
    block: np.ndarray,
    config: FeatureConfig,
    vad_threshold: float = VAD_THRESHOLD,
    min_speech_seconds: float = MIN_SPEECH_SECONDS,
) -> VoicedBlock:
    """Find the speech in a 16 kHz block and turn it into window features.

    With less than ``min_speech_seconds`` of speech there are no pieces.
    """
    audio, has_signal = level_for_detection(block)
    regions = speech_regions(audio, vad_threshold, min_speech_seconds) if has_signal else []
    speech = sum(end - start for start, end in regions) / SAMPLE_RATE
    pieces = split_long(regions) if regions and speech >= min_speech_seconds else []
    windows = [stretch_windows(normalize_level(audio[s:e]), config.window_samples, config.hop_samples) for s, e in pieces]
    features = compute_features(np.concatenate(windows), config) if windows else np.zeros((0, config.n_frames, config.n_features), np.float32)
    return VoicedBlock(block.size, speech, pieces, features, [len(w) for w in windows])
