"""The local-serving variant of a production Triton repository: same model, python backend.

The bundled Triton (nvidia-pytriton 0.7.0 → 2.51) ships only the python backend, so a production
repository (``platform: "onnxruntime_onnx"``) cannot be served as is. :func:`make_local_repository`
writes a twin that keeps the contract clients see — model names, inputs, outputs, ``max_batch_size``,
dynamic batching and instance counts — and swaps the execution for the python backend running
``serving_templates/python_backend_model.py`` (ONNX Runtime on the same ``model.onnx``, or TorchScript
with torch: a ``pytorch_libtorch`` model's own ``model.pt``, on the CPU here, or any model's trace for
the GPU benchmarks).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from model_build.backends import ONNXRUNTIME, PYTHON, PYTORCH
from model_build.triton_config import parse_config

EXECUTORS = ("onnxruntime", "torch")
"""What the python backend runs: ``model.onnx`` through ONNX Runtime, or TorchScript ``model.pt``."""

_MODEL_FILES = {"onnxruntime": ONNXRUNTIME.model_filename, "torch": "model.pt"}
_TEMPLATE = "python_backend_model.py"
_KINDS = {
    "cpu": mc.ModelInstanceGroup.KIND_CPU,
    "kind_cpu": mc.ModelInstanceGroup.KIND_CPU,
    "gpu": mc.ModelInstanceGroup.KIND_GPU,
    "kind_gpu": mc.ModelInstanceGroup.KIND_GPU,
}


def gpu_present() -> bool:
    """Whether an NVIDIA GPU device node exists (checked without importing torch)."""
    return any(Path("/dev").glob("nvidia[0-9]*"))


def _string_parameter(value: str) -> mc.ModelParameter:
    return mc.ModelParameter(string_value=value)


def _warmup_is_self_contained(warmup: mc.ModelWarmup) -> bool:
    return all(not i.input_data_file for i in warmup.inputs.values())


def local_config(
    config: mc.ModelConfig,
    *,
    executor: str = "onnxruntime",
    instance_kind: str | None = None,
    precision: str | None = None,
    compile_mode: str | None = None,
    batch_buckets: Sequence[int] = (),
) -> mc.ModelConfig:
    """Derive the python-backend twin of a production model configuration.

    Args:
        config: The production configuration (it is not modified).
        executor: ``onnxruntime`` or ``torch``. Defaults to ``onnxruntime``.
        instance_kind: ``KIND_CPU``/``cpu`` or ``KIND_GPU``/``gpu`` for every instance group. Defaults
            to the production kinds when a GPU is present, else ``KIND_CPU``.
        precision: ``fp32``, ``fp16`` or ``bf16`` (torch executor only). Defaults to fp32.
        compile_mode: ``torch.compile`` the model with this inductor mode (``default``,
            ``max-autotune-no-cudagraphs``, ...); torch executor with a ``.pt2`` program only. Defaults
            to no compilation.
        batch_buckets: Pad each batch to the next of these sizes so a compiled model sees only these
            shapes, compiled at load time (torch executor only). Defaults to no padding.

    Returns:
        A new configuration: same name, inputs, outputs, ``max_batch_size``, batching and instance
        counts; ``backend: "python"``; ``parameters`` telling ``model.py`` what to run.

    Raises:
        ValueError: An unknown executor, instance kind or precision.
    """
    problems = []
    if executor not in EXECUTORS:
        problems.append(f"executor must be one of {', '.join(EXECUTORS)} (got {executor!r})")
    kind = None
    if instance_kind is not None:
        kind = _KINDS.get(instance_kind.lower())
        if kind is None:
            problems.append(f"instance_kind must be KIND_CPU or KIND_GPU (got {instance_kind!r})")
    elif not gpu_present():
        kind = mc.ModelInstanceGroup.KIND_CPU
    if precision not in (None, "fp32", "fp16", "bf16") or (precision in ("fp16", "bf16") and executor != "torch"):
        problems.append(
            f"precision must be fp32, or fp16/bf16 with executor='torch' (got {precision!r} for {executor!r})"
        )
    if (compile_mode or batch_buckets) and executor != "torch":
        problems.append(f"compile_mode and batch_buckets need executor='torch' (got {executor!r})")
    max_batch = config.max_batch_size
    bad_buckets = [b for b in batch_buckets if b < 1 or (max_batch and b > max_batch)]
    if bad_buckets:
        problems.append(f"batch_buckets must each be in 1..max_batch_size={max_batch} (got {bad_buckets})")
    if problems:
        raise ValueError("Invalid local serving options: " + "; ".join(problems))

    local = mc.ModelConfig()
    local.CopyFrom(config)
    local.backend = PYTHON.triton_backend
    # platform/default_model_filename name the production runtime and its file; the python backend
    # would otherwise look for `model.onnx` as its Python source.
    local.ClearField("platform")
    local.ClearField("default_model_filename")
    # Execution accelerators (TensorRT for ORT) and per-backend parameters mean nothing to model.py.
    local.ClearField("optimization")
    local.ClearField("parameters")
    local.ClearField("cc_model_filenames")
    for group in local.instance_group:
        if kind is not None:
            group.kind = kind
        if group.kind == mc.ModelInstanceGroup.KIND_CPU:
            del group.gpus[:]
    # Warmup goes through Triton's core, so it is valid for any backend; warmups that read sample files
    # from warmup/ are dropped because that folder is not carried over.
    warmups = [w for w in local.model_warmup if _warmup_is_self_contained(w)]
    del local.model_warmup[:]
    local.model_warmup.extend(warmups)
    local.parameters["executor"].CopyFrom(_string_parameter(executor))
    local.parameters["model_file"].CopyFrom(_string_parameter(_MODEL_FILES[executor]))
    if precision is not None:
        local.parameters["precision"].CopyFrom(_string_parameter(precision))
    if compile_mode:
        local.parameters["compile"].CopyFrom(_string_parameter(compile_mode))
    if batch_buckets:
        buckets = ",".join(str(b) for b in sorted(set(batch_buckets)))
        local.parameters["batch_buckets"].CopyFrom(_string_parameter(buckets))
    return local


def _default_executor(config: mc.ModelConfig) -> str:
    """Return the executor that serves a production model's own file: torch for TorchScript, else ONNX Runtime."""
    return "torch" if config.platform == PYTORCH.platform else "onnxruntime"


def _torch_file_name(path: Path) -> str:
    # The template tells a torch.export program from TorchScript by the extension.
    return "model.pt2" if path.suffix == ".pt2" else "model.pt"


def _link_or_copy(src: Path, dst: Path) -> None:
    # Model files are large and never modified in place (builds write atomically): a hard link is
    # free and safe; fall back to a copy across file systems.
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _version_dirs(model_dir: Path) -> list[Path]:
    return sorted(
        (p for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
    )


def make_local_repository(
    repository_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    executor: str | None = None,
    instance_kind: str | None = None,
    precision: str | None = None,
    torchscript: Mapping[str, str | os.PathLike[str]] | None = None,
    compile_mode: str | None = None,
    batch_buckets: Sequence[int] = (),
) -> Path:
    """Write the python-backend variant of a production Triton repository.

    For every ``<name>/config.pbtxt`` the variant holds ``<name>/config.pbtxt`` (see
    :func:`local_config`), and per version ``<v>/model.py`` (the serving template) plus the model file:
    ``model.onnx`` copied from the production repository, or ``model.pt`` for ``executor="torch"``.
    Ensembles are copied unchanged. The output is written atomically (temp dir, then rename) and
    replaces an existing ``out_dir``.

    Args:
        repository_dir: The production repository (``platform: "onnxruntime_onnx"``,
            ``<name>/1/model.onnx``).
        out_dir: Where to write the variant.
        executor: ``onnxruntime`` (the same ``model.onnx`` through ONNX Runtime, CPU provider) or
            ``torch`` (TorchScript on CUDA when available, else the CPU) for every model. Defaults to
            each model's own: ``torch`` on its ``model.pt`` for a ``pytorch_libtorch`` model (seed
            001's TorchScript ResNet), ``onnxruntime`` for the others.
        instance_kind: ``KIND_CPU`` or ``KIND_GPU`` for all instance groups. Defaults to the production
            kinds when a GPU is present, else ``KIND_CPU``.
        precision: ``fp16`` runs the torch executor in half precision (outputs keep their configured
            types). Defaults to fp32.
        torchscript: Model name → TorchScript file (``.pt``) or ``torch.export`` program (``.pt2``),
            for ``executor="torch"``. Defaults to ``<name>/<version>/model.pt`` inside the production
            repository.
        compile_mode: See :func:`local_config`. Defaults to no compilation.
        batch_buckets: See :func:`local_config`. Defaults to no padding.

    Returns:
        ``out_dir`` as a ``Path``.

    Raises:
        ValueError: Bad options, no models, or a model file missing.
    """
    source = Path(repository_dir)
    target = Path(out_dir)
    model_dirs = sorted(p.parent for p in source.glob("*/config.pbtxt"))
    if not model_dirs:
        raise ValueError(f"No <model>/config.pbtxt under {source}: not a Triton model repository")
    template = resources.files("model_build.serving_templates").joinpath(_TEMPLATE).read_text()
    scripted = {name: Path(path) for name, path in (torchscript or {}).items()}

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        for model_dir in model_dirs:
            config = parse_config((model_dir / "config.pbtxt").read_text())
            name = config.name or model_dir.name
            out_model = tmp / model_dir.name
            if config.platform == "ensemble":
                shutil.copytree(model_dir, out_model)
                continue
            model_executor = executor or _default_executor(config)
            local = local_config(
                config,
                executor=model_executor,
                instance_kind=instance_kind,
                precision=precision,
                compile_mode=compile_mode,
                batch_buckets=batch_buckets,
            )
            if model_executor == "torch" and name in scripted:
                local.parameters["model_file"].CopyFrom(_string_parameter(_torch_file_name(scripted[name])))
            versions = _version_dirs(model_dir)
            if not versions:
                raise ValueError(f"{model_dir}: no numeric version directory")
            if model_executor == "onnxruntime" and config.default_model_filename:
                local.parameters["model_file"].CopyFrom(_string_parameter(config.default_model_filename))
            model_file = local.parameters["model_file"].string_value
            for version in versions:
                model_src = version / model_file
                if model_executor == "torch" and name in scripted:
                    model_src = scripted[name]
                if not model_src.is_file():
                    hint = (
                        " (pass torchscript={name: path} or put model.pt there)"
                        if model_executor == "torch"
                        else ""
                    )
                    raise ValueError(f"{name}: missing {model_src}{hint}")
                out_version = out_model / version.name
                out_version.mkdir(parents=True)
                if model_executor == "onnxruntime":
                    # Everything in the version folder: ONNX external-data files sit next to model.onnx.
                    for item in version.iterdir():
                        if item.is_file():
                            _link_or_copy(item, out_version / item.name)
                else:
                    _link_or_copy(model_src, out_version / model_file)
                (out_version / "model.py").write_text(template)
            (out_model / "config.pbtxt").write_text(text_format.MessageToString(local))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
