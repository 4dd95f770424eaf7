"""Mutated audio files of every format read: whatever the damage, every file gets a row and nothing prints a traceback."""

import json

import numpy as np
import pytest
import soundfile as sf

from audiogender import load_audio
from audiogender.cli import main
from helpers import SAMPLES, encode

pytestmark = pytest.mark.slow


def _originals(folder) -> dict[str, bytes]:
    """Small real recordings in WAV, FLAC, MP3 and M4A, 1.5 s each."""
    voice = load_audio(SAMPLES / "cmu_arctic_us_aew_a0001.wav")[:24_000]
    sf.write(folder / "o.wav", voice, 16_000, subtype="PCM_16")
    sf.write(folder / "o.flac", voice, 16_000)
    (folder / "o.mp3").write_bytes((SAMPLES / "p260_00000.mp3").read_bytes())
    encode(folder / "o.m4a", voice, "aac", "mp4")
    return {name: (folder / name).read_bytes() for name in ("o.wav", "o.flac", "o.mp3", "o.m4a")}


def _mutants(data: bytes, rng: np.random.Generator, count: int) -> list[bytes]:
    """Copies of ``data`` with damage where parsers look first (the header) or anywhere (the body)."""
    mutants = []
    for k in range(count):
        damaged = bytearray(data)
        where = rng.integers(0, min(64, len(damaged)), 4) if k % 2 == 0 else rng.integers(0, len(damaged), 8)
        for i in where:
            damaged[i] = rng.integers(0, 256) if k % 3 else 0xFF
        if k % 5 == 4:
            damaged = damaged[: rng.integers(1, len(damaged))]  # cut short
        mutants.append(bytes(damaged))
    return mutants


def test_every_mutated_file_gets_a_row_and_no_traceback(tmp_path, capsys):
    (tmp_path / "originals").mkdir()
    originals = _originals(tmp_path / "originals")
    rng = np.random.default_rng(7)
    batch = tmp_path / "batch"
    batch.mkdir()
    names = []
    for name, data in originals.items():
        stem, suffix = name.split(".")
        for k, mutant in enumerate(_mutants(data, rng, 25)):
            names.append(f"{suffix}_{k:02d}.{suffix}")
            (batch / names[-1]).write_bytes(mutant)
    status = main(["predict", str(batch), "--format", "json"])
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in rows) == sorted(names)  # a row per file, each once
    assert status in (0, 1) and "Traceback" not in captured.err
    for row in rows:
        assert (row["error"] is None) != (row["label"] is None)  # an answer or an error, never both, never neither
        if row["error"]:
            assert row["error"].startswith(("not a readable audio file", "holds no samples", "holds samples that are not finite", "a sample rate of"))
