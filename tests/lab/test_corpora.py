import http.server
import io
import json
import os
import shutil
import threading
import zipfile

import numpy as np
import pytest
import soundfile as sf

from audiogender.features import FeatureConfig
from audiogender.lab import cache
from audiogender.lab.cache import load_features
from audiogender.lab.corpora import read_audiomnist, read_corpora, read_corpus, read_manifest
from audiogender.lab.download import download_audiomnist
from helpers import AUDIOMNIST_SAMPLE, SAMPLES, SHARED, harmonic_tone


def test_reads_audiomnist_layout_from_root_or_data_folder():
    clips = read_audiomnist(AUDIOMNIST_SAMPLE)
    assert len(clips) == 31 and sorted(clips["speaker"].unique()) == ["01", "02", "03"]
    assert set(clips["gender"]) == {"male"} and set(clips["digit"]) == {0}
    assert clips.equals(read_audiomnist(AUDIOMNIST_SAMPLE / "data", corpus="audiomnist-sample"))


def test_reads_a_manifest_folder_and_keeps_only_voices():
    table = read_manifest(SAMPLES)
    assert all(os.path.exists(p) for p in table["path"])
    voices = read_corpora([SAMPLES])
    assert len(table) == 16 and len(voices) == 15 and set(voices["gender"]) == {"male", "female"}


def test_several_corpora_get_speaker_ids_prefixed():
    clips = read_corpora([SAMPLES, AUDIOMNIST_SAMPLE])
    assert "audiomnist-sample:01" in set(clips["speaker"]) and "cmu-arctic:arctic-axb" in set(clips["speaker"])
    assert set(clips["source"]) == {"samples", "audiomnist-sample"}  # the folder each clip came from


def test_a_speaker_in_two_folders_of_one_corpus_stays_one_speaker(tmp_path):
    twin = tmp_path / "more-librispeech"
    twin.mkdir()
    shutil.copy(SAMPLES / "198-209-0000.ogg", twin / "again.ogg")
    (twin / "manifest.csv").write_text("path,speaker,gender,corpus,language,digit\nagain.ogg,ls198,female,librispeech,en,\n")
    clips = read_corpora([SAMPLES, twin])
    assert (clips["speaker"] == "librispeech:ls198").sum() == 2


def test_a_folder_of_neither_layout_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither"):
        read_corpus(tmp_path)


@pytest.mark.skipif(not (SHARED / "audiomnist-az").exists(), reason="../shared/data is absent")
def test_reads_the_azerbaijani_stand_in_unchanged():
    clips = read_corpus(SHARED / "audiomnist-az")
    speakers = clips.groupby("speaker")["gender"].first()
    assert len(clips) == 3082 and len(speakers) == 59 and (speakers == "female").sum() == 19
    assert set(clips["language"]) == {"az"}  # from the manifest beside AudioMNIST's metadata


@pytest.mark.skipif(not (SHARED / "audiomnist-sample").exists(), reason="../shared/data is absent")
def test_reads_the_shared_audiomnist_sample_unchanged():
    assert len(read_corpus(SHARED / "audiomnist-sample")) == 31


def test_features_are_cached_and_recomputed_when_a_file_changes(tmp_path, monkeypatch):
    for i, f0 in enumerate((110, 220)):
        sf.write(tmp_path / f"{i}.wav", harmonic_tone(f0, 0.8), 16_000)
    clips = read_corpora([_manifest(tmp_path, ["0.wav", "1.wav"])])
    first = load_features(clips, FeatureConfig("mfcc"), cache_dir=tmp_path / "cache", progress=False)
    assert first.shape == (2, 98, 12)

    def fail(*args, **kwargs):
        raise AssertionError("recomputed despite the cache")

    with monkeypatch.context() as m:
        m.setattr(cache, "clip_features", fail)
        np.testing.assert_array_equal(load_features(clips, FeatureConfig("mfcc"), cache_dir=tmp_path / "cache"), first)
    sf.write(tmp_path / "1.wav", harmonic_tone(330, 0.8), 16_000)
    os.utime(tmp_path / "1.wav", ns=(1, 1))
    changed = load_features(clips, FeatureConfig("mfcc"), cache_dir=tmp_path / "cache", progress=False)
    assert not np.allclose(changed[1], first[1]) and np.allclose(changed[0], first[0])


def _manifest(folder, names):
    lines = ["path,speaker,gender,corpus,language,digit"] + [f"{n},s{i},{'female' if i else 'male'},t,en," for i, n in enumerate(names)]
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    return folder


# --- the downloader, against a local server --------------------------------------------


def _audiomnist_zip(n_speakers=2, clips_each=3) -> bytes:
    """A tiny archive laid out like GitHub's zip of the AudioMNIST repository."""
    buffer = io.BytesIO()
    meta = {f"{s:02d}": {"gender": "female" if s == 1 else "male"} for s in range(1, n_speakers + 1)}
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("AudioMNIST-master/README.md", "AudioMNIST")
        zf.writestr("AudioMNIST-master/data/audioMNIST_meta.txt", json.dumps(meta))
        for s in range(1, n_speakers + 1):
            for i in range(clips_each):
                wav = io.BytesIO()
                sf.write(wav, harmonic_tone(120 + 60 * s, 0.3, 48_000), 48_000, format="WAV")
                zf.writestr(f"AudioMNIST-master/data/{s:02d}/{i}_{s:02d}_{i}.wav", wav.getvalue())
    return buffer.getvalue()


class _Server:
    """An HTTP server on 127.0.0.1 that honours Range and can cut the first response short."""

    def __init__(self, payload: bytes, cut_first_at: int | None = None):
        self.payload, self.cut, self.ranges = payload, cut_first_at, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                header = self.headers.get("Range")
                server.ranges.append(header)
                start = int(header.split("=")[1].rstrip("-")) if header else 0
                body = server.payload[start:]
                self.send_response(206 if header else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut is not None:
                    body, server.cut = body[: server.cut], None
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/master.zip"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_resumes_verifies_and_extracts(tmp_path):
    payload = _audiomnist_zip()
    server = _Server(payload, cut_first_at=len(payload) // 2)
    try:
        with pytest.raises(OSError, match="run again to resume"):
            download_audiomnist(tmp_path, server.url, expected_clips=6, progress=False)
        assert (tmp_path / "AudioMNIST.zip.part").stat().st_size == len(payload) // 2
        assert not (tmp_path / "AudioMNIST").exists()
        folder = download_audiomnist(tmp_path, server.url, expected_clips=6, progress=False)
        assert server.ranges == [None, f"bytes={len(payload) // 2}-"]
        clips = read_audiomnist(folder)
        assert len(clips) == 6 and set(clips["gender"]) == {"male", "female"}
        assert sorted(p.name for p in tmp_path.iterdir()) == ["AudioMNIST"]
        assert download_audiomnist(tmp_path, server.url, progress=False) == folder and len(server.ranges) == 2
    finally:
        server.close()


def test_download_refuses_a_corrupt_or_incomplete_archive(tmp_path):
    payload = bytearray(_audiomnist_zip())
    payload[200:260] = bytes(60)  # damage the first member's data
    server = _Server(bytes(payload))
    try:
        with pytest.raises(OSError, match="corrupt|not a valid zip"):
            download_audiomnist(tmp_path, server.url, expected_clips=6, progress=False)
        assert not any(tmp_path.iterdir())
        server.payload = _audiomnist_zip()
        with pytest.raises(OSError, match="expected 30000"):
            download_audiomnist(tmp_path, server.url, progress=False)
        assert not (tmp_path / "AudioMNIST").exists()
    finally:
        server.close()


def test_download_checks_sha256(tmp_path):
    server = _Server(_audiomnist_zip())
    try:
        with pytest.raises(OSError, match="sha256"):
            download_audiomnist(tmp_path, server.url, expected_clips=6, sha256="0" * 64, progress=False)
    finally:
        server.close()
