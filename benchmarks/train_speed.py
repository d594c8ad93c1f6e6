"""How fast does each recipe learn? digitlib's default recipe against the classic tutorial, in one run.

Both recipes train on the same machine, one after the other. After every epoch the model is scored on all
10,000 test images; that evaluation is *not* counted in the training time. The table gives the seconds per
epoch and the training time until the test accuracy first reaches the target (99.0% by default). A run stops
once it has reached the target (after at least two epochs, since the comparison is with the tutorial's first
two) or used its epoch budget, which may end before the target: the table says so.

digitlib's recipe uses a one-cycle learning rate that spans the whole run, so its schedule length matters: by
default it is measured twice, with a 3-epoch schedule (the fastest way to 99%) and with the recipe's own
schedule (the shipped model's, which stops here as soon as it reaches the target).

    python benchmarks/train_speed.py                                 # the full comparison (minutes)
    python benchmarks/train_speed.py --max-epochs 1 --subset 2000    # a smoke test (seconds)

Run it on an otherwise idle machine: other work on the same cores makes every number slower.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from digitlib.data import load_mnist
from digitlib.evaluation import evaluate_accuracy
from digitlib.recipes import Recipe, get_recipe
from digitlib.train import train

MIN_EPOCHS = 2  # the target compares against the tutorial's first two epochs


@dataclass
class SpeedResult:
    label: str
    recipe: str
    model: str
    parameters: int
    schedule_epochs: int
    epoch_seconds: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    target: float = 0.99

    @property
    def seconds_to_target(self) -> float | None:
        """Training seconds until the first epoch whose test accuracy reached the target, if any did."""
        for epoch, score in enumerate(self.test_accuracy):
            if score >= self.target:
                return float(sum(self.epoch_seconds[: epoch + 1]))
        return None

    @property
    def epochs_to_target(self) -> int | None:
        for epoch, score in enumerate(self.test_accuracy):
            if score >= self.target:
                return epoch + 1
        return None

    def seconds_for(self, epochs: int) -> float | None:
        return float(sum(self.epoch_seconds[:epochs])) if len(self.epoch_seconds) >= epochs else None


class TestAccuracyTimer(keras.callbacks.Callback):
    """Times each epoch's training, then scores the model on the test set (untimed); stops at the target or the cap."""

    def __init__(
        self, result: SpeedResult, x_test: np.ndarray, y_test: np.ndarray, stop_at_target: bool, max_epochs: int
    ):
        super().__init__()
        self.result, self.x_test, self.y_test = result, x_test, y_test
        self.stop_at_target, self.max_epochs = stop_at_target, max_epochs
        self._started = 0.0

    def on_train_begin(self, logs=None):
        self.result.model, self.result.parameters = self.model.name, int(self.model.count_params())

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.result.epoch_seconds.append(time.perf_counter() - self._started)
        score = evaluate_accuracy(self.model, self.x_test, self.y_test)
        self.result.test_accuracy.append(score)
        seconds = self.result.epoch_seconds[-1]
        print(f"  {self.result.label} epoch {epoch + 1}: {seconds:.1f} s, test accuracy {score:.2%}", flush=True)
        reached = self.stop_at_target and score >= self.result.target and epoch + 1 >= MIN_EPOCHS
        if reached or epoch + 1 >= self.max_epochs:
            self.model.stop_training = True


def measure(
    label: str,
    recipe: Recipe,
    schedule_epochs: int,
    max_epochs: int,
    subset: int | None,
    test: tuple[np.ndarray, np.ndarray],
    target: float,
    seed: int,
    stop_at_target: bool,
) -> SpeedResult:
    """Train ``recipe`` with `digitlib.train.train` (its learning-rate schedule spanning ``schedule_epochs``) for
    at most ``max_epochs``, timing every epoch."""
    result = SpeedResult(label, recipe.name, recipe.architecture, 0, schedule_epochs, target=target)
    timer = TestAccuracyTimer(result, *test, stop_at_target, max_epochs)
    train(replace(recipe, epochs=schedule_epochs), seed=seed, subset=subset, callbacks=[timer], verbose=0)
    return result


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} s"


def markdown_report(results: list[SpeedResult], target: float, command: str, train_images: int) -> str:
    lines = [
        f"Training speed on {train_images:,} MNIST training images (a recipe that also draws pen digits and "
        "nonsense, as digitlib's does, adds those to every epoch); test accuracy on all 10,000 test images after "
        f"every epoch (not timed). Target: {target:.1%}.",
        "",
        "| recipe | model | parameters | epochs run (of budget) | first epoch | later epochs (mean) "
        f"| first 2 epochs | epochs to {target:.1%} | training time to {target:.1%} | best test accuracy |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        later = np.mean(r.epoch_seconds[1:]) if len(r.epoch_seconds) > 1 else None
        reached = r.epochs_to_target
        lines.append(
            f"| {r.label} | {r.model} | {r.parameters:,} | {len(r.epoch_seconds)} (of {r.schedule_epochs}) "
            f"| {_seconds(r.epoch_seconds[0])} | {_seconds(later)} | {_seconds(r.seconds_for(2))} "
            f"| {reached if reached else 'not reached'} | {_seconds(r.seconds_to_target)} "
            f"| {max(r.test_accuracy):.2%} |"
        )
    lines += ["", "Test accuracy after each epoch (cumulative training time):", ""]
    lines.append("| epoch | " + " | ".join(r.label for r in results) + " |")
    lines.append("|---:|" + "---:|" * len(results))
    for epoch in range(max(len(r.test_accuracy) for r in results)):
        cells = []
        for r in results:
            if epoch < len(r.test_accuracy):
                cells.append(f"{r.test_accuracy[epoch]:.2%} ({sum(r.epoch_seconds[: epoch + 1]):.0f} s)")
            else:
                cells.append("")
        lines.append(f"| {epoch + 1} | " + " | ".join(cells) + " |")
    lines += ["", verdict(results, target), "", f"Command: `{command}`", "", machine_line()]
    return "\n".join(lines)


def verdict(results: list[SpeedResult], target: float) -> str:
    """Sentences comparing each default-recipe run's time to target with the tutorial's first two epochs."""
    tutorials = [r for r in results if r.recipe == "classic"]
    ours = [r for r in results if r.recipe == "digitlib"]
    if not tutorials or not ours:
        return ""
    tutorial = tutorials[0]
    two_epochs = tutorial.seconds_for(2)
    if two_epochs is None:
        return "The tutorial recipe ran fewer than two epochs, so there is nothing to compare with."
    if tutorial.seconds_to_target is not None:
        took = _seconds(tutorial.seconds_to_target)
        epochs = tutorial.epochs_to_target
        lines = [f"The tutorial recipe reached {target:.1%} after {epochs} epoch{'s' * (epochs != 1)} ({took})."]
    else:
        lines = [f"The tutorial recipe did not reach {target:.1%} in the {len(tutorial.epoch_seconds)} epochs it ran."]
    for run in ours:
        if run.seconds_to_target is None:
            lines.append(f"{run.label} did not reach {target:.1%} within its budget.")
            continue
        ratio = run.seconds_to_target / two_epochs
        status = "met" if ratio < 0.5 else "NOT met"
        took = _seconds(run.seconds_to_target)
        lines.append(
            f"{run.label} reached {target:.1%} after {took} of training: {ratio:.0%} of the {_seconds(two_epochs)} "
            f"the tutorial recipe needs for its first two epochs (target under 50%: {status})."
        )
    return "\n".join(lines)


def machine_line() -> str:
    return (
        f"Machine: {platform.machine()} {platform.system()}, {os.cpu_count()} logical CPUs; "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, Python {platform.python_version()}."
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--default-epochs",
        type=int,
        nargs="+",
        help="schedule length(s) of digitlib's recipe, one run each; default: 3 and the recipe's own",
    )
    parser.add_argument(
        "--classic-epochs", type=int, help="epoch budget of the classic tutorial recipe; default: the recipe's (12)"
    )
    parser.add_argument(
        "--max-epochs", type=int, help="stop every run after this many epochs, schedules unchanged (quick checks)"
    )
    parser.add_argument("--target", type=float, default=0.99, help="test accuracy to reach (default 0.99)")
    parser.add_argument("--subset", type=int, help="train on the first N training images only (smoke tests)")
    parser.add_argument("--recipes", nargs="+", default=["digitlib", "classic"], help="recipes to compare")
    parser.add_argument(
        "--keep-going", action="store_true", help="train each recipe for its whole budget, even after the target"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the measurements to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = "python benchmarks/train_speed.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    (x_train, _), test = load_mnist()
    train_images = min(len(x_train), args.subset or len(x_train))
    results = []
    for name in args.recipes:
        recipe = get_recipe(name)
        if name == "digitlib":
            budgets = args.default_epochs or sorted({3, recipe.epochs})
        elif name == "classic":
            budgets = [args.classic_epochs or recipe.epochs]
        else:
            budgets = [recipe.epochs]
        for epochs in budgets:
            label = f"{name} ({epochs}-epoch schedule)" if name == "digitlib" else name
            most = min(epochs, args.max_epochs or epochs)
            print(f"== {label}: up to {most} epochs", flush=True)
            results.append(
                measure(label, recipe, epochs, most, args.subset, test, args.target, args.seed, not args.keep_going)
            )
    report = markdown_report(results, args.target, command.strip(), train_images)
    print()
    print(report)
    if args.json:
        payload = {"command": command.strip(), "machine": machine_line(), "results": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
