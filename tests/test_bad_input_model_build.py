"""Bad input to model_build, tried as a new user would: every case fails at validation, before any work.

Each CLI case runs ``main([...])`` in process and checks: exit status 2, one line on stderr that
names the flag / spec key / the user's own file and says the fix, no traceback, and nothing
written (the output and cache folders stay absent, the user's files unchanged). A few run as a
real ``python -m model_build`` subprocess. The Python-API cases check that wrong types give one
message naming the field instead of a crash.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from model_build.cli import main
from model_build.sources import Factory, OnnxFile, TensorSpec, TorchScriptFile, TransformersConfig
from model_build.spec import DynamicBatching, ModelSpec, ModelSpecError, Tolerance, TritonOptions

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    """One bad input: the arguments (built from the work folder) and the phrases the message must hold."""

    id: str
    argv: Callable[[Path], list[str]]
    needles: tuple[str, ...]
    output_dir: bool = True  # append --output-dir <work>/out (build needs one)
    env: tuple[tuple[str, str], ...] = ()


def _spec(text: str, name: str = "model.toml") -> Callable[[Path], list[str]]:
    """A spec file written into the work folder, given with --spec."""

    def make(work: Path) -> list[str]:
        path = work / name
        path.write_text(textwrap.dedent(text).lstrip())
        return ["build", "--spec", str(path)]

    return make


def _onnx(file: str) -> Callable[[Path], list[str]]:
    return lambda work: ["build", "--onnx", str(work / file), "--name", "m"]


def _example(*extra: str) -> Callable[[Path], list[str]]:
    return lambda work: ["build", "--example", "bert-tiny", *extra]


ONNX_SOURCE = '[source]\nkind = "onnx"\npath = "model.onnx"\n'
TS_INPUTS = '[[source.inputs]]\nname = "x"\ndtype = "FP32"\ndims = [4]\n'


def _ts(path: str) -> str:
    return f'name = "m"\n[source]\nkind = "torchscript"\npath = "{path}"\n' + TS_INPUTS


CLI_CASES: list[Case] = [
    # -- flags --------------------------------------------------------------------------------------
    Case("max-batch-size-zero", _example("--max-batch-size", "0"), ("--max-batch-size must be >= 1 (got 0)", "set the largest batch")),
    Case("max-batch-size-not-int", _example("--max-batch-size", "8.5"), ("argument --max-batch-size: invalid int value: '8.5'", "--help")),
    Case(
        "preferred-above-max",
        _example("--max-batch-size", "8", "--preferred-batch-size", "16"),
        ("--preferred-batch-size must each be <= max_batch_size (got 16 > 8)", "raise triton.max_batch_size or drop"),
    ),
    Case("preferred-zero", _example("--preferred-batch-size", "0"), ("--preferred-batch-size must each be >= 1 (got 0)", "drop it")),
    Case(
        "preferred-repeated",
        _example("--preferred-batch-size", "4", "--preferred-batch-size", "4"),
        ("--preferred-batch-size must not repeat (got [4, 4])", "list each size once"),
    ),
    Case("queue-delay-negative", _example("--max-queue-delay-us", "-1"), ("--max-queue-delay-us must be >= 0 (got -1)", "use 0")),
    Case("instance-count-zero", _example("--instance-count", "0"), ("--instance-count must be >= 1 (got 0)", "use 1 or more")),
    Case("instance-kind-unknown", _example("--instance-kind", "GPU"), ("argument --instance-kind: invalid choice: 'GPU'", "KIND_GPU")),
    Case(
        "warmup-above-max",
        _example("--max-batch-size", "4", "--warmup-batch-size", "8"),
        ("--warmup-batch-size must each be between 1 and max_batch_size 4 (got 8)", "raise triton.max_batch_size"),
    ),
    Case("opset-too-old", _example("--opset", "7"), ("--opset must be between 13 and 21 (got 7)", "use 17")),
    Case("opset-too-new", _example("--opset", "99"), ("--opset must be between 13 and 21 (got 99)", "use 17")),
    Case("backend-unknown", _example("--backend", "tflite"), ("argument --backend: invalid choice: 'tflite'", "onnxruntime")),
    Case("name-with-space", _example("--name", "my model"), ("--name must be 1-63 letters", "got 'my model'", "rename the model")),
    Case("name-too-long", _example("--name", "m" * 64), ("--name must be 1-63 letters", "rename the model")),
    Case("onnx-without-name", lambda w: ["build", "--onnx", str(w / "my-model.onnx")], ("--name is required with --onnx", "add e.g. --name my-model")),
    Case(
        "spec-and-example",
        lambda w: ["build", "--spec", "m.toml", "--example", "bert-tiny"],
        ("argument --example: not allowed with argument --spec", "--help"),
    ),
    Case("no-model-flag", lambda w: ["build"], ("one of the arguments --spec --example --onnx is required", "--help")),
    Case("example-unknown", lambda w: ["build", "--example", "gpt5"], ("--example 'gpt5' is not an example", "choose one of bert-tiny", "--spec model.toml")),
    Case("example-typo", lambda w: ["build", "--example", "bert-tinny"], ("(did you mean 'bert-tiny'?)",)),
    Case("unknown-flag", _example("--batch-size", "8"), ("unrecognized arguments: --batch-size 8", "--help")),
    Case("build-without-output-dir", _example(), ("the following arguments are required: --output-dir", "--help"), output_dir=False),
    Case(
        "no-command",
        lambda w: [],
        ("the following arguments are required: {list-examples,build,check}", "--help"),
        output_dir=False,
        env=(("MODEL_BUILD_CACHE_DIR", "cache"),),  # no --cache-dir appended: there is no subcommand to take it
    ),
    Case("spec-empty-path", lambda w: ["build", "--spec", ""], ("argument --spec: got '', an empty path; give a path", "--help")),
    Case("onnx-empty-path", lambda w: ["build", "--onnx", " ", "--name", "m"], ("argument --onnx: got ' ', an empty path", "--help")),
    Case("output-dir-empty-path", _example("--output-dir", ""), ("argument --output-dir: got '', an empty path", "--help"), output_dir=False),
    Case("cache-dir-empty-path", _example("--cache-dir", ""), ("argument --cache-dir: got '', an empty path", "--help")),
    # -- folders ------------------------------------------------------------------------------------
    Case(
        "output-dir-is-a-file",
        lambda w: ["build", "--example", "bert-tiny", "--output-dir", str(w / "model.onnx")],
        ("--output-dir", "model.onnx' is a file, not a folder", "give a folder path"),
        output_dir=False,
    ),
    Case(
        "output-dir-under-a-file",
        lambda w: ["build", "--example", "bert-tiny", "--output-dir", str(w / "model.onnx" / "out")],
        ("--output-dir", "cannot be created", "model.onnx' is a file", "choose a path under a folder"),
        output_dir=False,
    ),
    Case(
        "output-dir-not-writable",
        lambda w: ["build", "--example", "bert-tiny", "--output-dir", "/proc/sys/model-out"],
        ("--output-dir '/proc/sys/model-out' is not writable", "choose a folder you can write to"),
        output_dir=False,
    ),
    Case(
        "output-dir-holds-a-folder-named-like-the-archive",
        lambda w: ["build", "--example", "bert-tiny", "--output-dir", str(w / "dist")],
        ("--output-dir", "holds a folder named 'bert-tiny.tar.gz'", "remove it or choose another --output-dir"),
        output_dir=False,
    ),
    Case(
        "cache-dir-is-a-file",
        lambda w: ["build", "--example", "bert-tiny", "--cache-dir", str(w / "model.onnx")],
        ("--cache-dir", "is a file, not a folder", "give a folder path"),
    ),
    Case(
        "cache-env-is-a-file",
        _example(),
        ("$MODEL_BUILD_CACHE_DIR", "is a file, not a folder"),
        env=(("MODEL_BUILD_CACHE_DIR", "model.onnx"),),
    ),
    # -- model files given with --onnx --------------------------------------------------------------
    Case("onnx-missing-near-match", _onnx("modle.onnx"), ("--onnx", "modle.onnx' does not exist (did you mean 'model.onnx'?)", "give the path")),
    Case("onnx-is-a-folder", lambda w: ["build", "--onnx", str(w / "dist"), "--name", "m"], ("--onnx", "dist' is not an ONNX model: it is a folder", "give the model file inside it")),
    Case("onnx-empty", _onnx("empty.onnx"), ("--onnx", "empty.onnx' is not an ONNX model: it is empty (0 bytes)", "copy the model file again")),
    Case("onnx-text", _onnx("notes.onnx"), ("--onnx", "notes.onnx' is not an ONNX model: it is a text file", "torch.onnx.export")),
    Case("onnx-png", _onnx("picture.onnx"), ("--onnx", "picture.onnx' is not an ONNX model: it is a PNG image", "torch.onnx.export")),
    Case("onnx-truncated", _onnx("truncated.onnx"), ("--onnx", "truncated.onnx' is a damaged ONNX model (truncated", "copy or export the file again")),
    Case("onnx-is-torchscript", _onnx("scripted.pt"), ("--onnx", "scripted.pt' is not an ONNX model: it is a TorchScript archive", 'kind = "torchscript"')),
    Case("onnx-is-state-dict", _onnx("state_dict.pt"), ("--onnx", "state_dict.pt' is not an ONNX model: it is a torch.save() state dict", 'kind = "factory"')),
    Case("onnx-external-data", _onnx("external.onnx"), ("--onnx", "external.onnx' keeps 1 weight tensors in external data files (external.onnx.data)", "save_as_external_data=False")),
    Case("onnx-fixed-batch", _onnx("fixed_batch.onnx"), ("--onnx", "fixed_batch.onnx' graph input 'x' has a fixed first dimension 1", "dynamic_axes")),
    Case("onnx-lfs-pointer", _onnx("lfs.onnx"), ("--onnx", "lfs.onnx' is not an ONNX model: it is a Git LFS pointer", "git lfs pull")),
    Case("onnx-html-page", _onnx("download.onnx"), ("--onnx", "download.onnx' is not an ONNX model: it is an HTML page", "download the model file again")),
    Case("onnx-corrupt-bytes", _onnx("random.onnx"), ("--onnx", "random.onnx' is not an ONNX model: it is binary data that does not parse as ONNX", "torch.onnx.export")),
    Case("onnx-is-tar-gz", _onnx("model.tar.gz"), ("--onnx", "model.tar.gz' is not an ONNX model: it is a gzip archive", "tar -xzf")),
    # -- spec files ---------------------------------------------------------------------------------
    Case("spec-missing", lambda w: ["build", "--spec", str(w / "modle.toml")], ("--spec", "modle.toml: no such spec file", "fix the path")),
    Case("spec-is-a-folder", lambda w: ["build", "--spec", str(w / "dist")], ("--spec", "dist: is a folder, not a spec file", "give the path of the .toml file")),
    Case("spec-is-a-model-file", lambda w: ["build", "--spec", str(w / "model.onnx")], ("--spec", "model.onnx: is an ONNX model, not a TOML spec file", "write a model.toml")),
    Case("spec-toml-syntax", _spec('name = "m"\n[source\nkind = "onnx"\n'), ("--spec", "model.toml: is not valid TOML", "(at line 2, column 8)", "fix the syntax")),
    Case(
        "spec-unknown-key",
        _spec('name = "m"\n' + ONNX_SOURCE + "[triton]\nmax_batch = 8\n"),
        ("model.toml: triton.max_batch is not a key of the [triton] table", "(did you mean 'max_batch_size'?)"),
    ),
    Case(
        "spec-key-in-wrong-table",
        _spec('name = "m"\nmax_batch_size = 8\n' + ONNX_SOURCE),
        ("model.toml: max_batch_size is not a key of a model spec", "belongs in the [triton] table; move it there"),
    ),
    Case(
        "spec-string-for-integer",
        _spec('name = "m"\n' + ONNX_SOURCE + '[triton]\nmax_batch_size = "8"\n'),
        ('triton.max_batch_size must be an integer (got string "8")', "write max_batch_size = 8 without quotes"),
    ),
    Case(
        "spec-float-for-integer",
        _spec('name = "m"\n' + ONNX_SOURCE + "[triton]\nmax_batch_size = 8.0\n"),
        ("triton.max_batch_size must be an integer (got float 8.0)", "write max_batch_size = 8"),
    ),
    Case(
        "spec-integer-for-array",
        _spec('name = "m"\n' + ONNX_SOURCE + "[triton.dynamic_batching]\npreferred_batch_sizes = 4\n"),
        ("triton.dynamic_batching.preferred_batch_sizes must be an array of integers (got integer 4)", "write preferred_batch_sizes = [4]"),
    ),
    Case(
        "spec-value-out-of-range",
        _spec('name = "m"\n' + ONNX_SOURCE + "[triton.dynamic_batching]\nmax_queue_delay_microseconds = -5\n"),
        ("model.toml: triton.dynamic_batching.max_queue_delay_microseconds must be >= 0 (got -5)", "use 0 for no delay"),
    ),
    Case("spec-missing-name", _spec(ONNX_SOURCE), ("model.toml: name is missing", 'add name = "my_model"')),
    Case(
        "spec-unknown-source-kind",
        _spec('name = "m"\n[source]\nkind = "onx"\npath = "model.onnx"\n'),
        ("source.kind must be one of onnx, torchscript, factory, transformers", "(did you mean 'onnx'?)", 'write kind = "onnx"'),
    ),
    Case(
        "spec-missing-source-kind",
        _spec('name = "m"\n[source]\npath = "scripted.pt"\n'),
        ("source.kind is missing", 'add kind = "torchscript" (scripted.pt is a TorchScript archive)'),
    ),
    Case("spec-torchscript-is-state-dict", _spec(_ts("state_dict.pt")), ("source.path", "state_dict.pt' is not a TorchScript archive", "torch.jit.save(torch.jit.script(model), path)", 'kind = "factory"')),
    Case("spec-torchscript-is-whole-module", _spec(_ts("whole_module.pt")), ("source.path", "whole_module.pt' is not a TorchScript archive", "a whole model pickled with torch.save(model)", "torch.jit.save")),
    Case("spec-torchscript-is-checkpoint", _spec(_ts("checkpoint.pth")), ("source.path", "checkpoint.pth' is not a TorchScript archive", "training checkpoint", 'kind = "factory"')),
    Case("spec-torchscript-is-onnx", _spec(_ts("model.onnx")), ("source.path", "model.onnx' is an ONNX model, not TorchScript", 'use [source] kind = "onnx"')),
    Case("spec-torchscript-truncated", _spec(_ts("truncated.pt")), ("source.path", "truncated.pt' is not a TorchScript archive", "truncated or corrupt", "copy or save the file again")),
    Case(
        "spec-torchscript-without-inputs",
        _spec('name = "m"\n[source]\nkind = "torchscript"\npath = "scripted.pt"\n'),
        ("source.inputs is missing", "[[source.inputs]] tables", "one per forward() argument"),
    ),
    Case(
        "spec-torchscript-input-count",
        _spec(_ts("scripted.pt") + '[[source.inputs]]\nname = "mask"\ndtype = "INT64"\ndims = [4]\n'),
        ("source.inputs declares 2 input(s) (x, mask) but forward(input) in", "scripted.pt' takes 1", "one input per forward() argument"),
    ),
    Case(
        "spec-onnx-with-inputs",
        _spec('name = "m"\n' + ONNX_SOURCE + TS_INPUTS),
        ("source.inputs is not a key of a 'onnx' source", "an ONNX model's inputs come from its graph"),
    ),
    Case(
        "spec-dtype-alias",
        _spec('name = "m"\n[source]\nkind = "torchscript"\npath = "scripted.pt"\n[[source.inputs]]\nname = "x"\ndtype = "float32"\ndims = [4]\n'),
        ("source.inputs[0].dtype must be one of", "(got 'float32'); write 'FP32'"),
    ),
    Case(
        "spec-dims-with-zero",
        _spec('name = "m"\n[source]\nkind = "torchscript"\npath = "scripted.pt"\n[[source.inputs]]\nname = "x"\ndtype = "FP32"\ndims = [0, 4]\n'),
        ("source.inputs[0].dims must be positive or -1 for dynamic (got [0, 4])", "after the batch dimension"),
    ),
    Case(
        "spec-factory-file-missing",
        _spec('name = "m"\n[source]\nkind = "factory"\ntarget = "modle_def.py:make"\n'),
        ("source.target '", "modle_def.py:make'", "modle_def.py' does not exist (did you mean 'model_def.py'?)", "relative to the spec file's folder"),
    ),
    Case(
        "spec-factory-module-missing",
        _spec('name = "m"\n[source]\nkind = "factory"\ntarget = "no_such_pkg.models:make"\n'),
        ("module 'no_such_pkg.models' cannot be found on sys.path", "'path/to/file.py:function'"),
    ),
    Case(
        "spec-factory-function-missing",
        _spec('name = "m"\n[source]\nkind = "factory"\ntarget = "model_def.py:make_model"\n'),
        ("has no function 'make_model' (did you mean 'make_model_v2'?)", "(it defines Net, make_model_v2)", "top level"),
    ),
    Case(
        "spec-factory-target-without-function",
        _spec('name = "m"\n[source]\nkind = "factory"\ntarget = "model_def.py"\n'),
        ("source.target must look like 'package.module:function' or 'path/to/file.py:function'", "after a colon"),
    ),
    Case(
        "spec-factory-unknown-kwarg",
        _spec('name = "m"\n[source]\nkind = "factory"\ntarget = "model_def.py:make_model_v2"\nkwargs = { widht = 8 }\n'),
        ("source.kwargs.widht is not a parameter of make_model_v2(width, depth)", "(did you mean 'width'?)"),
    ),
    Case(
        "spec-factory-missing-required-kwarg",
        _spec('name = "m"\n[source]\nkind = "factory"\ntarget = "model_def.py:make_model_v2"\n'),
        ("source.kwargs lacks 'width', a required parameter of make_model_v2(width, depth)", "give the parameter a default"),
    ),
    Case(
        "spec-factory-syntax-error",
        _spec('name = "m"\n[source]\nkind = "factory"\ntarget = "broken_def.py:make"\n'),
        ("broken_def.py has a syntax error at line 2", "fix the file"),
    ),
    Case(
        "spec-factory-data-file-missing",
        _spec('name = "m"\n[source]\nkind = "factory"\ntarget = "model_def.py:make_model_v2"\nkwargs = { width = 4 }\ndata_files = ["weights.pt"]\n'),
        ("source.data_files[0]", "weights.pt' is not an existing file", "fix the path"),
    ),
    Case(
        "spec-per-output-not-a-table",
        _spec('name = "m"\n' + ONNX_SOURCE + "[tolerance]\nper_output = { y = 0.01 }\n"),
        ("tolerance.per_output.y must be a table (got float 0.01)", "[tolerance.per_output.y] with atol = ... and rtol = ..."),
    ),
    Case(
        "spec-per-output-names-no-output",
        _spec('name = "m"\n' + ONNX_SOURCE + "[tolerance.per_output.z]\natol = 1e-3\n"),
        ("model.toml: tolerance.per_output.z names no output of the model (its outputs: y)", "use one of those names"),
    ),
    Case(
        "spec-nan-tolerance",
        _spec('name = "m"\n' + ONNX_SOURCE + "[tolerance]\natol = nan\n"),
        ("model.toml: tolerance.atol must be finite (got nan;", "such as 1e-4"),
    ),
    Case(
        "spec-max-batch-size-beyond-int32",
        _spec('name = "m"\n' + ONNX_SOURCE + "[triton]\nmax_batch_size = 4294967296\n"),
        ("triton.max_batch_size must be <= 2147483647 (Triton stores it as int32; got 4294967296)",),
    ),
    Case(
        "spec-transformers-architecture-typo",
        _spec('name = "m"\n[source]\nkind = "transformers"\narchitecture = "bert-sequence-classifier"\n'),
        ("source.architecture must be one of", "(did you mean 'bert-sequence-classification'?)", "use an onnx, torchscript or factory source"),
    ),
    Case(
        "spec-flag-override-is-named",
        lambda w: [*_spec('name = "m"\n' + ONNX_SOURCE)(w), "--max-batch-size", "0"],
        ("--max-batch-size must be >= 1 (got 0)",),
    ),
    Case(
        "spec-several-problems-at-once",
        _spec('name = "bad name"\n[source]\nkind = "onnx"\npath = "empty.onnx"\n[triton]\ninstance_count = 0\n'),
        ("model.toml: 3 problems:", "name must be 1-63 letters", "triton.instance_count must be >= 1", "empty.onnx' is not an ONNX model"),
    ),
    # -- seed 001: the pytorch backend and the shared Triton model name -----------------------------
    Case(
        "spec-pytorch-backend-with-onnx-source",
        _spec('name = "m"\nbackend = "pytorch"\n' + ONNX_SOURCE),
        ("model.toml: backend 'pytorch' traces a torch module to TorchScript, but the source is an ONNX file", "model.onnx", "use backend 'onnxruntime' for it"),
    ),
    Case(
        "spec-backend-typo-pytorch",
        _spec('name = "m"\nbackend = "pytorh"\n' + ONNX_SOURCE),
        ("backend must be one of onnxruntime, tensorrt, pytorch, neuron (got 'pytorh')", "did you mean 'pytorch'?"),
    ),
    Case(
        "spec-triton-name-with-a-slash",
        _spec('name = "m"\ntriton_name = "models/resnet"\n' + ONNX_SOURCE),
        ("model.toml: triton_name must be 1-63 letters, digits, '_' or '-'", "(got 'models/resnet')", "e.g. 'resnet'"),
    ),
    Case(
        "spec-tensorrt-target-on-a-cpu-type",
        _spec('name = "m"\nbackend = "tensorrt"\n[tensorrt_target]\ninstance_type = "ml.c5.xlarge"\ntriton_version = "26.05"\n' + ONNX_SOURCE),
        ("model.toml: tensorrt_target.instance_type 'ml.c5.xlarge' has no NVIDIA GPU", "pass a GPU type such as 'ml.g4dn.xlarge'"),
    ),
    Case(
        "spec-tensorrt-target-key-typo-and-missing-version",
        _spec('name = "m"\nbackend = "tensorrt"\n[tensorrt_target]\ninstance_type = "ml.g4dn.xlarge"\nhardware_compat = "none"\n' + ONNX_SOURCE),
        ("tensorrt_target.hardware_compat is not a key of the [tensorrt_target] table", "did you mean 'hardware_compatibility'?", "tensorrt_target.triton_version is missing"),
    ),
    # -- backend "neuron": static shapes from [neuron_target], and no Neuron SDK here ----------------
    Case(
        "flag-backend-neuron-needs-a-spec-file",
        _example("--backend", "neuron"),
        ("neuron_target is missing: backend 'neuron' compiles fixed shapes", "([neuron_target] in a spec file)"),
    ),
    Case(
        "spec-neuron-without-target",
        _spec('name = "m"\nbackend = "neuron"\n' + _ts("scripted.pt").removeprefix('name = "m"\n')),
        ("neuron_target is missing: backend 'neuron' compiles fixed shapes", "NeuronTarget(target='inf2', batch_size=1"),
    ),
    Case(
        "spec-neuron-target-typo-key",
        _spec('name = "m"\nbackend = "neuron"\n[neuron_target]\ntarget = "inf2"\nbatch_sise = 4\n' + ONNX_SOURCE),
        ("neuron_target.batch_sise is not a key of the [neuron_target] table", "did you mean 'batch_size'?"),
    ),
    Case(
        "spec-neuron-target-unknown-generation",
        _spec('name = "m"\nbackend = "neuron"\n[neuron_target]\ntarget = "inf3"\n' + _ts("scripted.pt").removeprefix('name = "m"\n')),
        ("neuron_target.target must be one of inf1, inf2 (got 'inf3')", "did you mean 'inf2'?", "'inf2' compiles with torch-neuronx"),
    ),
    Case(
        "spec-neuron-target-missing-target-and-bad-batch",
        _spec('name = "m"\nbackend = "neuron"\n[neuron_target]\nbatch_size = "1"\n' + ONNX_SOURCE),
        ("neuron_target.target is missing", "neuron_target.batch_size must be an integer"),
    ),
    Case(
        "spec-neuron-on-onnx-source",
        _spec('name = "m"\nbackend = "neuron"\n[neuron_target]\ntarget = "inf2"\nbatch_size = 0\n' + ONNX_SOURCE),
        (
            "neuron_target.batch_size must be a whole number between 1 and 1048576 (got 0)",
            "the Neuron compilers do not read ONNX",
        ),
    ),
    Case(
        "spec-neuron-target-on-onnxruntime",
        _spec('name = "m"\n[neuron_target]\ntarget = "inf2"\n' + ONNX_SOURCE),
        ("neuron_target only applies to backend 'neuron' (got backend 'onnxruntime')",),
    ),
    Case(
        "spec-neuron-build-without-the-sdk",
        _spec('name = "m"\nbackend = "neuron"\n[neuron_target]\ntarget = "inf2"\n' + _ts("scripted.pt").removeprefix('name = "m"\n'), "neuron.toml"),
        (
            "model 'm' targets inf2 (neuron_target.target), which compiles with torch_neuronx",
            "torch_neuronx is not installed here",
            "(its torch-neuronx there is a placeholder)",
            "python -m pip install --extra-index-url https://pip.repos.neuron.amazonaws.com torch-neuronx neuronx-cc && "
            "python -m model_build build --spec ",
            "neuron.toml",
        ),
    ),
    Case(
        "spec-neuron-inf1-build-without-the-sdk",
        _spec('name = "m"\nbackend = "neuron"\n[neuron_target]\ntarget = "inf1"\n' + _ts("scripted.pt").removeprefix('name = "m"\n')),
        ("compiles with torch_neuron (torch-neuron, compiler neuron-cc)", "torch-neuron neuron-cc && python -m model_build build"),
    ),
    Case(
        "spec-triton-name-not-a-string",
        _spec('name = "m"\ntriton_name = 7\n' + ONNX_SOURCE),
        ("triton_name must be a string (got integer 7)", "write it in quotes: triton_name = \"7\""),
    ),
]


@pytest.fixture
def work(model_file_zoo: dict[str, Path], tmp_path: Path) -> Path:
    """A folder holding the user's files: every zoo file, a factory module, a broken one, and dist/."""
    folder = tmp_path / "work"
    folder.mkdir()
    for path in model_file_zoo.values():
        shutil.copy(path, folder / path.name)
    shutil.copy(model_file_zoo["onnx_external"].with_name("external.onnx.data"), folder / "external.onnx.data")
    (folder / "model_def.py").write_text(
        "raise SystemExit('model_def.py was imported at validation')\n"
        "class Net:\n    pass\n"
        "def make_model_v2(width, depth=2):\n    return Net()\n"
    )
    (folder / "broken_def.py").write_text("WIDTH = 4\ndef make(:\n    return WIDTH\n")
    (folder / "dist" / "bert-tiny.tar.gz").mkdir(parents=True)
    return folder


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else (-1, 0)
        for p in sorted(folder.rglob("*"))
    }


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_bad_input_cli_fails_before_any_work(
    case: Case, work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the user's folder and one bad input (run from that folder, as a user would)
    monkeypatch.chdir(work)
    monkeypatch.delenv("TRITON_IAC_DEBUG", raising=False)
    monkeypatch.delenv("MODEL_BUILD_CACHE_DIR", raising=False)
    for key, value in case.env:
        monkeypatch.setenv(key, value)
    argv = case.argv(work)
    if case.output_dir:
        argv += ["--output-dir", str(work / "out")]
    if not case.env and "--cache-dir" not in argv:
        argv += ["--cache-dir", str(work / "cache")]
    before = _snapshot(work)
    # WHEN the CLI runs
    code = main(argv)
    err = capsys.readouterr().err
    # THEN exit 2, one line naming the flag/key/file and the fix, no traceback
    assert code == 2, err
    assert err.startswith("python -m model_build: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in case.needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    # AND nothing was written: no output, no cache, the user's files untouched, their module not run
    assert _snapshot(work) == before
    assert "was imported at validation" not in err


@pytest.mark.parametrize(
    ("case_id", "argv"),
    [
        ("subprocess-state-dict-as-torchscript", ["build", "--spec", "{work}/model.toml"]),
        ("subprocess-onnx-is-png", ["build", "--onnx", "{work}/picture.onnx", "--name", "m"]),
        ("subprocess-argparse-error", ["build", "--example", "bert-tiny", "--opset", "seventeen"]),
    ],
)
def test_bad_input_cli_subprocess_prints_one_line_without_traceback(work: Path, case_id: str, argv: list[str]) -> None:
    # GIVEN a spec that points TorchScript at a state dict, and two other bad inputs
    (work / "model.toml").write_text(_ts("state_dict.pt"))
    args = [a.replace("{work}", str(work)) for a in argv] + ["--output-dir", str(work / "out")]
    env = {k: v for k, v in os.environ.items() if k != "TRITON_IAC_DEBUG"}
    # WHEN `python -m model_build` runs for real
    run = subprocess.run(
        [sys.executable, "-m", "model_build", *args], capture_output=True, text=True, cwd=REPO_ROOT, env=env
    )
    # THEN it exits 2 with one line on stderr and no traceback, and wrote nothing
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("python -m model_build: error: ")
    assert not (work / "out").exists()


@pytest.mark.parametrize("how", ["env", "flag"])
def test_bad_input_debug_shows_the_traceback(work: Path, how: str) -> None:
    # GIVEN a bad input and the debug switch (environment variable or --debug)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_IAC_DEBUG"}
    args = ["build", "--onnx", str(work / "empty.onnx"), "--name", "m", "--output-dir", str(work / "out")]
    if how == "env":
        env["TRITON_IAC_DEBUG"] = "1"
    else:
        args.append("--debug")
    # WHEN run THEN the traceback is shown, ending in the same message
    run = subprocess.run([sys.executable, "-m", "model_build", *args], capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    assert run.returncode != 0
    assert "Traceback" in run.stderr and "empty.onnx' is not an ONNX model" in run.stderr


API_CASES: list[tuple[str, Callable[[], ModelSpec], tuple[str, ...]]] = [
    (
        "float-max-batch-size",
        lambda: ModelSpec(name="m", source=OnnxFile(Path("m.onnx")), triton=TritonOptions(max_batch_size=8.0)),  # type: ignore[arg-type]
        ("triton.max_batch_size must be an int (got float 8.0); pass 8",),
    ),
    (
        "string-max-batch-size",
        lambda: ModelSpec(name="m", source=OnnxFile(Path("m.onnx")), triton=TritonOptions(max_batch_size="8")),  # type: ignore[arg-type]
        ("triton.max_batch_size must be an int (got str '8'); pass 8 without quotes",),
    ),
    (
        "list-for-tuple",
        lambda: ModelSpec(
            name="m",
            source=OnnxFile(Path("m.onnx")),
            triton=TritonOptions(dynamic_batching=DynamicBatching(preferred_batch_sizes=[4, 8])),  # type: ignore[arg-type]
        ),
        ("triton.dynamic_batching.preferred_batch_sizes must be a tuple of ints (got list [4, 8]); pass a tuple: (4, 8)",),
    ),
    (
        "string-for-source",
        lambda: ModelSpec(name="m", source="model.onnx"),  # type: ignore[arg-type]
        ("source must be a model source (got str 'model.onnx')", "OnnxFile(Path(...))"),
    ),
    (
        "dict-for-triton-options",
        lambda: ModelSpec(name="m", source=OnnxFile(Path("m.onnx")), triton={"max_batch_size": 8}),  # type: ignore[arg-type]
        ("triton must be a TritonOptions (got dict", "pass TritonOptions(max_batch_size=8)"),
    ),
    (
        "float-for-tolerance",
        lambda: ModelSpec(name="m", source=OnnxFile(Path("m.onnx")), tolerance=0.01),  # type: ignore[arg-type]
        ("tolerance must be a Tolerance (got float 0.01)", "Tolerance(atol=1e-4, rtol=1e-3)"),
    ),
    (
        "list-dims-in-tensor-spec",
        lambda: ModelSpec(
            name="m",
            source=TorchScriptFile(Path("m.pt"), inputs=(TensorSpec("x", "FP32", [4]),)),  # type: ignore[arg-type]
        ),
        ("source.inputs[0].dims must be a tuple of ints (got list [4]); pass a tuple: (4,)",),
    ),
    (
        "one-tensor-spec-not-a-tuple",
        lambda: ModelSpec(name="m", source=TorchScriptFile(Path("m.pt"), inputs=TensorSpec("x", "FP32", (4,)))),  # type: ignore[arg-type]
        ("source.inputs must be a tuple of TensorSpec (got TensorSpec", "pass a tuple"),
    ),
    (
        "list-kwargs-for-factory",
        lambda: ModelSpec(name="m", source=Factory("m.py:make", kwargs=[("width", 4)])),  # type: ignore[arg-type]
        ("source.kwargs must be a dict of keyword arguments (got list", "{'width': 16}"),
    ),
    (
        "string-sequence-length",
        lambda: ModelSpec(name="m", source=TransformersConfig(architecture="bert-sequence-classification", sequence_length="128")),  # type: ignore[arg-type]
        ("source.sequence_length must be an int (got str '128'); pass 128 without quotes",),
    ),
    (
        "bool-opset",
        lambda: ModelSpec(name="m", source=OnnxFile(Path("m.onnx")), opset=True),  # type: ignore[arg-type]
        ("opset must be an int (got bool True)",),
    ),
    (
        "int-triton-name",
        lambda: ModelSpec(name="m", source=OnnxFile(Path("m.onnx")), triton_name=5),  # type: ignore[arg-type]
        ("triton_name must be a str (got int 5); pass a string",),
    ),
]


@pytest.mark.parametrize(("case_id", "make", "needles"), API_CASES, ids=[c[0] for c in API_CASES])
def test_bad_input_python_api_types_are_named(
    case_id: str, make: Callable[[], ModelSpec], needles: tuple[str, ...]
) -> None:
    # GIVEN a spec built in Python with a wrong type WHEN validated THEN one error names the field and the fix
    with pytest.raises(ModelSpecError) as error:
        make().validate()
    for needle in needles:
        assert needle in str(error.value)


def test_bad_input_build_api_refuses_a_cache_dir_that_is_a_file(model_file_zoo: dict[str, Path], tmp_path: Path) -> None:
    # GIVEN a valid spec and a file where the cache folder should be
    from model_build.pipeline import build
    from model_build.user_errors import UserError

    blocker = tmp_path / "cache"
    blocker.write_text("")
    spec = ModelSpec(name="m", source=OnnxFile(model_file_zoo["onnx"]), triton=TritonOptions(instance_kind="KIND_CPU"))
    # WHEN built THEN the error names cache_dir and nothing else was written
    with pytest.raises(UserError, match=r"cache_dir '.*cache' is a file, not a folder"):
        build(spec, cache_dir=blocker)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_bad_input_spec_types_leave_no_crash_for_the_tolerance_dict() -> None:
    spec = ModelSpec(name="m", source=OnnxFile(Path("m.onnx")), tolerance=Tolerance(per_output={"y": [1e-3, 1e-3]}))  # type: ignore[dict-item]
    with pytest.raises(ModelSpecError, match=r"tolerance.per_output.y must be an \(atol, rtol\) tuple of numbers"):
        spec.validate()


# --- the TensorRT target (ModelSpec.tensorrt_target) ---------------------------------------------

TENSORRT_TARGET_CASES = [
    (
        "cpu-instance",
        {"target": {"instance_type": "ml.m5.large", "triton_version": "24.09"}},
        ("tensorrt_target.instance_type 'ml.m5.large' has no NVIDIA GPU (CPU only)", "'ml.g4dn.xlarge'"),
    ),
    (
        "inferentia-instance",
        {"target": {"instance_type": "ml.inf2.xlarge", "triton_version": "24.09"}},
        ("tensorrt_target.instance_type 'ml.inf2.xlarge' has no NVIDIA GPU (1 x AWS Inferentia2)",),
    ),
    (
        "instance-typo",
        {"target": {"instance_type": "ml.g4dn.xlarg", "triton_version": "24.09"}},
        ("'ml.g4dn.xlarg' is not an instance type SageMaker hosting accepts (did you mean 'ml.g4dn.xlarge'?)",),
    ),
    (
        "instance-without-ml-prefix",
        {"target": {"instance_type": "g4dn.xlarge", "triton_version": "24.09"}},
        ("tensorrt_target.instance_type must be a SageMaker instance type like 'ml.g4dn.xlarge' (got 'g4dn.xlarge')",),
    ),
    (
        "triton-version-typo",
        {"target": {"instance_type": "ml.g4dn.xlarge", "triton_version": "24.9"}},
        ("tensorrt_target.triton_version must be a Triton release 'yy.mm' such as '24.09' (got '24.9') (did you mean '24.09'?)",),
    ),
    (
        "triton-version-unknown",
        {"target": {"instance_type": "ml.g4dn.xlarge", "triton_version": "27.01"}},
        ("the TensorRT version of Triton image '27.01' is unknown to this project", "TRITON_IAC_TENSORRT_VERSIONS='27.01=<x.y.z>'"),
    ),
    (
        "hardware-compatibility-typo",
        {"target": {"instance_type": "ml.g5.xlarge", "triton_version": "24.09", "hardware_compatibility": "ampere"}},
        ("tensorrt_target.hardware_compatibility must be one of none, ampere+ (got 'ampere') (did you mean 'ampere+'?)",),
    ),
    (
        "ampere-plus-on-turing",
        {"target": {"instance_type": "ml.g4dn.xlarge", "triton_version": "24.09", "hardware_compatibility": "ampere+"}},
        ("'ampere+' needs a target GPU of compute capability >= 8.0, but ml.g4dn.xlarge has compute capability 7.5; use 'none'",),
    ),
    (
        "target-on-onnxruntime",
        {"backend": "onnxruntime", "target": {"instance_type": "ml.g4dn.xlarge", "triton_version": "24.09"}},
        ("tensorrt_target only applies to backend 'tensorrt' (got backend 'onnxruntime')",),
    ),
    (
        "dict-for-target",
        {"raw_target": {"instance_type": "ml.g4dn.xlarge", "triton_version": "24.09"}},
        ("tensorrt_target must be a EngineTarget (got dict", "EngineTarget(instance_type='ml.g4dn.xlarge', triton_version='24.09')"),
    ),
    (
        "int-triton-version",
        {"target": {"instance_type": "ml.g4dn.xlarge", "triton_version": 24.09}},
        ("tensorrt_target.triton_version must be a str (got float 24.09); pass a string",),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("case_id", "given", "needles"), TENSORRT_TARGET_CASES, ids=[c[0] for c in TENSORRT_TARGET_CASES])
def test_bad_input_tensorrt_target_is_named(case_id: str, given: dict, needles: tuple[str, ...], tmp_path: Path) -> None:
    from model_build.engine_target import EngineTarget

    # GIVEN a tensorrt spec whose target cannot be served WHEN validated
    target = given.get("raw_target") or EngineTarget(**given["target"])
    spec = ModelSpec(
        name="m", source=OnnxFile(tmp_path / "m.onnx"), backend=given.get("backend", "tensorrt"), tensorrt_target=target
    )
    # THEN one error names tensorrt_target's field, what was given, what is allowed and the fix
    with pytest.raises(ModelSpecError) as error:
        spec.validate()
    for needle in needles:
        assert needle in str(error.value)


def test_bad_input_tensorrt_build_without_any_way_fails_before_any_work(
    relu_onnx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import model_build.export
    from model_build.engine_target import EngineTarget
    from model_build.pipeline import build
    from model_build.tensorrt import TensorRTUnavailableError, tensorrt_available

    if tensorrt_available():
        pytest.skip("TensorRT is installed here; the nowhere-to-build path cannot happen")
    exports: list[object] = []
    monkeypatch.setattr(model_build.export, "export_onnx", lambda *a, **k: exports.append(a))
    # GIVEN an engine for a g4dn on this machine (no TensorRT, no GPU: probed for real)
    spec = ModelSpec(
        name="relu", source=OnnxFile(relu_onnx(tmp_path / "relu.onnx")), triton=TritonOptions(max_batch_size=4),
        backend="tensorrt", tensorrt_target=EngineTarget(instance_type="ml.g4dn.xlarge", triton_version="24.09"),
    )  # fmt: skip
    # WHEN built THEN one error names what is missing, the target and the exact docker command, before any export
    with pytest.raises(TensorRTUnavailableError) as error:
        build(spec, cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert "the tensorrt Python module does not import" in message and "no NVIDIA GPU is visible" in message
    assert "The target is ml.g4dn.xlarge (NVIDIA T4, compute capability 7.5" in message
    assert (
        'docker run --rm --gpus all -v "$(pwd)":/work/in:ro -v "$(pwd)":/work/out nvcr.io/nvidia/tensorrt:24.09-py3 '
        "trtexec --onnx=/work/in/model.onnx --saveEngine=/work/out/model.plan --minShapes=x:1x4 --optShapes=x:4x4 "
        "--maxShapes=x:4x4 --memPoolSize=workspace:1024M --fp16"
    ) in message
    assert exports == []
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []


# -- python -m model_build.engine_job build: every flag checked before anything is uploaded ----------

ENGINE_JOB_OK = {
    "--example": "resnet-tiny-trt",
    "--instance-type": "ml.g4dn.xlarge",
    "--triton-version": "24.09",
    "--image-uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tensorrt:24.09-py3",
    "--role-arn": "arn:aws:iam::123456789012:role/engine-job",
    "--bucket": "engine-staging",
}

ENGINE_JOB_CASES: list[tuple[str, dict[str, str], tuple[str, ...]]] = [
    ("not-a-trt-example", {"--example": "bert-tiny"}, ("--example: got 'bert-tiny'; must be a backend='tensorrt' example",)),
    ("instance-type-typo", {"--instance-type": "ml.g4dn.xlarg"}, ("--instance-type 'ml.g4dn.xlarg' is not an instance type", "did you mean 'ml.g4dn.xlarge'")),
    ("cpu-instance", {"--instance-type": "ml.m5.xlarge"}, ("--instance-type 'ml.m5.xlarge' has no NVIDIA GPU",)),
    ("no-processing-type-with-that-gpu", {"--instance-type": "ml.p4d.24xlarge"}, ("SageMaker Processing offers no instance type with NVIDIA A100 40GB", "'ampere+'")),
    ("triton-version-unknown", {"--triton-version": "22.01"}, ("--triton-version: the TensorRT version of Triton image '22.01' is unknown",)),
    ("image-not-ecr", {"--image-uri": "nvcr.io/nvidia/tensorrt:24.09-py3"}, ("--image-uri: got 'nvcr.io/nvidia/tensorrt:24.09-py3'; must be an ECR image URI", "mirror nvcr.io/nvidia/tensorrt:24.09-py3 into ECR")),
    ("image-other-release", {"--image-uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tensorrt:25.04-py3"}, ("its tag is release 25.04, but the endpoint serves Triton 24.09",)),
    ("role-not-an-arn", {"--role-arn": "engine-job"}, ("--role-arn: got 'engine-job'; must be an IAM role ARN",)),
    ("bucket-upper-case", {"--bucket": "Engine_Staging"}, ("--bucket: got 'Engine_Staging'; must be an S3 bucket name",)),
    ("prefix-without-slash", {"--prefix": "jobs"}, ("--prefix: got 'jobs'; must be empty or folders ending in '/'",)),
    ("timeout-too-short", {"--timeout": "10"}, ("--timeout: got '10'; must be a whole number >= 60 and <= 432000",)),
    ("poll-zero", {"--poll": "0"}, ("--poll: got '0'; must be a number > 0 and <= 600",)),
    ("processing-type-unknown", {"--processing-instance-type": "ml.g4dn.huge"}, ("--processing-instance-type: got 'ml.g4dn.huge'; must be a SageMaker Processing instance type",)),
]  # fmt: skip


@pytest.mark.parametrize(("case_id", "changes", "needles"), ENGINE_JOB_CASES, ids=[c[0] for c in ENGINE_JOB_CASES])
def test_bad_input_engine_job_fails_before_anything_is_uploaded(
    case_id: str, changes: dict[str, str], needles: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from model_build.engine_job import main as engine_job_main

    # GIVEN one bad flag (no AWS endpoint is reachable: a call would fail differently)
    flags = {**ENGINE_JOB_OK, **changes, "--cache-dir": str(tmp_path / "cache")}
    argv = ["build", *[part for flag, value in flags.items() for part in (flag, value)]]
    # WHEN the launcher runs THEN exit 2, one message naming the flag and the fix, no traceback, nothing written
    assert engine_job_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m model_build.engine_job: error: ") and "Traceback" not in err
    assert all(n in err for n in needles), err
    assert not (tmp_path / "cache").exists()
