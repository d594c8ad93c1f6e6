"""Reproducible training: recipes, a `tf.data` pipeline with augmentation, a one-cycle schedule, resumable runs.

A *recipe* names an architecture, an optimiser and its learning rate, the epochs and the batch size, and the
augmentation. `train()` runs one, optionally under a `tf.distribute` strategy (several GPUs or machines, no code
changes), with checkpoints that let an interrupted run resume where it stopped, and returns the model, its history
and a model card. `python -m digitlib.train` is the command-line front end.
"""

from __future__ import annotations

import contextlib
import platform
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from digitlib import data, models
from digitlib.augment import AugmentConfig, augment_batch
from digitlib.model_files import save_model


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RECIPES: dict[str, Recipe] = {
    # digitlib's default: small BN-CNN, one-cycle Adam, augmentation for hand-drawn digits.
    "digitlib": Recipe(
        "digitlib", "digitlib_cnn", "adam_onecycle", 3e-3, epochs=20, batch_size=256, label_smoothing=0.05
    ),
    # The classic tutorial with Adadelta's learning rate set to 1.0, as its code assumed before Keras 2.3
    # changed the default to 0.001 (with the default it reaches only ~43% after one epoch).
    "classic": Recipe("classic", "classic_cnn", "adadelta", 1.0, epochs=12, batch_size=128, augment=None),
    # The smallest tutorial CNN with Adam's defaults.
    "simple": Recipe("simple", "simple_cnn", "adam", 1e-3, epochs=5, batch_size=32, augment=None),
}


def get_recipe(name: str, **overrides: Any) -> Recipe:
    """The recipe called ``name``, with some fields replaced (e.g. ``epochs=1``)."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return replace(RECIPES[name], **{k: v for k, v in overrides.items() if v is not None})


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    augment: AugmentConfig | None = None,
    shuffle: bool = False,
    seed: int = 0,
    one_hot: bool = False,
) -> tf.data.Dataset:
    """A `tf.data` pipeline of (N, 28, 28, 1) float32 batches from uint8 images (N, 28, 28).

    Feeding `fit()` an explicit pipeline avoids the stalls seen at epoch boundaries with numpy arrays.
    """
    ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def prepare(x, y):
        x = tf.cast(x, tf.float32)[..., None] / 255.0
        if augment is not None:
            x = augment_batch(x, augment, labels=y)
        return x, tf.one_hot(y, models.NUM_CLASSES) if one_hot else y

    # Fixed parallelism instead of AUTOTUNE: tearing down an autotuned iterator at the end of an epoch stalled
    # training for many seconds at a time on 2-core machines, and two workers are plenty for this pipeline.
    options = tf.data.Options()
    options.autotune.enabled = False
    options.deterministic = True
    return ds.map(prepare, num_parallel_calls=2).prefetch(2).with_options(options)


def make_optimizer(recipe: Recipe, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The recipe's optimiser; ``adam_onecycle`` warms up for 15% of the run, then decays by a cosine."""
    if recipe.optimizer == "adadelta":
        return keras.optimizers.Adadelta(learning_rate=recipe.learning_rate)
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=recipe.learning_rate)
    if recipe.optimizer == "adam_onecycle":
        total = max(1, steps_per_epoch * recipe.epochs)
        warmup = max(1, int(0.15 * total))
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=recipe.learning_rate / 20,
            decay_steps=max(1, total - warmup),  # a one-step run has no room to decay
            alpha=1e-3,
            warmup_target=recipe.learning_rate,
            warmup_steps=warmup,
        )
        return keras.optimizers.Adam(learning_rate=schedule)
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}")


def compile_model(model: keras.Model, recipe: Recipe, steps_per_epoch: int) -> keras.Model:
    """Compile ``model`` with the recipe's optimiser and loss.

    Labels are plain digits; with label smoothing, the pipeline one-hot encodes them (see `make_dataset`).
    """
    if recipe.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=make_optimizer(recipe, steps_per_epoch), loss=loss, metrics=["accuracy"])
    return model


@dataclass
class TrainResult:
    """What a training run produced."""

    model: keras.Model
    history: dict[str, list[float]]
    card: dict[str, Any]
    path: Path | None = None


def evaluate_accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``images`` (uint8, N×28×28) whose predicted digit equals the label."""
    probabilities = predict_probabilities(model, images)
    return float(np.mean(probabilities.argmax(axis=1) == labels))


def predict_probabilities(model: keras.Model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities (N, 10) for uint8 images (N, 28, 28), batched through the model's forward pass."""
    outputs = [
        model(data.to_model_input(images[i : i + batch_size]), training=False).numpy()
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0, models.NUM_CLASSES), np.float32)


def train(
    recipe: str | Recipe = "digitlib",
    epochs: int | None = None,
    output: str | Path | None = None,
    seed: int = 0,
    subset: int | None = None,
    validation_fraction: float = 0.0,
    backup_dir: str | Path | None = None,
    strategy: tf.distribute.Strategy | None = None,
    verbose: int | str = "auto",
    command: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrainResult:
    """Train a recipe on MNIST and return the model, history and model card; save them when ``output`` is given.

    ``subset`` trains on the first N training images (for quick runs); ``validation_fraction`` holds out a
    reproducible, stratified share of the training set to watch for over-fitting. ``backup_dir`` keeps a
    checkpoint after every epoch so that an interrupted run resumes from it when called again with the same
    arguments (it is deleted when the run completes). ``callbacks`` are extra Keras callbacks for ``fit``. The
    final test accuracy is measured on all 10,000 test images and recorded in the card.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if epochs is not None:
        recipe = replace(recipe, epochs=epochs)
    if recipe.epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {recipe.epochs}")
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    if subset is not None:
        x_train, y_train = x_train[:subset], y_train[:subset]
    one_hot = recipe.label_smoothing > 0
    val_ds = None
    if validation_fraction:
        (x_train, y_train), (x_val, y_val) = data.split_validation(x_train, y_train, validation_fraction, seed)
        val_ds = make_dataset(x_val, y_val, 1000, one_hot=one_hot)
    train_ds = make_dataset(
        x_train, y_train, recipe.batch_size, recipe.augment, shuffle=True, seed=seed, one_hot=one_hot
    )
    steps_per_epoch = int(np.ceil(len(x_train) / recipe.batch_size))

    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = compile_model(models.build_model(recipe.architecture), recipe, steps_per_epoch)

    # The backup callback goes first, so an epoch's checkpoint is written before any other callback can stop the run.
    backup = [] if backup_dir is None else [keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=True)]
    callbacks = [*backup, *callbacks]
    start = time.perf_counter()
    history = model.fit(
        train_ds,
        epochs=recipe.epochs,
        validation_data=val_ds,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the pipeline shuffles
    )
    wall_time = time.perf_counter() - start
    test_accuracy = evaluate_accuracy(model, x_test, y_test)
    card = model_card(model, recipe, history.history, test_accuracy, wall_time, seed, len(x_train), command)
    path = save_model(model, output, card) if output is not None else None
    return TrainResult(model, history.history, card, path)


def model_card(
    model: keras.Model,
    recipe: Recipe,
    history: dict[str, list[float]],
    test_accuracy: float,
    wall_time: float,
    seed: int,
    train_images: int,
    command: str | None,
) -> dict[str, Any]:
    """The JSON-serialisable facts about a trained model: how it was made and how well it does."""
    return {
        "model": model.name,
        "parameters": int(model.count_params()),
        "input": "float32 (N, 28, 28, 1) in [0, 1], white ink on black (as MNIST)",
        "output": "float32 (N, 10) class probabilities for the digits 0-9",
        "test_accuracy": round(test_accuracy, 5),
        "test_images": 10000,
        "train_images": train_images,
        "epochs": recipe.epochs,  # not len(history): after a resume it has only the new epochs
        "wall_time_s": round(wall_time, 1),
        "seed": seed,
        "recipe": recipe.to_dict(),
        "command": command,
        "history": {k: [round(float(v), 6) for v in vs] for k, vs in history.items()},
        "data_sha256": dict(data.MNIST_FILES),
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
        "machine": f"{platform.machine()}, {platform.system()}",
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def remove_backup(backup_dir: str | Path) -> None:
    """Forget an interrupted run's checkpoint, so the next run starts from scratch."""
    shutil.rmtree(backup_dir, ignore_errors=True)
