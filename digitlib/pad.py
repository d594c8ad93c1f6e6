"""The drawing pad: draw a digit or a whole number with mouse, finger or pen; the model reads it.

    >>> from digitlib.recognizer import Recognizer
    >>> from digitlib.pad import DrawingPad
    >>> pad = DrawingPad(Recognizer.load())        # show `pad` in a notebook cell and draw
    >>> prediction = pad.add_stroke([(90, 60), (190, 60), (120, 220)])  # or draw from code (canvas px)
    >>> pad.prediction.digit
    7

The pad keeps the strokes it receives, from the canvas's mouse and touch events or from
:meth:`DrawingPad.add_stroke`, and reads those strokes with
:meth:`~digitlib.recognizer.Recognizer.predict_strokes` (or ``predict_number_strokes`` in
number mode), which draw them with :mod:`digitlib.render`. The browser canvas is only a view
of the strokes, so the same strokes give the same answer with or without a browser.

The pad is an ipywidgets widget built on ipycanvas; it works in JupyterLab 4 and Notebook 7.
Its visible state is also in the DOM for browser tests: the answer is the text of
``.digitlib-pad-result .digitlib-pad-answer`` (with ``data-state`` one of ``empty``,
``confident``, ``unsure``, ``error``), and errors appear in ``.digitlib-pad-error``.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import math
import numbers
import time
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

import ipywidgets as widgets
import numpy as np
from ipycanvas import MultiCanvas, hold_canvas
from PIL import Image

from digitlib.render import Point, Stroke, canvas_shape, check_strokes, render_strokes

if TYPE_CHECKING:
    from digitlib.recognizer import DigitPrediction, NumberPrediction, Recognizer

Mode = Literal["digit", "number"]
MODES: tuple[Mode, ...] = ("digit", "number")

#: Seconds between two live predictions while the pen moves. Mouse moves arrive about 60 times
#: a second; reading every one would make the kernel fall behind the pen.
LIVE_INTERVAL = 0.1
#: Pen widths the slider offers, in canvas pixels.
PEN_WIDTH_RANGE = (6, 40)

INK_COLOUR = "#111111"
PAPER_COLOUR = "#ffffff"

_HINTS = {
    "digit": "Draw one digit (0-9), as large as you like.",
    "number": "Write a number: digits side by side, each one apart from the next.",
}

_CSS = """
<style>
.digitlib-pad { gap: 6px; }
.digitlib-pad-canvas { outline: 1px solid #9e9e9e; cursor: crosshair;
  touch-action: none; }
.digitlib-pad-answer { font: 600 44px/1.1 system-ui, sans-serif; min-height: 50px; }
.digitlib-pad-answer[data-state="unsure"] { color: #b26a00; font-size: 30px; }
.digitlib-pad-answer[data-state="error"] { color: #c62828; font-size: 30px; }
.digitlib-pad-caption { font: 13px system-ui, sans-serif; color: #555; }
.digitlib-pad-bars { font: 12px/1.35 ui-monospace, monospace; margin-top: 6px; }
.digitlib-pad-bar-row { display: flex; align-items: center; gap: 6px; }
.digitlib-pad-track { width: 140px; height: 10px; background: #eee; border-radius: 2px; }
.digitlib-pad-fill { display: block; height: 100%; background: #90a4ae; border-radius: 2px; }
.digitlib-pad-top .digitlib-pad-fill { background: #1e88e5; }
.digitlib-pad-top { font-weight: 700; }
.digitlib-pad-views { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; }
.digitlib-pad-views figure { margin: 0; text-align: center; font: 12px system-ui, sans-serif; }
.digitlib-pad-views img { image-rendering: pixelated; border: 1px solid #9e9e9e; }
.digitlib-pad-unsure img { border-color: #b26a00; }
.digitlib-pad-error { color: #c62828; font: 13px system-ui, sans-serif; }
</style>
"""


def _shows_errors(handler: Callable) -> Callable:
    """Wrap a widget event handler so that its errors show in the pad instead of being lost.

    An exception raised in an ipywidgets callback only reaches the kernel's log, which a
    learner never sees; the pad shows it under the canvas instead.
    """

    @functools.wraps(handler)
    def wrapper(self: DrawingPad, *args, **kwargs):
        try:
            return handler(self, *args, **kwargs)
        except Exception as error:  # noqa: BLE001 - every error must reach the user
            self._show_error(error)
            return None

    return wrapper


class DrawingPad(widgets.VBox):
    """A canvas to draw digits on, with the model's live reading beside it.

    Args:
        recognizer: a :class:`digitlib.recognizer.Recognizer` (``Recognizer.load()`` for the
            shipped model).
        mode: ``"digit"`` to read one digit, ``"number"`` to read digits side by side.
        canvas_size: the canvas in pixels, one int for a square or ``(width, height)``.
        pen_width: the pen's diameter in canvas pixels, rounded to whole pixels (the slider
            changes it).
        live_interval: least seconds between two predictions while the pen moves.

    Attributes:
        canvas: the ipycanvas ``MultiCanvas`` (layer 0 paper, layer 1 ink).
        result, details, error_area: the HTML widgets with the answer, the probability bars
            and 28×28 images, and errors.
    """

    def __init__(
        self,
        recognizer: Recognizer,
        mode: Mode = "digit",
        canvas_size: int | tuple[int, int] = 280,
        pen_width: float = 20,
        live_interval: float = LIVE_INTERVAL,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        height, width = canvas_shape(canvas_size)
        low, high = PEN_WIDTH_RANGE
        if not (isinstance(pen_width, numbers.Real) and low <= pen_width <= high):
            raise ValueError(f"pen_width must be between {low} and {high} px, got {pen_width!r}")
        self.recognizer = recognizer
        self.canvas_size = (width, height)
        self.live_interval = float(live_interval)
        self.error: str | None = None
        self._strokes: list[list[Point]] = []
        self._current: list[Point] | None = None  # the stroke being drawn, while the pen is down
        self._prediction: DigitPrediction | NumberPrediction | None = None
        self._last_live = 0.0
        self._predict_seconds = 0.0

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
        self.pen_slider = widgets.IntSlider(
            value=round(pen_width), min=low, max=high, description="pen", continuous_update=False
        )
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
        readout = widgets.VBox(
            [self.result, self.details], layout=widgets.Layout(min_width="220px", margin="0 0 0 16px")
        )
        super().__init__(
            [
                widgets.HTML(_CSS),
                self.hint,
                widgets.HBox(
                    [self.canvas, readout], layout=widgets.Layout(align_items="flex-start", flex_flow="row wrap")
                ),
                controls,
                self.error_area,
            ]
        )
        self.add_class("digitlib-pad")

        self.canvas.on_mouse_down(self._on_pen_down)
        self.canvas.on_mouse_move(self._on_pen_move)
        self.canvas.on_mouse_up(self._on_pen_up)
        self.canvas.on_mouse_out(self._on_pen_up)  # a pen that leaves the canvas lifts
        self.canvas.on_touch_start(self._on_touch_start)
        self.canvas.on_touch_move(self._on_touch_move)
        self.canvas.on_touch_end(self._on_touch_end)
        self.canvas.on_touch_cancel(self._on_touch_end)
        self.canvas.on_client_ready(self._on_client_ready)  # a reloaded page gets a blank canvas
        self.undo_button.on_click(self._on_undo_click)
        self.clear_button.on_click(self._on_clear_click)
        self.mode_toggle.observe(self._on_mode_change, names="value")
        self.pen_slider.observe(self._on_pen_width_change, names="value")

        self._redraw()
        self._update_hint()
        self._predict()

    def __repr__(self) -> str:
        width, height = self.canvas_size
        return f"DrawingPad(mode={self.mode!r}, canvas={width}x{height}, strokes={len(self._strokes)})"

    # -- public API -----------------------------------------------------------------------------

    @property
    def prediction(self) -> DigitPrediction | NumberPrediction | None:
        """The latest reading: a ``DigitPrediction`` in digit mode, a ``NumberPrediction`` in
        number mode (``.text``), or None when the last reading failed (see :attr:`error`)."""
        return self._prediction

    @property
    def strokes(self) -> list[list[Point]]:
        """A copy of the kept strokes, each a list of (x, y) canvas points."""
        return [list(stroke) for stroke in self._strokes]

    @property
    def mode(self) -> Mode:
        """``"digit"`` or ``"number"``; setting it reads the drawing again."""
        return self.mode_toggle.value

    @mode.setter
    def mode(self, value: Mode) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {value!r}")
        self.mode_toggle.value = value

    @property
    def pen_width(self) -> float:
        """The pen's diameter in canvas pixels, for every stroke; setting it redraws and reads
        the drawing again."""
        return float(self.pen_slider.value)

    @pen_width.setter
    def pen_width(self, value: float) -> None:
        low, high = PEN_WIDTH_RANGE
        if not (isinstance(value, numbers.Real) and low <= value <= high):
            raise ValueError(f"pen_width must be between {low} and {high} px, got {value!r}")
        self.pen_slider.value = round(value)

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
        checked = _checked_strokes(strokes)
        with hold_canvas():
            for stroke in checked:
                self._strokes.append(stroke)
                self._draw_stroke(stroke)
        return self._predict()

    def undo(self) -> None:
        """Remove the last stroke and read the drawing again."""
        if self._strokes:
            self._strokes.pop()
        self._current = None
        self._redraw()
        self._predict()

    def clear(self) -> None:
        """Remove every stroke."""
        self._strokes.clear()
        self._current = None
        self._redraw()
        self._predict()

    def canvas_image(self) -> np.ndarray:
        """The drawing as the canvas shows it: uint8 (height, width, 3), dark ink on white."""
        return render_strokes(self._strokes, self.canvas_size, self.pen_width)

    # -- pen events (called by the canvas; errors show in the widget) ---------------------------

    @_shows_errors
    def _on_pen_down(self, x: float, y: float) -> None:
        point = _checked_point(x, y)
        self._current = [point]
        self._strokes.append(self._current)
        with hold_canvas():
            self._ink.fill_circle(point[0], point[1], self.pen_width / 2)

    @_shows_errors
    def _on_pen_move(self, x: float, y: float) -> None:
        if self._current is None:
            return  # the mouse moves over the canvas with no button pressed
        point = _checked_point(x, y)
        last = self._current[-1]
        if point == last:
            return
        self._current.append(point)
        with hold_canvas():
            self._ink.stroke_line(last[0], last[1], point[0], point[1])
        now = time.perf_counter()
        # Read at most every live_interval seconds, and never spend more than about a third of
        # the time reading, so the kernel keeps up with the pen on a slow machine.
        if now - self._last_live >= max(self.live_interval, 3 * self._predict_seconds):
            self._last_live = now
            self._predict()

    @_shows_errors
    def _on_pen_up(self, x: float | None = None, y: float | None = None) -> None:
        if self._current is None:
            return
        self._current = None
        self._predict()

    @_shows_errors
    def _on_touch_start(self, touches: list[tuple[float, float]]) -> None:
        if touches:
            self._on_pen_down(*touches[0])  # one finger draws; more fingers are ignored

    @_shows_errors
    def _on_touch_move(self, touches: list[tuple[float, float]]) -> None:
        if touches:
            self._on_pen_move(*touches[0])

    @_shows_errors
    def _on_touch_end(self, touches: list[tuple[float, float]]) -> None:
        self._on_pen_up()

    @_shows_errors
    def _on_undo_click(self, _button: widgets.Button) -> None:
        self.undo()

    @_shows_errors
    def _on_clear_click(self, _button: widgets.Button) -> None:
        self.clear()

    @_shows_errors
    def _on_mode_change(self, _change: dict) -> None:
        self._update_hint()
        self._predict()

    @_shows_errors
    def _on_pen_width_change(self, _change: dict) -> None:
        self._redraw()
        self._predict()

    @_shows_errors
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
            ink.line_width = self.pen_width
            ink.line_cap = "round"
            ink.line_join = "round"
            for stroke in self._strokes:
                self._draw_stroke(stroke)

    def _draw_stroke(self, stroke: list[Point]) -> None:
        # Round caps and joins, as digitlib.render draws them for the model.
        if len(stroke) == 1:
            self._ink.fill_circle(stroke[0][0], stroke[0][1], self.pen_width / 2)
        else:
            self._ink.stroke_lines(stroke)

    # -- reading --------------------------------------------------------------------------------

    def _predict(self) -> DigitPrediction | NumberPrediction | None:
        """Read the strokes (the one being drawn included) and show the result."""
        started = time.perf_counter()
        try:
            if self.mode == "number":
                self._prediction = self.recognizer.predict_number_strokes(
                    self._strokes, self.canvas_size, self.pen_width
                )
            else:
                self._prediction = self.recognizer.predict_strokes(self._strokes, self.canvas_size, self.pen_width)
        except Exception as error:  # noqa: BLE001 - shown in the widget, not lost in a log
            self._prediction = None
            self._show_error(error)
            return None
        finally:
            self._predict_seconds = time.perf_counter() - started
        self._clear_error()
        self.result.value = _answer_html(self._prediction)
        self.details.value = _details_html(self._prediction)
        return self._prediction

    def _update_hint(self) -> None:
        self.hint.value = f'<span class="digitlib-pad-caption">{_HINTS[self.mode]}</span>'

    # -- errors ---------------------------------------------------------------------------------

    def _show_error(self, error: BaseException) -> None:
        self.error = f"{type(error).__name__}: {error}"
        details = html.escape("".join(traceback.format_exception(error)))
        self.error_area.value = (
            f"<b>The pad hit an error:</b> {html.escape(self.error)}"
            f"<details><summary>details</summary><pre>{details}</pre></details>"
        )
        self.error_area.layout.display = None
        if self._prediction is None:
            self.result.value = _answer_box("error", "error", "see the message below the pad")

    def _clear_error(self) -> None:
        if self.error is not None:
            self.error = None
            self.error_area.value = ""
            self.error_area.layout.display = "none"


# -- input checks ------------------------------------------------------------------------------


def _checked_point(x: float, y: float) -> Point:
    """A canvas event's point as floats; the browser sends null for a canvas with no size."""
    try:
        point = (float(x), float(y))
    except (TypeError, ValueError):
        raise ValueError(
            f"the canvas sent a pen event without usable coordinates (x={x!r}, y={y!r}); "
            "is the canvas visible? Scroll it into view and draw again."
        ) from None
    if not all(math.isfinite(v) for v in point):
        raise ValueError(f"the canvas sent a pen event at ({x}, {y}); draw again.")
    return point


def _checked_strokes(strokes: Sequence[Stroke]) -> list[list[Point]]:
    """Strokes as lists of float (x, y) points; a ValueError that names the bad stroke otherwise."""
    strokes = list(strokes)
    arrays = check_strokes(strokes)  # raises for anything but finite (x, y) pairs
    if len(arrays) < len(strokes):  # check_strokes drops empty strokes; the pad refuses them
        empty = next(i for i, stroke in enumerate(strokes) if np.asarray(stroke).size == 0)
        raise ValueError(f"stroke {empty} has no points; a stroke is a list of (x, y) pairs")
    return [[(float(x), float(y)) for x, y in points] for points in arrays]


# -- what the pad shows --------------------------------------------------------------------------


def _answer_box(state: str, text: str, caption: str) -> str:
    return (
        f'<div class="digitlib-pad-answer" data-state="{state}">{html.escape(text)}</div>'
        f'<div class="digitlib-pad-caption">{html.escape(caption)}</div>'
    )


def _percent(probability: float) -> str:
    return f"{100 * probability:.0f}%"


def _alternatives(prediction: DigitPrediction) -> str:
    """'7 (45%) or 1 (30%)': the two most probable digits."""
    runner_up = prediction.runner_up
    second = f" or {runner_up} ({_percent(prediction.probabilities[runner_up])})"
    return f"{prediction.digit} ({_percent(prediction.confidence)}){second}"


def _answer_html(prediction: DigitPrediction | NumberPrediction) -> str:
    """The answer: the digit or number when the model is sure, 'not sure' (or '?' for unsure
    digits of a number) instead of a confident-looking wrong answer."""
    if hasattr(prediction, "digits"):  # a NumberPrediction
        if not prediction.digits:
            return _answer_box("empty", "", "nothing written yet")
        shown = "".join(str(p.digit) if p.is_confident else "?" for p in prediction.digits)
        unsure = [(i, p) for i, p in enumerate(prediction.digits, 1) if not p.is_confident]
        if not unsure:
            return _answer_box("confident", shown, f"{len(prediction.digits)} digits, all clear")
        doubts = "; ".join(f"digit {i}: {_alternatives(p)}" for i, p in unsure)
        return _answer_box("unsure", shown, f"best guess {prediction.text}; not sure of {doubts}")
    if prediction.digit is None:
        return _answer_box("empty", "", "nothing drawn yet")
    if not prediction.is_confident:
        return _answer_box("unsure", "not sure", f"maybe {_alternatives(prediction)}")
    return _answer_box("confident", str(prediction.digit), f"{_percent(prediction.confidence)} sure")


def _png_data_url(image: np.ndarray) -> str:
    """A 28×28 float image in [0, 1] as a PNG data URL (shown scaled up, pixels kept sharp)."""
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(image: np.ndarray, size: int, caption: str, unsure: bool = False) -> str:
    css_class = ' class="digitlib-pad-unsure"' if unsure else ""
    return (
        f'<figure{css_class}><img src="{_png_data_url(image)}" width="{size}" height="{size}" '
        f'alt="28x28 image the model sees"><figcaption>{html.escape(caption)}</figcaption></figure>'
    )


def _bars_html(probabilities: np.ndarray) -> str:
    top = int(np.argmax(probabilities)) if probabilities.any() else None
    rows = []
    for digit, probability in enumerate(probabilities):
        css_class = "digitlib-pad-bar-row" + (" digitlib-pad-top" if digit == top else "")
        rows.append(
            f'<div class="{css_class}"><span>{digit}</span><span class="digitlib-pad-track">'
            f'<span class="digitlib-pad-fill" style="width:{100 * float(probability):.1f}%">'
            f"</span></span><span>{_percent(float(probability))}</span></div>"
        )
    return '<div class="digitlib-pad-bars">' + "".join(rows) + "</div>"


def _details_html(prediction: DigitPrediction | NumberPrediction) -> str:
    """Bars for the ten probabilities and the 28×28 image the model sees (one per digit in
    number mode, with the digit read and its probability)."""
    if hasattr(prediction, "digits"):
        figures = [
            _figure(p.mnist_image, 56, f"{p.digit} · {_percent(p.confidence)}", not p.is_confident)
            for p in prediction.digits
        ]
        if not figures:
            return '<div class="digitlib-pad-caption">Each digit the model reads shows here.</div>'
        caption = '<div class="digitlib-pad-caption">What the model sees, digit by digit:</div>'
        return caption + '<div class="digitlib-pad-views">' + "".join(figures) + "</div>"
    figure = _figure(prediction.mnist_image, 112, "what the model sees (28×28)")
    return _bars_html(prediction.probabilities) + f'<div class="digitlib-pad-views">{figure}</div>'
