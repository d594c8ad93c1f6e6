"""The drawing pad: draw a digit or a whole number with mouse, finger or pen; the model reads it.

    >>> from digitlib.recognizer import Recognizer
    >>> from digitlib.pad import DrawingPad
    >>> pad = DrawingPad(Recognizer.load())        # show `pad` in a notebook cell and draw
    >>> prediction = pad.add_stroke([(90, 60), (190, 60), (120, 220)])  # or draw from code (canvas px)
    >>> pad.prediction.digit
    7

The pad is a view of a `digitlib.pad_state.PadState` (``pad.state``), which keeps the strokes it
receives, from the canvas's mouse and touch events or from :meth:`DrawingPad.add_stroke`, and
reads them with :meth:`~digitlib.recognizer.Recognizer.predict_strokes` (or
``predict_number_strokes`` in number mode). The browser canvas is only a view of the strokes, so
the same strokes give the same answer with or without a browser.

The pad keeps its state in traitlets, as ipywidgets' own widgets do: ``mode`` and ``pen_width``
can be set, observed and linked (``ipywidgets.link((pad, "mode"), (toggle, "value"))``);
``prediction``, ``error`` and ``saved`` are set by the pad and can be observed or followed with
``ipywidgets.dlink``. With ``drawings=PersonalDrawings(...)`` the pad also offers to save each
drawing with its right label (see :meth:`DrawingPad.save_as` and :meth:`DrawingPad.save_number`).

The pad is an ipywidgets widget built on ipycanvas; it works in JupyterLab 4 and Notebook 7.
Its look is in ``digitlib/pad.css`` and its HTML in :mod:`digitlib.pad_view`. Its visible state
is also in the DOM for browser tests: the answer is the text of
``.digitlib-pad-result .digitlib-pad-answer`` (with ``data-state`` one of ``empty``,
``confident``, ``unsure``, ``error``, and ``data-live="true"`` while the pen is still down:
the reading when it lifts is the pad's last word), errors appear in ``.digitlib-pad-error``, the
corrections are ``.digitlib-pad-right``, ``.digitlib-pad-label-0`` … ``-9``,
``.digitlib-pad-number`` with ``.digitlib-pad-save``, and ``.digitlib-pad-saved`` counts them.
"""

from __future__ import annotations

import functools
import numbers
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import traitlets
from ipycanvas import MultiCanvas, hold_canvas

from digitlib import pad_view
from digitlib.drawing import PAD_PEN_WIDTHS, Point, Stroke, canvas_size
from digitlib.pad_state import MODES, Mode, PadState, checked_point
from digitlib.render import render_drawing

if TYPE_CHECKING:
    from digitlib.drawings_store import PersonalDrawings
    from digitlib.recognizer import DigitPrediction, NumberPrediction, Recognizer

#: Seconds between two live predictions while the pen moves. Mouse moves arrive about 60 times
#: a second; reading every one would make the kernel fall behind the pen.
LIVE_INTERVAL = 0.1

INK_COLOUR = "#111111"
PAPER_COLOUR = "#ffffff"


# -- traits whose bad values raise ValueError (what the pad promises), with a message that says what to do ----


class _Choice(traitlets.Enum):
    """An Enum trait that refuses other values with a ValueError naming the choices."""

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, str) and value in self.values:
            return value
        choices = " or ".join(repr(v) for v in self.values)
        raise ValueError(f"{self.name} must be {choices}, got {value!r}")


class _Pixels(traitlets.Float):
    """A Float trait for a length in canvas pixels, between ``min`` and ``max``; ValueError otherwise."""

    def validate(self, obj: Any, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not self.min <= value <= self.max:
            raise ValueError(f"{self.name} must be a number of pixels from {self.min:g} to {self.max:g}, got {value!r}")
        return float(value)


class _SetByThePad:
    """Mixin for a trait only the pad sets: users read and observe it; setting it raises AttributeError (as for any
    read-only attribute) saying what changes it. ``read_only`` stays set, for code that inspects traits."""

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"{type(obj).__name__}.{self.name} is read-only: {self.metadata['changed_by']}")


class _Reading(_SetByThePad, traitlets.Any):
    """The pad's latest reading."""


class _Message(_SetByThePad, traitlets.Unicode):
    """A message the pad shows."""


class _Count(_SetByThePad, traitlets.Int):
    """A count the pad keeps."""


def _shows_errors(headline: str = "The pad hit an error") -> Callable[[Callable], Callable]:
    """Wrap a widget event handler so that its errors show in the pad (under ``headline``) instead of being lost.

    An exception raised in an ipywidgets callback only reaches the kernel's log, which a
    learner never sees; the pad shows it under the canvas instead.
    """

    def decorate(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def wrapper(self: DrawingPad, *args, **kwargs):
            try:
                return handler(self, *args, **kwargs)
            except Exception as error:  # noqa: BLE001 - every error must reach the user
                self._show_error(error, headline)
                return None

        return wrapper

    return decorate


class DrawingPad(widgets.VBox):
    """A canvas to draw digits on, with the model's live reading beside it.

    Args:
        recognizer: a :class:`digitlib.recognizer.Recognizer` (``Recognizer.load()`` for the
            shipped model).
        mode: ``"digit"`` to read one digit, ``"number"`` to read digits side by side.
        canvas_size: the canvas in pixels, one int for a square or ``(width, height)``
            (`digitlib.drawing.CANVAS_SIDES`).
        pen_width: the pen's diameter in canvas pixels, within `digitlib.drawing.PAD_PEN_WIDTHS`
            (the slider changes it).
        live_interval: least seconds between two predictions while the pen moves.
        drawings: a :class:`digitlib.drawings_store.PersonalDrawings` to save corrected drawings
            in; with it, the pad shows "right" and the ten digits (a box for the number in number
            mode) under the canvas. Without it, no correction row appears.

    Traits (observe them, or ``link`` the first two to other widgets):
        mode: ``"digit"`` or ``"number"``; setting it reads the drawing again.
        pen_width: the pen's diameter in canvas pixels, for every stroke; setting it redraws
            and reads the drawing again.
        prediction (read-only): the latest reading, a ``DigitPrediction`` in digit mode or a
            ``NumberPrediction`` in number mode, or None when the last reading failed (see
            ``error``). Observers are told of each new reading (a blank number pad read blank
            again is the same reading, and no news).
        error (read-only): the message of the error the pad shows, or None.
        saved (read-only): how many drawings this pad has saved in ``drawings``.

    Attributes:
        state: the `digitlib.pad_state.PadState` this widget shows.
        canvas: the ipycanvas ``MultiCanvas`` (layer 0 paper, layer 1 ink).
        result, details, error_area: the HTML widgets with the answer, the probability bars
            and 28×28 images, and errors.
        right_button, label_buttons, number_box, save_button, saved_counter: the correction
            widgets (None without ``drawings``).
    """

    mode = _Choice(MODES, default_value="digit", help="'digit' reads one digit, 'number' digits side by side")
    pen_width = _Pixels(20.0, min=PAD_PEN_WIDTHS[0], max=PAD_PEN_WIDTHS[1], help="pen diameter, canvas px")
    prediction = _Reading(None, allow_none=True, read_only=True, help="the latest reading").tag(
        changed_by="draw, or call add_stroke(), undo() or clear(), and the pad reads the drawing again"
    )
    error = _Message(None, allow_none=True, read_only=True, help="the error the pad shows, or None").tag(
        changed_by="the pad shows its errors here and clears them at the next good reading"
    )
    saved = _Count(0, read_only=True, help="drawings this pad saved in its PersonalDrawings").tag(
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
    ) -> None:
        # Check everything before any widget exists, so a bad argument leaves nothing half-built behind.
        if not callable(getattr(recognizer, "predict_strokes", None)):
            raise TypeError(
                "recognizer must be a digitlib Recognizer (Recognizer.load() for the shipped model), "
                f"got {type(recognizer).__name__}"
            )
        mode = type(self).mode.validate(self, mode)
        pen_width = type(self).pen_width.validate(self, pen_width)
        width, height = _checked_canvas_size(canvas_size)
        if isinstance(live_interval, bool) or not isinstance(live_interval, numbers.Real) or not live_interval >= 0:
            raise ValueError(f"live_interval must be a number of seconds >= 0, got {live_interval!r}")
        if drawings is not None and not callable(getattr(drawings, "add", None)):
            raise TypeError(
                "drawings must be a digitlib.drawings_store.PersonalDrawings (PersonalDrawings('my_digits.jsonl')), "
                f"got {type(drawings).__name__}"
            )
        self.state = PadState(recognizer, (width, height), pen_width, mode, drawings)
        self.live_interval = float(live_interval)
        self._last_live = 0.0

        # A fixed CSS size: in a flex box the canvas would otherwise be stretched, and the ink distorted.
        canvas_layout = widgets.Layout(width=f"{width}px", height=f"{height}px", flex="0 0 auto", margin="1px")
        self.canvas = MultiCanvas(2, width=width, height=height, layout=canvas_layout)
        self.canvas.add_class("digitlib-pad-canvas")
        self.mode_toggle = widgets.ToggleButtons(
            options=[("digit", "digit"), ("number", "number")],
            value=mode,
            tooltips=["read one digit", "read digits side by side"],
            style={"button_width": "84px"},
        )
        self.mode_toggle.add_class("digitlib-pad-mode")
        low, high = PAD_PEN_WIDTHS
        self.pen_slider = widgets.FloatSlider(
            value=pen_width, min=low, max=high, step=1, description="pen", readout_format=".0f", continuous_update=False
        )
        self.pen_slider.add_class("digitlib-pad-pen")
        self.undo_button = widgets.Button(description="Undo", icon="undo", tooltip="remove the last stroke")
        self.clear_button = widgets.Button(description="Clear", icon="trash", tooltip="start again")
        self.undo_button.add_class("digitlib-pad-undo")
        self.clear_button.add_class("digitlib-pad-clear")
        self.hint = widgets.HTML()
        self.hint.add_class("digitlib-pad-hint")
        self.result = widgets.HTML()
        self.result.add_class("digitlib-pad-result")
        self.details = widgets.HTML()
        self.details.add_class("digitlib-pad-details")
        self.error_area = widgets.HTML(layout=widgets.Layout(display="none"))
        self.error_area.add_class("digitlib-pad-error")

        controls = widgets.HBox(
            [self.mode_toggle, self.pen_slider, self.undo_button, self.clear_button],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        controls.add_class("digitlib-pad-controls")
        readout = widgets.VBox(
            [self.result, self.details], layout=widgets.Layout(min_width="220px", margin="0 0 0 16px")
        )
        children = [
            widgets.HTML(pad_view.stylesheet()),
            self.hint,
            widgets.HBox([self.canvas, readout], layout=widgets.Layout(align_items="flex-start", flex_flow="row wrap")),
            controls,
        ]
        self.right_button = self.save_button = self.number_box = self.saved_counter = None
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
        self.undo_button.on_click(self._on_undo_click)
        self.clear_button.on_click(self._on_clear_click)

        self._redraw()
        self._update_hint()
        self._read()

    def _build_corrections(self) -> widgets.VBox:
        """The row that saves the drawing with its right label: "right" and 0-9 in digit mode, a box for the
        number in number mode, and the counter. Buttons are real <button>s, so Tab and Enter work; the
        description is what a screen reader says, the tooltip (the title) says what the button does."""
        self.right_button = widgets.Button(description="right", icon="check", button_style="success")
        self.right_button.add_class("digitlib-pad-right")
        self.right_button.on_click(self._on_right_click)
        for digit in range(10):
            button = widgets.Button(description=str(digit), tooltip=f"It's a {digit}: save this drawing as a {digit}")
            button.add_class("digitlib-pad-label")
            button.add_class(f"digitlib-pad-label-{digit}")
            button.on_click(functools.partial(self._on_label_click, digit))
            self.label_buttons.append(button)
        question = widgets.HTML(pad_view.prompt_html("Is the reading right?"))
        otherwise = widgets.HTML(pad_view.prompt_html("or it's a"))
        self._digit_row = widgets.HBox(
            [question, self.right_button, otherwise, *self.label_buttons],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.number_box = widgets.Text(
            description="the number", placeholder="e.g. 205", style={"description_width": "initial"}
        )
        self.number_box.add_class("digitlib-pad-number")
        self.save_button = widgets.Button(
            description="Save", icon="save", tooltip="save each digit of the drawing with the digit typed for it"
        )
        self.save_button.add_class("digitlib-pad-save")
        self.save_button.on_click(self._on_save_click)
        self._number_row = widgets.HBox(
            [self.number_box, self.save_button], layout=widgets.Layout(align_items="center")
        )
        self.saved_counter = widgets.HTML()
        self.saved_counter.add_class("digitlib-pad-saved")
        box = widgets.VBox([self._digit_row, self._number_row, self.saved_counter])
        box.add_class("digitlib-pad-corrections")
        return box

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
        """Add one stroke, given as (x, y) canvas points, draw it and read the drawing again.

        Returns:
            the new :attr:`prediction`.

        Raises:
            ValueError: when the stroke is not a non-empty list of finite (x, y) pairs; the
                pad is left unchanged.
        """
        return self.add_strokes([stroke])

    def add_strokes(self, strokes: Sequence[Stroke]) -> DigitPrediction | NumberPrediction | None:
        """Add several strokes at once (one reading at the end); see :meth:`add_stroke`."""
        added = self.state.add_strokes(strokes)
        with hold_canvas():
            for stroke in added:
                self._draw_stroke(stroke)
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
            self._show()

    # -- pen events (called by the canvas; errors show in the widget) ---------------------------

    @_shows_errors()
    def _on_pen_down(self, x: float, y: float) -> None:
        point = checked_point(x, y)
        self.state.pen_down(point)
        with hold_canvas():
            self._ink.fill_circle(point[0], point[1], self.state.pen / 2)

    @_shows_errors()
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

    @_shows_errors()
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
        with hold_canvas():
            self._ink.stroke_line(last[0], last[1], point[0], point[1])
        return True

    @_shows_errors()
    def _on_pen_up(self, x: float | None = None, y: float | None = None) -> None:
        if self.state.pen_up():
            self._read()

    @_shows_errors()
    def _on_touch_start(self, touches: list[tuple[float, float]]) -> None:
        if touches:
            self._on_pen_down(*touches[0])  # one finger draws; more fingers are ignored

    @_shows_errors()
    def _on_touch_move(self, touches: list[tuple[float, float]]) -> None:
        if touches:
            self._on_pen_move(*touches[0])

    @_shows_errors()
    def _on_touch_end(self, touches: list[tuple[float, float]]) -> None:
        self._on_pen_up()

    @_shows_errors()
    def _on_undo_click(self, _button: widgets.Button) -> None:
        self.undo()

    @_shows_errors()
    def _on_clear_click(self, _button: widgets.Button) -> None:
        self.clear()

    @_shows_errors("Nothing was saved")
    def _on_right_click(self, _button: widgets.Button) -> None:
        self.save_reading()

    @_shows_errors("Nothing was saved")
    def _on_label_click(self, digit: int, _button: widgets.Button) -> None:
        self.save_as(digit)

    @_shows_errors("Not saved")
    def _on_save_click(self, _button: widgets.Button) -> None:
        self.save_number(self.number_box.value)

    @_shows_errors()
    def _on_mode_change(self, change: dict) -> None:
        self.state.mode = change["new"]
        self._update_hint()
        self._read()

    @_shows_errors()
    def _on_pen_width_change(self, change: dict) -> None:
        self.state.pen = float(change["new"])
        self._redraw()
        self._read()

    @_shows_errors()
    def _on_client_ready(self) -> None:
        self._redraw()

    # -- drawing --------------------------------------------------------------------------------

    @property
    def _ink(self):
        return self.canvas[1]

    def _redraw(self) -> None:
        """Draw the paper and every stroke again (after undo, clear, a new pen width, or for a
        browser that connects late)."""
        paper, ink = self.canvas[0], self._ink
        width, height = self.canvas_size
        with hold_canvas():
            paper.clear()
            paper.fill_style = PAPER_COLOUR
            paper.fill_rect(0, 0, width, height)
            ink.clear()
            ink.stroke_style = INK_COLOUR
            ink.fill_style = INK_COLOUR
            ink.line_width = self.state.pen
            ink.line_cap = "round"
            ink.line_join = "round"
            for stroke in self.state.strokes:
                self._draw_stroke(stroke)

    def _draw_stroke(self, stroke: list[Point]) -> None:
        # Round caps and joins, as digitlib.render draws them for the model.
        if len(stroke) == 1:
            self._ink.fill_circle(stroke[0][0], stroke[0][1], self.state.pen / 2)
        else:
            self._ink.stroke_lines(stroke)

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
        if self.drawings is None:
            return
        number = self.mode == "number"
        self._digit_row.layout.display = "none" if number else None
        self._number_row.layout.display = None if number else "none"
        reading, readable = self.state.reading, self.state.readable
        for button in [self.right_button, *self.label_buttons, self.save_button]:
            button.disabled = not readable
        if readable and not number:
            self.right_button.tooltip = f"Right, it's a {reading.digit}: save this drawing as a {reading.digit}"
        else:
            self.right_button.tooltip = "Right: save the drawing as the pad read it (draw something first)"
        if number:
            self.number_box.value = reading.text if readable else ""  # the reading, to correct where wrong
        if self.state.current is None:  # not at every live reading: the count reads the file (another pad may add)
            total = _count(self.drawings)
            self.saved_counter.value = pad_view.saved_html(self.saved, total, _file_name(self.drawings))

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


def _checked_canvas_size(canvas: int | tuple[int, int]) -> tuple[int, int]:
    """The pad's canvas ``(width, height)`` (`digitlib.drawing.canvas_size`)."""
    return canvas_size(canvas)


def _count(drawings: PersonalDrawings) -> int | None:
    """How many drawings the file holds, or None when it cannot be read now (the counter must not stop the pad;
    saving into such a file shows its own error)."""
    try:
        return len(drawings)
    except (TypeError, ValueError, OSError):
        return None


def _file_name(drawings: PersonalDrawings) -> str | None:
    path = getattr(drawings, "path", None)
    return getattr(path, "name", None) or (str(path) if path else None)
