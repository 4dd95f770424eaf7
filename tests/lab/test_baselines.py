import numpy as np
import pandas as pd
import pytest

from audiogender.lab.baselines import PitchBaseline, median_f0, voice2gender_available, voice2gender_p_female
from audiogender.lab.evaluate import calibration_table, clip_metrics, expected_calibration_error, scorecard
from helpers import harmonic_tone


@pytest.mark.parametrize("f0", [110.0, 220.0])
def test_median_f0_finds_the_pitch_of_a_buzz_and_ignores_silence_around_it(f0):
    silence = np.zeros(8_000, np.float32)
    audio = np.concatenate([silence, harmonic_tone(f0, 1.0), silence]) - 0.08  # with a DC offset, as audiomnist-az
    assert median_f0(audio) == pytest.approx(f0, rel=0.03)


def test_median_f0_of_silence_is_nan():
    assert np.isnan(median_f0(np.zeros(16_000, np.float32)))


def test_pitch_baseline_learns_a_threshold_between_the_voices():
    f0 = np.array([100, 110, 120, 130, 200, 210, 220, 230, np.nan])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0])
    baseline = PitchBaseline().fit(f0, y)
    assert 130 < baseline.threshold_hz < 200
    assert list(baseline.predict(np.array([90.0, 250.0]))) == [0, 1]
    assert baseline.predict_proba(np.array([np.nan])).shape == (1, 2)  # no pitch found: the training median


@pytest.mark.skipif(not voice2gender_available(), reason="voice2gender is not installed")
def test_voice2gender_answers_a_probability_or_nan():
    p = voice2gender_p_female(harmonic_tone(220, 1.0) + 0.01 * np.random.default_rng(0).standard_normal(16_000).astype(np.float32))
    assert np.isnan(p) or 0.0 <= p <= 1.0
    assert np.isnan(voice2gender_p_female(np.zeros(16_000, np.float32)))


def test_calibration_error_is_zero_when_probabilities_match_frequencies_and_large_when_overconfident():
    y = np.array([1] * 8 + [0] * 2 + [0] * 8 + [1] * 2)
    honest = np.array([0.8] * 10 + [0.2] * 10)
    assert expected_calibration_error(y, honest) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.where(honest > 0.5, 0.99, 0.01)) == pytest.approx(0.19)
    table = calibration_table(y, honest)
    assert list(table["clips"]) == [10, 10] and list(table["observed"]) == [0.2, 0.8]
    assert clip_metrics(y, honest)["roc_auc"] == pytest.approx(0.8 * 0.8 + 0.5 * (0.2 * 0.8 * 2))


def test_scorecard_reports_every_method_corpus_and_level_and_names_the_speakers_wrong():
    predictions = pd.DataFrame(
        {
            "method": ["m"] * 6,
            "source": ["a", "a", "a", "b", "b", "b"],
            "speaker": ["s1", "s1", "s2", "s3", "s4", "s4"],
            "gender": ["female", "female", "male", "female", "male", "male"],
            "p_female": [0.9, 0.7, 0.2, 0.3, 0.1, 0.4],
        }
    )
    card = scorecard(predictions).set_index(["corpus", "level"])
    assert set(card.index) == {(c, lvl) for c in ("all", "a", "b") for lvl in ("clip", "speaker")}
    assert card.loc[("a", "clip"), "balanced_accuracy"] == 1.0
    assert card.loc[("b", "speaker"), "speakers_wrong"] == "s3"
    assert card.loc[("all", "speaker"), "n"] == 4


def test_pitch_baseline_threshold_serves_balanced_accuracy_when_men_outnumber_women():
    rng = np.random.default_rng(0)
    f0 = np.concatenate([rng.normal(120, 25, 800), rng.normal(210, 30, 200)])  # four men to a woman, overlapping
    y = np.array([0] * 800 + [1] * 200)
    baseline = PitchBaseline().fit(f0, y)
    assert 150 < baseline.threshold_hz < 180  # near the midpoint, not pushed up to favour the majority
    predicted = baseline.predict(f0)
    assert (predicted[y == 1] == 1).mean() > 0.8 and (predicted[y == 0] == 0).mean() > 0.8
