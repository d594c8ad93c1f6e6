"""A user teaching the pad: how many readings need a correction, with the base recogniser and with `remember`?

Each writer (by default the shipped report writers; ``--group tune --seen`` is where the memory's constants were
chosen) draws all their digits in a shuffled order, each drawn the pad's way (`drawn_digits.draw_digit`: a random
size, place and pen on the 280-px pad). Each drawing is read, then saved with its true label, as "right" or a digit
button saves it; the memory (`digitlib.memory.remember`) uses it from the next reading on. A reading needs a
correction when it is wrong or "not sure". A second memory is given only the drawings it needed a correction on (a
user who saves only corrections). Also timed: a reading and an add, with no drawings remembered and with
10,000 (the train writers' digits drawn again), against the base recogniser's reading.

    python benchmarks/personalise.py --stream                 # the report writers: the README's figures
    python benchmarks/personalise.py --stream --group tune --seen
    python benchmarks/stream.py --limit 5                     # the first 5 writers only
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from drawn_digits import CANVAS, check_protocol, draw_digit, load_samples  # noqa: E402

from digitlib.drawing import Drawing  # noqa: E402
from digitlib.drawings_store import SavedDrawing  # noqa: E402
from digitlib.evaluation import writer_interval  # noqa: E402
from digitlib.memory import remember  # noqa: E402
from digitlib.pen_digits import load_pen_digits  # noqa: E402
from digitlib.recognizer import Recognizer  # noqa: E402

TIMING_DRAWINGS = 10_000


def stream(rec: Recognizer, samples: list, seed: int) -> dict:
    """One writer teaching the pad (see the module docstring): per drawing, whether the base and the memory needed
    a correction, and whether each was sure but wrong."""
    rng = np.random.default_rng(seed)
    readers = {"base": rec, "memory": remember(rec, []), "corrections": remember(rec, [])}
    rows = {key: [] for name in readers for key in (name, f"{name}_sure_wrong")}
    for index in rng.permutation(len(samples)):
        sample = samples[index]
        strokes, pen = draw_digit(sample, rng)
        drawing = Drawing(strokes, CANVAS, pen)
        for name, reader in readers.items():
            read = reader.predict_strokes(drawing)
            rows[name].append(read.digit != sample.label or not read.is_confident)
            rows[f"{name}_sure_wrong"].append(read.digit != sample.label and read.is_confident)
        saved = [SavedDrawing(drawing, sample.label, "")]
        readers["memory"].remember(saved)  # every drawing saved, as "right" or a digit button saves it
        if rows["corrections"][-1]:  # only the drawings it had to be corrected on
            readers["corrections"].remember(saved)
    return rows


def timing(rec: Recognizer, seed: int = 0) -> dict[str, float]:
    """Median ms of a reading (base, memory of none, memory of `TIMING_DRAWINGS`) and of an add to that memory."""
    rng = np.random.default_rng(seed)
    pool = load_pen_digits("train")
    drawings = []
    for i in rng.integers(0, len(pool), TIMING_DRAWINGS + 200):
        strokes, pen = draw_digit(pool[i], rng)
        drawings.append(SavedDrawing(Drawing(strokes, CANVAS, pen), pool[i].label, ""))
    probes, stored = [d.drawing for d in drawings[:200]], drawings[200:]

    def median_ms(action, items) -> float:
        times = []
        for item in items:
            start = time.perf_counter()
            action(item)
            times.append(1000 * (time.perf_counter() - start))
        return float(np.median(times))

    found = {"base read": median_ms(rec.predict_strokes, probes)}
    empty = remember(rec, [])
    found["memory read, 0 drawings"] = median_ms(empty.predict_strokes, probes)
    start = time.perf_counter()
    full = remember(rec, stored)
    found[f"remember {TIMING_DRAWINGS:,} drawings (s)"] = time.perf_counter() - start
    found[f"memory read, {TIMING_DRAWINGS:,} drawings"] = median_ms(full.predict_strokes, probes)
    found[f"add, {TIMING_DRAWINGS:,} drawings"] = median_ms(lambda d: full.remember([d]), drawings[:200])
    return found


def run(rec: Recognizer, samples: list, seed: int, limit: int | None, seen: bool, times: bool = True) -> int:
    """Stream every writer, print the totals with intervals by bootstrap over writers, and the timings."""
    by_writer: dict[str, list] = {}
    for sample in samples:
        by_writer.setdefault(sample.writer, []).append(sample)
    names = sorted(by_writer)[:limit]
    label = " (SEEN: these writers were tuned on)" if seen else ""
    print(f"{len(names)} writers, {sum(len(by_writer[n]) for n in names):,} digits{label}")
    values: dict[str, list] = {}
    writers: list[str] = []
    for number, name in enumerate(names):
        rows = stream(rec, by_writer[name], seed + number)
        for key, flags in rows.items():
            values.setdefault(key, []).extend(flags)
        writers += [name] * len(rows["base"])
        print(
            f"  {name}: {sum(rows['base'])} -> {sum(rows['memory'])} (all saved), {sum(rows['corrections'])} "
            f"(corrections saved) corrections of {len(rows['base'])}"
        )
    for key in values:
        what = "needed a correction" if "sure" not in key else "sure but wrong"
        print(f"{key.split('_')[0]:>12} {what:>20}: {writer_interval(np.array(values[key]), writers)}")
    base = sum(values["base"])
    for name, saving in (("memory", "every drawing saved"), ("corrections", "only corrections saved")):
        ours = sum(values[name])
        print(f"corrections, {saving}: {base} -> {ours} ({(ours - base) / max(base, 1):+.0%})")
    if times:
        for name, value in timing(rec, seed).items():
            print(f"{name:>36}: {value:.2f}" + ("" if name.endswith("(s)") else " ms"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, help="a pen-digit file (default: the shipped writers)")
    parser.add_argument("--group", choices=["tune", "report"], default="report")
    parser.add_argument("--model", type=Path, default=None, help="the recogniser (default: the shipped one)")
    parser.add_argument("--seen", action="store_true", help="measure on writers the model's card lists, labelled")
    parser.add_argument("--limit", type=int, default=None, help="the first N writers only")
    parser.add_argument("--no-timing", action="store_true", help="skip the timings")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rec = Recognizer.load(args.model)
    samples = load_samples(args.path, args.group)
    seen = check_protocol(rec, samples, args.seen)
    return run(rec, samples, args.seed, args.limit, seen, times=not args.no_timing)


if __name__ == "__main__":
    sys.exit(main())
