"""``python -m audiogender.lab data [FOLDER,...]`` and ``python -m audiogender.lab voice [--data DIR] [--leave-out]``.

``data``: make sure the report has its corpus, or say in one line why not. The
Makefile runs it before the notebooks, so that a report without data (no
``AUDIOGENDER_DATA``, no network to download AudioMNIST) stops at once with what to
do, not an hour later with a traceback.

``voice``: train the voice detector that ships (``assets/voice.onnx``) on every
recording of ``DIR`` (``../shared/data``), its head fitted on the published
leave-sources-out summaries (``book/results/voice``); with ``--leave-out``, measure
those first, leaving each source out (an hour on two cores), and publish them.
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audiogender.lab")
    commands = parser.add_subparsers(dest="command", required=True)
    data = commands.add_parser("data", help="check (or download) the report's corpus")
    data.add_argument("folders", nargs="?", help="corpus folders, comma-separated (default: $AUDIOGENDER_DATA, else AudioMNIST)")
    voice = commands.add_parser("voice", help="train the shipped voice detector")
    voice.add_argument("--data", default="../shared/data", help="the folder holding the speech folders and nonspeech (default: %(default)s)")
    voice.add_argument("--leave-out", action="store_true", help="first measure it leaving each source out, and publish that")
    voice.add_argument("--cache-dir", default="data/cache")
    args = parser.parse_args(argv)
    if args.command == "data":
        return data_command(args.folders)
    return voice_command(args.data, args.leave_out, args.cache_dir)


if __name__ == "__main__":
    raise SystemExit(main())
