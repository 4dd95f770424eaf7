"""How fast do the HTTP API and Ray answer? Prints figures; checks only that the answers agree with `audiogender predict`.

    python benchmarks/serve_speed.py [--clips 200] [--clients 4] [--model cnn]

1. Requests per second and latency (median, p95) for 1-second clips (48 kHz wav, cut
   from real recordings), one clip per ``POST /predict``, from ``--clients`` concurrent
   clients against ``audiogender serve`` on 127.0.0.1;
2. clips per second through ``audiogender predict --ray`` (a local Ray on this machine's
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
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = make_clips(voices(args.data), args.clips, Path(folder))
        api(paths, args.clients, args.model)
        if not args.skip_ray:
            ray_against_predict(paths, args.model)


if __name__ == "__main__":
    main()
