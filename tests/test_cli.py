import csv
import io
import json
import subprocess
import sys

import pytest

from audiogender.cli import main
from helpers import SAMPLES


def run(capsys, *argv):
    status = main(list(argv))
    return status, capsys.readouterr().out


def test_csv_has_one_row_per_audio_file_of_a_folder(capsys):
    status, out = run(capsys, "predict", str(SAMPLES), "--format", "csv", "--device", "cpu")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and len(rows) == 16
    assert list(rows[0]) == ["path", "label", "p_female", "speech_seconds", "duration_seconds", "error"]
    labels = {r["path"].rsplit("/", 1)[-1]: r["label"] for r in rows}
    assert labels["456440__inspectorj__bird-whistling-robin-single-13.ogg"] == "no voice"
    assert labels["cmu_arctic_us_axb_a0004.wav"] == "female" and labels["cmu_arctic_us_aew_a0001.wav"] == "male"


def test_json_and_a_bad_file_sets_the_exit_status(capsys, tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio")
    status, out = run(capsys, "predict", str(SAMPLES / "p240_00000.mp3"), str(bad), "--format", "json")
    rows = json.loads(out)
    assert status == 1 and [r["error"] is None for r in rows] == [True, False]
    assert str(bad) in rows[1]["path"] and "cannot be read" in rows[1]["error"]


def test_a_folder_without_audio_is_reported(capsys, tmp_path):
    status, out = run(capsys, "predict", str(tmp_path))
    assert status == 1 and "holds no audio" in out


def test_python_dash_m_prints_a_table():
    result = subprocess.run(
        [sys.executable, "-m", "audiogender", "predict", str(SAMPLES / "cmu_arctic_us_axb_a0004.wav")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "cmu_arctic_us_axb_a0004.wav" in result.stdout and "female" in result.stdout


def test_help_names_the_formats(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert "csv" in capsys.readouterr().out
