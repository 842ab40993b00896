"""Asynchronous inference: ``InvokeEndpointAsync``'s queue, workers, S3 I/O, notifications, metrics, scale to zero.

What SageMaker does, and what this module does the same way against the emulator:

* **Accept at once.** ``POST /endpoints/{EndpointName}/async-invocations`` checks the request
  (endpoint, ``AsyncInferenceConfig``, ``RequestTTLSeconds`` 60-21 600, ``InvocationTimeoutSeconds``
  1-3 600, the input's size against the 1 GB limit by one ``HeadObject``), queues it and answers 202
  with ``InferenceId``, ``OutputLocation`` and ``FailureLocation``.
* **A queue per endpoint.** One dispatcher task per endpoint hands queued requests to the variants,
  at most ``MaxConcurrentInvocationsPerInstance`` x instances per variant at a time.
* **Streamed input.** A worker reads the input from S3 in :data:`CHUNK_BYTES` chunks (``GetObject``'s
  body, read in a worker thread) and writes each chunk to Triton as it arrives
  (:meth:`~rehearsal.data_plane.backends.ContainerBackend.invoke_stream`): a 1 GB input never sits
  in memory whole. The container's answer is held whole (it is the model's output).
* **Exactly one end per request.** Each request ends once: an output object
  (``<S3OutputPath>/[<S3OutputPathExtension>/]<InferenceId>.out`` or ``<Filename>``) and a success
  notification, or a failure object and an error notification. A request whose container died under
  it (connection refused or dropped) is queued again at the front after the container is replaced,
  at most :data:`MAX_ATTEMPTS` times; a container that *answered* an error is not retried (SageMaker
  does not retry a model 500).
* **TTL and timeout.** A request still queued after ``RequestTTLSeconds`` ends as a failure
  (``ExpiredRequests``); an invocation not answered within ``InvocationTimeoutSeconds`` ends as a
  failure.
* **Scale to zero.** A variant whose Application Auto Scaling target has ``MinCapacity`` 0 stops its
  Triton after ``scale_in_cooldown_s`` without work; a request arriving then waits in the queue
  (``HasBacklogWithoutCapacity`` = 1), Triton starts, and the queue drains. ``MaxCapacity`` 0 keeps it
  at zero (requests wait until their TTL).
* **Metrics** go to the emulator's CloudWatch through the data plane's
  :class:`~rehearsal.data_plane.metrics.MetricsPublisher` (``AWS/SageMaker``, SageMaker's
  dimensions): the backlog metrics (EndpointName only) every publish interval and whenever
  ``HasBacklogWithoutCapacity`` changes; the per-variant counters (EndpointName + VariantName) as
  what happened during each interval; ``TimeInBacklog``, ``TotalProcessingTime``, ``ModelLatency`` and
  the 4xx/5xx flags per request. :meth:`AsyncInference.describe` shows the same numbers now.

The queue lives in the data plane's memory: requests accepted and not finished when the data plane
stops are lost (SageMaker's queue is durable).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import concurrent.futures
import contextlib
import datetime
import itertools
import json
import logging
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from model_build.aws import parse_s3_uri
from rehearsal.data_plane.backends import ContainerBackend, ContainerDown, Invocation, InvocationResult
from rehearsal.data_plane.errors import RuntimeApiError, validation_error
from rehearsal.data_plane.metrics import METRICS
from rehearsal.data_plane.routing import (
    ERROR_NOTIFICATION_TOPIC,
    SUCCESS_NOTIFICATION_TOPIC,
    AsyncConfig,
    EndpointRoute,
    VariantRoute,
)

if TYPE_CHECKING:
    from rehearsal.data_plane.routes import RuntimeApi

log = logging.getLogger(__name__)

#: SageMaker's limit on an asynchronous inference input (1 GB).
MAX_ASYNC_INPUT_BYTES = 1024**3
#: The largest inline ``Body`` InvokeEndpointAsync takes (botocore's ``AsyncBodyBlob``).
MAX_INLINE_BODY_BYTES = 128_000
#: ``RequestTTLSeconds``: allowed range and default (6 h).
REQUEST_TTL_RANGE_S = (60, 21_600)
DEFAULT_REQUEST_TTL_S = 21_600
#: ``InvocationTimeoutSeconds``: allowed range and default (15 min).
INVOCATION_TIMEOUT_RANGE_S = (1, 3_600)
DEFAULT_INVOCATION_TIMEOUT_S = 900
#: Idle seconds before a variant that may scale to zero stops its container (the seed's cooldown).
DEFAULT_SCALE_IN_COOLDOWN_S = 120.0
#: An inference response is included in a notification only up to this size (AWS: 128 KB).
MAX_RESPONSE_IN_NOTIFICATION = 128 * 1024
#: Chunk size of the streamed input.
CHUNK_BYTES = 1024 * 1024
#: How many times a request runs when its container dies under it, before it ends as a failure.
MAX_ATTEMPTS = 3
#: Threads for the blocking S3/SNS/CloudWatch calls.
IO_THREADS = 16

# InvokeEndpointAsync's request and answer headers (botocore's sagemaker-runtime service model).
H_CONTENT_TYPE = "X-Amzn-SageMaker-Content-Type"
H_ACCEPT = "X-Amzn-SageMaker-Accept"
H_CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
H_INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"
H_INPUT_LOCATION = "X-Amzn-SageMaker-InputLocation"
H_OUTPUT_PATH_EXTENSION = "X-Amzn-SageMaker-S3OutputPathExtension"
H_FILENAME = "X-Amzn-SageMaker-Filename"
H_REQUEST_TTL = "X-Amzn-SageMaker-RequestTTLSeconds"
H_INVOCATION_TIMEOUT = "X-Amzn-SageMaker-InvocationTimeoutSeconds"
H_OUTPUT_LOCATION = "X-Amzn-SageMaker-OutputLocation"
H_FAILURE_LOCATION = "X-Amzn-SageMaker-FailureLocation"

# botocore's patterns for the request members (Java regex syntax translated where needed).
_OUTPUT_PATH_EXTENSION_RE = re.compile(r"^(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+$")
_FILENAME_RE = re.compile(r"^(?!.*\..*\.)[a-zA-Z0-9][a-zA-Z0-9-_\.]*$")


def _constraint(value: object, member: str, constraint: str) -> RuntimeApiError:
    """Return a modeled-constraint ValidationError, in the wording every AWS service uses."""
    return validation_error(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    )


def _utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class AsyncRequest:
    """One accepted InvokeEndpointAsync request, until it ends.

    Attributes:
        seq: Acceptance order (the queue's own key; ``InferenceId`` may repeat).
        inference_id: ``InferenceId`` (given, or a generated UUID).
        endpoint_name: The endpoint.
        config: The endpoint's ``AsyncInferenceConfig`` when the request was accepted.
        input_location: ``InputLocation``; None for an inline ``Body``.
        inline_body: The inline ``Body``; None for an S3 input.
        headers: The headers passed to the container.
        output_location: Where the output goes.
        failure_location: Where the error goes.
        ttl_s: ``RequestTTLSeconds``.
        timeout_s: ``InvocationTimeoutSeconds``.
        received_time: When it was accepted (ISO 8601, for the notification).
        received_at: ``time.monotonic()`` when it was accepted.
        attempts: Runs that ended with the container dying under them.
        done: Whether it ended (output or failure written, notification sent or counted).
    """

    seq: int
    inference_id: str
    endpoint_name: str
    config: AsyncConfig
    input_location: str | None
    inline_body: bytes | None
    headers: Mapping[str, str]
    output_location: str
    failure_location: str
    ttl_s: int
    timeout_s: int
    received_time: str
    received_at: float
    attempts: int = 0
    done: bool = False

    @property
    def content_type(self) -> str:
        """The input's content type (the request's ``ContentType``; ``application/octet-stream`` if none)."""
        return self.headers.get("Content-Type", "application/octet-stream")


@dataclass
class VariantCounters:
    """What SageMaker counts per variant (``AWS/SageMaker``, EndpointName + VariantName)."""

    invocations_processed: int = 0
    invocation_failures: int = 0
    expired_requests: int = 0
    request_download_failures: int = 0
    response_upload_failures: int = 0
    notification_failures: int = 0
    #: Not a SageMaker metric: runs repeated because the container died under them.
    container_retries: int = 0

    def snapshot(self) -> dict[str, int]:
        """Return the counters as JSON-able numbers."""
        return {
            "InvocationsProcessed": self.invocations_processed,
            "InvocationFailures": self.invocation_failures,
            "ExpiredRequests": self.expired_requests,
            "RequestDownloadFailures": self.request_download_failures,
            "ResponseUploadFailures": self.response_upload_failures,
            "NotificationFailures": self.notification_failures,
            "ContainerRetries": self.container_retries,
        }


@dataclass
class EndpointQueue:
    """An endpoint's queue: waiting requests, what runs per variant, and its dispatcher."""

    name: str
    pending: collections.deque[AsyncRequest] = field(default_factory=collections.deque)
    #: Every request accepted and not ended, in acceptance order (the oldest first).
    active: dict[int, AsyncRequest] = field(default_factory=dict)
    running: collections.Counter[str] = field(default_factory=collections.Counter)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dispatcher: asyncio.Task[None] | None = None
    has_backlog_without_capacity: int = 0
    instances: int = 0

    @property
    def backlog(self) -> int:
        """``ApproximateBacklogSize``: requests queued or being processed."""
        return len(self.active)

    def oldest_age_s(self) -> float:
        """``ApproximateAgeOfOldestRequest`` in seconds (0 when empty)."""
        oldest = next(iter(self.active.values()), None)
        return 0.0 if oldest is None else time.monotonic() - oldest.received_at


class AsyncInference:
    """The asynchronous half of the data plane (owned by :class:`~rehearsal.data_plane.routes.RuntimeApi`).

    Args:
        api: The routes (routing table, backends, container client).
        scale_in_cooldown_s: Idle seconds before a variant whose scalable target has
            ``MinCapacity`` 0 stops its container.
        seed: Seeds the weighted variant choice.
    """

    def __init__(self, api: RuntimeApi, *, scale_in_cooldown_s: float, seed: int | None = None) -> None:
        self.api = api
        self.scale_in_cooldown_s = scale_in_cooldown_s
        self.queues: dict[str, EndpointQueue] = {}
        self.counters: dict[tuple[str, str], VariantCounters] = collections.defaultdict(VariantCounters)
        #: Endpoint-level counts: accepted, ended, and ends refused because the request had ended already.
        self.accepted = 0
        self.ended = 0
        self.second_ends_refused = 0
        #: SNS publishes attempted again after a failure (each may deliver a notification twice
        #: when the failed attempt had reached SNS: SNS Publish is not idempotent).
        self.publish_retries = 0
        self._seq = itertools.count()
        self._random = random.Random(seed)
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scaling: set[tuple[str, str, str]] = set()
        self._ticker: asyncio.Task[None] | None = None
        #: Counter values at the previous metrics sample (read and written by the publisher's thread).
        self._published_counters: dict[tuple[str, str], dict[str, int]] = {}
        api.metrics.add_sampler(self.sample_metrics)

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background work (call on the data plane's event loop)."""
        self._pool = concurrent.futures.ThreadPoolExecutor(IO_THREADS, thread_name_prefix="async-io")
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def stop(self) -> None:
        """Cancel the dispatchers and the running requests; stop the I/O threads."""
        tasks = [t for t in (self._ticker, *(q.dispatcher for q in self.queues.values()), *self._tasks) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._ticker = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _io(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking call (boto3) on the I/O threads."""
        assert self._pool is not None, "the data plane is not running"
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- accepting a request -----------------------------------------------------------------

    async def accept(
        self, endpoint_name: str, headers: Mapping[str, str], body: bytes, request_id: str
    ) -> AsyncRequest:
        """Check an InvokeEndpointAsync request and queue it.

        Raises:
            RuntimeApiError: ``ValidationError`` for a request SageMaker refuses.
        """
        ttl_s = self._int_header(headers, H_REQUEST_TTL, "requestTTLSeconds", REQUEST_TTL_RANGE_S, DEFAULT_REQUEST_TTL_S)
        timeout_s = self._int_header(
            headers,
            H_INVOCATION_TIMEOUT,
            "invocationTimeoutSeconds",
            INVOCATION_TIMEOUT_RANGE_S,
            DEFAULT_INVOCATION_TIMEOUT_S,
        )
        inference_id = headers.get(H_INFERENCE_ID)
        if inference_id is not None and (
            not 1 <= len(inference_id) <= 64 or inference_id[0].isspace() or not inference_id.isprintable()
        ):
            raise _constraint(inference_id, "inferenceId", "Member must satisfy regular expression pattern: \\A\\S[\\p{Print}]*\\z")
        extension = headers.get(H_OUTPUT_PATH_EXTENSION)
        if extension is not None and (len(extension) > 512 or not _OUTPUT_PATH_EXTENSION_RE.match(extension)):
            raise _constraint(
                extension, "s3OutputPathExtension", f"Member must satisfy regular expression pattern: {_OUTPUT_PATH_EXTENSION_RE.pattern}"
            )
        filename = headers.get(H_FILENAME)
        if filename is not None and (len(filename) > 32 or not _FILENAME_RE.match(filename)):
            raise _constraint(filename, "filename", f"Member must satisfy regular expression pattern: {_FILENAME_RE.pattern}")
        input_location = headers.get(H_INPUT_LOCATION)
        if (input_location is None) == (not body):
            raise validation_error(
                "Exactly one of InputLocation and Body must be provided (got "
                f"{'both' if input_location is not None else 'neither'})."
            )
        if len(body) > MAX_INLINE_BODY_BYTES:
            raise _constraint(
                f"{len(body)} bytes", "body", f"Member must have length less than or equal to {MAX_INLINE_BODY_BYTES}"
            )
        if input_location is not None:
            try:
                parse_s3_uri(input_location)
            except ValueError:
                raise validation_error(
                    f"InputLocation {input_location!r} is not an S3 URI; give it as s3://bucket/key "
                    "(the local data plane reads s3:// locations only)."
                ) from None
        endpoint = self.api.routing.get(endpoint_name)
        if endpoint is None:
            endpoint = await asyncio.to_thread(self.api.routing.resolve, endpoint_name)
        self.api.check_endpoint(endpoint, Invocation(endpoint_name, b"", {}, request_id))
        config = endpoint.async_config
        if config is None:
            raise validation_error(
                f"Endpoint {endpoint_name} of account {self.api.routing.control_plane.account_id} is not an "
                "asynchronous inference endpoint: its endpoint config has no AsyncInferenceConfig. "
                "Use InvokeEndpoint, or deploy it with an AsyncInferenceConfig."
            )
        if input_location is not None:
            await self._check_input_size(input_location)
        inference_id = inference_id or str(uuid.uuid4())
        output_location, failure_location = self.locations(config, inference_id, extension, filename)
        passed = {
            "Content-Type": headers.get(H_CONTENT_TYPE),
            "Accept": headers.get(H_ACCEPT),
            "X-Amzn-SageMaker-Custom-Attributes": headers.get(H_CUSTOM_ATTRIBUTES),
            "X-Amzn-SageMaker-Inference-Id": inference_id,
        }
        request = AsyncRequest(
            seq=next(self._seq),
            inference_id=inference_id,
            endpoint_name=endpoint_name,
            config=config,
            input_location=input_location,
            inline_body=body if input_location is None else None,
            headers={k: v for k, v in passed.items() if v is not None},
            output_location=output_location,
            failure_location=failure_location,
            ttl_s=ttl_s,
            timeout_s=timeout_s,
            received_time=_utc_now(),
            received_at=time.monotonic(),
        )
        self._enqueue(request)
        return request

    @staticmethod
    def _int_header(
        headers: Mapping[str, str], name: str, member: str, allowed: tuple[int, int], default: int
    ) -> int:
        text = headers.get(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise _constraint(text, member, "Member must be an integer") from None
        if value < allowed[0]:
            raise _constraint(value, member, f"Member must have value greater than or equal to {allowed[0]}")
        if value > allowed[1]:
            raise _constraint(value, member, f"Member must have value less than or equal to {allowed[1]}")
        return value

    async def _check_input_size(self, input_location: str) -> None:
        from botocore.exceptions import ClientError

        bucket, key = parse_s3_uri(input_location)
        try:
            head = await self._io(self.api.routing.control_plane.s3.head_object, Bucket=bucket, Key=key)
        except ClientError:
            return  # not readable now: the worker's download fails and says so (RequestDownloadFailures)
        size = int(head.get("ContentLength", 0))
        if size > MAX_ASYNC_INPUT_BYTES:
            raise validation_error(
                f"Request payload at {input_location} is {size} bytes, over the {MAX_ASYNC_INPUT_BYTES} byte (1 GB) "
                "limit of asynchronous inference."
            )

    @staticmethod
    def locations(config: AsyncConfig, inference_id: str, extension: str | None, filename: str | None) -> tuple[str, str]:
        """Return the output and failure object locations of a request.

        Output: ``<S3OutputPath>/[<S3OutputPathExtension>/]<Filename or InferenceId.out>``. Failure:
        the same under ``S3FailurePath`` with ``<InferenceId>-error.out`` (or ``<Filename>``); without
        a failure path, under ``S3OutputPath`` as ``<InferenceId>-error.out`` (or ``error-<Filename>``).
        """
        middle = f"{extension.strip('/')}/" if extension else ""
        output = f"{config.s3_output_path.rstrip('/')}/{middle}{filename or f'{inference_id}.out'}"
        if config.s3_failure_path:
            failure = f"{config.s3_failure_path.rstrip('/')}/{middle}{filename or f'{inference_id}-error.out'}"
        else:
            name = f"error-{filename}" if filename else f"{inference_id}-error.out"
            failure = f"{config.s3_output_path.rstrip('/')}/{middle}{name}"
        return output, failure

    def _enqueue(self, request: AsyncRequest) -> None:
        queue = self.queues.get(request.endpoint_name)
        if queue is None:
            queue = self.queues[request.endpoint_name] = EndpointQueue(request.endpoint_name)
        queue.active[request.seq] = request
        queue.pending.append(request)
        self.accepted += 1
        if queue.dispatcher is None or queue.dispatcher.done():
            queue.dispatcher = asyncio.get_running_loop().create_task(self._dispatch_forever(queue))
        queue.wake.set()

    # -- dispatching --------------------------------------------------------------------------

    def capacity(self, route: EndpointRoute, variant: VariantRoute) -> int:
        """Return the variant's serving instances now (0 while scaled to zero, starting or restarting)."""
        if variant.max_capacity == 0:
            return 0
        backend = self.api.backends.get((route.name, route.config_name, variant.name))
        # Scaled in, or its container being replaced after it died (a first, lazy start does not
        # count: SageMaker's instance exists from CreateEndpoint on).
        if backend is not None and (backend.scaled_to_zero or (backend.starting and backend.restarts > 0)):
            return 0
        return max(1, variant.instance_count)

    async def _dispatch_forever(self, queue: EndpointQueue) -> None:
        while True:
            await queue.wake.wait()
            queue.wake.clear()
            try:
                await self._dispatch(queue)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("async dispatch for endpoint %s failed", queue.name)

    async def _dispatch(self, queue: EndpointQueue) -> None:
        route = self.api.routing.get(queue.name)
        if route is None and queue.pending:
            try:
                route = await asyncio.to_thread(self.api.routing.resolve, queue.name)
            except RuntimeApiError as exc:
                # The endpoint was deleted with requests queued: each ends as a failure.
                while queue.pending:
                    self._spawn(self._fail(queue, queue.pending.popleft(), None, f"ClientError: {exc.message}"))
                return
        if route is None:
            return
        total = sum(self.capacity(route, v) for v in route.variants)
        queue.instances = total
        self._note_capacity(queue, route)
        while queue.pending:
            request = queue.pending[0]
            if self._expired(request):
                queue.pending.popleft()
                self._spawn(self._expire(queue, request, route.variants[0].name))
                continue
            variant = route.choose(self._random)
            if variant is None:
                return  # no variant has weight; requests wait (their TTL still runs)
            instances = self.capacity(route, variant)
            if instances == 0:
                self._scale_out(queue, route, variant)
                return
            limit = request.config.max_concurrent_invocations_per_instance * instances
            if queue.running[variant.name] >= limit:
                return
            queue.pending.popleft()
            queue.running[variant.name] += 1
            backend = self.api.backend(route, variant)
            self._spawn(self._run(queue, request, variant.name, backend))

    def _scale_out(self, queue: EndpointQueue, route: EndpointRoute, variant: VariantRoute) -> None:
        """Start a scaled-in variant's container because work is waiting (from zero to one instance)."""
        key = (route.name, route.config_name, variant.name)
        if variant.max_capacity == 0 or key in self._scaling:
            return
        backend = self.api.backend(route, variant)
        if not backend.scaled_to_zero:
            return
        self._scaling.add(key)

        async def scale() -> None:
            try:
                log.info("endpoint %s: backlog without capacity; starting variant %s", route.name, variant.name)
                with contextlib.suppress(RuntimeApiError):
                    await backend.ensure_started()
                # A failed start leaves no instance either way: let the requests run and fail with its reason.
                backend.scaled_to_zero = False
            finally:
                self._scaling.discard(key)
                queue.wake.set()

        self._spawn(scale())

    def _expired(self, request: AsyncRequest) -> bool:
        return time.monotonic() - request.received_at > request.ttl_s

    # -- running one request ------------------------------------------------------------------

    async def _run(self, queue: EndpointQueue, request: AsyncRequest, variant: str, backend: ContainerBackend) -> None:
        try:
            await self._execute(queue, request, variant, backend)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never lose a request to a bug in the path below
            log.exception("async request %s failed unexpectedly", request.inference_id)
            await self._fail(queue, request, variant, f"InternalFailure: {type(exc).__name__}: {exc}")
        finally:
            queue.running[variant] -= 1
            queue.wake.set()

    async def _execute(self, queue: EndpointQueue, request: AsyncRequest, variant: str, backend: ContainerBackend) -> None:
        if self._expired(request):
            await self._expire(queue, request, variant)
            return
        counters = self.counters[(request.endpoint_name, variant)]
        started = time.monotonic()
        metrics = self.api.metrics
        metrics.record_duration("TimeInBacklog", started - request.received_at, endpoint=request.endpoint_name, variant=variant)
        stream = None
        try:
            if request.inline_body is not None:
                length, chunks = len(request.inline_body), _one_chunk(request.inline_body)
            else:
                try:
                    length, stream = await self._open_input(request.input_location or "")
                except Exception as exc:
                    counters.request_download_failures += 1
                    await self._fail(
                        queue, request, variant, f"ClientError: Failed to download the input from {request.input_location}: {exc}"
                    )
                    return
                if length > MAX_ASYNC_INPUT_BYTES:
                    await self._fail(
                        queue, request, variant, f"ClientError: The input is {length} bytes, over the 1 GB limit."
                    )
                    return
                chunks = self._chunks(stream)
            invocation = Invocation(request.endpoint_name, b"", request.headers, request.inference_id)
            try:
                result = await backend.invoke_stream(
                    self._client(), invocation, chunks, length, timeout_s=request.timeout_s
                )
            except ContainerDown as exc:
                await self._container_down(queue, request, variant, backend, str(exc))
                return
            except TimeoutError:
                await self._fail(
                    queue,
                    request,
                    variant,
                    f"ClientError: The invocation timed out after {request.timeout_s} s "
                    "(InvocationTimeoutSeconds) waiting for the model's response.",
                )
                return
            except RuntimeApiError as exc:
                status = exc.members.get("OriginalStatusCode", exc.status) if exc.code == "ModelError" else exc.status
                self._record_answer(request, variant, int(status), exc.model_latency_s)
                await self._fail(queue, request, variant, self._failure_reason(exc), detail=exc.members.get("OriginalMessage"))
                return
        finally:
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()
        self._record_answer(request, variant, result.status, result.model_latency_s)
        await self._succeed(queue, request, variant, result)
        # SageMaker's TotalProcessingTime runs until the response is written to S3.
        metrics.record_duration(
            "TotalProcessingTime", time.monotonic() - started, endpoint=request.endpoint_name, variant=variant
        )

    def _client(self) -> Any:
        client = self.api.client
        if client is None:
            raise RuntimeError("the data plane is stopping")
        return client

    async def _container_down(
        self, queue: EndpointQueue, request: AsyncRequest, variant: str, backend: ContainerBackend, reason: str
    ) -> None:
        """Replace the container if it died under the call, and queue the request again (bounded)."""
        request.attempts += 1
        self.counters[(request.endpoint_name, variant)].container_retries += 1
        with contextlib.suppress(Exception):
            await backend.recover()
        if request.attempts >= MAX_ATTEMPTS:
            await self._fail(
                queue,
                request,
                variant,
                f"ClientError: The model container did not answer after {request.attempts} attempts: {reason}",
            )
            return
        queue.pending.appendleft(request)  # first in line again: it was accepted before the rest
        queue.wake.set()

    @staticmethod
    def _failure_reason(exc: RuntimeApiError) -> str:
        status = exc.members.get("OriginalStatusCode")
        if status is None:
            return f"ClientError: {exc.message}"
        kind = "client" if 400 <= int(status) < 500 else "server"
        return (
            f"ClientError: Received {kind} error ({status}) from model. See the SageMaker Endpoint logs in your "
            f"account for more information. {exc.members.get('OriginalMessage', '')}".rstrip()
        )

    async def _open_input(self, input_location: str) -> tuple[int, Any]:
        bucket, key = parse_s3_uri(input_location)
        response = await self._io(self.api.routing.control_plane.s3.get_object, Bucket=bucket, Key=key)
        return int(response["ContentLength"]), response["Body"]

    async def _chunks(self, stream: Any) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._io(stream.read, CHUNK_BYTES)
            if not chunk:
                return
            yield chunk

    # -- ending a request ---------------------------------------------------------------------

    def _claim_end(self, queue: EndpointQueue | None, request: AsyncRequest) -> bool:
        """Mark the request ended; False when it had ended already (an end is never written twice)."""
        if request.done:
            self.second_ends_refused += 1
            log.error("async request %s ended twice; the second end is dropped", request.inference_id)
            return False
        request.done = True
        self.ended += 1
        if queue is not None:
            queue.active.pop(request.seq, None)
        return True

    async def _succeed(self, queue: EndpointQueue, request: AsyncRequest, variant: str, result: InvocationResult) -> None:
        if not self._claim_end(queue, request):
            return
        counters = self.counters[(request.endpoint_name, variant)]
        content_type = result.headers.get("Content-Type", "application/octet-stream")
        try:
            await self._put(request.output_location, result.body, content_type)
        except Exception as exc:
            counters.response_upload_failures += 1
            counters.invocation_failures += 1
            await self._write_failure_and_notify(
                request, variant, f"ClientError: Failed to upload the response to {request.output_location}: {exc}", None
            )
            return
        counters.invocations_processed += 1
        response_parameters: dict[str, Any] = {"contentType": content_type, "outputLocation": request.output_location}
        if SUCCESS_NOTIFICATION_TOPIC in request.config.include_response_in:
            _include_response(response_parameters, result.body, content_type)
        message = self._notification(request, "Completed", response_parameters)
        await self._notify(request.config.success_topic, message, counters)

    async def _fail(
        self, queue: EndpointQueue | None, request: AsyncRequest, variant: str | None, reason: str, *, detail: str | None = None
    ) -> None:
        if not self._claim_end(queue, request):
            return
        if variant is not None:
            self.counters[(request.endpoint_name, variant)].invocation_failures += 1
        await self._write_failure_and_notify(request, variant, reason, detail)

    async def _expire(self, queue: EndpointQueue, request: AsyncRequest, variant: str) -> None:
        if request.done:
            return
        self.counters[(request.endpoint_name, variant)].expired_requests += 1
        waited = time.monotonic() - request.received_at
        await self._fail(
            queue,
            request,
            None,
            f"ClientError: Request expired: it waited {waited:.0f} s in the queue, longer than its "
            f"RequestTTLSeconds ({request.ttl_s} s).",
        )

    async def _write_failure_and_notify(
        self, request: AsyncRequest, variant: str | None, reason: str, detail: str | None
    ) -> None:
        counters = self.counters[(request.endpoint_name, variant or "")]
        body = reason if detail is None else f"{reason}\n{detail}"
        try:
            await self._put(request.failure_location, body.encode("utf-8"), "text/plain; charset=utf-8")
        except Exception:
            counters.response_upload_failures += 1
            log.exception("async request %s: the failure object could not be written", request.inference_id)
        response_parameters: dict[str, Any] = {"failureLocation": request.failure_location}
        if ERROR_NOTIFICATION_TOPIC in request.config.include_response_in and detail is not None:
            _include_response(response_parameters, detail.encode("utf-8"), "text/plain; charset=utf-8")
        message = self._notification(request, "Failed", response_parameters, failureReason=reason)
        await self._notify(request.config.error_topic, message, counters)

    def _notification(
        self, request: AsyncRequest, status: str, response_parameters: dict[str, Any], **extra: str
    ) -> dict[str, Any]:
        """Return a notification: AWS's documented success shape; the error shape adds ``failureReason``."""
        return {
            "awsRegion": self.api.routing.control_plane.region,
            "eventTime": _utc_now(),
            "receivedTime": request.received_time,
            "invocationStatus": status,
            **extra,
            "requestParameters": {
                "contentType": request.content_type,
                "endpointName": request.endpoint_name,
                "inputLocation": request.input_location,
            },
            "responseParameters": response_parameters,
            "inferenceId": request.inference_id,
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }

    async def _put(self, location: str, body: bytes, content_type: str) -> None:
        bucket, key = parse_s3_uri(location)
        s3 = self.api.routing.control_plane.s3
        await _retry(lambda: self._io(s3.put_object, Bucket=bucket, Key=key, Body=body, ContentType=content_type))

    async def _notify(self, topic: str | None, message: dict[str, Any], counters: VariantCounters) -> None:
        if topic is None:
            return  # no topic of that kind: no notification (AWS's rule)
        sns = self.api.routing.control_plane.sns
        try:
            await _retry(
                lambda: self._io(sns.publish, TopicArn=topic, Message=json.dumps(message)),
                on_retry=self._count_publish_retry,
            )
        except Exception:
            counters.notification_failures += 1
            log.exception("async request %s: the notification to %s failed", message["inferenceId"], topic)

    # -- the periodic work: TTL, scale in, metrics ---------------------------------------------

    async def _tick_forever(self) -> None:
        period = min(1.0, max(0.05, self.scale_in_cooldown_s / 4))
        while True:
            await asyncio.sleep(period)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("async housekeeping failed")

    async def tick(self) -> None:
        """Expire queued requests past their TTL and scale idle variants in."""
        for queue in list(self.queues.values()):
            expired = [r for r in queue.pending if self._expired(r)]
            if expired:
                gone = {r.seq for r in expired}
                queue.pending = collections.deque(r for r in queue.pending if r.seq not in gone)
                route = self.api.routing.get(queue.name)
                variant = route.variants[0].name if route and route.variants else ""
                for request in expired:
                    self._spawn(self._expire(queue, request, variant))
            queue.wake.set()
        await self._scale_in_idle()

    async def _scale_in_idle(self) -> None:
        for route in self.api.routing.routes().values():
            if route.async_config is None:
                continue
            queue = self.queues.get(route.name)
            if queue is not None and queue.active:
                continue
            for variant in route.variants:
                if variant.min_capacity != 0:
                    continue
                key = (route.name, route.config_name, variant.name)
                backend = self.api.backends.get(key)
                if backend is None or backend.server is None or backend.in_flight or key in self._scaling:
                    continue
                if time.monotonic() - backend.last_active >= self.scale_in_cooldown_s:
                    self._scaling.add(key)

                    async def scale_in(
                        backend: ContainerBackend = backend, key: tuple[str, str, str] = key
                    ) -> None:
                        try:
                            await backend.scale_in()
                        finally:
                            self._scaling.discard(key)
                            if key[0] in self.queues:
                                self.queues[key[0]].wake.set()

                    self._spawn(scale_in())

    def _note_capacity(self, queue: EndpointQueue, route: EndpointRoute) -> None:
        """Publish ``HasBacklogWithoutCapacity`` at once when it changes (what the scale-out alarm watches)."""
        value = int(bool(queue.active) and queue.instances == 0)
        if value != queue.has_backlog_without_capacity:
            queue.has_backlog_without_capacity = value
            # Recorded now too: a change back before the next sample would otherwise go unseen.
            self.api.metrics.record("HasBacklogWithoutCapacity", value, endpoint=queue.name)
            self.api.metrics.publish_soon()

    def sample_metrics(self) -> list[tuple[str, float, str, str | None]]:
        """SageMaker's asynchronous gauges and counters now (the metrics publisher's sampler; any thread).

        The queue metrics carry ``EndpointName`` only; the counters are what happened since the
        previous sample (0 included), per variant that has seen a request.
        """
        out: list[tuple[str, float, str, str | None]] = []
        for name, queue in list(self.queues.items()):
            backlog = queue.backlog
            out += [
                ("ApproximateBacklogSize", backlog, name, None),
                ("ApproximateBacklogSizePerInstance", backlog / max(1, queue.instances), name, None),
                ("ApproximateAgeOfOldestRequest", queue.oldest_age_s(), name, None),
                ("HasBacklogWithoutCapacity", queue.has_backlog_without_capacity, name, None),
            ]
        for (endpoint, variant), counters in list(self.counters.items()):
            if not variant:
                continue
            now = counters.snapshot()
            before = self._published_counters.get((endpoint, variant), {})
            self._published_counters[(endpoint, variant)] = now
            out += [
                (metric, value - before.get(metric, 0), endpoint, variant)
                for metric, value in now.items()
                if metric in METRICS
            ]
        return out

    def _record_answer(self, request: AsyncRequest, variant: str, status: int | None, latency_s: float | None) -> None:
        """Record the container's answer to one request: ``Invocation4XXErrors``/``5XXErrors``, ``ModelLatency``."""
        metrics = self.api.metrics
        if status is not None:
            metrics.record("Invocation4XXErrors", int(400 <= status < 500), endpoint=request.endpoint_name, variant=variant)
            metrics.record("Invocation5XXErrors", int(status >= 500), endpoint=request.endpoint_name, variant=variant)
        if latency_s is not None:
            metrics.record_duration("ModelLatency", latency_s, endpoint=request.endpoint_name, variant=variant)

    # -- what the local listing shows ----------------------------------------------------------

    def describe(self) -> list[dict[str, Any]]:
        """One JSON-able summary per endpoint queue: backlog, capacity, counters per variant."""
        out = []
        for name, queue in list(self.queues.items()):
            route = self.api.routing.get(name)
            variants: dict[str, dict[str, Any]] = {}
            for (endpoint, variant), c in list(self.counters.items()):
                if endpoint == name and variant:
                    variants[variant] = {**c.snapshot(), "Running": queue.running[variant]}
            if route is not None:
                for v in route.variants:
                    variants.setdefault(v.name, {"Running": 0})
                    variants[v.name]["Instances"] = self.capacity(route, v)
                    variants[v.name]["MinCapacity"] = v.min_capacity
                    variants[v.name]["MaxCapacity"] = v.max_capacity
            instances = sum(self.capacity(route, v) for v in route.variants) if route is not None else 0
            out.append(
                {
                    "endpoint": name,
                    "ApproximateBacklogSize": queue.backlog,
                    "ApproximateBacklogSizePerInstance": queue.backlog / max(1, instances),
                    "ApproximateAgeOfOldestRequest": queue.oldest_age_s(),
                    "HasBacklogWithoutCapacity": int(bool(queue.active) and instances == 0),
                    "queued": len(queue.pending),
                    "instances": instances,
                    "variants": variants,
                }
            )
        return out

    def _count_publish_retry(self, exc: Exception) -> None:
        self.publish_retries += 1
        log.warning("SNS publish failed (%s: %s); publishing again", type(exc).__name__, exc)

    def totals(self) -> dict[str, int]:
        """Return the requests accepted and ended so far, and the second ends refused."""
        return {
            "accepted": self.accepted,
            "ended": self.ended,
            "second_ends_refused": self.second_ends_refused,
            "publish_retries": self.publish_retries,
        }


async def _one_chunk(body: bytes) -> AsyncIterator[bytes]:
    yield body


def _include_response(parameters: dict[str, Any], body: bytes, content_type: str) -> None:
    """Add the inference response to a notification when it is at most 128 KB (the key name is unconfirmed)."""
    if len(body) > MAX_RESPONSE_IN_NOTIFICATION:
        return
    try:
        parameters["inferenceResponse"] = body.decode("utf-8")
    except UnicodeDecodeError:
        parameters["inferenceResponse"] = base64.b64encode(body).decode("ascii")
        parameters["inferenceResponseEncoding"] = "base64"
    parameters.setdefault("contentType", content_type)


async def _retry(call: Any, attempts: int = 3, on_retry: Any = None) -> Any:
    """Run an awaitable factory; retry twice after a short pause (the emulator busy for a moment)."""
    for attempt in range(attempts):
        try:
            return await call()
        except Exception as exc:
            if attempt == attempts - 1:
                raise
            if on_retry is not None:
                on_retry(exc)
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")
