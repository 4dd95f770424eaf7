import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audiogender import crossval
from audiogender.augment import Augmenter
from audiogender.crops import load_frame_bank
from audiogender.features import FeatureConfig
from audiogender.splits import group_kfold_splits
from audiogender.data import load_features
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


def test_leaky_folds_mix_speakers_and_speaker_folds_do_not(tmp_path):
    clips = _corpus(tmp_path)
    splits = group_kfold_splits(clips, 3)
    folds = crossval.test_folds(clips, splits)
    assert (folds >= 0).all()
    assert clips.groupby("speaker").apply(lambda g: folds[g.index].min() == folds[g.index].max(), include_groups=False).all()
    leaky = crossval.leaky_folds(clips, 3)
    assert sorted(np.concatenate(leaky)) == list(range(len(clips)))


def test_every_method_predicts_every_clip_once_out_of_fold(tmp_path):
    clips = _corpus(tmp_path)
    splits = group_kfold_splits(clips, 3)
    y_f0 = np.where(clips["gender"] == "female", 220.0, 115.0)
    pitch, thresholds = crossval.crossval_pitch(clips, y_f0, splits)
    assert len(pitch) == len(clips) and all(115 < t < 220 for t in thresholds)
    assert (pitch["p_female"].round() == (clips["gender"] == "female")).all()

    features = load_features(clips, FeatureConfig("mfcc"), cache_dir=None, progress=False)
    seed = crossval.crossval_seed(clips, features, splits, device="cpu", progress=False)
    assert len(seed) == len(clips) and seed["method"].iloc[0] == "seed, speaker-disjoint"

    bank = load_frame_bank(clips, n_views=2, augmenter=Augmenter(p_pitch=0.0), cache_dir=None, progress=False)
    default, models = crossval.crossval_default(clips, bank, splits, device="cpu", progress=False, epochs=2, patience=None)
    assert len(default) == len(clips) and len(models) == 3
    assert default["p_female"].between(0, 1).all() and set(default["fold"]) == {0, 1, 2}
    assert all(float(m.temperature) > 0 for m in models)
    again, _ = crossval.crossval_default(clips, bank, splits, device="cpu", progress=False, epochs=2, patience=None, training_seed=1)
    assert (again["fold"] == default["fold"]).all() and not np.allclose(again["p_female"], default["p_female"])  # same folds, other luck

    result = crossval.CrossValidation(pd.concat([pitch, seed, default]), splits, models)
    folder = crossval.save_crossval(result, tmp_path / "outputs")
    assert {p.name for p in folder.iterdir()} >= {"predictions.csv", "scorecard.csv", "splits.json", "settings.yml", "fold_0.pt"}
    card = pd.read_csv(folder / "scorecard.csv")
    assert set(card["method"]) == {"pitch baseline", "seed, speaker-disjoint", "default"} and set(card["corpus"]) == {"all", "c1", "c2"}


def test_an_earlier_run_is_reused_for_the_methods_not_rerun_and_refused_on_other_folds(tmp_path):
    clips = _corpus(tmp_path)
    splits = group_kfold_splits(clips, 3)
    pitch, _ = crossval.crossval_pitch(clips, np.where(clips["gender"] == "female", 220.0, 115.0), splits)
    folder = crossval.save_crossval(crossval.CrossValidation(pitch.assign(method="old"), splits), tmp_path / "outputs")
    kept = crossval.reused_predictions(folder, clips, splits, exclude=["pitch baseline"])
    assert set(kept["method"]) == {"old"} and len(kept) == len(clips)
    assert crossval.reused_predictions(folder, clips, splits, exclude=["old"]).empty
    with pytest.raises(ValueError, match="folds"):
        crossval.reused_predictions(folder, clips, group_kfold_splits(clips, 4))
    again = crossval.run_crossval(clips, [], n_folds=3, reuse_from=folder, cache_dir=None, progress=False)  # re-score only, nothing retrained
    assert again.models == [] and sorted(again.predictions["p_female"]) == sorted(pitch["p_female"])


def test_the_augmenter_given_makes_the_default_models_views(tmp_path, monkeypatch):
    class Stop(Exception):
        pass

    asked = {}

    def bank_spy(clips, **options):
        asked.update(options)
        raise Stop

    monkeypatch.setattr(crossval, "load_frame_bank", bank_spy)
    mine = Augmenter(p_pitch=0.9, pitch_target_hz=(100.0, 240.0))
    with pytest.raises(Stop):
        crossval.run_crossval(_corpus(tmp_path), ["default"], n_folds=3, cache_dir=None, progress=False, augmenter=mine)
    assert asked["augmenter"] == mine
