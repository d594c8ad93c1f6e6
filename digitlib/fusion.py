"""Fit the fusion of the CNN and the sequence reader on the tune writers; ``python -m digitlib.fusion`` writes it.

    python -m digitlib.fusion --cnn digitlib/assets/digitlib_cnn.keras --seq digitlib/assets/digitlib_seq.keras

Every tune writer's digit is drawn the pad's way (as ``benchmarks/drawn_digits.py``'s ``draw_digit``: 40-90% of a
280 px pad, a pen of 8-30 px, at a random place), twice (two seeds), each with the file's points and re-sampled
as a mouse reports them (a point every 2-9 px), and read as the recogniser reads it (`Drawing.on_canvas`). Both
readers' own probabilities are kept; the fusion's weights (`digitlib.sequence_reader.product_of_experts`) are
fitted to minimise the negative log-likelihood, and its "not sure" threshold is chosen as the CNN's is
(`digitlib.calibration.choose_threshold`). The figures that justify it come from a writer k-fold: each fold's
writers are read with a fusion, temperatures and thresholds fitted on the other folds' writers only. The report
writers are never read. The fit (on all the tune writers) and the figures go into the sequence model's card, with
the CNN file's SHA-256: the fusion is used with that CNN only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from digitlib import calibration, pen_digits, preprocess
from digitlib.drawing import Drawing
from digitlib.files import write_atomic
from digitlib.model_files import card_path, file_sha256, load_card
from digitlib.recognizer import Recognizer
from digitlib.sequence_reader import Fusion, SequenceReader, product_of_experts

CANVAS = 280
HEIGHT_RANGE = (0.4, 0.9)  # benchmarks/drawn_digits.py: the digit's height as a share of the pad
PEN_RANGE = (8.0, 30.0)  # ... and the pen's width, px
MOUSE_STEP = (2.0, 9.0)  # ... px between two mouse events
SEEDS = (0, 1)
FOLDS = 5
#: Sure-but-wrong levels at which the readers' "not sure" is compared (on held-out writers).
TRADE_OFF = (0.003, 0.005, 0.01)


@dataclass
class TuneReadings:
    """Both readers' own probabilities for the tune digits drawn the pad's way (one row per reading)."""

    cnn: np.ndarray  # (N, 10) the CNN's raw probabilities
    seq: np.ndarray  # (N, 10) the sequence model's
    labels: np.ndarray  # (N,)
    writers: np.ndarray  # (N,) str
    variant: np.ndarray  # (N,) "tablet" or "mouse"


def draw_digit(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> Drawing:
    """A digit placed on the pad as ``benchmarks/drawn_digits.draw_digit`` places it."""
    pen = rng.uniform(*PEN_RANGE)
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    size = np.maximum(high - low, 1.0)
    room = CANVAS - pen - 4
    scale = min(rng.uniform(*HEIGHT_RANGE) * CANVAS / size[1], room / size[0])
    width, height = size * scale
    origin = pen / 2 + 2 + rng.uniform(0, 1, 2) * np.maximum(room - np.array([width, height]), 0)
    return Drawing([(s - low) * scale + origin for s in strokes], CANVAS, pen)


def mouse_points(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Each stroke re-sampled at one random spacing (`MOUSE_STEP`), as a mouse on the pad reports it."""
    step = rng.uniform(*MOUSE_STEP)
    out = []
    for s in strokes:
        along = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(s, axis=0), axis=1))]
        if len(s) < 2 or along[-1] <= step:
            out.append(s[[0, -1]] if len(s) > 1 else s)
            continue
        at = np.r_[np.arange(rng.uniform(0, step), along[-1], step), along[-1]]
        at = np.r_[0.0, at]
        out.append(np.stack([np.interp(at, along, s[:, 0]), np.interp(at, along, s[:, 1])], axis=1))
    return out


def tune_readings(rec: Recognizer, reader: SequenceReader, samples: Sequence | None = None) -> TuneReadings:
    """Read the tune writers' digits (or ``samples``) drawn the pad's way with both readers (see the module)."""
    samples = pen_digits.load_pen_digits("tune") if samples is None else samples
    images, strokes, labels, writers, variants = [], [], [], [], []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        for sample in samples:
            drawing = draw_digit(sample.strokes, rng)
            for variant, d in (
                ("tablet", drawing),
                ("mouse", drawing.with_strokes(mouse_points(drawing.strokes, rng))),
            ):
                image = preprocess.strokes_to_mnist(d)
                if image is None:
                    continue  # the pad reads nothing here: neither reader is asked
                images.append(image)
                strokes.append(d.on_canvas.strokes)
                labels.append(sample.label)
                writers.append(sample.writer)
                variants.append(variant)
    cnn = np.concatenate([rec.raw_probabilities(np.stack(images[i : i + 1000])) for i in range(0, len(images), 1000)])
    seq = np.concatenate([reader.raw_probabilities(strokes[i : i + 1000]) for i in range(0, len(strokes), 1000)])
    return TuneReadings(cnn, seq, np.array(labels), np.array(writers), np.array(variants))


def fit_weights(cnn: np.ndarray, seq: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The weights (a, b) >= 0 of `product_of_experts` that minimise the negative log-likelihood."""
    lc = np.log(np.clip(cnn, 1e-12, 1.0))
    ls = np.log(np.clip(seq, 1e-12, 1.0))
    rows = np.arange(len(labels))

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        logits = ab[0] * lc + ab[1] * ls
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        nll = float(np.mean(np.log(p.sum(axis=1)) - np.log(np.clip(p[rows, labels], 1e-300, None))))
        # d NLL / d a = mean(E_p[lc] - lc[y]), the same for b.
        grad = [float(np.mean((p * lx).sum(axis=1) - lx[rows, labels])) for lx in (lc, ls)]
        return nll, np.array(grad)

    result = minimize(loss, [1.0, 1.0], jac=True, method="L-BFGS-B", bounds=[(0.0, 20.0), (0.0, 20.0)])
    return float(result.x[0]), float(result.x[1])


def _scores(p: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    not_sure, sure_wrong = calibration.sure_rates(p, labels, threshold)
    return {
        "accuracy": float(np.mean(p.argmax(axis=1) == labels)),
        "nll": calibration.negative_log_likelihood(p, labels),
        "not_sure": not_sure,
        "sure_wrong": sure_wrong,
    }


def writer_folds(writers: np.ndarray, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Each reading's fold, every writer in one: writers (shuffled, seeded) dealt largest first to the fold with
    the fewest readings, since a few tune writers wrote far more digits than the others."""
    names, counts = np.unique(writers, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(names))
    order = order[np.argsort(-counts[order], kind="stable")]
    sizes = np.zeros(folds)
    fold_of = {}
    for i in order:
        fold_of[names[i]] = int(np.argmin(sizes))
        sizes[fold_of[names[i]]] += counts[i]
    return np.array([fold_of[w] for w in writers])


def _held_out(readings: TuneReadings, rec: Recognizer, folds: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every reader's probabilities and threshold for every reading, each fitted without its fold's writers."""
    fold = writer_folds(readings.writers, folds)
    y = readings.labels
    n = len(y)
    out = {name: (np.zeros((n, 10), np.float32), np.zeros(n)) for name in ("cnn_card", "cnn", "seq", "fused")}
    for f in range(folds):
        fit, held = fold != f, fold == f
        candidates = {
            "cnn_card": (lambda cnn, seq: calibration.apply_temperature(cnn, rec.temperature), rec.threshold),
        }
        for name, source in (("cnn", readings.cnn), ("seq", readings.seq)):
            t = calibration.fit_temperature(source[fit], y[fit])
            threshold = calibration.choose_threshold(calibration.apply_temperature(source[fit], t), y[fit])
            pick = 0 if name == "cnn" else 1
            candidates[name] = (
                lambda cnn, seq, t=t, pick=pick: calibration.apply_temperature((cnn, seq)[pick], t),
                threshold,
            )
        a, b = fit_weights(readings.cnn[fit], readings.seq[fit], y[fit])
        threshold = calibration.choose_threshold(product_of_experts(readings.cnn[fit], readings.seq[fit], a, b), y[fit])
        candidates["fused"] = (lambda cnn, seq, a=a, b=b: product_of_experts(cnn, seq, a, b), threshold)
        for name, (read, threshold) in candidates.items():
            out[name][0][held] = read(readings.cnn[held], readings.seq[held])
            out[name][1][held] = threshold
    return out


def not_sure_at(p: np.ndarray, labels: np.ndarray, sure_wrong: float) -> float:
    """The least share "not sure" with which at most ``sure_wrong`` of all readings are wrong and shown as sure
    (the most confident readings shown as sure): one point of the reader's trade-off curve."""
    order = np.argsort(-p.max(axis=1), kind="stable")
    wrong = np.cumsum(p.argmax(axis=1)[order] != labels[order]) / len(labels)
    sure = int(np.searchsorted(wrong, sure_wrong, side="right"))
    return 1.0 - sure / len(labels)


def kfold_figures(
    readings: TuneReadings, rec: Recognizer, folds: int = FOLDS, held: dict | None = None
) -> dict[str, dict[str, float]]:
    """Accuracy, NLL, not-sure and sure-wrong of each reader on held-out writers (writer k-fold), overall and
    per input variant: ``{reader: {...}, "reader|variant": {...}}``."""
    held = held or _held_out(readings, rec, folds)
    figures = {}
    for name, (p, thresholds) in held.items():
        for variant in (None, "tablet", "mouse"):
            rows = np.ones(len(p), bool) if variant is None else readings.variant == variant
            # sure_rates takes one threshold: apply each reading's own by shifting the probabilities' test.
            sure = p[rows].max(axis=1) >= thresholds[rows]
            wrong = p[rows].argmax(axis=1) != readings.labels[rows]
            scores = {
                "accuracy": float(np.mean(~wrong)),
                "nll": calibration.negative_log_likelihood(p[rows], readings.labels[rows]),
                "not_sure": float(np.mean(~sure)),
                "sure_wrong": float(np.mean(sure & wrong)),
            }
            if variant is None:  # the whole trade-off, at equal sure-but-wrong: which reader needs less "not sure"
                for target in TRADE_OFF:
                    scores[f"not_sure_at_{target:.1%}"] = not_sure_at(p, readings.labels, target)
            figures[name if variant is None else f"{name}|{variant}"] = {k: round(v, 5) for k, v in scores.items()}
    return figures


def fit_fusion(rec: Recognizer, reader: SequenceReader, cnn_sha256: str, folds: int = FOLDS) -> Fusion:
    """The fusion fitted on all the tune writers, with the writer k-fold figures of the readers and the fusion."""
    readings = tune_readings(rec, reader)
    a, b = fit_weights(readings.cnn, readings.seq, readings.labels)
    fused = product_of_experts(readings.cnn, readings.seq, a, b)
    held = _held_out(readings, rec, folds)
    # The threshold is chosen on readings fused without their own writers: one chosen on the fit's own readings let
    # twice the target through as sure but wrong on writers it had not seen.
    threshold = calibration.choose_threshold(held["fused"][0], readings.labels)
    figures = kfold_figures(readings, rec, folds, held)
    figures["fitted"] = {k: round(v, 5) for k, v in _scores(fused, readings.labels, threshold).items()}
    described = (
        f"{len(np.unique(readings.writers))} tune writers, {len(readings.labels)} readings (2 pad-way draws, "
        f"as written and mouse-spaced); figures by {folds}-fold over writers"
    )
    return Fusion(a, b, threshold, cnn_sha256, described, figures)


def write_fusion(seq_path: str | Path, fusion: Fusion) -> Path:
    """Put ``fusion`` into the sequence model's card (atomically; the model file is not touched)."""
    card = load_card(seq_path)
    card["fusion"] = fusion.to_dict()
    return write_atomic(card_path(seq_path), (json.dumps(card, indent=2) + "\n").encode())


def table(figures: dict[str, dict[str, float]]) -> str:
    """The k-fold figures as a Markdown table."""
    names = {
        "cnn_card": "CNN alone (its card's calibration)",
        "cnn": "CNN alone (temperature, threshold refit)",
        "seq": "sequence reader alone",
        "fused": "fused",
    }
    lines = ["| reader | inputs | accuracy | NLL | not sure | sure but wrong |", "|---|---|---|---|---|---|"]
    for key, label in names.items():
        for variant in ("", "|tablet", "|mouse"):
            f = figures[key + variant]
            lines.append(
                f"| {label} | {variant[1:] or 'all'} | {f['accuracy']:.2%} | {f['nll']:.4f} | {f['not_sure']:.2%} "
                f"| {f['sure_wrong']:.2%} |"
            )
    lines += ["", "| reader | " + " | ".join(f"not sure at {t:.1%} sure-wrong" for t in TRADE_OFF) + " |"]
    lines.append("|---|" + "---|" * len(TRADE_OFF))
    for key, label in names.items():
        cells = " | ".join(f"{figures[key][f'not_sure_at_{t:.1%}']:.2%}" for t in TRADE_OFF)
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Fit the fusion and write it into the sequence card; a bad file ends with a one-line message (exit 2)."""
    parser = argparse.ArgumentParser(prog="python -m digitlib.fusion", description=__doc__.splitlines()[0])
    parser.add_argument("--cnn", required=True, help="the CNN's .keras file (its card gives its calibration)")
    parser.add_argument("--seq", required=True, help="the sequence model's .keras file; the fusion goes in its card")
    parser.add_argument("--folds", type=int, default=FOLDS, help="writer folds for the figures (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.folds < 2:
            raise ValueError(f"--folds must be at least 2, got {args.folds}")
        rec = Recognizer.load(args.cnn, sequence=False)
        reader = SequenceReader.load(args.seq)
        fusion = fit_fusion(rec, reader, rec.card.get("model_sha256") or file_sha256(args.cnn), args.folds)
        path = write_fusion(args.seq, fusion)
    except (ValueError, OSError) as error:
        print(f"python -m digitlib.fusion: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, ValueError) else 1
    print(table(fusion.figures))
    print(
        f"\nWrote the fusion into {path}: p = softmax({fusion.cnn_weight:.3f} log p_cnn + {fusion.seq_weight:.3f} "
        f"log p_seq), not sure below {fusion.threshold:.3f}; for the CNN {fusion.cnn_sha256[:12]}…"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
