"""The command line: ``audiogender predict PATH...``, ``segment FILE``, ``explain FILE`` and ``serve``.

Also ``python -m audiogender``. Results go to stdout or, with ``--output``, to a file
written whole or not at all. A problem says so in one line: a bad option or model is a
usage error (exit status 2) found before any work, a file that cannot be read gets its
row and the rest go on (exit status 1), Ctrl-C stops with status 130.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import math
import os
import sys

from tqdm import tqdm

from .audio import AudioError
from .files import OutputError, check_output, write_output
from .paths import name_files
from .predict import PREDICTION_FIELDS, SEGMENT_FIELDS, GenderClassifier, Prediction, load_model
from .runtime import DEVICES, ModelError
from .settings import HOST, PORT, Limits, Settings, options
from .shipped import DEFAULT_MODEL, SHIPPED_MODELS

INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


def _number(text: str) -> float:
    """A finite number, or a usage error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _whole(text: str) -> int:
    """A whole number, or a usage error."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def add_options(parser: argparse.ArgumentParser, settings_class) -> None:
    """The options of a settings class (:func:`settings.options`), each with its field's default, flag and help."""
    for f in options(settings_class):
        default = f.default
        nargs = len(default) if isinstance(default, tuple) else None
        kind = _whole if isinstance(default, int) and not isinstance(default, bool) else _number
        shown = " ".join(map(str, default)) if nargs else default
        parser.add_argument(f.metadata["flag"], dest=f.name, type=kind, nargs=nargs, default=default, metavar=f.metadata["metavar"],
                            help=f"{f.metadata['help']} (default: {shown})")  # fmt: skip


def chosen(args, settings_class):
    """The settings object the command line's options make (ValueError, saying why, for values that make no sense)."""
    return settings_class(**{f.name: getattr(args, f.name) for f in options(settings_class)})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiogender", description="Tell male from female voices in recordings.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--output", "-o", metavar="FILE", help="write the results to FILE instead of standard output")
    common.add_argument("--model", default=None, help=f"a shipped model ({', '.join(SHIPPED_MODELS)}; default: {DEFAULT_MODEL}) "
                        "or an exported one: a .onnx file, a .pt with its .onnx twin, or a run folder")  # fmt: skip
    common.add_argument("--device", choices=DEVICES, default="auto", help="where ONNX Runtime runs the network: auto uses a CUDA GPU "
                        "if onnxruntime-gpu sees one, else the CPU (default: %(default)s)")  # fmt: skip
    add_options(common, Settings)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict", parents=[common], help="classify audio files",
        description="Print one row per audio file: its label (female, male, uncertain or no voice), "
        "the probability that the voice is female, the seconds of speech and of audio, and any error.",
    )  # fmt: skip
    predict.add_argument("paths", nargs="*", help="audio files, folders (searched recursively) or glob patterns")
    predict.add_argument("--listing", metavar="FILE", help="also classify the files FILE lists, one path per line")
    predict.add_argument("--format", choices=["table", "csv", "jsonl", "json"], default="table",
                         help="(default: %(default)s); an --output ending in .parquet is written as Parquet (needs pyarrow)")  # fmt: skip
    predict.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                         help="classify on a Ray cluster (ray://host:10001, host:6379 or auto); without ADDRESS, a local Ray "
                         "(needs audiogender[cluster])")  # fmt: skip
    segment = commands.add_parser(
        "segment", parents=[common], help="a timeline of who speaks when in one recording",
        description="Print the voiced stretches of a recording (start, end, label, p_female) and the female and male speaking time.",
    )  # fmt: skip
    segment.add_argument("path", help="an audio file")
    segment.add_argument("--format", choices=["table", "csv", "json"], default="table", help="(default: %(default)s)")
    explain = commands.add_parser(
        "explain", parents=[common], help="what the model listened to in one recording (at most a minute)",
        description="Print the answer for a recording and which frequencies it rests on; with --format json, the whole relevance "
        "map over time and mel bands (each 0.1 s by 4 mel bands faded in turn toward a typical window).",
    )  # fmt: skip
    explain.add_argument("path", help="an audio file")
    explain.add_argument("--format", choices=["table", "json"], default="table", help="(default: %(default)s)")
    explain.add_argument("--plot", metavar="PNG", help="also draw the map under the recording's log-mel (needs matplotlib)")
    explain.add_argument("--listen", metavar="WAV", help="also write the recording filtered to what spoke for its answer")
    serve = commands.add_parser(
        "serve", parents=[common], help="serve a web page and an HTTP API (needs audiogender[serve])",
        description="Serve the web page (record or drop files) at / and the API (POST /predict, POST /segment, GET /health; described at /docs).",
    )  # fmt: skip
    serve.add_argument("--host", default=HOST, help="(default: %(default)s; 0.0.0.0 serves every network)")
    serve.add_argument("--port", type=_whole, default=PORT, help="(default: %(default)s)")
    serve.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="also answer requests for this Host name (besides --host and the loopback names); repeat for more")  # fmt: skip
    serve.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                       help="let pages of this origin (https://app.example) POST here and read the answers; repeat for more")  # fmt: skip
    add_options(serve, Limits)
    return parser


def format_rows(rows: list[dict], fields: list[str], fmt: str) -> str:
    """Rows as an aligned table, CSV, JSON lines or one JSON array.

    CSV quotes any field holding a line break, a carriage return included; the table
    shows a name's control characters (a newline, ESC) escaped, so that no file name
    breaks a row or sends a terminal its codes.
    """
    out = io.StringIO()
    if fmt == "json":
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif fmt == "jsonl":
        out.writelines(json.dumps(row) + "\n" for row in rows)
    elif fmt == "csv":
        for row in [dict(zip(fields, fields)), *rows]:
            line = io.StringIO()  # written with CRLF, so that a lone \r in a field is quoted too; the line itself ends in \n
            csv.DictWriter(line, fieldnames=fields, lineterminator="\r\n", extrasaction="ignore").writerow(row)
            out.write(line.getvalue()[:-2] + "\n")
    else:
        cells = [[_cell(row.get(f)) for f in fields] for row in rows]
        shown = [f for i, f in enumerate(fields) if any(c[i] for c in cells) or f not in OPTIONAL_COLUMNS]
        widths = [max([len(f)] + [len(c[fields.index(f)]) for c in cells]) for f in shown]
        out.write("  ".join(f.ljust(w) for f, w in zip(shown, widths)).rstrip() + "\n")
        for c in cells:
            out.write("  ".join(c[fields.index(f)].ljust(w) for f, w in zip(shown, widths)).rstrip() + "\n")
    return out.getvalue()


OPTIONAL_COLUMNS = ("warning", "error")  # shown in a table only when a row has one


def _cell(value) -> str:
    """A table cell: floats to 3 places, None empty, what a terminal would act on escaped."""
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".3f")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value))


def emit(text: str, output: str | None) -> int:
    """Write ``text`` to ``output`` (or standard output): 0, or 1 if ``output`` could not be written, the text then
    on standard output, so that no answer is lost (a full disk, ``/dev/full``)."""
    if output:
        try:
            write_output(output, text)
            return 0
        except OutputError as error:
            print(f"audiogender: {error}; the results follow on standard output", file=sys.stderr)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 1 if output else 0


def load(args, settings: Settings) -> GenderClassifier:
    return load_model(args.model, device=args.device, settings=settings)


def listed_paths(listing: str | None) -> list[str]:
    """The paths a listing file names, one per line (blank lines and lines starting with # skipped)."""
    if listing is None:
        return []
    try:
        with open(listing, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"--listing {listing}: cannot be read ({error.__class__.__name__}: {error})") from None


def ray_target(args) -> tuple[str | None, list[str]]:
    """(the Ray address, or None for no Ray; ``local`` for one started here, and the paths to classify).

    ``--ray`` followed by a path, not an address, means a local Ray and that path classified.
    """
    if args.ray and os.path.exists(args.ray):
        return "local", [args.ray, *args.paths]
    return args.ray, list(args.paths)


def writes_parquet(args) -> bool:
    """Whether ``predict`` is to write its rows as Parquet (an ``--output`` ending in ``.parquet``)."""
    return args.command == "predict" and bool(args.output) and args.output.endswith(".parquet")


def predict_command(args, model: GenderClassifier) -> int:
    address, arguments = ray_target(args)
    named = [name_files(argument) for argument in arguments]
    files = [f for n in named for f in n.files] + listed_paths(args.listing)
    rows = [Prediction.failed(n.argument, "names no audio file").to_dict() for n in named if not n.files and not n.problems]
    rows += [Prediction.failed(path, reason).to_dict() for n in named for path, reason in n.problems]
    if address:
        from .cluster import predict_on_ray

        rows += predict_on_ray(files, None if address == "local" else address, args.model, settings=model.settings)
    else:
        progress = tqdm(total=len(files), unit="file", disable=None if len(files) > 1 else True, file=sys.stderr)
        for prediction in model.predict_files(files):
            rows.append(prediction.to_dict())
            progress.update()
        progress.close()
    failed = 1 if any(r["error"] for r in rows) else 0
    if writes_parquet(args):
        from .cluster import parquet_bytes

        try:
            write_output(args.output, parquet_bytes(rows))
            return failed
        except OutputError as error:
            print(f"audiogender: {error}; the results follow on standard output, as {args.format}", file=sys.stderr)
            return max(1, emit(format_rows(rows, PREDICTION_FIELDS, args.format), None))
    return max(failed, emit(format_rows(rows, PREDICTION_FIELDS, args.format), args.output))


def segment_command(args, model: GenderClassifier) -> int:
    try:
        timeline = model.segment(args.path)
    except AudioError as error:
        print(f"audiogender: {error}", file=sys.stderr)
        return 1
    if args.format == "json":
        text = json.dumps(timeline.to_dict(), indent=2) + "\n"
    else:
        totals = timeline.speaking_seconds()
        text = format_rows([s.to_dict() for s in timeline.segments], SEGMENT_FIELDS, args.format)
        if args.format == "table":
            text += f"\nspeaking time: female {totals['female']:.1f} s, male {totals['male']:.1f} s, uncertain {totals['uncertain']:.1f} s of {timeline.duration_seconds:.1f} s\n"
    return emit(text, args.output)


def explain_command(args, model: GenderClassifier) -> int:
    from .explain import audible_wav, plot_explanation

    try:
        explanation = model.explain(args.path)
    except AudioError as error:
        print(f"audiogender: {error}", file=sys.stderr)
        return 1
    if args.format == "json":
        text = json.dumps(explanation.to_dict(), indent=None) + "\n"
    else:
        p = "" if explanation.p_female is None else f", p(female) {explanation.p_female:.3f}"
        shares = "".join(f"  {band:>14}  {share:6.1%}\n" for band, share in explanation.by_frequency().items())
        text = f"{args.path}: {explanation.label}{p}\nwhere the answer rests (share of the relevance that spoke for it):\n{shares}"
    status = emit(text, args.output)
    if args.plot:
        write_output(args.plot, plot_explanation(explanation))
    if args.listen:
        write_output(args.listen, audible_wav(explanation))
    return status


def serve_command(args, model: GenderClassifier, limits: Limits) -> int:
    from .serve import serve

    serve(model, args.host, args.port, limits, model_name=args.model or DEFAULT_MODEL, allowed_hosts=args.allow_host, allowed_origins=args.allow_origin)
    return 0


def check_inputs(args) -> None:
    """Refuse, before any work, a ``predict`` that names nothing, or a listing that cannot be read."""
    if args.command != "predict":
        return
    if not ray_target(args)[1] and not args.listing:
        raise ValueError("name audio files, folders or patterns, or --listing FILE")
    listed_paths(args.listing)


def check_extras(args) -> None:
    """Refuse, before loading anything, what needs a package that is not installed: Ray, pyarrow, the server's."""
    wanted = {}
    if args.command == "predict" and ray_target(args)[0]:
        wanted["ray"] = "--ray needs Ray: pip install 'audiogender[cluster]'"
    if writes_parquet(args):
        wanted["pyarrow"] = "a .parquet output needs pyarrow: pip install 'audiogender[cluster]'"
    if args.command == "explain" and args.plot:
        wanted["matplotlib"] = "--plot needs matplotlib: pip install matplotlib"
    if args.command == "serve":
        missing = [name for name in ("fastapi", "uvicorn", "multipart") if importlib.util.find_spec(name) is None]
        if missing:
            raise ValueError(f"serve needs {', '.join(missing)}: pip install 'audiogender[serve]'")
    for package, message in wanted.items():
        if importlib.util.find_spec(package) is None:
            raise ValueError(message)


def check_serving(args) -> None:
    """Refuse a server that could not run: an output file it would never write, or a port that is none."""
    if args.command != "serve":
        return
    if args.output:
        raise ValueError("serve writes no output file")
    if not 0 <= args.port < 65536:
        raise ValueError(f"--port must be 0-65535, not {args.port}")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        try:
            settings = chosen(args, Settings)
            limits = chosen(args, Limits) if args.command == "serve" else None
            check_inputs(args)
            check_serving(args)
            check_extras(args)
            for destination in (args.output, getattr(args, "plot", None), getattr(args, "listen", None)):
                if destination:
                    check_output(destination)  # before the work, so no result is lost to a bad destination
            model = load(args, settings)
        except (ValueError, ModelError, OutputError) as error:
            parser.error(str(error))
        if limits is not None:
            return serve_command(args, model, limits)
        return {"predict": predict_command, "segment": segment_command, "explain": explain_command}[args.command](args, model)
    except KeyboardInterrupt:
        print("audiogender: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away (| head): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OutputError as error:
        print(f"audiogender: {error}", file=sys.stderr)
        return 1
