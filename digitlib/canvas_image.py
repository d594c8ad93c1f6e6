"""Reading ink off a canvas image, whatever its look: the first step of the MNIST recipe for pixels.

A canvas image may be dark ink on light paper, light on dark, or opaque ink on a transparent canvas (RGBA, what
ipycanvas returns), of any size. `extract_ink` finds its ink as a coverage map (0 paper, 1 full ink), telling faint
noise from ink; `remove_specks` drops isolated dots far smaller than a stroke; `is_texture` tells noise, hatching
and scribbled-over areas from strokes. `digitlib.preprocess` takes the coverage on to the 28×28 image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from digitlib.boxes import Box, mask_box
from digitlib.drawing import CANVAS_SIDES, SPECK_FRACTION

#: Larger images are box-downsampled to at most this side first, so time stays bounded.
MAX_WORK_SIDE = 512
#: An image whose ink differs from the background by less than this (0–1 scale) is blank.
MIN_CONTRAST = 0.2
#: Differences from the background below this (0–1 scale) are noise, not ink.
NOISE_FLOOR = 0.08
#: At least this share of the image's frame must be paper (within the noise floor of its colour); otherwise the
#: image is noise or speckle all over, not a drawing.
PAPER_FRAME = 0.5
#: A pixel is inked (for connected components and bounding boxes) above this coverage.
INK_THRESHOLD = 0.35
#: A connected piece of ink whose longest side is under this many stroke widths is a speck (a pen tap, a stray
#: dot), not part of a digit.
SPECK_WIDTHS = 1.25
#: Ink whose largest mark is under this many times as long as the largest speck dropped from it is speckle (dust,
#: noise, a few blots), not a digit with a tap beside it: a tap is about a pen wide, and a digit is several pen
#: widths tall (the number reader assumes at least 3).
SPECKLE_RATIO = 3.0
#: Ink whose strokes, laid end to end, would be longer than this many times its extent is a texture (noise,
#: hatching, a scribbled-over area, a spiral), not a digit: an 8, the longest digit, is about 4 times its height
#: (the train and tune writers' pen strokes at most 5.5 times); strokes, measured exactly, have a tighter
#: limit (`digitlib.preprocess.MAX_STROKE_LENGTH`).
MAX_INK_LENGTH = 25.0
#: Separate marks one digit may have (a 4 or a 5 drawn in three strokes, a crossed 7, an untidy pen): pieces of its
#: ink, or strokes of one candidate digit and the pieces they leave once cut (the shipped pen digits have at most 3
#: strokes; the candidates cut from the tune writers' digits and numbers at most 10 pieces).
MAX_PARTS = 12
#: Enclosed holes one digit's ink may have: the train writers' digits drawn the pad's way have at most 11 (99% have
#: 4 or fewer: an 8's two loops, and specks of paper where strokes cross); noise has tens to thousands.
MAX_HOLES = 12
#: Ink this many times taller than wide is a 1, or a narrow 3, 6, 8 or 9 drawn with a thin pen: the train and tune
#: writers' digits that narrow are in one piece, with at most 3 holes, ink at most 2.5 times their height, and a
#: column down them crosses their strokes at most 4 times (the median over columns; on the pad, at their own pen and
#: at 2 px). More pieces, holes, ink or crossings than `NARROW_LIMITS` is hatching or noise.
NARROW_ASPECT = 3.0
#: The most pieces, holes, ink length (in heights) and crossings ink of `NARROW_ASPECT` may have.
NARROW_LIMITS = (3, 4, 3.0, 5)
#: One digit's pieces of ink at least half its height tall, for each digit's width of ink: the train and tune
#: writers' digits on the pad have at most 2 (a 4 or an 8 in two strokes); more side by side is hatching. (A
#: number may be that many 1s, so this holds for one digit only.)
MAX_TALL_PARTS = 3


@dataclass(frozen=True)
class CanvasInk:
    """Ink found in a canvas image.

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
    low, high = CANVAS_SIDES
    if min(height, width) < low or max(height, width) > high:
        raise ValueError(f"{expected}, each side {low} to {high} px; got {height}×{width} (resize the image first)")
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
    if pixels.dtype == np.uint8 and background is not None and pixels.shape[2] != 4:
        return _block_difference(pixels, background, factor)
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


def _block_difference(pixels: np.ndarray, background: np.ndarray, factor: int) -> np.ndarray:
    """`_ink_difference` for opaque uint8 images: the same values, from each block's per-channel extremes.

    A block's largest distance from the paper is its brightest or its darkest value in some channel, so the
    image is reduced in uint8 (rows first, which numpy does fast) before any arithmetic: several times faster
    on a photo-sized canvas than taking the difference of every pixel.
    """
    height, width, channels = pixels.shape
    full = height // factor * factor
    highs, lows = [], []
    if full:
        blocks = pixels[:full].reshape(full // factor, factor, width, channels)
        highs.append(blocks.max(axis=1))
        lows.append(blocks.min(axis=1))
    if full < height:
        highs.append(pixels[full:].max(axis=0, keepdims=True))
        lows.append(pixels[full:].min(axis=0, keepdims=True))
    high, low = np.concatenate(highs), np.concatenate(lows)
    paper = np.round(background * 255).astype(np.int16)
    result = np.zeros((high.shape[0], -(-width // factor) * factor), np.int16)  # padded with 0: no ink
    for channel in range(channels):
        np.maximum(result[:, :width], high[..., channel].astype(np.int16) - paper[channel], out=result[:, :width])
        np.maximum(result[:, :width], paper[channel] - low[..., channel].astype(np.int16), out=result[:, :width])
    blocks = result.reshape(result.shape[0], -1, factor).max(axis=2)
    return blocks.astype(np.float32) / np.float32(255.0)


def extract_ink(image: np.ndarray) -> CanvasInk:
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
        return CanvasInk(np.zeros(shape, np.float32), factor)  # noise or speckle everywhere: no drawing on it
    difference = _ink_difference(array, factor)
    if factor > 1 and np.mean(_border(difference[..., None]) <= NOISE_FLOOR) < PAPER_FRAME:
        # Speckle sparse enough to leave the frame paper fills every block once reduced: still no drawing.
        return CanvasInk(np.zeros_like(difference), factor)
    candidates = difference[difference > NOISE_FLOOR]
    # A high percentile rather than the max, so one hot pixel cannot set the scale.
    contrast = float(np.percentile(candidates, 98)) if candidates.size else 0.0
    if contrast < MIN_CONTRAST:
        return CanvasInk(np.zeros_like(difference), factor)
    floor = max(NOISE_FLOOR, 0.15 * contrast)
    coverage = (difference - floor) * np.float32(1.0 / (contrast - floor))
    np.clip(coverage, 0.0, 1.0, out=coverage)
    return CanvasInk(coverage, factor)


def ink_box(coverage: np.ndarray) -> Box | None:
    """Where the ink of a coverage map is (pixels above :data:`INK_THRESHOLD`), or None for no ink."""
    return mask_box(coverage > INK_THRESHOLD)


def with_frame(image: np.ndarray, width: int, dtype: type | None = None) -> np.ndarray:
    """``image`` (2-D) inside a frame of zeros ``width`` px wide: ``np.pad(image, width)``, at a fraction of its
    cost (it is called for every candidate digit of a number)."""
    height, across = image.shape
    framed = np.zeros((height + 2 * width, across + 2 * width), dtype=dtype or image.dtype)
    framed[width : width + height, width : width + across] = image
    return framed


def stroke_width(coverage: np.ndarray) -> float:
    """Estimate the typical stroke width of ink, in pixels.

    Ink of strokes of width w and total length L has area A ≈ wL + πw²/4 (round ends) and
    perimeter P ≈ 2L + πw; solving for w gives the estimate. A is the sum of the coverage and P
    its total variation, which is accurate on anti-aliased images. Returns 0 for no ink.
    """
    area = float(coverage.sum())
    if area <= 0:
        return 0.0
    # Central differences (np.gradient's, written out: it costs more than the rest): isotropic, so diagonal edges
    # are measured as well as straight ones. The zero frame counts the edge of ink that touches the border.
    framed = with_frame(coverage, 1, np.float32)
    dy, dx = np.empty_like(framed), np.empty_like(framed)
    dy[1:-1], dx[:, 1:-1] = (framed[2:] - framed[:-2]) / 2.0, (framed[:, 2:] - framed[:, :-2]) / 2.0
    dy[0], dy[-1] = framed[1] - framed[0], framed[-1] - framed[-2]
    dx[:, 0], dx[:, -1] = framed[:, 1] - framed[:, 0], framed[:, -1] - framed[:, -2]
    perimeter = float(np.sqrt(dx * dx + dy * dy).sum())
    discriminant = max(perimeter * perimeter / 4 - np.pi * area, 0.0)
    return (perimeter / 2 - np.sqrt(discriminant)) / (np.pi / 2)


def remove_specks(coverage: np.ndarray) -> np.ndarray:
    """Return the coverage without specks: isolated pieces of ink much smaller than a stroke.

    A piece is a connected component of ink; it is a speck when its longest side is under
    :data:`SPECK_FRACTION` of the image's longest side, or under :data:`SPECK_WIDTHS` times
    the stroke width of the rest. When what is left is hardly larger than the specks (`SPECKLE_RATIO`), it is all
    speckle, and no ink is left.
    """
    inked = coverage > 0
    box = mask_box(inked)
    if box is None:
        return coverage
    region = (slice(box.top, box.bottom), slice(box.left, box.right))  # label only where there is ink: it is cheaper
    labels, count = ndimage.label(inked[region], structure=np.ones((3, 3)))
    slices = ndimage.find_objects(labels)
    extents = np.array([max(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in slices])
    keep = extents >= SPECK_FRACTION * max(coverage.shape)
    if keep.any():
        # Measure the stroke width on the largest piece (cheap, and it is surely a stroke).
        largest = int(np.argmax(extents))
        piece = slices[largest]
        width = stroke_width(np.where(labels[piece] == largest + 1, coverage[region][piece], 0.0))
        keep &= extents >= SPECK_WIDTHS * width
    if keep.all():
        return coverage
    cleaned = np.zeros(coverage.shape, dtype=np.float32)
    if not keep.any() or extents[keep].max() < SPECKLE_RATIO * extents[~keep].max():
        return cleaned
    cleaned[region] = np.where(np.isin(labels, np.flatnonzero(keep) + 1), coverage[region], 0.0)
    return cleaned


def ink_length(coverage: np.ndarray, width: float) -> float:
    """How long the ink's strokes would be laid end to end, if they are ``width`` wide (area = w·L + πw²/4)."""
    return (float(coverage.sum()) - np.pi * width * width / 4) / width


def holes(mask: np.ndarray) -> int:
    """How many separate pieces of paper the ink encloses (an 8 has two, noise has hundreds)."""
    paper, count = ndimage.label(~mask)  # 4-connected paper: ink touching at a corner still closes a hole
    if not count:
        return 0
    edge = np.unique(np.concatenate([paper[0], paper[-1], paper[:, 0], paper[:, -1]]))
    return count - int(np.count_nonzero(edge))


def crossings(mask: np.ndarray) -> float:
    """How many strokes a line down the ink crosses: the median over its columns (a 1 once, an 8 three times)."""
    starts = np.count_nonzero(mask[1:] & ~mask[:-1], axis=0) + mask[0]
    return float(np.median(starts))


def is_texture(coverage: np.ndarray, one_digit: bool = False) -> bool:
    """Whether ink is a texture (noise, hatching, an area scribbled over) rather than strokes: far more ink length
    than strokes of its width could lay across its extent (`MAX_INK_LENGTH`), or far more enclosed holes than
    digits have (`MAX_HOLES` for each digit's width of ink), or far more separate marks (`MAX_PARTS`); ink as narrow
    as a 1 must be in a few pieces, with few holes (`NARROW_LIMITS`). Ink read as ``one_digit`` may also have only a
    few tall pieces side by side (`MAX_TALL_PARTS`)."""
    mask = coverage > INK_THRESHOLD
    box = mask_box(mask)
    if box is None:
        return False
    width = stroke_width(coverage[box.top : box.bottom, box.left : box.right])
    length = ink_length(coverage, width) if width > 0 else 0.0
    if length > MAX_INK_LENGTH * box.longest_side:
        return True
    digits_across = max(1.0, box.width / max(box.height, 1))
    inked = mask[box.top : box.bottom, box.left : box.right]
    visible = coverage[box.top : box.bottom, box.left : box.right] > NOISE_FLOOR  # a 1-px line is one mark
    labels, parts = ndimage.label(visible, structure=np.ones((3, 3)))
    if one_digit and parts > MAX_TALL_PARTS:
        heights = [piece[0].stop - piece[0].start for piece in ndimage.find_objects(labels)]
        if sum(height >= box.height / 2 for height in heights) > MAX_TALL_PARTS * digits_across:
            return True
    if box.height >= NARROW_ASPECT * box.width:  # only a 1 or a thin 6, 8, 9 is this narrow
        most_parts, most_holes, most_length, most_crossings = NARROW_LIMITS
        return (
            parts > most_parts
            or length > most_length * box.height
            or holes(inked) > most_holes
            or crossings(inked) > most_crossings
        )
    if parts > MAX_PARTS * digits_across:
        return True
    return holes(inked) > MAX_HOLES * digits_across
