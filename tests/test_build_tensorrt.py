"""model_build.tensorrt: optimisation profiles, the trtexec form, and the no-TensorRT error."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_build.engine_target import EngineTarget
from model_build.pipeline import build
from model_build.sources import OnnxFile, TensorSpec
from model_build.spec import ModelSpec, TritonOptions
from model_build.tensorrt import (
    ProfileShape,
    TensorRTUnavailableError,
    build_engine,
    optimization_profile,
    tensorrt_available,
    trtexec_command,
)

BERT_INPUTS = (TensorSpec("input_ids", "INT64", (512,)), TensorSpec("attention_mask", "INT64", (512,)))
NO_TRT = "TensorRT is not installable on this CPU machine; run on a GPU machine with TensorRT"




def test_profile_spans_one_to_max_batch_size() -> None:
    # GIVEN seed 000's bert-large inputs (512 tokens) and max_batch_size 64
    profile = optimization_profile(BERT_INPUTS, 64, opt_batch_size=16)
    # THEN every input ranges over batch 1..64, tuned for 16, with the fixed sequence length
    assert profile == {
        "input_ids": ProfileShape(min=(1, 512), opt=(16, 512), max=(64, 512)),
        "attention_mask": ProfileShape(min=(1, 512), opt=(16, 512), max=(64, 512)),
    }


def test_profile_opt_defaults_to_max_batch_size() -> None:
    profile = optimization_profile((TensorSpec("input", "FP32", (3, 224, 224)),), 128)
    assert profile["input"] == ProfileShape(
        min=(1, 3, 224, 224), opt=(128, 3, 224, 224), max=(128, 3, 224, 224)
    )


def test_profile_dynamic_dims_take_given_ranges() -> None:
    profile = optimization_profile(
        (TensorSpec("tokens", "FP32", (-1, 8)),), 4, dynamic_dims={"tokens": (1, 64, 128)}
    )
    assert profile["tokens"] == ProfileShape(min=(1, 1, 8), opt=(4, 64, 8), max=(4, 128, 8))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"max_batch_size": 0}, r"max_batch_size must be >= 1 \(got 0\)"),
        (
            {"max_batch_size": 8, "opt_batch_size": 9},
            r"opt_batch_size must be between 1 and max_batch_size 8 \(got 9\)",
        ),
    ],
)
def test_profile_rejects_bad_batch_sizes(kwargs: dict[str, int], expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        optimization_profile(BERT_INPUTS, **kwargs)


def test_profile_requires_range_for_dynamic_dims() -> None:
    with pytest.raises(ValueError, match=r"input 'tokens' dim 1 is dynamic; give its \(min, opt, max\)"):
        optimization_profile((TensorSpec("tokens", "FP32", (-1,)),), 4)


def test_trtexec_command_has_shapes_precision_and_workspace() -> None:
    # GIVEN the bert-large profile
    profile = optimization_profile(BERT_INPUTS, 64, opt_batch_size=16)
    # WHEN the FP16 trtexec form is derived
    command = trtexec_command(
        Path("m.onnx"), Path("model.plan"), profile, precision="FP16", workspace_bytes=2 << 30
    )
    # THEN it is the TensorRT 10 trtexec command line
    assert command == [
        "trtexec",
        "--onnx=m.onnx",
        "--saveEngine=model.plan",
        "--minShapes=input_ids:1x512,attention_mask:1x512",
        "--optShapes=input_ids:16x512,attention_mask:16x512",
        "--maxShapes=input_ids:64x512,attention_mask:64x512",
        "--memPoolSize=workspace:2048M",
        "--fp16",
    ]


@pytest.mark.parametrize(
    ("precision", "flags"), [("FP32", []), ("FP16", ["--fp16"]), ("INT8", ["--fp16", "--int8"])]
)
def test_trtexec_command_precision_flags(precision: str, flags: list[str]) -> None:
    profile = optimization_profile((TensorSpec("input", "FP32", (3, 224, 224)),), 128)
    command = trtexec_command(Path("m.onnx"), Path("m.plan"), profile, precision=precision)
    assert [arg for arg in command if arg in {"--fp16", "--int8"}] == flags


def test_trtexec_command_rejects_unknown_precision() -> None:
    with pytest.raises(ValueError, match="precision must be FP32, FP16 or INT8"):
        trtexec_command(Path("m.onnx"), Path("m.plan"), {}, precision="TF32")


@pytest.mark.skipif(
    tensorrt_available(), reason="TensorRT is installed here; the unavailable path cannot happen"
)
def test_build_engine_without_tensorrt_says_where_to_build(tmp_path: Path) -> None:
    # GIVEN no TensorRT, no GPU and no Docker (this machine, probed for real) WHEN an engine for a g4dn is requested
    target = EngineTarget(instance_type="ml.g4dn.xlarge", triton_version="24.09")
    with pytest.raises(TensorRTUnavailableError) as err:
        build_engine(
            tmp_path / "m.onnx", tmp_path / "model.plan", inputs=BERT_INPUTS, max_batch_size=64, target=target
        )
    # THEN the error says what is missing, the target, and the docker + trtexec command to run elsewhere
    message = str(err.value)
    assert message.startswith("TensorRT is not available here to build the engine: the tensorrt Python module")
    assert "The target is ml.g4dn.xlarge (NVIDIA T4, compute capability 7.5" in message
    assert "docker run --rm --gpus all" in message and "nvcr.io/nvidia/tensorrt:24.09-py3 trtexec --onnx=" in message
    assert "--maxShapes=input_ids:64x512,attention_mask:64x512" in message


@pytest.mark.skipif(
    tensorrt_available(), reason="TensorRT is installed here; the unavailable path cannot happen"
)
def test_pipeline_tensorrt_backend_fails_cleanly_without_tensorrt(relu_onnx, tmp_path: Path) -> None:
    # GIVEN a spec for the tensorrt backend
    spec = ModelSpec(
        name="relu",
        source=OnnxFile(relu_onnx(tmp_path / "relu.onnx")),
        triton=TritonOptions(max_batch_size=4),
        backend="tensorrt",
    )
    # WHEN built THEN the TensorRT error surfaces and no cache entry is left
    with pytest.raises(TensorRTUnavailableError, match=r"--maxShapes=x:4x4"):
        build(spec, cache_dir=tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.tensorrt
@pytest.mark.skipif(not tensorrt_available(), reason=NO_TRT)
def test_build_engine_writes_a_plan(relu_onnx, tmp_path: Path) -> None:
    # GIVEN TensorRT WHEN an FP32 engine is built for a tiny graph THEN a non-empty plan exists
    result = build_engine(
        relu_onnx(tmp_path / "relu.onnx"),
        tmp_path / "model.plan",
        inputs=(TensorSpec("x", "FP32", (4,)),),
        max_batch_size=4,
        precision="FP32",
    )
    assert result.size_bytes > 0 and result.engine_path.read_bytes()
