"""PyTorch → ONNX → Triton model repository → reproducible ``model.tar.gz``.

One module per build stage (``export``, ``verify``, ``tensorrt``, ``triton_config``,
``repository``, ``package``), the input-hash ``cache``, the ``pipeline`` that chains them,
the CDK ``asset`` and the ``cli``. This package root stays light on purpose: importing
``model_build`` (or ``model_build.asset``) never imports torch, onnx or onnxruntime, so
``cdk synth`` of an app whose models are cached stays fast.
"""

from model_build.spec import (
    BUILD_FORMAT_VERSION,
    DynamicBatching,
    ModelSpec,
    OrtTensorRT,
    Tolerance,
    TritonOptions,
)

__all__ = [
    "BUILD_FORMAT_VERSION",
    "DynamicBatching",
    "ModelSpec",
    "OrtTensorRT",
    "Tolerance",
    "TritonOptions",
]
