"""Nonsense: drawings that are no digit, which the model is taught to be unsure of.

Scribbles, hatching, spirals, flat lines, zigzags, grids, two digits in one box or over each other, part of a
digit (what a wrong cut between touching digits leaves), and canvases of noise, speckle or blots. Trained towards
equal probabilities for every digit (outlier exposure, Hendrycks et al., 2019), they teach the model to be unsure
of what is not a digit, which lets the pad say "not sure" to a scribble and the number reader tell one digit from
two. Everything is seeded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from digitlib import preprocess
from digitlib.images import to_uint8
from digitlib.pen_augment import CANVAS, Strokes, _box, _line, draw_like_the_pad
from digitlib.pen_digits import PenDigit

#: The label that marks a nonsense image; its training target gives every digit the same probability.
NONSENSE = 10


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
            image = None if mnist is None else to_uint8(mnist)
        if image is not None:
            images.append(image)
    return np.array(images, dtype=np.uint8).reshape(-1, 28, 28)
