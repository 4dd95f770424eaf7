import numpy as np
import pandas as pd
import pytest

from audiogender.lab.corpora import read_corpora
from audiogender.lab.splits import (
    AUDIOMNIST_FEMALE,
    ROLES,
    assignment_table,
    becker_splits,
    check_disjoint,
    fold_masks,
    fold_tested_in,
    is_audiomnist,
    leaky_masks,
    load_splits,
    make_splits,
    save_splits,
    shared_speakers,
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
    splits = make_splits(clips, n_folds=4, random_state=1)
    assert splits["protocol"] == "stratified-group-kfold" and not is_audiomnist(clips)
    tested = [s for split in splits["splits"] for s in split["test"]]
    assert sorted(tested) == sorted(speakers)
    for split in splits["splits"]:
        check_disjoint(split)
        assert set(split["train"]) | set(split["validation"]) | set(split["test"]) == set(speakers)
        assert {speakers[s] for s in split["test"]} == {"male", "female"}


def test_overlapping_roles_are_refused_and_shown():
    split = {"train": ["a", "b"], "validation": ["c"], "test": ["b"]}
    with pytest.raises(ValueError, match="in both train and test"):
        check_disjoint(split)
    assert shared_speakers(split) == {("train", "test"): ["b"]} and shared_speakers({**split, "test": ["d"]}) == {}


def test_leaky_folds_deal_every_clip_once_and_mix_speakers():
    clips = _clips({f"s{i}": "female" if i % 2 else "male" for i in range(6)}, per_speaker=5)
    folds = leaky_masks(clips, n_folds=5)
    assert np.sum([f["test"] for f in folds], axis=0).tolist() == [1] * len(clips)
    assert all((f["train"] == ~f["test"]).all() and not f["validation"].any() for f in folds)
    assert any(set(clips["speaker"][f["train"]]) & set(clips["speaker"][f["test"]]) for f in folds)


def test_fold_masks_without_validation_train_on_the_validation_speakers():
    clips = _clips({f"s{i}": "female" if i % 2 else "male" for i in range(12)})
    splits = make_splits(clips, n_folds=3)["splits"]
    with_validation, without = fold_masks(clips, splits), fold_masks(clips, splits, validate=False)
    for a, b in zip(with_validation, without):
        assert (b["train"] == a["train"] | a["validation"]).all() and not b["validation"].any() and (a["test"] == b["test"]).all()
    assert (fold_tested_in(with_validation) >= 0).all()


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


def test_splits_of_another_corpus_are_refused(tmp_path):
    clips = _clips({f"s{i}": "female" if i % 2 else "male" for i in range(8)})
    load_splits(tmp_path / "splits.json", clips)
    other = _clips({f"t{i}": "female" if i % 2 else "male" for i in range(8)})
    with pytest.raises(ValueError, match="made for another corpus"):
        load_splits(tmp_path / "splits.json", other)


def test_leaving_one_corpus_out_tests_each_folder_once_and_never_trains_its_speakers():
    from audiogender.lab.splits import corpus_masks

    rows = []
    for folder, n in (("a", 10), ("b", 10), ("samples", 4), ("audiomnist-sample", 3)):
        rows += [(f"{folder}/{i}_{k}.wav", f"{folder}{i}", "female" if i % 2 else "male", folder, "en", 0, folder) for i in range(n) for k in range(2)]
    rows.append(("samples/again.wav", "a0", "male", "a", "en", 0, "samples"))  # speaker a0 in two folders
    clips = pd.DataFrame(rows, columns=["path", "speaker", "gender", "corpus", "language", "digit", "source"])
    names, folds = corpus_masks(clips)
    assert names == ["a", "audiomnist-sample+samples", "b"]  # the two small folders are held out together
    assert np.sum([f["test"] for f in folds], axis=0).tolist() == [1] * len(clips)
    for name, fold in zip(names, folds):
        tested = set(clips.loc[fold["test"], "speaker"])
        assert not tested & set(clips.loc[fold["train"] | fold["validation"], "speaker"])
        assert fold["validation"].any() and not (fold["train"] & fold["validation"]).any()
    assert not folds[0]["train"][len(clips) - 1] and not folds[1]["train"][0]  # a0 trains in neither fold that tests it
