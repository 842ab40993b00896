"""Type checks for the Python API of ``model_build``: one sentence per wrong type, naming the field.

A ``ModelSpec`` built in Python can carry a string where an integer belongs, a list where a
tuple belongs, or a float batch size; without these checks the comparisons inside validation
crash with a ``TypeError`` that names neither the field nor the fix. Each helper returns None
when the value is fine, else ``"<key> must be <type> (got <type> <value>); pass <fix>"``.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from model_build.user_errors import describe_value


def is_int(value: Any) -> bool:
    """Whether ``value`` is an int (``bool`` is not, though Python says it is)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Whether ``value`` is an int or a float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int_fix(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"; pass {int(value)}"
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return f"; pass {int(value)} without quotes"
    return "; pass a whole number"


def expect_int(key: str, value: Any) -> str | None:
    """Return a problem unless ``value`` is an int."""
    return None if is_int(value) else f"{key} must be an int (got {describe_value(value)}){_int_fix(value)}"


def expect_number(key: str, value: Any) -> str | None:
    """Return a problem unless ``value`` is an int or a float."""
    if is_number(value):
        return None
    fix = "; pass a number"
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            fix = f"; pass {float(value)!r} without quotes"
    return f"{key} must be a number (got {describe_value(value)}){fix}"


def expect_str(key: str, value: Any) -> str | None:
    """Return a problem unless ``value`` is a str."""
    return None if isinstance(value, str) else f"{key} must be a str (got {describe_value(value)}); pass a string"


def expect_path(key: str, value: Any) -> str | None:
    """Return a problem unless ``value`` is a str or ``os.PathLike`` (a ``pathlib.Path``)."""
    if isinstance(value, str | os.PathLike):
        return None
    return f"{key} must be a pathlib.Path or str (got {describe_value(value)}); pass Path('model.onnx')"


def expect_int_tuple(key: str, value: Any) -> str | None:
    """Return a problem unless ``value`` is a tuple of ints."""
    if isinstance(value, tuple) and all(is_int(v) for v in value):
        return None
    if isinstance(value, list | set | frozenset) and all(is_int(v) for v in value):
        items = ", ".join(str(v) for v in (sorted(value) if not isinstance(value, list) else value))
        return f"{key} must be a tuple of ints (got {describe_value(value)}); pass a tuple: ({items}{',' if len(value) == 1 else ''})"
    if is_int(value):
        return f"{key} must be a tuple of ints (got {describe_value(value)}); pass ({value},)"
    return f"{key} must be a tuple of ints (got {describe_value(value)}); pass e.g. (1, 8)"


def expect_str_tuple(key: str, value: Any) -> str | None:
    """Return a problem unless ``value`` is a tuple of strs."""
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return None
    if isinstance(value, str):
        return f"{key} must be a tuple of str (got {describe_value(value)}); pass ({value!r},)"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return f"{key} must be a tuple of str (got {describe_value(value)}); pass a tuple: {tuple(value)!r}"
    return f"{key} must be a tuple of str (got {describe_value(value)}); pass e.g. ('logits',)"


def expect_instance(key: str, value: Any, cls: type, example: str) -> str | None:
    """Return a problem unless ``value`` is a ``cls``; ``example`` shows a correct value."""
    if isinstance(value, cls):
        return None
    return f"{key} must be a {cls.__name__} (got {describe_value(value)}); pass {example}"
