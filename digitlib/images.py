"""The MNIST image format, in one place: its sizes, and one way in and out for one image or a batch.

digitlib's models take float32 batches (N, 28, 28, 1) in [0, 1], white ink on black, as MNIST is stored, and
return `NUM_CLASSES` probabilities. People have one image or a batch, uint8 (0-255, MNIST's files) or float in
[0, 1], with or without the channel: `image_batch` turns any of these into (N, H, W), `to_model_input` into what a
model takes (and `scale_pixels` does the same inside a `tf.data` pipeline), and `to_uint8` turns [0, 1] floats
back into MNIST's bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: MNIST's images are this many pixels a side ...
MNIST_SIZE = 28
#: ... and each digit was fitted into a box of this size before it was centred by mass in the field.
BOX_SIZE = 20
#: What a digit model takes, and how many classes it tells apart.
INPUT_SHAPE = (MNIST_SIZE, MNIST_SIZE, 1)
NUM_CLASSES = 10
#: The value MNIST's bytes give full ink.
PIXEL_MAX = 255


def image_batch(images: np.ndarray, size: int | None = None) -> np.ndarray:
    """One image (H, W) or a batch (N, H, W) or (N, H, W, 1) as a batch (N, H, W), values unchanged.

    With ``size``, the images must be ``size`` × ``size``. Raises `ValueError` saying what is expected.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or (size is not None and images.shape[1:] != (size, size)):
        side = f"{size}×{size} " if size is not None else ""
        raise ValueError(
            f"expected {side}images shaped (H, W), (N, H, W) or (N, H, W, 1), got {images.shape}"
            + ("; turn drawings into MNIST-like images with digitlib.preprocess first." if size else "")
        )
    return images


def to_model_input(images: np.ndarray) -> np.ndarray:
    """Images as the float32 (N, 28, 28, 1) in [0, 1] that digitlib's models take.

    Accepts one image (28, 28) or a batch (N, 28, 28) or (N, 28, 28, 1), either uint8 in 0-255 (MNIST's) or
    floats in [0, 1]. Raises `ValueError` for NaN or infinite values, and for floats outside [0, 1] (0-255
    values must be divided by 255 or passed as uint8: read as they are, they look like solid ink).
    """
    batch = image_batch(images, MNIST_SIZE)
    if batch.dtype == np.uint8:
        return scale_pixels(batch)[..., None]
    if not np.issubdtype(batch.dtype, np.floating) and batch.dtype != np.bool_:
        raise ValueError(f"expected uint8 (0-255) or float (0-1) images, got dtype {batch.dtype}")
    batch = batch.astype(np.float32)
    if batch.size and not np.isfinite(batch).all():
        raise ValueError("the images contain NaN or infinite values")
    if batch.size and (batch.min() < -1e-3 or batch.max() > 1 + 1e-3):
        raise ValueError(
            f"float images must be in [0, 1]; these are in [{batch.min():g}, {batch.max():g}] "
            "(divide 0-255 values by 255, or pass them as uint8)"
        )
    return batch[..., None]


def scale_pixels(pixels: Any) -> Any:
    """MNIST's bytes (0-255) as float32 in [0, 1]: a numpy array, or a tensor inside a `tf.data` pipeline."""
    if isinstance(pixels, np.ndarray):
        return pixels.astype(np.float32) / np.float32(PIXEL_MAX)  # exactly the notebooks' `/ 255.0`
    from digitlib._tf import tf

    return tf.cast(pixels, tf.float32) / PIXEL_MAX


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] as MNIST's bytes (0-255), rounded; values outside [0, 1] are clipped."""
    return np.round(np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0) * PIXEL_MAX).astype(np.uint8)
