"""The evaluation and explanation figures of digitlib.plots draw what they are given (Agg backend, real data)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import numpy as np
import pytest

from digitlib import evaluation, explain, model_files, plots


def _images_on(ax):
    return [image.get_array() for image in ax.get_images()]


def test_confusion_matrix_heat_map_shows_every_count(mnist_test_slice, shipped_probabilities):
    labels = mnist_test_slice[1]
    confusion = evaluation.confusion_matrix(labels, shipped_probabilities.argmax(axis=1))
    fig = plots.plot_confusion_matrix(confusion)
    ax = fig.axes[0]
    np.testing.assert_array_equal(_images_on(ax)[0], np.maximum(confusion, 0.5))
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in ax.texts}
    assert set(texts) == {(int(r), int(c)) for r, c in zip(*np.nonzero(confusion), strict=True)}
    for (row, col), text in texts.items():
        assert text.get_text() == str(confusion[row, col])
    off_diagonal = [t for (r, c), t in texts.items() if r != c]
    assert off_diagonal, "the shipped model makes some mistakes on 1000 images"
    assert all(mcolors.same_color(t.get_color(), plots.WRONG_COLOUR) for t in off_diagonal)
    assert ax.get_xlabel() == "predicted digit" and ax.get_ylabel() == "true digit"


def test_normalised_confusion_matrix_shows_shares_of_each_row(mnist_test_slice, shipped_probabilities):
    confusion = evaluation.confusion_matrix(mnist_test_slice[1], shipped_probabilities.argmax(axis=1))
    fig = plots.plot_confusion_matrix(confusion, normalize=True)
    shares = _images_on(fig.axes[0])[0]
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert any(t.get_text().endswith("%") for t in fig.axes[0].texts)


def test_confusion_matrix_must_be_square():
    with pytest.raises(ValueError, match="square"):
        plots.plot_confusion_matrix(np.zeros((10, 9)))


def test_mistakes_gallery_titles_each_image(mnist_test_slice, shipped_probabilities):
    images, labels = mnist_test_slice
    indices = evaluation.most_confident_mistakes(labels, shipped_probabilities, count=5)
    fig = plots.plot_confident_mistakes(images, labels, shipped_probabilities, indices)
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) == len(indices)
    for ax, index in zip(shown, indices, strict=True):
        predicted = shipped_probabilities[index].argmax()
        assert ax.get_title().startswith(f"#{index}: {labels[index]} → {predicted}")
        assert f"{shipped_probabilities[index][predicted]:.0%} sure" in ax.get_title()
        np.testing.assert_array_equal(_images_on(ax)[0], images[index])
    with pytest.raises(ValueError, match="empty"):
        plots.plot_confident_mistakes(images, labels, shipped_probabilities, [])


def test_training_curves_plot_the_history():
    history = evaluation.training_history(model_files.load_card())
    fig = plots.plot_training_curves(history)
    loss_ax, accuracy_ax = fig.axes
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), history["loss"])
    np.testing.assert_allclose(accuracy_ax.lines[0].get_ydata(), history["accuracy"])
    assert list(loss_ax.lines[0].get_xdata()) == list(range(1, len(history["loss"]) + 1))


def test_training_curves_draw_validation_dashed():
    history = {"loss": [0.6, 0.4, 0.3], "val_loss": [0.5, 0.45, 0.44], "accuracy": [0.8, 0.9, 0.95]}
    fig = plots.plot_training_curves(history)
    loss_ax = fig.axes[0]
    assert [line.get_linestyle() for line in loss_ax.lines] == ["-", "--"]
    np.testing.assert_allclose(loss_ax.lines[1].get_ydata(), history["val_loss"])
    with pytest.raises(ValueError, match="no 'loss' or 'accuracy'"):
        plots.plot_training_curves({"lr": [0.1]})


def test_probability_bars_match_the_probabilities(mnist_test_slice, shipped_probabilities):
    images, labels = mnist_test_slice
    wrong = int(evaluation.most_confident_mistakes(labels, shipped_probabilities, count=1)[0])
    chosen = [0, 1, wrong]
    fig = plots.plot_probabilities(images[chosen], labels[chosen], shipped_probabilities[chosen])
    bar_axes = [ax for ax in fig.axes if ax.patches]
    assert len(bar_axes) == 3
    for ax, index in zip(bar_axes, chosen, strict=True):
        heights = [bar.get_height() for bar in ax.patches]
        np.testing.assert_allclose(heights, shipped_probabilities[index], rtol=1e-6)
    wrong_bar = bar_axes[2].patches[int(shipped_probabilities[wrong].argmax())]
    assert mcolors.same_color(wrong_bar.get_facecolor(), plots.WRONG_COLOUR)
    right_bar = bar_axes[0].patches[int(labels[0])]
    assert mcolors.same_color(right_bar.get_facecolor(), plots.RIGHT_COLOUR)
    with pytest.raises(ValueError, match="shape"):
        plots.plot_probabilities(images[:2], None, shipped_probabilities[:3])


def test_feature_maps_one_panel_per_filter(shipped, mnist_test_slice):
    image = mnist_test_slice[0][0]
    maps = explain.feature_maps(shipped, image)
    fig = plots.plot_feature_maps(maps, image, limit=12)
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert len(panels) == 13
    np.testing.assert_array_equal(_images_on(panels[0])[0], image)
    np.testing.assert_allclose(_images_on(panels[5])[0], maps[..., 4])
    with pytest.raises(ValueError, match="height, width, channels"):
        plots.plot_feature_maps(maps[..., 0])


def test_saliency_figure_shows_the_map_signed(shipped, mnist_test_slice):
    image = mnist_test_slice[0][0]
    saliency = explain.saliency_map(shipped, image)
    fig = plots.plot_saliency(image, saliency)
    image_ax, saliency_ax, overlay_ax = (ax for ax in fig.axes if ax.get_images())
    np.testing.assert_array_equal(_images_on(image_ax)[0], image)
    np.testing.assert_allclose(_images_on(saliency_ax)[0], saliency)
    low, high = saliency_ax.get_images()[0].get_clim()
    assert low == -high  # signed: white means zero
    assert len(overlay_ax.get_images()) == 2
    with pytest.raises(ValueError, match="same shape"):
        plots.plot_saliency(image, saliency[:20])


def test_receptive_field_squares_have_the_given_sizes(mnist_test_slice):
    fields = {"conv 1": 5, "conv 2": 10, "conv 3": 20}
    fig = plots.plot_receptive_fields(mnist_test_slice[0][0], fields)
    ax = fig.axes[0]
    squares = ax.patches
    assert [(p.get_width(), p.get_height()) for p in squares] == [(5, 5), (10, 10), (20, 20)]
    for square in squares:  # centred on the middle of the 28×28 field
        x, y = square.get_xy()
        assert x + square.get_width() / 2 == pytest.approx(13.5)
        assert y + square.get_height() / 2 == pytest.approx(13.5)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["conv 1: 5×5", "conv 2: 10×10", "conv 3: 20×20"]
