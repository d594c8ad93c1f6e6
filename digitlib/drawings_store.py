"""Your labelled drawings, kept in a file that only grows: what the pad's corrections save, and what the memory
(`digitlib.memory`) and `digitlib.personal.personalise` learn from.

    >>> from digitlib.drawings_store import PersonalDrawings
    >>> drawings = PersonalDrawings()               # my_digits.jsonl in digitlib's data folder
    >>> drawings.add(Drawing(strokes, canvas=280, pen=20), 7)

`PersonalDrawings` keeps one JSON line per drawing (strokes in canvas pixels, label, canvas size, pen width, time),
appended with `digitlib.files.append_line` (flushed and fsynced), so a crash loses at most the drawing being
written, and a failed write (a full disk) is rolled back so nothing half-written stays. Every line starts with the
key ``"digitlib"`` naming the format, so a file that is not ours is recognised and refused, never written to. A
torn last line (a write cut short, or the zero bytes some file systems leave after a crash) is skipped with a
warning when the file is read, and cut off before the next drawing is added; every earlier drawing is kept. Reads
and appends take an `fcntl.flock` on the file (shared to read, exclusive to add), so two pads on one file never mix
their lines. The file is re-read whenever it changed on disk (another pad may have added to it), and only then.
Nothing leaves the machine unless you `export` it, to a file of your choice in the pen-digit format.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from digitlib import data
from digitlib.drawing import Drawing, Strokes
from digitlib.files import append_line, write_atomic
from digitlib.pen_digits import BOX_UNITS

try:  # POSIX; on Windows there is no flock and the file is used unlocked (one pad at a time)
    import fcntl
except ImportError:  # pragma: no cover - not on the platforms digitlib is tested on
    fcntl = None

__all__ = ["DEFAULT_FILE_NAME", "DrawingsFileError", "PersonalDrawings", "SavedDrawing", "default_drawings_path"]

#: The value of the ``"digitlib"`` key that starts every line of a drawings file.
FORMAT = "drawing/1"
#: Every line we write starts with these bytes (the key is written first), which tells a torn line of ours from
#: a stranger's file.
_LINE_START = b'{"digitlib": '
DEFAULT_FILE_NAME = "my_digits.jsonl"
#: Stroke coordinates are stored to this many decimals of a canvas pixel (finer than any screen).
_DECIMALS = 2
#: A line longer than this is no drawing of ours (a drawing's points are bounded: `digitlib.drawing.MAX_POINTS`).
_MAX_LINE = 64 * 1024 * 1024


def default_drawings_path() -> Path:
    """Where `PersonalDrawings()` keeps your drawings: ``my_digits.jsonl`` in `digitlib.data.data_dir`."""
    return data.data_dir() / DEFAULT_FILE_NAME


class DrawingsFileError(ValueError):
    """A drawings file is not ours, is damaged, or is a folder; the message says what to do."""


def check_label(label: object) -> int:
    """A drawing's label as an int 0-9 (a one-digit string too); `ValueError` otherwise."""
    if isinstance(label, str) and len(label.strip()) == 1 and label.strip() in "0123456789":
        return int(label)
    if isinstance(label, bool) or not isinstance(label, int | np.integer) or not 0 <= label <= 9:
        raise ValueError(f"label must be the digit drawn, 0 to 9; got {label!r:.40}")
    return int(label)


@dataclass(frozen=True, eq=False)
class SavedDrawing:
    """One drawing you labelled, as the file keeps it.

    Attributes:
        drawing: the `digitlib.drawing.Drawing` (strokes rounded to 1/100 px, as stored).
        label: the digit it is, 0-9.
        time: when it was added, UTC, ISO 8601 (``2025-01-31T12:00:00.000000Z``).
    """

    drawing: Drawing
    label: int
    time: str

    def to_line(self) -> str:
        """The drawing as one line of the drawings file (JSON, the format key first)."""
        record = {
            "digitlib": FORMAT,
            "label": self.label,
            "canvas_size": list(self.drawing.canvas),
            "pen_width": self.drawing.pen,
            "time": self.time,
            "strokes": [s.tolist() for s in self.drawing.strokes],
        }
        return json.dumps(record, separators=(", ", ": "), allow_nan=False)


def _saved(drawing: Drawing, label: object, when: str) -> SavedDrawing:
    """A drawing as the file keeps it; `ValueError` for a bad label or a drawing with no points."""
    label = check_label(label)
    if not drawing:
        raise ValueError("the drawing has no points: draw the digit before adding it")
    rounded = tuple(np.round(s, _DECIMALS) for s in drawing.strokes)
    for array in rounded:
        array.setflags(write=False)
    return SavedDrawing(drawing.with_strokes(rounded), label, when)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_line(line: bytes, where: str) -> SavedDrawing:
    """A complete line of a drawings file as a `SavedDrawing`; `DrawingsFileError` when it is not one of ours."""
    not_ours = (
        f"{where} is not a digitlib drawing, so the file is not a digitlib drawings file (each line of one is a "
        'JSON object starting with "digitlib"). Give PersonalDrawings a new file name, or move this file away.'
    )
    if not line.lstrip().startswith(b"{"):
        raise DrawingsFileError(not_ours)
    damaged = f"{where} is a damaged drawing (%s); fix or delete that line (the file is plain text)."
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, RecursionError, ValueError) as err:  # ValueError: bad JSON, a huge integer
        raise DrawingsFileError(damaged % f"not JSON: {type(err).__name__}") from None
    if not isinstance(record, dict) or "digitlib" not in record:
        raise DrawingsFileError(not_ours)
    if record["digitlib"] != FORMAT:
        raise DrawingsFileError(
            f"{where} is a drawing in the format {record['digitlib']!r:.40}, which this digitlib does not read (it "
            f"reads {FORMAT!r}); upgrade digitlib to read this file."
        )
    when = record.get("time", "")
    try:
        if not isinstance(when, str):
            raise ValueError(f"time must be a string, got {when!r:.40}")
        drawing = Drawing(record.get("strokes"), record.get("canvas_size"), record.get("pen_width"))
        return _saved(drawing, record.get("label"), when)
    except (TypeError, ValueError) as err:
        raise DrawingsFileError(damaged % err) from None


@dataclass(frozen=True)
class _Contents:
    """What a drawings file holds: its drawings, and where its complete lines end."""

    drawings: tuple[SavedDrawing, ...]
    complete: int  # bytes up to the end of the last complete line
    torn: bool  # whether a torn last line (not ended by a newline, not a whole drawing) follows
    whole_tail: bool  # whether the last line is a whole drawing that lacks only its newline


def _parse(content: bytes, path: Path) -> _Contents:
    """Every drawing of a file's bytes; a torn last line (or trailing zero bytes) is noted, anything else not ours
    raises."""
    drawings = []
    body = content.rstrip(b"\0")
    zeros = len(body) < len(content)
    lines = body.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    offset = 0
    for number, line in enumerate(lines, start=1):
        offset += len(line) + 1
        if len(line) > _MAX_LINE:
            raise DrawingsFileError(f"line {number} of {path} is {len(line):,} bytes long, no drawing of ours")
        if line.strip():
            drawings.append(_parse_line(line, f"line {number} of {path}"))
    torn, whole_tail = zeros, False
    if tail.strip():
        ours = tail.startswith(_LINE_START) or _LINE_START.startswith(tail)
        if not ours:  # a stranger's last line: not our file
            _parse_line(tail, f"line {len(lines) + 1} of {path}")
        try:
            drawings.append(_parse_line(tail, f"line {len(lines) + 1} of {path}"))
            whole_tail = not zeros
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
    def drawings(self) -> tuple[SavedDrawing, ...]:
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

    def __iter__(self) -> Iterator[SavedDrawing]:
        return iter(self.drawings)

    def __getitem__(self, index: int | slice) -> SavedDrawing | tuple[SavedDrawing, ...]:
        return self.drawings[index]

    @property
    def labels(self) -> list[int]:
        """The labels of the drawings, in the order they were added."""
        return [d.label for d in self.drawings]

    # -- writing ----------------------------------------------------------------------------------

    def add(
        self,
        drawing: Drawing | Strokes,
        label: int,
        canvas_size: int | tuple[int, int] = 280,
        pen_width: float = 20,
    ) -> SavedDrawing:
        """Append a drawing and its label to the file (durably, before returning); return what was stored.

        ``drawing`` is a `digitlib.drawing.Drawing`, or strokes (lists of (x, y) canvas points) drawn on
        ``canvas_size`` (an int or ``(width, height)``) with a pen ``pen_width`` px wide. Everything is checked
        first: bad input raises `ValueError` and nothing is written; so does a file that is not ours
        (`DrawingsFileError`). `OSError` when the file cannot be written (a full disk): nothing is added then.
        """
        if not isinstance(drawing, Drawing):
            drawing = Drawing(drawing, canvas_size, pen_width)
        saved = _saved(drawing, label, _now())
        line = saved.to_line()
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
                start = os.fstat(fd).st_size
                try:
                    if contents.torn:
                        # The torn line is no drawing and never will be: cut it off, so the new line starts alone.
                        os.ftruncate(fd, contents.complete)
                        os.fsync(fd)
                        start = contents.complete
                        warnings.warn(
                            f"{self.path}: removed a torn last line (a write cut short) before adding the drawing.",
                            RuntimeWarning,
                            stacklevel=2,
                        )
                    elif contents.whole_tail:
                        append_line(self.path, "")  # end the last drawing's line before starting a new one
                    append_line(self.path, line)
                except OSError:
                    os.ftruncate(fd, start)  # roll a half-written line back: the file is as it was
                    raise
                # Nobody else wrote meanwhile (we hold the lock): what is cached plus this drawing is the file.
                stat = os.fstat(fd)
                self._cache = _Contents((*contents.drawings, saved), stat.st_size, False, False)
                self._cache_key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except OSError as err:
            hint = "the disk is full" if err.errno == errno.ENOSPC else err.strerror
            raise OSError(err.errno, f"cannot add the drawing to {self.path} ({hint}); nothing was added") from None
        finally:
            os.close(fd)
        return saved

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
        for index, saved in enumerate(self.drawings):
            strokes = saved.drawing.on_canvas.strokes
            if not strokes:
                continue
            normalised, size = _normalise(strokes)
            samples.append(
                {
                    "label": saved.label,
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
