"""Teach the recogniser your handwriting: fine-tune a model of your own on the drawings you corrected.

    >>> from digitlib.personal import personalise
    >>> mine = personalise(Recognizer.load(), drawings)    # drawings: a digitlib.drawings_store.PersonalDrawings
    >>> mine.save("runs/my_digits.keras")                   # atomically, with its model card and calibration

`personalise` draws each of your drawings many times the way the pad draws them (other sizes, places and pens, a
little rotation and slant; mostly through the strokes path the pad uses, some through canvas pixels), mixes in a
replay of MNIST and of the train writers' pen digits and nonsense (`digitlib.replay`, so the model does not forget
what it knew, nor that a scribble is no digit), and trains a copy of the model for a few epochs with its
batch-norm statistics frozen (a few hundred images of one writer would drag them away from everyone else's). It
then refits the temperature on images the fine-tune never saw (MNIST's calibration images and the tune writers'
pen digits) and chooses the "not sure" threshold at which the new model is no more often sure but wrong there than
the base model. The same drawings and seed give the same weights.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from digitlib import data, preprocess
from digitlib.calibration import Calibration, apply_temperature, calibrate, choose_threshold, sure_rates
from digitlib.drawings_store import PersonalDrawings, SavedDrawing
from digitlib.images import to_uint8
from digitlib.model_files import model_card
from digitlib.pen_augment import draw_like_the_pad, transform_strokes
from digitlib.recognizer import Recognizer
from digitlib.replay import ReplayPool, pick, replay_pool
from digitlib.training_data import describe_sources, make_dataset

__all__ = [
    "Cancelled",
    "FineTuning",
    "MAX_DRAWINGS",
    "MIN_DRAWINGS",
    "choose_drawings",
    "personalise",
    "render_drawings",
]

#: Fewer drawings than this teach too little to be worth a model of their own.
MIN_DRAWINGS = 10
#: However many drawings there are, each is drawn at least this many times.
MIN_RENDERS = 6
#: The most drawings one fine-tune learns from, so its time stays flat however many you saved: the newest half of
#: them, and the other half drawn from the older ones, those the model misreads `MISREAD_WEIGHT` times as likely.
MAX_DRAWINGS = 300
MISREAD_WEIGHT = 4.0
#: Older drawings read to find the misread ones, per place to fill (reading all of 10,000 would cost seconds).
CANDIDATES_PER_PLACE = 2


class Cancelled(Exception):
    """`personalise` was cancelled (its ``cancel`` event was set): no model was made."""


def choose_drawings(rec: Recognizer, records: Sequence[SavedDrawing], rng: np.random.Generator) -> list[SavedDrawing]:
    """At most `MAX_DRAWINGS` of ``records`` to learn from: all of them when there are no more, else the newest
    half and a weighted draw from the older ones (see `MAX_DRAWINGS`), in the order they were saved."""
    if len(records) <= MAX_DRAWINGS:
        return list(records)
    newest = MAX_DRAWINGS // 2
    older = len(records) - newest
    places = MAX_DRAWINGS - newest
    candidates = np.sort(rng.choice(older, size=min(older, CANDIDATES_PER_PLACE * places), replace=False))
    images, kept = [], []
    for index in candidates:
        image = preprocess.strokes_to_mnist(records[index].drawing)
        if image is not None:
            images.append(image)
            kept.append(index)
    kept = np.array(kept, dtype=np.int64)
    if len(kept):
        read = rec.readout(np.stack(images)).probabilities.argmax(axis=1)
        labels = np.array([records[i].label for i in kept])
        weights = np.where(read != labels, MISREAD_WEIGHT, 1.0)
        kept = rng.choice(kept, size=min(places, len(kept)), replace=False, p=weights / weights.sum())
    chosen = sorted({*kept.tolist(), *range(older, len(records))})
    return [records[i] for i in chosen]


@dataclass(frozen=True)
class FineTuning:
    """How `personalise` fine-tunes (the defaults were chosen on the tune writers with ``benchmarks/personalise.py
    --group tune``: the only setting tried that kept every writer's model at 99.5% or more on MNIST;
    docs/measurements.md)."""

    renders: int = 24  # images drawn from each drawing of yours, each at another size, place and pen ...
    own_images: int = 720  # ... but fewer when you have many drawings (at least 6 each), so the time stays flat
    pixel_share: float = 0.15  # of those, the share made from the canvas image (the rest from the strokes)
    replay: float = 3.0  # replayed images per image of yours (2.0 forgot more MNIST) ...
    replay_mnist: float = 0.6  # ... of which these shares are MNIST, the training writers' pen digits, nonsense
    replay_pen: float = 0.3
    replay_nonsense: float = 0.1
    epochs: int = 4
    batch_size: int = 64
    learning_rate: float = 5e-4  # the peak of a short warm-up and cosine decay (1e-3 fixed fewer, forgot more)
    label_smoothing: float = 0.05  # as the shipped recipe, so the confidence is on the same scale
    freeze_batch_norm: bool = True
    frozen_convolutions: int = 0  # the first N convolutions keep their weights (the strokes' pieces are everyone's)

    def __post_init__(self) -> None:
        if isinstance(self.frozen_convolutions, bool) or not isinstance(self.frozen_convolutions, int):
            raise ValueError(f"frozen_convolutions must be a whole number, got {self.frozen_convolutions!r}")
        for name in ("renders", "own_images", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        for name in ("pixel_share", "replay_mnist", "replay_pen", "replay_nonsense"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a share between 0 and 1, got {getattr(self, name)!r}")
        if not self.replay >= 0 or not 0 < self.learning_rate < 1 or not 0 <= self.label_smoothing < 1:
            raise ValueError("replay must be >= 0, learning_rate in (0, 1) and label_smoothing in [0, 1)")


def _checked_drawings(drawings: PersonalDrawings | Iterable[SavedDrawing]) -> list[SavedDrawing]:
    records = list(drawings)
    for record in records:
        if not isinstance(record, SavedDrawing):
            raise TypeError(
                f"personalise takes PersonalDrawings (or SavedDrawing records), got a {type(record).__name__}"
            )
    if len(records) < MIN_DRAWINGS:
        raise ValueError(
            f"personalise needs at least {MIN_DRAWINGS} labelled drawings, got {len(records)}: add more with "
            "drawings.add(drawing, label) (a few of each digit you write differently works best)."
        )
    return records


def render_drawings(
    drawings: Sequence[SavedDrawing], renders: int, rng: np.random.Generator, pixel_share: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """``renders`` 28×28 images of each drawing as the pad could make it; uint8 (N, 28, 28) and labels (N,).

    The first image of each is exactly what the pad read; the others are the drawing a little rotated, slanted
    and squeezed, at another size and place on the canvas with another pen, some through the canvas image.
    Drawings with nothing to read are skipped.
    """
    images, labels = [], []
    for saved in drawings:
        strokes = saved.drawing.on_canvas.strokes
        exact = preprocess.strokes_to_mnist(saved.drawing)
        if exact is None:
            continue
        images.append(to_uint8(exact))
        for _ in range(renders - 1):
            varied = transform_strokes(strokes, rng, bend=True)
            image = draw_like_the_pad(varied, rng, from_pixels=rng.random() < pixel_share)
            if image is not None:
                images.append(image)
        labels += [saved.label] * (len(images) - len(labels))
    return np.array(images, np.uint8).reshape(-1, 28, 28), np.array(labels, np.int64)


def _fine_tuned_copy(model, settings: FineTuning, steps: int):
    """A compiled copy of ``model`` with the same weights, ready to fine-tune (the original is left alone)."""
    from digitlib._tf import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    if settings.freeze_batch_norm:
        # Frozen batch norm runs in inference mode: its statistics stay those of everyone's writing.
        for layer in copy.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    convolutions = [layer for layer in copy.layers if isinstance(layer, keras.layers.Conv2D)]
    for layer in convolutions[: settings.frozen_convolutions]:
        layer.trainable = False
    warmup = max(1, steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=settings.learning_rate / 10,
        decay_steps=max(1, steps - warmup),
        alpha=0.05,
        warmup_target=settings.learning_rate,
        warmup_steps=warmup,
    )
    copy.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing),
    )
    return copy


def personalise(
    rec: Recognizer,
    drawings: PersonalDrawings | Iterable[SavedDrawing],
    *,
    seed: int = 0,
    epochs: int | None = None,
    renders: int | None = None,
    settings: FineTuning | None = None,
    test_mnist: bool = False,
    progress: Callable[[str], None] | None = None,
    step: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
) -> Recognizer:
    """A new `Recognizer` fine-tuned on your drawings; ``rec`` itself is left unchanged.

    ``drawings`` is a `PersonalDrawings` (or `SavedDrawing` records), at least `MIN_DRAWINGS` of them. ``epochs`` and
    ``renders`` (images drawn from each drawing) override ``settings`` (`FineTuning`, whose defaults are the
    measured choice). The same drawings and seed give the same model. The new model is calibrated anew on images
    the fine-tune never saw, and its card (``.card``, written by ``.save``) records the base model, the drawings,
    the settings and the time taken; with ``test_mnist`` also its accuracy on the 10,000 MNIST test images. With
    more than `MAX_DRAWINGS` drawings it learns from a choice of them (`choose_drawings`), so the time stays flat.

    ``progress`` is told each stage in words, ``step`` the share of the training done (0 to 1, at every batch);
    setting ``cancel`` (a `threading.Event`) stops it at the next batch with `Cancelled`.

    Raises:
        ValueError: fewer than `MIN_DRAWINGS` drawings, a label that is not 0-9, or bad settings.
        Cancelled: ``cancel`` was set.
    """
    from digitlib._tf import keras
    from digitlib.evaluation import evaluate_accuracy, predict_probabilities

    start = time.perf_counter()
    if not isinstance(rec, Recognizer):
        raise TypeError(f"personalise takes a Recognizer (e.g. Recognizer.load()), got a {type(rec).__name__}")
    settings = settings or FineTuning()
    overrides = {k: v for k, v in {"epochs": epochs, "renders": renders}.items() if v is not None}
    settings = FineTuning(**{**asdict(settings), **overrides})
    records = _checked_drawings(drawings)
    progress = progress or (lambda _message: None)

    rng = np.random.default_rng(seed)
    saved = len(records)
    records = choose_drawings(rec, records, rng)
    renders = min(settings.renders, max(MIN_RENDERS, settings.own_images // len(records)))
    settings = replace(settings, renders=renders)  # what the card records
    own_x, own_y = render_drawings(records, renders, rng, settings.pixel_share)
    seconds = {"render": time.perf_counter() - start}
    if len(own_y) == 0:
        raise ValueError("none of the drawings has anything the recogniser can read: draw digits, not dots")
    pool = replay_pool(progress, rec.card)
    replayed = round(settings.replay * len(own_x))
    parts = [(own_x, own_y)]
    shares = (settings.replay_mnist, settings.replay_pen, settings.replay_nonsense)
    total_share = sum(shares) or 1.0
    sources = {"own": len(own_x)}
    for name, share, images, labels in (
        ("mnist", shares[0], pool.mnist_images, pool.mnist_labels),
        ("pen_digits", shares[1], pool.pen_images, pool.pen_labels),
        ("nonsense", shares[2], pool.nonsense, None),
    ):
        count = round(replayed * share / total_share)
        if count:
            parts.append(pick(rng, images, labels, count))
            sources[name] = len(parts[-1][1])
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])

    keras.utils.set_random_seed(seed)  # dropout's seeds are drawn when the copy is made
    steps = math.ceil(len(x) / settings.batch_size) * settings.epochs
    model = _fine_tuned_copy(rec.model, settings, steps)
    dataset = make_dataset(x, y, settings.batch_size, shuffle=True, seed=seed, one_hot=True)
    progress(f"Fine-tuning on {len(own_x):,} drawings of yours and {len(x) - len(own_x):,} replayed images...")
    mark = time.perf_counter()
    done = [0]

    def after_batch(batch: int, logs: dict | None = None) -> None:  # noqa: ARG001 - what Keras passes
        done[0] += 1
        if step is not None:
            step(min(done[0] / steps, 1.0))
        if cancel is not None and cancel.is_set():
            model.stop_training = True

    watch = keras.callbacks.LambdaCallback(on_train_batch_end=after_batch)
    model.fit(dataset, epochs=settings.epochs, verbose=0, shuffle=False, callbacks=[watch])  # the pipeline shuffles
    if cancel is not None and cancel.is_set():
        raise Cancelled("personalise was cancelled; the recogniser is unchanged")
    seconds["train"] = time.perf_counter() - mark
    mark = time.perf_counter()

    raw = predict_probabilities(model, pool.calibration_images)
    calibration = _recalibrate(rec, raw, pool, describe_sources(pool.calibration_sources))
    seconds["calibrate"] = time.perf_counter() - mark
    card = _card(rec, model, records, drawings, seed, settings, sources, seconds, time.perf_counter() - start)
    card["personalised"]["drawings_saved"] = saved
    if test_mnist:
        (_, _), (x_test, y_test) = data.load_mnist(progress=progress)
        card["test_accuracy"] = round(evaluate_accuracy(model, x_test, y_test), 5)
        card["test_images"] = len(y_test)
    name = f"{rec.name} personalised"
    # A fine-tune of the CNN the sequence reader was fused with keeps that fusion (the weights and the threshold).
    return Recognizer(model, name=name, calibration=calibration, card=card, sequence=rec.sequence)


# The base model's sure-but-wrong share on the held-out images, by recogniser (and its calibration then).
_base_rates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _base_sure_wrong(rec: Recognizer, pool: ReplayPool) -> float:
    """How often ``rec``, with its own calibration, is sure but wrong on the pool's held-out images."""
    key = (id(pool), rec.temperature, rec.threshold)
    cached = _base_rates.get(rec)
    if cached is None or cached[0] != key:
        base = apply_temperature(rec.raw_probabilities(pool.calibration_images), rec.temperature)
        cached = (key, sure_rates(base, pool.calibration_labels, rec.threshold)[1])
        _base_rates[rec] = cached
    return cached[1]


def _recalibrate(rec: Recognizer, raw: np.ndarray, pool: ReplayPool, fitted_on: str) -> Calibration:
    """The personal model's calibration: a temperature fitted on held-out images, and a threshold at which it is
    no more often sure but wrong there than the base model is with its own calibration.

    The held-out images are the tune writers' pen digits (which neither model learnt from) and MNIST's calibration
    images; matching the base model's rate on the very same images carries over the standard the base model was
    calibrated to, whatever share of them is hard.
    """
    labels = pool.calibration_labels
    fitted = calibrate(raw, labels, fitted_on)
    scaled = apply_temperature(raw, fitted.temperature)
    target = max(_base_sure_wrong(rec, pool), 1 / len(labels))
    threshold = choose_threshold(scaled, labels, sure_wrong_target=target)
    not_sure, sure_wrong = sure_rates(scaled, labels, threshold)
    return replace(fitted, threshold=threshold, not_sure=not_sure, sure_wrong=sure_wrong)


def _card(
    rec: Recognizer,
    model,
    records: Sequence[SavedDrawing],
    drawings: object,
    seed: int,
    settings: FineTuning,
    sources: dict[str, int],
    seconds: dict[str, float],
    wall_time: float,
) -> dict[str, Any]:
    """The personal model's card: what it was made from, and how (the base model's writers too)."""
    base = {k: rec.card[k] for k in ("model", "created", "test_accuracy", "calibration") if k in rec.card}
    return model_card(
        model,
        writers=rec.card.get("writers", {}),
        personalised={
            "base_model": rec.name,
            "base_sha256": rec.card.get("model_sha256"),
            "base_card": base,
            "drawings": len(records),
            "drawings_file": str(drawings.path) if isinstance(drawings, PersonalDrawings) else None,
            "labels": dict(sorted(Counter(d.label for d in records).items())),
            "train_images": sources,
            "seed": seed,
            "settings": asdict(settings),
            "wall_time_s": round(wall_time, 1),
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
        },
    )
