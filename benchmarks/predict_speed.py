"""How fast does `audiogender` classify real recordings? Prints figures; checks only that its runs succeed and agree.

    python benchmarks/predict_speed.py [--models cnn encoder] [--clips 300] [--hour-minutes 60] [--data ../shared/data]

Measures, on this machine, in one run, for each shipped model:
1. clips per second over a folder of 1-second wav clips at 48 kHz (cut from real
   recordings), through ``GenderClassifier.predict_files``, as a ratio to
   ``voice2gender``'s one-file-at-a-time loop on the same clips in the same run (these
   machines are shared: a ratio to something measured beside it is what holds), and,
   for the CNN, through a plain loop (load, features, network, one clip at a time, no
   voice detection);
2. the real-time factor and peak memory of classifying and segmenting one long
   recording built by concatenating real clips with pauses (in a child process, so
   its peak memory is its own);
3. the wall time of ``audiogender predict`` on one short file from a cold start;
4. where a 1-s clip's time goes: each step ``predict_files`` runs, taken apart and timed
   on one thread (decoding, resampling at each of soxr's qualities, levels, features,
   the voice detector, Silero, the networks).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "tests" / "data" / "samples"


def voices(data: Path) -> list[Path]:
    """Real voiced recordings: ../shared/data when present, else the clips the repo ships."""
    found = sorted((data / "librispeech-251").glob("audio/*.flac"))[:40] + sorted((data / "audiomnist-az").glob("data/*/*.wav"))[:200]
    return found or sorted(p for p in SHIPPED.iterdir() if p.suffix in (".wav", ".ogg", ".mp3") and "robin" not in p.name)


def make_clips(sources: list[Path], count: int, folder: Path) -> list[Path]:
    """``count`` one-second wav clips at 48 kHz cut from the sources in turn."""
    from audiogender import load_audio

    pieces = []
    for source in sources:
        audio = load_audio(source)
        pieces += [audio[i : i + 16_000] for i in range(0, audio.size - 16_000 + 1, 16_000)]
        if len(pieces) >= count:
            break
    paths = []
    for i in range(count):
        path = folder / f"clip_{i:05d}.wav"
        sf.write(path, soxr.resample(pieces[i % len(pieces)], 16_000, 48_000), 48_000, subtype="PCM_16")
        paths.append(path)
    return paths


def make_long(sources: list[Path], minutes: float, path: Path) -> float:
    """A recording of ``minutes`` built from real clips with 0.5 s pauses; returns its length in seconds."""
    from audiogender import load_audio

    pause = np.zeros(8_000, np.float32)
    with sf.SoundFile(path, "w", samplerate=16_000, channels=1, subtype="PCM_16") as out:
        written, i = 0, 0
        while written < minutes * 60 * 16_000:
            audio = load_audio(sources[i % len(sources)])
            out.write(np.concatenate([audio, pause]))
            written += audio.size + pause.size
            i += 1
    return written / 16_000


def plain_loop(paths: list[Path]) -> float:
    """Seconds to classify each clip alone: load, fit to 1 s, features, network (torch, as in training)."""
    from audiogender import load_audio
    from audiogender.features import compute_features
    from audiogender.lab.clips import prepare_clip
    from audiogender.lab.networks import TorchNetwork, load_checkpoint

    module, features, _ = load_checkpoint()
    network = TorchNetwork(module, features, "cpu")

    def judge(path):
        return network.log_odds(compute_features(prepare_clip(load_audio(path)), features)[None])

    judge(paths[0])  # warm up
    started = time.perf_counter()
    for path in paths:
        judge(path)
    return time.perf_counter() - started


def voice2gender_loop(paths: list[Path]) -> float | None:
    """Seconds for ``voice2gender`` to answer each clip, one file at a time (read, resampled to 44.1 kHz, its features, its model)."""
    from audiogender.lab.baselines import file_voice2gender, voice2gender_available

    if not voice2gender_available():
        return None
    file_voice2gender(paths[0])  # warm up
    started = time.perf_counter()
    for path in paths:
        file_voice2gender(path)
    return time.perf_counter() - started


def library(paths: list[Path], kind: str) -> float:
    from audiogender import load_model

    model = load_model(kind=kind, device="cpu")
    model.predict(paths[0])  # warm up
    started = time.perf_counter()
    results = list(model.predict_files(paths))
    assert all(r.error is None for r in results)
    return time.perf_counter() - started


def peak_memory_mb() -> float:
    """This process's own peak resident memory. Linux's ``ru_maxrss`` also counts what the parent held when it
    forked (exec keeps the high-water mark), so a child started by this benchmark would report the benchmark's."""
    status = Path("/proc/self/status")
    if status.exists():
        return next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmHWM:")) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def long_recording(path: str, kind: str) -> None:
    """Child process: classify and segment one long file, print seconds and peak memory as JSON."""
    from audiogender import load_model

    model = load_model(kind=kind, device="cpu")
    started = time.perf_counter()
    prediction = model.predict(path)
    predicted = time.perf_counter() - started
    timeline = model.segment(path)  # the timeline and the whole recording's answer, in one pass
    segmented = time.perf_counter() - started - predicted
    assert timeline.prediction == prediction
    peak_mb = peak_memory_mb()
    print(json.dumps({"predict_s": predicted, "segment_s": segmented, "peak_mb": peak_mb, "label": prediction.label, "segments": len(timeline.segments)}))


def stages(paths: list[Path]) -> None:
    """Milliseconds a 1-s clip spends in each step of ``predict_files``, on one thread."""
    from audiogender import load_model
    from audiogender.vad import short_clip_probabilities
    from audiogender.voice import active_span, shipped_detector
    from audiogender.windows import level_for_detection, piece_features

    detector, cnn, encoder = shipped_detector(), load_model(kind="cnn", device="cpu"), load_model(kind="encoder", device="cpu")
    spent: dict[str, float] = {}

    def timed(step, work):
        started = time.perf_counter()
        result = work()
        spent[step] = spent.get(step, 0.0) + time.perf_counter() - started
        return result

    def judge(path) -> np.ndarray:
        data, rate = timed("decode (libsndfile)", lambda: sf.read(path, dtype="float32"))
        resampled = {quality: timed(f"resample {rate // 1000} -> 16 kHz, soxr {quality}", lambda: soxr.resample(data, rate, 16_000, quality=quality))
                     for quality in ("QQ", "LQ", "MQ", "HQ", "VHQ")}  # fmt: skip
        audio = resampled["HQ"]  # what audiogender uses
        level, _ = timed("level, DC, sounding part", lambda: level_for_detection(audio))
        start, end = timed("level, DC, sounding part", lambda: active_span(level))
        logmel = timed("log-mel features (detector and CNN)", lambda: piece_features(level[start:end], detector.features))
        timed("voice detector CNN", lambda: detector.log_odds(logmel))
        timed("Silero, if it were asked (it is for few)", lambda: short_clip_probabilities(level))
        timed("gender CNN", lambda: cnn.network.window_outputs(logmel))
        mel = timed("mel features (GE2E)", lambda: piece_features(level[start:end], encoder.features))
        timed("GE2E, a window alone", lambda: encoder.network.window_outputs(mel))
        return mel

    judge(paths[0])  # warm up
    spent.clear()
    batch = np.concatenate([judge(path) for path in paths])[:64]
    started = time.perf_counter()
    encoder.network.window_outputs(batch)
    spent["GE2E, a window in a batch of 64"] = (time.perf_counter() - started) / len(batch) * len(paths)
    print(f"where a 1-s clip's time goes, one thread, {len(paths)} clips (ms a clip):")
    for step, seconds in spent.items():
        print(f"  {step:45s} {1000 * seconds / len(paths):7.2f}")


def main() -> None:
    from audiogender.shipped import DEFAULT_MODEL, SHIPPED_MODELS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(SHIPPED_MODELS), choices=list(SHIPPED_MODELS))
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--hour-minutes", type=float, default=60.0, help="length of the long recording in minutes")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return long_recording(*args.child)

    sources = voices(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = make_clips(sources, args.clips, tmp)
        seconds = make_long(sources, args.hour_minutes, tmp / "long.wav")
        v2g = voice2gender_loop(clips)
        if v2g is not None:
            print(f"voice2gender, one file at a time, {len(clips)} 1-s clips at 48 kHz: {len(clips) / v2g:8.1f} clips/s")
        if "cnn" in args.models:
            plain = plain_loop(clips)
            print(f"plain loop (the CNN alone, no voice detection), {len(clips)} 1-s clips at 48 kHz: {len(clips) / plain:8.1f} clips/s")
        for kind in args.models:
            batched = library(clips, kind)
            default = " (the default)" if kind == DEFAULT_MODEL else ""
            print(f"{kind}{default}:")
            ratio = f"   {v2g / batched:5.1f} x voice2gender's" if v2g is not None else ""
            print(f"  1-s clips at 48 kHz, predict_files      {len(clips) / batched:8.1f} clips/s{ratio}")
            child = subprocess.run([sys.executable, __file__, "--child", str(tmp / "long.wav"), kind], capture_output=True, text=True, check=True)
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"  {seconds / 60:.1f} min recording, classify  {figures['predict_s']:8.1f} s   RTF {figures['predict_s'] / seconds:.4f}")
            print(f"  classify + segment (one pass)          {figures['segment_s']:8.1f} s   RTF {figures['segment_s'] / seconds:.4f}")
            print(f"  peak memory                            {figures['peak_mb']:8.0f} MB")
            started = time.perf_counter()
            subprocess.run([str(Path(sys.executable).parent / "audiogender"), "predict", str(clips[0]), "--model", kind], capture_output=True, check=True)
            print(f"  cold start, audiogender predict on one 1-s file  {time.perf_counter() - started:.2f} s")
        stages(clips[:200])


if __name__ == "__main__":
    main()
