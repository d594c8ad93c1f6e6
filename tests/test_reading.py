"""digitlib.reading: pieces into blocks, candidate cuts, and the path search that reads a number — with bounded work."""

from __future__ import annotations

import numpy as np
import pytest

from digitlib import reading
from digitlib.boxes import Box
from digitlib.drawing import Drawing
from digitlib.examples import template_strokes
from digitlib.pieces import PixelPieces, StrokePieces
from digitlib.render import render_coverage

PEN = 12


def number_strokes(digits: str, height: float = 120, gap: float = 30, top: float = 60) -> list:
    """Template digits side by side, ``gap`` px between their inked boxes; strokes in writing order."""
    strokes, left = [], 20.0
    for character in digits:
        digit_strokes = template_strokes(int(character), left, top, height)
        strokes.extend(digit_strokes)
        right = max(x for stroke in digit_strokes for x, _ in stroke)
        left = right + PEN + gap
    return strokes


def stroke_blocks(strokes, canvas=(600, 280)) -> list[list[int]]:
    pieces = StrokePieces(Drawing(strokes, canvas, PEN))
    return reading.group_pieces(pieces.boxes)


def pixel_pieces(strokes, canvas) -> PixelPieces:
    drawing = Drawing(strokes, canvas, PEN)
    return PixelPieces(render_coverage(drawing.strokes, drawing.canvas, drawing.pen), scale=1)


def read(recognizer, pieces) -> tuple[reading.Candidates, list[reading.Reading]]:
    """The candidates and the reading, as `Recognizer._read` does: one batch of the model for all candidates."""
    found = reading.candidates(pieces)
    probabilities = recognizer.readout(found.images, found.strokes).probabilities
    return found, reading.best_path(found, probabilities)


def test_overlap_rule():
    # A 7's cross bar inside the 7, a 5's bar overlapping most of the body: one block each.
    assert reading.merge_by_overlap([(0, 50), (10, 40)]) == [[0, 1]]
    assert reading.merge_by_overlap([(0, 50), (20, 70)]) == [[0, 1]]
    # Side by side, even nearly touching or barely overlapping: two.
    assert reading.merge_by_overlap([(0, 50), (52, 100)]) == [[0], [1]]
    assert reading.merge_by_overlap([(0, 50), (45, 100)]) == [[0], [1]]
    # Left to right, whatever order the pieces come in.
    assert reading.merge_by_overlap([(200, 250), (0, 50), (100, 150)]) == [[1], [2], [0]]
    assert reading.merge_by_overlap([]) == []


def test_a_small_detached_piece_joins_its_nearest_block():
    boxes = [Box(0, 0, 60, 100), Box(55, 0, 90, 15), Box(130, 0, 190, 100)]
    assert reading.group_pieces(boxes) == [[0, 1], [2]]


def test_stray_marks_are_dropped():
    boxes = [Box(0, 0, 60, 100), Box(100, 0, 160, 100), Box(600, 300, 605, 305)]
    assert reading.group_pieces(boxes) == [[0], [1]]


def test_multi_stroke_digits_stay_one_block():
    # 4 and 5 have two strokes each in the templates.
    assert stroke_blocks(number_strokes("1457")) == [[0], [1, 2], [3, 4], [5]]


def test_nearly_touching_digits_are_separate_blocks_for_strokes_and_pixels():
    strokes = number_strokes("2020", gap=1.5)
    assert len(stroke_blocks(strokes)) == 4
    pixels = pixel_pieces(strokes, (600, 280))
    assert len(reading.group_pieces(pixels.boxes)) == 4


def test_a_seven_with_a_cross_bar_and_a_five_with_a_detached_bar():
    seven = [*template_strokes(7, 20, 60, 120), [(30.0, 120.0), (80.0, 120.0)]]
    five_body, five_bar = template_strokes(5, 130, 60, 120)
    five_bar = [(x + 15, y - 12) for x, y in five_bar]  # lifted off the body and shifted right
    strokes = [*seven, five_body, five_bar]
    assert stroke_blocks(strokes, (300, 280)) == [[0, 1], [2, 3]]
    pixels = pixel_pieces(strokes, (300, 280))
    assert len(reading.group_pieces(pixels.boxes)) == 2


def test_choose_cuts_takes_the_thinnest_columns_apart_from_each_other_and_the_ends():
    positions = np.arange(100) + 0.5
    profile = np.full(100, 10.0)
    profile[[30, 31, 70]] = 1.0  # two thin places (30/31 are one), and the ends are thin too
    profile[[0, 99]] = 0.0
    # Of equally thin columns the one nearer the middle goes first; the ends are never cut.
    assert reading.choose_cuts(positions, profile, typical=100, limit=2) == [31.5, 70.5]
    assert reading.choose_cuts(positions, profile, typical=100, limit=1) == [31.5]
    cuts = reading.choose_cuts(positions, profile, typical=100, limit=5)
    assert {31.5, 70.5} <= set(cuts)
    assert all(right - left >= reading.CUT_SPACING * 100 for left, right in zip(cuts, cuts[1:], strict=False))
    assert min(cuts) >= reading.END_SPACING * 100
    assert max(cuts) <= 100 - reading.END_SPACING * 100
    assert reading.choose_cuts(positions, profile, typical=100, limit=0) == []


def test_a_1_touching_the_end_of_a_block_gets_a_cut_in_the_valley_beside_it():
    positions = np.arange(100) + 0.5
    profile = np.full(100, 6.0)  # a wide digit's ink ...
    profile[0:8] = 40.0  # ... with a 1's stem at the left end, 8 columns wide
    profile[11] = 2.0  # where the 1 touches it: nearer the end than END_SPACING allows the other cuts
    cuts = reading.choose_cuts(positions, profile, typical=50, limit=1)
    assert 11.5 in cuts and len(cuts) == 2
    # The same ink thinning out towards the end is the tip of a stroke, not a 1: no cut there.
    tip = np.full(100, 6.0)
    tip[0:10] = np.linspace(0.0, 5.0, 10)
    assert reading.choose_cuts(positions, tip, typical=50, limit=1) == reading.choose_cuts(
        positions, np.full(100, 6.0), typical=50, limit=1
    )


def test_cuts_allowed_grow_with_the_width_and_stop_at_a_cap():
    assert reading.cuts_allowed(40, typical=100) == 0  # one digit's width: never cut
    assert reading.cuts_allowed(200, typical=100) >= 2  # two touching digits: room for the cut between them
    assert reading.cuts_allowed(1e6, typical=100) == reading.MAX_CUTS


def test_touching_digits_are_read_apart_by_the_search(recognizer):
    strokes = number_strokes("35", gap=-PEN / 2)  # the inks overlap by half a pen width
    pixels = pixel_pieces(strokes, (400, 280))
    assert len(reading.group_pieces(pixels.boxes)) == 1  # one piece of ink ...
    found, read_digits = read(recognizer, pixels)
    assert len(found.images) > 2  # the search had more than one way to read it
    assert [int(r.probabilities.argmax()) for r in read_digits] == [3, 5]  # ... read as two digits
    assert read_digits[0].box.right <= read_digits[1].box.left + 1


def test_a_number_of_separate_digits_is_read_from_strokes_and_from_pixels(recognizer):
    strokes = number_strokes("1457")
    for pieces in (StrokePieces(Drawing(strokes, (600, 280), PEN)), pixel_pieces(strokes, (600, 280))):
        _, read_digits = read(recognizer, pieces)
        assert "".join(str(int(r.probabilities.argmax())) for r in read_digits) == "1457"
        lefts = [r.box.left for r in read_digits]
        assert lefts == sorted(lefts)


@pytest.mark.parametrize(
    "strokes",
    [
        [[(10, 140), (2990, 140)]],  # a straight line across a very wide canvas
        [np.stack([np.linspace(10, 2990, 3000), 140 + 60 * np.sin(np.linspace(0, 100, 3000))], 1)],  # a long wave
        [np.stack([np.linspace(10, 2990, 400), np.tile([60, 220], 200)], 1)],  # a zigzag of 400 strokes' worth
        # 373 overlapping dashes side by side, each big enough not to be dropped as a tap: one block of many pieces.
        [[(x, 110), (x + 5, 170)] for x in range(10, 2990, 8)],
    ],
    ids=["line", "wave", "zigzag", "dashes"],
)
@pytest.mark.parametrize("way", ["strokes", "pixels"])
def test_work_is_bounded_whatever_the_drawing(recognizer, strokes, way):
    """Rows 1 and 6: one batch of candidates, their number linear in the ink's width over its height."""
    if way == "strokes":
        pieces = StrokePieces(Drawing(strokes, (3000, 280), PEN))
    else:
        pieces = pixel_pieces(strokes, (3000, 280))
    assert pieces.boxes  # there is ink to read
    found, read_digits = read(recognizer, pieces)
    assert len(found.images) > 0
    # The cuts a block gets are bounded by its width in digit heights: a line is not read as 200 digits.
    blocks = reading.group_pieces(pieces.boxes)
    assert len(found.images) <= pieces.max_span * reading.MAX_PRIMITIVES * max(1, len(blocks))
    assert len(read_digits) <= reading.MAX_PRIMITIVES * max(1, len(blocks))


@pytest.mark.parametrize("way", ["strokes", "pixels"])
def test_more_separate_marks_than_a_number_holds_are_refused(way):
    # 75 separate dashes, each big enough not to be a tap: more blocks than MAX_BLOCKS.
    strokes = [[(x, 110), (x + 5, 170)] for x in range(10, 2990, 40)]
    if way == "strokes":
        pieces = StrokePieces(Drawing(strokes, (3000, 280), PEN))
    else:
        pieces = pixel_pieces(strokes, (3000, 280))
    assert len(reading.group_pieces(pieces.boxes)) > reading.MAX_BLOCKS
    with pytest.raises(reading.NumberTooLong, match=str(reading.MAX_BLOCKS)):
        reading.candidates(pieces)
    # At the limit the marks are still read as blocks.
    fewer = StrokePieces(Drawing(strokes[: reading.MAX_BLOCKS], (3000, 280), PEN))
    assert len(reading.candidates(fewer).blocks) == reading.MAX_BLOCKS
