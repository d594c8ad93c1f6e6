"""Draw pen strokes the way the browser canvas of the drawing pad shows them.

The pad (``digitlib.pad``) and the drawn-digit benchmark both turn strokes into pixels with
:func:`render_strokes`, so the recogniser is measured on exactly what a person sees on screen:
round caps and joins, a pen width in canvas pixels, anti-aliased edges.

A *stroke* is a sequence of ``(x, y)`` canvas points (x to the right, y downward, as on a
screen); a drawing is a sequence of strokes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

Point = tuple[float, float]
Stroke = Sequence[Point]
Strokes = Sequence[Stroke]

#: The looks a canvas can have. ``"dark_on_light"``: dark ink on a white canvas (RGB);
#: ``"light_on_dark"``: white ink on a black canvas (RGB); ``"transparent"``: opaque ink on a
#: transparent canvas (RGBA, as ipycanvas returns for a canvas that was never filled).
Look = Literal["dark_on_light", "light_on_dark", "transparent"]
LOOKS: tuple[Look, ...] = ("dark_on_light", "light_on_dark", "transparent")

#: Drawing is done at this many times the canvas size, then box-downsampled, which
#: anti-aliases edges about as a browser canvas does.
SUPERSAMPLE = 4
#: The largest canvas side, in pixels (the largest image the recogniser reads, too).
MAX_CANVAS = 8192
#: Supersampling is reduced on big canvases so that the drawing surface stays under this many pixels a side.
MAX_SUPERSAMPLED_SIDE = 8192


def canvas_shape(canvas_size: int | tuple[int, int]) -> tuple[int, int]:
    """Return ``(height, width)`` from a canvas size given as one int or as ``(width, height)``.

    The ``(width, height)`` order is the one of ipycanvas and Pillow.
    """
    if isinstance(canvas_size, bool):
        raise ValueError(f"canvas_size must be an int or a (width, height) pair, got {canvas_size!r}")
    if isinstance(canvas_size, int | np.integer):
        width = height = int(canvas_size)
    else:
        try:
            width, height = (int(v) for v in canvas_size)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"canvas_size must be an int or a (width, height) pair, got {canvas_size!r}") from None
    if not (1 <= width <= MAX_CANVAS and 1 <= height <= MAX_CANVAS):
        raise ValueError(f"canvas_size must be 1 to {MAX_CANVAS} px each way, got width={width}, height={height}")
    return height, width


#: Stroke coordinates beyond this many canvas pixels from the origin are refused: no canvas is that large, and
#: arithmetic on such numbers overflows.
MAX_COORDINATE = 1e6


class CheckedStrokes(tuple):
    """Strokes that `check_strokes` has validated: a tuple of float64 arrays (n, 2), none empty.

    Every public function that takes strokes accepts plain lists too; given a `CheckedStrokes`, it skips the
    check, so a drawing is validated once however many functions it passes through.
    """

    __slots__ = ()


def check_strokes(strokes: Strokes) -> CheckedStrokes:
    """Validate strokes once and return them as `CheckedStrokes` (float arrays (n, 2)), dropping empty ones.

    Raises:
        ValueError: when ``strokes`` is not a list of strokes, a stroke is not a list of (x, y) number pairs,
            or a coordinate is NaN, infinite or beyond ±`MAX_COORDINATE`.
    """
    if isinstance(strokes, CheckedStrokes):
        return strokes
    if isinstance(strokes, str | bytes) or not hasattr(strokes, "__iter__"):
        raise ValueError(f"strokes must be a list of strokes, each a list of (x, y) points; got {strokes!r:.80}")
    checked = []
    for index, stroke in enumerate(strokes):
        if isinstance(stroke, str | bytes):
            raise ValueError(f"stroke {index} must be a list of (x, y) number pairs, got {stroke!r:.80}")
        try:
            points = np.asarray(stroke, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"stroke {index} must be a list of (x, y) number pairs, got {stroke!r:.80}") from None
        if points.size == 0:
            continue
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"stroke {index} must be a list of (x, y) pairs; got an array of shape {points.shape}")
        if not np.all(np.isfinite(points)):
            raise ValueError(f"stroke {index} contains NaN or infinite coordinates")
        if np.abs(points).max() > MAX_COORDINATE:
            raise ValueError(
                f"stroke {index} has a coordinate of {np.abs(points).max():.3g} px; coordinates are canvas pixels "
                f"and must lie within ±{MAX_COORDINATE:.0e}"
            )
        checked.append(points)
    return CheckedStrokes(checked)


def check_pen_width(pen_width: float) -> float:
    """The pen width as a float; `ValueError` unless it is a positive, finite number of pixels."""
    if isinstance(pen_width, bool) or not isinstance(pen_width, int | float | np.integer | np.floating):
        raise ValueError(f"pen_width must be a positive number of pixels, got {pen_width!r}")
    if not np.isfinite(pen_width) or not 0 < pen_width <= MAX_CANVAS:
        raise ValueError(f"pen_width must be a positive number of pixels (at most {MAX_CANVAS}), got {pen_width!r}")
    return float(pen_width)


def _clip_segment(a: np.ndarray, b: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple | None:
    """The part of segment a-b inside the box [low, high] (Liang-Barsky), as parameters (t0, t1), or None."""
    t0, t1 = 0.0, 1.0
    delta = b - a
    for axis in (0, 1):
        for p, q in ((-delta[axis], a[axis] - low[axis]), (delta[axis], high[axis] - a[axis])):
            if abs(p) < 1e-12:  # parallel to this edge (or nearly: the division would overflow)
                if q < 0:
                    return None
                continue
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                return None
    return t0, t1


def clip_strokes(strokes: Strokes, canvas_size: int | tuple[int, int], margin: float = 0.0) -> CheckedStrokes:
    """The parts of strokes that lie on the canvas (grown by ``margin`` px on each side), as `CheckedStrokes`.

    What the canvas does not show is not part of the drawing: a stroke that leaves the canvas is cut where it
    leaves (and continues as a new stroke where it comes back); a stroke wholly off the canvas disappears.
    """
    height, width = canvas_shape(canvas_size)
    low, high = np.array([-margin, -margin]), np.array([width + margin, height + margin])
    clipped = []
    for points in check_strokes(strokes):
        inside = np.all((points >= low) & (points <= high), axis=1)
        if inside.all():
            clipped.append(points)
            continue
        if len(points) == 1:
            continue  # a dot off the canvas
        current: list[np.ndarray] = []
        for a, b in zip(points[:-1], points[1:], strict=True):
            span = _clip_segment(a, b, low, high)
            if span is None:
                if current:
                    clipped.append(np.array(current))
                    current = []
                continue
            start, end = a + span[0] * (b - a), a + span[1] * (b - a)
            if current and np.allclose(current[-1], start):
                current.append(end)
            else:
                if current:
                    clipped.append(np.array(current))
                current = [start, end]
            if span[1] < 1.0:  # the segment leaves the canvas here
                clipped.append(np.array(current))
                current = []
        if current:
            clipped.append(np.array(current))
    return CheckedStrokes(clipped)


def render_coverage(
    strokes: Strokes,
    canvas_size: int | tuple[int, int],
    pen_width: float,
    supersample: int = SUPERSAMPLE,
) -> np.ndarray:
    """Rasterise strokes into an ink-coverage map: float32 (height, width), 0 = paper, 1 = ink.

    Each stroke is a polyline of the given width (canvas px) with round caps and joins; a
    stroke of one point is a dot of the pen's diameter. Points outside the canvas are clipped.
    """
    height, width = canvas_shape(canvas_size)
    pen_width = check_pen_width(pen_width)
    if supersample < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    s = max(1, min(int(supersample), MAX_SUPERSAMPLED_SIDE // max(width, height)))
    big = Image.new("L", (width * s, height * s), 0)
    draw = ImageDraw.Draw(big)
    line_width = max(1, round(pen_width * s))
    radius = pen_width * s / 2
    for points in clip_strokes(strokes, (width, height), margin=pen_width):
        # Canvas coordinates are continuous, as in a browser (pixel i spans [i, i+1)); Pillow
        # puts integer coordinates on pixel centres, hence the -0.5.
        scaled = points * s - 0.5
        flat = [(float(x), float(y)) for x, y in scaled]
        if len(flat) > 1:
            draw.line(flat, fill=255, width=line_width, joint="curve")
        # Round caps and joins: a disc of the pen's diameter at every point.
        for x, y in flat:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    small = big.reduce(s) if s > 1 else big
    return np.asarray(small, dtype=np.float32) / 255.0


def coverage_to_look(coverage: np.ndarray, look: Look = "dark_on_light") -> np.ndarray:
    """Turn an ink-coverage map (0 = paper, 1 = ink) into a uint8 canvas image of a given look.

    Returns (H, W, 3) RGB for the opaque looks and (H, W, 4) RGBA for ``"transparent"``,
    where the ink is black and its coverage is in the alpha channel (as a browser canvas stores
    anti-aliased ink on a transparent background).
    """
    ink = np.clip(np.asarray(coverage, dtype=np.float32), 0.0, 1.0)
    level = np.round(ink * 255.0).astype(np.uint8)
    if look == "dark_on_light":
        return np.repeat((255 - level)[..., None], 3, axis=-1)
    if look == "light_on_dark":
        return np.repeat(level[..., None], 3, axis=-1)
    if look == "transparent":
        rgba = np.zeros((*level.shape, 4), dtype=np.uint8)
        rgba[..., 3] = level
        return rgba
    raise ValueError(f"look must be one of {LOOKS}, got {look!r}")


def render_strokes(
    strokes: Strokes,
    canvas_size: int | tuple[int, int] = 280,
    pen_width: float = 20.0,
    look: Look = "dark_on_light",
    supersample: int = SUPERSAMPLE,
) -> np.ndarray:
    """Draw strokes as the pad's canvas shows them and return the canvas as a uint8 image.

    Args:
        strokes: sequence of strokes, each a sequence of (x, y) canvas points.
        canvas_size: one int for a square canvas, or ``(width, height)``.
        pen_width: the pen's diameter in canvas pixels.
        look: ``"dark_on_light"`` (default, RGB), ``"light_on_dark"`` (RGB) or
            ``"transparent"`` (RGBA, ink in the alpha channel).
        supersample: draw at this many times the size, then downsample (anti-aliasing).

    Returns:
        uint8 array (height, width, 3) or (height, width, 4) for ``"transparent"``.
    """
    if look not in LOOKS:
        raise ValueError(f"look must be one of {LOOKS}, got {look!r}")
    coverage = render_coverage(strokes, canvas_size, pen_width, supersample)
    return coverage_to_look(coverage, look)


def fit_strokes(
    strokes: Strokes,
    canvas_size: int | tuple[int, int],
    height_fraction: float = 0.7,
    centre: tuple[float, float] | None = None,
) -> list[np.ndarray]:
    """Scale and move strokes so their height is a fraction of the canvas height.

    The aspect ratio is kept; the drawing's bounding-box centre goes to ``centre`` (canvas
    px, default the canvas centre). Useful to draw stored trajectories (for example UNIPEN
    digits, normalised to a 1000-unit box) as a person would draw them on the pad.
    """
    height, width = canvas_shape(canvas_size)
    arrays = check_strokes(strokes)
    if not arrays:
        return []
    points = np.concatenate(arrays)
    low, high = points.min(axis=0), points.max(axis=0)
    extent_y = high[1] - low[1]
    scale = height_fraction * height / extent_y if extent_y > 0 else 1.0
    if centre is None:
        centre = (width / 2, height / 2)
    middle = (low + high) / 2
    offset = np.asarray(centre, dtype=np.float64) - middle * scale
    return [a * scale + offset for a in arrays]


def _ellipse(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, end: float = 360.0) -> list[Point]:
    """Points of an elliptic arc, angles in degrees clockwise from 12 o'clock (y grows downward)."""
    angles = np.radians(np.linspace(start, end, max(8, int(abs(end - start) / 8))))
    return [(float(cx + rx * np.sin(a)), float(cy - ry * np.cos(a))) for a in angles]


def template_strokes(digit: int, left: float = 90.0, top: float = 40.0, height: float = 200.0) -> list[list[Point]]:
    """Strokes of a plainly written digit, for examples and tests: its box is ``height`` tall and
    0.6 × ``height`` wide, with the top-left corner at (left, top) in canvas px.

    Several digits are drawn as people often draw them: the 4 in two strokes (an open 4 whose
    upright does not reach the top), the 5 with its top bar as a second stroke.
    """
    h, w, x, y = float(height), 0.6 * float(height), float(left), float(top)

    def at(u: float, v: float) -> Point:
        return (x + u * w, y + v * h)

    shapes: dict[int, list[list[Point]]] = {
        0: [_ellipse(x + w / 2, y + h / 2, w / 2, h / 2)],
        1: [[at(0.55, 0.0), at(0.5, 1.0)]],
        2: [[at(0.0, 0.25), at(0.3, 0.0), at(0.8, 0.05), at(1.0, 0.3), at(0.7, 0.6), at(0.0, 1.0), at(1.0, 1.0)]],
        3: [[at(0.0, 0.1), at(0.5, 0.0), at(1.0, 0.2), at(0.4, 0.48), at(1.0, 0.7), at(0.6, 1.0), at(0.0, 0.9)]],
        4: [[at(0.6, 0.0), at(0.0, 0.65), at(1.0, 0.65)], [at(0.75, 0.3), at(0.75, 1.0)]],
        5: [
            [at(0.1, 0.0), at(0.05, 0.45), at(0.6, 0.4), at(1.0, 0.6), at(0.9, 0.9), at(0.5, 1.0), at(0.0, 0.9)],
            [at(0.1, 0.0), at(1.0, 0.0)],
        ],
        6: [[at(0.85, 0.0), at(0.3, 0.25), *_ellipse(x + 0.5 * w, y + 0.72 * h, 0.5 * w, 0.28 * h, 270, 630)]],
        7: [[at(0.0, 0.0), at(1.0, 0.0), at(0.35, 1.0)]],
        8: [
            [
                at(0.9, 0.1),
                at(0.5, 0.0),
                at(0.1, 0.12),
                at(0.15, 0.35),
                at(0.85, 0.62),
                at(0.95, 0.85),
                at(0.5, 1.0),
                at(0.05, 0.85),
                at(0.15, 0.62),
                at(0.85, 0.35),
                at(0.9, 0.1),
            ]
        ],
        9: [[*_ellipse(x + 0.5 * w, y + 0.27 * h, 0.5 * w, 0.27 * h, 90, 450), at(1.0, 1.0)]],
    }
    if digit not in shapes:
        raise ValueError(f"digit must be an int 0-9, got {digit!r}")
    return shapes[digit]


def example_strokes(
    text: str, canvas_size: int | tuple[int, int] = 280, height_fraction: float = 0.6
) -> list[list[Point]]:
    """Clear drawings of the digits in ``text``, side by side and centred on the canvas.

    For demos and tests: the strokes are what a careful writer would draw on the pad, in
    canvas pixels, each digit ``height_fraction`` of the canvas height (less when the number
    would not fit the width).

    Raises:
        ValueError: when ``text`` is empty or holds anything but the digits 0-9.
    """
    if not text or not all(character in "0123456789" for character in text):
        raise ValueError(f"text must be one or more of the digits 0-9, got {text!r}")
    height, width = canvas_shape(canvas_size)
    # Each digit of digitlib.render.template_strokes fills a box 0.6 × its height wide; a gap of 0.3 × the
    # height separates neighbours, as in handwriting.
    widths = len(text) * 0.6 + (len(text) - 1) * 0.3
    digit_height = min(height_fraction * height, 0.9 * width / widths)
    left = (width - widths * digit_height) / 2
    top = (height - digit_height) / 2
    strokes: list[list[Point]] = []
    for position, character in enumerate(text):
        strokes += template_strokes(int(character), left + position * 0.9 * digit_height, top, digit_height)
    return strokes
