"""Bad input, reported once and clearly: the one error type and CLI wrapper every entry point uses.

The bar (issue "errors a user can act on"): one message that names the field, flag, context key or
the user's own file, what was given, what is allowed, and the fix; raised **before** any build,
server or load test starts; no traceback for a command-line or ``cdk`` user. Set
``TRITON_IAC_DEBUG=1`` to get the traceback anyway.

Every command line of the project (``python -m model_build``, ``python -m tuning``,
``python -m rehearsal.demo``, ``python -m rehearsal.data_plane``, ``python -m triton_runtime`` and
``app.py`` under ``cdk``) runs its ``main`` through :func:`run_cli`, so they all answer bad input
the same way: ``<prog>: error: <message>`` on stderr and exit status 2 (argparse's own code for a
usage error). A command line whose flags are checked after parsing collects every problem in a
:class:`FlagProblems` (:func:`parse_whole_number`, :func:`parse_number`, :func:`writable_folder_problem`)
and raises them together, before any work starts.

This module lives in ``model_build``, the lowest layer, so every other package can import it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

DEBUG_ENV = "TRITON_IAC_DEBUG"
"""Set to 1 to see the traceback of a reported error."""

EXIT_USAGE = 2
"""Exit status for bad input (argparse uses 2 for usage errors too)."""

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""


class UserError(ValueError):
    """Input the user can fix: the message says which field/flag/file, what was given and the fix.

    A ``ValueError`` so that code catching validation errors generically still catches it.
    """


def debug_enabled() -> bool:
    """Whether ``TRITON_IAC_DEBUG`` asks for tracebacks."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in {"", "0", "false", "no"}


def did_you_mean(given: str, choices: Sequence[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(given, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def run_cli(
    main: Callable[[Sequence[str] | None], int],
    argv: Sequence[str] | None = None,
    *,
    prog: str,
    user_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Run a command line's ``main`` and turn bad input into one line on stderr and exit status 2.

    Args:
        main: The command's entry point; returns its exit status.
        argv: Its arguments. Defaults to ``sys.argv[1:]``.
        prog: The program name printed before the message (``python -m model_build``).
        user_errors: Further exception types that mean bad input (besides :class:`UserError`).

    Returns:
        The exit status: ``main``'s, 2 for bad input, 130 after Ctrl-C.
    """
    caught: tuple[type[BaseException], ...] = (UserError, *user_errors)
    try:
        return main(argv)
    except caught as error:
        if debug_enabled():
            raise
        print(f"{prog}: error: {error}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if debug_enabled():
            raise
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


class UsageErrorParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are :class:`UserError` (one line, exit 2 through :func:`run_cli`).

    Give subcommands the same class: ``add_subparsers(..., parser_class=UsageErrorParser)``.
    """

    def error(self, message: str) -> NoReturn:
        """Raise the usage error instead of printing the usage and exiting."""
        raise UserError(f"{message} (see `{self.prog} --help`)")


def path_argument(text: str) -> Path:
    """Return the path (an argparse ``type``); refuse the empty string, which ``Path("")`` would make ``.``.

    An unset shell variable (``--dest "$HOME_DIR"``) would otherwise point a command at the working
    folder.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(f"got {text!r}, an empty path; give a path")
    return Path(text)


def describe_value(value: object) -> str:
    """Return a value with its Python type for a message: ``str '8'``, ``list [1, 8]``, ``float 8.0``."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def writable_folder_problem(path: str | os.PathLike[str], label: str) -> str | None:
    """Return why ``path`` cannot be used (or created) as a writable folder; None when it can.

    Finds an empty path, a file at the path, a file where a parent folder would be created, a
    folder this user may not write to, a read-only file system, and a folder that refuses new
    files although its permission bits allow them (root ignores those bits, but not ``/proc``'s
    refusal): that last check creates one empty temporary file in the nearest existing folder and
    removes it at once. Nothing else is written, and no folder is created.

    Args:
        path: The folder, existing or not.
        label: What names it in the message: a flag (``--output-dir``), a prop or a context key.
    """
    if not str(path).strip():
        return f"{label} is empty; give a folder path (it is created if missing)"
    folder = Path(path)
    where = f"{label} {str(folder)!r}"
    if folder.exists() and not folder.is_dir():
        return f"{where} is a file, not a folder; give a folder path (it is created if missing)"
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{where} cannot be created: {str(existing)!r} is a file; choose a path under a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{where} is not writable here ({str(existing)!r} denies this user); choose a folder you can write to"
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        return f"{where} is on a read-only file system ({str(existing)!r}); choose a writable folder"
    if not _can_create_file_in(existing):
        return f"{where} is not writable here ({str(existing)!r} refuses new files); choose a folder you can write to"
    return None


def _can_create_file_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder``: tried with an empty temporary file, removed at once."""
    try:
        handle, name = tempfile.mkstemp(prefix=".write-check-", dir=folder)
    except OSError:
        return False
    os.close(handle)
    os.unlink(name)
    return True


def parse_whole_number(text: str, *, low: int = 1, high: int | None = None) -> int:
    """Return a flag's text as a whole number in ``[low, high]``.

    Raises:
        ValueError: The text is not a whole number in range; the message says what is allowed
            (``"must be a whole number >= 1 and <= 256"``), to follow the flag and what was given.
    """
    allowed = f"must be a whole number >= {low}" + (f" and <= {high}" if high is not None else "")
    try:
        value = int(str(text).strip(), 10)
    except ValueError:
        raise ValueError(allowed) from None
    if value < low or (high is not None and value > high):
        raise ValueError(allowed)
    return value


def parse_number(text: str, *, low: float, high: float | None = None, low_open: bool = False) -> float:
    """Return a flag's text as a finite number in ``[low, high]`` (``(low, high]`` with ``low_open``).

    Raises:
        ValueError: The text is not such a number (``nan`` and ``inf`` never are); the message
            says what is allowed (``"must be a number > 0 and <= 3600"``).
    """
    allowed = f"must be a number {'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if high is not None else "")
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ValueError(allowed) from None
    if not math.isfinite(value) or value < low or (low_open and value == low) or (high is not None and value > high):
        raise ValueError(allowed)
    return value


class FlagProblems:
    """Every bad flag of one command line, collected, then raised together as one :class:`UserError`.

    Check every flag before any work starts, then call :meth:`raise_if_any`::

        checks = FlagProblems("python -m tuning load")
        processes = checks.whole_number("--processes", args.processes, high=256)
        if args.kserve_model == "":
            checks.add("--kserve-model", args.kserve_model, "must name the model")
        checks.raise_if_any()

    One problem reads ``--processes: got '0'; must be a whole number >= 1 and <= 256 (nothing was
    started)``; several are listed one per line under ``N problems with `<command>```.

    Attributes:
        command: The command line's name, for the message (``python -m tuning matrix``).
        problems: The problems so far, each naming its flag.
    """

    def __init__(self, command: str) -> None:
        self.command = command
        self.problems: list[str] = []

    def add(self, flag: str, given: object, allowed: str) -> None:
        """Record ``<flag>: got <given>; <allowed>`` (``allowed`` says what is allowed, or the fix)."""
        self.problems.append(f"{flag}: got {given!r}; {allowed}")

    def note(self, message: str) -> None:
        """Record a problem already phrased in full (it names its flag, what was given and the fix)."""
        self.problems.append(message)

    def whole_number(self, flag: str, text: str | None, *, low: int = 1, high: int | None = None) -> int | None:
        """Return the flag's whole number (:func:`parse_whole_number`), or None when absent or recorded as bad."""
        if text is None:
            return None
        try:
            return parse_whole_number(text, low=low, high=high)
        except ValueError as error:
            self.add(flag, text, str(error))
            return None

    def number(
        self, flag: str, text: str | None, *, low: float, high: float | None = None, low_open: bool = False
    ) -> float | None:
        """Return the flag's number (:func:`parse_number`), or None when absent or recorded as bad."""
        if text is None:
            return None
        try:
            return parse_number(text, low=low, high=high, low_open=low_open)
        except ValueError as error:
            self.add(flag, text, str(error))
            return None

    def folder(self, flag: str, text: str | None) -> Path | None:
        """Return the flag's folder when it can be used or created (:func:`writable_folder_problem`), else None."""
        if text is None:
            return None
        problem = writable_folder_problem(Path(text).expanduser() if str(text).strip() else text, flag)
        if problem is not None:
            self.note(problem)
            return None
        return Path(text).expanduser()

    def raise_if_any(self) -> None:
        """Raise one :class:`UserError` listing every problem recorded; do nothing when there is none."""
        if not self.problems:
            return
        if len(self.problems) == 1:
            raise UserError(f"{self.problems[0]} (nothing was started)")
        lines = "\n".join(f"  - {p}" for p in self.problems)
        raise UserError(f"{len(self.problems)} problems with `{self.command}` (nothing was started):\n{lines}")
