"""What does leaving Keras cost? The .keras model against its float32, float16 and int8 TensorFlow Lite files.

For each: the file size (and its share of the .keras file), the accuracy on all 10,000 MNIST test images and on
the report writers' pen digits (drawn as the pad draws them; no model learnt from them or was tuned on them), the
share of those digits read the same as Keras, and the single-image latency (p50/p95). Keras runs through the
recogniser's ``tf.function`` (its fastest path, what the pad uses); the .tflite files through
`digitlib.export.TFLiteModel` (the LiteRT interpreter). Both times include turning the uint8 image into model
input.

    python benchmarks/export.py                          # the shipped model, all cores
    python benchmarks/export.py --threads 2 --json out.json
    python benchmarks/export.py --model runs/digitlib_cnn.keras --output /tmp/exports   # keep the .tflite files
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from inference import measure  # the same timing as benchmarks/inference.py (this folder is on sys.path)

QUANTIZATIONS = {"tflite float32": None, "tflite float16": "float16", "tflite int8": "int8"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="a .keras model (default: the shipped one)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for TF and LiteRT (default: all)")
    parser.add_argument("--repeats", type=int, default=300, help="timed single-image calls per format (default 300)")
    parser.add_argument("--output", type=Path, default=None, help="keep the .tflite files here (default: discarded)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    from digitlib import export
    from digitlib._tf import tf
    from digitlib.data import load_mnist
    from digitlib.evaluation import accuracy, predict_probabilities, predicted_digits
    from digitlib.files import temp_folder, write_atomic
    from digitlib.model_files import SHIPPED_MODEL
    from digitlib.pen_augment import render_pen_digits
    from digitlib.pen_digits import load_pen_digits
    from digitlib.recognizer import Recognizer

    threads = args.threads or os.cpu_count()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    model_path = args.model or SHIPPED_MODEL
    rec = Recognizer.load(model_path)
    (_, _), (x_test, y_test) = load_mnist(progress=lambda _message: None)
    pen_images, pen_labels = render_pen_digits(load_pen_digits("report"), 1, seed=0, styles=False)
    one = x_test[:1]

    folder = args.output or temp_folder(name="export-benchmark")
    try:
        models: dict[str, tuple[object, int]] = {"keras": (rec.model, model_path.stat().st_size)}
        convert_s = {}
        for name, quantize in QUANTIZATIONS.items():
            start = time.perf_counter()
            path = export.to_tflite(rec.model, Path(folder) / f"{model_path.stem}_{name.split()[1]}.tflite", quantize)
            convert_s[name] = time.perf_counter() - start
            models[name] = (export.TFLiteModel(path, num_threads=threads), path.stat().st_size)

        keras_mnist = keras_pen = None
        results = []
        for name, (model, size) in models.items():
            mnist_probabilities = predict_probabilities(model, x_test)
            pen_probabilities = predict_probabilities(model, pen_images)
            if keras_mnist is None:
                keras_mnist, keras_pen = predicted_digits(mnist_probabilities), predicted_digits(pen_probabilities)
            single = (lambda: rec.raw_probabilities(one)) if name == "keras" else (lambda m=model: m(one))
            p50, p95 = np.percentile(measure(single, args.repeats), [50, 95])
            both = np.concatenate([predicted_digits(mnist_probabilities), predicted_digits(pen_probabilities)])
            results.append(
                {
                    "format": name,
                    "bytes": size,
                    "share_of_keras": size / models["keras"][1],
                    "mnist_accuracy": accuracy(y_test, predicted_digits(mnist_probabilities)),
                    "pen_accuracy": accuracy(pen_labels, predicted_digits(pen_probabilities)),
                    "same_as_keras": float(np.mean(both == np.concatenate([keras_mnist, keras_pen]))),
                    "latency_p50_ms": float(p50),
                    "latency_p95_ms": float(p95),
                    "convert_s": convert_s.get(name),
                }
            )
    finally:
        if args.output is None:
            shutil.rmtree(folder, ignore_errors=True)

    print(f"model: {model_path}")
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, threads: {threads}")
    print(f"TensorFlow {tf.__version__}, LiteRT {_litert_version()}, Python {platform.python_version()}")
    print(f"MNIST test: {len(y_test):,} images; pen digits: {len(pen_labels):,} (report writers)\n")
    print(
        f"{'format':<16}{'size':>10}{'of .keras':>11}{'MNIST':>9}{'pen':>9}{'same as Keras':>15}"
        f"{'p50 ms':>9}{'p95 ms':>9}"
    )
    for r in results:
        print(
            f"{r['format']:<16}{r['bytes'] / 1024:>7,.0f} KB{r['share_of_keras']:>11.0%}{r['mnist_accuracy']:>9.2%}"
            f"{r['pen_accuracy']:>9.2%}{r['same_as_keras']:>15.2%}{r['latency_p50_ms']:>9.3f}{r['latency_p95_ms']:>9.3f}"
        )
    if args.json is not None:
        figures = {
            "command": "python benchmarks/export.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "model": str(model_path),
            "threads": threads,
            "tensorflow": tf.__version__,
            "litert": _litert_version(),
            "mnist_images": len(y_test),
            "pen_digits": len(pen_labels),
            "results": results,
        }
        write_atomic(args.json, (json.dumps(figures, indent=2) + "\n").encode())
        print(f"\nwrote {args.json}")
    return 0


def _litert_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ai-edge-litert")
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
