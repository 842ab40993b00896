"""The Neuron compile stage: a torch model traced for AWS Inferentia with static shapes.

Inferentia runs a model compiled ahead of time for **fixed input shapes** (seed 003: "by default,
Inferentia performs best on inputs with a fixed sequence length"; ByteDance padded text to one
length and split variable-length loops out to the CPU). So a Neuron build takes its shapes from the
spec, :class:`NeuronTarget` (``ModelSpec.neuron_target``): one batch size and, for inputs with a
dynamic dimension (``-1``), one sequence length.

Two compilers, two targets, and their artifacts are **not interchangeable** (SERVICE-FACTS §7.1):

* ``inf2`` (Inferentia2, NeuronCore-v2): ``torch_neuronx.trace(model, example_inputs,
  compiler_args=[...])`` from the ``torch-neuronx`` package, compiler ``neuronx-cc``
  (https://awsdocs-neuron.readthedocs-hosted.com/en/latest/frameworks/torch/torch-neuronx/api-reference-guide/inference/api-torch-neuronx-trace.html).
* ``inf1`` (Inferentia, NeuronCore-v1): ``torch_neuron.trace(model, example_inputs,
  compiler_args=[...])`` from ``torch-neuron``, compiler ``neuron-cc``
  (https://awsdocs-neuron.readthedocs-hosted.com/en/latest/frameworks/torch/torch-neuron/api-compilation-python-api.html;
  archived by AWS: torch-neuron is no longer officially supported).

Both return a TorchScript module saved with ``torch.jit.save`` as ``model.pt``. Next to it the build
writes ``neuron.json`` (:class:`NeuronManifest`): the SDK version, the target and the static shapes.
:func:`model_build.neuron_target.neuron_target_problems` is the one place an artifact meets the
instance type that serves it (:meth:`NeuronManifest.target_problems` calls it).

The Neuron SDK is not installable from PyPI: ``torch-neuronx`` and ``torch-neuron`` there are
version-1.0 placeholders (``pip index versions torch-neuronx`` → ``torch-neuronx (1.0)``, read
2026-12-02); the real wheels come from ``https://pip.repos.neuron.amazonaws.com``, installed on an
Inferentia instance (Neuron DLAMI) or inside the Neuron deep learning container. Where the SDK is
absent, :func:`precheck_neuron_compile` stops the build before any work with the exact command to
run there (:func:`neuron_build_commands`).

Imports nothing heavy: ``cdk synth`` checks every Neuron artifact of an endpoint with it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import shlex
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from model_build.neuron_target import NEURON_MANIFEST, NEURON_TARGETS, neuron_target_problems
from model_build.user_errors import UserError, did_you_mean

NEURON_MANIFEST_FILENAME = NEURON_MANIFEST
"""The Neuron manifest, written next to the compiled ``model.pt``: ``<model>/neuron.json``."""

NEURON_PIP_INDEX = "https://pip.repos.neuron.amazonaws.com"
"""Where the Neuron SDK's Python packages are published (PyPI holds placeholders only)."""


@dataclass(frozen=True)
class _Toolchain:
    module: str
    distribution: str
    compiler: str


TOOLCHAINS: dict[str, _Toolchain] = {
    "inf2": _Toolchain(module="torch_neuronx", distribution="torch-neuronx", compiler="neuronx-cc"),
    "inf1": _Toolchain(module="torch_neuron", distribution="torch-neuron", compiler="neuron-cc"),
}
"""The trace module, its pip distribution and its compiler per target."""

MAX_STATIC_DIM = 1 << 20
"""A sanity bound on batch_size and sequence_length (a compiled graph of that size is a typo)."""


class NeuronUnavailableError(UserError):
    """The Neuron SDK of the spec's target is not installed here; the message gives the command to run where it is."""


class NeuronManifestError(UserError):
    """A ``neuron.json`` is unreadable or has a wrong field; the message names the file and the field."""


@dataclass(frozen=True, kw_only=True)
class NeuronTarget:
    """Where and with which static shapes a Neuron model is compiled: the ``ModelSpec.neuron_target`` option.

    Attributes:
        target: ``"inf2"`` (Inferentia2, ``torch-neuronx``) or ``"inf1"`` (Inferentia, ``torch-neuron``).
        batch_size: The batch dimension the model is compiled for; every request must carry exactly
            this many rows (pad smaller batches). Defaults to 1.
        sequence_length: The length every dynamic (``-1``) input dimension is fixed to; required when
            an input has one. For a ``TransformersConfig`` source it must equal its ``sequence_length``.
            Defaults to None (no dynamic dimension).
        compiler_args: Extra compiler flags passed as ``compiler_args`` (``neuronx-cc`` for inf2,
            ``neuron-cc`` for inf1), e.g. ``("--auto-cast", "matmult")``. Defaults to none.
    """

    target: str
    batch_size: int = 1
    sequence_length: int | None = None
    compiler_args: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the target as plain JSON-able data (for the inputs hash and the build manifest)."""
        data = asdict(self)
        data["compiler_args"] = list(self.compiler_args)
        return data

    def problems(self, key: str = "neuron_target") -> list[str]:
        """Return every problem of the target, each starting with ``<key>.<field>``."""
        problems: list[str] = []
        if not isinstance(self.target, str) or self.target not in NEURON_TARGETS:
            hint = did_you_mean(self.target, NEURON_TARGETS) if isinstance(self.target, str) else ""
            problems.append(
                f"{key}.target must be one of {', '.join(NEURON_TARGETS)} (got {self.target!r}){hint}; "
                "'inf2' compiles with torch-neuronx for ml.inf2.* instances, 'inf1' with torch-neuron for ml.inf1.*"
            )
        for name, value, required in (
            ("batch_size", self.batch_size, True),
            ("sequence_length", self.sequence_length, False),
        ):
            if value is None and not required:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_STATIC_DIM:
                problems.append(
                    f"{key}.{name} must be a whole number between 1 and {MAX_STATIC_DIM} (got {value!r}); Neuron "
                    f"compiles for one fixed {name.replace('_', ' ')}, e.g. {1 if name == 'batch_size' else 128}"
                )
        if not isinstance(self.compiler_args, tuple) or not all(
            isinstance(a, str) and a for a in self.compiler_args
        ):
            problems.append(
                f"{key}.compiler_args must be a tuple of non-empty strings (got {self.compiler_args!r}); "
                "pass e.g. ('--auto-cast', 'matmult') or leave it out"
            )
        return problems


@dataclass(frozen=True)
class NeuronCompileCall:
    """One trace-and-compile call, constructed from the spec (what the stage runs on Neuron hardware).

    Attributes:
        target: ``"inf1"`` or ``"inf2"``.
        module: The Python module whose ``trace`` compiles (``torch_neuronx`` / ``torch_neuron``).
        input_names: The model's inputs, in ``forward`` order.
        input_dtypes: Their Triton data types (``"INT64"``, ``"FP32"``...).
        example_shapes: The static shape of each example input, batch dimension first.
        compiler_args: The ``compiler_args`` keyword.
    """

    target: str
    module: str
    input_names: tuple[str, ...]
    input_dtypes: tuple[str, ...]
    example_shapes: tuple[tuple[int, ...], ...]
    compiler_args: tuple[str, ...]

    def python(self) -> str:
        """Return the call as Python source, as the compile stage makes it."""
        inputs = ", ".join(f"{name}: {list(shape)} {dtype}" for name, shape, dtype in self.examples())
        return (
            f"{self.module}.trace(model, example_inputs  # ({inputs})\n"
            f"    , compiler_args={list(self.compiler_args)!r})"
        )

    def examples(self) -> list[tuple[str, tuple[int, ...], str]]:
        """Return ``(name, static shape, dtype)`` per example input."""
        return list(zip(self.input_names, self.example_shapes, self.input_dtypes, strict=True))


def static_shapes(target: NeuronTarget, inputs: Any, *, key: str = "neuron_target") -> tuple[tuple[int, ...], ...]:
    """Return the static shape of each input: ``(batch_size, *dims)`` with every ``-1`` set to the sequence length.

    Args:
        target: The spec's Neuron target.
        inputs: The model's :class:`~model_build.sources.TensorSpec` inputs (batch dimension excluded).
        key: How messages name the option.

    Raises:
        UserError: An input has a dynamic dimension and ``sequence_length`` is not set.
    """
    shapes = []
    for spec in inputs:
        dims = []
        for dim in spec.dims:
            if dim == -1:
                if target.sequence_length is None:
                    raise UserError(
                        f"{key}.sequence_length is missing, but input {spec.name!r} has a dynamic dimension "
                        f"(dims {list(spec.dims)}); Neuron compiles fixed shapes — set {key}.sequence_length "
                        "to the length every request is padded to, e.g. 128"
                    )
                dims.append(target.sequence_length)
            else:
                dims.append(dim)
        shapes.append((target.batch_size, *dims))
    return tuple(shapes)


def neuron_compile_call(target: NeuronTarget, inputs: Any) -> NeuronCompileCall:
    """Construct the trace-and-compile call of ``target`` for a model with ``inputs``."""
    return NeuronCompileCall(
        target=target.target,
        module=TOOLCHAINS[target.target].module,
        input_names=tuple(s.name for s in inputs),
        input_dtypes=tuple(s.dtype for s in inputs),
        example_shapes=static_shapes(target, inputs),
        compiler_args=tuple(target.compiler_args),
    )


def neuron_build_commands(target: str, spec_file: str = "model.toml") -> tuple[str, ...]:
    """Return the shell commands that build a Neuron spec where the SDK is: an ``inf2``/``inf1`` instance.

    Args:
        target: ``"inf1"`` or ``"inf2"``.
        spec_file: The spec file to build (``python -m model_build build --spec``).
    """
    chain = TOOLCHAINS[target]
    packages = f"{chain.distribution} {chain.compiler}"
    return (
        f"python -m pip install --extra-index-url {NEURON_PIP_INDEX} {packages}",
        f"python -m model_build build --spec {shlex.quote(spec_file)}",
    )


def neuron_sdk_version(target: str) -> str | None:
    """Return the installed version of ``target``'s trace package (``torch-neuronx``); None when absent.

    A PyPI placeholder (``1.0``, no importable module) counts as absent.
    """
    chain = TOOLCHAINS[target]
    if importlib.util.find_spec(chain.module) is None:
        return None
    try:
        return importlib.metadata.version(chain.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def precheck_neuron_compile(target: NeuronTarget, *, name: str, spec_file: str | None = None) -> str:
    """Return the SDK version that will compile ``target``, or stop before any work with what is missing.

    Raises:
        NeuronUnavailableError: The trace module of the target is not importable here; the message
            names the missing module and the commands to run on an Inferentia instance or in the
            Neuron deep learning container.
    """
    version = neuron_sdk_version(target.target)
    if version is not None:
        return version
    chain = TOOLCHAINS[target.target]
    commands = " && ".join(neuron_build_commands(target.target, spec_file or f"{name}.toml"))
    raise NeuronUnavailableError(
        f"model {name!r} targets {target.target} (neuron_target.target), which compiles with {chain.module} "
        f"({chain.distribution}, compiler {chain.compiler}), and {chain.module} is not installed here. The Neuron "
        f"SDK is not on PyPI (its {chain.distribution} there is a placeholder): build on an ml.{target.target} / "
        f"{target.target} EC2 instance (Neuron DLAMI) or in the Neuron DLC "
        f"(763104351884.dkr.ecr.<region>.amazonaws.com/pytorch-inference-neuronx) with: {commands}"
    )


def compile_neuron(loaded: Any, call: NeuronCompileCall, out_path: Path) -> Path:
    """Trace and compile ``loaded.module`` with ``call`` and save it as TorchScript at ``out_path``.

    Runs only where the Neuron SDK is (an Inferentia instance); :func:`precheck_neuron_compile` runs first.
    """
    import importlib

    import numpy as np
    import torch

    from model_build.dtypes import TRITON_TO_NUMPY

    compiler = importlib.import_module(call.module)
    examples = tuple(
        torch.from_numpy(np.zeros(shape, dtype=TRITON_TO_NUMPY[dtype])) for _, shape, dtype in call.examples()
    )
    traced = compiler.trace(loaded.module, examples, compiler_args=list(call.compiler_args))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(traced, str(out_path))
    return out_path


@dataclass(frozen=True)
class NeuronManifest:
    """What one Neuron artifact was compiled for (``<model>/neuron.json``).

    Attributes:
        neuron_sdk_version: Version of the trace package that compiled it (``torch-neuronx`` for inf2,
            ``torch-neuron`` for inf1).
        target: ``"inf1"`` or ``"inf2"``.
        batch_size: The static batch dimension.
        sequence_length: The length dynamic dimensions were fixed to; None when there were none.
        inputs: ``[{"name", "dtype", "shape"}]`` in ``forward`` order, shapes static, batch first.
        compiler_args: The compiler flags used.
    """

    neuron_sdk_version: str
    target: str
    batch_size: int
    sequence_length: int | None
    inputs: list[dict[str, Any]]
    compiler_args: list[str]

    @classmethod
    def of(cls, call: NeuronCompileCall, target: NeuronTarget, sdk_version: str) -> NeuronManifest:
        """Return the manifest of an artifact compiled with ``call``."""
        return cls(
            neuron_sdk_version=sdk_version,
            target=call.target,
            batch_size=target.batch_size,
            sequence_length=target.sequence_length,
            inputs=[{"name": n, "dtype": d, "shape": list(s)} for n, s, d in call.examples()],
            compiler_args=list(call.compiler_args),
        )

    def to_json(self) -> str:
        """Return the manifest as sorted, indented JSON (byte-stable for the same content)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def target_problems(self, instance_type: str) -> list[str]:
        """Return why this artifact cannot be served on ``instance_type`` (:func:`~model_build.neuron_target.neuron_target_problems`)."""
        return neuron_target_problems(asdict(self), instance_type=instance_type)

    @classmethod
    def from_json(cls, text: str, *, source: str) -> NeuronManifest:
        """Parse a ``neuron.json``; every problem is listed, naming ``source`` and the field.

        Raises:
            NeuronManifestError: Not JSON, not an object, a missing/unknown field or a bad value.
        """
        rebuild = " — rebuild the model with model_build (backend='neuron'), which writes neuron.json"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise NeuronManifestError(f"{source} is not valid JSON ({error}){rebuild}") from None
        if not isinstance(data, dict):
            raise NeuronManifestError(f"{source} must be a JSON object (got {type(data).__name__}){rebuild}")
        names = [f.name for f in fields(cls)]
        problems = [f"missing field {name!r}" for name in names if name not in data]
        problems += [f"unknown field {k!r}{did_you_mean(k, names)}" for k in sorted(data) if k not in names]
        if not problems:
            problems = _manifest_value_problems(data)
        if problems:
            raise NeuronManifestError(f"{source} is not a valid Neuron manifest: " + "; ".join(problems) + rebuild)
        return cls(**{name: data[name] for name in names})


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _manifest_value_problems(data: dict[str, Any]) -> list[str]:
    problems = []
    if not isinstance(data["neuron_sdk_version"], str) or not data["neuron_sdk_version"]:
        problems.append(f"neuron_sdk_version must be a non-empty string (got {data['neuron_sdk_version']!r})")
    if data["target"] not in NEURON_TARGETS:
        problems.append(f"target must be one of {', '.join(NEURON_TARGETS)} (got {data['target']!r})")
    if not _whole(data["batch_size"]):
        problems.append(f"batch_size must be a whole number >= 1 (got {data['batch_size']!r})")
    if data["sequence_length"] is not None and not _whole(data["sequence_length"]):
        problems.append(f"sequence_length must be null or a whole number >= 1 (got {data['sequence_length']!r})")
    inputs = data["inputs"]
    if not isinstance(inputs, list) or not inputs:
        problems.append(f"inputs must be a non-empty list of {{name, dtype, shape}} (got {inputs!r})")
    else:
        for i, entry in enumerate(inputs):
            ok = (
                isinstance(entry, dict)
                and set(entry) == {"name", "dtype", "shape"}
                and isinstance(entry["name"], str)
                and isinstance(entry["dtype"], str)
                and isinstance(entry["shape"], list)
                and all(_whole(d) for d in entry["shape"])
            )
            if not ok:
                problems.append(f"inputs[{i}] must be {{name: str, dtype: str, shape: [whole numbers >= 1]}} (got {entry!r})")
            elif _whole(data["batch_size"]) and entry["shape"][:1] != [data["batch_size"]]:
                problems.append(
                    f"inputs[{i}].shape must start with batch_size {data['batch_size']} (got {entry['shape']})"
                )
    if not isinstance(data["compiler_args"], list) or not all(isinstance(a, str) for a in data["compiler_args"]):
        problems.append(f"compiler_args must be a list of strings (got {data['compiler_args']!r})")
    return problems


def write_neuron_manifest(model_dir: Path, manifest: NeuronManifest) -> Path:
    """Write ``<model_dir>/neuron.json`` and return its path."""
    path = model_dir / NEURON_MANIFEST_FILENAME
    path.write_text(manifest.to_json(), encoding="utf-8")
    return path
