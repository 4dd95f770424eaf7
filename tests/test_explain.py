"""What the model listened to: maps made by fading each patch, the audible version, and where they are offered."""

import io
import json

import numpy as np
import pytest
import soundfile as sf

import audiogender
from audiogender import load_audio
from audiogender.cli import main
from audiogender.explain import EXPLAIN_SECONDS, FADE_STEP, audible, faded
from audiogender.features import FeatureConfig, band_centres
from audiogender.labels import NO_VOICE
from audiogender.windows import stretch_windows, window_starts
from helpers import SAMPLES

WOMAN, ROBIN = SAMPLES / "p240_00000.mp3", SAMPLES / "456440__inspectorj__bird-whistling-robin-single-13.ogg"


@pytest.fixture(scope="module")
def model():
    return audiogender.load_model(kind="cnn", device="cpu")


@pytest.mark.parametrize("config", [FeatureConfig("logmel"), FeatureConfig("mel", window_seconds=1.6, hop_seconds=0.8, pad_start=True)])
@pytest.mark.parametrize("size", [3_000, 16_000, 16_001, 41_000])
def test_window_starts_are_where_stretch_windows_cuts(config, size):
    rng = np.random.default_rng(0)
    recording = rng.standard_normal(100_000).astype(np.float32)
    start = 30_000
    windows = stretch_windows(recording[start : start + size], config.window_samples, config.hop_samples, config.pad_start)
    starts = window_starts(start, start + size, config)
    assert len(starts) == len(windows)
    for window, at in zip(windows, starts):
        inside = slice(max(at, start), min(at + config.window_samples, start + size))  # the piece's own samples in this window
        np.testing.assert_array_equal(window[inside.start - at : inside.stop - at], recording[inside])


def test_a_map_gives_the_answer_predict_gives_and_marks_only_where_the_voice_is(model):
    speech = load_audio(WOMAN)
    recording = np.concatenate([np.zeros(16_000, np.float32), speech])
    explanation = model.explain(recording)
    answer = model.predict(recording)
    assert explanation.label == answer.label == "female" and explanation.p_female == pytest.approx(answer.p_female, abs=1e-4)
    assert explanation.relevance.shape == (40, recording.size // 160 + 1)
    np.testing.assert_array_equal(explanation.band_hz, band_centres(40))
    assert not explanation.relevance[:, :80].any()  # the leading second of silence was never judged
    assert explanation.relevance[:, 100:].max() > 0
    shares = explanation.by_frequency()
    assert sum(shares.values()) == pytest.approx(1.0, abs=0.01) and all(0 <= v <= 1 for v in shares.values())


def test_no_voice_has_an_empty_map_and_a_minute_is_the_limit(model):
    explanation = model.explain(ROBIN)
    assert explanation.label == NO_VOICE and explanation.p_female is None and not explanation.relevance.any()
    with pytest.raises(ValueError, match="at most"):
        model.explain(np.zeros(int(EXPLAIN_SECONDS * 16_000) + 1, np.float32))


def test_fading_moves_each_patch_once_a_step_to_the_reference_and_mfccs_cannot_be_faded():
    window = np.random.default_rng(1).uniform(-60, 0, (98, 40)).astype(np.float32)
    reference = np.linspace(-50, -30, 40).astype(np.float32)
    copies, patches = faded(window, FeatureConfig("logmel"), reference)
    assert len(copies) == 10 * 10
    assert ((copies != window).sum(axis=0) == 1).all()  # every cell moves in exactly one copy
    for copy, (frames, bands) in zip(copies, patches):
        np.testing.assert_allclose(copy[frames, bands], window[frames, bands] + FADE_STEP * (reference[bands] - window[frames, bands]), rtol=1e-5)
    quieter, _ = faded(window, FeatureConfig("logmel"))  # no reference: toward the window's floor
    assert (quieter <= window[None] + 1e-6).all() and (quieter < window[None] - 1e-3).any()
    with pytest.raises(ValueError, match="mel bands"):
        faded(window[:, :12], FeatureConfig("mfcc"))


def test_the_patches_of_a_window_add_up_to_fading_it_whole(model):
    """A small step keeps the network to first order, so the patches' effects add up, as a map's cells should."""
    (voiced,) = list(model.voiced([load_audio(WOMAN)]))
    window, reference = voiced.features[0], model.network.reference
    assert reference is not None and reference.shape == (40,)  # the shipped CNN carries its training mean
    log_odds = lambda windows: model.window_outputs(windows)[:, 0]  # noqa: E731
    base = log_odds(window[None])[0]
    copies, _ = faded(window, model.features, reference)
    patches = (base - log_odds(copies)).sum()
    whole = base - log_odds((window + FADE_STEP * (reference - window))[None])[0]
    assert abs(whole) > 1e-3 and abs(patches - whole) < 0.2 * abs(whole)


def test_the_audible_map_is_the_recording_where_all_mattered_and_quieter_where_little_did(model):
    explanation = model.explain(WOMAN)
    everything = type(explanation)(**{**explanation.__dict__, "relevance": np.ones_like(explanation.relevance)})
    np.testing.assert_allclose(audible(everything), explanation.audio, atol=2e-3)
    heard = audible(explanation)
    assert heard.shape == explanation.audio.shape and np.isfinite(heard).all()
    assert np.sqrt(np.mean(heard**2)) < np.sqrt(np.mean(explanation.audio**2))


def test_the_command_line_writes_the_map_its_plot_and_its_sound(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png, wav = tmp_path / "map.png", tmp_path / "heard.wav"
    status = main(["explain", str(WOMAN), "--model", "cnn", "--format", "json", "--plot", str(png), "--listen", str(wav)])
    answer = json.loads(capsys.readouterr().out)
    assert status == 0 and answer["label"] == "female" and len(answer["relevance"]) == 40 == len(answer["band_hz"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    heard, rate = sf.read(io.BytesIO(wav.read_bytes()))
    assert rate == 16_000 and heard.size == len(load_audio(WOMAN))
    assert main(["explain", str(WOMAN), "--model", "cnn"]) == 0
    out = capsys.readouterr().out
    assert "female" in out and "0-300 Hz" in out and "2500-8000 Hz" in out


def test_explaining_stops_once_cancelled(model):
    """A server's client that goes away must not keep a core busy with its map."""
    import threading

    from audiogender.scheduler import Cancelled

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        model.explain(WOMAN, cancel=cancel)
