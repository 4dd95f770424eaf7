import pandas as pd

from audiogender.lab import gates
from audiogender.lab.evaluate import emotion_recalls


def _card(method: str, folders: dict) -> list[dict]:
    """Scorecard rows of one method: folder -> (balanced accuracy, male recall, female recall, ece, speakers of each gender)."""
    rows = []
    for corpus, (bacc, male, female, ece, speakers) in folders.items():
        rows.append({"method": method, "corpus": corpus, "level": "clip", "balanced_accuracy": bacc, "recall_male": male, "recall_female": female,
                     "ece": ece, "female_speakers": speakers, "male_speakers": speakers})  # fmt: skip
    return rows


def test_each_gate_is_checked_per_folder_and_says_why():
    card = pd.DataFrame(
        _card("encoder", {"big": (0.99, 0.99, 0.99, 0.02, 40), "telephone-8k": (0.94, 0.95, 0.93, 0.07, 3), "tiny": (0.90, 0.9, 0.9, 0.02, 2),
                          "all": (0.95, 0.95, 0.95, 0.04, 45)})
        + _card("distilled", {"big": (0.95, 0.95, 0.95, 0.02, 40), "telephone-8k": (0.90, 0.9, 0.9, 0.02, 3), "tiny": (0.85, 0.85, 0.85, 0.02, 2)})
    )  # fmt: skip
    acted = pd.DataFrame({"method": "encoder", "gender": ["male"] * 4, "group": "big", "emotion": ["anger"] * 4, "p_female": [0.1, 0.2, 0.3, 0.9]})
    checks = gates.check(card, emotion_recalls(acted), "encoder").set_index(["gate", "corpus"])
    met = checks["met"]
    assert not met[(gates.MEAN.name, "all")]  # (0.99 + 0.94 + 0.90) / 3 < 0.97
    assert met[(gates.EACH_FOLDER.name, "big")] and not met[(gates.EACH_FOLDER.name, "telephone-8k")]  # the phone line, however small
    assert (gates.EACH_FOLDER.name, "tiny") not in met.index  # too few voices to be held to it
    assert met[(gates.RECALL_GAP.name, "telephone-8k")] and not met[(gates.CALIBRATION.name, "telephone-8k")]
    assert not met[(gates.EXCITED_MEN.name, "big, anger")] and checks.loc[(gates.EXCITED_MEN.name, "big, anger"), "value"] == 0.75
    assert (gates.TAUGHT.name, "all") not in met.index  # only a taught model is held to its teacher
    taught = gates.check(card, emotion_recalls(acted), "distilled").set_index(["gate", "corpus"])["met"]
    assert not taught[(gates.TAUGHT.name, "all")]  # 0.9433 - 0.9 > 0.02
    reasons = gates.reasons()
    assert list(reasons.index) == [g.name for g in gates.GATES] and reasons["why"].str.len().min() > 30
    assert "issue" not in " ".join(reasons["why"])
