"""Generated files: a drawings file, a model card and a fusion are read, or refused with a clear error, never crash.

Like `test_reliability.py`, a fixed budget of generated inputs (hypothesis, derandomised); ``make fuzz`` runs both
files with ten times the budget (``DIGITLIB_FUZZ_SCALE``).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitlib.calibration import Calibration
from digitlib.drawings_store import FORMAT, DrawingsFileError, PersonalDrawings
from digitlib.model_files import ModelFileError, card_path, file_sha256
from digitlib.recognizer import SHIPPED_MODEL, Recognizer
from digitlib.sequence_reader import Fusion

SCALE = int(os.environ.get("DIGITLIB_FUZZ_SCALE", "1"))


def budget(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


GOOD_LINE = json.dumps(
    {
        "digitlib": FORMAT,
        "label": 3,
        "canvas_size": [280, 280],
        "pen_width": 20.0,
        "time": "2026-01-01T00:00:00.000000Z",
        "strokes": [[[10.0, 10.0], [50.0, 90.0], [80.0, 20.0]]],
    }
).encode()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
mangled_lines = st.one_of(
    st.just(GOOD_LINE),
    st.binary(max_size=80),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["digitlib", "label", "canvas_size", "pen_width", "time", "strokes"]), json_values
    ).map(lambda d: json.dumps({"digitlib": FORMAT, **d}).encode()),
    st.integers(0, len(GOOD_LINE)).map(lambda n: GOOD_LINE[:n]),
)


@budget(300)
@given(lines=st.lists(mangled_lines, max_size=6), newline_at_end=st.booleans())
def test_any_drawings_file_is_read_or_refused_clearly(tmp_path_factory, lines, newline_at_end):
    path = tmp_path_factory.mktemp("drawings") / "my_digits.jsonl"
    path.write_bytes(b"\n".join(lines) + (b"\n" if newline_at_end else b""))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a torn last line is skipped with a warning
            drawings = PersonalDrawings(path)
            count = len(drawings)
    except DrawingsFileError as error:
        assert str(path) in str(error)  # says which file
        return
    assert count <= len(lines)
    assert all(0 <= label <= 9 for label in drawings.labels)
    for saved in drawings:
        assert saved.drawing.canvas[0] > 0 and np.isfinite(saved.drawing.pen)


calibrations = st.one_of(
    json_values,
    st.fixed_dictionaries({"temperature": json_values, "threshold": json_values}),
    st.fixed_dictionaries(
        {"temperature": st.floats(allow_nan=True, allow_infinity=True), "threshold": st.floats(-2, 3)}
    ),
)


@budget(500)
@given(values=calibrations)
def test_any_calibration_in_a_card_is_taken_only_when_it_makes_sense(values):
    try:
        calibration = Calibration.from_dict(values)
    except ValueError as error:
        assert "calibration" in str(error)
        return
    assert 0 < calibration.temperature < 100 and 0.5 < calibration.threshold <= 1.0


@budget(500)
@given(values=st.one_of(json_values, st.fixed_dictionaries({k: json_values for k in ("cnn_weight", "seq_weight")})))
def test_any_fusion_in_a_card_is_taken_only_when_it_makes_sense(values):
    if isinstance(values, dict) and "cnn_weight" in values:
        values = {**values, "threshold": 0.9}
    try:
        fusion = Fusion.from_dict(values)
    except ValueError as error:
        assert "fusion" in str(error)
        return
    assert fusion.cnn_weight >= 0 and fusion.seq_weight >= 0 and fusion.cnn_weight + fusion.seq_weight > 0


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    return Path(shutil.copy(SHIPPED_MODEL, folder / "digits.keras"))


@budget(15)
@given(card=st.dictionaries(st.sampled_from(["calibration", "model", "writers", "seed"]), json_values, max_size=4))
def test_a_model_with_any_card_loads_or_says_what_is_wrong(model_copy, card):
    card = {**card, "model_sha256": file_sha256(model_copy)}
    card_path(model_copy).write_text(json.dumps(card))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no calibration: a warning, and the default threshold
            rec = Recognizer.load(model_copy, sequence=False)
    except ModelFileError as error:
        assert str(model_copy) in str(error)
        return
    assert 0.5 < rec.threshold <= 1.0 and rec.temperature > 0
