"""The MNIST recipe, applied to any canvas image or to pen strokes.

MNIST digits were made by fitting each digit into a 20×20 box (keeping its aspect ratio,
anti-aliased), then placing that box in a 28×28 field so that the centre of mass of the ink
lands on the centre. A model trained on MNIST expects exactly that: white ink on black, the
digit about 20 px tall, strokes about 2–3 px wide. A drawing on a canvas is none of these, so
:func:`to_mnist` redoes the recipe:

1. find the ink whatever the look (dark on light, light on dark, opaque ink on a transparent
   RGBA canvas), and tell faint noise from ink;
2. drop specks (isolated dots far smaller than a stroke);
3. crop to the ink and scale it so the longest side is 80 px (4× the 20-px box);
4. bring the stroke width into MNIST's range (thin pens are thickened, thick pens thinned);
5. scale the longest side to 20 px with area averaging (anti-aliasing);
6. place it in 28×28 so that its centre of mass is at (14, 14), as in MNIST.

:func:`strokes_to_mnist` does the same from pen strokes, which is more exact: the strokes are
drawn directly at MNIST's scale with a pen of MNIST's width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from digitlib.boxes import Box, mask_box
from digitlib.render import CheckedStrokes, Strokes, check_pen_width, check_strokes, render_coverage

MNIST_SIZE = 28
#: MNIST fits each digit in a box of this size before centring it in the 28×28 field.
BOX_SIZE = 20
#: MNIST's centre of mass, in pixel-index coordinates (measured: 14.0 ± 0.3 on the training set).
MNIST_CENTRE = 14.0

#: Stroke widths are brought into this range (px at MNIST scale, where the longest side of the
#: digit, strokes included, is 20 px). MNIST's own widths, measured by :func:`stroke_width` on
#: the 28×28 training images, have quartiles 2.4 / 2.7 / 3.2 px (10th-90th percentile 2.2-3.8);
#: measured the same way, digits made with this range land in MNIST's interquartile range.
MIN_STROKE_WIDTH = 2.2
MAX_STROKE_WIDTH = 3.0

SMALLEST_SIDE = 8
LARGEST_SIDE = 8192
#: Larger images are box-downsampled to at most this side first, so time stays bounded.
MAX_WORK_SIDE = 512
#: The digit is scaled to this longest side (4× the 20-px box) for the stroke-width work.
WORK_BOX = 4 * BOX_SIZE
WORK_MARGIN = 10

#: An image whose ink differs from the background by less than this (0–1 scale) is blank.
MIN_CONTRAST = 0.2
#: Differences from the background below this (0–1 scale) are noise, not ink.
NOISE_FLOOR = 0.08
#: At least this share of the image's frame must be paper (within the noise floor of its colour); otherwise the
#: image is noise or speckle all over, not a drawing.
PAPER_FRAME = 0.5
#: A pixel is inked (for connected components and bounding boxes) above this coverage.
INK_THRESHOLD = 0.35
#: A connected piece of ink whose longest side is under this many stroke widths is a speck
#: (a pen tap, a stray dot), not part of a digit.
SPECK_WIDTHS = 1.25
#: ... and so is any piece smaller than this fraction of the image's longest side.
SPECK_FRACTION = 0.02
#: Ink less than this many stroke widths across is a dot or a blob (a tap, a smudge), not a digit: the
#: narrowest digit, a 1, is several pen widths tall.
DOT_EXTENT = 2.0
#: Ink whose strokes, laid end to end, would be longer than this many times its extent is a texture (noise,
#: hatching, a scribbled-over area), not a digit: an 8, the longest digit, is about 4 times its height.
MAX_INK_LENGTH = 25.0
#: Strokes that turn back sharply (by more than SHARP_TURN_DEG, measured every SHARP_TURN_STEP of the drawing's
#: size) more than MAX_SHARP_TURNS times are a scribble or a zigzag, not a digit: of the 5,582 shipped pen digits
#: none turns back more than 5 times (a 2 or a 4 does once or twice), while a zigzag does at every peak.
SHARP_TURN_DEG = 90.0
SHARP_TURN_STEP = 0.05
MAX_SHARP_TURNS = 5
#: Before the ink is shrunk to the working size, thin strokes are thickened to at least this many working
#: pixels, so a 1-px pen on a big canvas does not fade away.
MIN_WORK_WIDTH = 3.0
#: ... and any pixel more than this inked is part of such a thin stroke (an anti-aliased 1-px line is only
#: partly inked where it runs between pixels).
THIN_CORE = 0.2


@dataclass(frozen=True)
class Ink:
    """Ink found in an image.

    Attributes:
        coverage: float32 (h, w) in [0, 1]: 1 where the pixel is fully inked.
        scale: canvas pixels per coverage pixel (1, or more when a big image was downsampled).
    """

    coverage: np.ndarray
    scale: int


def validate_image(image: np.ndarray) -> np.ndarray:
    """Check an image and return it as float32 (H, W, C) in [0, 1] with C in (1, 3, 4).

    Accepted: a numpy array (or anything ``np.asarray`` turns into one, like a Pillow image)
    of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), with dtype uint8 (0–255), bool, or
    float with values in [0, 1], each side between 8 and 8192 px.

    Raises:
        ValueError: saying what is expected, for any other input.
    """
    array = np.asarray(image)
    expected = (
        "expected an image as a numpy array of shape (H, W), (H, W, 3) or (H, W, 4) with "
        "dtype uint8 (0-255) or float (0-1)"
    )
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"{expected}; got shape {array.shape}")
    height, width = array.shape[:2]
    if min(height, width) < SMALLEST_SIDE or max(height, width) > LARGEST_SIDE:
        raise ValueError(
            f"{expected}, each side {SMALLEST_SIDE} to {LARGEST_SIDE} px; got {height}×{width} (resize the image first)"
        )
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{expected}; the image contains NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < -1e-3 or high > 1 + 1e-3:
            raise ValueError(
                f"{expected}; this float image has values in [{low:g}, {high:g}] "
                "(divide 0-255 values by 255, or pass them as uint8)"
            )
        return array
    raise ValueError(f"{expected}; got dtype {array.dtype} (convert with image.astype(np.uint8) for 0-255 values)")


def _border(array: np.ndarray) -> np.ndarray:
    """The pixels on the image's frame, as (n, C)."""
    if array.shape[0] < 3 or array.shape[1] < 3:
        return array.reshape(-1, array.shape[2])
    return np.concatenate([array[0], array[-1], array[1:-1, 0], array[1:-1, -1]])


def _background(pixels: np.ndarray) -> tuple[np.ndarray | None, bool]:
    """The paper's colour (0-1 floats per colour channel) and whether the ink is the opacity instead.

    The paper is what the image's frame mostly shows. An RGBA image whose frame is mostly transparent (an unfilled
    browser canvas) has its ink in the alpha channel, however much of the canvas the drawing covers.
    """
    unit = 255.0 if pixels.dtype == np.uint8 else 1.0
    frame = _border(pixels).astype(np.float32) / np.float32(unit)
    if pixels.shape[2] == 4:
        if np.median(frame[:, 3]) < 0.5:
            return None, True
        opaque = frame[frame[:, 3] >= 0.5]
        return np.median(opaque if len(opaque) else frame, axis=0)[:3], False
    return np.median(frame, axis=0), False


def _frame_is_paper(pixels: np.ndarray, background: np.ndarray | None) -> bool:
    """Whether most of the image's frame is plain paper (or transparent canvas).

    A drawing may touch the frame here and there, but a frame of noise or speckle has no paper colour at all: then
    the "ink" is everywhere and nothing in the image is a drawing.
    """
    frame = _border(pixels)[:, None, :]
    return float(np.mean(_difference(frame, background) <= NOISE_FLOOR)) >= PAPER_FRAME


def _difference(pixels: np.ndarray, background: np.ndarray | None) -> np.ndarray:
    """How far each pixel is from the paper (0-1, largest over the channels), or its opacity."""
    unit = np.float32(255.0 if pixels.dtype == np.uint8 else 1.0)
    if background is None:  # ink on a transparent canvas
        return pixels[..., 3].astype(np.float32) / unit
    if pixels.shape[2] == 4:  # mostly opaque RGBA: composite the transparent pixels onto the paper
        opacity = pixels[..., 3:4].astype(np.float32) / unit
        colour = pixels[..., :3].astype(np.float32) / unit * opacity + background * (1 - opacity)
        return np.abs(colour - background).max(axis=-1)
    if pixels.dtype == np.uint8:  # integer arithmetic on the common case (a canvas screenshot) is faster
        paper = np.round(background * 255).astype(np.int16)
        result = np.abs(pixels[..., 0].astype(np.int16) - paper[0])
        for channel in range(1, pixels.shape[2]):
            np.maximum(result, np.abs(pixels[..., channel].astype(np.int16) - paper[channel]), out=result)
        return result.astype(np.float32) / unit
    return np.abs(pixels.astype(np.float32) - background).max(axis=-1)


def _ink_difference(pixels: np.ndarray, factor: int) -> np.ndarray:
    """The ink difference of the image, reduced by ``factor`` taking each block's strongest ink.

    The strongest ink, not the mean: a thin pen on a big canvas stays a full-strength line instead of fading
    into the noise floor. The image is processed a band of rows at a time, so memory stays small for any size.
    """
    background, _ = _background(pixels)
    if factor == 1:
        return _difference(pixels, background)
    height, width = pixels.shape[:2]
    out_height, out_width = -(-height // factor), -(-width // factor)
    result = np.zeros((out_height, out_width), dtype=np.float32)
    band = max(1, 4096 // (factor * max(1, width // 4096 + 1)))  # output rows per band
    for start in range(0, out_height, band):
        rows = pixels[start * factor : (start + band) * factor]
        diff = _difference(rows, background)
        pad_rows = (-diff.shape[0]) % factor
        pad_cols = (-diff.shape[1]) % factor
        if pad_rows or pad_cols:
            diff = np.pad(diff, ((0, pad_rows), (0, pad_cols)))
        blocks = diff.reshape(diff.shape[0] // factor, factor, diff.shape[1] // factor, factor)
        result[start : start + blocks.shape[0]] = blocks.max(axis=(1, 3))
    return result


def extract_ink(image: np.ndarray) -> Ink:
    """Find the ink of a canvas image, whatever its look.

    The result's coverage is 0 on the background and 1 on full-strength ink, with faint noise
    (below :data:`NOISE_FLOOR`, or an image whose ink contrast is under :data:`MIN_CONTRAST`)
    set to 0. Images larger than :data:`MAX_WORK_SIDE` are reduced first, each block of pixels
    keeping its strongest ink.

    Raises:
        ValueError: for an invalid image (see :func:`validate_image`).
    """
    array = validate_image(image)
    factor = max(1, -(-max(array.shape[:2]) // MAX_WORK_SIDE))
    shape = (-(-array.shape[0] // factor), -(-array.shape[1] // factor))
    if not _frame_is_paper(array, _background(array)[0]):
        return Ink(np.zeros(shape, np.float32), factor)  # noise or speckle everywhere: no drawing on it
    difference = _ink_difference(array, factor)
    candidates = difference[difference > NOISE_FLOOR]
    # A high percentile rather than the max, so one hot pixel cannot set the scale.
    contrast = float(np.percentile(candidates, 98)) if candidates.size else 0.0
    if contrast < MIN_CONTRAST:
        return Ink(np.zeros_like(difference), factor)
    floor = max(NOISE_FLOOR, 0.15 * contrast)
    coverage = (difference - floor) * np.float32(1.0 / (contrast - floor))
    np.clip(coverage, 0.0, 1.0, out=coverage)
    return Ink(coverage, factor)


def ink_box(coverage: np.ndarray) -> Box | None:
    """Where the ink of a coverage map is (pixels above :data:`INK_THRESHOLD`), or None for no ink."""
    return mask_box(coverage > INK_THRESHOLD)


def stroke_width(coverage: np.ndarray) -> float:
    """Estimate the typical stroke width of ink, in pixels.

    Ink of strokes of width w and total length L has area A ≈ wL + πw²/4 (round ends) and
    perimeter P ≈ 2L + πw; solving for w gives the estimate. A is the sum of the coverage and P
    its total variation, which is accurate on anti-aliased images. Returns 0 for no ink.
    """
    area = float(coverage.sum())
    if area <= 0:
        return 0.0
    # Central differences: isotropic, so diagonal edges are measured as well as straight ones.
    # The zero frame counts the edge of ink that touches the border (and allows a 1-px image).
    dy, dx = np.gradient(np.pad(np.asarray(coverage, dtype=np.float32), 1))
    perimeter = float(np.sqrt(dx * dx + dy * dy).sum())
    discriminant = max(perimeter * perimeter / 4 - np.pi * area, 0.0)
    return (perimeter / 2 - np.sqrt(discriminant)) / (np.pi / 2)


def remove_specks(coverage: np.ndarray) -> np.ndarray:
    """Return the coverage without specks: isolated pieces of ink much smaller than a stroke.

    A piece is a connected component of ink; it is a speck when its longest side is under
    :data:`SPECK_FRACTION` of the image's longest side, or under :data:`SPECK_WIDTHS` times
    the stroke width of the rest.
    """
    labels, count = ndimage.label(coverage > 0, structure=np.ones((3, 3)))
    if count == 0:
        return coverage
    slices = ndimage.find_objects(labels)
    extents = np.array([max(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in slices])
    keep = extents >= SPECK_FRACTION * max(coverage.shape)
    if keep.any():
        # Measure the stroke width on the largest piece (cheap, and it is surely a stroke).
        largest = int(np.argmax(extents))
        piece = slices[largest]
        width = stroke_width(np.where(labels[piece] == largest + 1, coverage[piece], 0.0))
        keep &= extents >= SPECK_WIDTHS * width
    if keep.all():
        return coverage
    return np.where(np.isin(labels, np.flatnonzero(keep) + 1), coverage, 0.0).astype(np.float32)


def _resize(coverage: np.ndarray, size: tuple[int, int], box: tuple[float, ...]) -> np.ndarray:
    """Resample the region ``box`` (left, top, right, bottom) to ``size`` (width, height)."""
    image = Image.fromarray(np.ascontiguousarray(coverage, dtype=np.float32), mode="F")
    scale = min((box[2] - box[0]) / size[0], (box[3] - box[1]) / size[1])
    # Area averaging when shrinking (anti-aliasing); bilinear when enlarging.
    method = Image.Resampling.BOX if scale > 1 else Image.Resampling.BILINEAR
    return np.asarray(image.resize(size, method, box=box), dtype=np.float32)


def _set_stroke_width(coverage: np.ndarray, current: float, target: float, core: float = 0.5) -> np.ndarray:
    """Thicken or thin ink from width ``current`` to ``target`` (px), with anti-aliased edges.

    Uses the signed distance to the ink's edge: moving the edge by d px is a disc-shaped
    dilation (d > 0) or erosion (d < 0) of any real radius. Pixels above ``core`` count as
    inside the stroke (lower it for lines thinner than a pixel, which are only partly inked).
    """
    inside = coverage > core
    shift = (target - current) / 2
    # Only one side of the edge moves, so one distance transform is enough: thinning needs
    # the distance from inside pixels to the background, thickening the reverse.
    if shift < 0:
        signed = np.where(inside, ndimage.distance_transform_edt(inside) - 0.5, -1.0)
    else:
        signed = np.where(inside, 1.0, 0.5 - ndimage.distance_transform_edt(~inside))
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


def _ink_length(coverage: np.ndarray, width: float) -> float:
    """How long the ink's strokes would be laid end to end, if they are ``width`` wide (area = w·L + πw²/4)."""
    return (float(coverage.sum()) - np.pi * width * width / 4) / width


def is_texture(coverage: np.ndarray) -> bool:
    """Whether ink is a texture (noise, hatching, an area scribbled over) rather than strokes: far more ink length
    than strokes of its width could lay across its extent (see :data:`MAX_INK_LENGTH`)."""
    box = mask_box(coverage > INK_THRESHOLD)
    if box is None:
        return False
    width = stroke_width(coverage[box.top : box.bottom, box.left : box.right])
    return width > 0 and _ink_length(coverage, width) > MAX_INK_LENGTH * box.longest_side


def _resample(stroke: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` along a stroke, so a pen's jitter between them does not count as turns."""
    distance = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))]
    if distance[-1] < 2 * step:
        return stroke[:0]
    at = np.arange(0.0, distance[-1], step)
    return np.stack([np.interp(at, distance, stroke[:, 0]), np.interp(at, distance, stroke[:, 1])], axis=1)


def sharp_turns(strokes: Strokes) -> int:
    """How often the pen turns back sharply along the strokes (see :data:`MAX_SHARP_TURNS`)."""
    arrays = check_strokes(strokes)
    if not arrays:
        return 0
    points = np.concatenate(arrays)
    step = SHARP_TURN_STEP * max(float(np.ptp(points, axis=0).max()), 1e-6)
    turns = 0
    for stroke in arrays:
        steps = np.diff(_resample(stroke, step), axis=0)
        if len(steps) < 2:
            continue
        heading = np.arctan2(steps[:, 1], steps[:, 0])
        turn = np.abs((np.diff(heading) + np.pi) % (2 * np.pi) - np.pi)
        turns += int(np.sum(turn > np.radians(SHARP_TURN_DEG)))
    return turns


def is_dot(extent: float, width: float) -> bool:
    """Whether ink ``extent`` px across (strokes included) drawn ``width`` px wide is a dot or blob, not a digit."""
    return extent < DOT_EXTENT * width


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
    crop = np.pad(coverage[top:bottom, left:right], pad)
    width = stroke_width(crop)
    if width <= 0 or is_dot(extent, width):
        return None
    if _ink_length(crop, width) > MAX_INK_LENGTH * extent:
        return None  # noise or hatching, not strokes
    # Work at 4× the 20-px box: enough resolution to change the stroke width smoothly.
    scale = WORK_BOX / extent
    if width * scale < MIN_WORK_WIDTH:
        # A thin pen on a big digit would fade to nothing when shrunk: thicken it first, at its own scale.
        crop = _set_stroke_width(crop, width, MIN_WORK_WIDTH / scale, core=THIN_CORE)
    margin = WORK_MARGIN / scale
    border = int(np.ceil(margin)) + 1
    padded = np.pad(crop, border)
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


def strokes_to_mnist(strokes: Strokes, pen_width: float) -> np.ndarray | None:
    """Draw pen strokes directly as an MNIST-style 28×28 image.

    The strokes' bounding box is scaled so that the ink (strokes plus pen width) fills the
    20-px box, and they are drawn with the pen width the drawing would have at that scale,
    brought into MNIST's range; then the digit is centred by mass as in :func:`to_mnist`.

    Returns None when there are no strokes, they make only a dot (see :func:`is_dot`), or they zigzag like a
    scribble (see :func:`sharp_turns`).

    Raises:
        ValueError: for strokes that are not lists of finite (x, y) pairs, or a bad pen width.
    """
    pen_width = check_pen_width(pen_width)
    arrays = check_strokes(strokes)
    if not arrays:
        return None
    points = np.concatenate(arrays)
    low, high = points.min(axis=0), points.max(axis=0)
    extent = float((high - low).max())
    if is_dot(extent + pen_width, pen_width) or sharp_turns(arrays) > MAX_SHARP_TURNS:
        return None
    width = float(np.clip(BOX_SIZE * pen_width / (extent + pen_width), MIN_STROKE_WIDTH, MAX_STROKE_WIDTH))
    scale = (BOX_SIZE - width) / extent
    # One px of margin on each side; coordinates continuous, as on the canvas.
    origin = low - (width / 2 + 1) / scale
    size = np.ceil((high - low) * scale + width + 2).astype(int)
    scaled = CheckedStrokes((a - origin) * scale for a in arrays)
    coverage = render_coverage(scaled, (int(size[0]), int(size[1])), width, supersample=8)
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
