"""digitlib.plots: each helper draws what it says, on the Agg backend (no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from digitlib import plots


@pytest.fixture(scope="module")
def sample(mnist) -> tuple[np.ndarray, np.ndarray]:
    (x_train, y_train), _ = mnist
    return x_train[:12], y_train[:12]


def image_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.images]


def test_show_digits_draws_one_titled_cell_per_image(sample):
    images, labels = sample
    fig = plots.plot_digits(images, labels, ncols=5)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 15  # 3 rows of 5; the 3 spare cells stay blank
    cells = image_axes(fig)
    assert len(cells) == 12
    assert [ax.get_title() for ax in cells] == [str(label) for label in labels]


def test_show_digits_marks_wrong_predictions(sample):
    images, labels = sample
    predictions = labels.copy()
    predictions[3] = (labels[3] + 1) % 10
    cells = image_axes(plots.plot_digits(images, labels, predictions))
    assert cells[3].get_title() == f"{predictions[3]} (true {labels[3]})"
    assert cells[3].title.get_color() == plots.WRONG_COLOUR
    assert cells[0].title.get_color() == plots.RIGHT_COLOUR


def test_show_digits_takes_model_input_too(sample):
    images, _ = sample
    fig = plots.plot_digits(images[:3, ..., None] / 255.0)
    assert len(image_axes(fig)) == 3


def test_class_balance_draws_one_bar_per_class(mnist):
    labels = mnist[0][1]
    fig = plots.plot_class_balance(labels)
    bars = fig.axes[0].patches
    assert len(bars) == 10
    assert [int(bar.get_height()) for bar in bars] == np.bincount(labels).tolist()


def test_class_balance_can_draw_into_given_axes():
    fig = Figure()
    ax = fig.subplots()
    assert plots.plot_class_balance(np.array([0, 1, 1]), ax=ax) is fig


def test_pixel_histogram_counts_every_pixel(sample):
    images, _ = sample
    fig = plots.plot_pixel_histogram(images, bins=16, log=False)
    bars = fig.axes[0].patches
    assert len(bars) == 16
    assert sum(bar.get_height() for bar in bars) == images.size


def test_show_ink_geometry_boxes_the_ink(sample):
    images, labels = sample
    fig = plots.plot_ink_geometry(images[:4], labels[:4])
    for ax, image, label in zip(image_axes(fig), images[:4], labels[:4], strict=True):
        rows, cols = np.nonzero(image)
        box = next(p for p in ax.patches if isinstance(p, Rectangle))
        assert (box.get_x(), box.get_y()) == (cols.min() - 0.5, rows.min() - 0.5)
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert ax.get_title() == f"{label}: {height}×{width}"


def test_geometry_histograms(sample):
    images, _ = sample
    fig = plots.plot_box_sizes(images)
    assert len(fig.axes) == 2
    assert all(sum(bar.get_height() for bar in ax.patches) == len(images) for ax in fig.axes)
    fig = plots.plot_centres_of_mass(images)
    assert len(fig.axes) == 2  # the histogram and its colour bar
