"""Data type names shared by every stage: Triton names, ONNX element types and numpy.

The canonical spelling inside ``model_build`` is Triton's, without the ``TYPE_`` prefix
("FP32", "INT64"), because the Triton config is the artifact's contract. ONNX element types
are listed as plain integers (``onnx.TensorProto`` values) so this module imports nothing heavy.
"""

from __future__ import annotations

# onnx.TensorProto.DataType values → Triton data type names.
ONNX_TO_TRITON: dict[int, str] = {
    1: "FP32",
    2: "UINT8",
    3: "INT8",
    4: "UINT16",
    5: "INT16",
    6: "INT32",
    7: "INT64",
    8: "BYTES",
    9: "BOOL",
    10: "FP16",
    11: "FP64",
    12: "UINT32",
    13: "UINT64",
    16: "BF16",
}

# Triton data type names → numpy dtype names (BF16 has no numpy dtype).
TRITON_TO_NUMPY: dict[str, str] = {
    "FP32": "float32",
    "FP16": "float16",
    "FP64": "float64",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "BOOL": "bool",
    "BYTES": "object",
}

TRITON_DTYPES: frozenset[str] = frozenset(TRITON_TO_NUMPY)


def is_float(dtype: str) -> bool:
    """Whether a Triton data type name is a floating-point type."""
    return dtype in {"FP16", "FP32", "FP64", "BF16"}

# Spellings users bring from numpy and torch → the Triton name (for "did you mean" fixes).
DTYPE_ALIASES: dict[str, str] = {
    "float32": "FP32",
    "float": "FP32",
    "torch.float32": "FP32",
    "float16": "FP16",
    "half": "FP16",
    "torch.float16": "FP16",
    "float64": "FP64",
    "double": "FP64",
    "bfloat16": "BF16",
    "int64": "INT64",
    "long": "INT64",
    "torch.int64": "INT64",
    "int32": "INT32",
    "int": "INT32",
    "int16": "INT16",
    "int8": "INT8",
    "uint8": "UINT8",
    "bool": "BOOL",
    "string": "BYTES",
    "str": "BYTES",
}
