"""model_build.triton_config: ModelConfig protobufs, text round-trip, checks against the ONNX graph."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tritonclient.grpc import model_config_pb2 as mc

from model_build.sources import OnnxFile, TensorSpec
from model_build.spec import DynamicBatching, ModelSpec, OrtTensorRT, TritonOptions
from model_build.triton_config import (
    ConfigMismatchError,
    build_config,
    config_to_text,
    onnx_io,
    parse_config,
    validate_against_onnx,
    write_config,
)


def _bert_like_onnx(path: Path) -> Path:
    """A tiny ONNX graph with BERT's signature: INT64 [batch,16] x2 -> FP32 [batch,2]."""
    import onnx
    from onnx import TensorProto, helper

    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", 16])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", 16])
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])
    nodes = [
        helper.make_node("Add", ["input_ids", "attention_mask"], ["summed"]),
        helper.make_node("Cast", ["summed"], ["as_float"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["as_float"], ["mean"], keepdims=1),
        helper.make_node("Concat", ["mean", "mean"], ["logits"], axis=1),
    ]
    graph = helper.make_graph(nodes, "bert_like", [ids, mask], [logits])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), str(path))
    return path


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bert_like_onnx(tmp_path_factory.mktemp("cfg") / "model.onnx")


@pytest.fixture(scope="module")
def tuned_spec(onnx_path: Path) -> ModelSpec:
    # Seed 000's tuned options: preferred 16, 100 us, two instances per GPU, plus warmup and ORT-TRT.
    return ModelSpec(
        name="bert",
        source=OnnxFile(onnx_path),
        triton=TritonOptions(
            max_batch_size=32,
            dynamic_batching=DynamicBatching(preferred_batch_sizes=(16,), max_queue_delay_microseconds=100),
            instance_count=2,
            instance_kind="KIND_GPU",
            warmup_batch_sizes=(1, 32),
            ort_tensorrt=OrtTensorRT(precision_mode="FP16", max_workspace_size_bytes=1 << 30),
        ),
    )


def _config(spec: ModelSpec, onnx_path: Path) -> mc.ModelConfig:
    return build_config(spec, *onnx_io(onnx_path))


def test_config_round_trips_through_text_format(
    tuned_spec: ModelSpec, onnx_path: Path, tmp_path: Path
) -> None:
    # GIVEN a config with every option set
    config = _config(tuned_spec, onnx_path)
    # WHEN written as config.pbtxt and parsed back
    path = write_config(config, tmp_path / "bert" / "config.pbtxt")
    parsed = parse_config(path.read_text())
    # THEN the parsed message equals the built one
    assert parsed == config
    assert config_to_text(parsed) == path.read_text()


def test_config_fields_follow_the_spec_and_the_graph(tuned_spec: ModelSpec, onnx_path: Path) -> None:
    config = _config(tuned_spec, onnx_path)
    # THEN name, platform and batch size come from the spec
    assert (config.name, config.platform, config.max_batch_size) == ("bert", "onnxruntime_onnx", 32)
    # AND tensors from the ONNX graph, without the batch dimension
    assert [(t.name, t.data_type, list(t.dims)) for t in config.input] == [
        ("input_ids", mc.TYPE_INT64, [16]),
        ("attention_mask", mc.TYPE_INT64, [16]),
    ]
    assert [(t.name, t.data_type, list(t.dims)) for t in config.output] == [("logits", mc.TYPE_FP32, [2])]
    # AND dynamic batching, instance group and the ORT TensorRT accelerator
    assert list(config.dynamic_batching.preferred_batch_size) == [16]
    assert config.dynamic_batching.max_queue_delay_microseconds == 100
    assert [(g.count, g.kind) for g in config.instance_group] == [(2, mc.ModelInstanceGroup.KIND_GPU)]
    (accel,) = config.optimization.execution_accelerators.gpu_execution_accelerator
    assert accel.name == "tensorrt"
    assert dict(accel.parameters) == {"precision_mode": "FP16", "max_workspace_size_bytes": "1073741824"}


def test_config_warmup_uses_zero_data_for_integer_inputs(tuned_spec: ModelSpec, onnx_path: Path) -> None:
    config = _config(tuned_spec, onnx_path)
    # THEN one warmup per batch size; INT64 ids get zeros (random ids would leave the vocabulary)
    assert [(w.name, w.batch_size) for w in config.model_warmup] == [("bs1 Warmup", 1), ("bs32 Warmup", 32)]
    ids = config.model_warmup[1].inputs["input_ids"]
    assert ids.zero_data and not ids.random_data
    assert (ids.data_type, list(ids.dims)) == (mc.TYPE_INT64, [16])


def test_config_warmup_uses_random_data_for_float_inputs() -> None:
    # GIVEN an FP32 image input (seed 001's ResNet-50)
    spec = ModelSpec(
        name="resnet",
        source=OnnxFile(Path("unused.onnx")),
        triton=TritonOptions(max_batch_size=128, warmup_batch_sizes=(128,)),
    )
    config = build_config(
        spec, (TensorSpec("pixel_values", "FP32", (3, 224, 224)),), (TensorSpec("logits", "FP32", (1000,)),)
    )
    # THEN the warmup block matches seed 001's bs128 warmup shape, with random data
    (warmup,) = config.model_warmup
    data = warmup.inputs["pixel_values"]
    assert warmup.batch_size == 128 and data.random_data and list(data.dims) == [3, 224, 224]


def test_config_defaults_render_minimal_blocks(onnx_path: Path) -> None:
    # GIVEN default options (no dynamic batching, no warmup, no accelerator)
    spec = ModelSpec(name="plain", source=OnnxFile(onnx_path))
    text = config_to_text(_config(spec, onnx_path))
    # THEN those blocks are absent and one GPU instance is configured
    assert "dynamic_batching" not in text and "model_warmup" not in text and "optimization" not in text
    assert "instance_group {\n  count: 1\n  kind: KIND_GPU\n}" in text


def test_config_empty_dynamic_batching_is_rendered(onnx_path: Path) -> None:
    # GIVEN seed 000's `dynamic_batching {}` (no preferred sizes)
    spec = ModelSpec(
        name="db", source=OnnxFile(onnx_path), triton=TritonOptions(dynamic_batching=DynamicBatching())
    )
    config = parse_config(config_to_text(_config(spec, onnx_path)))
    # THEN the block survives the round trip, which is what enables the batcher
    assert config.HasField("dynamic_batching")


def test_config_tensorrt_backend_uses_tensorrt_plan(onnx_path: Path) -> None:
    spec = ModelSpec(name="trt", source=OnnxFile(onnx_path), backend="tensorrt")
    assert _config(spec, onnx_path).platform == "tensorrt_plan"


def test_validate_against_onnx_accepts_the_built_config(tuned_spec: ModelSpec, onnx_path: Path) -> None:
    # GIVEN the built config WHEN checked against its graph THEN nothing is raised
    validate_against_onnx(_config(tuned_spec, onnx_path), onnx_path)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda c: c.input[0].dims.__setitem__(0, 32),
            r"input 'input_ids' dims are \[32\], the ONNX graph has \[16\]",
        ),
        (lambda c: c.input[0].dims.append(1), r"input 'input_ids' dims are \[16, 1\]"),
        (
            lambda c: setattr(c.output[0], "data_type", mc.TYPE_FP16),
            r"output 'logits' data_type is TYPE_FP16, the ONNX graph has TYPE_FP32",
        ),
        (lambda c: setattr(c.input[1], "name", "mask"), r"input 'mask' is not in the ONNX graph"),
        (lambda c: c.input.pop(), r"ONNX graph input 'attention_mask' is missing from the config"),
        (
            lambda c: setattr(c, "max_batch_size", 0),
            r"max_batch_size must be >= 1 .* batch dimension \(got 0\)",
        ),
    ],
)
def test_validate_against_onnx_rejects_disagreement(
    tuned_spec: ModelSpec, onnx_path: Path, mutate: object, expected: str
) -> None:
    # GIVEN a config edited to disagree with the graph
    config = _config(tuned_spec, onnx_path)
    mutate(config)  # type: ignore[operator]
    # WHEN validated THEN the message names the tensor, both values and the graph
    with pytest.raises(
        ConfigMismatchError, match=r"config for 'bert' disagrees with model.onnx: .*" + expected
    ):
        validate_against_onnx(config, onnx_path)


def test_validate_against_onnx_reports_every_problem(tuned_spec: ModelSpec, onnx_path: Path) -> None:
    config = _config(tuned_spec, onnx_path)
    config.input[0].dims[0] = 8
    config.output[0].data_type = mc.TYPE_INT32
    with pytest.raises(ConfigMismatchError) as err:
        validate_against_onnx(config, onnx_path)
    assert "input 'input_ids' dims" in str(err.value) and "output 'logits' data_type" in str(err.value)


def test_parse_config_rejects_invalid_text() -> None:
    with pytest.raises(ValueError, match=r"invalid config.pbtxt: .*max_batch_sizes"):
        parse_config('name: "x"\nmax_batch_sizes: 4\n')


def test_parse_config_reads_seed_001_tensorrt_config() -> None:
    # GIVEN seed 001's hand-written TensorRT config (verbatim layout)
    text = """
    name: "resnet"
    platform: "tensorrt_plan"
    max_batch_size: 128
    input { name: "input" data_type: TYPE_FP32 dims: 3 dims: 224 dims: 224 }
    output { name: "output" data_type: TYPE_FP32 dims: 1000 }
    model_warmup {
        name: "bs128 Warmup"
        batch_size: 128
        inputs: { key: "input" value: { data_type: TYPE_FP32 dims: 3 dims: 224 dims: 224 zero_data: false } }
    }
    """
    # WHEN parsed THEN the fields are typed protobuf values
    config = parse_config(text)
    assert config.max_batch_size == 128 and config.model_warmup[0].batch_size == 128
    assert list(config.input[0].dims) == [3, 224, 224]


def test_onnx_io_rejects_graph_without_batch_dimension(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "scalar", [x], [y])
    path = tmp_path / "scalar.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ConfigMismatchError, match=r"tensor 'x' is a scalar; a batch dimension is required"):
        onnx_io(path)


def test_spec_options_do_not_leak_between_configs(tuned_spec: ModelSpec, onnx_path: Path) -> None:
    # GIVEN two configs from specs differing only in instance count
    other = dataclasses.replace(tuned_spec, triton=dataclasses.replace(tuned_spec.triton, instance_count=1))
    # THEN each config carries its own count
    assert _config(other, onnx_path).instance_group[0].count == 1
    assert _config(tuned_spec, onnx_path).instance_group[0].count == 2


def test_onnx_io_rejects_fixed_batch_dimension(tmp_path: Path) -> None:
    # GIVEN a graph exported without a dynamic batch axis
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "fixed", [x], [y])
    path = tmp_path / "fixed.onnx"
    onnx.save(helper.make_model(graph, ir_version=9), str(path))
    # WHEN read THEN the error says how to re-export
    with pytest.raises(ConfigMismatchError, match=r"tensor 'x' has a fixed first dimension 1; .* re-export"):
        onnx_io(path)
