"""Real handwriting: digits written with a pen on tablets by 187 people (UNIPEN), shipped with digitlib.

MNIST was written on paper forms; people drawing on a screen write differently (slashed zeros, flagged ones,
crossed sevens, open fours). These pen trajectories let digitlib train and measure on real drawn digits. Each
sample keeps its strokes, so it can be drawn exactly as the pad would draw it. Two files ship (see
``digitlib/assets/README.md``): ``dev`` (113 writers at seven sites) and ``more`` (74 writers at two other sites).

    >>> from digitlib.pen_digits import load_pen_digits
    >>> train = load_pen_digits("train")     # what models learn from
    >>> tune = load_pen_digits("tune")       # what every choice is made on
    >>> report = load_pen_digits("report")   # read only for the figures the README states

**The writer protocol.** Every writer of both files belongs to exactly one group, fixed once in
``assets/writer_groups.json`` (`assign_writer_groups` made it: seeded, site by site, by share of digits):
*train* (models learn from them), *tune* (thresholds, temperatures, widths, epochs, shares and label fixes are
chosen on them) and *report* (the README's figures). A model card lists the writers its model learnt from and
was tuned on, and ``benchmarks/drawn_digits.py`` refuses to report on those.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from digitlib.files import write_atomic
from digitlib.model_files import asset

#: The shipped files (UNIPEN train_r01_v07, category 1a) and their SHA-256, by name.
PEN_DIGIT_FILES: dict[str, tuple[Path, str]] = {
    "dev": (asset("unipen-digits-dev.json.gz"), "bc703d45175d80b0801692b8681bcb6f2981cf6308aa760d032dc55125235e92"),
    "more": (asset("unipen-digits-more.json.gz"), "a6f5347ecb0d0a0a8caa8526509ba763c3288e8e1b20c6021d2c951dc6ff9965"),
}
#: Which writer is in which group (see the module docstring).
WRITER_GROUPS_FILE = asset("writer_groups.json")
GROUPS = ("train", "tune", "report")
#: The share of each site's digits in the tune and report groups (the rest is train), and the seed that picked them.
GROUP_SHARES = {"report": 0.2, "tune": 0.2}
GROUP_SEED = 0
#: Coordinates in these files: each sample's box is scaled so its longest side is this many units.
BOX_UNITS = 1000
#: Digits whose label is wrong in the file, by their place in UNIPEN (file, segment): (the label in the file, the
#: digit written). Only a digit that is plainly the writer's own form of another digit is corrected.
LABEL_CORRECTIONS: dict[tuple[str, str], tuple[int, int]] = {
    ("aga/crlmtchl", "596"): (7, 2),  # a 2 with a flat base like the writer's other 2s; their 7s are one arc
    ("apb/app1229", "8"): (8, 6),  # apb/Emda_Hartnett: a 6 drawn as all her other 6s are
}

Group = Literal["all", "train", "tune", "report"]


class PenDigitsError(ValueError):
    """A pen-digit file is missing, corrupt or not in the expected format."""


@dataclass(frozen=True, eq=False)
class PenDigit:
    """One handwritten digit as pen strokes.

    Attributes:
        label: the digit 0-9.
        writer: who wrote it (``inst/name``); each writer is in one group.
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
        raise PenDigitsError(f"No pen-digit file at {path}; reinstall digitlib if it is a shipped one.") from None
    except OSError as err:
        raise PenDigitsError(f"{path} cannot be read ({err.strerror}).") from None
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise PenDigitsError(
            f"{path}: SHA-256 is {hashlib.sha256(raw).hexdigest()}, expected {sha256}; the file is corrupt or was "
            "changed. Reinstall digitlib (or `git checkout -- digitlib/assets/` in a checkout)."
        )
    try:
        content = json.loads(gzip.decompress(raw))
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise PenDigitsError(
            f"{path}: not gzip-compressed JSON ({type(err).__name__}). Pen-digit files are .json.gz files "
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
        raise PenDigitsError(f"{where}: label must be a digit 0-9, got {label!r:.40}.")
    if not isinstance(writer, str) or not writer:
        raise PenDigitsError(f"{where}: writer must be a non-empty string, got {writer!r:.40}.")
    if not isinstance(strokes, list):
        raise PenDigitsError(f"{where}: strokes must be a list of strokes, each a list of [x, y] points.")
    arrays = []
    for stroke in strokes:
        try:
            points = np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError, OverflowError):
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
    """``records`` with the labels of ``corrections`` put right; each one found must carry the label it corrects."""
    records = list(records)
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
    return records


def read_pen_digits(
    path: str | os.PathLike,
    sha256: str | None = None,
    corrections: dict[tuple[str, str], tuple[int, int]] | None = None,
) -> list[PenDigit]:
    """Every sample with at least one point of a pen-digit file (the shipped format), in file order.

    Also reads files written by `digitlib.drawings_store.PersonalDrawings.export`. With ``sha256``, the file must
    have that checksum; ``corrections`` ((file, segment) -> (label in the file, right label), as
    `LABEL_CORRECTIONS`) puts wrong labels right where the file holds them. Raises `PenDigitsError`.
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


_shipped: list[PenDigit] | None = None


def shipped_pen_digits() -> list[PenDigit]:
    """Every digit of the shipped files, checksums verified and `LABEL_CORRECTIONS` applied (read once)."""
    global _shipped
    if _shipped is None:
        samples = [s for path, sha in PEN_DIGIT_FILES.values() for s in read_pen_digits(path, sha, LABEL_CORRECTIONS)]
        found = {(w, g) for w, g in _places(PEN_DIGIT_FILES.values()) if (w, g) in LABEL_CORRECTIONS}
        if missing := sorted(set(LABEL_CORRECTIONS) - found):
            raise PenDigitsError(f"no shipped sample at {missing}, which the label corrections are for.")
        _shipped = samples
    return list(_shipped)


def _places(files: Iterable[tuple[Path, str]]) -> list[tuple[str, str]]:
    return [(r.get("file"), r.get("segment")) for path, sha in files for r in _read(path, sha)["samples"]]


def assign_writer_groups(
    samples: list[PenDigit], shares: dict[str, float] = GROUP_SHARES, seed: int = GROUP_SEED
) -> dict[str, list[str]]:
    """Put every writer of ``samples`` in one group: within each site, writers taken in a seeded order each go to
    the group furthest short of its share of the site's digits (train's share is the rest).

    A writer who alone holds more than twice a group's share of a site's digits goes to train (one prolific writer
    must not become a whole group), and every site with more than one writer keeps one for training.
    """
    targets = {**shares, "train": 1.0 - sum(shares.values())}
    by_inst: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for sample in samples:
        by_inst[sample.inst][sample.writer] += 1
    rng = np.random.default_rng(seed)
    groups: dict[str, list[str]] = {name: [] for name in GROUPS}
    for inst in sorted(by_inst):
        counts = by_inst[inst]
        total = sum(counts.values())
        order = [str(w) for w in rng.permutation(sorted(counts))]
        taken = dict.fromkeys(targets, 0)
        for position, writer in enumerate(order):
            open_to = [g for g in ("report", "tune") if counts[writer] <= 2 * targets[g] * total]
            if len(counts) > 1 and not taken["train"] and position == len(order) - 1:
                open_to = []  # the last writer of a site with none for training yet
            group = max([*open_to, "train"], key=lambda g: targets[g] * total - taken[g])
            taken[group] += counts[writer]
            groups[group].append(writer)
    return {name: sorted(writers) for name, writers in groups.items()}


def write_writer_groups(path: str | os.PathLike = WRITER_GROUPS_FILE) -> Path:
    """Write the groups of the shipped writers (`assign_writer_groups`) to ``path``; done once, then fixed."""
    groups = assign_writer_groups(shipped_pen_digits())
    record = {
        "about": "Each writer of the shipped pen digits in one group (digitlib.pen_digits.assign_writer_groups).",
        "seed": GROUP_SEED,
        "shares": GROUP_SHARES,
        "files": {p.name: sha for p, sha in PEN_DIGIT_FILES.values()},
        **groups,
    }
    return write_atomic(path, (json.dumps(record, indent=1) + "\n").encode())


_groups: dict[str, frozenset[str]] | None = None


def writer_groups() -> dict[str, frozenset[str]]:
    """The shipped writer groups, ``{"train": ..., "tune": ..., "report": ...}``, checked against the files."""
    global _groups
    if _groups is None:
        try:
            record = json.loads(WRITER_GROUPS_FILE.read_text())
            groups = {name: frozenset(record[name]) for name in GROUPS}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise PenDigitsError(f"{WRITER_GROUPS_FILE} is missing or damaged ({err}); reinstall digitlib.") from None
        everyone = {s.writer for s in shipped_pen_digits()}
        placed = [w for g in groups.values() for w in g]
        if len(placed) != len(set(placed)) or set(placed) != everyone:
            raise PenDigitsError(
                f"{WRITER_GROUPS_FILE} does not put each writer of the shipped pen digits in exactly one group; "
                "reinstall digitlib."
            )
        _groups = groups
    return _groups


def load_pen_digits(group: Group = "all", path: str | os.PathLike | None = None) -> list[PenDigit]:
    """The shipped pen digits of a writer group (``"train"``, ``"tune"``, ``"report"`` or ``"all"``), or every
    digit of another file in the same format (read as it is; ``group`` must then be ``"all"``)."""
    if group not in ("all", *GROUPS):
        raise ValueError(f"group must be 'all', 'train', 'tune' or 'report', got {group!r}")
    if path is not None:
        if group != "all":
            raise ValueError("the writer groups are those of the shipped files: read another file with group='all'")
        return read_pen_digits(path)
    samples = shipped_pen_digits()
    if group == "all":
        return samples
    chosen = writer_groups()[group]
    return [s for s in samples if s.writer in chosen]


def writers(samples: Iterable[PenDigit]) -> list[str]:
    """The writers of ``samples``, sorted."""
    return sorted({s.writer for s in samples})


if __name__ == "__main__":
    print(f"Wrote {write_writer_groups()}")
