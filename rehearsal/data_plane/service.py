"""The local SageMaker runtime service: an aiohttp server in a background thread.

Why an event loop and not ``ThreadingHTTPServer``: requests are forwarded to Triton while they
wait, so one loop holds hundreds of in-flight invocations on one thread with keep-alive
connections to each backend (:mod:`~rehearsal.data_plane.container_client`), where a
thread-per-request server would need a thread (and a new backend connection) per in-flight call. The blocking parts (reading the emulator, the artifact download,
starting Triton) run in worker threads via :func:`asyncio.to_thread`. The loop runs in a
background thread so :class:`LocalDataPlane` is an ordinary synchronous context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import shutil
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from rehearsal.data_plane.async_inference import DEFAULT_SCALE_IN_COOLDOWN_S
from rehearsal.data_plane.backends import INVOCATION_TIMEOUT_S, ContainerBackend
from rehearsal.data_plane.container_client import ContainerClient
from rehearsal.data_plane.metrics import DEFAULT_METRICS_INTERVAL_S
from rehearsal.data_plane.multi_container import MultiContainerBackend  # noqa: F401 (registers the mode)
from rehearsal.data_plane.multi_model import DEFAULT_MULTI_MODEL_MEMORY_BUDGET_BYTES
from rehearsal.data_plane.routes import MAX_PAYLOAD_BYTES, Route, RuntimeApi
from rehearsal.data_plane.routing import DEFAULT_REFRESH_INTERVAL_S, ControlPlane, RefreshPass, RoutingTable
from rehearsal.data_plane.serverless import (  # registers the Serverless mode
    DEFAULT_SERVERLESS_IDLE_S,
    DEFAULT_SERVERLESS_INVOCATION_TIMEOUT_S,
    ServerlessProvisioner,
    serverless_argument_problems,
)

log = logging.getLogger(__name__)

_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
# TritonServer arguments each backend sets itself (so they cannot be server_options).
SHUTDOWN_GRACE_S = 5.0
"""How long stopping the data plane waits for requests still in its handlers (aiohttp's default is 60 s).
Whoever stops the plane is done with it; a load test's stragglers or a client's idle keep-alive
connections must not hold a teardown, Ctrl-C or SIGTERM for a minute."""

_BACKEND_SET_OPTIONS = frozenset({"model_repository", "default_model", "multi_model", "env", "log_path"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` names the loopback interface (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_arguments(
    *,
    control_plane_endpoint_url: Any,
    host: Any,
    port: Any,
    work_dir: Any,
    region: Any,
    server_options: Any,
    seed: Any,
    refresh_interval_s: Any,
    scale_in_cooldown_s: Any = DEFAULT_SCALE_IN_COOLDOWN_S,
    multi_model_memory_budget_bytes: Any = DEFAULT_MULTI_MODEL_MEMORY_BUDGET_BYTES,
    metrics_interval_s: Any = DEFAULT_METRICS_INTERVAL_S,
    serverless_idle_s: Any = DEFAULT_SERVERLESS_IDLE_S,
    serverless_invocation_timeout_s: Any = DEFAULT_SERVERLESS_INVOCATION_TIMEOUT_S,
) -> None:
    """Collect every problem with :class:`LocalDataPlane`'s arguments into one ``UserError``."""
    import inspect

    from model_build.user_errors import UserError, did_you_mean, writable_folder_problem
    from triton_runtime.server import TritonServer

    problems: list[str] = []
    parsed = urllib.parse.urlparse(control_plane_endpoint_url) if isinstance(control_plane_endpoint_url, str) else None
    if parsed is None or parsed.scheme not in {"http", "https"} or not parsed.hostname:
        problems.append(
            f"control_plane_endpoint_url must be the emulator's URL, like http://localhost:5000 "
            f"(got {control_plane_endpoint_url!r}); `python -m rehearsal.demo --keep` prints it"
        )
    if not isinstance(host, str) or not is_loopback(host):
        problems.append(
            f"host must be a loopback address (127.0.0.1, ::1 or localhost) (got {host!r}): nothing the "
            "rehearsal starts listens beyond this machine"
        )
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        problems.append(f"port must be an integer 0-65535, 0 for a free port (got {port!r})")
    if work_dir is not None and not isinstance(work_dir, str | Path):
        problems.append(f"work_dir must be a folder path (got {work_dir!r}); leave it out for a temporary one")
    elif work_dir is not None and (problem := writable_folder_problem(work_dir, "work_dir")):
        problems.append(problem)
    if not isinstance(region, str) or not _REGION_RE.match(region):
        problems.append(f"region must be an AWS region name like us-east-1 (got {region!r})")
    if server_options is not None:
        if not isinstance(server_options, Mapping):
            problems.append(f"server_options must be a dict of TritonServer keyword arguments (got {server_options!r})")
        else:
            accepted = set(inspect.signature(TritonServer.__init__).parameters) - {"self"} - _BACKEND_SET_OPTIONS
            for key in server_options:
                if key in _BACKEND_SET_OPTIONS:
                    problems.append(
                        f"server_options[{key!r}] is set by each backend from the Model (its ModelDataUrl, "
                        "Environment and Mode); remove it"
                    )
                elif key not in accepted:
                    problems.append(
                        f"server_options[{key!r}] is not a TritonServer argument; allowed: "
                        f"{', '.join(sorted(accepted))}{did_you_mean(str(key), sorted(accepted))}"
                    )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        problems.append(f"seed must be an integer or None (got {seed!r})")
    if (
        isinstance(refresh_interval_s, bool)
        or not isinstance(refresh_interval_s, int | float)
        or not 0 < refresh_interval_s <= 3600
    ):
        problems.append(f"refresh_interval_s must be a number of seconds in (0, 3600] (got {refresh_interval_s!r})")
    if (
        isinstance(scale_in_cooldown_s, bool)
        or not isinstance(scale_in_cooldown_s, int | float)
        or not 0 < scale_in_cooldown_s <= 86400
    ):
        problems.append(
            f"scale_in_cooldown_s must be a number of seconds in (0, 86400] (got {scale_in_cooldown_s!r}); "
            f"leave it out for the seed's {DEFAULT_SCALE_IN_COOLDOWN_S:g} s"
        )
    if (
        isinstance(multi_model_memory_budget_bytes, bool)
        or not isinstance(multi_model_memory_budget_bytes, int)
        or multi_model_memory_budget_bytes <= 0
    ):
        problems.append(
            f"multi_model_memory_budget_bytes must be a positive number of bytes (got {multi_model_memory_budget_bytes!r}); "
            f"leave it out for {DEFAULT_MULTI_MODEL_MEMORY_BUDGET_BYTES // 1024**2} MiB"
        )
    if (
        isinstance(metrics_interval_s, bool)
        or not isinstance(metrics_interval_s, int | float)
        or not 0 < metrics_interval_s <= 3600
    ):
        problems.append(
            f"metrics_interval_s must be a number of seconds in (0, 3600] (got {metrics_interval_s!r}); "
            f"leave it out for {DEFAULT_METRICS_INTERVAL_S:g} s"
        )
    problems += serverless_argument_problems(idle_s=serverless_idle_s, invocation_timeout_s=serverless_invocation_timeout_s)
    if problems:
        raise UserError("Invalid LocalDataPlane arguments: " + "; ".join(problems))


def check_local_images(local_images: Any) -> None:
    """Refuse a ``local_images`` that is not image URI → non-empty command list (one message naming it).

    Raises:
        UserError: naming ``local_images``, the entry and the fix.
    """
    from model_build.user_errors import UserError

    if local_images is None:
        return
    fix = "pass {'<image uri>': [sys.executable, 'serve.py']}"
    if not isinstance(local_images, Mapping):
        raise UserError(
            f"local_images must be a dict of image URI to command (got {type(local_images).__name__}) — {fix}"
        )
    for image, command in local_images.items():
        if not isinstance(image, str) or not image:
            raise UserError(f"local_images key {image!r} must be an image URI (a non-empty str) — {fix}")
        if (
            isinstance(command, str)
            or not isinstance(command, Sequence)
            or not command
            or not all(isinstance(part, str) for part in command)
        ):
            raise UserError(f"local_images[{image!r}] must be a non-empty list of str (got {command!r}) — {fix}")


def check_control_plane_reachable(url: str, timeout_s: float = 5.0, *, label: str = "control plane") -> None:
    """Raise ``UserError`` unless something answers HTTP at ``url`` (any status will do).

    Args:
        url: The emulator's URL.
        timeout_s: How long to wait for an answer.
        label: What names the URL in the message (a flag or an argument).
    """
    from model_build.user_errors import UserError

    try:
        with urllib.request.urlopen(url, timeout=timeout_s):
            return
    except urllib.error.HTTPError:
        return  # it answered
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(
            f"{label} {url} does not answer ({reason}); start the emulator first "
            "(`python -m rehearsal.demo --keep` prints its URL, or use rehearsal.moto_server.MotoServer)"
        ) from None


class LocalDataPlane:
    """The SageMaker runtime API on ``http://HOST:PORT``, backed by the emulator and real Triton.

    Asynchronous endpoints take their settings from the endpoint config's ``AsyncInferenceConfig``;
    the local choices where it is silent: ``MaxConcurrentInvocationsPerInstance`` 4 when absent
    (``routing.DEFAULT_MAX_CONCURRENT_INVOCATIONS_PER_INSTANCE``), a request whose container dies
    under it runs at most 3 times (``async_inference.MAX_ATTEMPTS``), a failed SNS ``Publish`` is
    retried twice (counted in ``publish_retries``), and the queue lives in memory (requests not ended
    at stop are gone). See docs/rehearsal.md, "Asynchronous inference (``InvokeEndpointAsync``)".

    Args:
        control_plane_endpoint_url: The emulator (moto) URL the endpoints live in.
        host: The loopback interface to bind. Defaults to ``127.0.0.1``.
        port: The port. Defaults to 0 (a free port).
        work_dir: Where artifacts are downloaded and converted. Defaults to a temporary directory
            removed on stop.
        region: The emulator's region. Defaults to ``us-east-1``.
        server_options: Extra :class:`triton_runtime.server.TritonServer` keyword arguments for every
            backend (e.g. ``{"startup_timeout": 60}``). Defaults to none.
        seed: Seeds the weighted variant choice, for reproducible traffic splits. Defaults to
            unseeded.
        refresh_interval_s: Seconds between refresh passes of the routing table; a control-plane
            change is served within this plus one pass. Defaults to 1 s.
        scale_in_cooldown_s: Idle seconds after which an asynchronous endpoint's variant whose
            Application Auto Scaling target has ``MinCapacity`` 0 stops its Triton (scaled in to zero);
            the next request waits in the queue while it starts again. Defaults to 120 s (the seed's
            ``ScaleInCooldown``).
        multi_model_memory_budget_bytes: What each multi-model variant (``Mode: MultiModel``) keeps
            loaded, counted as the size of each TargetModel's local model files; the least recently
            used models are unloaded before a load would exceed it. Defaults to 2 GiB.
        metrics_interval_s: Seconds between two publishes of SageMaker's endpoint metrics to the
            control plane's CloudWatch (:mod:`rehearsal.data_plane.metrics` says which and what
            each measures); they are published once more at stop, and :meth:`flush_metrics`
            publishes at once. Defaults to 10 s.
        local_images: Image URI → the command that stands in for that (non-Triton) image in a
            multi-container Model (:mod:`rehearsal.data_plane.multi_container`): it must serve
            ``/ping`` and ``/invocations`` on ``$SAGEMAKER_BIND_TO_PORT``. Triton images run on the
            bundled Triton. Defaults to none.
        serverless_idle_s: Idle seconds after which a serverless variant without provisioned
            concurrency stops its Triton; the next request is a cold start
            (:mod:`rehearsal.data_plane.serverless`). Defaults to 600 s (a local choice: SageMaker
            does not document it).
        serverless_invocation_timeout_s: Seconds a serverless variant's container has to answer.
            Defaults to 60 s (SageMaker's).

    Raises:
        model_build.user_errors.UserError: An argument is invalid (every problem is listed).
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
        refresh_interval_s: float = DEFAULT_REFRESH_INTERVAL_S,
        scale_in_cooldown_s: float = DEFAULT_SCALE_IN_COOLDOWN_S,
        multi_model_memory_budget_bytes: int = DEFAULT_MULTI_MODEL_MEMORY_BUDGET_BYTES,
        metrics_interval_s: float = DEFAULT_METRICS_INTERVAL_S,
        local_images: Mapping[str, Sequence[str]] | None = None,
        serverless_idle_s: float = DEFAULT_SERVERLESS_IDLE_S,
        serverless_invocation_timeout_s: float = DEFAULT_SERVERLESS_INVOCATION_TIMEOUT_S,
    ) -> None:
        check_local_images(local_images)
        check_arguments(
            control_plane_endpoint_url=control_plane_endpoint_url,
            host=host,
            port=port,
            work_dir=work_dir,
            region=region,
            server_options=server_options,
            seed=seed,
            refresh_interval_s=refresh_interval_s,
            scale_in_cooldown_s=scale_in_cooldown_s,
            multi_model_memory_budget_bytes=multi_model_memory_budget_bytes,
            metrics_interval_s=metrics_interval_s,
            serverless_idle_s=serverless_idle_s,
            serverless_invocation_timeout_s=serverless_invocation_timeout_s,
        )
        self.serverless_idle_s = float(serverless_idle_s)
        self.serverless_invocation_timeout_s = float(serverless_invocation_timeout_s)
        self.metrics_interval_s = float(metrics_interval_s)
        self.scale_in_cooldown_s = float(scale_in_cooldown_s)
        self.multi_model_memory_budget_bytes = multi_model_memory_budget_bytes
        self.control_plane_endpoint_url = control_plane_endpoint_url
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._own_work_dir = work_dir is None
        self._work_dir = Path(work_dir) if work_dir is not None else None
        self._region = region
        self._server_options = dict(server_options or {})
        self._local_images = {image: list(command) for image, command in (local_images or {}).items()}
        self._seed = seed
        self.refresh_interval_s = float(refresh_interval_s)
        self._api: RuntimeApi | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._provisioner: ServerlessProvisioner | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """``http://HOST:PORT`` — pass it as ``endpoint_url`` of a ``sagemaker-runtime`` client."""
        if self._port is None:
            raise RuntimeError("LocalDataPlane is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def work_dir(self) -> Path:
        """The directory holding each backend's artifact, repository and ``triton.log``."""
        if self._work_dir is None:
            raise RuntimeError("LocalDataPlane has not been started")
        return self._work_dir

    @property
    def api(self) -> RuntimeApi:
        """The routes, the routing table and the backends (while running)."""
        if self._api is None:
            raise RuntimeError("LocalDataPlane is not running")
        return self._api

    @property
    def routing(self) -> RoutingTable:
        """The endpoint routing table (while running)."""
        return self.api.routing

    @property
    def backends(self) -> dict[tuple[str, str, str], ContainerBackend]:
        """``{(endpoint, endpoint config, variant): backend}`` started so far."""
        return self.api.backends

    def start(self) -> LocalDataPlane:
        """Start the HTTP service in a background thread; returns once it accepts connections.

        Raises:
            model_build.user_errors.UserError: Nothing answers at the control plane URL.
        """
        if self._thread is not None:
            raise RuntimeError("LocalDataPlane is already running")
        check_control_plane_reachable(self.control_plane_endpoint_url, label="control_plane_endpoint_url")
        if self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="local-data-plane-"))
        self._work_dir.mkdir(parents=True, exist_ok=True)
        control_plane = ControlPlane(self.control_plane_endpoint_url, region=self._region)
        routing = RoutingTable(control_plane, refresh_interval_s=self.refresh_interval_s)
        self._api = RuntimeApi(
            routing,
            self._work_dir,
            server_options=self._server_options,
            seed=self._seed,
            scale_in_cooldown_s=self.scale_in_cooldown_s,
            backend_options={
                "MultiModel": {"memory_budget_bytes": self.multi_model_memory_budget_bytes},
                "MultiContainer": {"local_images": self._local_images},
                "Serverless": {
                    "idle_s": self.serverless_idle_s,
                    "invocation_timeout_s": self.serverless_invocation_timeout_s,
                },
            },
            metrics_interval_s=self.metrics_interval_s,
        )
        self._provisioner = ServerlessProvisioner(self._api)
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
            self._api = None
            raise RuntimeError(f"LocalDataPlane failed to start: {failure[0]}") from failure[0]
        return self

    async def _serve_start(self) -> None:
        api = self.api
        app = web.Application(client_max_size=MAX_PAYLOAD_BYTES + 1024 * 1024)
        for route in self.routes():
            app.router.add_route(route.method, route.path, route.handler)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._requested_port)
        await site.start()
        # port 0 binds a free port; the runner reports what was actually bound.
        self._port = int(self._runner.addresses[0][1])
        api.client = ContainerClient(INVOCATION_TIMEOUT_S)
        api.async_inference.start()
        api.metrics.start()
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    def routes(self) -> list[Route]:
        """Return the route table (see :meth:`rehearsal.data_plane.routes.RuntimeApi.routes`)."""
        return self.api.routes()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval_s)
            try:
                await self._refresh_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("routing refresh failed")

    async def _refresh_once(self) -> RefreshPass:
        api = self.api
        refreshed = await asyncio.to_thread(api.routing.refresh)
        retired = api.retire_unrouted()
        if retired:
            # SageMaker stops the old fleet after an update or delete; so do we.
            await asyncio.gather(*(asyncio.to_thread(b.close) for b in retired), return_exceptions=True)
        if self._provisioner is not None:
            # Provisioned concurrency runs from deploy on, as SageMaker's does.
            await self._provisioner.run_once()
        return refreshed

    def refresh(self) -> RefreshPass:
        """Run one refresh pass now (blocking) instead of waiting for the next one."""
        if self._loop is None:
            raise RuntimeError("LocalDataPlane is not running")
        return asyncio.run_coroutine_threadsafe(self._refresh_once(), self._loop).result(timeout=120)

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
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        api = self.api
        await api.async_inference.stop()
        # Capture writes and shadow calls of requests already answered end before their servers stop.
        await api.post_invocation.drain()
        # The last interval's metrics (and the instance metrics while the servers still run).
        await asyncio.to_thread(api.metrics.stop)
        if api.client is not None:
            await api.client.close()
            api.client = None
        if self._provisioner is not None:
            await self._provisioner.stop()
        # Stop the servers in parallel: each waits for its process to exit.
        backends = api.take_all_backends()
        await asyncio.gather(*(asyncio.to_thread(b.close) for b in backends), return_exceptions=True)
        # Then any Triton this plane started that no backend holds any more (a retirement cut short by
        # the stop, say): nothing it started outlives it.
        lost = self.lost_servers()
        if lost:
            log.warning("stopping %d Triton server(s) no backend held: %s", len(lost), [str(s.model_repository) for s in lost])
            await asyncio.gather(*(asyncio.to_thread(s.stop) for s in lost), return_exceptions=True)

    def lost_servers(self) -> list[Any]:
        """Return the running Triton servers of this process whose model repository is under this plane's work dir."""
        from triton_runtime.server import running_servers

        if self._work_dir is None:
            return []
        root = self._work_dir.resolve()
        return [s for s in running_servers() if Path(s.model_repository).resolve().is_relative_to(root)]

    def __enter__(self) -> LocalDataPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def flush_metrics(self) -> int:
        """Publish the metrics recorded so far to the control plane's CloudWatch now; return the datapoints put.

        Call it before reading metrics back (e.g. :func:`rehearsal.data_plane.metrics.verify_metrics`).
        """
        return self.api.metrics.flush()

    def flush_data_capture(self, timeout_s: float = 120) -> dict[str, Any]:
        """Wait for the data capture writes and shadow calls in flight; return what they did so far.

        The answer has ``captured`` and ``shadow_invocations`` (``{"<endpoint>/<variant>": count}``),
        ``capture_failures``, ``shadow_failures`` and ``last_error`` (see
        :mod:`rehearsal.data_plane.capture`). Call it before reading capture files back.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("LocalDataPlane is not running")
        post = self.api.post_invocation
        asyncio.run_coroutine_threadsafe(post.drain(), loop).result(timeout=timeout_s)
        return post.stats.as_dict()

    def describe_backends(self) -> list[dict[str, Any]]:
        """Return one JSON-able summary per started backend (for the demo and debugging)."""
        return self.api.describe_backends()

    def limit_multi_model_memory(self, endpoint_name: str, budget_bytes: int) -> list[str]:
        """Give the endpoint's multi-model variants ``budget_bytes`` of model memory from now on.

        Models over the budget are unloaded at once, least recently used first, as on an instance
        whose memory fills; a later request for one loads it again. For the demo and tests of
        what an endpoint does under memory pressure.

        Returns:
            The TargetModels unloaded.

        Raises:
            UserError: ``budget_bytes`` is not a positive integer, or the endpoint has no started
                multi-model variant (the message names those that have one).
            RuntimeError: the data plane is not running.
        """
        from model_build.user_errors import UserError
        from rehearsal.data_plane.multi_model import MultiModelBackend

        if isinstance(budget_bytes, bool) or not isinstance(budget_bytes, int) or budget_bytes <= 0:
            raise UserError(
                f"Invalid LocalDataPlane.limit_multi_model_memory arguments: budget_bytes must be a positive "
                f"number of bytes (got {budget_bytes!r}); pass e.g. budget_bytes=512 * 1024**2"
            )
        loop = self._loop
        if loop is None:
            raise RuntimeError("LocalDataPlane is not running")
        backends = [
            backend
            for (endpoint, _, _), backend in list(self.backends.items())
            if endpoint == endpoint_name and isinstance(backend, MultiModelBackend)
        ]
        if not backends:
            started = sorted(
                {endpoint for (endpoint, _, _), b in self.backends.items() if isinstance(b, MultiModelBackend)}
            )
            raise UserError(
                f"Invalid LocalDataPlane.limit_multi_model_memory arguments: endpoint_name {endpoint_name!r} has no "
                f"started multi-model variant (started: {', '.join(started) or 'none'}); invoke it with a "
                "TargetModel first"
            )

        async def limit() -> list[str]:
            unloaded: list[str] = []
            for backend in backends:
                unloaded += await backend.limit_memory(budget_bytes)
            return unloaded

        return asyncio.run_coroutine_threadsafe(limit(), loop).result(timeout=120)

    def describe_async_queues(self) -> list[dict[str, Any]]:
        """Return one JSON-able summary per asynchronous endpoint queue (also ``GET /local/async-queues``).

        Each has ``ApproximateBacklogSize``, ``ApproximateBacklogSizePerInstance``,
        ``ApproximateAgeOfOldestRequest``, ``HasBacklogWithoutCapacity``, ``instances`` and, per variant,
        SageMaker's counters (``InvocationsProcessed``, ``InvocationFailures``, ``ExpiredRequests`` …).
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("LocalDataPlane is not running")

        async def read() -> list[dict[str, Any]]:
            return self.api.async_inference.describe()

        return asyncio.run_coroutine_threadsafe(read(), loop).result(timeout=30)
