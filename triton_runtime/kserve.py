"""KServe v2 inference request bodies, encoded once and sent many times.

Encoding a request per send costs client CPU that then caps the measured throughput
(DEVICE.md: JSON encoding limited the reference run). So a :class:`Payload` is built
before the run and only its bytes travel.

Two encodings, both accepted by Triton's ``/invocations`` and ``/v2/models/<m>/infer``:

* JSON: ``{"inputs": [{"name", "shape", "datatype", "data": [...]}]}``.
* Binary tensor extension: a JSON header whose inputs carry
  ``"parameters": {"binary_data_size": N}`` followed by the raw little-endian tensor bytes
  in input order. The header's length goes in ``Inference-Header-Content-Length`` on the
  KServe route; Triton's SageMaker route takes it in the content type instead:
  ``application/vnd.sagemaker-triton.binary+json;json-header-size=N``
  (triton-inference-server/server ``src/sagemaker_server.cc``). Outputs are asked for as
  binary too (``"binary_data": true``) so the server skips JSON-encoding them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Encoding = Literal["json", "binary"]
Route = Literal["sagemaker", "kserve"]

# KServe v2 datatype → little-endian numpy dtype (the binary extension's byte order).
_DTYPES: dict[str, str] = {
    "BOOL": "|b1",
    "UINT8": "|u1",
    "INT8": "|i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}

SAGEMAKER_JSON = "application/json"
SAGEMAKER_BINARY = "application/vnd.sagemaker-triton.binary+json;json-header-size={}"


@dataclass(frozen=True)
class TensorSpec:
    """One input tensor, without the batch dimension.

    Attributes:
        name: Tensor name in the model config.
        datatype: KServe v2 datatype (``INT64``, ``FP32``…).
        shape: Per-item shape; every dimension must be concrete (no ``-1``).
    """

    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Payload:
    """A ready-to-send request body.

    Attributes:
        body: Bytes to POST.
        content_type: ``Content-Type`` for the chosen route.
        headers: Extra headers (the binary header length on the KServe route).
        batch_size: Items in the request (an invocation of batch 4 is 4 inferences).
        encoding: ``json`` or ``binary``.
        route: ``sagemaker`` (``/invocations``) or ``kserve`` (``/v2/models/<m>/infer``).
    """

    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    batch_size: int = 1
    encoding: Encoding = "json"
    route: Route = "sagemaker"

    def all_headers(self) -> dict[str, str]:
        """Content type plus extra headers."""
        return {"Content-Type": self.content_type, **self.headers}


def sample_inputs(specs: Sequence[TensorSpec], batch_size: int = 1, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic inputs shaped ``[batch_size, *spec.shape]``.

    Integer tensors named like masks are all ones and token-type ids all zeros (a real
    tokenizer's output for one segment); other integer tensors draw ids from [1000, 2000),
    inside every BERT vocabulary; float tensors are standard normal.
    """
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for spec in specs:
        if spec.datatype not in _DTYPES:
            raise ValueError(f"input {spec.name!r}: datatype {spec.datatype!r} is not supported by the load generator")
        if any(d < 0 for d in spec.shape):
            raise ValueError(f"input {spec.name!r}: shape {spec.shape} has a variable dimension; give a concrete one")
        dtype = np.dtype(_DTYPES[spec.datatype])
        shape = (batch_size, *spec.shape)
        lowered = spec.name.lower()
        if dtype.kind in "iu":
            if "mask" in lowered:
                arr = np.ones(shape, dtype=dtype)
            elif "type" in lowered or "segment" in lowered:
                arr = np.zeros(shape, dtype=dtype)
            else:
                arr = rng.integers(1000, 2000, size=shape).astype(dtype)
        elif dtype.kind == "b":
            arr = np.ones(shape, dtype=dtype)
        else:
            arr = rng.standard_normal(shape).astype(dtype)
        arrays[spec.name] = arr
    return arrays


def _datatype_of(array: np.ndarray) -> str:
    for name, code in _DTYPES.items():
        if np.dtype(code) == array.dtype.newbyteorder("<") or np.dtype(code) == array.dtype:
            return name
    raise ValueError(f"dtype {array.dtype} has no KServe v2 datatype")


def encode(
    inputs: Mapping[str, np.ndarray],
    *,
    encoding: Encoding = "json",
    route: Route = "sagemaker",
    outputs: Sequence[str] = (),
) -> Payload:
    """Encode named arrays as one KServe v2 request.

    Args:
        inputs: Input name → array, batch dimension first.
        encoding: ``json`` or ``binary`` (the KServe binary tensor extension).
        route: ``sagemaker`` for Triton's ``/invocations`` or ``kserve`` for ``/v2/models/<m>/infer``.
        outputs: Output names to request; binary encoding requests them as binary data.

    Returns:
        The payload.
    """
    if not inputs:
        raise ValueError("inputs must name at least one tensor")
    batch_sizes = {int(a.shape[0]) for a in inputs.values()}
    if len(batch_sizes) != 1:
        raise ValueError(f"inputs disagree on the batch dimension: {sorted(batch_sizes)}")
    batch_size = batch_sizes.pop()
    header: dict[str, Any] = {"inputs": []}
    chunks: list[bytes] = []
    for name, array in inputs.items():
        datatype = _datatype_of(array)
        entry: dict[str, Any] = {"name": name, "shape": list(array.shape), "datatype": datatype}
        if encoding == "binary":
            raw = np.ascontiguousarray(array, dtype=np.dtype(_DTYPES[datatype])).tobytes()
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = array.reshape(-1).tolist()
        header["inputs"].append(entry)
    if outputs:
        header["outputs"] = [
            {"name": name, "parameters": {"binary_data": encoding == "binary"}} for name in outputs
        ]
    head = json.dumps(header, separators=(",", ":")).encode()
    if encoding == "json":
        return Payload(body=head, content_type=SAGEMAKER_JSON, batch_size=batch_size, encoding="json", route=route)
    body = head + b"".join(chunks)
    if route == "sagemaker":
        return Payload(
            body=body,
            content_type=SAGEMAKER_BINARY.format(len(head)),
            batch_size=batch_size,
            encoding="binary",
            route=route,
        )
    return Payload(
        body=body,
        content_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(len(head))},
        batch_size=batch_size,
        encoding="binary",
        route=route,
    )


def decode_response(body: bytes, content_type: str | None, header_length: str | None = None) -> dict[str, np.ndarray]:
    """Decode a KServe v2 response (JSON or binary) into output name → array.

    Used once per run to check that the server answers with the expected outputs, never
    inside the timed loop.

    Args:
        body: Response bytes.
        content_type: Response ``Content-Type`` (carries ``json-header-size`` on the SageMaker route).
        header_length: ``Inference-Header-Content-Length`` response header, if any.
    """
    size: int | None = int(header_length) if header_length else None
    if size is None and content_type and "json-header-size=" in content_type:
        size = int(content_type.split("json-header-size=")[1].split(";")[0])
    head = json.loads(body[:size] if size is not None else body)
    if "error" in head:
        raise ValueError(f"server returned an error: {head['error']}")
    offset = size or 0
    outputs: dict[str, np.ndarray] = {}
    for out in head.get("outputs", []):
        dtype = np.dtype(_DTYPES[out["datatype"]])
        nbytes = (out.get("parameters") or {}).get("binary_data_size")
        if nbytes is not None:
            arr = np.frombuffer(body[offset : offset + nbytes], dtype=dtype)
            offset += nbytes
        else:
            arr = np.asarray(out["data"], dtype=dtype)
        outputs[out["name"]] = arr.reshape(out["shape"])
    return outputs
