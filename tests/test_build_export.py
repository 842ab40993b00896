"""model_build.export + model_build.verify: real torch → ONNX exports checked with ONNX Runtime."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import textwrap
from pathlib import Path

import pytest

from model_build.examples import get_example
from model_build.export import ExportError, export_onnx
from model_build.sources import Factory, LoadedModel, OnnxFile, TensorSpec, TorchScriptFile
from model_build.spec import Tolerance
from model_build.triton_config import onnx_io
from model_build.verify import VerificationError, verify_onnx


@pytest.fixture(scope="module")
def bert_tiny() -> LoadedModel:
    return get_example("bert-tiny").source.load()


@pytest.fixture(scope="module")
def resnet_tiny() -> LoadedModel:
    return get_example("resnet-tiny").source.load()


@pytest.fixture(scope="module")
def bert_onnx(bert_tiny: LoadedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bert") / "model.onnx"
    export_onnx(bert_tiny, path, opset=17, max_batch_size=64)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_export_bert_tiny_has_stable_names_and_dynamic_batch(bert_onnx: Path) -> None:
    # GIVEN bert-tiny exported WHEN its graph signature is read
    inputs, outputs = onnx_io(bert_onnx)
    # THEN names, Triton dtypes and dims (batch excluded) are the stable contract
    assert [(s.name, s.dtype, s.dims) for s in inputs] == [
        ("input_ids", "INT64", (128,)),
        ("attention_mask", "INT64", (128,)),
    ]
    assert [(s.name, s.dtype, s.dims) for s in outputs] == [("logits", "FP32", (2,))]
    import onnx

    model = onnx.load(str(bert_onnx), load_external_data=False)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]


def test_export_bert_tiny_matches_torch_at_two_batch_sizes(bert_tiny: LoadedModel, bert_onnx: Path) -> None:
    # WHEN the export is verified against torch at batch sizes 1 and 3
    result = verify_onnx(bert_onnx, bert_tiny, Tolerance(), batch_sizes=(1, 3))
    # THEN the logits agree within tolerance and the differences are reported
    assert result.passed and result.reference == "torch" and result.batch_sizes == (1, 3)
    (logits,) = result.outputs
    assert logits.name == "logits"
    assert logits.max_abs_diff is not None and logits.max_abs_diff < 1e-4
    assert logits.max_rel_diff is not None


def test_export_is_byte_deterministic(bert_tiny: LoadedModel, bert_onnx: Path, tmp_path: Path) -> None:
    # GIVEN the same loaded model WHEN exported a second time into another folder
    again = tmp_path / "again.onnx"
    export_onnx(bert_tiny, again, opset=17, max_batch_size=64)
    # THEN the bytes are identical
    assert _sha(again) == _sha(bert_onnx)


def test_export_resnet_tiny_matches_torch(resnet_tiny: LoadedModel, tmp_path: Path) -> None:
    # GIVEN resnet-tiny WHEN exported and verified
    path = tmp_path / "resnet.onnx"
    exported = export_onnx(resnet_tiny, path, opset=17, max_batch_size=128)
    result = verify_onnx(path, resnet_tiny, get_example("resnet-tiny").tolerance, batch_sizes=(1, 4))
    # THEN the input is pixel_values FP32 3x64x64 and logits agree
    inputs, outputs = onnx_io(path)
    assert [(s.name, s.dtype, s.dims) for s in inputs] == [("pixel_values", "FP32", (3, 64, 64))]
    assert [(s.name, s.dims) for s in outputs] == [("logits", (1000,))]
    assert exported.exporter == "torchscript" and exported.size_bytes == path.stat().st_size
    assert result.passed


def test_dynamo_exporter_also_produces_a_verified_model(resnet_tiny: LoadedModel, tmp_path: Path) -> None:
    # GIVEN the fallback exporter forced WHEN resnet-tiny is exported and verified
    path = tmp_path / "dynamo.onnx"
    exported = export_onnx(resnet_tiny, path, opset=18, max_batch_size=8, exporter="dynamo")
    result = verify_onnx(path, resnet_tiny, Tolerance(atol=1e-3), batch_sizes=(1, 3))
    # THEN it also has a dynamic batch axis and the stable names
    assert exported.exporter == "dynamo"
    assert [s.name for s in onnx_io(path)[0]] == ["pixel_values"]
    assert result.passed


def test_verify_names_output_and_max_difference_on_mismatch(bert_tiny: LoadedModel, bert_onnx: Path) -> None:
    # GIVEN a reference that differs from the exported graph by 0.5 on every logit
    import torch

    class Shifted(torch.nn.Module):
        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return bert_tiny.module(input_ids, attention_mask) + 0.5

    shifted = dataclasses.replace(bert_tiny, module=Shifted().eval())
    # WHEN verified THEN the error names the output and the max abs difference
    with pytest.raises(
        VerificationError, match=r"output 'logits' differs from torch at batch size 1: max abs diff 0\.5"
    ):
        verify_onnx(bert_onnx, shifted, Tolerance())
    # AND without raising, the result reports the failure
    result = verify_onnx(bert_onnx, shifted, Tolerance(), raise_on_mismatch=False)
    assert not result.passed and result.outputs[0].max_abs_diff == pytest.approx(0.5, abs=1e-5)


def test_verify_onnx_source_without_reference_checks_shapes(bert_onnx: Path, tmp_path: Path) -> None:
    # GIVEN an existing ONNX file as the source
    loaded = OnnxFile(bert_onnx).load()
    path = tmp_path / "copy.onnx"
    # WHEN exported (copied) and verified
    exported = export_onnx(loaded, path, opset=17, max_batch_size=8)
    result = verify_onnx(path, loaded, Tolerance())
    # THEN the copy is byte-identical and verification reports no reference but passes
    assert exported.exporter == "copy" and _sha(path) == _sha(bert_onnx)
    assert result.reference == "none" and result.passed
    assert result.outputs[0].max_abs_diff is None


def test_export_torchscript_file_source(tmp_path: Path) -> None:
    # GIVEN a scripted module saved with torch.jit.save
    import torch

    class Scale(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tanh(x * 2.0).sum(dim=-1)

    pt = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(Scale()), str(pt))
    source = TorchScriptFile(pt, inputs=(TensorSpec("x", "FP32", (4, 5)),), output_names=("y",))
    loaded = source.load()
    # WHEN exported and verified
    path = tmp_path / "ts.onnx"
    export_onnx(loaded, path, opset=17, max_batch_size=8)
    result = verify_onnx(path, loaded, Tolerance())
    # THEN the declared names and dims survive and outputs agree
    inputs, outputs = onnx_io(path)
    assert [(s.name, s.dims) for s in inputs] == [("x", (4, 5))]
    assert [(s.name, s.dims) for s in outputs] == [("y", (4,))]
    assert result.passed


def test_export_factory_source_with_dynamic_dim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a factory module whose model takes a variable-length input
    (tmp_path / "tiny_factory.py").write_text(
        textwrap.dedent(
            """
            import torch
            from model_build.sources import LoadedModel, TensorSpec

            class Pool(torch.nn.Module):
                def __init__(self, width):
                    super().__init__()
                    self.proj = torch.nn.Linear(width, 3)

                def forward(self, tokens):
                    return self.proj(tokens).mean(dim=1)

            def make(width):
                torch.manual_seed(0)
                return LoadedModel(
                    module=Pool(width).eval(),
                    inputs=(TensorSpec("tokens", "FP32", (-1, width)),),
                    output_names=("pooled",),
                )
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = Factory("tiny_factory:make", {"width": 6}).load()
    # WHEN exported and verified
    path = tmp_path / "factory.onnx"
    export_onnx(loaded, path, opset=17, max_batch_size=8)
    result = verify_onnx(path, loaded, Tolerance())
    # THEN the dynamic dimension stays -1 and outputs agree
    assert [(s.name, s.dims) for s in onnx_io(path)[0]] == [("tokens", (-1, 6))]
    assert result.passed
    sys.modules.pop("tiny_factory", None)


def test_export_rejects_unknown_exporter(bert_tiny: LoadedModel, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exporter must be one of auto, torchscript, dynamo"):
        export_onnx(bert_tiny, tmp_path / "x.onnx", opset=17, max_batch_size=8, exporter="tf2onnx")


def test_export_wraps_torch_failures(tmp_path: Path) -> None:
    # GIVEN a model whose forward fails
    import torch

    class Broken(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("boom")

    loaded = LoadedModel(module=Broken(), inputs=(TensorSpec("x", "FP32", (2,)),), output_names=("y",))
    # WHEN exported THEN an ExportError says which exporter failed and why
    with pytest.raises(ExportError, match=r"torch.onnx.export failed \(torchscript\): boom"):
        export_onnx(loaded, tmp_path / "broken.onnx", opset=17, max_batch_size=8)
