"""What the drawing pad shows, as HTML: its stylesheet, the answer, the probability bars and the 28×28 images.

`digitlib.pad` holds the widget's logic and puts these strings into its HTML widgets; everything here is a pure
function of a reading, so it is tested without a browser. The classes are the pad's stable DOM API (see
`digitlib.pad`): the answer is ``.digitlib-pad-answer`` with ``data-state`` one of `ANSWER_STATES` and
``data-live`` "true" for a reading made while the pen is still down (the pad reads once more when it lifts).
"""

from __future__ import annotations

import base64
import functools
import html
import io
import traceback
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from digitlib.recognizer import DigitPrediction, NumberPrediction

#: The values of the answer's ``data-state``: nothing to read, a sure answer, "not sure", an error.
ANSWER_STATES = ("empty", "confident", "unsure", "error")

HINTS = {
    "digit": "Draw one digit (0-9), as large as you like.",
    "number": "Write a number: digits side by side, each one apart from the next.",
}


@functools.cache
def stylesheet() -> str:
    """The pad's CSS (``digitlib/pad.css``, shipped with the package) in a ``<style>`` element."""
    css = resources.files("digitlib").joinpath("pad.css").read_text(encoding="utf-8")
    return f"<style>\n{css}</style>"


def hint_html(mode: str) -> str:
    """The line above the canvas that says what to draw in ``mode`` ("digit" or "number")."""
    return f'<span class="digitlib-pad-caption">{html.escape(HINTS[mode])}</span>'


def answer_box(state: str, text: str, caption: str, live: bool = False) -> str:
    """The answer (``.digitlib-pad-answer`` with its ``data-state`` and ``data-live``) and a caption under it."""
    if state not in ANSWER_STATES:
        raise ValueError(f"state must be one of {ANSWER_STATES}, got {state!r}")
    return (
        f'<div class="digitlib-pad-answer" data-state="{state}" data-live="{str(bool(live)).lower()}">'
        f"{html.escape(text)}</div>"
        f'<div class="digitlib-pad-caption">{html.escape(caption)}</div>'
    )


def percent(probability: float) -> str:
    """0.934 -> '93%'."""
    return f"{100 * probability:.0f}%"


def alternatives(prediction: DigitPrediction) -> str:
    """'7 (45%) or 1 (30%)': the two most probable digits."""
    runner_up = prediction.runner_up
    return (
        f"{prediction.digit} ({percent(prediction.confidence)}) "
        f"or {runner_up} ({percent(float(prediction.probabilities[runner_up]))})"
    )


def _sure_from(threshold: float) -> str:
    # The threshold is the recogniser's own (chosen from data, in the model card), so the pad states it.
    return f"sure from {percent(threshold)}"


def answer_html(prediction: DigitPrediction | NumberPrediction, drawn: bool, live: bool = False) -> str:
    """The answer for a reading: the digit or number when the recogniser is sure; "not sure", naming the two
    likeliest digits, when it is not; and "nothing to read" when there are strokes (``drawn``) but nothing that
    reads as a digit (a tap, a speck, noise, ink off the canvas), never a guess. ``live``: read while the pen is
    still down."""
    return answer_box(*_answer(prediction, drawn), live=live)


def _answer(prediction: DigitPrediction | NumberPrediction, drawn: bool) -> tuple[str, str, str]:
    """(state, text, caption) of the answer for a reading; see `answer_html`."""
    if hasattr(prediction, "digits"):  # a NumberPrediction
        if not prediction.digits:
            if drawn:
                return ("empty", "nothing to read", "Write digits side by side, each as tall as you like.")
            return ("empty", "", "nothing written yet")
        shown = "".join(str(p.digit) if p.is_confident else "?" for p in prediction.digits)
        unsure = [(i, p) for i, p in enumerate(prediction.digits, 1) if not p.is_confident]
        if not unsure:
            count = len(prediction.digits)
            return ("confident", shown, f"{count} digit{'s' * (count != 1)}, all clear")
        doubts = "; ".join(f"digit {i}: {alternatives(p)}" for i, p in unsure)
        threshold = unsure[0][1].threshold
        return ("unsure", shown, f"best guess {prediction.text}; not sure of {doubts} ({_sure_from(threshold)})")
    if prediction.digit is None:
        if drawn:
            # Strokes, but no digit in them: say so rather than name the least unlikely digit.
            return ("empty", "nothing to read", "Draw a digit: a tap, a tiny mark or ink off the canvas is not read.")
        return ("empty", "", "nothing drawn yet")
    if not prediction.is_confident:
        return ("unsure", "not sure", f"maybe {alternatives(prediction)} ({_sure_from(prediction.threshold)})")
    caption = f"{percent(prediction.confidence)} sure ({_sure_from(prediction.threshold)})"
    return ("confident", str(prediction.digit), caption)


def error_answer_html() -> str:
    """The answer while the pad has no reading because of an error (the message is under the pad)."""
    return answer_box("error", "error", "see the message below the pad")


def error_text(error: BaseException) -> str:
    """'ValueError: message', with the error's notes (``add_note``) after it."""
    return " ".join([f"{type(error).__name__}: {error}", *getattr(error, "__notes__", ())])


def error_html(error: BaseException, headline: str = "The pad hit an error") -> str:
    """The message for ``.digitlib-pad-error``: the headline and the error, its traceback folded away."""
    details = html.escape("".join(traceback.format_exception(error)))
    return (
        f"<b>{html.escape(headline)}:</b> {html.escape(error_text(error))}"
        f"<details><summary>details</summary><pre>{details}</pre></details>"
    )


def png_data_url(image: np.ndarray) -> str:
    """A 28×28 float image in [0, 1] as a PNG data URL (shown scaled up, pixels kept sharp)."""
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def figure_html(image: np.ndarray, size: int, caption: str, unsure: bool = False) -> str:
    """One 28×28 image the model sees, shown ``size`` px square, with a caption."""
    css_class = ' class="digitlib-pad-unsure"' if unsure else ""
    return (
        f'<figure{css_class}><img src="{png_data_url(image)}" width="{size}" height="{size}" '
        f'alt="28x28 image the model sees"><figcaption>{html.escape(caption)}</figcaption></figure>'
    )


def bars_html(probabilities: np.ndarray) -> str:
    """Ten bars, one per digit, the most probable one marked ``.digitlib-pad-top``."""
    top = int(np.argmax(probabilities)) if probabilities.any() else None
    rows = []
    for digit, probability in enumerate(probabilities):
        css_class = "digitlib-pad-bar-row" + (" digitlib-pad-top" if digit == top else "")
        rows.append(
            f'<div class="{css_class}"><span>{digit}</span><span class="digitlib-pad-track">'
            f'<span class="digitlib-pad-fill" style="width:{100 * float(probability):.1f}%">'
            f"</span></span><span>{percent(float(probability))}</span></div>"
        )
    return '<div class="digitlib-pad-bars">' + "".join(rows) + "</div>"


def details_html(prediction: DigitPrediction | NumberPrediction) -> str:
    """Bars for the ten probabilities and the 28×28 image the model sees (one per digit in number mode, with the
    digit read and its probability)."""
    if hasattr(prediction, "digits"):
        figures = [
            figure_html(p.mnist_image, 56, f"{p.digit} · {percent(p.confidence)}", not p.is_confident)
            for p in prediction.digits
        ]
        if not figures:
            return '<div class="digitlib-pad-caption">Each digit the model reads shows here.</div>'
        caption = '<div class="digitlib-pad-caption">What the model sees, digit by digit:</div>'
        return caption + '<div class="digitlib-pad-views">' + "".join(figures) + "</div>"
    figure = figure_html(prediction.mnist_image, 112, "what the model sees (28×28)")
    return bars_html(prediction.probabilities) + f'<div class="digitlib-pad-views">{figure}</div>'


def prompt_html(text: str) -> str:
    """A few words beside the correction buttons."""
    return f'<span class="digitlib-pad-prompt">{html.escape(text)}</span>'


def saved_html(saved: int, total: int | None, where: str | None) -> str:
    """The corrections counter: how many drawings this pad saved, and how many the file holds."""
    text = f"{saved} saved"
    if total is not None:
        text += f" · {total} in {where}" if where else f" · {total} in all"
    return f'<span class="digitlib-pad-caption">{html.escape(text)}</span>'
