"""Serverless variants (``ServerlessConfig``): cold starts, idle stops, provisioned concurrency, throttling.

What SageMaker does (Developer Guide, "Serverless Inference" and "Monitor a serverless endpoint";
API reference, ``ProductionVariantServerlessConfig``; SERVICE-FACTS §7.2) and what
:class:`ServerlessBackend` does locally:

* **No compute until a request.** The variant's container (here the bundled Triton) is started by the
  first invocation: a *cold start*. The time it takes (artifact download and extraction, the local
  repository, Triton ready) is published as ``ModelSetupTime`` (microseconds, one sample per cold
  start), and it counts in that request's ``OverheadLatency``, as on SageMaker.
* **Scale to zero.** After ``idle_s`` seconds without a request (``LocalDataPlane(serverless_idle_s=...)``)
  the container is stopped; the next request is a cold start again. SageMaker does not document how
  long idle compute is kept: the local default (:data:`DEFAULT_SERVERLESS_IDLE_S`) is a choice.
* **Provisioned concurrency** (``ProvisionedConcurrency`` > 0): the container is started when the
  endpoint is deployed (found by the data plane's refresh, :class:`ServerlessProvisioner`), never by
  a request, and never stopped for idleness: no ``ModelSetupTime``.
* **MaxConcurrency.** A request arriving while ``MaxConcurrency`` invocations are in flight is
  throttled: ``ThrottlingException`` (HTTP 400, SageMaker's common error; boto3 retries it by default).
* **Limits.** A request body over 4 MB is refused with SageMaker's serverless wording
  (``ValidationError`` "Request <id> has oversize body."); the container has 60 s to answer
  (``LocalDataPlane(serverless_invocation_timeout_s=...)`` shortens it for a rehearsal).
* **Metrics** (``AWS/SageMaker``, ``EndpointName`` + ``VariantName``): ``ModelSetupTime``;
  ``ServerlessConcurrentExecutionsUtilization`` (per admitted request: the invocations in flight,
  this one included, divided by ``MaxConcurrency``); and with provisioned concurrency
  ``ServerlessProvisionedConcurrencyExecutions`` / ``...Utilization`` (per admitted request: the
  executions within the provisioned concurrency, and that divided by it),
  ``ServerlessProvisionedConcurrencyInvocations`` and ``...SpilloverInvocations`` (0 or 1 per
  admitted request: within or beyond the provisioned concurrency). The common invocation metrics come
  from the shared dispatch path; no instance metrics (CPU, memory, disk) and no
  ``InvocationsPerInstance``, which serverless endpoints do not publish.

What differs: one local Triton serves every concurrent execution (SageMaker may start more compute,
each with its own cold start, when concurrency grows); ``MemorySizeInMB`` is not enforced (the local
process is not memory-capped); a cold start after an idle stop does not download the artifact again
(it stays in the work folder), so it is shorter than the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_build.aws import INVOCATION_TIMEOUT_S, SERVERLESS_MAX_PAYLOAD_BYTES
from rehearsal.data_plane.backends import (
    BACKENDS,
    Invocation,
    InvocationResult,
    RealTimeBackend,
)
from rehearsal.data_plane.container_client import ContainerClient
from rehearsal.data_plane.errors import RuntimeApiError, validation_error
from rehearsal.data_plane.routing import ControlPlane, ServerlessConfig, VariantRoute

if TYPE_CHECKING:
    from rehearsal.data_plane.routes import RuntimeApi

log = logging.getLogger(__name__)

#: SageMaker's serverless request and response payload limit (4 MB; real-time endpoints take 6 MB).
MAX_SERVERLESS_PAYLOAD_BYTES = SERVERLESS_MAX_PAYLOAD_BYTES
#: Idle seconds after which an on-demand serverless variant's container is stopped, by default (a
#: local choice: SageMaker does not document how long it keeps idle serverless compute).
DEFAULT_SERVERLESS_IDLE_S = 600.0
#: Seconds a serverless container has to answer an invocation (SageMaker's 1 minute), by default.
DEFAULT_SERVERLESS_INVOCATION_TIMEOUT_S = float(INVOCATION_TIMEOUT_S)
# Endpoint statuses in which SageMaker keeps provisioned concurrency running.
_SERVING = frozenset({"InService", "Updating"})


def serverless_argument_problems(*, idle_s: Any, invocation_timeout_s: Any) -> list[str]:
    """Return what is wrong with ``LocalDataPlane``'s serverless arguments (empty when both are fine)."""
    problems = []
    for name, value, default, limit in (
        ("serverless_idle_s", idle_s, DEFAULT_SERVERLESS_IDLE_S, 86400.0),
        ("serverless_invocation_timeout_s", invocation_timeout_s, DEFAULT_SERVERLESS_INVOCATION_TIMEOUT_S, 3600.0),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= limit:
            problems.append(
                f"{name} must be a number of seconds in (0, {limit:g}] (got {value!r}); leave it out for {default:g} s"
            )
    return problems


def throttling_error(endpoint_name: str, variant_name: str, max_concurrency: int) -> RuntimeApiError:
    """``ThrottlingException`` (HTTP 400, SageMaker's common error) for a request beyond ``MaxConcurrency``.

    SageMaker's own message for it is not documented (clients have reported an empty one); this one
    says what was exceeded.
    """
    return RuntimeApiError(
        "ThrottlingException",
        400,
        f"Endpoint {endpoint_name} variant {variant_name} is processing {max_concurrency} concurrent "
        f"invocations, its MaxConcurrency; retry with backoff or raise MaxConcurrency.",
    )


class ServerlessBackend(RealTimeBackend):
    """A serverless variant: a real-time container started by the first request, stopped when idle.

    Args:
        endpoint_name: For error messages and metrics.
        config_name: The endpoint config the variant belongs to.
        variant: The variant (its ``serverless`` config is set).
        control_plane: Where the artifact comes from.
        work_dir: A private directory for the artifact and the local repository.
        server_options: Extra :class:`triton_runtime.server.TritonServer` keyword arguments.
        idle_s: Idle seconds before an on-demand variant's container is stopped.
        invocation_timeout_s: Seconds the container has to answer one invocation.
    """

    mode = "Serverless"
    instance_metrics = False

    def __init__(
        self,
        endpoint_name: str,
        config_name: str,
        variant: VariantRoute,
        control_plane: ControlPlane,
        work_dir: Path,
        server_options: Mapping[str, Any] | None = None,
        *,
        idle_s: float = DEFAULT_SERVERLESS_IDLE_S,
        invocation_timeout_s: float = DEFAULT_SERVERLESS_INVOCATION_TIMEOUT_S,
    ) -> None:
        super().__init__(endpoint_name, config_name, variant, control_plane, work_dir, server_options)
        assert variant.serverless is not None, "a serverless backend needs a serverless variant"
        self.config: ServerlessConfig = variant.serverless
        self.idle_s = idle_s
        self.invocation_timeout_s = invocation_timeout_s
        #: Cold starts so far (each published as one ``ModelSetupTime`` sample).
        self.cold_starts = 0
        #: Requests refused with ``ThrottlingException``.
        self.throttled = 0
        #: Seconds each cold start took, oldest first.
        self.setup_times_s: list[float] = []
        self._idle_timer: asyncio.TimerHandle | None = None
        self._provisioning = False

    @property
    def provisioned(self) -> bool:
        """Whether the variant has provisioned concurrency (started at deploy, never stopped for idleness)."""
        return self.config.provisioned_concurrency > 0

    def check(self, invocation: Invocation) -> None:
        """Refuse ``TargetModel`` (as real-time does) and a body over 4 MB (SageMaker's serverless wording)."""
        super().check(invocation)
        if len(invocation.body) > MAX_SERVERLESS_PAYLOAD_BYTES:
            raise validation_error(f"Request {invocation.request_id} has oversize body.")

    async def invoke(self, client: ContainerClient, invocation: Invocation) -> InvocationResult:
        """Throttle beyond ``MaxConcurrency``, record the concurrency metrics, then invoke (cold starting if needed).

        Raises:
            RuntimeApiError: ``ThrottlingException`` beyond ``MaxConcurrency``; ``ValidationError`` for
                an oversize body; ``ModelError`` from the container (or a timeout).
        """
        self.check(invocation)
        # No await between this check and the in-flight count the real-time path takes: admission is atomic.
        if self.in_flight >= self.config.max_concurrency:
            self.throttled += 1
            raise throttling_error(self.endpoint_name, self.variant.name, self.config.max_concurrency)
        self._record_admission()
        self._cancel_idle_timer()
        try:
            return await super().invoke(client, invocation)
        finally:
            self.last_active = time.monotonic()
            self._arm_idle_timer()

    def _record_admission(self) -> None:
        """Record the concurrency metrics of one admitted request (before it counts as in flight)."""
        if self.metrics is None:
            return
        record = self.metrics.record
        name, vname = self.endpoint_name, self.variant.name
        executions = self.in_flight + 1
        record(
            "ServerlessConcurrentExecutionsUtilization",
            executions / self.config.max_concurrency,
            endpoint=name,
            variant=vname,
        )
        provisioned = self.config.provisioned_concurrency
        if provisioned:
            within = min(executions, provisioned)
            spilled = int(self.in_flight >= provisioned)
            record("ServerlessProvisionedConcurrencyExecutions", within, endpoint=name, variant=vname)
            record("ServerlessProvisionedConcurrencyUtilization", within / provisioned, endpoint=name, variant=vname)
            record("ServerlessProvisionedConcurrencyInvocations", 1 - spilled, endpoint=name, variant=vname)
            record("ServerlessProvisionedConcurrencySpilloverInvocations", spilled, endpoint=name, variant=vname)

    async def _launch(self) -> None:
        """Start the container; a start a request waited for is a cold start (``ModelSetupTime``)."""
        started = time.perf_counter()
        await super()._launch()
        if self._server is None or self._provisioning:
            return
        seconds = time.perf_counter() - started
        self.cold_starts += 1
        self.setup_times_s.append(seconds)
        log.info("variant %s/%s: cold start in %.2f s", self.endpoint_name, self.variant.name, seconds)
        if self.metrics is not None:
            self.metrics.record_duration("ModelSetupTime", seconds, endpoint=self.endpoint_name, variant=self.variant.name)

    async def provision(self) -> bool:
        """Start the container for provisioned concurrency (no request waits: not a cold start).

        Returns:
            True when this call started it.
        """
        async with self._lock:
            if self._server is not None or self._start_error is not None:
                return False
            self._provisioning = True
            try:
                await self._launch()
            finally:
                self._provisioning = False
            return self._server is not None

    # -- scale to zero ------------------------------------------------------------------------

    def _arm_idle_timer(self) -> None:
        if self.provisioned or self.in_flight or self._server is None:
            return
        self._cancel_idle_timer()
        remaining = max(0.0, self.last_active + self.idle_s - time.monotonic())
        self._idle_timer = asyncio.get_running_loop().call_later(remaining, self._idle_elapsed)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _idle_elapsed(self) -> None:
        self._idle_timer = None
        if self.in_flight or self._server is None:
            return
        if time.monotonic() - self.last_active < self.idle_s:
            self._arm_idle_timer()
            return
        task = asyncio.get_running_loop().create_task(self.scale_in())
        _background.add(task)
        task.add_done_callback(_background.discard)

    def describe(self) -> dict[str, Any]:
        """Add the serverless config and counters to the backend's summary (``/local/backends``)."""
        return {
            "serverless": {
                "MemorySizeInMB": self.config.memory_size_in_mb,
                "MaxConcurrency": self.config.max_concurrency,
                "ProvisionedConcurrency": self.config.provisioned_concurrency,
                "cold_starts": self.cold_starts,
                "setup_times_s": list(self.setup_times_s),
                "throttled": self.throttled,
                "idle_s": self.idle_s,
            }
        }


# Tasks started from timer callbacks (kept referenced until done).
_background: set[asyncio.Task[Any]] = set()

BACKENDS[ServerlessBackend.mode] = ServerlessBackend


class ServerlessProvisioner:
    """Starts provisioned concurrency when an endpoint is deployed, as SageMaker does.

    Each :meth:`run_once` (the data plane calls it after every routing refresh) lists the endpoints
    (``ListEndpoints``), reads those it has not seen or that changed since (``DescribeEndpoint``: its
    ``CurrentServerlessConfig``), adds those with provisioned concurrency to the routing table, and
    starts the container of every routed serverless variant with provisioned concurrency that is not
    running yet (an ``UpdateEndpoint`` to a new config gets its own).

    Args:
        api: The data plane's routes, routing table and backends.
    """

    def __init__(self, api: RuntimeApi) -> None:
        self.api = api
        self._seen: dict[str, Any] = {}
        self._starting: set[asyncio.Task[Any]] = set()

    async def run_once(self) -> list[tuple[str, str]]:
        """Find and start provisioned serverless variants; return the ``(endpoint, variant)`` pairs started now."""
        await asyncio.to_thread(self._discover)
        started: list[tuple[str, str]] = []
        for route in self.api.routing.routes().values():
            if route.status not in _SERVING:
                continue
            for variant in route.variants:
                if variant.serverless is None or variant.serverless.provisioned_concurrency <= 0:
                    continue
                try:
                    backend = self.api.backend(route, variant)
                except RuntimeApiError:
                    continue  # a variant the data plane does not serve (its invocations say why)
                if not isinstance(backend, ServerlessBackend) or backend.server is not None or backend.starting:
                    continue
                task = asyncio.get_running_loop().create_task(backend.provision())
                self._starting.add(task)
                task.add_done_callback(self._starting.discard)
                started.append((route.name, variant.name))
        return started

    async def stop(self) -> None:
        """Wait for the starts in progress (at shutdown, so that no Triton outlives the data plane)."""
        if self._starting:
            await asyncio.gather(*list(self._starting), return_exceptions=True)

    def _discover(self) -> None:
        """Add to the routing table the deployed endpoints whose variants have provisioned concurrency (blocking)."""
        routing = self.api.routing
        sagemaker = routing.control_plane.sagemaker
        try:
            summaries = [
                s for page in sagemaker.get_paginator("list_endpoints").paginate() for s in page.get("Endpoints", [])
            ]
        except Exception:  # the emulator is stopping or briefly unreachable: try again next pass
            log.debug("ListEndpoints failed", exc_info=True)
            return
        names = {s["EndpointName"] for s in summaries}
        for gone in set(self._seen) - names:
            del self._seen[gone]
        for summary in summaries:
            name, modified = summary["EndpointName"], summary.get("LastModifiedTime")
            if routing.get(name) is not None or self._seen.get(name) == modified:
                continue
            self._seen[name] = modified
            with contextlib.suppress(Exception):  # deleted meanwhile: the next pass forgets it
                endpoint = sagemaker.describe_endpoint(EndpointName=name)
                if any(
                    (v.get("CurrentServerlessConfig") or {}).get("ProvisionedConcurrency")
                    for v in endpoint.get("ProductionVariants", [])
                ):
                    routing.resolve(name)


__all__ = [
    "DEFAULT_SERVERLESS_IDLE_S",
    "DEFAULT_SERVERLESS_INVOCATION_TIMEOUT_S",
    "MAX_SERVERLESS_PAYLOAD_BYTES",
    "ServerlessBackend",
    "ServerlessProvisioner",
    "serverless_argument_problems",
    "throttling_error",
]
