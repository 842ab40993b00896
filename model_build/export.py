"""Every torch exporter of the project: ONNX (the build stage), TorchScript and ``torch.export``.

The build stage turns a torch module into an ONNX file with a dynamic batch axis and stable
tensor names (:func:`export_onnx`), or, for ``backend="pytorch"``, into a TorchScript trace for
Triton's PyTorch backend (:func:`export_torchscript`). The torch executor of :mod:`model_build.local_serving` (the
GPU benchmarks) serves a TorchScript trace (:func:`write_torchscript`) or a ``torch.export``
program (:func:`write_exported_program`) of the same source instead.

Which exporter, and why (checked with torch 2.13.0):

* The TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``) still exists in
  torch 2.13 (deprecated, with a warning). It exports BERT and ResNet-50 in well under a
  second / ~3 s, takes ``dynamic_axes`` directly, accepts ``torch.jit.ScriptModule``
  sources, and writes byte-identical files for identical inputs. It is the default.
* The dynamo exporter (``dynamo=True``, the default in torch 2.9+) also exports these models
  deterministically, but is ~10-20x slower (torch.export tracing plus onnxscript
  optimisation), needs ``dynamic_shapes`` with ``torch.export.Dim`` instead of
  ``dynamic_axes``, and cannot trace ScriptModules. It is the fallback for when a future
  torch removes the legacy path, and can be forced with ``exporter="dynamo"``.
"""

from __future__ import annotations

import inspect
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_build.sources import EXPORT_BATCH_SIZE, LoadedModel, TensorSpec, random_inputs

if TYPE_CHECKING:
    from model_build.spec import ModelSpec

EXPORTERS: tuple[str, ...] = ("auto", "torchscript", "dynamo")


class ExportError(RuntimeError):
    """The export failed or produced an invalid ONNX graph."""


@dataclass(frozen=True)
class ExportResult:
    """What the export stage produced.

    Attributes:
        onnx_path: The written ONNX file.
        exporter: "torchscript", "dynamo" or "copy" (the source already was ONNX).
        size_bytes: Size of the ONNX file.
        seconds: Wall time of the stage.
    """

    onnx_path: Path
    exporter: str
    size_bytes: int
    seconds: float


def export_onnx(
    loaded: LoadedModel,
    onnx_path: Path,
    *,
    opset: int,
    max_batch_size: int,
    exporter: str = "auto",
) -> ExportResult:
    """Export (or copy) a loaded model to ``onnx_path`` and check the graph.

    Args:
        loaded: The loaded source.
        onnx_path: Where to write the ONNX file.
        opset: ONNX opset to target.
        max_batch_size: Upper bound of the batch dimension (the dynamo exporter's ``Dim``).
        exporter: "auto" (TorchScript-based if available, else dynamo), "torchscript" or "dynamo".

    Raises:
        ExportError: The exporter failed or the graph does not pass ``onnx.checker``.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {', '.join(EXPORTERS)} (got {exporter!r})")
    start = time.perf_counter()
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    if loaded.module is None:
        if loaded.onnx_path is None:
            raise ExportError("source has neither a torch module nor an ONNX file")
        shutil.copyfile(loaded.onnx_path, onnx_path)
        used = "copy"
    else:
        used = _export_torch(loaded, onnx_path, opset=opset, max_batch_size=max_batch_size, exporter=exporter)
    _check(onnx_path)
    return ExportResult(
        onnx_path=onnx_path,
        exporter=used,
        size_bytes=onnx_path.stat().st_size,
        seconds=time.perf_counter() - start,
    )


def _export_torch(
    loaded: LoadedModel, onnx_path: Path, *, opset: int, max_batch_size: int, exporter: str
) -> str:
    import torch

    arrays = random_inputs(loaded.inputs, EXPORT_BATCH_SIZE, seed=0)
    args = tuple(torch.from_numpy(arrays[s.name]) for s in loaded.inputs)
    input_names = [s.name for s in loaded.inputs]
    output_names = list(loaded.output_names)
    use_torchscript = exporter == "torchscript" or (exporter == "auto" and _has_torchscript_exporter())
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The legacy exporter warns about its deprecation and about traced Python
            # conditionals in transformers' code; neither affects the fixed-shape graph.
            warnings.simplefilter("ignore")
            if use_torchscript:
                dynamic_axes: dict[str, Any] = {name: {0: "batch"} for name in input_names + output_names}
                for spec in loaded.inputs:
                    for axis, dim in enumerate(spec.dims, start=1):
                        if dim < 0:
                            dynamic_axes[spec.name][axis] = f"{spec.name}_dim{axis}"
                torch.onnx.export(
                    loaded.module,
                    args,
                    str(onnx_path),
                    dynamo=False,
                    input_names=input_names,
                    output_names=output_names,
                    opset_version=opset,
                    dynamic_axes=dynamic_axes,
                    do_constant_folding=True,
                )
                return "torchscript"
            batch = torch.export.Dim("batch", min=1, max=max(max_batch_size, EXPORT_BATCH_SIZE))
            shapes: tuple[Any, ...] = tuple(
                {0: batch, **{axis: torch.export.Dim.AUTO for axis, d in enumerate(s.dims, 1) if d < 0}}
                for s in loaded.inputs
            )
            # torch.export matches dynamic_shapes to forward's parameters: a ``*args`` forward
            # (the transformers wrappers) takes the whole tuple as one parameter.
            if any(
                p.kind is p.VAR_POSITIONAL
                for p in inspect.signature(loaded.module.forward).parameters.values()
            ):
                shapes = (shapes,)
            program = torch.onnx.export(
                loaded.module,
                args,
                dynamo=True,
                input_names=input_names,
                output_names=output_names,
                opset_version=opset,
                dynamic_shapes=shapes,
                external_data=False,
                verbose=False,
            )
            if program is None:
                raise ExportError("the dynamo exporter returned no program")
            program.save(str(onnx_path), external_data=False)
            return "dynamo"
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(
            f"torch.onnx.export failed ({'torchscript' if use_torchscript else 'dynamo'}): {exc}"
        ) from exc


@dataclass(frozen=True)
class TorchScriptExport:
    """What the TorchScript stage (``backend="pytorch"``) produced.

    Attributes:
        model_path: The saved trace (``model.pt``).
        inputs: The trace's inputs as Triton's PyTorch backend names them (``INPUT__0``…), in
            ``forward`` order, with the source's data types and dims.
        outputs: Its outputs (``OUTPUT__0``…) with the data types and dims the trace returned.
        source_names: Triton tensor name → the source's tensor name (``INPUT__0`` → ``pixel_values``).
        size_bytes: Size of the saved file.
        seconds: Wall time of the stage.
    """

    model_path: Path
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    source_names: dict[str, str]
    size_bytes: int
    seconds: float


def export_torchscript(loaded: LoadedModel, model_path: Path) -> TorchScriptExport:
    """Trace a loaded torch source with ``torch.jit.trace`` and save it for Triton's PyTorch backend.

    The trace runs on the same seeded example inputs the ONNX export uses (batch
    :data:`~model_build.sources.EXPORT_BATCH_SIZE`) and is run once more at one row more, so a trace
    that baked the batch dimension in fails here, not inside Triton. A TorchScript source is saved as
    it is (tracing a ScriptModule is a no-op).

    Args:
        loaded: The loaded source; it must have a torch module.
        model_path: Where to save the trace.

    Raises:
        ExportError: The source has no torch module, tracing failed, or the trace fixed the batch.
    """
    import torch

    from model_build.backends import pytorch_tensor_name
    from model_build.dtypes import DTYPE_ALIASES

    start = time.perf_counter()
    if loaded.module is None:
        raise ExportError("backend 'pytorch' needs a torch module; the source is an ONNX file")

    def example(batch: int) -> tuple[Any, ...]:
        arrays = random_inputs(loaded.inputs, batch, seed=0)
        return tuple(torch.from_numpy(arrays[s.name]) for s in loaded.inputs)

    try:
        with torch.no_grad(), warnings.catch_warnings():
            # transformers' traced Python conditionals warn; the shapes they depend on are fixed.
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(loaded.module, example(EXPORT_BATCH_SIZE), check_trace=False)
            result = traced(*example(EXPORT_BATCH_SIZE + 1))
    except Exception as exc:
        raise ExportError(f"torch.jit.trace failed: {exc}") from exc
    values = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(values) != len(loaded.output_names):
        raise ExportError(
            f"the trace returns {len(values)} outputs, the source declares {len(loaded.output_names)} "
            f"({', '.join(loaded.output_names)})"
        )
    outputs = []
    for index, value in enumerate(values):
        if int(value.shape[0]) != EXPORT_BATCH_SIZE + 1:
            raise ExportError(
                f"the trace fixed the batch dimension of output {loaded.output_names[index]!r} at "
                f"{EXPORT_BATCH_SIZE}; make the module's forward independent of the batch size"
            )
        dtype = DTYPE_ALIASES.get(str(value.dtype).removeprefix("torch."))
        if dtype is None:
            raise ExportError(f"output {loaded.output_names[index]!r} has dtype {value.dtype}, which Triton cannot serve")
        outputs.append(TensorSpec(pytorch_tensor_name("output", index), dtype, tuple(int(d) for d in value.shape[1:])))
    inputs = tuple(
        TensorSpec(pytorch_tensor_name("input", index), s.dtype, s.dims, s.value_range)
        for index, s in enumerate(loaded.inputs)
    )
    source_names = {t.name: s.name for t, s in zip(inputs, loaded.inputs, strict=True)}
    source_names.update({t.name: name for t, name in zip(outputs, loaded.output_names, strict=True)})
    model_path.parent.mkdir(parents=True, exist_ok=True)
    traced.save(str(model_path))
    return TorchScriptExport(
        model_path=model_path,
        inputs=inputs,
        outputs=tuple(outputs),
        source_names=source_names,
        size_bytes=model_path.stat().st_size,
        seconds=time.perf_counter() - start,
    )


def _has_torchscript_exporter() -> bool:
    import torch

    return "dynamo" in inspect.signature(torch.onnx.export).parameters and hasattr(torch.onnx, "utils")


def _check(onnx_path: Path) -> None:
    import onnx

    try:
        # The path form also handles models above protobuf's 2 GiB in-memory limit.
        onnx.checker.check_model(str(onnx_path))
    except Exception as exc:
        raise ExportError(f"{onnx_path.name} is not a valid ONNX model: {exc}") from exc


# ----------------------------------------------------------------------------------------------
# Programs for the torch executor (model_build.local_serving): TorchScript and torch.export


def _source_on_device(spec: ModelSpec, device: str, half: bool) -> tuple[Any, Any, Callable[[int], tuple[Any, ...]]]:
    """Load the spec's torch source on ``device`` (fp16 if ``half``) with a seeded example-input maker."""
    import torch

    loaded = spec.source.load()
    if loaded.module is None:
        raise ValueError(f"{spec.name}: the source has no torch module to export or trace")
    module = loaded.module.to(device).eval()
    if half:
        module = module.half()

    def example(n: int) -> tuple[Any, ...]:
        arrays = random_inputs(loaded.inputs, n, seed=0)
        tensors = (torch.from_numpy(arrays[t.name]).to(device) for t in loaded.inputs)
        return tuple(t.half() if half and t.is_floating_point() else t for t in tensors)

    return loaded, module, example


def write_exported_program(
    spec: ModelSpec, path: Path, *, device: str = "cpu", half: bool = False
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Export the spec's source model with ``torch.export`` (dynamic batch axis) for the torch executor.

    Unlike a TorchScript trace, an exported program can be ``torch.compile``-d inside the server.
    Export on the serving device and in the serving precision: the program records the tensors
    ``forward`` creates (position ids, mask fill values) with that device and dtype.

    Args:
        spec: The model; the batch axis ranges over ``1..spec.triton.max_batch_size``.
        path: Where to save the ``.pt2`` file.
        device: ``cpu`` or ``cuda``.
        half: Export in fp16.

    Returns:
        ``(inputs, outputs)`` as :class:`model_build.sources.TensorSpec` tuples.
    """
    import torch

    loaded, module, example = _source_on_device(spec, device, half)
    batch = torch.export.Dim("batch", min=1, max=max(EXPORT_BATCH_SIZE, spec.triton.max_batch_size))
    # dynamic_shapes mirrors forward's signature: one spec per parameter, and a ``*args`` parameter
    # (model_build wraps transformers models that way) takes one tuple for all its values.
    per_input = tuple({0: batch} for _ in loaded.inputs)
    params = inspect.signature(module.forward).parameters.values()
    varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    dynamic = (per_input,) if varargs else per_input
    with torch.inference_mode():
        # Exported at one batch size and run at another, so a program that fixed the batch fails here.
        program = torch.export.export(module, example(EXPORT_BATCH_SIZE), dynamic_shapes=dynamic)
        result = program.module()(*example(EXPORT_BATCH_SIZE + 1))
    values = result if isinstance(result, (tuple, list)) else (result,)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, str(path))
    outputs = tuple(
        TensorSpec(name, "FP32", tuple(int(d) for d in v.shape[1:]))
        for name, v in zip(loaded.output_names, values, strict=True)
    )
    return loaded.inputs, outputs


def write_torchscript(
    spec: ModelSpec, path: Path, *, batch_size: int = 2, device: str = "cpu", half: bool = False
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Trace the spec's source model to TorchScript for the torch executor.

    The trace runs at ``batch_size`` and is checked at ``batch_size + 1``, so a graph that
    baked the batch dimension in fails here rather than inside Triton. Trace on the device
    and in the precision that will serve: a trace records the tensors ``forward`` creates
    (transformers' position ids, mask fill values) with the device and dtype of the trace,
    so a CPU fp32 trace fails on CUDA.

    Args:
        spec: The model.
        path: Where to save the TorchScript file.
        batch_size: Batch of the example inputs.
        device: ``cpu`` or ``cuda``.
        half: Trace in fp16 (the torch executor's ``precision: fp16``).

    Returns:
        ``(inputs, outputs)`` as :class:`model_build.sources.TensorSpec` tuples.
    """
    import torch

    loaded, module, example = _source_on_device(spec, device, half)
    with torch.inference_mode():
        traced = torch.jit.trace(module, example(batch_size), check_trace=False)
        result = traced(*example(batch_size + 1))
    values = result if isinstance(result, (tuple, list)) else (result,)
    if int(values[0].shape[0]) != batch_size + 1:
        raise ValueError(f"{spec.name}: the traced model fixed the batch dimension at {batch_size}")
    path.parent.mkdir(parents=True, exist_ok=True)
    traced.save(str(path))
    outputs = tuple(
        TensorSpec(name, "FP32", tuple(int(d) for d in v.shape[1:]))
        for name, v in zip(loaded.output_names, values, strict=True)
    )
    return loaded.inputs, outputs
