import csv
import io
import json
import subprocess
import sys

import pytest

from audiogender.cli import main
from helpers import SAMPLES, encode


def run(capsys, *argv):
    status = main(list(argv))
    return status, capsys.readouterr().out


def test_csv_has_one_row_per_audio_file_of_a_folder(capsys):
    status, out = run(capsys, "predict", str(SAMPLES), "--format", "csv", "--device", "cpu")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and len(rows) == 16
    assert list(rows[0]) == ["path", "label", "p_female", "speech_seconds", "duration_seconds", "female_seconds", "male_seconds", "warning", "error"]
    labels = {r["path"].rsplit("/", 1)[-1]: r["label"] for r in rows}
    assert labels["456440__inspectorj__bird-whistling-robin-single-13.ogg"] == "no voice"
    assert labels["cmu_arctic_us_axb_a0004.wav"] == "female" and labels["cmu_arctic_us_aew_a0001.wav"] == "male"


def test_json_and_a_bad_file_sets_the_exit_status(capsys, tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio")
    status, out = run(capsys, "predict", str(SAMPLES / "p240_00000.mp3"), str(bad), "--format", "json")
    rows = json.loads(out)
    assert status == 1 and [r["error"] is None for r in rows] == [True, False]
    assert str(bad) in rows[1]["path"] and "not a readable audio file" in rows[1]["error"]


def test_a_folder_without_audio_is_reported(capsys, tmp_path):
    status, out = run(capsys, "predict", str(tmp_path))
    assert status == 1 and "names no audio file" in out


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


def test_globs_jsonl_and_an_output_file_written_whole(capsys, tmp_path):
    target = tmp_path / "out" / "rows.jsonl"
    status, out = run(capsys, "predict", str(SAMPLES / "cmu_arctic_*.wav"), "--format", "jsonl", "--output", str(target))
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert status == 0 and out == "" and len(rows) == 6
    assert [r["label"] for r in rows] == ["male"] * 3 + ["female"] * 3
    assert all(0 < r["speech_seconds"] <= r["duration_seconds"] for r in rows)
    assert [p.name for p in target.parent.iterdir()] == ["rows.jsonl"]  # no temporary file left


def test_the_uncertain_band_is_the_users(capsys):
    path = str(SAMPLES / "cmu_arctic_us_aew_a0001.wav")
    assert json.loads(run(capsys, "predict", path, "--format", "json", "--uncertain", "0.0", "1.0")[1])[0]["label"] == "uncertain"
    assert json.loads(run(capsys, "predict", path, "--format", "json")[1])[0]["label"] == "male"


def test_segment_writes_a_timeline_and_speaking_time(capsys, tmp_path):
    import numpy as np
    import soundfile as sf

    from audiogender import load_audio

    man, woman = load_audio(SAMPLES / "cmu_arctic_us_aew_a0001.wav"), load_audio(SAMPLES / "cmu_arctic_us_axb_a0004.wav")
    sf.write(tmp_path / "dialogue.flac", np.concatenate([man, np.zeros(16_000, np.float32), woman]), 16_000)
    status, out = run(capsys, "segment", str(tmp_path / "dialogue.flac"), "--format", "json")
    timeline = json.loads(out)
    assert status == 0 and timeline["duration_seconds"] == pytest.approx((man.size + woman.size) / 16_000 + 1, abs=0.01)
    labels = [s["label"] for s in timeline["segments"]]
    assert labels[0] == "male" and labels[-1] == "female"
    assert all(a["end"] <= b["start"] for a, b in zip(timeline["segments"], timeline["segments"][1:]))
    assert timeline["speaking_seconds"]["male"] > 2 and timeline["speaking_seconds"]["female"] > 1.5
    status, out = run(capsys, "segment", str(tmp_path / "dialogue.flac"))
    assert "speaking time: female" in out


def test_segment_names_an_unreadable_file(capsys, tmp_path):
    (tmp_path / "x.wav").write_bytes(b"junk")
    assert main(["segment", str(tmp_path / "x.wav")]) == 1
    assert str(tmp_path / "x.wav") in capsys.readouterr().err


def test_every_kind_of_bad_or_odd_input_gets_a_row_and_no_traceback(capsys, tmp_path):
    import numpy as np
    import soundfile as sf

    from audiogender import load_audio

    voice = load_audio(SAMPLES / "cmu_arctic_us_aew_a0001.wav")
    odd = {
        "pcm8.wav": lambda p: sf.write(p, voice, 16_000, subtype="PCM_U8"),
        "pcm24.wav": lambda p: sf.write(p, voice, 16_000, subtype="PCM_24"),
        "six.wav": lambda p: sf.write(p, np.stack([voice] * 6, axis=1), 16_000),
        "narrow.wav": lambda p: sf.write(p, voice[::2], 8_000),
        "wide.flac": lambda p: sf.write(p, np.repeat(voice, 6), 96_000),
    }
    bad = {
        "empty.wav": lambda p: p.write_bytes(b""),
        "zero.wav": lambda p: sf.write(p, np.zeros(0, np.float32), 16_000),
        "truncated.wav": lambda p: p.write_bytes((SAMPLES / "cmu_arctic_us_aew_a0001.wav").read_bytes()[:40]),
        "random.wav": lambda p: p.write_bytes(np.random.default_rng(1).bytes(5000)),
        "nan.wav": lambda p: sf.write(p, np.full(4000, np.nan, np.float32), 16_000, subtype="FLOAT"),
    }
    for name, make in {**odd, **bad}.items():
        make(tmp_path / name)
    (tmp_path / "no-audio").mkdir()
    status, out = run(capsys, "predict", str(tmp_path), str(tmp_path / "no-audio"), "--format", "json")
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in json.loads(out)}
    assert status == 1 and "Traceback" not in capsys.readouterr().err
    assert {n for n, r in rows.items() if r["error"]} == set(bad) | {"no-audio"}
    assert all(rows[n]["label"] == "male" for n in odd), {n: rows[n] for n in odd}


# --- hardening: outputs, paths, options, models, interruptions --------------------------


VOICE = SAMPLES / "cmu_arctic_us_axb_a0004.wav"


def test_output_through_a_link_replaces_its_target_and_keeps_the_link(capsys, tmp_path):
    (tmp_path / "target.csv").write_text("old\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "target.csv")
    status, _ = run(capsys, "predict", str(VOICE), "--format", "csv", "--output", str(tmp_path / "link.csv"))
    assert status == 0 and (tmp_path / "link.csv").is_symlink()
    assert (tmp_path / "target.csv").read_text().startswith("path,label")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "target.csv"]  # no temporary file left


def test_output_to_a_pipe_is_written_through(tmp_path):
    import os
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo).read()))
    reader.start()
    assert main(["predict", str(VOICE), "--format", "csv", "--output", str(fifo)]) == 0
    reader.join(timeout=30)
    assert received and received[0].startswith("path,label") and "female" in received[0]


def test_an_output_that_cannot_be_written_is_refused_before_any_work(capsys, tmp_path, monkeypatch):
    import audiogender.cli as cli

    monkeypatch.setattr(cli, "load", lambda *args: pytest.fail("the model was loaded: work began"))
    with pytest.raises(SystemExit) as stop:
        main(["predict", str(VOICE), "--output", str(tmp_path)])
    assert stop.value.code == 2 and "is a directory" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as stop:
        main(["predict", str(VOICE), "--output", str(tmp_path / "file" / "rows.csv")])
    assert stop.value.code == 2 and "not a folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "options, message",
    [
        (["--uncertain", "0.7", "0.3"], "uncertain band"),
        (["--uncertain", "-5", "50"], "uncertain band"),
        (["--vad-threshold", "5"], "threshold"),
        (["--vad-threshold", "0"], "threshold"),
        (["--min-speech", "nan"], "not a finite number"),
        (["--min-speech", "-1"], "minimum of speech"),
    ],
)
def test_options_that_make_no_sense_are_usage_errors(capsys, options, message):
    with pytest.raises(SystemExit) as stop:
        main(["predict", str(VOICE), *options])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and "Traceback" not in err


def test_a_missing_or_unusable_model_is_one_line(capsys, tmp_path):
    (tmp_path / "weights.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "junk.onnx").write_bytes(b"not a network")
    for model, message in ((tmp_path / "nothing.onnx", "no such model file"), (tmp_path / "weights.pt", "has no ONNX twin"),
                           (tmp_path / "junk.onnx", "not a model audiogender can run"), ("resnet", "no such model file")):  # fmt: skip
        with pytest.raises(SystemExit) as stop:
            main(["predict", str(VOICE), "--model", str(model)])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and message in err and len(err.strip().splitlines()) <= 3, err  # usage line, error line


def test_ctrl_c_is_one_line_and_status_130(capsys, monkeypatch):
    import audiogender.cli as cli

    def interrupted(args, model):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "predict_command", interrupted)
    assert main(["predict", str(VOICE)]) == 130
    assert capsys.readouterr().err == "audiogender: interrupted\n"


def test_ctrl_c_in_a_real_process():
    import signal
    import time

    folder = str(SAMPLES)
    process = subprocess.Popen([sys.executable, "-m", "audiogender", "predict", folder, folder, folder, folder], stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode in (130, 0) and "Traceback" not in err  # 0 if it finished first


def test_recursive_globs_through_links_to_parent_folders_answer_each_file_once(capsys, tmp_path):
    import shutil

    (tmp_path / "voices").mkdir()
    shutil.copy(VOICE, tmp_path / "voices" / "a.wav")
    shutil.copy(SAMPLES / "p260_00000.mp3", tmp_path / "voices" / "b.mp3")
    (tmp_path / "voices" / "loop").symlink_to(".")
    (tmp_path / "voices" / "up").symlink_to("..")
    status, out = run(capsys, "predict", f"{tmp_path}/voices/**", "--format", "json")
    assert status == 0 and sorted(r["path"].rsplit("/", 1)[-1] for r in json.loads(out)) == ["a.wav", "b.mp3"]


def test_folders_that_cannot_be_listed_get_a_row_and_m4a_files_are_found(capsys, tmp_path, monkeypatch):
    import os
    import shutil

    from audiogender import load_audio

    (tmp_path / "locked").mkdir()
    encode(tmp_path / "memo.m4a", load_audio(VOICE), "aac", "mp4")
    real_scandir = os.scandir

    def scandir(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    status, out = run(capsys, "predict", str(tmp_path), "--format", "json")
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in json.loads(out)}
    assert status == 1 and rows["memo.m4a"]["label"] == "female"
    assert "cannot be listed (Permission denied)" in rows["locked"]["error"]
    shutil.rmtree(tmp_path / "locked")


# --- names, destinations and files that are not what they seem ---------------------------


def test_names_with_carriage_returns_escapes_and_newlines_cannot_break_a_row(capsys, tmp_path):
    import shutil

    names = ["plain.wav", "cr\rin.wav", "esc\x1b[31mred.wav", "new\nline.wav"]
    for name in names:
        shutil.copy(VOICE, tmp_path / name)
    status, out = run(capsys, "predict", str(tmp_path), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert status == 0 and len(rows) == len(names) and sorted(r["path"].rsplit("/", 1)[-1] for r in rows) == sorted(names)
    status, table = run(capsys, "predict", str(tmp_path))
    assert "\x1b" not in table and "\r" not in table and len(table.splitlines()) == len(names) + 1  # a header and a line each
    assert "esc\\x1b[31mred.wav" in table and "new\\nline.wav" in table


def test_a_destination_that_fills_up_loses_no_answer(capsys, tmp_path):
    import os

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    status = main(["predict", str(VOICE), "--format", "csv", "--output", "/dev/full"])
    captured = capsys.readouterr()
    assert status == 1 and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and "No space left on device" in captured.err and "follow on standard output" in captured.err
    assert list(csv.DictReader(io.StringIO(captured.out)))[0]["label"] == "female"


def test_pipes_devices_and_truncated_files_get_rows_and_the_batch_never_hangs(tmp_path):
    import os
    import shutil

    import numpy as np
    import soundfile as sf

    from audiogender import load_audio

    folder = tmp_path / "mixed bag"
    folder.mkdir()
    shutil.copy(VOICE, folder / "good.wav")
    os.mkfifo(folder / "pipe.wav")  # a named pipe that nobody writes to: opening it would wait for ever
    (folder / "zero.mp3").symlink_to("/dev/zero")  # endless zeros
    voice = np.tile(load_audio(VOICE), 3)
    for fmt, ext, subtype in (("WAV", "wav", "PCM_16"), ("FLAC", "flac", "PCM_16"), ("OGG", "ogg", "VORBIS"), ("MP3", "mp3", "MPEG_LAYER_III")):
        sf.write(tmp_path / f"whole.{ext}", voice, 16_000, format=fmt, subtype=subtype)
        data = (tmp_path / f"whole.{ext}").read_bytes()
        (folder / f"half.{ext}").write_bytes(data[: len(data) // 2])
    done = subprocess.run([sys.executable, "-m", "audiogender", "predict", str(folder), "--format", "json", "--model", "cnn"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in json.loads(done.stdout)}
    assert done.returncode == 1 and "Traceback" not in done.stderr and len(rows) == 7
    assert "named pipe" in rows["pipe.wav"]["error"] and "a device" in rows["zero.mp3"]["error"]
    assert rows["good.wav"]["label"] == "female" and rows["good.wav"]["warning"] is None
    for ext in ("wav", "flac", "ogg", "mp3"):  # every format alike: judged on what could be read, and said so
        row = rows[f"half.{ext}"]
        assert row["error"] is None and row["label"] == "female" and 2 < row["duration_seconds"] < 6, row
        assert row["warning"] and ("cut short" in row["warning"] or "could not be read past" in row["warning"]), row


def test_odd_channel_counts_say_why_both_decoders_refused(capsys, tmp_path):
    import struct

    for channels in (0, 65535):
        data = bytes(400)
        block = (2 * channels) & 0xFFFF
        header = (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, channels, 16_000, (16_000 * 2 * channels) & 0xFFFFFFFF, block, 16)
                  + b"data" + struct.pack("<I", len(data)))  # fmt: skip
        (tmp_path / f"{channels}.wav").write_bytes(header + data)
    status, out = run(capsys, "predict", str(tmp_path), "--format", "json")
    errors = {r["path"].rsplit("/", 1)[-1]: r["error"] for r in json.loads(out)}
    assert status == 1 and "Channel count is zero" in errors["0.wav"] and "Too many channels" in errors["65535.wav"]
