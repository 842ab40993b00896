"""Bad input, reported once and clearly: the one error type and CLI wrapper every entry point uses.

The bar (issue "errors a user can act on"): one message that names the field, flag, context key or
the user's own file, what was given, what is allowed, and the fix; raised **before** any build,
server or load test starts; no traceback for a command-line or ``cdk`` user. Set
``TRITON_IAC_DEBUG=1`` to get the traceback anyway.

Every command line of the project (``python -m model_build``, ``python -m tuning``,
``python -m rehearsal.demo``, ``python -m rehearsal.data_plane``, ``python -m triton_runtime`` and
``app.py`` under ``cdk``) runs its ``main`` through :func:`run_cli`, so they all answer bad input
the same way: ``<prog>: error: <message>`` on stderr and exit status 2 (argparse's own code for a
usage error).

This module lives in ``model_build``, the lowest layer, so every other package can import it.
"""

from __future__ import annotations

import argparse
import os
import sys
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


def describe_value(value: object) -> str:
    """Return a value with its Python type for a message: ``str '8'``, ``list [1, 8]``, ``float 8.0``."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def writable_folder_problem(path: str | os.PathLike[str], label: str) -> str | None:
    """Return why ``path`` cannot be used (or created) as a writable folder; None when it can.

    Checks without writing anything: a file at the path, a file where a parent folder would be
    created, a folder this user may not write to, a read-only file system.

    Args:
        path: The folder, existing or not.
        label: What names it in the message: a flag (``--output-dir``), a prop or a context key.
    """
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
    return None
