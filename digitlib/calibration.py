"""Confidence that means what it says: temperature scaling, reliability, and a "not sure" threshold from data.

A model's top probability is not the chance that it is right. digitlib's recipe trains with label smoothing
(the target gives the true digit 95.5%), which caps the probabilities near 0.955 even on easy digits, and on
drawings unlike MNIST a network can be confidently wrong. *Temperature scaling* (Guo et al., 2017) fixes the
first and measures the second: the log-probabilities are divided by one number T, fitted on held-out data to
minimise the negative log-likelihood, then turned back into probabilities. T < 1 sharpens them, T > 1 softens
them; the ranking of the digits never changes, so neither does the accuracy.

The "not sure" threshold is then chosen from data (`choose_threshold`): the lowest threshold at which the share of
digits that are read wrong *and* shown as sure stays under a target, which keeps "not sure" as rare as that
allows. `threshold_table` shows the trade-off it makes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

#: Sure-but-wrong share the threshold is chosen for, on held-out data (MNIST and the tune writers): the product's
#: target. 0.2% put a fifth of the tune writers' digits at "not sure" (docs/measurements.md).
SURE_WRONG_TARGET = 0.003
#: The threshold is never chosen below this: a digit at 60% is not "sure" whatever the data says.
LOWEST_THRESHOLD = 0.6
#: Temperatures are searched in this range.
TEMPERATURES = (0.05, 20.0)


def _log(probabilities: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0))


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities (N, 10) rescaled by ``temperature``: softmax(log p / T). T = 1 changes nothing."""
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    logits = _log(probabilities) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=-1, keepdims=True)).astype(np.float32)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(true digit): what temperature scaling minimises."""
    labels = np.asarray(labels, dtype=np.int64)
    return float(-_log(probabilities)[np.arange(len(labels)), labels].mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels`` (searched in `TEMPERATURES`)."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0 or len(labels) != len(probabilities):
        raise ValueError("fit_temperature needs as many labels as rows of probabilities, and at least one")
    logs = _log(probabilities)

    def loss(log_t: float) -> float:
        logits = logs / np.exp(log_t)
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1))
        return float((log_norm - logits[np.arange(len(labels)), labels]).mean())

    from scipy.optimize import minimize_scalar  # here: scipy.optimize takes half a second to import

    result = minimize_scalar(loss, bounds=tuple(np.log(TEMPERATURES)), method="bounded")
    return float(np.exp(result.x))


@dataclass(frozen=True)
class Reliability:
    """Confidence against accuracy in bins of confidence (a reliability diagram's data)."""

    edges: np.ndarray  # (bins + 1,) bin edges of the top probability
    confidence: np.ndarray  # (bins,) mean top probability in each bin (NaN for an empty bin)
    accuracy: np.ndarray  # (bins,) share right in each bin
    counts: np.ndarray  # (bins,) how many predictions fall in each bin

    @property
    def expected_calibration_error(self) -> float:
        """The count-weighted mean gap between confidence and accuracy (ECE)."""
        used = self.counts > 0
        weights = self.counts[used] / self.counts.sum()
        return float(np.sum(weights * np.abs(self.confidence[used] - self.accuracy[used])))


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> Reliability:
    """Bin predictions by their top probability and measure how often each bin is right."""
    probabilities = np.asarray(probabilities)
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=bins) / counts
        accuracy = np.bincount(which, weights=right, minlength=bins) / counts
    return Reliability(edges, mean_conf, accuracy, counts)


def sure_rates(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    """(share shown as "not sure", share read wrong and shown as sure) at ``threshold``."""
    confidence = np.asarray(probabilities).max(axis=1)
    wrong = np.asarray(probabilities).argmax(axis=1) != np.asarray(labels)
    sure = confidence >= threshold
    return float(np.mean(~sure)), float(np.mean(sure & wrong))


def choose_threshold(
    probabilities: np.ndarray,
    labels: np.ndarray,
    sure_wrong_target: float = SURE_WRONG_TARGET,
    lowest: float = LOWEST_THRESHOLD,
) -> float:
    """The lowest threshold (at least ``lowest``) at which sure-but-wrong stays at most ``sure_wrong_target``.

    Lower thresholds show fewer digits as "not sure" but let more wrong ones pass as sure; this picks the least
    "not sure" that the target allows on the data given.
    """
    confidence = np.asarray(probabilities).max(axis=1)
    for threshold in np.arange(lowest, 0.995, 0.005):
        if sure_rates(probabilities, labels, threshold)[1] <= sure_wrong_target:
            return round(float(threshold), 3)
    return 0.995 if confidence.size else lowest


def threshold_table(probabilities: np.ndarray, labels: np.ndarray, thresholds=(0.6, 0.7, 0.8, 0.9, 0.95)) -> str:
    """What each threshold costs (digits shown as "not sure") and saves (wrong digits not shown as sure)."""
    wrong = float(np.mean(np.asarray(probabilities).argmax(axis=1) != np.asarray(labels)))
    lines = [f"{'threshold':>10}{'not sure':>10}{'sure but wrong':>16}   (all wrong: {wrong:.2%})"]
    for threshold in thresholds:
        unsure, sure_wrong = sure_rates(probabilities, labels, threshold)
        lines.append(f"{threshold:>10.2f}{unsure:>10.2%}{sure_wrong:>16.2%}")
    return "\n".join(lines)


def is_number(value: object) -> bool:
    """Whether a value read from a card is a finite number (not a bool, a string or an int too big for a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


#: The "not sure" threshold of a model whose card has no calibration (a trained model's own threshold, chosen from
#: data, is in its card: ``Recognizer.load().threshold``).
CONFIDENCE_THRESHOLD = 0.8


@dataclass(frozen=True)
class Calibration:
    """What a model card keeps about a model's confidence: its temperature and its "not sure" threshold."""

    temperature: float = 1.0
    threshold: float = CONFIDENCE_THRESHOLD
    fitted_on: str = "not fitted"
    nll_before: float | None = None
    nll_after: float | None = None
    ece_before: float | None = None
    ece_after: float | None = None
    not_sure: float | None = None  # share shown as "not sure" on the data it was fitted on
    sure_wrong: float | None = None  # share read wrong and shown as sure there

    def to_dict(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: object) -> Calibration:
        """A calibration as a model card stores it; `ValueError` unless it holds a temperature in
        `TEMPERATURES` and a threshold in [`LOWEST_THRESHOLD`, 1] (a card that says nothing sensible must not
        pass for a calibrated model)."""
        if not isinstance(values, dict) or not {"temperature", "threshold"} <= set(values):
            raise ValueError(f"a calibration needs a temperature and a threshold, got {values!r:.80}")
        for name in ("temperature", "threshold"):
            value = values[name]
            if not is_number(value):
                raise ValueError(f"a calibration's {name} must be a number, got {value!r:.40}")
        known = {k: values[k] for k in cls.__dataclass_fields__ if k in values}
        calibration = cls(**known)
        if not TEMPERATURES[0] <= calibration.temperature <= TEMPERATURES[1]:
            raise ValueError(f"a calibration's temperature must be in {TEMPERATURES}, got {calibration.temperature!r}")
        if not LOWEST_THRESHOLD <= calibration.threshold <= 1.0:
            raise ValueError(
                f"a calibration's threshold must be in [{LOWEST_THRESHOLD}, 1], got {calibration.threshold!r}"
            )
        return calibration


def calibrate(probabilities: np.ndarray, labels: np.ndarray, fitted_on: str) -> Calibration:
    """Fit a temperature on held-out ``probabilities`` (raw model outputs) and choose the threshold after it."""
    temperature = fit_temperature(probabilities, labels)
    scaled = apply_temperature(probabilities, temperature)
    threshold = choose_threshold(scaled, labels)
    not_sure, sure_wrong = sure_rates(scaled, labels, threshold)
    return Calibration(
        temperature=temperature,
        threshold=threshold,
        fitted_on=fitted_on,
        nll_before=negative_log_likelihood(probabilities, labels),
        nll_after=negative_log_likelihood(scaled, labels),
        ece_before=reliability(probabilities, labels).expected_calibration_error,
        ece_after=reliability(scaled, labels).expected_calibration_error,
        not_sure=not_sure,
        sure_wrong=sure_wrong,
    )
