"""moto's server as a local AWS control plane, in its own process.

A subprocess (rather than moto's in-process ``ThreadedMotoServer``) keeps the emulator's
state isolated per instance and lets every client — boto3 in this process, the CDK CLI
(Node.js) and its Python app subprocess — talk to one real HTTP service.

Example:
    >>> with MotoServer() as moto:                             # doctest: +SKIP
    ...     boto3.client("s3", **moto.boto3_kwargs()).list_buckets()
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from model_build.aws import is_region

#: moto's default account: the stack environment and ARNs must use it.
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
#: Dummy credentials: moto accepts any, but botocore and the CDK CLI refuse to sign without some.
_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
#: Variables that would win over the dummy credentials / endpoint and reach a real account.
_OVERRIDING_VARS = frozenset(
    {"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"}
)


def _check_arguments(*, port: object, region: object, start_timeout_s: object, log_path: object) -> None:
    from model_build.user_errors import UserError

    problems = []
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        problems.append(f"port must be an integer 1-65535, or None for a free port (got {port!r})")
    if not is_region(region):
        problems.append(f"region must be an AWS region name like us-east-1 (got {region!r})")
    if isinstance(start_timeout_s, bool) or not isinstance(start_timeout_s, int | float) or not start_timeout_s > 0:
        problems.append(f"start_timeout_s must be a number of seconds > 0 (got {start_timeout_s!r})")
    if log_path is not None and (not isinstance(log_path, str | os.PathLike) or Path(log_path).is_dir()):
        problems.append(f"log_path must be a file path, not a folder (got {log_path!r}); leave it out for a temporary one")
    if problems:
        raise UserError("Invalid MotoServer arguments: " + "; ".join(problems))


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now.

    Args:
        host: The interface to probe.

    Returns:
        A port number the OS considered unused (a race with other processes remains possible).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """moto's server on ``localhost:<free port>``, started as a subprocess.

    Args:
        port: The port to bind. Defaults to a free port chosen at start.
        region: The region clients are configured for. Defaults to ``us-east-1``.
        start_timeout_s: How long to wait for the server to answer. Defaults to 30 s.
        log_path: Where the server's stdout/stderr go. Defaults to a file in a temporary folder that
            is removed when the server stops (kept, and named in the error, when it fails to start).

    Raises:
        model_build.user_errors.UserError: An argument is invalid (every problem is listed), before
            any process starts.

    Attributes:
        account_id: moto's default account (``123456789012``).
    """

    account_id = ACCOUNT_ID

    def __init__(
        self,
        *,
        port: int | None = None,
        region: str = REGION,
        start_timeout_s: float = 30.0,
        log_path: Path | None = None,
    ) -> None:
        _check_arguments(port=port, region=region, start_timeout_s=start_timeout_s, log_path=log_path)
        self._requested_port = port
        self.region = region
        self._start_timeout_s = start_timeout_s
        self._log_path = Path(log_path) if log_path is not None else None
        self._log_dir: Path | None = None
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    @property
    def port(self) -> int:
        """The bound port (only while running)."""
        if self._port is None:
            raise RuntimeError("MotoServer is not running")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """``http://localhost:PORT``.

        The host must be the word ``localhost``: moto's CloudFormation resolves template
        URLs (``https://s3.../bucket/key`` rewritten by the CDK CLI to the endpoint) by host name.
        """
        return f"http://localhost:{self.port}"

    @property
    def log_path(self) -> Path:
        """The file that receives the server's output."""
        if self._log_path is None:
            raise RuntimeError("MotoServer has not been started")
        return self._log_path

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3, the AWS CLI and the CDK CLI at this server.

        Returns:
            ``AWS_ENDPOINT_URL``, dummy credentials, region and ``CDK_DEFAULT_ACCOUNT``/``REGION``.
            Merge them over ``os.environ`` for a subprocess.
        """
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **_DUMMY_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "CDK_DEFAULT_ACCOUNT": self.account_id,
            "CDK_DEFAULT_REGION": self.region,
        }

    def subprocess_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Return a full environment for a subprocess (the CDK CLI, a demo script) aimed at this server.

        Args:
            base: The environment to start from. Defaults to ``os.environ``.

        Returns:
            ``base`` with :meth:`env` merged in and every variable removed that would take
            precedence over it (a developer's profile, session token, service-specific
            endpoint URLs), so the rehearsal can never reach a real account.
        """
        merged = {
            k: v
            for k, v in (os.environ if base is None else base).items()
            if k not in _OVERRIDING_VARS and not k.startswith("AWS_ENDPOINT_URL_")
        }
        merged.update(self.env())
        return merged

    def boto3_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client(...)`` that target this server."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": _DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": _DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }

    def start(self) -> MotoServer:
        """Start the server and wait until it answers.

        Returns:
            ``self``.

        Raises:
            RuntimeError: If the process exits or does not answer within the timeout;
                the message carries the tail of its log.
        """
        if self._proc is not None:
            raise RuntimeError("MotoServer is already running")
        self._port = self._requested_port if self._requested_port is not None else free_port()
        if self._log_path is None or self._log_dir is not None:
            # A folder of its own, removed on stop: logs of finished runs do not pile up in /tmp.
            self._log_dir = Path(tempfile.mkdtemp(prefix="moto-server-"))
            self._log_path = self._log_dir / "moto.log"
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self._log_path, "wb")  # noqa: SIM115 - closed in stop()
        # Bind the loopback interface only (localhost resolves to it): parallel runs never
        # collide and nothing is exposed to the network.
        # moto's own server, with the extensions that run Python Lambda handlers and give custom
        # resources their whole lifecycle (rehearsal/moto_extensions.py).
        cmd = [sys.executable, "-m", "rehearsal.moto_extensions", "-H", "127.0.0.1", "-p", str(self._port)]
        # A session of its own: a Ctrl-C in the terminal (SIGINT to the whole foreground process
        # group) must not kill the emulator before the caller's teardown (`cdk destroy`) runs.
        self._proc = subprocess.Popen(
            cmd, stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self._log_dir = None  # keep the log of a failed start: the error names it
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self._start_timeout_s
        # /moto-api/ is moto's own dashboard route: it answers 200 as soon as the app serves.
        url = f"{self.endpoint_url}/moto-api/data.json"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"moto server exited with code {self._proc.returncode} (log {self._log_path}):\n{self._log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"moto server did not answer on {self.endpoint_url} within {self._start_timeout_s} s:\n"
            f"{self._log_tail()}"
        )

    def _log_tail(self, n_chars: int = 4000) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")[-n_chars:]

    def reset(self) -> None:
        """Drop all emulated resources (moto's ``/moto-api/reset``)."""
        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s). Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
        self._port = None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
