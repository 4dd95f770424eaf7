import pandas as pd
import pytest

from audiogender.data import read_corpora
from audiogender.splits import (
    AUDIOMNIST_FEMALE,
    ROLES,
    assignment_table,
    becker_splits,
    check_disjoint,
    is_audiomnist,
    load_splits,
    make_splits,
    save_splits,
)
from helpers import SHARED


def _clips(speakers: dict[str, str], per_speaker: int = 3, corpus: str = "c") -> pd.DataFrame:
    rows = [(f"{s}_{i}.wav", s, g, corpus, "en", 0) for s, g in speakers.items() for i in range(per_speaker)]
    return pd.DataFrame(rows, columns=["path", "speaker", "gender", "corpus", "language", "digit"])


AUDIOMNIST = {f"{i:02d}": "female" if f"{i:02d}" in AUDIOMNIST_FEMALE else "male" for i in range(1, 61)}


def test_audiomnist_gets_beckers_four_gender_splits():
    clips = _clips(AUDIOMNIST)
    assert is_audiomnist(clips)
    splits = make_splits(clips)
    assert splits["protocol"] == "becker" and splits["splits"] == becker_splits()
    for split in splits["splits"]:
        assert [len(split[r]) for r in ROLES] == [12, 6, 6]
        assert sum(AUDIOMNIST[s] == "female" for s in split["test"]) == 3
    assert {s for split in splits["splits"] for s in split["test"]} == {s for split in splits["splits"] for s in split["train"]}


def test_other_corpora_get_stratified_group_kfold_with_every_speaker_tested_once():
    speakers = {f"s{i:02d}": "female" if i % 3 == 0 else "male" for i in range(24)}
    clips = _clips(speakers)
    splits = make_splits(clips, n_folds=4, seed=1)
    assert splits["protocol"] == "stratified-group-kfold" and not is_audiomnist(clips)
    tested = [s for split in splits["splits"] for s in split["test"]]
    assert sorted(tested) == sorted(speakers)
    for split in splits["splits"]:
        check_disjoint(split)
        assert set(split["train"]) | set(split["validation"]) | set(split["test"]) == set(speakers)
        assert {speakers[s] for s in split["test"]} == {"male", "female"}


def test_overlapping_roles_are_refused():
    with pytest.raises(ValueError, match="in both train and test"):
        check_disjoint({"train": ["a", "b"], "validation": ["c"], "test": ["b"]})


def test_too_few_speakers_of_a_gender_is_refused():
    with pytest.raises(ValueError, match="at least 4 speakers of each gender"):
        make_splits(_clips({"a": "male", "b": "female", "c": "male", "d": "male", "e": "male"}))


def test_splits_round_trip_through_the_file_and_the_table(tmp_path):
    clips = _clips({f"s{i}": "female" if i % 2 else "male" for i in range(8)})
    splits = make_splits(clips, n_folds=2)
    save_splits(splits, tmp_path / "splits.json")
    assert load_splits(tmp_path / "splits.json") == splits
    assert load_splits(tmp_path / "new.json", clips) == make_splits(clips) and (tmp_path / "new.json").exists()
    table = assignment_table(clips, splits)
    assert list(table.columns) == ["gender", "split 0", "split 1"] and set(table["split 0"]) <= set(ROLES)


@pytest.mark.skipif(not (SHARED / "audiomnist-az").exists(), reason="../shared/data is absent")
def test_the_azerbaijani_corpus_splits_by_speaker():
    clips = read_corpora([SHARED / "audiomnist-az"])
    splits = make_splits(clips)
    assert splits["protocol"] == "stratified-group-kfold" and len(splits["splits"]) == 4
    for split in splits["splits"]:
        check_disjoint(split)
        for role in ROLES:
            assert (clips[clips["speaker"].isin(split[role])]["gender"] == "female").any()
