"""``python -m audiogender.lab data [FOLDER,...]``, ``voice [--data DIR] [--leave-out]`` and ``listening [--data DIR]``.

``data``: make sure the report has its corpus, or say in one line why not. The
Makefile runs it before the notebooks, so that a report without data (no
``AUDIOGENDER_DATA``, no network to download AudioMNIST) stops at once with what to
do, not an hour later with a traceback.

``voice``: train the voice detector that ships (``assets/voice.onnx``) on every
recording of ``DIR`` (``../shared/data``), its head fitted on the published
leave-sources-out summaries (``book/results/voice``); with ``--leave-out``, measure
those first, leaving each source out (an hour on two cores), and publish them.

``listening``: what the shipped models listened to over the calm and excited clips of
``DIR/baved`` (the product's maps for both, LRP beside them for the CNN), and each
speaker's median F0 beside the published leave-one-corpus-out p(female); published in
``book/results/listening`` for ``05_evaluate`` (minutes on two cores).
"""

from __future__ import annotations

import argparse
import sys

from .download import DownloadError


def data_command(folders: str | None) -> int:
    from . import project

    try:
        dirs = project.corpus_dirs(folders)
        clips = project.load_corpus(dirs)
    except (DownloadError, FileNotFoundError, ValueError) as error:
        print(f"audiogender: {error}", file=sys.stderr)
        return 1
    print(f"corpus: {len(clips):,} clips of {clips['speaker'].nunique()} speakers in {', '.join(project.relative(f) for f in dirs)}")
    return 0


def voice_command(data: str, leave_out: bool, cache_dir: str) -> int:
    from . import detector, project

    published = project.resolve(detector.PUBLISHED)
    clips = detector.voice_clips(project.resolve(data), project.resolve(cache_dir))
    if leave_out:
        print(detector.publish(detector.leave_sources_out(clips, project.resolve(cache_dir)), published))
    print(detector.train_shipped(clips, published, project.resolve(cache_dir)))
    return 0


def listening_command(data: str) -> int:
    import pandas as pd

    import audiogender

    from . import listening, project
    from .corpora import read_corpora

    clips = listening.calm_and_excited(read_corpora([project.resolve(data) / "baved"]))
    models = {kind: audiogender.load_model(kind=kind) for kind in ("cnn", "encoder")}
    profiles = listening.band_profiles(clips, models)
    profiles["path"] = [project.relative(p) for p in profiles["path"]]  # as the other published tables record them
    predictions = pd.read_csv(project.resolve("book/results/corpora/predictions.csv.gz"))
    predictions["path"] = [str(project.resolve(p)) for p in predictions["path"]]
    print(listening.publish(profiles, listening.speaker_pitch(predictions), project.resolve(listening.PUBLISHED)))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audiogender.lab")
    commands = parser.add_subparsers(dest="command", required=True)
    data = commands.add_parser("data", help="check (or download) the report's corpus")
    data.add_argument("folders", nargs="?", help="corpus folders, comma-separated (default: $AUDIOGENDER_DATA, else AudioMNIST)")
    voice = commands.add_parser("voice", help="train the shipped voice detector")
    voice.add_argument("--data", default="../shared/data", help="the folder holding the speech folders and nonspeech (default: %(default)s)")
    voice.add_argument("--leave-out", action="store_true", help="first measure it leaving each source out, and publish that")
    voice.add_argument("--cache-dir", default="data/cache")
    listening = commands.add_parser("listening", help="what the shipped models listened to, over many clips")
    listening.add_argument("--data", default="../shared/data", help="the folder holding baved (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.command == "data":
        return data_command(args.folders)
    if args.command == "listening":
        return listening_command(args.data)
    return voice_command(args.data, args.leave_out, args.cache_dir)


if __name__ == "__main__":
    raise SystemExit(main())
