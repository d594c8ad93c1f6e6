"""Noise and hatching of any aspect are never read as a sure digit (issue 21).

Seeded random canvases, 1,000 in ``make test`` and 10,000 in ``make fuzz`` (``DIGITLIB_FUZZ_SCALE=10``): gaussian,
uniform, salt-and-pepper and blurred noise, blots, hatching and cross-hatching, 64 to 2,000 px long and of aspect
1:8 to 8:1, dark on light or light on dark, grey or RGB, uint8 or float. Hatching has at least 4 lines and blots
come 3 or more, so none of it is a single bar or dash (which is a fair 1). `predict_image` may find no digit or be
unsure, never sure (`MOST_SURE`). The generator is written here,
apart from `digitlib.nonsense` (what the model was taught with), so the test does not grade the model on its
lessons.
"""

from __future__ import annotations

import os

import numpy as np
from scipy import ndimage

TRIES = 1000 * int(os.environ.get("DIGITLIB_FUZZ_SCALE", "1"))


def canvas_shape(rng: np.random.Generator) -> tuple[int, int]:
    """A height and width from 8 to 2,000 px, of aspect 1:8 to 8:1, the longer side at least 64 px."""
    side = float(np.exp(rng.uniform(np.log(64), np.log(2000))))
    aspect = float(np.exp(rng.uniform(np.log(1 / 8), np.log(8))))
    short = max(8, round(side / aspect if aspect > 1 else side * aspect))
    return (round(side), short) if rng.random() < 0.5 else (short, round(side))


def hatching(shape: tuple[int, int], rng: np.random.Generator, sets: int) -> np.ndarray:
    """``sets`` families of parallel lines (1 or 2: cross-hatching), each at least 4 lines across the canvas."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    ink = np.zeros(shape, bool)
    for _ in range(sets):
        across = 0.0
        while across < 16:  # room for 4 lines at least 4 px apart (a canvas is at least 8 px by 64 px)
            angle = rng.uniform(0, np.pi)
            across = w * abs(np.cos(angle)) + h * abs(np.sin(angle))  # the canvas's extent across the lines
        period = max(4.0, across / rng.uniform(4, 30))
        width = rng.uniform(max(1.5, 0.15 * period), max(1.5, min(0.5 * period, period - 2)))
        ink |= ((xx * np.cos(angle) + yy * np.sin(angle) + rng.uniform(0, period)) % period) < width
    return ink.astype(np.float64)


def blots(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Blurred noise cut at a level: at least 3 separate blots (a lone blot is a dash, the mark a 1 is)."""
    smooth = ndimage.gaussian_filter(rng.random(shape), rng.uniform(1, 6))
    level = rng.uniform(0.5, 0.6)
    while level > 0.5 and ndimage.label(smooth > level)[1] < 3:
        level -= 0.01
    return (smooth > level).astype(np.float64)


def noise_canvas(rng: np.random.Generator) -> np.ndarray:
    shape = canvas_shape(rng)
    kind = int(rng.integers(0, 7))
    if kind == 0:
        ink = rng.normal(rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.4), shape)
    elif kind == 1:
        ink = (rng.random(shape) < rng.uniform(0.01, 0.6)).astype(np.float64)
    elif kind == 2:
        ink = rng.random(shape)
    elif kind == 3:
        ink = ndimage.gaussian_filter(rng.random(shape), rng.uniform(1, 8))
        ink = (ink - ink.min()) / max(float(np.ptp(ink)), 1e-9)
    elif kind == 4:
        ink = blots(shape, rng)
    else:
        ink = hatching(shape, rng, sets=kind - 4)
    ink = ink.clip(0, 1)
    if rng.random() < 0.5:
        ink = 1 - ink  # dark ink on light paper
    if rng.random() < 0.3:
        ink = np.stack([ink] * 3, axis=-1)
    return ink if rng.random() < 0.2 else (ink * 255).astype(np.uint8)


#: The most canvases in a thousand read as sure: none, in make test's 1,000 as in make fuzz's 10,000 (the most
#: confident of make test's is at 0.74, against a threshold of 0.97). The last 3 of 10,000 were a short blot left
#: among specks of nearly its size, twice (`canvas_image.SPECKLE_RATIO`), and a cross-hatched strip 7 times taller
#: than wide (`canvas_image.crossings`).
MOST_SURE = 0


def test_noise_and_hatching_of_any_aspect_are_never_a_sure_digit(recognizer):
    sure = []
    for seed in (0, 1):
        rng = np.random.default_rng(1000 + seed)
        for _ in range(TRIES // 2):
            image = noise_canvas(rng)
            prediction = recognizer.predict_image(image)
            if prediction.is_confident:
                sure.append((image.shape, prediction.digit, round(prediction.confidence, 4)))
    assert len(sure) <= MOST_SURE * TRIES, f"{len(sure)} of {TRIES} noise canvases read as sure: {sure[:5]}"
