import numpy as np
import pandas as pd
import pytest
import yaml

from audiogender.lab.corpora import read_corpora
from audiogender.lab.recipes import get_recipe
from audiogender.lab.search import SEED_GRID, load_grid, run_search, searched_recipe
from audiogender.lab.splits import AUDIOMNIST_FEMALE, BECKER_GROUPS, becker_splits, check_disjoint, make_splits, search_folds
from helpers import AUDIOMNIST_SAMPLE, SAMPLES


@pytest.fixture(scope="module")
def tiny():
    """The real clips the repo ships: 14 speakers, 6 of them female."""
    clips = read_corpora([SAMPLES, AUDIOMNIST_SAMPLE])
    return clips, make_splits(clips, n_folds=3)


def test_a_tiny_search_writes_a_complete_folder_and_its_best_recipe(tiny, tmp_path):
    clips, splits = tiny
    grid = {"epochs": [1, 2], "lr": [0.001]}
    search = run_search(clips, get_recipe("seed", batch_size=16), splits["splits"][0], grid=grid, cv=2, device="cpu",
                        cache_dir=tmp_path / "cache", outputs_dir=tmp_path, progress=False, verbose=0)  # fmt: skip
    assert search.path == tmp_path / "search_1"
    assert {p.name for p in search.path.iterdir()} == {"best_params.yaml", "cv_results.csv", "heatmap.png", "search.yml"}
    best = yaml.safe_load((search.path / "best_params.yaml").read_text())
    assert {"epochs": best["epochs"], "lr": best["lr"]} in [{"epochs": e, "lr": 0.001} for e in (1, 2)]
    assert isinstance(best["epochs"], int) and best == {**search.best_params, "balanced_accuracy": search.best_score}
    assert searched_recipe(search.path) == get_recipe("seed", batch_size=16, epochs=best["epochs"], lr=0.001, overrides={"name": "seed, best of search_1"})
    results = pd.read_csv(search.path / "cv_results.csv")
    assert len(results) == 2
    scores = results[["mean_balanced_accuracy", "fold0_balanced_accuracy", "fold1_balanced_accuracy"]].to_numpy()
    assert ((scores >= 0) & (scores <= 1)).all() and (results["mean_fit_seconds"] > 0).all()
    settings = yaml.safe_load((search.path / "search.yml").read_text())
    tested = set(splits["splits"][0]["test"])
    for fold in settings["folds"]:
        assert not set(fold["fit"]) & set(fold["score"])
        assert not (set(fold["fit"]) | set(fold["score"])) & tested  # the split's test speakers stay unseen


def test_no_speaker_is_both_fitted_and_scored_in_any_fold():
    speakers = {f"s{i:02d}": "female" if i % 3 == 0 else "male" for i in range(24)}
    rows = [(f"{s}_{k}.wav", s, g, "c", "en", 0) for s, g in speakers.items() for k in range(5)]
    clips = pd.DataFrame(rows, columns=["path", "speaker", "gender", "corpus", "language", "digit"])
    pool = np.ones(len(clips), bool)
    folds = search_folds(clips, pool, cv=4)
    assert len(folds) == 4
    for fit, score in folds:
        assert not set(clips["speaker"][fit]) & set(clips["speaker"][score])
    speakers = clips["speaker"].to_numpy()
    with pytest.raises(ValueError, match="fold 0: speakers .* are in both fit and score"):
        check_disjoint({"fit": speakers[:10], "score": speakers[8:20]}, where="fold 0: ")


def test_on_audiomnist_the_folds_are_beckers_groups():
    rows = [(f"{i:02d}.wav", f"{i:02d}", "female" if f"{i:02d}" in AUDIOMNIST_FEMALE else "male", "am", "en", 0) for i in range(1, 61)]
    clips = pd.DataFrame(rows, columns=["path", "speaker", "gender", "corpus", "language", "digit"])
    split = becker_splits()[0]  # train C+D, validate A, test B
    pool = clips["speaker"].isin(split["train"] + split["validation"]).to_numpy()
    folds = search_folds(clips, pool, protocol="becker")
    speakers = clips[pool]["speaker"].to_numpy()
    assert [sorted(speakers[score]) for _, score in folds] == [sorted(BECKER_GROUPS[g]) for g in "ACD"]
    for fit, score in folds:
        assert len(fit) == 12 and not set(speakers[fit]) & set(speakers[score])


def test_grids_from_dicts_files_and_the_default(tmp_path):
    assert load_grid(None) == SEED_GRID and len(SEED_GRID["epochs"]) * len(SEED_GRID["lr"]) == 16
    (tmp_path / "grid.yml").write_text("epochs: [5, 10]\nweight_decay: 0.0001\n")
    assert load_grid(tmp_path / "grid.yml") == {"epochs": [5, 10], "weight_decay": [0.0001]}
    with pytest.raises(ValueError, match="mapping"):
        load_grid({})
    with pytest.raises(ValueError, match="may vary"):
        load_grid({"momentum": [0.9]})


@pytest.mark.slow
def test_the_grid_on_ray_scores_as_the_local_run_does(tiny, tmp_path):
    pytest.importorskip("ray")
    clips, splits = tiny
    grid = {"epochs": [1, 2], "lr": [0.001]}
    runs = {}
    for backend in ("loky", "ray"):
        runs[backend] = run_search(clips, get_recipe("seed", batch_size=16), splits["splits"][0], grid=grid, cv=2, device="cpu", n_jobs=2,
                                   backend=backend, cache_dir=tmp_path / "cache", outputs_dir=tmp_path / backend, progress=False, verbose=0)  # fmt: skip
    columns = ["epochs", "lr", "mean_balanced_accuracy", "fold0_balanced_accuracy", "fold1_balanced_accuracy"]
    pd.testing.assert_frame_equal(runs["ray"].results[columns], runs["loky"].results[columns])
    assert runs["ray"].best_params == runs["loky"].best_params
    assert yaml.safe_load((runs["ray"].path / "search.yml").read_text())["backend"] == "ray"
