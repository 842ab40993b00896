"""The model spec: what to build and how Triton should serve it.

A :class:`ModelSpec` is the single input of :func:`model_build.pipeline.build`. Its
:meth:`ModelSpec.inputs_hash` keys the build cache and the CDK asset hash, so it is computed
from source bytes, options and tool versions only — never by importing torch.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
import re
from dataclasses import dataclass, field
from typing import Any

from model_build.backends import BUILDABLE
from model_build.checks import (
    expect_instance,
    expect_int,
    expect_int_tuple,
    expect_number,
    expect_str,
    is_number,
)
from model_build.engine_target import EngineTarget
from model_build.neuron import NeuronTarget
from model_build.sources import (
    ModelSource,
    OnnxFile,
    TransformersConfig,
    canonical_json,
    declared_output_names,
)
from model_build.user_errors import UserError, describe_value, did_you_mean

# Bump when the layout or content of a build changes for the same inputs (archive layout,
# config fields, manifest schema), so old cache entries and CDK assets are not reused.
BUILD_FORMAT_VERSION = "1"

# Distributions whose versions change the bytes of a build. transformers decides the
# random initialisation and graph of TransformersConfig sources.
HASHED_TOOLS: tuple[str, ...] = ("torch", "transformers", "onnx", "onnxruntime", "tritonclient")

INSTANCE_KINDS: tuple[str, ...] = ("KIND_GPU", "KIND_CPU", "KIND_AUTO")
TRT_PRECISIONS: tuple[str, ...] = ("FP16", "FP32", "INT8")
# 13 is the first opset whose Split/Squeeze/Unsqueeze forms every current exporter emits;
# 21 is the newest opset the TorchScript-based exporter of torch 2.13 writes.
MIN_OPSET = 13
MAX_OPSET = 21
# Triton model names become folder names in the repository and the SageMaker env var
# SAGEMAKER_TRITON_DEFAULT_MODEL_NAME; keep them to a safe, portable alphabet.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
# Triton's ModelConfig stores max_batch_size and an instance group's count as int32 and the
# queue delay as uint64 (model_config.proto); a larger value fails only when config.pbtxt is
# written, after the export and verification.
INT32_MAX = 2**31 - 1
UINT64_MAX = 2**64 - 1


def warmup_name(batch_size: int) -> str:
    """Return the name of the ``model_warmup`` entry for one batch size, as seed 001 writes it ("bs128 Warmup")."""
    return f"bs{batch_size} Warmup"


class ModelSpecError(UserError):
    """A ``ModelSpec`` is invalid; the message lists every problem, each naming its field and the fix."""


@dataclass(frozen=True, kw_only=True)
class DynamicBatching:
    """Triton ``dynamic_batching`` settings.

    Attributes:
        preferred_batch_sizes: Batch sizes the scheduler tries to form. Defaults to none
            (Triton forms the largest batch it can, up to ``max_batch_size``).
        max_queue_delay_microseconds: How long a request may wait for a batch to fill.
            Defaults to 0 (no delay).
    """

    preferred_batch_sizes: tuple[int, ...] = ()
    max_queue_delay_microseconds: int = 0


@dataclass(frozen=True, kw_only=True)
class OrtTensorRT:
    """The TensorRT execution accelerator inside the ONNX Runtime backend.

    Attributes:
        precision_mode: "FP16", "FP32" or "INT8". Defaults to "FP16".
        max_workspace_size_bytes: TensorRT builder workspace. Defaults to 1 GiB.
    """

    precision_mode: str = "FP16"
    max_workspace_size_bytes: int = 1 << 30


@dataclass(frozen=True, kw_only=True)
class TritonOptions:
    """How Triton serves the model (the ``config.pbtxt`` knobs).

    Attributes:
        max_batch_size: Largest batch Triton sends to the model. Defaults to 8. This project
            always exports a leading batch dimension, so it must be >= 1.
        dynamic_batching: Dynamic batching settings. Defaults to None (no dynamic batching).
        instance_count: Model instances per device. Defaults to 1.
        instance_kind: "KIND_GPU", "KIND_CPU" or "KIND_AUTO". Defaults to "KIND_GPU".
        warmup_batch_sizes: One ``model_warmup`` entry per size. Defaults to none.
        ort_tensorrt: Enables ONNX Runtime's TensorRT accelerator. Defaults to None (CUDA EP).
    """

    max_batch_size: int = 8
    dynamic_batching: DynamicBatching | None = None
    instance_count: int = 1
    instance_kind: str = "KIND_GPU"
    warmup_batch_sizes: tuple[int, ...] = ()
    ort_tensorrt: OrtTensorRT | None = None


@dataclass(frozen=True, kw_only=True)
class Tolerance:
    """Numerical tolerance of the exported model against its source, as ``numpy.allclose``.

    An output passes when every element satisfies ``|onnx - torch| <= atol + rtol * |torch|``.

    Attributes:
        atol: Absolute tolerance. Defaults to 1e-4.
        rtol: Relative tolerance. Defaults to 1e-3.
        per_output: Overrides by output name: ``{"logits": (atol, rtol)}``. Defaults to none.
    """

    atol: float = 1e-4
    rtol: float = 1e-3
    per_output: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __hash__(self) -> int:
        # The per_output dict would make the generated hash fail; specs are used as dict keys.
        return hash((self.atol, self.rtol, tuple(sorted(self.per_output.items()))))

    def for_output(self, name: str) -> tuple[float, float]:
        """Return ``(atol, rtol)`` for one output, applying any override."""
        return self.per_output.get(name, (self.atol, self.rtol))


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Everything that determines one built model artifact.

    Attributes:
        name: The model's name (build cache entry, manifest, example and stack names); also its
            Triton model name unless ``triton_name`` is set.
        source: Where the model comes from (see :mod:`model_build.sources`).
        triton: Serving options. Defaults to ``TritonOptions()``.
        opset: ONNX opset of the export. Defaults to 17.
        tolerance: Verification tolerance. Defaults to ``Tolerance()``.
        backend: "onnxruntime" (``model.onnx``, platform ``onnxruntime_onnx``), "tensorrt"
            (``model.plan``, platform ``tensorrt_plan``; needs TensorRT at build time) or "pytorch"
            (a TorchScript trace ``model.pt``, platform ``pytorch_libtorch``, tensors named
            ``INPUT__0``…/``OUTPUT__0``…; needs a torch source). Defaults to "onnxruntime".
        tensorrt_precision: Engine precision when ``backend == "tensorrt"``: "FP16", "FP32"
            or "INT8". Defaults to "FP16".
        triton_name: The Triton model name: the model's folder in the repository (and archive)
            and its config's ``name``. Defaults to ``name``. Set it when several specs serve one
            model under one Triton name, as seed 001's ``resnet_pt_v0`` and ``resnet_trt_v0``
            archives both hold ``resnet/``.
        tensorrt_target: Where the engine of ``backend == "tensorrt"`` is served (instance type,
            Triton release, hardware compatibility): the build picks the TensorRT version and GPU
            from it and pins both in ``<model>/engine.json``; endpoints refuse an engine whose
            target does not match theirs. Defaults to none (the engine is built for GPU 0 of the
            building machine, with its local TensorRT; set it for anything you deploy).
        neuron_target: The Inferentia generation and static shapes of ``backend == "neuron"``
            (:class:`~model_build.neuron.NeuronTarget`: target "inf2"/"inf1", batch size, sequence
            length, compiler args); required for that backend, pinned in ``<model>/neuron.json``.
            Defaults to none.
    """

    name: str
    source: ModelSource
    triton: TritonOptions = TritonOptions()
    opset: int = 17
    tolerance: Tolerance = Tolerance()
    backend: str = "onnxruntime"
    tensorrt_precision: str = "FP16"
    triton_name: str | None = None
    tensorrt_target: EngineTarget | None = None
    neuron_target: NeuronTarget | None = None

    @property
    def triton_model_name(self) -> str:
        """The Triton model name: ``triton_name`` when set, else ``name``."""
        return self.name if self.triton_name is None else self.triton_name

    def options_dict(self) -> dict[str, Any]:
        """Return every option except the source as plain JSON-able data."""
        db = self.triton.dynamic_batching
        ort = self.triton.ort_tensorrt
        options: dict[str, Any] = {
            "name": self.name,
            "backend": self.backend,
            "opset": self.opset,
            "tensorrt_precision": self.tensorrt_precision if self.backend == "tensorrt" else None,
            "tolerance": {
                "atol": self.tolerance.atol,
                "rtol": self.tolerance.rtol,
                "per_output": {k: list(v) for k, v in sorted(self.tolerance.per_output.items())},
            },
            "triton": {
                "max_batch_size": self.triton.max_batch_size,
                "dynamic_batching": None
                if db is None
                else {
                    "preferred_batch_sizes": list(db.preferred_batch_sizes),
                    "max_queue_delay_microseconds": db.max_queue_delay_microseconds,
                },
                "instance_count": self.triton.instance_count,
                "instance_kind": self.triton.instance_kind,
                "warmup_batch_sizes": list(self.triton.warmup_batch_sizes),
                "ort_tensorrt": None
                if ort is None
                else {
                    "precision_mode": ort.precision_mode,
                    "max_workspace_size_bytes": ort.max_workspace_size_bytes,
                },
            },
        }
        # Keys added after the first release are present only when they change a build, so the
        # hashes (cache entries, CDK assets) of specs that do not use them stay as they were.
        if self.triton_name is not None:
            options["triton_name"] = self.triton_name
        if self.backend == "tensorrt" and self.tensorrt_target is not None:
            options["tensorrt_target"] = self.tensorrt_target.to_dict()
        if self.neuron_target is not None:
            options["neuron_target"] = self.neuron_target.to_dict()
        if self.triton.warmup_batch_sizes:
            # The model_warmup entries are named as seed 001 names its block ("bs128 Warmup").
            options["triton"]["warmup_names"] = [warmup_name(bs) for bs in self.triton.warmup_batch_sizes]
        return options

    def to_dict(self) -> dict[str, Any]:
        """Return the options plus a description of the source (for the manifest)."""
        return {**self.options_dict(), "source": self.source.describe()}

    def inputs_hash(self) -> str:
        """Return the sha256 hex digest that keys the cache and the CDK asset.

        It covers the source fingerprint (file bytes, config JSON, seed…), the canonical JSON
        of all options, the versions of the tools that produce the bytes, and
        :data:`BUILD_FORMAT_VERSION`. It reads package metadata only: torch is not imported.
        """
        digest = hashlib.sha256()
        for part in (
            b"model_build-format:" + BUILD_FORMAT_VERSION.encode(),
            b"source:" + self.source.fingerprint(),
            b"options:" + canonical_json(self.options_dict()),
            b"tools:" + canonical_json(tool_versions()),
        ):
            # Length-prefix each part so that no two different inputs concatenate equally.
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return digest.hexdigest()

    def validate(self) -> None:
        """Check every option (types first) and raise one error listing every problem.

        Nothing heavy runs: model files are recognised by their bytes and factory targets by
        their source, without importing torch or the user's module.

        Raises:
            ModelSpecError: ``Invalid ModelSpec '<name>': <problem>; <problem>; ...`` (a ``UserError``,
                so a ``ValueError`` too).
        """
        problems = spec_problems(self)
        if problems:
            raise ModelSpecError(f"Invalid ModelSpec {self.name!r}: " + "; ".join(problems))


def spec_problems(spec: ModelSpec) -> list[str]:
    """Return every problem of a spec, one sentence each (empty when valid).

    Each sentence starts with the dotted key it is about (``triton.max_batch_size``), the same
    key a spec file uses, so callers can say where the value came from (a file, a flag).
    Wrong Python types are reported first and their value checks skipped.
    """
    type_problems = _type_problems(spec)
    if type_problems:
        return type_problems
    problems: list[str] = []
    t = spec.triton
    if not NAME_PATTERN.match(spec.name):
        problems.append(
            f"name must be 1-63 letters, digits, '_' or '-', starting with a letter or digit "
            f"(got {spec.name!r}); rename the model, e.g. 'bert_large'"
        )
    if spec.backend not in BUILDABLE:
        problems.append(
            f"backend must be one of {', '.join(BUILDABLE)} (got {spec.backend!r})"
            f"{did_you_mean(spec.backend, BUILDABLE)}"
        )
    if spec.triton_name is not None and not NAME_PATTERN.match(spec.triton_name):
        problems.append(
            f"triton_name must be 1-63 letters, digits, '_' or '-', starting with a letter or digit "
            f"(got {spec.triton_name!r}); it is the model's folder in the repository, e.g. 'resnet'"
        )
    if spec.backend == "pytorch" and isinstance(spec.source, OnnxFile):
        problems.append(
            "backend 'pytorch' traces a torch module to TorchScript, but the source is an ONNX file "
            f"({spec.source.path}); use backend 'onnxruntime' for it, or give a torch source "
            "(TorchScriptFile, Factory or TransformersConfig)"
        )
    if not MIN_OPSET <= spec.opset <= MAX_OPSET:
        problems.append(f"opset must be between {MIN_OPSET} and {MAX_OPSET} (got {spec.opset}); use 17")
    if spec.tensorrt_target is not None:
        if spec.backend != "tensorrt":
            problems.append(
                f"tensorrt_target only applies to backend 'tensorrt' (got backend {spec.backend!r}); remove "
                "tensorrt_target or set backend='tensorrt'"
            )
        problems.extend(spec.tensorrt_target.problems("tensorrt_target"))
    problems.extend(_neuron_problems(spec))
    if spec.backend == "tensorrt" and spec.tensorrt_precision not in TRT_PRECISIONS:
        problems.append(
            f"tensorrt_precision must be one of {', '.join(TRT_PRECISIONS)} (got {spec.tensorrt_precision!r})"
            f"{did_you_mean(spec.tensorrt_precision.upper(), TRT_PRECISIONS)}"
        )
    mbs = t.max_batch_size
    if mbs < 1:
        problems.append(
            f"triton.max_batch_size must be >= 1 (got {mbs}); every model here is exported with a "
            "batch dimension, so set the largest batch Triton may send"
        )
    elif mbs > INT32_MAX:
        problems.append(
            f"triton.max_batch_size must be <= {INT32_MAX} (Triton stores it as int32; got {mbs}); "
            "set the largest batch Triton may send"
        )
    if t.dynamic_batching is not None:
        db = t.dynamic_batching
        for size in db.preferred_batch_sizes:
            if size < 1:
                problems.append(
                    f"triton.dynamic_batching.preferred_batch_sizes must each be >= 1 (got {size}); drop it"
                )
            elif mbs >= 1 and size > mbs:
                problems.append(
                    "triton.dynamic_batching.preferred_batch_sizes must each be <= max_batch_size "
                    f"(got {size} > {mbs}); raise triton.max_batch_size or drop the size"
                )
        if len(set(db.preferred_batch_sizes)) != len(db.preferred_batch_sizes):
            problems.append(
                "triton.dynamic_batching.preferred_batch_sizes must not repeat "
                f"(got {list(db.preferred_batch_sizes)}); list each size once"
            )
        if db.max_queue_delay_microseconds < 0:
            problems.append(
                "triton.dynamic_batching.max_queue_delay_microseconds must be >= 0 "
                f"(got {db.max_queue_delay_microseconds}); use 0 for no delay"
            )
        elif db.max_queue_delay_microseconds > UINT64_MAX:
            problems.append(
                f"triton.dynamic_batching.max_queue_delay_microseconds must be <= {UINT64_MAX} (Triton stores "
                f"it as uint64; got {db.max_queue_delay_microseconds}); use 0 for no delay"
            )
    if t.instance_count < 1:
        problems.append(f"triton.instance_count must be >= 1 (got {t.instance_count}); use 1 or more")
    elif t.instance_count > INT32_MAX:
        problems.append(
            f"triton.instance_count must be <= {INT32_MAX} (Triton stores it as int32; got {t.instance_count}); "
            "use 1 or more"
        )
    if t.instance_kind not in INSTANCE_KINDS:
        problems.append(
            f"triton.instance_kind must be one of {', '.join(INSTANCE_KINDS)} (got {t.instance_kind!r})"
            f"{did_you_mean(t.instance_kind.upper(), INSTANCE_KINDS)}"
        )
    for size in t.warmup_batch_sizes:
        if size < 1 or (mbs >= 1 and size > mbs):
            problems.append(
                f"triton.warmup_batch_sizes must each be between 1 and max_batch_size {mbs} (got {size}); "
                "drop it or raise triton.max_batch_size"
            )
    if t.ort_tensorrt is not None:
        ort = t.ort_tensorrt
        if spec.backend != "onnxruntime":
            problems.append(
                f"triton.ort_tensorrt only applies to backend 'onnxruntime' (got backend {spec.backend!r}); "
                "remove ort_tensorrt or set backend='onnxruntime'"
            )
        if ort.precision_mode not in TRT_PRECISIONS:
            problems.append(
                f"triton.ort_tensorrt.precision_mode must be one of {', '.join(TRT_PRECISIONS)} "
                f"(got {ort.precision_mode!r}){did_you_mean(ort.precision_mode.upper(), TRT_PRECISIONS)}"
            )
        if ort.max_workspace_size_bytes < 1:
            problems.append(
                "triton.ort_tensorrt.max_workspace_size_bytes must be >= 1 "
                f"(got {ort.max_workspace_size_bytes}); the default is 1073741824 (1 GiB)"
            )
    tol = spec.tolerance
    for key, (atol, rtol) in [("tolerance", (tol.atol, tol.rtol))] + [
        (f"tolerance.per_output.{name}", pair) for name, pair in tol.per_output.items()
    ]:
        for leaf, value in (("atol", atol), ("rtol", rtol)):
            if not math.isfinite(value):
                problems.append(
                    f"{key}.{leaf} must be finite (got {value}; nan fails every comparison and inf passes "
                    "every one); use a small positive tolerance such as 1e-4"
                )
            elif value < 0:
                problems.append(
                    f"{key}.{leaf} must be >= 0 (got {value}); use a small positive tolerance such as 1e-4"
                )
    source_problems = spec.source.problems()
    problems.extend(source_problems)
    outputs = () if source_problems else declared_output_names(spec.source) or ()
    for name in tol.per_output if outputs else ():
        if name not in outputs:
            problems.append(
                f"tolerance.per_output.{name} names no output of the model (its outputs: {', '.join(outputs)})"
                f"{did_you_mean(name, outputs)}; use one of those names"
            )
    return problems


def _neuron_problems(spec: ModelSpec) -> list[str]:
    """Return the problems of ``backend="neuron"`` and ``neuron_target`` (static shapes, a torch source)."""
    target = spec.neuron_target
    if spec.backend != "neuron":
        if target is None:
            return []
        return [
            f"neuron_target only applies to backend 'neuron' (got backend {spec.backend!r}); remove "
            "neuron_target or set backend='neuron'"
        ]
    if target is None:
        return [
            "neuron_target is missing: backend 'neuron' compiles fixed shapes, so say for which Inferentia and "
            "batch size, e.g. neuron_target=NeuronTarget(target='inf2', batch_size=1, sequence_length=128) "
            "([neuron_target] in a spec file)"
        ]
    problems = target.problems("neuron_target")
    if isinstance(spec.source, OnnxFile):
        problems.append(
            f"backend 'neuron' traces a torch module, but the source is an ONNX file ({spec.source.path}); the "
            "Neuron compilers do not read ONNX (seed 003 converted ONNX models to PyTorch first) — give a torch "
            "source (TorchScriptFile, Factory or TransformersConfig)"
        )
    length = getattr(spec.source, "sequence_length", None)
    if (
        isinstance(spec.source, TransformersConfig)
        and spec.source.architecture != "resnet-image-classification"
        and target.sequence_length is not None
        and target.sequence_length != length
    ):
        problems.append(
            f"neuron_target.sequence_length {target.sequence_length} differs from the source's sequence_length "
            f"{length}, which fixes the token inputs' length; set both to the same value"
        )
    return problems


def _type_problems(spec: ModelSpec) -> list[str]:
    """Return one problem per field of the wrong Python type (value checks would crash on them)."""
    problems = [
        expect_str("name", spec.name),
        expect_str("backend", spec.backend),
        expect_int("opset", spec.opset),
        expect_str("tensorrt_precision", spec.tensorrt_precision),
    ]
    if spec.triton_name is not None:
        problems.append(expect_str("triton_name", spec.triton_name))
    if spec.tensorrt_target is not None:
        problems.append(
            expect_instance(
                "tensorrt_target", spec.tensorrt_target, EngineTarget,
                "EngineTarget(instance_type='ml.g4dn.xlarge', triton_version='24.09') or None",
            )
        )  # fmt: skip
    if spec.neuron_target is not None:
        problems.append(
            expect_instance(
                "neuron_target", spec.neuron_target, NeuronTarget,
                "NeuronTarget(target='inf2', batch_size=1, sequence_length=128) or None",
            )
        )  # fmt: skip
    if not isinstance(spec.source, ModelSource):
        problems.append(
            f"source must be a model source (got {describe_value(spec.source)}); pass OnnxFile(Path(...)), "
            "TorchScriptFile(...), Factory(...) or TransformersConfig(...) from model_build.sources, or "
            "write a spec file (docs/your-model.md)"
        )
    t = spec.triton
    triton = expect_instance("triton", t, TritonOptions, "TritonOptions(max_batch_size=8)")
    problems.append(triton)
    if triton is None:
        problems += [
            expect_int("triton.max_batch_size", t.max_batch_size),
            expect_int("triton.instance_count", t.instance_count),
            expect_str("triton.instance_kind", t.instance_kind),
            expect_int_tuple("triton.warmup_batch_sizes", t.warmup_batch_sizes),
        ]
        db = t.dynamic_batching
        if db is not None:
            ok = expect_instance("triton.dynamic_batching", db, DynamicBatching, "DynamicBatching(...) or None")
            problems.append(ok)
            if ok is None:
                problems += [
                    expect_int_tuple("triton.dynamic_batching.preferred_batch_sizes", db.preferred_batch_sizes),
                    expect_int("triton.dynamic_batching.max_queue_delay_microseconds", db.max_queue_delay_microseconds),
                ]
        ort = t.ort_tensorrt
        if ort is not None:
            ok = expect_instance("triton.ort_tensorrt", ort, OrtTensorRT, "OrtTensorRT(...) or None")
            problems.append(ok)
            if ok is None:
                problems += [
                    expect_str("triton.ort_tensorrt.precision_mode", ort.precision_mode),
                    expect_int("triton.ort_tensorrt.max_workspace_size_bytes", ort.max_workspace_size_bytes),
                ]
    tol = spec.tolerance
    tolerance = expect_instance("tolerance", tol, Tolerance, "Tolerance(atol=1e-4, rtol=1e-3)")
    problems.append(tolerance)
    if tolerance is None:
        problems += [expect_number("tolerance.atol", tol.atol), expect_number("tolerance.rtol", tol.rtol)]
        if not isinstance(tol.per_output, dict):
            problems.append(
                f"tolerance.per_output must be a dict of output name to (atol, rtol) (got "
                f"{describe_value(tol.per_output)}); pass {{'logits': (1e-3, 1e-3)}}"
            )
        else:
            for name, pair in tol.per_output.items():
                if not (isinstance(pair, tuple) and len(pair) == 2 and all(is_number(v) for v in pair)):
                    problems.append(
                        f"tolerance.per_output.{name} must be an (atol, rtol) tuple of numbers "
                        f"(got {describe_value(pair)}); pass (1e-3, 1e-3)"
                    )
    return [p for p in problems if p]


def tool_versions() -> dict[str, str]:
    """Return the installed versions of the tools that determine a build's bytes."""
    versions = {"model_build": BUILD_FORMAT_VERSION}
    for dist in HASHED_TOOLS:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "absent"
    return versions
