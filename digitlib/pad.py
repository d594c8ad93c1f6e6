"""The drawing pad: draw a digit or a whole number with mouse, finger or pen; the model reads it.

    >>> pad = DrawingPad(Recognizer.load())        # show `pad` in a notebook cell and draw
    >>> pad.add_stroke([(90, 60), (190, 60), (120, 220)]).digit    # or draw from code (canvas px)
    7
    >>> pad = DrawingPad(rec, drawings=PersonalDrawings())   # corrections are saved, and read with at once

The pad is a view of a `digitlib.pad_state.PadState` (``pad.state``: the strokes, mode, pen and latest reading),
built of the widgets in `digitlib.pad_widgets`, in the way of ipywidgets' model and view: the canvas only shows
the strokes, so the same strokes give the same answer with or without a browser. ``mode`` and ``pen_width`` are
traitlets to set, observe and ``link``; ``prediction``, ``error`` and ``saved`` are set by the pad. With
``drawings`` the pad reads through `digitlib.memory.remember` (a drawing you correct is read your way from the
next reading on) and offers "Learn my hand" (`DrawingPad.learn`), a fine-tune in the background.

For browser tests the answer is the text of ``.digitlib-pad-result .digitlib-pad-answer`` (``data-state`` one of
``empty``, ``confident``, ``unsure``, ``error``, and ``data-live="true"`` while the pen is down: the reading when it
lifts is the pad's last word); errors are in ``.digitlib-pad-error``; the other classes are in `digitlib.pad_widgets`.
"""

from __future__ import annotations

import functools
import numbers
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
from ipycanvas import hold_canvas

from digitlib import memory, pad_view
from digitlib.drawing import PAD_PEN_WIDTHS, Point, Stroke
from digitlib.drawing import canvas_size as checked_canvas
from digitlib.learning import Learning
from digitlib.pad_state import MODES, Mode, PadState, checked_point
from digitlib.pad_traits import Choice, Count, Message, Pixels, Reading, shows_errors
from digitlib.pad_widgets import Controls, CorrectionRow, InkCanvas, html_area
from digitlib.render import render_drawing

if TYPE_CHECKING:
    from digitlib.drawings_store import PersonalDrawings
    from digitlib.recognizer import DigitPrediction, NumberPrediction, Recognizer

#: Seconds between two live predictions while the pen moves. Mouse moves arrive about 60 times
#: a second; reading every one would make the kernel fall behind the pen.
LIVE_INTERVAL = 0.1


class DrawingPad(widgets.VBox):
    """A canvas to draw digits on, with the model's live reading beside it.

    Args:
        recognizer: a `digitlib.recognizer.Recognizer` (``Recognizer.load()`` for the shipped model).
        mode: ``"digit"`` to read one digit, ``"number"`` to read digits side by side.
        canvas_size: one int for a square or ``(width, height)`` in px (`digitlib.drawing.CANVAS_SIDES`).
        pen_width: the pen's diameter in canvas px (`digitlib.drawing.PAD_PEN_WIDTHS`; the slider changes it).
        live_interval: least seconds between two readings while the pen moves.
        drawings: a `digitlib.drawings_store.PersonalDrawings` to save corrected drawings in; with it the pad shows
            "right" and the ten digits (a box for the number in number mode), what it has learnt, and "Learn my
            hand". Without it, no correction row appears.
        remember: with ``drawings``, read through `digitlib.memory.remember` (the default).

    Traits: ``mode`` and ``pen_width`` (setting either reads the drawing again); read-only ``prediction`` (a
    ``DigitPrediction`` or ``NumberPrediction``, None when the reading failed), ``error`` (the message shown, or
    None) and ``saved`` (drawings this pad saved).

    Attributes:
        state: the `digitlib.pad_state.PadState` this widget shows; ``state.recognizer`` reads.
        canvas, controls, corrections: the `digitlib.pad_widgets` views (``corrections`` None without drawings).
        learning: the latest "Learn my hand" job (`digitlib.learning.Learning`), or None.
    """

    mode = Choice(MODES, default_value="digit", help="'digit' reads one digit, 'number' digits side by side")
    pen_width = Pixels(20.0, min=PAD_PEN_WIDTHS[0], max=PAD_PEN_WIDTHS[1], help="pen diameter, canvas px")
    prediction = Reading(None, allow_none=True, read_only=True, help="the latest reading").tag(
        changed_by="draw, or call add_stroke(), undo() or clear(), and the pad reads the drawing again"
    )
    error = Message(None, allow_none=True, read_only=True, help="the error the pad shows, or None").tag(
        changed_by="the pad shows its errors here and clears them at the next good reading"
    )
    saved = Count(0, read_only=True, help="drawings this pad saved in its PersonalDrawings").tag(
        changed_by="it counts the drawings saved with save_as(), save_number() or the pad's buttons"
    )

    def __init__(
        self,
        recognizer: Recognizer,
        mode: Mode = "digit",
        canvas_size: int | tuple[int, int] = 280,
        pen_width: float = 20,
        live_interval: float = LIVE_INTERVAL,
        drawings: PersonalDrawings | None = None,
        remember: bool = True,
    ) -> None:
        # Check everything before any widget exists, so a bad argument leaves nothing half-built behind.
        if not callable(getattr(recognizer, "predict_strokes", None)):
            raise TypeError(
                "recognizer must be a digitlib Recognizer (Recognizer.load() for the shipped model), "
                f"got {type(recognizer).__name__}"
            )
        mode = type(self).mode.validate(self, mode)
        pen_width = type(self).pen_width.validate(self, pen_width)
        width, height = checked_canvas(canvas_size)
        if isinstance(live_interval, bool) or not isinstance(live_interval, numbers.Real) or not live_interval >= 0:
            raise ValueError(f"live_interval must be a number of seconds >= 0, got {live_interval!r}")
        if drawings is not None and not callable(getattr(drawings, "add", None)):
            raise TypeError(
                "drawings must be a digitlib.drawings_store.PersonalDrawings (PersonalDrawings('my_digits.jsonl')), "
                f"got {type(drawings).__name__}"
            )
        if drawings is not None and remember:
            recognizer = memory.remember(recognizer, drawings)  # a correction counts from the next reading on
        self.state = PadState(recognizer, (width, height), pen_width, mode, drawings)
        self.learning: Learning | None = None
        self._learns_from = self.state.base_recognizer  # each "Learn my hand" starts again from the model given
        self.live_interval = float(live_interval)
        self._last_live = 0.0

        self.canvas = InkCanvas(width, height)
        self.controls = Controls(mode, pen_width)
        c = self.controls
        self.mode_toggle, self.pen_slider, self.undo_button, self.clear_button = (
            c.mode_toggle,
            c.pen_slider,
            c.undo_button,
            c.clear_button,
        )
        self.hint, self.result = html_area("digitlib-pad-hint"), html_area("digitlib-pad-result")
        self.details, self.error_area = html_area("digitlib-pad-details"), html_area("digitlib-pad-error", hidden=True)
        readout = widgets.VBox(
            [self.result, self.details], layout=widgets.Layout(min_width="220px", margin="0 0 0 16px")
        )
        children = [
            widgets.HTML(pad_view.stylesheet()),
            self.hint,
            widgets.HBox([self.canvas, readout], layout=widgets.Layout(align_items="flex-start", flex_flow="row wrap")),
            self.controls,
        ]
        self.right_button = self.save_button = self.number_box = self.saved_counter = None
        self.corrections: CorrectionRow | None = None
        self.label_buttons: list[widgets.Button] = []
        if drawings is not None:
            children.append(self._build_corrections())
        children.append(self.error_area)
        super().__init__(children, mode=mode, pen_width=pen_width)
        self.add_class("digitlib-pad")

        # The pad's traits drive its controls and the controls drive the traits: one state, two views.
        widgets.link((self, "mode"), (self.mode_toggle, "value"))
        widgets.link((self, "pen_width"), (self.pen_slider, "value"))
        self.observe(self._on_mode_change, names="mode")
        self.observe(self._on_pen_width_change, names="pen_width")

        self.canvas.on_mouse_down(self._on_pen_down)
        self.canvas.on_mouse_move(self._on_pen_move)
        self.canvas.on_mouse_up(self._on_mouse_up)
        self.canvas.on_mouse_out(self._on_pen_up)  # a pen that leaves the canvas lifts
        self.canvas.on_touch_start(self._on_touch_start)
        self.canvas.on_touch_move(self._on_touch_move)
        self.canvas.on_touch_end(self._on_touch_end)
        self.canvas.on_touch_cancel(self._on_touch_end)
        self.canvas.on_client_ready(self._on_client_ready)  # a reloaded page gets a blank canvas
        self.undo_button.on_click(self._guarded(lambda _button: self.undo()))
        self.clear_button.on_click(self._guarded(lambda _button: self.clear()))

        self._redraw()
        self._update_hint()
        self._read()

    def _build_corrections(self) -> CorrectionRow:
        """The row that saves the drawing with its right label, and teaches the pad (`digitlib.pad_corrections`)."""
        row = CorrectionRow(
            on_right=self._guarded(self.save_reading, "Nothing was saved"),
            on_label=self._guarded(self.save_as, "Nothing was saved"),
            on_save=self._guarded(self.save_number, "Not saved"),
            on_learn=self._guarded(self.learn, "Could not start learning"),
            on_cancel=self._guarded(lambda: self.learning and self.learning.cancel()),
        )
        self.right_button, self.label_buttons = row.right_button, row.label_buttons
        self.number_box, self.save_button, self.saved_counter = row.number_box, row.save_button, row.saved_counter
        self.corrections = row
        return row

    def __repr__(self) -> str:
        width, height = self.canvas_size
        return f"DrawingPad(mode={self.mode!r}, canvas={width}x{height}, strokes={len(self.state.strokes)})"

    # -- public API -----------------------------------------------------------------------------

    @property
    def recognizer(self) -> Recognizer:
        """What reads the drawing."""
        return self.state.recognizer

    @property
    def drawings(self) -> PersonalDrawings | None:
        """Where corrections are saved (None: nowhere)."""
        return self.state.drawings

    @property
    def canvas_size(self) -> tuple[int, int]:
        """The canvas's ``(width, height)`` in pixels (fixed when the pad is made)."""
        return self.state.canvas

    @property
    def strokes(self) -> list[list[Point]]:
        """A copy of the kept strokes, each a list of (x, y) canvas points."""
        return [list(stroke) for stroke in self.state.strokes]

    def add_stroke(self, stroke: Stroke) -> DigitPrediction | NumberPrediction | None:
        """Add one stroke of (x, y) canvas points, draw it and read the drawing again; return the new
        :attr:`prediction`. `ValueError`, and the pad unchanged, for a stroke that is not finite (x, y) pairs."""
        return self.add_strokes([stroke])

    def add_strokes(self, strokes: Sequence[Stroke]) -> DigitPrediction | NumberPrediction | None:
        """Add several strokes at once (one reading at the end); see :meth:`add_stroke`."""
        added = self.state.add_strokes(strokes)
        with hold_canvas():
            for stroke in added:
                self.canvas.draw_stroke(stroke, self.state.pen)
        return self._read()

    def undo(self) -> None:
        """Remove the last stroke and read the drawing again."""
        self.state.undo()
        self._redraw()
        self._read()

    def clear(self) -> None:
        """Remove every stroke."""
        self.state.clear()
        self._redraw()
        self._read()

    def canvas_image(self) -> np.ndarray:
        """The drawing as the canvas shows it: uint8 (height, width, 3), dark ink on white."""
        return render_drawing(self.state.drawing)

    # -- learning -----------------------------------------------------------------------------------------------

    def learn(self, seed: int = 0) -> Learning:
        """Fine-tune a model of your own on the saved drawings in the background ("Learn my hand"); the pad keeps
        reading with the model in use, and swaps the new one in (still remembering) when it is ready. Cancel it
        with ``pad.learning.cancel()``; a failure shows in the pad and leaves the model in use as it was."""
        if self.drawings is None:
            raise ValueError("this pad has no drawings to learn from: make it with DrawingPad(rec, drawings=...)")
        if self.learning is not None and self.learning.running:
            raise RuntimeError("the pad is learning already; wait for it or press Cancel")
        self.learning = Learning(
            self._learns_from,
            self.drawings,
            done=self._learnt,
            failed=self._learning_failed,
            cancelled=lambda: self._show_learning("cancelled"),
            step=self._step,
        )
        self.learning.start()
        self._show_learning("running")
        return self.learning

    def _step(self, fraction: float) -> None:
        if self.corrections is not None:
            self.corrections.progress.value = fraction

    def _learnt(self, mine: Recognizer) -> None:
        self.state.use(mine)
        self._show_learning("done")
        self._read()

    def _learning_failed(self, error: BaseException) -> None:
        self._show_learning("failed", pad_view.error_text(error))

    def _show_learning(self, status: str, message: str = "") -> None:
        if self.corrections is not None:
            self.corrections.show_learning(status, message=message)

    # -- corrections (see PadState) ---------------------------------------------------------------

    def save_as(self, label: int | str) -> int:
        """Save the drawing (digit mode) as the digit ``label``, then clear the canvas; return :attr:`saved`.

        What the "right" and digit buttons do. `ValueError` without ``drawings``, in number mode (use
        :meth:`save_number`), for a label that is not one digit, or when there is nothing readable to save;
        `OSError` when the file cannot be written (the drawing stays on the canvas).
        """
        return self._saving(self.state.save_as, label)

    def save_number(self, text: str) -> int:
        """Save each digit of the drawing (number mode) with its digit in ``text``, then clear the canvas.

        What the number box and its Save button do: one digit typed per digit the pad found, each saved as its own
        drawing, the strokes (or parts) it was read from. `ValueError`, and nothing saved, without ``drawings``, in
        digit mode, for text that is not digits, or when the count differs from the digits found.
        """
        return self._saving(self.state.save_number, text)

    def save_reading(self) -> int:
        """Save the drawing with what the pad read (the "right" button)."""
        return self._saving(self.state.save_reading)

    def _saving(self, save: Callable[..., int], *args: Any) -> int:
        try:
            return save(*args)
        finally:  # show what was saved, and the cleared canvas, even when a later digit failed
            self.set_trait("saved", self.state.saved)
            if not self.state.strokes:
                self._redraw()
                self.state.read()  # the empty canvas's reading, not the saved drawing's
            self._show()

    # -- pen events and buttons (called by the widgets; errors show in the pad) ---------------------------

    def _guarded(self, action: Callable, headline: str = "The pad hit an error") -> Callable:
        """``action`` as a widget callback whose errors show in the pad under ``headline``."""
        return functools.partial(shows_errors(headline)(lambda _pad, *args: action(*args)), self)

    @shows_errors()
    def _on_pen_down(self, x: float, y: float) -> None:
        point = checked_point(x, y)
        self.state.pen_down(point)
        self.canvas.dot(point, self.state.pen)

    @shows_errors()
    def _on_pen_move(self, x: float, y: float) -> None:
        if self.state.current is None:
            return  # the mouse moves over the canvas with no button pressed
        if not self._extend_stroke(checked_point(x, y)):
            return
        now = time.perf_counter()
        # Read at most every live_interval seconds, and never spend more than about a third of
        # the time reading, so the kernel keeps up with the pen on a slow machine.
        if now - self._last_live >= max(self.live_interval, 3 * self.state.seconds):
            self._last_live = now
            self._read()

    @shows_errors()
    def _on_mouse_up(self, x: float, y: float) -> None:
        # The stroke ends where the button was released: a busy browser may merge the last moves into
        # fewer events, and the release carries the final position.
        if self.state.current is not None:
            self._extend_stroke(checked_point(x, y))
        self._on_pen_up()

    def _extend_stroke(self, point: Point) -> bool:
        """Add ``point`` to the stroke being drawn and ink it; False for the point the stroke ends at already."""
        last = self.state.current[-1]
        if not self.state.pen_move(point):
            return False
        self.canvas.line(last, point)
        return True

    @shows_errors()
    def _on_pen_up(self, x: float | None = None, y: float | None = None) -> None:
        if self.state.pen_up():
            self._read()

    @shows_errors()
    def _on_touch_start(self, touches: list[tuple[float, float]]) -> None:
        if touches:
            self._on_pen_down(*touches[0])  # one finger draws; more fingers are ignored

    @shows_errors()
    def _on_touch_move(self, touches: list[tuple[float, float]]) -> None:
        if touches:
            self._on_pen_move(*touches[0])

    @shows_errors()
    def _on_touch_end(self, touches: list[tuple[float, float]]) -> None:
        self._on_pen_up()

    @shows_errors()
    def _on_mode_change(self, change: dict) -> None:
        self.state.mode = change["new"]
        self._update_hint()
        self._read()

    @shows_errors()
    def _on_pen_width_change(self, change: dict) -> None:
        self.state.pen = float(change["new"])
        self._redraw()
        self._read()

    @shows_errors()
    def _on_client_ready(self) -> None:
        self._redraw()

    # -- drawing --------------------------------------------------------------------------------

    def _redraw(self) -> None:
        """Draw the paper and every stroke again (after undo, clear, a new pen width, or for a browser that
        connects late)."""
        self.canvas.redraw(self.state.strokes, self.state.pen)

    # -- reading --------------------------------------------------------------------------------

    def _read(self) -> DigitPrediction | NumberPrediction | None:
        """Read the strokes (the one being drawn included), show the result and tell the observers."""
        self.state.read()
        self._show()
        return self.state.reading

    def _show(self) -> None:
        """Show the state: the answer, the details, the error and the correction row."""
        state = self.state
        if state.error is not None:
            self.set_trait("prediction", None)
            self._show_error(state.error)
            self._update_corrections()
            return
        self._clear_error()
        live = state.current is not None  # the pen is down: the pad reads again when it lifts
        self.result.value = pad_view.answer_html(state.reading, drawn=bool(state.strokes), live=live)
        self.details.value = pad_view.details_html(state.reading)
        self.set_trait("prediction", state.reading)  # after the view, so observers see the pad as it shows
        self._update_corrections()

    def _update_hint(self) -> None:
        self.hint.value = pad_view.hint_html(self.mode)

    def _update_corrections(self) -> None:
        """Offer the correction row that fits the mode and the reading; nothing to save disables it."""
        if self.corrections is None:
            return
        reading, readable = self.state.reading, self.state.readable
        digit = getattr(reading, "digit", None)
        self.corrections.update(self.mode == "number", readable, getattr(reading, "text", ""), digit)
        if self.state.current is None:  # not at every live reading: the count reads the file (another pad may add)
            learnt = getattr(self.state.recognizer, "learnt", None)
            self.corrections.update_counts(self.saved, self.state.stored(), self.state.file_name, learnt)

    # -- errors ---------------------------------------------------------------------------------

    def _show_error(self, error: BaseException, headline: str = "The pad hit an error") -> None:
        self.set_trait("error", pad_view.error_text(error))
        self.error_area.value = pad_view.error_html(error, headline)
        self.error_area.layout.display = None
        if self.prediction is None:
            self.result.value = pad_view.error_answer_html()

    def _clear_error(self) -> None:
        if self.error is not None:
            self.set_trait("error", None)
            self.error_area.value = ""
            self.error_area.layout.display = "none"
