"""Archives on a Ray cluster: ``audiogender predict --ray [ADDRESS]`` and :func:`predict_on_ray`.

Ray is an optional extra (``pip install 'audiogender[cluster]'``); nothing else imports it.
Ray Data spreads the files over the cluster in two stages: tasks read and decode each
file and turn its voiced pieces into window features (:func:`prepare_file`, the same
``voiced_blocks`` that ``audiogender predict`` runs), and actors, each holding one
ONNX Runtime session, judge the windows of many files at once (:class:`WindowJudge`,
the same ``answer`` as on one machine). So the rows are those ``audiogender predict``
gives, in the order of the files; a file that cannot be read gets its error row and
the rest go on. The command line writes them as any output is written: whole, or not at all.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
from collections.abc import Iterable

import numpy as np

from .audio import AudioError, stream_audio
from .predict import PREDICTION_FIELDS, Prediction, load_model
from .scheduler import Tally, judge_blocks
from .settings import Settings
from .windows import voiced_blocks

FILES_PER_TASK = 16  # files one read task decodes before handing them on
FILES_PER_BATCH = 32  # files whose windows an actor judges in one go


def prepare_file(row: dict, features, settings: Settings) -> dict:
    """A file's voiced blocks with their window features (pickled, as Ray passes them on), or the reason it cannot be read."""
    try:
        stream = stream_audio(row["path"])
        blocks = list(voiced_blocks(stream, features, settings))
        return {"path": row["path"], "error": None, "blocks": pickle.dumps((blocks, stream.warnings), protocol=pickle.HIGHEST_PROTOCOL)}
    except AudioError as error:
        return {"path": row["path"], "error": error.reason, "blocks": b""}


class WindowJudge:
    """A Ray actor: one model (one ONNX session), judging the prepared windows of a batch of files at once."""

    def __init__(self, model: str | None, settings: Settings, threads: int = 1):
        self.model = load_model(model, threads=threads, settings=settings)

    def __call__(self, batch: dict) -> dict:
        rows = []
        errors = [error if isinstance(error, str) and error else None for error in batch["error"]]  # Arrow may hand back None as NaN
        prepared = [(path, error, pickle.loads(blocks) if error is None else ([], [])) for path, error, blocks in zip(batch["path"], errors, batch["blocks"])]
        every_block = [block for _, _, (blocks, _) in prepared for block in blocks]
        outputs = iter(judge_blocks(every_block, self.model.window_outputs))
        for path, error, (blocks, warnings) in prepared:
            if error is not None:
                rows.append(Prediction.failed(path, error).to_dict())
                continue
            tally = Tally(path, warnings=warnings)
            for block in blocks:
                tally.add(block, next(outputs))
            rows.append(self.model.answer(tally).prediction.to_dict())
        return {field: np.array([row[field] for row in rows], dtype=object) for field in PREDICTION_FIELDS}


def predict_on_ray(
    paths: Iterable[str | os.PathLike],
    address: str | None = None,
    model: str | None = None,
    actors: int | None = None,
    settings: Settings = Settings(),
) -> list[dict]:
    """Classify files on a Ray cluster: one row per file (as ``audiogender predict``), in their order.

    ``address`` is a running cluster's (``ray://host:10001``, ``host:6379`` or ``auto``);
    None starts a local Ray on this machine's cores. ``model`` is a shipped kind or a
    model file every node can read; ``actors`` the number of model actors (default: one
    per two CPUs of the cluster); ``settings`` as for :func:`audiogender.load_model`.
    """
    import ray

    paths = [str(p) for p in paths]
    if not paths:
        return []
    with ray_session(address):
        features = load_model(model).features  # what the readers must prepare: the model's windows and features
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # rows come back in the order of the files
        context.enable_progress_bars = False
        actors = actors or max(1, int(ray.cluster_resources().get("CPU", 2)) // 2)
        dataset = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=max(1, -(-len(paths) // FILES_PER_TASK)))
        prepared = dataset.map(prepare_file, fn_kwargs={"features": features, "settings": settings})
        judged = prepared.map_batches(
            WindowJudge, fn_constructor_kwargs={"model": model, "settings": settings},
            batch_size=FILES_PER_BATCH, concurrency=actors, batch_format="numpy",
        )  # fmt: skip
        return [{field: _plain(row[field]) for field in PREDICTION_FIELDS} for row in judged.iter_rows()]


@contextlib.contextmanager
def ray_session(address: str | None = None):
    """Ray, connected to the cluster at ``address`` (None: a local one started here) unless already running; shut down after if started here."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        if started_here:
            ray.shutdown()


def _plain(value):
    """Ray's numpy scalars and NaNs as the plain values the other writers give."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def parquet_bytes(rows: list[dict]) -> bytes:
    """The rows as a Parquet file's bytes (``files.write_output`` writes them whole)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"path": pa.string(), "label": pa.string(), "warning": pa.string(), "error": pa.string()}
    table = pa.Table.from_pylist(rows, schema=pa.schema([(name, types.get(name, pa.float64())) for name in PREDICTION_FIELDS]))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()
