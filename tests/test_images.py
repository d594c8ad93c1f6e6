"""digitlib.images: one image or a batch, uint8 or float, to what the models and plots take."""

from __future__ import annotations

import numpy as np
import pytest

from digitlib.images import image_batch, to_model_input


def test_to_model_input_scales_uint8_and_adds_a_channel():
    images = np.zeros((1, 28, 28), dtype=np.uint8)
    images[0, :2, :2] = [[0, 255], [51, 102]]
    model_input = to_model_input(images)
    assert model_input.shape == (1, 28, 28, 1) and model_input.dtype == np.float32
    np.testing.assert_allclose(model_input[0, :2, :2, 0], [[0.0, 1.0], [0.2, 0.4]])
    np.testing.assert_array_equal(model_input[..., 0], images.astype(np.float32) / 255.0)  # exactly as by hand
    assert to_model_input(images[0]).shape == (1, 28, 28, 1)  # one image becomes a batch of one
    assert to_model_input(model_input).shape == (1, 28, 28, 1)  # already model input: kept
    floats = np.full((2, 28, 28), 0.5, dtype=np.float64)
    np.testing.assert_array_equal(to_model_input(floats), 0.5)  # already in [0, 1]: kept


def test_to_model_input_rejects_other_shapes():
    with pytest.raises(ValueError, match="28×28"):
        to_model_input(np.zeros((2, 28, 28, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="28×28"):
        to_model_input(np.zeros((32, 32), dtype=np.uint8))


def test_image_batch_keeps_values_and_any_size():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(image_batch(image), image[None])
    np.testing.assert_array_equal(image_batch(image[None, ..., None]), image[None])
    with pytest.raises(ValueError, match="expected images shaped"):
        image_batch(np.zeros((2, 2, 2, 2)))
