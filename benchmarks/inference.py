"""How fast is recognition? Single-image latency and batch throughput on the CPU.

Measures, on a 280×280 canvas image of a drawn digit (what the pad sends):

- ``Recognizer.predict_image``: preprocessing (the MNIST recipe) + the model call;
- the preprocessing alone (``digitlib.preprocess.to_mnist``);
- the model call alone (its traced graph, called straight, on one 28×28 image);
- ``Recognizer.predict_strokes`` (what the pad calls) and ``predict_number`` on a 4-digit number;
- for comparison, ``model.predict`` on one image (what tutorials do);
- batch throughput of the model call (images per second).

    python benchmarks/inference.py                 # the shipped model, all cores
    python benchmarks/inference.py --threads 2     # as on a 2-core laptop
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path


def measure(function: Callable[[], object], repeats: int, warmup: int = 10) -> list[float]:
    """Wall-clock milliseconds of each of ``repeats`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(name: str, times: list[float]) -> str:
    import numpy as np

    p50, p95 = np.percentile(times, [50, 95])
    return f"  {name:<44} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   (n={len(times)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="a .keras model (default: the shipped one)")
    parser.add_argument("--threads", type=int, default=None, help="limit TensorFlow to this many CPU threads")
    parser.add_argument("--repeats", type=int, default=300, help="timed calls per measurement (default 300)")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    from digitlib import preprocess
    from digitlib.examples import template_strokes
    from digitlib.recognizer import Recognizer
    from digitlib.render import render_strokes

    rec = Recognizer.load(args.model)
    strokes = template_strokes(5, 70, 40, 200)
    canvas = render_strokes(strokes, 280, 18)
    number_strokes = [s for i, d in enumerate((2, 0, 2, 5)) for s in template_strokes(d, 20 + 130 * i, 60, 150)]
    number_canvas = render_strokes(number_strokes, (560, 280), 18)
    mnist = preprocess.to_mnist(canvas)[None, :, :, None]

    threads = args.threads or os.cpu_count()
    print(f"model: {rec.name}")
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, TF threads: {threads}")
    print(f"TensorFlow {tf.__version__}, Python {platform.python_version()}")
    print("\nSINGLE IMAGE (280×280 canvas)")
    repeats = args.repeats
    print(summary("predict_image (preprocess + model)", measure(lambda: rec.predict_image(canvas), repeats)))
    print(summary("  preprocess only (to_mnist)", measure(lambda: preprocess.to_mnist(canvas), repeats)))
    print(summary("  model call only (traced graph, 1 image)", measure(lambda: rec.predict_mnist(mnist), repeats)))
    print(summary("predict_strokes (the pad's path)", measure(lambda: rec.predict_strokes(strokes, 280, 18), repeats)))
    print(
        summary("predict_number (560×280, 4 digits)", measure(lambda: rec.predict_number(number_canvas), repeats // 2))
    )
    print(
        summary(
            "predict_number_strokes (4 digits)",
            measure(lambda: rec.predict_number_strokes(number_strokes, (560, 280), 18), repeats // 2),
        )
    )
    print(
        summary("for comparison: model.predict (1 image)", measure(lambda: rec.model.predict(mnist, verbose=0), 30, 3))
    )

    print("\nBATCH THROUGHPUT (model call only)")
    for batch_size in (32, 256, 1024):
        batch = np.repeat(mnist, batch_size, axis=0)
        times = measure(lambda b=batch: rec.predict_mnist(b), max(5, 2000 // batch_size), warmup=2)
        print(f"  batch {batch_size:>5}: {batch_size / (np.median(times) / 1000):10,.0f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
