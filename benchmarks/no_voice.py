"""Which recordings answer "no voice"? Prints, per folder of ../shared/data, how many voiced clips do (the target is none)
and whether the recordings without a voice still do.

    python benchmarks/no_voice.py [--data ../shared/data] [--model cnn] [--trim]

With ``--trim``, also the voiced clips of ``audiomnist-az`` and ``telephone-8k`` trimmed
tight to their voiced part (Silero's stretches, padded as it pads them, on the whole
clip), and the same resampled to 8 kHz: the clips that made Silero alone miss speech.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from helpers import manifest  # noqa: E402  (a folder's manifest rows, paths made whole)


def trimmed(rows: list[dict], folder: Path, rate: int) -> list[dict]:
    """Each clip cut to its voiced part, written at ``rate``."""
    import soxr

    from audiogender import load_audio
    from audiogender.settings import Settings
    from audiogender.vad import speech_regions
    from audiogender.windows import level_for_detection

    out = []
    for i, row in enumerate(rows):
        audio = load_audio(row["path"])
        regions = speech_regions(level_for_detection(audio)[0], Settings().vad_threshold, Settings().min_speech_seconds)
        if not regions:
            continue
        piece = audio[regions[0][0] : regions[-1][1]]
        path = folder / f"{rate}_{i}.wav"
        sf.write(path, soxr.resample(piece, 16_000, rate) if rate != 16_000 else piece, rate)
        out.append({**row, "path": str(path)})
    return out


def count(model, rows: list[dict]) -> tuple[int, int, list[str]]:
    labels = [p.label for p in model.predict_files([r["path"] for r in rows])]
    missed = [r["path"] for r, label in zip(rows, labels) if label == "no voice"]
    return len(rows), len(missed), missed


def main() -> None:
    import audiogender

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--model", default=None)
    parser.add_argument("--trim", action="store_true")
    args = parser.parse_args()
    model = audiogender.load_model(args.model)
    print(f"{'folder':32s} {'voiced clips':>12s} {'no voice':>9s}")
    total = missed_total = 0
    for folder in sorted(p for p in args.data.iterdir() if (p / "manifest.csv").exists()):
        rows = manifest(folder)
        voiced = [r for r in rows if r["gender"] in ("female", "male")]
        n, missed, names = count(model, voiced)
        total, missed_total = total + n, missed_total + missed
        print(f"{folder.name:32s} {n:12d} {missed:9d}" + (f"   e.g. {', '.join(Path(m).name for m in names[:4])}" if missed else ""))
        silent = [r for r in rows if r["gender"] not in ("female", "male")]
        if silent:
            labels = [p.label for p in model.predict_files([r["path"] for r in silent])]
            answers = ", ".join(f"{Path(r['path']).name} -> {label}" for r, label in zip(silent, labels))
            print(f"{'':32s} without a voice: {answers}")
    print(f"{'all':32s} {total:12d} {missed_total:9d}")
    if args.trim:
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("audiomnist-az", "telephone-8k"):
                rows = [r for r in manifest(args.data / name) if r["gender"] in ("female", "male")]
                for rate in (16_000, 8_000):
                    n, missed, _ = count(model, trimmed(rows, Path(tmp), rate))
                    print(f"{name + f' trimmed, {rate // 1000} kHz':32s} {n:12d} {missed:9d}")
    rng = np.random.default_rng(0)
    t = np.arange(16_000) / 16_000
    clicks = np.zeros(16_000, np.float32)
    clicks[::1600] = 0.9
    signals = {"white noise": 0.1 * rng.standard_normal(16_000), "tone": 0.3 * np.sin(2 * np.pi * 440 * t), "silence": np.zeros(16_000), "clicks": clicks}
    print("signals: " + ", ".join(f"{name} -> {model.predict(np.asarray(s, np.float32)).label}" for name, s in signals.items()))


if __name__ == "__main__":
    main()
