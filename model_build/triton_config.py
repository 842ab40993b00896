"""Stage: the Triton ``config.pbtxt``, built as a ``model_config_pb2.ModelConfig`` message.

Inputs and outputs come from the ONNX graph (names, data types, dims after the batch
dimension), never from string templates; the message is written with ``text_format`` and
parsed back with :func:`parse_config`. :func:`validate_against_onnx` rejects a config whose
tensors disagree with the graph, which Triton would otherwise only report at load time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from model_build.backends import backend
from model_build.dtypes import ONNX_TO_TRITON, is_float
from model_build.sources import DYNAMIC_DIM_EXAMPLE, TensorSpec
from model_build.spec import ModelSpec, warmup_name

if TYPE_CHECKING:
    from tritonclient.grpc.model_config_pb2 import ModelConfig



class ConfigMismatchError(ValueError):
    """A Triton config disagrees with the ONNX graph it is meant to serve."""


def onnx_io(onnx_path: Path) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """Read the graph inputs and outputs as tensor specs without the batch dimension.

    Every tensor's first dimension is the batch dimension (this project always exports one,
    so it must be dynamic); other symbolic dimensions become -1. Initializers listed as
    inputs are skipped.

    Raises:
        ConfigMismatchError: A tensor has no leading dimension, a fixed one, or an
            unsupported data type.
    """
    import onnx

    # load_external_data=False: only the graph signature is needed, not gigabytes of weights.
    model = onnx.load(str(onnx_path), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}

    def specs(values: list[onnx.ValueInfoProto]) -> tuple[TensorSpec, ...]:
        out = []
        for value in values:
            if value.name in initializers:
                continue
            tensor = value.type.tensor_type
            if tensor.elem_type not in ONNX_TO_TRITON:
                raise ConfigMismatchError(
                    f"tensor {value.name!r} has ONNX element type {tensor.elem_type}, which Triton cannot serve"
                )
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
            if not dims:
                raise ConfigMismatchError(
                    f"tensor {value.name!r} is a scalar; a batch dimension is required (max_batch_size >= 1)"
                )
            if dims[0] != -1:
                raise ConfigMismatchError(
                    f"tensor {value.name!r} has a fixed first dimension {dims[0]}; Triton's max_batch_size >= 1 "
                    "needs a dynamic batch dimension: re-export with a dynamic axis 0 "
                    "(torch.onnx.export dynamic_axes={name: {0: 'batch'}})"
                )
            out.append(TensorSpec(value.name, ONNX_TO_TRITON[tensor.elem_type], tuple(dims[1:])))
        return tuple(out)

    return specs(list(model.graph.input)), specs(list(model.graph.output))


def build_config(
    spec: ModelSpec, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]
) -> ModelConfig:
    """Build the ``ModelConfig`` message for a spec and its graph tensors.

    Args:
        spec: The model spec (Triton model name, backend, Triton options).
        inputs: Graph inputs, from :func:`onnx_io` (for ``backend="pytorch"``: the trace's
            ``INPUT__<i>`` tensors from :func:`model_build.export.export_torchscript`).
        outputs: Graph outputs, likewise.
    """
    t = spec.triton
    config = mc.ModelConfig(
        name=spec.triton_model_name, platform=backend(spec.backend).platform, max_batch_size=t.max_batch_size
    )
    for s in inputs:
        config.input.append(mc.ModelInput(name=s.name, data_type=_data_type(s.dtype), dims=list(s.dims)))
    for s in outputs:
        config.output.append(mc.ModelOutput(name=s.name, data_type=_data_type(s.dtype), dims=list(s.dims)))
    if t.dynamic_batching is not None:
        db = t.dynamic_batching
        config.dynamic_batching.SetInParent()  # an empty `dynamic_batching {}` still enables it
        config.dynamic_batching.preferred_batch_size.extend(db.preferred_batch_sizes)
        config.dynamic_batching.max_queue_delay_microseconds = db.max_queue_delay_microseconds
    config.instance_group.append(
        mc.ModelInstanceGroup(count=t.instance_count, kind=mc.ModelInstanceGroup.Kind.Value(t.instance_kind))
    )
    for bs in t.warmup_batch_sizes:
        warmup = mc.ModelWarmup(name=warmup_name(bs), batch_size=bs)
        for s in inputs:
            # Random data for floats; zeros for integers, because random INT64 ids would be
            # out of an embedding's range and fail the warmup (and so the model load).
            data = mc.ModelWarmup.Input(
                data_type=_data_type(s.dtype),
                dims=[DYNAMIC_DIM_EXAMPLE if d < 0 else d for d in s.dims],
            )
            if is_float(s.dtype):
                data.random_data = True
            else:
                data.zero_data = True
            warmup.inputs[s.name].CopyFrom(data)
        config.model_warmup.append(warmup)
    if t.ort_tensorrt is not None:
        accel = config.optimization.execution_accelerators.gpu_execution_accelerator.add()
        accel.name = "tensorrt"
        accel.parameters["precision_mode"] = t.ort_tensorrt.precision_mode
        accel.parameters["max_workspace_size_bytes"] = str(t.ort_tensorrt.max_workspace_size_bytes)
    return config


def config_to_text(config: ModelConfig) -> str:
    """Return the protobuf text form of a config (what ``config.pbtxt`` holds)."""
    return str(text_format.MessageToString(config))


def write_config(config: ModelConfig, path: Path) -> Path:
    """Write a config as ``config.pbtxt`` text and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_to_text(config), encoding="utf-8")
    return path


def parse_config(text: str) -> ModelConfig:
    """Parse ``config.pbtxt`` text into a ``ModelConfig`` message.

    Raises:
        ValueError: The text is not a valid ModelConfig (the protobuf parse error says where).
    """
    try:
        return text_format.Parse(text, mc.ModelConfig())
    except text_format.ParseError as exc:
        raise ValueError(f"invalid config.pbtxt: {exc}") from exc


def validate_against_onnx(config: ModelConfig, onnx_path: Path) -> None:
    """Check that a config's inputs and outputs match the ONNX graph exactly.

    Names, Triton data types and dims (after the batch dimension; -1 in the graph allows any
    value in the config, a fixed graph dim must be repeated exactly) are compared, and
    ``max_batch_size`` must be >= 1 because the graph has a batch dimension.

    Raises:
        ConfigMismatchError: Listing every disagreement.
    """
    inputs, outputs = onnx_io(onnx_path)
    problems: list[str] = []
    if config.max_batch_size < 1:
        problems.append(
            f"max_batch_size must be >= 1 because the ONNX graph has a batch dimension (got {config.max_batch_size})"
        )
    for kind, declared, graph in (("input", config.input, inputs), ("output", config.output, outputs)):
        by_name = {s.name: s for s in graph}
        seen = set()
        for tensor in declared:
            seen.add(tensor.name)
            g = by_name.get(tensor.name)
            if g is None:
                problems.append(
                    f"{kind} {tensor.name!r} is not in the ONNX graph (graph {kind}s: {sorted(by_name)})"
                )
                continue
            dtype = mc.DataType.Name(tensor.data_type).removeprefix("TYPE_").replace("STRING", "BYTES")
            if dtype != g.dtype:
                problems.append(
                    f"{kind} {tensor.name!r} data_type is TYPE_{dtype}, the ONNX graph has TYPE_{g.dtype}"
                )
            dims = list(tensor.dims)
            if len(dims) != len(g.dims) or any(
                gd != -1 and gd != cd for gd, cd in zip(g.dims, dims, strict=False)
            ):
                problems.append(
                    f"{kind} {tensor.name!r} dims are {dims}, the ONNX graph has {list(g.dims)} "
                    "(after the batch dimension; -1 is dynamic)"
                )
        for name in sorted(set(by_name) - seen):
            if kind == "input":
                problems.append(f"ONNX graph input {name!r} is missing from the config")
    if problems:
        raise ConfigMismatchError(
            f"config for {config.name!r} disagrees with {onnx_path.name}: " + "; ".join(problems)
        )


def _data_type(dtype: str) -> int:
    return int(mc.DataType.Value(f"TYPE_{'STRING' if dtype == 'BYTES' else dtype}"))
