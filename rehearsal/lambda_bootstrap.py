"""One Lambda invocation in a process of its own: the Python runtime of the rehearsal's emulator.

Started by :mod:`rehearsal.moto_extensions` (inside the moto server) as
``python -I lambda_bootstrap.py CODE_DIR HANDLER RESULT_PATH CONTEXT_JSON`` with the event on
stdin. It imports ``module.function`` from the function's unpacked code (first on ``sys.path``,
as ``/var/task`` is on AWS), calls it with the event and a context object, and writes the outcome
to ``RESULT_PATH``: ``{"ok": true, "payload": <JSON text>}`` or ``{"ok": false, "payload":
<Lambda's error document>}``. Output goes to stdout, which the server prefixes and logs.

This file is run as a script, not imported: it imports nothing from the project, so a handler sees
only its own code and the interpreter's packages (boto3 among them), like on Lambda.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

#: Printed on its own line when the handler is imported and about to be called.
READY_LINE = "\x1erehearsal-lambda-invoke-starts\x1e"


class LambdaContext:
    """The attributes and method of AWS Lambda's Python context object that handlers use."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.function_name: str = info["function_name"]
        self.function_version: str = info["function_version"]
        self.invoked_function_arn: str = info["invoked_function_arn"]
        self.memory_limit_in_mb: int = int(info["memory_limit_in_mb"])
        self.aws_request_id: str = info["aws_request_id"]
        self.log_group_name: str = info["log_group_name"]
        self.log_stream_name: str = info["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._timeout_ms: int = int(info["timeout_ms"])
        self._deadline_ms = int(time.time() * 1000) + self._timeout_ms

    def start_clock(self) -> None:
        """Start the Timeout at the invocation (after the init phase, as on Lambda)."""
        self._deadline_ms = int(time.time() * 1000) + self._timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's Timeout."""
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _exit_with_parent(parent_pid: int) -> None:
    # The server kills this process group when it stops; if the server itself was SIGKILLed that
    # never happens, so the invocation ends itself (and what it started) once its parent is gone.
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os.killpg(0, signal.SIGKILL)


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def main(argv: list[str]) -> int:
    """Run the handler once; return the process exit code."""
    code_dir, handler, result_path, context_json = argv
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    sys.path.insert(0, code_dir)
    # Lambda's Python runtime: the root logger writes to the function's log at level WARNING.
    logging.basicConfig(stream=sys.stdout, format="[%(levelname)s]\t%(name)s\t%(message)s")
    context = LambdaContext(json.loads(context_json))
    event = json.loads(sys.stdin.read() or "{}")
    module_name, _, function_name = handler.rpartition(".")
    outcome: dict[str, Any]
    try:
        function = getattr(importlib.import_module(module_name.replace("/", ".")), function_name)
    except Exception as exc:
        outcome = {"ok": False, "payload": _error(exc, f"Runtime.ImportModuleError: {type(exc).__name__}")}
    else:
        context.start_clock()
        # Tell the server the init phase is over: the function's Timeout counts from here.
        print(READY_LINE, flush=True)
        try:
            result = function(event, context)
        except Exception as exc:
            outcome = {"ok": False, "payload": _error(exc)}
        else:
            try:
                outcome = {"ok": True, "payload": json.dumps(result)}
            except TypeError as exc:
                outcome = {"ok": False, "payload": _error(exc, "Runtime.MarshalError")}
    sys.stdout.flush()
    with open(result_path, "w", encoding="utf-8") as result:
        json.dump(outcome, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
