import subprocess
import sys
from dataclasses import replace

import pytest

from audiogender.cli import build_parser, chosen
from audiogender.settings import Limits, Settings, options


def test_settings_refuse_what_would_make_every_answer_wrong():
    assert Settings(uncertain_band=[0.3, 0.7]).uncertain_band == (0.3, 0.7)  # YAML and argparse give lists
    for bad, message in (({"vad_threshold": 1.0}, "threshold"), ({"vad_threshold": float("nan")}, "finite"),
                         ({"min_speech_seconds": -0.1}, "minimum of speech"), ({"uncertain_band": (0.6, 0.4)}, "uncertain band"),
                         ({"uncertain_band": (0.5,)}, "two numbers"), ({"min_speech_seconds": "1"}, "finite")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            Settings(**bad)
    with pytest.raises(ValueError, match="threshold"):
        replace(Settings(), vad_threshold=0)  # a changed copy is checked too
    assert Settings().label_for(0.55) == "uncertain" and Settings(uncertain_band=(0.5, 0.5)).label_for(0.55) == "female"


def test_limits_check_themselves_without_the_server_imported():
    code = (
        "import sys; from audiogender.settings import Limits\n"
        "for bad in ({'max_upload_mb': 0}, {'request_seconds': -1}, {'concurrency': 0}, {'queue_seconds': float('inf')}):\n"
        "    try: Limits(**bad)\n"
        "    except ValueError: pass\n"
        "    else: raise SystemExit(f'accepted {bad}')\n"
        "assert Limits(max_upload_mb=2).max_upload_bytes == 2 * 1024 * 1024\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'uvicorn', 'starlette')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_command_lines_options_and_defaults_are_the_settings_own():
    parser = build_parser()
    predict = parser.parse_args(["predict", "x.wav"])
    assert chosen(predict, Settings) == Settings()
    serve = parser.parse_args(["serve"])
    assert chosen(serve, Limits) == Limits() and chosen(serve, Settings) == Settings()
    changed = parser.parse_args(["serve", "--timeout", "5", "--concurrency", "3", "--uncertain", "0.2", "0.8"])
    assert chosen(changed, Limits) == Limits(request_seconds=5, concurrency=3) and chosen(changed, Settings).uncertain_band == (0.2, 0.8)
    help_text = parser._subparsers._group_actions[0].choices["serve"].format_help()
    assert all(f.metadata["flag"] in help_text for f in options(Settings) + options(Limits))
