"""A drawing: pen strokes on a canvas, drawn with one pen. The one value every reader, the pad and the store take.

    >>> from digitlib.drawing import Drawing
    >>> drawing = Drawing([[(90, 60), (190, 60), (120, 220)]], canvas=280, pen=20)   # a 7
    >>> drawing.canvas, drawing.pen, len(drawing.strokes)
    ((280, 280), 20.0, 1)

A `Drawing` is validated once, where it enters digitlib (the pad, the API, the drawings file), and taken as it is
everywhere downstream. This module owns the rules for what a drawing may be:

- **points** are ``(x, y)`` canvas pixels, x to the right and y downward, as on a screen; a **canvas** is
  ``(width, height)``, the order of ipycanvas and Pillow, each side within `CANVAS_SIDES`;
- the **pen** is its diameter in canvas pixels, within `PEN_WIDTHS` (the pad's slider offers `PAD_PEN_WIDTHS`);
- at most `MAX_STROKES` strokes and `MAX_POINTS` points: beyond that no hand drew it, and reading it would cost
  more than any drawing should (`DrawingError` says so).

`Drawing.on_canvas` is what the canvas shows of it, as the readers read it: cut to the canvas, accidental taps
dropped, and long strokes resampled so a reading's cost follows the drawing, not the number of points sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.spatial import cKDTree

Point = tuple[float, float]
Stroke = Sequence[Point]
Strokes = Sequence[Stroke]

#: Canvas and image sides, px, for drawings and canvas images alike (the pad's default is 280).
CANVAS_SIDES = (8, 8192)
#: Pen diameters, px: finer than a pixel is no mark, and wider than the largest canvas covers it all.
PEN_WIDTHS = (0.5, 8192.0)
#: The pen widths the pad's slider offers (and training draws with, on a 280-px canvas).
PAD_PEN_WIDTHS = (6.0, 40.0)
#: Coordinates further than this from the origin are refused: arithmetic on such numbers overflows.
MAX_COORDINATE = 1e6
#: More strokes or points than any hand draws on one canvas; past these a drawing is refused.
MAX_STROKES = 500
MAX_POINTS = 1_000_000
#: A mark whose ink is under this share of the canvas's longest side is an accidental tap (the pixel path drops
#: such specks too).
SPECK_FRACTION = 0.02
#: Ink less than this many pen widths across is a dot or a blob, not a digit (a 1 is several pen widths tall).
DOT_EXTENT = 2.0
#: A stroke with points much denser than this many pen widths apart is thinned for reading (finer adds nothing at
#: 28×28) ...
RESAMPLE_PENS = 0.25
#: ... or than this share of the drawing's longest side ...
RESAMPLE_SHARE = 1 / 2000
#: ... where it has more than this many times the points that spacing needs.
RESAMPLE_SLACK = 4


class DrawingError(ValueError):
    """Strokes, a canvas or a pen that make no drawing; the message says what to change."""


def canvas_size(canvas: object) -> tuple[int, int]:
    """A canvas given as one int (a square) or ``(width, height)``, checked, as ``(width, height)``."""
    low, high = CANVAS_SIDES
    try:
        if isinstance(canvas, bool | str | bytes):
            raise TypeError
        square = isinstance(canvas, int | np.integer | float | np.floating)
        sides = (canvas, canvas) if square else tuple(canvas)  # type: ignore[arg-type]
        if len(sides) != 2 or any(isinstance(v, bool) or not float(v).is_integer() for v in sides):
            raise TypeError
        width, height = (int(v) for v in sides)
    except (TypeError, ValueError, OverflowError):
        raise DrawingError(
            f"canvas must be a whole number of pixels (a square) or a (width, height) pair; got {canvas!r:.60}"
        ) from None
    if not (low <= width <= high and low <= height <= high):
        raise DrawingError(
            f"canvas must be {low} to {high} px a side (280 suits one digit, (420, 200) a number); "
            f"got width={width}, height={height}"
        )
    return width, height


def pen_width(pen: object) -> float:
    """A pen width in canvas pixels, checked (`PEN_WIDTHS`)."""
    low, high = PEN_WIDTHS
    if isinstance(pen, bool) or not isinstance(pen, int | float | np.integer | np.floating) or not np.isfinite(pen):
        raise DrawingError(f"pen must be a number of pixels, the pen's diameter; got {pen!r:.60}")
    if not low <= pen <= high:
        raise DrawingError(f"pen must be {low:g} to {high:g} px wide, got {pen!r}")
    return float(pen)


def _points(stroke: object, index: int) -> np.ndarray:
    if isinstance(stroke, str | bytes | dict):
        raise DrawingError(f"stroke {index} must be a list of (x, y) number pairs, got {stroke!r:.60}")
    try:
        points = np.array(stroke, dtype=np.float64)
    except (TypeError, ValueError, OverflowError, RecursionError):
        raise DrawingError(f"stroke {index} must be a list of (x, y) number pairs, got {stroke!r:.60}") from None
    if points.size == 0:
        return points.reshape(0, 2)
    if points.ndim != 2 or points.shape[1] != 2:
        raise DrawingError(f"stroke {index} must be a list of (x, y) pairs; got an array of shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise DrawingError(f"stroke {index} has NaN or infinite coordinates")
    if np.abs(points).max() > MAX_COORDINATE:
        raise DrawingError(
            f"stroke {index} has a coordinate of {np.abs(points).max():.3g} px; coordinates are canvas pixels "
            f"within ±{MAX_COORDINATE:.0e}"
        )
    points.setflags(write=False)
    return points


def _validate(strokes: object, canvas: object, pen: object) -> tuple[tuple[np.ndarray, ...], tuple[int, int], float]:
    """The one check of a drawing's parts (every way in goes through it once)."""
    size, width = canvas_size(canvas), pen_width(pen)
    if isinstance(strokes, str | bytes | dict) or not hasattr(strokes, "__iter__"):
        raise DrawingError(f"strokes must be a list of strokes, each a list of (x, y) points; got {strokes!r:.60}")
    strokes = list(strokes)  # type: ignore[call-overload]
    if len(strokes) > MAX_STROKES:
        raise DrawingError(
            f"{len(strokes):,} strokes is more than a drawing holds (at most {MAX_STROKES}): clear the canvas and "
            "draw the digits again"
        )
    arrays = tuple(a for a in (_points(stroke, i) for i, stroke in enumerate(strokes)) if len(a))  # empty: no mark
    if sum(len(a) for a in arrays) > MAX_POINTS:
        raise DrawingError(f"the strokes hold more than {MAX_POINTS:,} points; send fewer (resample them)")
    return arrays, size, width


@dataclass(frozen=True, eq=False, init=False)  # eq=False: comparing numpy fields has no single truth value
class Drawing:
    """Pen strokes on a canvas: what a person drew, validated once.

    ``Drawing(strokes, canvas=280, pen=20)`` checks its arguments (`DrawingError`, a `ValueError`, says what is
    wrong) and keeps the strokes as read-only float arrays (n, 2). A drawing may have no strokes (a blank canvas).

    Attributes:
        strokes: the pen-down strokes in drawing order, each a float64 array (n, 2) of ``(x, y)`` canvas px.
        canvas: ``(width, height)`` in px.
        pen: the pen's diameter in canvas px.
    """

    strokes: tuple[np.ndarray, ...]
    canvas: tuple[int, int]
    pen: float

    def __init__(self, strokes: Strokes, canvas: int | tuple[int, int] = 280, pen: float = 20.0) -> None:
        arrays, size, width = _validate(strokes, canvas, pen)
        self._set(arrays, size, width)

    def _set(self, strokes: tuple[np.ndarray, ...], canvas: tuple[int, int], pen: float) -> None:
        object.__setattr__(self, "strokes", strokes)
        object.__setattr__(self, "canvas", canvas)
        object.__setattr__(self, "pen", pen)

    @classmethod
    def _trusted(cls, strokes: Sequence[np.ndarray], canvas: tuple[int, int], pen: float) -> Drawing:
        """A drawing made from parts that are already valid (pieces of a checked drawing): no second check."""
        drawing = object.__new__(cls)
        drawing._set(tuple(strokes), canvas, pen)
        return drawing

    def __repr__(self) -> str:
        points = sum(len(s) for s in self.strokes)
        return f"Drawing({len(self.strokes)} strokes, {points} points, canvas={self.canvas}, pen={self.pen:g})"

    def __bool__(self) -> bool:
        return bool(self.strokes)

    @property
    def points(self) -> np.ndarray:
        """Every point of every stroke, (n, 2)."""
        return np.concatenate(self.strokes) if self.strokes else np.zeros((0, 2))

    def with_strokes(self, strokes: Sequence[np.ndarray]) -> Drawing:
        """Another drawing on the same canvas with the same pen, of strokes taken from this one (not checked)."""
        return Drawing._trusted(strokes, self.canvas, self.pen)

    def as_lists(self) -> list[list[Point]]:
        """The strokes as lists of ``(x, y)`` floats (as the pad keeps them and JSON stores them)."""
        return [[(float(x), float(y)) for x, y in stroke] for stroke in self.strokes]

    @cached_property
    def on_canvas(self) -> Drawing:
        """What the canvas shows, as the readers read it: strokes cut to the canvas (a stroke wholly off it is gone),
        marks under `SPECK_FRACTION` of the canvas and lone dots (a tap that touches no other stroke) dropped, and
        strokes far denser than a reading needs thinned along their length (`resample`)."""
        width, height = self.canvas
        clipped = clip_strokes(self.strokes, self.canvas, margin=self.pen / 2)
        if not clipped:
            return self.with_strokes(())
        low, high = zip(*(bounds(s) for s in clipped), strict=True)
        size = float((np.max(high, axis=0) - np.min(low, axis=0)).max())
        step = max(RESAMPLE_PENS * self.pen, RESAMPLE_SHARE * size, 1e-3)
        resampled = [resample(s, step) for s in clipped]
        smallest = SPECK_FRACTION * max(width, height)
        extents = [float(np.ptp(s, axis=0).max()) + self.pen for s in resampled]
        kept = [i for i, extent in enumerate(extents) if extent >= smallest]
        dots = {i for i in kept if is_dot(extents[i], self.pen)}
        lone = _lone(resampled, dots, kept, self.pen) if dots else set()
        return self.with_strokes([resampled[i] for i in kept if i not in lone])


def bounds(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest x and y of points (n, 2), a column at a time (numpy is far slower along axis 0)."""
    xs, ys = points[:, 0], points[:, 1]
    return np.array([xs.min(), ys.min()]), np.array([xs.max(), ys.max()])


def is_dot(extent: float, pen: float) -> bool:
    """Whether ink ``extent`` px across (pen included), drawn with a ``pen`` px wide, is a dot or blob, not a digit."""
    return extent < DOT_EXTENT * pen


def resample(stroke: np.ndarray, step: float) -> np.ndarray:
    """A stroke with far more points than ``step`` spacing needs (`RESAMPLE_SLACK`), thinned to its points about
    ``step`` apart along it (the drawn points themselves, so corners stay); other strokes as they are."""
    if len(stroke) < 3:
        return stroke
    distance = np.r_[0.0, np.cumsum(np.hypot(np.diff(stroke[:, 0]), np.diff(stroke[:, 1])))]
    if len(stroke) <= RESAMPLE_SLACK * (distance[-1] / step + 2):
        return stroke
    marks = np.searchsorted(distance, np.arange(0.0, distance[-1], step))
    keep = np.unique(np.r_[marks, len(stroke) - 1])
    out = stroke[keep]
    out.setflags(write=False)
    return out


def _lone(strokes: list[np.ndarray], dots: set[int], kept: list[int], pen: float) -> set[int]:
    """The dots that touch no other kept stroke (within a pen width). Points are first thinned to one per cell of
    a quarter pen, so the neighbour search is bounded by the canvas area in pens, not by the points or the pen."""
    cell = pen / 4
    centres = [(np.unique(np.floor(strokes[i] / cell), axis=0) + 0.5) * cell for i in kept]
    owner = np.repeat(np.asarray(kept), [len(c) for c in centres])
    tree = cKDTree(np.concatenate(centres))
    lone = set()
    for position, i in enumerate(kept):
        if i not in dots:
            continue
        near = tree.query_ball_point(centres[position], r=pen)
        if not any(owner[j] != i for hits in near for j in hits):
            lone.add(i)
    return lone


def polyline_pieces(points: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> list[np.ndarray]:
    """The pieces of a polyline left when each segment i (points i to i+1) is kept from parameter ``t0[i]`` to
    ``t1[i]`` along it (none of it where t0 >= t1): consecutive kept segments are one piece where the first runs to
    its end and the next starts at its beginning."""
    kept = np.flatnonzero(t0 < t1)
    if not len(kept):
        return []
    a, b = points[:-1][kept], points[1:][kept]
    starts, ends = a + t0[kept, None] * (b - a), a + t1[kept, None] * (b - a)
    joined = np.zeros(len(kept), dtype=bool)
    joined[1:] = (kept[1:] == kept[:-1] + 1) & (t1[kept[:-1]] >= 1.0) & (t0[kept[1:]] <= 0.0)
    firsts = np.flatnonzero(~joined)
    # Each piece is its first segment's start, then the ends of its segments: all at once, then split.
    joined_up = np.insert(ends, firsts, starts[firsts], axis=0)
    return np.split(joined_up, firsts[1:] + np.arange(1, len(firsts)))


def clip_strokes(strokes: Sequence[np.ndarray], canvas: tuple[int, int], margin: float = 0.0) -> list[np.ndarray]:
    """The parts of strokes that lie on the canvas (grown by ``margin`` px each side): a stroke that leaves it is cut
    where it leaves and continues as a new stroke where it comes back; a stroke wholly off it disappears."""
    low, high = np.array([-margin, -margin]), np.array([canvas[0] + margin, canvas[1] + margin])
    arrays = [points for points in strokes if len(points)]
    if not arrays:
        return []
    first, last = bounds(np.concatenate(arrays))
    if np.all(first >= low) and np.all(last <= high):
        return arrays  # all on the canvas, as nearly every drawing is: one check, not one per stroke
    clipped = []
    for points in arrays:
        first, last = bounds(points)
        if np.all(first >= low) and np.all(last <= high):
            clipped.append(points)
            continue
        if len(points) == 1:
            continue  # a dot off the canvas
        # Liang-Barsky for every segment at once: each edge of the box narrows the segment's parameters [t0, t1].
        a, delta = points[:-1], np.diff(points, axis=0)
        t0, t1 = np.zeros(len(a)), np.ones(len(a))
        for axis in (0, 1):
            for p, q in ((-delta[:, axis], a[:, axis] - low[axis]), (delta[:, axis], high[axis] - a[:, axis])):
                parallel = np.abs(p) < 1e-12  # parallel to this edge (or nearly: the division would overflow)
                t = q / np.where(parallel, 1.0, p)
                t0 = np.where(~parallel & (p < 0), np.maximum(t0, t), t0)
                t1 = np.where(~parallel & (p > 0), np.minimum(t1, t), t1)
                t1 = np.where(parallel & (q < 0), -1.0, t1)  # wholly outside this edge
        clipped += polyline_pieces(points, t0, t1)
    return clipped


def as_drawing(strokes: Drawing | Strokes, canvas: int | tuple[int, int] | None, pen: float | None) -> Drawing:
    """A `Drawing` as it is, or strokes with their canvas and pen made into one (checked once, here)."""
    if isinstance(strokes, Drawing):
        if canvas is not None or pen is not None:
            raise DrawingError("a Drawing carries its own canvas and pen: pass the drawing alone")
        return strokes
    if canvas is None or pen is None:
        raise DrawingError("strokes need their canvas and pen: predict_strokes(strokes, canvas_size, pen_width)")
    return Drawing(strokes, canvas, pen)
