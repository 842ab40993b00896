"""Where the load generator's requests go: one interface, three targets.

* :class:`HttpTransport`: direct HTTP to Triton's SageMaker port (``<sagemaker_url>/invocations``)
  or to its KServe route, with aiohttp keep-alive connections.
* :class:`Boto3Transport`: boto3 ``sagemaker-runtime`` ``invoke_endpoint``, against a real
  endpoint or the local data plane (``endpoint_url``).

Transports are small picklable descriptions; each worker process calls :meth:`Transport.open`
to make its own client, because connection pools and boto3 clients do not cross a fork or
a pickle.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol


class Client(Protocol):
    """An open client of one worker process."""

    async def invoke(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        """Send one request; return status, body and headers (lower-cased names)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class Transport(Protocol):
    """A picklable description of a target."""

    def open(self, concurrency: int) -> Client:
        """Create a client for ``concurrency`` simultaneous requests (inside the running event loop)."""
        ...

    def describe(self) -> str:
        """Short human-readable target."""
        ...


@dataclass(frozen=True)
class HttpTransport:
    """POST to a URL over keep-alive HTTP/1.1 (aiohttp).

    Attributes:
        url: Full URL, e.g. ``http://127.0.0.1:8080/invocations``.
        timeout_s: Per-request timeout; a request slower than this counts as an error.
    """

    url: str
    timeout_s: float = 60.0

    @classmethod
    def sagemaker(cls, sagemaker_url: str, *, timeout_s: float = 60.0) -> HttpTransport:
        """Target the SageMaker protocol's ``/invocations`` under ``sagemaker_url``."""
        return cls(f"{sagemaker_url.rstrip('/')}/invocations", timeout_s)

    @classmethod
    def kserve(cls, http_url: str, model: str, *, timeout_s: float = 60.0) -> HttpTransport:
        """Triton's KServe v2 ``/v2/models/<model>/infer``."""
        return cls(f"{http_url.rstrip('/')}/v2/models/{model}/infer", timeout_s)

    def open(self, concurrency: int) -> Client:
        """Open an aiohttp session with one pooled connection per in-flight request."""
        return _AiohttpClient(self.url, concurrency, self.timeout_s)

    def describe(self) -> str:
        """Return the URL."""
        return self.url


class _AiohttpClient:
    def __init__(self, url: str, concurrency: int, timeout_s: float) -> None:
        import aiohttp

        self._url = url
        # limit = concurrency: one keep-alive connection per user, never a new TCP
        # handshake inside the timed loop. No Accept-Encoding: Triton's KServe route
        # gzips responses when offered, spending server CPU the benchmark would then
        # charge to the model; auto_decompress off for the same reason on our side.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max(1, concurrency), force_close=False),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def invoke(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        async with self._session.post(self._url, data=body, headers=headers) as response:
            data = await response.read()
            return response.status, data, {k.lower(): v for k, v in response.headers.items()}

    async def close(self) -> None:
        await self._session.close()


@dataclass(frozen=True)
class Boto3Transport:
    """``sagemaker-runtime`` ``invoke_endpoint`` through boto3.

    boto3 is synchronous, so calls run on a thread pool with one thread per in-flight
    request; botocore's connection pool is sized to match (its default of 10 would queue
    requests inside the client and inflate latency).

    Attributes:
        endpoint_name: SageMaker endpoint name.
        endpoint_url: Override for the runtime URL (the local data plane); ``None`` for AWS.
        region_name: AWS region.
        target_model: ``TargetModel`` for multi-model endpoints.
        aws_access_key_id: Explicit credentials (the local data plane accepts any); ``None``
            uses boto3's usual chain.
        aws_secret_access_key: Secret for ``aws_access_key_id``.
    """

    endpoint_name: str
    endpoint_url: str | None = None
    region_name: str = "us-east-1"
    target_model: str | None = None
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)

    def open(self, concurrency: int) -> Client:
        """Open a boto3 client plus a thread pool of ``concurrency`` threads."""
        return _Boto3Client(self, concurrency)

    def describe(self) -> str:
        """Endpoint name and URL."""
        return f"invoke_endpoint({self.endpoint_name}) at {self.endpoint_url or 'AWS'}"


class _Boto3Client:
    def __init__(self, spec: Boto3Transport, concurrency: int) -> None:
        import boto3
        from botocore.config import Config

        self._spec = spec
        credentials = (
            {"aws_access_key_id": spec.aws_access_key_id, "aws_secret_access_key": spec.aws_secret_access_key}
            if spec.aws_access_key_id
            else {}
        )
        self._client = boto3.client(
            "sagemaker-runtime",
            endpoint_url=spec.endpoint_url,
            region_name=spec.region_name,
            # retries off: a retried call would hide an error and double-count latency.
            config=Config(max_pool_connections=max(10, concurrency), retries={"max_attempts": 1}),
            **credentials,
        )
        self._pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="invoke")

    def _call(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {
            "EndpointName": self._spec.endpoint_name,
            "Body": body,
            "ContentType": headers.get("Content-Type", "application/json"),
        }
        if self._spec.target_model:
            kwargs["TargetModel"] = self._spec.target_model
        try:
            response = self._client.invoke_endpoint(**kwargs)
        except ClientError as error:
            meta = error.response.get("ResponseMetadata", {})
            return int(meta.get("HTTPStatusCode", 500)), str(error).encode(), {}
        data = response["Body"].read()
        return 200, data, {"content-type": response.get("ContentType", "")}

    async def invoke(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, body, headers)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
