"""A local SageMaker runtime data plane: the emulator's endpoints, served by real Triton servers.

moto emulates SageMaker's *control plane* (CreateModel, CreateEndpointConfig, CreateEndpoint …) but
runs no containers, so nothing answers ``InvokeEndpoint``. :class:`LocalDataPlane` fills that gap
the way SageMaker does it: for each request it reads the endpoint from the control plane, picks a
production variant by its current weight (or ``TargetVariant``), and forwards the body to that
variant's container — here a real ``tritonserver`` started on first use from the model artifact the
Model points at (downloaded from the emulator's S3, extracted, converted with
:func:`model_build.local_serving.make_local_repository` because the bundled Triton has only the
python backend).

Client code is the same as against AWS::

    runtime = boto3.client("sagemaker-runtime", endpoint_url=data_plane.endpoint_url)
    runtime.invoke_endpoint(EndpointName=name, ContentType="application/json", Body=payload)

(or, with no code change at all, ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=<endpoint_url>``).

Why aiohttp and not ``ThreadingHTTPServer``: requests are forwarded to Triton while they wait, so
an event loop holds hundreds of in-flight invocations on one thread with keep-alive connections
to each backend, where a thread-per-request server would need a thread (and a new backend
connection) per in-flight call. The blocking parts (boto3 calls to the emulator, the artifact
download, starting Triton) run in worker threads via :func:`asyncio.to_thread`. The loop runs in
a background thread so the class is an ordinary synchronous context manager.

Extending it: routes live in one table (:meth:`LocalDataPlane._routes`) and each (endpoint
config, variant) has one :class:`VariantBackend`. Multi-model endpoints (``TargetModel`` →
Triton's ``POST /models`` + ``/models/<name>/invoke``) become a backend subclass chosen from the
container's ``Mode``; asynchronous invocations (``POST /endpoints/{name}/async-invocations``) become
one more route whose handler queues work that reuses the same backends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import shutil
import tarfile
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import ClientError as HttpClientError
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

log = logging.getLogger(__name__)

#: SageMaker's real-time payload limit (6 MB) — larger requests need async inference.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
#: SageMaker gives a real-time container 60 s to answer.
INVOCATION_TIMEOUT_S = 60.0
#: The environment variable SageMaker's Triton container reads for ``/invocations``.
DEFAULT_MODEL_ENV = "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"

# Request headers SageMaker passes on to the container (the rest are AWS's own).
_FORWARDED_REQUEST_HEADERS = (
    "Content-Type",
    "Accept",
    "X-Amzn-SageMaker-Custom-Attributes",
    "X-Amzn-SageMaker-Inference-Id",
    "X-Amzn-SageMaker-Target-Model",
)
_CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
_INVOKED_VARIANT = "x-Amzn-Invoked-Production-Variant"


# --------------------------------------------------------------------------------------- errors


class RuntimeApiError(Exception):
    """An error in SageMaker runtime's wire shape (rest-json).

    botocore takes the code from the ``x-amzn-ErrorType`` header and the modeled members from the
    JSON body, so ``ClientError.response["Error"]["Code"]`` and, for ``ModelError``,
    ``response["OriginalStatusCode"]`` read as they do against AWS.

    Args:
        code: ``ValidationError``, ``ModelError``, ``ModelNotReadyException``, ``InternalFailure`` …
        status: The HTTP status (400, 424, 429, 500 …).
        message: The human-readable message.
        **members: More modeled members (``OriginalStatusCode``, ``OriginalMessage``, ``LogStreamArn``).
    """

    def __init__(self, code: str, status: int, message: str, **members: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.message = message
        self.members = members

    def to_response(self) -> web.Response:
        """Render the error as SageMaker runtime does."""
        return web.json_response(
            {"Message": self.message, **self.members},
            status=self.status,
            headers={"x-amzn-ErrorType": f"{self.code}:http://internal.amazon.com/coral/com.amazon.sagemaker/"},
        )


def validation_error(message: str) -> RuntimeApiError:
    """``ValidationError`` (400): a bad request, an unknown or not-InService endpoint/variant."""
    return RuntimeApiError("ValidationError", 400, message)


# ----------------------------------------------------------------------------- control plane


@dataclass(frozen=True)
class VariantDescription:
    """One production variant as the data plane needs it (from EndpointConfig + Model).

    Attributes:
        name: ``VariantName``.
        weight: The endpoint's ``CurrentWeight`` (falls back to ``InitialVariantWeight``).
        model_name: The SageMaker Model.
        image: ``PrimaryContainer.Image`` (informational: the local backend is always Triton).
        model_data_url: ``PrimaryContainer.ModelDataUrl`` (``s3://bucket/key.tar.gz``).
        environment: ``PrimaryContainer.Environment``.
        mode: ``SingleModel`` or ``MultiModel``.
        instance_type: ``InstanceType`` (informational).
        instance_count: ``InitialInstanceCount`` (informational: one local server per variant).
    """

    name: str
    weight: float
    model_name: str
    image: str
    model_data_url: str
    environment: Mapping[str, str]
    mode: str
    instance_type: str
    instance_count: int


@dataclass(frozen=True)
class EndpointDescription:
    """An endpoint with its config and models resolved.

    Attributes:
        name: ``EndpointName``.
        status: ``EndpointStatus``.
        config_name: ``EndpointConfigName``.
        variants: The production variants, in config order.
    """

    name: str
    status: str
    config_name: str
    variants: tuple[VariantDescription, ...]


class ControlPlane:
    """Reads endpoints from the (emulated) SageMaker control plane and artifacts from its S3.

    EndpointConfigs and Models are immutable in SageMaker, so they are cached by name; only
    ``DescribeEndpoint`` (status, config name, current weights) is called per request.

    Args:
        endpoint_url: The control plane (moto) URL.
        region: The region. Defaults to ``us-east-1``.
        credentials: ``aws_access_key_id``/``aws_secret_access_key``. Defaults to moto's dummies.
    """

    def __init__(
        self,
        endpoint_url: str,
        *,
        region: str = "us-east-1",
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        import boto3

        creds = dict(credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"})
        # A private session: boto3's default session is not thread-safe to create clients from.
        session = boto3.session.Session(region_name=region, **creds)
        self.endpoint_url = endpoint_url
        self.region = region
        self.sagemaker = session.client("sagemaker", endpoint_url=endpoint_url)
        self.s3 = session.client("s3", endpoint_url=endpoint_url)
        self.account_id = "123456789012"
        with contextlib.suppress(Exception):
            self.account_id = session.client("sts", endpoint_url=endpoint_url).get_caller_identity()["Account"]
        self._configs: dict[str, dict[str, Any]] = {}
        self._models: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def describe(self, endpoint_name: str) -> EndpointDescription:
        """Resolve an endpoint → config → models.

        Raises:
            RuntimeApiError: ``ValidationError`` when the endpoint does not exist.
        """
        from botocore.exceptions import ClientError

        try:
            endpoint = self.sagemaker.describe_endpoint(EndpointName=endpoint_name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"ValidationException", "ValidationError", "ResourceNotFound"}:
                # AWS's wording for InvokeEndpoint on a missing endpoint.
                raise validation_error(
                    f"Endpoint {endpoint_name} of account {self.account_id} not found."
                ) from None
            raise
        config = self._describe_config(endpoint["EndpointConfigName"])
        current = {v["VariantName"]: v for v in endpoint.get("ProductionVariants", [])}
        variants = []
        for pv in config["ProductionVariants"]:
            model = self._describe_model(pv["ModelName"])
            container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
            weight = current.get(pv["VariantName"], {}).get("CurrentWeight", pv.get("InitialVariantWeight", 1.0))
            variants.append(
                VariantDescription(
                    name=pv["VariantName"],
                    weight=float(weight),
                    model_name=pv["ModelName"],
                    image=container.get("Image", ""),
                    model_data_url=container.get("ModelDataUrl", ""),
                    environment=dict(container.get("Environment") or {}),
                    mode=container.get("Mode", "SingleModel"),
                    instance_type=pv.get("InstanceType", ""),
                    instance_count=int(pv.get("InitialInstanceCount", 1)),
                )
            )
        return EndpointDescription(
            name=endpoint_name,
            status=endpoint["EndpointStatus"],
            config_name=endpoint["EndpointConfigName"],
            variants=tuple(variants),
        )

    def _describe_config(self, name: str) -> dict[str, Any]:
        with self._lock:
            cached = self._configs.get(name)
        if cached is None:
            cached = self.sagemaker.describe_endpoint_config(EndpointConfigName=name)
            with self._lock:
                self._configs[name] = cached
        return cached

    def _describe_model(self, name: str) -> dict[str, Any]:
        with self._lock:
            cached = self._models.get(name)
        if cached is None:
            cached = self.sagemaker.describe_model(ModelName=name)
            with self._lock:
                self._models[name] = cached
        return cached

    def download(self, s3_url: str, dest: Path) -> Path:
        """Download ``s3://bucket/key`` to ``dest`` (as SageMaker does before starting a container)."""
        parsed = urllib.parse.urlparse(s3_url)
        if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
            raise ValueError(f"ModelDataUrl must be s3://bucket/key (got {s3_url!r})")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(parsed.netloc, parsed.path.lstrip("/"), str(dest))
        return dest


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


# ------------------------------------------------------------------------------------ backends


@dataclass
class InvocationRequest:
    """What a backend needs from an ``InvokeEndpoint`` call."""

    endpoint_name: str
    body: bytes
    headers: dict[str, str]


@dataclass
class InvocationResponse:
    """What the container answered."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class VariantBackend:
    """One production variant's container: a real Triton server, started on first use.

    Args:
        endpoint_name: For error messages and log-group names.
        variant: The variant.
        control_plane: Where the artifact comes from.
        work_dir: A private directory for the artifact, the extracted and the local repository.
        server_options: Extra :class:`triton_runtime.server.TritonServer` keyword arguments.
    """

    def __init__(
        self,
        endpoint_name: str,
        variant: VariantDescription,
        control_plane: ControlPlane,
        work_dir: Path,
        server_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.endpoint_name = endpoint_name
        self.variant = variant
        self._control_plane = control_plane
        self._work_dir = work_dir
        self._server_options = dict(server_options or {})
        self._server: Any = None
        self._start_error: str | None = None
        self._lock = asyncio.Lock()
        self.invocations = 0

    @property
    def server(self) -> Any:
        """The running :class:`triton_runtime.server.TritonServer`, or None before the first request."""
        return self._server

    async def ensure_started(self) -> None:
        """Start the container once; concurrent first requests wait for the same start.

        Raises:
            RuntimeApiError: ``ModelError`` when the artifact cannot be prepared or Triton fails
                to start (remembered: later requests fail fast instead of retrying a 10 s start).
        """
        if self._server is not None:
            return
        async with self._lock:
            if self._server is not None:
                return
            if self._start_error is None:
                try:
                    self._server = await asyncio.to_thread(self._start)
                except Exception as exc:
                    log.exception("variant %s/%s failed to start", self.endpoint_name, self.variant.name)
                    self._start_error = f"{type(exc).__name__}: {exc}"
            if self._start_error is not None:
                raise RuntimeApiError(
                    "ModelError",
                    424,
                    f"The primary container for production variant {self.variant.name} of endpoint "
                    f"{self.endpoint_name} did not start: {self._start_error[-2000:]}",
                    OriginalStatusCode=500,
                    OriginalMessage=self._start_error[-2000:],
                    LogStreamArn=self._log_group_arn(),
                )

    def _start(self) -> Any:
        from model_build.local_serving import make_local_repository
        from triton_runtime.server import TritonServer

        url = self.variant.model_data_url
        if url.endswith("/"):
            # ModelDataSource with an uncompressed S3 prefix: SageMaker copies the prefix as is.
            raise ValueError(f"only compressed model.tar.gz artifacts are supported locally (ModelDataUrl {url!r})")
        started = time.monotonic()
        archive = self._control_plane.download(url, self._work_dir / "model.tar.gz")
        extracted = safe_extract(archive, self._work_dir / "model")
        local_repo = make_local_repository(extracted, self._work_dir / "local-repository")
        env = dict(self.variant.environment)
        default_model = env.get(DEFAULT_MODEL_ENV)
        if default_model is None:
            # SageMaker's Triton container serves the only model when none is named.
            models = sorted(p.parent.name for p in local_repo.glob("*/config.pbtxt"))
            default_model = models[0] if len(models) == 1 else None
        server = TritonServer(
            local_repo,
            default_model=default_model,
            multi_model=self.variant.mode == "MultiModel",
            env=env,
            log_path=self._work_dir / "triton.log",
            **self._server_options,
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

    async def invoke(self, session: ClientSession, request: InvocationRequest) -> InvocationResponse:
        """Forward one invocation to the container's ``/invocations``.

        Raises:
            RuntimeApiError: ``ModelError`` for a container error, a dead container or a timeout.
        """
        await self.ensure_started()
        url = f"{self._server.sagemaker_url}/invocations"
        self.invocations += 1
        try:
            async with session.post(url, data=request.body, headers=request.headers) as resp:
                body = await resp.read()
                headers = {k: v for k, v in resp.headers.items() if k.lower() in {"content-type", _CUSTOM_ATTRIBUTES.lower()}}
                status = resp.status
        except TimeoutError:
            raise self._model_error(
                408, f"Your invocation timed out while waiting for a response from container primary "
                f"(after {INVOCATION_TIMEOUT_S:.0f} s)."
            ) from None
        except HttpClientError as exc:
            raise self._model_error(500, f"The container did not answer: {exc}") from None
        if status >= 300:
            raise self._model_error(status, body.decode("utf-8", "replace"))
        return InvocationResponse(status, body, headers)

    def _log_group_arn(self) -> str:
        cp = self._control_plane
        return f"arn:aws:logs:{cp.region}:{cp.account_id}:log-group:/aws/sagemaker/Endpoints/{self.endpoint_name}"

    def _model_error(self, original_status: int, original_message: str) -> RuntimeApiError:
        cp = self._control_plane
        kind = "client" if 400 <= original_status < 500 else "server"
        # AWS's wording, so scripts that grep it behave the same locally.
        message = (
            f'Received {kind} error ({original_status}) from primary with message "{original_message}". '
            f"See https://{cp.region}.console.aws.amazon.com/cloudwatch/home?region={cp.region}"
            f"#logEventViewer:group=/aws/sagemaker/Endpoints/{self.endpoint_name} in account "
            f"{cp.account_id} for more information."
        )
        return RuntimeApiError(
            "ModelError",
            424,
            message,
            OriginalStatusCode=original_status,
            OriginalMessage=original_message,
            LogStreamArn=self._log_group_arn(),
        )

    def close(self) -> None:
        """Stop the container (blocking)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()


# ---------------------------------------------------------------------------------- the service

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LocalDataPlane:
    """The SageMaker runtime API on ``http://HOST:PORT``, backed by the emulator and real Triton.

    Args:
        control_plane_endpoint_url: The emulator (moto) URL the endpoints live in.
        host: The interface to bind. Defaults to ``127.0.0.1``.
        port: The port. Defaults to 0 (a free port).
        work_dir: Where artifacts are downloaded and converted. Defaults to a temporary directory
            removed on stop.
        region: The emulator's region. Defaults to ``us-east-1``.
        server_options: Extra :class:`triton_runtime.server.TritonServer` keyword arguments for every
            backend (e.g. ``{"startup_timeout": 60}``).
        seed: Seeds the weighted variant choice, for reproducible traffic splits. Defaults to
            unseeded.

    Attributes:
        backends: ``{(endpoint, endpoint config, variant): VariantBackend}`` started so far.
    """

    def __init__(
        self,
        control_plane_endpoint_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        work_dir: str | Path | None = None,
        region: str = "us-east-1",
        server_options: Mapping[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        self.control_plane_endpoint_url = control_plane_endpoint_url
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._own_work_dir = work_dir is None
        self._work_dir = Path(work_dir) if work_dir is not None else None
        self._region = region
        self._server_options = dict(server_options or {})
        self._random = random.Random(seed)
        self.backends: dict[tuple[str, str, str], VariantBackend] = {}
        self._control_plane: ControlPlane | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._backends_lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """``http://HOST:PORT`` — pass it as ``endpoint_url`` of a ``sagemaker-runtime`` client."""
        if self._port is None:
            raise RuntimeError("LocalDataPlane is not running")
        return f"http://{self.host}:{self._port}"

    @property
    def work_dir(self) -> Path:
        """The directory holding each backend's artifact, repository and ``triton.log``."""
        if self._work_dir is None:
            raise RuntimeError("LocalDataPlane has not been started")
        return self._work_dir

    def start(self) -> LocalDataPlane:
        """Start the HTTP service in a background thread; returns once it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("LocalDataPlane is already running")
        if self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="local-data-plane-"))
        self._work_dir.mkdir(parents=True, exist_ok=True)
        self._control_plane = ControlPlane(self.control_plane_endpoint_url, region=self._region)
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve_start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()

        self._thread = threading.Thread(target=serve, name="local-data-plane", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"LocalDataPlane failed to start: {failure[0]}") from failure[0]
        return self

    async def _serve_start(self) -> None:
        app = web.Application(client_max_size=MAX_PAYLOAD_BYTES + 1024 * 1024)
        for method, path, handler in self._routes():
            app.router.add_route(method, path, handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._requested_port)
        await site.start()
        # port 0 binds a free port; the runner reports what was actually bound.
        self._port = int(self._runner.addresses[0][1])
        self._session = ClientSession(
            connector=TCPConnector(limit=256),
            timeout=ClientTimeout(total=INVOCATION_TIMEOUT_S),
            auto_decompress=False,
        )

    def stop(self) -> None:
        """Stop the service and every Triton server it started. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._serve_stop(), loop)
        try:
            future.result(timeout=120)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            self._loop = None
            self._thread = None
            self._port = None
            if self._own_work_dir and self._work_dir is not None:
                shutil.rmtree(self._work_dir, ignore_errors=True)
                self._work_dir = None

    async def _serve_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        with self._backends_lock:
            backends = list(self.backends.values())
            self.backends.clear()
        # Stop the servers in parallel: each waits for its process to exit.
        await asyncio.gather(*(asyncio.to_thread(b.close) for b in backends), return_exceptions=True)

    def __enter__(self) -> LocalDataPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- routes -----------------------------------------------------------------------------

    def _routes(self) -> list[tuple[str, str, Handler]]:
        """Return the route table: SageMaker runtime's REST paths (botocore's ``requestUri``)."""
        return [
            ("POST", "/endpoints/{EndpointName}/invocations", self._guard(self._invoke_endpoint)),
            # Not a SageMaker route: liveness of the local service itself.
            ("GET", "/ping", self._ping),
        ]

    @staticmethod
    def _guard(handler: Handler) -> Handler:
        """Turn exceptions into SageMaker runtime error responses."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except RuntimeApiError as exc:
                return exc.to_response()
            except web.HTTPRequestEntityTooLarge:
                return validation_error(
                    f"Request payload exceeds the {MAX_PAYLOAD_BYTES // (1024 * 1024)} MB limit of "
                    "real-time inference; use asynchronous inference for larger payloads."
                ).to_response()
            except Exception as exc:
                log.exception("internal failure handling %s", request.path)
                return RuntimeApiError("InternalFailure", 500, f"{type(exc).__name__}: {exc}").to_response()

        return guarded

    async def _ping(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _invoke_endpoint(self, request: web.Request) -> web.Response:
        endpoint_name = request.match_info["EndpointName"]
        body = await request.read()
        if len(body) > MAX_PAYLOAD_BYTES:
            raise validation_error(f"Request payload of {len(body)} bytes exceeds the 6 MB limit.")
        assert self._control_plane is not None and self._session is not None
        endpoint = await asyncio.to_thread(self._control_plane.describe, endpoint_name)
        if endpoint.status not in {"InService", "Updating"}:
            # Updating endpoints keep serving on AWS (the old config until the switch).
            raise validation_error(
                f"Endpoint {endpoint_name} of account {self._control_plane.account_id} is not in "
                f"service (status {endpoint.status})."
            )
        variant = self._choose_variant(endpoint, request.headers.get("X-Amzn-SageMaker-Target-Variant"))
        target_model = request.headers.get("X-Amzn-SageMaker-Target-Model")
        if target_model is not None and variant.mode != "MultiModel":
            raise validation_error(
                f"TargetModel {target_model} is only valid for multi-model endpoints; "
                f"endpoint {endpoint_name} serves a single model."
            )
        if variant.mode == "MultiModel":
            raise validation_error("Multi-model endpoints are not served by the local data plane yet.")
        backend = self._backend(endpoint, variant)
        headers = {h: request.headers[h] for h in _FORWARDED_REQUEST_HEADERS if h in request.headers}
        result = await backend.invoke(self._session, InvocationRequest(endpoint_name, body, headers))
        response_headers = {_INVOKED_VARIANT: variant.name}
        for key, value in result.headers.items():
            response_headers[key] = value
        return web.Response(body=result.body, status=200, headers=response_headers)

    def _choose_variant(self, endpoint: EndpointDescription, target: str | None) -> VariantDescription:
        if target is not None:
            for variant in endpoint.variants:
                if variant.name == target:
                    return variant
            raise validation_error(
                f"Variant {target} not found for endpoint {endpoint.name}; it has "
                f"{', '.join(v.name for v in endpoint.variants)}."
            )
        weights = [max(0.0, v.weight) for v in endpoint.variants]
        if not endpoint.variants or sum(weights) <= 0:
            raise validation_error(f"Endpoint {endpoint.name} has no production variant with a positive weight.")
        return self._random.choices(endpoint.variants, weights=weights, k=1)[0]

    def _backend(self, endpoint: EndpointDescription, variant: VariantDescription) -> VariantBackend:
        # Keyed by endpoint config too: UpdateEndpoint to a new config gets fresh containers,
        # as SageMaker's blue/green switch does.
        key = (endpoint.name, endpoint.config_name, variant.name)
        with self._backends_lock:
            backend = self.backends.get(key)
            if backend is None:
                assert self._control_plane is not None
                safe = "-".join(_safe_name(part) for part in key)
                backend = VariantBackend(
                    endpoint.name, variant, self._control_plane, self.work_dir / safe, self._server_options
                )
                self.backends[key] = backend
            return backend

    def describe_backends(self) -> list[dict[str, Any]]:
        """Return one JSON-able summary per started backend (for the demo and debugging)."""
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
                    "invocations": backend.invocations,
                    "triton_url": server.sagemaker_url if server is not None else None,
                    "triton_log": str(server.log_path) if server is not None else None,
                }
            )
        return out


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]


def main() -> int:
    """Serve the runtime API for a running emulator: ``python -m rehearsal.data_plane MOTO_URL``."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("control_plane_endpoint_url")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    with LocalDataPlane(args.control_plane_endpoint_url, port=args.port) as plane:
        print(json.dumps({"endpoint_url": plane.endpoint_url}), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
