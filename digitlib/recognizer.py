"""Read handwritten digits and numbers from canvas images or pen strokes.

    >>> from digitlib import Recognizer
    >>> rec = Recognizer.load()                 # the shipped model, with its calibration
    >>> p = rec.predict_image(canvas_image)     # H×W, H×W×3 or H×W×4; uint8 or float in [0, 1]
    >>> p.digit, p.confidence, p.is_confident
    >>> rec.predict_number(canvas_image).text   # e.g. "2025"

Pen strokes come as a `digitlib.drawing.Drawing` (or as strokes with their canvas and pen, made into one and
checked once, here). Images and strokes go through the MNIST recipe (:mod:`digitlib.preprocess`), numbers are
read by :mod:`digitlib.reading`, and the model is called through a ``tf.function`` with a fixed input
signature, which takes about a millisecond per call where ``model.predict`` takes tens of
milliseconds. The probabilities are calibrated (:mod:`digitlib.calibration`): the model card's
temperature is applied, and a digit is "sure" when its probability reaches the card's threshold.

Where strokes exist, a second reader follows the pen (:mod:`digitlib.sequence_reader`): `load` loads the shipped
sequence model beside the CNN, and a digit read from strokes is read by both, their probabilities fused with the
weights and the "not sure" threshold fitted on the tune writers for this very CNN (with another CNN, the CNN reads
alone, with a warning). Digits read from pixels are read by the CNN alone.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitlib import canvas_image, preprocess, reading
from digitlib.boxes import Box
from digitlib.calibration import CONFIDENCE_THRESHOLD, Calibration, apply_temperature
from digitlib.drawing import Drawing, Strokes, as_drawing
from digitlib.images import MNIST_SIZE, NUM_CLASSES, to_model_input
from digitlib.model_files import (
    SHIPPED_MODEL,
    ModelFileError,
    card_path,
    file_sha256,
    load_card,
    load_model,
    save_model,
)
from digitlib.pieces import Pieces, PixelPieces, StrokePieces
from digitlib.sequence_reader import SHIPPED_SEQUENCE_MODEL, FusionMismatchWarning, SequenceReader

__all__ = [
    "CONFIDENCE_THRESHOLD",
    "DigitPrediction",
    "ModelFileError",
    "NumberPrediction",
    "Readout",
    "Recognizer",
]

_BLANK_IMAGE = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
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


@dataclass(frozen=True, eq=False)
class Readout:
    """What the recogniser makes of candidate digits (see `Recognizer.readout`)."""

    probabilities: np.ndarray  # (N, 10) calibrated (fused with the sequence reader's where strokes were given)
    features: np.ndarray  # (N, D): what the readers saw of each digit, to compare drawings by


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
    on black, and return 10 class probabilities. ``sequence``, a `SequenceReader` with a fusion, reads digits
    from their strokes too (`readout`); it is then ``rec.sequence`` (else None).
    """

    def __init__(
        self,
        model,
        name: str = "model",
        calibration: Calibration | None = None,
        card: dict[str, Any] | None = None,
        sequence: SequenceReader | None = None,
    ) -> None:
        from digitlib._tf import concrete_call, keras, tf

        if sequence is not None and sequence.fusion is None:
            raise ValueError("a sequence reader needs a fusion to read with (python -m digitlib.fusion fits one)")
        self.model = model
        self.sequence = sequence
        self.name = name
        self.calibration = calibration or Calibration(threshold=CONFIDENCE_THRESHOLD)
        self.card = dict(card or {})
        # The output layer's input is what the model saw of a drawing: `readout` returns it as the features.
        both = keras.Model(model.inputs, [model.outputs[0], model.layers[-1].input])

        # A fixed signature means one trace for every batch size: no retracing, no
        # per-call overhead of model.predict.
        @tf.function(
            input_signature=[tf.TensorSpec(shape=(None, MNIST_SIZE, MNIST_SIZE, 1), dtype=tf.float32)],
            reduce_retracing=True,
        )
        def call(images):
            probabilities, features = both(images, training=False)
            return probabilities, tf.reshape(features, (tf.shape(features)[0], -1))

        self._call = concrete_call(call)  # images reach it checked (to_model_input)
        # Run once now: the first real prediction is then as fast as the others, and we check
        # that the model returns probabilities.
        probabilities = np.asarray(self._call(np.zeros((1, MNIST_SIZE, MNIST_SIZE, 1), dtype=np.float32))[0])
        if probabilities.shape != (1, NUM_CLASSES) or not np.isclose(probabilities.sum(), 1.0, atol=1e-3):
            raise ModelFileError(
                f"{name} returns {probabilities.shape} values summing to "
                f"{probabilities.sum():.3f}; a digitlib model returns 10 probabilities (softmax). "
                "Train one with `python -m digitlib.train`, or use the shipped model."
            )

    def __repr__(self) -> str:
        fused = ", with the sequence reader" if self.sequence is not None else ""
        return f"Recognizer({self.name!r}, temperature={self.temperature:.3g}, threshold={self.threshold:.3g}{fused})"

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, sequence: str | os.PathLike | bool = True) -> Recognizer:
        """Load a model file (default: the shipped model) and its card's calibration, with a sequence reader.

        ``sequence`` is the sequence model to read strokes with too: True (the shipped one, when present), False
        (none: the CNN reads alone), or a path. Its fusion is used only with the CNN it was fitted for (the CNN
        file's SHA-256 in the sequence card), or with a personal model fine-tuned from it (`digitlib.personal`);
        with another CNN a `FusionMismatchWarning` says so and the CNN reads alone.

        Raises:
            ModelFileError: when the file is missing, truncated or not a compatible model, or
                its card's calibration is invalid; the message says how to get a model.
        """
        path = Path(SHIPPED_MODEL if path is None else path)
        model = load_model(path)
        card = load_card(path) if card_path(path).is_file() else {}
        if card and "calibration" not in card:
            warnings.warn(
                f"the model card beside {path} has no calibration: 'not sure' falls back to {CONFIDENCE_THRESHOLD} "
                "on uncalibrated probabilities",
                RuntimeWarning,
                stacklevel=2,
            )
        try:
            found = card.get("calibration")
            calibration = Calibration.from_dict(found) if found is not None else None
        except ValueError as err:
            raise ModelFileError(
                f"the model card beside {path} has an invalid calibration ({err}); train or save the model again."
            ) from None
        fitted_for = {card.get("model_sha256") or file_sha256(path)}
        personalised = card.get("personalised")
        if isinstance(personalised, dict) and personalised.get("base_sha256"):  # a fine-tune keeps its base's fusion
            fitted_for.add(personalised["base_sha256"])
        reader = _sequence_for(fitted_for, sequence)
        return cls(model, name=str(path), calibration=calibration, card=card, sequence=reader)

    @property
    def temperature(self) -> float:
        """The temperature applied to the model's probabilities (1.0: uncalibrated)."""
        return self.calibration.temperature

    @property
    def threshold(self) -> float:
        """From this probability a digit read from pixels is shown as sure; below it the pad says "not sure"."""
        return self.calibration.threshold

    @property
    def stroke_threshold(self) -> float:
        """The same for a digit read from strokes: the fused reading's own threshold with a sequence reader."""
        return self.sequence.fusion.threshold if self.sequence is not None else self.calibration.threshold

    def save(self, path: str | os.PathLike, card: dict[str, Any] | None = None) -> Path:
        """Save the model atomically as a ``.keras`` file with its card (and calibration) beside it."""
        card = {**self.card, **(card or {}), "calibration": self.calibration.to_dict()}
        return save_model(self.model, path, card)

    # -- model calls -------------------------------------------------------------------------

    def raw_probabilities(self, images: np.ndarray) -> np.ndarray:
        """The model's own probabilities (N, 10) for MNIST-style images, before calibration."""
        return np.asarray(self._call(to_model_input(images))[0])

    def predict_mnist(self, images: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (N, 10) for MNIST-style images (N, 28, 28) or (N, 28, 28, 1)."""
        return apply_temperature(self.raw_probabilities(images), self.temperature)

    def readout(self, images: np.ndarray, strokes: Sequence[Strokes | None] | None = None) -> Readout:
        """How the recogniser reads candidate digits: their calibrated probabilities and features.

        ``images`` are the digits' 28×28 images (N, 28, 28) in [0, 1]; ``strokes``, where given, the pen strokes
        each was drawn from (None for a digit read from pixels). Every reading (`predict_image`, `predict_strokes`
        and the numbers) goes through here, so a recogniser that reads differently (`digitlib.memory`) overrides
        only this. With a sequence reader, the digits that have strokes are read from them too and the two
        readings fused (`digitlib.sequence_reader`); the features are the CNN's either way.
        """
        if not len(images):
            return Readout(np.zeros((0, NUM_CLASSES), np.float32), np.zeros((0, 0), np.float32))
        raw, features = self._call(to_model_input(images))
        raw = np.asarray(raw)
        probabilities = apply_temperature(raw, self.temperature)
        if self.sequence is not None and strokes is not None:
            rows = [i for i, s in enumerate(strokes) if s is not None and len(s)]
            if rows:
                seq = self.sequence.raw_probabilities([strokes[i] for i in rows])
                probabilities[rows] = self.sequence.fusion.fuse(raw[rows], seq)
        return Readout(probabilities, np.asarray(features))

    def _prediction(
        self, image: np.ndarray | None, box: Box | None, probabilities=None, strokes=None
    ) -> DigitPrediction:
        threshold = self.threshold if strokes is None else self.stroke_threshold
        if image is None:
            return DigitPrediction(None, 0.0, np.zeros(NUM_CLASSES, dtype=np.float32), _BLANK_IMAGE, None, threshold)
        if probabilities is None:
            probabilities = self.readout(image[None], None if strokes is None else [strokes]).probabilities[0]
        digit = int(np.argmax(probabilities))
        confidence = float(probabilities[digit])
        return DigitPrediction(digit, confidence, probabilities.astype(np.float32), image, box, threshold, strokes)

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
        ink = canvas_image.extract_ink(image)
        coverage = canvas_image.remove_specks(ink.coverage)
        if canvas_image.is_texture(coverage, one_digit=True):
            return self._prediction(None, None)  # noise or a scribbled-over area: nothing to read
        mnist = preprocess.ink_to_mnist(coverage)
        box = canvas_image.ink_box(coverage)
        return self._prediction(mnist, box.scaled(ink.scale) if box is not None else None)

    def predict_strokes(
        self,
        drawing: Drawing | Strokes,
        canvas_size: int | tuple[int, int] | None = None,
        pen_width: float | None = None,
    ) -> DigitPrediction:
        """Read one digit from a `digitlib.drawing.Drawing`, or from strokes (lists of (x, y) canvas points) with
        the canvas they were drawn on (an int or (width, height)) and the pen's width.

        The strokes are drawn straight into the MNIST format (see
        :func:`digitlib.preprocess.strokes_to_mnist`), which is more exact than going through
        pixels. What lies off the canvas is not read, and marks smaller than 2% of it are ignored
        as accidental taps.

        Raises:
            ValueError: for strokes that are not lists of finite (x, y) pairs, or a bad canvas
                size or pen width (`digitlib.drawing.DrawingError`).
        """
        drawing = as_drawing(drawing, canvas_size, pen_width)
        seen = drawing.on_canvas
        mnist = preprocess.strokes_to_mnist(drawing)
        box = Box.of_points(seen.points, seen.pen / 2) if seen else None
        return self._prediction(mnist, box, strokes=seen.strokes)

    # -- numbers -----------------------------------------------------------------------------

    def _read(self, pieces: Pieces) -> NumberPrediction:
        found = reading.candidates(pieces)
        probabilities = self.readout(found.images, found.strokes).probabilities
        digits = [
            self._prediction(r.image, r.box, r.probabilities, r.strokes)
            for r in reading.best_path(found, probabilities)
        ]
        return NumberPrediction(digits)

    def predict_number(self, image: np.ndarray) -> NumberPrediction:
        """Read several digits written side by side on a canvas image, left to right.

        See :mod:`digitlib.reading` for how the ink is split into digits, with the model judging
        the split.

        Raises:
            ValueError: for a wrong dtype, shape, value range or NaNs.
        """
        ink = canvas_image.extract_ink(image)
        coverage = canvas_image.remove_specks(ink.coverage)
        if canvas_image.is_texture(coverage):
            return NumberPrediction([])  # noise or a scribbled-over area: no number to read
        return self._read(PixelPieces(coverage, ink.scale))

    def predict_number_strokes(
        self,
        drawing: Drawing | Strokes,
        canvas_size: int | tuple[int, int] | None = None,
        pen_width: float | None = None,
    ) -> NumberPrediction:
        """Read several digits from a drawing (or strokes with their canvas and pen), left to right.

        See :mod:`digitlib.reading` for how the strokes are split into digits, with the model
        judging the split, and :meth:`predict_strokes` for the arguments.
        """
        return self._read(StrokePieces(as_drawing(drawing, canvas_size, pen_width)))


def _sequence_for(cnn_sha256: set[str], sequence: str | os.PathLike | bool) -> SequenceReader | None:
    """The sequence reader to read strokes with beside a CNN whose fusion may be one fitted for a file with one of
    ``cnn_sha256`` (its own, or its base's for a personal model), or None (with a `FusionMismatchWarning` when
    there is one but its fusion was fitted for another CNN, or not at all)."""
    if sequence is False or (sequence is True and not SHIPPED_SEQUENCE_MODEL.is_file()):
        return None
    reader = SequenceReader.load(None if sequence is True else sequence)
    if reader.fusion is None or reader.fusion.cnn_sha256 not in cnn_sha256:
        why = "has no fusion" if reader.fusion is None else "was fitted with another CNN"
        warnings.warn(
            f"the sequence reader {reader.name} {why}: reading with the CNN alone (refit with python -m "
            "digitlib.fusion --cnn CNN --seq SEQ, or load with sequence=False)",
            FusionMismatchWarning,
            stacklevel=3,
        )
        return None
    return reader
