"""digitlib.segment splits a drawn number into its digits, left to right."""

from __future__ import annotations

import numpy as np
import pytest

from digitlib import preprocess as pp
from digitlib.render import render_coverage, template_strokes
from digitlib.segment import (
    candidate_cuts,
    group_pieces,
    group_strokes,
    join_segments,
    merge_by_overlap,
    split_in_two,
    split_ink,
    touching_strokes,
)

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


def digits_of(strokes_per_digit: list[int]) -> list[list[int]]:
    """The stroke indices each digit should have, given how many strokes each digit has."""
    expected, start = [], 0
    for count in strokes_per_digit:
        expected.append(list(range(start, start + count)))
        start += count
    return expected


def test_overlap_rule():
    # A 7's cross bar inside the 7, a 5's bar overlapping most of the body: one digit each.
    assert merge_by_overlap([(0, 50), (10, 40)]) == [[0, 1]]
    assert merge_by_overlap([(0, 50), (20, 70)]) == [[0, 1]]
    # Side by side, even nearly touching or barely overlapping: two digits.
    assert merge_by_overlap([(0, 50), (52, 100)]) == [[0], [1]]
    assert merge_by_overlap([(0, 50), (45, 100)]) == [[0], [1]]
    # Left to right, whatever order the pieces come in.
    assert merge_by_overlap([(200, 250), (0, 50), (100, 150)]) == [[1], [2], [0]]
    assert merge_by_overlap([]) == []


def test_a_small_detached_piece_joins_its_nearest_digit():
    boxes = [(0, 100, 0, 60), (0, 15, 55, 90), (0, 100, 130, 190)]  # (top, bottom, left, right)
    assert group_pieces(boxes) == [[0, 1], [2]]


def test_stray_marks_are_dropped():
    boxes = [(0, 100, 0, 60), (0, 100, 100, 160), (300, 305, 600, 605)]
    assert group_pieces(boxes) == [[0], [1]]


def test_number_strokes_group_into_digits_with_multi_stroke_digits_whole():
    # 4 and 5 have two strokes each in the templates.
    strokes = number_strokes("1457")
    assert group_strokes(strokes, PEN) == digits_of([1, 2, 2, 1])


def test_nearly_touching_digits_stay_apart():
    strokes = number_strokes("2020", gap=1.5)
    assert len(group_strokes(strokes, PEN)) == 4
    coverage = render_coverage(strokes, (600, 280), PEN)
    assert len(split_ink(coverage)) == 4


def test_touching_strokes_form_one_piece():
    strokes = [[(0, 0), (100, 0)], [(50, 5), (50, 100)], [(200, 0), (200, 100)]]
    pieces = sorted(sorted(p) for p in touching_strokes([np.asarray(s, float) for s in strokes], 10))
    assert pieces == [[0, 1], [2]]


def test_a_seven_with_a_cross_bar_and_a_five_with_a_detached_bar():
    seven = [*template_strokes(7, 20, 60, 120), [(30.0, 120.0), (80.0, 120.0)]]
    five_body, five_bar = template_strokes(5, 130, 60, 120)
    five_bar = [(x + 15, y - 12) for x, y in five_bar]  # lifted off the body and shifted right
    strokes = [*seven, five_body, five_bar]
    assert group_strokes(strokes, PEN) == [[0, 1], [2, 3]]
    coverage = render_coverage(strokes, (300, 280), PEN)
    segments = split_ink(coverage)
    assert len(segments) == 2
    assert segments[0].box[3] < segments[1].box[2]


def test_pixel_segments_are_left_to_right_and_hold_only_their_digit():
    strokes = number_strokes("31415")
    coverage = render_coverage(strokes, (800, 280), PEN)
    segments = split_ink(coverage)
    assert len(segments) == 5
    lefts = [s.box[2] for s in segments]
    assert lefts == sorted(lefts)
    # Each segment, drawn alone, reads like the digit drawn alone.
    counts = [1, 1, 2, 1, 2]  # strokes of 3, 1, 4, 1, 5
    starts = np.cumsum([0, *counts[:-1]])
    for segment, start, count in zip(segments, starts, counts, strict=True):
        alone = render_coverage(strokes[start : start + count], (800, 280), PEN)
        expected = pp.ink_to_mnist(alone)
        np.testing.assert_allclose(pp.ink_to_mnist(segment.coverage), expected, atol=0.1)


def test_stroke_indices_skip_empty_strokes_and_taps():
    strokes = [[], *number_strokes("17"), [(500.0, 250.0)]]
    assert group_strokes(strokes, PEN) == [[1], [2]]


def test_blank_gives_no_segments():
    assert split_ink(np.zeros((50, 80), np.float32)) == []
    assert group_strokes([], PEN) == []


@pytest.mark.parametrize("height", [60, 200])
def test_digit_count_at_other_sizes(height):
    strokes = number_strokes("9876", height=height, gap=height / 5)
    assert len(group_strokes(strokes, PEN)) == 4
    assert len(split_ink(render_coverage(strokes, (1200, 400), PEN))) == 4


def test_touching_digits_can_be_cut_at_the_thinnest_column():
    strokes = number_strokes("35", gap=-6)  # the 3 and the 5 overlap by 6 px: one piece of ink
    coverage = render_coverage(strokes, (400, 280), PEN)
    (whole,) = split_ink(coverage)
    left, right = split_in_two(whole)
    three_right = max(x for s in strokes[:1] for x, _ in s) + PEN / 2
    five_left = min(x for s in strokes[1:] for x, _ in s) - PEN / 2
    # The cut falls where the two digits meet.
    assert five_left - 2 <= left.box[3] <= three_right + 2
    assert left.box[3] <= right.box[2] + 1
    assert left.box[2] == whole.box[2] and right.box[3] == whole.box[3]
    # The halves hold all the ink between them, and each is one of the digits.
    np.testing.assert_allclose(left.coverage + right.coverage, whole.coverage)


def test_candidate_cuts_fall_where_each_pair_of_touching_digits_meets():
    strokes = number_strokes("357", gap=-6)  # three digits, each overlapping the next: one piece of ink
    coverage = render_coverage(strokes, (600, 280), PEN)
    (whole,) = split_ink(coverage)
    cuts = candidate_cuts(whole, limit=5)
    assert 1 <= len(cuts) <= 5
    ends = [left.box[3] for left, _ in cuts]
    width = whole.box[3] - whole.box[2]
    assert all(abs(a - b) >= 0.1 * width - 1 for i, a in enumerate(ends) for b in ends[i + 1 :])
    # Strokes: the 3 is stroke 0, the 5 strokes 1-2, the 7 stroke 3. A cut falls where each digit's ink begins.
    for next_digit in (strokes[1:3], strokes[3:]):
        meet = min(x for stroke in next_digit for x, _ in stroke) - PEN / 2
        assert any(abs(end - meet) <= PEN for end in ends), (meet, ends)
    for left, right in cuts:
        np.testing.assert_allclose(left.coverage + right.coverage, whole.coverage)
    # The thinnest cut in the middle of the segment is split_in_two's.
    assert split_in_two(whole)[0].box == candidate_cuts(whole, (0.3, 0.7), limit=1)[0][0].box


def test_a_narrow_segment_is_not_cut():
    coverage = render_coverage([[(50, 20), (50, 200)]], 100, 2)
    (line,) = split_ink(coverage)
    assert split_in_two(line) is None
    assert candidate_cuts(line) == []


def test_joined_segments_hold_the_ink_of_both():
    strokes = number_strokes("17")
    coverage = render_coverage(strokes, (400, 280), PEN)
    one, seven = split_ink(coverage)
    joined = join_segments(one, seven)
    assert joined.box == (min(one.box[0], seven.box[0]), max(one.box[1], seven.box[1]), one.box[2], seven.box[3])
    assert joined.coverage.sum() == pytest.approx(one.coverage.sum() + seven.coverage.sum(), rel=1e-4)
    np.testing.assert_allclose(pp.ink_to_mnist(joined.coverage), pp.ink_to_mnist(coverage), atol=1e-3)
