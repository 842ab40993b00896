"""Triton python-backend ``model.py`` that serves a production model without its production backend.

:func:`model_build.local_serving.make_local_repository` copies this file to ``<model>/1/model.py``. The
bundled Triton (nvidia-pytriton 0.7.0 → 2.51) ships only the python backend, so the production
``onnxruntime_onnx`` model is run from here instead, with the same inputs, outputs and batching:

* ``executor: onnxruntime`` runs the same ``model.onnx`` through ONNX Runtime (CPU provider);
* ``executor: torch`` runs a TorchScript ``model.pt`` or a ``torch.export`` program ``model.pt2`` with
  torch on CUDA when available, optionally in fp16 (``precision: fp16``), ``torch.compile``-d
  (``compile: <inductor mode>``) and padded to ``batch_buckets`` — the GPU benchmark path.

Config ``parameters`` (all strings): ``executor``, ``model_file``, ``precision`` (``fp32``/``fp16``/``bf16``),
``compile`` (an inductor mode, ``default`` for torch's default; ``.pt2`` only; without buckets one
dynamic-batch compile, warmed up at batch 1, 2 and ``max_batch_size`` during load), ``batch_buckets``
(``8,16,32``: pad each batch to the next size; each size compiled statically and warmed up at load),
``device`` (``auto``/``cpu``/``cuda``), ``num_threads`` (CPU threads per instance; defaults to the cores
divided by the instance count so instances do not oversubscribe the CPU).

Why tensors move with DLPack: the python backend stub is a C++ program that embeds the interpreter
found as ``python3`` on PATH. Its numpy bridge was compiled against numpy 1.x; with numpy 2 installed,
``InputTensor.as_numpy()`` returns wrong data *silently* (all ones in our probe) and
``pb_utils.Tensor(name, ndarray)`` fails with "output tensor shape does not match size of output". The
DLPack path does not touch numpy's C API: ``np.from_dlpack(tensor)`` / ``torch.from_dlpack(...)`` read
inputs zero-copy, ``pb_utils.Tensor.from_dlpack(name, array)`` writes outputs (numpy arrays and torch
tensors both work; they must be C-contiguous). DLPack cannot carry strings, so ``TYPE_STRING`` tensors
are not supported here. Known noise: ``Tensor.from_dlpack`` on a *numpy* array makes the server log
print "ValueError: PyCapsule_GetPointer called with incorrect name" once per output (numpy's capsule
destructor does not recognise the name the stub leaves on a consumed capsule). The data is right and
nothing leaks (measured: 60 outputs of 16 MB, stub RSS flat); torch tensors do not trigger it.

Why requests are concatenated: Triton's dynamic batcher hands ``execute`` a list of requests. Running
the model once on their concatenation (and splitting the outputs back by each request's batch size) is
what the production backends do; a per-request loop would throw away the batching being measured.
"""

from __future__ import annotations

import contextlib
import json
import locale
import os
from typing import Any

import triton_python_backend_utils as pb_utils

# Triton data types → numpy / torch dtype names. A copy, not model_build.dtypes: this file runs inside
# the stub's interpreter, where the project's packages are not importable. Strings, because torch is
# imported only by the torch executor.
_NUMPY_DTYPES = {
    "TYPE_BOOL": "bool",
    "TYPE_UINT8": "uint8",
    "TYPE_UINT16": "uint16",
    "TYPE_UINT32": "uint32",
    "TYPE_UINT64": "uint64",
    "TYPE_INT8": "int8",
    "TYPE_INT16": "int16",
    "TYPE_INT32": "int32",
    "TYPE_INT64": "int64",
    "TYPE_FP16": "float16",
    "TYPE_FP32": "float32",
    "TYPE_FP64": "float64",
}
_TORCH_DTYPES = {**_NUMPY_DTYPES, "TYPE_BF16": "bfloat16"}


def _parameters(config: dict[str, Any]) -> dict[str, str]:
    return {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}


def _instance_count(config: dict[str, Any]) -> int:
    return max(1, sum(int(group.get("count", 1)) for group in config.get("instance_group", [])) or 1)


def _num_threads(params: dict[str, str], config: dict[str, Any]) -> int:
    if params.get("num_threads"):
        return int(params["num_threads"])
    return max(1, (os.cpu_count() or 1) // _instance_count(config))


class _OnnxRuntimeExecutor:
    """The production ``model.onnx`` through ONNX Runtime; arrays are numpy."""

    def __init__(self, model_path: str, params: dict[str, str], config: dict[str, Any]) -> None:
        import numpy as np
        import onnxruntime as ort

        self._np = np
        options = ort.SessionOptions()
        options.intra_op_num_threads = _num_threads(params, config)
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        self._output_dtypes = {o["name"]: np.dtype(_NUMPY_DTYPES[o["data_type"]]) for o in config["output"]}

    def from_triton(self, tensor: Any) -> Any:
        return self._np.from_dlpack(tensor)

    def concat(self, arrays: list[Any]) -> Any:
        return self._np.concatenate(arrays, axis=0)

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        names = list(self._output_dtypes)
        results = self._session.run(names, inputs)
        return {
            name: self._np.ascontiguousarray(result, dtype=self._output_dtypes[name])
            for name, result in zip(names, results, strict=True)
        }

    def split(self, array: Any, sizes: list[int]) -> list[Any]:
        # Row slices of a C-contiguous array are C-contiguous: safe to export with DLPack.
        bounds = self._np.cumsum(sizes)[:-1]
        return [self._np.ascontiguousarray(part) for part in self._np.split(array, bounds, axis=0)]


class _TorchExecutor:
    """A TorchScript ``model.pt`` or ``torch.export`` program ``model.pt2`` with torch.

    On CUDA when available, optionally fp16/bf16 (TorchScript only: an exported program keeps the
    dtype it was exported with), optionally ``torch.compile``-d (exported programs only: TorchScript
    modules are opaque to Dynamo), and optionally padded to fixed batch buckets so that a compiled
    model sees a handful of static shapes, all compiled during ``initialize`` (Triton's load), never
    while a request waits.
    """

    def __init__(
        self, model_path: str, params: dict[str, str], config: dict[str, Any], args: dict[str, str]
    ) -> None:
        import torch

        self._torch = torch
        device = params.get("device", "auto") or "auto"
        if device == "auto":
            if args.get("model_instance_kind") == "GPU":
                device = f"cuda:{args.get('model_instance_device_id', '0')}"
            else:
                device = "cuda" if torch.cuda.is_available() else "cpu"
        self._device = torch.device(device)
        if self._device.type == "cpu":
            torch.set_num_threads(_num_threads(params, config))
        else:
            torch.cuda.set_device(self._device)
        precision = params.get("precision", "fp32") or "fp32"
        if precision not in ("fp32", "fp16", "bf16"):
            raise ValueError(f"precision must be fp32, fp16 or bf16, got {precision!r}")
        self._cast = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
        if model_path.endswith(".pt2"):
            model: Any = torch.export.load(model_path).module().to(self._device)
            self._cast = None
        else:
            model = torch.jit.load(model_path, map_location=self._device).eval()
            if self._cast is not None:
                model = model.to(self._cast)
        compile_mode = params.get("compile", "")
        self._buckets = sorted({int(b) for b in params.get("batch_buckets", "").split(",") if b.strip()})
        if compile_mode:
            if not model_path.endswith(".pt2"):
                raise ValueError("compile needs a torch.export program (model.pt2), not TorchScript")
            # With buckets the model only ever sees those shapes: compile each statically. Without,
            # one compile with a symbolic batch dimension serves every batch size.
            model = torch.compile(
                model, mode=None if compile_mode == "default" else compile_mode, dynamic=not self._buckets
            )
        self._model = model
        self._input_names = [i["name"] for i in config["input"]]
        self._outputs = {o["name"]: getattr(torch, _TORCH_DTYPES[o["data_type"]]) for o in config["output"]}
        max_batch = int(config.get("max_batch_size", 0))
        warm = self._buckets or ([1, 2, max_batch] if compile_mode and max_batch > 2 else [])
        self._warm_up(config, warm)

    def _warm_up(self, config: dict[str, Any], batch_sizes: list[int]) -> None:
        """Run each batch size once so that compilation and autotuning happen at load time."""
        torch = self._torch
        shapes = {i["name"]: [int(d) for d in i["dims"]] for i in config["input"]}
        if not batch_sizes or any(d < 0 for dims in shapes.values() for d in dims):
            return  # variable dims: the shapes a client will send are unknown here
        dtypes = {i["name"]: getattr(torch, _TORCH_DTYPES[i["data_type"]]) for i in config["input"]}
        for size in batch_sizes:
            self.run({n: torch.zeros([size, *shapes[n]], dtype=dtypes[n]) for n in self._input_names})

    def _pad(self, value: Any, rows: int) -> Any:
        if rows == value.shape[0]:
            return value
        pad = value.new_zeros((rows - value.shape[0], *value.shape[1:]))
        return self._torch.cat([value, pad], dim=0)

    def from_triton(self, tensor: Any) -> Any:
        return self._torch.from_dlpack(tensor.to_dlpack())

    def concat(self, arrays: list[Any]) -> Any:
        return self._torch.cat(arrays, dim=0)

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        torch = self._torch
        rows = int(inputs[self._input_names[0]].shape[0])
        # The smallest bucket that holds the batch; a batch above every bucket runs unpadded.
        padded = next((b for b in self._buckets if b >= rows), rows)
        with torch.inference_mode():
            # One host→device copy per input for the whole batch.
            args = []
            for name in self._input_names:
                value = self._pad(inputs[name], padded).to(self._device, non_blocking=True)
                if self._cast is not None and value.is_floating_point():
                    value = value.to(self._cast)
                args.append(value)
            result = self._model(*args)
            if isinstance(result, dict):
                values = [result[name] for name in self._outputs]
            elif isinstance(result, (tuple, list)):
                values = list(result)[: len(self._outputs)]
            else:
                values = [result]
            # One device→host copy per output, in the dtype the config declares (fp16 → FP32 outputs).
            return {
                name: value[:rows].to(dtype=dtype).cpu().contiguous()
                for (name, dtype), value in zip(self._outputs.items(), values, strict=True)
            }

    def split(self, array: Any, sizes: list[int]) -> list[Any]:
        return [part.contiguous() for part in self._torch.split(array, sizes, dim=0)]


class TritonPythonModel:
    """Entry point the python backend instantiates once per model instance."""

    def initialize(self, args: dict[str, str]) -> None:
        """Load the model named by the config's ``parameters``."""
        # The stub embeds an isolated interpreter that never calls setlocale(LC_CTYPE, ""), so open()
        # defaults to ASCII whatever LANG says, and torch.compile dies reading its UTF-8 templates.
        # open() asks nl_langinfo(CODESET) on every call, so switching the C locale here is enough.
        # Without a UTF-8 locale on the system only torch.compile is affected.
        with contextlib.suppress(locale.Error):
            locale.setlocale(locale.LC_CTYPE, "C.UTF-8")
        config = json.loads(args["model_config"])
        params = _parameters(config)
        executor = params.get("executor", "onnxruntime")
        default_file = "model.pt" if executor == "torch" else "model.onnx"
        model_path = os.path.join(
            args["model_repository"], args["model_version"], params.get("model_file") or default_file
        )
        for tensor in config["input"] + config["output"]:
            if tensor["data_type"] not in _TORCH_DTYPES:
                raise pb_utils.TritonModelException(
                    f"{tensor['name']}: {tensor['data_type']} cannot travel through DLPack (see model.py)"
                )
        if executor == "onnxruntime":
            self._executor: Any = _OnnxRuntimeExecutor(model_path, params, config)
        elif executor == "torch":
            self._executor = _TorchExecutor(model_path, params, config, args)
        else:
            raise pb_utils.TritonModelException(f"unknown executor {executor!r}; use onnxruntime or torch")
        self._batching = int(config.get("max_batch_size", 0)) > 0
        self._input_names = [i["name"] for i in config["input"]]
        self._output_names = [o["name"] for o in config["output"]]

    def execute(self, requests: list[Any]) -> list[Any]:
        """Run all requests of a (dynamic) batch in one model call, answer each with its own rows."""
        executor = self._executor
        try:
            per_request = [
                {
                    name: executor.from_triton(pb_utils.get_input_tensor_by_name(r, name))
                    for name in self._input_names
                }
                for r in requests
            ]
        except Exception as error:  # a malformed request must not kill the instance
            return [pb_utils.InferenceResponse(error=pb_utils.TritonError(str(error))) for _ in requests]
        # Requests can be concatenated when batching is on and their non-batch shapes agree (Triton's
        # dynamic batcher only groups equal shapes, but direct sequence of calls need not).
        groups: dict[tuple[Any, ...], list[int]] = {}
        for index, inputs in enumerate(per_request):
            key = tuple(tuple(inputs[n].shape[1:]) for n in self._input_names) if self._batching else (index,)
            groups.setdefault(key, []).append(index)
        responses: list[Any] = [None] * len(requests)
        for indices in groups.values():
            try:
                self._run_group(per_request, indices, responses)
            except Exception as error:
                for index in indices:
                    responses[index] = pb_utils.InferenceResponse(error=pb_utils.TritonError(str(error)))
        return responses

    def _run_group(self, per_request: list[dict[str, Any]], indices: list[int], responses: list[Any]) -> None:
        executor = self._executor
        if len(indices) == 1:
            outputs = executor.run(per_request[indices[0]])
            parts = {name: [value] for name, value in outputs.items()}
        else:
            sizes = [int(per_request[i][self._input_names[0]].shape[0]) for i in indices]
            batch = {n: executor.concat([per_request[i][n] for i in indices]) for n in self._input_names}
            outputs = executor.run(batch)
            parts = {name: executor.split(value, sizes) for name, value in outputs.items()}
        for position, index in enumerate(indices):
            tensors = [
                pb_utils.Tensor.from_dlpack(name, parts[name][position]) for name in self._output_names
            ]
            responses[index] = pb_utils.InferenceResponse(output_tensors=tensors)

    def finalize(self) -> None:
        """Drop the model so its memory is released before the stub exits."""
        self._executor = None
