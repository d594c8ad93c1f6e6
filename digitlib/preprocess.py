"""The MNIST recipe: ink, from a canvas image or pen strokes, made into the 28×28 image a digit model reads.

MNIST digits were made by fitting each digit into a 20×20 box (keeping its aspect ratio, anti-aliased), then
placing that box in a 28×28 field so that the centre of mass of the ink lands on the centre. A model trained on
MNIST expects exactly that: white ink on black, the digit about 20 px tall, strokes about 2–3 px wide. A drawing
on a canvas is none of these, so :func:`to_mnist` redoes the recipe:

1. find the ink whatever the look, and tell faint noise from ink (`digitlib.canvas_image`);
2. drop specks (isolated dots far smaller than a stroke);
3. crop to the ink and scale it so the longest side is 80 px (4× the 20-px box);
4. bring the stroke width into MNIST's range (thin pens are thickened, thick pens thinned);
5. scale the longest side to 20 px with area averaging (anti-aliasing);
6. place it in 28×28 so that its centre of mass is at (14, 14), as in MNIST.

:func:`strokes_to_mnist` does the same from a `digitlib.drawing.Drawing`, which is more exact: the strokes are
drawn directly at MNIST's scale with a pen of MNIST's width.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image
from scipy import ndimage

from digitlib.boxes import mask_box
from digitlib.canvas_image import (
    INK_THRESHOLD,
    MAX_INK_LENGTH,
    SPECK_WIDTHS,
    extract_ink,
    ink_length,
    remove_specks,
    stroke_width,
    with_frame,
)
from digitlib.drawing import RESAMPLE_PENS, Drawing, bounds, is_dot, resample
from digitlib.images import BOX_SIZE, MNIST_SIZE
from digitlib.render import render_coverage

#: MNIST's centre of mass, in pixel-index coordinates (measured: 14.0 ± 0.3 on the training set).
MNIST_CENTRE = 14.0
#: Stroke widths are brought into this range (px at MNIST scale, where the longest side of the digit, strokes
#: included, is 20 px): MNIST's own widths (`stroke_width` on its training images) have quartiles 2.4 / 2.7 / 3.2.
MIN_STROKE_WIDTH = 2.2
MAX_STROKE_WIDTH = 3.0
#: The digit is scaled to this longest side (4× the 20-px box) for the stroke-width work, with this margin.
WORK_BOX = 4 * BOX_SIZE
WORK_MARGIN = 10
#: Strokes that turn back sharply (by more than SHARP_TURN_DEG, measured every SHARP_TURN_STEP of the drawing's
#: size) more than MAX_SHARP_TURNS times are a scribble or a zigzag: none of the shipped pen digits turns back more
#: than 5 times (a 2 or a 4 does once or twice), a zigzag does at every peak.
SHARP_TURN_DEG = 90.0
SHARP_TURN_STEP = 0.05
MAX_SHARP_TURNS = 5
#: Thin strokes are thickened to at least this many working pixels before shrinking, so a 1-px pen on a big canvas
#: does not fade away; any pixel more than THIN_CORE inked is part of such a stroke.
MIN_WORK_WIDTH = 3.0
THIN_CORE = 0.2
#: Moving an edge by up to this many px is done with bounded passes (`_distance_to_edge`), farther with scipy's
#: distance transform, which then costs less.
MAX_NEAR_REACH = 8
#: A pen path longer than this many times its extent (pen included) is a texture, not a digit: the exact length
#: of strokes allows a tighter limit than `MAX_INK_LENGTH`'s estimate from pixels. Of 49,000 candidate digits cut
#: from the tune writers' digits and numbers, none is over 7.2 (99.9% under 5.5).
MAX_STROKE_LENGTH = 12.0
#: Strokes are drawn at MNIST scale at this many times the size, then downsampled (anti-aliasing).
STROKE_SUPERSAMPLE = 8


def _resize(coverage: np.ndarray, size: tuple[int, int], box: tuple[float, ...]) -> np.ndarray:
    """Resample the region ``box`` (left, top, right, bottom) to ``size`` (width, height)."""
    image = Image.fromarray(np.ascontiguousarray(coverage, dtype=np.float32), mode="F")
    scale = min((box[2] - box[0]) / size[0], (box[3] - box[1]) / size[1])
    # Area averaging when shrinking (anti-aliasing); bilinear when enlarging.
    method = Image.Resampling.BOX if scale > 1 else Image.Resampling.BILINEAR
    return np.asarray(image.resize(size, method, box=box), dtype=np.float32)


def _distance_to_edge(mask: np.ndarray, reach: int) -> np.ndarray:
    """The Euclidean distance (px, float64) from each True pixel of ``mask`` to the nearest False one, exact where
    it is under ``reach + 1`` and only known to be at least that beyond; 0 on False pixels.

    The same values as ``ndimage.distance_transform_edt(mask)`` where they are under ``reach + 1`` (the same squared
    integers, square-rooted in float64), at a cost that grows with ``reach`` rather than the transform's fixed,
    larger one: a pass along the rows, then down the columns, each looking at most ``reach`` px away. Any pixel
    nearer than ``reach + 1`` is at most ``reach`` rows and columns away, so both passes see it.
    """
    if reach > MAX_NEAR_REACH or mask.all():  # the bounded passes cost more than the transform, or nothing to reach
        return ndimage.distance_transform_edt(mask)
    far = reach + 1
    targets = np.where(mask, far, 0).astype(np.int32)
    across = targets.copy()  # px along the row to the nearest False pixel, `far` once over `reach`
    for step in range(1, min(reach, mask.shape[1] - 1) + 1):
        np.minimum(across[:, step:], targets[:, :-step] + step, out=across[:, step:])
        np.minimum(across[:, :-step], targets[:, step:] + step, out=across[:, :-step])
    np.minimum(across, far, out=across)
    row_squares = across * across
    squares = row_squares.copy()  # the nearest of those within `reach` rows up or down, by squared distance
    for step in range(1, min(reach, mask.shape[0] - 1) + 1):
        np.minimum(squares[step:], row_squares[:-step] + step * step, out=squares[step:])
        np.minimum(squares[:-step], row_squares[step:] + step * step, out=squares[:-step])
    return np.sqrt(squares.astype(np.float64))


def _set_stroke_width(coverage: np.ndarray, current: float, target: float, core: float = 0.5) -> np.ndarray:
    """Thicken or thin ink from width ``current`` to ``target`` (px), with anti-aliased edges.

    Uses the signed distance to the ink's edge: moving the edge by d px is a disc-shaped
    dilation (d > 0) or erosion (d < 0) of any real radius. Pixels above ``core`` count as
    inside the stroke (lower it for lines thinner than a pixel, which are only partly inked).
    """
    inside = coverage > core
    shift = (target - current) / 2
    reach = int(np.ceil(abs(shift)))  # pixels reach + 1 or more from the edge end up 0 or 1 either way
    # Only one side of the edge moves, so one distance transform is enough: thinning needs
    # the distance from inside pixels to the background, thickening the reverse.
    if shift < 0:
        signed = np.where(inside, _distance_to_edge(inside, reach) - 0.5, -1.0)
    else:
        signed = np.where(inside, 1.0, 0.5 - _distance_to_edge(~inside, reach))
    return np.clip(signed + 0.5 + shift, 0.0, 1.0).astype(np.float32)


def _centre_by_mass(box: np.ndarray) -> np.ndarray:
    """Place a digit (at most 20×20) in a 28×28 field with its centre of mass at (14, 14)."""
    total = float(box.sum())
    rows, cols = np.indices(box.shape)
    centre_y = float((rows * box).sum()) / total
    centre_x = float((cols * box).sum()) / total
    top = int(round(MNIST_CENTRE - centre_y))
    left = int(round(MNIST_CENTRE - centre_x))
    field = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    # Clip in case a lopsided digit's box would stick out of the field.
    y0, x0 = max(top, 0), max(left, 0)
    y1 = min(top + box.shape[0], MNIST_SIZE)
    x1 = min(left + box.shape[1], MNIST_SIZE)
    field[y0:y1, x0:x1] = box[y0 - top : y1 - top, x0 - left : x1 - left]
    return field


def _fit_box(coverage: np.ndarray) -> np.ndarray | None:
    """Crop ink to its bounding box and scale the longest side to 20 px (area averaging)."""
    box = mask_box(coverage > 0.02)
    if box is None:
        return None
    scale = BOX_SIZE / box.longest_side
    size = (max(1, round(box.width * scale)), max(1, round(box.height * scale)))
    return np.clip(_resize(coverage, size, tuple(box)), 0.0, 1.0)


def _resample(stroke: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` along a stroke, so a pen's jitter between them does not count as turns."""
    xs, ys = stroke[:, 0], stroke[:, 1]
    dx, dy = xs[1:] - xs[:-1], ys[1:] - ys[:-1]  # np.diff and np.linalg.norm's bits, without their overhead
    distance = np.zeros(len(stroke))
    np.cumsum(np.sqrt(dx * dx + dy * dy), out=distance[1:])
    if distance[-1] < 2 * step:
        return stroke[:0]
    at = np.arange(0.0, distance[-1], step)
    return np.stack([np.interp(at, distance, xs), np.interp(at, distance, ys)], axis=1)


def sharp_turns(strokes: Sequence[np.ndarray]) -> int:
    """How often the pen turns back sharply along the strokes (see :data:`MAX_SHARP_TURNS`)."""
    arrays = list(strokes)
    if not arrays:
        return 0
    points = np.concatenate(arrays)
    step = SHARP_TURN_STEP * max(float(np.ptp(points, axis=0).max()), 1e-6)
    turns = 0
    for stroke in arrays:
        if len(stroke) < 3:
            continue  # a dot or a straight line: no turn
        points = _resample(stroke, step)
        if len(points) < 3:
            continue
        heading = np.arctan2(points[1:, 1] - points[:-1, 1], points[1:, 0] - points[:-1, 0])
        turn = np.abs((heading[1:] - heading[:-1] + np.pi) % (2 * np.pi) - np.pi)
        turns += int(np.sum(turn > np.radians(SHARP_TURN_DEG)))
    return turns


def ink_to_mnist(coverage: np.ndarray) -> np.ndarray | None:
    """Turn an ink-coverage map (0 background, 1 ink, any size) into an MNIST-style image.

    Specks should already be removed (see :func:`remove_specks`). Returns a 28×28 float32
    image in [0, 1], white ink on black, or None when there is no digit to read: no ink, a dot
    or blob (ink hardly longer than it is wide), or a texture such as noise (far more ink than
    strokes of its width could lay across it).
    """
    bounds = mask_box(coverage > INK_THRESHOLD)
    if bounds is None:
        return None
    left, top, right, bottom = bounds
    extent = bounds.longest_side
    pad = 2
    crop = with_frame(coverage[top:bottom, left:right], pad)
    width = stroke_width(crop)
    if width <= 0 or is_dot(extent, width):
        return None
    if ink_length(crop, width) > MAX_INK_LENGTH * extent:
        return None  # noise or hatching, not strokes
    # Work at 4× the 20-px box: enough resolution to change the stroke width smoothly.
    scale = WORK_BOX / extent
    if width * scale < MIN_WORK_WIDTH:
        # A thin pen on a big digit would fade to nothing when shrunk: thicken it first, at its own scale.
        crop = _set_stroke_width(crop, width, MIN_WORK_WIDTH / scale, core=THIN_CORE)
    margin = WORK_MARGIN / scale
    border = int(np.ceil(margin)) + 1
    padded = with_frame(crop, border)
    start = pad + border  # where the ink's box begins in `padded`
    box = (start - margin, start - margin, start + bounds.width + margin, start + bounds.height + margin)
    size = (round(bounds.width * scale) + 2 * WORK_MARGIN, round(bounds.height * scale) + 2 * WORK_MARGIN)
    work = _resize(padded, size, box)
    width = stroke_width(work)
    if width <= 0 or SPECK_WIDTHS * width > WORK_BOX:
        return None  # a dot, not a digit
    # Width at MNIST scale, where the longest side (stroke width included) is 20 px.
    width_in_box = BOX_SIZE * width / WORK_BOX
    wanted = float(np.clip(width_in_box, MIN_STROKE_WIDTH, MAX_STROKE_WIDTH))
    if abs(wanted - width_in_box) > 0.05:
        # Changing the width changes the extent too: solve for the new width w' that is
        # `wanted` px once the new extent (extent - w + w') is scaled to 20 px.
        new_width = wanted * (WORK_BOX - width) / (BOX_SIZE - wanted)
        work = _set_stroke_width(work, width, new_width)
    box20 = _fit_box(work)
    if box20 is None or box20.sum() <= 0:
        return None
    return _centre_by_mass(box20)


def to_mnist(image: np.ndarray) -> np.ndarray | None:
    """Turn a canvas image into the 28×28 image an MNIST model expects (the MNIST recipe).

    Args:
        image: numpy array (H, W), (H, W, 3) or (H, W, 4), uint8 or float in [0, 1]; any look
            (dark on light, light on dark, or ink on a transparent canvas).

    Returns:
        float32 (28, 28) in [0, 1], white ink on black, digit in a 20-px box centred by mass
        with MNIST-like stroke width; or None when the canvas is blank (or holds only faint
        noise or a dot).

    Raises:
        ValueError: for a wrong dtype, shape, value range or NaNs, saying what is expected.
    """
    coverage = remove_specks(extract_ink(image).coverage)
    return ink_to_mnist(coverage)


def strokes_to_mnist(drawing: Drawing) -> np.ndarray | None:
    """Draw a drawing's strokes (as its canvas shows them, `Drawing.on_canvas`) directly as an MNIST 28×28 image.

    The strokes' bounding box is scaled so that the ink (strokes plus pen width) fills the 20-px box, and they are
    drawn with the pen width the drawing would have at that scale, brought into MNIST's range; then the digit is
    centred by mass as in :func:`to_mnist`. Returns None when nothing is left to read: no strokes, only a dot
    (`digitlib.drawing.is_dot`), or a zigzag scribble (:func:`sharp_turns`).
    """
    return strokes_image(drawing.on_canvas.strokes, drawing.pen)


def strokes_image(strokes: Sequence[np.ndarray], pen: float) -> np.ndarray | None:
    """`strokes_to_mnist` for strokes already as the canvas shows them (float arrays (n, 2), canvas px), such as
    the pieces of a drawing the number reader cuts out; they are taken as they are."""
    if not strokes:
        return None
    points = np.concatenate(strokes)
    low, high = bounds(points)
    extent = float((high - low).max())
    steps = np.hypot(np.diff(points[:, 0]), np.diff(points[:, 1]))
    steps[np.cumsum([len(s) for s in strokes])[:-1] - 1] = 0.0  # the pen's jumps between strokes draw nothing
    length = float(steps.sum())
    texture = length > MAX_STROKE_LENGTH * (extent + pen)
    if is_dot(extent + pen, pen) or texture or sharp_turns(strokes) > MAX_SHARP_TURNS:
        return None  # a dot, a texture (a spiral, a scribbled-over area) or a scribble: no digit
    width = float(np.clip(BOX_SIZE * pen / (extent + pen), MIN_STROKE_WIDTH, MAX_STROKE_WIDTH))
    scale = (BOX_SIZE - width) / extent
    # One px of margin on each side; coordinates continuous, as on the canvas.
    origin = low - (width / 2 + 1) / scale
    size = np.ceil((high - low) * scale + width + 2).astype(int)
    # Points far denser than the pen drawn at this size needs add cost, not ink (a big digit drawn with a thin pen).
    scaled = [resample((a - origin) * scale, RESAMPLE_PENS * width) for a in strokes]
    coverage = render_coverage(scaled, (int(size[0]), int(size[1])), width, supersample=STROKE_SUPERSAMPLE)
    if coverage.sum() <= 0:
        return None
    return _centre_by_mass(coverage)


def tutorial_resize(canvas: np.ndarray, invert: bool = False) -> np.ndarray:
    """What most tutorials feed their model: the whole canvas in grey, shrunk to 28×28, scaled to [0, 1].

    Kept as the baseline that notebook 07 and ``benchmarks/drawn_digits.py`` compare :func:`to_mnist` against:
    dark ink on white stays dark on white (unless ``invert``, the tutorials' usual fix), and the digit stays as
    small and off-centre as it was drawn. ``canvas`` is a uint8 RGB(A) or grey image.
    """
    grey = Image.fromarray(np.asarray(canvas)).convert("L").resize((MNIST_SIZE, MNIST_SIZE))
    image = np.asarray(grey, dtype=np.float32) / np.float32(255.0)
    return 1.0 - image if invert else image
