"""How well does the recogniser read digits and numbers that people really draw, people it never saw?

Real pen trajectories (by default the shipped *report* writers, on whom no choice was made; see
`digitlib.pen_digits`; or any file in the same format) are drawn the way the drawing pad draws them: at varied
sizes, places and pen widths, in the three canvas looks. Each digit is read from the canvas image
(``predict_image``) and from its strokes (``predict_strokes``, what the pad does), and the tutorials' way (the
whole canvas resized to 28×28, as is and inverted); once more with a thin pen (1-3 px) on canvases of 280-4000
px; and replayed through the pad itself as mouse events. Numbers of 3-5 digits by one writer are drawn spaced,
touching (each digit pushed up to the next), and hard-touching (the digits' boxes pushed 0-12% of their height
into each other). Every figure comes with its 95% interval by bootstrap over writers, and the digits per site.

The writer protocol is enforced: a model card lists the writers its model learnt from and was tuned on, and
measuring on any of them is refused unless ``--seen`` is given, and then every figure is labelled SEEN.

    python benchmarks/drawn_digits.py                        # the report writers: the README's figures
    python benchmarks/drawn_digits.py --group tune --seen    # what choices are made on
    python benchmarks/drawn_digits.py PATH --model runs/digitlib_cnn.keras --limit 500 --json out.json
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

from digitlib.evaluation import Interval, seen_writers, writer_interval
from digitlib.files import write_atomic
from digitlib.pen_digits import GROUPS, PenDigit, PenDigitsError, load_pen_digits
from digitlib.preprocess import tutorial_resize
from digitlib.recognizer import Recognizer
from digitlib.render import LOOKS, render_strokes

CANVAS = 280
HEIGHT_RANGE = (0.4, 0.9)  # digit height, as a fraction of the canvas height
NUMBER_HEIGHT_RANGE = (0.35, 0.7)
PEN_RANGE = (8.0, 30.0)  # pen width, canvas px
THIN_PEN_RANGE = (1.0, 3.0)  # the thin-pen set: pen width in canvas px ...
THIN_CANVAS_RANGE = (280, 4000)  # ... on a square canvas of this many px
HARD_OVERLAP = (0.0, 0.12)  # hard-touching numbers: each digit's box pushed this share of the height into the last
MOUSE_STEP = (2.0, 9.0)  # pad replay: px between two mouse events (a mouse at 60 Hz, drawn at an ordinary speed)
Sample = PenDigit


def load_samples(path: Path | None, group: str) -> list[Sample]:
    """The digits to draw: the shipped pen digits of ``group``, or every sample of the file at ``path``."""
    try:
        return load_pen_digits(group) if path is None else load_pen_digits("all", path)
    except PenDigitsError as error:
        raise SystemExit(f"not pen trajectories in the expected format: {error}") from error


def check_protocol(rec: Recognizer, samples: list[Sample], seen: bool) -> bool:
    """Whether the figures are on writers the model's card lists as learnt from or tuned on; refused unless
    ``seen``."""
    overlap = seen_writers(rec.card) & {s.writer for s in samples}
    if overlap and not seen:
        raise SystemExit(
            f"{len(overlap)} of these writers are listed in the model's card as learnt from or tuned on (e.g. "
            f"{sorted(overlap)[0]}): figures on them would flatter the model. Measure the report group (the "
            "default), or pass --seen to measure anyway, labelled as seen."
        )
    if "writers" not in rec.card:
        print("note: the model card does not list the writers it learnt from; these may be writers it saw")
    return bool(overlap)


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
    samples: list[Sample], rng: np.random.Generator, how: str = "spaced"
) -> tuple[list[np.ndarray], tuple[int, int], float]:
    """Strokes of several digits side by side, as one person writes a number on the pad: ``"spaced"`` with
    realistic gaps (some nearly touching), ``"touching"`` with each inked box overlapping the next by up to half a
    pen width, or ``"hard"`` with each digit's box pushed `HARD_OVERLAP` of the height into the one before."""
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
        if how == "touching":
            x = right + pen * (1 - rng.uniform(0, 0.5))
        elif how == "hard":
            x = right - rng.uniform(*HARD_OVERLAP) * height
        else:  # a gap between the inked boxes: usually a fifth of the height, sometimes nearly touching
            x = right + pen + (rng.uniform(1, 4) if rng.random() < 0.25 else height * rng.uniform(0.05, 0.35))
    width = int(np.ceil(max(x, extent(strokes)[1][0] + pen) + rng.uniform(10, 40)))
    return strokes, (width, CANVAS), pen


def read(rec: Recognizer, row: dict, key: str, prediction) -> None:
    row[key], row[f"{key}_sure"] = prediction.digit, prediction.is_confident


def run_digits(rec: Recognizer, samples: list[Sample], seed: int) -> list[dict]:
    """Each digit drawn once (random size, place, pen) and read from the canvas in all three looks, from its
    strokes, and the tutorials' way."""
    rng = np.random.default_rng(seed)
    rows, resized = [], {"resize": [], "resize+invert": []}
    for sample in samples:
        strokes, pen = draw_digit(sample, rng)
        low, high = extent(strokes)
        row = dict(label=sample.label, writer=sample.writer, inst=sample.inst, pen=pen, height=(high - low)[1] / CANVAS)
        for look in LOOKS:
            canvas = render_strokes(strokes, CANVAS, pen, look)
            read(rec, row, look, rec.predict_image(canvas))
            if look == "dark_on_light":
                resized["resize"].append(tutorial_resize(canvas))
                resized["resize+invert"].append(tutorial_resize(canvas, invert=True))
        read(rec, row, "stroke", rec.predict_strokes(strokes, CANVAS, pen))
        row["pixel"], row["pixel_sure"] = row[LOOKS[0]], row[f"{LOOKS[0]}_sure"]
        rows.append(row)
    for name, images in resized.items():
        for start in range(0, len(images), 512):
            digits = rec.predict_mnist(np.stack(images[start : start + 512])).argmax(1)
            for row, digit in zip(rows[start : start + 512], digits, strict=True):
                row[name] = int(digit)
    return rows


def run_thin(rec: Recognizer, samples: list[Sample], seed: int) -> list[dict]:
    """Each digit drawn with a thin pen (1-3 px) on a canvas of 280-4000 px, read from pixels and strokes."""
    rng = np.random.default_rng(seed + 3)
    rows = []
    for sample in samples:
        canvas = int(rng.integers(THIN_CANVAS_RANGE[0], THIN_CANVAS_RANGE[1] + 1))
        strokes, pen = draw_digit(sample, rng, canvas, THIN_PEN_RANGE)
        # A big canvas is drawn without supersampling: a 4000-px canvas at 4x would be 256 million pixels.
        image = render_strokes(strokes, canvas, pen, "dark_on_light", supersample=1 if canvas > 1000 else 4)
        row = dict(label=sample.label, writer=sample.writer, inst=sample.inst)
        read(rec, row, "pixel", rec.predict_image(image))
        read(rec, row, "stroke", rec.predict_strokes(strokes, canvas, pen))
        rows.append(row)
    return rows


def run_pad(rec: Recognizer, samples: list[Sample], count: int, seed: int) -> list[dict]:
    """``count`` digits drawn through `digitlib.pad.DrawingPad` as mouse events (pen down, moves a few px apart,
    pen up), read as the pad reads them when the pen lifts."""
    from digitlib.pad import DrawingPad

    rng = np.random.default_rng(seed + 4)
    pad = DrawingPad(rec, live_interval=0.1)
    rows = []
    for index in rng.choice(len(samples), min(count, len(samples)), replace=False):
        sample = samples[int(index)]
        strokes, pen = draw_digit(sample, rng, pens=(6.0, 30.0))
        pad.pen_width = round(pen)
        pad.clear()
        for stroke in strokes:
            lengths = np.r_[0, np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))]
            at = np.arange(0, lengths[-1] + 1e-9, rng.uniform(*MOUSE_STEP))
            path = np.stack([np.interp(at, lengths, stroke[:, 0]), np.interp(at, lengths, stroke[:, 1])], 1)
            pad._on_pen_down(*path[0])
            for x, y in path[1:]:
                pad._on_pen_move(x, y)
            pad._on_mouse_up(*stroke[-1])
        row = dict(label=sample.label, writer=sample.writer, inst=sample.inst)
        read(rec, row, "pad", pad.prediction)
        rows.append(row)
    return rows


def write_numbers(
    samples: list[Sample], count: int, seed: int, how: str = "spaced"
) -> Iterator[tuple[str, list[np.ndarray], tuple[int, int], float, str]]:
    """``count`` numbers of 3-5 digits, each by one writer (of those with 5 digits or more), drawn with
    `draw_number`: (the digits written, strokes, canvas size, pen width, writer). Seeded."""
    rng = np.random.default_rng(seed + {"spaced": 1, "touching": 2, "hard": 5}[how])
    by_writer = defaultdict(list)
    for sample in samples:
        by_writer[sample.writer].append(sample)
    writers = sorted(w for w, s in by_writer.items() if len(s) >= 5)
    if not writers:
        return
    for _ in range(count):
        writer = writers[rng.integers(len(writers))]
        pool = by_writer[writer]
        chosen = [pool[j] for j in rng.choice(len(pool), int(rng.integers(3, 6)), replace=False)]
        strokes, size, pen = draw_number(chosen, rng, how)
        yield "".join(str(s.label) for s in chosen), strokes, size, pen, writer


def run_numbers(rec: Recognizer, samples: list[Sample], count: int, seed: int, how: str = "spaced") -> list[dict]:
    """Numbers (`write_numbers`) read from the canvas image (dark on light) and from their strokes."""
    rows = []
    for truth, strokes, size, pen, writer in write_numbers(samples, count, seed, how):
        row = dict(truth=truth, length=len(truth), writer=writer)
        for key, number in (
            ("pixel", rec.predict_number(render_strokes(strokes, size, pen))),
            ("stroke", rec.predict_number_strokes(strokes, size, pen)),
        ):
            row[key], row[f"{key}_count"] = number.text, len(number.digits)
        rows.append(row)
    return rows


def figures(rows: dict[str, list[dict]]) -> dict[str, Interval]:
    """Every headline figure, with its interval by bootstrap over writers."""
    out = {}

    def add(name: str, table: str, values) -> None:
        subset = rows.get(table) or []
        if subset:
            out[name] = writer_interval(np.array([values(r) for r in subset], float), [r["writer"] for r in subset])

    for key in ("pixel", "stroke"):
        add(f"digits_{key}", "digits", lambda r, k=key: r[k] == r["label"])
        add(f"not_sure_{key}", "digits", lambda r, k=key: not r[f"{k}_sure"])
        add(f"sure_wrong_{key}", "digits", lambda r, k=key: r[f"{k}_sure"] and r[k] != r["label"])
        add(f"thin_{key}", "thin", lambda r, k=key: r[k] == r["label"])
        for table in ("spaced", "touching", "hard"):
            add(f"{table}_{key}", table, lambda r, k=key: r[k] == r["truth"])
    for look in LOOKS[1:]:
        add(f"digits_{look}", "digits", lambda r, k=look: r[k] == r["label"])
    for name in ("resize", "resize+invert"):
        add(f"digits_{name}", "digits", lambda r, k=name: r[k] == r["label"])
    add("pad", "pad", lambda r: r["pad"] == r["label"])
    add("not_sure_pad", "pad", lambda r: not r["pad_sure"])
    return out


def report(found: dict[str, Interval], rows: dict[str, list[dict]], seen: bool) -> None:
    label = " (SEEN: writers the model learnt from or was tuned on)" if seen else ""
    print(f"\nFIGURES{label}: value [95% interval over writers] (writers, items)")
    for name, interval in found.items():
        print(f"  {name:<24} {interval}")
    digits = rows["digits"]
    print("\n  per site        pixels  strokes  writers  digits")
    for inst in sorted({r["inst"] for r in digits}):
        subset = [r for r in digits if r["inst"] == inst]
        pixel = np.mean([r["pixel"] == r["label"] for r in subset])
        stroke = np.mean([r["stroke"] == r["label"] for r in subset])
        print(f"  {inst:<14}{pixel:>8.2%}{stroke:>9.2%}{len({r['writer'] for r in subset}):>9}{len(subset):>8}")
    for key in ("pixel", "stroke"):
        confusions = Counter((r["label"], r[key]) for r in digits if r[key] != r["label"])
        common = ", ".join(f"{t}->{p}: {n}" for (t, p), n in confusions.most_common(10))
        print(f"  most common confusions ({key}, true->read): {common}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, nargs="?", default=None, help="pen trajectories (.json.gz), any file")
    parser.add_argument("--group", choices=GROUPS, default="report", help="which shipped writers (default: report)")
    parser.add_argument("--seen", action="store_true", help="measure writers the model's card lists, labelled seen")
    parser.add_argument("--model", type=Path, default=None, help="a .keras model (default: the shipped one)")
    parser.add_argument("--limit", type=int, default=None, help="use this many digits (a seeded random subset)")
    parser.add_argument("--numbers", type=int, default=1000, help="numbers of each kind: spaced, touching (1000)")
    parser.add_argument("--hard", type=int, default=300, help="hard-touching numbers (default 300)")
    parser.add_argument("--pad", type=int, default=500, help="digits replayed through the pad (default 500)")
    parser.add_argument("--no-thin", action="store_true", help="skip the thin-pen set (it draws big canvases)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    if args.path is not None and not args.path.is_file():
        parser.error(f"{args.path} is not a file")
    samples = load_samples(args.path, args.group)
    rec = Recognizer.load(args.model)
    seen = check_protocol(rec, samples, args.seen)
    print(f"model: {rec!r}")
    source = args.path or f"the shipped pen digits, {args.group} writers"
    print(f"data: {source} ({len(samples)} digits, {len({s.writer for s in samples})} writers), seed {args.seed}")
    digits = samples
    if args.limit is not None and args.limit < len(samples):
        chosen = np.random.default_rng(args.seed).choice(len(samples), args.limit, replace=False)
        digits = [samples[i] for i in sorted(chosen)]

    start = time.perf_counter()
    rows = {"digits": run_digits(rec, digits, args.seed)}
    rows["thin"] = [] if args.no_thin else run_thin(rec, digits, args.seed)
    rows["pad"] = run_pad(rec, digits, args.pad, args.seed) if args.pad > 0 else []
    for how, count in (("spaced", args.numbers), ("touching", args.numbers), ("hard", args.hard)):
        rows[how] = run_numbers(rec, samples, count, args.seed, how) if count > 0 else []
    found = figures(rows)
    report(found, rows, seen)
    print(f"\n({time.perf_counter() - start:.0f} s)")
    if args.json is not None:
        record = {
            "model": rec.name,
            "data": str(source),
            "seen": seen,
            "seed": args.seed,
            "figures": {name: interval.to_dict() for name, interval in found.items()},
        }
        write_atomic(args.json, (json.dumps(record, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
