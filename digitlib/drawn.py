"""Training images the way the pad makes them: real pen digits, handwriting styles MNIST lacks, and nonsense.

MNIST alone teaches a model American handwriting on paper, scanned. The pad shows it other things:

- **real pen digits** (`digitlib.pen_digits`), drawn as the pad draws them: a random size and place on the
  canvas, a random pen width, a little rotation and slant, then through the very path to 28×28 that the pad
  (`preprocess.strokes_to_mnist`) or a canvas image (`preprocess.to_mnist`) takes;
- **styles that MNIST lacks but many people write** (`add_style`): slashed, dotted and barred zeros, ones with a
  long flag and a foot, crossed sevens, open fours;
- **nonsense** (`nonsense_strokes`, `nonsense_image`): scribbles, hatching, spirals, flat lines, noise, and two
  digits squeezed into one box. Trained towards equal probabilities for every digit (outlier exposure, Hendrycks
  et al., 2019), they teach the model to be unsure of what is not a digit, which is what lets the pad say "not
  sure" to a scribble and lets the number reader tell one digit from two.

Everything is seeded: the same seed gives the same images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from digitlib import preprocess
from digitlib.pen_digits import PenDigit
from digitlib.render import LOOKS, CheckedStrokes, render_strokes

CANVAS = 280
#: The pad's pen widths (px on a 280-px canvas), and the share of drawings read from pixels (the rest from strokes).
PEN_RANGE = (6.0, 40.0)
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
#: The label that marks a nonsense image; its training target gives every digit the same probability.
NONSENSE = 10

Strokes = list[np.ndarray]


def transform_strokes(strokes: Sequence[np.ndarray], rng: np.random.Generator, bend: bool = False) -> Strokes:
    """Strokes as another hand might have drawn them: rotated, slanted and squeezed a little about their centre,
    and (with ``bend``) bent by a smooth random displacement, which changes loops, curves and where strokes meet
    as affine changes cannot (the "elastic distortion" of Simard et al., 2003, done on the pen's path)."""
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    size = float(max((high - low).max(), 1e-6))
    angle = np.radians(rng.uniform(-ROTATION_DEG, ROTATION_DEG))
    shear = rng.uniform(-SHEAR, SHEAR)
    aspect = rng.uniform(-ASPECT, ASPECT)
    cos, sin = np.cos(angle), np.sin(angle)
    matrix = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, shear], [0.0, 1.0]])
    matrix = matrix @ np.diag([1.0 + aspect, 1.0 - aspect])
    moved = [(s - centre) @ matrix.T for s in strokes]
    if not bend:
        return moved
    # A few waves of about a digit's size, each moving points by up to BEND of the digit's size.
    waves = rng.normal(0, 1, (BEND_WAVES, 2, 2)) * (2 * np.pi / size)  # (wave, axis of movement, x/y frequency)
    phases = rng.uniform(0, 2 * np.pi, (BEND_WAVES, 2))
    amplitude = rng.uniform(0, BEND) * size / np.sqrt(BEND_WAVES)

    def bent(stroke: np.ndarray) -> np.ndarray:
        shift = np.sin(np.einsum("nd,wad->nwa", stroke, waves) + phases).sum(axis=1)
        return stroke + amplitude * shift

    return [bent(s) for s in moved]


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
    pen = float(rng.uniform(*PEN_RANGE)) if pen is None else pen
    low, high = _box(strokes)
    size = np.maximum(high - low, 1e-6)
    height = rng.uniform(0.35, 0.9) * canvas
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
    from_pixels = rng.random() < PIXEL_SHARE if from_pixels is None else from_pixels
    if from_pixels:
        look = LOOKS[int(rng.integers(len(LOOKS)))]
        image = preprocess.to_mnist(render_strokes(placed, CANVAS, pen, look))
    else:
        image = preprocess.strokes_to_mnist(CheckedStrokes(placed), pen)
    return None if image is None else np.round(image * 255).astype(np.uint8)


def render_pen_digits(
    samples: Sequence[PenDigit], copies: int, seed: int, styles: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``copies`` drawings of each sample, each with its own size, place, pen, slant and (sometimes) style.

    Returns uint8 images (N, 28, 28) and their labels (N,).
    """
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for sample in samples:
        for _ in range(copies):
            strokes = transform_strokes(sample.strokes, rng)
            if styles and sample.label in (0, 1, 4, 7) and rng.random() < STYLE_PROB:
                strokes = add_style(strokes, sample.label, rng)
            image = draw_like_the_pad(strokes, rng)
            if image is not None:
                images.append(image)
                labels.append(sample.label)
    return np.array(images, dtype=np.uint8).reshape(-1, 28, 28), np.array(labels, dtype=np.int64)


# -- nonsense -------------------------------------------------------------------------------------------------


def _smooth_walk(rng: np.random.Generator, points: int, turn: float) -> np.ndarray:
    """A pen wandering about: a random walk whose heading changes by up to ``turn`` radians a step."""
    heading = np.cumsum(rng.normal(0, turn, points)) + rng.uniform(0, 2 * np.pi)
    steps = np.stack([np.cos(heading), np.sin(heading)], axis=1) * rng.uniform(0.5, 1.5, (points, 1))
    return np.cumsum(steps, axis=0)


def _band(stroke: np.ndarray, left: float, right: float) -> Strokes:
    """The pieces of a polyline with left <= x < right (its points outside dropped, crossings kept)."""
    inside = (stroke[:, 0] >= left) & (stroke[:, 0] < right)
    pieces, current = [], []
    for point, keep in zip(stroke, inside, strict=True):
        if keep:
            current.append(point)
        elif current:
            pieces.append(np.array(current))
            current = []
    if current:
        pieces.append(np.array(current))
    return [p for p in pieces if len(p) >= 2]


def nonsense_strokes(rng: np.random.Generator, digits: Sequence[PenDigit] = ()) -> Strokes:
    """Strokes that are no digit: scribbles, hatching, spirals, flat lines, a grid, two digits in one, or part of
    a digit (what a wrong cut between touching digits leaves)."""
    kinds = ["scribble", "hatching", "spiral", "flat", "zigzag", "grid", "loops"]
    if len(digits) >= 2:
        kinds += ["pair", "pair", "overlaid", "fragment", "fragment", "fragment"]
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "scribble":
        return [_smooth_walk(rng, int(rng.integers(60, 300)), rng.uniform(0.3, 1.2)) for _ in range(rng.integers(1, 4))]
    if kind == "hatching":
        count, angle = int(rng.integers(5, 14)), rng.uniform(0, np.pi)
        direction = np.array([np.cos(angle), np.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        return [_line(normal * i - direction * 5, normal * i + direction * 5, 4) for i in np.linspace(-5, 5, count)]
    if kind == "spiral":
        turns = rng.uniform(2.5, 6)
        t = np.linspace(0, turns * 2 * np.pi, int(60 * turns))
        radius = t * rng.uniform(0.8, 1.2)
        return [np.stack([radius * np.cos(t), radius * np.sin(t) * rng.uniform(0.6, 1.4)], axis=1)]
    if kind == "flat":
        # Lines far from upright (an upright line is a 1): dashes, underlines, a minus sign.
        angle = np.radians(rng.uniform(-30, 30) + (180 if rng.random() < 0.5 else 0))
        length = rng.uniform(5, 20)
        lines = [_line((0, 0), (length * np.cos(angle), length * np.sin(angle)))]
        if rng.random() < 0.3:  # an equals sign
            lines.append(lines[0] + [rng.uniform(-1, 1), length * rng.uniform(0.2, 0.4)])
        return lines
    if kind == "zigzag":
        count = int(rng.integers(6, 16))
        xs = np.arange(count) * rng.uniform(0.5, 1.5)
        ys = np.where(np.arange(count) % 2 == 0, 0.0, rng.uniform(2, 6)) + rng.normal(0, 0.3, count)
        points = np.stack([xs, ys], axis=1)
        return [points if rng.random() < 0.5 else points[:, ::-1]]
    if kind == "grid":
        n = int(rng.integers(3, 6))
        lines = [_line((i, 0), (i, n - 1), 4) for i in range(n)] + [_line((0, j), (n - 1, j), 4) for j in range(n)]
        return lines
    if kind == "loops":
        t = np.linspace(0, rng.uniform(3, 7) * 2 * np.pi, 300)
        return [np.stack([t * rng.uniform(0.3, 0.8) + 3 * np.cos(t), 3 * np.sin(t)], axis=1)]
    if kind == "fragment":
        # Part of a digit cut off by a vertical line, as a wrong cut between touching digits leaves it.
        strokes = list(digits[int(rng.integers(len(digits)))].strokes)
        (x0, _), (x1, _) = _box(strokes)
        cut = x0 + rng.uniform(0.15, 0.85) * (x1 - x0)
        keep_left = rng.random() < 0.5
        parts = [_band(s, -np.inf, cut) if keep_left else _band(s, cut, np.inf) for s in strokes]
        parts = [p for piece in parts for p in piece]
        return parts if parts else strokes[:1]
    first, second = (digits[int(i)] for i in rng.choice(len(digits), 2, replace=False))
    a, b = list(first.strokes), list(second.strokes)
    (ax0, _), (ax1, _) = _box(a)
    (bx0, _), _ = _box(b)
    if kind == "overlaid":  # one digit written over another
        return a + [s + rng.uniform(-100, 100, 2) for s in b]
    # Two digits side by side, near enough to be taken for one.
    shift = ax1 - bx0 + rng.uniform(-80, 150)
    return a + [s + [shift, rng.uniform(-60, 60)] for s in b]


def nonsense_image(rng: np.random.Generator) -> np.ndarray:
    """A canvas with no digit on it: noise, speckle, a blot, a smudge or a gradient (uint8 RGB, 280×280)."""
    kind = ["uniform", "speckle", "blot", "gradient", "blocks"][int(rng.integers(5))]
    size = (CANVAS, CANVAS)
    if kind == "uniform":
        return rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    if kind == "speckle":
        canvas = np.full((*size, 3), 255, np.uint8)
        canvas[rng.random(size) < rng.uniform(0.02, 0.3)] = 0
        return canvas
    if kind == "blot":
        yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
        centre = rng.uniform(60, 220, 2)
        radius = rng.uniform(20, 90)
        wobble = 1 + 0.3 * np.sin(np.arctan2(yy - centre[0], xx - centre[1]) * rng.integers(2, 6))
        inside = np.hypot(yy - centre[0], xx - centre[1]) < radius * wobble
        return np.repeat(np.where(inside, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    if kind == "gradient":
        ramp = np.linspace(0, 255, size[1])[None, :] * np.ones((size[0], 1))
        return np.repeat(ramp.astype(np.uint8)[..., None], 3, axis=-1)
    small = rng.integers(0, 2, (int(rng.integers(3, 10)),) * 2) * 255
    return np.repeat(np.kron(small, np.ones((CANVAS // len(small) + 1,) * 2))[:CANVAS, :CANVAS, None], 3, -1).astype(
        np.uint8
    )


def render_nonsense(count: int, seed: int, digits: Sequence[PenDigit] = ()) -> np.ndarray:
    """``count`` nonsense images (uint8 (N, 28, 28)) as the pad would make them; drawings the pad rejects on
    its own (a dot, pure noise) are skipped, so fewer may come back."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        if rng.random() < 0.85:
            image = draw_like_the_pad(nonsense_strokes(rng, digits), rng)
        else:
            mnist = preprocess.to_mnist(nonsense_image(rng))
            image = None if mnist is None else np.round(mnist * 255).astype(np.uint8)
        if image is not None:
            images.append(image)
    return np.array(images, dtype=np.uint8).reshape(-1, 28, 28)
