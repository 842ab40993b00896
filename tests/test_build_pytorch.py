"""model_build's ``pytorch`` backend: seed 001's TorchScript ResNet (on resnet-tiny), built, verified and served.

The build uses the default cache (the seed 001 stack tests and the demo reuse the same entries).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
from tritonclient.grpc import model_config_pb2 as mc

from model_build.backends import PYTORCH, backend, backend_of_platform, pytorch_tensor_name
from model_build.examples import SEED_001_TRITON_NAME, get_example
from model_build.local_serving import make_local_repository
from model_build.pipeline import BuildResult, build
from model_build.sources import LoadedModel, TensorSpec, random_inputs
from model_build.spec import Tolerance
from model_build.triton_config import parse_config


@pytest.fixture(scope="module")
def built() -> BuildResult:
    return build(get_example("resnet-tiny-pt"))


@pytest.fixture(scope="module")
def config(built: BuildResult) -> mc.ModelConfig:
    return parse_config((built.repository_dir / SEED_001_TRITON_NAME / "config.pbtxt").read_text())


def _eager_logits(pixels: np.ndarray) -> np.ndarray:
    import torch

    loaded = get_example("resnet-tiny-pt").source.load()
    with torch.no_grad():
        return loaded.module(torch.from_numpy(pixels)).numpy()


def test_backend_pytorch_descriptor_names_triton_pytorch_platform_and_file():
    # GIVEN the descriptor WHEN looked up by name or by platform THEN it is Triton's PyTorch backend
    assert backend("pytorch") is PYTORCH is backend_of_platform("pytorch_libtorch")
    assert (PYTORCH.model_filename, PYTORCH.buildable, PYTORCH.in_bundled_triton) == ("model.pt", True, False)
    assert [pytorch_tensor_name("input", 0), pytorch_tensor_name("output", 1)] == ["INPUT__0", "OUTPUT__1"]


def test_pytorch_build_writes_seed_001_config_under_the_shared_triton_name(config: mc.ModelConfig):
    # GIVEN resnet-tiny-pt built WHEN its config is read back THEN it is seed 001's PyTorch config:
    # name "resnet", pytorch_libtorch, max_batch_size 128, INPUT__0 [3,H,W] -> OUTPUT__0 [1000], FP32
    assert (config.name, config.platform, config.max_batch_size) == ("resnet", "pytorch_libtorch", 128)
    assert [(t.name, t.data_type, list(t.dims)) for t in config.input] == [("INPUT__0", mc.TYPE_FP32, [3, 64, 64])]
    assert [(t.name, t.data_type, list(t.dims)) for t in config.output] == [("OUTPUT__0", mc.TYPE_FP32, [1000])]
    # ... and, like the seed's PyTorch config, no warmup (only the TensorRT one has "bs128 Warmup")
    assert not config.model_warmup


def test_pytorch_build_archive_holds_the_trace_and_its_manifest_the_verification(built: BuildResult):
    # GIVEN the build WHEN its archive and manifest are read
    with tarfile.open(built.archive_path) as archive:
        names = sorted(archive.getnames())
    manifest = built.manifest
    # THEN the archive is `resnet/` with the TorchScript file (seed 001's `tar -czf resnet_pt_v0.tar.gz resnet`)
    assert names == ["resnet", "resnet/1", "resnet/1/model.pt", "resnet/config.pbtxt"]
    # ... and the trace was checked against eager torch at two batch sizes with the spec's tolerance
    assert manifest["platform"] == "pytorch_libtorch" and manifest["exporter"] == "torch.jit.trace"
    assert manifest["verification"]["reference"] == "torch" and manifest["verification"]["passed"]
    assert manifest["verification"]["batch_sizes"] == [1, 3]
    assert manifest["verification"]["outputs"][0]["atol"] == 1e-3
    assert manifest["source_tensor_names"] == {"INPUT__0": "pixel_values", "OUTPUT__0": "logits"}
    assert manifest["triton_model_name"] == "resnet" and manifest["name"] == "resnet-tiny-pt"


def test_pytorch_trace_answers_like_the_eager_model_at_a_new_batch_size(built: BuildResult):
    import torch

    # GIVEN the shipped model.pt and fresh inputs at a batch size the trace never saw
    pixels = np.random.default_rng(5).standard_normal((5, 3, 64, 64)).astype(np.float32)
    traced = torch.jit.load(str(built.repository_dir / "resnet" / "1" / "model.pt"))
    # WHEN both run THEN the answers agree within the spec's tolerance
    with torch.no_grad():
        answer = traced(torch.from_numpy(pixels)).numpy()
    np.testing.assert_allclose(answer, _eager_logits(pixels), atol=1e-3, rtol=1e-3)


def test_verify_torchscript_names_the_output_that_differs(tmp_path: Path):
    import torch

    from model_build.verify import VerificationError, verify_torchscript

    # GIVEN a trace of one linear layer, compared against a source whose weights differ
    torch.manual_seed(0)
    traced_layer, source_layer = torch.nn.Linear(4, 2).eval(), torch.nn.Linear(4, 2).eval()
    torch.jit.trace(traced_layer, torch.zeros(2, 4)).save(str(tmp_path / "model.pt"))
    loaded = LoadedModel(module=source_layer, inputs=(TensorSpec("x", "FP32", (4,)),), output_names=("y",))
    # WHEN verifying THEN the error names the output, the batch size and the tolerance
    with pytest.raises(VerificationError, match=r"output 'y' differs from torch at batch size 1: .*atol 0\.0001"):
        verify_torchscript(tmp_path / "model.pt", loaded, Tolerance())


def test_export_torchscript_refuses_a_trace_that_fixes_the_batch(tmp_path: Path):
    import torch

    from model_build.export import ExportError, export_torchscript

    # GIVEN a module whose forward reshapes to the example's batch size (2), a common tracing trap
    class FixedBatch(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.reshape(2, -1)

    loaded = LoadedModel(module=FixedBatch(), inputs=(TensorSpec("x", "FP32", (4,)),), output_names=("y",))
    # WHEN tracing THEN the build stops before writing anything
    with pytest.raises(ExportError, match=r"fixed the batch dimension of output 'y' at 2"):
        export_torchscript(loaded, tmp_path / "model.pt")
    assert not (tmp_path / "model.pt").exists()


@pytest.mark.slow
def test_local_twin_of_the_pytorch_repository_serves_the_trace_on_cpu(built: BuildResult, tmp_path: Path):
    from triton_runtime.server import TritonServer

    # GIVEN the local twin of the pytorch_libtorch repository, made with the default executor
    local = make_local_repository(built.repository_dir, tmp_path / "local")
    twin = parse_config((local / "resnet" / "config.pbtxt").read_text())
    assert twin.backend == "python" and twin.parameters["executor"].string_value == "torch"
    assert (local / "resnet" / "1" / "model.pt").is_file()
    # WHEN the real Triton serves it and is invoked with INPUT__0
    inputs = random_inputs((TensorSpec("INPUT__0", "FP32", (3, 64, 64)),), batch_size=2, seed=3)
    pixels = inputs["INPUT__0"]
    request = {
        "inputs": [{"name": "INPUT__0", "shape": list(pixels.shape), "datatype": "FP32", "data": pixels.ravel().tolist()}]
    }
    with TritonServer(local, default_model="resnet") as server:
        response = server.invocations(request)
    (output,) = response["outputs"]
    # THEN OUTPUT__0 is the eager model's logits, row by row
    assert output["name"] == "OUTPUT__0" and output["shape"] == [2, 1000]
    answer = np.asarray(output["data"], dtype=np.float32).reshape(2, 1000)
    np.testing.assert_allclose(answer, _eager_logits(pixels), atol=1e-3, rtol=1e-3)
