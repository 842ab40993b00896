"""A lean HTTP/1.1 keep-alive client for the hop from the data plane to its containers.

Every invocation crosses this hop, so its CPU cost is part of the data plane's overhead (measured
whole by ``bench/bench_data_plane.py``). aiohttp's client builds a request object, cookie jar
lookups, header multidicts, tracing hooks and a response object per call; the hop needs none of
it: one known container on loopback, ``POST`` with a ``Content-Length`` body, and answers with a
``Content-Length`` (Triton) or chunked body. So each
connection is an :class:`asyncio.Protocol` that writes the request in one ``send`` and parses the
answer incrementally, and idle connections are pooled per container.

:meth:`ContainerClient.post_stream` sends a body from an async iterator of chunks (an async
inference input streamed from S3), writing each chunk only once the previous one has left the
socket buffer (the transport's flow control), so a 1 GB input never sits in memory whole.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit


class ContainerConnectionError(ConnectionError):
    """The container closed the connection or sent something that is not HTTP/1.1."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, dict[str, str], bytes]] | None = None
        self._head: tuple[int, dict[str, str]] | None = None
        self._body_start = 0
        self._length: int | None = None
        self._chunked = False
        self.reusable = True
        self.closed = False
        #: Whether no request has used this connection yet (a reused one may have gone stale).
        self.fresh = True
        self._writable: asyncio.Event | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.Event()
        self._writable.clear()

    def resume_writing(self) -> None:
        if self._writable is not None:
            self._writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.resume_writing()
        if self._waiter is not None and not self._waiter.done():
            if self._head is not None and self._length is None and not self._chunked:
                # A body delimited by the end of the connection (HTTP/1.0 style).
                status, headers = self._head
                self._waiter.set_result((status, headers, bytes(self._buffer[self._body_start :])))
            else:
                self._waiter.set_exception(
                    ContainerConnectionError(f"the container closed the connection{f': {exc}' if exc else ''}")
                )

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.reusable = False  # an answer nobody asked for: never reuse this connection
            return
        self._buffer += data
        try:
            self._parse()
        except ContainerConnectionError as exc:
            self.reusable = False
            self._waiter.set_exception(exc)

    # -- request/response -------------------------------------------------------------------

    def request(self, head: bytes, body: bytes) -> asyncio.Future[tuple[int, dict[str, str], bytes]]:
        assert self.transport is not None
        self._buffer.clear()
        self._head, self._length, self._chunked, self._body_start = None, None, False, 0
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head + body)
        return self._waiter

    async def request_streamed(
        self, head: bytes, chunks: AsyncIterator[bytes]
    ) -> asyncio.Future[tuple[int, dict[str, str], bytes]]:
        """Write ``head`` then each chunk, waiting while the socket buffer is full.

        Stops writing early when the container answers (or closes) before the body is complete:
        an early error answer is the answer.
        """
        waiter = self.request(head, b"")
        assert self.transport is not None
        async for chunk in chunks:
            if waiter.done() or self.closed:
                self.reusable = False  # the body was not sent whole: the connection is out of step
                break
            self.transport.write(chunk)
            if self._writable is not None and not self._writable.is_set():
                await self._writable.wait()
        return waiter

    def _parse(self) -> None:
        assert self._waiter is not None
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > 64 * 1024:
                    raise ContainerConnectionError("the container's response headers exceed 64 KiB")
                return
            lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ContainerConnectionError(f"the container answered something that is not HTTP: {lines[0][:100]!r}")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            self._head = (int(parts[1]), headers)
            self._body_start = end + 4
            if headers.get("connection", "").lower() == "close" or parts[0] == "HTTP/1.0":
                self.reusable = False
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._chunked = True
            elif "content-length" in headers:
                self._length = int(headers["content-length"])
            elif self._head[0] in (204, 304) or 100 <= self._head[0] < 200:
                self._length = 0
            else:
                self.reusable = False  # delimited by connection close
        status, headers = self._head
        if self._chunked:
            body = self._dechunk()
            if body is not None:
                self._waiter.set_result((status, headers, body))
        elif self._length is not None and len(self._buffer) - self._body_start >= self._length:
            start = self._body_start
            self._waiter.set_result((status, headers, bytes(self._buffer[start : start + self._length])))

    def _dechunk(self) -> bytes | None:
        """Return the whole body once the last chunk arrived, else None."""
        out = bytearray()
        pos = self._body_start
        buf = self._buffer
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            try:
                size = int(bytes(buf[pos:line_end]).split(b";", 1)[0], 16)
            except ValueError:
                raise ContainerConnectionError("the container sent a malformed chunk") from None
            if size == 0:
                # The last chunk, then optional trailers, then an empty line.
                return bytes(out) if buf.find(b"\r\n\r\n", line_end) >= 0 else None
            start = line_end + 2
            if len(buf) < start + size + 2:
                return None
            out += buf[start : start + size]
            pos = start + size + 2


class ContainerClient:
    """Keep-alive ``POST`` to containers on this machine, idle connections pooled per container.

    Args:
        timeout_s: Seconds a container has to answer one call (SageMaker gives 60).
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._idle: dict[tuple[str, int], collections.deque[_Connection]] = {}
        self._closed = False

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout_s: float | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """``POST`` ``body`` to ``url``; return the status, the headers (lower-case names) and the body.

        Args:
            url: The container URL.
            body: The request body.
            headers: Request headers.
            timeout_s: Seconds the container has to answer. Defaults to ``timeout_s`` of the client.

        Raises:
            TimeoutError: No complete answer within the timeout.
            ContainerConnectionError: The container closed the connection or did not speak HTTP.
            OSError: The container does not accept connections.
        """
        if self._closed:
            raise ContainerConnectionError("the data plane is stopping")
        key, head = self._head(url, len(body), headers)
        # A pooled connection may have been closed by the container while idle: one retry on a new one.
        for attempt in range(2):
            conn = await self._acquire(key)
            try:
                status, response_headers, data = await asyncio.wait_for(conn.request(head, body), timeout_s or self.timeout_s)
            except ContainerConnectionError:
                self._discard(conn)
                if attempt == 0 and not conn.fresh:
                    continue
                raise
            except BaseException:
                self._discard(conn)
                raise
            self._release(key, conn)
            return status, response_headers, data
        raise AssertionError("unreachable")

    async def post_stream(
        self,
        url: str,
        chunks: AsyncIterator[bytes],
        length: int,
        headers: Mapping[str, str],
        *,
        timeout_s: float | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """``POST`` a body of ``length`` bytes read from ``chunks``; answer as :meth:`post` does.

        Always a new connection (a stream cannot be replayed on a stale pooled one); kept for reuse
        when the exchange completes cleanly.

        Args:
            url: The container URL.
            chunks: The body, in order; their lengths must add up to ``length``.
            length: ``Content-Length``.
            headers: Request headers.
            timeout_s: Seconds for the whole exchange (sending included). Defaults to ``timeout_s``
                of the client.

        Raises:
            TimeoutError: No complete answer within the timeout.
            ContainerConnectionError: The container closed the connection or did not speak HTTP.
            OSError: The container does not accept connections.
        """
        if self._closed:
            raise ContainerConnectionError("the data plane is stopping")
        key, head = self._head(url, length, headers)
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, key[0], key[1])

        async def exchange() -> tuple[int, dict[str, str], bytes]:
            waiter = await conn.request_streamed(head, chunks)
            return await waiter

        try:
            status, response_headers, data = await asyncio.wait_for(exchange(), timeout_s or self.timeout_s)
        except BaseException:
            self._discard(conn)
            raise
        conn.fresh = False
        self._release(key, conn)
        return status, response_headers, data

    def _head(self, url: str, length: int, headers: Mapping[str, str]) -> tuple[tuple[str, int], bytes]:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {length}"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in {"host", "content-length", "connection"}]
        return (host, port), ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _acquire(self, key: tuple[str, int]) -> _Connection:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.reusable:
                conn.fresh = False
                return conn
            self._discard(conn)
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, key[0], key[1])
        return conn

    def _release(self, key: tuple[str, int], conn: _Connection) -> None:
        if self._closed or conn.closed or not conn.reusable:
            self._discard(conn)
            return
        self._idle.setdefault(key, collections.deque()).append(conn)

    @staticmethod
    def _discard(conn: _Connection) -> None:
        if conn.transport is not None and not conn.closed:
            conn.transport.close()

    async def close(self) -> None:
        """Close every idle connection; later calls fail."""
        self._closed = True
        for idle in self._idle.values():
            while idle:
                self._discard(idle.pop())
        self._idle.clear()
