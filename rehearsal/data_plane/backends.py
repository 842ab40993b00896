"""Backends: one per serving mode, each a production variant's container (a real Triton server).

:class:`ContainerBackend` holds what every mode shares: prepare the artifact (download from the
emulator's S3, extract safely, convert with :func:`model_build.local_serving.make_local_repository`
because the bundled Triton has only the python backend), start Triton once, forward an invocation,
map container failures to ``ModelError``, and stop. A serving mode adds only its piece:

* :class:`RealTimeBackend` (``Mode: SingleModel``): ``POST /invocations`` to the default model;
  ``TargetModel`` is refused as SageMaker refuses it.
* :class:`~rehearsal.data_plane.multi_model.MultiModelBackend` (``Mode: MultiModel``): Triton
  started with ``multi_model=True`` and no model; each ``TargetModel`` is downloaded from the
  ``ModelDataUrl`` prefix on its first call, loaded with Triton's ``POST /models``, invoked at
  ``/models/<name>/invoke``, and unloaded least recently used first under a memory budget.

The data plane picks the class from the container's ``Mode`` (:func:`backend_class`).

Asynchronous inference uses the same backends through :meth:`ContainerBackend.invoke_stream` (the
input streamed from S3, the container's answer returned whole), and two life-cycle steps SageMaker
has and real-time calls never needed: :meth:`ContainerBackend.recover` replaces a container that
died (as SageMaker replaces an unhealthy instance), and :meth:`ContainerBackend.scale_in` stops an
idle one when the variant may scale to zero. The artifact is prepared once per backend; a restart
only launches Triton again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tarfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from model_build.aws import INVOCATION_TIMEOUT_S as _INVOCATION_TIMEOUT_S
from rehearsal.data_plane.container_client import ContainerClient, ContainerConnectionError
from rehearsal.data_plane.errors import RuntimeApiError, model_error, validation_error
from rehearsal.data_plane.routing import ControlPlane, VariantRoute

if TYPE_CHECKING:
    from rehearsal.data_plane.metrics import MetricsPublisher

log = logging.getLogger(__name__)

#: SageMaker gives a real-time container 60 s to answer (``model_build.aws``).
INVOCATION_TIMEOUT_S = float(_INVOCATION_TIMEOUT_S)
#: The environment variable SageMaker's Triton container reads for ``/invocations``.
DEFAULT_MODEL_ENV = "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"
# The container's answer headers SageMaker passes back (lower-case name → canonical spelling).
_RETURNED_HEADERS = {
    "content-type": "Content-Type",
    "x-amzn-sagemaker-custom-attributes": "X-Amzn-SageMaker-Custom-Attributes",
}


@dataclass(frozen=True)
class Invocation:
    """One call as the backends see it, whatever route it came in by.

    Attributes:
        endpoint_name: ``EndpointName``.
        body: The request body.
        headers: The headers SageMaker passes on to the container.
        request_id: The id answered in ``x-amzn-RequestId``.
        target_variant: ``TargetVariant``.
        target_model: ``TargetModel`` (multi-model endpoints).
        target_container_hostname: ``TargetContainerHostname`` (multi-container direct invocation).
        inference_component: ``InferenceComponentName``.
        received_at: ``time.perf_counter()`` when the request arrived (for ``OverheadLatency``);
            None when it did not come in through InvokeEndpoint.
    """

    endpoint_name: str
    body: bytes
    headers: Mapping[str, str]
    request_id: str
    target_variant: str | None = None
    target_model: str | None = None
    target_container_hostname: str | None = None
    inference_component: str | None = None
    received_at: float | None = None


class ContainerDown(ConnectionError):
    """The container did not answer: it refused the connection or closed it mid-call."""


@dataclass
class InvocationResult:
    """What the container answered (2xx only; errors are raised as :class:`RuntimeApiError`).

    Attributes:
        status: The container's status.
        body: Its answer.
        variant_name: The variant that answered.
        headers: The answer's headers SageMaker passes back.
        model_latency_s: Seconds from sending the request to the container to its whole answer.
    """

    status: int
    body: bytes
    variant_name: str
    headers: dict[str, str] = field(default_factory=dict)
    model_latency_s: float | None = None


def safe_extract(archive: Path, dest: Path) -> Path:
    """Extract a ``model.tar.gz`` without letting any member escape ``dest``.

    Absolute names and ``..`` components are refused up front; tarfile's ``data`` filter (PEP 706)
    then refuses links pointing outside, device files and setuid bits, as an artifact from a
    bucket is untrusted.

    Args:
        archive: The tarball.
        dest: The directory to extract into (created).

    Returns:
        ``dest``.

    Raises:
        ValueError: A member would be written outside ``dest`` or is not a regular file/dir/link.
    """
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        # The data filter would silently strip a leading "/" and extract inside dest; an artifact
        # built that way is malformed, so say so instead of serving a half-understood tree.
        for member in tar.getmembers():
            if member.name.startswith("/") or ".." in Path(member.name).parts:
                raise ValueError(f"unsafe member in {archive.name}: {member.name!r} points outside the archive root")
        try:
            tar.extractall(dest, filter="data")
        except tarfile.FilterError as exc:
            raise ValueError(f"unsafe member in {archive.name}: {exc}") from exc
    return dest


class ContainerBackend:
    """One production variant's container: a real Triton server, started on first use.

    Args:
        endpoint_name: For error messages and log-group names.
        config_name: The endpoint config the variant belongs to.
        variant: The variant.
        control_plane: Where the artifact comes from.
        work_dir: A private directory for the artifact, the extracted and the local repository.
        server_options: Extra :class:`triton_runtime.server.TritonServer` keyword arguments.
    """

    #: The container ``Mode`` this backend serves.
    mode: ClassVar[str] = ""
    #: Where the backend records SageMaker's metrics (set by the data plane; None: not recorded).
    metrics: MetricsPublisher | None = None
    #: Whether the variant runs on instances, whose CPU, memory and disk metrics SageMaker publishes.
    instance_metrics: ClassVar[bool] = True
    #: Seconds the container has to answer one call (SageMaker's 60 s).
    invocation_timeout_s: float = INVOCATION_TIMEOUT_S

    def __init__(
        self,
        endpoint_name: str,
        config_name: str,
        variant: VariantRoute,
        control_plane: ControlPlane,
        work_dir: Path,
        server_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.endpoint_name = endpoint_name
        self.config_name = config_name
        self.variant = variant
        self._control_plane = control_plane
        self._work_dir = work_dir
        self._server_options = dict(server_options or {})
        self._server: Any = None
        self._closed = False  # set by close(): a start in progress must not keep its server
        self._base_url = ""
        self._start_error: str | None = None
        self._lock = asyncio.Lock()
        self.invocations = 0
        #: Invocations being forwarded right now (a retired backend stops once this is 0).
        self.in_flight = 0
        self._prepared: tuple[Path, str | None] | None = None
        #: Containers that died and were replaced (:meth:`recover`).
        self.restarts = 0
        #: Whether the container was stopped because the variant scaled in to zero instances.
        self.scaled_to_zero = False
        #: Whether Triton is being started (the variant has no serving instance meanwhile).
        self.starting = False
        #: ``time.monotonic()`` of the last call forwarded or answered (the idle clock of scale-in).
        self.last_active = time.monotonic()

    @property
    def server(self) -> Any:
        """The running :class:`triton_runtime.server.TritonServer`, or None before the first request."""
        return self._server

    # -- what a serving mode adds -----------------------------------------------------------

    def check(self, invocation: Invocation) -> None:
        """Refuse requests this serving mode does not accept (``ValidationError``), before any work."""

    def server_kwargs(self) -> dict[str, Any]:
        """Extra :class:`~triton_runtime.server.TritonServer` arguments of this serving mode."""
        return {}

    async def container_path(self, invocation: Invocation) -> str:
        """Return the container path this invocation is forwarded to (the server is running)."""
        raise NotImplementedError

    def container_environment(self) -> dict[str, str]:
        """Return the container's environment: the Model's ``Environment``."""
        return dict(self.variant.environment)

    def describe(self) -> dict[str, Any]:
        """Return what this serving mode adds to a backend's summary (``/local/backends``); nothing here."""
        return {}

    def loaded_model_count(self) -> int | None:
        """Return the models the container holds now (``LoadedModelCount``); None where the mode has no such metric."""
        return None

    # -- shared -----------------------------------------------------------------------------

    async def ensure_started(self) -> None:
        """Start the container once; concurrent first requests wait for the same start.

        Raises:
            RuntimeApiError: ``ModelError`` when the artifact cannot be prepared or Triton fails
                to start; the failure is remembered (SageMaker would mark the endpoint Failed).
        """
        if self._server is not None:
            return
        async with self._lock:
            if self._server is None and self._start_error is None:
                await self._launch()
            if self._start_error is not None:
                raise RuntimeApiError(
                    "ModelError",
                    424,
                    f"The primary container for production variant {self.variant.name} of endpoint "
                    f"{self.endpoint_name} did not start: {self._start_error[-2000:]}",
                    OriginalStatusCode=500,
                    OriginalMessage=self._start_error[-2000:],
                    LogStreamArn=self._error(500, "").members["LogStreamArn"],
                )

    async def _launch(self) -> None:
        """Start Triton (the lock is held); remember a failure."""
        self.starting = True
        try:
            server = await asyncio.to_thread(self._start)
            if self._closed:
                # close() ran while Triton was starting (the data plane is stopping): stop it, not keep it.
                await asyncio.to_thread(server.stop)
                raise RuntimeError("the data plane stopped while the container was starting")
            self._server = server
            self._base_url = self._server.sagemaker_url
            self.scaled_to_zero = False
        except Exception as exc:
            log.exception("variant %s/%s failed to start", self.endpoint_name, self.variant.name)
            self._start_error = f"{type(exc).__name__}: {exc}"
        finally:
            self.starting = False
            self.last_active = time.monotonic()

    def _prepare(self) -> tuple[Path, str | None]:
        """Download, extract and convert the artifact once; return the local repository and default model."""
        from model_build.local_serving import make_local_repository

        if self._prepared is not None:
            return self._prepared
        url = self.variant.model_data_url
        if url.endswith("/"):
            # ModelDataSource with an uncompressed S3 prefix: SageMaker copies the prefix as is.
            raise ValueError(f"only compressed model.tar.gz artifacts are supported locally (ModelDataUrl {url!r})")
        archive = self._control_plane.download(url, self._work_dir / "model.tar.gz")
        extracted = safe_extract(archive, self._work_dir / "model")
        local_repo = make_local_repository(extracted, self._work_dir / "local-repository")
        default_model = self.variant.environment.get(DEFAULT_MODEL_ENV)
        if default_model is None:
            # SageMaker's Triton container serves the only model when none is named.
            models = sorted(p.parent.name for p in local_repo.glob("*/config.pbtxt"))
            default_model = models[0] if len(models) == 1 else None
        self._prepared = (local_repo, default_model)
        return self._prepared

    def _start(self) -> Any:
        from triton_runtime.server import TritonServer

        started = time.monotonic()
        local_repo, default_model = self._prepare()
        env = self.container_environment()
        server = TritonServer(
            local_repo,
            default_model=default_model,
            env=env,
            log_path=self._work_dir / "triton.log",
            **{**self._server_options, **self.server_kwargs()},
        )
        server.start()
        log.info(
            "variant %s/%s: Triton ready on %s in %.1f s",
            self.endpoint_name,
            self.variant.name,
            server.sagemaker_url,
            time.monotonic() - started,
        )
        return server

    async def invoke(self, client: ContainerClient, invocation: Invocation) -> InvocationResult:
        """Forward one invocation to the container.

        Raises:
            RuntimeApiError: ``ValidationError`` for a request this mode refuses; ``ModelError`` for a
                container error, a dead container or a timeout.
        """
        self.check(invocation)
        # Counted before the first await, so a refresh pass never retires a backend a call holds.
        self.in_flight += 1
        try:
            if self._server is None:
                await self.ensure_started()
            url = self._base_url + await self.container_path(invocation)
            self.invocations += 1
            sent = time.perf_counter()
            status, response_headers, body = await client.post(
                url, invocation.body, invocation.headers, timeout_s=self.invocation_timeout_s
            )
            model_latency_s = time.perf_counter() - sent
        except TimeoutError:
            raise self._error(
                408,
                "Your invocation timed out while waiting for a response from container primary "
                f"(after {self.invocation_timeout_s:g} s).",
            ) from None
        except OSError as exc:
            raise self._error(500, f"The container did not answer: {exc}") from None
        finally:
            self.in_flight -= 1
        return self._result(status, response_headers, body, model_latency_s)

    def _result(
        self, status: int, response_headers: Mapping[str, str], body: bytes, model_latency_s: float
    ) -> InvocationResult:
        """Return the container's answer, or raise its error as a ``ModelError`` (both carry ModelLatency)."""
        if status >= 300:
            error = self._error(status, body.decode("utf-8", "replace"))
            error.model_latency_s = model_latency_s
            raise error
        headers = {_RETURNED_HEADERS[k]: v for k, v in response_headers.items() if k in _RETURNED_HEADERS}
        return InvocationResult(status, body, self.variant.name, headers, model_latency_s)

    async def invoke_stream(
        self,
        client: ContainerClient,
        invocation: Invocation,
        chunks: AsyncIterator[bytes],
        length: int,
        *,
        timeout_s: float,
    ) -> InvocationResult:
        """Forward one asynchronous invocation, its body streamed from ``chunks``.

        Args:
            client: The keep-alive client.
            invocation: The call (its ``body`` is unused).
            chunks: The input, in order.
            length: The input's size in bytes.
            timeout_s: ``InvocationTimeoutSeconds`` (sending the input included).

        Raises:
            RuntimeApiError: ``ValidationError`` for a request this mode refuses; ``ModelError``
                when the container answered an error or could not start.
            ContainerDown: The container refused or dropped the connection (it may have died).
            TimeoutError: No answer within ``timeout_s``.
        """
        self.check(invocation)
        self.in_flight += 1
        try:
            if self._server is None:
                await self.ensure_started()
            url = self._base_url + await self.container_path(invocation)
            self.invocations += 1
            self.last_active = time.monotonic()
            sent = time.perf_counter()
            try:
                status, response_headers, body = await client.post_stream(
                    url, chunks, length, invocation.headers, timeout_s=timeout_s
                )
                model_latency_s = time.perf_counter() - sent
            except TimeoutError:
                raise  # an OSError too, since Python 3.11: not a dead container
            except (ContainerConnectionError, ConnectionError) as exc:
                raise ContainerDown(str(exc) or type(exc).__name__) from None
            except OSError as exc:
                raise ContainerDown(f"the container did not answer: {exc}") from None
        finally:
            self.in_flight -= 1
            self.last_active = time.monotonic()
        return self._result(status, response_headers, body, model_latency_s)

    async def is_alive(self) -> bool:
        """Whether the container accepts connections on its SageMaker port right now."""
        server = self._server
        if server is None:
            return False
        host, _, port = server.sagemaker_url.rpartition("//")[2].partition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 5)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def recover(self) -> bool:
        """Replace the container if it died (SageMaker replaces an unhealthy instance).

        Concurrent callers that saw the same death wait for one replacement.

        Returns:
            True when the container was found dead and started again.
        """
        dead = self._server
        if dead is None or await self.is_alive():
            return False
        async with self._lock:
            if self._server is not dead:
                return False  # another caller replaced it already
            self._server = None
            self.restarts += 1
            log.warning("variant %s/%s: Triton died; starting a new one", self.endpoint_name, self.variant.name)
            group = dead.pid  # Triton leads its own process group (start_new_session)
            await asyncio.to_thread(dead.stop)
            # A SIGKILLed tritonserver leaves its python backend stubs running: stop its group too.
            if group is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)
            await self._launch()
            return self._server is not None

    async def scale_in(self) -> bool:
        """Stop the idle container: the variant scaled in to zero instances.

        Returns:
            True when a running container was stopped.
        """
        async with self._lock:
            server = self._server
            if server is None or self.in_flight:
                return False
            self._server = None
            self.scaled_to_zero = True
            await asyncio.to_thread(server.stop)
            log.info("variant %s/%s: idle, scaled in to zero (Triton stopped)", self.endpoint_name, self.variant.name)
            return True

    def _error(self, original_status: int, original_message: str) -> RuntimeApiError:
        cp = self._control_plane
        return model_error(
            region=cp.region,
            account_id=cp.account_id,
            endpoint_name=self.endpoint_name,
            original_status=original_status,
            original_message=original_message,
        )

    def close(self) -> None:
        """Stop the container (blocking); a start still in progress stops its server when it ends."""
        self._closed = True
        server, self._server = self._server, None
        if server is not None:
            server.stop()


class RealTimeBackend(ContainerBackend):
    """A single-model real-time variant: ``POST /invocations`` to Triton's default model."""

    mode = "SingleModel"

    def check(self, invocation: Invocation) -> None:
        """Refuse ``TargetModel``: only multi-model endpoints take it (AWS's wording)."""
        if invocation.target_model is not None:
            raise validation_error(
                f"Endpoint {self.endpoint_name} is not a multi-model endpoint and does not support "
                "target model header."
            )

    async def container_path(self, invocation: Invocation) -> str:
        """Return ``/invocations``."""
        return "/invocations"


#: Container ``Mode`` → backend class (:mod:`rehearsal.data_plane.multi_model` adds ``MultiModel``).
BACKENDS: dict[str, type[ContainerBackend]] = {cls.mode: cls for cls in (RealTimeBackend,)}


def backend_class(variant: VariantRoute, endpoint_name: str) -> type[ContainerBackend]:
    """Return the backend class for a variant's container ``Mode``.

    Raises:
        RuntimeApiError: ``ValidationError`` for a mode no backend serves yet.
    """
    # A Model with several containers (rehearsal.data_plane.multi_container registers the mode), a
    # serverless variant (rehearsal.data_plane.serverless registers it).
    mode = "MultiContainer" if variant.containers else variant.mode
    if variant.serverless is not None:
        if mode != "SingleModel":
            raise validation_error(
                f"Endpoint {endpoint_name}: variant {variant.name} is serverless and runs its Model in {mode} "
                "mode; serverless endpoints serve neither multi-model endpoints nor inference pipelines."
            )
        mode = "Serverless"
    cls = BACKENDS.get(mode)
    if cls is None:
        raise validation_error(
            f"Endpoint {endpoint_name}: variant {variant.name} runs its container in {variant.mode} mode, "
            f"which the local data plane does not serve yet (it serves {', '.join(sorted(BACKENDS))})."
        )
    return cls
