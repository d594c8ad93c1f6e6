"""Train the sequence reader (`digitlib.pen_sequence`) on the train writers' pen digits; a command line too.

    python -m digitlib.train_sequence --output runs/seq/digitlib_seq.keras --epochs 40 --seed 0

Only the *train* writers' pen digits are learnt from. Every batch is made afresh: each digit varied in stroke
space (`digitlib.pen_augment.vary`, plus another stroke order and direction, which only a reader of the path
notices), placed on the pad at a random size, place and pen, and read as the recogniser reads it
(`Drawing.on_canvas`: clipped, taps dropped, thinned), then turned into its pen sequence. A share of every batch
is nonsense (`digitlib.nonsense.nonsense_strokes`) with equal probabilities for every digit as its target, as the
CNN's recipe does, so that the reader is unsure of what is no digit. A Python generator feeds a prefetching
``tf.data`` pipeline, so the next batch is made while the model learns from this one. The accuracy on the *tune*
writers (drawn the pad's way, one fixed draw) is recorded in the card; the fusion with the CNN is fitted on them
afterwards (``python -m digitlib.fusion``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitlib import pen_digits
from digitlib.drawing import Drawing
from digitlib.model_files import check_model_path, model_card, save_model
from digitlib.nonsense import nonsense_strokes
from digitlib.pen_augment import CANVAS, PenAugment, place_on_canvas, vary
from digitlib.pen_sequence import CHANNELS, POINTS, SEQUENCE_INPUT, build_sequence_model, pen_sequence

#: Training defaults (chosen on the tune writers; docs/sequence-reader.md).
EPOCHS = 40
BATCH_SIZE = 128
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-4
#: Share of every batch that is nonsense (target: 0.1 for every digit).
NONSENSE_SHARE = 0.15
#: Label smoothing of the digits' targets.
SMOOTHING = 0.05
#: Share of digits left as written (no stroke-space change): the real paths stay in the mix.
KEEP_SHARE = 0.1
#: Chance that the strokes come in another order, and that each stroke is drawn the other way round.
REORDER, REVERSE = 0.3, 0.1
OUTPUT = "float32 (N, 10) class probabilities for the digits 0-9"


def reorder(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Strokes in another order (chance `REORDER`) and each drawn the other way (chance `REVERSE`): people draw
    a 4, a 5 or a 7 in different orders, which the image never shows but the path does."""
    strokes = list(strokes)
    if len(strokes) > 1 and rng.random() < REORDER:
        strokes = [strokes[i] for i in rng.permutation(len(strokes))]
    return [s[::-1].copy() if rng.random() < REVERSE else s for s in strokes]


def as_the_pad_reads(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Strokes placed on the pad at a random size, place and pen, then what the recogniser reads of them."""
    placed, pen = place_on_canvas([np.asarray(s, np.float64) for s in strokes], rng)
    return Drawing._trusted(placed, (CANVAS, CANVAS), pen).on_canvas.strokes


def batches(
    samples: Sequence[pen_digits.PenDigit], seed: int, batch_size: int = BATCH_SIZE, augment: PenAugment | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """An endless stream of fresh batches: x (batch, POINTS, CHANNELS), y (batch, 10) targets."""
    augment = augment or PenAugment()
    rng = np.random.default_rng(seed)
    eye = np.eye(10, dtype=np.float32) * (1 - SMOOTHING) + SMOOTHING / 10
    uniform = np.full(10, 0.1, np.float32)
    while True:
        x = np.empty((batch_size, POINTS, CHANNELS), np.float32)
        y = np.empty((batch_size, 10), np.float32)
        for i in range(batch_size):
            if rng.random() < NONSENSE_SHARE:
                strokes, y[i] = nonsense_strokes(rng, samples), uniform
            else:
                sample = samples[int(rng.integers(len(samples)))]
                strokes, y[i] = list(sample.strokes), eye[sample.label]
                if rng.random() >= KEEP_SHARE:
                    strokes = reorder(vary(strokes, sample.label, rng, augment), rng)
            seen = as_the_pad_reads([s for s in strokes if len(s)], rng) if any(len(s) for s in strokes) else ()
            x[i] = pen_sequence(seen)
        yield x, y


def make_dataset(samples: Sequence[pen_digits.PenDigit], seed: int, batch_size: int = BATCH_SIZE):
    """The training pipeline: `batches` through ``tf.data``, prefetched."""
    from digitlib._tf import tf

    signature = (
        tf.TensorSpec((batch_size, POINTS, CHANNELS), tf.float32),
        tf.TensorSpec((batch_size, 10), tf.float32),
    )
    dataset = tf.data.Dataset.from_generator(lambda: batches(samples, seed, batch_size), output_signature=signature)
    return dataset.prefetch(tf.data.AUTOTUNE)


def tune_inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The tune writers' digits, placed on the pad once (``seed``) and read as the recogniser reads them."""
    rng = np.random.default_rng(seed)
    tune = pen_digits.load_pen_digits("tune")
    x = np.stack([pen_sequence(as_the_pad_reads(s.strokes, rng)) for s in tune])
    return x, np.array([s.label for s in tune])


@dataclass
class SequenceTraining:
    """What `train_sequence` produced."""

    model: Any
    card: dict[str, Any]
    path: Path | None


def train_sequence(
    output: str | Path | None = None,
    epochs: int = EPOCHS,
    seed: int = 0,
    steps_per_epoch: int | None = None,
    samples: Sequence[pen_digits.PenDigit] | None = None,
    width: int = 64,
    command: str | None = None,
    verbose: int | str = 0,
) -> SequenceTraining:
    """Train a sequence reader on ``samples`` (default: the train writers' pen digits) and save it with its card
    when ``output`` is given. ``steps_per_epoch`` defaults to one pass over the digits (plus the nonsense);
    ``width`` sets the model's filters (tests use a tiny one). Arguments are checked first (`ValueError`)."""
    from digitlib._tf import keras

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a whole number of at least 1, got {epochs!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be a whole number from 0 to 2**32 - 1, got {seed!r}")
    output = check_model_path(output) if output is not None else None
    learnt_from = "train writers" if samples is None else "given digits"
    samples = pen_digits.load_pen_digits("train") if samples is None else list(samples)
    if len(samples) < 2:
        raise ValueError("the sequence reader needs at least 2 pen digits to learn from")
    keras.utils.set_random_seed(seed)
    steps = steps_per_epoch or int(np.ceil(len(samples) / (1 - NONSENSE_SHARE) / BATCH_SIZE))
    model = build_sequence_model(width=width)
    total = steps * epochs
    warmup = min(steps, max(total // 10, 1))  # one epoch of warm-up, then a cosine decay
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, max(total - warmup, 1), alpha=0.01, warmup_target=LEARNING_RATE, warmup_steps=warmup
    )
    model.compile(keras.optimizers.AdamW(schedule, weight_decay=WEIGHT_DECAY), keras.losses.CategoricalCrossentropy())
    start = time.perf_counter()
    history = model.fit(
        make_dataset(samples, seed), epochs=epochs, steps_per_epoch=steps, verbose=verbose, shuffle=False
    )
    wall = time.perf_counter() - start
    x_tune, y_tune = tune_inputs()
    tune_accuracy = float((model.predict(x_tune, batch_size=512, verbose=0).argmax(1) == y_tune).mean())
    card = model_card(
        model,
        input=SEQUENCE_INPUT,
        output=OUTPUT,
        reader="sequence",
        features={"points": POINTS, "channels": CHANNELS, "canvas": CANVAS},
        tune_accuracy=round(tune_accuracy, 5),
        tune_digits=int(len(y_tune)),
        learnt_from=learnt_from,
        train_digits=len(samples),
        epochs=epochs,
        steps_per_epoch=steps,
        batch_size=BATCH_SIZE,
        nonsense_share=NONSENSE_SHARE,
        augment=PenAugment().to_dict() | {"keep": KEEP_SHARE, "reorder": REORDER, "reverse": REVERSE},
        wall_time_s=round(wall, 1),
        seed=seed,
        command=command,
        history={k: [round(float(v), 6) for v in vs] for k, vs in history.history.items()},
        writers={"train": pen_digits.writers(samples), "tune": pen_digits.writers(pen_digits.load_pen_digits("tune"))},
        fusion=None,  # fitted afterwards on the tune writers against one CNN: python -m digitlib.fusion
    )
    path = save_model(model, output, card) if output is not None else None
    return SequenceTraining(model, card, path)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; bad arguments or a full disk end with a one-line message and exit code 2 or 1."""
    parser = argparse.ArgumentParser(prog="python -m digitlib.train_sequence", description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="where to save the .keras file (its card goes beside it)")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="passes over the train writers' digits")
    parser.add_argument("--seed", type=int, default=0, help="the seed of everything random (0 to 2**32 - 1)")
    args = parser.parse_args(argv)
    command = "python -m digitlib.train_sequence " + shlex.join(sys.argv[1:] if argv is None else argv)
    try:
        result = train_sequence(args.output, args.epochs, args.seed, command=command, verbose=2)
    except (ValueError, OSError) as error:
        print(f"python -m digitlib.train_sequence: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, ValueError) else 1
    card = result.card
    print(
        f"Saved {result.path}: tune accuracy {card['tune_accuracy']:.2%} (sequence reader alone) after "
        f"{card['epochs']} epochs in {card['wall_time_s']:.0f} s. Next: python -m digitlib.fusion --seq {result.path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
