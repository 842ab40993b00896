"""A closed-loop load generator for a model behind the SageMaker protocol.

Model: *users* (Locust's term) each send a request, wait for the answer, and send the
next one at once. The number of users follows a schedule:

* fixed concurrency (:func:`run_fixed`): ``c`` users from the start; a sweep over ``c``
  finds the saturation point (throughput stops growing, latency starts to);
* phases (:func:`run_phased`): SageMaker Inference Recommender's ``TrafficPattern``
  ``PHASES`` (seed 000 §3.4: 2 initial users, +2 users per minute, 1500 s) with its
  stopping conditions ``MaxInvocations`` (per minute) and ``ModelLatencyThresholds``.
  Inference Recommender's ``SpawnRate`` counts users per *minute* (Locust's per second).

For throughput the users are spread over several worker processes (``processes``), each
running an asyncio event loop with one keep-alive connection per user; request bodies
are encoded once before the run. Workers stream ``(start, latency, ok)`` samples to the
parent every half second, which merges them, so percentiles are exact over all
processes (not an average of per-process percentiles). ``processes=1`` runs the worker in
a thread of the calling process (no spawn cost, easier to debug).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import queue as queue_mod
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from triton_runtime.kserve import Payload, decode_response
from tuning.stats import LatencySummary, TritonDelta, TritonSnapshot, fetch_triton_snapshot, summarize
from tuning.sysmon import ClientCpuMeter, CpuUse, GpuSampler
from tuning.transports import Transport

_FLUSH_S = 0.5


@dataclass(frozen=True)
class Schedule:
    """How many users run at time ``t`` (seconds from the start).

    Attributes:
        initial_users: Users started at ``t = 0``.
        spawn_rate_per_minute: Users added per minute after that (Inference Recommender's ``SpawnRate``).
        max_users: Cap on users; ``None`` for ``initial_users`` when the spawn rate is 0.
    """

    initial_users: int
    spawn_rate_per_minute: float = 0.0
    max_users: int | None = None

    def __post_init__(self) -> None:
        if self.initial_users < 1:
            raise ValueError(f"initial_users must be >= 1 (got {self.initial_users})")
        if self.spawn_rate_per_minute < 0:
            raise ValueError(f"spawn_rate_per_minute must be >= 0 (got {self.spawn_rate_per_minute})")

    def total_users(self, total_s: float) -> int:
        """Users that exist by ``total_s``."""
        grown = self.initial_users + math.floor(self.spawn_rate_per_minute * total_s / 60.0)
        cap = self.max_users if self.max_users is not None else grown
        return max(1, min(grown, cap))

    def start_offset(self, user: int) -> float:
        """Seconds after the start at which user number ``user`` (0-based) begins."""
        if user < self.initial_users:
            return 0.0
        return (user - self.initial_users + 1) * 60.0 / self.spawn_rate_per_minute

    def users_at(self, t: float) -> int:
        """Users running at ``t`` seconds."""
        if self.spawn_rate_per_minute == 0:
            return self.initial_users
        return self.total_users(t)


@dataclass(frozen=True)
class _WorkerArgs:
    transport: Transport
    payloads: tuple[Payload, ...]
    schedule: Schedule
    worker_index: int
    workers: int
    total_s: float


@dataclass
class _SharedStart:
    """A start time shared with threads (``mp.Value`` plays this role for processes)."""

    value: float = 0.0


def _worker_main(args: _WorkerArgs, out: Any, stop: Any, go: Any, start: Any) -> None:
    """Entry point of a worker process or thread: run its users, stream samples to ``out``."""
    out.put(("ready", args.worker_index, None))
    go.wait()
    try:
        errors = asyncio.run(_worker(args, out, stop, float(start.value)))
    except BaseException as exc:  # report, never hang the parent
        out.put(("done", args.worker_index, [f"worker crashed: {exc!r}"]))
        raise
    out.put(("done", args.worker_index, errors))


async def _worker(args: _WorkerArgs, out: Any, stop: Any, t0: float) -> list[str]:
    users = [
        u for u in range(args.schedule.total_users(args.total_s)) if u % args.workers == args.worker_index
    ]
    client = args.transport.open(max(1, len(users)))
    samples: list[tuple[float, float, bool]] = []
    error_examples: list[str] = []
    end = t0 + args.total_s
    payloads = args.payloads
    headers = [p.all_headers() for p in payloads]
    clock = time.monotonic

    async def user(index: int) -> None:
        delay = t0 + args.schedule.start_offset(index) - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        k = index
        while clock() < end:
            i = k % len(payloads)
            k += 1
            began = clock()
            try:
                status, body, _ = await client.invoke(payloads[i].body, headers[i])
                ok = 200 <= status < 300
                if not ok and len(error_examples) < 3:
                    error_examples.append(f"HTTP {status}: {body[:200]!r}")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                ok = False
                if len(error_examples) < 3:
                    error_examples.append(repr(exc)[:200])
            samples.append((began - t0, clock() - began, ok))

    def flush() -> None:
        if samples:
            out.put(("samples", args.worker_index, np.asarray(samples, dtype=np.float64)))
            samples.clear()

    tasks = [asyncio.create_task(user(u)) for u in users]
    try:
        while clock() < end and not stop.is_set():
            await asyncio.sleep(min(_FLUSH_S, max(0.0, end - clock())))
            flush()
    finally:
        # Requests still in flight at the end fall outside every window; cancel them
        # instead of waiting up to a timeout on a saturated server.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        flush()
        await client.close()
    return error_examples


@dataclass
class _Run:
    """Parent side of one run: starts workers, merges samples, fires timed hooks."""

    transport: Transport
    payloads: tuple[Payload, ...]
    schedule: Schedule
    processes: int
    total_s: float
    chunks: list[np.ndarray] = field(default_factory=list)
    error_examples: list[str] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)

    def execute(
        self,
        timers: Sequence[tuple[float, Callable[[], None]]] = (),
        on_tick: Callable[[float, np.ndarray], bool] | None = None,
    ) -> float:
        """Run to the end (or until ``on_tick`` returns True); return the wall start ``t0``."""
        workers = max(1, self.processes)
        if workers == 1:
            out: Any = queue_mod.Queue()
            stop: Any = threading.Event()
            go: Any = threading.Event()
            start: Any = _SharedStart()
            handles: list[Any] = [
                threading.Thread(
                    target=_worker_main,
                    args=(self._args(0, 1), out, stop, go, start),
                    name="loadgen-worker",
                    daemon=True,
                )
            ]
        else:
            ctx = mp.get_context("spawn")  # fork is unsafe next to threads (timers, samplers)
            out = ctx.Queue()
            stop = ctx.Event()
            go = ctx.Event()
            start = ctx.Value("d", 0.0)
            handles = [
                ctx.Process(
                    target=_worker_main,
                    args=(self._args(i, workers), out, stop, go, start),
                    name=f"loadgen-worker-{i}",
                    daemon=True,
                )
                for i in range(workers)
            ]
        for handle in handles:
            handle.start()
        self.pids = [h.pid for h in handles if isinstance(h, mp.process.BaseProcess) and h.pid]
        try:
            ready = 0
            while ready < workers:
                kind, _, _ = out.get(timeout=120)
                ready += kind == "ready"
            t0 = time.monotonic() + 0.1
            start.value = t0
            scheduled = [threading.Timer(max(0.0, t0 + at - time.monotonic()), fn) for at, fn in timers]
            for timer in scheduled:
                timer.daemon = True
                timer.start()
            go.set()
            done = 0
            next_tick = t0 + 1.0
            while done < workers:
                try:
                    kind, _, data = out.get(timeout=0.2)
                except queue_mod.Empty:
                    kind, data = "", None
                if kind == "samples":
                    self.chunks.append(data)
                elif kind == "done":
                    done += 1
                    self.error_examples.extend(data or [])
                now = time.monotonic()
                if on_tick is not None and now >= next_tick and not stop.is_set():
                    next_tick = now + 1.0
                    if on_tick(now - t0, self.samples()):
                        stop.set()
            for timer in scheduled:
                timer.join(timeout=30)
            return t0
        finally:
            stop.set()
            go.set()
            for handle in handles:
                handle.join(timeout=30)

    def _args(self, index: int, workers: int) -> _WorkerArgs:
        return _WorkerArgs(self.transport, self.payloads, self.schedule, index, workers, self.total_s)

    def samples(self) -> np.ndarray:
        """All samples so far: rows of (start s from t0, latency s, ok)."""
        if not self.chunks:
            return np.empty((0, 3))
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        return self.chunks[0]


def window(samples: np.ndarray, begin_s: float, end_s: float) -> tuple[np.ndarray, int]:
    """Latencies (s) of successful requests completing in ``[begin_s, end_s)`` and the error count there."""
    if samples.size == 0:
        return np.empty(0), 0
    done_at = samples[:, 0] + samples[:, 1]
    inside = (done_at >= begin_s) & (done_at < end_s)
    ok = samples[:, 2] > 0.5
    return samples[inside & ok, 1], int(np.count_nonzero(inside & ~ok))


@dataclass
class LoadResult:
    """One fixed-concurrency measurement.

    Attributes:
        concurrency: Users (in-flight requests) during the window.
        processes: Client worker processes.
        batch_size: Items per request.
        latency: Client-side latency and throughput in the window.
        triton: What Triton did in the window (``None`` when its statistics are unreachable).
        gpu_util_percent: Mean GPU utilization in the window (``None``: no GPU).
        client_cpu: The load generator's CPU use (``None``: no psutil).
        error_examples: Up to a few error messages per worker, for diagnosis.
        latencies_ms: Successful latencies in the window, for charts (not serialized).
    """

    concurrency: int
    processes: int
    batch_size: int
    latency: LatencySummary
    triton: TritonDelta | None
    gpu_util_percent: float | None
    client_cpu: CpuUse | None
    error_examples: list[str] = field(default_factory=list)
    latencies_ms: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    @property
    def inferences_per_s(self) -> float:
        """Throughput in items (sequences, images) per second."""
        return self.latency.throughput_rps * self.batch_size

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        cpu = self.client_cpu
        return {
            "concurrency": self.concurrency,
            "processes": self.processes,
            "batch_size": self.batch_size,
            "latency": self.latency.to_dict(),
            "inferences_per_s": self.inferences_per_s,
            "triton": self.triton.to_dict() if self.triton else None,
            "gpu_util_percent": self.gpu_util_percent,
            "client_cpu_percent_of_one_core": cpu.percent_of_one_core if cpu else None,
            "client_cpu_percent_of_machine": cpu.percent_of_machine if cpu else None,
            "error_examples": self.error_examples,
        }


def run_fixed(
    transport: Transport,
    payloads: Payload | Sequence[Payload],
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float = 2.0,
    processes: int = 1,
    triton_http_url: str | None = None,
    model: str | None = None,
    sample_gpu: bool = True,
) -> LoadResult:
    """Hold ``concurrency`` requests in flight and measure the steady state.

    Requests completing during the first ``warmup_s`` seconds are discarded (connection
    setup, lazy initialisation, the batcher filling up); the next ``duration_s`` seconds
    are the window. Triton's statistics, the GPU and the client's CPU are read at the
    window's edges.

    Args:
        transport: Target.
        payloads: One payload or several, sent round-robin.
        concurrency: Users, i.e. requests in flight.
        duration_s: Measured window.
        warmup_s: Discarded lead-in.
        processes: Client worker processes (users are spread round-robin).
        triton_http_url: Triton's KServe HTTP URL for ``/v2/models/<model>/stats``; ``None`` skips it.
        model: Model name for the statistics.
        sample_gpu: Sample GPU utilization when a GPU is visible.
    """
    bodies = (payloads,) if isinstance(payloads, Payload) else tuple(payloads)
    if not bodies:
        raise ValueError("payloads must not be empty")
    processes = max(1, min(processes, concurrency))
    run = _Run(transport, bodies, Schedule(concurrency), processes, warmup_s + duration_s)
    gpu = GpuSampler() if sample_gpu else None
    snapshots: list[TritonSnapshot | None] = []
    meter: list[ClientCpuMeter] = []
    cpu: list[CpuUse | None] = []

    def snapshot() -> None:
        if triton_http_url and model:
            try:
                snapshots.append(fetch_triton_snapshot(triton_http_url, model))
            except Exception:
                snapshots.append(None)

    def window_start() -> None:
        meter.append(ClientCpuMeter(run.pids))
        meter[0].start()
        if gpu is not None:
            gpu.start()
        snapshot()

    def window_end() -> None:
        snapshot()
        cpu.append(meter[0].stop() if meter else None)

    run.execute(timers=[(warmup_s, window_start), (warmup_s + duration_s, window_end)])
    gpu_util = gpu.stop() if gpu is not None else None
    latencies, errors = window(run.samples(), warmup_s, warmup_s + duration_s)
    triton: TritonDelta | None = None
    if len(snapshots) == 2 and snapshots[0] is not None and snapshots[1] is not None:
        triton = snapshots[1] - snapshots[0]
    return LoadResult(
        concurrency=concurrency,
        processes=processes,
        batch_size=bodies[0].batch_size,
        latency=summarize(latencies, errors, duration_s),
        triton=triton,
        gpu_util_percent=gpu_util,
        client_cpu=cpu[0] if cpu else None,
        error_examples=run.error_examples,
        latencies_ms=latencies * 1000.0,
    )


@dataclass(frozen=True)
class Phase:
    """Inference Recommender's ``TrafficPattern`` phase.

    Attributes:
        initial_users: ``InitialNumberOfUsers``.
        spawn_rate: ``SpawnRate``, new users per minute.
        duration_s: ``DurationInSeconds``.
    """

    initial_users: int = 2
    spawn_rate: float = 2.0
    duration_s: float = 1500.0


@dataclass(frozen=True)
class StoppingConditions:
    """Inference Recommender's ``StoppingConditions``, evaluated over a rolling window.

    Attributes:
        max_invocations_per_minute: ``MaxInvocations``; stop once the rolling rate reaches it.
        latency_threshold_ms: ``ModelLatencyThresholds`` value; stop once exceeded.
        latency_percentile: Percentile the threshold applies to (IR's ``Percentile``, e.g. P95).
        window_s: Rolling window the conditions are evaluated on.
    """

    max_invocations_per_minute: float | None = 30_000
    latency_threshold_ms: float | None = 500.0
    latency_percentile: float = 95.0
    window_s: float = 10.0


@dataclass(frozen=True)
class TimelinePoint:
    """One second-by-second point of a phased run (rolling window ending at ``t_s``)."""

    t_s: float
    users: int
    invocations_per_minute: float
    latency_ms: float
    errors: int


@dataclass
class PhasedResult:
    """A phased run: its timeline, why it stopped, and the best window that met the threshold.

    Attributes:
        timeline: Rolling-window points, one per second.
        stop_reason: ``max_invocations``, ``latency_threshold`` or ``duration``.
        stopped_at_s: Seconds from the start.
        users_at_stop: Users running when it stopped.
        max_invocations_per_minute_within_threshold: Best rolling rate whose latency met the threshold.
        latency: Summary over the whole run.
        error_examples: Sample error messages.
    """

    timeline: list[TimelinePoint]
    stop_reason: str
    stopped_at_s: float
    users_at_stop: int
    max_invocations_per_minute_within_threshold: float
    latency: LatencySummary
    error_examples: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "stop_reason": self.stop_reason,
            "stopped_at_s": self.stopped_at_s,
            "users_at_stop": self.users_at_stop,
            "max_invocations_per_minute_within_threshold": self.max_invocations_per_minute_within_threshold,
            "latency": self.latency.to_dict(),
            "timeline": [vars(p) for p in self.timeline],
            "error_examples": self.error_examples,
        }


def run_phased(
    transport: Transport,
    payloads: Payload | Sequence[Payload],
    *,
    phase: Phase = Phase(),
    stopping: StoppingConditions = StoppingConditions(),
    processes: int = 1,
    max_users: int | None = None,
) -> PhasedResult:
    """Ramp users as Inference Recommender's ``PHASES`` traffic does, until a stopping condition.

    Every second the parent evaluates the last ``stopping.window_s`` seconds of completed
    requests: the invocation rate (per minute) and the latency percentile. Conditions are
    checked only once a full window exists, so start-up noise cannot stop the run.

    Args:
        transport: Target.
        payloads: One payload or several, sent round-robin.
        phase: Initial users, spawn rate (per minute) and duration.
        stopping: Stop on max invocations per minute or a latency threshold.
        processes: Client worker processes.
        max_users: Cap on users (the phase alone may reach thousands on long runs).
    """
    bodies = (payloads,) if isinstance(payloads, Payload) else tuple(payloads)
    schedule = Schedule(phase.initial_users, phase.spawn_rate, max_users)
    run = _Run(transport, bodies, schedule, max(1, processes), phase.duration_s)
    timeline: list[TimelinePoint] = []
    reason: list[str] = []

    def tick(t: float, samples: np.ndarray) -> bool:
        span = min(stopping.window_s, t)
        if span <= 0:
            return False
        latencies, errors = window(samples, t - span, t)
        rate = latencies.size * 60.0 / span
        lat = float(np.percentile(latencies * 1000.0, stopping.latency_percentile)) if latencies.size else math.nan
        timeline.append(TimelinePoint(round(t, 3), schedule.users_at(t), rate, lat, errors))
        if t < stopping.window_s:
            return False
        if stopping.max_invocations_per_minute is not None and rate >= stopping.max_invocations_per_minute:
            reason.append("max_invocations")
            return True
        if stopping.latency_threshold_ms is not None and lat > stopping.latency_threshold_ms:
            reason.append("latency_threshold")
            return True
        return False

    run.execute(on_tick=tick)
    stopped = timeline[-1].t_s if timeline else 0.0
    samples = run.samples()
    latencies, errors = window(samples, 0.0, math.inf)
    within = [
        p.invocations_per_minute
        for p in timeline
        if p.t_s >= stopping.window_s
        and (stopping.latency_threshold_ms is None or p.latency_ms <= stopping.latency_threshold_ms)
    ]
    return PhasedResult(
        timeline=timeline,
        stop_reason=reason[0] if reason else "duration",
        stopped_at_s=stopped,
        users_at_stop=schedule.users_at(stopped),
        max_invocations_per_minute_within_threshold=max(within, default=0.0),
        latency=summarize(latencies, errors, max(stopped, 1e-9)),
        error_examples=run.error_examples,
    )


def probe(transport: Transport, payload: Payload) -> dict[str, np.ndarray]:
    """Send one request and decode the answer; raises with the server's message on failure.

    Run before a measurement so a misconfigured model fails loudly instead of producing a
    throughput figure made of error responses.
    """

    async def once() -> tuple[int, bytes, dict[str, str]]:
        client = transport.open(1)
        try:
            return await client.invoke(payload.body, payload.all_headers())
        finally:
            await client.close()

    status, body, headers = asyncio.run(once())
    if not 200 <= status < 300:
        raise RuntimeError(f"{transport.describe()} answered HTTP {status}: {body[:2000]!r}")
    return decode_response(body, headers.get("content-type"), headers.get("inference-header-content-length"))
