"""The drawing pad's state and what it does, without a widget: strokes in, readings out, corrections saved.

    >>> state = PadState(Recognizer.load(), canvas=(280, 280), pen=20.0)
    >>> state.pen_down((90, 60)); state.pen_move((190, 60)); state.pen_move((120, 220)); state.pen_up()
    >>> state.reading.digit
    7

`digitlib.pad.DrawingPad` is a view of a `PadState` (as ipywidgets' widgets are views of their models): its
canvas and buttons send the pen and the clicks here, and it shows what this holds. The strokes the state keeps are
what a reading reads (`drawing`), so the same strokes give the same answer with or without a browser. Points are
checked as they arrive (`checked_point`); the drawing made of them is never checked again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from digitlib.drawing import MAX_POINTS, MAX_STROKES, Drawing, DrawingError, Point, Stroke
from digitlib.drawings_store import check_label

if TYPE_CHECKING:
    from digitlib.drawings_store import PersonalDrawings
    from digitlib.recognizer import DigitPrediction, NumberPrediction, Recognizer

Mode = Literal["digit", "number"]
MODES: tuple[Mode, ...] = ("digit", "number")


def checked_point(x: object, y: object) -> Point:
    """A pen event's point as floats; the browser sends null for a canvas with no size."""
    try:
        point = (float(x), float(y))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DrawingError(
            f"the canvas sent a pen event without usable coordinates (x={x!r}, y={y!r}); "
            "is the canvas visible? Scroll it into view and draw again."
        ) from None
    if not all(math.isfinite(v) for v in point):
        raise DrawingError(f"the canvas sent a pen event at ({x}, {y}); draw again.")
    return point


class PadState:
    """What the pad holds: its strokes (the one being drawn last, while the pen is down), mode, pen, latest reading,
    and the drawings it saved.

    ``recognizer`` reads the drawing (``predict_strokes`` in digit mode, ``predict_number_strokes`` in number
    mode); ``drawings`` (a `digitlib.drawings_store.PersonalDrawings`, optional) is where corrections go.
    ``canvas`` and ``pen`` must already be checked (`digitlib.drawing.canvas_size`, `digitlib.drawing.pen_width`).
    """

    def __init__(
        self,
        recognizer: Recognizer,
        canvas: tuple[int, int],
        pen: float,
        mode: Mode = "digit",
        drawings: PersonalDrawings | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.canvas = canvas
        self.pen = pen
        self.mode: Mode = mode
        self.drawings = drawings
        self.strokes: list[list[Point]] = []
        self.current: list[Point] | None = None  # the stroke being drawn, while the pen is down
        self.reading: DigitPrediction | NumberPrediction | None = None
        self.error: Exception | None = None  # what the last reading raised, if it failed
        self.saved = 0  # drawings saved in `drawings` from this pad
        self.stale = False  # strokes changed since the last reading
        self.seconds = 0.0  # what the last reading took

    @property
    def base_recognizer(self) -> Recognizer:
        """The recogniser under the memory of your drawings (`digitlib.memory`), or the one reading if none."""
        return getattr(self.recognizer, "base", self.recognizer)

    def use(self, recognizer: Recognizer) -> None:
        """Read with ``recognizer`` from now on, remembering the drawings if the pad did (a personalised model
        swapped in keeps what the memory gives)."""
        from digitlib.memory import remember

        remembering = self.recognizer is not self.base_recognizer
        self.recognizer = (
            remember(recognizer, self.drawings) if remembering and self.drawings is not None else recognizer
        )
        self.stale = True

    def stored(self) -> int | None:
        """How many drawings the file holds, or None when it cannot be read now (the count must not stop the pad;
        saving into such a file shows its own error)."""
        try:
            return None if self.drawings is None else len(self.drawings)
        except (TypeError, ValueError, OSError):
            return None

    @property
    def file_name(self) -> str | None:
        path = getattr(self.drawings, "path", None)
        return getattr(path, "name", None) or (str(path) if path else None)

    @property
    def points(self) -> int:
        return sum(len(s) for s in self.strokes)

    @property
    def drawing(self) -> Drawing:
        """The strokes on the canvas, the one being drawn included, as one `Drawing` (its points were checked as
        they came in)."""
        import numpy as np

        return Drawing._trusted([np.array(s, dtype=np.float64) for s in self.strokes], self.canvas, self.pen)

    # -- the pen ----------------------------------------------------------------------------------------------

    def pen_down(self, point: Point) -> None:
        """Start a stroke at ``point`` (checked by `checked_point`)."""
        if len(self.strokes) >= MAX_STROKES:
            raise DrawingError(f"the pad holds at most {MAX_STROKES} strokes: clear it (or undo) to draw more")
        self.current = [point]
        self.strokes.append(self.current)
        self.stale = True

    def pen_move(self, point: Point) -> bool:
        """Extend the stroke being drawn to ``point``; False when the pen is up or already there."""
        if self.current is None or point == self.current[-1]:
            return False
        if self.points >= MAX_POINTS:
            raise DrawingError(f"the drawing holds {MAX_POINTS:,} points, the most a pad takes: lift the pen")
        self.current.append(point)
        self.stale = True
        return True

    def pen_up(self) -> bool:
        """End the stroke being drawn; False when the pen was up."""
        if self.current is None:
            return False
        self.current = None
        return True

    def add_strokes(self, strokes: Sequence[Stroke]) -> list[list[Point]]:
        """Add whole strokes of (x, y) canvas points (checked once, as a drawing); return them as the pad keeps
        them. `DrawingError` for an empty stroke or a bad point, and nothing is added."""
        strokes = list(strokes)
        for index, stroke in enumerate(strokes):
            if not isinstance(stroke, str | bytes) and hasattr(stroke, "__len__") and len(stroke) == 0:
                raise DrawingError(f"stroke {index} has no points; a stroke is a list of (x, y) pairs")
        added = Drawing(strokes, self.canvas, self.pen)
        if len(self.strokes) + len(added.strokes) > MAX_STROKES or self.points + len(added.points) > MAX_POINTS:
            raise DrawingError(f"the pad holds at most {MAX_STROKES} strokes and {MAX_POINTS:,} points: clear it")
        kept = added.as_lists()
        self.current = None
        self.strokes.extend(kept)
        self.stale = True
        return kept

    def undo(self) -> None:
        """Remove the last stroke."""
        if self.strokes:
            self.strokes.pop()
        self.current = None
        self.stale = True

    def clear(self) -> None:
        """Remove every stroke."""
        self.strokes.clear()
        self.current = None
        self.stale = True

    # -- reading ----------------------------------------------------------------------------------------------

    def read(self) -> DigitPrediction | NumberPrediction | None:
        """Read the drawing (the stroke being drawn included); on an error, the reading is None and `error` says
        why."""
        started = time.perf_counter()
        self.stale = False
        try:
            drawing = self.drawing
            if self.mode == "number":
                self.reading = self.recognizer.predict_number_strokes(drawing)
            else:
                self.reading = self.recognizer.predict_strokes(drawing)
            self.error = None
        except Exception as error:  # noqa: BLE001 - the view shows it
            self.reading, self.error = None, error
        finally:
            self.seconds = time.perf_counter() - started
        return self.reading

    def fresh_reading(self) -> DigitPrediction | NumberPrediction | None:
        """The reading of exactly the strokes on the canvas (a live reading may lag behind the pen)."""
        if self.stale or self.current is not None:
            self.current = None
            self.read()
        return self.reading

    @property
    def readable(self) -> bool:
        """Whether the latest reading found something to save."""
        reading = self.reading
        if reading is None:
            return False
        return bool(reading.digits) if self.mode == "number" else reading.digit is not None

    # -- corrections ------------------------------------------------------------------------------------------

    def _checked_drawings(self) -> PersonalDrawings:
        if self.drawings is None:
            raise ValueError(
                "this pad has nowhere to save drawings: make it with "
                "DrawingPad(rec, drawings=PersonalDrawings('my_digits.jsonl'))"
            )
        return self.drawings

    def save_as(self, label: int | str) -> int:
        """Save the drawing (digit mode) as the digit ``label`` and clear it; return `saved`.

        `ValueError` without ``drawings``, in number mode, for a label that is not one digit, or when there is
        nothing readable to save; `OSError` when the file cannot be written (the drawing stays).
        """
        drawings = self._checked_drawings()
        try:
            label = check_label(label)
        except ValueError:
            raise ValueError(f"label must be one digit, 0 to 9 (the digit you drew); got {label!r}") from None
        if self.mode != "digit":
            raise ValueError(
                "the pad is in number mode: save a number with save_number('205'), or switch to digit mode "
                "(pad.mode = 'digit') to save one digit"
            )
        reading = self.fresh_reading()
        if reading is None or reading.digit is None:
            raise ValueError("nothing readable to save: draw a digit first (a tap or a speck is not saved)")
        drawings.add(self.drawing, label)
        self.saved += 1
        self.clear()  # only after the drawing is safely in the file
        return self.saved

    def save_number(self, text: str) -> int:
        """Save each digit of the drawing (number mode) with its digit in ``text`` and clear it; return `saved`.

        ``text`` is the right number, one digit per digit the pad found (left to right); each digit is saved as its
        own drawing: the strokes (or parts of strokes) the reader read it from. `ValueError`, and nothing saved,
        without ``drawings``, in digit mode, for text that is not digits, or when the number of digits typed is not
        the number found; `OSError` when the file cannot be written.
        """
        drawings = self._checked_drawings()
        if not isinstance(text, str) or not text.strip().isdecimal() or not text.strip().isascii():
            raise ValueError(f"type the number as digits only, e.g. 205; got {text!r}")
        text = text.strip()
        if self.mode != "number":
            raise ValueError(
                "the pad is in digit mode: save one digit with save_as(3), or switch to number mode "
                "(pad.mode = 'number') to save a number"
            )
        reading = self.fresh_reading()
        found = len(reading.digits) if reading is not None else 0
        if found == 0:
            raise ValueError("nothing readable to save: write a number first")
        if len(text) != found:
            raise ValueError(
                f"you typed {len(text)} digit{'s' * (len(text) != 1)} ({text}) but the pad found {found} in the "
                f"drawing ({reading.text}): type one digit for each digit the pad shows, or clear and write the "
                "digits further apart. Nothing was saved."
            )
        parts = [p.strokes or () for p in reading.digits]  # the strokes (or parts) each digit was read from
        missing = [str(i) for i, strokes in enumerate(parts, 1) if not strokes]
        if missing:
            raise ValueError(
                f"no strokes belong to digit {', '.join(missing)} of the reading; clear and write the digits "
                "further apart. Nothing was saved."
            )
        drawing = self.drawing
        for index, (strokes, digit) in enumerate(zip(parts, text, strict=True)):
            try:
                drawings.add(drawing.with_strokes(strokes), int(digit))
            except Exception as error:
                if index:  # the file is appended one drawing at a time: say how far it got
                    error.add_note(f"{index} of the {found} digits were saved before this error.")
                raise
            self.saved += 1
        self.clear()
        return self.saved

    def save_reading(self) -> int:
        """Save the drawing with what the pad read (the "right" button)."""
        self._checked_drawings()
        reading = self.fresh_reading()
        if self.mode == "number":
            if reading is None or not reading.digits:
                raise ValueError("nothing readable to save: write a number first")
            return self.save_number(reading.text)
        if reading is None or reading.digit is None:
            raise ValueError("nothing readable to save: draw a digit first (a tap or a speck is not saved)")
        return self.save_as(reading.digit)
