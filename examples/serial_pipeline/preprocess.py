"""A preprocessing container for a serial inference pipeline: CSV rows in, a Triton request out.

SageMaker's container contract (``GET /ping``, ``POST /invocations``, port 8080 or
``$SAGEMAKER_BIND_TO_PORT``), standard library only. ``POST /invocations`` with ``text/csv`` rows of
numbers answers the KServe v2 JSON request the next container (Triton, serving
``SAGEMAKER_TRITON_DEFAULT_MODEL_NAME``) takes: one FP32 input named ``$PREPROCESS_INPUT_NAME``
(default ``x``) of shape ``[rows, columns]``, with ``Content-Type: application/json``. In a
``Serial`` ``MultiContainerModel`` SageMaker sends that answer on to Triton as its request.

Run locally as the stand-in of its image: ``LocalDataPlane(local_images={image: [python, this file]})``.
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def to_triton_request(csv_text: str, input_name: str) -> dict[str, object]:
    """Return the KServe v2 request for CSV rows of numbers (every row the same length).

    Raises:
        ValueError: an empty body, a value that is not a number, or rows of different lengths.
    """
    rows = [
        [float(value) for value in line.split(",")] for line in csv_text.strip().splitlines() if line.strip()
    ]
    if not rows:
        raise ValueError("the body has no CSV rows")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise ValueError(f"every row must have the same number of columns (got {sorted(widths)})")
    return {
        "inputs": [
            {
                "name": input_name,
                "shape": [len(rows), widths.pop()],
                "datatype": "FP32",
                "data": [value for row in rows for value in row],
            }
        ]
    }


class Handler(BaseHTTPRequestHandler):
    """``/ping`` and ``/invocations``."""

    def do_GET(self) -> None:
        """Answer ``/ping`` (the health check)."""
        self._answer(200 if self.path == "/ping" else 404, b"", "text/plain")

    def do_POST(self) -> None:
        """Answer ``/invocations``: CSV rows to a Triton request."""
        if self.path != "/invocations":
            self._answer(404, b"not found", "text/plain")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type != "text/csv":
            self._answer(
                415, f"send text/csv rows (got {content_type or 'no Content-Type'})".encode(), "text/plain"
            )
            return
        try:
            request = to_triton_request(body.decode("utf-8"), os.environ.get("PREPROCESS_INPUT_NAME", "x"))
        except (UnicodeDecodeError, ValueError) as exc:
            self._answer(400, str(exc).encode(), "text/plain")
            return
        self._answer(200, json.dumps(request).encode(), "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: SageMaker logs the container's own output only."""


def main() -> None:
    """Serve on ``$SAGEMAKER_BIND_TO_PORT`` (loopback, locally) or 8080 (all interfaces, in a container)."""
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    ThreadingHTTPServer(
        ("127.0.0.1" if "SAGEMAKER_BIND_TO_PORT" in os.environ else "0.0.0.0", port), Handler
    ).serve_forever()


if __name__ == "__main__":
    main()
