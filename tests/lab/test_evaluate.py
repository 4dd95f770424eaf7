import numpy as np
import pandas as pd
import pytest

from audiogender.lab.evaluate import clip_metrics, per_speaker, scorecard


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
