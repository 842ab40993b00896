"""Command-line plumbing the rehearsal's commands share: one-line flag errors and clean stops on signals.

* :class:`Parser`: argparse whose errors are :class:`~model_build.user_errors.UserError` (one line on
  stderr, exit status 2 through :func:`~model_build.user_errors.run_cli`), with flag types that
  say what is allowed (:func:`port`, :func:`count`, :func:`seconds`, :func:`loopback_host`).
* :func:`stop_on_signals`: SIGINT, SIGTERM and SIGHUP become :class:`Stopped` in the main thread,
  so ``finally`` blocks tear servers down whichever signal arrives. Python keeps a signal ignored
  when the process started with it ignored — a command started with ``&`` from a script inherits
  SIGINT ignored — so the handlers are installed explicitly, and ``kill -INT`` works there too.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from types import FrameType

from model_build.user_errors import UsageErrorParser, UserError, parse_number, parse_whole_number

#: The signals that stop a rehearsal command (Ctrl-C, ``kill``, a closed terminal).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


#: argparse with one-line usage errors (:class:`model_build.user_errors.UsageErrorParser`).
Parser = UsageErrorParser


def _flag_type(name: str, check: Callable[[str], object], allowed: str) -> Callable[[str], object]:
    def convert(text: str) -> object:
        try:
            return check(text)
        except (ValueError, TypeError):
            raise argparse.ArgumentTypeError(f"must be {allowed} (got {text!r})") from None

    convert.__name__ = name
    return convert


def _port(text: str) -> int:
    return parse_whole_number(text, low=0, high=65535)


def _count(maximum: int) -> Callable[[str], int]:
    return lambda text: parse_whole_number(text, low=1, high=maximum)


def _seconds(maximum: float) -> Callable[[str], float]:
    return lambda text: parse_number(text, low=0, high=maximum, low_open=True)  # refuses nan and inf


def _loopback(text: str) -> str:
    from rehearsal.data_plane.service import is_loopback

    if not is_loopback(text):
        raise ValueError(text)
    return text


port = _flag_type("port", _port, "a TCP port 0-65535 (0: a free one)")


def count(maximum: int) -> Callable[[str], object]:
    """Return a flag type for an integer in ``1..maximum``."""
    return _flag_type("count", _count(maximum), f"an integer from 1 to {maximum}")


def seconds(maximum: float) -> Callable[[str], object]:
    """Return a flag type for a number of seconds in ``(0, maximum]``."""
    return _flag_type("seconds", _seconds(maximum), f"a number of seconds > 0 and <= {maximum:g}")


loopback_host = _flag_type(
    "loopback_host",
    _loopback,
    "a loopback address (127.0.0.1, ::1 or localhost): nothing the rehearsal starts listens beyond this machine",
)


def check_port_free(flag: str, value: int, host: str = "127.0.0.1") -> None:
    """Raise :class:`UserError` when ``host:value`` cannot be bound now (0 always can)."""
    if value == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, value))
        except OSError as exc:
            raise UserError(
                f"{flag} {value}: the port cannot be used on {host} ({exc.strerror}); "
                f"choose another, or {flag} 0 for a free one"
            ) from None


class Stopped(KeyboardInterrupt):
    """A stop signal arrived; the command tears down and exits ``128 + signum``.

    A ``KeyboardInterrupt`` so code that already cleans up on Ctrl-C cleans up on SIGTERM too.

    Attributes:
        signum: The signal number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        """``128 + signum``, as a shell reports a command ended by that signal."""
        return 128 + self.signum


class SignalGuard:
    """The state of :func:`stop_on_signals`: set :attr:`stopping` before a teardown that must finish.

    Attributes:
        stopping: Once True, stop signals only print a note instead of raising :class:`Stopped`.
    """

    def __init__(self) -> None:
        self.stopping = False


@contextlib.contextmanager
def stop_on_signals(notice: Callable[[str], None] | None = None) -> Iterator[SignalGuard]:
    """Raise :class:`Stopped` in the main thread on SIGINT, SIGTERM or SIGHUP while the block runs.

    The first signal raises; later ones (and any once the caller sets ``guard.stopping`` for its
    teardown) only print a note, so a teardown is never cut short (SIGKILL remains for a hung one).
    The previous handlers are restored on exit.

    Args:
        notice: Called with a line for each signal that arrives while stopping. Defaults to stderr.

    Yields:
        The :class:`SignalGuard`.
    """
    say = notice if notice is not None else (lambda text: print(text, file=sys.stderr, flush=True))
    guard = SignalGuard()

    def handler(signum: int, frame: FrameType | None) -> None:
        if guard.stopping:
            say(f"{signal.Signals(signum).name}: already stopping, tearing down (kill -KILL to abandon it)")
            return
        guard.stopping = True
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield guard
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
