"""The HTTP service, through a client, against a real server process on 127.0.0.1."""

import base64
import io
import socket
import sys
import threading
import time
import wave
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import audiogender
from helpers import SAMPLES, cpu_seconds, flac_bomb, start_server

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

FILES = ["p240_00000.mp3", "cmu_arctic_us_aew_a0001.wav", "198-209-0000.ogg", "456440__inspectorj__bird-whistling-robin-single-13.ogg"]


@pytest.fixture(scope="module")
def served():
    server, url = start_server("--max-upload-mb", "1", "--timeout", "20", "--concurrency", "2")
    yield url
    server.terminate()
    server.wait(10)


def wav_bytes(samples: np.ndarray, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def upload(names):
    return [("files", (name, (SAMPLES / name).read_bytes())) for name in names]


def test_health_page_assets_and_api_description(served):
    assert httpx.get(served + "/health").json()["status"] == "ok"
    page = httpx.get(served + "/")
    assert page.status_code == 200 and 'id="record"' in page.text and "/static/app.js" in page.text
    assert "https://" not in page.text and "http://" not in page.text  # nothing from the internet
    for name in ("app.js", "app.css"):
        asset = httpx.get(f"{served}/static/{name}")
        assert asset.status_code == 200 and "http" not in asset.text
    schema = httpx.get(served + "/openapi.json").json()
    assert {"/predict", "/segment", "/health"} <= set(schema["paths"])
    docs = httpx.get(served + "/docs")
    assert docs.status_code == 200 and "POST /predict" in docs.text and "<script" not in docs.text


def test_predict_answers_as_the_command_line_does(served):
    rows = httpx.post(served + "/predict", files=upload(FILES), timeout=60).json()
    expected = [p.to_dict() for p in audiogender.load_model().predict_files([SAMPLES / n for n in FILES])]
    assert [r["path"] for r in rows] == FILES
    for row, want in zip(rows, expected):
        assert row["label"] == want["label"] and row["error"] is None
        assert row["speech_seconds"] == pytest.approx(want["speech_seconds"]) and row["duration_seconds"] == pytest.approx(want["duration_seconds"])
        assert (row["p_female"] is None) == (want["p_female"] is None) and (row["p_female"] or 0) == pytest.approx(want["p_female"] or 0, abs=1e-6)


def test_segment_answers_the_timeline(served):
    name = "3436-172162-0000.ogg"
    answer = httpx.post(served + "/segment", files={"file": (name, (SAMPLES / name).read_bytes())}, timeout=60).json()
    timeline = audiogender.load_model().segment(SAMPLES / name)
    assert answer["path"] == name and answer["label"] == timeline.prediction.label
    assert [(s["start"], s["end"], s["label"]) for s in answer["segments"]] == [(s.start, s.end, s.label) for s in timeline.segments]
    assert answer["speaking_seconds"] == pytest.approx(timeline.speaking_seconds())


def test_explain_answers_a_map_and_its_sound(served):
    name = "p240_00000.mp3"
    answer = httpx.post(served + "/explain", files={"file": (name, (SAMPLES / name).read_bytes())}, timeout=120).json()
    expected = audiogender.load_model().explain(SAMPLES / name)
    assert answer["path"] == name and answer["label"] == expected.label and answer["p_female"] == pytest.approx(expected.p_female, abs=1e-6)
    assert len(answer["relevance"]) == len(answer["band_hz"]) == 40 and len(answer["relevance"][0]) <= 600
    assert answer["relevance"][0] and answer["frame_seconds"] * len(answer["relevance"][0]) == pytest.approx(expected.relevance.shape[1] / 100, abs=0.1)
    assert base64.b64decode(answer["audible"])[:4] == b"RIFF"
    too_long = httpx.post(served + "/explain", files={"file": ("long.wav", wav_bytes(np.zeros(4_000 * 61), rate=4_000))}, timeout=60)
    assert too_long.status_code == 413 and "long.wav" in too_long.json()["detail"]


def test_what_is_not_audio_is_415_and_a_missing_file_400s(served, tmp_path):
    junk = [("files", ("notes.wav", b"this is not audio" * 100))]
    response = httpx.post(served + "/predict", files=junk)
    assert response.status_code == 415 and "notes.wav: not a readable audio file" in response.json()["detail"]
    assert "/tmp" not in response.text  # the private path it was read from is nobody's business
    mixed = httpx.post(served + "/predict", files=junk + upload(FILES[:1])).json()  # a batch goes on with the rest
    assert mixed[0]["error"] and mixed[1]["label"] == "female"
    assert httpx.post(served + "/segment", files={"file": ("empty.wav", b"")}).status_code == 415
    assert httpx.post(served + "/predict", data={"nothing": "here"}).status_code in (400, 422)


def test_client_names_never_touch_the_file_system(served, tmp_path):
    target = tmp_path / "written.wav"
    name = "../../../../../../.." + str(target)
    rows = httpx.post(served + "/predict", files=[("files", (name, (SAMPLES / FILES[0]).read_bytes()))]).json()
    assert rows[0]["path"] == "written.wav" and rows[0]["label"] == "female" and not target.exists()
    assert httpx.get(served + "/static/..%2F..%2Fcli.py").status_code == 404
    assert httpx.get(served + "/static/index.html").status_code == 404


def test_uploads_over_the_cap_are_413_declared_or_not(served):
    big = wav_bytes(np.zeros(16_000 * 40, np.float32))  # 1.3 MB, over the 1 MB cap
    assert httpx.post(served + "/predict", files=[("files", ("big.wav", big))]).status_code == 413

    body = b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n' + big + b"\r\n--x--\r\n"

    def chunks():  # no Content-Length: the cap is counted as the body arrives
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = httpx.post(served + "/segment", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413
    assert httpx.get(served + "/health").status_code == 200


def test_a_slow_client_is_cut_off_and_others_are_served():
    server, url = start_server("--timeout", "1.5")
    try:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.sendall(b"POST /segment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n\r\n--x\r\n")
            assert httpx.get(url + "/health").status_code == 200  # served while the slow one trickles
            slow.settimeout(10)
            started = time.monotonic()
            reply = slow.recv(4096).decode(errors="replace")
        assert reply.startswith("HTTP/1.1 408") and time.monotonic() - started < 5
    finally:
        server.terminate()
        server.wait(10)


def test_beyond_the_concurrency_requests_wait_or_get_503_and_the_server_lives():
    server, url = start_server("--concurrency", "1", "--queue-timeout", "0.2")
    long_recording = wav_bytes(np.tile(audiogender.load_audio(SAMPLES / "3436-172162-0000.ogg"), 8))  # two minutes
    try:
        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda _: httpx.post(url + "/segment", files={"file": ("long.wav", long_recording)}, timeout=120), range(4)))
        codes = sorted(r.status_code for r in replies)
        assert codes[0] == 200 and 503 in codes and set(codes) <= {200, 503}
        assert all(r.headers.get("retry-after") for r in replies if r.status_code == 503)
        assert httpx.get(url + "/health").status_code == 200 and server.poll() is None
    finally:
        server.terminate()
        server.wait(10)


def test_many_concurrent_requests_all_answered_alike(served):
    expected = {p.path.rsplit("/", 1)[-1]: p for p in audiogender.load_model().predict_files([SAMPLES / n for n in FILES])}
    errors = []

    def ask(i):
        name = FILES[i % len(FILES)]
        try:
            row = httpx.post(served + "/predict", files=upload([name]), timeout=120).json()[0]
            assert row["label"] == expected[name].label and row["speech_seconds"] == pytest.approx(expected[name].speech_seconds)
        except Exception as error:  # collected: an assertion in a thread would be lost
            errors.append(repr(error))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(24)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []


# --- what a client cannot make the service do ---------------------------------------------


def _idle_cpu(server, seconds: float = 1.0) -> float:
    """CPU seconds the server spends over ``seconds`` of wall time."""
    before = cpu_seconds(server.pid)
    time.sleep(seconds)
    return cpu_seconds(server.pid) - before


@pytest.mark.skipif(sys.platform != "linux", reason="reads a process's CPU time from /proc")
def test_a_decompression_bomb_is_refused_by_its_header_or_as_it_decodes(tmp_path):
    flac_bomb(tmp_path / "bomb.flac", 120)  # two hours of silence in a few hundred kilobytes
    flac_bomb(tmp_path / "liar.flac", 60, declared=False)  # an hour, its length not declared
    server, url = start_server("--max-audio-minutes", "10", "--timeout", "30")
    try:
        for name in ("bomb.flac", "liar.flac"):
            started = time.monotonic()
            reply = httpx.post(url + "/segment", files={"file": (name, (tmp_path / name).read_bytes())}, timeout=60)
            assert reply.status_code == 413 and "more than the limit of 10 minutes" in reply.json()["detail"], reply.text
            assert time.monotonic() - started < 10  # refused, not decoded and judged for minutes
            rows = httpx.post(url + "/predict", files=[("files", (name, (tmp_path / name).read_bytes()))], timeout=60)
            assert rows.status_code == 413
        assert _idle_cpu(server) < 0.3 and httpx.get(url + "/health").status_code == 200
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.skipif(sys.platform != "linux", reason="reads a process's CPU time from /proc")
def test_work_stops_when_its_time_runs_out_or_its_client_goes_away():
    speech = audiogender.load_audio(SAMPLES / "3436-172162-0000.ogg")
    long_recording = wav_bytes(np.tile(speech, 60))  # 17 minutes of speech: minutes of work
    server, url = start_server("--timeout", "3", "--concurrency", "1")
    try:
        reply = httpx.post(url + "/segment", files={"file": ("long.wav", long_recording)}, timeout=60)
        assert reply.status_code == 504
        time.sleep(1.0)  # the block in hand ends
        assert _idle_cpu(server) < 0.3  # and nothing more is judged
        port = int(url.rsplit(":", 1)[1])
        body = b'--x\r\nContent-Disposition: form-data; name="file"; filename="long.wav"\r\n\r\n' + long_recording + b"\r\n--x--\r\n"
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"POST /segment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)  # fmt: skip
            time.sleep(1.0)  # being classified
        time.sleep(1.0)  # the client hung up: the server notices, and the block in hand ends
        assert _idle_cpu(server) < 0.3
        assert httpx.get(url + "/health").status_code == 200
    finally:
        server.terminate()
        server.wait(10)


def test_slow_or_silent_connections_are_closed_and_their_number_is_bounded():
    server, url = start_server("--timeout", "1.5", "--max-connections", "3")
    port = int(url.rsplit(":", 1)[1])
    try:
        with socket.create_connection(("127.0.0.1", port)) as trickle, socket.create_connection(("127.0.0.1", port)) as silent:
            started = time.monotonic()
            trickle.settimeout(5)
            closed = b""
            for byte in b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n":  # one byte every 0.2 s: never a whole head in time
                try:
                    trickle.sendall(bytes([byte]))
                    time.sleep(0.2)
                except OSError:
                    break
            try:
                closed = trickle.recv(4096)
            except OSError:
                pass
            assert closed.startswith(b"HTTP/1.1 408") or closed == b""
            assert time.monotonic() - started < 4
            silent.settimeout(5)
            assert silent.recv(4096).startswith(b"HTTP/1.1 408")  # it sent nothing at all
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            assert httpx.get(url + "/health").status_code == 503  # beyond --max-connections
        finally:
            for s in held:
                s.close()
        time.sleep(0.2)
        assert httpx.get(url + "/health").status_code == 200
    finally:
        server.terminate()
        server.wait(10)


def test_headers_hosts_and_origins(tmp_path):
    server, url = start_server("--allow-origin", "https://app.example", "--allow-host", "voices.example")
    try:
        page = httpx.get(url + "/")
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer" and httpx.get(url + "/health").headers["x-frame-options"] == "DENY"
        files = upload(FILES[:1])
        assert httpx.get(url + "/health", headers={"Host": "evil.example"}).status_code == 421  # DNS rebinding
        assert httpx.get(url + "/health", headers={"Host": "voices.example:8000"}).status_code == 200
        assert httpx.get(url + "/health", headers={"Host": "localhost"}).status_code == 200
        refused = httpx.post(url + "/predict", files=files, headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403 and "--allow-origin" in refused.json()["detail"]
        allowed = httpx.post(url + "/predict", files=files, headers={"Origin": "https://app.example"})
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://app.example"
        own = httpx.post(url + "/predict", files=files, headers={"Origin": url})  # the page itself
        assert own.status_code == 200 and "access-control-allow-origin" not in own.headers
    finally:
        server.terminate()
        server.wait(10)
