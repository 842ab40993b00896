"""What each Triton backend needs and allows, in one descriptor per backend.

The build (which file to write, which ``platform``/``backend`` the ``config.pbtxt`` names), the
local rehearsal (which backends the bundled Triton 2.51 can load; everything else is served
through the python-backend twin of :mod:`model_build.local_serving`) and the constructs (which
artifacts need an NVIDIA GPU, which are pinned to one GPU architecture) read the same facts here.

Sources: Triton's model configuration docs ("Platform and backend",
https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/user_guide/model_configuration.html)
and the default model file names of the ONNX Runtime, TensorRT and python backends
(``model.onnx``, ``model.plan``, ``model.py``), and the PyTorch backend's ``model.pt`` with its
``<name>__<index>`` tensor naming convention (``INPUT__0``, ``OUTPUT__0``; seed 001's config). The bundled server is the ``nvidia-pytriton``
0.7.0 wheel, which ships ``backends/python`` only.

Neuron: ``backend="neuron"`` is a ``torch-neuronx`` / ``torch-neuron`` traced program (``model.pt``
plus ``neuron.json``, :mod:`model_build.neuron`), served by the Neuron DLC
(``pytorch-inference-neuronx``) or Triton's python backend (triton-inference-server/python_backend
``inferentia/``); it runs only on the Inferentia generation it was compiled for.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    """How Triton serves one kind of model file.

    Attributes:
        name: The ``ModelSpec.backend`` value (``"onnxruntime"``, ``"tensorrt"``, ``"pytorch"``) or
            ``"python"``.
        triton_backend: The Triton backend that loads it (``backend:`` in ``config.pbtxt``).
        platform: The ``platform:`` a production config names; None where ``backend:`` is used.
        model_filename: The file in ``<model>/<version>/`` Triton loads by default.
        buildable: Whether ``model_build`` builds this backend from a ``ModelSpec``.
        requires_nvidia_gpu: The model file runs only on an NVIDIA GPU (a TensorRT engine).
        pinned_to_gpu_architecture: The file is valid only on the GPU compute capability and
            TensorRT version it was built with (TensorRT engines are not portable).
        in_bundled_triton: The bundled Triton 2.51 (``nvidia-pytriton``) can load it as is.
        description: One line for help texts.
        requires_inferentia: The model file runs only on AWS Inferentia (a Neuron-compiled program,
            pinned to inf1 or inf2 by its ``neuron.json``). Defaults to False.
    """

    name: str
    triton_backend: str
    platform: str | None
    model_filename: str
    buildable: bool
    requires_nvidia_gpu: bool
    pinned_to_gpu_architecture: bool
    in_bundled_triton: bool
    description: str
    requires_inferentia: bool = False


ONNXRUNTIME = Backend(
    name="onnxruntime",
    triton_backend="onnxruntime",
    platform="onnxruntime_onnx",
    model_filename="model.onnx",
    buildable=True,
    requires_nvidia_gpu=False,
    pinned_to_gpu_architecture=False,
    in_bundled_triton=False,
    description="ONNX Runtime (model.onnx): portable, CPU or GPU (CUDA, optionally the TensorRT EP)",
)
TENSORRT = Backend(
    name="tensorrt",
    triton_backend="tensorrt",
    platform="tensorrt_plan",
    model_filename="model.plan",
    buildable=True,
    requires_nvidia_gpu=True,
    pinned_to_gpu_architecture=True,
    in_bundled_triton=False,
    description="TensorRT engine (model.plan): fastest on NVIDIA GPUs, built for one GPU architecture",
)
PYTORCH = Backend(
    name="pytorch",
    triton_backend="pytorch",
    platform="pytorch_libtorch",
    model_filename="model.pt",
    buildable=True,
    requires_nvidia_gpu=False,
    pinned_to_gpu_architecture=False,
    in_bundled_triton=False,
    description="PyTorch LibTorch (model.pt): a TorchScript trace, tensors INPUT__0…/OUTPUT__0…",
)
PYTHON = Backend(
    name="python",
    triton_backend="python",
    platform=None,
    model_filename="model.py",
    buildable=False,
    requires_nvidia_gpu=False,
    pinned_to_gpu_architecture=False,
    in_bundled_triton=True,
    description="Triton python backend (model.py): the local twin that runs model.onnx / TorchScript",
)

NEURON = Backend(
    name="neuron",
    triton_backend="python",
    platform=None,
    model_filename="model.pt",
    buildable=True,
    requires_nvidia_gpu=False,
    pinned_to_gpu_architecture=False,
    in_bundled_triton=False,
    description="AWS Neuron (model.pt + neuron.json): traced for inf2 or inf1 with static shapes; needs the Neuron SDK",
    requires_inferentia=True,
)

BACKENDS: dict[str, Backend] = {b.name: b for b in (ONNXRUNTIME, TENSORRT, PYTORCH, PYTHON, NEURON)}
"""Every backend the project knows, by name."""

BUILDABLE: tuple[str, ...] = tuple(name for name, b in BACKENDS.items() if b.buildable)
"""The ``ModelSpec.backend`` values ``model_build`` can build."""


def backend(name: str) -> Backend:
    """Return the descriptor of backend ``name``.

    Raises:
        ValueError: An unknown name; the message lists the known ones.
    """
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}") from None


def backend_of_platform(platform: str) -> Backend | None:
    """Return the descriptor whose production ``platform`` is ``platform``; None for others."""
    return next((b for b in BACKENDS.values() if b.platform == platform), None)


def pytorch_tensor_name(kind: str, index: int) -> str:
    """Return the PyTorch backend's name of the ``index``-th input or output (``INPUT__0``, ``OUTPUT__1``).

    The TorchScript ``forward`` takes positional arguments, so Triton's PyTorch backend binds tensors by
    this ``<name>__<index>`` convention (Triton's pytorch_backend README, "Configuration").

    Args:
        kind: ``"input"`` or ``"output"``.
        index: Position in ``forward``'s arguments or results.
    """
    if kind not in ("input", "output"):
        raise ValueError(f"kind must be 'input' or 'output' (got {kind!r})")
    return f"{kind.upper()}__{index}"
