import threading
import time

import numpy as np
import pytest

from audiogender.audio import AudioError, AudioStream
from audiogender.scheduler import Source, judge, one_blas_thread
from audiogender.windows import VoicedBlock


def _source(name, blocks=1, fail_at=None):
    """A fake recording of ``blocks`` blocks, each 1 s with one voiced piece of two windows."""

    def read():
        for k in range(blocks):
            if k == fail_at:
                raise AudioError(name, "not a readable audio file as audio (broken here)")
            yield np.full(16_000, k, np.float32)

    return Source(name, lambda: AudioStream(read()))


def _prepare_one(block):
    return VoicedBlock(block.size, 1.0, [(0, block.size)], np.full((2, 4, 3), block[0], np.float32), [2])


def _prepare(blocks):
    return map(_prepare_one, blocks)


def _outputs(features):
    return features[:, 0, :1].astype(float)  # a window's output is its block number


def test_every_source_is_answered_in_order_whatever_its_length_and_failures_go_on():
    sources = [_source("long", blocks=7), _source("a"), _source("bad", blocks=3, fail_at=1), _source("b", blocks=2)]
    judged = list(judge(sources, _prepare, _outputs, n_jobs=2, batch_windows=3))
    assert [j.name for j in judged] == ["long", "a", "bad", "b"] and [j.index for j in judged] == [0, 1, 2, 3]
    assert judged[2].tally is None and "broken here" in judged[2].error.reason
    long = judged[0].tally
    assert long.samples == 7 * 16_000 and long.speech_seconds == 7.0
    assert long.pieces == [(k * 16_000, (k + 1) * 16_000) for k in range(7)]  # offsets run on from block to block
    assert [p[:, 0].tolist() for p in long.outputs] == [[k, k] for k in range(7)]  # each block's windows, in order


def test_only_the_readers_run_beside_the_caller_no_pool_inside_a_pool():
    before, seen = set(threading.enumerate()), set()

    def log_odds(features):
        seen.update(t.name for t in set(threading.enumerate()) - before)
        return _outputs(features)

    list(judge([_source(f"f{i}", blocks=1 + i % 3) for i in range(20)], _prepare, log_odds, n_jobs=2, batch_windows=4))
    assert seen and seen <= {"audiogender-reader-0", "audiogender-reader-1"}


def test_readers_stay_a_bounded_distance_ahead_of_a_slow_network():
    prepared = []

    def prepare(blocks):
        for block in blocks:
            prepared.append(1)
            yield _prepare_one(block)

    judged, ahead = [], []

    def slow(features):
        time.sleep(0.01)
        ahead.append(len(prepared) - sum(judged))  # blocks read but not yet judged
        judged.append(len(features) // 2)
        return _outputs(features)

    for _ in judge([_source("long", blocks=60)], prepare, slow, n_jobs=1, batch_windows=2):
        pass
    assert len(prepared) == sum(judged) == 60
    assert max(ahead) <= 4 + 2 + 1  # the queue (4 per reader), a block being put, and the batch being judged


def test_a_bug_in_a_reader_is_raised_not_swallowed():
    def broken(blocks):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        list(judge([_source("a")], broken, _outputs, n_jobs=1))


def test_stopping_early_stops_the_readers():
    before = {t for t in threading.enumerate()}
    answers = judge([_source(f"f{i}", blocks=5) for i in range(200)], _prepare, _outputs, n_jobs=2)
    next(answers)
    answers.close()
    deadline = time.time() + 5
    while time.time() < deadline and any(t.name.startswith("audiogender-reader") for t in set(threading.enumerate()) - before):
        time.sleep(0.05)
    assert not any(t.name.startswith("audiogender-reader") for t in set(threading.enumerate()) - before)


def test_readers_take_a_bounded_number_of_sources_ahead_of_a_slow_one():
    from audiogender.scheduler import SOURCES_AHEAD_PER_READER

    taken = []

    def source(name, blocks):
        def read():
            taken.append(name)
            for k in range(blocks):
                time.sleep(0.02 if name == "slow" else 0)
                yield np.zeros(16_000, np.float32)

        return Source(name, lambda: AudioStream(read()))

    answers = judge([source("slow", 20)] + [source(f"f{i}", 1) for i in range(500)], _prepare, _outputs, n_jobs=2)
    first = next(answers)
    assert first.name == "slow" and len(taken) <= SOURCES_AHEAD_PER_READER * 2 + 2
    assert len(list(answers)) == 500


def test_a_source_that_fails_as_it_opens_is_answered_with_its_error():
    def opens_badly():
        raise AudioError("x.wav", "no such file")

    judged = list(judge([Source("x.wav", opens_badly), _source("a")], _prepare, _outputs, n_jobs=1))
    assert judged[0].error.reason == "no such file" and judged[1].tally is not None


def test_a_files_warnings_reach_its_tally_and_a_cancelled_judging_stops():
    from audiogender.scheduler import Cancelled

    def warned():
        stream = AudioStream(iter([np.zeros(16_000, np.float32)]))
        stream.warnings.append("ends early")
        return stream

    (judged,) = judge([Source("cut.wav", warned)], _prepare, _outputs, n_jobs=1)
    assert judged.tally.warnings == ["ends early"]
    cancel = threading.Event()
    answers = judge([_source(f"f{i}", blocks=50) for i in range(20)], _prepare, _outputs, n_jobs=2, cancel=cancel)
    next(answers)
    cancel.set()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        list(answers)
    assert time.monotonic() - started < 1.0


def test_blas_runs_on_one_thread_while_any_judge_runs_and_as_before_after():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return {pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"}

    before = blas_threads()
    with threadpoolctl.threadpool_limits(2, "blas"):  # a pool that can be lowered, even on one core
        seen = []

        def outputs(features):
            seen.append(blas_threads())
            return features[:, 0, :1]

        first = judge([_source("a"), _source("b")], _prepare, outputs, n_jobs=1)
        next(first)
        with one_blas_thread():  # a second judge, ending before the first
            pass
        assert blas_threads() <= {1}
        list(first)
        assert seen and all(threads <= {1} for threads in seen)
        assert blas_threads() == ({2} if before else set())  # the first judge's end restores the limit it found
    assert blas_threads() == before
