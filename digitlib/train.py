"""Command line: train a recipe and save the model with its card.

    python -m digitlib.train --recipe digitlib --epochs 20 --output runs/digitlib_cnn.keras

The shipped model was made with the command recorded in ``digitlib/assets/digitlib_cnn.json``. Add
``--strategy mirrored`` to train on all the GPUs of a machine; on a cluster, run the same command with
``--strategy multi-worker`` on every machine, each with its ``TF_CONFIG`` (the README's "Scale out").
"""

from __future__ import annotations

import argparse
import shlex
import sys

from digitlib import distribute
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
        choices=distribute.STRATEGIES,
        default="default",
        help="tf.distribute strategy: 'mirrored' trains on all the GPUs of this machine, 'multi-worker' on several "
        "machines (run the same command on each, with its TF_CONFIG). Each replica takes a batch of the recipe's "
        "size and the learning rate is multiplied by the number of replicas; in a cluster each worker learns from "
        "its share of the images (every n-th) and only the chief saves the model.",
    )
    parser.add_argument(
        "--cpu-replicas",
        type=int,
        metavar="N",
        help="with --strategy mirrored: split the CPU into N devices and mirror over them (to try it without GPUs)",
    )
    return parser.parse_args(argv)


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
        strategy=distribute.make_strategy(args.strategy, args.cpu_replicas),
        command=command,
    )
    card = result.card
    if result.path is None:  # a worker of a cluster other than the chief
        print(f"Done; the chief saves the model. Test accuracy {card['test_accuracy']:.2%}")
        return
    print(
        f"Saved {result.path}: test accuracy {card['test_accuracy']:.2%} after {card['epochs']} epochs "
        f"in {card['wall_time_s']:.0f} s"
    )
    if result.path is not None and result.path.resolve() == SHIPPED_MODEL.resolve():
        print("Note: this replaced the shipped model.")


if __name__ == "__main__":
    main()
