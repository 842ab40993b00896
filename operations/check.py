"""Placeholder: helper for issue 10 replaces this module (`python -m operations check`)."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    """Not written yet."""
    raise NotImplementedError("operations.check is being written")
