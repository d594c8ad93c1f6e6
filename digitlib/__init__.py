"""digitlib: helpers for the handwritten-digit notebooks (data, models, training, the drawing pad).

``import digitlib`` is light: it does not import TensorFlow. The names most people need are offered at the top
level and imported on first use::

    from digitlib import Drawing, Recognizer, DrawingPad, load_mnist
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# Top-level name -> the module that defines it (imported when the name is first used, PEP 562).
_LAZY = {
    "Recognizer": "digitlib.recognizer",
    "DrawingPad": "digitlib.pad",
    "load_mnist": "digitlib.data",
    "load_pen_digits": "digitlib.pen_digits",
    "Drawing": "digitlib.drawing",
    "PersonalDrawings": "digitlib.drawings_store",
    "personalise": "digitlib.personal",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:
    from digitlib.data import load_mnist as load_mnist
    from digitlib.drawing import Drawing as Drawing
    from digitlib.drawings_store import PersonalDrawings as PersonalDrawings
    from digitlib.pad import DrawingPad as DrawingPad
    from digitlib.pen_digits import load_pen_digits as load_pen_digits
    from digitlib.personal import personalise as personalise
    from digitlib.recognizer import Recognizer as Recognizer


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'digitlib' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
