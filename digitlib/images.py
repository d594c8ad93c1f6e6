"""Image arrays as the models, the plots and the statistics take them: one way in for one image or a batch.

digitlib's models take float32 batches (N, 28, 28, 1) in [0, 1], white ink on black, as MNIST is stored. People
have one image or a batch, uint8 (0-255, MNIST's files) or float already in [0, 1], with or without the channel.
`image_batch` turns any of these into (N, H, W) and `to_model_input` into what a model takes.
"""

from __future__ import annotations

import numpy as np

MNIST_SIZE = 28


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
    floats already scaled to [0, 1].
    """
    batch = image_batch(images, MNIST_SIZE)
    scale = np.float32(255) if batch.dtype == np.uint8 else np.float32(1)
    return (batch.astype(np.float32) / scale)[..., None]
