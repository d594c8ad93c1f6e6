"""The pad's traits, ipywidgets-style: bad values raise ValueError with a message that says what to do, and the
traits only the pad sets refuse to be set; errors raised in widget callbacks are shown in the pad."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import Any

import traitlets


class Choice(traitlets.Enum):
    """An Enum trait that refuses other values with a ValueError naming the choices."""

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, str) and value in self.values:
            return value
        choices = " or ".join(repr(v) for v in self.values)
        raise ValueError(f"{self.name} must be {choices}, got {value!r}")


class Pixels(traitlets.Float):
    """A Float trait for a length in canvas pixels, between ``min`` and ``max``; ValueError otherwise."""

    def validate(self, obj: Any, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not self.min <= value <= self.max:
            raise ValueError(f"{self.name} must be a number of pixels from {self.min:g} to {self.max:g}, got {value!r}")
        return float(value)


class SetByThePad:
    """Mixin for a trait only the pad sets: users read and observe it; setting it raises AttributeError (as for any
    read-only attribute) saying what changes it. ``read_only`` stays set, for code that inspects traits."""

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"{type(obj).__name__}.{self.name} is read-only: {self.metadata['changed_by']}")


class Reading(SetByThePad, traitlets.Any):
    """The pad's latest reading."""


class Message(SetByThePad, traitlets.Unicode):
    """A message the pad shows."""


class Count(SetByThePad, traitlets.Int):
    """A count the pad keeps."""


def shows_errors(headline: str = "The pad hit an error") -> Callable[[Callable], Callable]:
    """Wrap a widget event handler so that its errors show in the pad (under ``headline``) instead of being lost.

    An exception raised in an ipywidgets callback only reaches the kernel's log, which a
    learner never sees; the pad shows it under the canvas instead.
    """

    def decorate(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def wrapper(self: Any, *args, **kwargs):
            try:
                return handler(self, *args, **kwargs)
            except Exception as error:  # noqa: BLE001 - every error must reach the user
                self._show_error(error, headline)
                return None

        return wrapper

    return decorate
