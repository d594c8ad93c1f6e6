"""Data augmentation aimed at hand-drawn digits.

MNIST digits were written with pens on paper forms; people draw on a canvas with a mouse, a finger or a stylus,
slanted, rotated, squeezed, with thin or fat strokes. Each training batch is therefore bent by a random affine
transform (rotation, scale, aspect, shear, shift) and its strokes are made thinner or thicker, so the model holds
up beyond the MNIST test set. All of it runs as TensorFlow ops on whole batches inside the `tf.data` pipeline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import tensorflow as tf


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random changes; each is drawn uniformly per image."""

    rotation_deg: float = 12.0  # ± degrees
    scale: tuple[float, float] = (0.85, 1.12)  # overall size
    aspect: float = 0.15  # ± relative change of width against height
    shear: float = 0.25  # ± horizontal shear (slant)
    shift_px: float = 2.0  # ± pixels in x and y
    thickness_prob: float = 0.6  # share of images whose stroke width changes
    thin_share: float = 0.35  # of those, the share made thinner (the rest thicker)

    def to_dict(self) -> dict:
        return asdict(self)


def _affine_params(batch: int, cfg: AugmentConfig, size: float) -> tf.Tensor:
    """Per-image 8-parameter projective transforms (output -> input coordinates) about the image centre."""

    def uniform(low: float, high: float) -> tf.Tensor:
        return tf.random.uniform([batch], low, high)

    angle = uniform(-cfg.rotation_deg, cfg.rotation_deg) * (math.pi / 180.0)
    scale = uniform(*cfg.scale)
    aspect = uniform(-cfg.aspect, cfg.aspect)
    sx, sy = scale * (1.0 + aspect), scale * (1.0 - aspect)
    shear = uniform(-cfg.shear, cfg.shear)
    tx, ty = uniform(-cfg.shift_px, cfg.shift_px), uniform(-cfg.shift_px, cfg.shift_px)
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Forward map A = R · Sh · S (scale, then slant, then rotate); the transform op wants A⁻¹.
    a00, a01 = cos * sx, (cos * shear - sin) * sy
    a10, a11 = sin * sx, (sin * shear + cos) * sy
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    c = (size - 1.0) / 2.0
    # input = A⁻¹ (output - c - t) + c
    ox, oy = c + tx, c + ty
    b0 = c - (i00 * ox + i01 * oy)
    b1 = c - (i10 * ox + i11 * oy)
    zeros = tf.zeros([batch])
    return tf.stack([i00, i01, b0, i10, i11, b1, zeros, zeros], axis=1)


def random_affine(images: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Rotate, scale, squeeze, slant and shift each image of a (N, H, W, 1) float batch."""
    shape = tf.shape(images)
    transforms = _affine_params(shape[0], cfg, tf.cast(shape[1], tf.float32))
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=shape[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )


def random_thickness(images: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Make the strokes of some images thinner (grey erosion) or thicker (grey dilation), by a random amount."""
    batch = tf.shape(images)[0]
    thick = tf.nn.max_pool2d(images, ksize=3, strides=1, padding="SAME")
    thin = -tf.nn.max_pool2d(-images, ksize=2, strides=1, padding="SAME")
    # Erosion with an even kernel shifts the digit half a pixel; harmless after the random shift.
    pick = tf.random.uniform([batch, 1, 1, 1])
    amount = tf.random.uniform([batch, 1, 1, 1], 0.3, 1.0)
    changed = pick < cfg.thickness_prob
    thinner = pick < cfg.thickness_prob * cfg.thin_share
    target = tf.where(thinner, thin, thick)
    return tf.where(changed, images + amount * (target - images), images)


def augment_batch(images: tf.Tensor, cfg: AugmentConfig | None = None) -> tf.Tensor:
    """Apply the hand-drawn-digit augmentation to a (N, 28, 28, 1) float32 batch in [0, 1]."""
    cfg = cfg or AugmentConfig()
    images = random_affine(images, cfg)
    images = random_thickness(images, cfg)
    return tf.clip_by_value(images, 0.0, 1.0)
