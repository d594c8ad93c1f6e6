"""digitlib.memory: a recogniser that reads with the user's labelled drawings at once, on real pen digits."""

from __future__ import annotations

import numpy as np
import pytest

from digitlib import memory
from digitlib.calibration import TEMPERATURES
from digitlib.drawing import Drawing
from digitlib.drawings_store import PersonalDrawings, SavedDrawing
from digitlib.examples import example_strokes
from digitlib.memory import Remembering, remember
from digitlib.nonsense import nonsense_strokes
from digitlib.pen_augment import jitter_strokes, place_on_canvas
from digitlib.pen_digits import load_pen_digits


def on_the_pad(strokes, rng) -> Drawing:
    placed, pen = place_on_canvas(strokes, rng)
    return Drawing(placed, 280, pen)


@pytest.fixture(scope="module")
def one_writer() -> list[tuple[Drawing, int]]:
    """The tune writer with the most digits, each drawn once on the pad the way `place_on_canvas` draws it."""
    tune = load_pen_digits("tune")
    writer = max({s.writer for s in tune}, key=lambda w: sum(s.writer == w for s in tune))
    rng = np.random.default_rng(0)
    return [(on_the_pad(s.strokes, rng), s.label) for s in tune if s.writer == writer]


def saved(drawing: Drawing, label: int) -> SavedDrawing:
    return SavedDrawing(drawing, label, "2026-01-01T00:00:00.000000Z")


def test_a_corrected_drawing_and_its_near_copies_are_read_as_labelled(recognizer, one_writer):
    drawing, label = one_writer[0]
    wrong = (recognizer.predict_strokes(drawing).digit + 1) % 10  # a label the model would never give it
    mine = remember(recognizer, [saved(drawing, wrong)])
    assert mine.predict_strokes(drawing).digit == wrong
    rng = np.random.default_rng(1)
    copies = [drawing.with_strokes(jitter_strokes(drawing.strokes, rng, 0.01)) for _ in range(5)]
    assert [mine.predict_strokes(c).digit for c in copies] == [wrong] * 5


def test_unlike_drawings_keep_the_models_reading_and_its_not_sure(recognizer, one_writer):
    zeros = [saved(d, label) for d, label in one_writer if label == 0][:5]
    mine = remember(recognizer, zeros)
    others = [d for d, label in one_writer if label in (1, 7, 4)]
    assert len(others) >= 10
    for drawing in others:
        base, ours = recognizer.predict_strokes(drawing), mine.predict_strokes(drawing)
        assert not (ours.digit == 0 and ours.is_confident), "a memory of 0s made an unlike drawing a sure 0"
        if base.is_confident:
            assert (ours.digit, ours.is_confident) == (base.digit, True)
            assert ours.probabilities[0] < 3 * base.probabilities[0] + 0.005  # a tiny 0 stays tiny


def test_nonsense_is_no_surer_with_a_memory_of_a_writers_digits(recognizer, one_writer):
    mine = remember(recognizer, [saved(d, label) for d, label in one_writer])
    rng = np.random.default_rng(2)
    scribbles = [on_the_pad(nonsense_strokes(rng), rng) for _ in range(150)]
    base = sum(recognizer.predict_strokes(s).is_confident for s in scribbles)
    ours = sum(mine.predict_strokes(s).is_confident for s in scribbles)
    assert ours <= base + 2, f"sure of {ours} of 150 scribbles with the memory, {base} without"


def test_it_reads_a_writer_better_as_their_drawings_are_added(recognizer, one_writer, tmp_path):
    drawings = PersonalDrawings(tmp_path / "mine.jsonl")
    mine = remember(recognizer, drawings)
    corrections = {"base": 0, "memory": 0}
    for drawing, label in one_writer:
        for name, rec in (("base", recognizer), ("memory", mine)):
            read = rec.predict_strokes(drawing)
            corrections[name] += read.digit != label or not read.is_confident
        drawings.add(drawing, label)  # what "right" or a digit button does on the pad
    assert mine.learnt == len(one_writer)
    assert corrections["memory"] < corrections["base"], corrections


def test_it_follows_the_drawings_file(recognizer, tmp_path):
    drawings = PersonalDrawings(tmp_path / "mine.jsonl")
    mine = remember(recognizer, drawings)
    assert mine.learnt == 0
    four = Drawing(example_strokes("4"), 280, 20)
    PersonalDrawings(drawings.path).add(four, 9)  # added by another pad: counts from the next reading on
    assert mine.predict_strokes(four).digit == 9
    assert mine.learnt == 1
    drawings.path.write_text("")  # the file replaced by an empty one: nothing is remembered
    assert mine.predict_strokes(four).digit == recognizer.predict_strokes(four).digit
    assert mine.learnt == 0


def test_not_sure_is_refitted_on_the_users_drawings_once_there_are_enough(recognizer, one_writer):
    few = remember(recognizer, [saved(d, label) for d, label in one_writer[: memory.REFIT_FROM - 1]])
    assert few.user_temperature == 1.0
    many = remember(recognizer, [saved(d, label) for d, label in one_writer[: memory.REFIT_FROM]])
    assert many.user_temperature != 1.0
    assert TEMPERATURES[0] <= many.user_temperature <= TEMPERATURES[1]


def test_numbers_are_read_through_the_memory(recognizer):
    strokes = example_strokes("47", canvas=(560, 280))
    number = recognizer.predict_number_strokes(strokes, (560, 280), 20)
    middle = np.mean(np.concatenate([np.asarray(s) for s in strokes])[:, 0])
    four = Drawing([s for s in strokes if np.mean(np.asarray(s)[:, 0]) < middle], (560, 280), 20)
    mine = remember(recognizer, [saved(four, 1)])  # "that 4 is how I write a 1"
    assert number.text == "47"
    assert mine.predict_number_strokes(strokes, (560, 280), 20).text == "17"


def test_bad_arguments_say_what_to_pass(recognizer):
    with pytest.raises(TypeError, match="Recognizer"):
        remember("model.keras", [])
    with pytest.raises(TypeError, match="SavedDrawing"):
        remember(recognizer, [[(0, 0), (10, 10)]])
    mine = remember(recognizer, [])
    assert isinstance(mine, Remembering) and mine.base is recognizer
    assert remember(mine, []).base is recognizer  # remembering twice wraps the model, not the memory
