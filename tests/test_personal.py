"""Your drawings, kept safely and taught to a model of your own (`digitlib.personal`), on real pen digits."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from digitlib import pen_augment
from digitlib.drawings_store import DrawingsFileError, PersonalDrawings, default_drawings_path
from digitlib.pen_digits import BOX_UNITS, load_pen_digits, read_pen_digits
from digitlib.personal import FineTuning, personalise
from digitlib.recognizer import Recognizer

CANVAS = 280


@pytest.fixture(scope="module")
def tune_writers() -> dict[str, list]:
    """The shipped tune writers' pen digits, by writer, in file order."""
    by_writer = defaultdict(list)
    for sample in load_pen_digits("tune"):
        by_writer[sample.writer].append(sample)
    return dict(by_writer)


def placed(samples, seed: int = 0) -> list[tuple[int, list[list[float]], float]]:
    """Pen digits drawn as a person would on the pad: (label, strokes in canvas px, pen width)."""
    rng = np.random.default_rng(seed)
    drawings = []
    for sample in samples:
        strokes, pen = pen_augment.place_on_canvas(sample.strokes, rng, canvas=CANVAS)
        drawings.append((sample.label, [s.tolist() for s in strokes], pen))
    return drawings


@pytest.fixture(scope="module")
def some_drawings(tune_writers) -> list:
    """Twelve real drawings of one writer, placed on a 280-px canvas."""
    writer = max(tune_writers, key=lambda w: len(tune_writers[w]))
    return placed(tune_writers[writer][:12])


# -- storage --------------------------------------------------------------------------------------------------


def test_drawings_round_trip_through_the_file(tmp_path: Path, some_drawings):
    path = tmp_path / "mine.jsonl"
    drawings = PersonalDrawings(path)
    assert len(drawings) == 0 and not path.exists()  # created on the first add, not before
    stored = [drawings.add(strokes, label, canvas_size=CANVAS, pen_width=pen) for label, strokes, pen in some_drawings]
    assert stored[0].label == some_drawings[0][0] and stored[0].drawing.canvas == (CANVAS, CANVAS)

    again = PersonalDrawings(path)  # a fresh reader: everything comes from the file
    assert len(again) == len(some_drawings)
    assert again.labels == [label for label, _, _ in some_drawings]
    for drawing, (label, strokes, pen) in zip(again, some_drawings, strict=True):
        assert drawing.label == label and drawing.drawing.pen == pytest.approx(pen)
        assert len(drawing.drawing.strokes) == len(strokes)
        for got, want in zip(drawing.drawing.strokes, strokes, strict=True):
            np.testing.assert_allclose(got, want, atol=0.006)  # kept to 1/100 px
        assert drawing.time.endswith("Z") and drawing.time[:4].isdigit()
    assert again[-1].label == some_drawings[-1][0]
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == len(some_drawings) + 1
    assert all(json.loads(line)["digitlib"] == "drawing/1" for line in lines[:-1])


def test_another_pad_s_drawings_are_seen(tmp_path: Path, some_drawings):
    first, second = PersonalDrawings(tmp_path / "d.jsonl"), PersonalDrawings(tmp_path / "d.jsonl")
    label, strokes, pen = some_drawings[0]
    first.add(strokes, label, pen_width=pen)
    assert len(second) == 1
    second.add(strokes, (label + 1) % 10, pen_width=pen)
    assert first.labels == [label, (label + 1) % 10]


def test_the_default_file_is_in_the_data_folder(cache_dir: Path, some_drawings):
    assert default_drawings_path() == cache_dir / "my_digits.jsonl"
    label, strokes, pen = some_drawings[0]
    PersonalDrawings().add(strokes, label, pen_width=pen)
    assert PersonalDrawings(cache_dir / "my_digits.jsonl").labels == [label]


def test_a_torn_last_line_is_skipped_and_earlier_drawings_kept(tmp_path: Path, some_drawings):
    path = tmp_path / "mine.jsonl"
    drawings = PersonalDrawings(path)
    for label, strokes, pen in some_drawings[:3]:
        drawings.add(strokes, label, pen_width=pen)
    whole = path.read_bytes()
    next_line = PersonalDrawings(tmp_path / "other.jsonl").add(some_drawings[3][1], some_drawings[3][0]).to_line()
    path.write_bytes(whole + next_line.encode()[: len(next_line) // 2])  # a crash in the middle of a write

    with pytest.warns(RuntimeWarning, match="torn"):
        reader = PersonalDrawings(path)
    assert reader.labels == [label for label, _, _ in some_drawings[:3]]
    with pytest.warns(RuntimeWarning, match="torn"):
        reader.add(some_drawings[4][1], some_drawings[4][0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the file is whole again: no warning
        assert PersonalDrawings(path).labels == [label for label, _, _ in some_drawings[:3]] + [some_drawings[4][0]]
    assert path.read_bytes().startswith(whole)


def test_a_crash_during_the_first_write_leaves_a_usable_file(tmp_path: Path, some_drawings):
    path = tmp_path / "mine.jsonl"
    path.write_bytes(b'{"digitlib": "draw')
    with pytest.warns(RuntimeWarning, match="torn"):
        drawings = PersonalDrawings(path)
    assert len(drawings) == 0
    with pytest.warns(RuntimeWarning, match="torn"):
        drawings.add(some_drawings[0][1], some_drawings[0][0])
    assert PersonalDrawings(path).labels == [some_drawings[0][0]]


def test_a_last_drawing_without_its_newline_is_kept(tmp_path: Path, some_drawings):
    path = tmp_path / "mine.jsonl"
    drawings = PersonalDrawings(path)
    for label, strokes, pen in some_drawings[:2]:
        drawings.add(strokes, label, pen_width=pen)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))  # e.g. an editor that drops the final newline
    assert PersonalDrawings(path).labels == [label for label, _, _ in some_drawings[:2]]
    drawings.add(some_drawings[2][1], some_drawings[2][0])
    assert PersonalDrawings(path).labels == [label for label, _, _ in some_drawings[:3]]


@pytest.mark.parametrize(
    "content",
    [
        b"shopping list\nmilk\n",
        b"a,b,c",  # one line, no newline: not a torn line of ours either
        b'{"name": "x"}\n',
        b"[1, 2, 3]\n",
        b"\x89PNG\r\n\x1a\n\x00\x00",
    ],
)
def test_a_file_that_is_not_ours_is_refused_and_left_alone(tmp_path: Path, content: bytes, some_drawings):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(DrawingsFileError, match="not a digitlib drawings file"):
        PersonalDrawings(path)
    assert path.read_bytes() == content


def test_a_file_of_a_newer_format_says_to_upgrade(tmp_path: Path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"digitlib": "drawing/9", "label": 1}\n')
    with pytest.raises(DrawingsFileError, match="upgrade digitlib"):
        PersonalDrawings(path)


def test_a_damaged_line_in_the_middle_is_reported_with_its_number(tmp_path: Path, some_drawings):
    path = tmp_path / "mine.jsonl"
    drawings = PersonalDrawings(path)
    for label, strokes, pen in some_drawings[:2]:
        drawings.add(strokes, label, pen_width=pen)
    lines = path.read_text().split("\n")
    lines[0] = lines[0].replace('"label": ', '"label": 1')  # e.g. 3 -> 13
    path.write_text("\n".join(lines))
    with pytest.raises(DrawingsFileError, match="line 1 .*damaged"):
        PersonalDrawings(path)


@pytest.mark.parametrize(
    ("strokes", "label", "canvas_size", "pen_width"),
    [
        ([[(10, 10), (float("nan"), 20)]], 3, 280, 20),
        ([[(10, 10), (20, 2e7)]], 3, 280, 20),
        ("not strokes", 3, 280, 20),
        ([[(1, 2, 3)]], 3, 280, 20),
        ([], 3, 280, 20),
        ([[]], 3, 280, 20),
        ([[(10, 10), (20, 20)]], 10, 280, 20),
        ([[(10, 10), (20, 20)]], -1, 280, 20),
        ([[(10, 10), (20, 20)]], True, 280, 20),
        ([[(10, 10), (20, 20)]], 3.0, 280, 20),
        ([[(10, 10), (20, 20)]], 3, 0, 20),
        ([[(10, 10), (20, 20)]], 3, 280, -5),
        ([[(10, 10), (20, 20)]], 3, 280, float("inf")),
    ],
)
def test_bad_drawings_are_refused_and_nothing_is_written(tmp_path: Path, strokes, label, canvas_size, pen_width):
    path = tmp_path / "mine.jsonl"
    with pytest.raises(ValueError):
        PersonalDrawings(path).add(strokes, label, canvas_size=canvas_size, pen_width=pen_width)
    assert not path.exists()


_APPENDER = textwrap.dedent(
    """
    import sys
    from digitlib.drawings_store import PersonalDrawings
    path, label = sys.argv[1], int(sys.argv[2])
    drawings = PersonalDrawings(path)
    stroke = [(x * 0.37, (x * label) % 280) for x in range(400)]  # lines longer than a pipe buffer (4 KiB)
    for i in range(50):
        drawings.add([stroke, [(i, i), (i + 5, i + 9)]], label)
    """
)


def test_two_pads_appending_at_once_never_corrupt_the_file(tmp_path: Path):
    path = tmp_path / "shared.jsonl"
    workers = [subprocess.Popen([sys.executable, "-c", _APPENDER, str(path), str(label)]) for label in (1, 2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 101
    records = [json.loads(line) for line in lines[:-1]]  # every line whole
    assert sorted(r["label"] for r in records) == [1] * 50 + [2] * 50
    assert all(len(r["strokes"][0]) == 400 for r in records)
    assert PersonalDrawings(path).labels.count(2) == 50


def test_export_writes_pen_digits_that_read_back(tmp_path: Path, tune_writers, some_drawings):
    writer = max(tune_writers, key=lambda w: len(tune_writers[w]))
    originals = tune_writers[writer][:12]
    drawings = PersonalDrawings(tmp_path / "mine.jsonl", writer="ann")
    for label, strokes, pen in some_drawings:
        drawings.add(strokes, label, canvas_size=CANVAS, pen_width=pen)
    path = drawings.export(tmp_path / "mine.json.gz")

    samples = read_pen_digits(path)
    assert [s.label for s in samples] == drawings.labels
    assert {s.writer for s in samples} == {"personal/ann"}
    content = json.loads(gzip.decompress(path.read_bytes()))
    for record in content["samples"]:
        points = np.concatenate([np.asarray(s) for s in record["strokes"]])
        assert points.dtype.kind == "i" and points.min(axis=0).tolist() == [0, 0]
        assert points.max() == BOX_UNITS
    # The exported shapes are the writer's own (the shipped data is normalised the same way), within rounding.
    same = 0
    for sample, original in zip(samples, originals, strict=True):
        if len(sample.strokes) == len(original.strokes):
            same += all(
                a.shape == b.shape and np.abs(a - b).max() <= 3
                for a, b in zip(sample.strokes, original.strokes, strict=True)
            )
    assert same >= 10


def test_export_of_nothing_says_to_add_drawings(tmp_path: Path):
    with pytest.raises(ValueError, match="add some"):
        PersonalDrawings(tmp_path / "none.jsonl").export(tmp_path / "out.json.gz")
    assert not (tmp_path / "out.json.gz").exists()


# -- personalise ----------------------------------------------------------------------------------------------


def teach_and_test(samples, teach: int = 3) -> tuple[list, list]:
    """The first ``teach`` drawings of each digit (as the benchmark does), and the rest."""
    seen: dict[int, int] = defaultdict(int)
    taught, tested = [], []
    for drawing in placed(samples, seed=1):
        (taught if seen[drawing[0]] < teach else tested).append(drawing)
        seen[drawing[0]] += 1
    return taught, tested


def errors(rec: Recognizer, tested) -> int:
    return sum(rec.predict_strokes(strokes, CANVAS, pen).digit != label for label, strokes, pen in tested)


@pytest.fixture(scope="module")
def hardest_writer(tune_writers, recognizer: Recognizer) -> tuple[PersonalDrawings, list, int]:
    """The validation writer (60+ digits) the model reads worst: their teaching drawings in a file, their other
    drawings, and the errors on those before personalising."""
    best = None
    for writer in sorted(tune_writers):
        if len(tune_writers[writer]) < 60:
            continue
        taught, tested = teach_and_test(tune_writers[writer])
        before = errors(recognizer, tested)
        if best is None or before > best[3]:
            best = (writer, taught, tested, before)
    writer, taught, tested, before = best
    folder = Path(__import__("tempfile").mkdtemp(prefix="personal-test-"))
    drawings = PersonalDrawings(folder / "mine.jsonl", writer=writer.replace("/", "_"))
    for label, strokes, pen in taught:
        drawings.add(strokes, label, canvas_size=CANVAS, pen_width=pen)
    return drawings, tested, before


def same_weights(a: Recognizer, b: Recognizer) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.model.get_weights(), b.model.get_weights(), strict=True))


QUICK = FineTuning(renders=4, epochs=1, replay=1.0)


@pytest.mark.slow
def test_personalise_makes_a_new_model_and_leaves_the_old_one_alone(recognizer, hardest_writer, tmp_path: Path):
    drawings, _, _ = hardest_writer
    base_weights = [w.copy() for w in recognizer.model.get_weights()]
    mine = personalise(recognizer, drawings, seed=3, settings=QUICK)
    again = personalise(recognizer, drawings, seed=3, settings=QUICK)

    assert all(np.array_equal(a, b) for a, b in zip(recognizer.model.get_weights(), base_weights, strict=True))
    assert mine.model is not recognizer.model
    assert any(not np.array_equal(a, b) for a, b in zip(mine.model.get_weights(), base_weights, strict=True))
    assert same_weights(mine, again)  # the same drawings and seed give the same model

    card = mine.card["personalised"]
    assert card["drawings"] == len(drawings) and card["seed"] == 3
    assert card["labels"] == {d: drawings.labels.count(d) for d in sorted(set(drawings.labels))}
    assert 0.6 <= mine.threshold <= 0.995 and mine.temperature > 0

    path = mine.save(tmp_path / "runs" / "my_digits.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fine-tune of the shipped CNN keeps its fusion: no mismatch warning
        loaded = Recognizer.load(path)
    assert loaded.sequence is not None and mine.sequence is recognizer.sequence
    assert loaded.calibration.to_dict() == mine.calibration.to_dict()
    assert loaded.card["personalised"]["drawings"] == len(drawings)
    strokes, pen = [s.tolist() for s in drawings[0].drawing.strokes], drawings[0].drawing.pen
    np.testing.assert_allclose(
        loaded.predict_strokes(strokes, CANVAS, pen).probabilities,
        mine.predict_strokes(strokes, CANVAS, pen).probabilities,
        atol=1e-6,
    )


@pytest.mark.slow
def test_personalise_reads_the_writer_at_least_as_well_and_keeps_mnist(recognizer, hardest_writer, mnist_test_slice):
    drawings, tested, before = hardest_writer
    mine = personalise(recognizer, drawings, seed=0)
    assert errors(mine, tested) <= before
    images, labels = mnist_test_slice
    base = np.mean(recognizer.predict_mnist(images).argmax(1) == labels)
    assert np.mean(mine.predict_mnist(images).argmax(1) == labels) >= base - 0.005


def test_personalise_needs_enough_drawings(recognizer, tmp_path: Path, some_drawings):
    drawings = PersonalDrawings(tmp_path / "few.jsonl")
    for label, strokes, pen in some_drawings[:5]:
        drawings.add(strokes, label, pen_width=pen)
    with pytest.raises(ValueError, match="at least 10"):
        personalise(recognizer, drawings)
    with pytest.raises(TypeError, match="Recognizer"):
        personalise("model.keras", drawings)


def test_the_replay_pool_calibrates_on_the_images_the_base_run_held_out(recognizer, mnist):
    # The very images `training.train` held out of this model's run (by its card's recipe and seed), never replayed.
    from digitlib.replay import replay_pool
    from digitlib.training_data import mnist_split

    card = recognizer.card
    (x_train, y_train), _ = mnist
    (learnt, _), _, (held_out, _) = mnist_split(x_train, y_train, card["recipe"]["calibration_images"], card["seed"])
    pool = replay_pool(card=card)
    assert pool.calibration_sources["mnist"] == len(held_out) == card["recipe"]["calibration_images"]
    np.testing.assert_array_equal(pool.calibration_images[: len(held_out)], held_out)
    assert len(pool.mnist_images) == len(learnt) == card["train_sources"]["mnist"]
    # Another seed means another run, and another split: its pool is not the shipped model's.
    other = replay_pool(card={**card, "seed": 1})
    assert not np.array_equal(other.calibration_images[: len(held_out)], held_out)
