"""Opening an audio file of any kind: libsndfile first, then FFmpeg.

soundfile (libsndfile) reads WAV, FLAC, Ogg Vorbis/Opus, MP3, AIFF and more, fast
and exactly. What it cannot open (AAC in M4A voice memos, WebM/Opus recorded by a
browser, the sound of MP4 or MKV video, WMA, AMR) is decoded by FFmpeg through
PyAV, whose wheel bundles FFmpeg, so nothing needs a system ffmpeg. Either way a
file comes out as its sample rate and float32 chunks of (samples, channels).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

CHUNK_SECONDS = 10.0  # soundfile reads this much at a time


class DecodeError(Exception):
    """No decoder could open the file; the message says why."""


@dataclass
class Decoded:
    """An opened file: its sample rate, its decoder's name, and its audio as (samples, channels) float32 chunks."""

    sample_rate: int
    channels: int
    decoder: str
    chunks: Iterator[np.ndarray]


FFMPEG_ONLY = (".mp3", ".mp2", ".mpga")  # libsndfile's MPEG decoder prints its own notes on bad input; FFmpeg's is quiet


def open_audio(path: Path) -> Decoded:
    """Open ``path`` with libsndfile, or with FFmpeg where libsndfile cannot (and for MPEG audio). Raises :class:`DecodeError`."""
    if path.suffix.lower() in FFMPEG_ONLY:
        return _open_ffmpeg(path)
    try:
        source = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        first = _libsndfile_reason(error)
    else:
        return Decoded(source.samplerate, source.channels, "libsndfile", _soundfile_chunks(source))
    try:
        return _open_ffmpeg(path)
    except DecodeError as error:
        raise DecodeError(f"libsndfile: {first}; FFmpeg: {error}") from None


def _libsndfile_reason(error: Exception) -> str:
    reason = str(error).split(": ", 1)[-1].rstrip(".")
    return "format not recognised" if "possibly a pipe" in reason else reason  # its words for a file it cannot make sense of


def _soundfile_chunks(source: sf.SoundFile) -> Iterator[np.ndarray]:
    with source:
        frames = max(1, int(CHUNK_SECONDS * source.samplerate))
        while True:
            try:
                data = source.read(frames, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as error:
                raise DecodeError(f"libsndfile: {error}") from None
            if len(data):
                yield data
            if len(data) < frames:
                return


def _open_ffmpeg(path: Path) -> Decoded:
    try:
        import av
    except ImportError:
        raise DecodeError("PyAV is not installed (pip install av)") from None
    av.logging.set_level(av.logging.PANIC)  # its errors are raised, not printed
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise DecodeError(_ffmpeg_reason(error)) from None
    if not container.streams.audio:
        container.close()
        raise DecodeError("holds no audio stream")
    stream = container.streams.audio[0]
    rate = getattr(stream.codec_context, "sample_rate", None) if stream.codec_context is not None else None
    if not rate:
        container.close()
        raise DecodeError("its audio stream has no sample rate")
    return Decoded(rate, 1, "FFmpeg", _ffmpeg_chunks(container, stream, rate))


def _ffmpeg_chunks(container, stream, rate: int) -> Iterator[np.ndarray]:
    """Mono chunks (samples, 1): a damaged stream may change its channels from frame to frame, so each frame is down-mixed as it comes."""
    import av

    with container:
        try:
            for frame in container.decode(stream):
                if frame.sample_rate != rate:  # a damaged stream that changes rate midway is not one recording
                    raise DecodeError(f"FFmpeg: its sample rate changes from {rate} to {frame.sample_rate} Hz")
                raw = frame.to_ndarray()
                channels = len(frame.layout.channels) or 1
                planar = raw.reshape(-1, channels).T if frame.format.is_packed else raw  # packed: samples interleaved
                planar = planar.astype(np.float64)
                if np.issubdtype(raw.dtype, np.integer):  # integer samples, scaled as libsndfile scales them
                    planar /= float(np.iinfo(raw.dtype).max) + 1
                yield planar.mean(axis=0)[:, None].astype(np.float32)
        except (av.FFmpegError, ValueError) as error:
            raise DecodeError(f"FFmpeg: {_ffmpeg_reason(error)}") from None


def _ffmpeg_reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error).split(": '")[0]
