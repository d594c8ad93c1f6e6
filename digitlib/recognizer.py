"""Read handwritten digits and numbers from canvas images or pen strokes.

    >>> from digitlib.recognizer import Recognizer
    >>> rec = Recognizer.load()                 # the shipped model
    >>> p = rec.predict_image(canvas_image)     # H×W, H×W×3 or H×W×4; uint8 or float in [0, 1]
    >>> p.digit, p.confidence, p.is_confident
    >>> rec.predict_number(canvas_image).text   # e.g. "2025"

Images go through the MNIST recipe (:mod:`digitlib.preprocess`), numbers are split into
digits by :mod:`digitlib.segment`, and the model is called through a ``tf.function`` with a
fixed input signature, which takes about a millisecond per call where ``model.predict`` takes
tens of milliseconds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitlib import preprocess, segment
from digitlib.model_files import SHIPPED_MODEL, ModelFileError, load_model
from digitlib.render import Strokes, canvas_shape, validate_strokes

__all__ = [
    "CONFIDENCE_THRESHOLD",
    "DigitPrediction",
    "ModelFileError",
    "NumberPrediction",
    "Recognizer",
]

#: Below this probability a prediction is flagged as unsure (``is_confident`` is False), so a
#: user interface can say "not sure" instead of showing a confident wrong answer.
CONFIDENCE_THRESHOLD = 0.8

#: A segment of a number this many times wider than the digits are tall may be digits that
#: touch (see ``Recognizer.predict_number``); about 1 drawn digit in 10 is that wide.
TOUCHING_ASPECT = 1.0
#: ... and one this many times wider is cut whatever the model says of it as one digit: fewer
#: than 1 drawn digit in 1,000 is that wide.
MAX_DIGIT_ASPECT = 2.0
#: Neighbouring parts of a number closer than this fraction of the digit height may be one
#: digit (see ``Recognizer.predict_number``).
JOIN_GAP = 0.25
#: ... and only when together they are no wider than this fraction of their height.
JOIN_ASPECT = 0.9

_BLANK_IMAGE = np.zeros((preprocess.MNIST_SIZE, preprocess.MNIST_SIZE), dtype=np.float32)
_BLANK_IMAGE.setflags(write=False)


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy fields has no single truth value
class DigitPrediction:
    """What the model read for one digit.

    Attributes:
        digit: the most probable digit 0–9, or None when there was no ink.
        confidence: the probability of ``digit`` (0.0 when there was no ink).
        probabilities: float32 array (10,) of class probabilities (all 0 when there was no ink).
        mnist_image: the 28×28 float32 image the model saw, white ink on black (all 0 when
            there was no ink).
        box: where the digit is on the canvas, as (left, top, right, bottom) in canvas pixels,
            or None when there was no ink.
    """

    digit: int | None
    confidence: float
    probabilities: np.ndarray = field(repr=False)
    mnist_image: np.ndarray = field(repr=False)
    box: tuple[float, float, float, float] | None = None

    @property
    def is_confident(self) -> bool:
        """True when there is a digit and its probability reaches :data:`CONFIDENCE_THRESHOLD`."""
        return self.digit is not None and self.confidence >= CONFIDENCE_THRESHOLD

    @property
    def runner_up(self) -> int | None:
        """The second most probable digit (None when there was no ink)."""
        if self.digit is None:
            return None
        return int(np.argsort(self.probabilities)[-2])


@dataclass(frozen=True)
class NumberPrediction:
    """What the model read for a number: one prediction per digit, left to right.

    Attributes:
        digits: the per-digit predictions, left to right (empty when there was no ink).
        text: the digits as a string, e.g. ``"2025"``; ``""`` when there was no ink.
    """

    digits: list[DigitPrediction] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"NumberPrediction(text={self.text!r}, confidence={self.confidence:.3f})"

    @property
    def text(self) -> str:
        """The digits as a string, left to right (``""`` when there was no ink)."""
        return "".join(str(p.digit) for p in self.digits if p.digit is not None)

    @property
    def confidence(self) -> float:
        """Probability that every digit is right (the product; 0.0 when there was no ink)."""
        if not self.digits:
            return 0.0
        return float(np.prod([p.confidence for p in self.digits]))

    @property
    def is_confident(self) -> bool:
        """True when there is at least one digit and every digit is confident."""
        return bool(self.digits) and all(p.is_confident for p in self.digits)


def _blank_prediction() -> DigitPrediction:
    return DigitPrediction(None, 0.0, np.zeros(10, dtype=np.float32), _BLANK_IMAGE)


class Recognizer:
    """A digit model with the preprocessing that makes it read drawings.

    Build one with :meth:`load` (from a ``.keras`` file) or ``Recognizer(model)`` (from a Keras
    model already in memory). The model must take float32 (N, 28, 28, 1) images in [0, 1], white
    ink on black, and return 10 class probabilities.
    """

    def __init__(self, model, name: str = "model") -> None:
        import tensorflow as tf

        self.model = model
        self.name = name

        # A fixed signature means one trace for every batch size: no retracing, no
        # per-call overhead of model.predict.
        @tf.function(
            input_signature=[tf.TensorSpec(shape=(None, 28, 28, 1), dtype=tf.float32)],
            reduce_retracing=True,
        )
        def call(images):
            return model(images, training=False)

        self._call = call
        # Run once now: the first real prediction is then as fast as the others, and we check
        # that the model returns probabilities.
        probabilities = self.predict_mnist(np.zeros((1, 28, 28), dtype=np.float32))
        if probabilities.shape != (1, 10) or not np.isclose(probabilities.sum(), 1.0, atol=1e-3):
            raise ModelFileError(
                f"{name} returns {probabilities.shape} values summing to "
                f"{probabilities.sum():.3f}; a digitlib model returns 10 probabilities (softmax). "
                "Train one with `python -m digitlib.train`, or use the shipped model."
            )

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> Recognizer:
        """Load a model file (default: the shipped ``models/digitlib_cnn.keras``).

        Raises:
            ModelFileError: when the file is missing, truncated or not a compatible model; the
                message says how to get one (train with ``python -m digitlib.train``, or use
                the shipped model).
        """
        path = Path(SHIPPED_MODEL if path is None else path)
        return cls(load_model(path), name=str(path))

    # -- model calls -------------------------------------------------------------------------

    def predict_mnist(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 10) for MNIST-style images (N, 28, 28) or (N, 28, 28, 1)."""
        batch = np.asarray(images, dtype=np.float32)
        if batch.ndim == 2:
            batch = batch[None]
        if batch.ndim == 3:
            batch = batch[..., None]
        if batch.shape[1:] != (28, 28, 1):
            raise ValueError(f"expected MNIST-style images of shape (N, 28, 28) or (N, 28, 28, 1), got {batch.shape}")
        return np.asarray(self._call(batch))

    def _predict_many(
        self,
        images: Sequence[np.ndarray | None],
        boxes: Sequence[tuple[float, float, float, float] | None] | None = None,
    ) -> list[DigitPrediction]:
        """Predictions for MNIST-style images (None for no ink), with one model call."""
        boxes = list(boxes) if boxes is not None else [None] * len(images)
        inked = [i for i, image in enumerate(images) if image is not None]
        predictions = [_blank_prediction() for _ in images]
        if inked:
            probabilities = self.predict_mnist(np.stack([images[i] for i in inked]))
            for row, i in zip(probabilities, inked, strict=True):
                digit = int(np.argmax(row))
                predictions[i] = DigitPrediction(digit, float(row[digit]), row.astype(np.float32), images[i], boxes[i])
        return predictions

    # -- single digits -----------------------------------------------------------------------

    def predict_image(self, image: np.ndarray) -> DigitPrediction:
        """Read one digit from a canvas image.

        Args:
            image: numpy array (H, W), (H, W, 3) or (H, W, 4), uint8 or float in [0, 1], in any
                look (dark on light, light on dark, ink on a transparent canvas).

        Returns:
            a :class:`DigitPrediction`; its ``digit`` is None when the canvas is blank.

        Raises:
            ValueError: for a wrong dtype, shape, value range or NaNs.
        """
        ink = preprocess.extract_ink(image)
        coverage = preprocess.remove_specks(ink.coverage)
        mnist = preprocess.ink_to_mnist(coverage)
        box = _canvas_box(coverage, ink.scale)
        return self._predict_many([mnist], [box])[0]

    def predict_strokes(
        self, strokes: Strokes, canvas_size: int | tuple[int, int], pen_width: float
    ) -> DigitPrediction:
        """Read one digit from pen strokes (lists of (x, y) canvas points).

        The strokes are drawn straight into the MNIST format (see
        :func:`digitlib.preprocess.strokes_to_mnist`), which is more exact than going through
        pixels. ``canvas_size`` (an int or (width, height)) is the canvas the strokes were drawn
        on; marks smaller than 2% of it are ignored as accidental taps.
        """
        arrays = _strokes_on_canvas(strokes, canvas_size, pen_width)
        mnist = preprocess.strokes_to_mnist(arrays, pen_width)
        return self._predict_many([mnist], [_strokes_box(arrays, pen_width)])[0]

    # -- numbers -----------------------------------------------------------------------------

    def predict_number(self, image: np.ndarray) -> NumberPrediction:
        """Read several digits written side by side on a canvas image, left to right.

        The ink is split into digits by :func:`digitlib.segment.split_ink`; then the model
        checks the split (see :meth:`_read_parts`).

        Raises:
            ValueError: for a wrong dtype, shape, value range or NaNs.
        """
        ink = preprocess.extract_ink(image)
        coverage = preprocess.remove_specks(ink.coverage)
        return self._read_parts(
            segment.split_ink(coverage),
            to_mnist=lambda part: preprocess.ink_to_mnist(part.coverage),
            box_of=lambda part: _box_to_canvas(part.box, ink.scale),
            join=segment.join_segments,
            cuts=segment.candidate_cuts,
        )

    def predict_number_strokes(
        self, strokes: Strokes, canvas_size: int | tuple[int, int], pen_width: float
    ) -> NumberPrediction:
        """Read several digits from pen strokes (lists of (x, y) canvas points), left to right.

        Strokes are grouped into digits by :func:`digitlib.segment.group_strokes`; then the
        model checks the grouping (see :meth:`_read_parts`).
        """
        arrays = _strokes_on_canvas(strokes, canvas_size, pen_width)

        def chosen(part: tuple[int, ...]) -> list[np.ndarray]:
            return [arrays[i] for i in part]

        def cuts(part: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
            ordered = sorted(part, key=lambda i: float(arrays[i][:, 0].mean()))
            return [(tuple(ordered[:k]), tuple(ordered[k:])) for k in range(1, len(ordered))]

        return self._read_parts(
            [tuple(group) for group in segment.group_strokes(arrays, pen_width)],
            to_mnist=lambda part: preprocess.strokes_to_mnist(chosen(part), pen_width),
            box_of=lambda part: _strokes_box(chosen(part), pen_width),
            join=lambda a, b: tuple(sorted(a + b)),
            cuts=cuts,
        )

    def _read_parts(self, parts: list, to_mnist, box_of, join, cuts) -> NumberPrediction:
        """Read the parts of a number (pixel segments or stroke groups), letting the model
        check the split, as people do when a number is hard to split by eye.

        1. Neighbours that are close (a gap under :data:`JOIN_GAP` of the digit height), not
           both read with confidence, and together shaped like one digit (no wider than
           :data:`JOIN_ASPECT` of their height) are joined when the whole reads with
           confidence, and more confidently than either (a 4 whose strokes do not touch).
        2. A part wider than :data:`TOUCHING_ASPECT` times the digit height is cut (``cuts``
           gives the candidate cuts in two, and each half is judged the same way in turn) when
           every piece reads with confidence, and all together (the product) more confidently
           than the whole: digits that touch, two or a run of several. A part wider than
           :data:`MAX_DIGIT_ASPECT` is cut at its best cut whatever the model says of it whole.
        """
        if not parts:
            return NumberPrediction([])
        predictions = self._predict_many([to_mnist(p) for p in parts], [box_of(p) for p in parts])
        typical = float(np.median([box_of(p)[3] - box_of(p)[1] for p in parts]))
        self._join_close_parts(parts, predictions, typical, to_mnist, box_of, join)
        result = []
        for part, whole in zip(parts, predictions, strict=True):
            result.extend(self._cut_touching(part, whole, typical, to_mnist, box_of, cuts))
        return NumberPrediction([p for p in result if p.digit is not None])

    def _join_close_parts(self, parts: list, predictions: list, typical: float, to_mnist, box_of, join) -> None:
        """Step 1 of :meth:`_read_parts`, in place."""
        index = 0
        while index < len(parts) - 1:
            first, second = predictions[index], predictions[index + 1]
            gap = box_of(parts[index + 1])[0] - box_of(parts[index])[2]
            if (first.is_confident and second.is_confident) or gap > JOIN_GAP * typical:
                index += 1
                continue
            joined = join(parts[index], parts[index + 1])
            left, top, right, bottom = box_of(joined)
            if right - left <= JOIN_ASPECT * (bottom - top):
                whole = self._predict_many([to_mnist(joined)], [(left, top, right, bottom)])[0]
                if whole.is_confident and whole.confidence > max(first.confidence, second.confidence):
                    parts[index : index + 2] = [joined]
                    predictions[index : index + 2] = [whole]
                    continue
            index += 1

    def _cut_touching(self, part, whole: DigitPrediction, typical: float, to_mnist, box_of, cuts, seen=None) -> list:
        """Step 2 of :meth:`_read_parts`: the predictions for ``part``, one or more.

        Each half of a cut is judged the same way in turn, so a run of several touching digits is
        cut into as many as it holds. ``seen`` remembers how each part was read, so that the
        search stays small (each part is judged once, however many cuts lead to it).
        """
        seen = {} if seen is None else seen
        left, top, right, bottom = box_of(part)
        aspect = (right - left) / max(typical, bottom - top)
        if aspect <= TOUCHING_ASPECT:
            return [whole]
        candidates = cuts(part)
        halves = [half for cut in candidates for half in cut]
        images = [to_mnist(half) for half in halves]
        if not halves or any(image is None for image in images):
            return [whole]
        read = self._predict_many(images, [box_of(half) for half in halves])
        # Wider than any digit: the best cut wins even if unsure (the model is often sure of nonsense there).
        forced = aspect > MAX_DIGIT_ASPECT
        best, best_score = [whole], -1.0 if forced else whole.confidence
        for index, cut in enumerate(candidates):
            pieces = []
            for half, reading in zip(cut, read[2 * index : 2 * index + 2], strict=True):
                # A stroke group is its own key; a pixel segment is one column range of a piece of ink,
                # which its box tells apart.
                key = half if isinstance(half, tuple) else box_of(half)
                if key not in seen:
                    seen[key] = self._cut_touching(half, reading, typical, to_mnist, box_of, cuts, seen)
                pieces += seen[key]
            score = float(np.prod([piece.confidence for piece in pieces]))
            if (forced or all(piece.is_confident for piece in pieces)) and score > best_score:
                best, best_score = pieces, score
        return best


def _canvas_box(coverage: np.ndarray, scale: int) -> tuple[float, float, float, float] | None:
    inked = coverage > preprocess.INK_THRESHOLD
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    if rows.size == 0:
        return None
    return _box_to_canvas((rows[0], rows[-1] + 1, cols[0], cols[-1] + 1), scale)


def _box_to_canvas(box: tuple[int, int, int, int], scale: int) -> tuple[float, float, float, float]:
    top, bottom, left, right = box
    return (float(left * scale), float(top * scale), float(right * scale), float(bottom * scale))


def _strokes_box(strokes: Sequence[np.ndarray], pen_width: float) -> tuple[float, float, float, float] | None:
    if not strokes:
        return None
    points = np.concatenate(strokes)
    half = pen_width / 2
    (left, top), (right, bottom) = points.min(axis=0) - half, points.max(axis=0) + half
    return (float(left), float(top), float(right), float(bottom))


def _strokes_on_canvas(strokes: Strokes, canvas_size: int | tuple[int, int], pen_width: float) -> list[np.ndarray]:
    """Validated strokes without accidental marks, as the pixel path drops specks: strokes whose
    ink is under 2% of the canvas, and lone dots (a tap that touches no other stroke)."""
    height, width = canvas_shape(canvas_size)
    if not np.isfinite(pen_width) or pen_width <= 0:
        raise ValueError(f"pen_width must be a positive number of pixels, got {pen_width!r}")
    smallest = preprocess.SPECK_FRACTION * max(height, width)
    arrays = validate_strokes(strokes)
    extents = [float((a.max(axis=0) - a.min(axis=0)).max()) + pen_width for a in arrays]
    kept = []
    for index, (points, extent) in enumerate(zip(arrays, extents, strict=True)):
        if extent < smallest:
            continue
        if extent < preprocess.SPECK_WIDTHS * pen_width:
            others = [a for i, a in enumerate(arrays) if i != index]
            if not others or _distance(points, np.concatenate(others)) > pen_width:
                continue
        kept.append(points)
    return kept


def _distance(points: np.ndarray, others: np.ndarray) -> float:
    """Smallest distance between two point sets."""
    return float(np.sqrt(((points[:, None, :] - others[None, :, :]) ** 2).sum(-1)).min())
