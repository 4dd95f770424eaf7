import numpy as np
import pytest
import soundfile as sf

import audiogender
from audiogender.data import read_manifest
from audiogender.predict import NO_VOICE
from helpers import SAMPLES, SHARED, harmonic_tone


@pytest.fixture(scope="module")
def model():
    return audiogender.load_model(device="cpu")


def test_shipped_model_classifies_the_voices_the_repo_ships(model):
    voices = read_manifest(SAMPLES).query("gender != 'none'")
    predictions = [model.predict(p) for p in voices["path"]]
    correct = sum(p.label == g for p, g in zip(predictions, voices["gender"]))
    assert all(0 <= p.p_female <= 1 for p in predictions)
    assert correct >= len(voices) - 2, [(p.path, p.label, p.p_female) for p in predictions]


def test_arrays_at_any_rate_and_silence(model):
    tone = harmonic_tone(120, 2.0, 44_100)
    answer = model.predict(tone, sample_rate=44_100)
    assert answer.label in ("male", "female") and answer.duration_seconds == pytest.approx(2.0, abs=0.01)
    assert model.predict(np.zeros(32_000, np.float32)).label == NO_VOICE
    assert model.predict(np.full(16_000, -0.085, np.float32)).label == NO_VOICE  # a DC offset is not a voice


def test_a_batch_goes_on_past_a_bad_file(model, tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00")
    sf.write(tmp_path / "tone.wav", harmonic_tone(220, 0.5), 16_000)
    results = list(model.predict_files([tmp_path / "broken.wav", tmp_path / "tone.wav"]))
    assert results[0].error and "cannot be read" in results[0].error and results[0].label is None
    assert results[1].error is None and results[1].label in ("male", "female")


@pytest.mark.skipif(not (SHARED / "samples").exists(), reason="../shared/data is absent")
def test_shared_samples_including_the_two_without_a_voice(model):
    table = read_manifest(SHARED / "samples")
    predictions = {p.path: p for p in model.predict_files(table["path"])}
    assert all(p.error is None for p in predictions.values())
    voices = table[table["gender"] != "none"]
    correct = sum(predictions[p].label == g for p, g in zip(voices["path"], voices["gender"]))
    assert correct >= len(voices) - 2
