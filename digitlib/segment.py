"""Split a drawing of several digits side by side into single digits, left to right.

Two ways in, one rule. From pixels (:func:`split_ink`, used by ``Recognizer.predict_number``),
the pieces are the connected components of the ink; from pen strokes (:func:`group_strokes`,
used by the drawing pad, which knows its strokes), the pieces are the strokes. Either way,
pieces whose horizontal extents overlap substantially belong to the same digit: that keeps a
4 drawn in two strokes, a 5 with its separate bar or a 7 with a cross bar whole, while
neighbouring digits, which sit side by side, stay apart even when they nearly touch. A piece
much shorter than the digits (a detached bar) joins its nearest neighbour; stray marks are
dropped.

What pixels and geometry cannot settle (two digits that touch, a 4 whose strokes do not)
is left to the recogniser, which tries :func:`split_in_two` and :func:`join_segments` and
keeps what reads better (see ``Recognizer.predict_number``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from digitlib.preprocess import INK_THRESHOLD
from digitlib.render import Strokes, validate_strokes

#: Two pieces belong to one digit when their x-extents overlap by at least this fraction of
#: the narrower one's width.
OVERLAP_FRACTION = 0.5
#: A group shorter than this fraction of the median group height is part of a neighbour.
SMALL_PART = 0.45
#: ... if a group is that near: a horizontal gap under this fraction of the median height.
NEAR = 0.5
#: A group whose longest side is under this fraction of the largest group is a stray mark.
SMALLEST_GROUP = 0.2
#: Pixel pieces are cut at this coverage, above the general ink threshold, so the faint
#: anti-aliased pixels between two nearly touching digits do not join them.
PIECE_THRESHOLD = max(INK_THRESHOLD, 0.5)


@dataclass(frozen=True)
class Segment:
    """One digit found in an ink map.

    Attributes:
        coverage: the ink of this digit only (float32, 0–1), cropped to ``box`` plus a margin.
        box: (top, bottom, left, right) of the digit in the ink map's pixels (bottom and right
            exclusive).
        origin: (row, column) of ``coverage``'s top-left pixel in the ink map.
    """

    coverage: np.ndarray
    box: tuple[int, int, int, int]
    origin: tuple[int, int] = (0, 0)


def merge_by_overlap(extents: Sequence[tuple[float, float]]) -> list[list[int]]:
    """Group pieces by horizontal overlap; return groups of piece indices, left to right.

    ``extents`` holds each piece's (left, right). Two groups merge when their extents overlap
    by at least :data:`OVERLAP_FRACTION` of the narrower one's width (a narrow piece inside a
    wide one, like a 7's cross bar or a 4's upright, always merges).
    """
    order = sorted(range(len(extents)), key=lambda i: (extents[i][0], extents[i][1]))
    groups = [[i] for i in order]
    ranges = [tuple(extents[i]) for i in order]
    changed = True
    while changed and len(groups) > 1:
        changed = False
        # Groups stay sorted by left edge; merging neighbours until nothing changes also
        # catches a group whose extent grew into the next one.
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


Box = tuple[float, float, float, float]  # (top, bottom, left, right)


def _union(boxes: Sequence[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        max(b[1] for b in boxes),
        min(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def group_pieces(boxes: Sequence[Box]) -> list[list[int]]:
    """Group pieces of ink (given by their boxes) into digits; return index lists, left to right.

    1. Pieces whose x-extents overlap substantially are one digit (:func:`merge_by_overlap`).
    2. A group much shorter than the others (under :data:`SMALL_PART` of the median height,
       like the detached bar of a 5 or the flag of a 1) is no digit on its own: it joins the
       nearest group (by the horizontal gap between them) if that one is near, within
       one median height.
    3. Groups much smaller than the largest (under :data:`SMALLEST_GROUP` of its size) are
       stray marks and are dropped.
    """
    if not boxes:
        return []
    groups = merge_by_overlap([(b[2], b[3]) for b in boxes])
    merged = True
    while merged and len(groups) > 1:
        merged = False
        group_boxes = [_union([boxes[i] for i in g]) for g in groups]
        heights = np.array([b[1] - b[0] for b in group_boxes])
        lefts = np.array([b[2] for b in group_boxes])
        rights = np.array([b[3] for b in group_boxes])
        typical = float(np.median(heights))
        for small in np.argsort(heights, kind="stable"):
            if heights[small] >= SMALL_PART * typical:
                break
            # Horizontal gap between the boxes (negative when they overlap).
            gaps = np.maximum(lefts - rights[small], lefts[small] - rights).astype(float)
            gaps[small] = np.inf
            nearest = int(np.argmin(gaps))
            if gaps[nearest] <= NEAR * typical:
                groups[nearest] = sorted(groups[nearest] + groups[small])
                del groups[small]
                merged = True
                break
    group_boxes = [_union([boxes[i] for i in g]) for g in groups]
    sizes = [max(b[1] - b[0], b[3] - b[2]) for b in group_boxes]
    kept = [
        (b[2], g) for g, b, size in zip(groups, group_boxes, sizes, strict=True) if size >= SMALLEST_GROUP * max(sizes)
    ]
    return [g for _, g in sorted(kept)]


def split_ink(coverage: np.ndarray) -> list[Segment]:
    """Split an ink map (0 background, 1 ink; specks already removed) into digits, left to right.

    Pieces are the 8-connected components of the ink; pieces that overlap horizontally are one
    digit (see :func:`merge_by_overlap`). The faint edge pixels around the pieces go to the
    digit of the nearest piece.
    """
    labels, count = ndimage.label(coverage > PIECE_THRESHOLD, structure=np.ones((3, 3)))
    if count == 0:
        return []
    slices = ndimage.find_objects(labels)
    boxes = [(s[0].start, s[0].stop, s[1].start, s[1].stop) for s in slices]
    groups = group_pieces(boxes)
    segments = []
    margin = 3
    height, width = coverage.shape
    for group in groups:
        top, bottom, left, right = (int(v) for v in _union([boxes[i] for i in group]))
        y0, y1 = max(top - margin, 0), min(bottom + margin, height)
        x0, x1 = max(left - margin, 0), min(right + margin, width)
        crop_labels = labels[y0:y1, x0:x1]
        crop = coverage[y0:y1, x0:x1]
        mine_labels = np.asarray(group) + 1
        if np.setdiff1d(crop_labels, [0, *mine_labels]).size:  # a neighbour reaches into the crop
            # Each pixel goes to its nearest piece; keep those of this group's pieces.
            distance, (near_y, near_x) = ndimage.distance_transform_edt(crop_labels == 0, return_indices=True)
            mine = np.isin(crop_labels[near_y, near_x], mine_labels) & (distance <= margin)
            piece = np.where(mine, crop, 0.0).astype(np.float32)
        else:
            piece = crop.astype(np.float32, copy=True)
        segments.append(Segment(piece, (top, bottom, left, right), (y0, x0)))
    return segments


def _densify(points: np.ndarray, spacing: float) -> np.ndarray:
    """Points along a polyline, at most ``spacing`` apart."""
    if len(points) < 2:
        return points
    steps = np.maximum(np.ceil(np.linalg.norm(np.diff(points, axis=0), axis=1) / spacing), 1)
    pieces = [
        a + (b - a) * np.linspace(0, 1, int(n), endpoint=False)[:, None]
        for a, b, n in zip(points[:-1], points[1:], steps, strict=True)
    ]
    return np.concatenate([*pieces, points[-1:]])


def touching_strokes(strokes: Sequence[np.ndarray], pen_width: float) -> list[list[int]]:
    """Group strokes whose inks touch or cross (centre lines closer than one pen width).

    This is what connected components are for pixels: touching strokes make one piece of ink.
    """
    spacing = max(pen_width / 4, 0.5)
    dense = [_densify(s, spacing) for s in strokes]
    boxes = [(d.min(axis=0) - pen_width, d.max(axis=0) + pen_width) for d in dense]
    parent = list(range(len(strokes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(dense)):
        for j in range(i + 1, len(dense)):
            (low_i, high_i), (low_j, high_j) = boxes[i], boxes[j]
            if np.any(low_i > high_j) or np.any(low_j > high_i):
                continue  # boxes too far apart to touch
            gaps = dense[i][:, None, :] - dense[j][None, :, :]
            if (gaps * gaps).sum(axis=-1).min() <= pen_width * pen_width:
                parent[root(i)] = root(j)
    pieces: dict[int, list[int]] = {}
    for i in range(len(strokes)):
        pieces.setdefault(root(i), []).append(i)
    return list(pieces.values())


def group_strokes(strokes: Strokes, pen_width: float = 0.0) -> list[list[int]]:
    """Group the strokes of a number into digits; return lists of stroke indices, left to right.

    As for pixels: strokes whose inks touch form one piece, and pieces whose x-extents (pen
    width included) overlap substantially are one digit. Groups much smaller than the largest
    (a stray tap) are dropped. Empty strokes are ignored.
    """
    arrays = validate_strokes(strokes)
    # Keep the caller's stroke indices even when some strokes were empty.
    indices = [i for i, stroke in enumerate(strokes) if len(stroke) > 0]
    pieces = touching_strokes(arrays, pen_width)
    half = pen_width / 2
    boxes = []
    for piece in pieces:
        points = np.concatenate([arrays[i] for i in piece])
        (left, top), (right, bottom) = points.min(axis=0) - half, points.max(axis=0) + half
        boxes.append((float(top), float(bottom), float(left), float(right)))
    groups = group_pieces(boxes)
    return [sorted(indices[i] for k in group for i in pieces[k]) for group in groups]


def split_in_two(piece: Segment, search: tuple[float, float] = (0.3, 0.7)) -> tuple[Segment, Segment] | None:
    """Cut a segment that may hold two touching digits at its thinnest column.

    The cut is the column with the least ink between the ``search`` fractions of the
    segment's width (nearest the middle on ties). Returns the left and right parts, or None
    when the segment is too narrow to cut. Whether the cut is right is for a recogniser to
    judge (see ``Recognizer.predict_number``).
    """
    cuts = candidate_cuts(piece, search, limit=1)
    return cuts[0] if cuts else None


def candidate_cuts(
    piece: Segment, search: tuple[float, float] = (0.15, 0.85), limit: int = 5
) -> list[tuple[Segment, Segment]]:
    """Up to ``limit`` ways to cut a segment in two, thinnest first: where touching digits meet.

    Candidates are columns between the ``search`` fractions of the segment's width, least ink
    first (nearest the middle on ties), at least a tenth of the width apart. A run of several
    touching digits has one thin place between each pair, so the recogniser tries a few and
    keeps the cut whose halves read best (see ``Recognizer.predict_number``).
    """
    inked = piece.coverage > PIECE_THRESHOLD
    columns = np.flatnonzero(inked.any(axis=0))
    if columns.size < 4:
        return []
    first, last = int(columns[0]), int(columns[-1]) + 1
    low = first + int(np.ceil(search[0] * (last - first)))
    high = first + int(np.floor(search[1] * (last - first)))
    if high <= low:
        return []
    candidates = np.arange(low, high)
    profile = inked[:, low:high].sum(axis=0)
    chosen: list[int] = []
    for column in candidates[np.lexsort((np.abs(candidates - (first + last) / 2), profile))]:
        if len(chosen) == limit:
            break
        if all(abs(int(column) - other) >= 0.1 * (last - first) for other in chosen):
            chosen.append(int(column))
    cuts = [_cut_at(piece, column) for column in chosen]
    return [cut for cut in cuts if cut is not None]


def _cut_at(piece: Segment, column: int) -> tuple[Segment, Segment] | None:
    """The parts of ``piece`` left and right of ``column`` (None if one of them has no ink)."""
    parts = []
    for keep in (slice(0, column), slice(column, None)):
        coverage = np.zeros_like(piece.coverage)
        coverage[:, keep] = piece.coverage[:, keep]
        part_inked = coverage > PIECE_THRESHOLD
        rows, cols = np.flatnonzero(part_inked.any(axis=1)), np.flatnonzero(part_inked.any(axis=0))
        if rows.size == 0:
            return None
        y0, x0 = piece.origin
        box = (y0 + int(rows[0]), y0 + int(rows[-1]) + 1, x0 + int(cols[0]), x0 + int(cols[-1]) + 1)
        parts.append(Segment(coverage, box, piece.origin))
    return parts[0], parts[1]


def join_segments(first: Segment, second: Segment) -> Segment:
    """One segment holding the ink of two."""
    top = min(first.origin[0], second.origin[0])
    left = min(first.origin[1], second.origin[1])
    bottom = max(s.origin[0] + s.coverage.shape[0] for s in (first, second))
    right = max(s.origin[1] + s.coverage.shape[1] for s in (first, second))
    coverage = np.zeros((bottom - top, right - left), dtype=np.float32)
    for part in (first, second):
        y, x = part.origin[0] - top, part.origin[1] - left
        region = coverage[y : y + part.coverage.shape[0], x : x + part.coverage.shape[1]]
        np.maximum(region, part.coverage, out=region)
    box = (
        min(first.box[0], second.box[0]),
        max(first.box[1], second.box[1]),
        min(first.box[2], second.box[2]),
        max(first.box[3], second.box[3]),
    )
    return Segment(coverage, box, (top, left))
