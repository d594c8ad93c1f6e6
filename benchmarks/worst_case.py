"""The worst drawing for number reading: a seeded search for the drawing that costs the most to read.

Reading a number must cost at most a small multiple of reading its digits, whatever is drawn. This script
searches for counter-examples: it draws many generated drawings of the kinds that used to blow up (straight lines,
long waves, zigzags, spirals, scribbles of thousands of points, hundreds of short strokes, dots), reads each one in
number mode from its strokes (what the pad does) and from its canvas image, and measures the seconds and the number
of candidate digits the model had to read. Then it refines the worst it found (stretching it, adding strokes,
thinning the pen) for a few rounds, keeping whatever costs more. The costs are compared with reading a plainly
written 5-digit number.

    python benchmarks/worst_case.py                 # 200 drawings, 3 rounds of refinement
    python benchmarks/worst_case.py --drawings 50 --rounds 1 --json worst.json

First it reads the inputs that once hung (an 8000-px pen, strokes of up to a million points, 500 strokes of
hatching) and prints each one's cost as a multiple of a plainly written 4-digit number's, read in the same run.
Each time against that number is the least of a few runs, for the number and for the drawing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitlib.drawing import MAX_STROKES
from digitlib.examples import example_strokes
from digitlib.files import write_atomic
from digitlib.reading import NumberTooLong
from digitlib.recognizer import Readout, Recognizer
from digitlib.render import render_strokes


@dataclass
class Drawing:
    kind: str
    strokes: list[np.ndarray]
    canvas: tuple[int, int]
    pen: float


def generate(rng: np.random.Generator) -> Drawing:
    """One drawing of a kind that makes number reading work hard."""
    kind = str(rng.choice(["line", "wave", "zigzag", "spiral", "scribble", "dashes", "dots", "hatching"]))
    width = int(rng.integers(280, 3000))
    height = int(rng.integers(200, 600))
    pen = float(rng.choice([1.0, 2.0, 6.0, 20.0, 40.0]))
    xs = np.linspace(10, width - 10, int(rng.integers(2, 4000)))
    middle = height / 2
    if kind == "line":
        strokes = [np.array([[10.0, middle], [width - 10.0, middle + rng.uniform(-50, 50)]])]
    elif kind == "wave":
        strokes = [np.stack([xs, middle + rng.uniform(10, height / 3) * np.sin(xs / rng.uniform(5, 80))], 1)]
    elif kind == "zigzag":
        ys = np.where(np.arange(len(xs)) % 2 == 0, middle - height / 3, middle + height / 3)
        strokes = [np.stack([xs, ys], 1)]
    elif kind == "spiral":
        t = np.linspace(0, rng.uniform(10, 60) * np.pi, 3000)
        strokes = [np.stack([width / 2 + t * np.cos(t) * width / 400, middle + t * np.sin(t) * height / 400], 1)]
    elif kind == "scribble":
        count = int(rng.integers(1, 6))
        strokes = [
            np.clip(np.cumsum(rng.normal(0, 15, (int(rng.integers(500, 3000)), 2)), 0) + [width / 2, middle], 0, None)
            for _ in range(count)
        ]
    elif kind == "dashes":
        starts = np.linspace(10, width - 30, int(rng.integers(20, 400)))
        strokes = [np.array([[x, middle + rng.uniform(-40, 40)], [x + rng.uniform(2, 20), middle]]) for x in starts]
    elif kind == "dots":
        strokes = [rng.uniform([0, 0], [width, height], (1, 2)) for _ in range(int(rng.integers(50, MAX_STROKES + 1)))]
    else:
        lines = int(rng.integers(20, 200))
        strokes = [np.array([[x, 10.0], [x + 40, height - 10.0]]) for x in np.linspace(10, width - 50, lines)]
    return Drawing(kind, strokes, (width, height), pen)


def mutate(drawing: Drawing, rng: np.random.Generator) -> Drawing:
    """A variation of a drawing that might cost more: wider, more strokes, a thinner pen, or denser."""
    strokes, (width, height), pen = list(drawing.strokes), drawing.canvas, drawing.pen
    change = rng.integers(4)
    if change == 0 and width < 4000:
        factor = rng.uniform(1.2, 2.0)
        width = int(min(4000, width * factor))
        strokes = [s * [factor, 1.0] for s in strokes]
    elif change == 1:
        more = strokes[: min(max(1, len(strokes) // 2), MAX_STROKES - len(strokes))]  # more are refused, not read
        strokes += [s + [rng.uniform(-50, 50), rng.uniform(-30, 30)] for s in more]
    elif change == 2:
        pen = max(1.0, pen / 2)
    else:
        strokes = [np.repeat(s, 2, axis=0) + rng.normal(0, 2, (2 * len(s), 2)) for s in strokes]
    return Drawing(drawing.kind + "+", strokes, (width, height), pen)


def known_cases() -> list[Drawing]:
    """Inputs that once hung or blew up, each read in the same run as the plain 4-digit number."""
    wave = [lambda n: np.stack([np.linspace(10, 690, n), 140 + 100 * np.sin(np.linspace(0, 60, n))], 1)]
    t = np.linspace(0, 2 * np.pi, 1_000_000)
    hatching = [np.array([[x, 10.0], [x + 40, 270.0]]) for x in np.linspace(10, 650, 500)]
    return [
        Drawing("7, 8000-px pen on 8000 px", [np.asarray(s) for s in example_strokes("7", 8000)], (8000, 8000), 8000.0),
        *(Drawing(f"wave of {n:,} points", [wave[0](n)], (700, 280), 20.0) for n in (10_000, 100_000, 1_000_000)),
        Drawing(
            "circle of 1,000,000 points", [np.stack([140 + 90 * np.cos(t), 140 + 90 * np.sin(t)], 1)], (280, 280), 20.0
        ),
        Drawing("hatching, 500 strokes", hatching, (700, 280), 6.0),
    ]


def side_by_side(rec: Recognizer, counting: Counting, drawing: Drawing, reference: Drawing, name: str) -> tuple:
    """The drawing's and the reference's seconds for the ``name`` reading, each the least of 3 runs taken in turn:
    this machine's speed drifts over minutes, so a ratio is only fair between timings taken together."""
    runs = [(cost(rec, counting, drawing), cost(rec, counting, reference)) for _ in range(3)]
    return min(r[0][f"{name}_seconds"] for r in runs), min(r[1][f"{name}_seconds"] for r in runs)


def known_case_table(rec: Recognizer, counting: Counting) -> tuple[Drawing, list[dict]]:
    """The plain 4-digit number's cost (the least of 5 runs), and each known case's as a multiple of it, from
    strokes and from pixels."""
    canvas = (560, 280)
    plain = Drawing("plain 4-digit number", [np.asarray(s) for s in example_strokes("2025", canvas)], canvas, 20.0)
    cost(rec, counting, plain)  # warm up

    def fastest(drawing: Drawing, runs: int) -> dict:  # the least of a few runs: the machine's noise only adds
        found = [cost(rec, counting, drawing) for _ in range(runs)]
        return {key: min(f[key] for f in found) if key.endswith("_seconds") else found[0][key] for key in found[0]}

    reference = fastest(plain, 5)
    rows = []
    print(
        f"\nknown cases, as multiples of {plain.kind} ({reference['strokes_seconds'] * 1000:.0f} ms from strokes, "
        f"{reference['pixels_seconds'] * 1000:.0f} ms from pixels):"
    )
    for case in known_cases():
        found = fastest(case, 3)
        row = {
            "case": case.kind,
            "strokes_ratio": found["strokes_seconds"] / reference["strokes_seconds"],
            "pixels_ratio": found["pixels_seconds"] / reference["pixels_seconds"],
            "strokes_text": found["strokes_text"],
            "pixels_text": found["pixels_text"],
        }
        rows.append(row)
        print(
            f"  {case.kind:<28} strokes {row['strokes_ratio']:5.1f}x ({found['strokes_text'] or 'nothing'!r}) | "
            f"pixels {row['pixels_ratio']:5.1f}x ({found['pixels_text'] or 'nothing'!r})"
        )
    return plain, rows


class Counting:
    """Wraps the recogniser's `Recognizer.readout` to count the candidates each reading sends to the model."""

    def __init__(self, recognizer: Recognizer) -> None:
        self.images = 0
        self.inner: Callable = recognizer.readout
        recognizer.readout = self  # every reading goes through rec.readout: route it through the count

    def __call__(self, images: np.ndarray, strokes=None) -> Readout:
        self.images += len(images)
        return self.inner(images, strokes)


def cost(rec: Recognizer, counting: Counting, drawing: Drawing) -> dict:
    """Seconds and model inputs to read the drawing in number mode, from strokes and from pixels."""
    result = {"kind": drawing.kind, "canvas": list(drawing.canvas), "pen": drawing.pen}
    result["points"] = int(sum(len(s) for s in drawing.strokes))
    result["strokes"] = len(drawing.strokes)
    image = render_strokes(drawing.strokes, drawing.canvas, drawing.pen, supersample=1)  # drawn before the clock
    for name, read in (
        ("strokes", lambda: rec.predict_number_strokes(drawing.strokes, drawing.canvas, drawing.pen)),
        ("pixels", lambda: rec.predict_number(image)),
    ):
        counting.images = 0
        start = time.perf_counter()
        try:
            text = read().text[:40]
        except NumberTooLong:  # a documented refusal, timed like any reading
            text = "(refused: too many marks)"
        result[f"{name}_seconds"] = time.perf_counter() - start
        result[f"{name}_inputs"] = counting.images
        result[f"{name}_text"] = text
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drawings", type=int, default=200, help="random drawings to try (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of refining the worst (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    rec = Recognizer.load()
    counting = Counting(rec)
    rng = np.random.default_rng(args.seed)
    canvas = (700, 280)
    plain = Drawing("plain 5-digit number", [np.asarray(s) for s in example_strokes("20259", canvas)], canvas, 20.0)
    cost(rec, counting, plain)  # warm up
    reference = cost(rec, counting, plain)
    print(
        f"reference: {plain.kind}: strokes {reference['strokes_seconds'] * 1000:.0f} ms, "
        f"{reference['strokes_inputs']} model inputs; pixels {reference['pixels_seconds'] * 1000:.0f} ms, "
        f"{reference['pixels_inputs']} model inputs"
    )

    four, known = known_case_table(rec, counting)
    tried = [(generate(rng), None) for _ in range(args.drawings)]
    results = []
    for drawing, _ in tried:
        results.append((drawing, cost(rec, counting, drawing)))
    for _ in range(args.rounds):
        worst = sorted(results, key=lambda r: -(r[1]["strokes_seconds"] + r[1]["pixels_seconds"]))[:5]
        for drawing, _ in worst:
            child = mutate(drawing, rng)
            results.append((child, cost(rec, counting, child)))

    def row(r: dict) -> str:
        return (
            f"  {r['kind']:<12} canvas {r['canvas'][0]}x{r['canvas'][1]:<5} pen {r['pen']:>4g}  "
            f"{r['strokes']:>4} strokes {r['points']:>6} points | "
            f"strokes {r['strokes_seconds'] * 1000:7.0f} ms {r['strokes_inputs']:>4} inputs | "
            f"pixels {r['pixels_seconds'] * 1000:7.0f} ms {r['pixels_inputs']:>4} inputs"
        )

    print(f"\n{len(results)} drawings read ({args.drawings} random, {args.rounds} rounds of refining the worst)")
    by_time = sorted(results, key=lambda r: -(r[1]["strokes_seconds"] + r[1]["pixels_seconds"]))
    print("\nthe five slowest:")
    for _, r in by_time[:5]:
        print(row(r))
    by_inputs = sorted(results, key=lambda r: -max(r[1]["strokes_inputs"], r[1]["pixels_inputs"]))
    print("\nthe five with the most model inputs:")
    for _, r in by_inputs[:5]:
        print(row(r))
    if not results:
        return 0
    worst = by_time[0][1]
    reference_seconds = reference["strokes_seconds"] + reference["pixels_seconds"]
    worst_seconds = worst["strokes_seconds"] + worst["pixels_seconds"]
    most_inputs = max(max(r["strokes_inputs"], r["pixels_inputs"]) for _, r in results)
    print(
        f"\nworst found: {worst_seconds:.2f} s for both readings, {worst_seconds / reference_seconds:.1f}x the plain "
        f"5-digit number; most model inputs for one reading: {most_inputs} "
        f"({most_inputs / max(reference['strokes_inputs'], reference['pixels_inputs']):.1f}x)"
    )
    # The measure: each reading against the plain 4-digit number's reading of the same kind. The slowest few are
    # timed again side by side with it, the least of 3 runs each: one run's noise only adds.
    per_reading = {}
    for name in ("strokes", "pixels"):
        slowest_few = sorted(results, key=lambda r: -r[1][f"{name}_seconds"])[:5]
        timed = []
        for drawing, found in slowest_few:
            seconds, reference_seconds = side_by_side(rec, counting, drawing, four, name)
            timed.append((seconds / reference_seconds, seconds, reference_seconds, found))
        ratio, seconds, reference_seconds, slowest = max(timed, key=lambda t: t[0])
        per_reading[name] = ratio
        print(
            f"slowest from {name}: {slowest['kind']} on {slowest['canvas'][0]}x{slowest['canvas'][1]}, "
            f"{slowest[f'{name}_inputs']} candidates, {seconds * 1000:.0f} ms against "
            f"{reference_seconds * 1000:.0f} ms: {ratio:.1f}x the plain 4-digit number"
        )
    if args.json:
        figures = {
            "reference": reference,
            "worst_by_time": worst,
            "worst_by_inputs": by_inputs[0][1],
            "worst_seconds_ratio": worst_seconds / reference_seconds,
            "slowest_ratio_to_4_digits": per_reading,
            "drawings": len(results),
            "known_cases": known,
        }
        write_atomic(args.json, (json.dumps(figures, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
