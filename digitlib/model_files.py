"""Saving and loading trained models: native ``.keras`` files with a JSON model card beside them, committed together.

The pretrained model ships inside the package (``digitlib/assets/``, found with `importlib.resources`), so an
installed wheel reads digits anywhere. Models you train go to your data folder (`trained_model_path`) unless you
name another file, so the shipped one is never overwritten.

A model and its card are one thing: the card records the model file's SHA-256 (``model_sha256``), and
`save_model` writes both to temporary files first, then renames the model into place (the one moment the save
takes effect) and the card after it. A save killed between the two renames leaves the new model beside the old
card and the new card in its temporary file: `load_card` finds that card by the model's checksum and finishes the
save, so a model is never read with another model's calibration.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import zipfile
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from digitlib import data
from digitlib.calibration import CONFIDENCE_THRESHOLD
from digitlib.files import TEMP_MARK, commit, remove_leftovers, temp_file


def asset(name: str) -> Path:
    """The path of a file shipped in ``digitlib/assets`` (the shipped model, baselines, pen digits)."""
    # A regular install (a wheel, an editable checkout) is a folder on disk: the Traversable is a real path.
    return Path(str(resources.files("digitlib") / "assets" / name))


#: The pretrained model that ships with digitlib (see the README for the command that made it).
SHIPPED_MODEL = asset("digitlib_cnn.keras")


def trained_model_path(name: str = "digitlib_cnn") -> Path:
    """Where notebook 04 and ``python -m digitlib.train`` save a model by default.

    That is ``<data folder>/models/NAME.keras`` (the data folder of `digitlib.data.data_dir`).
    """
    return data.data_dir() / "models" / f"{name}.keras"


_HOW_TO_GET_ONE = (
    "Train one with `python -m digitlib.train` (or notebook 04), or use the shipped model "
    "(`Recognizer.load()` with no path; reinstall digitlib if it is missing)."
)


class ModelFileError(ValueError):
    """A model file is missing, truncated or not a compatible digitlib model."""


def card_path(model_path: str | os.PathLike) -> Path:
    """The model card that belongs to ``model_path`` (same name, ``.json``)."""
    return Path(model_path).with_suffix(".json")


def check_model_path(path: str | os.PathLike) -> Path:
    """Check, before any training, that a model can be saved at ``path``; return it as a `Path`.

    Raises `ValueError` when the name does not end in ``.keras`` or its folder cannot be created or written.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(
            f"{path}: a model file must end in .keras (Keras 3's native format); "
            f"try --output {path.with_suffix('.keras')}"
        )
    if path.is_dir():
        raise ValueError(f"{path} is a folder; name the model file to write, e.g. {path / 'digitlib_cnn.keras'}")
    try:
        data.check_data_folder(path.parent, "the folder", "choose a file in a folder you can write to")
    except data.DataFolderError as err:
        raise ValueError(f"cannot save a model as {path}: {err}") from None
    return path


#: What a digit model takes and returns, as its card states it.
IMAGE_INPUT = "float32 (N, 28, 28, 1) in [0, 1], white ink on black (as MNIST)"
PROBABILITIES_OUTPUT = "float32 (N, 10) class probabilities for the digits 0-9"


def model_card(model, **facts: Any) -> dict[str, Any]:
    """The one builder of model cards: the model, what it takes and returns (``input``, ``output``: a digit
    model's by default), then ``facts`` (how it was made and how well it does), the library versions and when."""
    from digitlib._tf import keras, tf

    return {
        "model": model.name,
        "parameters": int(model.count_params()),
        "input": IMAGE_INPUT,
        "output": PROBABILITIES_OUTPUT,
        **facts,
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": __import__("numpy").__version__,
        },
        "machine": f"{platform.machine()}, {platform.system()}",
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _without_optimizer(model):
    """A copy of ``model`` with the same weights and no optimizer state (a third of the file)."""
    if getattr(model, "optimizer", None) is None:  # never compiled: nothing to leave out
        return model
    copy = type(model).from_config(model.get_config())  # keras.models.clone_model would compile the copy again
    copy.set_weights(model.get_weights())
    return copy


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(
    model, path: str | os.PathLike, card: dict[str, Any] | None = None, include_optimizer: bool = False
) -> Path:
    """Save ``model`` as a native ``.keras`` file and ``card`` (with the file's ``model_sha256``) as JSON beside
    it, together (see the module docstring): after a crash, `load_card` finds either the old pair or the new one.

    The optimizer's state is left out unless asked for: the file is for reading digits (and fine-tuning, which
    compiles anew), and is three times smaller without it. On an error nothing is changed and no temporary file
    is left; the error names ``path``.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: a model file must end in .keras (Keras 3's native format).")
    saved = model if include_optimizer else _without_optimizer(model)
    model_tmp = card_tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(path.parent)
        model_tmp = temp_file(path, keep_suffix=True)
        saved.save(model_tmp)
        if card is not None:
            card_text = json.dumps({**card, "model_sha256": file_sha256(model_tmp)}, indent=2) + "\n"
            card_tmp = temp_file(card_path(path))
            card_tmp.write_text(card_text)
        if card_tmp is not None:
            with open(card_tmp, "rb+") as f:  # durable before the model's rename makes it the pending card
                os.fsync(f.fileno())
        commit(model_tmp, path)  # the save takes effect here; a crash now leaves the card pending (load_card)
        model_tmp = None
        if card_tmp is not None:
            commit(card_tmp, card_path(path))
            card_tmp = None
    except OSError as err:
        raise OSError(err.errno, f"cannot save the model as {path} ({err.strerror or err}); nothing changed") from None
    finally:
        for leftover in (model_tmp, card_tmp):
            if leftover is not None:
                leftover.unlink(missing_ok=True)
    return path


def load_model(path: str | os.PathLike | None = None):
    """Load a digitlib model (the shipped one by default) with Keras's ``safe_mode=True``.

    Raises `ModelFileError`, saying how to get a model, when the file is missing, truncated, not a Keras
    model, or does not take (N, 28, 28, 1) images and return 10 probabilities.
    """
    path = Path(SHIPPED_MODEL if path is None else path)
    if not path.is_file():
        raise ModelFileError(f"No model file at {path}. {_HOW_TO_GET_ONE}")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is not a native .keras model file (it is truncated, corrupt or another format). {_HOW_TO_GET_ONE}"
        )
    from digitlib._tf import keras

    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as err:  # Keras raises many kinds here; all mean the same to the user
        raise ModelFileError(f"{path} could not be loaded ({type(err).__name__}: {err}). {_HOW_TO_GET_ONE}") from err
    in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    if in_shape[1:] != (28, 28, 1) or out_shape[1:] != (10,):
        raise ModelFileError(
            f"{path} takes {in_shape} and returns {out_shape}; a digitlib model takes (N, 28, 28, 1) "
            f"images and returns 10 probabilities. {_HOW_TO_GET_ONE}"
        )
    return model


def _read_card(path: Path) -> dict[str, Any]:
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ModelFileError(f"The model card {path} cannot be read ({err}); train the model again.") from None
    if not isinstance(card, dict):
        raise ModelFileError(f"The model card {path} is not a JSON object; train the model again.")
    return card


def _pending_card(path: Path, sha: str) -> Path | None:
    """The card of an interrupted save of the model whose checksum is ``sha``, left in a temporary file."""
    for candidate in path.parent.glob(f".{path.name}.*.{TEMP_MARK}"):
        try:
            if json.loads(candidate.read_text()).get("model_sha256") == sha:
                return candidate
        except (OSError, ValueError, AttributeError, RecursionError):
            continue
    return None


def load_card(model_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read the JSON model card beside a model file (the shipped model's by default), checked against the model.

    A card that records another model file's checksum is the card of an interrupted save: its own card is then
    taken from where the save left it (and put in place), or `ModelFileError` says to save the model again.
    """
    model = Path(SHIPPED_MODEL if model_path is None else model_path)
    path = card_path(model)
    card = _read_card(path) if path.is_file() else None
    expected = card.get("model_sha256") if card is not None else None
    if model.is_file() and (card is None or expected is not None):
        sha = file_sha256(model)
        if expected != sha:
            pending = _pending_card(path, sha)
            if pending is not None:
                os.replace(pending, path)  # finish the interrupted save
                return _read_card(path)
            if card is not None:
                raise ModelFileError(
                    f"The model card {path} belongs to another model than {model} (a save was interrupted); save "
                    "or train the model again."
                )
    if card is None:
        raise ModelFileError(f"No model card at {path}; it is written beside the model by digitlib.train.")
    return card


def describe(model_path: str | os.PathLike | None = None) -> str:
    """One line naming a model (the shipped one by default) from its card: what it learnt from and for how long,
    its MNIST test accuracy and its "not sure" threshold. Notebooks 05-07 print it as the model in use."""
    path = Path(SHIPPED_MODEL if model_path is None else model_path)
    card = load_card(path)
    which = "shipped with digitlib" if path == SHIPPED_MODEL else f"from {path}"
    names = {"mnist": "MNIST images", "pen_digits": "pen digits", "nonsense": "nonsense images"}
    sources = [f"{count:,} {names.get(name, name)}" for name, count in card.get("train_sources", {}).items()]
    learnt = f" on {', '.join(sources)}" if sources else ""
    accuracy = f"; MNIST test {card['test_accuracy']:.2%}" if "test_accuracy" in card else ""
    threshold = card.get("calibration", {}).get("threshold")
    sure = (
        f"'not sure' below {threshold:g}" if threshold else f"no calibration ('not sure' below {CONFIDENCE_THRESHOLD})"
    )
    return f"{card.get('model', path.stem)}, {which}: {card.get('epochs', '?')} epochs{learnt}{accuracy}; {sure}"
