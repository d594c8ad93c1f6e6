"""Draw pen strokes the way the browser canvas of the drawing pad shows them.

The pad (``digitlib.pad``), the training images and the drawn-digit benchmark all turn strokes into pixels here,
so the recogniser is measured on exactly what a person sees on screen: round caps and joins, a pen width in canvas
pixels, anti-aliased edges. `render_drawing` draws a `digitlib.drawing.Drawing` in one of the canvas `LOOKS`;
`render_coverage` is the rasteriser underneath, for strokes that are already checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

from digitlib.drawing import Drawing, Strokes, clip_strokes

#: The looks a canvas can have. ``"dark_on_light"``: dark ink on a white canvas (RGB);
#: ``"light_on_dark"``: white ink on a black canvas (RGB); ``"transparent"``: opaque ink on a
#: transparent canvas (RGBA, as ipycanvas returns for a canvas that was never filled).
Look = Literal["dark_on_light", "light_on_dark", "transparent"]
LOOKS: tuple[Look, ...] = ("dark_on_light", "light_on_dark", "transparent")

#: Drawing is done at this many times the canvas size, then box-downsampled, which anti-aliases edges about as a
#: browser canvas does ...
SUPERSAMPLE = 4
#: ... and less on big canvases, so that the drawing surface stays under this many pixels a side.
MAX_SUPERSAMPLED_SIDE = 8192


def render_coverage(
    strokes: Sequence[np.ndarray], canvas: tuple[int, int], pen: float, supersample: int = SUPERSAMPLE
) -> np.ndarray:
    """Rasterise strokes (float arrays (n, 2), canvas px) into an ink-coverage map: float32 (height, width),
    0 = paper, 1 = ink, for a canvas of ``(width, height)`` px of any size.

    Each stroke is a polyline of the pen's width with round caps and joins; a stroke of one point is a dot of the
    pen's diameter. What lies off the canvas is clipped. The strokes are taken as they are (`render_drawing` draws
    a checked `Drawing`).
    """
    width, height = canvas
    if supersample < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    s = max(1, min(int(supersample), MAX_SUPERSAMPLED_SIDE // max(width, height)))
    big = Image.new("L", (width * s, height * s), 0)
    draw = ImageDraw.Draw(big)
    line_width = max(1, round(pen * s))
    radius = pen * s / 2
    for points in clip_strokes(strokes, canvas, margin=pen):
        # Canvas coordinates are continuous, as in a browser (pixel i spans [i, i+1)); Pillow
        # puts integer coordinates on pixel centres, hence the -0.5.
        scaled = points * s - 0.5
        if len(scaled) > 1:
            draw.line(scaled.ravel().tolist(), fill=255, width=line_width)  # flat [x0, y0, x1, ...]: no tuples
        # Round caps and joins: a disc of the pen's diameter at every point (Pillow's joint="curve" would draw the
        # joins again, point by point in Python, at twice the cost of the whole drawing).
        centres = scaled.astype(np.float64, copy=False)  # boxes in double precision, whatever the points are
        for disc in np.concatenate([centres - radius, centres + radius], axis=1).tolist():
            draw.ellipse(disc, fill=255)
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


def render_drawing(drawing: Drawing, look: Look = "dark_on_light", supersample: int = SUPERSAMPLE) -> np.ndarray:
    """Draw a drawing as the pad's canvas shows it: uint8 (height, width, 3), or (height, width, 4) for
    ``"transparent"`` (see `LOOKS`)."""
    if look not in LOOKS:
        raise ValueError(f"look must be one of {LOOKS}, got {look!r}")
    return coverage_to_look(render_coverage(drawing.strokes, drawing.canvas, drawing.pen, supersample), look)


def render_strokes(
    strokes: Strokes,
    canvas_size: int | tuple[int, int] = 280,
    pen_width: float = 20.0,
    look: Look = "dark_on_light",
    supersample: int = SUPERSAMPLE,
) -> np.ndarray:
    """`render_drawing` of ``Drawing(strokes, canvas_size, pen_width)``: strokes as lists of (x, y) canvas points,
    one int for a square canvas or ``(width, height)``, the pen's diameter in canvas px."""
    return render_drawing(Drawing(strokes, canvas_size, pen_width), look, supersample)
