"""Reading a number: split a drawing of digits side by side into digits, and let the model judge the split.

Pen strokes (what the pad records) and pixels (a canvas image) go through one procedure:

1. **Pieces.** The drawing's pieces are its strokes, or the connected pieces of its ink.
2. **Blocks.** Pieces whose horizontal extents overlap substantially are one block (a 4 drawn in two strokes, a
   5 and its bar, a 7 and its cross bar); a much smaller piece joins its nearest neighbour (a detached bar or
   flag); stray marks far smaller than the rest are dropped.
3. **Cuts.** A block wide enough to hold more than one digit gets candidate cuts where its ink is thinnest (the
   columns a vertical line would cross least ink in). Between the cuts lie the *primitives*, left to right.
4. **Candidates.** Every run of up to `Ink.max_span` consecutive primitives no wider than a wide digit is a
   candidate digit. All candidates are drawn as MNIST images and read by the model in one batch.
5. **Path search.** The reading is the left-to-right path through the primitives whose digits the model reads
   best: dynamic programming over the candidates (as in classic over-segmentation readers of cheques and postal
   codes). Whether two touching digits are one digit or two, or two nearby pieces are one digit, is decided by
   what the model reads, not by a rule.

The work is bounded whatever the drawing: at most `cuts_allowed` cuts per block (in proportion to its width) and one
more at each end (`MAX_PRIMITIVES` pieces in all), at most `Ink.max_span` candidates per primitive, one model call;
nothing is quadratic in stroke points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from digitlib import preprocess
from digitlib.boxes import Box
from digitlib.render import CheckedStrokes, render_coverage

#: Two pieces belong to one block when their x-extents overlap by at least this fraction of the narrower one.
OVERLAP_FRACTION = 0.5
#: A block shorter than this fraction of the typical digit height is part of a neighbour (a bar, a flag) ...
SMALL_PART = 0.45
#: ... if one is near: a horizontal gap under this fraction of the typical height.
NEAR = 0.5
#: A block whose longest side is under this fraction of the largest block's is a stray mark, and dropped.
SMALLEST_BLOCK = 0.2
#: Pixel pieces are cut at this coverage, above the general ink threshold, so the faint anti-aliased pixels
#: between two nearly touching digits do not join them.
PIECE_THRESHOLD = max(preprocess.INK_THRESHOLD, 0.5)
#: Nothing narrower than this many pen (stroke) widths passes for a typical digit height: a straight line drawn
#: across the canvas is not a number of digits as flat as the line.
MIN_HEIGHT_WIDTHS = 3.0

#: A block wider than this fraction of the typical height may hold several digits and gets candidate cuts.
CUT_FROM = 0.6
#: Cuts keep this fraction of the typical height from each other ...
CUT_SPACING = 0.15
#: ... and this fraction from the block's ends (a 1 touching its neighbour is hardly wider than the pen).
END_SPACING = 0.22
#: At most this many cuts per typical height of a block's width (and `MAX_CUTS` in all, per block). Where inks fuse,
#: the column where two digits meet is often not among the thinnest few (a 1 against a 4 is as thick as the 4's
#: stem): with the true boundaries added as cuts, the training writers' touching numbers from pixels went from 83% to
#: 94% right. At 2.5 cuts per height and 0.22 apart, 83.3% (and 89.0% on a second draw); at 4 and 0.15, 92.0% (94.0%),
#: spaced numbers and strokes unchanged; denser cuts gained nothing more.
CUTS_PER_HEIGHT = 4.0
MAX_CUTS = 24
#: Nearer a block's end than `END_SPACING`, down to this fraction of the typical height, one more cut per end is
#: made where a 1 (or another upright stroke) touches its neighbour: in the valley of the ink between that end's
#: stroke, at least `STEM_SHARE` of the block's tallest column, and the rest, where the ink is at most `VALLEY_SHARE`
#: of that stroke's. A 1 is often narrower than `END_SPACING`: of 41 validation writers' touching numbers read
#: wrong from pixels (of 300), 13 had a boundary 0.10-0.21 heights from a block's end and no cut within 0.06 of
#: it. On the training writers' touching numbers from pixels, 370 -> 376 and 363 -> 367 of 400 right (two draws);
#: spaced numbers unchanged. (At a `VALLEY_SHARE` of 0.5, 376 and 368, but a plain "2025" then cost 49 model inputs
#: instead of 30: the sides of its 0 made valleys too.) Only pixels get them (`Ink.end_cuts`): from strokes they
#: changed no reading of the training or the validation writers' numbers and doubled the cost of one.
END_CUT_FROM = 0.06
STEM_SHARE = 0.6
VALLEY_SHARE = 0.35
#: A candidate digit is at most this many typical heights wide (a single primitive is always a candidate): wider
#: than the widest of the training writers' pen digits (2.02 times its height), so that a wide 0 or 2 cut in two can
#: still be read whole ...
MAX_DIGIT_WIDTH = 2.1
#: ... and spans at most this many primitives: as many as a block of that width is cut into, so that a wide digit
#: standing alone is always a candidate whole. (At 4, a wide 0 cut five ways could only be read in pieces, as "07";
#: training writers' numbers from strokes, spaced 98.5% -> 99.3% right and touching 96.3% -> 97.8%, at 2.5 cuts per
#: height.) Where blocks get end cuts (`Ink.end_cuts`), those add two more (`Ink.max_span`).
MAX_SPAN = int(np.ceil(CUTS_PER_HEIGHT * MAX_DIGIT_WIDTH)) + 1
#: The most primitives a block is cut into: `MAX_CUTS` cuts, the two end cuts, and one.
MAX_PRIMITIVES = MAX_CUTS + 3
#: Blocks further apart than this fraction of the typical height are never one digit.
JOIN_GAP = 0.35

#: Path score per digit: log of its probability plus this bonus. Without a bonus every extra digit costs, and
#: the search would prefer one confident digit to two; the bonus was tuned on the training writers' numbers.
DIGIT_BONUS = 0.15
#: The model sees every candidate scaled to the same 20-px box, so it cannot tell a digit from a bar or a tail
#: of one; its size on the canvas can. Digits of one number are about as tall as each other: a candidate whose
#: ink is less tall than `SHORTEST` typical heights, or wider than `WIDEST`, loses `SIZE_PENALTY` nats per
#: typical height it falls outside that. `WIDEST` is about the widest 0.5% of the training writers' digits (zeros,
#: twos and fives are often wider than tall): at 1.3, one of their digits in 50 paid, and wide zeros were read as two
#: digits (numbers on those writers: 97.1% -> 97.6% right from strokes, 96.2% -> 96.7% from pixels).
SHORTEST = 0.6
WIDEST = 1.6
SIZE_PENALTY = 5.0
#: The score of leaving out a primitive that makes no image (a sliver or a dot).
SKIP_SCORE = -1.5
#: What a path pays for each stroke a cut inside a block goes through (a cut between strokes is free). A digit's
#: parts often read as digits too (a 6 as a 1 and a 0); this makes a cut win only when the pieces read clearly
#: better than the whole, and a cut through one touching point beats a cut through a loop.
CUT_PENALTY = 0.3
#: From pixels, what a cut pays for each run of ink down its column: half the strokes' price. Where two digits
#: touch, the pen was lifted between them, but the pixels show a run of ink across the cut (training writers'
#: numbers with touching digits, read from pixels: 81.5% right at 0.3, 85.8% at 0.15, 85.0% at 0.1 and at 0.2).
PIXEL_CUT_PENALTY = 0.15


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
    probabilities: np.ndarray  # (10,) as the classifier returned them
    image: np.ndarray  # the 28×28 image the model saw
    strokes: tuple[np.ndarray, ...] | None = None  # the pen strokes (or parts of strokes) it was read from


Classify = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) float32 images -> (N, 10) probabilities


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


class Ink:
    """What a drawing's way in (strokes or pixels) provides to the search; see `StrokeInk` and `PixelInk`."""

    #: The pieces' boxes, in the ink's own coordinates.
    boxes: list[Box]
    #: The stroke width in the ink's own coordinates.
    stroke_width: float
    #: Whether blocks get a cut beside an upright stroke at their ends (`choose_cuts`).
    end_cuts: bool = False

    @property
    def max_span(self) -> int:
        """The most primitives a candidate digit spans: `MAX_SPAN`, and two more where blocks get end cuts."""
        return MAX_SPAN + (2 if self.end_cuts else 0)

    def profile(self, block: list[int], box: Box) -> tuple[np.ndarray, np.ndarray]:
        """x positions across ``box`` and how much ink of ``block`` each column holds."""
        raise NotImplementedError

    def images(self, spans: list[list[tuple[list[int], float, float]]]) -> list[tuple]:
        """For each candidate, the union of its (block pieces, left, right) ink: its MNIST image (None when there
        is nothing to read), that ink's box, and the strokes it is made of (None for pixels)."""
        raise NotImplementedError

    def canvas_box(self, box: Box) -> Box:
        """A box in the ink's coordinates as canvas pixels."""
        return box

    def cut_cost(self, block: list[int], x: float) -> float:
        """What cutting ``block`` at ``x`` costs the path: :data:`CUT_PENALTY` for each stroke the cut goes through
        (:data:`PIXEL_CUT_PENALTY` for each run of ink, from pixels)."""
        raise NotImplementedError


class StrokeInk(Ink):
    """Pen strokes (canvas px), each stroke a piece; a part of a block is its strokes cut to an x range."""

    def __init__(self, strokes: CheckedStrokes, pen_width: float) -> None:
        self.strokes = strokes
        self.stroke_width = pen_width
        half = pen_width / 2
        self.boxes = [Box.of_points(s, half) for s in strokes]

    def profile(self, block: list[int], box: Box) -> tuple[np.ndarray, np.ndarray]:
        # Draw the block small (its height ~ 48 px, at most 2048 px wide) and count the inked pixels of each column.
        scale = min(48.0 / max(box.height, 1e-6), 2048.0 / max(box.width, 1e-6))
        shift = np.array([box.left, box.top])
        drawn = CheckedStrokes((self.strokes[i] - shift) * scale for i in block)
        size = (max(3, int(np.ceil(box.width * scale))), max(3, int(np.ceil(box.height * scale))))
        coverage = render_coverage(drawn, size, max(self.stroke_width * scale, 1.0), supersample=1)
        profile = (coverage > 0.5).sum(axis=0).astype(float)
        return box.left + (np.arange(size[0]) + 0.5) / scale, profile

    def cut_cost(self, block: list[int], x: float) -> float:
        # How often the pen crosses the vertical line at x: people lift the pen between digits, so a cut between
        # strokes is free, and the more often the pen crosses, the likelier the line runs through one digit.
        crossed = 0
        for i in block:
            xs = self.strokes[i][:, 0]
            crossed += int(np.count_nonzero(np.diff(np.sign(xs - x)) != 0))
        return CUT_PENALTY * crossed

    def _cut(self, index: int, left: float, right: float) -> list[np.ndarray]:
        """Stroke ``index`` cut to left <= x < right: the polyline's pieces in that band."""
        points = self.strokes[index]
        xs = points[:, 0]
        if xs.min() >= left and xs.max() < right:
            return [points]
        if len(points) == 1:
            return [points] if left <= xs[0] < right else []
        # For every segment a-b at once, the part within the band, by the parameter t along it (vectorised: a
        # stroke of thousands of points is cut for every candidate digit).
        a, b = points[:-1], points[1:]
        dx = b[:, 0] - a[:, 0]
        upright = np.abs(dx) < 1e-12  # (or nearly: the division would overflow)
        inside = (left <= a[:, 0]) & (a[:, 0] < right)
        safe_dx = np.where(upright, 1.0, dx)
        ta, tb = (left - a[:, 0]) / safe_dx, (right - a[:, 0]) / safe_dx
        t0 = np.where(upright, np.where(inside, 0.0, 1.0), np.maximum(0.0, np.minimum(ta, tb)))
        t1 = np.where(upright, np.where(inside, 1.0, 0.0), np.minimum(1.0, np.maximum(ta, tb)))
        kept = np.flatnonzero(t0 < t1)
        if not len(kept):
            return []
        starts = a + t0[:, None] * (b - a)
        ends = a + t1[:, None] * (b - a)
        # A kept segment continues the piece before it when it follows a kept segment that ran to its end, and
        # starts at its own beginning.
        joined = np.zeros(len(kept), dtype=bool)
        joined[1:] = (kept[1:] == kept[:-1] + 1) & (t1[kept[:-1]] >= 1.0) & (t0[kept[1:]] <= 0.0)
        firsts = [*np.flatnonzero(~joined), len(kept)]
        return [
            np.vstack([starts[kept[first]], ends[kept[first:stop]]])
            for first, stop in zip(firsts[:-1], firsts[1:], strict=True)
        ]

    def images(self, spans):
        images = []
        for parts in spans:
            strokes = []
            for block, left, right in parts:
                for index in block:
                    strokes.extend(self._cut(index, left, right))
            if not strokes:
                images.append((None, None, None))
                continue
            image = preprocess.strokes_to_mnist(CheckedStrokes(strokes), self.stroke_width)
            images.append((image, Box.of_points(np.concatenate(strokes), self.stroke_width / 2), tuple(strokes)))
        return images


class PixelInk(Ink):
    """An ink-coverage map; pieces are its connected components, and each inked pixel belongs to the nearest."""

    OWN_MARGIN = 3  # px: faint edge pixels up to this far from a piece belong to it
    end_cuts = True  # a 1 fused with its neighbour shows no pen lift to cut at

    def __init__(self, coverage: np.ndarray, scale: int, max_pieces: int = 200) -> None:
        self.coverage = coverage
        self.scale = scale
        labels, count = ndimage.label(coverage > PIECE_THRESHOLD, structure=np.ones((3, 3)))
        if count > max_pieces:  # noise-like ink: keep the largest pieces, the rest is not a number's ink
            sizes = ndimage.sum_labels(np.ones_like(coverage), labels, index=np.arange(1, count + 1))
            keep = np.argsort(-sizes, kind="stable")[:max_pieces] + 1
            relabel = np.zeros(count + 1, dtype=labels.dtype)
            relabel[keep] = np.arange(1, len(keep) + 1)
            labels, count = relabel[labels], len(keep)
        self.labels = labels
        slices = ndimage.find_objects(labels)
        self.boxes = [Box(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in slices]
        self.stroke_width = preprocess.stroke_width(coverage) if count else 0.0
        if count:
            # Every pixel goes to its nearest piece (one distance transform for the whole drawing).
            distance, (near_y, near_x) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
            owner = labels[near_y, near_x]
            owner[(distance > self.OWN_MARGIN) | (coverage <= 0)] = 0
            self.owner = owner
        else:
            self.owner = labels

    def profile(self, block, box):
        left, top, right, bottom = (int(v) for v in box)
        region = np.isin(self.labels[top:bottom, left:right], np.asarray(block) + 1)
        return np.arange(left, right) + 0.5, region.sum(axis=0).astype(float)

    def images(self, spans):
        images = []
        for parts in spans:
            mask = np.zeros(self.coverage.shape, dtype=bool)
            for block, left, right in parts:
                box = Box.union(self.boxes[i] for i in block)
                x0 = int(max(np.floor(left), box.left - self.OWN_MARGIN, 0))
                x1 = int(min(np.ceil(right), box.right + self.OWN_MARGIN, self.coverage.shape[1]))
                y0 = int(max(box.top - self.OWN_MARGIN, 0))
                y1 = int(min(box.bottom + self.OWN_MARGIN, self.coverage.shape[0]))
                mask[y0:y1, x0:x1] |= np.isin(self.owner[y0:y1, x0:x1], np.asarray(block) + 1)
            ink = np.where(mask, self.coverage, 0.0)
            box = preprocess.ink_box(ink)
            images.append((preprocess.ink_to_mnist(ink), box, None) if box is not None else (None, None, None))
        return images

    def canvas_box(self, box):
        return box.scaled(self.scale)

    def cut_cost(self, block, x):
        # The runs of ink down the column at x: how many strokes (or touching points) a cut there goes through.
        column = int(np.clip(np.floor(x), 0, self.coverage.shape[1] - 1))
        inked = np.isin(self.labels[:, column], np.asarray(block) + 1).astype(np.int8)
        runs = int(np.count_nonzero(np.diff(np.concatenate([[0], inked])) == 1))
        return PIXEL_CUT_PENALTY * runs


def size_penalty(box: Box, typical: float) -> float:
    """How implausible a candidate of this ink box is as one digit of a number of digits ``typical`` tall."""
    short = max(0.0, SHORTEST - box.height / typical)
    wide = max(0.0, box.width / typical - WIDEST)
    return SIZE_PENALTY * (short + wide)


def read_number(ink: Ink, classify: Classify) -> list[Reading]:
    """The digits of a number, left to right, as the path search reads them (see the module docstring)."""
    if not ink.boxes:
        return []
    blocks = group_pieces(ink.boxes)
    block_boxes = [Box.union(ink.boxes[i] for i in block) for block in blocks]
    typical = max(float(np.median([b.height for b in block_boxes])), MIN_HEIGHT_WIDTHS * ink.stroke_width, 1e-6)

    # Primitives: each block, cut at its candidate cuts. boundary_cost[k] is what a digit boundary before primitive
    # k costs: nothing between blocks, the cut's cost inside one.
    primitives: list[Part] = []
    boundary_cost: list[float] = []
    for index, (block, box) in enumerate(zip(blocks, block_boxes, strict=True)):
        limit = cuts_allowed(box.width, typical)
        cuts = choose_cuts(*ink.profile(block, box), typical, limit, ink.end_cuts) if limit else []
        edges = [-np.inf, *cuts, np.inf]
        primitives += [Part(index, lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
        boundary_cost += [0.0] + [ink.cut_cost(block, x) for x in cuts]

    def extent(part: Part) -> tuple[float, float]:
        box = block_boxes[part.block]
        return max(part.left, box.left), min(part.right, box.right)

    # Candidates: runs of consecutive primitives, narrow enough, not across a wide gap.
    candidates: list[tuple[int, int]] = []
    for first in range(len(primitives)):
        for last in range(first, min(first + ink.max_span, len(primitives))):
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
            candidates.append((first, last))

    spans = []
    for first, last in candidates:
        parts: dict[int, list[float]] = {}
        for part in primitives[first : last + 1]:
            span = parts.setdefault(part.block, [part.left, part.right])
            span[0], span[1] = min(span[0], part.left), max(span[1], part.right)
        spans.append([(blocks[b], lo, hi) for b, (lo, hi) in parts.items()])
    drawn = ink.images(spans)
    images = [image for image, _, _ in drawn]
    readable = [i for i, image in enumerate(images) if image is not None]
    probabilities = np.zeros((len(candidates), 10), dtype=np.float32)
    if readable:
        probabilities[readable] = classify(np.stack([images[i] for i in readable]))

    # Path search: best[k] is the best score of reading primitives 0..k-1.
    best = np.full(len(primitives) + 1, -np.inf)
    best[0] = 0.0
    back: list[tuple[int, int] | None] = [None] * (len(primitives) + 1)
    by_last: dict[int, list[int]] = {}
    for index, (_, last) in enumerate(candidates):
        by_last.setdefault(last, []).append(index)
    for last in range(len(primitives)):
        for index in by_last.get(last, []):
            first = candidates[index][0]
            if images[index] is None:
                if first != last:
                    continue
                score = SKIP_SCORE
            else:
                score = float(np.log(max(float(probabilities[index].max()), 1e-9))) + DIGIT_BONUS
                score -= size_penalty(drawn[index][1], typical)
            score -= boundary_cost[first] if first > 0 else 0.0
            if best[first] + score > best[last + 1]:
                best[last + 1] = best[first] + score
                back[last + 1] = (first, index)
    path, position = [], len(primitives)
    while position > 0 and back[position] is not None:
        first, index = back[position]
        if images[index] is not None:
            path.append(index)
        position = first
    readings = []
    for index in reversed(path):
        first, last = candidates[index]
        boxes = []
        for part in primitives[first : last + 1]:
            lo, hi = extent(part)
            box = block_boxes[part.block]
            boxes.append(Box(lo, box.top, hi, box.bottom))
        readings.append(Reading(ink.canvas_box(Box.union(boxes)), probabilities[index], images[index], drawn[index][2]))
    return readings
