"""Opening an audio file of any kind: libsndfile first, then FFmpeg.

soundfile (libsndfile) reads WAV, FLAC, Ogg Vorbis/Opus, MP3, AIFF and more, fast
and exactly. What it cannot open (AAC in M4A voice memos, WebM/Opus recorded by a
browser, the sound of MP4 or MKV video, WMA, AMR) is decoded by FFmpeg through
PyAV, whose wheel bundles FFmpeg, so nothing needs a system ffmpeg. Either way a
file comes out as its sample rate and float32 chunks of (samples, channels).

A file also says how long it claims to be (``declared_frames``: the WAV data chunk,
FLAC's stream info, the container's duration), and whether its container is whole
(an Ogg stream ends with an end-of-stream page), so that a file cut short is noticed
however its format hides it, and a file that claims hours is known before it is decoded.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

CHUNK_SECONDS = 1.0  # soundfile reads this much at a time: a file that breaks off keeps all but its last second
TAIL_BYTES = 65536  # what is read from a file's end to find its last Ogg page
UNKNOWN_FRAMES = 2**62  # libsndfile's count of a stream whose length its header does not give


class DecodeError(Exception):
    """No decoder could open the file; the message says why."""


@dataclass
class Decoded:
    """An opened file: its sample rate, its decoder's name, its audio as (samples, channels) float32 chunks, the number
    of frames its header declares (None: it declares none), and whether its container is whole."""

    sample_rate: int
    channels: int
    decoder: str
    chunks: Iterator[np.ndarray]
    declared_frames: int | None = None
    whole: bool = True


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
        declared, whole = _declared(path, source)
        return Decoded(source.samplerate, source.channels, "libsndfile", _soundfile_chunks(source), declared, whole)
    try:
        decoded = _open_ffmpeg(path)
    except DecodeError as error:
        raise DecodeError(f"libsndfile: {first}; FFmpeg: {error}") from None
    decoded.chunks = _with_reason(decoded.chunks, f"libsndfile: {first}")  # FFmpeg may open what it then cannot decode
    return decoded


def _with_reason(chunks: Iterator[np.ndarray], first: str) -> Iterator[np.ndarray]:
    """The chunks; if FFmpeg fails before the first, its error says why libsndfile failed too."""
    started = False
    try:
        for chunk in chunks:
            started = True
            yield chunk
    except DecodeError as error:
        raise DecodeError(str(error) if started else f"{first}; {error}") from None
    finally:
        chunks.close()


def _libsndfile_reason(error: Exception) -> str:
    reason = str(error).split(": ", 1)[-1].rstrip(".")
    return "format not recognised" if "possibly a pipe" in reason else reason  # its words for a file it cannot make sense of


def _declared(path: Path, source: sf.SoundFile) -> tuple[int | None, bool]:
    """(frames the header declares, whether the container is whole) of a file libsndfile opened."""
    kind = source.format
    if kind in ("WAV", "WAVEX"):
        return _wav_declared_frames(path), True
    frames = source.frames if 0 < source.frames < UNKNOWN_FRAMES else None  # FLAC's stream info, AIFF's header, Ogg's last granule
    return frames, _ogg_ends(path) if kind == "OGG" else True  # libsndfile counts an Ogg file's frames from the last page there is


def _wav_declared_frames(path: Path) -> int | None:
    """The frames a WAV file's data chunk declares (libsndfile counts only those present)."""
    with open(path, "rb") as f:
        head = f.read(TAIL_BYTES)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset, block = 12, None
    while offset + 8 <= len(head):
        chunk, size = head[offset : offset + 4], struct.unpack("<I", head[offset + 4 : offset + 8])[0]
        if chunk == b"fmt " and offset + 22 <= len(head):
            block = struct.unpack("<H", head[offset + 20 : offset + 22])[0]  # bytes per frame
        if chunk == b"data":
            return size // block if block and size not in (0, 0xFFFFFFFF) else None  # 0 or ~0: a stream of unknown length
        offset += 8 + size + (size & 1)
    return None


def _ogg_ends(path: Path) -> bool:
    """Whether an Ogg file's last page is whole and ends its stream (a file cut short ends mid-page or without that flag)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - TAIL_BYTES))
        tail = f.read()
    start = tail.rfind(b"OggS")
    if start < 0 or start + 27 > len(tail):
        return False
    segments = tail[start + 26]
    table = tail[start + 27 : start + 27 + segments]
    length = 27 + segments + sum(table)
    return len(table) == segments and start + length <= len(tail) and bool(tail[start + 5] & 0x04)


def _soundfile_chunks(source: sf.SoundFile) -> Iterator[np.ndarray]:
    with source:
        frames = max(1, int(CHUNK_SECONDS * source.samplerate))
        while True:
            try:
                data = source.read(frames, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as error:
                raise DecodeError(f"libsndfile: {_libsndfile_reason(error)}") from None
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
    return Decoded(rate, 1, "FFmpeg", _ffmpeg_chunks(container, stream, rate), _ffmpeg_declared_frames(container, stream, rate))


def _ffmpeg_declared_frames(container, stream, rate: int) -> int | None:
    """The frames the container says the stream lasts (an MP3's Xing header, an MP4's movie header), if it says."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return int(stream.duration * stream.time_base * rate)
    if container.duration and container.duration > 0:
        return int(container.duration / 1_000_000 * rate)  # in microseconds
    return None


def count_frames(path: Path, most: int) -> int:
    """The frames a file decodes to, counted up to just past ``most`` without keeping any: what a length limit needs of a file that declares none."""
    decoded, counted = open_audio(path), 0
    try:
        for chunk in decoded.chunks:
            counted += len(chunk)
            if counted > most:
                break
    finally:
        decoded.chunks.close()
    return counted


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
