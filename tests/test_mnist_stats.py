"""digitlib.mnist_stats: bounding boxes and centres of mass, on drawn shapes and on MNIST itself."""

from __future__ import annotations

import numpy as np
import pytest

from digitlib import mnist_stats


def rectangle(top: int, left: int, bottom: int, right: int, value: int = 255) -> np.ndarray:
    image = np.zeros((28, 28), dtype=np.uint8)
    image[top:bottom, left:right] = value
    return image


def test_ink_bbox_of_one_image_and_of_a_batch():
    first, second = rectangle(5, 8, 15, 12), rectangle(0, 0, 28, 1)
    # left, top, right, bottom: the order of digitlib.boxes.Box
    np.testing.assert_array_equal(mnist_stats.ink_bbox(first), [8, 5, 12, 15])
    batch = np.stack([first, second])
    np.testing.assert_array_equal(mnist_stats.ink_bbox(batch), [[8, 5, 12, 15], [0, 0, 1, 28]])
    np.testing.assert_array_equal(mnist_stats.ink_bbox(batch[..., None]), mnist_stats.ink_bbox(batch))
    heights, widths = mnist_stats.bbox_sizes(batch)
    assert heights.tolist() == [10, 28] and widths.tolist() == [4, 1]


def test_the_threshold_decides_what_counts_as_ink():
    image = rectangle(5, 8, 15, 12)
    image[0, 27] = 10  # a faint speck
    np.testing.assert_array_equal(mnist_stats.ink_bbox(image), [8, 0, 28, 15])
    np.testing.assert_array_equal(mnist_stats.ink_bbox(image, threshold=20), [8, 5, 12, 15])


def test_center_of_mass_weights_pixels_by_intensity():
    np.testing.assert_allclose(mnist_stats.center_of_mass(rectangle(5, 8, 15, 12)), [9.5, 9.5])
    image = np.zeros((28, 28), dtype=np.float32)
    image[2, 0], image[2, 3] = 1.0, 3.0
    np.testing.assert_allclose(mnist_stats.center_of_mass(image), [2.0, 2.25])
    batch = np.stack([rectangle(0, 0, 2, 2), rectangle(26, 26, 28, 28)])
    np.testing.assert_allclose(mnist_stats.center_of_mass(batch), [[0.5, 0.5], [26.5, 26.5]])


@pytest.mark.parametrize("measure", [mnist_stats.ink_bbox, mnist_stats.center_of_mass])
def test_a_blank_image_is_named_in_the_error(measure):
    batch = np.stack([rectangle(5, 5, 9, 9), np.zeros((28, 28), np.uint8)])
    with pytest.raises(ValueError, match=r"1 image\(s\) have no ink.*index 1\)"):
        measure(batch)


def test_other_shapes_are_refused():
    with pytest.raises(ValueError, match="expected images shaped"):
        mnist_stats.ink_bbox(np.zeros((2, 2, 28, 28)))


def test_mnist_digits_fill_a_20_px_box_centred_by_mass(mnist):
    """The two facts of MNIST's making that the drawing pad must reproduce."""
    x_train = mnist[0][0]
    summary = mnist_stats.geometry_summary(x_train)
    assert summary.images == 60000
    assert summary.most_common_height == mnist_stats.BOX_SIZE
    assert summary.largest_side == mnist_stats.BOX_SIZE
    assert summary.share_longest_side_box > 0.99
    assert summary.share_height_box > 0.8
    np.testing.assert_allclose(summary.center_mean, (14.0, 14.0), atol=0.1)
    assert max(summary.center_std) < 0.5
    assert summary.center_max_offset < 0.6  # moved by whole pixels: centred to the nearest pixel
    text = str(summary)
    assert "most common ink height:" in text and "  20 px" in text
    assert "mean 14.00" in text
