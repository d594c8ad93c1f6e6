"""Bounding boxes: one type, one order, one way to find them.

A `Box` is ``(left, top, right, bottom)``, the order of Pillow and of the browser canvas, with ``right`` and
``bottom`` exclusive: a box of pixels ``x0..x1-1`` by ``y0..y1-1`` is ``Box(x0, y0, x1, y1)``, its width
``x1 - x0``. Pixel boxes hold whole numbers; boxes of pen strokes on a canvas hold canvas pixels (floats).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np


class Box(NamedTuple):
    """An axis-aligned box ``(left, top, right, bottom)``; right and bottom are exclusive."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def longest_side(self) -> float:
        return max(self.width, self.height)

    def scaled(self, factor: float) -> Box:
        """The box with every coordinate multiplied by ``factor`` (from a downsampled image to the canvas)."""
        return Box(*(float(v * factor) for v in self))

    def shifted(self, dx: float, dy: float) -> Box:
        return Box(self.left + dx, self.top + dy, self.right + dx, self.bottom + dy)

    def gap_to(self, other: Box) -> float:
        """The horizontal gap between two boxes (negative when their x-ranges overlap)."""
        return max(other.left - self.right, self.left - other.right)

    @classmethod
    def union(cls, boxes: Iterable[Box]) -> Box:
        """The smallest box holding all of ``boxes``."""
        boxes = list(boxes)
        if not boxes:
            raise ValueError("the union of no boxes is undefined")
        return cls(
            min(b.left for b in boxes),
            min(b.top for b in boxes),
            max(b.right for b in boxes),
            max(b.bottom for b in boxes),
        )

    @classmethod
    def of_points(cls, points: np.ndarray, margin: float = 0.0) -> Box:
        """The box of (n, 2) ``(x, y)`` points, grown by ``margin`` on every side (half a pen width, say)."""
        low, high = points.min(axis=0), points.max(axis=0)
        return cls(float(low[0] - margin), float(low[1] - margin), float(high[0] + margin), float(high[1] + margin))


def mask_box(mask: np.ndarray) -> Box | None:
    """The box of the True pixels of a 2-D mask, or None when there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """The boxes of a batch of 2-D masks (N, H, W) as an int array (N, 4) of left, top, right, bottom.

    Vectorised over the batch (`mask_box` one mask at a time). Raises `ValueError` naming the masks with no True
    pixel, since they have no box.
    """
    masks = np.asarray(masks, dtype=bool)
    rows, cols = masks.any(axis=2), masks.any(axis=1)  # (N, H) and (N, W): is there ink in it?
    empty = np.flatnonzero(~rows.any(axis=1))
    if empty.size:
        shown = ", ".join(str(i) for i in empty[:10]) + (" ..." if empty.size > 10 else "")
        raise ValueError(
            f"{empty.size} image(s) have no ink above the threshold (index {shown}); a bounding box needs at "
            "least one inked pixel. Drop blank images first."
        )
    height, width = masks.shape[1:]
    top, left = rows.argmax(axis=1), cols.argmax(axis=1)
    bottom = height - rows[:, ::-1].argmax(axis=1)
    right = width - cols[:, ::-1].argmax(axis=1)
    return np.stack([left, top, right, bottom], axis=1).astype(np.int64)
