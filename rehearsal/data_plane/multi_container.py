"""Multi-container Models (``Containers`` + ``InferenceExecutionConfig``): direct invocation and serial pipelines.

What SageMaker does (Developer Guide, "Invoke a multi-container endpoint with direct invocation",
"Inference pipelines") and what :class:`MultiContainerBackend` does locally:

* ``Direct``: each request names one container with ``TargetContainerHostname``; only that container
  sees it. A request without it, or naming a hostname the Model does not have, is a
  ``ValidationError``.
* ``Serial``: the request goes to the first container; each container's response body is the next
  container's request body, sent with the previous response's ``Content-Type``; the last
  container's response is the answer. ``TargetContainerHostname`` is refused.

Each container runs as its own local server: a Triton image on the bundled Triton (a
:class:`RealTimeBackend` per container, from its ``ModelDataUrl`` and ``Environment``); any other
image on the local stand-in command given for it (``LocalDataPlane(local_images={image: command})``),
started with ``SAGEMAKER_BIND_TO_PORT`` set, as SageMaker's container contract has it. An image with
neither is a ``ModelError`` naming the image and the argument to pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rehearsal.data_plane.backends import (
    BACKENDS,
    ContainerBackend,
    Invocation,
    InvocationResult,
    RealTimeBackend,
)
from rehearsal.data_plane.container_client import ContainerClient
from rehearsal.data_plane.errors import validation_error
from rehearsal.data_plane.routing import ControlPlane, VariantRoute

#: The image name of SageMaker's Triton DLC: containers of it run on the local Triton.
TRITON_IMAGE_NAME = "sagemaker-tritonserver"
#: How long a local stand-in may take to answer ``/ping``.
STAND_IN_STARTUP_TIMEOUT_S = 30.0


def is_triton_image(image: str) -> bool:
    """Whether ``image`` is SageMaker's Triton DLC (``.../sagemaker-tritonserver:<tag>``)."""
    return image.rpartition("/")[2].partition(":")[0] == TRITON_IMAGE_NAME


class StandInServer:
    """A local process standing in for a container image: SageMaker's contract on a loopback port.

    Args:
        command: the command line; it must serve ``GET /ping`` and ``POST /invocations`` on the port
            in ``SAGEMAKER_BIND_TO_PORT``.
        env: the container's ``Environment``.
        log_path: where its output goes.
    """

    def __init__(self, command: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.command = list(command)
        self.env = dict(env)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0

    @property
    def sagemaker_url(self) -> str:
        """Base URL of ``/ping`` and ``/invocations``."""
        return f"http://127.0.0.1:{self._port}"

    http_url = sagemaker_url

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the process and wait for ``/ping`` to answer 200.

        Raises:
            RuntimeError: it exited or did not answer within :data:`STAND_IN_STARTUP_TIMEOUT_S`.
        """
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self._port = probe.getsockname()[1]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "SAGEMAKER_BIND_TO_PORT": str(self._port)}
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self.command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + STAND_IN_STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(self.command)} exited with {self._process.returncode}: "
                    f"{self.log_path.read_text(errors='replace')[-1000:]}"
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.sagemaker_url}/ping", timeout=1) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"{' '.join(self.command)} did not answer /ping in {STAND_IN_STARTUP_TIMEOUT_S:.0f} s"
        )

    def stop(self, timeout: float = 10) -> None:
        """Stop the process (and its group)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class StandInBackend(RealTimeBackend):
    """One non-Triton container, run as its local stand-in command; ``POST /invocations``."""

    mode = "StandIn"

    def __init__(self, *args: Any, command: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command = list(command)

    def _start(self) -> Any:
        server = StandInServer(self.command, self.container_environment(), self._work_dir / "container.log")
        server.start()
        return server


class MultiContainerBackend(ContainerBackend):
    """A variant whose Model has several containers: one local server per container.

    Args:
        local_images: image URI → the command that stands in for it locally (non-Triton images).
        *args, **kwargs: :class:`ContainerBackend`'s.
    """

    mode = "MultiContainer"

    def __init__(
        self,
        endpoint_name: str,
        config_name: str,
        variant: VariantRoute,
        control_plane: ControlPlane,
        work_dir: Path,
        server_options: Mapping[str, Any] | None = None,
        *,
        local_images: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(endpoint_name, config_name, variant, control_plane, work_dir, server_options)
        images = dict(local_images or {})
        self.children: dict[str, ContainerBackend] = {}
        for index, container in enumerate(variant.containers):
            route = dataclasses.replace(
                variant,
                image=container.image,
                model_data_url=container.model_data_url,
                environment=dict(container.environment),
                containers=(),
            )
            child_dir = work_dir / f"{index}-{container.hostname}"
            if container.image in images:
                child: ContainerBackend = StandInBackend(
                    endpoint_name, config_name, route, control_plane, child_dir, server_options,
                    command=images[container.image],
                )  # fmt: skip
            else:
                child = RealTimeBackend(
                    endpoint_name, config_name, route, control_plane, child_dir, server_options
                )
            self.children[container.hostname] = child
        self._unservable = [
            c for c in variant.containers if c.image not in images and not is_triton_image(c.image)
        ]

    @property
    def server(self) -> Any:
        """The first container's server (its summary stands for the variant's)."""
        first = next(iter(self.children.values()), None)
        return first.server if first is not None else None

    def describe(self) -> dict[str, Any]:
        """Return the containers, their images and their servers' URLs."""
        return {
            "inference_execution_mode": self.variant.inference_execution_mode,
            "containers": [
                {
                    "hostname": hostname,
                    "image": child.variant.image,
                    "url": child.server.sagemaker_url if child.server is not None else None,
                    "invocations": child.invocations,
                }
                for hostname, child in self.children.items()
            ],
        }

    def check(self, invocation: Invocation) -> None:
        """Apply SageMaker's rules for ``TargetContainerHostname`` and ``TargetModel``."""
        if invocation.target_model is not None:
            raise validation_error(
                f"Endpoint {self.endpoint_name} is not a multi-model endpoint and does not support target model header."
            )
        target = invocation.target_container_hostname
        if self.variant.inference_execution_mode == "Direct":
            if target is None:
                raise validation_error(
                    f"Endpoint {self.endpoint_name} is a multi-container endpoint with direct invocation: "
                    f"TargetContainerHostname is required (one of {', '.join(self.children)})."
                )
            if target not in self.children:
                raise validation_error(
                    f"Target container hostname {target} is not found in endpoint {self.endpoint_name}; it has "
                    f"{', '.join(self.children)}."
                )
        elif target is not None:
            raise validation_error(
                f"Endpoint {self.endpoint_name} is not a multi-container endpoint with direct invocation and does "
                f"not support target container hostname header (TargetContainerHostname {target})."
            )

    async def container_path(self, invocation: Invocation) -> str:
        """Not used: each container is invoked by its own backend."""
        return "/invocations"

    async def ensure_started(self) -> None:
        """Start every container (concurrently); the first failure is the variant's."""
        if self._unservable:
            image = self._unservable[0].image
            raise self._error(
                500,
                f"container {self._unservable[0].hostname} runs image {image}, which has no local stand-in: pass "
                f"LocalDataPlane(local_images={{{image!r}: [command...]}}) with a command that serves /ping and "
                "/invocations on $SAGEMAKER_BIND_TO_PORT",
            )
        await asyncio.gather(*(child.ensure_started() for child in self.children.values()))

    async def invoke(self, client: ContainerClient, invocation: Invocation) -> InvocationResult:
        """Route to the target container (Direct) or chain every container (Serial)."""
        self.check(invocation)
        self.in_flight += 1
        try:
            await self.ensure_started()
            self.invocations += 1
            if self.variant.inference_execution_mode == "Direct":
                assert invocation.target_container_hostname is not None
                target = self.children[invocation.target_container_hostname]
                result = await target.invoke(
                    client, dataclasses.replace(invocation, target_container_hostname=None)
                )
                result.variant_name = self.variant.name
                return result
            return await self._chain(client, invocation)
        finally:
            self.in_flight -= 1
            self.last_active = time.monotonic()

    async def _chain(self, client: ContainerClient, invocation: Invocation) -> InvocationResult:
        """Send the request through the pipeline: each answer is the next container's request."""
        body, headers = invocation.body, dict(invocation.headers)
        started = time.perf_counter()
        result: InvocationResult | None = None
        for child in self.children.values():
            result = await child.invoke(client, dataclasses.replace(invocation, body=body, headers=headers))
            body = result.body
            content_type = result.headers.get("Content-Type")
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            if content_type:
                headers["Content-Type"] = content_type
        assert result is not None
        result.variant_name = self.variant.name
        result.model_latency_s = time.perf_counter() - started
        return result

    async def is_alive(self) -> bool:
        """Whether every started container accepts connections."""
        children = [c for c in self.children.values() if c.server is not None]
        return bool(children) and all(await asyncio.gather(*(c.is_alive() for c in children)))

    async def recover(self) -> bool:
        """Replace each dead container."""
        return any(await asyncio.gather(*(c.recover() for c in self.children.values())))

    async def scale_in(self) -> bool:
        """Return False: a real-time multi-container variant does not scale to zero."""
        return False

    def close(self) -> None:
        """Stop every container (blocking)."""
        for child in self.children.values():
            child.close()


BACKENDS[MultiContainerBackend.mode] = MultiContainerBackend


def stand_in_command(module_or_script: str | Path) -> list[str]:
    """Return the command running a Python stand-in with this interpreter."""
    return [sys.executable, os.fspath(module_or_script)]
