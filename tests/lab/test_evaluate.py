import numpy as np
import pandas as pd
import pytest

from audiogender.lab.evaluate import clip_metrics, error_factors, per_speaker, pitch_band, scorecard, voices


def test_always_male_scores_half_in_balanced_accuracy():
    figures = clip_metrics([0, 0, 0, 0, 1], [0.1] * 5)
    assert figures["accuracy"] == pytest.approx(0.8)
    assert figures["balanced_accuracy"] == pytest.approx(0.5)
    assert (figures["recall_male"], figures["recall_female"]) == (1.0, 0.0)
    assert figures["confusion"] == [[4, 0], [1, 0]]


def test_per_speaker_accuracy_and_vote():
    predictions = pd.DataFrame(
        {"speaker": ["a", "a", "a", "b", "b"], "gender": ["female"] * 3 + ["male"] * 2, "p_female": [0.9, 0.8, 0.2, 0.6, 0.1]}
    )
    speakers = per_speaker(predictions).set_index("speaker")
    assert speakers.loc["a", "accuracy"] == pytest.approx(2 / 3) and speakers.loc["a", "voted"] == "female"
    assert speakers.loc["b", "accuracy"] == pytest.approx(0.5) and speakers.loc["b", "voted"] == "male"
    card = scorecard(predictions.assign(method="m", source="c")).set_index(["corpus", "level"])
    assert card.loc[("all", "speaker"), "balanced_accuracy"] == 1.0 and card.loc[("all", "clip"), "recall_female"] == pytest.approx(2 / 3)


def test_speaker_vote_pools_log_odds_not_probabilities():
    # three clips lean female (0.7) and one is surely male (0.02): the mean probability (0.53) says female,
    # the mean log-odds (3 x 0.85 - 3.89) / 4 = -0.34 says male, as one 4-window recording would be judged
    predictions = pd.DataFrame({"speaker": ["a"] * 4, "gender": ["male"] * 4, "p_female": [0.7, 0.7, 0.7, 0.02]})
    speaker = per_speaker(predictions).iloc[0]
    expected = 1 / (1 + np.exp(-np.mean(np.log(predictions["p_female"] / (1 - predictions["p_female"])))))
    assert speaker["p_female"] == pytest.approx(expected) and speaker["p_female"] < 0.5
    assert speaker["voted"] == "male" and speaker["voted_correct"]


def test_error_factors_cross_failing_voices_with_pitch_emotion_setting_and_language():
    # a high-pitched man on the telephone, wrong on both his excited clips; a woman read right; a man right
    predictions = pd.DataFrame({
        "method": "m", "speaker": ["tel", "tel", "tel", "book", "book", "low"], "gender": ["male"] * 3 + ["female"] * 2 + ["male"],
        "group": ["telephone-8k"] * 3 + ["librispeech-251"] * 2 + ["nemo"], "language": ["en-IN"] * 3 + ["en"] * 2 + ["pl"],
        "emotion": ["anger", "fear", "neutral", None, None, "neutral"], "p_female": [0.9, 0.8, 0.3, 0.7, 0.8, 0.1],
    })  # fmt: skip
    pitch = pd.DataFrame({"speaker": ["tel", "book", "low"], "f0": [175.0, 210.0, 110.0]})
    speakers = voices(predictions, pitch, "m").set_index("speaker")
    assert speakers.loc["tel", "pitch"] == "male, F0 160-185 Hz" and speakers.loc["tel", "setting"] == "telephone line"
    assert speakers.loc["tel", "excited"] == pytest.approx(2 / 3) and not speakers.loc["tel", "voted_correct"]
    table = error_factors(predictions, pitch, ["m"]).set_index(["factor", "level"])
    assert table.loc[("emotion", "excited"), "clip_error"] == 1.0 and table.loc[("emotion", "calm or other"), "clip_error"] == 0.0
    assert table.loc[("setting", "telephone line"), "voted_wrong"] == 1 and table.loc[("language", "en"), "voted_wrong"] == 0
    assert table.loc[("pitch", "female, F0 185+ Hz"), "clip_error"] == 0.0
    assert pitch_band("female", float("nan")) == "female, F0 unknown"
