"""model_build.model_files: real model files recognised by their bytes, without torch or onnx."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from model_build.model_files import onnx_file_problems, sniff, torchscript_file_problems, torchscript_forward
from model_build.triton_config import onnx_io


@pytest.mark.parametrize(
    ("name", "kind", "described"),
    [
        ("onnx", "onnx", "an ONNX model"),
        ("torchscript", "torchscript", "a TorchScript archive"),
        ("torchscript_traced", "torchscript", "a TorchScript archive"),
        ("state_dict", "torch-save", "a torch.save() state dict"),
        ("whole_module", "torch-save", "a whole model pickled with torch.save(model)"),
        ("checkpoint", "torch-save", "a torch.save() training checkpoint (a dict with 'model_state_dict')"),
        ("legacy_state_dict", "torch-legacy", "legacy (pre-1.6, non-zip) format"),
        ("torch_export", "torch-export", "a torch.export program (.pt2)"),
        ("empty", "empty", "empty (0 bytes)"),
        ("text", "text", "a text file"),
        ("lfs_pointer", "git-lfs-pointer", "a Git LFS pointer"),
        ("html", "html", "an HTML page"),
        ("png", "png", "a PNG image"),
        ("gzip", "gzip", "a gzip archive"),
        ("random", "unknown", "binary data that does not parse as ONNX"),
    ],
)
def test_sniff_recognises_each_kind_of_file(
    model_file_zoo: dict[str, Path], name: str, kind: str, described: str
) -> None:
    # GIVEN a real file of one kind WHEN sniffed THEN its kind and description say what it is
    found = sniff(model_file_zoo[name])
    assert found.kind == kind
    assert described in found.description
    assert found.damage is None


def test_sniff_reads_the_onnx_signature_as_onnx_does(model_file_zoo: dict[str, Path]) -> None:
    # GIVEN a sound ONNX file with an initializer
    found = sniff(model_file_zoo["onnx"])
    # WHEN its structure is read without onnx THEN the inputs and outputs match onnx's own reading
    assert found.onnx is not None
    inputs, outputs = onnx_io(model_file_zoo["onnx"])
    assert [(t.name, t.dims[1:]) for t in found.onnx.inputs] == [(s.name, s.dims) for s in inputs]
    assert [t.name for t in found.onnx.outputs] == [s.name for s in outputs]
    assert found.onnx.inputs[0].dims[0] is None and found.onnx.external_data == ()


@pytest.mark.parametrize(
    ("name", "damage"),
    [("onnx_truncated", "truncated: a field at byte"), ("torchscript_truncated", "truncated or corrupt")],
)
def test_sniff_reports_truncated_files(model_file_zoo: dict[str, Path], name: str, damage: str) -> None:
    # GIVEN the first half of a real file WHEN sniffed THEN it is reported as damaged, with where
    found = sniff(model_file_zoo[name])
    assert found.damage is not None and damage in found.damage


def test_sniff_reports_corrupt_torchscript_member(model_file_zoo: dict[str, Path], tmp_path: Path) -> None:
    # GIVEN a TorchScript archive whose code member's bytes were overwritten in place
    import zipfile

    data = bytearray(model_file_zoo["torchscript"].read_bytes())
    with zipfile.ZipFile(model_file_zoo["torchscript"]) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("data.pkl"))
    # The local header's name and extra-field lengths (the extra field pads for alignment).
    name_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    offset = info.header_offset + 30 + name_len + extra_len
    data[offset : offset + 8] = b"\xff" * 8
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(bytes(data))
    # WHEN sniffed THEN the member is named as corrupt
    found = sniff(damaged)
    assert found.kind == "torchscript" and found.damage is not None and "data.pkl is corrupt" in found.damage


def test_onnx_problems_name_external_data_and_the_resave_fix(model_file_zoo: dict[str, Path]) -> None:
    # GIVEN an ONNX model whose weights live in external.onnx.data
    (problem,) = onnx_file_problems(model_file_zoo["onnx_external"], "--onnx")
    # THEN the message names the flag, the file, the data file and how to re-save it
    assert problem.startswith(f"--onnx {str(model_file_zoo['onnx_external'])!r} keeps 1 weight tensors")
    assert "external.onnx.data" in problem and "save_as_external_data=False" in problem


def test_missing_model_file_is_matched_with_model_files_only(tmp_path: Path) -> None:
    # GIVEN a folder holding a model's code and spec only, and one holding a near-named model file
    (code := tmp_path / "code").mkdir()
    for name in ("classifier_net.py", "classifier.toml"):
        (code / name).write_text("")
    (models := tmp_path / "models").mkdir()
    (models / "classifer.onnx").write_text("")
    # WHEN a missing classifier.pt / classifier.onnx is checked
    (pt_problem,) = torchscript_file_problems(code / "classifier.pt", "source.path")
    (onnx_problem,) = onnx_file_problems(models / "classifier.onnx", "source.path")
    # THEN the code and the spec are never offered as the model; the near-named model file is
    assert "classifier.pt' does not exist; give the path of your TorchScript file" in pt_problem
    assert "does not exist (did you mean 'classifer.onnx'?)" in onnx_problem


def test_onnx_problems_reject_a_fixed_batch_dimension(model_file_zoo: dict[str, Path]) -> None:
    problems = onnx_file_problems(model_file_zoo["onnx_fixed_batch"], "source.path")
    assert any("graph input 'x' has a fixed first dimension 1" in p and "dynamic_axes" in p for p in problems)


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("torchscript", 'kind = "torchscript"'),
        ("state_dict", 'kind = "factory"'),
        ("empty", "copy the model file again"),
        ("lfs_pointer", "git lfs pull"),
        ("gzip", "tar -xzf"),
    ],
)
def test_onnx_problems_say_the_fix_for_the_wrong_file(model_file_zoo: dict[str, Path], name: str, fix: str) -> None:
    (problem,) = onnx_file_problems(model_file_zoo[name], "--onnx")
    assert str(model_file_zoo[name]) in problem and "is not an ONNX model" in problem and fix in problem


@pytest.mark.parametrize("name", ["state_dict", "whole_module", "checkpoint", "legacy_state_dict", "torch_export"])
def test_torchscript_problems_explain_torch_save_files(model_file_zoo: dict[str, Path], name: str) -> None:
    # GIVEN a torch.save() (or torch.export) file where TorchScript is expected
    (problem,) = torchscript_file_problems(model_file_zoo[name], "source.path")
    # THEN the message says torch.jit.load cannot read it and gives both fixes
    assert "torch.jit.load cannot read it" in problem
    assert "torch.jit.save(torch.jit.script(model), path)" in problem and 'kind = "factory"' in problem


def test_torchscript_problems_accept_scripted_and_traced_files(model_file_zoo: dict[str, Path]) -> None:
    assert torchscript_file_problems(model_file_zoo["torchscript"], "source.path") == []
    assert torchscript_file_problems(model_file_zoo["torchscript_traced"], "source.path") == []
    assert onnx_file_problems(model_file_zoo["onnx"], "source.path") == []


def test_torchscript_problems_redirect_an_onnx_file(model_file_zoo: dict[str, Path]) -> None:
    (problem,) = torchscript_file_problems(model_file_zoo["onnx"], "source.path")
    assert 'is an ONNX model, not TorchScript: use [source] kind = "onnx"' in problem


def test_sniff_imports_neither_torch_nor_onnx(
    model_file_zoo: dict[str, Path], modules_imported_by: Callable[..., list[str]]
) -> None:
    # GIVEN a fresh interpreter WHEN it sniffs every file of the zoo THEN torch and onnx stay unimported
    paths = [str(p) for p in model_file_zoo.values()]
    code = (
        "from pathlib import Path\n"
        "from model_build.model_files import onnx_file_problems, torchscript_file_problems\n"
        f"for p in {paths!r}:\n"
        "    onnx_file_problems(Path(p), 'x'); torchscript_file_problems(Path(p), 'x')\n"
    )
    assert modules_imported_by(code) == []


@pytest.mark.parametrize("name", ["torchscript", "torchscript_traced"])
def test_torchscript_forward_reads_the_root_modules_arguments(model_file_zoo: dict[str, Path], name: str) -> None:
    # GIVEN a scripted and a traced Sequential(Linear) WHEN its archive's code is read (not run)
    forward = torchscript_forward(model_file_zoo[name])
    # THEN forward takes one required argument after self
    assert forward is not None and len(forward.names) == 1 and forward.required == 1
    assert torchscript_forward(model_file_zoo["state_dict"]) is None
