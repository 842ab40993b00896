"""model_build.spec: validation (every problem in one error) and the inputs hash."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from model_build.examples import EXAMPLES, get_example
from model_build.sources import Factory, OnnxFile, TensorSpec, TorchScriptFile, TransformersConfig
from model_build.spec import DynamicBatching, ModelSpec, OrtTensorRT, Tolerance, TritonOptions

BERT_SOURCE = TransformersConfig(architecture="bert-sequence-classification", config={"num_hidden_layers": 1})


def _spec(**triton: object) -> ModelSpec:
    return ModelSpec(name="bert", source=BERT_SOURCE, triton=TritonOptions(**triton))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_spec_accepts_every_example(name: str) -> None:
    # GIVEN a named example
    spec = get_example(name)
    # WHEN it is validated THEN nothing is raised and the name is the Triton model name
    spec.validate()
    assert spec.name == name


def test_spec_rejects_preferred_batch_size_above_max() -> None:
    # GIVEN a preferred batch size of 16 with max_batch_size 8
    spec = _spec(max_batch_size=8, dynamic_batching=DynamicBatching(preferred_batch_sizes=(16,)))
    # WHEN validated THEN the error names the prop, the value and the fix
    with pytest.raises(
        ValueError, match=r"preferred_batch_sizes must each be <= max_batch_size \(got 16 > 8\)"
    ):
        spec.validate()


def test_spec_collects_every_problem_in_one_error() -> None:
    # GIVEN two problems at once
    spec = _spec(
        max_batch_size=0, dynamic_batching=DynamicBatching(preferred_batch_sizes=(16,)), instance_count=0
    )
    # WHEN validated
    with pytest.raises(ValueError) as err:
        spec.validate()
    # THEN one error lists all of them after the spec's name
    message = str(err.value)
    assert message.startswith("Invalid ModelSpec 'bert': triton.max_batch_size must be >= 1 (got 0)")
    assert "triton.instance_count must be >= 1 (got 0)" in message
    assert message.count(";") >= 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": "bad name!"}, r"name must be 1-63 letters, digits, '_' or '-'.*got 'bad name!'"),
        ({"name": ""}, r"name must be"),
        ({"opset": 7}, r"opset must be between 13 and 21 \(got 7\)"),
        ({"opset": 40}, r"opset must be between 13 and 21 \(got 40\)"),
        ({"backend": "tflite"}, r"backend must be one of onnxruntime, tensorrt, pytorch, neuron \(got 'tflite'\)"),
        (
            {"backend": "tensorrt", "tensorrt_precision": "FP8"},
            r"tensorrt_precision must be one of FP16, FP32, INT8",
        ),
        ({"tolerance": Tolerance(atol=-1.0)}, r"tolerance.atol must be >= 0 \(got -1.0\)"),
        ({"tolerance": Tolerance(per_output={"logits": (0.0, -1.0)})}, r"tolerance.per_output.logits.rtol must be >= 0"),
        ({"triton": TritonOptions(max_batch_size=0)}, r"triton.max_batch_size must be >= 1 \(got 0\)"),
        (
            {"tolerance": Tolerance(atol=float("nan"), per_output={"logits": (0.0, float("inf"))})},
            r"tolerance.atol must be finite \(got nan;.*tolerance.per_output.logits.rtol must be finite \(got inf;",
        ),
        (
            {"tolerance": Tolerance(per_output={"logit": (1e-3, 1e-3)})},
            r"tolerance.per_output.logit names no output of the model \(its outputs: logits\) \(did you mean 'logits'\?\)",
        ),
        ({"triton": TritonOptions(max_batch_size=2**31)}, r"triton.max_batch_size must be <= 2147483647 \(Triton stores it as int32"),
        ({"triton": TritonOptions(instance_count=2**31)}, r"triton.instance_count must be <= 2147483647"),
        (
            {"triton": TritonOptions(dynamic_batching=DynamicBatching(max_queue_delay_microseconds=2**64))},
            r"max_queue_delay_microseconds must be <= 18446744073709551615",
        ),
        (
            {"triton": TritonOptions(dynamic_batching=DynamicBatching(preferred_batch_sizes=(0,)))},
            r"preferred_batch_sizes must each be >= 1 \(got 0\)",
        ),
        (
            {"triton": TritonOptions(dynamic_batching=DynamicBatching(preferred_batch_sizes=(4, 4)))},
            r"preferred_batch_sizes must not repeat",
        ),
        (
            {"triton": TritonOptions(dynamic_batching=DynamicBatching(max_queue_delay_microseconds=-1))},
            r"max_queue_delay_microseconds must be >= 0 \(got -1\)",
        ),
        ({"triton": TritonOptions(instance_count=0)}, r"triton.instance_count must be >= 1 \(got 0\)"),
        (
            {"triton": TritonOptions(instance_kind="KIND_TPU")},
            r"instance_kind must be one of KIND_GPU, KIND_CPU, KIND_AUTO \(got 'KIND_TPU'\)",
        ),
        (
            {"triton": TritonOptions(max_batch_size=8, warmup_batch_sizes=(16,))},
            r"warmup_batch_sizes must each be between 1 and max_batch_size 8 \(got 16\)",
        ),
        ({"triton": TritonOptions(warmup_batch_sizes=(0,))}, r"warmup_batch_sizes must each be between 1"),
        (
            {"triton": TritonOptions(ort_tensorrt=OrtTensorRT(precision_mode="FP8"))},
            r"ort_tensorrt.precision_mode must be one of FP16, FP32, INT8 \(got 'FP8'\)",
        ),
        (
            {"triton": TritonOptions(ort_tensorrt=OrtTensorRT(max_workspace_size_bytes=0))},
            r"max_workspace_size_bytes must be >= 1",
        ),
        (
            {"backend": "tensorrt", "triton": TritonOptions(ort_tensorrt=OrtTensorRT())},
            r"ort_tensorrt only applies to backend 'onnxruntime' \(got backend 'tensorrt'\)",
        ),
        (
            {"source": TransformersConfig(architecture="gpt2-lm")},
            r"source.architecture must be one of bert-sequence-classification, resnet-image-classification",
        ),
        (
            {"source": TransformersConfig(architecture="bert-sequence-classification", sequence_length=1024)},
            r"sequence_length must be <= config max_position_embeddings 512 \(got 1024\)",
        ),
        ({"source": OnnxFile(Path("/nonexistent/model.onnx"))}, r"source.path '/nonexistent/model.onnx' does not exist"),
        (
            {"source": TorchScriptFile(Path("/nonexistent.pt"), inputs=(TensorSpec("x", "FP33", (0,)),))},
            r"dtype must be one of .*got 'FP33'.*dims must be positive or -1.*'/nonexistent.pt' does not exist",
        ),
        ({"source": Factory("no_colon")}, r"source.target must look like 'package.module:function'"),
        ({"source": Factory("no_such_module_xyz:make")}, r"module 'no_such_module_xyz' cannot be found"),
    ],
)
def test_spec_rejects_invalid_option(changes: dict[str, object], expected: str) -> None:
    # GIVEN a valid spec with one option made invalid
    spec = dataclasses.replace(_spec(), **changes)  # type: ignore[arg-type]
    # WHEN validated THEN the one error says which prop, the value and what is allowed
    with pytest.raises(ValueError, match=r"^Invalid ModelSpec .*" + expected):
        spec.validate()


def test_get_example_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"Unknown example 'gpt5'; choose one of bert-tiny, bert-base"):
        get_example("gpt5")


def test_examples_have_the_seed_shapes() -> None:
    # GIVEN the seed-derived examples
    large, resnet = get_example("bert-large"), get_example("resnet50")
    # THEN bert-large is 24x1024x16 at 512 tokens, 2 labels; resnet50 is 3x224x224 with max batch 128
    assert isinstance(large.source, TransformersConfig) and isinstance(resnet.source, TransformersConfig)
    cfg = large.source.config
    assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_labels"]) == (
        24,
        1024,
        16,
        2,
    )
    assert large.source.sequence_length == 512
    assert resnet.source.image_size == 224 and resnet.source.config["num_labels"] == 1000
    assert resnet.triton.max_batch_size == 128


def test_inputs_hash_is_stable_for_equal_specs() -> None:
    # GIVEN two separately constructed equal specs WHEN hashed THEN the digests match
    assert get_example("bert-tiny").inputs_hash() == get_example("bert-tiny").inputs_hash()
    assert len(get_example("bert-tiny").inputs_hash()) == 64


@pytest.mark.parametrize(
    "changes",
    [
        {"opset": 18},
        {"name": "bert-tiny-2"},
        {"triton": TritonOptions(max_batch_size=32)},
        {"triton": TritonOptions(max_batch_size=64, dynamic_batching=DynamicBatching())},
        {"triton": TritonOptions(max_batch_size=64, instance_count=2)},
        {"tolerance": Tolerance(atol=1e-3)},
        {"source": dataclasses.replace(get_example("bert-tiny").source, seed=1)},  # type: ignore[type-var]
        {"source": dataclasses.replace(get_example("bert-tiny").source, sequence_length=64)},  # type: ignore[type-var]
    ],
)
def test_inputs_hash_changes_with_any_option_or_source(changes: dict[str, object]) -> None:
    # GIVEN the bert-tiny example and a copy with one change
    base = get_example("bert-tiny")
    changed = dataclasses.replace(base, **changes)  # type: ignore[arg-type]
    # WHEN both are hashed THEN the digests differ
    assert changed.inputs_hash() != base.inputs_hash()


def test_inputs_hash_follows_onnx_file_bytes(tmp_path: Path) -> None:
    # GIVEN an ONNX-file spec
    model = tmp_path / "m.onnx"
    model.write_bytes(b"first")
    spec = ModelSpec(name="m", source=OnnxFile(model))
    before = spec.inputs_hash()
    # WHEN the file's bytes change THEN the hash changes
    model.write_bytes(b"second")
    assert spec.inputs_hash() != before


def test_inputs_hash_follows_factory_module_bytes_and_kwargs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a factory in an importable module
    (tmp_path / "my_factory_mod.py").write_text("def make(width=4):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = ModelSpec(name="f", source=Factory("my_factory_mod:make", {"width": 4}))
    before = spec.inputs_hash()
    # WHEN the kwargs or the module's bytes change THEN the hash changes
    assert (
        dataclasses.replace(spec, source=Factory("my_factory_mod:make", {"width": 8})).inputs_hash() != before
    )
    (tmp_path / "my_factory_mod.py").write_text("def make(width=4):\n    return 1\n")
    assert spec.inputs_hash() != before


def test_inputs_hash_does_not_import_torch(modules_imported_by: Callable[..., list[str]]) -> None:
    # GIVEN a fresh interpreter WHEN it hashes every example THEN torch/onnx were never imported
    code = "from model_build.examples import EXAMPLES, get_example\n[get_example(n).inputs_hash() for n in EXAMPLES]\n"
    assert modules_imported_by(code) == []


def test_specs_are_hashable_and_equal_by_value() -> None:
    # GIVEN two separately built equal specs (their sources and tolerances hold dicts)
    a, b = get_example("bert-tiny"), get_example("bert-tiny")
    # THEN they are equal, hash equally and work as dict keys
    assert a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1
    assert hash(dataclasses.replace(a, tolerance=Tolerance(per_output={"logits": (1.0, 1.0)}))) is not None
    assert hash(ModelSpec(name="f", source=Factory("m:f", {"k": [1, 2]}))) is not None
