"""Reading audio: any file libsndfile or FFmpeg reads, as mono float32 at the model's rate.

Every recording is read in blocks (``stream_audio``), so memory does not grow with
its length, down-mixed and resampled to the one rate the networks hear. Before
features are taken, a waveform loses its DC offset (``audiomnist-az`` clips sit near
-0.085, which makes silence look loud) and is set to a normal level (levels in the
wild vary tenfold, and a model that sees only training-like levels learns loudness).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soxr

from .decoders import DecodeError, count_frames, open_audio

SAMPLE_RATE = 16_000  # Hz: the one rate the model hears
N_FFT = 400  # 25 ms analysis frames (the FFT is as long as the window)
HOP_LENGTH = 160  # 10 ms between frames
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH  # 100
CLIP_SECONDS = 1.0  # the seed's clip length
N_SAMPLES = int(SAMPLE_RATE * CLIP_SECONDS)  # 16,000 samples in one clip
N_FRAMES = 1 + (N_SAMPLES - N_FFT) // HOP_LENGTH  # 98 frames in a 1 s clip
TARGET_RMS = 0.05  # level the loud part of every recording is scaled to
SILENCE_RMS = 1e-4  # below this a recording holds no signal worth judging
BLOCK_SECONDS = 60.0  # long recordings are read and judged this much at a time
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1_000, 768_000  # Hz: a header outside these is not believed
MAX_AMPLITUDE = 1e3  # a sample beyond this (a float file far outside -1..1) is scaled down, not squared into infinity
MAX_BLOCK_SAMPLES = int(BLOCK_SECONDS * 48_000 * 2)  # decoded samples held at once, all channels: a minute of 48 kHz stereo
AUDIO_EXTENSIONS = (
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64", ".caf",  # libsndfile
    ".m4a", ".mp4", ".aac", ".webm", ".mka", ".mkv", ".mov", ".wma", ".amr", ".3gp",  # FFmpeg
)  # fmt: skip


class AudioError(ValueError):
    """A recording that cannot be used, with the file and the reason in the message."""

    def __init__(self, path: str | os.PathLike | None, reason: str):
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class TooLong(AudioError):
    """A recording longer than the limit it is read under (a file that decodes to hours from a few kilobytes)."""

    PHRASE = "more than the limit of"  # in every such reason, so that a row's error says which it was

    @classmethod
    def says(cls, reason: str | None) -> bool:
        """Whether an error row's reason is this one's."""
        return bool(reason) and cls.PHRASE in reason


class AudioStream:
    """A recording's consecutive mono float32 blocks; once read, ``warnings`` says what was wrong with it that did not stop it being read."""

    def __init__(self, blocks: Iterator[np.ndarray] | None = None):
        self.warnings: list[str] = []
        self._blocks = blocks if blocks is not None else iter(())

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._blocks

    def close(self) -> None:
        getattr(self._blocks, "close", lambda: None)()


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read ``path`` as a mono float32 waveform at ``sample_rate``.

    Channels are averaged and the signal is resampled with soxr. Raises
    :class:`AudioError` naming the file when it cannot be read, holds no samples,
    or holds values that are not finite.
    """
    return np.concatenate(list(stream_audio(path, sample_rate=sample_rate)))


def stream_audio(
    path: str | os.PathLike, block_seconds: float = BLOCK_SECONDS, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None
) -> AudioStream:
    """``path`` as consecutive mono float32 blocks of about ``block_seconds`` at ``sample_rate``.

    The file is decoded (``decoders``: libsndfile, else FFmpeg), down-mixed and
    resampled (soxr's streaming resampler, so the blocks join seamlessly) a block at a
    time, so memory does not grow with the recording's length. Raises
    :class:`AudioError` as :func:`load_audio` does, for what is not a regular file (a
    named pipe, a device: reading one may never end) and, past ``max_seconds`` of audio
    (declared or decoded), :class:`TooLong`. A file that breaks off or ends before the
    length its header declares is read as far as it goes, and says so in ``warnings``.
    """
    stream = AudioStream()
    stream._blocks = _decode(Path(path), block_seconds, sample_rate, max_seconds, stream.warnings)
    return stream


def _decode(path: Path, block_seconds: float, sample_rate: int, max_seconds: float | None, warnings: list[str]) -> Iterator[np.ndarray]:
    decoded = _open(path)
    rate = check_rate(decoded.sample_rate, path)
    if max_seconds is not None:
        _within(path, decoded, rate, max_seconds)
    resampler = None if rate == sample_rate else soxr.ResampleStream(rate, sample_rate, 1, dtype="float32")
    block = max(1, min(int(block_seconds * rate), MAX_BLOCK_SAMPLES // decoded.channels))
    read = total = 0
    try:
        for data, last in _rechunk(_until_broken(decoded.chunks, rate, path, warnings), block):
            read += len(data)
            if max_seconds is not None and read > max_seconds * rate:
                raise TooLong(path, f"decodes to {TooLong.PHRASE} {max_seconds / 60:.3g} minutes of audio")  # it said less
            mono = data.mean(axis=1, dtype=np.float64)  # float64, so channels near float32's limit do not overflow
            if not np.all(np.isfinite(mono)):
                raise AudioError(path, "holds samples that are not finite numbers (NaN or infinity)")
            mono = _in_range(mono).astype(np.float32)
            if resampler is not None:
                mono = resampler.resample_chunk(mono, last=last)
            total += mono.size
            if mono.size:
                yield np.ascontiguousarray(mono, dtype=np.float32)
    finally:
        decoded.chunks.close()
    if total == 0:
        raise AudioError(path, "holds no samples")
    if warnings:  # it broke off, and said so
        return
    if decoded.declared_frames and read < decoded.declared_frames - max(0.01 * decoded.declared_frames, 0.05 * rate):
        warnings.append(f"ends at {read / rate:.1f} s of the {decoded.declared_frames / rate:.1f} s its header declares: cut short?")
    elif not decoded.whole:
        warnings.append("its last Ogg page is missing or broken: cut short?")


def _within(path: Path, decoded, rate: int, max_seconds: float) -> None:
    """:class:`TooLong` now if the file declares more than ``max_seconds`` of audio or, declaring nothing, decodes to more
    (counted without keeping or judging any: a few kilobytes can decode to hours, and judging them would take minutes)."""
    most = int(max_seconds * rate)
    declared = decoded.declared_frames
    if declared is None:
        try:
            declared = count_frames(path, most)
        except DecodeError:
            return  # reading it again will say what is wrong with it
    if declared > most:
        decoded.chunks.close()
        said = f"holds {declared / rate / 60:.1f} minutes of audio," if decoded.declared_frames is not None else "decodes to"
        raise TooLong(path, f"{said} {TooLong.PHRASE} {max_seconds / 60:.3g} minutes of audio")


def _until_broken(chunks: Iterator[np.ndarray], rate: int, path: Path, warnings: list[str]) -> Iterator[np.ndarray]:
    """A decoder's chunks up to where the file breaks off (saying so in ``warnings``); :class:`AudioError` if it breaks before any."""
    read = 0
    try:
        for chunk in chunks:
            read += len(chunk)
            yield chunk
    except DecodeError as error:
        if read == 0:
            raise AudioError(path, f"not a readable audio file ({error})") from None
        warnings.append(f"could not be read past {read / rate:.1f} s ({error}); judged on what was read")


def _open(path: Path):
    """The decoded file, or :class:`AudioError` saying why it cannot be read (missing, a folder, not a regular file, not audio)."""
    try:
        mode = os.stat(path).st_mode  # a link is followed: what matters is what it points to
    except FileNotFoundError:
        raise AudioError(path, "no such file") from None
    except OSError as error:
        raise AudioError(path, f"cannot be read ({error.strerror or error})") from None
    if stat.S_ISDIR(mode):
        raise AudioError(path, "is a directory, not an audio file")
    if not stat.S_ISREG(mode):
        kind = "a named pipe" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket"
        raise AudioError(path, f"is {kind}, not a regular file: it is not read, as reading it might never end")
    try:
        return open_audio(path)
    except DecodeError as error:
        raise AudioError(path, f"not a readable audio file ({error})") from None


def _in_range(samples: np.ndarray) -> np.ndarray:
    """Samples of a (float) file far outside -1..1 scaled into it, so nothing after overflows; levels are normalised later anyway."""
    peak = float(np.max(np.abs(samples), initial=0.0))
    return samples / peak if peak > MAX_AMPLITUDE else samples


def check_rate(rate, path=None) -> int:
    """``rate`` as an int, if it is a sample rate audio can have (a whole number of Hz in range); else :class:`AudioError`."""
    whole = isinstance(rate, (int, np.integer, float, np.floating)) and not isinstance(rate, bool) and float(rate).is_integer()
    if not whole or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioError(path, f"a sample rate of {rate!r} Hz is not one audio has (a whole number between {MIN_SAMPLE_RATE:,} and {MAX_SAMPLE_RATE:,})")
    return int(rate)


def _rechunk(chunks, size: int):
    """(block of ``size`` rows, whether it is the last) from chunks of any length; the last block may be shorter."""
    pending, held = [], 0
    for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        while held >= size:
            joined = np.concatenate(pending)
            block, rest = joined[:size], joined[size:]
            pending, held = ([rest] if len(rest) else []), len(rest)
            yield block, False
    yield (np.concatenate(pending) if pending else np.zeros((0, 1), np.float32)), True


MAX_CHANNELS = 64  # an array's shorter side, if no longer than this, is its channels


def to_model_rate(data, rate, *, path=None, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Down-mix ``data`` to mono and resample it from ``rate``.

    ``data`` is samples, or samples x channels (as soundfile gives them), or channels x
    samples (as librosa and torchaudio give them): of the two sides, the one of at most
    64 entries is the channels; an array that could be either is refused, as are rates
    that are not a whole number of Hz in range.
    """
    rate = check_rate(rate, path)
    if np.iscomplexobj(data):
        raise AudioError(path, "holds complex numbers, not samples: give the real signal (np.real, or the inverse transform)")
    try:
        data = np.asarray(data, dtype=np.float64)  # float64: channels near float32's limit do not overflow when averaged
    except (TypeError, ValueError):
        raise AudioError(path, "is not an array of numbers") from None
    if data.size == 0:
        raise AudioError(path, f"holds no samples (an array of shape {data.shape})")
    if data.ndim == 2:
        short = [side <= MAX_CHANNELS for side in data.shape]
        if short.count(True) != 1:
            raise AudioError(path, f"in an array of shape {data.shape}, which side is the channels? Give it as (samples, channels) with at most {MAX_CHANNELS} channels")
        data = data.mean(axis=short.index(True))  # over the channels
    if data.ndim != 1:
        raise AudioError(path, f"expected a 1-D or 2-D array of samples, got shape {data.shape}")
    if data.size == 0:
        raise AudioError(path, "holds no samples")
    if not np.all(np.isfinite(data)):
        raise AudioError(path, "holds samples that are not finite numbers (NaN or infinity)")
    data = _in_range(data).astype(np.float32)
    if rate != sample_rate:
        data = soxr.resample(data, rate, sample_rate).astype(np.float32, copy=False)
    return np.ascontiguousarray(data)


def remove_dc(audio: np.ndarray) -> np.ndarray:
    """Subtract the mean, so a constant offset does not read as signal."""
    return audio - audio.mean(axis=-1, keepdims=True, dtype=np.float64).astype(audio.dtype)


def frame_rms(audio: np.ndarray, frame_length: int = N_FFT, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Root-mean-square level of each 25 ms frame (one value for a shorter recording).

    From a running sum of squares, so each sample is squared once however much the frames overlap.
    """
    if audio.size < frame_length:
        return np.sqrt(np.mean(np.square(audio), dtype=np.float64, keepdims=True))
    energy = np.concatenate([[0.0], np.cumsum(np.square(audio, dtype=np.float64))])
    starts = np.arange(0, audio.size - frame_length + 1, hop_length)
    return np.sqrt(np.maximum(energy[starts + frame_length] - energy[starts], 0.0) / frame_length)


def loud_level(audio: np.ndarray) -> float:
    """Level of the loud part of a recording: the 95th percentile of its frame RMS (:func:`level_of_frames`).

    A percentile rather than the peak, so one click does not set the level, and
    rather than the mean, so long pauses do not.
    """
    return level_of_frames(frame_rms(audio))


def level_of_frames(rms: np.ndarray) -> float:
    """The loud level from frame levels (``frame_rms``): their 95th percentile."""
    return quantile(rms, 0.95)


def quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (its linear interpolation), by partition: on a short clip's few values ``np.quantile`` costs more than computing them."""
    position = q * (values.size - 1)
    low = int(position)
    high = min(low + 1, values.size - 1)
    a, b = np.partition(values, (low, high))[[low, high]]
    return float(a + (b - a) * (position - low))


def normalize_level(
    audio: np.ndarray, target_rms: float = TARGET_RMS, reference: np.ndarray | None = None, level: float | None = None
) -> np.ndarray:
    """Scale ``audio`` so its loud part (or ``reference``'s, or a ``level`` already measured) sits at ``target_rms``; silence is left alone."""
    level = loud_level(audio if reference is None else reference) if level is None else level
    if level < SILENCE_RMS:
        return audio
    return (audio * (target_rms / level)).astype(np.float32, copy=False)


def prepare(audio: np.ndarray) -> np.ndarray:
    """DC removal then level normalisation: what every waveform gets before features."""
    return normalize_level(remove_dc(np.asarray(audio, dtype=np.float32)))
