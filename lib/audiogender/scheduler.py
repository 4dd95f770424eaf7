"""Many recordings at once: one queue for every file, short or long.

``n_jobs`` reader threads take the next file from the list, read it a block (60 s)
at a time and turn each block into window features (``windows.voiced_blocks``:
reading, resampling, voice detection and features release the GIL, so the threads
run in parallel). Every block, of a 1 s clip or of an hour-long recording alike,
goes into one bounded queue; the calling thread takes blocks from it, runs the
network on the windows of many at once, and adds each block's window outputs
(log-odds, or embeddings) to its recording's :class:`Tally`. A recording is answered once its last block is judged,
and answers come out in the order the files were given. Memory stays bounded: a
reader waits while the queue is full, and a long file is never held whole.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .audio import AudioError, AudioStream
from .windows import VoicedBlock

BATCH_WINDOWS = 64  # windows the network judges in one call, at most: both cost as much a window from 16 on, and memory grows with more
QUEUED_BLOCKS_PER_READER = 4  # prepared blocks waiting for the network, per reader, before readers wait
SOURCES_AHEAD_PER_READER = 16  # sources a reader may run ahead of the oldest unanswered one
# a batch of fewer windows waits this long for the next block before it is judged (GE2E costs 4x as much a window
# alone as in a batch of 8); a larger one is judged as soon as nothing waits, so readers never stall behind it
GATHER_WINDOWS, GATHER_SECONDS = 16, 0.01
POLL_SECONDS = 0.1  # how often a waiting thread checks whether the caller has stopped listening
JOIN_SECONDS = 5.0  # how long the caller waits for readers to finish the block in hand when it stops


@dataclass
class Source:
    """A recording to judge: its name (a path, or None for an array) and how to read its 16 kHz blocks."""

    name: str | None
    blocks: Callable[[], AudioStream]


@dataclass
class Tally:
    """A recording's judged windows, gathered block by block: everything its answer is made of.

    ``pieces`` are sample bounds from the start of the recording; ``outputs[k]``
    holds the network's outputs for piece k's windows, one row each.
    """

    name: str | None
    samples: int = 0
    speech_seconds: float = 0.0
    pieces: list[tuple[int, int]] = field(default_factory=list)
    outputs: list[np.ndarray] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what was wrong with the file that did not stop it being read

    def add(self, block: VoicedBlock, outputs: np.ndarray) -> None:
        """Add a block, the next in the recording, with the network's outputs for its windows."""
        edges = np.cumsum([0, *block.counts])
        for (start, end), a, b in zip(block.pieces, edges[:-1], edges[1:]):
            self.pieces.append((self.samples + start, self.samples + end))
            self.outputs.append(outputs[a:b])
        self.samples += block.samples
        self.speech_seconds += block.speech_seconds


def judge_blocks(blocks: list[VoicedBlock], outputs: Callable[[np.ndarray], np.ndarray]) -> list[np.ndarray]:
    """The network's outputs for the windows of many blocks, in one call: one array per block, a row per window."""
    if not blocks:
        return []
    scores = outputs(np.concatenate([block.features for block in blocks]))
    edges = np.cumsum([0, *(len(block.features) for block in blocks)])
    return [scores[a:b] for a, b in zip(edges[:-1], edges[1:])]


@dataclass
class Judged:
    """What became of one source: its tally, or the reason it could not be read."""

    index: int
    name: str | None
    tally: Tally | None = None
    error: AudioError | None = None


@dataclass
class _Read:  # a reader's message: the next block of source ``index``
    index: int
    name: str | None
    block: VoicedBlock


@dataclass
class _Ended:  # a reader's message: source ``index`` is read to its end, or failed
    index: int
    name: str | None
    error: AudioError | None = None
    warnings: list[str] = field(default_factory=list)


class Cancelled(Exception):
    """The caller stopped the work (its time ran out, or its client went away)."""


@dataclass
class _Stopped:  # a reader's message: it has no more sources; ``crash`` if it died of a bug
    crash: BaseException | None = None


def judge(
    sources: Iterable[Source],
    prepare: Callable[[Iterator[np.ndarray]], Iterator[VoicedBlock]],
    outputs: Callable[[np.ndarray], np.ndarray],
    n_jobs: int | None = None,
    batch_windows: int = BATCH_WINDOWS,
    cancel: threading.Event | None = None,
) -> Iterator[Judged]:
    """Judge every source, yielding one :class:`Judged` per source, in order.

    ``prepare`` turns a source's blocks of samples into :class:`VoicedBlock` s (in the
    reader threads); ``outputs`` runs the network on a batch of window features (in this thread). A
    source that raises :class:`AudioError` is answered with its error and the rest go on.
    Once ``cancel`` is set, the readers stop after the block in hand and :class:`Cancelled` is raised.
    """
    with one_blas_thread():
        yield from _judge(sources, prepare, outputs, n_jobs, batch_windows, cancel)


def _judge(sources, prepare, outputs, n_jobs, batch_windows, cancel) -> Iterator[Judged]:
    n_jobs = max(1, n_jobs or os.cpu_count() or 1)
    numbered = enumerate(sources)
    taking = threading.Lock()
    stop = threading.Event()
    inbox: queue.Queue = queue.Queue(maxsize=QUEUED_BLOCKS_PER_READER * n_jobs)
    ahead = threading.Semaphore(SOURCES_AHEAD_PER_READER * n_jobs)  # sources taken but not yet answered

    cancel = cancel or threading.Event()

    def wait_for(attempt) -> bool:
        """Retry ``attempt`` (a non-blocking step with a timeout) until it succeeds or the caller stops listening."""
        while not stop.is_set() and not cancel.is_set():
            if attempt():
                return True
        return False

    def send(message) -> bool:
        def put():
            try:
                inbox.put(message, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                return False

        return wait_for(put)

    def read_one(index: int, source: Source) -> bool:
        blocks = None
        try:
            blocks = source.blocks()
            for voiced in prepare(blocks):
                if cancel.is_set() or not send(_Read(index, source.name, voiced)):
                    return False
        except AudioError as error:
            return send(_Ended(index, source.name, error))
        finally:
            if blocks is not None:
                blocks.close()
        return send(_Ended(index, source.name, warnings=list(blocks.warnings)))

    def reader() -> None:
        crash = None
        try:
            while wait_for(lambda: ahead.acquire(timeout=POLL_SECONDS)):
                with taking:
                    item = next(numbered, None)
                if item is None or not read_one(*item):
                    break
        except BaseException as error:  # a bug, not a bad file: the caller re-raises it
            crash = error
        send(_Stopped(crash))

    threads = [threading.Thread(target=reader, name=f"audiogender-reader-{k}", daemon=True) for k in range(n_jobs)]
    for thread in threads:
        thread.start()
    try:
        for judged in _gather(inbox, len(threads), outputs, batch_windows, cancel):
            ahead.release()
            yield judged
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=JOIN_SECONDS)


@lru_cache(maxsize=None)
def _blas_threads():
    from threadpoolctl import ThreadpoolController  # looks for the BLAS libraries loaded: 2 ms, once

    return ThreadpoolController()


_blas_lock = threading.Lock()
_blas_limit: dict = {"judges": 0, "limiter": None}  # the first judge to start sets BLAS's limit, the last to end restores it


@contextmanager
def one_blas_thread():
    """BLAS (numpy's matrix products: the mel filters) on one thread while any judging runs.

    A window's product is far too small to share out, and OpenBLAS's own pool, on top
    of the readers, cost more than it gave: two readers prepared 1-s clips at 490 a
    second with it, 730 without (one reader: 600).
    """
    with _blas_lock:
        if not _blas_limit["judges"]:
            _blas_limit["limiter"] = _blas_threads().limit(limits=1, user_api="blas")
        _blas_limit["judges"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_limit["judges"] -= 1
            if not _blas_limit["judges"]:
                _blas_limit.pop("limiter").restore_original_limits()


def _gather(inbox: queue.Queue, readers: int, outputs, batch_windows: int, cancel: threading.Event) -> Iterator[Judged]:
    """The calling thread's side of :func:`judge`: batch the blocks, run the network on them, answer in order."""
    batch = _Batch(outputs)
    answers: dict[int, Judged] = {}
    following = 0  # the next index to yield
    while readers:
        if cancel.is_set():
            raise Cancelled("stopped by the caller")
        try:
            message = inbox.get(timeout=(GATHER_SECONDS if batch.windows < GATHER_WINDOWS else 0) if batch.blocks else POLL_SECONDS)
        except queue.Empty:  # nothing new has come in for a while: judge what is waiting rather than wait for more
            answers.update(batch.judge())
        else:
            if isinstance(message, _Read):
                batch.add(message)
                if batch.windows >= batch_windows:
                    answers.update(batch.judge())
            elif isinstance(message, _Ended):
                answers.update(batch.end(message))
            else:
                readers -= 1
                if message.crash is not None:
                    raise message.crash
        while following in answers:
            yield answers.pop(following)
            following += 1
    answers.update(batch.judge())
    while following in answers:
        yield answers.pop(following)
        following += 1


class _Batch:
    """Blocks waiting for the network, and the tallies of the recordings they belong to."""

    def __init__(self, outputs: Callable[[np.ndarray], np.ndarray]):
        self.outputs = outputs
        self.blocks: list[_Read] = []
        self.windows = 0
        self.tallies: dict[int, Tally] = {}
        self.ended: list[int] = []  # sources read to their end, answered once their waiting blocks are judged

    def add(self, message: _Read) -> None:
        self.tallies.setdefault(message.index, Tally(message.name))
        self.blocks.append(message)
        self.windows += len(message.block.features)

    def end(self, message: _Ended) -> dict[int, Judged]:
        """The source's answer now, or once its waiting blocks are judged (then {})."""
        tally = self.tallies.setdefault(message.index, Tally(message.name))
        if message.error is not None:  # its blocks read before the failure are not worth judging
            del self.tallies[message.index]
            self.blocks = [m for m in self.blocks if m.index != message.index]
            self.windows = sum(len(m.block.features) for m in self.blocks)
            return {message.index: Judged(message.index, message.name, error=message.error)}
        tally.warnings += message.warnings
        if any(m.index == message.index for m in self.blocks):
            self.ended.append(message.index)
            return {}
        del self.tallies[message.index]
        return {message.index: Judged(message.index, message.name, tally)}

    def judge(self) -> dict[int, Judged]:
        """Run the network on every waiting window; the sources this finishes, answered."""
        for message, outputs in zip(self.blocks, judge_blocks([m.block for m in self.blocks], self.outputs)):
            self.tallies[message.index].add(message.block, outputs)
        self.blocks, self.windows = [], 0
        finished = {i: Judged(i, self.tallies[i].name, self.tallies.pop(i)) for i in self.ended}
        self.ended = []
        return finished
