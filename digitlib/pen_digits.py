"""Real handwriting: digits written with a pen on tablets by 113 people (UNIPEN), shipped with digitlib.

MNIST was written on paper forms by American Census staff and students; people drawing on a screen write
differently (slashed zeros, flagged ones, crossed sevens, open fours). These pen trajectories let digitlib train
and measure on real drawn digits. Each sample keeps its strokes, so it can be drawn exactly as the pad would
draw it (`digitlib.render`). The data, its licence and what was changed are described in
``digitlib/assets/README.md``.

    >>> from digitlib.pen_digits import load_pen_digits
    >>> train = load_pen_digits("train")            # the training writers' digits
    >>> valid = load_pen_digits("validation")       # other writers: measure on these
    >>> valid[0].label, valid[0].writer, len(valid[0].strokes)

The split is **by writer**: no writer has digits on both sides, so a score on the validation writers says how
well digitlib reads people it never learnt from. It is seeded (`SPLIT_SEED`) and stratified by institution.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from digitlib.model_files import asset

#: The shipped file: UNIPEN train_r01_v07, category 1a, the development writers (see the data README).
PEN_DIGITS_FILE = asset("unipen-digits-dev.json.gz")
PEN_DIGITS_SHA256 = "bc703d45175d80b0801692b8681bcb6f2981cf6308aa760d032dc55125235e92"
#: Share of each institution's writers (by their digits) kept for validation, and the seed that picks them.
VALIDATION_SHARE = 0.25
SPLIT_SEED = 0
#: Coordinates in these files: each sample's box is scaled so its longest side is this many units.
BOX_UNITS = 1000
#: Digits of the shipped file whose label is wrong, by their place in UNIPEN (file, segment): (the label in the
#: file, the digit written). Found by reading every digit three times with the shipped model and looking at those
#: whose label it never gave 20% beside the same writer's other digits; only a digit that is plainly the writer's
#: own form of another digit is corrected (a flagged 1 read as a 7, or a closed 4 read as a 9, stays as written).
LABEL_CORRECTIONS: dict[tuple[str, str], tuple[int, int]] = {
    ("aga/crlmtchl", "596"): (7, 2),  # a 2 with a flat base like the writer's other 2s; their 7s are one arc
    ("apb/app1229", "8"): (8, 6),  # apb/Emda_Hartnett: a 6 drawn as all her other 6s are
}

Split = Literal["all", "train", "validation"]


class PenDigitsError(ValueError):
    """A pen-digit file is missing, corrupt or not in the expected format."""


@dataclass(frozen=True, eq=False)
class PenDigit:
    """One handwritten digit as pen strokes.

    Attributes:
        label: the digit 0-9.
        writer: who wrote it (``inst/name``); the split keeps each writer on one side.
        inst: the institution (site and tablet) that recorded it.
        strokes: the pen-down strokes in writing order, each a float array (n, 2) of ``(x, y)``; y grows
            downward, as on a canvas, and the longest side of the digit's box is `BOX_UNITS`.
    """

    label: int
    writer: str
    inst: str
    strokes: tuple[np.ndarray, ...]


def _read(path: Path, sha256: str | None) -> dict:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PenDigitsError(f"No pen-digit file at {path}; reinstall digitlib if it is the shipped one.") from None
    except OSError as err:
        raise PenDigitsError(f"{path} cannot be read ({err.strerror}).") from None
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise PenDigitsError(
            f"{path}: SHA-256 is {hashlib.sha256(raw).hexdigest()}, expected {sha256}; the file is corrupt or was "
            "changed. Reinstall digitlib (or `git checkout -- digitlib/assets/` in a checkout)."
        )
    try:
        content = json.loads(gzip.decompress(raw))
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PenDigitsError(
            f"{path}: not gzip-compressed JSON ({type(err).__name__}: {err}). Pen-digit files are .json.gz files "
            "of samples with label, writer and strokes (see digitlib/assets/README.md)."
        ) from None
    if not isinstance(content, dict) or not isinstance(content.get("samples"), list):
        raise PenDigitsError(
            f"{path}: expected a JSON object with a list of 'samples' (see digitlib/assets/README.md)."
        )
    return content


def _sample(record: object, index: int, path: Path) -> PenDigit | None:
    """One record as a `PenDigit` (None for a record without a single point)."""
    where = f"{path}, sample {index}"
    if not isinstance(record, dict):
        raise PenDigitsError(f"{where}: expected an object with label, writer and strokes.")
    label, writer, strokes = record.get("label"), record.get("writer"), record.get("strokes")
    if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label <= 9:
        raise PenDigitsError(f"{where}: label must be a digit 0-9, got {label!r}.")
    if not isinstance(writer, str) or not writer:
        raise PenDigitsError(f"{where}: writer must be a non-empty string, got {writer!r}.")
    if not isinstance(strokes, list):
        raise PenDigitsError(f"{where}: strokes must be a list of strokes, each a list of [x, y] points.")
    arrays = []
    for stroke in strokes:
        try:
            points = np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            raise PenDigitsError(f"{where}: a stroke must be a list of [x, y] number pairs.") from None
        if not np.all(np.isfinite(points)):
            raise PenDigitsError(f"{where}: a stroke has a non-finite coordinate.")
        if len(points):
            arrays.append(points)
    if not arrays:
        return None
    inst = record.get("inst") if isinstance(record.get("inst"), str) else writer.split("/")[0]
    return PenDigit(int(label), writer, inst, tuple(arrays))


def _corrected(records: list, corrections: dict[tuple[str, str], tuple[int, int]], path: Path) -> list:
    """``records`` with the labels of ``corrections`` put right (each must be found, with the label it corrects)."""
    records = list(records)
    found = set()
    for index, record in enumerate(records):
        key = (record.get("file"), record.get("segment")) if isinstance(record, dict) else None
        if key in corrections:
            recorded, written = corrections[key]
            if record.get("label") != recorded:
                raise PenDigitsError(
                    f"{path}, sample {index} ({key[0]}, segment {key[1]}): label {record.get('label')!r}, but the "
                    f"correction expects {recorded}; the file is not the one the corrections were made for."
                )
            records[index] = {**record, "label": written}
            found.add(key)
    if missing := sorted(set(corrections) - found):
        raise PenDigitsError(f"{path}: no sample at {missing}, which the label corrections are for.")
    return records


def read_pen_digits(
    path: str | os.PathLike,
    sha256: str | None = None,
    corrections: dict[tuple[str, str], tuple[int, int]] | None = None,
) -> list[PenDigit]:
    """Every sample with at least one point of a pen-digit file (the shipped format), in file order.

    Also reads files written by `digitlib.personal.PersonalDrawings.export`. With ``sha256``, the file must
    have that checksum; ``corrections`` ((file, segment) -> (label in the file, right label), as
    `LABEL_CORRECTIONS`) puts wrong labels right. Raises `PenDigitsError` saying what is wrong.
    """
    path = Path(path)
    content = _read(path, sha256)
    records = _corrected(content["samples"], corrections, path) if corrections else content["samples"]
    samples = [_sample(record, i, path) for i, record in enumerate(records)]
    kept = [s for s in samples if s is not None]
    if not kept:
        raise PenDigitsError(f"{path}: no sample has any stroke points.")
    if len(kept) < len(samples):
        warnings.warn(f"{path}: skipped {len(samples) - len(kept)} samples without stroke points", stacklevel=2)
    return kept


def split_by_writer(
    samples: list[PenDigit], validation_share: float = VALIDATION_SHARE, seed: int = SPLIT_SEED
) -> tuple[list[PenDigit], list[PenDigit]]:
    """Split samples into (train, validation) by writer: no writer on both sides.

    Within each institution, writers are taken in a seeded random order into the validation side until it holds
    ``validation_share`` of that institution's digits; a writer who alone holds more than twice that share stays
    on the training side (one prolific writer must not become the whole validation set). The same seed always
    gives the same split.
    """
    if not 0.0 < validation_share < 1.0:
        raise ValueError(f"validation_share must be between 0 and 1, got {validation_share}")
    by_inst: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for sample in samples:
        by_inst[sample.inst][sample.writer] += 1
    rng = np.random.default_rng(seed)
    validation_writers: set[str] = set()
    for inst in sorted(by_inst):
        counts = by_inst[inst]
        total = sum(counts.values())
        taken = 0
        for writer in rng.permutation(sorted(counts)):
            if taken >= validation_share * total:
                break
            if len(counts) > 1 and counts[writer] > 2 * validation_share * total:
                continue
            if len(counts) > 1 and len(validation_writers & set(counts)) == len(counts) - 1:
                break  # keep at least one writer of each institution for training
            validation_writers.add(str(writer))
            taken += counts[writer]
    train = [s for s in samples if s.writer not in validation_writers]
    validation = [s for s in samples if s.writer in validation_writers]
    return train, validation


def load_pen_digits(split: Split = "all", path: str | os.PathLike | None = None) -> list[PenDigit]:
    """The shipped pen digits (checksum verified, `LABEL_CORRECTIONS` applied), or those of another file in the
    same format (read as they are).

    ``split`` is ``"all"``, ``"train"`` (the training writers) or ``"validation"`` (the others), as
    `split_by_writer` makes it with its defaults.
    """
    if split not in ("all", "train", "validation"):
        raise ValueError(f"split must be 'all', 'train' or 'validation', got {split!r}")
    if path is None:
        samples = read_pen_digits(PEN_DIGITS_FILE, PEN_DIGITS_SHA256, LABEL_CORRECTIONS)
    else:
        samples = read_pen_digits(path)
    if split == "all":
        return samples
    train, validation = split_by_writer(samples)
    return train if split == "train" else validation


def writers(samples: list[PenDigit]) -> list[str]:
    """The writers of ``samples``, sorted."""
    return sorted({s.writer for s in samples})
