"""A recording's blocks as the network sees them: Silero one block ahead, in a second thread, changes nothing."""

import threading

import numpy as np
import pytest

import audiogender
from audiogender.audio import stream_audio
from audiogender.windows import _heard_blocks, one_ahead, voiced_blocks, voiced_from
from helpers import SAMPLES


@pytest.fixture(scope="module")
def model():
    return audiogender.load_model(kind="cnn", device="cpu")


def test_one_ahead_gives_every_item_in_order_made_in_another_thread():
    made_in = []

    def items():
        for i in range(5):
            made_in.append(threading.current_thread())
            yield i

    assert list(one_ahead(items())) == [0, 1, 2, 3, 4]
    assert all(thread is not threading.current_thread() for thread in made_in)


def test_one_ahead_raises_an_error_where_the_items_are_wanted():
    def items():
        yield 1
        raise ValueError("broken at the second")

    ahead = one_ahead(items())
    assert next(ahead) == 1
    with pytest.raises(ValueError, match="broken at the second"):
        next(ahead)


def test_one_ahead_closed_early_makes_no_more_and_waits_for_the_item_in_hand():
    made = []

    def items():
        for i in range(100):
            made.append(i)
            yield i

    ahead = one_ahead(items(), poll_seconds=0.01)
    assert next(ahead) == 0
    ahead.close()
    assert len(made) <= 3  # the one taken, at most one waiting and one in hand
    assert not any(thread.name == "audiogender-ahead" and thread.is_alive() for thread in threading.enumerate())


def test_blocks_heard_ahead_in_a_thread_are_those_heard_in_turn(model):
    path = SAMPLES / "3436-172162-0000.ogg"  # 16.7 s, read in 4 s blocks
    ahead = list(voiced_blocks(stream_audio(path, block_seconds=4), model.features, model.settings))
    in_turn = [voiced_from(heard, model.features, model.settings) for heard in _heard_blocks(stream_audio(path, block_seconds=4), model.settings)]
    assert len(ahead) == len(in_turn) > 2
    for a, b in zip(ahead, in_turn):
        assert (a.samples, a.speech_seconds, a.pieces, a.counts) == (b.samples, b.speech_seconds, b.pieces, b.counts)
        assert np.array_equal(a.features, b.features)
    assert sum(len(block.pieces) for block in ahead) > 0


def test_a_stretch_silero_is_sure_of_is_kept_without_asking_the_detector(model, monkeypatch):
    import audiogender.voice as voice

    class Counted(voice.VoiceDetector):
        asked = 0

        def log_odds(self, features):
            Counted.asked += 1
            return super().log_odds(features)

    detector = Counted(voice.shipped_detector().file)
    speech = audiogender.load_audio(SAMPLES / "3436-172162-0000.ogg")  # 16.7 s of clear speech: a long recording
    sure = next(voiced_blocks([speech], model.features, model.settings, detector))
    assert sure.pieces and Counted.asked == 0
    monkeypatch.setattr(voice, "SILERO_SURE_MAX", 1.01)  # Silero is never sure: every piece is the detector's to judge
    asked = next(voiced_blocks([speech], model.features, model.settings, detector))
    assert Counted.asked == len(asked.pieces) and asked.pieces == sure.pieces and np.allclose(asked.features, sure.features)


def test_the_network_is_never_given_more_than_a_batch_of_windows_at_once(model, monkeypatch):
    from audiogender.scheduler import BATCH_WINDOWS

    real, sizes = model.network.window_outputs, []

    def counted(features):
        sizes.append(len(features))
        return real(features)

    many = np.zeros((2 * BATCH_WINDOWS + 3, model.features.n_frames, model.features.n_features), np.float32)
    whole = real(many)
    monkeypatch.setattr(model.network, "window_outputs", counted)
    assert np.allclose(model.window_outputs(many), whole, atol=1e-5)
    assert sizes == [BATCH_WINDOWS, BATCH_WINDOWS, 3]
