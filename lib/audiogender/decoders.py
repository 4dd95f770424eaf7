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


def open_audio(path: Path) -> Decoded:
    """Open ``path`` with libsndfile, or with FFmpeg where libsndfile cannot. Raises :class:`DecodeError`."""
    try:
        source = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        first = str(error)
    else:
        return Decoded(source.samplerate, source.channels, "libsndfile", _soundfile_chunks(source))
    try:
        return _open_ffmpeg(path)
    except DecodeError as error:
        raise DecodeError(f"libsndfile: {first.split(': ', 1)[-1].rstrip('.')}; FFmpeg: {error}") from None


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
    if not stream.rate:
        container.close()
        raise DecodeError("its audio stream has no sample rate")
    return Decoded(stream.rate, max(1, stream.channels), "FFmpeg", _ffmpeg_chunks(container, stream))


def _ffmpeg_chunks(container, stream) -> Iterator[np.ndarray]:
    import av

    # planar float keeps every channel and the rate as they are: down-mixing and resampling happen after, as for libsndfile
    resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=stream.rate)
    with container:
        try:
            for frame in container.decode(stream):
                for planar in resampler.resample(frame):
                    yield planar.to_ndarray().T
            for planar in resampler.resample(None):
                yield planar.to_ndarray().T
        except (av.FFmpegError, ValueError) as error:
            raise DecodeError(f"FFmpeg: {_ffmpeg_reason(error)}") from None


def _ffmpeg_reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error).split(": '")[0]
