"""Stage: ONNX → TensorRT engine (``model.plan``) pinned to its target, for ``backend="tensorrt"``.

Written against the TensorRT 10 Python API, with the equivalent ``trtexec`` command line. An
engine runs only on the GPU architecture and TensorRT version it was built for
(:mod:`model_build.engine_target`), so the build is told where the engine will be served
(``ModelSpec.tensorrt_target``: instance type + Triton release) and picks where to build:

1. **here, with the TensorRT Python API**, when ``import tensorrt`` works, its version is the
   one of the target's Triton image, and GPU 0 has the target's compute capability (or, for an
   ``"ampere+"`` engine, any capability >= 8.0);
2. **here, in NVIDIA's TensorRT container** (``nvcr.io/nvidia/tensorrt:<yy.mm>-py3``, the tag of
   the target's Triton release, so the TensorRT versions match) with ``docker run --gpus all``,
   when GPU 0 fits and a Docker daemon with the NVIDIA runtime answers;
3. otherwise nowhere: one :class:`TensorRTUnavailableError` names what is missing here (the
   ``tensorrt`` module or its version, a fitting GPU, a Docker daemon with GPUs), the target, and
   the exact command to run on a machine that has them.

Why not CDK's Docker bundling: ``aws_cdk.BundlingOptions`` (and ``DockerRunOptions``) cannot pass
``--gpus`` (its options are image, command, entrypoint, environment, network, platform,
security_opt, user, volumes, volumes_from, working_directory, output_type, local), and a
``ILocalBundling`` would only wrap the same ``docker run``. The build already runs at synth (the
asset is the archive model_build makes), so it runs that one command itself:
:func:`docker_trtexec_command`.

Every build writes an :class:`~model_build.engine_target.EngineManifest` (TensorRT version, GPU
name and compute capability read on the machine that builds, hardware compatibility, precision,
max batch size, builder), which the pipeline puts next to ``config.pbtxt`` as ``<model>/engine.json``.
A timing cache per (compute capability, TensorRT version, hardware compatibility) is kept in the
build cache folder and reused by later builds (``config.set_timing_cache`` / ``--timingCacheFile``).

Which GPU: TensorRT and trtexec build on CUDA device 0, so GPU 0 is the one that must fit.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_build.engine_target import (
    AMPERE_PLUS_MIN_CAPABILITY,
    ENGINE_MANIFEST_FILENAME,
    TENSORRT_CONTAINER,
    EngineManifest,
    EngineTarget,
    capability_tuple,
    major_minor_patch,
    tensorrt_container_image,
    tensorrt_version_of_triton,
)
from model_build.hardware import accelerator_named, families_with
from model_build.sources import TensorSpec
from model_build.user_errors import UserError

if TYPE_CHECKING:
    from model_build.spec import ModelSpec

TRT_CONTAINER = TENSORRT_CONTAINER
TIMING_CACHE_DIRNAME = "tensorrt-timing-caches"
"""The folder, in the build cache folder, that keeps TensorRT timing caches between builds."""

# Where the container sees its inputs and outputs.
CONTAINER_INPUT_DIR = "/work/in"
CONTAINER_OUTPUT_DIR = "/work/out"
CONTAINER_TIMING_CACHE_DIR = "/work/timing-cache"

# The host folder in the command shown for building elsewhere (run from the model's folder).
_ELSEWHERE_DIR = "$(pwd)"

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


class TensorRTUnavailableError(UserError):
    """No place to build the engine here: the message says what is missing and what to run elsewhere."""


class TensorRTBuildError(RuntimeError):
    """TensorRT could not parse the ONNX model or build the engine."""


@dataclass(frozen=True)
class ProfileShape:
    """One input's optimisation-profile shapes, batch dimension included.

    Attributes:
        min: Smallest shape the engine accepts.
        opt: Shape the kernels are tuned for.
        max: Largest shape the engine accepts.
    """

    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]


@dataclass(frozen=True)
class EngineResult:
    """What the TensorRT stage produced.

    Attributes:
        engine_path: The serialized engine (``model.plan``).
        size_bytes: Its size.
        seconds: Wall time of the build.
        manifest: What it was built for (written as ``<model>/engine.json``).
        where: ``"local"`` (TensorRT Python API here) or ``"docker"`` (trtexec in NVIDIA's container).
    """

    engine_path: Path
    size_bytes: int
    seconds: float
    manifest: EngineManifest
    where: str


def optimization_profile(
    inputs: tuple[TensorSpec, ...],
    max_batch_size: int,
    *,
    opt_batch_size: int | None = None,
    dynamic_dims: Mapping[str, tuple[int, int, int]] | None = None,
) -> dict[str, ProfileShape]:
    """Derive min/opt/max shapes for every input.

    The batch dimension ranges over ``1..max_batch_size`` and is tuned for
    ``opt_batch_size`` (default: ``max_batch_size``, the shape dynamic batching aims for).
    Fixed dims are repeated; dynamic (-1) non-batch dims need ``(min, opt, max)`` in
    ``dynamic_dims[input_name]``.

    Raises:
        ValueError: Bad batch sizes, or a dynamic dim without a range.
    """
    if max_batch_size < 1:
        raise ValueError(f"max_batch_size must be >= 1 (got {max_batch_size})")
    opt_bs = max_batch_size if opt_batch_size is None else opt_batch_size
    if not 1 <= opt_bs <= max_batch_size:
        raise ValueError(
            f"opt_batch_size must be between 1 and max_batch_size {max_batch_size} (got {opt_bs})"
        )
    ranges = dynamic_dims or {}
    profile: dict[str, ProfileShape] = {}
    for spec in inputs:
        lo, mid, hi = [1], [opt_bs], [max_batch_size]
        for axis, dim in enumerate(spec.dims, start=1):
            if dim >= 0:
                lo.append(dim)
                mid.append(dim)
                hi.append(dim)
                continue
            if spec.name not in ranges:
                raise ValueError(
                    f"input {spec.name!r} dim {axis} is dynamic; give its (min, opt, max) in dynamic_dims[{spec.name!r}]"
                )
            dmin, dopt, dmax = ranges[spec.name]
            lo.append(dmin)
            mid.append(dopt)
            hi.append(dmax)
        profile[spec.name] = ProfileShape(min=tuple(lo), opt=tuple(mid), max=tuple(hi))
    return profile


def trtexec_command(
    onnx_path: Path,
    engine_path: Path,
    profile: Mapping[str, ProfileShape],
    *,
    precision: str = "FP16",
    workspace_bytes: int = 1 << 30,
    timing_cache: Path | None = None,
    hardware_compatibility: str = "none",
) -> list[str]:
    """Return the ``trtexec`` command equivalent to :func:`build_engine`.

    Args:
        onnx_path: The ONNX model.
        engine_path: Where the engine is saved.
        profile: Per-input shapes from :func:`optimization_profile`.
        precision: "FP32", "FP16" or "INT8" (INT8 also enables FP16 for layers without
            INT8 kernels, as trtexec users usually do).
        workspace_bytes: Workspace memory pool limit.
        timing_cache: A timing cache file to read and update (``--timingCacheFile``). Defaults to none.
        hardware_compatibility: "none" or "ampere+" (``--hardwareCompatibilityLevel=ampere+``).
            Defaults to "none".
    """
    if precision not in {"FP32", "FP16", "INT8"}:
        raise ValueError(f"precision must be FP32, FP16 or INT8 (got {precision!r})")
    if hardware_compatibility not in {"none", "ampere+"}:
        raise ValueError(f"hardware_compatibility must be none or ampere+ (got {hardware_compatibility!r})")

    def shapes(attr: str) -> str:
        return ",".join(f"{name}:{'x'.join(map(str, getattr(p, attr)))}" for name, p in profile.items())

    command = [
        "trtexec",
        f"--onnx={onnx_path}",
        f"--saveEngine={engine_path}",
        f"--minShapes={shapes('min')}",
        f"--optShapes={shapes('opt')}",
        f"--maxShapes={shapes('max')}",
        # TensorRT 10 removed --workspace; the pool size takes a unit suffix (M = MiB).
        f"--memPoolSize=workspace:{max(1, workspace_bytes >> 20)}M",
    ]
    if precision in {"FP16", "INT8"}:
        command.append("--fp16")
    if precision == "INT8":
        command.append("--int8")
    if hardware_compatibility == "ampere+":
        command.append("--hardwareCompatibilityLevel=ampere+")
    if timing_cache is not None:
        command.append(f"--timingCacheFile={timing_cache}")
    return command


def docker_trtexec_command(
    trtexec: Sequence[str],
    *,
    image: str,
    input_dir: str,
    output_dir: str,
    timing_cache_dir: str | None = None,
    user: str | None = None,
) -> list[str]:
    """Return the ``docker run`` command that runs ``trtexec`` in NVIDIA's TensorRT container on the GPUs.

    ``trtexec`` must name the container's paths: the ONNX folder is mounted read-only at
    :data:`CONTAINER_INPUT_DIR`, the engine folder at :data:`CONTAINER_OUTPUT_DIR`, the timing
    cache folder at :data:`CONTAINER_TIMING_CACHE_DIR`.

    Args:
        trtexec: The trtexec command (from :func:`trtexec_command`, with container paths).
        image: ``nvcr.io/nvidia/tensorrt:<yy.mm>-py3`` (:func:`~model_build.engine_target.tensorrt_container_image`).
        input_dir: Host folder holding the ONNX model (and any external-data files next to it).
        output_dir: Host folder the engine is written to.
        timing_cache_dir: Host folder of the timing cache. Defaults to none (no cache mounted).
        user: ``uid:gid`` the container runs as, so the engine is not owned by root. Defaults to
            the image's user.
    """
    command = ["docker", "run", "--rm", "--gpus", "all"]
    if user is not None:
        command += ["--user", user]
    command += ["-v", f"{input_dir}:{CONTAINER_INPUT_DIR}:ro", "-v", f"{output_dir}:{CONTAINER_OUTPUT_DIR}"]
    if timing_cache_dir is not None:
        command += ["-v", f"{timing_cache_dir}:{CONTAINER_TIMING_CACHE_DIR}"]
    return [*command, image, *trtexec]


def shell_line(command: Sequence[str]) -> str:
    """Return ``command`` as one shell line; ``$(pwd)`` stays unquoted so the shell expands it."""
    return " ".join(
        f'"{_ELSEWHERE_DIR}"' + shlex.quote(arg[len(_ELSEWHERE_DIR) :])
        if arg.startswith(_ELSEWHERE_DIR)
        else shlex.quote(arg)
        for arg in command
    )


@dataclass(frozen=True)
class GpuInfo:
    """One GPU of the machine that builds.

    Attributes:
        name: Its name, canonical when :mod:`model_build.hardware` knows it (``"NVIDIA T4"``
            for nvidia-smi's ``"Tesla T4"``).
        compute_capability: ``"7.5"``.
    """

    name: str
    compute_capability: str

    def describe(self) -> str:
        """``"NVIDIA T4 (compute capability 7.5)"``."""
        return f"{self.name} (compute capability {self.compute_capability})"


@dataclass(frozen=True)
class BuildEnvironment:
    """What the machine that builds offers (probed by :func:`probe_build_environment`).

    Attributes:
        tensorrt_version: major.minor.patch of the ``tensorrt`` module; None when it does not import.
        gpus: The NVIDIA GPUs, device 0 first; empty when none (or no ``nvidia-smi``).
        docker_problem: Why ``docker run --gpus all`` cannot work here; None when it can.
    """

    tensorrt_version: str | None
    gpus: tuple[GpuInfo, ...]
    docker_problem: str | None


def local_tensorrt_version() -> str | None:
    """Return the major.minor.patch of ``import tensorrt``; None when it does not import."""
    try:
        import tensorrt as trt  # type: ignore[import-not-found]
    except ImportError:
        return None
    return major_minor_patch(str(trt.__version__))


def local_gpus(run: Runner = subprocess.run) -> tuple[GpuInfo, ...]:
    """Return this machine's NVIDIA GPUs from ``nvidia-smi`` (empty when there is none or no driver)."""
    try:
        result = run(
            ["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    if result.returncode != 0:
        return ()
    return parse_nvidia_smi(result.stdout)


def parse_nvidia_smi(text: str) -> tuple[GpuInfo, ...]:
    """Parse ``nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader`` output."""
    gpus = []
    for line in text.splitlines():
        name, _, capability = line.rpartition(",")
        name, capability = name.strip(), capability.strip()
        if not name or not re.fullmatch(r"\d+\.\d+", capability):
            continue
        known = accelerator_named(name)
        gpus.append(GpuInfo(known.name if known is not None else name, capability))
    return tuple(gpus)


def docker_gpu_problem(run: Runner = subprocess.run) -> str | None:
    """Return why ``docker run --gpus all`` cannot work here; None when a daemon with the NVIDIA runtime answers."""
    try:
        result = run(
            ["docker", "info", "--format", "{{json .Runtimes}}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except FileNotFoundError:
        return "the docker command is not installed"
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`docker info` failed ({error})"
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        return (
            f"no Docker daemon answers (`docker info`: {lines[-1] if lines else f'exit {result.returncode}'})"
        )
    if "nvidia" not in result.stdout:
        return (
            "the Docker daemon has no NVIDIA runtime (install the NVIDIA Container Toolkit so that "
            "`docker run --gpus all` works)"
        )
    return None


def probe_build_environment(
    *,
    tensorrt_version: Callable[[], str | None] = local_tensorrt_version,
    gpus: Callable[[], tuple[GpuInfo, ...]] = local_gpus,
    docker: Callable[[], str | None] = docker_gpu_problem,
) -> BuildEnvironment:
    """Probe what this machine offers for an engine build; each probe can be replaced (tests)."""
    return BuildEnvironment(tensorrt_version=tensorrt_version(), gpus=gpus(), docker_problem=docker())


@dataclass(frozen=True)
class EnginePlan:
    """Where and with what the engine is built.

    Attributes:
        where: ``"local"`` (TensorRT Python API) or ``"docker"`` (trtexec in NVIDIA's container).
        gpu: The GPU it is built on (device 0).
        tensorrt_version: The TensorRT that builds it (major.minor.patch).
        image: The container, for ``"docker"``.
    """

    where: str
    gpu: GpuInfo
    tensorrt_version: str
    image: str | None = None


def gpu_fits(gpu: GpuInfo, target: EngineTarget | None) -> bool:
    """Whether an engine for ``target`` may be built on ``gpu``.

    Without a target any GPU fits; ``"none"`` needs the target's compute capability; ``"ampere+"``
    needs a GPU of compute capability >= 8.0 (TensorRT builds those only on Ampere or newer).
    """
    if target is None:
        return True
    if target.hardware_compatibility == "ampere+":
        return capability_tuple(gpu.compute_capability) >= AMPERE_PLUS_MIN_CAPABILITY
    return gpu.compute_capability == target.compute_capability


def plan_engine_build(
    target: EngineTarget | None, environment: BuildEnvironment, *, elsewhere: str
) -> EnginePlan:
    """Choose where to build: locally, in NVIDIA's container, or nowhere (one error).

    Args:
        target: Where the engine will be served; None builds for whatever GPU 0 is, locally only.
        environment: What this machine offers.
        elsewhere: The command to run on a machine that has what is missing (for the error).

    Raises:
        TensorRTUnavailableError: Neither way works here; names what is missing, the target and ``elsewhere``.
    """
    gpu = environment.gpus[0] if environment.gpus else None
    fits = gpu is not None and gpu_fits(gpu, target)
    wanted = None if target is None else tensorrt_version_of_triton(target.triton_version)
    local_version = environment.tensorrt_version
    if gpu is not None and fits and local_version is not None and (wanted is None or local_version == wanted):
        return EnginePlan("local", gpu, local_version)
    if (
        gpu is not None
        and fits
        and target is not None
        and wanted is not None
        and environment.docker_problem is None
    ):
        return EnginePlan("docker", gpu, wanted, tensorrt_container_image(target.triton_version))
    missing = []
    if local_version is None:
        missing.append("the tensorrt Python module does not import")
    elif wanted is not None and local_version != wanted:
        missing.append(f"the tensorrt module here is {local_version}, not the target image's {wanted}")
    if gpu is None:
        missing.append("no NVIDIA GPU is visible (nvidia-smi lists none)")
    elif not fits:
        assert target is not None
        need = (
            "compute capability >= 8.0 for an 'ampere+' engine"
            if target.hardware_compatibility == "ampere+"
            else f"{target.gpu_name} (compute capability {target.compute_capability})"
        )
        missing.append(f"GPU 0 is {gpu.describe()}, but the target needs {need}")
    if target is None:
        missing.append("no tensorrt_target is set, so no TensorRT container can be chosen")
    elif environment.docker_problem is not None:
        missing.append(
            f"Docker cannot run {tensorrt_container_image(target.triton_version)} on a GPU here: "
            f"{environment.docker_problem}"
        )
    if target is None:
        where = (
            "Set ModelSpec(tensorrt_target=EngineTarget(instance_type=..., triton_version=...)) to pin the engine "
            "to where it is served, and build on a machine with that GPU, or run there"
        )
    else:
        families = ", ".join(f"{f}.*" for f in _families_of(target))
        where = (
            f"The target is {target.instance_type} ({target.gpu_name}, compute capability "
            f"{target.compute_capability}, hardware compatibility {target.hardware_compatibility!r}) with "
            f"Triton {target.triton_version} (TensorRT {wanted}): run this build on a machine with that GPU "
            f"(e.g. an EC2 {families} instance) and Docker with the NVIDIA Container Toolkit (or TensorRT "
            f"{wanted} installed), or run this there, in the folder holding model.onnx"
        )
    raise TensorRTUnavailableError(
        f"TensorRT is not available here to build the engine: {'; '.join(missing)}. {where}: {elsewhere}"
    )


def _families_of(target: EngineTarget) -> tuple[str, ...]:
    accelerator = accelerator_named(target.gpu_name or "")
    return families_with(accelerator) if accelerator is not None else ()


def precheck_engine_build(
    spec: ModelSpec, *, environment: BuildEnvironment | None = None
) -> BuildEnvironment:
    """Refuse a ``backend="tensorrt"`` build that cannot build its engine here, before any work starts.

    The pipeline calls it on a cache miss, before loading or exporting anything (a cache hit needs
    no TensorRT: the engine exists). The command shown for building elsewhere is exact when the
    source is an ONNX file (its inputs give the shapes); for a torch source the shapes come from
    its ONNX export, so the command names them ``<input>:<batch>x<dims>``.

    Returns:
        The probed environment, for :func:`build_engine` to reuse.

    Raises:
        TensorRTUnavailableError: Nowhere to build the engine here.
    """
    from model_build.sources import OnnxFile

    environment = probe_build_environment() if environment is None else environment
    mbs = spec.triton.max_batch_size
    profile: Mapping[str, ProfileShape] | None = None
    if isinstance(spec.source, OnnxFile):
        try:
            from model_build.triton_config import onnx_io

            profile = optimization_profile(onnx_io(Path(spec.source.path))[0], mbs)
        except Exception:
            profile = None
    if profile is None:
        placeholder = ProfileShape(min=(1,), opt=(mbs,), max=(mbs,))
        profile = {"<input>": placeholder}
    elsewhere = _elsewhere_command(
        Path("model.onnx"),
        Path("model.plan"),
        profile,
        spec.tensorrt_target,
        spec.tensorrt_precision,
        1 << 30,
    )
    if not isinstance(spec.source, OnnxFile):
        elsewhere += (
            " (model.onnx: this spec's ONNX export, from `python -m model_build build ... --backend onnxruntime`; "
            "give each input's shape as <input>:<batch>x<dims>)"
        )
    plan_engine_build(spec.tensorrt_target, environment, elsewhere=elsewhere)
    return environment


def timing_cache_name(plan: EnginePlan, hardware_compatibility: str) -> str:
    """Return the timing cache file for a build (``sm75-trt10.4.0-none.timing-cache``).

    TensorRT timing caches are specific to the GPU and TensorRT version; one per pair.
    """
    sm = plan.gpu.compute_capability.replace(".", "")
    level = "ampere-plus" if hardware_compatibility == "ampere+" else "none"
    return f"sm{sm}-trt{plan.tensorrt_version}-{level}.timing-cache"


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    *,
    inputs: tuple[TensorSpec, ...],
    max_batch_size: int,
    precision: str = "FP16",
    workspace_bytes: int = 1 << 30,
    opt_batch_size: int | None = None,
    target: EngineTarget | None = None,
    timing_cache_dir: Path | None = None,
    environment: BuildEnvironment | None = None,
    run: Runner = subprocess.run,
) -> EngineResult:
    """Build a serialized TensorRT engine from an ONNX model, for ``target``, and its manifest.

    INT8 here means explicit quantization: the ONNX graph must carry Q/DQ nodes (implicit
    calibration is deprecated in TensorRT 10 and needs a calibration data set).

    Args:
        onnx_path: The ONNX model.
        engine_path: Where the engine is written.
        inputs: The model's inputs (for the optimization profile, batch 1..max_batch_size).
        max_batch_size: The largest batch.
        precision: "FP16", "FP32" or "INT8". Defaults to "FP16".
        workspace_bytes: Builder workspace. Defaults to 1 GiB.
        opt_batch_size: The batch the kernels are tuned for. Defaults to ``max_batch_size``.
        target: Where the engine is served. Defaults to none: GPU 0 of this machine, locally only.
        timing_cache_dir: Folder of timing caches to read and update. Defaults to none.
        environment: What this machine offers. Defaults to :func:`probe_build_environment`.
        run: Runs ``docker``. Defaults to ``subprocess.run``.

    Raises:
        TensorRTUnavailableError: Nowhere to build here (a ``UserError``); the message has the command.
        TensorRTBuildError: Parsing or building failed (parser errors, trtexec's output).
    """
    profile = optimization_profile(inputs, max_batch_size, opt_batch_size=opt_batch_size)
    hardware_compatibility = "none" if target is None else target.hardware_compatibility
    environment = probe_build_environment() if environment is None else environment
    elsewhere = _elsewhere_command(onnx_path, engine_path, profile, target, precision, workspace_bytes)
    plan = plan_engine_build(target, environment, elsewhere=elsewhere)
    cache_file = None
    if timing_cache_dir is not None:
        timing_cache_dir.mkdir(parents=True, exist_ok=True)
        cache_file = timing_cache_dir / timing_cache_name(plan, hardware_compatibility)
    start = time.perf_counter()
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    if plan.where == "local":
        _build_with_python_api(
            onnx_path, engine_path, profile,
            precision=precision, workspace_bytes=workspace_bytes,
            hardware_compatibility=hardware_compatibility, timing_cache=cache_file,
        )  # fmt: skip
        builder = "tensorrt-python"
    else:
        assert plan.image is not None
        _build_in_container(
            onnx_path, engine_path, profile, plan,
            precision=precision, workspace_bytes=workspace_bytes,
            hardware_compatibility=hardware_compatibility, timing_cache=cache_file, run=run,
        )  # fmt: skip
        builder = f"trtexec in {plan.image}"
    manifest = EngineManifest(
        tensorrt_version=plan.tensorrt_version,
        compute_capability=plan.gpu.compute_capability,
        gpu_name=plan.gpu.name,
        hardware_compatibility=hardware_compatibility,
        precision=precision,
        max_batch_size=max_batch_size,
        builder=builder,
    )
    return EngineResult(
        engine_path=engine_path,
        size_bytes=engine_path.stat().st_size,
        seconds=time.perf_counter() - start,
        manifest=manifest,
        where=plan.where,
    )


def write_engine_manifest(model_dir: Path, manifest: EngineManifest) -> Path:
    """Write ``manifest`` as ``<model_dir>/engine.json`` (next to ``config.pbtxt``) and return its path."""
    path = model_dir / ENGINE_MANIFEST_FILENAME
    path.write_text(manifest.to_json(), encoding="utf-8")
    return path


def _elsewhere_command(
    onnx_path: Path,
    engine_path: Path,
    profile: Mapping[str, ProfileShape],
    target: EngineTarget | None,
    precision: str,
    workspace_bytes: int,
) -> str:
    """Return the command a user runs on a machine with the target's GPU (shown when nothing works here)."""
    if target is None or tensorrt_version_of_triton(target.triton_version) is None:
        plain = trtexec_command(
            Path(onnx_path.name),
            Path(engine_path.name),
            profile,
            precision=precision,
            workspace_bytes=workspace_bytes,
        )
        return shell_line(plain)
    trtexec = trtexec_command(
        Path(CONTAINER_INPUT_DIR) / onnx_path.name,
        Path(CONTAINER_OUTPUT_DIR) / engine_path.name,
        profile,
        precision=precision,
        workspace_bytes=workspace_bytes,
        hardware_compatibility=target.hardware_compatibility,
    )
    return shell_line(
        docker_trtexec_command(
            trtexec,
            image=tensorrt_container_image(target.triton_version),
            input_dir=_ELSEWHERE_DIR,
            output_dir=_ELSEWHERE_DIR,
        )
    )


def _build_with_python_api(
    onnx_path: Path,
    engine_path: Path,
    profile: Mapping[str, ProfileShape],
    *,
    precision: str,
    workspace_bytes: int,
    hardware_compatibility: str,
    timing_cache: Path | None,
) -> None:
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    # TensorRT 10 networks are always explicit-batch; the creation flag is gone.
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise TensorRTBuildError(f"TensorRT cannot parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if precision in {"FP16", "INT8"}:
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "INT8":
        config.set_flag(trt.BuilderFlag.INT8)
    if hardware_compatibility == "ampere+":
        config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.AMPERE_PLUS
    if timing_cache is not None:
        previous = timing_cache.read_bytes() if timing_cache.is_file() else b""
        # A cache from another TensorRT build is refused (returns False); start from an empty one then.
        if not config.set_timing_cache(config.create_timing_cache(previous), ignore_mismatch=False):
            config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)
    trt_profile = builder.create_optimization_profile()
    for name, shape in profile.items():
        trt_profile.set_shape(name, shape.min, shape.opt, shape.max)
    config.add_optimization_profile(trt_profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise TensorRTBuildError(
            f"TensorRT failed to build an engine from {onnx_path.name} (see the log above)"
        )
    engine_path.write_bytes(bytes(serialized))
    if timing_cache is not None:
        _write_atomically(timing_cache, bytes(config.get_timing_cache().serialize()))


def _build_in_container(
    onnx_path: Path,
    engine_path: Path,
    profile: Mapping[str, ProfileShape],
    plan: EnginePlan,
    *,
    precision: str,
    workspace_bytes: int,
    hardware_compatibility: str,
    timing_cache: Path | None,
    run: Runner,
) -> None:
    assert plan.image is not None
    trtexec = trtexec_command(
        Path(CONTAINER_INPUT_DIR) / onnx_path.name,
        Path(CONTAINER_OUTPUT_DIR) / engine_path.name,
        profile,
        precision=precision,
        workspace_bytes=workspace_bytes,
        timing_cache=None if timing_cache is None else Path(CONTAINER_TIMING_CACHE_DIR) / timing_cache.name,
        hardware_compatibility=hardware_compatibility,
    )
    command = docker_trtexec_command(
        trtexec,
        image=plan.image,
        input_dir=str(onnx_path.parent.resolve()),
        output_dir=str(engine_path.parent.resolve()),
        timing_cache_dir=None if timing_cache is None else str(timing_cache.parent.resolve()),
        user=_current_user(),
    )
    result = run(command, capture_output=True, text=True, check=False)
    output = f"{result.stdout or ''}\n{result.stderr or ''}"
    if result.returncode != 0 or not engine_path.is_file():
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise TensorRTBuildError(
            f"trtexec in {plan.image} failed (exit {result.returncode}) building {onnx_path.name}; command: "
            f"{shell_line(command)}\n{tail}"
        )
    reported = tensorrt_version_in_log(output)
    if reported is not None and reported != plan.tensorrt_version:
        engine_path.unlink()
        raise TensorRTBuildError(
            f"{plan.image} reports TensorRT {reported}, but its Triton release runs TensorRT "
            f"{plan.tensorrt_version}; the engine would not load there — check the image tag and "
            "model_build.engine_target.TENSORRT_OF_TRITON"
        )


def tensorrt_version_in_log(text: str) -> str | None:
    """Return the TensorRT version trtexec prints (``[I] TensorRT version: 10.4.0``), major.minor.patch."""
    match = re.search(r"TensorRT version:\s*(\d+\.\d+\.\d+)", text)
    return None if match is None else match.group(1)


def _current_user() -> str | None:
    getuid: Any = getattr(os, "getuid", None)
    getgid: Any = getattr(os, "getgid", None)
    return None if getuid is None or getgid is None else f"{getuid()}:{getgid()}"


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def retarget_engine(spec: ModelSpec, *, instance_type: str, triton_version: str) -> ModelSpec:
    """Return ``spec`` with its TensorRT engine pinned to the endpoint's instance type and Triton image.

    The engine runs only on the GPU and TensorRT version it was built for, so the build follows the
    endpoint: another instance type or image version is another engine (another inputs hash). The
    hardware compatibility level the spec asked for is kept. One function for the stacks (which
    serve the engine) and :mod:`model_build.engine_job` (which builds it elsewhere), so both compute
    the same inputs hash.
    """
    import dataclasses

    compatibility = "none" if spec.tensorrt_target is None else spec.tensorrt_target.hardware_compatibility
    target = EngineTarget(
        instance_type=instance_type, triton_version=triton_version, hardware_compatibility=compatibility
    )
    return dataclasses.replace(spec, tensorrt_target=target)


def tensorrt_available() -> bool:
    """Whether ``import tensorrt`` works here."""
    return local_tensorrt_version() is not None
