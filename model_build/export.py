"""Stage: torch module → ONNX file with a dynamic batch axis and stable tensor names.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_build.sources import EXPORT_BATCH_SIZE, LoadedModel, random_inputs

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
