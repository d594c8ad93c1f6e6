"""Does teaching the recogniser your handwriting work? Errors on a writer's drawings before and after `personalise`.

For each writer with at least ``--min-digits`` digits (by default the shipped report writers, whom no model learnt
from; or every writer of a pen-digit file given as PATH), each digit is drawn the way the pad
would draw it: the writer's strokes at a random size and place on a 280-px canvas with a random pen
(`digitlib.pen_augment.place_on_canvas`, seeded). The writer's first ``--teach`` drawings of each digit (in file order)
teach: they are added to a temporary `PersonalDrawings` file and the model is personalised on them. The rest
test: each is drawn ``--draws`` times (other sizes, places, pens) and read with ``Recognizer.predict_strokes``
(what the pad does) before and after. For each writer it prints the errors before and after and the reduction,
the share shown as "not sure" (``unsure``, before > after), the mean negative log-likelihood of the true digit
(``nll``, before > after), the wall-clock and CPU seconds `personalise` took (CPU seconds are what a busy machine
cannot inflate), and the personal model's accuracy on the 10,000 MNIST test images; then the totals, and the
same for the hardest writers (those with the most errors before).

``--baseline`` also runs a plain fine-tune on the same drawings (each drawn 20 times with the pad's jitter, 3× as
many MNIST training images replayed, 4 epochs of Adam at 3e-4, batch 32, nothing frozen, the base calibration
kept), so the product is compared with it measured, not quoted. The replay pool `personalise` draws once per
process (or loads from the data folder) is made before the clock starts; its time is printed on its own.

    python benchmarks/personalise.py                          # the shipped report writers
    python benchmarks/personalise.py --baseline --json personalise.json
    python benchmarks/personalise.py PATH --min-digits 40     # the writers of another pen-digit file
    python benchmarks/personalise.py --set epochs=6 --set renders=30   # try other FineTuning settings
    python benchmarks/personalise.py --stream                 # a user teaching the pad (benchmarks/stream.py)
    python benchmarks/personalise.py --bounded                # its time on 30, 300 and 10,000 drawings
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np

from digitlib import data
from digitlib.drawings_store import PersonalDrawings
from digitlib.evaluation import evaluate_accuracy
from digitlib.files import write_atomic
from digitlib.pen_augment import draw_like_the_pad, place_on_canvas, transform_strokes
from digitlib.pen_digits import PenDigit, PenDigitsError, load_pen_digits
from digitlib.personal import FineTuning, personalise
from digitlib.recognizer import Recognizer
from digitlib.replay import replay_pool

CANVAS = 280
#: The plain fine-tune the issue measured, for comparison.
BASELINE = {"renders": 20, "mnist_replay": 3.0, "epochs": 4, "learning_rate": 3e-4, "batch_size": 32}


Drawn = tuple[int, list[np.ndarray], float]  # (label, strokes placed on the canvas, pen width)


def by_writer(samples: list[PenDigit]) -> dict[str, list[PenDigit]]:
    """Each writer's digits, in file order."""
    grouped: dict[str, list[PenDigit]] = defaultdict(list)
    for sample in samples:
        grouped[sample.writer].append(sample)
    return dict(sorted(grouped.items()))


def split_teach_test(samples: list[PenDigit], teach: int) -> tuple[list[PenDigit], list[PenDigit]]:
    """The first ``teach`` digits of each kind, and the rest."""
    seen: dict[int, int] = defaultdict(int)
    taught, tested = [], []
    for sample in samples:
        (taught if seen[sample.label] < teach else tested).append(sample)
        seen[sample.label] += 1
    return taught, tested


def draw(samples: list[PenDigit], rng: np.random.Generator, times: int = 1) -> list[Drawn]:
    """Each sample drawn ``times`` as a person would on the pad: a random size, place and pen on the canvas."""
    drawings = []
    for sample in samples:
        for _ in range(times):
            strokes, pen = place_on_canvas(sample.strokes, rng, canvas=CANVAS)
            drawings.append((sample.label, strokes, pen))
    return drawings


def reading(rec: Recognizer, tested: list[Drawn]) -> dict[str, float]:
    """How ``rec`` reads the test drawings: errors (nothing read counts as wrong), shown as "not sure", read wrong
    yet shown as sure, and the mean negative log-likelihood of the true digit (lower: surer of the right one)."""
    predictions = [(rec.predict_strokes(strokes, CANVAS, pen), label) for label, strokes, pen in tested]
    return {
        "errors": sum(p.digit != label for p, label in predictions),
        "not_sure": sum(not p.is_confident for p, _ in predictions),
        "sure_wrong": sum(p.is_confident and p.digit != label for p, label in predictions),
        "nll": float(np.mean([-np.log(max(float(p.probabilities[label]), 1e-6)) for p, label in predictions])),
    }


def plain_fine_tune(rec: Recognizer, drawings: PersonalDrawings, seed: int) -> Recognizer:
    """The issue's plain fine-tune: jittered renders, MNIST replayed, constant Adam; the base calibration kept."""
    from digitlib._tf import keras
    from digitlib.training_data import make_dataset

    rng = np.random.default_rng(seed)
    own_x, own_y = [], []
    for saved in drawings:
        for _ in range(BASELINE["renders"]):
            image = draw_like_the_pad(transform_strokes(saved.drawing.on_canvas.strokes, rng, bend=True), rng)
            if image is not None:
                own_x.append(image)
                own_y.append(saved.label)
    pool = replay_pool(card=rec.card)
    count = round(BASELINE["mnist_replay"] * len(own_x))
    index = rng.choice(len(pool.mnist_images), count, replace=False)
    x = np.concatenate([np.array(own_x, np.uint8), pool.mnist_images[index]])
    y = np.concatenate([np.array(own_y, np.int64), pool.mnist_labels[index]])
    keras.utils.set_random_seed(seed)
    model = keras.models.clone_model(rec.model)
    model.set_weights(rec.model.get_weights())
    model.compile(optimizer=keras.optimizers.Adam(BASELINE["learning_rate"]), loss="sparse_categorical_crossentropy")
    dataset = make_dataset(x, y, BASELINE["batch_size"], shuffle=True, seed=seed)
    model.fit(dataset, epochs=BASELINE["epochs"], verbose=0, shuffle=False)
    return Recognizer(model, name="plain fine-tune", calibration=rec.calibration)


def parse_settings(pairs: list[str]) -> FineTuning:
    """``FineTuning`` with ``name=value`` overrides (``--set epochs=6``)."""
    fields = {f.name: f for f in dataclasses.fields(FineTuning)}
    values = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        if name not in fields or not text:
            raise SystemExit(f"--set takes NAME=VALUE with NAME one of {sorted(fields)}; got {pair!r}")
        default = getattr(FineTuning(), name)
        values[name] = text.lower() in ("1", "true", "yes") if isinstance(default, bool) else type(default)(text)
    return FineTuning(**values)


def summary(rows: list[dict], key: str) -> dict:
    """Totals over writers of one way of reading (``after`` or ``plain``) against ``before``."""
    before = sum(r["before"]["errors"] for r in rows)
    after = sum(r[key]["errors"] for r in rows)
    tested = sum(r["test_drawings"] for r in rows)
    return {
        "writers": len(rows),
        "test_drawings": tested,
        "errors_before": before,
        "errors_after": after,
        "reduction": (before - after) / before if before else None,
        "not_sure_before": sum(r["before"]["not_sure"] for r in rows) / tested,
        "not_sure_after": sum(r[key]["not_sure"] for r in rows) / tested,
        "sure_wrong_before": sum(r["before"]["sure_wrong"] for r in rows) / tested,
        "sure_wrong_after": sum(r[key]["sure_wrong"] for r in rows) / tested,
        "nll_before": float(np.average([r["before"]["nll"] for r in rows], weights=[r["test_drawings"] for r in rows])),
        "nll_after": float(np.average([r[key]["nll"] for r in rows], weights=[r["test_drawings"] for r in rows])),
        "mean_seconds": float(np.mean([r[key]["seconds"] for r in rows])),
        "max_seconds": float(np.max([r[key]["seconds"] for r in rows])),
        "mean_cpu_seconds": float(np.mean([r[key]["cpu_seconds"] for r in rows])),
        "mean_mnist": float(np.mean([r[key]["mnist"] for r in rows])),
        "min_mnist": float(np.min([r[key]["mnist"] for r in rows])),
    }


def print_summary(title: str, total: dict) -> None:
    reduction = "n/a" if total["reduction"] is None else f"{total['reduction']:.0%}"
    print(
        f"{title:<30}{total['test_drawings']:>7}{total['errors_before']:>7}{total['errors_after']:>6}{reduction:>6}"
        f"{total['not_sure_before']:>7.1%}{total['not_sure_after']:>6.1%}{total['nll_before']:>7.3f}"
        f"{total['nll_after']:>6.3f}{total['mean_seconds']:>6.1f}{total['mean_cpu_seconds']:>6.1f}"
        f"{total['mean_mnist']:>8.2%}  (max {total['max_seconds']:.1f} s; min MNIST {total['min_mnist']:.2%}; sure "
        f"but wrong {total['sure_wrong_before']:.2%} -> {total['sure_wrong_after']:.2%})"
    )


def timed(make, x_test: np.ndarray, y_test: np.ndarray, tested: list[Drawn]) -> tuple[Recognizer, dict]:
    """Make a personal recogniser, timing it (wall and CPU), and how it reads the test drawings and MNIST."""
    start, cpu = time.perf_counter(), time.process_time()
    made = make()
    result = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
    result.update(reading(made, tested))
    result["mnist"] = evaluate_accuracy(made.model, x_test, y_test)
    return made, result


COLUMNS = f"{'tested':>7}{'before':>7}{'after':>6}{'cut':>6}{'unsure':>7}{'>':>6}{'nll':>7}{'>':>6}{'s':>6}{'cpu':>6}"


def print_row(row: dict, baseline: bool) -> None:
    before, after = row["before"], row["after"]
    cut = f"{(before['errors'] - after['errors']) / before['errors']:.0%}" if before["errors"] else "-"
    n = row["test_drawings"]
    line = (
        f"{row['writer']:<30}{n:>7}{before['errors']:>7}{after['errors']:>6}{cut:>6}{before['not_sure'] / n:>7.1%}"
        f"{after['not_sure'] / n:>6.1%}{before['nll']:>7.3f}{after['nll']:>6.3f}{after['seconds']:>6.1f}"
        f"{after['cpu_seconds']:>6.1f}{after['mnist']:>8.2%}"
    )
    if baseline:
        plain = row["plain"]
        plain_cut = f"{(before['errors'] - plain['errors']) / before['errors']:.0%}" if before["errors"] else "-"
        line += (
            f"   | {plain['errors']:>11}{plain_cut:>5}{plain['seconds']:>6.1f}{plain['cpu_seconds']:>6.1f}"
            f"{plain['mnist']:>8.2%}"
        )
    print(line, flush=True)


def bounded_cost(seed: int = 0, sizes: tuple[int, ...] = (30, 300, 10_000)) -> dict[int, float]:
    """Seconds `personalise` takes on 30, 300 and 10,000 saved drawings (the train writers' digits drawn the pad's
    way): it learns from at most `personal.MAX_DRAWINGS`, so the time should stay flat."""
    from digitlib.drawing import Drawing
    from digitlib.drawings_store import SavedDrawing

    rec = Recognizer.load()
    pool = load_pen_digits("train")
    rng = np.random.default_rng(seed)
    saved = []
    for index in rng.integers(0, len(pool), max(sizes)):
        strokes, pen = place_on_canvas(pool[index].strokes, rng)
        saved.append(SavedDrawing(Drawing(strokes, CANVAS, pen), pool[index].label, ""))
    personalise(rec, saved[:30], seed=seed)  # warm up: the replay pool, the compiled steps
    seconds = {}
    for size in sizes:
        start = time.perf_counter()
        personalise(rec, saved[-size:], seed=seed)
        seconds[size] = time.perf_counter() - start
        print(f"personalise on {size:>6,} drawings: {seconds[size]:5.1f} s ({seconds[size] / seconds[sizes[0]]:.2f}x)")
    return seconds


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--bounded" in argv:  # does the time stay flat as the drawings grow?
        bounded_cost()
        return 0
    if "--stream" in argv:  # a user teaching the pad, read through the memory: benchmarks/stream.py
        import stream

        return stream.main([a for a in argv if a != "--stream"])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, help="a pen-digit file (default: the shipped report writers)")
    parser.add_argument("--group", choices=["tune", "report"], default="report", help="which shipped writers")
    parser.add_argument("--model", type=Path, default=None, help="the base model (default: the shipped one)")
    parser.add_argument("--min-digits", type=int, default=60, help="writers with at least this many digits")
    parser.add_argument("--teach", type=int, default=3, help="drawings of each digit that teach (default 3)")
    parser.add_argument("--draws", type=int, default=4, help="times each test digit is drawn (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", action="store_true", help="also run the plain fine-tune")
    parser.add_argument("--hardest", type=int, default=3, help="also total the N writers with most errors before")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a FineTuning setting")
    parser.add_argument("--json", type=Path, default=None, help="write the results here as JSON")
    args = parser.parse_args(argv)
    settings = parse_settings(args.set)

    try:
        samples = load_pen_digits(args.group) if args.path is None else load_pen_digits("all", args.path)
    except PenDigitsError as err:
        raise SystemExit(f"not a pen-digit file: {err}") from err
    chosen = {w: d for w, d in by_writer(samples).items() if len(d) >= args.min_digits}
    if not chosen:
        raise SystemExit(f"no writer has {args.min_digits} digits or more; lower --min-digits")
    rec = Recognizer.load(args.model)
    (_, _), (x_test, y_test) = data.load_mnist(progress=lambda _m: None)
    mnist_before = evaluate_accuracy(rec.model, x_test, y_test)
    start = time.perf_counter()
    replay_pool(card=rec.card)
    pool_seconds = time.perf_counter() - start
    print(f"base model {rec.name}: MNIST test {mnist_before:.2%}; replay pool ready in {pool_seconds:.1f} s")
    print(f"settings: {dataclasses.asdict(settings)}")
    print(
        f"{len(chosen)} writers with >= {args.min_digits} digits; {args.teach} of each digit teach, the rest test "
        f"(each drawn {args.draws} times)\n"
    )

    print(
        f"{'writer':<30}{COLUMNS}{'MNIST':>8}" + ("   | plain: after  cut     s   cpu   MNIST" if args.baseline else "")
    )
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="personalise-benchmark-"))
    try:
        for number, (writer, own) in enumerate(chosen.items()):
            rng = np.random.default_rng([args.seed, zlib.crc32(writer.encode())])  # fixed per writer and seed
            taught_samples, tested_samples = split_teach_test(own, args.teach)
            taught, tested = draw(taught_samples, rng), draw(tested_samples, rng, args.draws)
            mine_file = PersonalDrawings(folder / f"writer{number}.jsonl", writer=writer.replace("/", "_"))
            for label, strokes, pen in taught:
                mine_file.add([s.tolist() for s in strokes], label, canvas_size=CANVAS, pen_width=pen)
            row = {
                "writer": writer,
                "taught": len(taught),
                "test_drawings": len(tested),
                "before": reading(rec, tested),
            }
            mine, row["after"] = timed(
                lambda f=mine_file: personalise(rec, f, seed=args.seed, settings=settings), x_test, y_test, tested
            )
            row["after"].update(phases=mine.card["personalised"]["seconds"], threshold=mine.threshold)
            if args.baseline:
                _, row["plain"] = timed(lambda f=mine_file: plain_fine_tune(rec, f, args.seed), x_test, y_test, tested)
            rows.append(row)
            print_row(row, args.baseline)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    hardest = sorted(rows, key=lambda r: -r["before"]["errors"])[: args.hardest]
    results = {
        "command": " ".join(["python", "benchmarks/personalise.py", *(argv if argv is not None else sys.argv[1:])]),
        "model": rec.name,
        "mnist_before": mnist_before,
        "pool_seconds": pool_seconds,
        "settings": dataclasses.asdict(settings),
        "writers": rows,
        "total": summary(rows, "after"),
        "hardest": summary(hardest, "after"),
    }
    print(f"\n{'':<30}{COLUMNS}{'MNIST':>8}")
    print_summary("personalise, all writers", results["total"])
    print_summary(f"personalise, hardest {len(hardest)}", results["hardest"])
    if args.baseline:
        plain = {"total": summary(rows, "plain"), "hardest": summary(hardest, "plain")}
        results["baseline"] = {"settings": BASELINE, **plain}
        print_summary("plain fine-tune, all writers", results["baseline"]["total"])
        print_summary(f"plain fine-tune, hardest {len(hardest)}", results["baseline"]["hardest"])
    print(f"(MNIST test before: {mnist_before:.2%})")
    if args.json is not None:
        write_atomic(args.json, (json.dumps(results, indent=2) + "\n").encode())
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
