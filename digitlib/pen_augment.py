"""Pen digits as other hands and other pads would give them: stroke-space augmentation, and drawing the pad's way.

MNIST alone teaches a model American handwriting on paper, scanned. The pad shows it other things, so training
draws the real pen digits (`digitlib.pen_digits`) as the pad draws them:

- `transform_strokes`: rotated, slanted, squeezed and bent a little, as another hand might have drawn them;
- `add_style`: styles MNIST lacks but many people write (slashed, dotted and barred zeros, flagged ones, crossed
  sevens, open fours);
- `draw_like_the_pad`: at a random size and place on the canvas with a random pen, then through the very path to
  28×28 that the pad (`preprocess.strokes_to_mnist`) or a canvas image (`preprocess.to_mnist`) takes.

Everything is seeded: the same generator state gives the same drawings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from digitlib import preprocess
from digitlib.drawing import PAD_PEN_WIDTHS, Drawing
from digitlib.images import to_uint8
from digitlib.pen_digits import PenDigit
from digitlib.render import LOOKS, render_drawing

#: The canvas training drawings are placed on, px (the pad's default).
CANVAS = 280
#: The share of training drawings read from pixels (the rest from strokes).
PIXEL_SHARE = 0.4
#: Random changes to each drawing's strokes before it is drawn.
ROTATION_DEG = 10.0
SHEAR = 0.25
ASPECT = 0.15
#: The smooth bending of `transform_strokes`: waves summed, and the largest shift as a share of the digit's size.
BEND_WAVES = 3
BEND = 0.08
#: Share of the 0s, 1s, 4s and 7s given a style MNIST lacks.
STYLE_PROB = 0.3
#: Per-stroke jitter and re-spacing of points, as shares of the digit's size: both helped on the tune writers in
#: two seeds (docs/measurements.md); a smooth bend did not, so it is off.
JITTER = 0.05
RESAMPLE = 0.06
#: A drawing's height on the canvas, as a share of the canvas.
HEIGHT_RANGE = (0.35, 0.9)

Strokes = list[np.ndarray]


def transform_strokes(
    strokes: Sequence[np.ndarray], rng: np.random.Generator, bend: bool = False, settings: PenAugment | None = None
) -> Strokes:
    """Strokes as another hand might have drawn them: rotated, slanted and squeezed a little about their centre
    (by `settings`, a `PenAugment`; the defaults without), and (with ``bend``) bent by a smooth random
    displacement, which changes loops, curves and where strokes meet as affine changes cannot (the "elastic
    distortion" of Simard et al., 2003, done on the pen's path)."""
    settings = settings or PenAugment(bend=BEND)
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    size = float(max((high - low).max(), 1e-6))
    angle = np.radians(rng.uniform(-settings.rotation_deg, settings.rotation_deg))
    shear = rng.uniform(-settings.shear, settings.shear)
    aspect = rng.uniform(-settings.aspect, settings.aspect)
    cos, sin = np.cos(angle), np.sin(angle)
    matrix = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, shear], [0.0, 1.0]])
    matrix = matrix @ np.diag([1.0 + aspect, 1.0 - aspect])
    moved = [(s - centre) @ matrix.T for s in strokes]
    if not bend:
        return moved
    # A few waves of about a digit's size, each moving points by up to BEND of the digit's size.
    waves = rng.normal(0, 1, (BEND_WAVES, 2, 2)) * (2 * np.pi / size)  # (wave, axis of movement, x/y frequency)
    phases = rng.uniform(0, 2 * np.pi, (BEND_WAVES, 2))
    amplitude = rng.uniform(0, settings.bend or BEND) * size / np.sqrt(BEND_WAVES)

    def bent(stroke: np.ndarray) -> np.ndarray:
        shift = np.sin(np.einsum("nd,wad->nwa", stroke, waves) + phases).sum(axis=1)
        return stroke + amplitude * shift

    return [bent(s) for s in moved]


@dataclass(frozen=True)
class PenAugment:
    """How much training varies each pen digit in stroke space, the way people and tablets vary (each drawn
    uniformly per drawing; 0 turns a change off)."""

    rotation_deg: float = ROTATION_DEG  # ± degrees, the whole digit
    shear: float = SHEAR  # ± slant
    aspect: float = ASPECT  # ± relative change of width against height
    bend: float = 0.0  # the largest smooth displacement, as a share of the digit's size (`transform_strokes`)
    jitter: float = JITTER  # each stroke moved on its own by up to this share of the digit's size, and turned a little
    resample: float = RESAMPLE  # points re-spaced along each stroke, up to this share of the digit's size apart
    styles: float = STYLE_PROB  # share of the 0s, 1s, 4s and 7s given a style MNIST lacks (`add_style`)

    def to_dict(self) -> dict:
        return asdict(self)


def jitter_strokes(strokes: Sequence[np.ndarray], rng: np.random.Generator, amount: float) -> Strokes:
    """Each stroke moved on its own by up to ``amount`` of the digit's size, and turned and scaled a little about
    its centre: where a 4's or a 5's strokes meet differs from hand to hand and from one drawing to the next."""
    low, high = _box(strokes)
    size = float(max((high - low).max(), 1e-6))
    moved = []
    for stroke in strokes:
        centre = stroke.mean(axis=0)
        angle = np.radians(rng.uniform(-3 * amount / 0.05, 3 * amount / 0.05))
        scale = 1 + rng.uniform(-amount, amount)
        cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
        shift = rng.uniform(-amount, amount, 2) * size
        moved.append((stroke - centre) @ np.array([[cos, sin], [-sin, cos]]) + centre + shift)
    return moved


def resample_strokes(strokes: Sequence[np.ndarray], rng: np.random.Generator, largest: float) -> Strokes:
    """Each stroke's path re-sampled at a random spacing up to ``largest`` of the digit's size (its ends kept):
    a coarse tablet, or a fast pen on a mouse-driven canvas, gives few points and straight segments."""
    low, high = _box(strokes)
    step = rng.uniform(0.005, largest) * float(max((high - low).max(), 1e-6))
    out = []
    for stroke in strokes:
        distance = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))]
        if len(stroke) < 3 or distance[-1] <= step:
            out.append(stroke)
            continue
        at = np.r_[np.arange(0.0, distance[-1], step), distance[-1]]
        out.append(np.stack([np.interp(at, distance, stroke[:, 0]), np.interp(at, distance, stroke[:, 1])], axis=1))
    return out


def vary(strokes: Sequence[np.ndarray], label: int, rng: np.random.Generator, augment: PenAugment) -> Strokes:
    """A pen digit as another hand and another pad might give it (`PenAugment`)."""
    strokes = transform_strokes(strokes, rng, bend=augment.bend > 0, settings=augment)
    if augment.jitter > 0 and len(strokes) > 1:
        strokes = jitter_strokes(strokes, rng, augment.jitter)
    if augment.resample > 0:
        strokes = resample_strokes(strokes, rng, augment.resample)
    if augment.styles > 0 and label in (0, 1, 4, 7) and rng.random() < augment.styles:
        strokes = add_style(strokes, label, rng)
    return strokes


def _box(strokes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    points = np.concatenate(strokes)
    return points.min(axis=0), points.max(axis=0)


def _line(a, b, n: int = 8) -> np.ndarray:
    return np.linspace(np.asarray(a, float), np.asarray(b, float), n)


def add_style(strokes: Sequence[np.ndarray], label: int, rng: np.random.Generator) -> Strokes:
    """Strokes of a digit with a style MNIST lacks added, where one exists for ``label`` (else unchanged).

    0: a slash (Ø), a dot or a bar inside; 1: a long flag up to the top, a foot, or both; 7: a bar across the
    stem; 4: opened at the top (the two upper strokes do not meet). Coordinates are the digit's own (y down).
    """
    strokes = [np.asarray(s, float) for s in strokes]
    (x0, y0), (x1, y1) = _box(strokes)
    w, h = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
    if label == 0:
        kind = rng.choice(["slash", "dot", "bar"], p=[0.6, 0.2, 0.2])
        if kind == "slash":
            jitter = rng.uniform(-0.1, 0.1, 4) * [w, h, w, h]
            strokes.append(
                _line((x0 + jitter[0], y1 + 0.05 * h + jitter[1]), (x1 + jitter[2], y0 - 0.05 * h + jitter[3]))
            )
        elif kind == "dot":
            centre = (x0 + w / 2 + rng.uniform(-0.05, 0.05) * w, y0 + h / 2 + rng.uniform(-0.05, 0.05) * h)
            strokes.append(np.array([centre]))
        else:
            x = x0 + w / 2 + rng.uniform(-0.05, 0.05) * w
            strokes.append(_line((x, y0 + 0.3 * h), (x, y1 - 0.3 * h)))
    elif label == 1:
        kind = rng.choice(["flag", "foot", "both"], p=[0.6, 0.15, 0.25])
        top = strokes[0][np.argmin(strokes[0][:, 1])]
        bottom = strokes[-1][np.argmax(strokes[-1][:, 1])]
        if kind in ("flag", "both"):
            # A European 1: a long up-stroke from the left into the top of the stem, drawn first.
            reach = rng.uniform(0.2, 0.7) * h
            drop = rng.uniform(0.1, 0.45) * h
            strokes.insert(0, _line((top[0] - reach, top[1] + drop), top))
        if kind in ("foot", "both"):
            half = rng.uniform(0.15, 0.3) * h
            strokes.append(_line((bottom[0] - half, bottom[1]), (bottom[0] + half, bottom[1])))
    elif label == 7:
        # The stem's x at mid-height, and a bar across it.
        middle = y0 + rng.uniform(0.45, 0.6) * h
        points = np.concatenate(strokes)
        near = points[np.abs(points[:, 1] - middle) < 0.12 * h]
        x = float(near[:, 0].mean()) if len(near) else x0 + w / 2
        half = rng.uniform(0.2, 0.35) * max(w, 0.5 * h)
        tilt = rng.uniform(-0.05, 0.05) * h
        strokes.append(_line((x - half, middle + tilt), (x + half, middle - tilt)))
    elif label == 4:
        # Open the top: drop the points of the topmost 25% of the drawing from the stroke that holds the apex.
        cut = y0 + rng.uniform(0.15, 0.3) * h
        kept = []
        for stroke in strokes:
            above = stroke[:, 1] < cut
            if above.all() or not above.any() or len(strokes) < 2:
                kept.append(stroke)
                continue
            kept.append(stroke[~above])
        strokes = [s for s in kept if len(s)]
    return strokes


def place_on_canvas(
    strokes: Sequence[np.ndarray], rng: np.random.Generator, canvas: int = CANVAS, pen: float | None = None
) -> tuple[Strokes, float]:
    """Strokes scaled and moved to a random size and place on a canvas, and the pen they are drawn with."""
    pen = float(rng.uniform(*PAD_PEN_WIDTHS)) if pen is None else pen
    low, high = _box(strokes)
    size = np.maximum(high - low, 1e-6)
    height = rng.uniform(*HEIGHT_RANGE) * canvas
    scale = min(height / size[1], (canvas - pen - 4) / size[0])
    span = size * scale
    room = np.maximum(canvas - pen - 4 - span, 0)
    origin = pen / 2 + 2 + rng.uniform(0, 1, 2) * room
    return [(s - low) * scale + origin for s in strokes], pen


def draw_like_the_pad(
    strokes: Sequence[np.ndarray], rng: np.random.Generator, from_pixels: bool | None = None
) -> np.ndarray | None:
    """A drawing on a random place of the pad, made 28×28 the way the pad or a canvas image makes it.

    From its strokes (`preprocess.strokes_to_mnist`, what the pad does) or, with ``from_pixels``, from the canvas
    image in a random look (`preprocess.to_mnist`). Returns uint8 (28, 28), or None when there is nothing to read.
    """
    placed, pen = place_on_canvas(strokes, rng)
    drawing = Drawing._trusted([np.asarray(s, np.float64) for s in placed], (CANVAS, CANVAS), pen)
    from_pixels = rng.random() < PIXEL_SHARE if from_pixels is None else from_pixels
    if from_pixels:
        look = LOOKS[int(rng.integers(len(LOOKS)))]
        image = preprocess.to_mnist(render_drawing(drawing, look))
    else:
        image = preprocess.strokes_to_mnist(drawing)
    return None if image is None else to_uint8(image)


def render_pen_digits(
    samples: Sequence[PenDigit], copies: int, seed: int, styles: bool = True, augment: PenAugment | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``copies`` drawings of each sample, each varied (`vary`, by ``augment``; without ``styles``, no style is
    added) and drawn at its own size, place and pen.

    Returns uint8 images (N, 28, 28) and their labels (N,).
    """
    augment = augment or PenAugment()
    if not styles:
        augment = PenAugment(**{**augment.to_dict(), "styles": 0.0})
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for sample in samples:
        for _ in range(copies):
            strokes = vary(sample.strokes, sample.label, rng, augment)
            image = draw_like_the_pad(strokes, rng)
            if image is not None:
                images.append(image)
                labels.append(sample.label)
    return np.array(images, dtype=np.uint8).reshape(-1, 28, 28), np.array(labels, dtype=np.int64)
