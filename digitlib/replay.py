"""The replay pool: what a fine-tune on your drawings replays so the model does not forget, and the held-out images
it is calibrated again on.

MNIST training images (split exactly as the base model's run split them), the *train* writers' pen digits drawn
the pad's way, and nonsense; and, never replayed, the base model's MNIST calibration images and the *tune* writers'
pen digits, on which `digitlib.personal.personalise` fits the personal model's confidence. The drawings are made
once (seeded) and kept in memory and in the data folder (``replay/``).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitlib import data
from digitlib.files import write_atomic
from digitlib.nonsense import NONSENSE, render_nonsense
from digitlib.pen_augment import render_pen_digits
from digitlib.recipes import get_recipe
from digitlib.training_data import mnist_split

# The replay pool: drawn once (seeded, so every process draws the same) and cached in memory and on disk.
_POOL_VERSION = 3  # 3: both pen-digit files, the writer groups
_POOL_SEED = 1234
_POOL_PEN = 1500  # train writers' pen digits drawn the pad's way, to replay
_POOL_CALIBRATION_PEN = 1000  # tune writers' pen digits, never replayed: the personal model is calibrated on these
_POOL_NONSENSE = 300


@dataclass(frozen=True)
class ReplayPool:
    """Images that remind a fine-tune of what the model knew, and held-out images to calibrate it on."""

    mnist_images: np.ndarray  # MNIST training images, without the base model's calibration images
    mnist_labels: np.ndarray
    pen_images: np.ndarray  # the train writers' pen digits, drawn the pad's way
    pen_labels: np.ndarray
    nonsense: np.ndarray  # images that are no digit
    calibration_images: np.ndarray  # the base model's MNIST calibration images, then the tune writers' pen digits
    calibration_labels: np.ndarray
    calibration_sources: dict[str, int]


# One pool per way a base model split MNIST (see `replay_pool`).
_pools: dict[tuple, ReplayPool] = {}


def _pool_file() -> Path:
    """The pool's file in the data folder: its name changes with anything that changes what it holds."""
    from digitlib import __version__
    from digitlib.pen_digits import PEN_DIGIT_FILES

    what = f"v{_POOL_VERSION}-{__version__}-{_POOL_PEN}-{_POOL_CALIBRATION_PEN}-{_POOL_NONSENSE}-{_POOL_SEED}"
    files = "".join(sha[:6] for _, sha in PEN_DIGIT_FILES.values())
    return data.data_dir() / "replay" / f"personal-replay-{what}-{files}.npz"


def _draw_pool(progress: Callable[[str], None]) -> dict[str, np.ndarray]:
    from digitlib.pen_digits import load_pen_digits

    writers, tune = load_pen_digits("train"), load_pen_digits("tune")
    rng = np.random.default_rng(_POOL_SEED)
    replay = [writers[i] for i in rng.permutation(len(writers))[:_POOL_PEN]]
    held_out = [tune[i] for i in rng.permutation(len(tune))[:_POOL_CALIBRATION_PEN]]
    progress(f"Drawing the replay pool once ({_POOL_PEN + _POOL_CALIBRATION_PEN + _POOL_NONSENSE:,} images)...")
    pen_x, pen_y = render_pen_digits(replay, 1, seed=_POOL_SEED + 1)
    cal_x, cal_y = render_pen_digits(held_out, 1, seed=_POOL_SEED + 2, styles=False)
    junk = render_nonsense(_POOL_NONSENSE, seed=_POOL_SEED + 3, digits=writers)
    return {"pen_x": pen_x, "pen_y": pen_y, "cal_x": cal_x, "cal_y": cal_y, "nonsense": junk}


def _calibration_split(card: dict[str, Any]) -> tuple[int, int, int | None, float]:
    """How the model of ``card`` split MNIST, as `training.mnist_split` takes it: its recipe's calibration images,
    seed, subset and validation share (a card without them is the shipped recipe's defaults)."""
    recipe = card.get("recipe") or {}
    images = recipe.get("calibration_images", get_recipe("digitlib").calibration_images)
    return int(images), int(card.get("seed", 0)), card.get("subset"), float(card.get("validation_fraction", 0.0))


def _pool_drawings(progress: Callable[[str], None]) -> dict[str, np.ndarray]:
    """The pool's drawings (the same for every model): from the data folder, or drawn now and kept there."""
    path = _pool_file()
    with contextlib.suppress(OSError, ValueError, KeyError, EOFError), np.load(path) as saved:
        return {name: saved[name] for name in ("pen_x", "pen_y", "cal_x", "cal_y", "nonsense")}
    drawings = _draw_pool(progress)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **drawings)
    with contextlib.suppress(OSError, data.DataFolderError):  # a read-only data folder only costs time
        data.check_data_folder(path.parent)
        write_atomic(path, buffer.getvalue())
        for stale in path.parent.glob("personal-replay-*.npz"):  # pools of other versions are never read again
            if stale != path:
                stale.unlink(missing_ok=True)
    return drawings


def replay_pool(progress: Callable[[str], None] | None = None, card: dict[str, Any] | None = None) -> ReplayPool:
    """The replay pool for the model whose card is ``card`` (default: the shipped model's split).

    Its MNIST images are split exactly as that model's training run split them (`training.mnist_split`, from the
    recipe, seed, subset and validation share in the card): the model is calibrated again on the images its run
    held out for calibration, and never replays them. The drawings are made on first use and kept in the data
    folder (``replay/``); each split is kept in memory.
    """
    progress = progress or (lambda _message: None)
    key = _calibration_split(card or {})
    if key in _pools:
        return _pools[key]
    drawings = _pool_drawings(progress)
    (x_train, y_train), _ = data.load_mnist(progress=progress)
    (x_rest, y_rest), _, (x_cal, y_cal) = mnist_split(x_train, y_train, *key)
    _pools[key] = ReplayPool(
        x_rest,
        y_rest.astype(np.int64),
        drawings["pen_x"],
        drawings["pen_y"].astype(np.int64),
        drawings["nonsense"],
        np.concatenate([x_cal, drawings["cal_x"]]),
        np.concatenate([y_cal, drawings["cal_y"]]).astype(np.int64),
        {"mnist": len(x_cal), "pen_digits": len(drawings["cal_x"])},
    )
    return _pools[key]


def pick(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray | None, count: int):
    """``count`` of ``images`` (and their labels; nonsense without), chosen at random without replacement."""
    index = rng.choice(len(images), size=min(count, len(images)), replace=False)
    return images[index], (labels[index] if labels is not None else np.full(len(index), NONSENSE, np.int64))
