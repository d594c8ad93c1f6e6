"""The shipped pen digits (`digitlib.pen_digits`): checksum, split by writer, and the label corrections."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from digitlib.pen_digits import (
    LABEL_CORRECTIONS,
    PEN_DIGITS_FILE,
    PEN_DIGITS_SHA256,
    PenDigitsError,
    load_pen_digits,
    read_pen_digits,
)


@pytest.fixture(scope="module")
def records() -> list[dict]:
    """The shipped file's records, as written."""
    return json.loads(gzip.decompress(PEN_DIGITS_FILE.read_bytes()))["samples"]


def test_the_corrected_labels_are_the_only_change(records) -> None:
    as_written = read_pen_digits(PEN_DIGITS_FILE, PEN_DIGITS_SHA256)
    loaded = load_pen_digits("all")
    corrected = {
        i: LABEL_CORRECTIONS[(r["file"], r["segment"])]
        for i, r in enumerate(records)
        if (r.get("file"), r.get("segment")) in LABEL_CORRECTIONS
    }

    assert len(corrected) == len(LABEL_CORRECTIONS) and len(loaded) == len(as_written) == len(records)
    for index, (before, after) in enumerate(zip(as_written, loaded, strict=True)):
        assert before.writer == after.writer and len(before.strokes) == len(after.strokes)
        assert all(np.array_equal(a, b) for a, b in zip(before.strokes, after.strokes, strict=True))
        recorded, written = corrected.get(index, (before.label, before.label))
        assert (before.label, after.label) == (recorded, written)


def test_the_split_keeps_the_corrections_and_each_writer_on_one_side(records) -> None:
    train, validation = load_pen_digits("train"), load_pen_digits("validation")
    assert not {s.writer for s in train} & {s.writer for s in validation}
    assert len(train) + len(validation) == len(records)
    for record in records:
        if (record["file"], record["segment"]) not in LABEL_CORRECTIONS:
            continue
        recorded, written = LABEL_CORRECTIONS[(record["file"], record["segment"])]
        writer = record["writer"]
        side = [s.label for s in train + validation if s.writer == writer]
        as_written = [r["label"] for r in records if r["writer"] == writer]
        assert side.count(written) == as_written.count(written) + 1
        assert side.count(recorded) == as_written.count(recorded) - 1


def test_a_correction_for_another_file_is_refused(tmp_path: Path, records) -> None:
    # The same UNIPEN place with another label: the corrections were made for some other file.
    path = tmp_path / "other.json.gz"
    changed = [
        dict(r, label=(r["label"] + 1) % 10) if (r["file"], r["segment"]) in LABEL_CORRECTIONS else r for r in records
    ]
    path.write_bytes(gzip.compress(json.dumps({"samples": changed}).encode()))
    with pytest.raises(PenDigitsError, match="not the one the corrections were made for"):
        read_pen_digits(path, corrections=LABEL_CORRECTIONS)
    with pytest.raises(PenDigitsError, match="no sample at"):
        read_pen_digits(PEN_DIGITS_FILE, corrections={("apb/nowhere", "1"): (3, 5)})
    # Another file is read as it is written unless corrections are asked for.
    assert [s.label for s in read_pen_digits(path)] == [r["label"] for r in changed]
