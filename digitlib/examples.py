"""Drawings for examples, lessons and tests: plainly written digits and numbers, and stored trajectories placed
on a canvas as a person would draw them."""

from __future__ import annotations

import numpy as np

from digitlib.drawing import Point, Strokes, canvas_size


def fit_strokes(
    strokes: Strokes,
    canvas: int | tuple[int, int],
    height_fraction: float = 0.7,
    centre: tuple[float, float] | None = None,
) -> list[np.ndarray]:
    """Scale and move strokes so their height is a fraction of the canvas height.

    The aspect ratio is kept; the drawing's bounding-box centre goes to ``centre`` (canvas
    px, default the canvas centre). Useful to draw stored trajectories (for example UNIPEN
    digits, normalised to a 1000-unit box) as a person would draw them on the pad.
    """
    width, height = canvas_size(canvas)
    arrays = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
    arrays = [a for a in arrays if len(a)]
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
        6: [
            [at(0.85, 0.0), at(0.3, 0.25), *_ellipse(x + 0.5 * w, y + 0.72 * h, 0.5 * w, 0.28 * h, 270, -90)]
        ],  # anticlockwise
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


def example_strokes(text: str, canvas: int | tuple[int, int] = 280, height_fraction: float = 0.6) -> list[list[Point]]:
    """Clear drawings of the digits in ``text``, side by side and centred on the canvas.

    For demos and tests: the strokes are what a careful writer would draw on the pad, in
    canvas pixels, each digit ``height_fraction`` of the canvas height (less when the number
    would not fit the width).

    Raises:
        ValueError: when ``text`` is empty or holds anything but the digits 0-9.
    """
    if not text or not all(character in "0123456789" for character in text):
        raise ValueError(f"text must be one or more of the digits 0-9, got {text!r}")
    width, height = canvas_size(canvas)
    # Each digit of template_strokes fills a box 0.6 × its height wide; a gap of 0.3 × the
    # height separates neighbours, as in handwriting.
    widths = len(text) * 0.6 + (len(text) - 1) * 0.3
    digit_height = min(height_fraction * height, 0.9 * width / widths)
    left = (width - widths * digit_height) / 2
    top = (height - digit_height) / 2
    strokes: list[list[Point]] = []
    for position, character in enumerate(text):
        strokes += template_strokes(int(character), left + position * 0.9 * digit_height, top, digit_height)
    return strokes
