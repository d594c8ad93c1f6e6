"""Saving and loading trained models: native ``.keras`` files written atomically, with a JSON model card beside them."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import keras

from digitlib import data

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The pretrained model that ships with digitlib (see the README for the command that made it).
SHIPPED_MODEL = PROJECT_ROOT / "models" / "digitlib_cnn.keras"
#: Where notebook 04 and ``python -m digitlib.train`` save a model by default, so the shipped one is never overwritten.
TRAINED_MODEL = PROJECT_ROOT / "runs" / "digitlib_cnn.keras"

_HOW_TO_GET_ONE = (
    "Train one with `python -m digitlib.train --output runs/digitlib_cnn.keras` (or notebook 04), "
    f"or use the shipped model {SHIPPED_MODEL} (restore it with `git checkout -- models/`)."
)


class ModelFileError(RuntimeError):
    """A model file is missing, truncated or not a compatible digitlib model."""


def card_path(model_path: str | os.PathLike) -> Path:
    """The model card that belongs to ``model_path`` (same name, ``.json``)."""
    return Path(model_path).with_suffix(".json")


def _replace_atomically(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        os.chmod(tmp, data._default_mode())  # mkstemp creates 0600; a model file is an ordinary file
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(model: keras.Model, path: str | os.PathLike, card: dict[str, Any] | None = None) -> Path:
    """Save ``model`` as a native ``.keras`` file (and ``card`` as JSON beside it), each atomically."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: a model file must end in .keras (Keras 3's native format).")
    _replace_atomically(path, lambda tmp: model.save(tmp))
    if card is not None:
        text = json.dumps(card, indent=2, sort_keys=False) + "\n"
        _replace_atomically(card_path(path), lambda tmp: Path(tmp).write_text(text))
    return path


def load_model(path: str | os.PathLike | None = None) -> keras.Model:
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
    return json.loads(path.read_text())
