"""digitlib.render draws strokes as the pad's browser canvas shows them."""

from __future__ import annotations

import numpy as np
import pytest

from digitlib.drawing import CANVAS_SIDES, PEN_WIDTHS, Drawing, DrawingError, canvas_size, clip_strokes, pen_width
from digitlib.examples import fit_strokes, template_strokes
from digitlib.render import LOOKS, coverage_to_look, render_coverage, render_drawing, render_strokes

HORIZONTAL = [[(60.0, 100.0), (200.0, 100.0)]]


def render_coverage_of(strokes, canvas, pen):
    drawing = Drawing(strokes, canvas, pen)
    return render_coverage(drawing.strokes, drawing.canvas, drawing.pen)


def test_each_look_has_its_channels_and_background():
    dark = render_strokes(HORIZONTAL, 280, 12, "dark_on_light")
    light = render_strokes(HORIZONTAL, 280, 12, "light_on_dark")
    clear = render_strokes(HORIZONTAL, 280, 12, "transparent")
    assert dark.shape == light.shape == (280, 280, 3)
    assert clear.shape == (280, 280, 4)
    assert dark.dtype == light.dtype == clear.dtype == np.uint8
    assert dark[0, 0].tolist() == [255, 255, 255] and dark[100, 130].tolist() == [0, 0, 0]
    assert light[0, 0].tolist() == [0, 0, 0] and light[100, 130].tolist() == [255, 255, 255]
    # Transparent canvas: nothing painted is (0, 0, 0, 0); ink is opaque black.
    assert clear[0, 0].tolist() == [0, 0, 0, 0] and clear[100, 130].tolist() == [0, 0, 0, 255]
    np.testing.assert_array_equal(light, 255 - dark)
    np.testing.assert_array_equal(clear[..., 3], light[..., 0])


def test_pen_width_round_caps_and_anti_aliasing():
    pen = 14
    coverage = render_coverage_of(HORIZONTAL, 280, pen)
    # Across the line, the ink adds up to the pen's width.
    assert coverage[:, 130].sum() == pytest.approx(pen, abs=0.6)
    # Round caps: the ink reaches half a pen width beyond each end point, and no further.
    row = coverage[100]
    inked = np.flatnonzero(row > 0.5)
    assert inked[0] == pytest.approx(60 - pen / 2, abs=1.0)
    assert inked[-1] == pytest.approx(200 + pen / 2, abs=1.0)
    # Anti-aliased: the edges have grey levels, not just 0 and 1.
    assert np.any((coverage > 0.1) & (coverage < 0.9))


def test_dot_is_a_disc_of_the_pen_diameter():
    coverage = render_coverage_of([[(50.0, 50.0)]], 100, 20)
    assert coverage.sum() == pytest.approx(np.pi * 10**2, rel=0.05)


def test_canvas_size_is_width_then_height():
    assert canvas_size((300, 200)) == (300, 200)
    assert canvas_size(28) == (28, 28)
    image = render_strokes([[(250.0, 20.0), (290.0, 20.0)]], (300, 200), 6)
    assert image.shape == (200, 300, 3)
    assert image[20, 270].tolist() == [0, 0, 0]


def test_points_outside_the_canvas_are_clipped():
    image = render_strokes([[(-50.0, 50.0), (400.0, 50.0)]], 100, 10)
    assert image.shape == (100, 100, 3)
    assert (image[50, :, 0] == 0).all()


@pytest.mark.parametrize(
    ("strokes", "pen", "look"),
    [
        ([[(1, 2, 3)]], 10, "dark_on_light"),
        ([[(1.0, float("nan"))]], 10, "dark_on_light"),
        (["abc"], 10, "dark_on_light"),
        (HORIZONTAL, 0, "dark_on_light"),
        (HORIZONTAL, float("nan"), "dark_on_light"),
        (HORIZONTAL, 10, "sepia"),
    ],
)
def test_bad_arguments_raise_value_error(strokes, pen, look):
    with pytest.raises(ValueError):
        render_strokes(strokes, 100, pen, look)


def test_bad_canvas_size_raises_value_error():
    low, high = CANVAS_SIDES
    for canvas in ((0, 100), "big", low - 1, (100, high + 1), (100.5, 100), True):
        with pytest.raises(ValueError, match="canvas"):
            render_strokes(HORIZONTAL, canvas, 10)
    assert render_strokes([], (low, high), 1).shape == (high, low, 3)


def test_pen_width_follows_one_rule():
    """`drawing.PEN_WIDTHS` bounds the pen wherever strokes are drawn (old render.check_pen_width)."""
    low, high = PEN_WIDTHS
    assert pen_width(low) == low and pen_width(high) == high and pen_width(np.int64(12)) == 12.0
    for pen in (0, low / 2, -3, high * 2, float("inf"), float("nan"), True, "12", None):
        with pytest.raises(DrawingError, match="pen"):
            pen_width(pen)
        with pytest.raises(ValueError, match="pen"):
            render_strokes(HORIZONTAL, 280, pen)
    # The finest pen still draws a mark, and the widest covers the whole canvas.
    assert (render_strokes(HORIZONTAL, 280, low)[100, 130] < 255).any()
    assert (render_strokes(HORIZONTAL, 280, high) == 0).all()


def test_render_drawing_is_render_strokes_of_its_parts():
    drawing = Drawing(HORIZONTAL, (300, 200), 9)
    for look in LOOKS:
        np.testing.assert_array_equal(render_drawing(drawing, look), render_strokes(HORIZONTAL, (300, 200), 9, look))


def test_empty_drawing_is_a_blank_canvas():
    assert (render_strokes([], 64, 8) == 255).all()
    assert (render_strokes([[]], 64, 8, "transparent") == 0).all()


def test_coverage_to_look_rejects_unknown_look():
    with pytest.raises(ValueError, match="look"):
        coverage_to_look(np.zeros((4, 4)), "neon")


def test_fit_strokes_sets_height_and_centre():
    strokes = template_strokes(7, 0, 0, 1000)
    fitted = fit_strokes(strokes, 280, height_fraction=0.5, centre=(100, 150))
    points = np.concatenate(fitted)
    low, high = points.min(axis=0), points.max(axis=0)
    assert high[1] - low[1] == pytest.approx(140)
    np.testing.assert_allclose((low + high) / 2, (100, 150))
    assert fit_strokes([], 280) == []


@pytest.mark.parametrize("digit", range(10))
def test_template_digits_fit_their_box(digit):
    points = np.concatenate([np.asarray(s) for s in template_strokes(digit, 10, 20, 100)])
    low, high = points.min(axis=0), points.max(axis=0)
    assert low[1] == pytest.approx(20, abs=1.0) and high[1] == pytest.approx(120, abs=1.0)
    assert low[0] >= 10 - 1e-6 and high[0] <= 70 + 1e-6


def test_template_rejects_non_digits():
    with pytest.raises(ValueError):
        template_strokes(10)


def test_looks_constant_lists_every_look():
    for look in LOOKS:
        render_strokes(HORIZONTAL, 32, 4, look)


def clipped_length(a: np.ndarray, b: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """How much of segment a-b lies in the box, by sampling it finely (an independent reference)."""
    t = np.linspace(0.0, 1.0, 2001)
    points = a + t[:, None] * (b - a)
    inside = np.all((points >= low - 1e-9) & (points <= high + 1e-9), axis=1)
    return float(np.linalg.norm(b - a) * inside.mean())


def test_strokes_that_leave_the_canvas_are_clipped_where_they_leave_and_come_back():
    """Round 3: a 28,000-point scribble wandering off a 2,685-px canvas took 0.9 s to clip, a segment at a time in
    Python; the clip is now one pass over all segments, and must keep exactly the parts on the canvas."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        canvas = (int(rng.integers(50, 400)), int(rng.integers(50, 400)))
        margin = float(rng.choice([0.0, 10.0]))
        walk = np.cumsum(rng.normal(0, 40, (int(rng.integers(2, 40)), 2)), axis=0) + rng.uniform(0, 300, 2)
        low, high = np.array([-margin, -margin]), np.array(canvas, float) + margin
        pieces = clip_strokes([walk], canvas, margin)
        for piece in pieces:
            assert np.all(piece >= low - 1e-9) and np.all(piece <= high + 1e-9)
        kept = sum(np.linalg.norm(np.diff(p, axis=0), axis=1).sum() for p in pieces)
        expected = sum(clipped_length(a, b, low, high) for a, b in zip(walk[:-1], walk[1:], strict=True))
        assert kept == pytest.approx(expected, rel=0.01, abs=1.0)
        if np.all((walk >= low) & (walk <= high)):
            assert len(pieces) == 1 and pieces[0] is walk
