"""The second reader, which follows the pen: a sequence model (`digitlib.pen_sequence`) and its fusion with the CNN.

Where a digit comes with its strokes (the pad, `Recognizer.predict_strokes`, each candidate of a number read from
strokes), the recogniser reads it twice, from the 28×28 image (the CNN) and from the path (the sequence model),
and fuses the two readings by a product of experts:

    p = softmax(a · log p_cnn + b · log p_seq)

where p_cnn and p_seq are the models' own (uncalibrated) probabilities. The weights a and b (their sum acts as an
inverse temperature) and the "not sure" threshold of the fused reading are fitted on the tune writers
(`digitlib.fusion`), for one CNN: the fit records the CNN file's SHA-256, and `Recognizer.load` uses the fusion
only with that CNN (with any other it warns and reads with the CNN alone). Digits read from pixels are read by
the CNN alone.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitlib.calibration import is_number
from digitlib.model_files import ModelFileError, asset, card_path, load_card
from digitlib.pen_sequence import CHANNELS, POINTS, pen_sequences

#: The sequence model shipped with digitlib, and its card (with the fusion) beside it.
SHIPPED_SEQUENCE_MODEL = asset("digitlib_seq.keras")
#: Probabilities are clipped here before their logarithm (a reader's zero must not veto the other).
_FLOOR = 1e-12


class FusionMismatchWarning(RuntimeWarning):
    """The sequence model's fusion was fitted with another CNN (or not at all): the CNN reads alone."""


@dataclass(frozen=True)
class Fusion:
    """How the two readers' probabilities are combined, for which CNN, and the fused reading's threshold."""

    cnn_weight: float
    seq_weight: float
    threshold: float
    cnn_sha256: str = ""
    fitted_on: str = "not fitted"
    figures: dict[str, Any] = field(default_factory=dict)  # writer k-fold figures of the fit (docs)

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: object) -> Fusion:
        """The fusion as a card stores it; `ValueError` unless its weights are non-negative numbers (not both 0)
        and its threshold is in [0, 1]."""
        if not isinstance(values, dict) or not {"cnn_weight", "seq_weight", "threshold"} <= set(values):
            raise ValueError(f"a fusion needs cnn_weight, seq_weight and threshold, got {values!r:.80}")
        for name in ("cnn_weight", "seq_weight", "threshold"):
            value = values[name]
            if not is_number(value) or value < 0:
                raise ValueError(f"a fusion's {name} must be a number of at least 0, got {value!r:.40}")
        if values["cnn_weight"] + values["seq_weight"] <= 0 or values["threshold"] > 1:
            raise ValueError("a fusion's weights must not both be 0, and its threshold must be at most 1")
        return cls(**{k: values[k] for k in cls.__dataclass_fields__ if k in values})

    def fuse(self, cnn: np.ndarray, seq: np.ndarray) -> np.ndarray:
        """The fused probabilities (N, 10) of the CNN's and the sequence model's own probabilities (N, 10)."""
        return product_of_experts(cnn, seq, self.cnn_weight, self.seq_weight)


def product_of_experts(cnn: np.ndarray, seq: np.ndarray, a: float, b: float) -> np.ndarray:
    """softmax(a · log cnn + b · log seq), float32 (N, 10)."""
    logits = a * np.log(np.clip(np.asarray(cnn, np.float64), _FLOOR, 1.0))
    logits += b * np.log(np.clip(np.asarray(seq, np.float64), _FLOOR, 1.0))
    logits -= logits.max(axis=-1, keepdims=True)
    fused = np.exp(logits)
    return (fused / fused.sum(axis=-1, keepdims=True)).astype(np.float32)


class SequenceReader:
    """A sequence model called through a ``tf.function`` (about a millisecond a call where ``model.predict``
    takes tens), with the fusion from its card. Build one with `load`, or from a model in memory."""

    def __init__(
        self, model, fusion: Fusion | None = None, name: str = "sequence model", card: dict | None = None
    ) -> None:
        from digitlib._tf import concrete_call, tf

        self.model = model
        self.fusion = fusion
        self.name = name
        self.card = dict(card or {})

        def call(sequences):
            return model(sequences, training=False)

        signature = [tf.TensorSpec(shape=(None, POINTS, CHANNELS), dtype=tf.float32)]
        # One digit (the pad's every reading) goes through XLA, which halves the call here (0.6 ms against
        # 1.3 ms); XLA compiles once per batch size, so the number reader's batches of any size take the plain
        # graph, whose overhead they share out.
        self._one = concrete_call(
            tf.function(call, input_signature=[tf.TensorSpec((1, POINTS, CHANNELS), tf.float32)], jit_compile=True)
        )
        self._call = concrete_call(tf.function(call, input_signature=signature, reduce_retracing=True))
        probabilities = np.asarray(self._call(np.zeros((2, POINTS, CHANNELS), np.float32)))[:1]  # traced now
        self._one(np.zeros((1, POINTS, CHANNELS), np.float32))  # compiled now: the first digit is as fast
        if probabilities.shape != (1, 10) or not np.isclose(probabilities.sum(), 1.0, atol=1e-3):
            raise ModelFileError(
                f"{name} returns {probabilities.shape} values summing to {probabilities.sum():.3f}; a sequence "
                "reader returns 10 probabilities. Train one with `python -m digitlib.train_sequence`."
            )

    def __repr__(self) -> str:
        return f"SequenceReader({self.name!r}, fusion={'fitted' if self.fusion else 'none'})"

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> SequenceReader:
        """Load a sequence model (default: the shipped one) with ``safe_mode=True``, and the fusion in its card.

        Raises `ModelFileError` when the file is missing or not a sequence model, or its card's fusion is invalid.
        """
        from digitlib._tf import keras

        path = Path(SHIPPED_SEQUENCE_MODEL if path is None else path)
        if not path.is_file():
            raise ModelFileError(f"No sequence model at {path}; train one with `python -m digitlib.train_sequence`.")
        try:
            model = keras.saving.load_model(path, safe_mode=True)
        except Exception as err:  # Keras raises many kinds here; all mean the same to the user
            raise ModelFileError(f"{path} could not be loaded ({type(err).__name__}: {err})") from err
        if tuple(model.input_shape)[1:] != (POINTS, CHANNELS):
            raise ModelFileError(f"{path} takes {model.input_shape}, not ({POINTS}, {CHANNELS}) pen sequences")
        card = load_card(path) if card_path(path).is_file() else {}
        try:
            fusion = Fusion.from_dict(card["fusion"]) if card.get("fusion") else None
        except ValueError as err:
            raise ModelFileError(
                f"the card beside {path} has an invalid fusion ({err}); run python -m digitlib.fusion"
            ) from None
        return cls(model, fusion, name=str(path), card=card)

    def raw_probabilities(self, strokes: list) -> np.ndarray:
        """The model's probabilities (N, 10) for each drawing's strokes (canvas points, as the recogniser reads
        them)."""
        if not len(strokes):
            return np.zeros((0, 10), np.float32)
        sequences = pen_sequences(strokes)
        return np.asarray((self._one if len(sequences) == 1 else self._call)(sequences))
