"""Classifying on Ray: a local cluster gives the rows `audiogender predict` gives (needs audiogender[cluster])."""

import csv
import shutil

import pytest

import audiogender
from audiogender.cli import main
from helpers import AUDIOMNIST_SAMPLE, SAMPLES

pytest.importorskip("ray")
pyarrow = pytest.importorskip("pyarrow")
pytestmark = pytest.mark.slow  # a local Ray takes seconds to start, and 377 files to classify


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A few hundred files (the test recordings, copied over and over) and one corrupt one among them."""
    folder = tmp_path_factory.mktemp("archive")
    sources = sorted(AUDIOMNIST_SAMPLE.glob("data/*/*.wav")) + sorted(p for p in SAMPLES.iterdir() if p.suffix != ".csv")
    files = []
    for copy in range(8):
        for source in sources:
            files.append(folder / f"{copy}_{source.name}")
            shutil.copy(source, files[-1])
    files.insert(100, folder / "corrupt.wav")
    files[100].write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(100))
    return files


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_gives_the_rows_predict_gives(archive, ray_local):
    from audiogender.cluster import predict_on_ray

    rows = predict_on_ray(archive)
    expected = [p.to_dict() for p in audiogender.load_model().predict_files(archive)]
    assert len(rows) == len(archive) >= 300
    assert [r["path"] for r in rows] == [str(p) for p in archive]
    for row, want in zip(rows, expected):
        assert row["label"] == want["label"] and row["error"] == want["error"]
        for field in ("p_female", "speech_seconds", "duration_seconds"):
            assert (row[field] is None) == (want[field] is None) and (row[field] or 0) == pytest.approx(want[field] or 0, abs=1e-5)
    assert rows[100]["error"] and "not a readable audio file" in rows[100]["error"] and rows[101]["label"]


def test_the_command_line_writes_parquet_whole_from_a_listing(archive, ray_local, tmp_path):
    listing = tmp_path / "listing.txt"
    listing.write_text("# an archive\n" + "\n".join(map(str, archive[:40])) + "\n")
    out = tmp_path / "rows.parquet"
    assert main(["predict", "--listing", str(listing), "--ray", "--output", str(out)]) == 0
    table = pyarrow.parquet.read_table(out).to_pylist()
    assert [r["path"] for r in table] == list(map(str, archive[:40])) and all(r["label"] for r in table)
    out_csv = tmp_path / "rows.csv"
    assert main(["predict", str(archive[100]), str(archive[0]), "--ray", "--output", str(out_csv), "--format", "csv"]) == 1
    rows = list(csv.DictReader(out_csv.open()))
    assert rows[0]["error"] and rows[1]["label"] == "male"
