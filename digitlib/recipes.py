"""Recipes: everything that decides what a training run produces (with the seed and the data).

A *recipe* names an architecture and its knobs, an optimiser and its learning rate, the epochs and the batch size,
the augmentation, and what the model learns from besides MNIST: real pen digits drawn the way the pad draws them,
and nonsense it must be unsure of. `compile_model` compiles a model the recipe's way; `digitlib.train` runs one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from digitlib import model_files
from digitlib._tf import keras
from digitlib.augment import AugmentConfig
from digitlib.pen_augment import PenAugment


@dataclass(frozen=True)
class Recipe:
    """Everything that decides what a training run produces (with the seed and the data)."""

    name: str
    architecture: str
    optimizer: str  # "adam_onecycle", "adadelta" or "adam"
    learning_rate: float
    epochs: int
    batch_size: int
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    label_smoothing: float = 0.0
    #: Drawings of each training writer's pen digit (`digitlib.pen_augment.render_pen_digits`) per 60,000 MNIST
    #: images.
    pen_copies: int = 0
    #: How each pen digit is varied in stroke space before it is drawn.
    pen_augment: PenAugment = field(default_factory=PenAugment)
    #: Nonsense images (`digitlib.nonsense.render_nonsense`) as a share of the MNIST images.
    nonsense_share: float = 0.0
    #: MNIST training images held out (with the tune writers' pen digits) to calibrate the confidence on.
    calibration_images: int = 0
    #: The architecture's knobs, e.g. {"width": 40} for digitlib_cnn (its defaults when empty).
    knobs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def draws(self) -> bool:
        """Whether the recipe learns from drawings (pen digits or nonsense) as well as MNIST."""
        return self.pen_copies > 0 or self.nonsense_share > 0


RECIPES: dict[str, Recipe] = {
    # digitlib's default: small BN-CNN, one-cycle Adam, augmentation for hand-drawn digits.
    "digitlib": Recipe(
        "digitlib",
        "digitlib_cnn",
        "adam_onecycle",
        3e-3,
        epochs=20,
        batch_size=256,
        label_smoothing=0.05,
        pen_copies=8,
        nonsense_share=0.15,
        calibration_images=3000,
        knobs={"width": 40},
    ),
    # The classic tutorial with Adadelta's learning rate set to 1.0, as its code assumed before tf.keras (TF 1.14 /
    # 2.0) changed the default to 0.001 (with the default it reaches only ~43% after one epoch).
    "classic": Recipe("classic", "classic_cnn", "adadelta", 1.0, epochs=12, batch_size=128, augment=None),
    # The smallest tutorial CNN with Adam's defaults.
    "simple": Recipe("simple", "simple_cnn", "adam", 1e-3, epochs=5, batch_size=32, augment=None),
}


def get_recipe(name: str, **overrides: Any) -> Recipe:
    """The recipe called ``name``, with some fields replaced (e.g. ``epochs=1``)."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return replace(RECIPES[name], **{k: v for k, v in overrides.items() if v is not None})


def make_optimizer(recipe: Recipe, steps_per_epoch: int, replicas: int = 1) -> keras.optimizers.Optimizer:
    """The recipe's optimiser; ``adam_onecycle`` warms up for 15% of the run, then decays by a cosine.

    Under a distribution strategy with ``replicas`` copies of the model, each step sees ``replicas`` times the
    batch, so the learning rate is scaled by the same factor (the linear scaling rule; the warm-up keeps the first
    steps stable).
    """
    learning_rate = recipe.learning_rate * replicas
    if recipe.optimizer == "adadelta":
        return keras.optimizers.Adadelta(learning_rate=learning_rate)
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    if recipe.optimizer == "adam_onecycle":
        total = max(1, steps_per_epoch * recipe.epochs)
        warmup = max(1, int(0.15 * total))
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=learning_rate / 20,
            decay_steps=max(1, total - warmup),  # a one-step run has no room to decay
            alpha=1e-3,
            warmup_target=learning_rate,
            warmup_steps=warmup,
        )
        return keras.optimizers.Adam(learning_rate=schedule)
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}")


def uses_one_hot(recipe: Recipe) -> bool:
    """Whether the recipe's targets are one-hot vectors (label smoothing or nonsense need them) or plain digits."""
    return recipe.label_smoothing > 0 or recipe.nonsense_share > 0


def compile_model(model: keras.Model, recipe: Recipe, steps_per_epoch: int, replicas: int = 1) -> keras.Model:
    """Compile ``model`` with the recipe's optimiser and loss.

    Labels are plain digits; with label smoothing or nonsense, the pipeline one-hot encodes them (see
    `digitlib.training_data.make_dataset`).
    """
    if uses_one_hot(recipe):
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=make_optimizer(recipe, steps_per_epoch, replicas), loss=loss, metrics=["accuracy"])
    return model


def notebook_04(epochs: int = 3) -> Recipe:
    """What notebook 04's main run trains: digitlib's recipe on MNIST alone (no pen digits, nonsense or
    calibration), at the architecture's default width, for ``epochs`` (its ``EPOCHS``)."""
    return get_recipe("digitlib", epochs=epochs, pen_copies=0, nonsense_share=0.0, calibration_images=0, knobs={})


def course_recipes() -> dict[str, dict[str, Any]]:
    """The shipped model's recipe and notebook 04's: from its model's card once you have run it (with your
    ``EPOCHS``), else the recipe it runs (also while notebook 04 is still saving it)."""
    yours = model_files.trained_model_path()
    try:
        card = model_files.load_card(yours) if yours.is_file() else {}
    except model_files.ModelFileError:  # a save in progress: its card is not in place yet
        card = {}
    return {"shipped": model_files.load_card()["recipe"], "notebook 04": card.get("recipe", notebook_04().to_dict())}


def differences(recipes: dict[str, dict[str, Any]]) -> str:
    """A table of the settings in which the named recipes (`Recipe.to_dict` dicts, or a card's) differ, one row
    each; the augmentations' settings are compared one by one (``augment.rotation_deg``)."""

    def flat(recipe: dict[str, Any]) -> dict[str, str]:
        out = {}
        for key, value in recipe.items():
            items = value.items() if isinstance(value, dict) and key != "knobs" else [(None, value)]
            for sub, item in items:
                out[key if sub is None else f"{key}.{sub}"] = "none" if item is None else json.dumps(item)
        return out

    flats = {name: flat(recipe) for name, recipe in recipes.items()}
    fields = list(dict.fromkeys(field for f in flats.values() for field in f))
    rows = [["", *flats]] + [
        [field, *(f.get(field, "-") for f in flats.values())]
        for field in fields
        if len({f.get(field, "-") for f in flats.values()}) > 1
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)
