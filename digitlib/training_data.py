"""What a training run learns from and is calibrated on, and the `tf.data` pipeline that feeds it.

`training_set` gathers MNIST (the first ``subset`` images, split by `mnist_split`), the *train* writers' pen digits
drawn the pad's way (`digitlib.pen_augment`) and nonsense (`digitlib.nonsense`); the calibration set holds MNIST
images the run never learns from and the *tune* writers' pen digits (`digitlib.pen_digits`). `make_dataset` feeds
any of it to ``fit`` as batches of float32 (N, 28, 28, 1), augmented on the way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitlib import data, pen_digits
from digitlib._tf import tf
from digitlib.augment import AugmentConfig, augment_batch
from digitlib.images import NUM_CLASSES, scale_pixels
from digitlib.nonsense import NONSENSE, render_nonsense
from digitlib.pen_augment import render_pen_digits
from digitlib.recipes import Recipe

#: MNIST's training set has this many images; ``subset`` picks the first N of them.
MNIST_TRAIN_IMAGES = 60_000


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

    Labels are digits, or `digitlib.nonsense.NONSENSE` for an image that is no digit, whose target (one-hot
    encoded) gives every digit the same probability. Feeding `fit()` an explicit pipeline avoids the stalls seen
    at epoch boundaries with numpy arrays.
    """
    ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def prepare(x, y):
        x = scale_pixels(x)[..., None]
        if augment is not None:
            x = augment_batch(x, augment, labels=y)
        if not one_hot:
            return x, y
        # tf.one_hot gives all zeros for the nonsense label: make it the uniform distribution.
        target = tf.one_hot(y, NUM_CLASSES)
        uniform = tf.fill(tf.shape(target), 1.0 / NUM_CLASSES)
        return x, tf.where(tf.equal(y, NONSENSE)[:, None], uniform, target)

    # Fixed parallelism instead of AUTOTUNE: tearing down an autotuned iterator at the end of an epoch stalled
    # training for many seconds at a time on 2-core machines, and two workers are plenty for this pipeline.
    options = tf.data.Options()
    options.autotune.enabled = False
    options.deterministic = True
    # When a multi-worker strategy splits this pipeline itself (the validation set; `train` shards the training set
    # before augmenting it), it must split by element: the data is in memory, there are no files to share out.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.map(prepare, num_parallel_calls=2).prefetch(2).with_options(options)


@dataclass
class TrainingSet:
    """What a run learns from and is calibrated on, as uint8 images (N, 28, 28) and labels (N,).

    Labels are digits, or `digitlib.nonsense.NONSENSE` for nonsense images. The calibration set holds MNIST
    training images the run never learns from and the tune writers' pen digits.
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
    proportion for a subset), each (images, labels). The split is seeded, so `digitlib.replay` finds the very
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
    train writers' pen digits drawn the pad's way and nonsense, in proportion to the MNIST images used.

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
            pen_x, pen_y = render_pen_digits(chosen, copies, seed=seed + 1, augment=recipe.pen_augment)
            images.append(pen_x)
            labels.append(pen_y)
            sources["pen_digits"] = len(pen_x)
        if recipe.nonsense_share:
            count = round(recipe.nonsense_share * len(x_train))
            progress(f"Drawing {count:,} nonsense images...")
            junk = render_nonsense(count, seed=seed + 2, digits=writers)
            images.append(junk)
            labels.append(np.full(len(junk), NONSENSE, np.int64))
            sources["nonsense"] = len(junk)
        if len(x_cal):
            tune = pen_digits.load_pen_digits("tune")
            if share < 1:
                tune = [tune[i] for i in rng.choice(len(tune), max(10, round(len(tune) * share)))]
            val_x, val_y = render_pen_digits(tune, 1, seed=seed + 3, styles=False)
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


def describe_sources(sources: dict[str, int]) -> str:
    """'3,000 MNIST training images + 1,461 pen digits' from a sources dict."""
    names = {"mnist": "MNIST training images", "pen_digits": "pen digits", "nonsense": "nonsense images"}
    return " + ".join(f"{count:,} {names.get(name, name)}" for name, count in sources.items() if count)
