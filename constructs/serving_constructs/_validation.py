"""Collect every problem with a construct's props into one error, including wrong Python types.

Python does not check types at run time, so a ``str`` where an :class:`InstanceType` belongs, or a
float instance count, would otherwise reach CloudFormation (or crash deep inside jsii at synth).
Every construct checks each prop's type here first, and the range only when the type is right.
Each message names the prop (snake_case, with its path such as ``variants[0].instance_type``),
the value given, what is allowed and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, Token

from model_build.user_errors import UserError


class PropsError(UserError):
    """Raised when a construct's props cannot work; lists every problem found.

    A :class:`model_build.user_errors.UserError` (so a ``ValueError``): the CLIs and ``app.py``
    report it as one line, without a traceback.
    """


class Problems:
    """A list of problems with one construct's props, raised together.

    Args:
        construct: the construct (or method) named in the message, e.g. ``"RealtimeEndpoint"``.
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

    def __bool__(self) -> bool:
        return bool(self._problems)

    def raise_if_any(self) -> None:
        """Raise one :class:`PropsError` naming every recorded problem, if any."""
        raise_if_any(self._construct, self._problems)


def raise_if_any(construct: str, problems: list[str]) -> None:
    """Raise one :class:`PropsError` naming every problem in ``problems``, if any.

    Args:
        construct: the construct, factory or method the message names (``"TritonImage.from_uri"``).
        problems: what is wrong, each naming the prop, the value given, what is allowed and the fix.
    """
    if problems:
        raise PropsError(f"Invalid {construct} props: " + "; ".join(problems))


def unresolved(value: Any) -> bool:
    """Return True when ``value`` is an unresolved CDK token; safe for any Python value.

    ``Token.is_unresolved`` sends its argument to the jsii kernel: NaN or infinity kills the
    kernel (its JSON has no such numbers), and a set, bytes or a naive datetime raise from jsii.
    None of those can be a token, so they are answered here without asking jsii.
    """
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    jsii_object = hasattr(type(value), "__jsii_type__") or type(value).__name__ == "InterfaceDynamicProxy"
    # A list token is a list of encoded strings.
    str_list = isinstance(value, list) and all(isinstance(item, str) for item in value)
    if isinstance(value, str | int | float) or jsii_object or str_list:
        return bool(Token.is_unresolved(value))
    return False


def resolved(value: Any) -> bool:
    """Return True when ``value`` is known at synth (not None and not an unresolved token)."""
    return value is not None and not unresolved(value)


def article(word: str) -> str:
    """Return the indefinite article of ``word`` as messages spell it: ``"an"`` before a vowel, else ``"a"``."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def given(value: Any) -> str:
    """Return how a message shows a value: ``'ml.g4dn.xlarge' (a str)``, ``2.5 (a float)``."""
    kind = type(value).__name__
    node = getattr(value, "node", None)
    if kind == "InterfaceDynamicProxy" or (node is not None and not isinstance(value, str)):
        # a jsii object: a construct, or an imported resource behind an interface proxy
        path = getattr(node, "path", None)
        return f"the construct {path}" if path else "a jsii object"
    shown = repr(value) if isinstance(value, str | int | float | bool | type(None)) else kind
    return f"{shown} ({article(kind)} {kind})" if shown != kind else f"{article(kind)} {kind}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_fix(value: Any, *, whole: bool) -> str:
    """Return the fix for a number given with the wrong type (``'2'``, ``True``, ``2.5``)."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return "pass a number"
        shown = int(number) if number.is_integer() else number
        return f"pass the number {shown}, not the string {value!r}"
    if isinstance(value, bool):
        return "pass a number, not a bool"
    if isinstance(value, float) and not math.isfinite(value):
        return "pass a finite number"
    if whole and isinstance(value, float) and math.isfinite(value):
        low, high = math.floor(value), math.ceil(value)
        return f"pass a whole number ({low} or {high})" if low != high else f"pass {int(value)}"
    return "pass a number"


def check_range(name: str, value: float | None, low: float, high: float | None, unit: str = "") -> list[str]:
    """Return a problem when a resolved ``value`` lies outside ``[low, high]``."""
    if not resolved(value):
        return []
    assert value is not None
    if value < low or (high is not None and value > high):
        allowed = f"between {low:g} and {high:g}{unit}" if high is not None else f">= {low:g}{unit}"
        return [f"{name} must be {allowed} (got {value:g}{unit})"]
    return []


def check_int(
    name: str, value: Any, low: int, high: int | None = None, unit: str = "", *, optional: bool = False
) -> list[str]:
    """Return the problems with an integer prop: its type (not bool, float or str), then its range.

    Args:
        name: the prop as the message names it.
        value: the value given.
        low: the smallest allowed value.
        high: the largest allowed value. Defaults to no upper bound.
        unit: a unit shown after the numbers (``" GB"``).
        optional: whether None is allowed.
    """
    if value is None:
        return [] if optional else [f"{name} is required (got None) — pass an int >= {low}"]
    if unresolved(value):
        return []
    if isinstance(value, bool) or not isinstance(value, int):
        return [f"{name} must be an int (got {given(value)}) — {_number_fix(value, whole=True)}"]
    return check_range(name, value, low, high, unit)


def check_number(
    name: str, value: Any, low: float, high: float | None = None, unit: str = "", *, optional: bool = False
) -> list[str]:
    """Return the problems with a numeric prop (int or float, not bool or str), then its range."""
    if value is None:
        return [] if optional else [f"{name} is required (got None) — pass a number >= {low:g}"]
    if unresolved(value):
        return []
    if not _is_number(value) or not math.isfinite(value):
        return [f"{name} must be a number (got {given(value)}) — {_number_fix(value, whole=False)}"]
    return check_range(name, value, low, high, unit)


def check_positive(name: str, value: Any, *, optional: bool = False) -> list[str]:
    """Return the problems with a number that must be > 0 (a target value, a rate)."""
    if value is None:
        return [] if optional else [f"{name} is required (got None) — pass a number > 0"]
    problems = check_number(name, value, -math.inf)
    if not problems and resolved(value) and value <= 0:
        problems.append(f"{name} must be > 0 (got {value:g})")
    return problems


def check_bool(name: str, value: Any, *, optional: bool = True) -> list[str]:
    """Return a problem when ``value`` is not a bool (``"false"`` is a truthy str)."""
    if value is None and optional:
        return []
    if not isinstance(value, bool):
        return [f"{name} must be a bool (got {given(value)}) — pass True or False"]
    return []


def check_str(name: str, value: Any, *, optional: bool = False, example: str = "") -> list[str]:
    """Return a problem when ``value`` is not a non-empty str (tokens pass)."""
    if value is None:
        return [] if optional else [f"{name} is required (got None) — pass a str{example}"]
    if not isinstance(value, str):
        return [f"{name} must be a str (got {given(value)}) — pass a str{example}"]
    if not value:
        return [f"{name} must not be empty (got '') — pass a str{example}"]
    return []


def check_type(
    name: str, value: Any, expected: type | tuple[type, ...], fix: str, *, optional: bool = False
) -> list[str]:
    """Return a problem when ``value`` is not an instance of ``expected``.

    Args:
        name: the prop as the message names it.
        value: the value given.
        expected: the class (or classes) allowed.
        fix: what to pass instead (``"use InstanceType.of('ml.g4dn.xlarge')"``).
        optional: whether None is allowed.
    """
    if value is None and optional:
        return []
    if isinstance(value, expected):
        return []
    names = " or ".join(cls.__name__ for cls in (expected if isinstance(expected, tuple) else (expected,)))
    return [f"{name} must be {article(names)} {names} (got {given(value)}) — {fix}"]


def check_environment(name: str, value: Any, *, example: str = "{'MY_FLAG': '1'}") -> tuple[list[str], dict[str, str]]:
    """Check a container environment (a dict of str to str); return the problems and the dict (``{}`` for none).

    Args:
        name: the prop's path in messages, e.g. ``"environment"`` or ``"containers[0].environment"``.
        value: the given value; None is no environment.
        example: an example dict for the message.
    """
    if value is None:
        return [], {}
    if not isinstance(value, Mapping):
        return [f"{name} must be a dict of str to str (got {given(value)}) — e.g. {example}"], {}
    problems = []
    for key, item in value.items():
        if not isinstance(key, str):
            problems.append(f"{name} keys must be str (got {given(key)}) — pass {str(key)!r}")
        elif not isinstance(item, str):
            problems.append(
                f"{name}[{key!r}] must be a str (got {given(item)}) — container variables are strings: "
                f"pass {str(item)!r}"
            )
    return problems, dict(value)


def check_interface(
    name: str, value: Any, interface: str, member: str, fix: str, *, optional: bool = False
) -> list[str]:
    """Return a problem when ``value`` lacks ``member`` of a jsii interface (``isinstance`` cannot check those)."""
    if value is None and optional:
        return []
    if hasattr(value, member) and not isinstance(value, str | int | float | bool):
        return []
    # "an s3.IBucket", "an iam.IGrantable", "an ec2.IVpc", but "a kms.IKey"
    spoken = "an" if interface[:1].lower() in "aeiosx" else "a"
    return [f"{name} must be {spoken} {interface} (got {given(value)}) — {fix}"]


def duration_seconds(value: Duration) -> float | None:
    """Return a Duration in whole seconds; None for an unresolved token.

    Raises:
        ValueError: the Duration is not a whole number of seconds (e.g. ``Duration.millis(1500)``).
    """
    amount = value.to_seconds(integral=False)
    if Token.is_unresolved(amount):
        return None
    if not float(amount).is_integer():
        raise ValueError(f"{amount:g} s is not a whole number of seconds")
    return amount


def check_duration(
    name: str,
    value: Any,
    low_s: float | None = None,
    high_s: float | None = None,
    *,
    optional: bool = True,
) -> list[str]:
    """Return the problems with a ``Duration`` prop: its type (not a bare number), whole seconds, range."""
    if value is None:
        return [] if optional else [f"{name} is required (got None) — pass a Duration"]
    if not isinstance(value, Duration):
        fix = (
            f"use Duration.seconds({value:g})"
            if _is_number(value) and math.isfinite(value)
            else "use Duration.seconds(...) or Duration.minutes(...)"
        )
        return [f"{name} must be a Duration (got {given(value)}) — {fix}"]
    try:
        seconds = duration_seconds(value)
    except ValueError:
        amount = value.to_seconds(integral=False)
        return [f"{name} must be whole seconds (got {amount:g} s) — use Duration.seconds({round(amount)})"]
    if seconds is None or (low_s is None and high_s is None):
        return []
    return check_range(name, seconds, -math.inf if low_s is None else low_s, high_s, " s")


def check_sequence(
    name: str, value: Any, item: type, item_fix: str, *, optional: bool = True, item_name: str | None = None
) -> tuple[list[str], list[Any]]:
    """Check a list prop; return ``(problems, items)`` (items is ``[]`` when the container is wrong).

    One item given where a list belongs (``variants=ProductionVariant(...)``) gets its own fix.

    Args:
        name: the prop as the message names it.
        value: the value given.
        item: the class every item must be an instance of.
        item_fix: what to pass instead.
        optional: whether None is allowed.
        item_name: how messages name the items. Defaults to ``item``'s class name.
    """
    shown = item.__name__ if item_name is None else item_name
    if value is None:
        return ([] if optional else [f"{name} is required (got None) — pass a list"]), []
    if isinstance(value, item):
        if isinstance(value, str | int | float | bool):
            return [
                f"{name} must be a list of {shown} (got {given(value)}) — wrap it: {name}=[{value!r}]"
            ], []
        return [
            f"{name} must be a list of {shown} (got one {type(value).__name__}) — wrap it: {name}=[...]"
        ], []
    if isinstance(value, str | bytes | dict) or not hasattr(value, "__iter__"):
        return [f"{name} must be a list of {shown} (got {given(value)}) — {item_fix}"], []
    items = list(value)
    problems = [
        f"{name}[{index}] must be a {shown} (got {given(element)}) — {item_fix}"
        for index, element in enumerate(items)
        if not isinstance(element, item)
    ]
    return problems, items
