"""Stage: ONNX → TensorRT engine (``model.plan``), for ``backend="tensorrt"``.

Written against the TensorRT 10 Python API. TensorRT is not installable on the CPU machines
this project develops on; there :func:`build_engine` raises :class:`TensorRTUnavailableError`
with the equivalent ``trtexec`` command, to run on a GPU machine or in NVIDIA's TensorRT
container. Engines are specific to the GPU architecture and TensorRT version: build on the
instance family and with the TensorRT version of the Triton image that will serve them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from model_build.sources import TensorSpec

TRT_CONTAINER = "nvcr.io/nvidia/tensorrt"


class TensorRTUnavailableError(RuntimeError):
    """The ``tensorrt`` Python package cannot be imported on this machine."""


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
    """

    engine_path: Path
    size_bytes: int
    seconds: float


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
) -> list[str]:
    """Return the ``trtexec`` command equivalent to :func:`build_engine`.

    Args:
        onnx_path: The ONNX model.
        engine_path: Where the engine is saved.
        profile: Per-input shapes from :func:`optimization_profile`.
        precision: "FP32", "FP16" or "INT8" (INT8 also enables FP16 for layers without
            INT8 kernels, as trtexec users usually do).
        workspace_bytes: Workspace memory pool limit.
    """
    if precision not in {"FP32", "FP16", "INT8"}:
        raise ValueError(f"precision must be FP32, FP16 or INT8 (got {precision!r})")

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
    return command


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    *,
    inputs: tuple[TensorSpec, ...],
    max_batch_size: int,
    precision: str = "FP16",
    workspace_bytes: int = 1 << 30,
    opt_batch_size: int | None = None,
) -> EngineResult:
    """Build a serialized TensorRT engine from an ONNX model with the TensorRT 10 API.

    INT8 here means explicit quantization: the ONNX graph must carry Q/DQ nodes (implicit
    calibration is deprecated in TensorRT 10 and needs a calibration data set).

    Raises:
        TensorRTUnavailableError: ``import tensorrt`` fails; the message has the trtexec form.
        TensorRTBuildError: Parsing or building failed (parser errors are listed).
    """
    profile = optimization_profile(inputs, max_batch_size, opt_batch_size=opt_batch_size)
    try:
        import tensorrt as trt  # type: ignore[import-not-found]
    except ImportError as exc:
        command = " ".join(
            trtexec_command(
                onnx_path, engine_path, profile, precision=precision, workspace_bytes=workspace_bytes
            )
        )
        raise TensorRTUnavailableError(
            "TensorRT is not available here; build on a GPU machine with TensorRT or in NVIDIA's TensorRT "
            f"container ({TRT_CONTAINER}, the TensorRT version of your Triton image) on the target GPU "
            f"family, with the equivalent command: {command}"
        ) from exc

    start = time.perf_counter()
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
    trt_profile = builder.create_optimization_profile()
    for name, shape in profile.items():
        trt_profile.set_shape(name, shape.min, shape.opt, shape.max)
    config.add_optimization_profile(trt_profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise TensorRTBuildError(
            f"TensorRT failed to build an engine from {onnx_path.name} (see the log above)"
        )
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    engine_path.write_bytes(bytes(serialized))
    return EngineResult(
        engine_path=engine_path, size_bytes=engine_path.stat().st_size, seconds=time.perf_counter() - start
    )


def tensorrt_available() -> bool:
    """Whether ``import tensorrt`` works here."""
    try:
        import tensorrt  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True
