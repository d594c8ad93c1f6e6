"""Read handwritten digits and numbers from canvas images or pen strokes.

    >>> from digitlib import Recognizer
    >>> rec = Recognizer.load()                 # the shipped model, with its calibration
    >>> p = rec.predict_image(canvas_image)     # H×W, H×W×3 or H×W×4; uint8 or float in [0, 1]
    >>> p.digit, p.confidence, p.is_confident
    >>> rec.predict_number(canvas_image).text   # e.g. "2025"

Images go through the MNIST recipe (:mod:`digitlib.preprocess`), numbers are read by
:mod:`digitlib.reading`, and the model is called through a ``tf.function`` with a fixed input
signature, which takes about a millisecond per call where ``model.predict`` takes tens of
milliseconds. The probabilities are calibrated (:mod:`digitlib.calibration`): the model card's
temperature is applied, and a digit is "sure" when its probability reaches the card's threshold.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from digitlib import preprocess, reading
from digitlib.boxes import Box
from digitlib.calibration import Calibration, apply_temperature
from digitlib.images import to_model_input
from digitlib.model_files import SHIPPED_MODEL, ModelFileError, card_path, load_card, load_model, save_model
from digitlib.render import CheckedStrokes, Strokes, canvas_shape, check_pen_width, check_strokes, clip_strokes

__all__ = [
    "CONFIDENCE_THRESHOLD",
    "DigitPrediction",
    "ModelFileError",
    "NumberPrediction",
    "Recognizer",
]

#: The "not sure" threshold of a model whose card has no calibration (the shipped model's own threshold,
#: chosen from data, is in its card: ``Recognizer.load().threshold``).
CONFIDENCE_THRESHOLD = 0.8

_BLANK_IMAGE = np.zeros((preprocess.MNIST_SIZE, preprocess.MNIST_SIZE), dtype=np.float32)
_BLANK_IMAGE.setflags(write=False)


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy fields has no single truth value
class DigitPrediction:
    """What the model read for one digit.

    Attributes:
        digit: the most probable digit 0–9, or None when there was nothing to read (no ink, a dot, noise).
        confidence: the (calibrated) probability of ``digit`` (0.0 when there was nothing to read).
        probabilities: float32 array (10,) of calibrated class probabilities (all 0 when nothing to read).
        mnist_image: the 28×28 float32 image the model saw, white ink on black (all 0 when nothing to read).
        box: where the digit is on the canvas, a `digitlib.boxes.Box` (left, top, right, bottom) in canvas
            pixels, or None when there was nothing to read.
        threshold: the probability from which the recogniser calls a digit sure.
        strokes: the pen strokes this digit was read from (a digit of a number read from strokes gets its own
            strokes, or parts of them where the reader cut touching digits apart); None when read from pixels.
    """

    digit: int | None
    confidence: float
    probabilities: np.ndarray = field(repr=False)
    mnist_image: np.ndarray = field(repr=False)
    box: Box | None = None
    threshold: float = CONFIDENCE_THRESHOLD
    strokes: tuple[np.ndarray, ...] | None = field(default=None, repr=False)

    @property
    def is_confident(self) -> bool:
        """True when there is a digit and its probability reaches the recogniser's threshold."""
        return self.digit is not None and self.confidence >= self.threshold

    @property
    def runner_up(self) -> int | None:
        """The second most probable digit (None when there was nothing to read)."""
        if self.digit is None:
            return None
        return int(np.argsort(self.probabilities)[-2])


@dataclass(frozen=True)
class NumberPrediction:
    """What the model read for a number: one prediction per digit, left to right.

    Attributes:
        digits: the per-digit predictions, left to right (empty when there was nothing to read).
        text: the digits as a string, e.g. ``"2025"``; ``""`` when there was nothing to read.
    """

    digits: list[DigitPrediction] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"NumberPrediction(text={self.text!r}, confidence={self.confidence:.3f})"

    @property
    def text(self) -> str:
        """The digits as a string, left to right (``""`` when there was nothing to read)."""
        return "".join(str(p.digit) for p in self.digits if p.digit is not None)

    @property
    def confidence(self) -> float:
        """Probability that every digit is right (the product; 0.0 when there was nothing to read)."""
        if not self.digits:
            return 0.0
        return float(np.prod([p.confidence for p in self.digits]))

    @property
    def is_confident(self) -> bool:
        """True when there is at least one digit and every digit is confident."""
        return bool(self.digits) and all(p.is_confident for p in self.digits)


class Recognizer:
    """A digit model with the preprocessing that makes it read drawings, and its calibration.

    Build one with :meth:`load` (from a ``.keras`` file and the model card beside it) or
    ``Recognizer(model)`` (from a Keras model already in memory, uncalibrated unless a
    `Calibration` is given). The model must take float32 (N, 28, 28, 1) images in [0, 1], white ink
    on black, and return 10 class probabilities.
    """

    def __init__(
        self,
        model,
        name: str = "model",
        calibration: Calibration | None = None,
        card: dict[str, Any] | None = None,
    ) -> None:
        from digitlib._tf import tf

        self.model = model
        self.name = name
        self.calibration = calibration or Calibration(threshold=CONFIDENCE_THRESHOLD)
        self.card = dict(card or {})

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
        probabilities = np.asarray(self._call(np.zeros((1, 28, 28, 1), dtype=np.float32)))
        if probabilities.shape != (1, 10) or not np.isclose(probabilities.sum(), 1.0, atol=1e-3):
            raise ModelFileError(
                f"{name} returns {probabilities.shape} values summing to "
                f"{probabilities.sum():.3f}; a digitlib model returns 10 probabilities (softmax). "
                "Train one with `python -m digitlib.train`, or use the shipped model."
            )

    def __repr__(self) -> str:
        return f"Recognizer({self.name!r}, temperature={self.temperature:.3g}, threshold={self.threshold:.3g})"

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> Recognizer:
        """Load a model file (default: the shipped model) and its card's calibration.

        Raises:
            ModelFileError: when the file is missing, truncated or not a compatible model, or
                its card's calibration is invalid; the message says how to get a model.
        """
        path = Path(SHIPPED_MODEL if path is None else path)
        model = load_model(path)
        card = load_card(path) if card_path(path).is_file() else {}
        try:
            calibration = Calibration.from_dict(card["calibration"]) if "calibration" in card else None
        except (TypeError, ValueError) as err:
            raise ModelFileError(f"the model card beside {path} has an invalid calibration ({err}).") from None
        return cls(model, name=str(path), calibration=calibration, card=card)

    @property
    def temperature(self) -> float:
        """The temperature applied to the model's probabilities (1.0: uncalibrated)."""
        return self.calibration.temperature

    @property
    def threshold(self) -> float:
        """From this probability a digit is shown as sure; below it the pad says "not sure"."""
        return self.calibration.threshold

    def save(self, path: str | os.PathLike, card: dict[str, Any] | None = None) -> Path:
        """Save the model atomically as a ``.keras`` file with its card (and calibration) beside it."""
        card = {**self.card, **(card or {}), "calibration": self.calibration.to_dict()}
        return save_model(self.model, path, card)

    # -- model calls -------------------------------------------------------------------------

    def raw_probabilities(self, images: np.ndarray) -> np.ndarray:
        """The model's own probabilities (N, 10) for MNIST-style images, before calibration."""
        return np.asarray(self._call(to_model_input(images)))

    def predict_mnist(self, images: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (N, 10) for MNIST-style images (N, 28, 28) or (N, 28, 28, 1)."""
        return apply_temperature(self.raw_probabilities(images), self.temperature)

    def _prediction(
        self, image: np.ndarray | None, box: Box | None, probabilities=None, strokes=None
    ) -> DigitPrediction:
        if image is None:
            return DigitPrediction(None, 0.0, np.zeros(10, dtype=np.float32), _BLANK_IMAGE, None, self.threshold)
        if probabilities is None:
            probabilities = self.predict_mnist(image[None])[0]
        digit = int(np.argmax(probabilities))
        confidence = float(probabilities[digit])
        return DigitPrediction(digit, confidence, probabilities.astype(np.float32), image, box, self.threshold, strokes)

    # -- single digits -----------------------------------------------------------------------

    def predict_image(self, image: np.ndarray) -> DigitPrediction:
        """Read one digit from a canvas image.

        Args:
            image: numpy array (H, W), (H, W, 3) or (H, W, 4), uint8 or float in [0, 1], in any
                look (dark on light, light on dark, ink on a transparent canvas).

        Returns:
            a :class:`DigitPrediction`; its ``digit`` is None when there is nothing to read (a
            blank canvas, a dot, noise).

        Raises:
            ValueError: for a wrong dtype, shape, value range or NaNs.
        """
        ink = preprocess.extract_ink(image)
        coverage = preprocess.remove_specks(ink.coverage)
        mnist = preprocess.ink_to_mnist(coverage)
        box = preprocess.ink_box(coverage)
        return self._prediction(mnist, box.scaled(ink.scale) if box is not None else None)

    def predict_strokes(
        self, strokes: Strokes, canvas_size: int | tuple[int, int], pen_width: float
    ) -> DigitPrediction:
        """Read one digit from pen strokes (lists of (x, y) canvas points).

        The strokes are drawn straight into the MNIST format (see
        :func:`digitlib.preprocess.strokes_to_mnist`), which is more exact than going through
        pixels. ``canvas_size`` (an int or (width, height)) is the canvas the strokes were drawn
        on: what lies off it is not read, and marks smaller than 2% of it are ignored as
        accidental taps.

        Raises:
            ValueError: for strokes that are not lists of finite (x, y) pairs, or a bad canvas
                size or pen width.
        """
        pen_width = check_pen_width(pen_width)
        arrays = drawing_on_canvas(strokes, canvas_size, pen_width)
        mnist = preprocess.strokes_to_mnist(arrays, pen_width)
        box = Box.of_points(np.concatenate(arrays), pen_width / 2) if arrays else None
        return self._prediction(mnist, box, strokes=tuple(arrays))

    # -- numbers -----------------------------------------------------------------------------

    def _read(self, ink: reading.Ink) -> NumberPrediction:
        digits = [
            self._prediction(r.image, r.box, r.probabilities, r.strokes)
            for r in reading.read_number(ink, classify=self.predict_mnist)
        ]
        return NumberPrediction(digits)

    def predict_number(self, image: np.ndarray) -> NumberPrediction:
        """Read several digits written side by side on a canvas image, left to right.

        See :mod:`digitlib.reading` for how the ink is split into digits, with the model judging
        the split.

        Raises:
            ValueError: for a wrong dtype, shape, value range or NaNs.
        """
        ink = preprocess.extract_ink(image)
        coverage = preprocess.remove_specks(ink.coverage)
        if preprocess.is_texture(coverage):
            return NumberPrediction([])  # noise or a scribbled-over area: no number to read
        return self._read(reading.PixelInk(coverage, ink.scale))

    def predict_number_strokes(
        self, strokes: Strokes, canvas_size: int | tuple[int, int], pen_width: float
    ) -> NumberPrediction:
        """Read several digits from pen strokes (lists of (x, y) canvas points), left to right.

        See :mod:`digitlib.reading` for how the strokes are split into digits, with the model
        judging the split, and :meth:`predict_strokes` for the arguments.
        """
        pen_width = check_pen_width(pen_width)
        return self._read(reading.StrokeInk(drawing_on_canvas(strokes, canvas_size, pen_width), pen_width))


def drawing_on_canvas(strokes: Strokes, canvas_size: int | tuple[int, int], pen_width: float) -> CheckedStrokes:
    """The strokes as the canvas shows them, without accidental marks (as the pixel path drops specks).

    Strokes are cut to the canvas (a stroke wholly off it is gone); then marks whose ink is under 2% of the
    canvas, and lone dots (a tap that touches no other stroke), are dropped.
    """
    height, width = canvas_shape(canvas_size)
    pen_width = check_pen_width(pen_width)
    arrays = clip_strokes(check_strokes(strokes), (width, height), margin=pen_width / 2)
    if not arrays:
        return arrays
    smallest = preprocess.SPECK_FRACTION * max(height, width)
    extents = [float((a.max(axis=0) - a.min(axis=0)).max()) + pen_width for a in arrays]
    dots = [i for i, extent in enumerate(extents) if extent >= smallest and preprocess.is_dot(extent, pen_width)]
    lone: set[int] = set()
    if dots:
        # Is a dot near any other stroke? One spatial index over all points answers it for every dot.
        points = np.concatenate(arrays)
        owner = np.repeat(np.arange(len(arrays)), [len(a) for a in arrays])
        tree = cKDTree(points)
        for i in dots:
            near = tree.query_ball_point(arrays[i], r=pen_width)
            if not any(owner[j] != i for hits in near for j in hits):
                lone.add(i)
    kept = [
        a for i, (a, extent) in enumerate(zip(arrays, extents, strict=True)) if extent >= smallest and i not in lone
    ]
    return CheckedStrokes(kept)
