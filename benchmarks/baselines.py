"""Train the tutorials' recipes briefly and save small runs of them for notebook 05 to evaluate.

Each run is trained on the full MNIST training set and saved under ``models/baselines/`` as two small files:
``NAME.npz`` (its probabilities for the 10,000 test images, float16) and ``NAME.json`` (recipe, epochs,
history, wall time, test accuracy, the command). The multi-megabyte models themselves are not kept: notebook
05 evaluates the probabilities with the same functions as the shipped model.

    python benchmarks/baselines.py                     # all runs (several minutes on a laptop CPU)
    python benchmarks/baselines.py --runs simple_cnn   # one of them

The runs:

- ``classic_cnn``: the classic tutorial CNN with Adadelta at learning rate 1.0, as its code assumed.
- ``classic_cnn_default_lr``: the same code since Keras 2.3 made 0.001 Adadelta's default learning rate;
  one epoch, enough to show it barely learns.
- ``simple_cnn``: the smallest tutorial CNN with Adam's defaults.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitlib.data import load_mnist
from digitlib.evaluation import BASELINES_DIR, SavedRun, accuracy, predict_probabilities, predicted_digits
from digitlib.recipes import get_recipe
from digitlib.train import train


@dataclass(frozen=True)
class BaselineRun:
    recipe: str
    epochs: int
    note: str
    learning_rate: float | None = None


RUNS: dict[str, BaselineRun] = {
    "classic_cnn": BaselineRun(
        "classic", 2, "The classic tutorial CNN, Adadelta with learning rate 1.0 (as the tutorial assumed)."
    ),
    "classic_cnn_default_lr": BaselineRun(
        "classic",
        1,
        "The same, with Adadelta's Keras default learning rate 0.001 (Keras >= 2.3): it barely learns.",
        learning_rate=0.001,
    ),
    "simple_cnn": BaselineRun("simple", 2, "The smallest tutorial CNN (one convolution), Adam's defaults."),
}


def run_baseline(name: str, seed: int, command: str) -> SavedRun:
    """Train one baseline on the full training set and return its test-set probabilities with the facts."""
    spec = RUNS[name]
    recipe = get_recipe(spec.recipe, epochs=spec.epochs, learning_rate=spec.learning_rate)
    print(f"== {name}: {spec.note}", flush=True)
    result = train(recipe, seed=seed, verbose=2, command=command)
    (_, _), (x_test, y_test) = load_mnist()
    probabilities = predict_probabilities(result.model, x_test)
    card = result.card
    info = {
        "note": spec.note,
        "model": card["model"],
        "parameters": card["parameters"],
        "recipe": card["recipe"],
        "epochs": card["epochs"],
        "train_images": card["train_images"],
        # As notebook 05 will measure it, from the saved float16 probabilities (rounding can flip near-ties).
        "test_accuracy": round(accuracy(y_test, predicted_digits(probabilities.astype(np.float16))), 5),
        "test_accuracy_float32": card["test_accuracy"],
        "wall_time_s": card["wall_time_s"],
        "history": card["history"],
        "seed": seed,
        "command": command,
        "versions": card["versions"],
        "machine": card["machine"],
        "created": card["created"],
    }
    return SavedRun(name, probabilities, info)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", choices=sorted(RUNS), default=list(RUNS), help="which runs to make")
    parser.add_argument("--output", type=Path, default=BASELINES_DIR, help="folder for the saved runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    command = "python benchmarks/baselines.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    rows = []
    for name in args.runs:
        run = run_baseline(name, args.seed, command.strip())
        path = run.save(args.output)
        size_kb = (path.stat().st_size + path.with_suffix(".json").stat().st_size) / 1024
        print(f"Saved {path} ({size_kb:.0f} kB): test accuracy {run.info['test_accuracy']:.2%}", flush=True)
        rows.append(run)
    print("\n| run | epochs | test accuracy | training time |\n|---|---:|---:|---:|")
    for run in rows:
        info = run.info
        print(f"| {run.name} | {info['epochs']} | {info['test_accuracy']:.2%} | {info['wall_time_s']:.0f} s |")
    print(f"\nCommand: {command.strip()}")
    total = sum(p.stat().st_size for p in Path(args.output).iterdir())
    print(f"{args.output}: {total / 1024:.0f} kB in all")


if __name__ == "__main__":
    main()
