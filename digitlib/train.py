"""Command line: train a recipe and save the model with its card.

    python -m digitlib.train --recipe digitlib --epochs 20 --output runs/digitlib_cnn.keras

The shipped model was made with the command recorded in ``digitlib/assets/digitlib_cnn.json``.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from digitlib.model_files import SHIPPED_MODEL, trained_model_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from digitlib.training import RECIPES

    parser = argparse.ArgumentParser(prog="python -m digitlib.train", description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="digitlib", choices=sorted(RECIPES), help="what to train")
    parser.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    parser.add_argument(
        "--output", default=str(trained_model_path()), help="where to save the .keras file (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subset", type=int, help="train on the first N training images only")
    parser.add_argument("--validation-fraction", type=float, default=0.0)
    parser.add_argument(
        "--backup-dir", help="checkpoint folder for resuming (default: OUTPUT.backup); 'none' to disable"
    )
    parser.add_argument(
        "--strategy",
        choices=["default", "mirrored", "multi-worker"],
        default="default",
        help="tf.distribute strategy: all local GPUs (mirrored) or several machines (multi-worker, TF_CONFIG)",
    )
    return parser.parse_args(argv)


def make_strategy(name: str):
    from digitlib._tf import tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from digitlib.training import train

    backup = args.backup_dir or f"{args.output}.backup"
    command = "python -m digitlib.train " + shlex.join(sys.argv[1:] if argv is None else argv)
    result = train(
        args.recipe,
        epochs=args.epochs,
        output=args.output,
        seed=args.seed,
        subset=args.subset,
        validation_fraction=args.validation_fraction,
        backup_dir=None if backup == "none" else backup,
        strategy=make_strategy(args.strategy),
        command=command,
    )
    card = result.card
    print(
        f"Saved {result.path}: test accuracy {card['test_accuracy']:.2%} after {card['epochs']} epochs "
        f"in {card['wall_time_s']:.0f} s"
    )
    if result.path is not None and result.path.resolve() == SHIPPED_MODEL.resolve():
        print("Note: this replaced the shipped model.")


if __name__ == "__main__":
    main()
