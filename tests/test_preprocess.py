"""digitlib.preprocess turns any canvas image (or strokes) into an MNIST-style 28×28 image."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from scipy import ndimage

from digitlib import canvas_image
from digitlib import preprocess as pp
from digitlib.drawing import CANVAS_SIDES, Drawing, DrawingError
from digitlib.examples import template_strokes
from digitlib.render import LOOKS, coverage_to_look, render_coverage, render_strokes


def drawn_coverage(strokes, canvas, pen: float):
    """The ink coverage of strokes on a canvas, as `digitlib.render` draws a `Drawing` of them."""
    drawing = Drawing(strokes, canvas, pen)
    return render_coverage(drawing.strokes, drawing.canvas, drawing.pen)


def strokes_to_mnist(strokes, pen: float):
    """`preprocess.strokes_to_mnist` of strokes on a canvas big enough to hold them (a `Drawing` checks them)."""
    points = [p for stroke in strokes for p in stroke]
    side = int(max((max(max(x, y) for x, y in points) if points else 0) + pen + 8, 280))
    return pp.strokes_to_mnist(Drawing(strokes, side, pen))


def in_look(grey_ink: np.ndarray, look: str) -> np.ndarray:
    """A uint8 ink map (255 = ink) as a canvas image of the given look."""
    return coverage_to_look(grey_ink.astype(np.float32) / 255.0, look)


def upscale(digit: np.ndarray, size: int = 280) -> np.ndarray:
    return np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR))


def aligned_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two 28×28 images, best over shifts of up to one pixel (MNIST's own
    centring rounds to whole pixels)."""
    best = -1.0
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = np.roll(np.roll(b, dy, axis=0), dx, axis=1)
            best = max(best, float(np.corrcoef(a.ravel(), shifted.ravel())[0, 1]))
    return best


def centre_of_mass(image: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(image.shape)
    return np.array([(rows * image).sum(), (cols * image).sum()]) / image.sum()


def ink_extent(image: np.ndarray) -> int:
    inked = image > 0.1
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    return max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)


@pytest.fixture(scope="module")
def mnist_test_digits(mnist):
    (_, _), (x_test, y_test) = mnist
    return x_test[:40], y_test[:40]


@pytest.mark.parametrize("look", ["dark_on_light", "light_on_dark", "transparent"])
def test_mnist_digits_upscaled_come_back_close_to_the_original(mnist_test_digits, look):
    images, _ = mnist_test_digits
    correlations = []
    for digit in images:
        result = pp.to_mnist(in_look(upscale(digit), look))
        assert result is not None and result.shape == (28, 28) and result.dtype == np.float32
        correlations.append(aligned_correlation(digit / 255.0, result))
    assert np.mean(correlations) > 0.9
    assert np.min(correlations) > 0.7


def test_mnist_digit_at_its_own_size_is_nearly_unchanged(mnist_test_digits):
    images, _ = mnist_test_digits
    for digit in images[:10]:
        result = pp.to_mnist(digit)
        assert aligned_correlation(digit / 255.0, result) > 0.9


def test_output_follows_the_mnist_recipe():
    strokes = template_strokes(2, 30, 60, 150)
    result = pp.to_mnist(render_strokes(strokes, 280, 16))
    assert result.shape == (28, 28) and result.dtype == np.float32
    assert result.min() >= 0.0 and result.max() <= 1.0 and result.max() > 0.9
    # Longest side fits the 20-px box, and the centre of mass is at (14, 14).
    assert ink_extent(result) in (19, 20, 21)
    np.testing.assert_allclose(centre_of_mass(result), (14, 14), atol=0.6)


@pytest.mark.parametrize("digit", [1, 0, 7])
def test_same_digit_at_any_pen_size_and_place_gives_a_similar_image(digit):
    reference = strokes_to_mnist(template_strokes(digit, 0, 0, 100), 12)
    for pen, height, left, top in [(4, 230, 100, 20), (12, 100, 10, 10), (30, 150, 160, 120), (8, 60, 200, 200)]:
        strokes = template_strokes(digit, left, top, height)
        for look in ("dark_on_light", "light_on_dark", "transparent"):
            pixels = pp.to_mnist(render_strokes(strokes, 280, pen, look))
            assert aligned_correlation(reference, pixels) > 0.8, (pen, height, look)
        assert aligned_correlation(reference, strokes_to_mnist(strokes, pen)) > 0.8


@pytest.fixture(scope="module")
def mnist_width_range(mnist):
    """10th and 90th percentile of MNIST's stroke widths, measured by stroke_width."""
    (x_train, _), _ = mnist
    widths = [canvas_image.stroke_width(image / 255.0) for image in x_train[:1000]]
    return tuple(np.percentile(widths, [10, 90]))


@pytest.mark.parametrize("pen", [2, 8, 20, 45])
def test_stroke_width_is_brought_into_mnist_range(pen, mnist_width_range):
    low, high = mnist_width_range
    strokes = template_strokes(3, 40, 20, 240)
    for result in (pp.to_mnist(render_strokes(strokes, 280, pen)), strokes_to_mnist(strokes, pen)):
        assert low <= canvas_image.stroke_width(result) <= high


@pytest.mark.parametrize("pen", [6, 12, 24])
def test_stroke_width_estimate_on_a_drawn_line(pen):
    coverage = drawn_coverage([[(30, 40), (200, 150), (60, 240)]], 280, pen)
    assert canvas_image.stroke_width(coverage) == pytest.approx(pen, rel=0.05)
    assert canvas_image.stroke_width(np.zeros((10, 10))) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=40),
        elements=st.floats(0, 1, width=32),
    )
)
def test_stroke_width_is_np_gradients_estimate_and_with_frame_is_np_pad(coverage):
    """`stroke_width` writes np.gradient out (every candidate digit of a number pays for it): the same bits."""
    dy, dx = np.gradient(np.pad(coverage, 1))
    area, perimeter = float(coverage.sum()), float(np.sqrt(dx * dx + dy * dy).sum())
    expected = 0.0 if area <= 0 else (perimeter / 2 - np.sqrt(max(perimeter**2 / 4 - np.pi * area, 0.0))) / (np.pi / 2)
    assert canvas_image.stroke_width(coverage) == expected
    framed = canvas_image.with_frame(coverage, 3)
    assert framed.dtype == coverage.dtype and np.array_equal(framed, np.pad(coverage, 3))


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(np.bool_, hnp.array_shapes(min_dims=2, max_dims=2, max_side=40)),
    st.integers(0, pp.MAX_NEAR_REACH + 2),
)
def test_distance_to_edge_is_scipys_transform_up_to_its_reach(mask, reach):
    """The bounded passes stand in for scipy's distance transform when a stroke's width changes a little (each
    candidate digit of a number pays for it): the same float64 bits under reach + 1 px, and at least that beyond."""
    expected = ndimage.distance_transform_edt(mask)
    found = pp._distance_to_edge(mask, reach)
    near = expected < reach + 1
    assert np.array_equal(found[near], expected[near])
    assert (found[~near] >= reach + 1).all()


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=40), elements=st.floats(0, 1, width=32)),
    st.floats(0.5, 20),
    st.floats(0.5, 20),
)
def test_changing_the_stroke_width_gives_the_full_transforms_image(coverage, current, target):
    inside = coverage > 0.5
    shift = (target - current) / 2
    if shift < 0:
        signed = np.where(inside, ndimage.distance_transform_edt(inside) - 0.5, -1.0)
    else:
        signed = np.where(inside, 1.0, 0.5 - ndimage.distance_transform_edt(~inside))
    expected = np.clip(signed + 0.5 + shift, 0.0, 1.0).astype(np.float32)
    assert np.array_equal(pp._set_stroke_width(coverage, current, target), expected)


def test_coloured_ink_on_coloured_paper():
    coverage = drawn_coverage(template_strokes(4, 60, 40, 200), 280, 14)
    paper, ink = np.array([250, 240, 120]), np.array([30, 60, 200])
    image = (paper * (1 - coverage[..., None]) + ink * coverage[..., None]).round().astype(np.uint8)
    expected = pp.to_mnist(coverage)
    np.testing.assert_allclose(pp.to_mnist(image), expected, atol=0.1)


def test_opaque_rgba_canvas_reads_like_rgb():
    rgb = render_strokes(template_strokes(9, 60, 40, 200), 280, 14)
    rgba = np.concatenate([rgb, np.full((280, 280, 1), 255, np.uint8)], axis=-1)
    np.testing.assert_array_equal(pp.to_mnist(rgba), pp.to_mnist(rgb))


def test_float_and_uint8_images_agree():
    image = render_strokes(template_strokes(5, 60, 40, 200), 280, 14)
    np.testing.assert_allclose(pp.to_mnist(image.astype(np.float64) / 255), pp.to_mnist(image), atol=0.02)


@pytest.mark.parametrize(
    "image",
    [
        np.full((280, 280, 3), 255, np.uint8),
        np.zeros((280, 280), np.uint8),
        np.zeros((280, 280, 4), np.uint8),
        np.full((100, 60), 0.5, np.float32),
        np.full((8, 8), True),
    ],
    ids=["white", "black", "transparent", "grey", "tiny-bool"],
)
def test_blank_canvas_gives_none(image):
    assert pp.to_mnist(image) is None


def test_faint_noise_counts_as_blank():
    rng = np.random.default_rng(0)
    noisy = np.clip(0.95 + rng.normal(0, 0.03, (280, 280)), 0, 1)
    assert pp.to_mnist(noisy) is None
    jpeg_like = (245 + rng.integers(-8, 9, (280, 280, 3))).astype(np.uint8)
    assert pp.to_mnist(jpeg_like) is None


def test_faint_noise_does_not_disturb_a_digit():
    rng = np.random.default_rng(1)
    coverage = drawn_coverage(template_strokes(7, 60, 40, 200), 280, 14)
    noisy = np.clip(1 - coverage + rng.normal(0, 0.03, coverage.shape), 0, 1)
    assert aligned_correlation(pp.to_mnist(1 - coverage), pp.to_mnist(noisy)) > 0.95


def test_a_single_tap_or_pixel_is_not_a_digit():
    assert pp.to_mnist(render_strokes([[(140, 140)]], 280, 20)) is None
    one_pixel = np.full((280, 280), 255, np.uint8)
    one_pixel[100, 100] = 0
    assert pp.to_mnist(one_pixel) is None
    assert strokes_to_mnist([[(140, 140)]], 20) is None
    assert strokes_to_mnist([], 20) is None


def test_specks_far_from_the_digit_are_ignored():
    strokes = template_strokes(3, 100, 40, 200)
    clean = pp.to_mnist(render_strokes(strokes, 280, 14))
    with_specks = pp.to_mnist(render_strokes([*strokes, [(20, 20)], [(260, 260)]], 280, 14))
    np.testing.assert_allclose(with_specks, clean, atol=1e-6)


def test_huge_canvas_is_downsampled_and_reads_the_same():
    small = drawn_coverage(template_strokes(6, 60, 40, 300), 400, 24)
    huge = np.kron(1 - small, np.ones((10, 10), np.float32))  # 4000×4000, dark on light
    assert huge.shape == (4000, 4000)
    assert aligned_correlation(pp.to_mnist(1 - small), pp.to_mnist(huge)) > 0.9


@pytest.mark.parametrize("shape", [(1031, 517, 3), (2000, 17, 1), (600, 600, 3), (8000, 4000, 3)])
def test_a_big_image_is_reduced_to_each_blocks_strongest_ink_exactly(shape):
    """The fast reduction of opaque uint8 images (per-channel extremes) gives the strongest ink of every block."""
    rng = np.random.default_rng(sum(shape))
    image = np.full(shape, 240, np.uint8)
    image[rng.random(shape[:2]) < 0.001] = rng.integers(0, 256, shape[2], dtype=np.uint8)  # sparse ink of any colour
    factor = -(-max(shape[:2]) // canvas_image.MAX_WORK_SIDE)
    ink = canvas_image.extract_ink(image)
    assert ink.scale == factor and ink.coverage.shape == (-(-shape[0] // factor), -(-shape[1] // factor))
    strongest = np.zeros(ink.coverage.shape, np.float32)  # the strongest ink of each block, pixel by pixel
    ys, xs = np.nonzero(np.abs(image.astype(np.int16) - 240).max(axis=2))
    np.maximum.at(
        strongest, (ys // factor, xs // factor), np.abs(image[ys, xs].astype(np.int16) - 240).max(axis=1) / 255
    )
    np.testing.assert_array_equal(canvas_image._ink_difference(image, factor), strongest)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((28, 28), np.int64), "dtype"),
        (np.zeros((28, 28), np.uint16), "dtype"),
        (np.zeros((28, 28), np.complex64), "dtype"),
        (np.zeros((28, 28, 2), np.uint8), "shape"),
        (np.zeros((2, 28, 28, 1), np.uint8), "shape"),
        (np.zeros(28, np.uint8), "shape"),
        (np.zeros((5, 5), np.uint8), "8"),
        (np.full((28, 28), np.nan, np.float32), "NaN"),
        (np.full((28, 28), 255.0), "divide"),
        (np.full((28, 28), -1.0), "values"),
        (np.array([["a", "b"]] * 10), "dtype"),
    ],
)
def test_bad_input_raises_a_clear_value_error(image, message):
    with pytest.raises(ValueError, match=message):
        pp.to_mnist(image)


def test_images_and_drawings_share_one_side_rule():
    """One rule for canvas sides (`drawing.CANVAS_SIDES`): an image the recipe reads and a drawing's canvas."""
    low, high = CANVAS_SIDES
    for height, width in [(low, low), (low, high), (high, low)]:
        assert pp.to_mnist(np.zeros((height, width), np.uint8)) is None  # read (blank), not refused
        assert Drawing([], (width, height), 10).canvas == (width, height)
    for height, width in [(low - 1, 100), (100, low - 1), (high + 1, low), (low, high + 1)]:
        with pytest.raises(ValueError, match=f"{low} to {high}"):
            pp.to_mnist(np.zeros((height, width), np.uint8))
        with pytest.raises(DrawingError, match=f"{low} to {high}"):
            Drawing([], (width, height), 10)


def test_bad_pen_width_for_strokes():
    with pytest.raises(ValueError, match="pen"):
        strokes_to_mnist(template_strokes(1), 0)


@st.composite
def any_canvas(draw):
    dtype = draw(st.sampled_from([np.uint8, np.float32, np.float64, np.bool_, np.int32, np.float16]))
    height = draw(st.integers(1, 48))
    width = draw(st.integers(1, 48))
    channels = draw(st.sampled_from([(), (1,), (2,), (3,), (4,), (5,)]))
    return draw(hnp.arrays(dtype, (height, width, *channels)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_canvas())
def test_any_array_gives_an_image_none_or_a_value_error(image):
    try:
        result = pp.to_mnist(image)
    except ValueError:
        return
    assert result is None or (result.shape == (28, 28) and result.dtype == np.float32)
    if result is not None:
        assert np.isfinite(result).all() and result.min() >= 0 and result.max() <= 1


@settings(max_examples=25, deadline=None)
@given(
    points=st.lists(st.tuples(st.floats(-50, 330), st.floats(-50, 330)), min_size=1, max_size=30),
    pen=st.floats(1, 40),
    look=st.sampled_from(["dark_on_light", "light_on_dark", "transparent"]),
)
def test_any_scribble_gives_an_image_or_none(points, pen, look):
    image = render_strokes([points], 280, pen, look)
    for result in (pp.to_mnist(image), strokes_to_mnist([points], pen)):
        assert result is None or (result.shape == (28, 28) and 0 <= result.min() <= result.max() <= 1)


def test_all_ink_canvas_is_blank_not_a_guess():
    assert pp.to_mnist(np.zeros((64, 64, 3), np.uint8)) is None
    assert pp.to_mnist(np.ones((64, 64), np.float32)) is None


@pytest.mark.parametrize("size", [(280, 280), (1100, 300)], ids=["pad", "downsampled"])
def test_every_look_gives_the_same_ink(size):
    strokes = [s for i, d in enumerate((2, 0, 7)) for s in template_strokes(d, 30 + 150 * i, 60, 150)]
    coverages = [canvas_image.extract_ink(render_strokes(strokes, size, 17.3, look)).coverage for look in LOOKS]
    for coverage in coverages[1:]:
        np.testing.assert_allclose(coverage, coverages[0], atol=1e-5)


def test_tutorial_resize_keeps_the_canvas_look_the_recipe_fixes():
    canvas = render_strokes(template_strokes(7, 60, 40, 160), 280, 20)  # dark ink on a white canvas
    tutorial = pp.tutorial_resize(canvas)
    assert tutorial.shape == (28, 28) and tutorial.dtype == np.float32
    assert tutorial.mean() > 0.8  # mostly white: the opposite of MNIST
    inverted = pp.tutorial_resize(canvas, invert=True)
    np.testing.assert_allclose(inverted, 1.0 - tutorial)
    recipe = pp.to_mnist(canvas)
    assert recipe.mean() < 0.3 < recipe.max()  # white ink on black, as MNIST


def test_points_far_denser_than_the_pen_drawn_at_28_px_are_thinned_without_changing_the_image(monkeypatch):
    """A big digit drawn with a thin pen: 20,000 points of a circle on a 4,000-px canvas, thinned on the canvas by
    `Drawing.on_canvas` to the canvas pen's spacing, are still far denser than the pen drawn at 28×28 needs."""
    t = np.linspace(0, 2 * np.pi, 20_000)
    circle = Drawing([np.stack([2000 + 1500 * np.cos(t), 2000 + 1500 * np.sin(t)], 1)], 4000, 2.0)
    drawn = []
    render = pp.render_coverage
    monkeypatch.setattr(
        pp, "render_coverage", lambda strokes, *a, **k: drawn.append(strokes) or render(strokes, *a, **k)
    )
    thinned = pp.strokes_to_mnist(circle)
    points = sum(len(s) for s in drawn[-1])
    monkeypatch.setattr(pp, "resample", lambda stroke, step: stroke)
    full = pp.strokes_to_mnist(circle)
    assert points < len(circle.on_canvas.points) / 4
    assert np.abs(thinned - full).mean() < 0.01 and np.abs(thinned - full).max() < 0.2  # a sub-pixel or two at edges
