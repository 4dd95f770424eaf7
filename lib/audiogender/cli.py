"""The command line: ``audiogender predict PATH...`` (also ``python -m audiogender``)."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from .audio import find_audio_files
from .device import DEVICES
from .vad import MIN_SPEECH_SECONDS, VAD_THRESHOLD

FIELDS = ["path", "label", "p_female", "speech_seconds", "duration_seconds", "error"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiogender", description="Tell male from female voices in recordings.")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict",
        help="classify audio files",
        description="Print, for each audio file, male/female (or 'no voice') and the probability that the voice is female.",
    )
    predict.add_argument("paths", nargs="+", help="audio files or folders (searched recursively)")
    predict.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format (default: %(default)s)")
    predict.add_argument("--model", default=None, help="a model.pt or run folder (default: the model shipped in the package)")
    predict.add_argument("--device", choices=DEVICES, default="auto", help="where the network runs (default: %(default)s)")
    predict.add_argument("--min-speech", type=float, default=MIN_SPEECH_SECONDS, metavar="SECONDS",
                         help="less speech than this answers 'no voice' (default: %(default)s)")  # fmt: skip
    predict.add_argument("--vad-threshold", type=float, default=VAD_THRESHOLD, metavar="P",
                         help="voice activity detector's speech probability threshold (default: %(default)s)")  # fmt: skip
    return parser


def write_rows(rows: list[dict], fmt: str, out) -> None:
    if fmt == "json":
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        width = max([len("path")] + [len(r["path"]) for r in rows])
        out.write(f"{'path':<{width}}  {'label':<8}  p_female\n")
        for r in rows:
            answer = f"error: {r['error']}" if r["error"] else f"{r['label']:<8}  {'' if r['p_female'] is None else format(r['p_female'], '.3f')}"
            out.write(f"{r['path']:<{width}}  {answer}\n")


def predict_command(args) -> int:
    from .predict import Prediction, load_model  # torch loads only when needed

    model = load_model(args.model, device=args.device, vad_threshold=args.vad_threshold, min_speech_seconds=args.min_speech)
    rows = []
    for path in args.paths:
        files = find_audio_files([path])
        if not files:
            rows.append(Prediction(str(path), None, None, None, None, "folder holds no audio files").to_dict())
        rows += [p.to_dict() for p in model.predict_files(files)]
    write_rows(rows, args.format, sys.stdout)
    return 1 if any(r["error"] for r in rows) or not rows else 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "predict":
        return predict_command(args)
    return 2
