"""Judging a classifier: accuracy, per-class precision and recall, the confusion matrix, its worst mistakes.

Everything works on plain numpy arrays: the true ``labels`` (N,) and either the predicted digits (N,) or the
class ``probabilities`` (N, 10) a model returned, so any model (or a saved run, see `SavedRun`) is judged the
same way. `training_history` reads the loss and accuracy curves that a model card keeps.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitlib.files import write_atomic
from digitlib.images import NUM_CLASSES, to_model_input
from digitlib.model_files import asset, card_path

#: Small saved runs of the tutorials' recipes (test-set probabilities + facts), made by benchmarks/baselines.py.
BASELINES_DIR = asset("baselines")


def _check_labels(labels: np.ndarray, name: str = "labels") -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of digits, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"{name} must hold digits 0-9, found values from {labels.min()} to {labels.max()}")
    return labels.astype(np.int64)


def _check_pair(labels: np.ndarray, predictions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, predictions = _check_labels(labels), _check_labels(predictions, "predictions")
    if labels.shape != predictions.shape:
        raise ValueError(
            f"labels and predictions differ in length ({len(labels)} vs {len(predictions)}); "
            "predict the same images the labels belong to."
        )
    return labels, predictions


def _check_probabilities(probabilities: np.ndarray) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if probabilities.ndim != 2 or probabilities.shape[1] != NUM_CLASSES:
        raise ValueError(f"probabilities must have shape (N, 10), got {probabilities.shape}")
    return probabilities


def predict_probabilities(model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities (N, 10) of a Keras model for MNIST-style images (N, 28, 28), batched.

    Calls the model's forward pass directly (``model(x, training=False)``), which is many times faster than
    ``model.predict`` for a few thousand images.
    """
    outputs = [
        np.asarray(model(to_model_input(images[i : i + batch_size]), training=False))
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0, NUM_CLASSES), np.float32)


def evaluate_accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``images`` (uint8, N×28×28) whose predicted digit equals the label."""
    return accuracy(labels, predicted_digits(predict_probabilities(model, images)))


def predicted_digits(probabilities: np.ndarray) -> np.ndarray:
    """The most probable digit for each row of ``probabilities`` (N, 10)."""
    return _check_probabilities(probabilities).argmax(axis=1)


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Share of predictions equal to the labels."""
    labels, predictions = _check_pair(labels, predictions)
    if not labels.size:
        raise ValueError("cannot compute the accuracy of zero predictions")
    return float(np.mean(labels == predictions))


@dataclass(frozen=True)
class Interval:
    """A figure measured on several writers' drawings, with its 95% interval by bootstrap over the writers."""

    value: float
    low: float
    high: float
    writers: int
    items: int

    def __str__(self) -> str:
        return f"{self.value:.2%} [{self.low:.2%}, {self.high:.2%}] ({self.writers} writers, {self.items:,})"

    def to_dict(self) -> dict[str, float | int]:
        return {"value": self.value, "low": self.low, "high": self.high, "writers": self.writers, "items": self.items}


def writer_interval(
    values: np.ndarray, writers: Sequence[str], level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Interval:
    """The share (mean) of ``values`` (one per drawing: 1 right, 0 wrong, or any score) and its interval by
    bootstrap over ``writers`` (the writer of each drawing): writers are drawn with replacement, with all their
    drawings, since one person's drawings are not independent of each other."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) != len(writers) or not len(values):
        raise ValueError("writer_interval needs one value and one writer per drawing, and at least one drawing")
    names, index = np.unique(np.asarray(writers, dtype=object).astype(str), return_inverse=True)
    sums = np.bincount(index, weights=values, minlength=len(names))
    counts = np.bincount(index, minlength=len(names)).astype(np.float64)
    picks = np.random.default_rng(seed).integers(0, len(names), (resamples, len(names)))
    shares = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = np.quantile(shares, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(values.mean()), float(low), float(high), len(names), len(values))


def seen_writers(card: Mapping[str, Any]) -> set[str]:
    """The writers a model learnt from or was tuned on, as its card lists them (``card["writers"]``)."""
    groups = card.get("writers") or {}
    return {w for writers in groups.values() if isinstance(writers, list) for w in writers if isinstance(w, str)}


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Counts (10, 10): row = true digit, column = predicted digit; the diagonal holds the correct ones."""
    labels, predictions = _check_pair(labels, predictions)
    counts = np.bincount(labels * NUM_CLASSES + predictions, minlength=NUM_CLASSES * NUM_CLASSES)
    return counts.reshape(NUM_CLASSES, NUM_CLASSES)


@dataclass(frozen=True)
class ClassMetrics:
    """Per-digit precision, recall, F1 and support (arrays of 10), from a confusion matrix."""

    precision: np.ndarray  # of the images predicted as d, the share that are d
    recall: np.ndarray  # of the images of d, the share predicted as d
    f1: np.ndarray  # harmonic mean of the two
    support: np.ndarray  # how many images of d there are

    @classmethod
    def from_confusion(cls, confusion: np.ndarray) -> ClassMetrics:
        confusion = np.asarray(confusion)
        correct = np.diag(confusion).astype(np.float64)
        predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
        # A digit never predicted (or absent) gets 0 rather than a division by zero, as scikit-learn does.
        precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
        recall = np.divide(correct, actual, out=np.zeros_like(correct), where=actual > 0)
        total = precision + recall
        f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(correct), where=total > 0)
        return cls(precision, recall, f1, actual)


def per_class_metrics(labels: np.ndarray, predictions: np.ndarray) -> ClassMetrics:
    """Precision, recall, F1 and support of every digit."""
    return ClassMetrics.from_confusion(confusion_matrix(labels, predictions))


def classification_report(labels: np.ndarray, predictions: np.ndarray, decimals: int = 4) -> str:
    """A text table of per-digit precision, recall, F1 and support, laid out like scikit-learn's."""
    metrics = per_class_metrics(labels, predictions)
    width = decimals + 6
    lines = [f"{'':>12}{'precision':>{width}}{'recall':>{width}}{'f1-score':>{width}}{'support':>10}", ""]
    for digit in range(NUM_CLASSES):
        values = (metrics.precision[digit], metrics.recall[digit], metrics.f1[digit])
        cells = "".join(f"{v:>{width}.{decimals}f}" for v in values)
        lines.append(f"{digit:>12}{cells}{metrics.support[digit]:>10}")
    total = int(metrics.support.sum())
    lines.append("")
    lines.append(f"{'accuracy':>12}{'':>{2 * width}}{accuracy(labels, predictions):>{width}.{decimals}f}{total:>10}")
    weights = metrics.support / total
    for name, combine in (("macro avg", np.mean), ("weighted avg", lambda v: float(np.sum(v * weights)))):
        values = (combine(metrics.precision), combine(metrics.recall), combine(metrics.f1))
        cells = "".join(f"{v:>{width}.{decimals}f}" for v in values)
        lines.append(f"{name:>12}{cells}{total:>10}")
    return "\n".join(lines)


def most_confident_mistakes(labels: np.ndarray, probabilities: np.ndarray, count: int | None = None) -> np.ndarray:
    """Indices of the wrongly predicted images, the most confident mistake first.

    Confidence is the probability the model gave its (wrong) predicted digit. These are the images most worth
    looking at: often badly written or mislabelled, sometimes a real blind spot of the model.
    """
    probabilities = _check_probabilities(probabilities)
    labels = _check_labels(labels)
    if len(labels) != len(probabilities):
        raise ValueError(f"{len(probabilities)} rows of probabilities but {len(labels)} labels")
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    confidence = probabilities[wrong, predictions[wrong]]
    ranked = wrong[np.argsort(-confidence, kind="stable")]
    return ranked if count is None else ranked[:count]


def comparison_table(labels: np.ndarray, probabilities_by_model: Mapping[str, np.ndarray]) -> str:
    """One line per model: accuracy, number of mistakes, and its weakest digit (lowest recall)."""
    header = f"{'model':<28}{'accuracy':>10}{'mistakes':>10}   weakest digit (recall)"
    lines = [header, "-" * len(header)]
    for name, probabilities in probabilities_by_model.items():
        predictions = predicted_digits(probabilities)
        recall = per_class_metrics(labels, predictions).recall
        weakest = int(np.argmin(recall))
        mistakes = int(np.sum(predictions != np.asarray(labels)))
        score = accuracy(labels, predictions)
        lines.append(f"{name:<28}{score:>10.2%}{mistakes:>10}   {weakest} ({recall[weakest]:.1%})")
    return "\n".join(lines)


def training_history(source: Mapping[str, Any] | str | os.PathLike) -> dict[str, list[float]]:
    """The per-epoch curves (``loss``, ``accuracy``, ``val_loss``...) from a model card or a history.

    ``source`` is a Keras ``History.history`` dict, a model card dict (as `digitlib.model_files.load_card`
    returns), or the path of a model card ``.json`` or of the ``.keras`` file it sits beside.
    """
    if isinstance(source, str | os.PathLike):
        path = card_path(source)
        if not path.is_file():
            raise FileNotFoundError(f"No model card at {path}; digitlib.train writes one beside each model.")
        source = json.loads(path.read_text())
    history = source.get("history", source)
    if not isinstance(history, Mapping) or not history:
        raise ValueError("no training history found: expected a model card with 'history' or a history dict")
    curves = {str(name): [float(v) for v in values] for name, values in history.items()}
    lengths = {len(values) for values in curves.values()}
    if len(lengths) != 1:
        raise ValueError(f"the history's curves have different lengths: { {k: len(v) for k, v in curves.items()} }")
    return curves


@dataclass
class SavedRun:
    """A trained model's test-set probabilities and the facts about its training, without the model itself.

    A few hundred kB instead of megabytes, and enough to evaluate it like any live model.
    """

    name: str
    probabilities: np.ndarray  # (N, 10) float32
    info: dict[str, Any] = field(default_factory=dict)  # recipe, epochs, history, wall time, command...

    @property
    def predictions(self) -> np.ndarray:
        return predicted_digits(self.probabilities)

    def save(self, folder: str | os.PathLike = BASELINES_DIR) -> Path:
        """Write ``NAME.npz`` (probabilities as float16) and ``NAME.json`` into ``folder``, each atomically."""
        folder = Path(folder)
        probabilities = _check_probabilities(self.probabilities).astype(np.float16)
        npz_path = folder / f"{self.name}.npz"
        buffer = io.BytesIO()
        np.savez_compressed(buffer, probabilities=probabilities)
        write_atomic(npz_path, buffer.getvalue())
        text = json.dumps({"name": self.name, **self.info}, indent=2) + "\n"
        write_atomic(folder / f"{self.name}.json", text.encode())
        return npz_path

    def describe(self) -> str:
        """One line: how the run was trained (epochs, wall time, command)."""
        epochs, seconds = self.info.get("epochs", "?"), self.info.get("wall_time_s")
        took = f", {seconds:.0f} s of training" if isinstance(seconds, int | float) else ""
        command = self.info.get("command")
        return f"{self.name}: {epochs} epoch(s){took}" + (f" — `{command}`" if command else "")

    @classmethod
    def load(cls, name: str, folder: str | os.PathLike = BASELINES_DIR) -> SavedRun:
        """Read the run called ``name`` from ``folder`` (`BASELINES_DIR` by default)."""
        folder = Path(folder)
        npz_path, json_path = folder / f"{name}.npz", folder / f"{name}.json"
        if not npz_path.is_file() or not json_path.is_file():
            available = ", ".join(list_saved_runs(folder)) or "none"
            raise FileNotFoundError(
                f"No saved run {name!r} in {folder} (available: {available}). "
                "Make the baselines with `python benchmarks/baselines.py`."
            )
        with np.load(npz_path, allow_pickle=False) as archive:
            probabilities = archive["probabilities"].astype(np.float32)
        info = json.loads(json_path.read_text())
        info.pop("name", None)
        return cls(name, _check_probabilities(probabilities), info)


def list_saved_runs(folder: str | os.PathLike = BASELINES_DIR) -> list[str]:
    """Names of the saved runs in ``folder`` (those with both their .npz and .json)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.npz") if p.with_suffix(".json").is_file())
