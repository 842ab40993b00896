"""Collect every problem with a construct's props into one error."""

from __future__ import annotations

from typing import Any

from aws_cdk import Token


class PropsError(ValueError):
    """Raised when a construct's props cannot work; lists every problem found."""


class Problems:
    """A list of problems with one construct's props, raised together.

    Args:
        construct: the construct class name used in the message, e.g. ``"RealtimeEndpoint"``.
    """

    def __init__(self, construct: str) -> None:
        self._construct = construct
        self._problems: list[str] = []

    def add(self, problem: str) -> None:
        """Record one problem (say the prop, the value given, what is allowed and the fix)."""
        self._problems.append(problem)

    def extend(self, problems: list[str]) -> None:
        """Record several problems."""
        self._problems.extend(problems)

    def raise_if_any(self) -> None:
        """Raise one :class:`PropsError` naming every recorded problem, if any."""
        if self._problems:
            raise PropsError(f"Invalid {self._construct} props: " + "; ".join(self._problems))


def resolved(value: Any) -> bool:
    """Return True when ``value`` is known at synth (not None and not an unresolved token)."""
    return value is not None and not Token.is_unresolved(value)


def check_range(name: str, value: float | None, low: float, high: float | None, unit: str = "") -> list[str]:
    """Return a problem when a resolved ``value`` lies outside ``[low, high]``."""
    if not resolved(value):
        return []
    assert value is not None
    if value < low or (high is not None and value > high):
        allowed = f"between {low:g} and {high:g}{unit}" if high is not None else f">= {low:g}{unit}"
        return [f"{name} must be {allowed} (got {value:g}{unit})"]
    return []
