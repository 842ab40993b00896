"""Install, locate and run the real Triton Inference Server (2.51, from the ``nvidia-pytriton`` wheel).

The ``nvidia-pytriton`` wheel bundles a complete ``tritonserver`` binary with the python backend. It is
*unpacked*, never pip-installed: its ``numpy<2`` pin would downgrade the toolchain's numpy 2.

This module is the one home for Triton process management: the local SageMaker data plane, the tuning
benchmark and the multi-model routes all start servers through :class:`TritonServer`.

Loopback only: the HTTP and metrics ports bind 127.0.0.1 through Triton's own flags, gRPC is off, and the
SageMaker port, which Triton 2.51 binds to 0.0.0.0 with no flag to change it, is kept on 127.0.0.1 by a
tiny ``LD_PRELOAD`` library (``loopback_bind.c``, built by :func:`build_loopback_shim` at ``make setup``
or on first use with the machine's C compiler) that rewrites ``bind()`` of the wildcard addresses to
loopback in the ``tritonserver`` process only.

Usage::

    python -m triton_runtime install --dest .triton     # what `make setup` runs

    with TritonServer(repo, default_model="bert") as server:
        server.invocations({"inputs": [...]})
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

PYTRITON_VERSION = "0.7.0"
"""The ``nvidia-pytriton`` wheel version; 0.7.0 bundles Triton 2.51."""

DEFAULT_HOME = Path(".triton")
"""Where ``make setup`` unpacks the server, relative to the project root."""

TRITON_HOME_ENV = "TRITON_HOME"

_PROJECT_ROOT = Path(__file__).resolve().parents[1]
_SHIM_SOURCE = Path(__file__).resolve().parent / "loopback_bind.c"
SHIM_FILENAME = "libtriton_loopback_bind.so"
"""The compiled shim, next to the unpacked server (``.triton/libtriton_loopback_bind.so``)."""
LOOPBACK_ONLY_ENV = "TRITON_LOOPBACK_ONLY"
"""Set to 0 to let Triton's SageMaker port bind 0.0.0.0 (an isolated machine without a C compiler)."""
_TARGET_MODEL_HEADER = "X-Amzn-SageMaker-Target-Model"  # SageMaker's multi-model routing header
_MARKER = "INSTALLED"  # written last inside the unpacked tree: its presence means "complete"
_WHEEL_GLOB = f"nvidia_pytriton-{PYTRITON_VERSION}-*.whl"


class TritonNotInstalledError(RuntimeError):
    """The unpacked Triton server is not where it was looked for."""


class LoopbackShimError(RuntimeError):
    """The ``bind()`` shim that keeps Triton's SageMaker port on loopback cannot be built."""


class TritonStartupError(RuntimeError):
    """``tritonserver`` exited or did not become ready; the message carries the tail of its log."""


@dataclass(frozen=True)
class TritonInstallation:
    """Paths of an unpacked Triton server.

    Attributes:
        home: The directory the wheel was unpacked into.
        binary: ``pytriton/tritonserver/bin/tritonserver``.
        backends_dir: The ``--backend-directory`` (holds ``python/`` with the stub).
        libs_dir: ``nvidia_pytriton.libs``; must be on ``LD_LIBRARY_PATH``.
        stub_python: The ``X.Y`` Python version of the stub copied into ``backends/python``.
    """

    home: Path
    binary: Path
    backends_dir: Path
    libs_dir: Path
    stub_python: str

    @classmethod
    def at(cls, home: Path) -> TritonInstallation:
        """Describe the layout of an unpacked wheel at ``home`` (nothing is checked)."""
        home = Path(home).resolve()
        marker = home / _MARKER
        stub_python = marker.read_text().strip() if marker.is_file() else ""
        server = home / "pytriton" / "tritonserver"
        return cls(
            home=home,
            binary=server / "bin" / "tritonserver",
            backends_dir=server / "backends",
            libs_dir=home / "nvidia_pytriton.libs",
            stub_python=stub_python,
        )

    def is_complete(self) -> bool:
        """Whether the unpack finished and the stub is in place."""
        return (
            bool(self.stub_python)
            and os.access(self.binary, os.X_OK)
            and os.access(self.backends_dir / "python" / "triton_python_backend_stub", os.X_OK)
            and self.libs_dir.is_dir()
        )


def _python_version(python_executable: str | os.PathLike[str] | None = None) -> str:
    """``X.Y`` of ``python_executable`` (this interpreter when None)."""
    if python_executable is None or Path(python_executable) == Path(sys.executable):
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    out = subprocess.run(
        [os.fspath(python_executable), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def _default_wheel_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "triton-sagemaker-iac" / "wheels"


def _fetch_wheel(cache_dir: Path) -> Path:
    """Return the cached wheel in ``cache_dir``, downloading it with pip when absent."""
    cached = sorted(cache_dir.glob(_WHEEL_GLOB))
    if cached:
        return cached[-1]
    cache_dir.mkdir(parents=True, exist_ok=True)
    # --no-deps: the wheel's own dependencies (numpy<2, ...) are not needed to run the server binary.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            f"nvidia-pytriton=={PYTRITON_VERSION}",
            "-d",
            os.fspath(cache_dir),
        ],
        check=True,
    )
    cached = sorted(cache_dir.glob(_WHEEL_GLOB))
    if not cached:
        raise RuntimeError(f"pip download left no {_WHEEL_GLOB} in {cache_dir}")
    return cached[-1]


def _make_executable(path: Path) -> None:
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def install(
    dest: Path = DEFAULT_HOME,
    *,
    wheel: Path | None = None,
    cache_dir: Path | None = None,
    python_executable: str | os.PathLike[str] | None = None,
) -> TritonInstallation:
    """Unpack the Triton server from the ``nvidia-pytriton`` wheel into ``dest``.

    Idempotent (a complete installation for the same Python is left alone) and atomic (the wheel is
    unpacked into a temporary sibling directory that is renamed into place), so an interrupted run or a
    concurrent one never leaves a half-written server behind.

    Args:
        dest: Target directory. Defaults to ``.triton``.
        wheel: A local ``nvidia_pytriton-0.7.0-*.whl`` (for machines without network). Defaults to the
            copy in ``cache_dir``, downloaded with ``pip download --no-deps`` when absent.
        cache_dir: Where downloaded wheels are kept. Defaults to
            ``$XDG_CACHE_HOME/triton-sagemaker-iac/wheels``.
        python_executable: The interpreter the python backend stub will run models with (its ``X.Y``
            picks the stub). Defaults to this interpreter.

    Returns:
        The installation's paths.
    """
    dest = Path(dest)
    version = _python_version(python_executable)
    current = TritonInstallation.at(dest)
    if current.is_complete() and current.stub_python == version:
        return current

    wheel_path = Path(wheel) if wheel is not None else _fetch_wheel(cache_dir or _default_wheel_cache())
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    tmp.chmod(0o755)  # mkdtemp makes it 0700; the result should read like any unpacked package
    try:
        with zipfile.ZipFile(wheel_path) as archive:
            archive.extractall(tmp)
        unpacked = TritonInstallation.at(tmp)
        stub_src = unpacked.home / "pytriton" / "tritonserver" / "python_backend_stubs" / version
        stub_src = stub_src / "triton_python_backend_stub"
        if not stub_src.is_file():
            raise RuntimeError(
                f"the nvidia-pytriton {PYTRITON_VERSION} wheel has no stub for Python {version}"
            )
        # zipfile drops the exec bits the wheel's RECORD does not restore.
        _make_executable(unpacked.binary)
        for stub in (unpacked.home / "pytriton" / "tritonserver" / "python_backend_stubs").glob("*/*stub"):
            _make_executable(stub)
        # The python backend looks for its stub next to libtriton_python.so; the stub's RUNPATH
        # ($ORIGIN/../../../../nvidia_pytriton.libs) resolves the same from both directories.
        shutil.copy2(stub_src, unpacked.backends_dir / "python" / "triton_python_backend_stub")
        (tmp / _MARKER).write_text(version + "\n")
        current = TritonInstallation.at(dest)
        if current.is_complete() and current.stub_python == version:
            return current  # a concurrent install finished first; keep it, drop ours
        if dest.exists():
            # Incomplete or for another Python: replace it whole.
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return TritonInstallation.at(dest)


def locate(home: Path | None = None) -> TritonInstallation:
    """Find the unpacked Triton server.

    Args:
        home: Where to look. Defaults to ``$TRITON_HOME``, else ``.triton`` in the project root, else
            ``.triton`` in the working directory.

    Returns:
        The installation's paths.

    Raises:
        TritonNotInstalledError: Nothing complete was found; the message says to run ``make setup``.
    """
    if home is not None:
        candidates = [Path(home)]
    elif os.environ.get(TRITON_HOME_ENV):
        candidates = [Path(os.environ[TRITON_HOME_ENV])]
    else:
        candidates = [_PROJECT_ROOT / DEFAULT_HOME, Path.cwd() / DEFAULT_HOME]
    for candidate in candidates:
        installation = TritonInstallation.at(candidate)
        if installation.is_complete():
            return installation
    looked = ", ".join(str(c) for c in candidates)
    raise TritonNotInstalledError(
        f"No Triton server found (looked in {looked}). Run `make setup` (or "
        f"`python -m triton_runtime install --dest .triton`), or set {TRITON_HOME_ENV} to an unpacked "
        f"nvidia-pytriton {PYTRITON_VERSION} wheel."
    )


def _c_compiler() -> str | None:
    for candidate in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if candidate and shutil.which(candidate):
            return candidate
    return None


def build_loopback_shim(dest_dir: Path, *, force: bool = False) -> Path:
    """Compile ``loopback_bind.c`` into ``dest_dir/libtriton_loopback_bind.so`` (skipped when up to date).

    The library is preloaded into ``tritonserver`` so that its SageMaker frontend, which binds
    0.0.0.0 with no flag to change it, listens on 127.0.0.1 (see ``loopback_bind.c``). It is
    written atomically (temporary file + rename), so concurrent builds never leave a torn file.

    Args:
        dest_dir: Where the library goes (usually the unpacked server, ``.triton``).
        force: Rebuild even when the library is newer than its source. Defaults to False.

    Returns:
        The library's path.

    Raises:
        LoopbackShimError: No C compiler (``$CC``, ``cc``, ``gcc``, ``clang``) or the build failed.
    """
    dest_dir = Path(dest_dir)
    target = dest_dir / SHIM_FILENAME
    if not force and target.is_file() and target.stat().st_mtime >= _SHIM_SOURCE.stat().st_mtime:
        return target
    compiler = _c_compiler()
    if compiler is None:
        raise LoopbackShimError(
            "No C compiler found (looked for $CC, cc, gcc, clang) to build the loopback bind() shim that "
            "keeps Triton's SageMaker port on 127.0.0.1. Install one (e.g. `apt-get install gcc`) and run "
            f"`make setup`, or, on a machine no network can reach, set {LOOPBACK_ONLY_ENV}=0 to let that "
            "port bind 0.0.0.0."
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{SHIM_FILENAME}.", suffix=".tmp", dir=dest_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        result = subprocess.run(
            [compiler, "-shared", "-fPIC", "-O2", "-Wall", "-o", os.fspath(tmp), os.fspath(_SHIM_SOURCE), "-ldl"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LoopbackShimError(
                f"`{compiler}` could not build the loopback bind() shim from {_SHIM_SOURCE}; install a working C "
                "toolchain with the C library headers (e.g. `apt-get install build-essential`) and run `make setup`, "
                f"or, on a machine no network can reach, set {LOOPBACK_ONLY_ENV}=0. The compiler said:\n"
                f"{(result.stdout + result.stderr)[-2000:]}"
            )
        tmp.chmod(0o755)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def loopback_only_enabled() -> bool:
    """Whether Triton's SageMaker port must be kept on loopback (``TRITON_LOOPBACK_ONLY``, default yes)."""
    return os.environ.get(LOOPBACK_ONLY_ENV, "1").strip().lower() not in {"0", "false", "no"}


_RUNNING: set[TritonServer] = set()
_RUNNING_LOCK = threading.Lock()


def running_servers() -> list[TritonServer]:
    """Return the servers this process started and has not stopped (a caller that owns some can stop what it lost)."""
    with _RUNNING_LOCK:
        return list(_RUNNING)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port that was free a moment ago (the OS picks it when binding port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _log_summary(path: Path, max_errors: int = 20, max_tail: int = 40) -> str:
    """Return the error lines of a Triton log, then its tail.

    Triton ends a failed startup with wide status tables that push the actual cause (an ``E...`` line
    from model loading or the stub's Python traceback) out of a plain tail.
    """
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "<no log>"
    errors = [line for line in lines if line.startswith("E") or "error" in line.lower()][-max_errors:]
    parts = []
    if errors:
        parts += ["--- error lines ---", *errors]
    parts += [f"--- last {max_tail} lines ---", *lines[-max_tail:]]
    return "\n".join(parts)


MODEL_CONTROL_MODES = ("none", "poll", "explicit")


def _check_arguments(
    *,
    model_repository: Any,
    default_model: Any,
    multi_model: Any,
    model_control_mode: Any,
    log_verbose: Any,
    env: Any,
    extra_args: Any,
    python_executable: Any,
    startup_timeout: Any,
    triton_home: Any,
    log_path: Any,
) -> None:
    """Collect every problem with :class:`TritonServer`'s arguments into one :class:`UserError`."""
    from model_build.user_errors import UserError, did_you_mean

    problems: list[str] = []
    if not isinstance(model_repository, str | os.PathLike) or not Path(model_repository).is_dir():
        problems.append(
            f"model_repository must be an existing folder of Triton models (got {model_repository!r}); "
            "build one with `python -m model_build build` or pass the folder that holds <model>/config.pbtxt"
        )
    if default_model is not None and (not isinstance(default_model, str) or not default_model.strip()):
        problems.append(f"default_model must be a model name or None (got {default_model!r})")
    if not isinstance(multi_model, bool):
        problems.append(f"multi_model must be True or False (got {multi_model!r})")
    if model_control_mode is not None and model_control_mode not in MODEL_CONTROL_MODES:
        hint = did_you_mean(str(model_control_mode), MODEL_CONTROL_MODES)
        problems.append(
            f"model_control_mode must be one of {', '.join(MODEL_CONTROL_MODES)} or None "
            f"(got {model_control_mode!r}){hint}"
        )
    elif multi_model is True and model_control_mode not in (None, "explicit"):
        problems.append(
            f"model_control_mode must be 'explicit' (or None) with multi_model=True (got {model_control_mode!r}): "
            "SageMaker's multi-model routes load models on request"
        )
    if isinstance(log_verbose, bool) or not isinstance(log_verbose, int) or log_verbose < 0:
        problems.append(f"log_verbose must be an integer >= 0 (got {log_verbose!r})")
    if env is not None and (
        not isinstance(env, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    ):
        problems.append(f"env must map variable names to string values (got {env!r})")
    if isinstance(extra_args, str | bytes) or not all(isinstance(a, str) for a in extra_args or ()):
        problems.append(
            f"extra_args must be a list of strings, one per argument (got {extra_args!r}); "
            "e.g. ['--log-info=true'], not one string"
        )
    if python_executable is not None and not (
        isinstance(python_executable, str | os.PathLike)
        and Path(python_executable).is_file()
        and os.access(python_executable, os.X_OK)
    ):
        problems.append(f"python_executable must be an existing Python interpreter (got {python_executable!r})")
    if (
        isinstance(startup_timeout, bool)
        or not isinstance(startup_timeout, int | float)
        or not startup_timeout > 0
    ):
        problems.append(f"startup_timeout must be a number of seconds > 0 (got {startup_timeout!r})")
    if triton_home is not None and (not isinstance(triton_home, str | os.PathLike) or not Path(triton_home).is_dir()):
        problems.append(
            f"triton_home must be the folder `make setup` unpacked the server into (got {triton_home!r}); "
            "leave it out to use .triton"
        )
    if log_path is not None and (not isinstance(log_path, str | os.PathLike) or Path(log_path).is_dir()):
        problems.append(f"log_path must be a file path, not a folder (got {log_path!r})")
    if problems:
        raise UserError("Invalid TritonServer arguments: " + "; ".join(problems))


class TritonServer:
    """A real ``tritonserver`` process with the SageMaker, KServe v2 HTTP and metrics endpoints.

    Use as a context manager: entering starts the server and waits until SageMaker's ``/ping`` and
    KServe's ``/v2/health/ready`` both answer 200; leaving stops it (SIGTERM, then SIGKILL) and reaps it.

    Args:
        model_repository: The ``--model-repository`` directory.
        default_model: The model ``POST /invocations`` runs (``SAGEMAKER_TRITON_DEFAULT_MODEL_NAME``).
            Defaults to none: Triton then answers ``/invocations`` with an error.
        multi_model: SageMaker multi-model mode: ``SAGEMAKER_MULTI_MODEL=true`` and explicit model
            control, so models are loaded with ``POST /models``. Defaults to False.
        model_control_mode: ``--model-control-mode`` (``none``, ``poll``, ``explicit``). Defaults to
            ``explicit`` in multi-model mode, else Triton's default (``none``: load everything).
        log_verbose: ``--log-verbose`` level. Defaults to 0.
        env: Extra environment variables for the server (and the python backend stubs it starts).
        extra_args: Extra ``tritonserver`` arguments, appended last.
        python_executable: The interpreter whose packages the models need. Its directory goes first on
            ``PATH`` because the python backend stub takes ``python3`` from ``PATH`` and ignores
            ``PYTHONPATH``. Defaults to this interpreter.
        startup_timeout: Seconds to wait for readiness. Defaults to 120.
        triton_home: The unpacked server. Defaults to :func:`locate`.
        log_path: Where the server's stdout/stderr go. Defaults to a file in a temporary directory that
            is removed when the server stops (and kept when it fails to start).
        loopback_only: Keep the SageMaker port on 127.0.0.1 with the ``bind()`` shim (built on first use
            when ``make setup`` has not). Defaults to ``$TRITON_LOOPBACK_ONLY`` (unset: True). False lets
            that one port bind 0.0.0.0, as Triton 2.51 does on its own.

    Raises:
        model_build.user_errors.UserError: An argument is invalid (every problem is listed), before any
            process starts.
    """

    def __init__(
        self,
        model_repository: str | os.PathLike[str],
        *,
        default_model: str | None = None,
        multi_model: bool = False,
        model_control_mode: str | None = None,
        log_verbose: int = 0,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
        python_executable: str | os.PathLike[str] | None = None,
        startup_timeout: float = 120,
        triton_home: Path | None = None,
        log_path: Path | None = None,
        loopback_only: bool | None = None,
    ) -> None:
        _check_arguments(
            model_repository=model_repository,
            default_model=default_model,
            multi_model=multi_model,
            model_control_mode=model_control_mode,
            log_verbose=log_verbose,
            env=env,
            extra_args=extra_args,
            python_executable=python_executable,
            startup_timeout=startup_timeout,
            triton_home=triton_home,
            log_path=log_path,
        )
        self.loopback_only = loopback_only_enabled() if loopback_only is None else bool(loopback_only)
        self._shim: Path | None = None
        self.model_repository = Path(model_repository).resolve()
        self.default_model = default_model
        self.multi_model = multi_model
        if model_control_mode is None and multi_model:
            model_control_mode = "explicit"
        self.model_control_mode = model_control_mode
        self.log_verbose = log_verbose
        self.env = dict(env or {})
        self.extra_args = tuple(extra_args)
        self.python_executable = Path(python_executable or sys.executable)
        self.startup_timeout = startup_timeout
        self._triton_home = triton_home
        self._requested_log_path = log_path
        self._log_dir: Path | None = None
        self._log_path: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._ports: dict[str, int] = {}

    # ----------------------------------------------------------------- addresses
    @property
    def sagemaker_url(self) -> str:
        """Base URL of the SageMaker endpoints (``/ping``, ``/invocations``, ``/models``)."""
        return f"http://127.0.0.1:{self._port('sagemaker')}"

    @property
    def http_url(self) -> str:
        """Base URL of the KServe v2 HTTP endpoints (``/v2/...``)."""
        return f"http://127.0.0.1:{self._port('http')}"

    @property
    def metrics_url(self) -> str:
        """URL of the Prometheus metrics (``/metrics``)."""
        return f"http://127.0.0.1:{self._port('metrics')}/metrics"

    @property
    def log_path(self) -> Path:
        """The file the server's stdout and stderr go to."""
        if self._log_path is None:
            raise RuntimeError("the server has not been started")
        return self._log_path

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def _port(self, name: str) -> int:
        if name not in self._ports:
            raise RuntimeError("the server has not been started")
        return self._ports[name]

    # ----------------------------------------------------------------- lifecycle
    def command(self, installation: TritonInstallation) -> list[str]:
        """Build the ``tritonserver`` command line for the current ports."""
        args = [
            os.fspath(installation.binary),
            f"--model-repository={self.model_repository}",
            f"--backend-directory={installation.backends_dir}",
            "--allow-sagemaker=true",
            # Triton 2.51 has no --sagemaker-address: this port binds 0.0.0.0, which the preloaded
            # loopback_bind shim rewrites to 127.0.0.1 (see environment()). The HTTP and metrics
            # ports below are bound to loopback by their own flags.
            f"--sagemaker-port={self._ports['sagemaker']}",
            "--allow-http=true",
            "--http-address=127.0.0.1",
            f"--http-port={self._ports['http']}",
            # Nothing here speaks gRPC; off means one port fewer to collide on.
            "--allow-grpc=false",
            "--allow-metrics=true",
            "--metrics-address=127.0.0.1",
            f"--metrics-port={self._ports['metrics']}",
            f"--log-verbose={self.log_verbose}",
        ]
        if self.model_control_mode is not None:
            args.append(f"--model-control-mode={self.model_control_mode}")
        args.extend(self.extra_args)
        return args

    def environment(self, installation: TritonInstallation) -> dict[str, str]:
        """Build the server's environment: this one, minus inherited SageMaker switches, plus ours."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAGEMAKER_")}
        # The stub runs `python3` from PATH with its own isolated interpreter; PATH decides which
        # site-packages (torch, onnxruntime, numpy) model.py sees.
        env["PATH"] = os.pathsep.join([os.fspath(self.python_executable.parent), env.get("PATH", "")])
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in [os.fspath(installation.libs_dir), env.get("LD_LIBRARY_PATH", "")] if p
        )
        if self.default_model is not None:
            env["SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"] = self.default_model
        if self.multi_model:
            env["SAGEMAKER_MULTI_MODEL"] = "true"
        env.update(self.env)
        if self._shim is not None:
            # The shim removes itself from LD_PRELOAD at load: the python backend stubs start without it.
            env["LD_PRELOAD"] = " ".join(p for p in (os.fspath(self._shim), env.get("LD_PRELOAD", "")) if p)
        return env

    def start(self) -> TritonServer:
        """Start the server and wait until it is ready.

        Returns:
            This server.

        Raises:
            TritonNotInstalledError: No unpacked server was found.
            TritonStartupError: The server exited or was not ready within ``startup_timeout``.
        """
        if self._process is not None:
            raise RuntimeError("the server is already running")
        installation = locate(self._triton_home)
        wanted = _python_version(self.python_executable)
        if installation.stub_python != wanted:
            raise TritonStartupError(
                f"The python backend stub in {installation.home} is for Python {installation.stub_python}, "
                f"but models run with {self.python_executable} (Python {wanted}). Reinstall with "
                f"`{self.python_executable} -m triton_runtime install --dest {installation.home}`."
            )
        if self.loopback_only:
            # Next to the server when that folder is writable, else in the user's cache.
            shim_dir = installation.home if os.access(installation.home, os.W_OK) else _default_wheel_cache().parent
            try:
                self._shim = build_loopback_shim(shim_dir)
            except LoopbackShimError as error:
                raise TritonStartupError(str(error)) from None
        if self._requested_log_path is not None:
            self._log_path = Path(self._requested_log_path)
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
        else:
            self._log_dir = Path(tempfile.mkdtemp(prefix="tritonserver-"))
            self._log_path = self._log_dir / "tritonserver.log"
        # Free ports can be taken between the probe and Triton's bind (another test's server, another
        # worker's): retry with fresh ones. Triton words it "Address already in use" for its HTTP and
        # metrics ports and "Socket '0.0.0.0:PORT' already in use" for its SageMaker port.
        attempts = 3
        for attempt in range(attempts):
            self._ports = {name: free_port() for name in ("sagemaker", "http", "metrics")}
            try:
                self._spawn(installation)
                self._wait_ready()
                with _RUNNING_LOCK:
                    _RUNNING.add(self)
                return self
            except TritonStartupError as error:
                self._stop_process()
                if attempt < attempts - 1 and "already in use" in str(error).lower():
                    continue
                # The log stays on disk after a failed start: the error names it.
                self._log_dir = None
                raise
        raise AssertionError("unreachable")

    def _spawn(self, installation: TritonInstallation) -> None:
        assert self._log_path is not None
        with open(self._log_path, "ab") as log:
            self._process = subprocess.Popen(
                self.command(installation),
                env=self.environment(installation),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: the fallback SIGKILL reaches the python backend stubs too.
                start_new_session=True,
            )

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        probes = [f"{self.sagemaker_url}/ping", f"{self.http_url}/v2/health/ready"]
        while probes:
            code = self._process.poll()
            if code is not None:
                raise TritonStartupError(
                    self._failure(f"tritonserver exited with code {code} during startup")
                )
            if time.monotonic() > deadline:
                raise TritonStartupError(
                    self._failure(f"tritonserver was not ready after {self.startup_timeout:g} s")
                )
            try:
                if requests.get(probes[0], timeout=2).status_code == 200:
                    probes.pop(0)
                    continue
            except requests.RequestException:
                pass
            time.sleep(0.2)

    def _failure(self, what: str) -> str:
        return f"{what}; model repository {self.model_repository}; log {self._log_path}:\n{_log_summary(self.log_path)}"

    def stop(self, timeout: float = 30) -> None:
        """Stop the server: SIGTERM, then SIGKILL to its process group after ``timeout`` seconds."""
        self._stop_process(timeout)
        self._cleanup_logs()

    def _stop_process(self, timeout: float = 30) -> None:
        with _RUNNING_LOCK:
            _RUNNING.discard(self)
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
        finally:
            process.wait()  # always reap

    def _cleanup_logs(self) -> None:
        if self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None

    def __enter__(self) -> TritonServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- requests
    def _json(
        self, method: str, url: str, payload: Any = None, timeout: float = 60, headers: Mapping[str, str] | None = None
    ) -> Any:
        response = requests.request(method, url, json=payload, timeout=timeout, headers=dict(headers or {}))
        if response.status_code >= 400:
            raise requests.HTTPError(
                f"{method} {url} -> {response.status_code}: {response.text[:2000]}", response=response
            )
        return response.json() if response.content else {}

    def invocations(self, payload: Mapping[str, Any], *, timeout: float = 60) -> dict[str, Any]:
        """``POST /invocations`` with a KServe v2 JSON request to the default model.

        Args:
            payload: ``{"inputs": [{"name", "shape", "datatype", "data"}, ...]}``.
            timeout: Seconds to wait for the answer.

        Returns:
            The KServe v2 JSON response (``outputs`` with flattened ``data``).
        """
        return dict(self._json("POST", f"{self.sagemaker_url}/invocations", payload, timeout))

    def model_config(self, name: str) -> dict[str, Any]:
        """Return the loaded model's configuration as JSON (KServe ``GET /v2/models/<name>/config``)."""
        return dict(self._json("GET", f"{self.http_url}/v2/models/{name}/config"))

    def model_statistics(self, name: str) -> dict[str, Any]:
        """Return inference statistics (KServe ``GET /v2/models/<name>/stats``): counts, batch sizes, times."""
        return dict(self._json("GET", f"{self.http_url}/v2/models/{name}/stats"))

    # SageMaker multi-model routes (need multi_model=True).
    def load_model(self, name: str, url: str | os.PathLike[str], *, target_model: str | None = None) -> None:
        """Load a model through SageMaker's ``POST /models`` (multi-model mode).

        Args:
            name: The name SageMaker routes ``/models/<name>/invoke`` by.
            url: A directory holding the model's folder (``<model>/config.pbtxt``, ``<model>/1/...``),
                i.e. what SageMaker extracts a ``model.tar.gz`` into; not the model folder itself
                (Triton answers "failed to register '', repository not found").
            target_model: The ``X-Amzn-SageMaker-Target-Model`` header SageMaker sends: Triton
                registers the model directory under this name (so two archives may both hold
                ``resnet/``), and invocations must carry the same header. Defaults to none: the
                model is registered under ``name``.
        """
        headers = {} if target_model is None else {_TARGET_MODEL_HEADER: target_model}
        self._json(
            "POST", f"{self.sagemaker_url}/models", {"model_name": name, "url": os.fspath(url)}, 300, headers=headers
        )

    def unload_model(self, name: str, *, target_model: str | None = None) -> None:
        """``DELETE /models/<name>`` (``target_model``: the header the model was loaded with)."""
        headers = {} if target_model is None else {_TARGET_MODEL_HEADER: target_model}
        self._json("DELETE", f"{self.sagemaker_url}/models/{name}", timeout=120, headers=headers)

    def list_models(self) -> dict[str, Any]:
        """``GET /models``: the loaded models."""
        return dict(self._json("GET", f"{self.sagemaker_url}/models"))

    def invoke_model(self, name: str, payload: Mapping[str, Any], *, timeout: float = 60) -> dict[str, Any]:
        """``POST /models/<name>/invoke`` with a KServe v2 JSON request."""
        return dict(self._json("POST", f"{self.sagemaker_url}/models/{name}/invoke", payload, timeout))


def _check_cli(args: argparse.Namespace) -> None:
    """Check the CLI's paths before anything is downloaded, unpacked or compiled."""
    from model_build.user_errors import UserError, writable_folder_problem

    problems: list[str | None] = []
    if args.command in {"install", "build-shim"}:
        problems.append(writable_folder_problem(args.dest, "--dest"))
    if args.command == "install":
        if args.wheel is not None:
            if not args.wheel.is_file():
                problems.append(
                    f"--wheel must be an existing {_WHEEL_GLOB} file (got {str(args.wheel)!r}); "
                    f"download it with `pip download --no-deps nvidia-pytriton=={PYTRITON_VERSION}`"
                )
            elif not args.wheel.match(_WHEEL_GLOB):
                problems.append(
                    f"--wheel must be the nvidia-pytriton {PYTRITON_VERSION} wheel, named {_WHEEL_GLOB} "
                    f"(got {args.wheel.name!r})"
                )
        if args.cache_dir is not None:
            problems.append(writable_folder_problem(args.cache_dir, "--cache-dir"))
    if args.command == "locate" and args.home is not None and not args.home.is_dir():
        problems.append(
            f"--home must be the folder the server was unpacked into (got {str(args.home)!r}, which is not a "
            "folder); run `make setup` or leave --home out"
        )
    found = [problem for problem in problems if problem]
    if found:
        raise UserError("; ".join(found))


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m triton_runtime install --dest .triton``, ``build-shim`` and ``locate``."""
    from model_build.user_errors import UsageErrorParser, path_argument

    parser = UsageErrorParser(prog="python -m triton_runtime", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=UsageErrorParser, metavar="{install,build-shim,locate}"
    )
    install_cmd = commands.add_parser(
        "install", help="unpack the Triton server from the nvidia-pytriton wheel (and build the loopback shim)"
    )
    install_cmd.add_argument("--dest", type=path_argument, default=DEFAULT_HOME)
    install_cmd.add_argument("--wheel", type=path_argument, default=None, help="a local wheel (offline machines)")
    install_cmd.add_argument("--cache-dir", type=path_argument, default=None)
    shim_cmd = commands.add_parser(
        "build-shim", help="compile the bind() shim that keeps Triton's SageMaker port on 127.0.0.1"
    )
    shim_cmd.add_argument("--dest", type=path_argument, default=DEFAULT_HOME)
    locate_cmd = commands.add_parser("locate", help="print where the server is")
    locate_cmd.add_argument("--home", type=path_argument, default=None, help="where to look (default: $TRITON_HOME, .triton)")
    args = parser.parse_args(argv)
    _check_cli(args)
    if args.command == "build-shim":
        if not loopback_only_enabled():
            print(f"loopback shim: not built ({LOOPBACK_ONLY_ENV}=0: Triton's SageMaker port binds 0.0.0.0)")
            return 0
        print(f"loopback shim: {build_loopback_shim(args.dest)}")
        return 0
    if args.command == "install":
        installation = install(args.dest, wheel=args.wheel, cache_dir=args.cache_dir)
        if loopback_only_enabled():
            try:
                print(f"loopback shim: {build_loopback_shim(installation.home)}")
            except LoopbackShimError as error:
                # The server is installed; `build-shim` (make setup's next step) and TritonServer say it again.
                print(f"warning: {error}", file=sys.stderr)
    else:
        try:
            installation = locate(args.home)
        except TritonNotInstalledError as error:
            raise TritonNotInstalledError(f"--home {str(args.home)!r}: {error}" if args.home else str(error)) from None
    print(f"tritonserver: {installation.binary} (python backend stub for Python {installation.stub_python})")
    return 0


def cli(argv: Sequence[str] | None = None) -> int:
    """Run :func:`main` with bad input reported in one line (exit 2), no traceback."""
    from model_build.user_errors import run_cli

    return run_cli(
        main,
        argv,
        prog="python -m triton_runtime",
        user_errors=(TritonNotInstalledError, LoopbackShimError),
    )


if __name__ == "__main__":
    sys.exit(cli())
