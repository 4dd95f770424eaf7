import importlib.util

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audiogender.lab import crossval
from audiogender.lab.recipes import get_recipe
from audiogender.lab.splits import fold_masks, fold_tested_in, group_kfold_splits, leaky_masks
from helpers import harmonic_tone


def _corpus(folder, n_speakers=12, clips_each=2):
    """Low buzzes for 'male' speakers and high ones for 'female', written as wav files, in two corpora."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(n_speakers):
        gender = "female" if s % 2 else "male"
        for i in range(clips_each):
            f0 = rng.uniform(200, 250) if gender == "female" else rng.uniform(100, 130)
            path = folder / f"s{s}_{i}.wav"
            sf.write(path, harmonic_tone(f0, 1.2) + 0.01 * rng.standard_normal(19_200).astype(np.float32), 16_000)
            rows.append((str(path), f"s{s}", gender, "c1" if s < 8 else "c2", "en", i, "c1" if s < 8 else "c2"))
    return pd.DataFrame(rows, columns=["path", "speaker", "gender", "corpus", "language", "digit", "source"])


def test_speaker_folds_keep_each_speaker_in_one_test_fold(tmp_path):
    clips = _corpus(tmp_path)
    folds = fold_tested_in(fold_masks(clips, group_kfold_splits(clips, 3)))
    assert (folds >= 0).all()
    assert clips.groupby("speaker").apply(lambda g: folds[g.index].min() == folds[g.index].max(), include_groups=False).all()


def test_every_method_predicts_every_clip_once_out_of_fold(tmp_path):
    clips = _corpus(tmp_path)
    splits = group_kfold_splits(clips, 3)
    y_f0 = np.where(clips["gender"] == "female", 220.0, 115.0)
    pitch, thresholds = crossval.crossval_pitch(clips, y_f0, fold_masks(clips, splits))
    assert len(pitch) == len(clips) and all(115 < t < 220 for t in thresholds)
    assert (pitch["p_female"].round() == (clips["gender"] == "female")).all()

    seed = get_recipe("seed", epochs=2)
    mfcc = seed.training_data(clips, cache_dir=None, progress=False)
    table, networks = crossval.crossval_recipe(clips, seed, mfcc, fold_masks(clips, splits, validate=False), "seed", "cpu", False)
    assert len(table) == len(clips) and table["method"].iloc[0] == "seed" and len(networks) == 3
    leaky, _ = crossval.crossval_recipe(clips, seed, mfcc, leaky_masks(clips, 3), "seed (leaky clip split)", "cpu", False)
    assert sorted(leaky["path"]) == sorted(crossval._paths(clips))  # recorded relative to the project, as every table is

    default = get_recipe("default", epochs=2, n_views=2, augment={"p_pitch": 0.0})
    bank = default.training_data(clips, cache_dir=None, progress=False)
    ours, models = crossval.crossval_recipe(clips, default, bank, fold_masks(clips, splits), "default", "cpu", False)
    assert len(ours) == len(clips) and len(models) == 3
    assert ours["p_female"].between(0, 1).all() and set(ours["fold"]) == {0, 1, 2}
    assert all(float(m.temperature) > 0 for m in models)
    again, _ = crossval.crossval_recipe(clips, default, bank, fold_masks(clips, splits), "default", "cpu", False, training_random_state=1)
    assert (again["fold"] == ours["fold"]).all() and not np.allclose(again["p_female"], ours["p_female"])  # same folds, other luck

    predictions = pd.concat([pitch, table, ours]).assign(group=lambda t: t["source"])
    result = crossval.CrossValidation(predictions, splits, models={"default": models}, recipes={"default": default})
    folder = crossval.save_crossval(result, tmp_path / "outputs")
    assert {p.name for p in folder.iterdir()} == {"predictions.csv", "scorecard.csv", "splits.json", "settings.yml", "models"}
    assert sorted(p.name for p in (folder / "models" / "default").iterdir()) == ["fold_0.onnx", "fold_0.pt", "fold_1.onnx", "fold_1.pt", "fold_2.onnx", "fold_2.pt"]
    card = pd.read_csv(folder / "scorecard.csv")
    assert set(card["method"]) == {"pitch baseline", "seed", "default"} and set(card["corpus"]) == {"all", "c1", "c2"}


def test_an_earlier_run_is_reused_for_the_methods_not_rerun_and_refused_on_other_folds(tmp_path):
    clips = _corpus(tmp_path)
    splits = group_kfold_splits(clips, 3)
    pitch, _ = crossval.crossval_pitch(clips, np.where(clips["gender"] == "female", 220.0, 115.0), fold_masks(clips, splits))
    folder = crossval.save_crossval(crossval.CrossValidation(pitch.assign(method="old", group="c"), crossval.folds_as_splits(clips, fold_masks(clips, splits))), tmp_path / "outputs")
    recorded = crossval.folds_as_splits(clips, fold_masks(clips, splits))
    kept = crossval.reused_predictions(folder, clips, recorded, exclude=["pitch baseline"])
    assert set(kept["method"]) == {"old"} and len(kept) == len(clips)
    assert crossval.reused_predictions(folder, clips, recorded, exclude=["old"]).empty
    with pytest.raises(ValueError, match="folds"):
        crossval.reused_predictions(folder, clips, crossval.folds_as_splits(clips, fold_masks(clips, group_kfold_splits(clips, 4))))
    again = crossval.run_crossval(clips, [], n_folds=3, reuse_from=folder, cache_dir=None, progress=False)  # re-score only, nothing retrained
    assert again.models == {} and sorted(again.predictions["p_female"]) == sorted(pitch["p_female"])


def test_the_recipes_given_replace_the_named_ones(tmp_path, monkeypatch):
    class Stop(Exception):
        pass

    asked = []

    def fit_spy(recipe, *args, **kwargs):
        asked.append(recipe)
        raise Stop

    monkeypatch.setattr(crossval, "fit", fit_spy)
    mine = get_recipe("default", epochs=1, n_views=2, augment={"p_pitch": 0.0, "p_noise": 0.9})
    with pytest.raises(Stop):
        crossval.run_crossval(_corpus(tmp_path), ["default"], n_folds=3, cache_dir=None, progress=False, recipes={"default": mine})
    assert asked == [mine]


@pytest.mark.skipif(importlib.util.find_spec("resemblyzer") is None, reason="the encoder's weights come from the resemblyzer wheel")
def test_leaving_one_corpus_out_tests_each_folder_with_models_that_never_heard_it(tmp_path):
    clips = _corpus(tmp_path, n_speakers=18)
    clips["source"] = ["c1" if int(s[1:]) < 6 else "c2" if int(s[1:]) < 12 else "c3" for s in clips["speaker"]]
    f0 = np.where(clips["gender"] == "female", 220.0, 115.0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(crossval, "per_clip_cached", lambda *args, **kwargs: f0)
        result = crossval.run_crossval(clips, ["pitch baseline", "encoder", "seed (leaky clip split)"], protocol="corpora", cache_dir=None, progress=False)
    assert result.groups == ["c1", "c2", "c3"] and result.methods == ["pitch baseline", "encoder"]  # no leaky split across corpora
    table = result.predictions
    for method, rows in table.groupby("method"):
        assert sorted(rows["path"]) == sorted(crossval._paths(clips)) and (rows["group"] == rows["source"]).all()
        assert (rows.groupby("group")["fold"].nunique() == 1).all()
    card = result.scorecard()
    assert set(card["corpus"]) == {"all", "c1", "c2", "c3"} and {"female_speakers", "male_speakers"} <= set(card)
    folder = crossval.save_crossval(result, tmp_path / "outputs")
    assert sorted(p.name for p in (folder / "models" / "encoder").glob("*.onnx")) == ["fold_0.onnx", "fold_1.onnx", "fold_2.onnx"]
    published = crossval.publish(folder, tmp_path / "book" / "results")
    assert (published / "predictions.csv.gz").exists() and not list(published.glob("models"))
    again = crossval.load_crossval(published)  # what the report re-scores: the same table, without retraining
    assert again.protocol == "corpora" and again.groups == result.groups
    pd.testing.assert_frame_equal(again.scorecard(), result.scorecard(), check_dtype=False)
