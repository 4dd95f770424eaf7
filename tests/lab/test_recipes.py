import pytest
import yaml

from audiogender.features import FeatureConfig
from audiogender.lab.augment import Augmenter
from audiogender.lab.base import Recipe
from audiogender.lab.cnn import CnnRecipe
from audiogender.lab.corpora import read_corpora
from audiogender.lab.datasets import ClipFeatures, FrameBank
from audiogender.lab.recipes import RECIPES, get_recipe, notebook_recipes, recipe_from_dict
from helpers import SAMPLES


def test_the_seed_and_default_recipes_are_named_once():
    seed, default = RECIPES["seed"], RECIPES["default"]
    assert (seed.network, seed.features, seed.epochs, seed.lr, seed.batch_size) == ("seed-cnn", FeatureConfig("mfcc"), 25, 0.001, 64)
    assert not (seed.crops or seed.restore_best or seed.calibrate or seed.uses_validation)
    assert (default.network, default.features.kind, default.epochs, default.lr_schedule) == ("gender-cnn", "logmel", 6, "cosine")
    assert default.crops and default.restore_best and default.calibrate and default.uses_validation
    assert get_recipe("seed") == seed and get_recipe(default) == default


def test_notebook_parameters_change_a_recipe_and_none_means_the_recipes_own():
    changed = get_recipe("seed", epochs=5, lr=None, batch_size=None)
    assert changed.epochs == 5 and changed.lr == 0.001 and changed.name == "seed"
    assert get_recipe("default", overrides={"lr_schedule": None}).lr_schedule is None  # overrides are taken as given
    wider = get_recipe("default", width=32, dropout=0.3)
    assert wider.network_options == {"width": 32, "dropout": 0.3}
    net = wider.estimator(40, "cpu")
    assert net.get_params()["module__width"] == 32 and net.get_params()["max_epochs"] == 6
    assert get_recipe("default", augment={"p_pitch": 0.6, "pitch_range": [0.7, 1.5]}).augment == Augmenter(p_pitch=0.6, pitch_range=(0.7, 1.5))


def test_unknown_recipes_and_settings_are_refused():
    with pytest.raises(ValueError, match="unknown recipe 'resnet'"):
        get_recipe("resnet")
    with pytest.raises(ValueError, match="unknown cnn recipe settings \\['epoch'\\]"):
        get_recipe("seed", epoch=5)
    with pytest.raises(ValueError, match="lr_schedule"):
        get_recipe("seed", lr_schedule="step")
    with pytest.raises(ValueError, match="log-mel"):
        get_recipe("seed", crops=True)
    with pytest.raises(ValueError, match="unknown augmentation options"):
        get_recipe("default", augment={"p_ptich": 0.5})


def test_a_recipe_round_trips_through_yaml():
    recipe = get_recipe("default", width=24, augment={"pitch_target_hz": [90, 250]}, epochs=3)
    written = yaml.safe_dump(recipe.to_dict())
    assert CnnRecipe.from_dict(yaml.safe_load(written)) == recipe
    for name, recipe in RECIPES.items():  # every recipe, the taught one with its teacher inside
        assert isinstance(recipe, Recipe) and recipe_from_dict(yaml.safe_load(yaml.safe_dump(recipe.to_dict()))) == recipe, name


def test_each_recipe_builds_its_own_training_data(tmp_path):
    clips = read_corpora([SAMPLES]).head(3)
    seed_data = get_recipe("seed").training_data(clips, tmp_path, progress=False)
    default_data = get_recipe("default", n_views=2, augment={"p_pitch": 0.0}).training_data(clips, tmp_path, progress=False)
    assert isinstance(seed_data, ClipFeatures) and seed_data.features.shape == (3, 98, 12)
    assert isinstance(default_data, FrameBank) and default_data.n_clips == 3 and default_data.n_views == 2


def test_a_setting_given_twice_takes_the_override_and_recipes_share_nothing():
    assert get_recipe("seed", epochs=5, overrides={"epochs": 3}).epochs == 3
    mine = get_recipe("default")
    mine.network_options["width"] = 99
    assert "width" not in RECIPES["default"].network_options
    with pytest.raises(ValueError, match="seed-cnn network takes no \\['width'\\]"):
        get_recipe("seed", width=32)


def test_the_notebooks_change_the_cnn_recipes_epochs_and_any_recipe_by_name():
    recipes = notebook_recipes(epochs=2, n_views=2, changes={"encoder": {"C": 1.0}})
    assert recipes["seed"].epochs == recipes["default"].epochs == recipes["distilled"].epochs == 2 and recipes["default"].n_views == 2
    assert recipes["encoder"].C == 1.0 and recipes["encoder"].n_views == RECIPES["encoder"].n_views  # not a CNN: no epochs, its own views
    with pytest.raises(ValueError, match="unknown recipes \\['resnet'\\]"):
        notebook_recipes(changes={"resnet": {}})
