"""Signals and paths the tests share."""

import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
SAMPLES = DATA / "samples"
AUDIOMNIST_SAMPLE = DATA / "audiomnist-sample"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def harmonic_tone(f0: float, seconds: float = 1.0, rate: int = 16_000, amplitude: float = 0.3) -> np.ndarray:
    """A buzz with harmonics up to 4 kHz: a crude voiced sound with a given pitch."""
    t = np.arange(int(seconds * rate)) / rate
    harmonics = np.arange(1, int(4000 // f0) + 1)
    wave = (np.sin(2 * np.pi * f0 * harmonics[:, None] * t) / harmonics[:, None]).sum(0)
    return (amplitude * wave / np.abs(wave).max()).astype(np.float32)


def manifest(folder: Path) -> list[dict]:
    """The rows of a folder's manifest.csv, paths made whole (without the lab's pandas reader)."""
    with open(folder / "manifest.csv", newline="") as f:
        return [{**row, "path": str(folder / row["path"])} for row in csv.DictReader(f)]


def encode(path, audio, codec, container, layout="mono", rate=48_000, video=False):
    """Write ``audio`` (16 kHz) with FFmpeg's ``codec`` in a ``container``, as a phone or a browser would; with ``video``, beside a few frames of video."""
    from fractions import Fraction

    import av
    import soxr

    data = np.tile(soxr.resample(audio, 16_000, rate)[None], (2 if layout == "stereo" else 1, 1)).astype(np.float32)
    with av.open(str(path), "w", format=container) as out:
        picture = out.add_stream("mpeg4", rate=10) if video else None  # every stream is added before the first is written
        sound = out.add_stream(codec, rate=rate, layout=layout)
        if picture is not None:
            picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
            for k in range(10):
                frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * k, np.uint8), format="rgb24").reformat(format="yuv420p")
                frame.pts, frame.time_base = k, Fraction(1, 10)
                out.mux(picture.encode(frame))
            out.mux(picture.encode(None))
        frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=layout)
        frame.rate = rate
        out.mux(sound.encode(frame))
        out.mux(sound.encode(None))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*options: str) -> tuple[subprocess.Popen, str]:
    """``audiogender serve`` in its own process; returns it and its address once /health answers."""
    import httpx

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "audiogender", "serve", "--port", str(port), *options],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            if server.poll() is not None:
                raise RuntimeError(server.stderr.read().decode())
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


def flac_bomb(path, minutes: float, rate: int = 8_000, declared: bool = True) -> None:
    """A FLAC file of ``minutes`` of silence (a few hundred kilobytes for hours); without ``declared``, its stream info
    says nothing of its length, as a hand-made bomb's may."""
    import soundfile as sf

    with sf.SoundFile(path, "w", rate, 1, format="FLAC", subtype="PCM_16") as out:
        minute = np.zeros(rate * 60, np.float32)
        for _ in range(int(minutes)):
            out.write(minute)
    if not declared:
        data = bytearray(Path(path).read_bytes())
        data[8 + 13] &= 0xF0  # STREAMINFO (after "fLaC" and its block header): the 36-bit count of samples, zeroed
        data[8 + 14 : 8 + 18] = bytes(4)
        Path(path).write_bytes(bytes(data))


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used so far (Linux: user and system, from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
