"""Saving and loading trained models: native ``.keras`` files written atomically, with a JSON model card beside them.

The pretrained model ships inside the package (``digitlib/assets/``, found with `importlib.resources`), so an
installed wheel reads digits anywhere. Models you train go to your data folder (`trained_model_path`) unless you
name another file, so the shipped one is never overwritten.
"""

from __future__ import annotations

import json
import os
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

from digitlib import data
from digitlib.files import write_atomic


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
        data.check_data_folder(path.parent)
    except data.DataFolderError as err:
        raise ValueError(f"cannot save a model as {path}: {err}") from None
    return path


def _without_optimizer(model):
    """A copy of ``model`` with the same weights and no optimizer state (a third of the file)."""
    if getattr(model, "optimizer", None) is None:  # never compiled: nothing to leave out
        return model
    copy = type(model).from_config(model.get_config())  # keras.models.clone_model would compile the copy again
    copy.set_weights(model.get_weights())
    return copy


def save_model(
    model, path: str | os.PathLike, card: dict[str, Any] | None = None, include_optimizer: bool = False
) -> Path:
    """Save ``model`` as a native ``.keras`` file (and ``card`` as JSON beside it), each atomically.

    The optimizer's state is left out unless asked for: the file is for reading digits (and fine-tuning, which
    compiles anew), and is three times smaller without it.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: a model file must end in .keras (Keras 3's native format).")
    saved = model if include_optimizer else _without_optimizer(model)
    write_atomic(path, lambda tmp: saved.save(tmp), keep_suffix=True)
    if card is not None:
        text = json.dumps(card, indent=2, sort_keys=False) + "\n"
        write_atomic(card_path(path), text.encode())
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


def load_card(model_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read the JSON model card beside a model file (the shipped model's by default)."""
    path = card_path(SHIPPED_MODEL if model_path is None else model_path)
    if not path.is_file():
        raise ModelFileError(f"No model card at {path}; it is written beside the model by digitlib.train.")
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"The model card {path} cannot be read ({err}); train the model again.") from None
    if not isinstance(card, dict):
        raise ModelFileError(f"The model card {path} is not a JSON object; train the model again.")
    return card
