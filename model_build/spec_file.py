"""Model spec files: a ``ModelSpec`` written as TOML, so a user's own model deploys in one command.

``python -m model_build build --spec model.toml`` and ``cdk deploy -c model=model.toml`` read the
same file through :func:`resolve_model`. The schema mirrors :class:`~model_build.spec.ModelSpec`
key for key (``triton.dynamic_batching.max_queue_delay_microseconds`` is the same dotted path in
the file, in Python and in error messages)::

    name = "classifier"                  # Triton model name (required)
    backend = "onnxruntime"              # or "tensorrt", "pytorch", "neuron"; default "onnxruntime"
    opset = 17                           # torch sources only; default 17
    tensorrt_precision = "FP16"          # backend "tensorrt" only; default "FP16"
    triton_name = "classifier"           # the model's folder in the archive; default: name

    [tensorrt_target]                    # backend "tensorrt" only: where the engine is served
    instance_type = "ml.g4dn.xlarge"     # its GPU's compute capability is pinned in the engine
    triton_version = "26.05"             # the Triton DLC release; picks the TensorRT version
    hardware_compatibility = "none"      # or "ampere+"; default "none"

    [neuron_target]                      # backend "neuron" only (required there): static shapes
    target = "inf2"                      # or "inf1"; compiled with torch-neuronx / torch-neuron
    batch_size = 1                       # every request carries exactly this many rows
    sequence_length = 128                # what every dynamic (-1) input dimension is fixed to
    compiler_args = ["--auto-cast", "matmult"]   # optional

    [source]
    kind = "torchscript"                 # "onnx" | "torchscript" | "factory" | "transformers"
    path = "classifier.pt"               # relative to this file's folder
    output_names = ["logits"]

    [[source.inputs]]                    # one table per forward() argument, batch dim excluded
    name = "features"
    dtype = "FP32"
    dims = [16]

    [triton]
    max_batch_size = 32
    [triton.dynamic_batching]
    preferred_batch_sizes = [8, 16]
    max_queue_delay_microseconds = 100

    [tolerance]
    atol = 1e-4
    [tolerance.per_output.logits]
    atol = 1e-3
    rtol = 1e-3

TOML because ``tomllib`` is in the standard library (no new dependency, no import cost at
``cdk synth``), it has real integers, floats and tables (YAML's ``no``/``off`` booleans and
untyped scalars are a classic source of wrong values), and comments.

Every problem in a file is collected into one :class:`SpecFileError` that starts with the file's
path and names each key by its dotted path, the value given, what is allowed and the fix.
Reading a spec file imports neither torch nor the user's factory module.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_build import factory_target
from model_build.checks import is_int, is_number
from model_build.engine_target import EngineTarget
from model_build.examples import EXAMPLES, get_example
from model_build.model_files import sniff
from model_build.neuron import NeuronTarget
from model_build.sources import (
    Factory,
    OnnxFile,
    TensorSpec,
    TorchScriptFile,
    TransformersConfig,
    dtype_problem,
)
from model_build.spec import (
    DynamicBatching,
    ModelSpec,
    OrtTensorRT,
    Tolerance,
    TritonOptions,
    spec_problems,
)
from model_build.user_errors import UserError, did_you_mean

SPEC_SUFFIX = ".toml"
SOURCE_KINDS: tuple[str, ...] = ("onnx", "torchscript", "factory", "transformers")


class SpecFileError(UserError):
    """A spec file (or a model reference) is invalid; the message starts with the file's path."""


# -- the schema: key -> expected TOML type ---------------------------------------------------------
# Types: "string", "integer", "number", "integers" (array of integers), "strings",
# "numbers", "table", "tables" (array of tables).

TOP_KEYS: dict[str, str] = {
    "name": "string",
    "backend": "string",
    "opset": "integer",
    "tensorrt_precision": "string",
    "triton_name": "string",
    "source": "table",
    "triton": "table",
    "tolerance": "table",
    "tensorrt_target": "table",
    "neuron_target": "table",
}
TENSORRT_TARGET_KEYS: dict[str, str] = {
    "instance_type": "string",
    "triton_version": "string",
    "hardware_compatibility": "string",
}
NEURON_TARGET_KEYS: dict[str, str] = {
    "target": "string",
    "batch_size": "integer",
    "sequence_length": "integer",
    "compiler_args": "strings",
}
TRITON_KEYS: dict[str, str] = {
    "max_batch_size": "integer",
    "instance_count": "integer",
    "instance_kind": "string",
    "warmup_batch_sizes": "integers",
    "dynamic_batching": "table",
    "ort_tensorrt": "table",
}
DYNAMIC_BATCHING_KEYS: dict[str, str] = {"preferred_batch_sizes": "integers", "max_queue_delay_microseconds": "integer"}
ORT_TENSORRT_KEYS: dict[str, str] = {"precision_mode": "string", "max_workspace_size_bytes": "integer"}
TOLERANCE_KEYS: dict[str, str] = {"atol": "number", "rtol": "number", "per_output": "table"}
PER_OUTPUT_KEYS: dict[str, str] = {"atol": "number", "rtol": "number"}
INPUT_KEYS: dict[str, str] = {"name": "string", "dtype": "string", "dims": "integers", "value_range": "numbers"}
SOURCE_KEYS: dict[str, dict[str, str]] = {
    "onnx": {"kind": "string", "path": "string"},
    "torchscript": {"kind": "string", "path": "string", "inputs": "tables", "output_names": "strings"},
    "factory": {
        "kind": "string",
        "target": "string",
        "kwargs": "table",
        "inputs": "tables",
        "output_names": "strings",
        "data_files": "strings",
    },
    "transformers": {
        "kind": "string",
        "architecture": "string",
        "config": "table",
        "seed": "integer",
        "weights_dir": "string",
        "sequence_length": "integer",
        "image_size": "integer",
        "max_new_tokens": "integer",
    },
}
# Where each key belongs, to say "max_batch_size belongs in [triton]" for a key in the wrong table.
_SECTIONS: dict[str, dict[str, str]] = {
    "": TOP_KEYS,
    "triton": TRITON_KEYS,
    "triton.dynamic_batching": DYNAMIC_BATCHING_KEYS,
    "triton.ort_tensorrt": ORT_TENSORRT_KEYS,
    "tolerance": TOLERANCE_KEYS,
    "tensorrt_target": TENSORRT_TARGET_KEYS,
    "neuron_target": NEURON_TARGET_KEYS,
    "source": {k: v for keys in SOURCE_KEYS.values() for k, v in keys.items()},
}

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "integers": "an array of integers",
    "strings": "an array of strings",
    "numbers": "an array of numbers",
    "table": "a table",
    "tables": "an array of tables",
}


def load_spec_file(path: str | Path, *, validate: bool = True) -> ModelSpec:
    """Read a TOML spec file into a :class:`~model_build.spec.ModelSpec`.

    Paths inside the file (``source.path``, ``source.weights_dir``, ``source.data_files``, a
    ``.py`` factory target) are relative to the file's folder.

    Args:
        path: The ``.toml`` file.
        validate: Also run the spec's own validation (ranges, model files, factory target) and
            report its problems in the file's terms. Defaults to True; the CLI passes False to
            apply its flags first and validate the result.

    Raises:
        SpecFileError: Every problem in the file, in one message that starts with its path.
    """
    file = Path(path)
    data = _read_toml(file)
    reader = _Reader(file.parent)
    spec = reader.spec(data)
    problems = reader.problems
    if spec is not None and validate:
        problems = problems + spec_problems(spec)
    if problems or spec is None:
        raise SpecFileError(format_problems(str(path), problems or ["the file describes no model"]))
    return spec


def format_problems(where: str, problems: Sequence[str]) -> str:
    """Return ``"<where>: <problem>"`` or ``"<where>: N problems: <p1>; <p2>; …"``."""
    if len(problems) == 1:
        return f"{where}: {problems[0]}"
    return f"{where}: {len(problems)} problems: " + "; ".join(problems)


def resolve_model(reference: str) -> ModelSpec:
    """Return the spec a model reference names: a built-in example or a ``.toml`` spec file.

    This is what ``cdk deploy -c model=...``, ``python -m model_build build --spec`` and the
    rehearsal accept. A name in :data:`model_build.examples.EXAMPLES` wins; anything else is a
    path (relative to the current directory), read with :func:`load_spec_file`. Nothing heavy
    is imported and nothing is built.

    Raises:
        SpecFileError: The reference is neither an example nor an existing spec file (the
            message lists the examples and says which path does not exist), or the file is
            invalid.
    """
    if not isinstance(reference, str) or not reference.strip():
        raise SpecFileError(
            f"a model must be an example name ({', '.join(EXAMPLES)}) or a path to a .toml spec file "
            f"(got {reference!r})"
        )
    reference = reference.strip()
    if reference in EXAMPLES:
        return get_example(reference)
    file = Path(reference).expanduser()
    if file.is_dir():
        inside = sorted(p.name for p in file.glob(f"*{SPEC_SUFFIX}"))
        if len(inside) == 1:
            return load_spec_file(file / inside[0])
        listed = f" (it holds {', '.join(inside)})" if inside else f" (it holds no {SPEC_SUFFIX} file)"
        raise SpecFileError(f"{reference}: is a folder{listed}; give the path of one spec file")
    if file.is_file():
        if file.suffix != SPEC_SUFFIX:
            found = sniff(file)
            if found.kind not in {"text", "unknown"}:
                raise SpecFileError(
                    f"{reference}: is {found.description}, not a model spec file; write a {SPEC_SUFFIX} "
                    "spec that points at it ([source] kind and path, see docs/your-model.md)"
                )
        return load_spec_file(file)
    examples = ", ".join(EXAMPLES)
    hint = did_you_mean(reference, list(EXAMPLES))
    if hint or (SPEC_SUFFIX not in reference and "/" not in reference):
        raise SpecFileError(
            f"model {reference!r} is not a built-in example{hint} (examples: {examples}) and no spec file "
            f"{str(file.absolute())!r} exists; name an example or give the path of a {SPEC_SUFFIX} spec file"
        )
    raise SpecFileError(
        f"{reference}: no such spec file ({str(file.absolute())!r} does not exist"
        f"{_near_file(file)}); fix the path (relative to {str(Path.cwd())!r}) or name an example: {examples}"
    )


def resolve_models(references: str | Sequence[str]) -> tuple[ModelSpec, ...]:
    """Return the specs of several references (a comma-separated string or a sequence).

    Every reference is resolved and every problem reported at once; two models with the same
    Triton name are refused, since each deploys under its name.

    Raises:
        SpecFileError: One message with the problems of every reference.
    """
    items = references.split(",") if isinstance(references, str) else list(references)
    items = [str(item).strip() for item in items]
    if not items or not all(items):
        raise SpecFileError(
            f"models must be a comma-separated list of example names or spec files (got {references!r}); "
            "remove the empty entry"
        )
    specs: list[ModelSpec] = []
    problems: list[str] = []
    for item in items:
        try:
            specs.append(resolve_model(item))
        except SpecFileError as exc:
            problems.append(str(exc))
    by_name: dict[str, list[str]] = {}
    for item, spec in zip(items, specs, strict=False):
        by_name.setdefault(spec.name, []).append(item)
    if not problems:
        for name, sources in by_name.items():
            if len(sources) > 1:
                problems.append(
                    f"{' and '.join(sources)} both name their model {name!r}; give each a distinct name"
                )
    if problems:
        raise SpecFileError("; ".join(problems))
    return tuple(specs)


# -- reading ----------------------------------------------------------------------------------------


def _read_toml(file: Path) -> dict[str, Any]:
    where = str(file)
    if file.is_dir():
        raise SpecFileError(f"{where}: is a folder, not a spec file; give the path of the .toml file")
    if not file.is_file():
        raise SpecFileError(f"{where}: no such spec file{_near_file(file)}; fix the path")
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise SpecFileError(f"{where}: cannot be read ({exc.strerror}); check its permissions") from None
    try:
        # utf-8-sig: Windows editors may save a byte-order mark, which tomllib would refuse.
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        found = sniff(file)
        raise SpecFileError(
            f"{where}: is {found.description}, not a TOML spec file (a spec file is UTF-8 text); "
            "write a model.toml that points at the model file (see docs/your-model.md)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecFileError(
            f"{where}: is not valid TOML: {exc}; fix the syntax there (strings need quotes, tables "
            "are written [name], arrays [1, 2])"
        ) from None


def _near_file(file: Path) -> str:
    folder = file.parent
    if not folder.is_dir():
        return ""
    return did_you_mean(file.name, [p.name for p in folder.iterdir() if p.is_file()])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value!r}"
    if isinstance(value, list):
        return "array " + (repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "...]")
    if isinstance(value, dict):
        return "table {" + ", ".join(list(value)[:4]) + (", ..." if len(value) > 4 else "") + "}"
    return f"{type(value).__name__} {value}"


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": is_int,
    "number": is_number,
    "integers": lambda v: isinstance(v, list) and all(is_int(x) for x in v),
    "strings": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "numbers": lambda v: isinstance(v, list) and all(is_number(x) for x in v),
    "table": lambda v: isinstance(v, dict),
    "tables": lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
}


def _type_fix(leaf: str, expected: str, value: Any) -> str:
    """Return how to write ``leaf`` with the expected type, from the value given."""
    if expected == "integer":
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return f"write {leaf} = {int(value)} without quotes"
        if isinstance(value, float) and value.is_integer():
            return f"write {leaf} = {int(value)}"
        return f"write a whole number, e.g. {leaf} = 8"
    if expected == "number":
        if isinstance(value, str):
            try:
                return f"write {leaf} = {float(value)!r} without quotes"
            except ValueError:
                pass
        return f"write a number, e.g. {leaf} = 1e-4"
    if expected == "string":
        return f'write it in quotes: {leaf} = "{value}"' if not isinstance(value, dict | list) else f'write {leaf} = "..."'
    if expected == "integers":
        if is_int(value) or (isinstance(value, str) and value.strip().isdigit()):
            return f"write {leaf} = [{int(value)}]"
        if isinstance(value, list):
            return f"write whole numbers without quotes, e.g. {leaf} = [1, 8]"
        return f"write {leaf} = [1, 8]"
    if expected == "strings":
        if isinstance(value, str):
            return f'write {leaf} = ["{value}"]'
        return f'write {leaf} = ["a", "b"]'
    if expected == "numbers":
        return f"write {leaf} = [0.0, 1.0]"
    if expected == "tables":
        return f"write one [[...{leaf}]] table per entry"
    return f"write it as a [{leaf}] table"


@dataclass
class _Reader:
    """Walks the parsed TOML, converting values and collecting every problem."""

    base: Path
    problems: list[str] = field(default_factory=list)

    def check_keys(self, table: Mapping[str, Any], prefix: str, allowed: Mapping[str, str], what: str) -> None:
        for key in table:
            if key in allowed:
                continue
            dotted = f"{prefix}{key}"
            home = next(
                (section for section, keys in _SECTIONS.items() if key in keys and f"{section}." != prefix),
                None,
            )
            if home is not None and not did_you_mean(key, list(allowed)):
                where = "at the top of the file, before any [table] header" if home == "" else f"in the [{home}] table"
                fix = f"{key} belongs {where}; move it there"
                if prefix:
                    fix += " (in TOML, every key after a [table] header belongs to that table)"
            elif key == "inputs" and prefix == "source.":
                fix = "an ONNX model's inputs come from its graph; remove [[source.inputs]]"
            else:
                fix = f"the keys of {what} are {', '.join(allowed)}{did_you_mean(key, list(allowed))}; fix or remove it"
            self.problems.append(f"{dotted} is not a key of {what}: {fix}")

    def get(
        self, table: Mapping[str, Any], prefix: str, key: str, expected: str, *, required: bool = False
    ) -> Any:
        """Return ``table[key]`` if present and of the expected type, else None (recording a problem)."""
        dotted = f"{prefix}{key}"
        if key not in table:
            if required:
                self.problems.append(f"{dotted} is missing; add {_example_line(key, expected)}")
            return None
        value = table[key]
        if not _CHECKS[expected](value):
            self.problems.append(
                f"{dotted} must be {_TYPE_WORDS[expected]} (got {_toml_value(value)}); {_type_fix(key, expected, value)}"
            )
            return None
        return value

    def path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base / path

    def spec(self, data: Mapping[str, Any]) -> ModelSpec | None:
        self.check_keys(data, "", TOP_KEYS, "a model spec")
        name = self.get(data, "", "name", "string", required=True)
        source_table = self.get(data, "", "source", "table", required=True)
        source = None if source_table is None else self.source(source_table)
        triton = self.triton(self.get(data, "", "triton", "table") or {})
        tolerance = self.tolerance(self.get(data, "", "tolerance", "table") or {})
        options: dict[str, Any] = {}
        for key in ("backend", "opset", "tensorrt_precision", "triton_name"):
            value = self.get(data, "", key, TOP_KEYS[key])
            if value is not None:
                options[key] = value
        target = self.get(data, "", "tensorrt_target", "table")
        if target is not None:
            self.check_keys(target, "tensorrt_target.", TENSORRT_TARGET_KEYS, "the [tensorrt_target] table")
            fields = {
                key: value
                for key in TENSORRT_TARGET_KEYS
                if (value := self.get(target, "tensorrt_target.", key, "string", required=key != "hardware_compatibility"))
                is not None
            }
            if {"instance_type", "triton_version"} <= fields.keys():
                options["tensorrt_target"] = EngineTarget(**fields)
        neuron = self.get(data, "", "neuron_target", "table")
        if neuron is not None:
            self.check_keys(neuron, "neuron_target.", NEURON_TARGET_KEYS, "the [neuron_target] table")
            values = {
                key: value
                for key, expected in NEURON_TARGET_KEYS.items()
                if (value := self.get(neuron, "neuron_target.", key, expected, required=key == "target")) is not None
            }
            if "target" in values:
                if "compiler_args" in values:
                    values["compiler_args"] = tuple(values["compiler_args"])
                options["neuron_target"] = NeuronTarget(**values)
        if self.problems or name is None or source is None or triton is None or tolerance is None:
            return None
        return ModelSpec(name=name, source=source, triton=triton, tolerance=tolerance, **options)

    def triton(self, table: Mapping[str, Any]) -> TritonOptions | None:
        before = len(self.problems)
        self.check_keys(table, "triton.", TRITON_KEYS, "the [triton] table")
        values: dict[str, Any] = {}
        for key in ("max_batch_size", "instance_count", "instance_kind", "warmup_batch_sizes"):
            value = self.get(table, "triton.", key, TRITON_KEYS[key])
            if value is not None:
                values[key] = tuple(value) if isinstance(value, list) else value
        db = self.get(table, "triton.", "dynamic_batching", "table")
        if db is not None:
            self.check_keys(db, "triton.dynamic_batching.", DYNAMIC_BATCHING_KEYS, "[triton.dynamic_batching]")
            sizes = self.get(db, "triton.dynamic_batching.", "preferred_batch_sizes", "integers")
            delay = self.get(db, "triton.dynamic_batching.", "max_queue_delay_microseconds", "integer")
            values["dynamic_batching"] = DynamicBatching(
                preferred_batch_sizes=tuple(sizes or ()), max_queue_delay_microseconds=delay or 0
            )
        ort = self.get(table, "triton.", "ort_tensorrt", "table")
        if ort is not None:
            self.check_keys(ort, "triton.ort_tensorrt.", ORT_TENSORRT_KEYS, "[triton.ort_tensorrt]")
            ort_values = {
                key: v
                for key, expected in ORT_TENSORRT_KEYS.items()
                if (v := self.get(ort, "triton.ort_tensorrt.", key, expected)) is not None
            }
            values["ort_tensorrt"] = OrtTensorRT(**ort_values)
        return None if len(self.problems) > before else TritonOptions(**values)

    def tolerance(self, table: Mapping[str, Any]) -> Tolerance | None:
        before = len(self.problems)
        self.check_keys(table, "tolerance.", TOLERANCE_KEYS, "the [tolerance] table")
        atol = self.get(table, "tolerance.", "atol", "number")
        rtol = self.get(table, "tolerance.", "rtol", "number")
        default = Tolerance()
        atol = default.atol if atol is None else float(atol)
        rtol = default.rtol if rtol is None else float(rtol)
        per_output: dict[str, tuple[float, float]] = {}
        for output, entry in (self.get(table, "tolerance.", "per_output", "table") or {}).items():
            prefix = f"tolerance.per_output.{output}."
            if not isinstance(entry, dict):
                self.problems.append(
                    f"tolerance.per_output.{output} must be a table (got {_toml_value(entry)}); write "
                    f"[tolerance.per_output.{output}] with atol = ... and rtol = ..."
                )
                continue
            self.check_keys(entry, prefix, PER_OUTPUT_KEYS, f"[tolerance.per_output.{output}]")
            o_atol = self.get(entry, prefix, "atol", "number")
            o_rtol = self.get(entry, prefix, "rtol", "number")
            per_output[output] = (
                atol if o_atol is None else float(o_atol),
                rtol if o_rtol is None else float(o_rtol),
            )
        return None if len(self.problems) > before else Tolerance(atol=atol, rtol=rtol, per_output=per_output)

    def source(self, table: Mapping[str, Any]) -> Any:
        kind = self.get(table, "source.", "kind", "string")
        if kind is None:
            if "kind" not in table:
                self.problems.append(f"source.kind is missing; add {self._guess_kind(table)}")
            return None
        if kind not in SOURCE_KINDS:
            self.problems.append(
                f'source.kind must be one of {", ".join(SOURCE_KINDS)} (got "{kind}"){did_you_mean(kind, SOURCE_KINDS)}; '
                f"write {self._guess_kind(table)}"
            )
            return None
        before = len(self.problems)
        allowed = SOURCE_KEYS[kind]
        self.check_keys(table, "source.", allowed, f"a {kind!r} source")

        def get(key: str, *, required: bool = False) -> Any:
            return self.get(table, "source.", key, allowed[key], required=required)

        if kind == "onnx":
            path = get("path", required=True)
            return None if len(self.problems) > before else OnnxFile(self.path(path))
        if kind == "torchscript":
            path = get("path", required=True)
            inputs = self.inputs(get("inputs", required=True))
            outputs = get("output_names")
            if len(self.problems) > before or inputs is None:
                return None
            return TorchScriptFile(
                self.path(path), inputs=inputs, output_names=tuple(outputs) if outputs is not None else ("output",)
            )
        if kind == "factory":
            target = get("target", required=True)
            kwargs = get("kwargs")
            inputs_table = get("inputs")
            inputs = () if inputs_table is None else self.inputs(inputs_table)
            outputs = get("output_names")
            data_files = get("data_files")
            if len(self.problems) > before or target is None or inputs is None:
                return None
            return Factory(
                target=self._factory_target(target),
                kwargs=kwargs or {},
                inputs=inputs,
                output_names=tuple(outputs or ()),
                data_files=tuple(self.path(f) for f in data_files or ()),
            )
        architecture = get("architecture", required=True)
        values = {
            key: v
            for key in ("seed", "sequence_length", "image_size", "max_new_tokens")
            if (v := get(key)) is not None
        }
        config = get("config")
        weights = get("weights_dir")
        if len(self.problems) > before or architecture is None:
            return None
        return TransformersConfig(
            architecture=architecture,
            config=config or {},
            weights_dir=None if weights is None else self.path(weights),
            **values,
        )

    def inputs(self, tables: list[dict[str, Any]] | None) -> tuple[TensorSpec, ...] | None:
        if tables is None:
            return None
        if not tables:
            self.problems.append(
                "source.inputs is empty; add one [[source.inputs]] table per forward() argument "
                '(name = "x", dtype = "FP32", dims = [16], without the batch dimension)'
            )
            return None
        specs = []
        before = len(self.problems)
        for i, entry in enumerate(tables):
            prefix = f"source.inputs[{i}]."
            self.check_keys(entry, prefix, INPUT_KEYS, "an input ([[source.inputs]])")
            name = self.get(entry, prefix, "name", "string", required=True)
            dtype = self.get(entry, prefix, "dtype", "string", required=True)
            dims = self.get(entry, prefix, "dims", "integers", required=True)
            value_range = self.get(entry, prefix, "value_range", "numbers")
            if value_range is not None and len(value_range) != 2:
                self.problems.append(
                    f"{prefix}value_range must hold 2 numbers, low and high (got {_toml_value(value_range)}); "
                    "write value_range = [0, 30522]"
                )
                value_range = None
            dtype_error = None if dtype is None else dtype_problem(f"{prefix}dtype", dtype)
            if dtype_error:
                self.problems.append(dtype_error)
            if name is not None and dtype is not None and dims is not None:
                specs.append(
                    TensorSpec(
                        name,
                        dtype,
                        tuple(dims),
                        None if value_range is None else (float(value_range[0]), float(value_range[1])),
                    )
                )
        return None if len(self.problems) > before else tuple(specs)

    def _factory_target(self, target: str) -> str:
        parsed = factory_target.parse_target(target)
        if parsed is not None and parsed.is_file:
            return f"{self.path(parsed.module)}:{parsed.function}"
        return target

    def _guess_kind(self, table: Mapping[str, Any]) -> str:
        if "target" in table:
            return 'kind = "factory"'
        if "architecture" in table:
            return 'kind = "transformers"'
        path = table.get("path")
        if isinstance(path, str):
            found = sniff(self.path(path))
            if found.kind == "onnx":
                return f'kind = "onnx" ({path} is an ONNX model)'
            if found.kind == "torchscript":
                return f'kind = "torchscript" ({path} is a TorchScript archive)'
        return 'kind = "onnx", "torchscript", "factory" or "transformers"'


def _example_line(key: str, expected: str) -> str:
    examples = {
        "name": 'name = "my_model"',
        "source": '[source] with kind = "onnx" and path = "model.onnx"',
        "path": 'path = "model.onnx" (relative to this file)',
        "target": 'target = "model_def.py:make_model"',
        "architecture": 'architecture = "bert-sequence-classification"',
        "inputs": '[[source.inputs]] tables (name = "x", dtype = "FP32", dims = [16]), one per forward() argument',
        "dtype": 'dtype = "FP32"',
        "dims": "dims = [16] (without the batch dimension)",
    }
    return examples.get(key, f"{key} = ... ({_TYPE_WORDS[expected]})")
