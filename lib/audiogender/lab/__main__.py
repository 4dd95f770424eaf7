"""``python -m audiogender.lab data [FOLDER,...]``: make sure the report has its corpus, or say in one line why not.

The Makefile runs it before the notebooks, so that a report without data (no
``AUDIOGENDER_DATA``, no network to download AudioMNIST) stops at once with what to
do, not an hour later with a traceback.
"""

from __future__ import annotations

import sys

from .download import DownloadError


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "data":
        print("usage: python -m audiogender.lab data [FOLDER[,FOLDER...]]", file=sys.stderr)
        return 2
    from . import project

    try:
        folders = project.corpus_dirs(argv[1] if len(argv) > 1 else None)
        clips = project.load_corpus(folders)
    except (DownloadError, FileNotFoundError, ValueError) as error:
        print(f"audiogender: {error}", file=sys.stderr)
        return 1
    print(f"corpus: {len(clips):,} clips of {clips['speaker'].nunique()} speakers in {', '.join(project.relative(f) for f in folders)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
