"""Reproducible training: recipes, a `tf.data` pipeline with augmentation, a one-cycle schedule, resumable runs.

A *recipe* names an architecture, an optimiser and its learning rate, the epochs and the batch size, the
augmentation, and what the model learns from besides MNIST: real pen digits drawn the way the pad draws them, and
nonsense it must be unsure of (`digitlib.drawn`). `train()` runs one, optionally under a `tf.distribute` strategy
(several GPUs or machines, no code changes), with checkpoints that let an interrupted run resume where it
stopped; it calibrates the model's confidence on held-out data (`digitlib.calibration`) and returns the model,
its history and a model card. `python -m digitlib.train` is the command-line front end.

A run never loses work: every argument is checked before the first step; the checkpoint records what it belongs
to (recipe, seed, data), so a resume with other arguments stops and says what differs; and it is deleted only
once the final model is saved.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from digitlib import calibration, data, distribute, drawn, models, pen_digits
from digitlib._tf import keras, tf
from digitlib.augment import AugmentConfig, augment_batch
from digitlib.evaluation import evaluate_accuracy, predict_probabilities
from digitlib.files import remove_leftovers, write_atomic
from digitlib.model_files import check_model_path, save_model

#: MNIST's training set has this many images; ``subset`` picks the first N of them.
MNIST_TRAIN_IMAGES = 60_000


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
    #: Drawings of each training writer's pen digit (`digitlib.drawn.render_pen_digits`) per 60,000 MNIST images.
    pen_copies: int = 0
    #: Nonsense images (`digitlib.drawn.render_nonsense`) as a share of the MNIST images.
    nonsense_share: float = 0.0
    #: MNIST training images held out (with the validation writers' pen digits) to calibrate the confidence on.
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

    Labels are digits, or `digitlib.drawn.NONSENSE` for an image that is no digit, whose target (one-hot
    encoded) gives every digit the same probability. Feeding `fit()` an explicit pipeline avoids the stalls seen
    at epoch boundaries with numpy arrays.
    """
    ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def prepare(x, y):
        x = tf.cast(x, tf.float32)[..., None] / 255.0
        if augment is not None:
            x = augment_batch(x, augment, labels=y)
        if not one_hot:
            return x, y
        # tf.one_hot gives all zeros for the nonsense label: make it the uniform distribution.
        target = tf.one_hot(y, models.NUM_CLASSES)
        uniform = tf.fill(tf.shape(target), 1.0 / models.NUM_CLASSES)
        return x, tf.where(tf.equal(y, drawn.NONSENSE)[:, None], uniform, target)

    # Fixed parallelism instead of AUTOTUNE: tearing down an autotuned iterator at the end of an epoch stalled
    # training for many seconds at a time on 2-core machines, and two workers are plenty for this pipeline.
    options = tf.data.Options()
    options.autotune.enabled = False
    options.deterministic = True
    # When a multi-worker strategy splits this pipeline itself (the validation set; `train` shards the training set
    # before augmenting it), it must split by element: the data is in memory, there are no files to share out.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.map(prepare, num_parallel_calls=2).prefetch(2).with_options(options)


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
    `make_dataset`).
    """
    if uses_one_hot(recipe):
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=make_optimizer(recipe, steps_per_epoch, replicas), loss=loss, metrics=["accuracy"])
    return model


@dataclass
class TrainResult:
    """What a training run produced."""

    model: keras.Model
    history: dict[str, list[float]]
    card: dict[str, Any]
    path: Path | None = None


@dataclass
class TrainingSet:
    """What a run learns from and is calibrated on, as uint8 images (N, 28, 28) and labels (N,).

    Labels are digits, or `digitlib.drawn.NONSENSE` for nonsense images. The calibration set holds MNIST training
    images the run never learns from and the validation writers' pen digits.
    """

    images: np.ndarray
    labels: np.ndarray
    sources: dict[str, int]  # how many images came from each source
    calibration_images: np.ndarray
    calibration_labels: np.ndarray
    calibration_sources: dict[str, int]
    validation_images: np.ndarray  # MNIST images held out to watch for over-fitting (may be empty)
    validation_labels: np.ndarray


def check_subset(subset: int | None) -> None:
    """`ValueError` unless ``subset`` is None or a whole number of MNIST training images (1-60,000)."""
    if subset is None:
        return
    if isinstance(subset, bool) or not isinstance(subset, int | np.integer) or not 1 <= subset <= MNIST_TRAIN_IMAGES:
        raise ValueError(
            f"subset must be a number of training images from 1 to {MNIST_TRAIN_IMAGES:,}, got {subset!r} "
            "(leave it out to train on all of them)"
        )


def mnist_split(
    x_train: np.ndarray,
    y_train: np.ndarray,
    calibration_images: int,
    seed: int = 0,
    subset: int | None = None,
    validation_fraction: float = 0.0,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """How a training run splits MNIST's training images: the first ``subset`` of them into the images it learns
    from, its validation set and its calibration images (``calibration_images`` for the whole of MNIST, in
    proportion for a subset), each (images, labels). The split is seeded, so `digitlib.personal` finds the very
    images a model was calibrated on, and never learnt from, from its card."""
    x_train, y_train = x_train[:subset], y_train[:subset]
    empty = (np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64))
    validation = calibration_set = empty
    holdout = round(calibration_images * len(x_train) / MNIST_TRAIN_IMAGES)
    if validation_fraction:
        (x_train, y_train), validation = data.split_validation(x_train, y_train, validation_fraction, seed)
    if 10 <= holdout < len(x_train):
        (x_train, y_train), calibration_set = data.split_validation(x_train, y_train, holdout / len(x_train), seed)
    return (x_train, y_train), validation, calibration_set


def training_set(
    recipe: Recipe, seed: int = 0, subset: int | None = None, validation_fraction: float = 0.0, progress=print
) -> TrainingSet:
    """The images a recipe learns from: MNIST (the first ``subset`` images), plus, for a recipe that draws, the
    training writers' pen digits drawn the pad's way and nonsense, in proportion to the MNIST images used.

    ``validation_fraction`` of the MNIST images (a stratified, seeded split, `digitlib.data.split_validation`) is
    held out as the validation set; the recipe's calibration images are held out as well.
    """
    check_subset(subset)
    (x_train, y_train), _ = data.load_mnist(progress=progress)
    share = len(x_train[:subset]) / MNIST_TRAIN_IMAGES
    split = mnist_split(x_train, y_train, recipe.calibration_images, seed, subset, validation_fraction)
    (x_train, y_train), (x_val, y_val), (x_cal, y_cal) = split
    images, labels = [x_train], [y_train.astype(np.int64)]
    sources = {"mnist": len(x_train)}
    cal_images, cal_labels = [x_cal], [y_cal.astype(np.int64)]
    cal_sources = {"mnist": len(x_cal)}
    if recipe.draws:
        writers = pen_digits.load_pen_digits("train")
        rng = np.random.default_rng(seed)
        if recipe.pen_copies:
            wanted = round(recipe.pen_copies * len(writers) * share)
            chosen = [writers[i] for i in rng.choice(len(writers), wanted, replace=True)] if share < 1 else writers
            copies = 1 if share < 1 else recipe.pen_copies
            progress(f"Drawing {len(chosen) * copies:,} pen digits of the training writers the pad's way...")
            pen_x, pen_y = drawn.render_pen_digits(chosen, copies, seed=seed + 1)
            images.append(pen_x)
            labels.append(pen_y)
            sources["pen_digits"] = len(pen_x)
        if recipe.nonsense_share:
            count = round(recipe.nonsense_share * len(x_train))
            progress(f"Drawing {count:,} nonsense images...")
            junk = drawn.render_nonsense(count, seed=seed + 2, digits=writers)
            images.append(junk)
            labels.append(np.full(len(junk), drawn.NONSENSE, np.int64))
            sources["nonsense"] = len(junk)
        if len(x_cal):
            validation = pen_digits.load_pen_digits("validation")
            if share < 1:
                validation = [
                    validation[i] for i in rng.choice(len(validation), max(10, round(len(validation) * share)))
                ]
            val_x, val_y = drawn.render_pen_digits(validation, 1, seed=seed + 3, styles=False)
            cal_images.append(val_x)
            cal_labels.append(val_y)
            cal_sources["pen_digits"] = len(val_x)
    return TrainingSet(
        np.concatenate(images),
        np.concatenate(labels),
        sources,
        np.concatenate(cal_images),
        np.concatenate(cal_labels),
        cal_sources,
        x_val,
        y_val.astype(np.int64),
    )


def _run_record(recipe: Recipe, seed: int, subset: int | None, validation_fraction: float) -> dict[str, Any]:
    """What a checkpoint belongs to: a resume with anything else would mix two runs."""
    return {
        "recipe": json.loads(json.dumps(recipe.to_dict())),
        "seed": seed,
        "subset": subset,
        "validation_fraction": validation_fraction,
        "data_sha256": {**data.MNIST_FILES, "pen_digits": pen_digits.PEN_DIGITS_SHA256},
    }


RUN_RECORD = "digitlib-run.json"


def check_backup(backup_dir: Path, record: dict[str, Any]) -> bool:
    """Whether ``backup_dir`` holds a checkpoint of this very run (then training resumes from it).

    Raises `ValueError`, naming what differs and the folder to delete, when it holds another run's checkpoint:
    resuming would give a model whose card does not describe its weights.
    """
    if not backup_dir.exists():
        return False
    if not backup_dir.is_dir():
        raise ValueError(f"the checkpoint folder {backup_dir} is a file; delete it or choose another --backup-dir")
    path = backup_dir / RUN_RECORD
    if not path.is_file():
        if any(backup_dir.iterdir()):
            raise ValueError(
                f"{backup_dir} holds files that are not a digitlib checkpoint; delete the folder (or choose another "
                "--backup-dir) to start afresh."
            )
        return False
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        raise ValueError(f"the checkpoint record {path} is unreadable; delete {backup_dir} to start afresh.") from None
    differences = _differences(saved, record)
    if differences:
        raise ValueError(
            f"{backup_dir} holds the checkpoint of another run ({'; '.join(differences)}); resuming it with these "
            f"arguments would mix two runs. Run again with the arguments it was started with, or delete {backup_dir} "
            "to start afresh."
        )
    return True


def _differences(saved: Any, wanted: Any, where: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(wanted, dict):
        found = []
        for key in sorted(set(saved) | set(wanted)):
            found += _differences(saved.get(key), wanted.get(key), f"{where}.{key}" if where else key)
        return found
    return [] if saved == wanted else [f"{where}: {saved!r} then, {wanted!r} now"]


def train(
    recipe: str | Recipe = "digitlib",
    epochs: int | None = None,
    output: str | os.PathLike | None = None,
    seed: int = 0,
    subset: int | None = None,
    validation_fraction: float = 0.0,
    backup_dir: str | os.PathLike | None = None,
    strategy: tf.distribute.Strategy | None = None,
    verbose: int | str = "auto",
    command: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    calibrate: bool | None = None,
    progress=print,
) -> TrainResult:
    """Train a recipe and return the model, history and model card; save them when ``output`` is given.

    ``subset`` trains on the first N MNIST training images (for quick runs; pen digits and nonsense shrink in
    proportion); ``validation_fraction`` holds out a reproducible, stratified share of the MNIST images to watch
    for over-fitting (the ``val_`` curves). ``backup_dir`` keeps a checkpoint after every epoch, so that an
    interrupted run resumes from it when called again with the same arguments; it is deleted once the model is
    saved. ``calibrate`` (by default: when the recipe learns from drawings) fits the confidence calibration on
    held-out data. ``callbacks`` are extra Keras callbacks for ``fit``. The test accuracy is measured on all
    10,000 MNIST test images and recorded in the card.

    ``strategy`` is a `tf.distribute` strategy: `tf.distribute.MirroredStrategy` for the GPUs of one machine,
    `MultiWorkerStrategy` for a cluster. Each replica takes a batch of the recipe's size, so a step sees
    ``batch_size × replicas`` images, and the learning rate is multiplied by the number of replicas (the linear
    scaling rule, `make_optimizer`). On one machine every batch is split between the devices; in a cluster
    worker ``i`` of ``n`` learns from training images ``i, i + n, i + 2n...`` and shuffles and augments only
    those (the validation set is split image by image as well). Only the chief (the ``chief`` task, or worker 0
    when there is none) saves the model; the test accuracy and the calibration are computed by every worker on
    its own copy of the model, which is the same everywhere. In a cluster each task keeps its checkpoint in a
    folder of its own, ``backup_dir/worker-1`` and so on, and all of them resume from the same epoch.

    Every argument is checked before the first step (`ValueError` says what to change).
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if epochs is not None:
        recipe = replace(recipe, epochs=epochs)
    if isinstance(recipe.epochs, bool) or not isinstance(recipe.epochs, int) or recipe.epochs < 1:
        raise ValueError(f"epochs must be a whole number of at least 1, got {recipe.epochs!r}")
    check_subset(subset)
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
    distribute.check_strategy(strategy)
    chief = distribute.is_chief(strategy)
    cluster = distribute.cluster_task(strategy) is not None
    output = check_model_path(output) if output is not None else None
    if output is not None and chief:
        remove_leftovers(output.parent)  # half-written files of a save that was killed
    record = _run_record(recipe, seed, subset, validation_fraction)
    backup = None
    if backup_dir is not None:
        backup = distribute.worker_folder(Path(backup_dir), strategy)
        check_backup(backup, record)
        try:
            data.check_data_folder(backup)
        except data.DataFolderError as err:
            raise ValueError(f"cannot keep checkpoints in {backup}: {err}") from None
    calibrate = recipe.draws if calibrate is None else calibrate

    keras.utils.set_random_seed(seed)
    sets = training_set(recipe, seed, subset, validation_fraction, progress)
    x_train, y_train = sets.images, sets.labels
    one_hot = uses_one_hot(recipe)
    val_ds = None
    if len(sets.validation_labels):
        val_ds = make_dataset(sets.validation_images, sets.validation_labels, 1000, one_hot=one_hot)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    global_batch = recipe.batch_size * replicas
    if cluster:
        train_ds = distribute.worker_dataset(strategy, x_train, y_train, recipe, seed, one_hot)
    else:
        train_ds = make_dataset(
            x_train, y_train, global_batch, recipe.augment, shuffle=True, seed=seed, one_hot=one_hot
        )
    steps_per_epoch = int(np.ceil(len(x_train) / global_batch))

    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = models.build_model(recipe.architecture, **recipe.knobs)
        compile_model(model, recipe, steps_per_epoch, replicas)
    if strategy is not None:
        distribute.build_from_local_batches(model)

    # The backup callback goes first, so an epoch's checkpoint is written before any other callback can stop the
    # run; it is kept at the end of training and deleted only once the model is saved.
    extra = []
    if backup is not None:
        backup.mkdir(parents=True, exist_ok=True)
        write_atomic(backup / RUN_RECORD, (json.dumps(record, indent=2) + "\n").encode())
        # In a cluster the checkpoint before the last is kept as well, for `_agree_on_checkpoint`.
        extra = [keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=cluster, delete_checkpoint=False)]
        if cluster:
            distribute.agree_on_checkpoint(backup, strategy)
    start = time.perf_counter()
    history = model.fit(
        train_ds,
        epochs=recipe.epochs,
        validation_data=val_ds,
        callbacks=[*extra, *callbacks],
        verbose=verbose,
        shuffle=False,  # the pipeline shuffles
    )
    wall_time = time.perf_counter() - start
    (_, _), (x_test, y_test) = data.load_mnist(progress=progress)
    test_accuracy = evaluate_accuracy(model, x_test, y_test)
    card = model_card(
        model, recipe, history.history, test_accuracy, wall_time, seed, sets, command, subset, validation_fraction
    )
    if calibrate and len(sets.calibration_labels):
        raw = predict_probabilities(model, sets.calibration_images)
        fitted = calibration.calibrate(raw, sets.calibration_labels, describe_sources(sets.calibration_sources))
        card["calibration"] = fitted.to_dict()
        pen = np.flatnonzero(np.arange(len(raw)) >= sets.calibration_sources["mnist"])
        if len(pen):
            card["pen_digit_accuracy"] = round(float(np.mean(raw[pen].argmax(1) == sets.calibration_labels[pen])), 5)
            card["pen_digit_images"] = int(len(pen))
    path = None
    if output is not None and chief:
        path = save_model(model, output, card)
    if cluster:
        # Wait for the chief's save: if it fails, every worker still has its checkpoint to resume from.
        distribute.from_every_replica(strategy, 1)
    if backup is not None:
        remove_backup(backup)  # only now: the model is saved
        if cluster:
            with contextlib.suppress(OSError):  # the last task to finish removes the shared folder
                backup.parent.rmdir()
    return TrainResult(model, history.history, card, path)


def describe_sources(sources: dict[str, int]) -> str:
    """'3,000 MNIST training images + 1,461 pen digits' from a sources dict."""
    names = {"mnist": "MNIST training images", "pen_digits": "pen digits", "nonsense": "nonsense images"}
    return " + ".join(f"{count:,} {names.get(name, name)}" for name, count in sources.items() if count)


def model_card(
    model: keras.Model,
    recipe: Recipe,
    history: dict[str, list[float]],
    test_accuracy: float,
    wall_time: float,
    seed: int,
    sets: TrainingSet,
    command: str | None,
    subset: int | None = None,
    validation_fraction: float = 0.0,
) -> dict[str, Any]:
    """The JSON-serialisable facts about a trained model: how it was made and how well it does."""
    return {
        "model": model.name,
        "parameters": int(model.count_params()),
        "input": "float32 (N, 28, 28, 1) in [0, 1], white ink on black (as MNIST)",
        "output": "float32 (N, 10) class probabilities for the digits 0-9",
        "test_accuracy": round(test_accuracy, 5),
        "test_images": 10000,
        "train_images": int(len(sets.images)),
        "train_sources": dict(sets.sources),
        "epochs": recipe.epochs,  # not len(history): after a resume it has only the new epochs
        "wall_time_s": round(wall_time, 1),
        "seed": seed,
        "subset": subset,
        "validation_fraction": validation_fraction,
        "recipe": recipe.to_dict(),
        "command": command,
        "history": {k: [round(float(v), 6) for v in vs] for k, vs in history.items()},
        "data_sha256": {**data.MNIST_FILES, "unipen-digits-dev.json.gz": pen_digits.PEN_DIGITS_SHA256},
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
        "machine": f"{platform.machine()}, {platform.system()}",
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def remove_backup(backup_dir: str | os.PathLike) -> None:
    """Forget an interrupted run's checkpoint, so the next run starts from scratch."""
    shutil.rmtree(backup_dir, ignore_errors=True)
