"""Train a recipe, resumably, and save the model with its card; ``python -m digitlib.train`` is its command line.

    python -m digitlib.train --recipe digitlib --epochs 20 --output runs/digitlib_cnn.keras

`train` runs a recipe (`digitlib.recipes`) on its training set (`digitlib.training_data`), optionally under a
`tf.distribute` strategy (several GPUs or machines, no code changes; `digitlib.distribute`), with checkpoints that
let an interrupted run resume where it stopped; it calibrates the model's confidence on held-out data
(`digitlib.calibration`) and returns the model, its history and a model card. A run never loses work: every
argument is checked before the first step; the checkpoint records what it belongs to (recipe, seed, data), so a
resume with other arguments stops and says what differs; and it is deleted only once the final model is saved.
The shipped model was made with the command recorded in ``digitlib/assets/digitlib_cnn.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from digitlib import calibration, data, distribute, models, pen_digits
from digitlib._tf import keras, tf
from digitlib.evaluation import evaluate_accuracy, predict_probabilities
from digitlib.files import remove_leftovers, write_atomic
from digitlib.model_files import SHIPPED_MODEL, check_model_path, model_card, save_model, trained_model_path
from digitlib.recipes import RECIPES, Recipe, compile_model, get_recipe, uses_one_hot
from digitlib.training_data import TrainingSet, check_subset, describe_sources, make_dataset, training_set


@dataclass
class TrainResult:
    """What a training run produced."""

    model: keras.Model
    history: dict[str, list[float]]
    card: dict[str, Any]
    path: Path | None = None


def _run_record(recipe: Recipe, seed: int, subset: int | None, validation_fraction: float) -> dict[str, Any]:
    """What a checkpoint belongs to: a resume with anything else would mix two runs."""
    return {
        "recipe": json.loads(json.dumps(recipe.to_dict())),
        "seed": seed,
        "subset": subset,
        "validation_fraction": validation_fraction,
        "data_sha256": data_checksums(),
    }


RUN_RECORD = "digitlib-run.json"


def check_backup(backup_dir: Path, record: dict[str, Any]) -> bool:
    """Whether ``backup_dir`` holds a checkpoint of this very run (then training resumes from it).

    Raises `ValueError`, naming what differs and the folder to delete, when it holds another run's checkpoint:
    resuming would give a model whose card does not describe its weights.
    """
    if not backup_dir.exists():
        return False
    if not backup_dir.is_dir():
        raise ValueError(f"the checkpoint folder {backup_dir} is a file; delete it or choose another --backup-dir")
    path = backup_dir / RUN_RECORD
    if not path.is_file():
        if any(backup_dir.iterdir()):
            raise ValueError(
                f"{backup_dir} holds files that are not a digitlib checkpoint; delete the folder (or choose another "
                "--backup-dir) to start afresh."
            )
        return False
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        raise ValueError(f"the checkpoint record {path} is unreadable; delete {backup_dir} to start afresh.") from None
    differences = _differences(saved, record)
    if differences:
        raise ValueError(
            f"{backup_dir} holds the checkpoint of another run ({'; '.join(differences)}); resuming it with these "
            f"arguments would mix two runs. Run again with the arguments it was started with, or delete {backup_dir} "
            "to start afresh."
        )
    return True


def _differences(saved: Any, wanted: Any, where: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(wanted, dict):
        found = []
        for key in sorted(set(saved) | set(wanted)):
            found += _differences(saved.get(key), wanted.get(key), f"{where}.{key}" if where else key)
        return found
    return [] if saved == wanted else [f"{where}: {saved!r} then, {wanted!r} now"]


def train(
    recipe: str | Recipe = "digitlib",
    epochs: int | None = None,
    output: str | os.PathLike | None = None,
    seed: int = 0,
    subset: int | None = None,
    validation_fraction: float = 0.0,
    backup_dir: str | os.PathLike | None = None,
    strategy: tf.distribute.Strategy | None = None,
    verbose: int | str = "auto",
    command: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    calibrate: bool | None = None,
    progress=print,
) -> TrainResult:
    """Train a recipe and return the model, history and model card; save them when ``output`` is given.

    ``subset`` trains on the first N MNIST training images (for quick runs; pen digits and nonsense shrink in
    proportion); ``validation_fraction`` holds out a reproducible, stratified share of the MNIST images to watch
    for over-fitting (the ``val_`` curves). ``backup_dir`` keeps a checkpoint after every epoch, so that an
    interrupted run resumes from it when called again with the same arguments; it is deleted once the model is
    saved. ``calibrate`` (by default: when the recipe learns from drawings) fits the confidence calibration on
    held-out data. ``callbacks`` are extra Keras callbacks for ``fit``. The test accuracy is measured on all
    10,000 MNIST test images and recorded in the card.

    ``strategy`` is a `tf.distribute` strategy: `tf.distribute.MirroredStrategy` for the GPUs of one machine,
    `MultiWorkerStrategy` for a cluster. Each replica takes a batch of the recipe's size, so a step sees
    ``batch_size × replicas`` images, and the learning rate is multiplied by the number of replicas (the linear
    scaling rule, `make_optimizer`). On one machine every batch is split between the devices; in a cluster
    worker ``i`` of ``n`` learns from training images ``i, i + n, i + 2n...`` and shuffles and augments only
    those (the validation set is split image by image as well). Only the chief (the ``chief`` task, or worker 0
    when there is none) saves the model; the test accuracy and the calibration are computed by every worker on
    its own copy of the model, which is the same everywhere. In a cluster each task keeps its checkpoint in a
    folder of its own, ``backup_dir/worker-1`` and so on, and all of them resume from the same epoch.

    Every argument is checked before the first step (`ValueError` says what to change).
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if epochs is not None:
        recipe = replace(recipe, epochs=epochs)
    if isinstance(recipe.epochs, bool) or not isinstance(recipe.epochs, int) or recipe.epochs < 1:
        raise ValueError(f"epochs must be a whole number of at least 1, got {recipe.epochs!r}")
    check_subset(subset)
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be a whole number from 0 to 2**32 - 1, got {seed!r}")
    distribute.check_strategy(strategy)
    chief = distribute.is_chief(strategy)
    cluster = distribute.cluster_task(strategy) is not None
    output = check_model_path(output) if output is not None else None
    if output is not None and chief:
        remove_leftovers(output.parent)  # half-written files of a save that was killed
    record = _run_record(recipe, seed, subset, validation_fraction)
    backup = None
    if backup_dir is not None:
        backup = distribute.worker_folder(Path(backup_dir), strategy)
        check_backup(backup, record)
        try:
            data.check_data_folder(backup, "the checkpoint folder", "choose a --backup-dir you can write to")
        except data.DataFolderError as err:
            raise ValueError(f"cannot keep checkpoints in {backup}: {err}") from None
    calibrate = recipe.draws if calibrate is None else calibrate

    keras.utils.set_random_seed(seed)
    sets = training_set(recipe, seed, subset, validation_fraction, progress)
    x_train, y_train = sets.images, sets.labels
    one_hot = uses_one_hot(recipe)
    val_ds = None
    if len(sets.validation_labels):
        val_ds = make_dataset(sets.validation_images, sets.validation_labels, 1000, one_hot=one_hot)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    global_batch = recipe.batch_size * replicas
    if cluster:
        train_ds = distribute.worker_dataset(strategy, x_train, y_train, recipe, seed, one_hot)
    else:
        train_ds = make_dataset(
            x_train, y_train, global_batch, recipe.augment, shuffle=True, seed=seed, one_hot=one_hot
        )
    steps_per_epoch = int(np.ceil(len(x_train) / global_batch))

    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = models.build_model(recipe.architecture, **recipe.knobs)
        compile_model(model, recipe, steps_per_epoch, replicas)
    if strategy is not None:
        distribute.build_from_local_batches(model)

    # The backup callback goes first, so an epoch's checkpoint is written before any other callback can stop the
    # run; it is kept at the end of training and deleted only once the model is saved.
    extra = []
    if backup is not None:
        backup.mkdir(parents=True, exist_ok=True)
        write_atomic(backup / RUN_RECORD, (json.dumps(record, indent=2) + "\n").encode())
        # In a cluster the checkpoint before the last is kept as well, for `_agree_on_checkpoint`.
        extra = [keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=cluster, delete_checkpoint=False)]
        if cluster:
            distribute.agree_on_checkpoint(backup, strategy)
    start = time.perf_counter()
    history = model.fit(
        train_ds,
        epochs=recipe.epochs,
        validation_data=val_ds,
        callbacks=[*extra, *callbacks],
        verbose=verbose,
        shuffle=False,  # the pipeline shuffles
    )
    wall_time = time.perf_counter() - start
    (_, _), (x_test, y_test) = data.load_mnist(progress=progress)
    test_accuracy = evaluate_accuracy(model, x_test, y_test)
    card = _card(model, recipe, history.history, test_accuracy, wall_time, seed, sets, command, subset)
    card["validation_fraction"] = validation_fraction
    card["calibration"] = None  # uncalibrated, said so: a card without the entry is treated as damaged
    if calibrate and len(sets.calibration_labels):
        raw = predict_probabilities(model, sets.calibration_images)
        fitted = calibration.calibrate(raw, sets.calibration_labels, describe_sources(sets.calibration_sources))
        card["calibration"] = fitted.to_dict()
        pen = np.flatnonzero(np.arange(len(raw)) >= sets.calibration_sources["mnist"])
        if len(pen):
            card["pen_digit_accuracy"] = round(float(np.mean(raw[pen].argmax(1) == sets.calibration_labels[pen])), 5)
            card["pen_digit_images"] = int(len(pen))
    path = None
    if output is not None and chief:
        path = save_model(model, output, card)
    if cluster:
        # Wait for the chief's save: if it fails, every worker still has its checkpoint to resume from.
        distribute.from_every_replica(strategy, 1)
    if backup is not None:
        remove_backup(backup)  # only now: the model is saved
        if cluster:
            with contextlib.suppress(OSError):  # the last task to finish removes the shared folder
                backup.parent.rmdir()
    return TrainResult(model, history.history, card, path)


def data_checksums() -> dict[str, str]:
    """The SHA-256 of everything a run learns from: MNIST's files, the pen-digit files and the writer groups."""
    import hashlib

    groups = hashlib.sha256(pen_digits.WRITER_GROUPS_FILE.read_bytes()).hexdigest()
    pens = {path.name: sha for path, sha in pen_digits.PEN_DIGIT_FILES.values()}
    return {**data.MNIST_FILES, **pens, pen_digits.WRITER_GROUPS_FILE.name: groups}


def _card(
    model: keras.Model,
    recipe: Recipe,
    history: dict[str, list[float]],
    test_accuracy: float,
    wall_time: float,
    seed: int,
    sets: TrainingSet,
    command: str | None,
    subset: int | None,
) -> dict[str, Any]:
    """The trained model's card: how it was made, from what (the writers too), and how well it does."""
    learnt = {"train": pen_digits.writers(pen_digits.load_pen_digits("train"))} if recipe.draws else {}
    if recipe.draws and len(sets.calibration_labels):
        learnt["tune"] = pen_digits.writers(pen_digits.load_pen_digits("tune"))
    return model_card(
        model,
        test_accuracy=round(test_accuracy, 5),
        test_images=10000,
        train_images=int(len(sets.images)),
        train_sources=dict(sets.sources),
        epochs=recipe.epochs,  # not len(history): after a resume it has only the new epochs
        wall_time_s=round(wall_time, 1),
        seed=seed,
        subset=subset,
        recipe=recipe.to_dict(),
        command=command,
        history={k: [round(float(v), 6) for v in vs] for k, vs in history.items()},
        data_sha256=data_checksums(),
        writers=learnt,
    )


def remove_backup(backup_dir: str | os.PathLike) -> None:
    """Forget an interrupted run's checkpoint, so the next run starts from scratch."""
    shutil.rmtree(backup_dir, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m digitlib.train", description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="digitlib", choices=sorted(RECIPES), help="what to train")
    parser.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    parser.add_argument(
        "--output", default=str(trained_model_path()), help="where to save the .keras file (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the seed of everything random (0 to 2**32 - 1)")
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


def main(argv: list[str] | None = None) -> int:
    """Run the command line; bad arguments, a bad ``TF_CONFIG`` or a full disk end with a message, not a traceback."""
    args = parse_args(argv)
    backup = args.backup_dir or f"{args.output}.backup"
    command = "python -m digitlib.train " + shlex.join(sys.argv[1:] if argv is None else argv)
    try:
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
    except (ValueError, OSError) as error:
        print(f"python -m digitlib.train: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, ValueError) else 1
    card = result.card
    if result.path is None:  # a worker of a cluster other than the chief
        print(f"Done; the chief saves the model. Test accuracy {card['test_accuracy']:.2%}")
        return 0
    print(
        f"Saved {result.path}: test accuracy {card['test_accuracy']:.2%} after {card['epochs']} epochs "
        f"in {card['wall_time_s']:.0f} s"
    )
    if result.path.resolve() == SHIPPED_MODEL.resolve():
        print("Note: this replaced the shipped model.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
