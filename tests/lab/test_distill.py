import importlib.util

import numpy as np
import pytest

from audiogender.lab.corpora import read_corpora
from audiogender.lab.distill import TaughtFrames
from audiogender.lab.recipes import RECIPES, get_recipe
from audiogender.lab.splits import make_splits, role_masks
from helpers import AUDIOMNIST_SAMPLE, SAMPLES

pytestmark = pytest.mark.skipif(importlib.util.find_spec("resemblyzer") is None, reason="the teacher is a head on the resemblyzer encoder")


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    clips = read_corpora([SAMPLES, AUDIOMNIST_SAMPLE])
    recipe = get_recipe("distilled", epochs=1, batch_size=16, n_views=2, augment={"p_pitch": 0.0})
    return clips, recipe, recipe.training_data(clips, tmp_path_factory.mktemp("cache"), progress=False)


def test_the_distilled_recipe_is_the_default_taught_by_the_encoder():
    assert RECIPES["distilled"].replace(name="default", teacher=None) == RECIPES["default"]
    assert RECIPES["distilled"].teacher == RECIPES["encoder"]
    with pytest.raises(ValueError, match="must be an encoder recipe"):
        get_recipe("default", teacher=RECIPES["seed"])
    with pytest.raises(ValueError, match="teaches only a recipe with crops"):
        get_recipe("seed", teacher=RECIPES["encoder"])


def test_each_views_target_blends_its_label_with_the_teachers_answer_from_other_speakers(taught):
    clips, recipe, data = taught
    assert isinstance(data, TaughtFrames) and data.embeddings.n_views == data.bank.n_views == 2
    y = (clips["gender"] == "female").to_numpy().astype(int)
    rows = np.arange(len(clips))
    answers = data.teacher_answers(rows, y)
    assert answers.shape == (len(clips), 2) and ((answers > 0) & (answers < 1)).all()
    assert ((answers[:, 0] >= 0.5) == y).mean() >= 0.7  # a teacher worth listening to, though it never heard these speakers
    dataset = data.training_set(rows, y)
    crop, target = dataset[0]
    assert target.shape == (2,) and target.sum() == pytest.approx(1.0) and crop.shape == (98, 40)
    blended = dataset.soft
    assert np.all((blended >= 0.5 * y[:, None]) & (blended <= 0.5 + 0.5 * y[:, None]))  # half label, half teacher


def test_a_distilled_cnn_trains_on_soft_targets(taught):
    clips, recipe, data = taught
    masks = role_masks(clips, make_splits(clips, n_folds=3)["splits"][0])
    model = recipe.fit(data, clips, masks, device="cpu")
    history = model.history()
    assert len(history) == 1 and np.isfinite(history["train_loss"]).all() and 0 <= history["train_acc"].iloc[0] <= 1
    assert 0 < model.temperature
