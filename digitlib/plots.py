"""Small matplotlib helpers for the notebooks: digit grids, class balance, pixel and geometry statistics.

Every helper returns its matplotlib `Figure`. The figure is closed in pyplot before it is returned, so in a
notebook it is drawn exactly once, as the value of the cell (write ``display(fig)`` to show one from the middle
of a cell); elsewhere save it with ``fig.savefig("name.png")``. Images may be uint8 (0-255) or float in [0, 1],
of shape (N, 28, 28) or (N, 28, 28, 1); they are drawn as MNIST stores them, white ink on black.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from digitlib import mnist_stats
from digitlib.calibration import Reliability, sure_rates
from digitlib.images import image_batch

RIGHT_COLOUR = "tab:green"
WRONG_COLOUR = "tab:red"


def _grid(count: int, ncols: int, size: float) -> tuple[Figure, np.ndarray]:
    """A figure with one small square axes per image (spare cells of the last row left blank)."""
    ncols = max(1, min(ncols, count))
    nrows = max(1, -(-count // ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows * 1.15), squeeze=False, layout="constrained"
    )
    plt.close(fig)  # returned, not shown by pyplot: see the module docstring
    for ax in axes.flat:
        ax.set_axis_off()
    return fig, axes.flat[:count]


def _single(ax, figsize: tuple[float, float]):
    """The given axes and its figure, or a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    plt.close(fig)
    return fig, ax


def _draw_digit(ax, image: np.ndarray) -> None:
    vmax = 255 if image.dtype == np.uint8 else 1.0
    ax.imshow(image, cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")


def plot_digits(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    predictions: Sequence[int] | np.ndarray | None = None,
    ncols: int = 10,
    size: float = 1.0,
    title: str | None = None,
) -> Figure:
    """A grid of digits, each titled with its label.

    With ``predictions``, each title is the predicted digit, green when it equals the label and red (with the
    true label beside it) when it does not, so the mistakes stand out.
    """
    images = image_batch(images)
    fig, axes = _grid(len(images), ncols, size)
    for i, (ax, image) in enumerate(zip(axes, images, strict=True)):
        _draw_digit(ax, image)
        if predictions is not None:
            predicted = int(predictions[i])
            if labels is None:
                ax.set_title(f"{predicted}", fontsize=10)
            elif predicted == int(labels[i]):
                ax.set_title(f"{predicted}", fontsize=10, color=RIGHT_COLOUR)
            else:
                ax.set_title(f"{predicted} (true {int(labels[i])})", fontsize=9, color=WRONG_COLOUR)
        elif labels is not None:
            ax.set_title(f"{int(labels[i])}", fontsize=10)
    if title:
        fig.suptitle(title)
    return fig


def plot_class_balance(labels: np.ndarray, num_classes: int = 10, ax=None, title: str = "Images per digit") -> Figure:
    """A bar chart of how many examples each class has, with the count written on each bar."""
    counts = np.bincount(np.asarray(labels).ravel(), minlength=num_classes)
    fig, ax = _single(ax, (7, 3))
    bars = ax.bar(np.arange(len(counts)), counts, color="tab:blue")
    ax.bar_label(bars, fontsize=8)
    ax.set_xticks(np.arange(len(counts)))
    ax.set_xlabel("digit")
    ax.set_ylabel("images")
    ax.set_ylim(0, counts.max() * 1.15)
    ax.set_title(title)
    return fig


def plot_pixel_histogram(images: np.ndarray, bins: int = 32, ax=None, log: bool = True) -> Figure:
    """A histogram of all pixel values. The y axis is logarithmic by default: most pixels are 0 (background)."""
    values = np.asarray(images).ravel()
    top = 255 if values.dtype == np.uint8 else 1.0
    fig, ax = _single(ax, (7, 3))
    ax.hist(values, bins=bins, range=(0, top), color="tab:gray", log=log)
    ax.set_xlabel(f"pixel value (0 = black background, {top} = full ink)")
    ax.set_ylabel("pixels" + (" (log scale)" if log else ""))
    ax.set_title("Pixel values")
    return fig


def plot_ink_geometry(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    ncols: int = 8,
    size: float = 1.8,
    threshold: float = 0,
) -> Figure:
    """Digits with what MNIST did to them drawn on top.

    Each digit shows its ink bounding box (yellow, titled height × width in pixels), its centre of mass (red
    cross) and the middle of the field, row 14 and column 14 (thin blue lines): MNIST made the longer side of
    the box 20 px and moved the centre of mass onto that middle.
    """
    images = image_batch(images)
    boxes = mnist_stats.ink_bbox(images, threshold).reshape(-1, 4)
    centres = mnist_stats.center_of_mass(images).reshape(-1, 2)
    fig, axes = _grid(len(images), ncols, size)
    middle = mnist_stats.FIELD_SIZE / 2
    for i, (ax, image) in enumerate(zip(axes, images, strict=True)):
        _draw_digit(ax, image)
        left, top, right, bottom = boxes[i]
        # Pixel (r, c) covers [c - 0.5, c + 0.5] × [r - 0.5, r + 0.5] in imshow's coordinates.
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, ec="gold", lw=1.2))
        ax.axhline(middle, color="tab:blue", lw=0.6)
        ax.axvline(middle, color="tab:blue", lw=0.6)
        ax.plot(centres[i, 1], centres[i, 0], "+", color="red", ms=9, mew=2)
        prefix = f"{int(labels[i])}: " if labels is not None else ""
        ax.set_title(f"{prefix}{bottom - top}×{right - left}", fontsize=9)
    return fig


def plot_box_sizes(images: np.ndarray, threshold: float = 0) -> Figure:
    """Bar charts of the ink bounding-box heights and widths over a set, with MNIST's 20-px box marked."""
    heights, widths = mnist_stats.bbox_sizes(images, threshold)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True, layout="constrained")
    plt.close(fig)
    sizes = np.arange(mnist_stats.FIELD_SIZE + 1)
    for ax, values, name in zip(axes, (heights, widths), ("height", "width"), strict=True):
        ax.bar(sizes, np.bincount(values, minlength=len(sizes)), color="tab:blue")
        ax.axvline(mnist_stats.BOX_SIZE, color="tab:red", ls="--", lw=1, label="20-px box")
        ax.set_xlabel(f"ink {name} (px)")
        ax.set_yscale("log")
        ax.legend(loc="upper left")
    axes[0].set_ylabel("images (log scale)")
    fig.suptitle(f"Ink bounding boxes of {len(heights):,} digits")
    return fig


def plot_centres_of_mass(images: np.ndarray, half_width: float = 1.0, bins: int = 40) -> Figure:
    """A 2-D histogram of where the centres of mass of a set lie, around the middle (14, 14) of the field.

    The dashed square marks half a pixel around the middle: as far as centring by whole-pixel moves can miss.
    """
    centres = mnist_stats.center_of_mass(images).reshape(-1, 2)
    middle = mnist_stats.FIELD_SIZE / 2
    span = (middle - half_width, middle + half_width)
    fig, ax = _single(None, (4.4, 3.6))
    *_, mesh = ax.hist2d(centres[:, 1], centres[:, 0], bins=bins, range=(span, span), cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="images")
    ax.add_patch(Rectangle((middle - 0.5, middle - 0.5), 1, 1, fill=False, ec="white", ls="--", lw=1))
    ax.plot(middle, middle, "+", color="red", ms=14, mew=2)
    ax.invert_yaxis()  # row 0 at the top, as in the images
    ax.set_aspect("equal")
    ax.set_xlabel("column of the centre of mass")
    ax.set_ylabel("row")
    ax.set_title(f"Centres of mass of {len(centres):,} digits")
    return fig


# --------------------------------------------------------------------------------------------------------------
# Evaluating and explaining a model (notebooks 04-06)
# --------------------------------------------------------------------------------------------------------------


def plot_confusion_matrix(confusion: np.ndarray, normalize: bool = False, title: str | None = None) -> Figure:
    """Heat-map of a confusion matrix (rows: true digit, columns: predicted digit), counts written in the cells.

    The diagonal (correct predictions) dwarfs everything else, so the colours use a log scale unless
    ``normalize`` is set, which shows each row as shares of that digit's images instead. Mistakes are in red.
    """
    confusion = np.asarray(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"a confusion matrix is square, got shape {confusion.shape}")
    size = len(confusion)
    fig, ax = _single(None, (6.4, 5.4))
    if normalize:
        values = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
        mesh = ax.imshow(values, cmap="Blues", vmin=0, vmax=1)
        dark_from = 0.5
    else:
        values = confusion
        top = max(int(values.max()), 1)
        mesh = ax.imshow(np.maximum(values, 0.5), cmap="Blues", norm=LogNorm(vmin=0.5, vmax=top))
        dark_from = top * 0.05
    fig.colorbar(mesh, ax=ax, label="share of the true digit" if normalize else "images (log scale)")
    for row, col in zip(*np.nonzero(confusion), strict=True):
        text = f"{values[row, col]:.0%}" if normalize else f"{confusion[row, col]}"
        colour = "white" if values[row, col] > dark_from else ("black" if row == col else WRONG_COLOUR)
        ax.text(col, row, text, ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(size))
    ax.set_yticks(range(size))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title or "Confusion matrix")
    return fig


def plot_confident_mistakes(
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    indices: Sequence[int] | np.ndarray,
    ncols: int = 6,
    size: float = 1.6,
    title: str | None = None,
) -> Figure:
    """A gallery of mistakes: each image titled with its index, true → predicted digit, and the confidence.

    ``indices`` picks the images, e.g. from `digitlib.evaluation.most_confident_mistakes`.
    """
    indices = [int(i) for i in indices]
    if not indices:
        raise ValueError("no images to show: indices is empty (did the model make no mistakes?)")
    images = image_batch(images)
    fig, axes = _grid(len(indices), ncols, size)
    for ax, index in zip(axes, indices, strict=True):
        predicted = int(np.argmax(probabilities[index]))
        _draw_digit(ax, images[index])
        ax.set_title(
            f"#{index}: {int(labels[index])} → {predicted}\n{probabilities[index][predicted]:.0%} sure",
            fontsize=8,
            color=RIGHT_COLOUR if predicted == int(labels[index]) else WRONG_COLOUR,
        )
    fig.suptitle(title or "Most confident mistakes (true → predicted)")
    return fig


def plot_training_curves(history: Mapping[str, Sequence[float]], title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, side by side; ``val_`` curves, when present, are drawn dashed beside them."""
    metrics = [name for name in ("loss", "accuracy") if name in history]
    if not metrics:
        raise ValueError(f"the history has no 'loss' or 'accuracy' curve (it has {sorted(history)})")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.4), squeeze=False, layout="constrained")
    plt.close(fig)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for prefix, style, label in (("", "-", "training"), ("val_", "--", "validation")):
            values = history.get(prefix + metric)
            if values is not None:
                ax.plot(np.arange(1, len(values) + 1), values, style, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def plot_probabilities(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray | None,
    probabilities: np.ndarray,
    title: str | None = None,
) -> Figure:
    """Each image above a bar chart of its 10 class probabilities; the predicted digit's bar is coloured.

    With ``labels`` (None when unknown), that bar is green when the prediction is right and red when it is wrong.
    """
    images, probabilities = image_batch(images), np.asarray(probabilities)
    count = len(images)
    if count == 0 or probabilities.shape != (count, 10):
        raise ValueError(f"need probabilities of shape ({count}, 10) for {count} images, got {probabilities.shape}")
    fig, axes = plt.subplots(
        2, count, figsize=(1.7 * count, 3.4), squeeze=False, height_ratios=[1, 0.8], layout="constrained"
    )
    plt.close(fig)
    for column in range(count):
        predicted = int(np.argmax(probabilities[column]))
        right = labels is None or predicted == int(labels[column])
        colour = RIGHT_COLOUR if right else WRONG_COLOUR
        image_ax, bar_ax = axes[0, column], axes[1, column]
        _draw_digit(image_ax, images[column])
        image_ax.set_axis_off()
        heading = f"reads {predicted}" if labels is None else f"true {int(labels[column])}, reads {predicted}"
        image_ax.set_title(heading, fontsize=8, color=colour)
        bar_colours = ["lightgray"] * 10
        bar_colours[predicted] = colour
        bar_ax.bar(range(10), probabilities[column], color=bar_colours)
        bar_ax.set_ylim(0, 1)
        bar_ax.set_xticks(range(10))
        bar_ax.tick_params(labelsize=7)
        if column:
            bar_ax.set_yticklabels([])
    axes[1, 0].set_ylabel("probability")
    if title:
        fig.suptitle(title)
    return fig


def plot_feature_maps(
    maps: np.ndarray,
    image: np.ndarray | None = None,
    ncols: int = 8,
    limit: int = 32,
    size: float = 1.2,
    title: str | None = None,
    cmap: str = "viridis",
) -> Figure:
    """Feature maps (height, width, channels) of one image, one small panel per channel, the image first.

    Each panel has its own colour scale (bright = strong response), since the channels' ranges differ a lot.
    The same works for a convolution's filters: pass its kernel's (height, width, filters) weights.
    """
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"feature maps must have shape (height, width, channels), got {maps.shape}")
    channels = min(maps.shape[-1], limit)
    fig, axes = _grid(channels + (image is not None), ncols, size)
    axes = list(axes)
    if image is not None:
        _draw_digit(axes[0], image_batch(image)[0])
        axes[0].set_title("input", fontsize=8)
        axes = axes[1:]
    for channel, ax in enumerate(axes):
        ax.imshow(maps[..., channel], cmap=cmap, interpolation="nearest")
        ax.set_title(f"filter {channel}", fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def plot_saliency(image: np.ndarray, saliency: np.ndarray, title: str | None = None) -> Figure:
    """Three panels: the image, its saliency map, and the saliency laid over the image.

    Signed maps (as `digitlib.explain.saliency_map` returns) are red where the value is positive (more ink
    there raises the digit's score) and blue where negative; the overlay fades out where the saliency is weak.
    """
    image, saliency = image_batch(image)[0], np.asarray(saliency, dtype=np.float32)
    if image.shape != saliency.shape:
        raise ValueError(f"image {image.shape} and saliency {saliency.shape} must have the same shape")
    peak = float(np.abs(saliency).max()) or 1.0
    cmap, low = ("RdBu_r", -peak) if (saliency < 0).any() else ("hot", 0.0)
    fig, axes = plt.subplots(1, 3, figsize=(7.8, 2.8), layout="constrained")
    plt.close(fig)
    _draw_digit(axes[0], image)
    axes[0].set_title("image")
    heat = axes[1].imshow(saliency, cmap=cmap, vmin=low, vmax=peak, interpolation="nearest")
    axes[1].set_title("saliency")
    fig.colorbar(heat, ax=axes[1], fraction=0.046)
    _draw_digit(axes[2], image)
    strength = np.clip(np.abs(saliency) / peak * 1.5, 0, 1)
    axes[2].imshow(saliency, cmap=cmap, vmin=low, vmax=peak, alpha=strength, interpolation="nearest")
    axes[2].set_title("overlay")
    for ax in axes:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig


def plot_receptive_fields(image: np.ndarray, fields: Mapping[str, int], title: str | None = None) -> Figure:
    """One digit with nested squares centred on it: how much of the image one value of each layer can see.

    ``fields`` maps a label to a receptive-field size in pixels (e.g. `digitlib.explain.receptive_fields`).
    """
    image = image_batch(image)[0]
    fig, ax = _single(None, (4.2, 4.8))
    _draw_digit(ax, image)
    colours = plt.get_cmap("autumn")(np.linspace(0, 0.8, max(len(fields), 1)))
    middle = (image.shape[0] - 1) / 2  # pixel centres run from 0 to 27
    for (label, size), colour in zip(fields.items(), colours, strict=False):
        corner = middle - size / 2
        square = Rectangle((corner, corner), size, size, fill=False, ec=colour, lw=2, label=f"{label}: {size}×{size}")
        ax.add_patch(square)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=8, frameon=False)
    ax.set_axis_off()
    ax.set_title(title or "What one value of each layer sees")
    return fig


# --------------------------------------------------------------------------------------------------------------
# Confidence (notebook 09)
# --------------------------------------------------------------------------------------------------------------


def plot_reliability(diagrams: Mapping[str, Reliability], title: str | None = None) -> Figure:
    """Reliability diagrams side by side, one per entry of ``diagrams`` (a name -> `calibration.reliability`).

    For each bin of the top probability, the bar is how often those predictions were right; the diagonal is where
    a calibrated model's bars end (90% sure, right 90% of the time). Bars below it: overconfident; above it:
    underconfident. The title of each panel gives the expected calibration error (ECE) and the count per bin is
    written on the bars.
    """
    if not diagrams:
        raise ValueError("give at least one reliability diagram, e.g. {'before': reliability(p, labels)}")
    fig, axes = plt.subplots(1, len(diagrams), figsize=(4.2 * len(diagrams), 3.8), squeeze=False, layout="constrained")
    plt.close(fig)
    for ax, (name, diagram) in zip(axes[0], diagrams.items(), strict=True):
        centres = (diagram.edges[:-1] + diagram.edges[1:]) / 2
        width = float(diagram.edges[1] - diagram.edges[0]) * 0.9
        used = diagram.counts > 0
        bars = ax.bar(centres[used], diagram.accuracy[used], width=width, color="tab:blue", alpha=0.8, label="right")
        ax.bar_label(bars, labels=[f"{n:,}" for n in diagram.counts[used]], fontsize=7, rotation=90, padding=2)
        ax.plot([0, 1], [0, 1], "--", color="gray", lw=1, label="calibrated")
        ax.plot(diagram.confidence[used], diagram.accuracy[used], "o", color="tab:red", ms=3, label="mean confidence")
        ax.set(xlim=(0, 1), ylim=(0, 1.12), xlabel="top probability", ylabel="share right")
        ax.set_title(f"{name}: ECE {diagram.expected_calibration_error:.2%}", fontsize=10)
        ax.legend(loc="lower right", fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def plot_threshold_tradeoff(
    labels: np.ndarray, probabilities: np.ndarray, chosen: float | None = None, title: str | None = None
) -> Figure:
    """What a "not sure" threshold costs and saves: as it rises, more digits are shown as "not sure" (cost) and
    fewer wrong ones are shown as sure (saved). ``chosen`` marks a threshold (e.g. the model card's)."""
    thresholds = np.linspace(0.3, 0.995, 140)
    rates = np.array([sure_rates(probabilities, labels, t) for t in thresholds])
    fig, ax = _single(None, (6.4, 3.6))
    ax.plot(thresholds, rates[:, 0], color="tab:orange", label='shown as "not sure"')
    ax.plot(thresholds, rates[:, 1], color="tab:red", label="wrong but shown as sure")
    if chosen is not None:
        unsure, sure_wrong = sure_rates(probabilities, labels, chosen)
        ax.axvline(chosen, color="gray", ls="--", lw=1)
        label = f"{chosen:.3g}: {unsure:.1%} not sure, {sure_wrong:.2%} sure but wrong"
        where = (chosen, max(unsure, sure_wrong))
        ax.annotate(label, where, xytext=(-10, 20), textcoords="offset points", ha="right", fontsize=8)
    ax.set(yscale="log", xlabel='threshold (top probability below it: "not sure")')
    ax.set_ylabel("share of all digits (log scale)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or 'The "not sure" threshold: what it costs and saves')
    return fig
