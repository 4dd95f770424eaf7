"""How fast do the HTTP API and Ray answer? Prints figures; checks only that the answers agree with `audiogender predict`.

    python benchmarks/serve_speed.py [--clips 200] [--clients 4] [--model cnn]

1. Requests per second and latency (median, p95) for 1-second clips (48 kHz wav, cut
   from real recordings), one clip per ``POST /predict``, from ``--clients`` concurrent
   clients against ``audiogender serve`` on 127.0.0.1;
2. under attack: the CPU one decompression bomb costs the server (a FLAC of a few
   hundred kilobytes that decodes to two hours, its length declared or not), and
   ``--requests`` ordinary 1-s requests, ``--clients`` at a time, sent while
   ``--bombs`` bombs are: how many succeed, and their p95;
3. clips per second through ``audiogender predict --ray`` (a local Ray on this machine's
   cores, its start-up included and also shown apart) against ``audiogender predict``
   on the same files.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from predict_speed import ROOT, make_clips, voices  # noqa: E402


def api(paths: list[Path], clients: int, model: str) -> None:
    import httpx

    from helpers import start_server

    server, url = start_server("--model", model)
    try:
        bodies = [(p.name, p.read_bytes()) for p in paths]
        with httpx.Client() as warm:
            warm.post(url + "/predict", files=[("files", bodies[0])])

        def ask(body):
            started = time.perf_counter()
            with httpx.Client(timeout=60) as client:
                row = client.post(url + "/predict", files=[("files", body)]).json()[0]
            return time.perf_counter() - started, row

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            answers = list(pool.map(ask, bodies))
        wall = time.perf_counter() - started
        latency = np.array([a[0] for a in answers]) * 1000
        import audiogender

        expected = [p.label for p in audiogender.load_model(model).predict_files(paths)]
        assert [a[1]["label"] for a in answers] == expected, "the API's answers differ from predict's"
        print(f"API, {model}: {len(paths) / wall:.0f} requests/s from {clients} clients; latency median {np.median(latency):.0f} ms, "
              f"p95 {np.percentile(latency, 95):.0f} ms (one 1-s clip per request)")  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)


def under_attack(paths: list[Path], model: str, bombs: int, requests: int, clients: int, folder: Path) -> None:
    import httpx

    from helpers import cpu_seconds, flac_bomb, start_server

    flac_bomb(folder / "bomb.flac", 120)
    flac_bomb(folder / "liar.flac", 120, declared=False)
    kinds = {"bomb.flac": (folder / "bomb.flac").read_bytes(), "liar.flac": (folder / "liar.flac").read_bytes()}
    server, url = start_server("--model", model)
    try:
        httpx.post(url + "/predict", files=[("files", (paths[0].name, paths[0].read_bytes()))], timeout=60)  # warm
        for name, data in kinds.items():
            before, started = cpu_seconds(server.pid), time.perf_counter()
            status = httpx.post(url + "/segment", files={"file": (name, data)}, timeout=120).status_code
            print(f"one {len(data) // 1024} KB FLAC that decodes to 2 hours ({'length declared' if name == 'bomb.flac' else 'length not declared'}): "
                  f"{status} in {time.perf_counter() - started:.2f} s, {cpu_seconds(server.pid) - before:.2f} s of the server's CPU")  # fmt: skip

        def bomb(i):
            name = list(kinds)[i % 2]
            return httpx.post(url + "/segment", files={"file": (name, kinds[name])}, timeout=120).status_code

        def ask(path):
            started = time.perf_counter()
            try:
                status = httpx.post(url + "/predict", files=[("files", (path.name, path.read_bytes()))], timeout=60).status_code
            except httpx.HTTPError:
                status = None
            return status, time.perf_counter() - started

        with ThreadPoolExecutor(bombs) as attackers, ThreadPoolExecutor(clients) as pool:
            sent = [attackers.submit(bomb, i) for i in range(bombs)]
            answers = list(pool.map(ask, [paths[i % len(paths)] for i in range(requests)]))
            bombed = [f.result() for f in sent]
        ok = [seconds for status, seconds in answers if status == 200]
        print(f"while {bombs} bombs were sent (answered {sorted(bombed)}): {len(ok)} of {requests} ordinary requests succeeded, "
              f"{clients} at a time; p95 {np.percentile(ok, 95) if ok else float('nan'):.2f} s, worst {max(ok) if ok else float('nan'):.2f} s")  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)


def ray_against_predict(paths: list[Path], model: str) -> None:
    import ray

    import audiogender
    from audiogender.cluster import predict_on_ray

    started = time.perf_counter()
    expected = [p.to_dict() for p in audiogender.load_model(model).predict_files(paths)]
    local = time.perf_counter() - started
    started = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    up = time.perf_counter() - started
    rows = predict_on_ray(paths, model=model)
    on_ray = time.perf_counter() - started
    ray.shutdown()
    assert [r["label"] for r in rows] == [e["label"] for e in expected], "Ray's answers differ from predict's"
    print(f"Ray (local, {model}): {len(paths) / on_ray:.0f} clips/s with its start-up ({up:.1f} s), {len(paths) / (on_ray - up):.0f} clips/s after it; "
          f"audiogender predict: {len(paths) / local:.0f} clips/s, same {len(paths)} files")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--bombs", type=int, default=4)
    parser.add_argument("--requests", type=int, default=50, help="ordinary requests sent while the bombs are")
    parser.add_argument("--attack-clients", type=int, default=8)
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = make_clips(voices(args.data), args.clips, Path(folder))
        api(paths, args.clients, args.model)
        under_attack(paths, args.model, args.bombs, args.requests, args.attack_clients, Path(folder))
        if not args.skip_ray:
            ray_against_predict(paths, args.model)


if __name__ == "__main__":
    main()
