"""The command line: ``audiogender predict PATH...`` and ``audiogender segment FILE``.

Also ``python -m audiogender``. Results go to stdout or, with ``--output``, to a file
written whole or not at all.
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import json
import sys
from pathlib import Path

from tqdm import tqdm

from .audio import AudioError, find_audio_files
from .files import atomic_file
from .predict import UNCERTAIN_BAND, Prediction, load_model
from .runtime import DEVICES
from .vad import MIN_SPEECH_SECONDS, VAD_THRESHOLD

FIELDS = ["path", "label", "p_female", "speech_seconds", "duration_seconds", "error"]
SEGMENT_FIELDS = ["start", "end", "label", "p_female"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiogender", description="Tell male from female voices in recordings.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--output", "-o", metavar="FILE", help="write the results to FILE instead of standard output")
    common.add_argument("--model", default=None, help="an exported model: a .onnx file, a .pt with its .onnx twin, or a run folder "
                        "(default: the model shipped in the package)")  # fmt: skip
    common.add_argument("--device", choices=DEVICES, default="auto", help="where ONNX Runtime runs the network: auto uses a CUDA GPU "
                        "if onnxruntime-gpu sees one, else the CPU (default: %(default)s)")  # fmt: skip
    common.add_argument("--min-speech", type=float, default=MIN_SPEECH_SECONDS, metavar="SECONDS",
                        help="less speech than this answers 'no voice' (default: %(default)s)")  # fmt: skip
    common.add_argument("--vad-threshold", type=float, default=VAD_THRESHOLD, metavar="P",
                        help="voice activity detector's speech probability threshold (default: %(default)s)")  # fmt: skip
    common.add_argument("--uncertain", type=float, nargs=2, default=UNCERTAIN_BAND, metavar=("LOW", "HIGH"),
                        help="p_female strictly between LOW and HIGH answers 'uncertain' (default: %(default)s; 0.5 0.5 turns it off)")  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict", parents=[common], help="classify audio files",
        description="Print one row per audio file: its label (female, male, uncertain or no voice), "
        "the probability that the voice is female, the seconds of speech and of audio, and any error.",
    )  # fmt: skip
    predict.add_argument("paths", nargs="+", help="audio files, folders (searched recursively) or glob patterns")
    predict.add_argument("--format", choices=["table", "csv", "jsonl", "json"], default="table", help="(default: %(default)s)")
    segment = commands.add_parser(
        "segment", parents=[common], help="a timeline of who speaks when in one recording",
        description="Print the voiced stretches of a recording (start, end, label, p_female) and the female and male speaking time.",
    )  # fmt: skip
    segment.add_argument("path", help="an audio file")
    segment.add_argument("--format", choices=["table", "csv", "json"], default="table", help="(default: %(default)s)")
    return parser


def expand(patterns) -> list[tuple[str, list[Path]]]:
    """Each argument with the audio files it names: a file, a folder's files, or a glob's matches."""
    expanded = []
    for pattern in patterns:
        if not Path(pattern).exists() and glob.has_magic(pattern):
            expanded.append((pattern, find_audio_files(sorted(glob.glob(pattern, recursive=True)))))
        else:
            expanded.append((pattern, find_audio_files([pattern])))
    return expanded


def format_rows(rows: list[dict], fields: list[str], fmt: str) -> str:
    """Rows as an aligned table, CSV, JSON lines or one JSON array."""
    out = io.StringIO()
    if fmt == "json":
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif fmt == "jsonl":
        out.writelines(json.dumps(row) + "\n" for row in rows)
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        cells = [[("" if row.get(f) is None else format(row[f], ".3f") if isinstance(row[f], float) else str(row[f])) for f in fields] for row in rows]
        shown = [f for i, f in enumerate(fields) if any(c[i] for c in cells) or f != "error"]
        widths = [max([len(f)] + [len(c[fields.index(f)]) for c in cells]) for f in shown]
        out.write("  ".join(f.ljust(w) for f, w in zip(shown, widths)).rstrip() + "\n")
        for c in cells:
            out.write("  ".join(c[fields.index(f)].ljust(w) for f, w in zip(shown, widths)).rstrip() + "\n")
    return out.getvalue()


def emit(text: str, output: str | None) -> None:
    if output:
        with atomic_file(output) as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def load(args):
    return load_model(args.model, device=args.device, vad_threshold=args.vad_threshold,
                      min_speech_seconds=args.min_speech, uncertain_band=tuple(args.uncertain))  # fmt: skip


def predict_command(args) -> int:
    expanded = expand(args.paths)
    model = load(args)
    files = [f for _, found in expanded for f in found]
    rows = [Prediction.failed(p, "names no audio file").to_dict() for p, found in expanded if not found]
    progress = tqdm(total=len(files), unit="file", disable=None if len(files) > 1 else True, file=sys.stderr)
    for prediction in model.predict_files(files):
        rows.append(prediction.to_dict())
        progress.update()
    progress.close()
    emit(format_rows(rows, FIELDS, args.format), args.output)
    return 1 if any(r["error"] for r in rows) else 0


def segment_command(args) -> int:
    model = load(args)
    try:
        timeline = model.segment(args.path)
    except AudioError as error:
        print(f"audiogender: {error}", file=sys.stderr)
        return 1
    rows = [s.to_dict() for s in timeline.segments]
    totals = timeline.speaking_seconds()
    if args.format == "json":
        text = json.dumps({"path": timeline.path, "duration_seconds": timeline.duration_seconds, "segments": rows,
                           "speaking_seconds": totals}, indent=2) + "\n"  # fmt: skip
    else:
        text = format_rows(rows, SEGMENT_FIELDS, args.format)
        if args.format == "table":
            text += f"\nspeaking time: female {totals['female']:.1f} s, male {totals['male']:.1f} s, uncertain {totals['uncertain']:.1f} s of {timeline.duration_seconds:.1f} s\n"
    emit(text, args.output)
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return {"predict": predict_command, "segment": segment_command}[args.command](args)
