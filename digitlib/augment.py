"""Data augmentation aimed at hand-drawn digits.

MNIST digits were written with pens on paper forms; people draw on a canvas with a mouse, a finger or a stylus,
slanted, rotated, squeezed, with thin or fat strokes. Each training batch is therefore bent by a random affine
transform (rotation, scale, aspect, shear, shift) and its strokes are made thinner or thicker, so the model holds
up beyond the MNIST test set. All of it runs as TensorFlow ops on whole batches inside the `tf.data` pipeline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from digitlib._tf import tf


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
    style_prob: float = 0.25  # share of 0s, 1s and 7s given a style MNIST lacks (Ø, a flagged 1, a crossed 7)

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


def draw_segments(images: tf.Tensor, start: tf.Tensor, end: tf.Tensor, width: tf.Tensor, where: tf.Tensor) -> tf.Tensor:
    """Draw one anti-aliased straight stroke per image, from ``start`` to ``end`` ((N, 2) as x, y), where ``where``."""
    size = tf.shape(images)[1]
    grid = tf.cast(tf.range(size), tf.float32)
    py, px = grid[None, :, None], grid[None, None, :]
    x0, y0 = start[:, 0, None, None], start[:, 1, None, None]
    dx, dy = end[:, 0, None, None] - x0, end[:, 1, None, None] - y0
    t = tf.clip_by_value(((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy + 1e-6), 0.0, 1.0)
    distance = tf.sqrt((px - x0 - t * dx) ** 2 + (py - y0 - t * dy) ** 2)
    ink = tf.clip_by_value(width[:, None, None] / 2 + 0.5 - distance, 0.0, 1.0)
    ink = ink * tf.cast(where, tf.float32)[:, None, None]
    return tf.maximum(images, ink[..., None])


def _ink_x_in_row(images: tf.Tensor, rows: tf.Tensor) -> tf.Tensor:
    """The mean x of the ink in one row per image (rows: (N,) int)."""
    line = tf.gather(images[..., 0], rows, axis=1, batch_dims=1)  # (N, W)
    xs = tf.cast(tf.range(tf.shape(line)[1]), tf.float32)
    return tf.reduce_sum(line * xs, axis=1) / (tf.reduce_sum(line, axis=1) + 1e-6)


def handwriting_styles(images: tf.Tensor, labels: tf.Tensor, cfg: AugmentConfig) -> tf.Tensor:
    """Give some 0s a slash (Ø), some 1s a flag and some 7s a cross bar: common styles that MNIST lacks.

    MNIST was written by American Census employees and students; many people elsewhere slash their zeros,
    start their ones with a long up-stroke and cross their sevens, and a model that never saw these reads a
    slashed zero as an 8 and a flagged one as a 7.
    """
    batch = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1], tf.float32)

    def uniform(low: float, high: float) -> tf.Tensor:
        return tf.random.uniform([batch], low, high)

    inked_rows = tf.reduce_max(images[..., 0], axis=2) > 0.3  # (N, H)
    inked_cols = tf.reduce_max(images[..., 0], axis=1) > 0.3  # (N, W)
    top = tf.cast(tf.argmax(tf.cast(inked_rows, tf.int32), axis=1), tf.float32)
    bottom = size - 1 - tf.cast(tf.argmax(tf.cast(inked_rows[:, ::-1], tf.int32), axis=1), tf.float32)
    left = tf.cast(tf.argmax(tf.cast(inked_cols, tf.int32), axis=1), tf.float32)
    right = size - 1 - tf.cast(tf.argmax(tf.cast(inked_cols[:, ::-1], tf.int32), axis=1), tf.float32)
    width = uniform(1.5, 2.6)
    chosen = tf.random.uniform([batch]) < cfg.style_prob
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])

    # Ø: a slash from below-left to above-right, through the oval.
    start = tf.stack([left - 1 + uniform(0, 3), bottom + 1 - uniform(0, 3)], axis=1)
    end = tf.stack([right + 1 - uniform(0, 3), top - 1 + uniform(0, 3)], axis=1)
    images = draw_segments(images, start, end, width, chosen & tf.equal(labels, 0))

    # A flagged 1: a short stroke down and to the left from the top of the stem.
    stem_top = _ink_x_in_row(images, tf.cast(top, tf.int32) + 1)
    start = tf.stack([stem_top, top], axis=1)
    end = tf.stack([stem_top - uniform(3, 6), top + uniform(2, 5)], axis=1)
    images = draw_segments(images, start, end, width, chosen & tf.equal(labels, 1))

    # A crossed 7: a short bar across the stem, about half-way down.
    middle = tf.round((top + bottom) / 2 + uniform(-1.5, 1.5))
    stem_mid = _ink_x_in_row(images, tf.cast(middle, tf.int32))
    half = uniform(2.5, 4.5)
    tilt = uniform(-1, 1)
    start = tf.stack([stem_mid - half, middle + tilt], axis=1)
    end = tf.stack([stem_mid + half, middle - tilt], axis=1)
    return draw_segments(images, start, end, width, chosen & tf.equal(labels, 7))


def augment_batch(images: tf.Tensor, cfg: AugmentConfig | None = None, labels: tf.Tensor | None = None) -> tf.Tensor:
    """Apply the hand-drawn-digit augmentation to a (N, 28, 28, 1) float32 batch in [0, 1].

    With ``labels`` (digits, shape (N,)), some 0s, 1s and 7s also get the styles of `handwriting_styles`.
    """
    cfg = cfg or AugmentConfig()
    if labels is not None and cfg.style_prob > 0:
        images = handwriting_styles(images, labels, cfg)
    images = random_affine(images, cfg)
    images = random_thickness(images, cfg)
    return tf.clip_by_value(images, 0.0, 1.0)
