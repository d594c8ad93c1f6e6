"""Reading a number: split a drawing of digits side by side into candidate digits, and find the best reading.

Pen strokes (what the pad records) and pixels (a canvas image) go through one procedure:

1. **Pieces.** The drawing's pieces are its strokes (`StrokePieces`), or the connected pieces of its ink
   (`PixelPieces`).
2. **Blocks.** Pieces whose horizontal extents overlap substantially are one block (a 4 drawn in two strokes, a
   5 and its bar); a much smaller piece joins its nearest neighbour (a detached bar or flag); stray marks far
   smaller than the rest are dropped.
3. **Cuts.** A block wide enough to hold more than one digit gets candidate cuts where its ink is thinnest. Between
   the cuts lie the *primitives*, left to right.
4. **Candidates.** Every run of up to `Pieces.max_span` consecutive primitives no wider than a wide digit is a
   candidate digit, drawn as an MNIST image: `candidates` returns them all, for the recogniser to read in one batch.
5. **Path search.** `best_path` takes the candidates' probabilities and chooses the left-to-right path through
   the primitives whose digits read best (dynamic programming, as in classic over-segmentation readers of cheques
   and postal codes): whether two touching digits are one digit or two is decided by what the model reads.

The work is bounded whatever the drawing: at most `MAX_PRIMITIVES` primitives per block, `Pieces.max_span`
candidates per primitive and `Pieces.max_candidates` in all (fewer cuts first, then candidates that join fewer
blocks), and at most `MAX_BLOCKS` blocks (`NumberTooLong` beyond).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digitlib.boxes import Box
from digitlib.pieces import CUTS_PER_HEIGHT, MAX_DIGIT_WIDTH, Pieces

#: Two pieces belong to one block when their x-extents overlap by at least this fraction of the narrower one.
OVERLAP_FRACTION = 0.5
#: A block shorter than this fraction of the typical digit height is part of a neighbour (a bar, a flag) ...
SMALL_PART = 0.45
#: ... if one is near: a horizontal gap under this fraction of the typical height.
NEAR = 0.5
#: A block whose longest side is under this fraction of the largest block's is a stray mark, and dropped.
SMALLEST_BLOCK = 0.2
#: No typical digit height is under this many pen widths: a straight line is not a number of flat digits.
MIN_HEIGHT_WIDTHS = 3.0
#: A block wider than this fraction of the typical height may hold several digits and gets candidate cuts ...
CUT_FROM = 0.6
#: ... this fraction of the typical height from each other and `END_SPACING` from the block's ends ...
CUT_SPACING = 0.15
END_SPACING = 0.22
#: ... up to `pieces.CUTS_PER_HEIGHT` per typical height of the block's width, and this many per block (see
#: docs/measurements.md: where inks fuse, the column where two digits meet is often not among the few thinnest).
MAX_CUTS = 24
#: From pixels, one more cut per block end, `END_CUT_FROM` to `END_SPACING` heights in, in the valley beside an
#: upright stroke at that end (a 1 touching its neighbour): where the ink falls to `VALLEY_SHARE` of a stroke at
#: least `STEM_SHARE` as tall as the block's tallest column.
END_CUT_FROM = 0.06
STEM_SHARE = 0.6
VALLEY_SHARE = 0.35
#: The most primitives a block is cut into: `MAX_CUTS` cuts, the two end cuts, and one.
MAX_PRIMITIVES = MAX_CUTS + 3
#: A number is read in at most this many blocks (digits or groups of touching digits); more is refused.
MAX_BLOCKS = 40
#: Blocks further apart than this fraction of the typical height are never one digit.
JOIN_GAP = 0.35
#: Path score per digit: log of its probability plus this bonus (else the search prefers fewer digits).
DIGIT_BONUS = 0.15
#: The model sees every candidate at one size; the canvas does not. A candidate less tall than `SHORTEST` typical
#: heights, or wider than `WIDEST` (about the widest 0.5% of the training writers' digits), loses `SIZE_PENALTY`
#: nats per typical height outside that.
SHORTEST = 0.6
WIDEST = 1.6
SIZE_PENALTY = 5.0
#: The score of leaving out a primitive that makes no image (a sliver or a dot).
SKIP_SCORE = -1.5


@dataclass(frozen=True)
class Part:
    """The ink of one block between two x positions: a piece of a candidate digit."""

    block: int
    left: float
    right: float


@dataclass(frozen=True)
class Reading:
    """One digit of a number as the search chose it."""

    box: Box  # on the canvas (canvas px)
    probabilities: np.ndarray  # (10,) as the recogniser gave them
    image: np.ndarray  # the 28×28 image the model saw
    strokes: tuple[np.ndarray, ...] | None = None  # the pen strokes (or parts of strokes) it was read from


class NumberTooLong(ValueError):
    """A drawing of more separate blocks than a number is read in (`MAX_BLOCKS`)."""


def merge_by_overlap(extents: Sequence[tuple[float, float]]) -> list[list[int]]:
    """Group pieces by horizontal overlap; return groups of piece indices, left to right.

    ``extents`` holds each piece's (left, right). Two groups merge when their extents overlap by at least
    :data:`OVERLAP_FRACTION` of the narrower one's width (a narrow piece inside a wide one, like a 7's cross bar or
    a 4's upright, always merges).
    """
    order = sorted(range(len(extents)), key=lambda i: (extents[i][0], extents[i][1]))
    groups = [[i] for i in order]
    ranges = [tuple(extents[i]) for i in order]
    changed = True
    while changed and len(groups) > 1:
        changed = False
        # Groups stay sorted by left edge; merging neighbours until nothing changes also catches a group whose
        # extent grew into the next one.
        merged_groups, merged_ranges = [groups[0]], [ranges[0]]
        for group, (left, right) in zip(groups[1:], ranges[1:], strict=True):
            last_left, last_right = merged_ranges[-1]
            overlap = min(right, last_right) - max(left, last_left)
            narrower = max(min(right - left, last_right - last_left), 1e-9)
            if overlap >= OVERLAP_FRACTION * narrower:
                merged_groups[-1] = merged_groups[-1] + group
                merged_ranges[-1] = (min(left, last_left), max(right, last_right))
                changed = True
            else:
                merged_groups.append(group)
                merged_ranges.append((left, right))
        groups, ranges = merged_groups, merged_ranges
    return [sorted(group) for group in groups]


def group_pieces(boxes: Sequence[Box]) -> list[list[int]]:
    """Group pieces of ink (given by their boxes) into blocks; return index lists, left to right.

    1. Pieces whose x-extents overlap substantially are one block (:func:`merge_by_overlap`).
    2. A block much shorter than the others (under :data:`SMALL_PART` of the median height, like the detached
       bar of a 5 or the flag of a 1) is no digit on its own: it joins the nearest block (by the horizontal gap
       between them) if that one is near.
    3. Blocks much smaller than the largest (under :data:`SMALLEST_BLOCK` of its size) are stray marks, dropped.
    """
    if not boxes:
        return []
    groups = merge_by_overlap([(b.left, b.right) for b in boxes])
    merged = True
    while merged and len(groups) > 1:
        merged = False
        group_boxes = [Box.union(boxes[i] for i in g) for g in groups]
        heights = np.array([b.height for b in group_boxes])
        lefts = np.array([b.left for b in group_boxes])
        rights = np.array([b.right for b in group_boxes])
        typical = float(np.median(heights))
        for small in np.argsort(heights, kind="stable"):
            if heights[small] >= SMALL_PART * typical:
                break
            gaps = np.maximum(lefts - rights[small], lefts[small] - rights).astype(float)
            gaps[small] = np.inf
            nearest = int(np.argmin(gaps))
            if gaps[nearest] <= NEAR * typical:
                groups[nearest] = sorted(groups[nearest] + groups[small])
                del groups[small]
                merged = True
                break
    group_boxes = [Box.union(boxes[i] for i in g) for g in groups]
    largest = max(b.longest_side for b in group_boxes)
    kept = [(b.left, g) for g, b in zip(groups, group_boxes, strict=True) if b.longest_side >= SMALLEST_BLOCK * largest]
    return [g for _, g in sorted(kept)]


def cuts_allowed(width: float, typical: float) -> int:
    """How many candidate cuts a block ``width`` wide gets, for digits ``typical`` tall."""
    if width <= CUT_FROM * typical:
        return 0
    return int(min(MAX_CUTS, np.ceil(CUTS_PER_HEIGHT * width / typical)))


def choose_cuts(
    positions: np.ndarray, profile: np.ndarray, typical: float, limit: int, end_cuts: bool = True
) -> list[float]:
    """Up to ``limit`` cut positions where the ``profile`` (ink per column at ``positions``) is lowest.

    Cuts keep :data:`CUT_SPACING` of the typical height from each other and :data:`END_SPACING` from the ends;
    among equally thin columns the one nearest the block's middle goes first. With ``end_cuts``, one more may be
    made nearer each end, beside an upright stroke there (see :data:`END_CUT_FROM`).
    """
    if limit <= 0 or len(positions) < 3:
        return []
    spacing, margin = CUT_SPACING * typical, END_SPACING * typical
    inside = (positions >= positions[0] + margin) & (positions <= positions[-1] - margin)
    candidates, values = positions[inside], profile[inside]
    if not len(candidates):
        return []
    middle = (positions[0] + positions[-1]) / 2
    chosen: list[float] = []
    for index in np.lexsort((np.abs(candidates - middle), values)):
        x = float(candidates[index])
        if all(abs(x - other) >= spacing for other in chosen):
            chosen.append(x)
            if len(chosen) == limit:
                break
    return sorted(chosen + (_end_cuts(positions, profile, typical) if end_cuts else []))


def _end_cuts(positions: np.ndarray, profile: np.ndarray, typical: float) -> list[float]:
    """At each end, the valley between an upright stroke at the very end and the rest (see `END_CUT_FROM`)."""
    cuts = []
    tallest = float(profile.max())
    for sign in (1, -1):  # the left end, then the right end
        ends = positions[::sign]
        ink = profile[::sign]
        distance = np.abs(ends - ends[0])
        zone = np.flatnonzero((distance >= END_CUT_FROM * typical) & (distance < END_SPACING * typical))
        if not len(zone):
            continue
        best = zone[np.argmin(ink[zone])]
        stem = float(ink[:best].max()) if best else 0.0
        if stem >= STEM_SHARE * tallest and ink[best] <= VALLEY_SHARE * stem:
            cuts.append(float(ends[best]))
    return cuts


def fewer_cuts(limits: list[int], found: int, most: int) -> list[int]:
    """The blocks' cut limits lowered so that ``found`` candidates come nearer ``most``: the blocks with the most
    cuts lose cuts first, by about the square root of the excess (a block's candidates grow about as its cuts
    squared: more primitives, and more of them within a digit's width)."""
    top = max(limits)
    lower = max(0, min(top - 1, int(top * np.sqrt(most / found))))
    return [min(limit, lower) for limit in limits]


def size_penalty(box: Box, typical: float) -> float:
    """How implausible a candidate of this ink box is as one digit of a number of digits ``typical`` tall."""
    short = max(0.0, SHORTEST - box.height / typical)
    wide = max(0.0, box.width / typical - WIDEST)
    return SIZE_PENALTY * (short + wide)


@dataclass
class Candidates:
    """Every candidate digit of a drawing, for the recogniser to read (`images`, `strokes`) and `best_path` to
    choose from."""

    pieces: Pieces
    typical: float  # the typical digit height, in the pieces' coordinates
    blocks: list[list[int]]
    block_boxes: list[Box]
    primitives: list[Part]
    boundary_cost: list[float]  # what a digit boundary before primitive k costs
    spans: list[tuple[int, int]]  # each candidate's first and last primitive
    drawn: list[tuple]  # each candidate's (image or None, box, strokes)

    @property
    def readable(self) -> list[int]:
        """The candidates that make an image, in order."""
        return [i for i, (image, _, _) in enumerate(self.drawn) if image is not None]

    @property
    def images(self) -> np.ndarray:
        """The readable candidates' 28×28 images (N, 28, 28), for one batch of the model."""
        images = [self.drawn[i][0] for i in self.readable]
        return np.stack(images) if images else np.zeros((0, 28, 28), np.float32)

    @property
    def strokes(self) -> list[tuple[np.ndarray, ...] | None]:
        """The readable candidates' strokes (None from pixels), in the order of `images`."""
        return [self.drawn[i][2] for i in self.readable]


def _primitives(
    pieces: Pieces, blocks: list[list[int]], profiles: list, limits: list[int], typical: float
) -> tuple[list[Part], list[float]]:
    """Each block cut at up to its limit of cuts: the primitives left to right, and what each boundary costs."""
    primitives: list[Part] = []
    boundary_cost: list[float] = []
    for index, (block, profile, limit) in enumerate(zip(blocks, profiles, limits, strict=True)):
        cuts = choose_cuts(*profile, typical, limit, pieces.end_cuts) if limit else []
        edges = [-np.inf, *cuts, np.inf]
        primitives += [Part(index, lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
        boundary_cost += [0.0] + [pieces.cut_cost(block, x) for x in cuts]
    return primitives, boundary_cost


def _spans(primitives: list[Part], block_boxes: list[Box], typical: float, max_span: int) -> list[tuple[int, int]]:
    """Runs of consecutive primitives, narrow enough and not across a wide gap: the candidate digits."""

    def extent(part: Part) -> tuple[float, float]:
        box = block_boxes[part.block]
        return max(part.left, box.left), min(part.right, box.right)

    spans: list[tuple[int, int]] = []
    for first in range(len(primitives)):
        for last in range(first, min(first + max_span, len(primitives))):
            left, right = extent(primitives[first])[0], extent(primitives[last])[1]
            if last > first and right - left > MAX_DIGIT_WIDTH * typical:
                break
            step = primitives[last - 1].block, primitives[last].block
            if (
                last > first
                and step[0] != step[1]
                and block_boxes[step[0]].gap_to(block_boxes[step[1]]) > JOIN_GAP * typical
            ):
                break
            spans.append((first, last))
    return spans


def candidates(pieces: Pieces) -> Candidates:
    """Group the pieces into blocks, cut the blocks and draw every candidate digit (steps 1-4 of the module
    docstring). Raises `NumberTooLong` for more than `MAX_BLOCKS` blocks."""
    if not pieces.boxes:
        return Candidates(pieces, 1.0, [], [], [], [], [], [])
    blocks = group_pieces(pieces.boxes)
    if len(blocks) > MAX_BLOCKS:
        raise NumberTooLong(
            f"the drawing holds {len(blocks)} separate marks; a number is read in at most {MAX_BLOCKS}: write fewer "
            "digits at a time"
        )
    block_boxes = [Box.union(pieces.boxes[i] for i in block) for block in blocks]
    typical = max(float(np.median([b.height for b in block_boxes])), MIN_HEIGHT_WIDTHS * pieces.stroke_width, 1e-6)

    limits = [cuts_allowed(box.width, typical) for box in block_boxes]
    sized = zip(blocks, block_boxes, limits, strict=True)
    profiles = [pieces.profile(block, box) if limit else None for block, box, limit in sized]
    longest = pieces.max_span
    while True:
        primitives, boundary_cost = _primitives(pieces, blocks, profiles, limits, typical)
        spans = _spans(primitives, block_boxes, typical, longest)
        if len(spans) <= pieces.max_candidates or (not any(limits) and longest == 1):
            break
        if any(limits):
            limits = fewer_cuts(limits, len(spans), pieces.max_candidates)
        else:  # many narrow blocks and no cuts left (hatching): candidates join fewer blocks
            longest -= 1

    parts_of = []
    for first, last in spans:
        parts: dict[int, list[float]] = {}
        for part in primitives[first : last + 1]:
            span = parts.setdefault(part.block, [part.left, part.right])
            span[0], span[1] = min(span[0], part.left), max(span[1], part.right)
        parts_of.append([(blocks[b], lo, hi) for b, (lo, hi) in parts.items()])
    drawn = pieces.images(parts_of)
    return Candidates(pieces, typical, blocks, block_boxes, primitives, boundary_cost, spans, drawn)


def best_path(found: Candidates, probabilities: np.ndarray) -> list[Reading]:
    """The digits of the number, left to right: the path through the primitives whose candidates read best, given
    the readable candidates' ``probabilities`` (N, 10) in the order of `Candidates.images` (step 5)."""
    if not found.primitives:
        return []
    probability = np.zeros((len(found.spans), 10), dtype=np.float32)
    probability[found.readable] = probabilities
    count = len(found.primitives)
    # best[k] is the best score of reading primitives 0..k-1.
    best = np.full(count + 1, -np.inf)
    best[0] = 0.0
    back: list[tuple[int, int] | None] = [None] * (count + 1)
    by_last: dict[int, list[int]] = {}
    for index, (_, last) in enumerate(found.spans):
        by_last.setdefault(last, []).append(index)
    for last in range(count):
        for index in by_last.get(last, []):
            first = found.spans[index][0]
            image, box, _ = found.drawn[index]
            if image is None:
                if first != last:
                    continue
                score = SKIP_SCORE
            else:
                score = float(np.log(max(float(probability[index].max()), 1e-9))) + DIGIT_BONUS
                score -= size_penalty(box, found.typical)
            score -= found.boundary_cost[first] if first > 0 else 0.0
            if best[first] + score > best[last + 1]:
                best[last + 1] = best[first] + score
                back[last + 1] = (first, index)
    path, position = [], count
    while position > 0 and back[position] is not None:
        first, index = back[position]
        if found.drawn[index][0] is not None:
            path.append(index)
        position = first
    readings = []
    for index in reversed(path):
        first, last = found.spans[index]
        boxes = []
        for part in found.primitives[first : last + 1]:
            box = found.block_boxes[part.block]
            boxes.append(Box(max(part.left, box.left), box.top, min(part.right, box.right), box.bottom))
        image, _, strokes = found.drawn[index]
        readings.append(Reading(found.pieces.canvas_box(Box.union(boxes)), probability[index], image, strokes))
    return readings
