"""The widgets the drawing pad is made of (`digitlib.pad.DrawingPad` wires them to its state).

- `InkCanvas`: paper and ink, drawn as the model sees them;
- `Controls`: digit/number mode, the pen's width, undo and clear;
- `CorrectionRow`: save a drawing with its right label, see what the pad has learnt, and teach it ("Learn my
  hand", `digitlib.learning.Learning`).

They are views: they hold widgets and tell the pad what was pressed. Buttons are real <button>s, so Tab and Enter
work; the description is what a screen reader says, the tooltip (the title) says what the button does. Every CSS
class starts with ``digitlib-pad`` (``-canvas``, ``-mode``, ``-pen``, ``-undo``, ``-clear``, ``-right``,
``-label-0`` … ``-9``, ``-number``, ``-save``, ``-saved``, ``-learnt``, ``-learn``, ``-cancel``, ``-progress``):
the look is in ``digitlib/pad.css``, and the browser test finds the widgets by them.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Sequence

import ipywidgets as widgets
from ipycanvas import MultiCanvas, hold_canvas

from digitlib import pad_view
from digitlib.drawing import PAD_PEN_WIDTHS, Point
from digitlib.personal import MIN_DRAWINGS


def _button(css: str, **options) -> widgets.Button:
    button = widgets.Button(**options)
    button.add_class(css)
    return button


INK_COLOUR = "#111111"
PAPER_COLOUR = "#ffffff"


class InkCanvas(MultiCanvas):
    """Paper on one ipycanvas layer, ink on the other, drawn as `digitlib.render` draws for the model (round caps
    and joins), so what the learner sees is what is read; of a fixed size (a flex box would otherwise stretch it,
    and the ink with it)."""

    def __init__(self, width: int, height: int) -> None:
        layout = widgets.Layout(width=f"{width}px", height=f"{height}px", flex="0 0 auto", margin="1px")
        super().__init__(2, width=width, height=height, layout=layout)
        self.add_class("digitlib-pad-canvas")

    @property
    def ink(self):
        return self[1]

    def redraw(self, strokes: Sequence[Sequence[Point]], pen: float) -> None:
        """Paper, then every stroke, with a pen ``pen`` px wide."""
        paper, ink = self[0], self.ink
        with hold_canvas():
            paper.clear()
            paper.fill_style = PAPER_COLOUR
            paper.fill_rect(0, 0, self.width, self.height)
            ink.clear()
            ink.stroke_style = ink.fill_style = INK_COLOUR
            ink.line_width = pen
            ink.line_cap = ink.line_join = "round"
            for stroke in strokes:
                self.draw_stroke(stroke, pen)

    def draw_stroke(self, stroke: Sequence[Point], pen: float) -> None:
        if len(stroke) == 1:
            self.ink.fill_circle(stroke[0][0], stroke[0][1], pen / 2)
        else:
            self.ink.stroke_lines(list(stroke))

    def dot(self, point: Point, pen: float) -> None:
        with hold_canvas():
            self.ink.fill_circle(point[0], point[1], pen / 2)

    def line(self, start: Point, end: Point) -> None:
        with hold_canvas():
            self.ink.stroke_line(start[0], start[1], end[0], end[1])


class Controls(widgets.HBox):
    """Digit or number mode, the pen's width (`digitlib.drawing.PAD_PEN_WIDTHS`), undo and clear."""

    def __init__(self, mode: str, pen_width: float) -> None:
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
        self.undo_button = _button(
            "digitlib-pad-undo", description="Undo", icon="undo", tooltip="remove the last stroke"
        )
        self.clear_button = _button("digitlib-pad-clear", description="Clear", icon="trash", tooltip="start again")
        super().__init__(
            [self.mode_toggle, self.pen_slider, self.undo_button, self.clear_button],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.add_class("digitlib-pad-controls")


def html_area(css: str, hidden: bool = False) -> widgets.HTML:
    """An HTML widget with the CSS class ``css`` (hidden until shown, if ``hidden``)."""
    area = widgets.HTML(layout=widgets.Layout(display="none" if hidden else None))
    area.add_class(css)
    return area


class CorrectionRow(widgets.VBox):
    """ "Right" and 0-9 (digit mode) or a box for the number (number mode), the saved and learnt counts, and the
    "Learn my hand" button with its progress bar; ``on_*`` are called with no argument (``on_label`` with the
    digit, ``on_save`` with the typed number)."""

    def __init__(
        self,
        on_right: Callable[[], None],
        on_label: Callable[[int], None],
        on_save: Callable[[str], None],
        on_learn: Callable[[], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
    ) -> None:
        self.right_button = _button("digitlib-pad-right", description="right", icon="check", button_style="success")
        self.right_button.on_click(lambda _b: on_right())
        self.label_buttons = []
        for digit in range(10):
            button = _button(
                f"digitlib-pad-label-{digit}",
                description=str(digit),
                tooltip=f"It's a {digit}: save this drawing as a {digit}",
            )
            button.add_class("digitlib-pad-label")
            button.on_click(functools.partial(lambda d, _b: on_label(d), digit))
            self.label_buttons.append(button)
        self.digit_row = widgets.HBox(
            [
                widgets.HTML(pad_view.prompt_html("Is the reading right?")),
                self.right_button,
                widgets.HTML(pad_view.prompt_html("or it's a")),
                *self.label_buttons,
            ],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.number_box = widgets.Text(
            description="the number", placeholder="e.g. 205", style={"description_width": "initial"}
        )
        self.number_box.add_class("digitlib-pad-number")
        self.save_button = _button(
            "digitlib-pad-save",
            description="Save",
            icon="save",
            tooltip="save each digit of the drawing with the digit typed for it",
        )
        self.save_button.on_click(lambda _b: on_save(self.number_box.value))
        self.number_row = widgets.HBox([self.number_box, self.save_button], layout=widgets.Layout(align_items="center"))
        self.saved_counter = widgets.HTML()
        self.saved_counter.add_class("digitlib-pad-saved")
        self.learnt = widgets.HTML()
        self.learnt.add_class("digitlib-pad-learnt")
        self.learn_button = _button(
            "digitlib-pad-learn",
            description="Learn my hand",
            icon="graduation-cap",
            tooltip=f"fine-tune a model of your own on your saved drawings (needs {MIN_DRAWINGS}); the pad keeps "
            "reading meanwhile",
        )
        self.cancel_button = _button("digitlib-pad-cancel", description="Cancel", icon="stop", tooltip="stop learning")
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, layout=widgets.Layout(width="160px"))
        self.progress.add_class("digitlib-pad-progress")
        self.learn_status = widgets.HTML()
        self.learn_status.add_class("digitlib-pad-learn-status")
        if on_learn is not None:
            self.learn_button.on_click(lambda _b: on_learn())
        if on_cancel is not None:
            self.cancel_button.on_click(lambda _b: on_cancel())
        self.learn_row = widgets.HBox(
            [self.learnt, self.learn_button, self.cancel_button, self.progress, self.learn_status],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.learn_row.layout.display = None if on_learn is not None else "none"
        super().__init__([self.digit_row, self.number_row, self.saved_counter, self.learn_row])
        self.add_class("digitlib-pad-corrections")
        self.show_learning("idle")

    def update(self, number_mode: bool, readable: bool, reading_text: str, digit: int | None) -> None:
        """Offer the row that fits the mode and the reading; nothing readable disables it."""
        self.digit_row.layout.display = "none" if number_mode else None
        self.number_row.layout.display = None if number_mode else "none"
        for button in [self.right_button, *self.label_buttons, self.save_button]:
            button.disabled = not readable
        if readable and not number_mode and digit is not None:
            self.right_button.tooltip = f"Right, it's a {digit}: save this drawing as a {digit}"
        else:
            self.right_button.tooltip = "Right: save the drawing as the pad read it (draw something first)"
        if number_mode:
            self.number_box.value = reading_text if readable else ""  # the reading, to correct where wrong

    def update_counts(self, saved: int, total: int | None, where: str | None, learnt: int | None) -> None:
        """The saved counter, and how many of your drawings the pad reads with (None: it does not remember)."""
        self.saved_counter.value = pad_view.saved_html(saved, total, where)
        if learnt is None:
            self.learnt.value = ""
        else:
            text = f"learnt: {learnt} drawing{'s' * (learnt != 1)} of yours"
            self.learnt.value = f'<span class="digitlib-pad-caption">{html.escape(text)}</span>'
        self.learn_button.disabled = total is None or total < MIN_DRAWINGS

    def show_learning(self, status: str, fraction: float = 0.0, message: str = "") -> None:
        """Show the fine-tune's state: idle, running (with its progress), done, cancelled or failed."""
        running = status == "running"
        self.learn_button.layout.display = "none" if running else None
        self.cancel_button.layout.display = None if running else "none"
        self.progress.layout.display = None if running else "none"
        self.progress.value = fraction
        words = {
            "running": "learning your hand…",
            "done": "now reading with a model of your own",
            "cancelled": "learning cancelled: the pad reads as before",
            "failed": "learning failed: the pad reads as before",
        }.get(status, "")
        text = f"{words} {message}".strip()
        self.learn_status.value = f'<span class="digitlib-pad-caption">{html.escape(text)}</span>' if text else ""
        self.learn_status._dom_classes = ("digitlib-pad-learn-status",)
        self.learn_status.add_class(f"digitlib-pad-learn-{status}")
