"""The shipped pen digits (`digitlib.pen_digits`): checksums, the writer groups, and the label corrections."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from digitlib.pen_digits import (
    GROUPS,
    LABEL_CORRECTIONS,
    PEN_DIGIT_FILES,
    PenDigitsError,
    assign_writer_groups,
    load_pen_digits,
    read_pen_digits,
    shipped_pen_digits,
    writer_groups,
)

DEV_FILE, DEV_SHA256 = PEN_DIGIT_FILES["dev"]


@pytest.fixture(scope="module")
def records() -> list[dict]:
    """The records of both shipped files, as written, in the order `shipped_pen_digits` reads them."""
    files = [json.loads(gzip.decompress(path.read_bytes())) for path, _ in PEN_DIGIT_FILES.values()]
    return [record for content in files for record in content["samples"]]


def test_the_corrected_labels_are_the_only_change(records) -> None:
    as_written = [s for path, sha in PEN_DIGIT_FILES.values() for s in read_pen_digits(path, sha)]
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


def test_every_writer_is_in_exactly_one_group_and_the_groups_keep_the_corrections(records) -> None:
    groups = {name: load_pen_digits(name) for name in GROUPS}
    by_writer = {name: {s.writer for s in samples} for name, samples in groups.items()}
    assert not by_writer["train"] & by_writer["tune"] and not by_writer["train"] & by_writer["report"]
    assert not by_writer["tune"] & by_writer["report"]
    assert sum(len(samples) for samples in groups.values()) == len(records)
    assert set().union(*by_writer.values()) == {r["writer"] for r in records}
    everyone = [s for samples in groups.values() for s in samples]
    for record in records:
        if (record["file"], record["segment"]) not in LABEL_CORRECTIONS:
            continue
        recorded, written = LABEL_CORRECTIONS[(record["file"], record["segment"])]
        writer = record["writer"]
        side = [s.label for s in everyone if s.writer == writer]
        as_written = [r["label"] for r in records if r["writer"] == writer]
        assert side.count(written) == as_written.count(written) + 1
        assert side.count(recorded) == as_written.count(recorded) - 1


def test_the_shipped_groups_are_the_ones_the_seeded_assignment_makes() -> None:
    made = assign_writer_groups(shipped_pen_digits())
    assert {name: frozenset(writers) for name, writers in made.items()} == writer_groups()
    # Every site with more than one writer keeps one for training.
    sites: dict[str, set[str]] = {}
    for sample in shipped_pen_digits():
        sites.setdefault(sample.inst, set()).add(sample.writer)
    for site, site_writers in sites.items():
        if len(site_writers) > 1:
            assert site_writers & writer_groups()["train"], site


def test_another_seed_makes_other_groups() -> None:
    assert assign_writer_groups(shipped_pen_digits(), seed=1) != assign_writer_groups(shipped_pen_digits(), seed=0)


def test_a_group_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="group must be 'all', 'train', 'tune' or 'report'"):
        load_pen_digits("validation")
    with pytest.raises(ValueError, match="read another file with group='all'"):
        load_pen_digits("train", path=DEV_FILE)


def test_a_correction_for_another_file_is_refused(tmp_path: Path, records) -> None:
    # The same UNIPEN place with another label: the corrections were made for some other file.
    path = tmp_path / "other.json.gz"
    changed = [
        dict(r, label=(r["label"] + 1) % 10) if (r["file"], r["segment"]) in LABEL_CORRECTIONS else r for r in records
    ]
    path.write_bytes(gzip.compress(json.dumps({"samples": changed}).encode()))
    with pytest.raises(PenDigitsError, match="not the one the corrections were made for"):
        read_pen_digits(path, corrections=LABEL_CORRECTIONS)
    # Another file is read as it is written unless corrections are asked for.
    assert [s.label for s in read_pen_digits(path)] == [r["label"] for r in changed]


def test_a_correction_for_a_digit_no_shipped_file_holds_is_refused(monkeypatch) -> None:
    from digitlib import pen_digits

    monkeypatch.setattr(pen_digits, "LABEL_CORRECTIONS", {**LABEL_CORRECTIONS, ("apb/nowhere", "1"): (3, 5)})
    monkeypatch.setattr(pen_digits, "_shipped", None)
    with pytest.raises(PenDigitsError, match=r"no shipped sample at \[\('apb/nowhere', '1'\)\]"):
        pen_digits.shipped_pen_digits()
