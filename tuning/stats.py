"""Latency summaries and Triton statistics deltas.

Two sources of truth are kept apart: what the client saw (end-to-end latency, which
includes HTTP, JSON and queueing in the client) and what Triton reports about itself
(``GET /v2/models/<m>/stats``: queue and compute time, and how many requests each model
execution carried, i.e. the dynamic batcher's achieved batch size).
"""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

PERCENTILES = (50.0, 90.0, 99.0)


@dataclass(frozen=True)
class LatencySummary:
    """End-to-end latency of the requests that completed inside a measurement window.

    Attributes:
        count: Requests completed successfully in the window.
        errors: Requests that failed (non-2xx status, transport error or timeout).
        duration_s: Length of the window in seconds.
        throughput_rps: ``count / duration_s``.
        mean_ms: Mean latency of successful requests.
        p50_ms: Median latency.
        p90_ms: 90th percentile latency.
        p99_ms: 99th percentile latency.
        max_ms: Slowest successful request.
    """

    count: int
    errors: int
    duration_s: float
    throughput_rps: float
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def error_rate(self) -> float:
        """Errors over all finished requests (0.0 when nothing finished)."""
        total = self.count + self.errors
        return self.errors / total if total else 0.0

    def percentile_ms(self, percentile: float) -> float:
        """Return the stored percentile ``percentile`` (50, 90 or 99) in milliseconds.

        Raises:
            ValueError: For a percentile that is not stored.
        """
        stored = {50.0: self.p50_ms, 90.0: self.p90_ms, 99.0: self.p99_ms}
        if float(percentile) not in stored:
            raise ValueError(f"latency percentile must be one of {sorted(stored)} (got {percentile})")
        return stored[float(percentile)]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON, with ``error_rate`` added."""
        return {**asdict(self), "error_rate": self.error_rate}


def summarize(latencies_s: Sequence[float] | np.ndarray, errors: int, duration_s: float) -> LatencySummary:
    """Summarize successful request latencies (seconds) measured over ``duration_s``.

    Percentiles use numpy's default linear interpolation between closest ranks
    (Hyndman & Fan type 7), the same definition Locust's and most load tools'
    exact-percentile modes use; with few samples p99 therefore approaches the maximum.

    Args:
        latencies_s: Latency of each successful request, in seconds.
        errors: Number of failed requests in the same window.
        duration_s: Window length in seconds (must be > 0).

    Returns:
        The summary; latencies are NaN when no request succeeded.
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be > 0 (got {duration_s})")
    values = np.asarray(latencies_s, dtype=np.float64) * 1000.0
    count = int(values.size)
    if count == 0:
        nan = float("nan")
        return LatencySummary(0, int(errors), float(duration_s), 0.0, nan, nan, nan, nan, nan)
    p50, p90, p99 = (float(v) for v in np.percentile(values, PERCENTILES))
    return LatencySummary(
        count=count,
        errors=int(errors),
        duration_s=float(duration_s),
        throughput_rps=count / duration_s,
        mean_ms=float(values.mean()),
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        max_ms=float(values.max()),
    )


@dataclass(frozen=True)
class TritonSnapshot:
    """Cumulative counters of one model from Triton's statistics extension.

    Triton counts ``inference_count`` per inference (a request of batch 4 counts 4) and
    ``execution_count`` per model execution (one batched call of the backend), so their
    ratio over an interval is the mean batch size the scheduler formed. The
    ``inference_stats`` durations are cumulative nanoseconds summed over *requests*
    (a request in a batch of 8 is charged the whole batch's compute time), so dividing by
    the success count gives the mean a request spent in each phase.
    """

    inference_count: int
    execution_count: int
    success_count: int
    fail_count: int
    queue_ns: int
    compute_input_ns: int
    compute_infer_ns: int
    compute_output_ns: int

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any], model: str | None = None) -> TritonSnapshot:
        """Parse a ``/v2/models/<m>/stats`` response (summing versions of ``model``)."""
        rows = [
            row
            for row in stats.get("model_stats", [])
            if model is None or row.get("name") == model
        ]
        if not rows:
            raise ValueError(f"no statistics for model {model!r} in Triton's response")

        def total(*path: str) -> int:
            acc = 0
            for row in rows:
                node: Any = row
                for key in path:
                    node = node.get(key, {}) if isinstance(node, Mapping) else {}
                acc += int(node or 0)
            return acc

        return cls(
            inference_count=total("inference_count"),
            execution_count=total("execution_count"),
            success_count=total("inference_stats", "success", "count"),
            fail_count=total("inference_stats", "fail", "count"),
            queue_ns=total("inference_stats", "queue", "ns"),
            compute_input_ns=total("inference_stats", "compute_input", "ns"),
            compute_infer_ns=total("inference_stats", "compute_infer", "ns"),
            compute_output_ns=total("inference_stats", "compute_output", "ns"),
        )

    def __sub__(self, earlier: TritonSnapshot) -> TritonDelta:
        fields = {
            name: getattr(self, name) - getattr(earlier, name) for name in TritonSnapshot.__dataclass_fields__
        }
        return TritonDelta(**fields)


@dataclass(frozen=True)
class TritonDelta(TritonSnapshot):
    """The difference of two snapshots: what Triton did during a window."""

    @property
    def mean_batch_size(self) -> float:
        """Inferences per model execution (NaN when nothing executed)."""
        return self.inference_count / self.execution_count if self.execution_count else math.nan

    def _per_request_ms(self, ns: int) -> float:
        return ns / self.success_count / 1e6 if self.success_count else math.nan

    @property
    def queue_ms(self) -> float:
        """Mean time a request waited in Triton's scheduler queue."""
        return self._per_request_ms(self.queue_ns)

    @property
    def compute_ms(self) -> float:
        """Mean input + infer + output time charged to a request."""
        return self._per_request_ms(self.compute_input_ns + self.compute_infer_ns + self.compute_output_ns)

    @property
    def compute_infer_ms(self) -> float:
        """Mean model execution time charged to a request."""
        return self._per_request_ms(self.compute_infer_ns)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON, with the derived means added."""
        return {
            **asdict(self),
            "mean_batch_size": self.mean_batch_size,
            "queue_ms": self.queue_ms,
            "compute_ms": self.compute_ms,
            "compute_infer_ms": self.compute_infer_ms,
        }


def fetch_triton_snapshot(http_url: str, model: str, *, timeout_s: float = 5.0) -> TritonSnapshot:
    """Read one model's cumulative statistics from Triton's KServe v2 HTTP endpoint.

    Args:
        http_url: Triton's HTTP base URL (``http://127.0.0.1:8000``).
        model: Model name.
        timeout_s: Socket timeout.
    """
    url = f"{http_url.rstrip('/')}/v2/models/{model}/stats"
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return TritonSnapshot.from_stats(json.loads(response.read()), model)
