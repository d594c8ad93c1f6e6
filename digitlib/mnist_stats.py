"""What an MNIST digit is, measured: where its ink is, how big it is and where its centre of mass lies.

MNIST's makers fitted each handwritten digit into a 20×20 box (keeping its aspect ratio, with anti-aliasing),
then placed it in the 28×28 field so that the centre of mass of its ink sits in the middle. A model trained on
MNIST has only ever seen digits made that way, so anything we show it later (a drawing on a canvas) must be
made the same way. These helpers measure both facts on any set of images, vectorised over the whole set.

Coordinates are array indices: ``(row, col)``, row 0 at the top, pixel centres at whole numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitlib.boxes import mask_boxes
from digitlib.images import image_batch

FIELD_SIZE = 28
#: MNIST fits each digit into a box of this size before centring it.
BOX_SIZE = 20


def ink_bbox(images: np.ndarray, threshold: float = 0) -> np.ndarray:
    """Bounding box of the ink (pixels above ``threshold``) of one image or of each image of a batch.

    Returns integers ``(left, top, right, bottom)`` (`digitlib.boxes.Box`'s order) with ``right`` and ``bottom``
    exclusive, so the width is ``right - left`` and the height ``bottom - top``: shape (4,) for one image, (N, 4)
    for a batch. The default threshold 0 counts even the faint anti-aliased edge of a stroke as ink, as MNIST's
    20×20 box did. Raises `ValueError` for an image without ink.
    """
    single = np.asarray(images).ndim == 2
    boxes = mask_boxes(image_batch(images) > threshold)
    return boxes[0] if single else boxes


def bbox_sizes(images: np.ndarray, threshold: float = 0) -> tuple[np.ndarray, np.ndarray]:
    """Heights and widths in pixels of the ink bounding boxes of a batch (see `ink_bbox`)."""
    boxes = ink_bbox(images, threshold).reshape(-1, 4)
    return boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]


def center_of_mass(images: np.ndarray) -> np.ndarray:
    """Centre of mass ``(row, col)`` of the ink, each pixel weighted by its intensity.

    Shape (2,) for one image, (N, 2) for a batch. Raises `ValueError` for an image without ink.
    """
    single = np.asarray(images).ndim == 2
    batch = image_batch(images)
    weights = batch.astype(np.float64)
    total = weights.sum(axis=(1, 2))
    blank = np.flatnonzero(total <= 0)
    if blank.size:
        shown = ", ".join(str(i) for i in blank[:10]) + (" ..." if blank.size > 10 else "")
        raise ValueError(
            f"{blank.size} image(s) have no ink (index {shown}); a centre of mass needs at least one inked pixel. "
            "Drop blank images first."
        )
    rows = weights.sum(axis=2) @ np.arange(batch.shape[1]) / total
    cols = weights.sum(axis=1) @ np.arange(batch.shape[2]) / total
    centres = np.stack([rows, cols], axis=1)
    return centres[0] if single else centres


@dataclass(frozen=True)
class GeometrySummary:
    """How a set of digits sits in its field: the facts the drawing pad must reproduce."""

    images: int
    most_common_height: int
    share_height_box: float  # share of digits exactly BOX_SIZE pixels tall
    share_longest_side_box: float  # share whose longer side is exactly BOX_SIZE pixels
    largest_side: int  # the longest bounding-box side in the whole set
    center_mean: tuple[float, float]  # (row, col)
    center_std: tuple[float, float]
    center_max_offset: float  # the farthest any centre lies from the middle, along a row or column

    def __str__(self) -> str:
        middle = FIELD_SIZE // 2
        lines = [
            ("images", f"{self.images:,}"),
            ("most common ink height", f"{self.most_common_height} px"),
            (f"exactly {BOX_SIZE} px tall", f"{self.share_height_box:.2%}"),
            (f"longer side exactly {BOX_SIZE} px", f"{self.share_longest_side_box:.2%}"),
            ("longest side in the set", f"{self.largest_side} px"),
            ("centre of mass, row", f"mean {self.center_mean[0]:.2f}, std {self.center_std[0]:.2f}"),
            ("centre of mass, column", f"mean {self.center_mean[1]:.2f}, std {self.center_std[1]:.2f}"),
            (f"farthest from ({middle}, {middle})", f"{self.center_max_offset:.2f} px"),
        ]
        return "\n".join(f"{label + ':':32} {value}" for label, value in lines)


def geometry_summary(images: np.ndarray, threshold: float = 0) -> GeometrySummary:
    """Measure a batch of digits: bounding-box sizes against the 20-px box, and where their centres lie."""
    heights, widths = bbox_sizes(images, threshold)
    longest = np.maximum(heights, widths)
    centres = center_of_mass(images).reshape(-1, 2)
    mean, std = centres.mean(axis=0), centres.std(axis=0)
    return GeometrySummary(
        images=len(heights),
        most_common_height=int(np.bincount(heights).argmax()),
        share_height_box=float(np.mean(heights == BOX_SIZE)),
        share_longest_side_box=float(np.mean(longest == BOX_SIZE)),
        largest_side=int(longest.max()),
        center_mean=(float(mean[0]), float(mean[1])),
        center_std=(float(std[0]), float(std[1])),
        center_max_offset=float(np.abs(centres - FIELD_SIZE // 2).max()),
    )
