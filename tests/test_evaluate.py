import pandas as pd
import pytest

from audiogender.evaluate import clip_metrics, confusion_table, per_speaker, summary


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
    assert summary(predictions)["speaker_balanced_accuracy"] == 1.0
    assert confusion_table(predictions).loc["true female", "predicted male"] == 1
