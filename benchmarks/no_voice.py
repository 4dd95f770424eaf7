"""Which recordings answer "no voice", and which should? Prints figures; checks nothing.

    python benchmarks/no_voice.py [--data ../shared/data] [--model cnn] [--published book/results/voice]

1. Leaving sources out (the figures that count): each source of non-speech (UrbanSound8K,
   animals, instruments) and each speech folder judged by a detector and a head trained
   without it, as published by ``05_evaluate`` (``book/results/voice``, re-run with
   ``audiogender.lab.detector.leave_sources_out``): the share answered right per source,
   per category and, on the acted corpora, per emotion.
2. The shipped model, end to end (``predict_files``): every voiced clip of the speech
   folders (how many answer no voice; none should), every recording of ``nonspeech``
   (all should), and made-up sounds of every kind at 0.3, 1 and 4 s. The shipped
   detector was trained on these folders, so 2 shows the product's behaviour, 1 its worth.
3. Long recordings: speech, a sound without a voice, speech again (a dog barking in an
   interview), segmented with the learned decision vetoing Silero's stretches and with
   Silero alone: seconds of the sound given a gender, and of the speech kept. (The
   shipped detector heard these sounds in training: this measures the veto's mechanics.)
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "lib"))
from audiogender.lab.evaluate import EXCITED  # noqa: E402
from helpers import manifest  # noqa: E402  (a folder's manifest rows, paths made whole)


def published(folder: Path) -> None:
    import pandas as pd

    decided = pd.read_csv(folder / "decisions.csv.gz")
    right = decided["said"] == (decided["voice"] == 1)
    speech, sounds = decided["voice"] == 1, decided["voice"] == 0
    print(f"leaving each source out ({folder}): {int((~right & speech).sum())} of {int(speech.sum())} voiced clips answer no voice "
          f"({(~right & speech).mean() / speech.mean():.2%}); {right[sounds].mean():.1%} of {int(sounds.sum())} sounds without a voice do; "
          f"Silero asked for {decided['asked'].mean():.0%} of the recordings")  # fmt: skip
    table = decided.assign(right=right).groupby(["voice", "source", "category"])["right"].agg(["size", "mean"])
    for (voice, source, category), row in table.iterrows():
        what = "voiced, answered with a voice" if voice else "no voice, answered no voice"
        print(f"  {source:18s} {category:20s} {int(row['size']):5d}  {row['mean']:.3f}  {what}")
    acted = decided[decided["emotion"].notna()] if "emotion" in decided else decided[:0]
    for (source, emotion), group in acted.groupby(["source", "emotion"]):
        print(f"  {source:18s} {emotion:20s} {len(group):5d}  {group['said'].mean():.3f}  voiced{'  (strong)' if emotion in EXCITED else ''}")


def shipped(data: Path, model_name: str | None) -> None:
    import numpy as np

    import audiogender
    from audiogender.lab.signals import KINDS, signals
    from audiogender.labels import NO_VOICE

    model = audiogender.load_model(model_name)
    print(f"\nthe shipped model ({model.network.describe()}), end to end:")
    total = missed = 0
    for folder in sorted(p for p in data.iterdir() if (p / "manifest.csv").exists() and p.name != "nonspeech"):
        rows = [r for r in manifest(folder) if r["gender"] in ("female", "male")]
        labels = [p.label for p in model.predict_files([r["path"] for r in rows])]
        lost = [r for r, label in zip(rows, labels) if label == NO_VOICE]
        strong = sum(r.get("emotion") in EXCITED for r in lost)
        total, missed = total + len(rows), missed + len(lost)
        print(f"  {folder.name:20s} {len(rows):5d} voiced clips, {len(lost):3d} answer no voice" + (f" ({strong} of strong emotion)" if strong else "")
              + (f": {', '.join(Path(r['path']).name for r in lost[:3])}" if lost else ""))  # fmt: skip
    print(f"  {'all':20s} {total:5d} voiced clips, {missed:3d} answer no voice ({missed / max(total, 1):.2%})")
    rows = manifest(data / "nonspeech")
    labels = [p.label for p in model.predict_files([r["path"] for r in rows])]
    kept = Counter(r["category"] for r, label in zip(rows, labels) if label == NO_VOICE)
    seen = Counter(r["category"] for r in rows)
    print(f"  nonspeech: {sum(kept.values())} of {len(rows)} answer no voice ({sum(kept.values()) / len(rows):.1%}); worst: "
          + ", ".join(f"{c} {kept[c]}/{n}" for c, n in sorted(seen.items(), key=lambda kv: kept[kv[0]] / kv[1])[:4]))  # fmt: skip
    for seconds in (0.3, 1.0, 4.0):
        answers = {kind: model.predict(np.asarray(s, np.float32)).label for kind, s in signals(seconds, random_state=7).items()}
        wrong = [kind for kind in KINDS if answers[kind] != NO_VOICE]
        print(f"  made-up sounds, {seconds:g} s: {len(KINDS) - len(wrong)} of {len(KINDS)} answer no voice" + (f" (not: {', '.join(wrong)})" if wrong else ""))


def timelines(data: Path, model_name: str | None, recordings: int = 60, random_state: int = 0) -> None:
    import numpy as np

    import audiogender
    from audiogender import load_audio
    from audiogender.predict import GenderClassifier
    from audiogender.voice import VoiceDetector

    class SileroAlone(VoiceDetector):
        """Keeps every stretch Silero finds in a long recording."""

        def decide_with(self, log_odds, silero) -> bool:
            return bool(len(log_odds))

    model = audiogender.load_model(model_name)
    alone = GenderClassifier(model.network, model.settings, SileroAlone(model.detector.file))
    rng = np.random.default_rng(random_state)
    speech = [r["path"] for f in ("librispeech-251", "voxceleb-sample") if (data / f).exists() for r in manifest(data / f)]
    sounds = manifest(data / "nonspeech")
    gap = np.zeros(8_000, np.float32)
    found = {"learned decision": Counter(), "Silero alone": Counter()}
    for _ in range(recordings):
        first, second = (load_audio(speech[i])[:80_000] for i in rng.choice(len(speech), 2, replace=False))
        sound = sounds[rng.integers(len(sounds))]
        noise = load_audio(sound["path"])[:80_000]
        recording = np.concatenate([first, gap, noise, gap, second])
        start = (first.size + gap.size) / 16_000
        end = start + noise.size / 16_000
        family = sound["source"] if sound["source"] == "UrbanSound8K" else "animals" if "Animal" in sound["source"] else "instruments"
        for name, classifier in (("learned decision", model), ("Silero alone", alone)):
            segments = classifier.segment(recording).segments
            on_sound = sum(max(0.0, min(s.end, end) - max(s.start, start)) for s in segments)
            spoken = sum(s.end - s.start for s in segments) - on_sound
            found[name].update({f"{family} seconds": noise.size / 16_000, f"{family} given a gender": on_sound,
                                "speech seconds": (first.size + second.size) / 16_000, "speech kept": spoken})  # fmt: skip
    print(f"\nlong recordings (speech, a sound, speech; {recordings} made from librispeech-251, voxceleb-sample and nonspeech):")
    for name, counts in found.items():
        parts = [f"{family}: {counts[f'{family} given a gender']:.1f} of {counts[f'{family} seconds']:.1f} s given a gender"
                 for family in ("UrbanSound8K", "animals", "instruments") if counts[f"{family} seconds"]]  # fmt: skip
        print(f"  {name:17s} {'; '.join(parts)}; speech kept {counts['speech kept']:.1f} of {counts['speech seconds']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--model", default=None)
    parser.add_argument("--published", type=Path, default=ROOT / "book" / "results" / "voice")
    args = parser.parse_args()
    if (args.published / "decisions.csv.gz").exists():
        published(args.published)
    if args.data.exists():
        shipped(args.data, args.model)
        timelines(args.data, args.model)


if __name__ == "__main__":
    main()
