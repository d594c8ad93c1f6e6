"""Teach the recogniser your handwriting: keep the drawings you correct, and fine-tune a model of your own on them.

    >>> from digitlib.personal import PersonalDrawings, personalise
    >>> drawings = PersonalDrawings()               # my_digits.jsonl in digitlib's data folder
    >>> drawings.add(strokes, 7, canvas_size=(280, 280), pen_width=20)
    >>> mine = personalise(Recognizer.load(), drawings)
    >>> mine.save("runs/my_digits.keras")           # atomically, with its model card and calibration

**Storage.** `PersonalDrawings` keeps one JSON line per drawing (strokes in canvas pixels, label, canvas size,
pen width, time), appended with `digitlib.files.append_line` (flushed and fsynced), so a crash loses at most the
drawing being written. Every line starts with the key ``"digitlib"`` naming the format, so a file that is not
ours is recognised and refused, never written to. A torn last line (a write cut short) is skipped with a warning
when the file is read, and cut off before the next drawing is added; every earlier drawing is kept. Reads and
appends take an `fcntl.flock` on the file (shared to read, exclusive to add), so two pads on one file never mix
their lines. The file is re-read whenever it changed on disk (another pad may have added to it), and only then.
Nothing leaves the machine unless you `export` it, to a file of your choice in the pen-digit format.

**Fine-tuning.** `personalise` draws each of your drawings many times the way the pad draws them (other sizes,
places and pens, a little rotation and slant; mostly through the strokes path the pad uses, some through canvas
pixels), mixes in a replay of MNIST and of the training writers' pen digits and nonsense (so the model does not
forget what it knew, nor that a scribble is no digit), and trains a copy of the model for a few epochs (peak
learning rate 1e-3, a third of the shipped recipe's) with its batch-norm statistics frozen (a few hundred images of
one writer would drag them away from everyone else's). It then refits the temperature on images the fine-tune
never saw (MNIST's 3,000 calibration images and held-out pen-digit drawings) and chooses the "not sure"
threshold at which the new model is no more often sure but wrong there than the base model, so the confidence
stays meaningful. The same drawings and seed give the same weights. The replay pool is drawn once and cached (in
memory and in the data folder), and however many drawings there are, about the same number of images is trained
on, so 30-100 drawings take about the same few seconds (``benchmarks/personalise.py`` measures it).
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import math
import os
import time
import warnings
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from digitlib import data, drawn, preprocess
from digitlib.calibration import Calibration, apply_temperature, calibrate, choose_threshold, sure_rates
from digitlib.files import append_line, write_atomic
from digitlib.pen_digits import BOX_UNITS
from digitlib.recognizer import Recognizer, drawing_on_canvas
from digitlib.render import CheckedStrokes, Strokes, canvas_shape, check_pen_width, check_strokes

try:  # POSIX; on Windows there is no flock and the file is used unlocked (one pad at a time)
    import fcntl
except ImportError:  # pragma: no cover - not on the platforms digitlib is tested on
    fcntl = None

__all__ = [
    "DEFAULT_FILE_NAME",
    "Drawing",
    "DrawingsFileError",
    "FineTuning",
    "PersonalDrawings",
    "default_drawings_path",
    "personalise",
]

#: The value of the ``"digitlib"`` key that starts every line of a drawings file.
FORMAT = "drawing/1"
#: Every line we write starts with these bytes (the key is written first), which tells a torn line of ours from
#: a stranger's file.
_LINE_START = b'{"digitlib": '
DEFAULT_FILE_NAME = "my_digits.jsonl"
#: Stroke coordinates are stored to this many decimals of a canvas pixel (finer than any screen).
_DECIMALS = 2


def default_drawings_path() -> Path:
    """Where `PersonalDrawings()` keeps your drawings: ``my_digits.jsonl`` in `digitlib.data.data_dir`."""
    return data.data_dir() / DEFAULT_FILE_NAME


class DrawingsFileError(ValueError):
    """A drawings file is not ours, is damaged, or is a folder; the message says what to do."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy fields has no single truth value
class Drawing:
    """One drawing you labelled.

    Attributes:
        label: the digit it is, 0-9.
        strokes: the pen strokes in canvas pixels (x right, y down), each a float array (n, 2).
        canvas_size: the canvas it was drawn on, ``(width, height)`` px.
        pen_width: the pen's width in canvas pixels.
        time: when it was added, UTC, ISO 8601 (``2025-01-31T12:00:00.000000Z``).
    """

    label: int
    strokes: tuple[np.ndarray, ...] = field(repr=False)
    canvas_size: tuple[int, int]
    pen_width: float
    time: str

    def on_canvas(self) -> CheckedStrokes:
        """The strokes as the pad reads them: cut to the canvas, accidental taps dropped."""
        return drawing_on_canvas(list(self.strokes), self.canvas_size, self.pen_width)

    def mnist_image(self) -> np.ndarray | None:
        """The 28×28 float image in [0, 1] the pad makes of it (None when there is nothing to read)."""
        strokes = self.on_canvas()
        return preprocess.strokes_to_mnist(strokes, self.pen_width) if strokes else None

    def to_line(self) -> str:
        """The drawing as one line of the drawings file (JSON, the format key first)."""
        record = {
            "digitlib": FORMAT,
            "label": self.label,
            "canvas_size": list(self.canvas_size),
            "pen_width": self.pen_width,
            "time": self.time,
            "strokes": [np.round(s, _DECIMALS).tolist() for s in self.strokes],
        }
        return json.dumps(record, separators=(", ", ": "), allow_nan=False)


def _check_label(label: object) -> int:
    if isinstance(label, bool) or not isinstance(label, int | np.integer) or not 0 <= label <= 9:
        raise ValueError(f"label must be the digit drawn, an int from 0 to 9; got {label!r}")
    return int(label)


def _drawing(strokes: Strokes, label: object, canvas_size: object, pen_width: object, when: str) -> Drawing:
    """A checked `Drawing` (ValueError saying what is wrong)."""
    label = _check_label(label)
    height, width = canvas_shape(canvas_size)  # type: ignore[arg-type]
    pen_width = check_pen_width(pen_width)  # type: ignore[arg-type]
    checked = check_strokes(strokes)
    if not checked:
        raise ValueError("the drawing has no points: draw the digit before adding it")
    arrays = tuple(np.round(s, _DECIMALS) for s in checked)
    for array in arrays:
        array.setflags(write=False)
    return Drawing(label, arrays, (width, height), pen_width, when)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_line(line: bytes, where: str) -> Drawing:
    """A complete line of a drawings file as a `Drawing`; `DrawingsFileError` when it is not one of ours."""
    not_ours = (
        f"{where} is not a digitlib drawing, so the file is not a digitlib drawings file (each line of one is a "
        'JSON object starting with "digitlib"). Give PersonalDrawings a new file name, or move this file away.'
    )
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DrawingsFileError(not_ours) from None
    if not isinstance(record, dict) or "digitlib" not in record:
        raise DrawingsFileError(not_ours)
    if record["digitlib"] != FORMAT:
        raise DrawingsFileError(
            f"{where} is a drawing in the format {record['digitlib']!r}, which this digitlib does not read (it "
            f"reads {FORMAT!r}); upgrade digitlib to read this file."
        )
    when = record.get("time", "")
    try:
        if not isinstance(when, str):
            raise ValueError(f"time must be a string, got {when!r}")
        return _drawing(
            record.get("strokes"), record.get("label"), record.get("canvas_size"), record.get("pen_width"), when
        )
    except (TypeError, ValueError) as err:
        raise DrawingsFileError(
            f"{where} is a damaged drawing ({err}); fix or delete that line (the file is plain text)."
        ) from None


@dataclass(frozen=True)
class _Contents:
    """What a drawings file holds: its drawings, and where its complete lines end."""

    drawings: tuple[Drawing, ...]
    complete: int  # bytes up to the end of the last complete line
    torn: bool  # whether a torn last line (not ended by a newline, not a whole drawing) follows
    whole_tail: bool  # whether the last line is a whole drawing that lacks only its newline


def _parse(content: bytes, path: Path) -> _Contents:
    """Every drawing of a file's bytes; a torn last line is noted, anything else not ours raises."""
    drawings = []
    lines = content.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    offset = 0
    for number, line in enumerate(lines, start=1):
        offset += len(line) + 1
        if line.strip():
            drawings.append(_parse_line(line, f"line {number} of {path}"))
    torn = whole_tail = False
    if tail.strip():
        ours = tail.startswith(_LINE_START) or _LINE_START.startswith(tail)
        if not ours:  # a stranger's last line: not our file
            _parse_line(tail, f"line {len(lines) + 1} of {path}")
        try:
            drawings.append(_parse_line(tail, f"line {len(lines) + 1} of {path}"))
            whole_tail = True
        except DrawingsFileError:
            torn = True
    return _Contents(tuple(drawings), offset, torn, whole_tail)


@contextlib.contextmanager
def _locked(fd: int, exclusive: bool) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


class PersonalDrawings:
    """Your labelled drawings, one JSON line each in a file that only grows (see the module docstring).

    ``PersonalDrawings()`` uses ``my_digits.jsonl`` in digitlib's data folder (``DIGITLIB_DATA_DIR`` or
    ``~/.cache/digitlib``); ``PersonalDrawings(path)`` any file of yours. The file is created on the first `add`.
    ``writer`` is the name your drawings get when exported.

    Reading (``len``, ``labels``, iteration, indexing) always reflects the file on disk: it is re-read when its
    size, modification time or identity changed since the last read (another pad may have added to it), and
    served from memory otherwise.
    """

    def __init__(self, path: str | os.PathLike | None = None, writer: str = "me") -> None:
        self.path = default_drawings_path() if path is None else Path(path).expanduser()
        if not isinstance(writer, str) or not writer.strip() or "/" in writer:
            raise ValueError(f"writer must be a non-empty name without '/', got {writer!r}")
        self.writer = writer
        if self.path.is_dir():
            raise DrawingsFileError(f"{self.path} is a folder; name a file in it, e.g. {self.path / DEFAULT_FILE_NAME}")
        self._cache_key: tuple | None = None
        self._cache = _Contents((), 0, False, False)
        self.drawings  # a file that is not ours is refused now, not at the first add  # noqa: B018

    def __repr__(self) -> str:
        return f"PersonalDrawings({str(self.path)!r}, {len(self)} drawings)"

    # -- reading ----------------------------------------------------------------------------------

    def _contents(self, fd: int) -> _Contents:
        """The file's contents read through ``fd`` (locked by the caller), from memory when it is unchanged."""
        stat = os.fstat(fd)
        key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if key != self._cache_key:
            self._cache = _parse(_read_all(fd), self.path)
            self._cache_key = key
        return self._cache

    @property
    def drawings(self) -> tuple[Drawing, ...]:
        """Every drawing in the file, in the order they were added (re-read if the file changed)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._cache_key, self._cache = None, _Contents((), 0, False, False)
            return ()
        except OSError as err:
            raise OSError(err.errno, f"cannot read {self.path} ({err.strerror})") from None
        try:
            with _locked(fd, exclusive=False):
                before = self._cache_key
                contents = self._contents(fd)
                fresh = self._cache_key != before
        finally:
            os.close(fd)
        if contents.torn and fresh:  # once per change of the file, not at every len()
            warnings.warn(
                f"{self.path}: the last line is torn (a write was cut short, e.g. by a crash) and was skipped; "
                f"the {len(contents.drawings)} drawings before it are kept. It is removed when the next drawing "
                "is added.",
                RuntimeWarning,
                stacklevel=3,
            )
        return contents.drawings

    def __len__(self) -> int:
        return len(self.drawings)

    def __iter__(self) -> Iterator[Drawing]:
        return iter(self.drawings)

    def __getitem__(self, index: int | slice) -> Drawing | tuple[Drawing, ...]:
        return self.drawings[index]

    @property
    def labels(self) -> list[int]:
        """The labels of the drawings, in the order they were added."""
        return [d.label for d in self.drawings]

    # -- writing ----------------------------------------------------------------------------------

    def add(
        self,
        strokes: Strokes,
        label: int,
        canvas_size: int | tuple[int, int] = (280, 280),
        pen_width: float = 20,
    ) -> Drawing:
        """Append a drawing and its label to the file (durably, before returning); return the stored `Drawing`.

        ``strokes`` are lists of (x, y) canvas points, ``canvas_size`` an int or ``(width, height)``, ``pen_width``
        in canvas pixels. Everything is checked first: bad input raises `ValueError` and nothing is written; so does
        a file that is not ours (`DrawingsFileError`). `OSError` when the file cannot be written (a full disk).
        """
        drawing = _drawing(strokes, label, canvas_size, pen_width, _now())
        line = drawing.to_line()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise OSError(
                err.errno, f"cannot write {self.path} ({err.strerror}); choose a file in a folder you can write to"
            ) from None
        try:
            with _locked(fd, exclusive=True):
                contents = self._contents(fd)  # raises, before anything is written, if the file is not ours
                if contents.torn:
                    # The torn line is no drawing and never will be: cut it off, so the new line starts on its own.
                    os.ftruncate(fd, contents.complete)
                    os.fsync(fd)
                    warnings.warn(
                        f"{self.path}: removed a torn last line (a write cut short) before adding the drawing.",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                elif contents.whole_tail:
                    append_line(self.path, "")  # end the last drawing's line before starting a new one
                append_line(self.path, line)
                # Nobody else wrote meanwhile (we hold the lock): what is cached plus this drawing is the file.
                stat = os.fstat(fd)
                self._cache = _Contents((*contents.drawings, drawing), stat.st_size, False, False)
                self._cache_key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except OSError as err:
            hint = "the disk is full" if err.errno == errno.ENOSPC else err.strerror
            raise OSError(err.errno, f"cannot add the drawing to {self.path} ({hint}); nothing was added") from None
        finally:
            os.close(fd)
        return drawing

    def export(self, path: str | os.PathLike, writer: str | None = None) -> Path:
        """Write the drawings, atomically, as a pen-digit file (the format of the shipped data); return its path.

        Each drawing is what the pad reads (cut to the canvas, taps dropped), its box shifted to 0 and scaled so
        its longest side is 1000, integer points, y down: `digitlib.pen_digits.read_pen_digits` reads it, and the
        benchmarks take it (``benchmarks/drawn_digits.py PATH``). Drawings with nothing to read are left out.
        This is the only way drawings leave the file: do it when you mean to share them.
        """
        writer = self.writer if writer is None else writer
        if not isinstance(writer, str) or not writer.strip() or "/" in writer:
            raise ValueError(f"writer must be a non-empty name without '/', got {writer!r}")
        samples = []
        for index, drawing in enumerate(self.drawings):
            strokes = drawing.on_canvas()
            if not strokes:
                continue
            normalised, size = _normalise(strokes)
            samples.append(
                {
                    "label": drawing.label,
                    "inst": "personal",
                    "writer": f"personal/{writer}",
                    "file": self.path.name,
                    "segment": str(index),
                    "src_size": size,
                    "strokes": normalised,
                }
            )
        if not samples:
            raise ValueError(f"{self.path} has no drawing to export: add some first.")
        content = {
            "source": f"digitlib personal drawings ({self.path.name}), exported {_now()}",
            "license": "the writer's own; share it only as they agree",
            "coords": f"each sample's box shifted to (0, 0) and scaled so its longest side is {BOX_UNITS}; y down",
            "fields": "label, inst, writer, file, segment (the drawing's index in the file), src_size (canvas px)",
            "samples": samples,
        }
        raw = json.dumps(content, separators=(",", ":")).encode()
        return write_atomic(path, gzip.compress(raw, mtime=0))


def _normalise(strokes: Sequence[np.ndarray]) -> tuple[list, list[int]]:
    """Strokes as the shipped pen digits store them, and their box's size in canvas px (rounded)."""
    points = np.concatenate(strokes)
    low, size = points.min(axis=0), points.max(axis=0) - points.min(axis=0)
    longest = float(size.max())
    scale = BOX_UNITS / longest if longest > 0 else 1.0
    normalised = []
    for stroke in strokes:
        ints = np.round((stroke - low) * scale).astype(np.int64)
        keep = np.ones(len(ints), dtype=bool)
        keep[1:] = np.any(ints[1:] != ints[:-1], axis=1)  # consecutive duplicates, as in the shipped data
        normalised.append(ints[keep].tolist())
    return normalised, [round(float(v)) for v in size]


# -- fine-tuning ----------------------------------------------------------------------------------------------

#: Fewer drawings than this teach too little to be worth a model of their own.
MIN_DRAWINGS = 10
#: However many drawings there are, each is drawn at least this many times.
MIN_RENDERS = 6


@dataclass(frozen=True)
class FineTuning:
    """How `personalise` fine-tunes (the defaults were chosen with ``benchmarks/personalise.py``)."""

    renders: int = 24  # images drawn from each drawing of yours, each at another size, place and pen ...
    own_images: int = 720  # ... but fewer when you have many drawings (at least 6 each), so the time stays flat
    pixel_share: float = 0.15  # of those, the share made from the canvas image (the rest from the strokes)
    replay: float = 2.0  # replayed images per image of yours (1.5 forgot more MNIST, 3.0 learnt less) ...
    replay_mnist: float = 0.6  # ... of which these shares are MNIST, the training writers' pen digits, nonsense
    replay_pen: float = 0.3
    replay_nonsense: float = 0.1
    epochs: int = 4
    batch_size: int = 64
    learning_rate: float = 1e-3  # the peak of a short warm-up and cosine decay
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


def _checked_drawings(drawings: PersonalDrawings | Iterable[Drawing]) -> list[Drawing]:
    records = list(drawings)
    for record in records:
        if not isinstance(record, Drawing):
            raise TypeError(f"personalise takes PersonalDrawings (or Drawing records), got a {type(record).__name__}")
        _check_label(record.label)
    if len(records) < MIN_DRAWINGS:
        raise ValueError(
            f"personalise needs at least {MIN_DRAWINGS} labelled drawings, got {len(records)}: add more with "
            "drawings.add(strokes, label) (a few of each digit you write differently works best)."
        )
    return records


def render_drawings(
    drawings: Sequence[Drawing], renders: int, rng: np.random.Generator, pixel_share: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """``renders`` 28×28 images of each drawing as the pad could make it; uint8 (N, 28, 28) and labels (N,).

    The first image of each is exactly what the pad read; the others are the drawing a little rotated, slanted
    and squeezed, at another size and place on the canvas with another pen, some through the canvas image.
    Drawings with nothing to read are skipped.
    """
    images, labels = [], []
    for drawing in drawings:
        strokes = drawing.on_canvas()
        if not strokes:
            continue
        exact = preprocess.strokes_to_mnist(strokes, drawing.pen_width)
        if exact is None:
            continue
        images.append(np.round(exact * 255).astype(np.uint8))
        for _ in range(renders - 1):
            varied = drawn.transform_strokes(strokes, rng, bend=True)
            image = drawn.draw_like_the_pad(varied, rng, from_pixels=rng.random() < pixel_share)
            if image is not None:
                images.append(image)
        labels += [drawing.label] * (len(images) - len(labels))
    return np.array(images, np.uint8).reshape(-1, 28, 28), np.array(labels, np.int64)


# The replay pool: drawn once (seeded, so every process draws the same) and cached in memory and on disk.
_POOL_VERSION = 2  # 2: the shipped pen digits with their label corrections
_POOL_SEED = 1234
_POOL_PEN = 1500  # training writers' pen digits drawn the pad's way, to replay
_POOL_CALIBRATION_PEN = 1000  # more of them, never replayed: the personal model is calibrated on these
_POOL_NONSENSE = 300


@dataclass(frozen=True)
class ReplayPool:
    """Images that remind a fine-tune of what the model knew, and held-out images to calibrate it on."""

    mnist_images: np.ndarray  # MNIST training images, without the base model's calibration images
    mnist_labels: np.ndarray
    pen_images: np.ndarray  # the training writers' pen digits, drawn the pad's way
    pen_labels: np.ndarray
    nonsense: np.ndarray  # images that are no digit
    calibration_images: np.ndarray  # the base model's MNIST calibration images, then held-out pen-digit drawings
    calibration_labels: np.ndarray
    calibration_sources: dict[str, int]


# One pool per way a base model split MNIST (see `replay_pool`).
_pools: dict[tuple, ReplayPool] = {}


def _pool_file() -> Path:
    """The pool's file in the data folder: its name changes with anything that changes what it holds."""
    from digitlib import __version__
    from digitlib.pen_digits import PEN_DIGITS_SHA256

    what = f"v{_POOL_VERSION}-{__version__}-{_POOL_PEN}-{_POOL_CALIBRATION_PEN}-{_POOL_NONSENSE}-{_POOL_SEED}"
    return data.data_dir() / "replay" / f"personal-replay-{what}-{PEN_DIGITS_SHA256[:12]}.npz"


def _draw_pool(progress: Callable[[str], None]) -> dict[str, np.ndarray]:
    from digitlib.pen_digits import load_pen_digits

    writers = load_pen_digits("train")
    rng = np.random.default_rng(_POOL_SEED)
    chosen = rng.permutation(len(writers))
    replay = [writers[i] for i in chosen[:_POOL_PEN]]
    held_out = [writers[i] for i in chosen[_POOL_PEN : _POOL_PEN + _POOL_CALIBRATION_PEN]]
    progress(f"Drawing the replay pool once ({_POOL_PEN + _POOL_CALIBRATION_PEN + _POOL_NONSENSE:,} images)...")
    pen_x, pen_y = drawn.render_pen_digits(replay, 1, seed=_POOL_SEED + 1)
    cal_x, cal_y = drawn.render_pen_digits(held_out, 1, seed=_POOL_SEED + 2, styles=False)
    junk = drawn.render_nonsense(_POOL_NONSENSE, seed=_POOL_SEED + 3, digits=writers)
    return {"pen_x": pen_x, "pen_y": pen_y, "cal_x": cal_x, "cal_y": cal_y, "nonsense": junk}


def _calibration_split(card: dict[str, Any]) -> tuple[int, int, int | None, float]:
    """How the model of ``card`` split MNIST, as `training.mnist_split` takes it: its recipe's calibration images,
    seed, subset and validation share (a card without them is the shipped recipe's defaults)."""
    from digitlib.training import get_recipe

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
    from digitlib.training import mnist_split

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


def _pick(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray | None, count: int):
    index = rng.choice(len(images), size=min(count, len(images)), replace=False)
    return images[index], (labels[index] if labels is not None else np.full(len(index), drawn.NONSENSE, np.int64))


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
    drawings: PersonalDrawings | Iterable[Drawing],
    *,
    seed: int = 0,
    epochs: int | None = None,
    renders: int | None = None,
    settings: FineTuning | None = None,
    test_mnist: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Recognizer:
    """A new `Recognizer` fine-tuned on your drawings; ``rec`` itself is left unchanged.

    ``drawings`` is a `PersonalDrawings` (or `Drawing` records), at least `MIN_DRAWINGS` of them. ``epochs`` and
    ``renders`` (images drawn from each drawing) override ``settings`` (`FineTuning`, whose defaults are the
    measured choice). The same drawings and seed give the same model. The new model is calibrated anew on images
    the fine-tune never saw, and its card (``.card``, written by ``.save``) records the base model, the drawings,
    the settings and the time taken; with ``test_mnist`` also its accuracy on the 10,000 MNIST test images.

    Raises:
        ValueError: fewer than `MIN_DRAWINGS` drawings, a label that is not 0-9, or bad settings.
    """
    from digitlib._tf import keras
    from digitlib.evaluation import evaluate_accuracy, predict_probabilities
    from digitlib.training import describe_sources, make_dataset

    start = time.perf_counter()
    if not isinstance(rec, Recognizer):
        raise TypeError(f"personalise takes a Recognizer (e.g. Recognizer.load()), got a {type(rec).__name__}")
    settings = settings or FineTuning()
    overrides = {k: v for k, v in {"epochs": epochs, "renders": renders}.items() if v is not None}
    settings = FineTuning(**{**asdict(settings), **overrides})
    records = _checked_drawings(drawings)
    progress = progress or (lambda _message: None)

    rng = np.random.default_rng(seed)
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
            parts.append(_pick(rng, images, labels, count))
            sources[name] = len(parts[-1][1])
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])

    keras.utils.set_random_seed(seed)  # dropout's seeds are drawn when the copy is made
    steps = math.ceil(len(x) / settings.batch_size) * settings.epochs
    model = _fine_tuned_copy(rec.model, settings, steps)
    dataset = make_dataset(x, y, settings.batch_size, shuffle=True, seed=seed, one_hot=True)
    progress(f"Fine-tuning on {len(own_x):,} drawings of yours and {len(x) - len(own_x):,} replayed images...")
    mark = time.perf_counter()
    model.fit(dataset, epochs=settings.epochs, verbose=0, shuffle=False)  # the pipeline shuffles
    seconds["train"] = time.perf_counter() - mark
    mark = time.perf_counter()

    raw = predict_probabilities(model, pool.calibration_images)
    calibration = _recalibrate(rec, raw, pool, describe_sources(pool.calibration_sources))
    seconds["calibrate"] = time.perf_counter() - mark
    card = _card(rec, model, records, drawings, seed, settings, sources, seconds, time.perf_counter() - start)
    if test_mnist:
        (_, _), (x_test, y_test) = data.load_mnist(progress=progress)
        card["test_accuracy"] = round(evaluate_accuracy(model, x_test, y_test), 5)
        card["test_images"] = len(y_test)
    name = f"{rec.name} personalised"
    return Recognizer(model, name=name, calibration=calibration, card=card)


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

    The held-out pen digits are of writers the base model learnt from, so they are easier than a stranger's
    writing; the library's rule (a fixed sure-but-wrong share) would choose too low a threshold on them. Matching
    the base model's rate on the same images carries over the threshold it was given on writers it never saw.
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
    records: Sequence[Drawing],
    drawings: object,
    seed: int,
    settings: FineTuning,
    sources: dict[str, int],
    seconds: dict[str, float],
    wall_time: float,
) -> dict[str, Any]:
    """The personal model's card: what it was made from, and how."""
    from digitlib._tf import keras, tf

    base = {k: rec.card[k] for k in ("model", "created", "test_accuracy", "calibration") if k in rec.card}
    return {
        "model": model.name,
        "parameters": int(model.count_params()),
        "input": "float32 (N, 28, 28, 1) in [0, 1], white ink on black (as MNIST)",
        "output": "float32 (N, 10) class probabilities for the digits 0-9",
        "personalised": {
            "base_model": rec.name,
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
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__},
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
