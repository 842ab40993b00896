"""SageMaker runtime's REST routes, and the one dispatch path every route shares.

The route table (:meth:`RuntimeApi.routes`) lists botocore's ``requestUri`` for each operation the
data plane answers. A route handler only turns its HTTP request into an :class:`Invocation`;
:meth:`RuntimeApi.dispatch` then does what every serving mode shares — find the endpoint in the
routing table, check its status and the request's targeting headers, pick the variant, get the
variant's backend — and the backend forwards the call. Asynchronous inference
(``POST /endpoints/{EndpointName}/async-invocations``) is one more route: its handler checks the
request and queues it (:class:`~rehearsal.data_plane.async_inference.AsyncInference`), answers 202,
and the queue's workers stream the input from S3 through the same backends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import shutil
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from rehearsal.data_plane.async_inference import (
    DEFAULT_SCALE_IN_COOLDOWN_S,
    H_FAILURE_LOCATION,
    H_OUTPUT_LOCATION,
    AsyncInference,
)
from rehearsal.data_plane.backends import ContainerBackend, Invocation, InvocationResult, backend_class
from rehearsal.data_plane.capture import PostInvocation
from rehearsal.data_plane.container_client import ContainerClient
from rehearsal.data_plane.errors import REQUEST_ID_HEADER, RuntimeApiError, validation_error
from rehearsal.data_plane.metrics import DEFAULT_METRICS_INTERVAL_S, MetricsPublisher
from rehearsal.data_plane.routing import EndpointRoute, RoutingTable, VariantRoute

log = logging.getLogger(__name__)

#: SageMaker's real-time payload limit (6 MB) — larger requests need async inference.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024

# InvokeEndpoint's request headers (botocore's sagemaker-runtime service model).
TARGET_VARIANT = "X-Amzn-SageMaker-Target-Variant"
TARGET_MODEL = "X-Amzn-SageMaker-Target-Model"
TARGET_CONTAINER_HOSTNAME = "X-Amzn-SageMaker-Target-Container-Hostname"
INFERENCE_COMPONENT = "X-Amzn-SageMaker-Inference-Component"
INVOKED_VARIANT = "x-Amzn-Invoked-Production-Variant"
# Request headers SageMaker passes on to the container (the rest are AWS's own).
FORWARDED_REQUEST_HEADERS = (
    "Content-Type",
    "Accept",
    "X-Amzn-SageMaker-Custom-Attributes",
    "X-Amzn-SageMaker-Inference-Id",
    TARGET_MODEL,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: A SageMaker operation's handler: the request and the id its answer carries.
ApiHandler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One REST route.

    Attributes:
        method: The HTTP method.
        path: The path template (botocore's ``requestUri``).
        operation: The SageMaker runtime operation it serves (or a local one, for ``/ping``).
        handler: The aiohttp handler.
    """

    method: str
    path: str
    operation: str
    handler: Handler


class RuntimeApi:
    """What the routes share: the routing table, the backends, and :meth:`dispatch`.

    Args:
        routing: The endpoint routing table.
        work_dir: Where each backend gets its own folder.
        server_options: Extra :class:`triton_runtime.server.TritonServer` keyword arguments.
        seed: Seeds the weighted variant choice. Defaults to unseeded.
        scale_in_cooldown_s: Idle seconds before an async variant that may scale to zero stops its
            container. Defaults to 120 s (the seed's cooldown).
        backend_options: Container ``Mode`` → keyword arguments of that mode's backend (e.g.
            ``{"MultiModel": {"memory_budget_bytes": ...}}``). Defaults to none.
        metrics_interval_s: Seconds between two publishes of SageMaker's metrics to the control
            plane's CloudWatch (:mod:`~rehearsal.data_plane.metrics`). Defaults to 10 s.
    """

    def __init__(
        self,
        routing: RoutingTable,
        work_dir: Path,
        *,
        server_options: dict[str, Any] | None = None,
        seed: int | None = None,
        scale_in_cooldown_s: float = DEFAULT_SCALE_IN_COOLDOWN_S,
        backend_options: Mapping[str, Mapping[str, Any]] | None = None,
        metrics_interval_s: float = DEFAULT_METRICS_INTERVAL_S,
    ) -> None:
        self.routing = routing
        #: SageMaker's metrics, published to the control plane's CloudWatch (started with the service).
        self.metrics = MetricsPublisher(routing.control_plane.cloudwatch, interval_s=metrics_interval_s)
        self.metrics.add_sampler(self._instance_metrics)
        self._processes: dict[int, Any] = {}
        self.backend_options = {mode: dict(options) for mode, options in (backend_options or {}).items()}
        self.work_dir = work_dir
        self.server_options = dict(server_options or {})
        #: The keep-alive client for the containers (set while the service runs).
        self.client: ContainerClient | None = None
        self.backends: dict[tuple[str, str, str], ContainerBackend] = {}
        self._backends_lock = threading.Lock()
        self._random = random.Random(seed)
        #: InvokeEndpointAsync's queues and workers.
        self.async_inference = AsyncInference(self, scale_in_cooldown_s=scale_in_cooldown_s, seed=seed)
        #: Data capture and shadow mirroring, after production answered (:mod:`~rehearsal.data_plane.capture`).
        self.post_invocation = PostInvocation(routing.control_plane.s3.put_object)
        self._shadows_started: set[tuple[str, str, str]] = set()

    # -- the route table --------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """Return the route table: SageMaker runtime's REST paths (botocore's ``requestUri``)."""
        return [
            Route("POST", "/endpoints/{EndpointName}/invocations", "InvokeEndpoint", self._guard(self.invoke_endpoint)),
            Route(
                "POST",
                "/endpoints/{EndpointName}/async-invocations",
                "InvokeEndpointAsync",
                self._guard(self.invoke_endpoint_async),
            ),
            # Not SageMaker routes: liveness of the local service, and what runs behind it.
            Route("GET", "/ping", "Ping", self.ping),
            Route("GET", "/local/backends", "DescribeLocalBackends", self.local_backends),
            Route("GET", "/local/async-queues", "DescribeLocalAsyncQueues", self.local_async_queues),
        ]

    @staticmethod
    def _guard(handler: ApiHandler) -> Handler:
        """Give every answer a request id, and turn exceptions into SageMaker runtime errors."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            request_id = str(uuid.uuid4())
            try:
                return await handler(request, request_id)
            except RuntimeApiError as exc:
                return exc.to_response(request_id)
            except web.HTTPRequestEntityTooLarge:
                return validation_error(
                    f"Request payload exceeds the {MAX_PAYLOAD_BYTES // (1024 * 1024)} MB limit of "
                    "real-time inference; use asynchronous inference for larger payloads."
                ).to_response(request_id)
            except Exception as exc:
                log.exception("internal failure handling %s", request.path)
                return RuntimeApiError("InternalFailure", 500, f"{type(exc).__name__}: {exc}").to_response(request_id)

        return guarded

    async def ping(self, request: web.Request) -> web.Response:
        """Answer 200: the service is up."""
        return web.Response(text="ok")

    async def local_backends(self, request: web.Request) -> web.Response:
        """Describe the backends started so far (for the benchmark and debugging)."""
        return web.json_response(self.describe_backends())

    async def local_async_queues(self, request: web.Request) -> web.Response:
        """Describe the async queues: backlog, HasBacklogWithoutCapacity, instances, counters."""
        return web.json_response({"queues": self.async_inference.describe(), **self.async_inference.totals()})

    # -- InvokeEndpointAsync ----------------------------------------------------------------

    async def invoke_endpoint_async(self, request: web.Request, request_id: str) -> web.Response:
        """``POST /endpoints/{EndpointName}/async-invocations``: InvokeEndpointAsync (202, then queued)."""
        body = await request.read()
        accepted = await self.async_inference.accept(request.match_info["EndpointName"], request.headers, body, request_id)
        headers = {H_OUTPUT_LOCATION: accepted.output_location, REQUEST_ID_HEADER: request_id}
        if accepted.config.s3_failure_path:
            headers[H_FAILURE_LOCATION] = accepted.failure_location
        return web.json_response({"InferenceId": accepted.inference_id}, status=202, headers=headers)

    # -- InvokeEndpoint ---------------------------------------------------------------------

    async def invoke_endpoint(self, request: web.Request, request_id: str) -> web.Response:
        """``POST /endpoints/{EndpointName}/invocations``: InvokeEndpoint."""
        received_at = time.perf_counter()
        body = await request.read()
        if len(body) > MAX_PAYLOAD_BYTES:
            raise validation_error(f"Request payload of {len(body)} bytes exceeds the 6 MB limit.")
        headers = request.headers
        invocation = Invocation(
            received_at=received_at,
            endpoint_name=request.match_info["EndpointName"],
            body=body,
            headers={h: headers[h] for h in FORWARDED_REQUEST_HEADERS if h in headers},
            request_id=request_id,
            target_variant=headers.get(TARGET_VARIANT),
            target_model=headers.get(TARGET_MODEL),
            target_container_hostname=headers.get(TARGET_CONTAINER_HOSTNAME),
            inference_component=headers.get(INFERENCE_COMPONENT),
        )
        result = await self.dispatch(invocation)
        response_headers = {INVOKED_VARIANT: result.variant_name, REQUEST_ID_HEADER: invocation.request_id}
        response_headers.update(result.headers)
        return web.Response(body=result.body, status=200, headers=response_headers)

    # -- the shared path --------------------------------------------------------------------

    async def dispatch(self, invocation: Invocation) -> InvocationResult:
        """Route one invocation to its variant's backend and return the container's answer.

        Raises:
            RuntimeApiError: ``ValidationError`` (unknown endpoint, not in service, a targeting header
                the endpoint does not support, unknown variant); ``ModelError`` from the container.
        """
        assert self.client is not None, "the data plane is not running"
        endpoint = self.routing.get(invocation.endpoint_name)
        if endpoint is None:
            endpoint = await asyncio.to_thread(self.routing.resolve, invocation.endpoint_name)
        self.check_endpoint(endpoint, invocation)
        if endpoint.async_config is not None:
            # SageMaker refuses InvokeEndpoint on an async endpoint with a ValidationError (its exact
            # wording was not found in a public source).
            raise validation_error(
                f"Endpoint {endpoint.name} is an asynchronous inference endpoint (its endpoint config has an "
                "AsyncInferenceConfig); call InvokeEndpointAsync with the input's S3 location instead."
            )
        variant = self._choose_variant(endpoint, invocation.target_variant)
        backend = self.backend(endpoint, variant)
        self._start_shadows(endpoint)
        try:
            result = await backend.invoke(self.client, invocation)
        except RuntimeApiError as exc:
            self._record_invocation(endpoint, variant, invocation, exc.model_latency_s, error=exc)
            raise
        except Exception:
            self._record_invocation(endpoint, variant, invocation, None, error=None, failed=True)
            raise
        self._record_invocation(endpoint, variant, invocation, result.model_latency_s, error=None)
        self.after_answer(endpoint, variant, invocation, result)
        return result

    def after_answer(
        self, endpoint: EndpointRoute, variant: VariantRoute, invocation: Invocation, result: InvocationResult
    ) -> None:
        """Capture production's answer and mirror the request to the shadow variants, in the background.

        Nothing here can change or delay the caller's answer (:mod:`~rehearsal.data_plane.capture`).
        """
        post = self.post_invocation
        post.capture(endpoint.data_capture, endpoint.name, variant.name, invocation, result)
        for shadow in endpoint.shadow_variants:
            if post.shadow_sampler.take((endpoint.name, shadow.name), post.mirror_share(variant.weight, shadow.weight)):
                post.spawn(self._mirror(endpoint, shadow, invocation))

    def _start_shadows(self, endpoint: EndpointRoute) -> None:
        """Start the shadow variants' containers beside production's first start (SageMaker provisions both).

        Without this, a shadow's Triton would start only after production answered the first request.
        A start that fails is logged by the backend, and each mirrored call then counts as a shadow failure.
        """
        for shadow in endpoint.shadow_variants:
            key = (endpoint.name, endpoint.config_name, shadow.name)
            if key not in self._shadows_started:
                self._shadows_started.add(key)
                self.post_invocation.spawn(self._start_quietly(self.backend(endpoint, shadow)))

    @staticmethod
    async def _start_quietly(backend: ContainerBackend) -> None:
        with contextlib.suppress(RuntimeApiError):
            await backend.ensure_started()

    async def _mirror(self, endpoint: EndpointRoute, shadow: VariantRoute, invocation: Invocation) -> None:
        """Send a copy of a request to a shadow variant; count its answer (metrics, capture), then drop it."""
        assert self.client is not None
        copy = dataclasses.replace(invocation, target_variant=None, received_at=None)
        backend = self.backend(endpoint, shadow)
        try:
            result = await backend.invoke(self.client, copy)
        except RuntimeApiError as exc:
            self._record_invocation(endpoint, shadow, copy, exc.model_latency_s, error=exc)
            self.post_invocation.record_shadow(endpoint.name, shadow.name, exc)
            return
        except Exception as exc:
            self._record_invocation(endpoint, shadow, copy, None, error=None, failed=True)
            self.post_invocation.record_shadow(endpoint.name, shadow.name, exc)
            return
        self._record_invocation(endpoint, shadow, copy, result.model_latency_s, error=None)
        self.post_invocation.record_shadow(endpoint.name, shadow.name, None)
        self.post_invocation.capture(endpoint.data_capture, endpoint.name, shadow.name, copy, result)

    def _record_invocation(
        self,
        endpoint: EndpointRoute,
        variant: VariantRoute,
        invocation: Invocation,
        model_latency_s: float | None,
        *,
        error: RuntimeApiError | None,
        failed: bool = False,
    ) -> None:
        """Record SageMaker's per-request metrics of one InvokeEndpoint that reached ``variant``."""
        record = self.metrics.record
        name, vname = endpoint.name, variant.name
        status = 500 if failed else 200
        if error is not None:
            # A ModelError is counted by the container's own status, as SageMaker counts it.
            status = int(error.members.get("OriginalStatusCode", error.status)) if error.code == "ModelError" else error.status
        record("Invocations", 1, endpoint=name, variant=vname)
        record("Invocation4XXErrors", int(400 <= status < 500), endpoint=name, variant=vname)
        record("Invocation5XXErrors", int(status >= 500), endpoint=name, variant=vname)
        if variant.serverless is None:  # serverless endpoints publish neither (model_build.sagemaker_metrics)
            record("InvocationsPerInstance", 1 / max(1, variant.instance_count), endpoint=name, variant=vname)
            record("InvocationModelErrors", int(error is not None and error.code == "ModelError"), endpoint=name, variant=vname)
        if model_latency_s is not None:
            self.metrics.record_duration("ModelLatency", model_latency_s, endpoint=name, variant=vname)
            if invocation.received_at is not None:
                overhead = max(0.0, time.perf_counter() - invocation.received_at - model_latency_s)
                self.metrics.record_duration("OverheadLatency", overhead, endpoint=name, variant=vname)

    def _instance_metrics(self) -> list[tuple[str, float, str, str | None]]:
        """Sample the instance metrics of every running variant (see :mod:`~rehearsal.data_plane.metrics`)."""
        import psutil

        with self._backends_lock:
            items = list(self.backends.items())
        total_memory = psutil.virtual_memory().total
        seen: set[int] = set()
        out: list[tuple[str, float, str, str | None]] = []
        for (endpoint, _config, variant), backend in items:
            if not backend.instance_metrics:
                continue  # a serverless variant: no instance, no instance metrics
            loaded = backend.loaded_model_count()
            if loaded is not None:
                out.append(("LoadedModelCount", loaded, endpoint, variant))
            server = backend.server
            pid = server.pid if server is not None else None
            if pid is None:
                continue
            try:
                tree = self._process_tree(pid, seen)
            except psutil.Error:
                continue
            cpu, rss = tree
            out.append(("CPUUtilization", cpu, endpoint, variant))
            out.append(("MemoryUtilization", 100.0 * rss / total_memory, endpoint, variant))
            usage = shutil.disk_usage(self.work_dir)
            out.append(("DiskUtilization", 100.0 * usage.used / usage.total, endpoint, variant))
        for gone in set(self._processes) - seen:
            del self._processes[gone]
        return out

    def _process_tree(self, pid: int, seen: set[int]) -> tuple[float, int]:
        """CPU percent (100 per core) and resident bytes of a server and its children.

        CPU is measured since the previous sample; for a process sampled the first time (a server
        just started, a child it spawned since) it is its average since it started, from its CPU
        times, so a short-lived server (a variant scaled back to zero within one interval) is
        measured too.
        """
        import psutil

        root = self._processes.get(pid)
        if root is None:
            root = self._processes[pid] = psutil.Process(pid)
        processes = [root]
        for child in root.children(recursive=True):
            processes.append(self._processes.setdefault(child.pid, child))
        cpu = 0.0
        rss = 0
        now = time.time()
        for process in processes:
            seen.add(process.pid)
            try:
                first = not getattr(process, "_sampled_before", False)
                delta = process.cpu_percent(None)  # since the previous call; meaningless on the first
                if first:
                    process._sampled_before = True  # type: ignore[attr-defined]
                    times = process.cpu_times()
                    lifetime = max(now - process.create_time(), 1e-3)
                    delta = 100.0 * (times.user + times.system) / lifetime
                cpu += delta
                rss += process.memory_info().rss
            except psutil.Error:
                continue
        return cpu, rss

    def check_endpoint(self, endpoint: EndpointRoute, invocation: Invocation) -> None:
        """Refuse a call the endpoint cannot take (status, inference components, targeting headers).

        Raises:
            RuntimeApiError: ``ValidationError``.
        """
        account = self.routing.control_plane.account_id
        if endpoint.status not in {"InService", "Updating"}:
            # Updating endpoints keep serving on AWS (the old config until the switch).
            raise validation_error(
                f"Endpoint {endpoint.name} of account {account} is not in service (status {endpoint.status})."
            )
        if endpoint.has_inference_components:
            if invocation.inference_component is None:
                # AWS's wording for an endpoint built for inference components.
                raise validation_error(
                    "Inference Component Name header is required for endpoints to which you plan to deploy "
                    "inference components. Please include Inference Component Name header or consider using "
                    "SageMaker models."
                )
            raise validation_error(
                f"Endpoint {endpoint.name} hosts inference components, which the local data plane does not serve yet."
            )
        if invocation.inference_component is not None:
            raise validation_error(
                f"Endpoint {endpoint.name} does not have inference components and does not support inference "
                f"component header (InferenceComponentName {invocation.inference_component})."
            )
        if invocation.target_container_hostname is not None:
            direct = [v for v in endpoint.variants if v.inference_execution_mode == "Direct"]
            if not direct:
                raise validation_error(
                    f"Endpoint {endpoint.name} is not a multi-container endpoint with direct invocation and does "
                    f"not support target container hostname header (TargetContainerHostname "
                    f"{invocation.target_container_hostname})."
                )
            # The multi-container backend checks the hostname against the Model's containers.

    def _choose_variant(self, endpoint: EndpointRoute, target: str | None) -> VariantRoute:
        if target is not None:
            variant = endpoint.variant(target)
            if variant is None:
                raise validation_error(
                    f"Variant {target} not found for endpoint {endpoint.name}; it has "
                    f"{', '.join(v.name for v in endpoint.variants)}."
                )
            return variant
        chosen = endpoint.choose(self._random)
        if chosen is None:
            raise validation_error(f"Endpoint {endpoint.name} has no production variant with a positive weight.")
        return chosen

    def backend(self, endpoint: EndpointRoute, variant: VariantRoute) -> ContainerBackend:
        """Return the variant's backend, creating it (not yet started) on first use.

        Keyed by endpoint config too: an endpoint switched to a new config gets fresh containers, as
        SageMaker's blue/green update does; the old ones are retired by :meth:`retire_unrouted`.
        """
        key = (endpoint.name, endpoint.config_name, variant.name)
        backend = self.backends.get(key)
        if backend is not None:
            return backend
        cls = backend_class(variant, endpoint.name)
        with self._backends_lock:
            backend = self.backends.get(key)
            if backend is None:
                safe = "-".join(_safe_name(part) for part in key)
                backend = cls(
                    endpoint.name,
                    endpoint.config_name,
                    variant,
                    self.routing.control_plane,
                    self.work_dir / safe,
                    self.server_options,
                    **self.backend_options.get(cls.mode, {}),
                )
                backend.metrics = self.metrics
                self.backends[key] = backend
            return backend

    def retire_unrouted(self) -> list[ContainerBackend]:
        """Remove and return the idle backends no current route leads to (deleted or updated endpoints).

        A backend still forwarding calls stays until a later pass finds it idle.
        """
        routes = self.routing.routes()
        live = {(r.name, r.config_name, v.name) for r in routes.values() for v in (*r.variants, *r.shadow_variants)}
        retired = []
        with self._backends_lock:
            for key, backend in list(self.backends.items()):
                if key not in live and backend.in_flight == 0:
                    retired.append(self.backends.pop(key))
        return retired

    def take_all_backends(self) -> list[ContainerBackend]:
        """Remove and return every backend (at shutdown)."""
        with self._backends_lock:
            backends = list(self.backends.values())
            self.backends.clear()
        return backends

    def describe_backends(self) -> list[dict[str, Any]]:
        """Return one JSON-able summary per backend (for the demo, the benchmark and debugging)."""
        out = []
        with self._backends_lock:
            items = list(self.backends.items())
        for (endpoint, config, variant), backend in items:
            server = backend.server
            out.append(
                {
                    "endpoint": endpoint,
                    "endpoint_config": config,
                    "variant": variant,
                    "mode": backend.mode,
                    "invocations": backend.invocations,
                    "triton_url": server.sagemaker_url if server is not None else None,
                    "triton_http_url": server.http_url if server is not None else None,
                    "triton_pid": server.pid if server is not None else None,
                    "triton_log": str(server.log_path) if server is not None else None,
                    "restarts": backend.restarts,
                    "scaled_to_zero": backend.scaled_to_zero,
                    **backend.describe(),
                }
            )
        return out


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]
