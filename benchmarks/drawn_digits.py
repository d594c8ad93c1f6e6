"""How well does the recogniser read digits and numbers that people really draw?

Pen trajectories of real handwriting (by default the shipped UNIPEN validation writers, whom the
shipped model never learnt from; or any file in the same format, see ``digitlib/assets/README.md``)
are drawn the way the drawing pad draws them (:func:`digitlib.render.render_strokes`): at varied
sizes, positions and pen widths, in the three canvas looks. Each drawing is read four ways:

- pixels: ``Recognizer.predict_image`` / ``predict_number`` on the canvas image;
- strokes: ``Recognizer.predict_strokes`` / ``predict_number_strokes`` (what the pad uses);
- the tutorials' baseline: the whole dark-on-white canvas resized to 28×28, as is;
- the same with the tutorials' "invert" fix (white ink on black).

Every digit is also drawn once more with a thin pen (1-3 px) on a canvas of 280 to 4000 px, to check
that every pen reads alike. Numbers are 3–5 digits by one writer side by side, with realistic gaps
(some nearly touching); then the same number of numbers again with every digit pushed up to the next,
so that inks often touch. For each way of reading it reports the accuracy, the share of digits shown
as "not sure" and the share read wrong *and* shown as sure. Everything is seeded, so two runs with
the same options draw the same canvases.

    python benchmarks/drawn_digits.py                       # the shipped validation writers
    python benchmarks/drawn_digits.py --split train         # the training writers (for tuning)
    python benchmarks/drawn_digits.py PATH --model runs/digitlib_cnn.keras --limit 1000 --seed 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from digitlib.files import write_atomic
from digitlib.pen_digits import PenDigit, PenDigitsError, load_pen_digits
from digitlib.preprocess import tutorial_resize
from digitlib.recognizer import Recognizer
from digitlib.render import LOOKS, render_strokes

CANVAS = 280
HEIGHT_RANGE = (0.4, 0.9)  # digit height, as a fraction of the canvas height
NUMBER_HEIGHT_RANGE = (0.35, 0.7)
PEN_RANGE = (8.0, 30.0)  # pen width, canvas px


THIN_PEN_RANGE = (1.0, 3.0)  # the thin-pen set: pen width in canvas px ...
THIN_CANVAS_RANGE = (280, 4000)  # ... on a square canvas of this many px
Sample = PenDigit


def load_samples(path: Path | None, split: str) -> list[Sample]:
    """The digits to draw: the shipped pen digits' ``split``, or every sample of the file at ``path``."""
    try:
        return load_pen_digits(split, path) if path is None else load_pen_digits("all", path)
    except PenDigitsError as error:
        raise SystemExit(f"not pen trajectories in the expected format: {error}") from error


def extent(strokes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    points = np.concatenate(strokes)
    return points.min(axis=0), points.max(axis=0)


def place(strokes: list[np.ndarray], scale: float, left: float, top: float) -> list[np.ndarray]:
    """Scale strokes by ``scale`` and move the path's top-left corner to (left, top)."""
    low, _ = extent(strokes)
    return [(s - low) * scale + (left, top) for s in strokes]


def fit_scale(strokes: list[np.ndarray], height: float, max_width: float) -> float:
    """The scale that makes the path ``height`` tall, or ``max_width`` wide if it is wider."""
    low, high = extent(strokes)
    size = np.maximum(high - low, 1.0)
    return float(min(height / size[1], max_width / size[0]))


def draw_digit(
    sample: Sample, rng: np.random.Generator, canvas: int = CANVAS, pens: tuple[float, float] = PEN_RANGE
) -> tuple[list[np.ndarray], float]:
    """Strokes for one digit on a canvas×canvas pad: random size, position and pen width."""
    pen = rng.uniform(*pens)
    room = canvas - pen - 4  # the path must fit with the pen's half-width and 2 px each side
    scale = fit_scale(sample.strokes, rng.uniform(*HEIGHT_RANGE) * canvas, room)
    low, high = extent(sample.strokes)
    width, height = (high - low) * scale
    left = pen / 2 + 2 + rng.uniform(0, max(room - width, 0))
    top = pen / 2 + 2 + rng.uniform(0, max(room - height, 0))
    return place(sample.strokes, scale, left, top), pen


def draw_number(
    samples: list[Sample], rng: np.random.Generator, touching: bool = False
) -> tuple[list[np.ndarray], tuple[int, int], float]:
    """Strokes of several digits side by side, as one person writes a number on the pad; with
    ``touching``, each digit's inked box overlaps the next one's by up to half a pen width, so
    that the inks often touch."""
    pen = rng.uniform(*PEN_RANGE)
    height = rng.uniform(*NUMBER_HEIGHT_RANGE) * CANVAS
    strokes, x = [], rng.uniform(10, 40) + pen / 2
    baseline = rng.uniform(0.1 * CANVAS + height, 0.9 * CANVAS)
    for sample in samples:
        scale = fit_scale(sample.strokes, height * rng.uniform(0.9, 1.1), 1.5 * height)
        low, high = extent(sample.strokes)
        h = (high[1] - low[1]) * scale
        bottom = min(baseline + rng.uniform(-0.05, 0.05) * height, CANVAS - pen / 2 - 2)
        placed = place(sample.strokes, scale, x, max(bottom - h, pen / 2 + 2))
        strokes.extend(placed)
        right = extent(placed)[1][0]
        if touching:
            x = right + pen * (1 - rng.uniform(0, 0.5))
            continue
        # Gap between the inked boxes: usually a fifth of the height, sometimes nearly touching.
        gap = rng.uniform(1, 4) if rng.random() < 0.25 else height * rng.uniform(0.05, 0.35)
        x = right + pen + gap
    width = int(np.ceil(x + rng.uniform(10, 40)))
    return strokes, (width, CANVAS), pen


def percent(hits: int | float, total: int) -> str:
    return f"{100.0 * hits / total:6.2f}%" if total else "    n/a"


def read_thin(rec: Recognizer, samples: list[Sample], seed: int) -> list[dict]:
    """Each digit drawn with a thin pen (1-3 px) on a canvas of 280-4000 px, read from pixels and strokes."""
    rng = np.random.default_rng(seed + 3)
    rows = []
    for sample in samples:
        canvas = int(rng.integers(THIN_CANVAS_RANGE[0], THIN_CANVAS_RANGE[1] + 1))
        strokes, pen = draw_digit(sample, rng, canvas, THIN_PEN_RANGE)
        # A big canvas is drawn without supersampling: a 4000-px canvas at 4x would be 256 million pixels.
        image = render_strokes(strokes, canvas, pen, "dark_on_light", supersample=1 if canvas > 1000 else 4)
        row = dict(label=sample.label, canvas=canvas, pen=pen)
        for key, prediction in (
            ("pixel", rec.predict_image(image)),
            ("stroke", rec.predict_strokes(strokes, canvas, pen)),
        ):
            row[key], row[f"{key}_conf"], row[f"{key}_sure"] = (
                prediction.digit,
                prediction.confidence,
                prediction.is_confident,
            )
        rows.append(row)
    return rows


def run_digits(rec: Recognizer, samples: list[Sample], seed: int) -> list[dict]:
    """Each digit drawn once (random size, place, pen) and read from the canvas in all three
    looks, from its strokes, and the tutorials' way."""
    rng = np.random.default_rng(seed)
    rows = []
    baseline_inputs = {"resize": [], "resize+invert": []}
    for sample in samples:
        strokes, pen = draw_digit(sample, rng)
        height = extent(strokes)[1][1] - extent(strokes)[0][1]
        row = dict(label=sample.label, inst=sample.inst, pen=pen, height=height / CANVAS)
        for look in LOOKS:
            canvas = render_strokes(strokes, CANVAS, pen, look)
            prediction = rec.predict_image(canvas)
            row[look], row[f"{look}_conf"], row[f"{look}_sure"] = (
                prediction.digit,
                prediction.confidence,
                prediction.is_confident,
            )
            if look == "dark_on_light":
                baseline_inputs["resize"].append(tutorial_resize(canvas, invert=False))
                baseline_inputs["resize+invert"].append(tutorial_resize(canvas, invert=True))
        prediction = rec.predict_strokes(strokes, CANVAS, pen)
        row["stroke"], row["stroke_conf"], row["stroke_sure"] = (
            prediction.digit,
            prediction.confidence,
            prediction.is_confident,
        )
        # The pixel path's figure is the first look's; the others are in the per-look columns.
        row["pixel"], row["pixel_conf"], row["pixel_sure"] = (
            row[LOOKS[0]],
            row[f"{LOOKS[0]}_conf"],
            row[f"{LOOKS[0]}_sure"],
        )
        rows.append(row)
    for name, images in baseline_inputs.items():
        predicted = []
        for start in range(0, len(images), 512):
            predicted.extend(rec.predict_mnist(np.stack(images[start : start + 512])).argmax(1))
        for row, digit in zip(rows, predicted, strict=True):
            row[name] = int(digit)
    return rows


def write_numbers(
    samples: list[Sample], count: int, seed: int, touching: bool = False
) -> Iterator[tuple[str, list[np.ndarray], tuple[int, int], float]]:
    """``count`` numbers of 3-5 digits, each by one writer (of those with 5 digits or more), drawn with
    `draw_number`: (the digits written, strokes, canvas size, pen width). Seeded: the same arguments
    write the same numbers; none when no writer has 5 digits."""
    rng = np.random.default_rng(seed + (2 if touching else 1))
    by_writer = defaultdict(list)
    for sample in samples:
        by_writer[sample.writer].append(sample)
    writers = sorted(w for w, s in by_writer.items() if len(s) >= 5)
    if not writers:
        return
    for _ in range(count):
        pool = by_writer[writers[rng.integers(len(writers))]]
        length = int(rng.integers(3, 6))
        chosen = [pool[j] for j in rng.choice(len(pool), length, replace=False)]
        strokes, size, pen = draw_number(chosen, rng, touching)
        yield "".join(str(s.label) for s in chosen), strokes, size, pen


def run_numbers(rec: Recognizer, samples: list[Sample], count: int, seed: int, touching: bool = False) -> list[dict]:
    """Numbers of 3-5 digits by one writer (`write_numbers`), read from the canvas in all three
    looks and from their strokes."""
    rows = []
    for truth, strokes, size, pen in write_numbers(samples, count, seed, touching):
        row = dict(truth=truth, length=len(truth))
        for look in LOOKS:
            number = rec.predict_number(render_strokes(strokes, size, pen, look))
            row[look], row[f"{look}_count"], row[f"{look}_sure"] = number.text, len(number.digits), number.is_confident
        number = rec.predict_number_strokes(strokes, size, pen)
        row["stroke"], row["stroke_count"], row["stroke_sure"] = number.text, len(number.digits), number.is_confident
        rows.append(row)
    if count and not rows:
        print("no writer has 5 digits or more: numbers skipped")
    return rows


def accuracy(rows: list[dict], key: str, truth: str = "label") -> str:
    return percent(sum(r[key] == r[truth] for r in rows), len(rows))


def summary(digits: list[dict], thin: list[dict], numbers: list[dict], touching: list[dict]) -> dict:
    """The headline figures as fractions, for ``--json``: accuracy per way of reading, and for the digits the
    share shown as "not sure" and the share read wrong and shown as sure."""

    def share(rows: list[dict], key: str, truth: str) -> float | None:
        return sum(r[key] == r[truth] for r in rows) / len(rows) if rows else None

    def sureness(rows: list[dict], key: str) -> dict:
        if not rows:
            return {}
        return {
            f"{key}_not_sure": sum(not r[f"{key}_sure"] for r in rows) / len(rows),
            f"{key}_sure_wrong": sum(r[f"{key}_sure"] and r[key] != r["label"] for r in rows) / len(rows),
        }

    methods = [*LOOKS, "stroke"]
    return {
        "digits": {"count": len(digits)}
        | {m: share(digits, m, "label") for m in [*methods, "resize", "resize+invert"]}
        | sureness(digits, "pixel")
        | sureness(digits, "stroke"),
        "thin_pen_digits": {"count": len(thin)}
        | {m: share(thin, m, "label") for m in ("pixel", "stroke")}
        | sureness(thin, "pixel")
        | sureness(thin, "stroke"),
        "numbers": {"count": len(numbers)} | {m: share(numbers, m, "truth") for m in methods},
        "touching_numbers": {"count": len(touching)} | {m: share(touching, m, "truth") for m in methods},
    }


def report_sureness(rows: list[dict], key: str, what: str) -> None:
    total = len(rows)
    unsure = [r for r in rows if not r[f"{key}_sure"]]
    sure_wrong = sum(r[f"{key}_sure"] and r[key] != r["label"] for r in rows)
    print(
        f"  {what}: 'not sure' on {percent(len(unsure), total)} ({sum(r[key] != r['label'] for r in unsure)} of "
        f"them wrong); read wrong and shown as sure: {percent(sure_wrong, total)} ({sure_wrong})"
    )


def report_thin(rows: list[dict], digits: list[dict]) -> None:
    print(
        f"\nTHIN PENS ({len(rows)} drawings, pen {THIN_PEN_RANGE[0]:g}-{THIN_PEN_RANGE[1]:g} px on canvases "
        f"of {THIN_CANVAS_RANGE[0]}-{THIN_CANVAS_RANGE[1]} px)"
    )
    for key, what in (("pixel", "pixels (predict_image)"), ("stroke", "strokes (predict_strokes)")):
        regular = accuracy(digits, key)
        print(f"  {what:<28} {accuracy(rows, key)}   (pens {PEN_RANGE[0]:g}-{PEN_RANGE[1]:g} px: {regular})")
    for key, what in (("pixel", "pixels"), ("stroke", "strokes")):
        report_sureness(rows, key, what)


def report_digits(rows: list[dict]) -> None:
    total = len(rows)
    print(f"\nDIGITS ({total} drawings, each read from the canvas in every look)")
    print("  method                       accuracy")
    for look in LOOKS:
        print(f"  pixels, {look:<20} {accuracy(rows, look)}   (predict_image)")
    print(f"  strokes                      {accuracy(rows, 'stroke')}   (predict_strokes)")
    print(f"  tutorial: resize             {accuracy(rows, 'resize')}   (dark on white, as is)")
    print(f"  tutorial: resize + invert    {accuracy(rows, 'resize+invert')}")

    for key, what in (("pixel", "pixels"), ("stroke", "strokes")):
        report_sureness(rows, key, what)

    def table(title: str, groups: list[tuple[str, list[dict]]]) -> None:
        print(f"\n  {title:<18}{'pixels':>9}{'strokes':>9}{'n':>6}")
        for name, subset in groups:
            print(f"    {name:<16}{accuracy(subset, LOOKS[0]):>9}{accuracy(subset, 'stroke'):>9}{len(subset):>6}")

    table("per class", [(str(d), [r for r in rows if r["label"] == d]) for d in range(10)])
    for key in (LOOKS[0], "stroke"):
        confusions = Counter((r["label"], r[key]) for r in rows if r[key] != r["label"])
        common = ", ".join(f"{t}->{p}: {n}" for (t, p), n in confusions.most_common(12))
        print(f"\n  most common confusions ({key}, true->read): {common}")
    pens = [(8, 14), (14, 20), (20, 25), (25, 30.01)]
    table(
        "by pen width (px)",
        [(f"{lo:g}-{hi:.0f}", [r for r in rows if lo <= r["pen"] < hi]) for lo, hi in pens],
    )
    heights = [(0.0, 0.5), (0.5, 0.65), (0.65, 0.8), (0.8, 1.0)]
    table(
        "by digit height",
        [(f"{lo:.2f}-{hi:.2f}", [r for r in rows if lo <= r["height"] < hi]) for lo, hi in heights],
    )
    insts = sorted({r["inst"] for r in rows})
    table("by institution", [(i, [r for r in rows if r["inst"] == i]) for i in insts])


def report_numbers(rows: list[dict], what: str = "") -> None:
    total = len(rows)
    print(f"\nNUMBERS ({total} numbers of 3-5 digits by one writer{what}, each in every look)")
    print("  method                       accuracy  right digit count")
    for key, what in [(look, f"pixels, {look}") for look in LOOKS] + [("stroke", "strokes")]:
        count_ok = percent(sum(r[f"{key}_count"] == r["length"] for r in rows), total)
        print(f"  {what:<28} {accuracy(rows, key, 'truth')}   {count_ok}")
    for length in (3, 4, 5):
        subset = [r for r in rows if r["length"] == length]
        print(
            f"    {length} digits: pixels {accuracy(subset, LOOKS[0], 'truth')}, "
            f"strokes {accuracy(subset, 'stroke', 'truth')} (n={len(subset)})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "path",
        type=Path,
        nargs="?",
        default=None,
        help="pen trajectories (.json.gz) in the shipped format (default: the shipped pen digits, see --split)",
    )
    parser.add_argument(
        "--split",
        choices=["validation", "train", "all"],
        default="validation",
        help="which of the shipped writers to draw (default: validation, whom the shipped model never saw)",
    )
    parser.add_argument("--model", type=Path, default=None, help="a .keras model (default: the shipped one)")
    parser.add_argument("--limit", type=int, default=None, help="use this many digits (a seeded random subset)")
    parser.add_argument(
        "--numbers", type=int, default=1000, help="how many numbers to draw, spaced and touching (default 1000 each)"
    )
    parser.add_argument("--no-thin", action="store_true", help="skip the thin-pen set (it draws big canvases)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--json", type=Path, default=None, help="also write the headline figures to this JSON file")
    args = parser.parse_args(argv)

    if args.path is not None and not args.path.is_file():
        parser.error(f"{args.path} is not a file")
    samples = load_samples(args.path, args.split)
    rec = Recognizer.load(args.model)
    print(f"model: {rec.name} (temperature {rec.temperature:.3g}, 'not sure' below {rec.threshold:.3g})")
    source = args.path or f"the shipped pen digits, {args.split} writers"
    print(f"data: {source} ({len(samples)} digits, {len({s.writer for s in samples})} writers), seed {args.seed}")
    digits = samples
    if args.limit is not None and args.limit < len(samples):
        chosen = np.random.default_rng(args.seed).choice(len(samples), args.limit, replace=False)
        digits = [samples[i] for i in sorted(chosen)]

    start = time.perf_counter()
    digit_rows = run_digits(rec, digits, args.seed)
    report_digits(digit_rows)
    thin = [] if args.no_thin else read_thin(rec, digits, args.seed)
    if thin:
        report_thin(thin, digit_rows)
    numbers = run_numbers(rec, samples, args.numbers, args.seed) if args.numbers > 0 else []
    if numbers:
        report_numbers(numbers)
    touching = run_numbers(rec, samples, args.numbers, args.seed, touching=True) if args.numbers > 0 else []
    if touching:
        report_numbers(touching, ", each pushed up to the next (inks often touch)")
    print(f"\n({time.perf_counter() - start:.0f} s)")
    if args.json is not None:
        figures = summary(digit_rows, thin, numbers, touching)
        write_atomic(args.json, (json.dumps(figures, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
