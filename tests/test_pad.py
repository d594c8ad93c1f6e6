"""The drawing pad without a browser: strokes go in through add_stroke or through the canvas's own event messages,
and the shipped model reads them. Nothing is mocked; the browser itself is tested in tests/browser."""

from __future__ import annotations

import re

import numpy as np
import pytest

from digitlib.pad import DrawingPad
from digitlib.render import example_strokes
from digitlib.recognizer import Recognizer


@pytest.fixture
def pad(recognizer: Recognizer) -> DrawingPad:
    return DrawingPad(recognizer)


def answer(pad: DrawingPad) -> tuple[str, str]:
    """(data-state, text) of the answer the widget shows, read from its HTML as a browser would."""
    match = re.search(r'class="digitlib-pad-answer" data-state="(\w+)">([^<]*)<', pad.result.value)
    assert match, pad.result.value
    return match.group(1), match.group(2)


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
    # Read while drawing (throttled, so perhaps not after the very last move) ...
    assert pad.prediction.digit is not None, "the pad should read before the pen is lifted"
    send_canvas_event(pad, "mouse_up", x=stroke[-1][0], y=stroke[-1][1])
    assert pad.prediction.digit == 7  # ... and always when the pen is lifted


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
    assert pad.prediction.text == "205"
    pad.mode = "digit"
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


def test_a_lone_tap_is_not_read_as_a_digit(pad: DrawingPad) -> None:
    send_canvas_event(pad, "mouse_down", x=200.0, y=200.0)
    send_canvas_event(pad, "mouse_up", x=200.0, y=200.0)
    assert len(pad.strokes) == 1
    assert pad.prediction.digit is None


def test_pen_width_applies_to_the_whole_drawing(pad: DrawingPad) -> None:
    pad.add_strokes(example_strokes("7"))
    thin_ink = (pad.canvas_image() < 128).sum()
    pad.pen_slider.value = 36  # what the slider does
    assert pad.pen_width == 36
    assert (pad.canvas_image() < 128).sum() > 1.4 * thin_ink
    assert pad.prediction.digit == 7
    with pytest.raises(ValueError, match="pen_width"):
        pad.pen_width = 500


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
    assert pad.prediction.digit is not None and not pad.prediction.is_confident
    assert answer(pad) == ("unsure", "not sure")
    assert "maybe" in pad.result.value


def test_number_mode_marks_unsure_digits(undecided_recognizer: Recognizer) -> None:
    pad = DrawingPad(undecided_recognizer, mode="number")
    pad.add_strokes(example_strokes("205"))
    assert len(pad.prediction.digits) == 3
    assert answer(pad) == ("unsure", "???")
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


def test_bad_settings_are_refused(recognizer: Recognizer) -> None:
    with pytest.raises(ValueError, match="mode"):
        DrawingPad(recognizer, mode="letters")
    with pytest.raises(ValueError, match="canvas_size"):
        DrawingPad(recognizer, canvas_size=0)
    with pytest.raises(ValueError, match="pen_width"):
        DrawingPad(recognizer, pen_width=0)


def test_example_strokes_fit_the_canvas() -> None:
    for text, size in [("7", 280), ("2025", (420, 200)), ("123456", 280)]:
        points = np.concatenate([np.asarray(s) for s in example_strokes(text, size)])
        width, height = (size, size) if isinstance(size, int) else size
        assert points.min() >= 0 and points[:, 0].max() <= width and points[:, 1].max() <= height
    with pytest.raises(ValueError, match="digits"):
        example_strokes("12a")
    with pytest.raises(ValueError, match="digits"):
        example_strokes("")


def test_visible_state_has_stable_css_classes(pad: DrawingPad) -> None:
    for widget, css_class in [
        (pad, "digitlib-pad"),
        (pad.canvas, "digitlib-pad-canvas"),
        (pad.result, "digitlib-pad-result"),
        (pad.error_area, "digitlib-pad-error"),
        (pad.mode_toggle, "digitlib-pad-mode"),
        (pad.undo_button, "digitlib-pad-undo"),
        (pad.clear_button, "digitlib-pad-clear"),
    ]:
        assert css_class in widget._dom_classes
