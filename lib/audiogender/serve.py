"""The HTTP service: ``audiogender serve`` (FastAPI, run by uvicorn; ``pip install 'audiogender[serve]'``).

Routes: ``GET /`` the web page (record from the microphone or drop files, then see the
answer and the timeline under the waveform; every asset is served by the package),
``POST /predict`` (one or more files, multipart field ``files``: the rows of
``audiogender predict --format json``), ``POST /segment`` (one file, field ``file``:
the answer, the timeline and the speaking time), ``POST /explain`` (one file of at most
a minute: what the model listened to, a relevance map over time and mel bands, and the
recording filtered to it as a WAV in base64), ``GET /health``, ``GET /openapi.json``
and ``GET /docs`` (the API described on a page that needs nothing from the internet).

What a public service needs (:class:`settings.Limits`): uploads larger than the cap answer 413,
before they are read when their length is declared; a request that is not answered
within its time limit (a slow upload included) answers 408 or 504; at most
``concurrency`` requests are classified at once, and one that waits longer than
``queue_seconds`` for its turn (or finds ``max_waiting`` already waiting) answers 503;
what is not audio answers 415, and what holds or decodes to more than ``max_audio_minutes``
413 (a few kilobytes of FLAC can decode to hours: it is refused by what its header
declares, or stopped once that much is decoded). A classification past its time limit,
or whose client went away, is stopped within a block. The Host, the Origin and the
headers of every answer are checked and set by ``guards``; a connection that sends its
request head too slowly is closed. Uploads are held in memory or in private temporary
files (python-multipart's), copied for decoding into a private temporary folder that
is removed when the request ends, under a fixed name: no name or path from the client
ever reaches the file system.
"""

import asyncio
import base64
import html
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePath

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from .audio import AUDIO_EXTENSIONS, AudioError, TooLong
from .explain import EXPLAIN_SECONDS, audible_wav
from .guards import LOOPBACK, BodyLimit, Guard, guarded_protocol
from .predict import GenderClassifier, Timeline
from .settings import HOST, PORT, Limits
from .shipped import DEFAULT_MODEL, STATIC_FILES, WEB_FILES, WEB_PAGE, web_text


def timeline_dict(name: str, timeline: Timeline) -> dict:
    """What ``POST /segment`` answers: the recording's answer, its voiced stretches and the speaking time."""
    return {**timeline.prediction.to_dict(), **timeline.to_dict(), "path": name}


def client_name(filename: str | None, index: int) -> str:
    """The name an upload is answered under: its base name, for the client's eyes only (never a path here)."""
    name = PurePath((filename or "").replace("\\", "/")).name
    return name or f"upload-{index + 1}"


def _suffix(name: str) -> str:
    """A known audio extension of the client's name, or none: decoders sniff the content either way."""
    suffix = PurePath(name).suffix.lower()
    return suffix if suffix in AUDIO_EXTENSIONS else ""


class Turns:
    """At most ``concurrency`` classifications at once, each in its own thread; the rest wait a while, or get 503.

    A classification that outlives its deadline, or whose client has gone away, is
    told to stop (its ``cancel`` is set), so that it frees its core within a block.
    """

    def __init__(self, limits: Limits):
        self.limits = limits
        self.slots = asyncio.Semaphore(limits.concurrency)
        self.waiting = 0
        self.executor = ThreadPoolExecutor(max_workers=limits.concurrency, thread_name_prefix="audiogender")

    def _ended(self, future) -> None:
        self.slots.release()
        if not future.cancelled():
            future.exception()  # retrieved: work stopped after its request was answered is no error to report

    async def run(self, work, deadline: float, request: Request):
        """``work(cancel)`` in a worker thread when a slot is free; 503 if none frees in time, 504 past the deadline."""
        if self.waiting >= self.limits.max_waiting:
            raise HTTPException(503, "too many requests are waiting: try again shortly", headers={"Retry-After": "5"})
        self.waiting += 1
        try:
            await asyncio.wait_for(self.slots.acquire(), self.limits.queue_seconds)
        except asyncio.TimeoutError:
            raise HTTPException(503, "busy: try again shortly", headers={"Retry-After": "5"}) from None
        finally:
            self.waiting -= 1
        loop, cancel = asyncio.get_running_loop(), threading.Event()
        future = loop.run_in_executor(self.executor, work, cancel)
        future.add_done_callback(self._ended)  # the slot frees when the work ends, not when we stop waiting
        try:
            while not future.done():
                await asyncio.wait([future], timeout=min(DISCONNECT_POLL_SECONDS, max(deadline - loop.time(), 0.001)))
                if future.done():
                    break
                if loop.time() >= deadline:
                    raise HTTPException(504, "the recording took longer than the time limit to classify")
                if await request.is_disconnected():
                    raise HTTPException(499, "the client went away")
            return future.result()
        except BaseException:
            cancel.set()
            raise


WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # listen on every network: the names it answers for must be given (--allow-host)
EXPLAIN_COLUMNS = 600  # a relevance map is sent at most this many frames wide (the page's strip is 900 px)
KEEP_ALIVE_SECONDS = 5  # an idle connection between requests is closed after this
DISCONNECT_POLL_SECONDS = 0.25  # how often a request being classified checks that its client is still there


def create_app(
    model: GenderClassifier, limits: Limits = Limits(), model_name: str = DEFAULT_MODEL, hosts=(HOST, *LOOPBACK), origins=()
):
    """The FastAPI application serving ``model`` within ``limits``, for the Host names ``hosts``, to pages of its own origin and ``origins``."""
    from . import __version__

    app = FastAPI(title="audiogender", version=__version__, docs_url=None, redoc_url=None,
                  description="Tell male from female voices in recordings.")  # fmt: skip
    app.add_middleware(BodyLimit, limits=limits)
    app.add_middleware(Guard, hosts=list(hosts), origins=list(origins))  # added last, so it runs first
    turns = Turns(limits)

    async def classify(request: Request, uploads: list[UploadFile], work):
        """Copy the uploads into a private folder and run ``work(paths, cancel)`` there, in turn; the folder goes afterwards."""
        folder = tempfile.mkdtemp(prefix="audiogender-")  # mode 0700: ours alone
        try:
            paths = []
            for i, upload in enumerate(uploads):
                path = os.path.join(folder, f"{i}{_suffix(client_name(upload.filename, i))}")
                with open(path, "wb") as out:
                    shutil.copyfileobj(upload.file, out)
                paths.append(path)
            return await turns.run(lambda cancel: work(paths, cancel), request.scope["state"]["deadline"], request)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            for upload in uploads:
                await upload.close()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page():
        return web_text(WEB_PAGE)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        if name not in STATIC_FILES:  # a fixed list: the name never becomes a path
            raise HTTPException(404, "no such file")
        return Response(web_text(name), media_type=WEB_FILES[name])

    @app.get("/health", summary="Whether the service is up, and which model it runs")
    def health():
        return {"status": "ok", "model": model_name, "version": __version__}

    @app.post("/predict", summary="Classify one or more recordings",
              description="Multipart field `files`, once per file. One row per file, as `audiogender predict --format json`; "
              "a file that cannot be read gets its row with `error`, unless none can (415).")  # fmt: skip
    async def predict(request: Request, files: list[UploadFile] = File(...)):
        names = [client_name(f.filename, i) for i, f in enumerate(files)]

        def work(paths, cancel):
            answers = model.predict_files(paths, n_jobs=1, max_seconds=limits.max_audio_seconds, cancel=cancel)
            return [_as_named(p.to_dict(), path, name) for path, name, p in zip(paths, names, answers)]

        rows = await classify(request, files, work)
        if all(row["error"] for row in rows):
            status = 413 if any(TooLong.says(row["error"]) for row in rows) else 415
            raise HTTPException(status, "; ".join(f"{row['path']}: {row['error']}" for row in rows))
        return rows

    @app.post("/segment", summary="The timeline of one recording",
              description="Multipart field `file`. The recording's answer, its voiced stretches (start, end, label, p_female) "
              "and the female and male speaking time.")  # fmt: skip
    async def segment(request: Request, file: UploadFile = File(...)):
        name = client_name(file.filename, 0)

        def work(paths, cancel):
            try:
                return timeline_dict(name, model.segment(paths[0], max_seconds=limits.max_audio_seconds, cancel=cancel))
            except AudioError as error:
                raise HTTPException(413 if isinstance(error, TooLong) else 415, f"{name}: {error.reason.replace(paths[0], name)}") from None

        return await classify(request, [file], work)

    @app.post("/explain", summary="What the model listened to in one recording",
              description=f"Multipart field `file`, at most {EXPLAIN_SECONDS:g} s. The answer, `relevance` (a row per mel band, "
              f"centres `band_hz`, a column per `frame_seconds`; positive: spoke for the answer), `by_frequency`, and `audible`: "
              "the recording filtered to what spoke for its answer, a 16 kHz WAV in base64.")  # fmt: skip
    async def explain(request: Request, file: UploadFile = File(...)):
        name = client_name(file.filename, 0)

        def work(paths, cancel):
            try:
                explanation = model.explain(paths[0], cancel=cancel)
            except AudioError as error:
                raise HTTPException(413 if isinstance(error, TooLong) else 415, f"{name}: {error.reason.replace(paths[0], name)}") from None
            return {**explanation.to_dict(max_frames=EXPLAIN_COLUMNS), "path": name,
                    "audible": base64.b64encode(audible_wav(explanation)).decode("ascii")}  # fmt: skip

        return await classify(request, [file], work)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs():
        return api_page(app.openapi())

    return app


def _as_named(row: dict, path: str, name: str) -> dict:
    """A row under the client's name, the private path it was read from nowhere in it."""
    return {**row, "path": name, "error": row["error"] and row["error"].replace(path, name)}


def api_page(schema: dict) -> str:
    """The OpenAPI description as a plain HTML page: the routes, what they take and answer (no script from a CDN)."""
    rows = []
    for path, methods in schema.get("paths", {}).items():
        for method, route in methods.items():
            fields = route.get("requestBody", {}).get("content", {})
            rows.append(
                f"<h2><code>{method.upper()} {html.escape(path)}</code></h2><p><b>{html.escape(route.get('summary', ''))}</b></p>"
                f"<p>{html.escape(route.get('description', ''))}</p><p>body: {html.escape(', '.join(fields) or 'none')}; "
                f"answers: {html.escape(', '.join(route.get('responses', {})))}</p>"
            )
    info = schema.get("info", {})
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(info.get('title', ''))} API</title></head><body>"
            f"<h1>{html.escape(info.get('title', ''))} {html.escape(info.get('version', ''))}</h1><p>{html.escape(info.get('description', ''))}</p>"
            f"<p>The machine-readable description: <a href='/openapi.json'>/openapi.json</a> (OpenAPI {html.escape(schema.get('openapi', ''))}).</p>"
            + "".join(rows) + "</body></html>")  # fmt: skip


def serve(
    model: GenderClassifier, host: str = HOST, port: int = PORT, limits: Limits = Limits(), model_name: str = DEFAULT_MODEL,
    allowed_hosts=(), allowed_origins=(),
) -> None:
    """Run the service until interrupted: for ``host``, the loopback names and ``allowed_hosts``; to pages of its own origin and ``allowed_origins``."""
    import uvicorn

    hosts = [*([] if host in WILDCARD_HOSTS else [host]), *LOOPBACK, *allowed_hosts]
    app = create_app(model, limits, model_name, hosts, allowed_origins)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_keep_alive=KEEP_ALIVE_SECONDS, http=guarded_protocol(limits.request_seconds),
                limit_concurrency=limits.max_connections)  # fmt: skip
