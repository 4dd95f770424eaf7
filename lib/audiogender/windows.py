"""What the network is shown of a recording: its voiced pieces, cut into windows.

A block of audio (at most 60 s, see ``audio.stream_audio``) loses its DC offset and
is set to a normal level, so the voice detector hears quiet speech too; the voiced
stretches it finds are cut into pieces of at most 5 s (so a change of speaker shows
in ``segment``), each piece is set to a normal level on its own, as training clips
were, and cut into the windows the network's features say (the CNN's: 1 s every
0.5 s), whose features the network judges.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .audio import HOP_LENGTH, N_FFT, N_SAMPLES, SAMPLE_RATE, SILENCE_RMS, frame_rms, level_of_frames, loud_level, normalize_level, remove_dc
from .features import FeatureConfig, compute_features
from .settings import Settings
from .vad import CHUNK, SHORT_CLIP_SECONDS, regions_from_probabilities, short_clip_min_speech, short_clip_probabilities, speech_probabilities
from .voice import VoiceDetector, active_span, shipped_detector, silero_is_sure, silero_summary

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
    starts = _window_offsets(stretch.size, length, hop, pad_start)
    stretch = np.pad(stretch, (0, max(0, starts[-1] + length - stretch.size)))
    return np.stack([stretch[s : s + length] for s in starts])


def _window_offsets(size: int, length: int, hop: int, pad_start: bool) -> np.ndarray:
    """Where each window of a stretch of ``size`` samples begins, from the stretch's start (below 0 when padded before)."""
    if size <= length:
        return np.array([size - length if pad_start else 0])
    return np.arange(0, size - length + hop, hop)


def window_starts(start: int, end: int, config: FeatureConfig) -> np.ndarray:
    """Where in the recording each window :func:`stretch_windows` cuts from the piece ``start:end`` begins
    (before ``start`` when a short piece is padded before it)."""
    return start + _window_offsets(end - start, config.window_samples, config.hop_samples, config.pad_start)


def piece_features(piece: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """The features of a piece's windows, as ``config`` cuts them."""
    return compute_features(stretch_windows(piece, config.window_samples, config.hop_samples, config.pad_start), config)


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
class HeardBlock:
    """A block after Silero, before the voice detector: what the next block depends on, so it can be found one block ahead.

    ``audio`` is the block without DC at a normal level; ``probs`` Silero's per chunk and ``regions`` its stretches
    within the ``judged`` samples (None for a short clip, which Silero hears only if the detector is unsure).
    """

    audio: np.ndarray
    has_signal: bool
    judged: int
    final: bool
    probs: np.ndarray | None = None
    regions: list[tuple[int, int]] | None = None

    @property
    def short_clip(self) -> bool:
        return self.regions is None


def hear_block(block: np.ndarray, settings: Settings = Settings(), final: bool = True, whole: bool = False) -> HeardBlock:
    """The first half of :func:`voiced_block`: the block levelled and, unless it is a whole short clip, Silero's stretches."""
    audio, has_signal = level_for_detection(block)
    if whole and block.size <= SHORT_CLIP_SECONDS * SAMPLE_RATE:
        return HeardBlock(audio, has_signal, block.size, final)
    probs = speech_probabilities(audio) if has_signal else np.zeros(0)
    regions = regions_from_probabilities(probs, audio.size, settings.vad_threshold, settings.min_speech_seconds) if has_signal else []
    judged = block.size
    if not final:
        judged, regions = _judged_part(regions, block.size)
    return HeardBlock(audio, has_signal, judged, final, probs, regions)


def voiced_block(
    block: np.ndarray,
    config: FeatureConfig,
    settings: Settings = Settings(),
    final: bool = True,
    whole: bool = False,
    detector: VoiceDetector | None = None,
) -> VoicedBlock:
    """Find the voice in a 16 kHz block and turn it into window features for a network that reads ``config``.

    A ``whole`` recording no longer than ``SHORT_CLIP_SECONDS`` is a short clip: its
    sounding part is one piece, if the ``detector`` (default: the shipped one) hears a
    voice in it. Otherwise Silero finds the stretches, cut into pieces of at most 5 s,
    and of those Silero is unsure of, the detector keeps those that hold a voice. With less than
    ``settings.min_speech_seconds`` of voice there are no pieces. Unless the block is
    ``final`` (the recording's last), the audio that the next block may continue is not
    judged here: from the start of a stretch of speech still going at the block's end,
    or else its last half second (context for the detector). The VoicedBlock's
    ``samples`` are those judged; the rest goes before the next block
    (:func:`voiced_blocks`), so stretches do not depend on where a file's blocks were cut.
    """
    return voiced_from(hear_block(block, settings, final, whole), config, settings, detector)


def voiced_from(heard: HeardBlock, config: FeatureConfig, settings: Settings = Settings(), detector: VoiceDetector | None = None) -> VoicedBlock:
    """The second half of :func:`voiced_block`: the pieces the detector hears a voice in, and their windows' features."""
    detector = detector or shipped_detector()
    audio = heard.audio
    if heard.short_clip:
        min_speech = short_clip_min_speech(settings.min_speech_seconds)
        candidates = _short_clip(audio, heard.has_signal, settings, detector, min_speech)
    else:
        min_speech, candidates = settings.min_speech_seconds, []
        for start, end in split_long(heard.regions):
            silero = silero_summary(heard.probs[start // CHUNK : -(-end // CHUNK)], settings.vad_threshold)
            if silero_is_sure(silero):
                candidates.append((start, end, normalize_level(audio[start:end]), None))
                continue
            piece, found = _heard(audio, start, end, detector)
            if detector.decide_with(detector.log_odds(found), silero):
                candidates.append((start, end, piece, found))
    speech = sum(e - s for s, e, _, _ in candidates) / SAMPLE_RATE
    if speech < min_speech:
        candidates = []
    features = [found if found is not None and config == detector.features else piece_features(piece, config) for _, _, piece, found in candidates]
    empty = np.zeros((0, config.n_frames, config.n_features), np.float32)
    return VoicedBlock(heard.judged, speech if candidates else 0.0, [(s, e) for s, e, _, _ in candidates],
                       np.concatenate(features) if features else empty, [len(f) for f in features])  # fmt: skip


def _heard(audio: np.ndarray, start: int, end: int, detector: VoiceDetector, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(a piece at a normal level, the features of the windows the voice detector judges); ``level``: the piece's, if measured."""
    piece = normalize_level(audio[start:end], level=level)
    return piece, piece_features(piece, detector.features)


def _short_clip(audio: np.ndarray, has_signal: bool, settings: Settings, detector: VoiceDetector, min_speech: float) -> list:
    """The one piece of a short clip, its sounding part, if the detector hears a voice there (asking Silero only when unsure)."""
    rms = frame_rms(audio) if has_signal else None
    start, end = active_span(audio, rms=rms) if has_signal else (0, 0)
    if end - start < min_speech * SAMPLE_RATE:
        return []
    piece, found = _heard(audio, start, end, detector, _piece_level(rms, start, end))
    voiced, _ = detector.decide(detector.log_odds(found), lambda: silero_summary(short_clip_probabilities(audio), settings.vad_threshold))
    return [(start, end, piece, found)] if voiced else []


def _piece_level(rms: np.ndarray, start: int, end: int) -> float | None:
    """The loud level of ``audio[start:end]`` from the whole's frame levels, where its frames are some of the whole's; else None."""
    if start % HOP_LENGTH or end - start < N_FFT:
        return None
    first = start // HOP_LENGTH
    return level_of_frames(rms[first : first + 1 + (end - start - N_FFT) // HOP_LENGTH])


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
    detector: VoiceDetector | None = None,
) -> Iterator[VoicedBlock]:
    """:func:`voiced_block` of a recording's consecutive blocks, each block's unjudged end put before the next.

    In a recording of more than one block, Silero hears the next block in a second
    thread while the detector and the features take this one: each half costs about as
    much, and a long file has one reader.
    """
    heard = _heard_blocks(blocks, settings)
    first = next(heard, None)
    if first is None:
        return
    yield voiced_from(first, config, settings, detector)
    if not first.final:
        for block in one_ahead(heard):
            yield voiced_from(block, config, settings, detector)


def _heard_blocks(blocks: Iterable[np.ndarray], settings: Settings) -> Iterator[HeardBlock]:
    """:func:`hear_block` of each block, what it leaves unjudged put before the next."""
    held = np.zeros(0, np.float32)
    blocks = iter(blocks)
    block, first = next(blocks, None), True
    while block is not None:
        following = next(blocks, None)
        audio = np.concatenate([held, block]) if held.size else block
        heard = hear_block(audio, settings, final=following is None, whole=first and following is None)
        first = False
        held = audio[heard.judged :]
        yield heard
        block = following


def one_ahead(items: Iterator, poll_seconds: float = 0.1) -> Iterator:
    """``items``, each next one made in a background thread while the caller works on the last.

    An error raised making one is raised here; once the caller stops (or this is
    closed), the thread finishes the item in hand and makes no more, and the close
    waits for it, so nothing still reads what the caller then closes.
    """
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def offer(message) -> bool:
        while not stop.is_set():
            try:
                ready.put(message, timeout=poll_seconds)
                return True
            except queue.Full:
                continue
        return False

    def make() -> None:
        try:
            for item in items:
                if not offer((item, None)):
                    return
            offer((done, None))
        except BaseException as error:  # raised where the items are wanted
            offer((None, error))

    worker = threading.Thread(target=make, name="audiogender-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        worker.join()
