"""What the network is shown of a recording: its voiced pieces, cut into windows.

A block of audio (at most 60 s, see ``audio.stream_audio``) loses its DC offset and
is set to a normal level, so the voice detector hears quiet speech too; the voiced
stretches it finds are cut into pieces of at most 5 s (so a change of speaker shows
in ``segment``), each piece is set to a normal level on its own, as training clips
were, and cut into the windows the network's features say (the CNN's: 1 s every
0.5 s), whose features the network judges.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .audio import N_SAMPLES, SAMPLE_RATE, SILENCE_RMS, loud_level, normalize_level, remove_dc
from .features import FeatureConfig, compute_features
from .settings import Settings
from .vad import SHORT_CLIP_SECONDS, short_clip_min_speech, short_clip_regions, speech_regions

PIECE_SECONDS = 5.0  # longer voiced stretches are judged in pieces, so a change of speaker shows
STILL_SPEAKING_SECONDS = 0.3  # a stretch ending this close to a block's end may go on in the next block
MAX_HELD_SECONDS = 30.0  # a stretch still going at a block's end is held for the next, unless longer than this
CONTEXT_SECONDS = 0.5  # audio a block passes on to the next when no one is speaking at its end


@dataclass
class VoicedBlock:
    """One block of a recording as the network will see it: its voiced pieces (sample
    bounds in the block), the features of their windows, and how many windows each has."""

    samples: int
    speech_seconds: float
    pieces: list[tuple[int, int]]
    features: np.ndarray
    counts: list[int]


def stretch_windows(stretch: np.ndarray, length: int = N_SAMPLES, hop: int = N_SAMPLES // 2, pad_start: bool = False) -> np.ndarray:
    """Windows of ``length`` samples every ``hop`` over a stretch; the last is zero-padded after it.

    A stretch shorter than one window is zero-padded after it, or with ``pad_start``
    before it, so that it ends the window: a recurrent encoder, whose last state is
    the embedding, then reads the speech last rather than a second of silence.
    """
    if stretch.size <= length:
        return np.pad(stretch, (length - stretch.size, 0) if pad_start else (0, length - stretch.size))[None]
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
    settings: Settings = Settings(),
    final: bool = True,
    whole: bool = False,
) -> VoicedBlock:
    """Find the speech in a 16 kHz block and turn it into window features.

    With less than ``settings.min_speech_seconds`` of speech there are no pieces. Unless the
    block is ``final`` (the recording's last), the audio that the next block may
    continue is not judged here: from the start of a stretch of speech still going at
    the block's end, or else its last half second (context for the detector). The
    VoicedBlock's ``samples`` are those judged; the rest goes before the next block
    (:func:`voiced_blocks`), so stretches do not depend on where a file's blocks were cut.
    A ``whole`` recording no longer than ``SHORT_CLIP_SECONDS`` is a short clip
    (``vad.short_clip_regions``): it is judged on whatever speech it holds.
    """
    audio, has_signal = level_for_detection(block)
    min_speech_seconds = settings.min_speech_seconds
    if whole and block.size <= SHORT_CLIP_SECONDS * SAMPLE_RATE:
        min_speech_seconds = short_clip_min_speech(min_speech_seconds)
        regions = short_clip_regions(audio, settings.vad_threshold, min_speech_seconds) if has_signal else []
    else:
        regions = speech_regions(audio, settings.vad_threshold, min_speech_seconds) if has_signal else []
    judged = block.size
    if not final:
        judged, regions = _judged_part(regions, block.size)
    speech = sum(end - start for start, end in regions) / SAMPLE_RATE
    pieces = split_long(regions) if regions and speech >= min_speech_seconds else []
    windows = [stretch_windows(normalize_level(audio[s:e]), config.window_samples, config.hop_samples, config.pad_start) for s, e in pieces]
    features = compute_features(np.concatenate(windows), config) if windows else np.zeros((0, config.n_frames, config.n_features), np.float32)
    return VoicedBlock(judged, speech, pieces, features, [len(w) for w in windows])


def _judged_part(regions: list[tuple[int, int]], size: int) -> tuple[int, list[tuple[int, int]]]:
    """(samples judged now, the stretches within them) of a block that another will follow."""
    context = int(CONTEXT_SECONDS * SAMPLE_RATE)
    if regions and regions[-1][1] >= size - int(STILL_SPEAKING_SECONDS * SAMPLE_RATE) and size - regions[-1][0] <= int(MAX_HELD_SECONDS * SAMPLE_RATE):
        return regions[-1][0], regions[:-1]  # speech still going: wait for the rest of it
    judged = max(size - context, regions[-1][1] if regions else 0)
    return judged, [(a, b) for a, b in regions if b <= judged]


def voiced_blocks(
    blocks: Iterable[np.ndarray],
    config: FeatureConfig,
    settings: Settings = Settings(),
) -> Iterator[VoicedBlock]:
    """:func:`voiced_block` of a recording's consecutive blocks, each block's unjudged end put before the next."""
    held = np.zeros(0, np.float32)
    blocks = iter(blocks)
    block, first = next(blocks, None), True
    while block is not None:
        following = next(blocks, None)
        audio = np.concatenate([held, block]) if held.size else block
        voiced = voiced_block(audio, config, settings, final=following is None, whole=first and following is None)
        first = False
        held = audio[voiced.samples :]
        yield voiced
        block = following
