"""Every training recipe, defined once by name: what the notebooks, the Makefile, ``train``, ``search`` and ``crossval`` train.

    get_recipe("seed", epochs=5)            # the seed's recipe, 5 epochs instead of 25
    get_recipe("default", augment={"p_pitch": 0.6})

The recipes (:data:`RECIPES`), each a :class:`base.Recipe`:

* ``seed``: the seed project's CNN and recipe exactly: MFCCs of each clip's loudest
  second, 25 epochs of Adam at 0.001, batch 64, the last epoch kept, no calibration
  (``cnn.CnnRecipe``).
* ``default``: our CNN on log-mel crops of clean and augmented views, folders and
  genders weighed alike, 6 epochs with the learning rate annealed to zero (cosine),
  the epoch with the best validation balanced accuracy kept, and a temperature
  fitted on validation speakers (``cnn.CnnRecipe``).
* ``encoder``: logistic regression on the frozen GE2E speaker encoder's mean
  embedding of a recording, calibrated the same way (``head.EncoderRecipe``).
* ``distilled``: the ``default`` CNN taught by the ``encoder`` head: each crop's
  target blends its label with the head's answer for that very view (``distill``).
"""

from __future__ import annotations

from ..features import FeatureConfig
from .base import Recipe
from .cnn import CnnRecipe
from .head import EncoderRecipe

RECIPES: dict[str, Recipe] = {
    "seed": CnnRecipe("seed", "seed-cnn", FeatureConfig("mfcc"), epochs=25),
    "default": CnnRecipe(
        "default", "gender-cnn", FeatureConfig("logmel"), epochs=6, crops=True, balance="folder-gender",
        restore_best=True, lr_schedule="cosine", calibrate=True,
    ),  # fmt: skip
    "encoder": EncoderRecipe(),
}
RECIPES["distilled"] = RECIPES["default"].replace(name="distilled", teacher=RECIPES["encoder"])
KINDS = {cls.kind: cls for cls in (CnnRecipe, EncoderRecipe)}  # what a recipe's to_dict records as its kind -> its class


def recipe_from_dict(settings: dict) -> Recipe:
    """The recipe a ``to_dict`` wrote, of whichever kind."""
    return KINDS[settings.get("kind", CnnRecipe.kind)].from_dict(settings)


def get_recipe(name: str | Recipe = "default", overrides: dict | None = None, **settings) -> Recipe:
    """The recipe called ``name`` (or a recipe itself), changed (see :meth:`base.Recipe.replace`).

    ``settings`` are notebook parameters, where None means "the recipe's own" and is
    skipped; ``overrides`` are applied as given, None included (``-y 'overrides: {lr_schedule: null}'``).
    """
    recipe = RECIPES.get(name) if isinstance(name, str) else name
    if recipe is None:
        raise ValueError(f"unknown recipe {name!r}: use one of {', '.join(RECIPES)}")
    return recipe.replace(**{**{k: v for k, v in settings.items() if v is not None}, **(overrides or {})})


def cnn_recipes(recipes: dict[str, Recipe] = RECIPES) -> list[str]:
    """The names of the recipes that train a CNN (and so take epochs)."""
    return [name for name, recipe in recipes.items() if isinstance(recipe, CnnRecipe)]


def notebook_recipes(epochs: int | None = None, n_views: int | None = None, augment: dict | None = None, changes: dict | None = None) -> dict[str, Recipe]:
    """Every recipe as ``05_evaluate``'s parameters change it: ``epochs``, ``n_views`` and ``augment`` change the CNN
    recipes (None: their own), ``changes`` any recipe by name (``{"encoder": {"C": 1.0}}``)."""
    cnn, changes = set(cnn_recipes()), changes or {}
    unknown = set(changes) - set(RECIPES)
    if unknown:
        raise ValueError(f"changes for unknown recipes {sorted(unknown)}: use some of {', '.join(RECIPES)}")
    return {name: get_recipe(name, **({"epochs": epochs, "n_views": n_views, "augment": augment} if name in cnn else {}), overrides=changes.get(name))
            for name in RECIPES}  # fmt: skip
