"""The pieces of a drawing the number reader cuts into candidate digits: its strokes, or the pieces of its ink.

`digitlib.reading` groups pieces into blocks, cuts the blocks and searches for the best reading; a `Pieces` object
tells it, for its own way in, where the pieces are, how much ink each column holds, what a cut costs and what each
candidate digit looks like as a 28×28 image.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from digitlib import preprocess
from digitlib.boxes import Box
from digitlib.canvas_image import INK_THRESHOLD, MAX_PARTS, ink_box, stroke_width
from digitlib.drawing import Drawing, is_dot, polyline_pieces
from digitlib.render import render_coverage

#: Cuts per typical digit height (`digitlib.reading.cuts_allowed`).
CUTS_PER_HEIGHT = 4.0
#: A candidate digit is at most this many typical heights wide: more than the widest training writer's digit ...
MAX_DIGIT_WIDTH = 2.1
#: ... and spans at most this many primitives, as many as a block that wide is cut into (`Pieces.max_span`).
MAX_SPAN = int(np.ceil(CUTS_PER_HEIGHT * MAX_DIGIT_WIDTH)) + 1
#: Pixel pieces are cut at this coverage, so the faint anti-aliased pixels between two nearly touching digits do
#: not join them.
PIECE_THRESHOLD = max(INK_THRESHOLD, 0.5)
#: What a cut inside a block pays for each stroke it goes through (a cut between strokes is free), so that a cut
#: wins only when the pieces read clearly better than the whole ...
CUT_PENALTY = 0.3
#: ... and from pixels for each run of ink down its column: half that, since a run is often where digits touch.
PIXEL_CUT_PENALTY = 0.15
#: A stroke block's ink profile is drawn this many px tall, and at most `PROFILE_WIDTH` px wide.
PROFILE_HEIGHT = 48.0
PROFILE_WIDTH = 2048.0


class Pieces:
    """What a drawing's way in (strokes or pixels) gives the search; see `StrokePieces` and `PixelPieces`."""

    #: The pieces' boxes, in the pieces' own coordinates.
    boxes: list[Box]
    #: The stroke width in the pieces' own coordinates.
    stroke_width: float
    #: Whether blocks get a cut beside an upright stroke at their ends (`choose_cuts`).
    end_cuts: bool = False
    #: The most candidate digits one reading draws: beyond it, the blocks with the most cuts get fewer
    #: (`digitlib.reading.fewer_cuts`), then candidates join fewer blocks, until the candidates fit, so a reading
    #: costs at most a few times a 4-digit number's, however much touching ink there is (a long run of touching
    #: digits is then cut less finely). From strokes, where digits meet mostly at pen lifts, the tune writers'
    #: numbers read the same at 80 as at 200.
    max_candidates: int = 80

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
        """A box in the pieces' coordinates as canvas pixels."""
        return box

    def cut_cost(self, block: list[int], x: float) -> float:
        """What cutting ``block`` at ``x`` costs the path: :data:`CUT_PENALTY` for each stroke the cut goes through
        (:data:`PIXEL_CUT_PENALTY` for each run of ink, from pixels)."""
        raise NotImplementedError


class StrokePieces(Pieces):
    """A drawing's strokes as the canvas shows them (`Drawing.on_canvas`), each stroke a piece; a part of a block is
    its strokes cut to an x range."""

    def __init__(self, drawing: Drawing) -> None:
        self.strokes = drawing.on_canvas.strokes
        self.stroke_width = drawing.pen
        half = drawing.pen / 2
        self.boxes = [Box.of_points(s, half) for s in self.strokes]
        self._x_ranges = [(float(s[:, 0].min()), float(s[:, 0].max())) for s in self.strokes]

    def profile(self, block: list[int], box: Box) -> tuple[np.ndarray, np.ndarray]:
        # Draw the block small and count the inked pixels of each column.
        scale = min(PROFILE_HEIGHT / max(box.height, 1e-6), PROFILE_WIDTH / max(box.width, 1e-6))
        shift = np.array([box.left, box.top])
        drawn = [(self.strokes[i] - shift) * scale for i in block]
        size = (max(3, int(np.ceil(box.width * scale))), max(3, int(np.ceil(box.height * scale))))
        coverage = render_coverage(drawn, size, max(self.stroke_width * scale, 1.0), supersample=1)
        profile = (coverage > 0.5).sum(axis=0).astype(float)
        return box.left + (np.arange(size[0]) + 0.5) / scale, profile

    def cut_cost(self, block: list[int], x: float) -> float:
        # How often the pen crosses the vertical line at x: people lift the pen between digits.
        crossed = 0
        for i in block:
            low, high = self._x_ranges[i]
            if low > x or high < x:
                continue  # wholly on one side: never crosses
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
        # For every segment a-b at once, the part within the band, by the parameter t along it.
        a, b = points[:-1], points[1:]
        dx = b[:, 0] - a[:, 0]
        upright = np.abs(dx) < 1e-12  # (or nearly: the division would overflow)
        inside = (left <= a[:, 0]) & (a[:, 0] < right)
        safe_dx = np.where(upright, 1.0, dx)
        ta, tb = (left - a[:, 0]) / safe_dx, (right - a[:, 0]) / safe_dx
        t0 = np.where(upright, np.where(inside, 0.0, 1.0), np.maximum(0.0, np.minimum(ta, tb)))
        t1 = np.where(upright, np.where(inside, 1.0, 0.0), np.minimum(1.0, np.maximum(ta, tb)))
        return polyline_pieces(points, t0, t1)

    def images(self, spans):
        images = []
        for parts in spans:
            # Each stroke that reaches into a part leaves at least one piece in it: more than one digit's marks
            # (hatching, a scribbled area) is no digit, and is not cut up to find that out.
            reaching = [
                (i, left, right)
                for block, left, right in parts
                for i in block
                if self._x_ranges[i][0] < right and self._x_ranges[i][1] >= left
            ]
            strokes = []
            if len(reaching) <= MAX_PARTS:
                for index, left, right in reaching:
                    strokes.extend(self._cut(index, left, right))
            # More pieces than one digit's marks once cut (a spiral's slice crosses the band at every turn): no digit.
            if not strokes or len(strokes) > MAX_PARTS:
                images.append((None, None, None))
                continue
            image = preprocess.strokes_image(strokes, self.stroke_width)
            images.append((image, Box.of_points(np.concatenate(strokes), self.stroke_width / 2), tuple(strokes)))
        return images


class PixelPieces(Pieces):
    """An ink-coverage map; pieces are its connected components, and each inked pixel belongs to the nearest."""

    OWN_MARGIN = 3  # px: faint edge pixels up to this far from a piece belong to it
    end_cuts = True  # a 1 fused with its neighbour shows no pen lift to cut at
    max_candidates = 150  # touching ink has no pen lifts to cut at: finer cuts (fewer lose tune numbers)

    def __init__(self, coverage: np.ndarray, scale: int, max_pieces: int = 200) -> None:
        self.coverage = coverage
        self.scale = scale
        labels, count = ndimage.label(coverage > PIECE_THRESHOLD, structure=np.ones((3, 3)))
        if count > max_pieces:  # noise-like ink: keep the largest pieces, the rest is not a number's ink
            sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
            keep = np.argsort(-sizes, kind="stable")[:max_pieces] + 1
            relabel = np.zeros(count + 1, dtype=labels.dtype)
            relabel[keep] = np.arange(1, len(keep) + 1)
            labels, count = relabel[labels], len(keep)
        self.stroke_width = stroke_width(coverage) if count else 0.0
        slices = ndimage.find_objects(labels)
        boxes = [Box(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in slices]
        # A piece as thick as it is long is a dot or a blob (its thickness: twice its deepest inside point).
        depth = ndimage.distance_transform_edt(labels > 0)
        deepest = np.zeros(count + 1)  # per piece; np.maximum.at, not ndimage.maximum, which sorts every pixel
        np.maximum.at(deepest, labels.ravel(), depth.ravel())
        thickness = 2 * deepest[1:]
        dots = [i for i, box in enumerate(boxes) if is_dot(box.longest_side, thickness[i])]
        if dots:  # a dot or blob is no digit, as on the pad: its ink is left out
            relabel = np.arange(count + 1, dtype=labels.dtype)
            relabel[np.asarray(dots) + 1] = 0
            kept = np.flatnonzero(relabel[1:]) + 1
            relabel[kept] = np.arange(1, len(kept) + 1)
            labels, count = relabel[labels], len(kept)
            boxes = [boxes[i - 1] for i in kept]
        self.labels = labels
        self.boxes = boxes
        if count:
            # Every pixel goes to its nearest piece (one distance transform for the whole drawing).
            distance, (near_y, near_x) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
            owner = labels[near_y, near_x]
            owner[(distance > self.OWN_MARGIN) | (coverage <= 0)] = 0
            self.owner = owner
        else:
            self.owner = labels

    def _members(self, block: list[int]) -> np.ndarray:
        """For each label (0 = no piece), whether it is one of ``block``'s pieces: a lookup, cheaper than np.isin."""
        members = np.zeros(len(self.boxes) + 1, dtype=bool)
        members[np.asarray(block, dtype=int) + 1] = True
        return members

    def profile(self, block, box):
        left, top, right, bottom = (int(v) for v in box)
        region = self._members(block)[self.labels[top:bottom, left:right]]
        return np.arange(left, right) + 0.5, region.sum(axis=0).astype(float)

    def images(self, spans):
        height, width = self.coverage.shape
        images = []
        for parts in spans:
            regions = []  # each part's pixels: its block's pieces (and the faint edges they own) between its cuts
            for block, left, right in parts:
                box = Box.union(self.boxes[i] for i in block)
                x0 = int(max(np.floor(left), box.left - self.OWN_MARGIN, 0))
                x1 = int(min(np.ceil(right), box.right + self.OWN_MARGIN, width))
                y0 = int(max(box.top - self.OWN_MARGIN, 0))
                y1 = int(min(box.bottom + self.OWN_MARGIN, height))
                regions.append((block, x0, x1, y0, y1))
            # The candidate is drawn within its parts' rectangle, not the whole canvas: a long number has many.
            left, top = min(r[1] for r in regions), min(r[3] for r in regions)
            right, bottom = max(r[2] for r in regions), max(r[4] for r in regions)
            mask = np.zeros((max(bottom - top, 0), max(right - left, 0)), dtype=bool)
            for block, x0, x1, y0, y1 in regions:
                if x1 > x0 and y1 > y0:
                    owned = self._members(block)[self.owner[y0:y1, x0:x1]]
                    mask[y0 - top : y1 - top, x0 - left : x1 - left] |= owned
            ink = np.where(mask, self.coverage[top:bottom, left:right], 0.0)
            box = ink_box(ink)
            if box is None:
                images.append((None, None, None))
                continue
            images.append((preprocess.ink_to_mnist(ink), box.shifted(left, top), None))
        return images

    def canvas_box(self, box):
        return box.scaled(self.scale)

    def cut_cost(self, block, x):
        # The runs of ink down the column at x: how many strokes (or touching points) a cut there goes through.
        column = int(np.clip(np.floor(x), 0, self.coverage.shape[1] - 1))
        inked = self._members(block)[self.labels[:, column]].astype(np.int8)
        runs = int(np.count_nonzero(np.diff(np.concatenate([[0], inked])) == 1))
        return PIXEL_CUT_PENALTY * runs
