"""The drawing pad without a browser: strokes go in through add_stroke or through the canvas's own event messages,
and the shipped model reads them. Nothing is mocked; the browser itself is tested in tests/browser.

Only clearly drawn template digits (`example_strokes`) are expected to read as themselves: the shipped model is
retrained from time to time, and what it makes of anything else may change."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pytest
import traitlets

from digitlib import pad as pad_module
from digitlib import pad_view
from digitlib.drawing import CANVAS_SIDES, PAD_PEN_WIDTHS
from digitlib.drawings_store import PersonalDrawings
from digitlib.examples import example_strokes
from digitlib.pad import DrawingPad
from digitlib.recognizer import Recognizer


@pytest.fixture
def pad(recognizer: Recognizer) -> DrawingPad:
    return DrawingPad(recognizer)


@pytest.fixture
def drawings(tmp_path: Path) -> PersonalDrawings:
    return PersonalDrawings(tmp_path / "my_digits.jsonl")


@pytest.fixture
def learning_pad(recognizer: Recognizer, drawings: PersonalDrawings) -> DrawingPad:
    return DrawingPad(recognizer, drawings=drawings)


ANSWER = re.compile(r'class="digitlib-pad-answer" data-state="(\w+)" data-live="(true|false)">([^<]*)<')


def answer(pad: DrawingPad) -> tuple[str, str]:
    """(data-state, text) of the answer the widget shows, read from its HTML as a browser would."""
    match = ANSWER.search(pad.result.value)
    assert match, pad.result.value
    return match.group(1), match.group(3)


def is_live(pad: DrawingPad) -> bool:
    """Whether the answer shown was read while the pen is still down (its ``data-live``)."""
    match = ANSWER.search(pad.result.value)
    assert match, pad.result.value
    return match.group(2) == "true"


def send_canvas_event(pad: DrawingPad, event: str, **payload) -> None:
    """Deliver an event exactly as the browser's canvas view sends it: a custom comm message to the canvas."""
    message = {"content": {"data": {"method": "custom", "content": {"event": event, **payload}}}, "buffers": []}
    pad.canvas._handle_msg(message)


def draw_with_mouse(pad: DrawingPad, strokes: list[list[tuple[float, float]]]) -> None:
    for stroke in strokes:
        send_canvas_event(pad, "mouse_down", x=stroke[0][0], y=stroke[0][1])
        for x, y in stroke[1:]:
            send_canvas_event(pad, "mouse_move", x=x, y=y)
        send_canvas_event(pad, "mouse_up", x=stroke[-1][0], y=stroke[-1][1])


def descendants(widget: widgets.Widget) -> list[widgets.Widget]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += descendants(child)
    return found


def with_class(pad: DrawingPad, css_class: str) -> list[widgets.Widget]:
    return [w for w in descendants(pad) if css_class in getattr(w, "_dom_classes", ())]


def file_records(path: Path) -> list[dict]:
    """The drawings file's lines as JSON, read straight from disk."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("digit", list("0123456789"))
def test_reads_each_clearly_drawn_digit(pad: DrawingPad, digit: str) -> None:
    pad.add_strokes(example_strokes(digit))
    assert pad.prediction.digit == int(digit)
    assert pad.prediction.is_confident
    assert answer(pad) == ("confident", digit)


def test_a_digit_drawn_with_the_mouse_reads_as_from_code(pad: DrawingPad, recognizer: Recognizer) -> None:
    strokes = example_strokes("4")  # two strokes
    draw_with_mouse(pad, strokes)
    assert pad.strokes == [[(float(x), float(y)) for x, y in stroke] for stroke in strokes]
    assert pad.prediction.digit == 4
    # The same strokes give the same answer, browser or not: the pad reads its strokes, not pixels.
    direct = recognizer.predict_strokes(strokes, 280, pad.pen_width)
    np.testing.assert_array_equal(pad.prediction.probabilities, direct.probabilities)


def test_touch_draws_with_the_first_finger(pad: DrawingPad) -> None:
    stroke = example_strokes("1")[0]
    send_canvas_event(pad, "touch_start", touches=[{"x": stroke[0][0], "y": stroke[0][1]}])
    for x, y in stroke[1:]:
        send_canvas_event(pad, "touch_move", touches=[{"x": x, "y": y}, {"x": 5.0, "y": 5.0}])
    send_canvas_event(pad, "touch_end", touches=[])
    assert pad.strokes == [[(float(x), float(y)) for x, y in stroke]]
    assert pad.prediction.digit == 1


def test_reads_live_while_the_pen_moves(recognizer: Recognizer) -> None:
    pad = DrawingPad(recognizer, live_interval=0.0)
    stroke = example_strokes("7")[0]
    send_canvas_event(pad, "mouse_down", x=stroke[0][0], y=stroke[0][1])
    for x, y in stroke[1:]:
        send_canvas_event(pad, "mouse_move", x=x, y=y)
    # Read while drawing (throttled, so perhaps not after the very last move), marked live ...
    assert pad.prediction.digit is not None, "the pad should read before the pen is lifted"
    assert is_live(pad)
    send_canvas_event(pad, "mouse_up", x=stroke[-1][0], y=stroke[-1][1])
    assert pad.prediction.digit == 7  # ... and always when the pen is lifted: its last word
    assert not is_live(pad)


def test_the_stroke_ends_where_the_button_is_released(pad: DrawingPad) -> None:
    # A busy browser may merge the last moves before the release; the release's position ends the stroke.
    send_canvas_event(pad, "mouse_down", x=140.0, y=40.0)
    send_canvas_event(pad, "mouse_move", x=140.0, y=120.0)
    send_canvas_event(pad, "mouse_up", x=138.0, y=240.0)
    assert pad.strokes == [[(140.0, 40.0), (140.0, 120.0), (138.0, 240.0)]]
    assert pad.prediction.digit == 1 and not is_live(pad)
    send_canvas_event(pad, "mouse_up", x=60.0, y=60.0)  # a release with no stroke drawn adds nothing
    assert len(pad.strokes) == 1


def test_moving_the_mouse_without_pressing_draws_nothing(pad: DrawingPad) -> None:
    send_canvas_event(pad, "mouse_move", x=100.0, y=100.0)
    send_canvas_event(pad, "mouse_move", x=150.0, y=180.0)
    assert pad.strokes == []
    assert answer(pad) == ("empty", "")


def test_leaving_the_canvas_ends_the_stroke(pad: DrawingPad) -> None:
    send_canvas_event(pad, "mouse_down", x=140.0, y=40.0)
    send_canvas_event(pad, "mouse_move", x=140.0, y=240.0)
    send_canvas_event(pad, "mouse_out", x=140.0, y=300.0)
    send_canvas_event(pad, "mouse_move", x=60.0, y=60.0)  # back over the canvas, button released outside
    assert pad.strokes == [[(140.0, 40.0), (140.0, 240.0)]]
    assert pad.prediction.digit == 1


@pytest.mark.parametrize("text", ["205", "2025", "47"])
def test_number_mode_reads_the_number(recognizer: Recognizer, text: str) -> None:
    pad = DrawingPad(recognizer, mode="number", canvas_size=(420, 200))
    pad.add_strokes(example_strokes(text, pad.canvas_size))
    assert pad.prediction.text == text
    assert len(pad.prediction.digits) == len(text)
    assert answer(pad) == ("confident", text)
    assert pad.details.value.count("<figure") == len(text)  # one 28×28 image per digit


def test_switching_mode_reads_the_same_strokes_again(pad: DrawingPad) -> None:
    pad.add_strokes(example_strokes("205"))
    assert pad.mode == "digit" and pad.prediction.digit is not None
    pad.mode_toggle.value = "number"  # what the toggle button does
    assert pad.mode == "number"
    assert pad.prediction.text == "205"
    pad.mode = "digit"
    assert pad.mode_toggle.value == "digit"
    assert hasattr(pad.prediction, "digit")


def test_undo_removes_the_last_stroke(pad: DrawingPad) -> None:
    first, second = example_strokes("4")
    pad.add_strokes([first, second])
    assert pad.prediction.digit == 4
    pad.undo_button.click()
    assert pad.strokes == [first]
    assert pad.prediction.digit != 4 or not pad.prediction.is_confident
    pad.undo()
    assert pad.strokes == []
    assert pad.prediction.digit is None
    assert answer(pad) == ("empty", "")
    pad.undo()  # nothing left to undo: no error
    assert pad.error is None


def test_clear_empties_pad_and_canvas(pad: DrawingPad) -> None:
    pad.add_strokes(example_strokes("8"))
    assert (pad.canvas_image() < 128).any()
    pad.clear_button.click()
    assert pad.strokes == []
    assert pad.prediction.digit is None
    assert answer(pad) == ("empty", "")
    assert (pad.canvas_image() == 255).all()


def test_blank_pad_reads_nothing(recognizer: Recognizer) -> None:
    digit_pad = DrawingPad(recognizer)
    assert digit_pad.prediction.digit is None
    assert answer(digit_pad) == ("empty", "")
    number_pad = DrawingPad(recognizer, mode="number")
    assert number_pad.prediction.text == ""
    assert answer(number_pad) == ("empty", "")


def test_pen_width_applies_to_the_whole_drawing(pad: DrawingPad) -> None:
    pad.add_strokes(example_strokes("7"))
    thin_ink = (pad.canvas_image() < 128).sum()
    pad.pen_slider.value = 36  # what the slider does
    assert pad.pen_width == 36
    assert (pad.canvas_image() < 128).sum() > 1.4 * thin_ink
    assert pad.prediction.digit == 7
    with pytest.raises(ValueError, match="pen_width"):
        pad.pen_width = 500
    assert pad.pen_width == 36


# -- what the pad says about unusual drawings -----------------------------------------------------


def test_a_lone_tap_is_not_read_as_a_digit(pad: DrawingPad) -> None:
    send_canvas_event(pad, "mouse_down", x=200.0, y=200.0)
    send_canvas_event(pad, "mouse_up", x=200.0, y=200.0)
    assert len(pad.strokes) == 1
    assert pad.prediction.digit is None
    # There are strokes but nothing to read: the pad says so, and shows no digit.
    assert answer(pad) == ("empty", "nothing to read")
    assert "Draw a digit" in pad.result.value


@pytest.mark.parametrize(
    "strokes",
    [
        [[(500.0, 500.0), (600.0, 650.0)], [(-300.0, 40.0), (-100.0, 200.0)]],  # wholly off the canvas
        [[(100.0, 100.0), (101.0, 101.0)]],  # a speck
        [[(50.0, 60.0)], [(220.0, 90.0)], [(130.0, 230.0)]],  # three taps far apart
    ],
    ids=["off-canvas", "speck", "taps"],
)
def test_nothing_to_read_is_said_plainly(recognizer: Recognizer, strokes) -> None:
    for mode in ("digit", "number"):
        pad = DrawingPad(recognizer, mode=mode)
        pad.add_strokes(strokes)
        reading = pad.prediction
        assert (reading.digit is None) if mode == "digit" else (reading.digits == [])
        assert answer(pad) == ("empty", "nothing to read")


@pytest.fixture(scope="module")
def undecided_recognizer() -> Recognizer:
    """A real (untrained) Keras model that gives every digit the same probability: it is never sure."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, "softmax", kernel_initializer="zeros"),
        ]
    )
    return Recognizer(model, name="undecided")


def test_the_pad_says_not_sure_instead_of_guessing(undecided_recognizer: Recognizer) -> None:
    pad = DrawingPad(undecided_recognizer)
    pad.add_strokes(example_strokes("7"))
    reading = pad.prediction
    assert reading.digit is not None and not reading.is_confident
    assert answer(pad) == ("unsure", "not sure")
    # It names the two likeliest digits, and the probability from which it would be sure.
    assert f"maybe {reading.digit} (10%) or {reading.runner_up} (10%)" in pad.result.value
    assert f"sure from {100 * undecided_recognizer.threshold:.0f}%" in pad.result.value


def test_the_threshold_shown_is_the_recognisers_own(pad: DrawingPad, recognizer: Recognizer) -> None:
    pad.add_strokes(example_strokes("3"))
    assert f"sure from {100 * recognizer.stroke_threshold:.0f}%" in pad.result.value


def test_number_mode_marks_unsure_digits(undecided_recognizer: Recognizer) -> None:
    pad = DrawingPad(undecided_recognizer, mode="number")
    pad.add_strokes(example_strokes("205"))
    # A model that is never sure cannot judge where the digits part either: how many it finds is its own affair.
    count = len(pad.prediction.digits)
    assert count >= 1
    assert answer(pad) == ("unsure", "?" * count)
    assert f"best guess {pad.prediction.text}" in pad.result.value


def test_a_broken_canvas_event_shows_an_error_in_the_widget(pad: DrawingPad) -> None:
    # A canvas with no size on screen (hidden) sends null coordinates.
    send_canvas_event(pad, "mouse_down", x=None, y=None)
    assert pad.error is not None and "coordinates" in pad.error
    assert pad.error_area.layout.display != "none"
    assert "coordinates" in pad.error_area.value
    assert pad.strokes == []
    # The pad keeps working, and the message goes away with the next good stroke.
    draw_with_mouse(pad, example_strokes("1"))
    assert pad.prediction.digit == 1
    assert pad.error is None
    assert pad.error_area.layout.display == "none"


def test_add_stroke_refuses_bad_strokes_and_keeps_the_drawing(pad: DrawingPad) -> None:
    pad.add_stroke([(140, 40), (140, 240)])
    before = pad.strokes
    with pytest.raises(ValueError, match="no points"):
        pad.add_stroke([])
    with pytest.raises(ValueError, match="NaN"):
        pad.add_stroke([(10, 10), (float("nan"), 20)])
    with pytest.raises(ValueError, match=r"\(x, y\)"):
        pad.add_stroke([(1, 2, 3)])
    assert pad.strokes == before
    assert pad.prediction.digit == 1


# -- settings -----------------------------------------------------------------------------------


def test_bad_settings_are_refused(recognizer: Recognizer) -> None:
    with pytest.raises(ValueError, match="mode must be 'digit' or 'number'"):
        DrawingPad(recognizer, mode="letters")
    with pytest.raises(ValueError, match="pen_width must be a number of pixels from 6 to 40"):
        DrawingPad(recognizer, pen_width=0)
    with pytest.raises(ValueError, match="live_interval"):
        DrawingPad(recognizer, live_interval=-1)
    with pytest.raises(TypeError, match="Recognizer.load"):
        DrawingPad("model.keras")
    with pytest.raises(TypeError, match="PersonalDrawings"):
        DrawingPad(recognizer, drawings="my_digits.jsonl")


@pytest.mark.parametrize("canvas_size", [0, 10**6, 7, 8193, (420, 7), (9000, 200), (280, -1), 280.5, "big", None])
def test_nonsense_canvas_sizes_are_refused_with_the_range(recognizer: Recognizer, canvas_size) -> None:
    low, high = CANVAS_SIDES
    with pytest.raises(ValueError, match=rf"canvas must be ({low} to {high} px a side|a whole number of pixels)"):
        DrawingPad(recognizer, canvas_size=canvas_size)


def test_canvas_sizes_at_the_limits_are_accepted(recognizer: Recognizer) -> None:
    low, high = CANVAS_SIDES
    assert DrawingPad(recognizer, canvas_size=(low, high)).canvas_size == (low, high)
    assert DrawingPad(recognizer, canvas_size=np.int64(300)).canvas_size == (300, 300)


# -- state in traitlets -------------------------------------------------------------------------


def test_state_is_in_traitlets(pad: DrawingPad) -> None:
    traits = DrawingPad.class_traits()
    assert isinstance(traits["mode"], traitlets.Enum) and traits["mode"].values == ("digit", "number")
    assert isinstance(traits["pen_width"], traitlets.Float)
    assert (traits["pen_width"].min, traits["pen_width"].max) == PAD_PEN_WIDTHS
    for name in ("prediction", "error", "saved"):
        assert traits[name].read_only, name


def test_the_readings_are_read_only(pad: DrawingPad) -> None:
    for name in ("prediction", "error", "saved"):
        with pytest.raises(AttributeError, match=f"{name} is read-only"):
            setattr(pad, name, None)


def test_mode_and_pen_width_link_to_other_widgets(pad: DrawingPad) -> None:
    toggle = widgets.ToggleButtons(options=["digit", "number"])
    slider = widgets.FloatSlider(value=20, min=1, max=60)
    widgets.link((toggle, "value"), (pad, "mode"))
    widgets.link((slider, "value"), (pad, "pen_width"))
    pad.add_strokes(example_strokes("205"))

    toggle.value = "number"
    assert pad.mode == "number" and pad.mode_toggle.value == "number"
    assert pad.prediction.text == "205"  # the pad read the drawing again
    pad.mode = "digit"
    assert toggle.value == "digit"

    slider.value = 30.0
    assert pad.pen_width == 30.0 and pad.pen_slider.value == 30.0
    pad.pen_slider.value = 12  # the pad's own slider moves the linked one
    assert slider.value == 12.0
    with pytest.raises(ValueError, match="pen_width"):
        slider.value = 50.0  # out of the pad's range: refused, with the pad's message
    assert pad.pen_width == 12.0


def test_observers_are_told_of_each_new_reading(pad: DrawingPad) -> None:
    readings = []
    pad.observe(lambda change: readings.append(change.new), names="prediction")
    first, second = example_strokes("4")
    pad.add_stroke(first)
    pad.add_stroke(second)
    pad.undo()
    assert len(readings) == 3
    assert readings[-1] is pad.prediction
    assert readings[1].digit == 4

    label = widgets.Label()
    widgets.dlink((pad, "prediction"), (label, "value"), lambda p: "" if p.digit is None else str(p.digit))
    pad.add_stroke(second)
    assert label.value == "4"
    pad.clear()
    assert label.value == ""


def test_errors_can_be_observed(pad: DrawingPad) -> None:
    errors = []
    pad.observe(lambda change: errors.append(change.new), names="error")
    send_canvas_event(pad, "mouse_down", x=None, y=None)
    pad.add_strokes(example_strokes("1"))
    assert len(errors) == 2 and "coordinates" in errors[0] and errors[1] is None


# -- look and HTML apart from the logic ---------------------------------------------------------


def test_the_css_is_a_file_of_the_package(pad: DrawingPad) -> None:
    css = resources.files("digitlib").joinpath("pad.css").read_text()
    assert '.digitlib-pad-answer[data-state="unsure"]' in css
    assert pad_view.stylesheet() == f"<style>\n{css}</style>"
    assert pad.children[0].value == pad_view.stylesheet()
    source = Path(pad_module.__file__).read_text()
    for tag in ("<style", "<div", "<span"):  # pad.py is the logic; the HTML is in pad_view
        assert tag not in source, tag


def test_answer_html_states(recognizer: Recognizer) -> None:
    blank = recognizer.predict_strokes([], 280, 20)
    seven = recognizer.predict_strokes(example_strokes("7"), 280, 20)
    assert 'data-state="empty" data-live="false"></div>' in pad_view.answer_html(blank, drawn=False)
    assert 'data-state="empty" data-live="false">nothing to read<' in pad_view.answer_html(blank, drawn=True)
    assert 'data-state="confident" data-live="false">7<' in pad_view.answer_html(seven, drawn=True)
    assert 'data-state="confident" data-live="true">7<' in pad_view.answer_html(seven, drawn=True, live=True)
    number = recognizer.predict_number_strokes(example_strokes("47", (420, 200)), (420, 200), 20)
    assert 'data-state="confident" data-live="false">47<' in pad_view.answer_html(number, drawn=True)
    with pytest.raises(ValueError, match="state"):
        pad_view.answer_box("maybe", "7", "")


def test_details_html_shows_bars_and_the_models_view(recognizer: Recognizer) -> None:
    seven = recognizer.predict_strokes(example_strokes("7"), 280, 20)
    details = pad_view.details_html(seven)
    assert details.count("digitlib-pad-bar-row") == 10
    assert re.search(r'digitlib-pad-bar-row digitlib-pad-top"><span>7<', details)
    assert details.count('src="data:image/png;base64,') == 1


def test_visible_state_has_stable_css_classes(learning_pad: DrawingPad) -> None:
    pad = learning_pad
    for widget, css_class in [
        (pad, "digitlib-pad"),
        (pad.canvas, "digitlib-pad-canvas"),
        (pad.result, "digitlib-pad-result"),
        (pad.error_area, "digitlib-pad-error"),
        (pad.mode_toggle, "digitlib-pad-mode"),
        (pad.undo_button, "digitlib-pad-undo"),
        (pad.clear_button, "digitlib-pad-clear"),
        (pad.right_button, "digitlib-pad-right"),
        (pad.number_box, "digitlib-pad-number"),
        (pad.save_button, "digitlib-pad-save"),
        (pad.saved_counter, "digitlib-pad-saved"),
        *[(pad.label_buttons[d], f"digitlib-pad-label-{d}") for d in range(10)],
    ]:
        assert css_class in widget._dom_classes


# -- corrections --------------------------------------------------------------------------------


def test_without_drawings_there_is_no_correction_row(pad: DrawingPad) -> None:
    assert pad.drawings is None and pad.right_button is None and pad.label_buttons == []
    assert with_class(pad, "digitlib-pad-corrections") == []
    pad.add_strokes(example_strokes("3"))
    with pytest.raises(ValueError, match=r"drawings=PersonalDrawings"):
        pad.save_as(3)


def test_the_digit_buttons_read_well_and_work_from_the_keyboard(learning_pad: DrawingPad) -> None:
    pad = learning_pad
    assert len(with_class(pad, "digitlib-pad-corrections")) == 1
    for digit, button in enumerate(pad.label_buttons):
        # A Button is a <button>: Tab reaches it, Enter and Space press it; a screen reader says its description.
        assert isinstance(button, widgets.Button) and button.tabbable is not False
        assert button.description == str(digit)
        assert button.tooltip == f"It's a {digit}: save this drawing as a {digit}"
    # Nothing to save yet: the buttons are off until there is a reading.
    assert pad.right_button.disabled and all(b.disabled for b in pad.label_buttons)
    pad.add_strokes(example_strokes("7"))
    assert not pad.right_button.disabled and not any(b.disabled for b in pad.label_buttons)
    assert pad.right_button.tooltip == "Right, it's a 7: save this drawing as a 7"


def test_a_digit_button_saves_the_drawing_with_that_label(learning_pad: DrawingPad, drawings, recognizer) -> None:
    pad = learning_pad
    strokes = example_strokes("1")
    draw_with_mouse(pad, strokes)
    drawn = pad.strokes
    pad.label_buttons[7].click()  # "it's a 7" (a continental 1, say)
    assert pad.error is None, pad.error
    [record] = file_records(drawings.path)
    assert record["label"] == 7
    assert record["canvas_size"] == [280, 280] and record["pen_width"] == 20.0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", record["time"])
    np.testing.assert_allclose(np.concatenate(record["strokes"]), np.concatenate(drawn), atol=0.01)
    assert drawings.labels == [7]
    # Saved: the canvas is cleared for the next drawing, and the counter says so.
    assert pad.strokes == [] and answer(pad) == ("empty", "")
    assert pad.saved == 1
    assert "1 saved · 1 in my_digits.jsonl" in pad.saved_counter.value
    # What was saved reads as what was drawn (the record is the drawing, not a picture of it).
    saved = drawings[0]
    np.testing.assert_array_equal(
        recognizer.predict_strokes(saved.drawing).probabilities,
        recognizer.predict_strokes(drawn, 280, 20).probabilities,
    )


def test_right_saves_the_digit_the_pad_read(learning_pad: DrawingPad, drawings: PersonalDrawings) -> None:
    learning_pad.add_strokes(example_strokes("3"))
    learning_pad.right_button.click()
    learning_pad.add_strokes(example_strokes("8"))
    assert learning_pad.save_reading() == 2
    assert drawings.labels == [3, 8]
    assert learning_pad.saved == 2


def test_save_as_takes_a_digit_and_refuses_anything_else(learning_pad: DrawingPad, drawings) -> None:
    pad = learning_pad
    pad.add_strokes(example_strokes("5"))
    for bad in (10, -1, "a", "12", True, 3.0, None):
        with pytest.raises(ValueError, match="label must be one digit"):
            pad.save_as(bad)
    assert not drawings.path.exists() and len(pad.strokes) == 2
    assert pad.save_as("5") == 1
    assert drawings.labels == [5]


def test_nothing_readable_is_not_saved(learning_pad: DrawingPad, drawings) -> None:
    with pytest.raises(ValueError, match="nothing readable to save"):
        learning_pad.save_as(3)
    send_canvas_event(learning_pad, "mouse_down", x=200.0, y=200.0)  # a tap
    send_canvas_event(learning_pad, "mouse_up", x=200.0, y=200.0)
    assert all(b.disabled for b in learning_pad.label_buttons)
    with pytest.raises(ValueError, match="nothing readable to save"):
        learning_pad.save_as(3)
    with pytest.raises(ValueError, match="nothing readable to save"):
        learning_pad.save_reading()
    assert not drawings.path.exists() and learning_pad.saved == 0


def test_a_failed_save_shows_in_the_pad_and_keeps_the_drawing(recognizer: Recognizer, tmp_path: Path) -> None:
    target = tmp_path / "my_digits.jsonl"
    drawings = PersonalDrawings(target)
    target.mkdir()  # the file cannot be written now (as if the disk were full)
    pad = DrawingPad(recognizer, drawings=drawings)
    pad.add_strokes(example_strokes("2"))
    kept = pad.strokes
    pad.label_buttons[2].click()
    assert pad.error is not None and "cannot write" in pad.error and "my_digits.jsonl" in pad.error
    assert pad.error_area.layout.display != "none"
    assert "Nothing was saved" in pad.error_area.value
    assert pad.strokes == kept and pad.prediction.digit == 2 and pad.saved == 0


def test_save_modes_are_kept_apart(learning_pad: DrawingPad) -> None:
    learning_pad.add_strokes(example_strokes("4"))
    with pytest.raises(ValueError, match="digit mode.*save_as"):
        learning_pad.save_number("4")
    learning_pad.mode = "number"
    with pytest.raises(ValueError, match="number mode.*save_number"):
        learning_pad.save_as(4)


@pytest.fixture
def number_pad(recognizer: Recognizer, drawings: PersonalDrawings) -> DrawingPad:
    return DrawingPad(recognizer, mode="number", canvas_size=(420, 200), drawings=drawings)


def test_number_mode_shows_a_box_for_the_number(number_pad: DrawingPad) -> None:
    assert number_pad.corrections.number_row.layout.display != "none"
    assert number_pad.corrections.digit_row.layout.display == "none"
    number_pad.add_strokes(example_strokes("205", number_pad.canvas_size))
    assert number_pad.number_box.value == "205"  # the reading, to correct where it is wrong
    number_pad.mode = "digit"
    assert number_pad.corrections.number_row.layout.display == "none"
    assert number_pad.corrections.digit_row.layout.display != "none"


def test_number_mode_saves_each_digit_with_its_digit(number_pad: DrawingPad, drawings, recognizer) -> None:
    strokes = example_strokes("205", number_pad.canvas_size)
    number_pad.add_strokes(strokes)
    boxes = [p.box for p in number_pad.prediction.digits]
    number_pad.number_box.value = "205"
    number_pad.save_button.click()
    assert number_pad.error is None, number_pad.error
    assert drawings.labels == [2, 0, 5] and number_pad.saved == 3
    assert number_pad.strokes == []
    records = list(drawings)
    for record, box in zip(records, boxes, strict=True):
        assert record.drawing.canvas == (420, 200) and record.drawing.pen == 20.0
        points = np.concatenate(record.drawing.strokes)
        assert (points[:, 0] >= box.left).all() and (points[:, 0] <= box.right).all()
        # Each record is that digit alone: read on its own, it is the digit it was saved as.
        assert recognizer.predict_strokes(record.drawing).digit == record.label
    # Every stroke of the drawing went to exactly one digit, whole.
    assert sum(len(r.drawing.strokes) for r in records) == len(strokes)


def test_a_number_of_the_wrong_length_saves_nothing(number_pad: DrawingPad, drawings) -> None:
    number_pad.add_strokes(example_strokes("205", number_pad.canvas_size))
    number_pad.number_box.value = "2050"
    number_pad.save_button.click()
    assert "typed 4 digits (2050) but the pad found 3" in number_pad.error
    assert "Nothing was saved" in number_pad.error_area.value
    assert not drawings.path.exists() and number_pad.saved == 0
    assert len(number_pad.strokes) == len(example_strokes("205"))  # the drawing is kept, to try again
    with pytest.raises(ValueError, match="digits only"):
        number_pad.save_number("2o5")
    assert number_pad.save_number(" 205 ") == 3  # the right count saves


def test_number_mode_right_saves_the_number_read(number_pad: DrawingPad, drawings) -> None:
    number_pad.add_strokes(example_strokes("47", number_pad.canvas_size))
    number_pad.save_reading()
    assert drawings.labels == [4, 7]


def test_number_mode_saves_each_digit_with_the_strokes_it_was_read_from(number_pad: DrawingPad, drawings) -> None:
    number_pad.add_strokes(example_strokes("47", number_pad.canvas_size))
    reading = number_pad.prediction
    number_pad.save_number("47")
    saved = list(drawings)
    assert [d.label for d in saved] == [4, 7]
    for record, digit in zip(saved, reading.digits, strict=True):
        assert len(record.drawing.strokes) == len(digit.strokes) > 0
        for stored, read in zip(record.drawing.strokes, digit.strokes, strict=True):
            np.testing.assert_allclose(np.asarray(stored), read, atol=1e-6)
