"""The two commands: what `make report` and `make install` would run (make -n), and the report's data check."""

import io
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(*targets, **variables) -> list[str]:
    command = ["make", "-n", "--no-print-directory", *targets, *(f"{k}={v}" for k, v in variables.items())]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()


def test_a_chapter_replaces_its_page_only_after_its_notebook_ran_to_the_end():
    lines = _dry_run("notebooks", AUDIOGENDER_DATA="../shared/data/audiomnist-az")
    runs = [line for line in lines if "papermill" in line]
    assert len(runs) == 8 and all(" _build/notebooks/" in run and " book/" not in run for run in runs)
    for run in runs:
        built = run.split(" _build/notebooks/")[1].split()[0]
        following = lines[lines.index(run) + 1]
        assert following == f"mv _build/notebooks/{built} book/{built}"  # and make stops before it if papermill failed
    assert all("TQDM_DISABLE=1" in run for run in runs)  # no progress-bar boxes in the report


def test_the_report_checks_its_data_before_any_notebook_runs():
    lines = _dry_run("notebooks")
    check = next(i for i, line in enumerate(lines) if "audiogender.lab data" in line)
    assert check < next(i for i, line in enumerate(lines) if "papermill" in line)


def test_torch_is_the_cpu_build_without_a_gpu_and_can_be_overridden():
    install = next(line for line in _dry_run("install", CPU_INDEX_REACHABLE="yes") if '"torch' in line)
    if shutil.which("nvidia-smi") is None:
        assert "download.pytorch.org/whl/cpu" in install and "torch==2.13.0+cpu" in install
    unreachable = next(line for line in _dry_run("install", CPU_INDEX_REACHABLE="") if '"torch' in line)
    assert "download.pytorch.org/whl" not in unreachable and '"torch==2.13.0"' in unreachable  # no retries for every package
    override = next(line for line in _dry_run("install", TORCH="torch==2.13.0", TORCH_INDEX="") if '"torch' in line)
    assert "download.pytorch.org" not in override and '"torch==2.13.0"' in override


def test_no_data_and_no_network_is_one_line_saying_what_to_do(capsys, monkeypatch, tmp_path):
    from audiogender.lab import __main__ as lab_cli
    from audiogender.lab import download, project

    monkeypatch.delenv(project.DATA_ENV, raising=False)
    monkeypatch.setattr(project, "download_audiomnist", lambda dest: download.download_audiomnist(dest, url="http://127.0.0.1:9/x.zip", progress=False))
    monkeypatch.setattr(project, "resolve", lambda path: tmp_path / path)
    assert lab_cli.main(["data"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not be downloaded from http://127.0.0.1:9/x.zip" in err[0] and "AUDIOGENDER_DATA=" in err[0]


def test_progress_bars_are_off_where_the_report_turns_them_off(monkeypatch):
    from audiogender.lab import progress_bar

    monkeypatch.setenv("TQDM_DISABLE", "1")  # what make report sets: tqdm alone ignores it when disable= is given
    assert progress_bar(range(2), progress=True).disable
    monkeypatch.delenv("TQDM_DISABLE")
    assert not progress_bar(range(2), progress=True, file=io.StringIO()).disable and progress_bar(range(2), progress=False).disable
