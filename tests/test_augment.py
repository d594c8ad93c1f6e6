"""digitlib.augment: what the random changes do to real MNIST digits."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from digitlib import mnist_stats
from digitlib.augment import AugmentConfig, augment_batch, handwriting_styles, random_affine, random_thickness

NO_CHANGE = AugmentConfig(rotation_deg=0.0, scale=(1.0, 1.0), aspect=0.0, shear=0.0, shift_px=0.0, thickness_prob=0.0)


@pytest.fixture(scope="module")
def digits(mnist) -> tf.Tensor:
    """64 real training digits as the (N, 28, 28, 1) float32 batch in [0, 1] that the pipeline feeds."""
    x_train = mnist[0][0]
    return tf.constant(x_train[:64, ..., None].astype(np.float32) / 255.0)


@pytest.fixture(autouse=True)
def seeded():
    tf.random.set_seed(0)


def ink(batch: tf.Tensor) -> np.ndarray:
    return batch.numpy().sum(axis=(1, 2, 3))


def test_augment_keeps_shape_dtype_and_range_and_changes_every_image(digits):
    out = augment_batch(digits)
    assert out.shape == digits.shape and out.dtype == tf.float32
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 1.0
    change = np.abs(out.numpy() - digits.numpy()).max(axis=(1, 2, 3))
    assert change.min() > 0.1
    again = augment_batch(digits)
    assert not np.allclose(again.numpy(), out.numpy())  # a new random draw each batch


def test_augment_works_inside_a_graph(digits):
    graph_augment = tf.function(augment_batch)
    assert graph_augment(digits).shape == digits.shape


def test_affine_with_every_range_zero_is_the_identity(digits):
    np.testing.assert_allclose(random_affine(digits, NO_CHANGE).numpy(), digits.numpy(), atol=1e-5)
    np.testing.assert_allclose(augment_batch(digits, NO_CHANGE).numpy(), digits.numpy(), atol=1e-5)


def test_halving_the_scale_halves_the_digits(digits):
    half = replace(NO_CHANGE, scale=(0.5, 0.5))
    before = np.maximum(*mnist_stats.bbox_sizes(digits.numpy()))
    after = np.maximum(*mnist_stats.bbox_sizes(random_affine(digits, half).numpy()))
    np.testing.assert_allclose(after, before / 2, atol=2)  # 20 px becomes 10 px, give or take an edge


def test_a_shift_moves_the_centre_of_mass_by_at_most_the_shift(digits):
    shift = replace(NO_CHANGE, shift_px=3.0)
    moved = mnist_stats.center_of_mass(random_affine(digits, shift).numpy())
    distance = np.abs(moved - mnist_stats.center_of_mass(digits.numpy()))
    assert distance.max() <= 3.0 + 0.2  # a little slack: bilinear sampling and ink cut at the border
    assert distance.max() > 1.0


def test_rotation_keeps_the_ink_and_its_centre(digits):
    rotate = replace(NO_CHANGE, rotation_deg=12.0)
    rotated = random_affine(digits, rotate)
    np.testing.assert_allclose(ink(rotated), ink(digits), rtol=0.1)
    centres = mnist_stats.center_of_mass(rotated.numpy())
    assert np.abs(centres - mnist_stats.center_of_mass(digits.numpy())).max() < 1.5


@pytest.mark.parametrize(("thin_share", "direction"), [(0.0, 1), (1.0, -1)])
def test_thickness_adds_or_removes_ink_as_configured(digits, thin_share, direction):
    cfg = AugmentConfig(thickness_prob=1.0, thin_share=thin_share)
    changed = ink(random_thickness(digits, cfg)) - ink(digits)
    assert np.all(direction * changed > 0)


def test_thickness_probability_zero_changes_nothing(digits):
    cfg = AugmentConfig(thickness_prob=0.0)
    np.testing.assert_array_equal(random_thickness(digits, cfg).numpy(), digits.numpy())


def test_handwriting_styles_mark_only_zeros_ones_and_sevens(mnist):
    (x_train, y_train), _ = mnist
    idx = np.concatenate([np.flatnonzero(y_train == d)[:6] for d in range(10)])
    images = tf.constant(x_train[idx, ..., None].astype(np.float32) / 255.0)
    labels = y_train[idx]
    out = handwriting_styles(images, tf.constant(labels), replace(AugmentConfig(), style_prob=1.0)).numpy()
    added = (out - images.numpy()).sum(axis=(1, 2, 3))
    styled = np.isin(labels, (0, 1, 7))
    assert np.all(added[~styled] == 0)  # other digits are untouched
    assert np.all(added[styled] > 3.0)  # a stroke of a few pixels was drawn
    assert out.max() <= 1.0


def test_slash_crosses_the_middle_of_a_zero(mnist):
    (x_train, y_train), _ = mnist
    zeros = x_train[y_train == 0][:20, ..., None].astype(np.float32) / 255.0
    out = handwriting_styles(tf.constant(zeros), tf.zeros(20, tf.int32), replace(AugmentConfig(), style_prob=1.0))
    # A zero's centre is empty; the slash puts ink there.
    centre = lambda batch: np.asarray(batch)[:, 13:15, 13:15, 0].max(axis=(1, 2))  # noqa: E731
    assert np.mean(centre(zeros) > 0.5) < 0.5
    assert np.mean(centre(out) > 0.5) >= 0.9
