import importlib.util

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audiogender.lab import crossval
from audiogender.lab.base import TrainedInEpochs
from audiogender.lab.methods import METHODS, Job, PitchMethod, project_paths
from audiogender.lab.recipes import RECIPES, get_recipe
from audiogender.lab.splits import fold_masks, fold_tested_in, group_kfold_splits
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


def _job(clips, splits, **recipes) -> Job:
    return Job(clips.assign(group=clips["source"]), fold_masks(clips, splits), {**RECIPES, **recipes}, n_folds=3, device="cpu", cache_dir=None, progress=False)


@pytest.mark.slow
def test_every_method_predicts_every_clip_once_out_of_fold(tmp_path):
    clips = _corpus(tmp_path)
    splits = group_kfold_splits(clips, 3)
    seed, default = get_recipe("seed", epochs=2), get_recipe("default", epochs=2, n_views=2, augment={"p_pitch": 0.0})
    job = _job(clips, splits, seed=seed, default=default)
    pitch = PitchMethod().run(job)  # the buzzes' own median pitch: 100-130 Hz for men, 200-250 for women
    assert len(pitch.predictions) == len(clips) and all(130 < t < 200 for t in pitch.notes["pitch_thresholds_hz"])
    assert (pitch.predictions["p_female"].round() == (clips["gender"] == "female")).all()

    table = METHODS["seed"].run(job)
    assert len(table.predictions) == len(clips) and table.predictions["method"].iloc[0] == "seed" and len(table.models) == 3
    leaky = METHODS["seed-leaky"].run(job)
    assert sorted(leaky.predictions["path"]) == sorted(project_paths(clips))  # recorded relative to the project, as every table is
    assert leaky.recipe == seed and not METHODS["seed-leaky"].applies_to("corpora")

    ours = METHODS["default"].run(job)
    assert len(ours.predictions) == len(clips) and len(ours.models) == 3
    assert ours.predictions["p_female"].between(0, 1).all() and set(ours.predictions["fold"]) == {0, 1, 2}
    assert all(float(m.temperature) > 0 and isinstance(m, TrainedInEpochs) for m in ours.models)
    job.training_random_state = 1
    again = METHODS["default"].run(job)
    assert (again.predictions["fold"] == ours.predictions["fold"]).all() and not np.allclose(again.predictions["p_female"], ours.predictions["p_female"])

    predictions = pd.concat([pitch.predictions, table.predictions, ours.predictions])
    result = crossval.CrossValidation(predictions, splits, models={"default": ours.models}, recipes={"default": default})
    folder = crossval.save_crossval(result, tmp_path / "outputs")
    assert {p.name for p in folder.iterdir()} == {"predictions.csv", "scorecard.csv", "splits.json", "settings.yml", "models"}
    assert sorted(p.name for p in (folder / "models" / "default").iterdir()) == ["fold_0.onnx", "fold_0.pt", "fold_1.onnx", "fold_1.pt", "fold_2.onnx", "fold_2.pt"]
    card = pd.read_csv(folder / "scorecard.csv")
    assert set(card["method"]) == {"pitch", "seed", "default"} and set(card["corpus"]) == {"all", "c1", "c2"}


def test_an_earlier_run_is_reused_for_the_methods_not_rerun_and_refused_on_other_folds(tmp_path):
    clips = _corpus(tmp_path)
    splits = group_kfold_splits(clips, 3)
    pitch = PitchMethod().run(_job(clips, splits)).predictions
    folder = crossval.save_crossval(crossval.CrossValidation(pitch.assign(method="old"), crossval.folds_as_splits(clips, fold_masks(clips, splits))), tmp_path / "outputs")
    recorded = crossval.folds_as_splits(clips, fold_masks(clips, splits))
    kept = crossval.reused_predictions(folder, clips, recorded, exclude=["pitch"])
    assert set(kept["method"]) == {"old"} and len(kept) == len(clips)
    assert crossval.reused_predictions(folder, clips, recorded, exclude=["old"]).empty
    with pytest.raises(ValueError, match="folds"):
        crossval.reused_predictions(folder, clips, crossval.folds_as_splits(clips, fold_masks(clips, group_kfold_splits(clips, 4))))
    again = crossval.run_crossval(clips, [], n_folds=3, reuse_from=folder, cache_dir=None, progress=False)  # re-score only, nothing retrained
    assert again.models == {} and sorted(again.predictions["p_female"]) == sorted(pitch["p_female"])


def test_the_folds_of_a_protocol_leave_the_clip_table_as_it_was(tmp_path):
    clips = _corpus(tmp_path)
    before = clips.copy()
    names, folds, groups = crossval.protocol_folds(clips, "speakers", 3)
    assert len(names) == len(folds) == 3 and len(groups) == len(clips)
    pd.testing.assert_frame_equal(clips, before)
    with pytest.raises(ValueError, match="unknown methods"):
        crossval.run_crossval(clips, ["pitch baseline"], n_folds=3, cache_dir=None)  # a title, not a name


@pytest.mark.slow
def test_the_recipes_given_replace_the_named_ones(tmp_path):
    mine = get_recipe("default", epochs=1, n_views=2, augment={"p_pitch": 0.0, "p_noise": 0.9})
    result = crossval.run_crossval(_corpus(tmp_path), ["default"], n_folds=3, device="cpu", cache_dir=None, progress=False, recipes={"default": mine})
    assert result.recipes == {"default": mine}
    assert [len(model.history()) for model in result.models["default"]] == [1, 1, 1]  # one epoch each, as mine says, not the default's six


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("resemblyzer") is None, reason="the encoder's weights come from the resemblyzer wheel")
def test_leaving_one_corpus_out_tests_each_folder_with_models_that_never_heard_it(tmp_path):
    clips = _corpus(tmp_path, n_speakers=18)
    clips["source"] = ["c1" if int(s[1:]) < 6 else "c2" if int(s[1:]) < 12 else "c3" for s in clips["speaker"]]
    result = crossval.run_crossval(clips, ["pitch", "encoder", "seed-leaky"], protocol="corpora", cache_dir=None, progress=False)
    assert result.groups == ["c1", "c2", "c3"] and result.methods == ["pitch", "encoder"]  # no leaky split across corpora
    table = result.predictions
    for method, rows in table.groupby("method"):
        assert sorted(rows["path"]) == sorted(project_paths(clips)) and (rows["group"] == rows["source"]).all()
        assert (rows.groupby("group")["fold"].nunique() == 1).all()
    card = result.scorecard()
    assert set(card["corpus"]) == {"all", "c1", "c2", "c3"} and {"female_speakers", "male_speakers"} <= set(card)
    folder = crossval.save_crossval(result, tmp_path / "outputs")
    assert sorted(p.name for p in (folder / "models" / "encoder").glob("*.onnx")) == ["fold_0.onnx", "fold_1.onnx", "fold_2.onnx"]
    published = crossval.publish(folder, tmp_path / "book" / "results")
    assert (published / "predictions.csv.gz").exists() and not list(published.glob("models"))
    again = crossval.load_crossval(published)  # what the report re-scores: the same table, without retraining
    assert again.protocol == "corpora" and again.groups == result.groups and again.notes["pitch_thresholds_hz"] == result.notes["pitch_thresholds_hz"]
    pd.testing.assert_frame_equal(again.scorecard(), result.scorecard(), check_dtype=False)
