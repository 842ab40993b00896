"""model_build.spec_file: TOML model specs, resolve_model, and the bring-your-own examples built for real."""

from __future__ import annotations

import json
import shutil
import tarfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from model_build.cli import main
from model_build.sources import (
    Factory,
    OnnxFile,
    SourceLoadError,
    TensorSpec,
    TorchScriptFile,
    TransformersConfig,
)
from model_build.spec import DynamicBatching, ModelSpec, OrtTensorRT, Tolerance, TritonOptions
from model_build.spec_file import SpecFileError, load_spec_file, resolve_model, resolve_models
from model_build.triton_config import parse_config

REPO_ROOT = Path(__file__).resolve().parents[1]
BRING_YOUR_OWN = REPO_ROOT / "examples" / "bring-your-own"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_spec_file_reads_every_key_into_the_same_model_spec(model_file_zoo: dict[str, Path], tmp_path: Path) -> None:
    # GIVEN a spec file that sets every key, next to its TorchScript file
    shutil.copy(model_file_zoo["torchscript"], tmp_path / "net.pt")
    spec_path = _write(
        tmp_path / "model.toml",
        """
        name = "net"
        backend = "onnxruntime"
        opset = 18
        tensorrt_precision = "FP32"

        [source]
        kind = "torchscript"
        path = "net.pt"
        output_names = ["scores"]

        [[source.inputs]]
        name = "x"
        dtype = "FP32"
        dims = [4]
        value_range = [0, 1]

        [triton]
        max_batch_size = 16
        instance_count = 2
        instance_kind = "KIND_CPU"
        warmup_batch_sizes = [1, 16]

        [triton.dynamic_batching]
        preferred_batch_sizes = [8, 16]
        max_queue_delay_microseconds = 100

        [triton.ort_tensorrt]
        precision_mode = "FP32"
        max_workspace_size_bytes = 1024

        [tolerance]
        atol = 1e-5
        rtol = 0

        [tolerance.per_output.scores]
        atol = 1e-3
        """,
    )
    # WHEN it is loaded
    spec = load_spec_file(spec_path)
    # THEN it equals the spec written in Python, the path resolved next to the file
    assert spec == ModelSpec(
        name="net",
        source=TorchScriptFile(
            tmp_path / "net.pt", inputs=(TensorSpec("x", "FP32", (4,), (0.0, 1.0)),), output_names=("scores",)
        ),
        triton=TritonOptions(
            max_batch_size=16,
            instance_count=2,
            instance_kind="KIND_CPU",
            warmup_batch_sizes=(1, 16),
            dynamic_batching=DynamicBatching(preferred_batch_sizes=(8, 16), max_queue_delay_microseconds=100),
            ort_tensorrt=OrtTensorRT(precision_mode="FP32", max_workspace_size_bytes=1024),
        ),
        opset=18,
        tolerance=Tolerance(atol=1e-5, rtol=0.0, per_output={"scores": (1e-3, 0.0)}),
        backend="onnxruntime",
        tensorrt_precision="FP32",
    )


def test_spec_file_paths_are_relative_to_the_files_folder(
    model_file_zoo: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a spec in models/ naming its ONNX file by a relative path, read from another directory
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(model_file_zoo["onnx"], models / "add.onnx")
    _write(models / "add.toml", 'name = "add"\n[source]\nkind = "onnx"\npath = "add.onnx"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # WHEN resolved by its path from there
    spec = resolve_model("../models/add.toml")
    # THEN the source points at the file beside the spec, and the hash ignores where it lives
    assert isinstance(spec.source, OnnxFile)
    assert Path(spec.source.path).resolve() == (models / "add.onnx").resolve()
    moved = tmp_path / "moved"
    shutil.copytree(models, moved)
    assert load_spec_file(moved / "add.toml").inputs_hash() == spec.inputs_hash()


def test_spec_file_collects_every_problem_under_its_path(tmp_path: Path) -> None:
    # GIVEN a spec file with four problems of different kinds
    spec_path = _write(
        tmp_path / "model.toml",
        """
        name = "m"
        [source]
        kind = "onnx"
        path = "missing.onnx"
        [triton]
        max_batch_size = "8"
        instance_cont = 2
        [triton.dynamic_batching]
        max_queue_delay_microseconds = 1.5
        """,
    )
    # WHEN loaded
    with pytest.raises(SpecFileError) as error:
        load_spec_file(spec_path)
    message = str(error.value)
    # THEN one message starts with the file's path and names each dotted key, the value and the fix
    assert message.startswith(f"{spec_path}: 3 problems: ")
    assert 'triton.max_batch_size must be an integer (got string "8"); write max_batch_size = 8 without quotes' in message
    assert "triton.instance_cont is not a key of the [triton] table" in message
    assert "(did you mean 'instance_count'?)" in message
    assert (
        "triton.dynamic_batching.max_queue_delay_microseconds must be an integer (got float 1.5); "
        "write a whole number" in message
    )


def test_spec_file_validation_problems_follow_structure(tmp_path: Path) -> None:
    # GIVEN a well-formed file whose values are out of range and whose model file is missing
    spec_path = _write(
        tmp_path / "model.toml",
        """
        name = "m"
        [source]
        kind = "onnx"
        path = "modle.onnx"
        [triton]
        max_batch_size = 4
        [triton.dynamic_batching]
        preferred_batch_sizes = [8]
        """,
    )
    (tmp_path / "model.onnx").write_bytes(b"")
    # WHEN loaded THEN the range problem and the file problem (with a near match) are both reported
    with pytest.raises(SpecFileError) as error:
        load_spec_file(spec_path)
    message = str(error.value)
    assert "triton.dynamic_batching.preferred_batch_sizes must each be <= max_batch_size (got 8 > 4)" in message
    assert f"source.path {str(tmp_path / 'modle.onnx')!r} does not exist (did you mean 'model.onnx'?)" in message


def test_spec_file_syntax_error_keeps_line_and_column(tmp_path: Path) -> None:
    spec_path = _write(tmp_path / "model.toml", 'name = "m"\n[source\nkind = "onnx"\n')
    with pytest.raises(SpecFileError, match=r"model\.toml: is not valid TOML: .*\(at line 2, column 8\)"):
        load_spec_file(spec_path)


def test_spec_file_saved_with_a_byte_order_mark_reads_like_any_other(
    model_file_zoo: dict[str, Path], tmp_path: Path
) -> None:
    # GIVEN a spec file saved by a Windows editor: UTF-8 with a byte-order mark
    shutil.copy(model_file_zoo["onnx"], tmp_path / "add.onnx")
    plain = _write(tmp_path / "plain.toml", 'name = "add"\n[source]\nkind = "onnx"\npath = "add.onnx"\n')
    marked = tmp_path / "marked.toml"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    # WHEN loaded THEN it gives the same spec as the file without the mark
    assert load_spec_file(marked) == load_spec_file(plain)


def test_spec_file_says_where_a_misplaced_key_belongs(tmp_path: Path) -> None:
    # GIVEN name written after the [source] header (so TOML puts it in source) and a top-level batch size
    spec_path = _write(
        tmp_path / "model.toml",
        'max_batch_size = 8\n[source]\nkind = "onnx"\npath = "m.onnx"\nname = "m"\n',
    )
    with pytest.raises(SpecFileError) as error:
        load_spec_file(spec_path)
    message = str(error.value)
    # THEN each is named with the table it belongs in
    assert "max_batch_size is not a key of a model spec: max_batch_size belongs in the [triton] table" in message
    assert "source.name is not a key of a 'onnx' source: name belongs at the top of the file" in message
    assert "name is missing" in message


def test_resolve_model_accepts_example_names_and_spec_files(model_file_zoo: dict[str, Path], tmp_path: Path) -> None:
    # GIVEN an example name, a spec file and a folder holding one spec file
    shutil.copy(model_file_zoo["onnx"], tmp_path / "add.onnx")
    _write(tmp_path / "add.toml", 'name = "add"\n[source]\nkind = "onnx"\npath = "add.onnx"\n')
    # WHEN resolved THEN each gives its model
    assert resolve_model("bert-tiny").name == "bert-tiny"
    assert resolve_model(str(tmp_path / "add.toml")).name == "add"
    assert resolve_model(str(tmp_path)).name == "add"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("bert-tinny", "'bert-tinny' is not a built-in example (did you mean 'bert-tiny'?) (examples: bert-tiny, "),
        ("models/nope.toml", "models/nope.toml: no such spec file ("),
        ("", "a model must be an example name (bert-tiny, "),
    ],
)
def test_resolve_model_refuses_unknown_references(reference: str, expected: str) -> None:
    # WHEN a reference is neither an example nor an existing file THEN the message lists the examples
    with pytest.raises(SpecFileError) as error:
        resolve_model(reference)
    assert expected in str(error.value) and "resnet50" in str(error.value)


def test_resolve_model_refuses_a_model_file_given_as_spec(model_file_zoo: dict[str, Path]) -> None:
    with pytest.raises(SpecFileError, match=r"is an ONNX model, not a model spec file; write a \.toml spec"):
        resolve_model(str(model_file_zoo["onnx"]))


def test_resolve_models_takes_a_comma_separated_list_and_refuses_duplicate_names(
    model_file_zoo: dict[str, Path], tmp_path: Path
) -> None:
    # GIVEN two spec files, one naming its model like an example
    shutil.copy(model_file_zoo["onnx"], tmp_path / "add.onnx")
    a = _write(tmp_path / "a.toml", 'name = "add"\n[source]\nkind = "onnx"\npath = "add.onnx"\n')
    b = _write(tmp_path / "b.toml", 'name = "bert-tiny"\n[source]\nkind = "onnx"\npath = "add.onnx"\n')
    # WHEN resolved together THEN both come back in order
    assert [s.name for s in resolve_models(f"{a}, bert-base")] == ["add", "bert-base"]
    # AND two models with one name are refused, naming both references
    with pytest.raises(SpecFileError, match=r"both name their model 'bert-tiny'; give each a distinct name"):
        resolve_models(f"{b},bert-tiny")
    with pytest.raises(SpecFileError, match=r"remove the empty entry"):
        resolve_models(f"{a},,bert-tiny")


def test_spec_file_loading_imports_neither_torch_nor_the_factory(
    tmp_path: Path, modules_imported_by: Callable[..., list[str]]
) -> None:
    # GIVEN a factory spec whose module would fail the run if it were imported
    _write(tmp_path / "net.py", 'raise SystemExit("net.py was imported")\ndef make(width=4):\n    return None\n')
    _write(tmp_path / "model.toml", 'name = "f"\n[source]\nkind = "factory"\ntarget = "net.py:make"\n')
    code = (
        "from model_build.spec_file import resolve_model\n"
        f"spec = resolve_model({str(tmp_path / 'model.toml')!r})\n"
        "spec.inputs_hash()\n"
    )
    # WHEN a fresh interpreter resolves and hashes it THEN neither torch nor the module was imported
    assert modules_imported_by(code, also=["net"]) == []


def test_factory_hash_follows_its_local_imports_and_data_files(tmp_path: Path) -> None:
    # GIVEN a factory file that imports a sibling module and reads a weights file
    _write(tmp_path / "layers.py", "WIDTH = 4\n")
    _write(tmp_path / "net.py", "from layers import WIDTH\ndef make():\n    return WIDTH\n")
    (tmp_path / "weights.bin").write_bytes(b"v1")
    spec = ModelSpec(
        name="f", source=Factory(f"{tmp_path}/net.py:make", data_files=(tmp_path / "weights.bin",))
    )
    before = spec.inputs_hash()
    # WHEN the imported sibling changes THEN the hash changes
    (tmp_path / "layers.py").write_text("WIDTH = 8\n")
    after_layers = spec.inputs_hash()
    assert after_layers != before
    # AND when the data file changes
    (tmp_path / "weights.bin").write_bytes(b"v2")
    assert spec.inputs_hash() != after_layers
    # AND an unrelated file in the folder does not count
    stable = spec.inputs_hash()
    (tmp_path / "notes.py").write_text("x = 1\n")
    assert spec.inputs_hash() == stable


def test_factory_returning_a_bare_module_needs_declared_inputs(tmp_path: Path) -> None:
    # GIVEN a factory that returns a torch.nn.Module, and a spec that declares no inputs
    _write(tmp_path / "net.py", "import torch\ndef make():\n    return torch.nn.Linear(4, 2)\n")
    bare = Factory(f"{tmp_path}/net.py:make")
    # WHEN loaded THEN the error says to declare the inputs
    with pytest.raises(SourceLoadError, match=r"returns a torch.nn.Module \(Linear\) and the spec declares no source.inputs"):
        bare.load()
    # AND with declared inputs it loads, named as declared
    loaded = Factory(
        f"{tmp_path}/net.py:make", inputs=(TensorSpec("x", "FP32", (4,)),), output_names=("y",)
    ).load()
    assert loaded.output_names == ("y",) and not loaded.module.training


def test_factory_errors_at_build_time_name_the_target(tmp_path: Path) -> None:
    _write(tmp_path / "net.py", "def make():\n    raise RuntimeError('weights missing')\n")
    with pytest.raises(SourceLoadError, match=r"net.py:make' raised RuntimeError: weights missing; fix the function"):
        Factory(f"{tmp_path}/net.py:make").load()


def test_transformers_config_refused_by_transformers_names_the_config_at_build_time() -> None:
    # GIVEN a config value only transformers can judge (validation does not import it)
    source = TransformersConfig(architecture="bert-sequence-classification", config={"hidden_size": "big"})
    # WHEN loaded THEN one SourceLoadError names source.config, transformers' reason and the fix
    with pytest.raises(SourceLoadError, match=r"^source.config: transformers cannot build 'bert-sequence-classification' from it \(") as error:
        source.load()
    assert "hidden_size" in str(error.value) and "keyword arguments of BertConfig" in str(error.value)
    assert "\n" not in str(error.value)


def test_cli_flags_override_the_spec_files_values(model_file_zoo: dict[str, Path], tmp_path: Path) -> None:
    # GIVEN an ONNX spec file with max_batch_size 4
    shutil.copy(model_file_zoo["onnx"], tmp_path / "add.onnx")
    spec_path = _write(
        tmp_path / "add.toml", 'name = "add"\n[source]\nkind = "onnx"\npath = "add.onnx"\n[triton]\nmax_batch_size = 4\n'
    )
    # WHEN built with --max-batch-size 16 and --name
    argv = ["build", "--spec", str(spec_path), "--max-batch-size", "16", "--name", "add2", "--instance-kind", "KIND_CPU"]
    code = main([*argv, "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c"), "--no-progress"])
    # THEN the flags win
    assert code == 0
    with tarfile.open(tmp_path / "out" / "add2.tar.gz") as tar:
        member = tar.extractfile("add2/config.pbtxt")
        assert member is not None
        config = parse_config(member.read().decode())
    assert config.max_batch_size == 16 and config.name == "add2"


def test_cli_check_validates_without_building(
    model_file_zoo: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a valid ONNX spec
    shutil.copy(model_file_zoo["onnx"], tmp_path / "add.onnx")
    spec_path = _write(tmp_path / "add.toml", 'name = "add"\n[source]\nkind = "onnx"\npath = "add.onnx"\n')
    # WHEN checked
    code = main(["check", "--spec", str(spec_path), "--cache-dir", str(tmp_path / "c")])
    out = capsys.readouterr().out
    # THEN it reports the graph signature and the hash, and builds nothing
    assert code == 0
    assert "input        x [batch, 4] FP32" in out and "inputs hash" in out and "ok: valid, nothing was built" in out
    assert not (tmp_path / "c").exists()


def test_cli_output_is_both_files_or_neither(
    model_file_zoo: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an output folder holding a previous build, and a disk that fails while placing the manifest
    import os

    from model_build import cli

    out = tmp_path / "out"
    out.mkdir()
    (out / "add.tar.gz").write_bytes(b"old archive")
    (out / "add.manifest.json").write_text("{}")
    real_replace = os.replace

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == out / "add.manifest.json" and Path(src).name == "add.manifest.json":  # the new one
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(cli.os, "replace", failing_replace)
    argv = ["build", "--onnx", str(model_file_zoo["onnx"]), "--name", "add", "--instance-kind", "KIND_CPU"]
    # WHEN the build publishes
    code = main([*argv, "--output-dir", str(out), "--cache-dir", str(tmp_path / "c"), "--no-progress"])
    # THEN it fails as a build failure and the previous pair is back, untouched, with nothing else
    assert code == 1
    assert (out / "add.tar.gz").read_bytes() == b"old archive" and (out / "add.manifest.json").read_text() == "{}"
    assert sorted(p.name for p in out.iterdir()) == ["add.manifest.json", "add.tar.gz"]


@pytest.fixture(scope="module")
def bring_your_own(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/bring-your-own with its model files written by its own script."""
    import importlib.util

    folder = tmp_path_factory.mktemp("bring-your-own")
    for item in BRING_YOUR_OWN.iterdir():
        if item.suffix in {".toml", ".py"}:
            shutil.copy(item, folder / item.name)
    module_spec = importlib.util.spec_from_file_location("make_model_files", folder / "make_model_files.py")
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    module.write_model_files(folder)
    return folder


def test_bring_your_own_examples_build_through_the_cli_and_agree(bring_your_own: Path, tmp_path: Path) -> None:
    # GIVEN the TorchScript, ONNX and factory spec files of one seeded classifier
    import numpy as np
    import onnxruntime as ort

    outputs = {}
    for kind in ("torchscript", "onnx", "factory"):
        # WHEN each is built with the CLI
        argv = ["build", "--spec", str(bring_your_own / f"{kind}.toml"), "--no-progress"]
        assert main([*argv, "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c")]) == 0
        name = f"classifier-{kind}"
        manifest = json.loads((tmp_path / "out" / f"{name}.manifest.json").read_text())
        # THEN the archive serves features FP32 [16] -> logits [3], verified against torch where there is one
        assert [(i["name"], i["dims"]) for i in manifest["inputs"]] == [("features", [16])]
        assert [(o["name"], o["dims"]) for o in manifest["outputs"]] == [("logits", [3])]
        assert manifest["verification"]["passed"]
        assert manifest["verification"]["reference"] == ("none" if kind == "onnx" else "torch")
        with tarfile.open(tmp_path / "out" / f"{name}.tar.gz") as tar:
            member = tar.extractfile(f"{name}/1/model.onnx")
            assert member is not None
            session = ort.InferenceSession(member.read(), providers=["CPUExecutionProvider"])
        features = np.random.default_rng(0).standard_normal((5, 16)).astype(np.float32)
        outputs[kind] = session.run(None, {"features": features})[0]
    # AND the three give the same logits: one model, brought three ways
    np.testing.assert_allclose(outputs["torchscript"], outputs["onnx"], atol=1e-5)
    np.testing.assert_allclose(outputs["factory"], outputs["onnx"], atol=1e-5)


def test_cli_verification_failure_exits_1_with_one_line_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a model whose export is wrong on every machine: a Python branch on the batch size,
    # which the ONNX trace (at batch 2) bakes in, while verification runs batch sizes 1 and 3
    _write(
        tmp_path / "branchy.py",
        """
        import torch

        class Branchy(torch.nn.Module):
            def forward(self, features):
                return features * 2 if features.shape[0] == 2 else features
        """,
    )
    strict = _write(
        tmp_path / "strict.toml",
        """
        name = "branchy"
        [source]
        kind = "factory"
        target = "branchy.py:Branchy"
        output_names = ["logits"]
        [[source.inputs]]
        name = "features"
        dtype = "FP32"
        dims = [16]
        """,
    )
    # WHEN built
    argv = ["build", "--spec", str(strict), "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c")]
    code = main([*argv, "--no-progress"])
    err = capsys.readouterr().err
    # THEN a build failure (1), one line naming the model, the output and the fix; nothing published
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "branchy: VerificationError:" in err and "output 'logits' differs from torch at batch size 1" in err
    assert "raise the spec's tolerance" in err
    assert not (tmp_path / "out").exists()
    assert not [p for p in (tmp_path / "c").iterdir() if not p.name.endswith(".lock")]


def test_spec_file_tensorrt_target_table_pins_the_engine_like_the_python_option(
    model_file_zoo: dict[str, Path], tmp_path: Path
) -> None:
    from model_build.engine_target import EngineTarget
    from model_build.sources import OnnxFile
    from model_build.spec import ModelSpec

    # GIVEN a spec file for a TensorRT engine served on ml.g4dn.xlarge by the 26.05 Triton image
    shutil.copy(model_file_zoo["onnx"], tmp_path / "model.onnx")
    path = _write(
        tmp_path / "model.toml",
        """
        name = "m"
        backend = "tensorrt"
        [tensorrt_target]
        instance_type = "ml.g4dn.xlarge"
        triton_version = "26.05"
        hardware_compatibility = "none"
        [source]
        kind = "onnx"
        path = "model.onnx"
        """,
    )
    # WHEN it is loaded
    spec = load_spec_file(path)
    # THEN the target is the same EngineTarget the Python API takes, and it is in the inputs hash
    target = EngineTarget(instance_type="ml.g4dn.xlarge", triton_version="26.05")
    assert spec.tensorrt_target == target
    same = ModelSpec(name="m", source=OnnxFile(tmp_path / "model.onnx"), backend="tensorrt", tensorrt_target=target)
    assert spec.inputs_hash() == same.inputs_hash()
