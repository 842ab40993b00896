"""Your own inference container image: from a Dockerfile directory, an ECR repository or a URI.

A :class:`ContainerImage` shares :class:`~serving_constructs.image.TritonImage`'s protocol,
``bind(scope, grantee) -> str`` (the image URI, with pull access granted where the image is in
ECR), so a model takes either. :meth:`ContainerImage.from_asset` builds the image from a local
directory as a CDK Docker image asset (``aws_ecr_assets.DockerImageAsset``: ``cdk deploy`` builds
and pushes it to the bootstrap ECR repository) and checks at synth what it can of SageMaker's
container contract (SageMaker Developer Guide, "Custom Inference Code with Hosting Services",
https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html):

* SageMaker starts the container as ``docker run <image> serve``: the image needs an
  ``ENTRYPOINT`` that handles the ``serve`` argument, or an executable ``serve`` on ``PATH``;
* the container answers on port 8080: ``GET /ping`` (200 when healthy) and ``POST /invocations``;
* the model data is extracted to ``/opt/ml/model``.

The checks read the files, they do not build the image; what they cannot see (an entry point
installed by a base image, routes in a compiled server) is opted out of with
``skip_contract_checks``.
"""

from __future__ import annotations

import abc
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import IgnoreMode
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam

from constructs import Construct
from model_build.user_errors import did_you_mean
from serving_constructs._image_sources import EcrSource, UriSource, check_ecr_source, check_uri_source
from serving_constructs._validation import check_str, given, raise_if_any

CONTAINER_PORT = 8080
"""The port SageMaker sends ``/ping`` and ``/invocations`` to."""

CONTRACT_CHECKS = ("port", "serve", "routes")
"""The contract checks :meth:`ContainerImage.from_asset` runs, by the name ``skip_contract_checks`` takes."""

DEFAULT_EXCLUDE = (
    ".git",
    "**/__pycache__",
    "**/*.pyc",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".venv",
    "node_modules",
    "cdk.out",
)
"""Left out of the asset (and its hash) always: caches and tool folders change without the image changing."""

# Files the route and port checks read: the server's source and configuration, not data.
_SOURCE_SUFFIXES = {
    ".py",
    ".conf",
    ".sh",
    ".js",
    ".ts",
    ".go",
    ".java",
    ".rb",
    ".toml",
    ".yaml",
    ".yml",
    ".ini",
    ".cfg",
}
_MAX_SOURCE_BYTES = 1_000_000


class ContainerImage(abc.ABC):
    """A SageMaker inference container image of your own.

    Use :meth:`from_asset` to build one from a directory with a ``Dockerfile`` (see
    ``examples/byoc/``), :meth:`from_ecr_repository` for an image already in ECR, or
    :meth:`from_uri` for any other URI.
    """

    @staticmethod
    def from_asset(
        directory: str | os.PathLike[str],
        *,
        file: str = "Dockerfile",
        build_args: Mapping[str, str] | None = None,
        platform: ecr_assets.Platform | None = None,
        exclude: Sequence[str] = (),
        skip_contract_checks: Sequence[str] = (),
    ) -> ContainerImage:
        """Return the image built from ``directory`` by ``cdk deploy`` (a Docker image asset).

        The asset hash is the hash of the directory's files (less ``DEFAULT_EXCLUDE`` and
        ``exclude``, matched as ``.dockerignore`` patterns) and these props, so synthesizing the
        same directory twice gives the same hash and the same image tag. The directory is checked
        against SageMaker's container contract now, before anything is synthesized; each problem
        names the file and the fix.

        Args:
            directory: the build context, holding the Dockerfile.
            file: the Dockerfile, relative to ``directory``. Defaults to ``"Dockerfile"``.
            build_args: ``docker build --build-arg`` values. Defaults to none.
            platform: the platform to build for. Defaults to ``Platform.LINUX_AMD64`` (the x86
                instance types; pass ``Platform.LINUX_ARM64`` for Graviton ones).
            exclude: more paths to leave out of the build context and the hash, as
                ``.dockerignore`` patterns. Defaults to none (``DEFAULT_EXCLUDE`` always applies,
                as does the directory's own ``.dockerignore``).
            skip_contract_checks: contract checks to skip because they cannot be seen in the files,
                any of ``"port"`` (something listens on 8080), ``"serve"`` (an ``ENTRYPOINT``, or an
                executable ``serve`` script), ``"routes"`` (``/ping`` and ``/invocations`` in the
                app's source) — e.g. ``["serve"]`` when the base image installs the entry point.
                Defaults to none (all checked).

        Raises:
            PropsError: a prop is wrong, the directory or Dockerfile is missing, or the directory
                breaks the contract; one message lists every problem.
        """
        problems: list[str] = []
        if not isinstance(directory, str | os.PathLike) or not str(directory):
            problems.append(
                f"directory must be a path to the folder holding the Dockerfile (got {given(directory)}) — "
                "e.g. 'examples/byoc'"
            )
        problems += check_str("file", file, example=" such as 'Dockerfile'")
        problems += _str_mapping_problems("build_args", build_args)
        if platform is not None and not isinstance(platform, ecr_assets.Platform):
            problems.append(
                f"platform must be an ecr_assets.Platform (got {given(platform)}) — use "
                "ecr_assets.Platform.LINUX_AMD64 or ecr_assets.Platform.LINUX_ARM64"
            )
        problems += _str_list_problems("exclude", exclude, "['data/']")
        problems += _str_list_problems("skip_contract_checks", skip_contract_checks, "['serve']")
        if not problems:
            for name in skip_contract_checks:
                if name not in CONTRACT_CHECKS:
                    problems.append(
                        f"skip_contract_checks has an unknown check {name!r}{did_you_mean(name, CONTRACT_CHECKS)} "
                        f"— the checks are {', '.join(CONTRACT_CHECKS)}"
                    )
        raise_if_any("ContainerImage.from_asset", problems)
        folder = Path(directory).resolve()
        if not folder.is_dir():
            raise_if_any(
                "ContainerImage.from_asset",
                [f"directory {str(directory)!r} is not a folder — pass the folder holding your Dockerfile"],
            )
        raise_if_any(
            "ContainerImage.from_asset", contract_problems(folder, file=file, skip=skip_contract_checks)
        )
        return _AssetImage(
            folder,
            file=file,
            build_args=dict(sorted((build_args or {}).items())),
            platform=ecr_assets.Platform.LINUX_AMD64 if platform is None else platform,
            exclude=[*DEFAULT_EXCLUDE, *exclude],
        )

    @staticmethod
    def from_ecr_repository(repository: ecr.IRepository, tag: str = "latest") -> ContainerImage:
        """Return an image in your own ECR repository; binding grants the model role pull access.

        Args:
            repository: the repository holding the image.
            tag: the image tag. Defaults to ``"latest"`` (pin a tag or digest for reproducible deploys).

        Raises:
            PropsError: a prop has the wrong type.
        """
        check_ecr_source("ContainerImage.from_ecr_repository", repository, tag, example_name="my-model-server")
        return _EcrImage(repository, tag)

    @staticmethod
    def from_uri(uri: str) -> ContainerImage:
        """Return the image at ``uri`` as is; granting pull access is left to you.

        Args:
            uri: a full image URI (``<registry>/<repository>:<tag>``).

        Raises:
            PropsError: ``uri`` is not a str.
        """
        check_uri_source("ContainerImage.from_uri", uri, example_name="my-server")
        return _UriImage(uri)

    @property
    def triton_version(self) -> str | None:
        """None: your own image has no known Triton release (the TritonImage protocol's attribute)."""
        return None

    @abc.abstractmethod
    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        """Return the image URI for a model in ``scope``, granting ``grantee`` pull access if needed."""


class _AssetImage(ContainerImage):
    def __init__(
        self,
        directory: Path,
        *,
        file: str,
        build_args: dict[str, str],
        platform: ecr_assets.Platform,
        exclude: list[str],
    ) -> None:
        self.directory = directory
        self.file = file
        self.build_args = build_args
        self.platform = platform
        self.exclude = exclude

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        # One asset per model scope, found again by its id (the manifest dedupes equal hashes).
        asset = scope.node.try_find_child("ImageAsset")
        if not isinstance(asset, ecr_assets.DockerImageAsset):
            asset = ecr_assets.DockerImageAsset(
                scope,
                "ImageAsset",
                directory=str(self.directory),
                file=self.file,
                build_args=self.build_args or None,
                platform=self.platform,
                exclude=self.exclude,
                ignore_mode=IgnoreMode.DOCKER,
            )
        asset.repository.grant_pull(grantee)
        return asset.image_uri


class _EcrImage(EcrSource, ContainerImage):
    pass


class _UriImage(UriSource, ContainerImage):
    pass


# --- the container contract, read from the files -----------------------------------------------


def contract_problems(directory: Path, *, file: str = "Dockerfile", skip: Sequence[str] = ()) -> list[str]:
    """Return how ``directory`` breaks SageMaker's container contract, as far as its files show.

    Each problem names the file and the fix. Checks (by their ``skip`` name):

    * always: the Dockerfile exists;
    * ``"serve"``: the Dockerfile has an ``ENTRYPOINT`` (it receives the ``serve`` argument), or
      the directory holds an executable ``serve`` script starting with ``#!``;
    * ``"port"``: the Dockerfile has ``EXPOSE 8080``, or a server file (``nginx.conf``, the app's
      source) names port 8080; an ``EXPOSE`` of other ports only is an error;
    * ``"routes"``: the app's source has both ``"/ping"`` and ``"/invocations"`` as string literals
      (or in an nginx ``location``).
    """
    dockerfile = directory / file
    if not dockerfile.is_file():
        return [
            f"{dockerfile} does not exist — add a Dockerfile to {directory} (see examples/byoc/Dockerfile), "
            "or pass file= naming yours"
        ]
    instructions = _instructions(dockerfile.read_text(errors="replace"))
    sources = _source_files(directory, skip={dockerfile})
    problems: list[str] = []
    if "serve" not in skip and not any(word == "ENTRYPOINT" for word, _ in instructions):
        serve = [path for path in sources if path.name == "serve"]
        if not serve:
            problems.append(
                f"{dockerfile} has no ENTRYPOINT and {directory} has no `serve` script — SageMaker starts the "
                "container with `docker run <image> serve`: add an executable `serve` that starts your server "
                'and put it on PATH (ENV PATH="/opt/program:${PATH}"), or add an ENTRYPOINT; pass '
                "skip_contract_checks=['serve'] if the base image provides it"
            )
        for path in serve:
            if not os.access(path, os.X_OK):
                problems.append(f"{path} is not executable — run `chmod +x {path}` (and commit the mode)")
            elif not path.read_bytes().startswith(b"#!"):
                problems.append(
                    f"{path} has no #! line, so `serve` cannot be executed — start it with e.g. "
                    "`#!/usr/bin/env python3`"
                )
    if "port" not in skip:
        exposed = [
            port
            for word, argument in instructions
            if word == "EXPOSE"
            for port in re.findall(r"\d+", argument)
        ]
        named = [path for path in [dockerfile, *sources] if _listens_on(_text(path), CONTAINER_PORT)]
        if str(CONTAINER_PORT) not in exposed and not named:
            other = f" (it exposes {', '.join(exposed)})" if exposed else ""
            problems.append(
                f"nothing in {directory} listens on port {CONTAINER_PORT}{other} — SageMaker sends /ping and "
                f"/invocations to port {CONTAINER_PORT}: add `EXPOSE {CONTAINER_PORT}` to {dockerfile.name} and "
                f"listen on it (nginx.conf `listen {CONTAINER_PORT};`, or `gunicorn --bind 0.0.0.0:"
                f"{CONTAINER_PORT}`); pass skip_contract_checks=['port'] if the port is set elsewhere"
            )
        for path in sources:
            if path.suffix != ".conf":
                continue
            listens = re.findall(r"(?m)^\s*listen\s+([^;]+);", _text(path))
            ports = sorted(
                {port for value in listens for port in re.findall(r"(?:^|:)(\d+)\b", value.split()[0])}
            )
            if ports and str(CONTAINER_PORT) not in ports:
                problems.append(
                    f"{path} listens on {', '.join(ports)}, not {CONTAINER_PORT} — SageMaker sends requests to port "
                    f"{CONTAINER_PORT}: write `listen {CONTAINER_PORT};`"
                )
    if "routes" not in skip:
        for route, method in (("/ping", "GET"), ("/invocations", "POST")):
            # A route is a string literal "/ping" (Flask, FastAPI, Express, ...) or an nginx location.
            pattern = rf"[\"']{route}/?[\"']|location\s+=?\s*{route}(?![\w-])"
            if not any(re.search(pattern, _text(path)) for path in sources):
                problems.append(
                    f"no source file in {directory} names the {route} route — SageMaker calls {method} {route}: "
                    f"add it to your app (e.g. @app.route('{route}', methods=['{method}']) in predictor.py, as "
                    f"in examples/byoc); pass skip_contract_checks=['routes'] if your server defines it "
                    "where these checks cannot read"
                )
    return problems


def _listens_on(text: str, port: int) -> bool:
    """Whether a line of code (not a comment) names ``port`` next to listen/bind/port (nginx, gunicorn, app)."""
    for line in text.splitlines():
        code = line.strip()
        if code.startswith(("#", "//", ";")):
            continue
        if re.search(rf"(?<![\d.]){port}(?!\d)", code) and re.search(r"(?i)listen|bind|port", code):
            return True
    return False


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """Return the Dockerfile's ``(INSTRUCTION, arguments)`` pairs, continuation lines joined."""
    joined = re.sub(r"\\\r?\n", " ", dockerfile)
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, argument = line.partition(" ")
            pairs.append((word.upper(), argument))
    return pairs


def _source_files(directory: Path, *, skip: set[Path]) -> list[Path]:
    """Return the server's files under ``directory``: source and config by suffix, plus ``serve``."""
    found = []
    for root, folders, files in os.walk(directory):
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".") and name not in {"__pycache__", "node_modules"}
        )
        for name in sorted(files):
            path = Path(root) / name
            if path in skip or path.stat().st_size > _MAX_SOURCE_BYTES:
                continue
            if name in {"serve", "nginx.conf"} or path.suffix in _SOURCE_SUFFIXES:
                found.append(path)
    return found


def _text(path: Path) -> str:
    return path.read_text(errors="replace")


def _str_mapping_problems(name: str, value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        return [
            f"{name} must be a dict of str to str (got {given(value)}) — e.g. {{'PYTHON_VERSION': '3.12'}}"
        ]
    return []


def _str_list_problems(name: str, value: object, example: str) -> list[str]:
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not all(isinstance(v, str) for v in value)
    ):
        return [f"{name} must be a list of str (got {given(value)}) — e.g. {example}"]
    return []


__all__ = ["CONTAINER_PORT", "CONTRACT_CHECKS", "DEFAULT_EXCLUDE", "ContainerImage", "contract_problems"]
