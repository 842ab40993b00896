"""model_build.local_serving: the python-backend twin of a production repository, served by real Triton."""

from __future__ import annotations

import concurrent.futures
import threading
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2 as mc

from model_build.local_serving import local_config, make_local_repository
from triton_runtime.server import TritonServer

MODEL = "tiny_bert"
SEQ = 8
VOCAB = 100
NUM_LABELS = 3
ATOL, RTOL = 1e-5, 1e-4


def production_config() -> mc.ModelConfig:
    """What the production build would write: ONNX Runtime on a GPU, dynamic batching, two instances."""
    config = mc.ModelConfig(
        name=MODEL,
        platform="onnxruntime_onnx",
        max_batch_size=8,
        dynamic_batching=mc.ModelDynamicBatching(max_queue_delay_microseconds=100_000),
    )
    for name in ("input_ids", "attention_mask"):
        config.input.add(name=name, data_type=mc.TYPE_INT64, dims=[-1])
    config.output.add(name="logits", data_type=mc.TYPE_FP32, dims=[NUM_LABELS])
    config.instance_group.add(count=2, kind=mc.ModelInstanceGroup.KIND_GPU, gpus=[0])
    accelerator = config.optimization.execution_accelerators.gpu_execution_accelerator.add(name="tensorrt")
    accelerator.parameters["precision_mode"] = "FP16"
    warmup = config.model_warmup.add(name="zeros", batch_size=1)
    for name in ("input_ids", "attention_mask"):
        warmup.inputs[name].CopyFrom(
            mc.ModelWarmup.Input(data_type=mc.TYPE_INT64, dims=[SEQ], zero_data=True)
        )
    return config


@pytest.fixture(scope="module")
def tiny_model():
    """A 2-layer BERT classifier with seeded, non-trivial weights (nothing is downloaded)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    bert = transformers.BertForSequenceClassification(
        transformers.BertConfig(
            vocab_size=VOCAB,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=32,
            num_labels=NUM_LABELS,
            # Larger than BERT's 0.02 so logits differ clearly between rows.
            initializer_range=0.3,
        )
    ).eval()

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).logits

    return Logits().eval()


def make_inputs(rows: int, seed: int) -> dict[str, np.ndarray]:
    """Distinct token ids per row, and padding that differs by row, so swapped or constant data shows."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB, size=(rows, SEQ), dtype=np.int64)
    mask = np.ones((rows, SEQ), dtype=np.int64)
    for row in range(rows):
        mask[row, SEQ - (row % 3) :] = 0
    return {"input_ids": ids, "attention_mask": mask}


def torch_logits(model, inputs: dict[str, np.ndarray]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return model(
            torch.from_numpy(inputs["input_ids"]), torch.from_numpy(inputs["attention_mask"])
        ).numpy()


def kserve_request(inputs: dict[str, np.ndarray]) -> dict:
    return {
        "inputs": [
            {"name": name, "shape": list(array.shape), "datatype": "INT64", "data": array.ravel().tolist()}
            for name, array in inputs.items()
        ]
    }


def logits_of(response: dict) -> np.ndarray:
    (output,) = [o for o in response["outputs"] if o["name"] == "logits"]
    return np.asarray(output["data"], dtype=np.float32).reshape(output["shape"])


@pytest.fixture(scope="module")
def production_repository(tmp_path_factory, tiny_model) -> Path:
    import torch

    repository = tmp_path_factory.mktemp("production") / "repo"
    (repository / MODEL / "1").mkdir(parents=True)
    example = make_inputs(2, seed=0)
    torch.onnx.export(
        tiny_model,
        (torch.from_numpy(example["input_ids"]), torch.from_numpy(example["attention_mask"])),
        str(repository / MODEL / "1" / "model.onnx"),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "seq"},
            "attention_mask": {0: "batch", 1: "seq"},
            "logits": {0: "batch"},
        },
        opset_version=17,
        dynamo=False,
    )
    (repository / MODEL / "config.pbtxt").write_text(text_format.MessageToString(production_config()))
    return repository


@pytest.fixture(scope="module")
def local_repository(production_repository, tmp_path_factory) -> Path:
    return make_local_repository(
        production_repository, tmp_path_factory.mktemp("local") / "repo", instance_kind="KIND_CPU"
    )


@pytest.fixture(scope="module")
def server(local_repository):
    with TritonServer(local_repository, default_model=MODEL) as running:
        yield running


# ------------------------------------------------------------------ the config (fast)


def test_local_config_keeps_the_client_contract_and_swaps_the_backend():
    # GIVEN the production config of an ONNX Runtime model on two GPU instances
    production = production_config()
    # WHEN deriving its local twin for a CPU-only machine
    local = local_config(production, instance_kind="KIND_CPU")
    # THEN clients see the same model; the python backend runs it on CPU through ONNX Runtime
    assert list(local.input) == list(production.input)
    assert list(local.output) == list(production.output)
    assert local.max_batch_size == production.max_batch_size
    assert local.dynamic_batching == production.dynamic_batching
    assert [(g.count, g.kind, list(g.gpus)) for g in local.instance_group] == [
        (2, mc.ModelInstanceGroup.KIND_CPU, [])
    ]
    assert (local.backend, local.platform) == ("python", "")
    assert not local.HasField("optimization")
    assert [w.name for w in local.model_warmup] == ["zeros"]
    assert {k: v.string_value for k, v in local.parameters.items()} == {
        "executor": "onnxruntime",
        "model_file": "model.onnx",
    }
    assert production.platform == "onnxruntime_onnx"  # the input is not modified


def test_local_config_for_torch_fp16_names_the_torchscript_file_and_precision():
    # GIVEN the production config WHEN asking for the torch executor in fp16
    local = local_config(production_config(), executor="torch", precision="fp16", instance_kind="gpu")
    # THEN model.py is told to load model.pt in half precision on GPU instances
    assert {k: v.string_value for k, v in local.parameters.items()} == {
        "executor": "torch",
        "model_file": "model.pt",
        "precision": "fp16",
    }
    assert local.instance_group[0].kind == mc.ModelInstanceGroup.KIND_GPU


def test_local_config_rejects_bad_options_all_at_once():
    # GIVEN / WHEN / THEN every problem is named in one error
    with pytest.raises(
        ValueError, match=r"executor must be one of.*instance_kind must be.*precision must be"
    ):
        local_config(production_config(), executor="tensorrt", instance_kind="tpu", precision="int8")


def test_local_repository_has_model_py_model_onnx_and_a_parseable_config(
    production_repository, local_repository
):
    # GIVEN the local variant of the production repository
    model_dir = local_repository / MODEL
    # WHEN reading it back
    config = text_format.Parse((model_dir / "config.pbtxt").read_text(), mc.ModelConfig())
    # THEN it is a python-backend model next to the very same model.onnx
    assert config.backend == "python"
    assert (model_dir / "1" / "model.py").read_text().startswith('"""Triton python-backend')
    onnx_bytes = (production_repository / MODEL / "1" / "model.onnx").read_bytes()
    assert (model_dir / "1" / "model.onnx").read_bytes() == onnx_bytes
    assert not list(local_repository.parent.glob(".repo.tmp-*"))


def test_torch_executor_without_torchscript_names_the_missing_file(production_repository, tmp_path):
    # GIVEN a production repository with model.onnx only
    # WHEN asking for the torch executor THEN the error says which file is missing and how to provide it
    with pytest.raises(ValueError, match=r"model\.pt.*torchscript="):
        make_local_repository(production_repository, tmp_path / "local", executor="torch")
    assert not (tmp_path / "local").exists()


# ------------------------------------------------------------------ served by real Triton


@pytest.mark.slow
def test_local_repository_answers_equal_to_torch(server, tiny_model):
    # GIVEN four distinct rows with different padding
    inputs = make_inputs(4, seed=1)
    expected = torch_logits(tiny_model, inputs)
    assert np.abs(expected[:, None, :] - expected[None, :, :]).max() > 100 * ATOL  # rows really differ
    # WHEN invoking the default model through SageMaker's /invocations
    answer = logits_of(server.invocations(kserve_request(inputs)))
    # THEN the answer is torch's, row by row
    np.testing.assert_allclose(answer, expected, atol=ATOL, rtol=RTOL)


@pytest.mark.slow
def test_local_repository_batches_concurrent_requests_and_returns_each_callers_rows(server, tiny_model):
    # GIVEN 12 callers with distinct inputs of 1-3 rows each
    cases = [make_inputs(1 + i % 3, seed=100 + i) for i in range(12)]
    before = server.model_statistics(MODEL)["model_stats"][0]
    barrier = threading.Barrier(len(cases))

    def call(inputs):
        barrier.wait()  # fire together so the dynamic batcher sees them in one queue window
        return logits_of(server.invocations(kserve_request(inputs)))

    # WHEN they call at the same time
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(cases)) as pool:
        answers = list(pool.map(call, cases))
    after = server.model_statistics(MODEL)["model_stats"][0]
    # THEN each caller gets torch's answer for its own rows...
    for inputs, answer in zip(cases, answers, strict=True):
        np.testing.assert_allclose(answer, torch_logits(tiny_model, inputs), atol=ATOL, rtol=RTOL)
    # ...and model.py ran fewer times than it was called: requests were concatenated into batches
    requests_served = int(after["inference_stats"]["success"]["count"]) - int(
        before["inference_stats"]["success"]["count"]
    )
    executions = int(after["execution_count"]) - int(before["execution_count"])
    assert requests_served == len(cases)
    assert executions < len(cases)


@pytest.mark.slow
def test_kserve_config_of_the_loaded_model_matches_production(server):
    # GIVEN the production config
    production = production_config()
    # WHEN reading the loaded model's config from Triton
    loaded = json_format.ParseDict(server.model_config(MODEL), mc.ModelConfig(), ignore_unknown_fields=True)
    # THEN inputs, outputs and batching are production's; instances are counted the same
    assert [(i.name, i.data_type, list(i.dims)) for i in loaded.input] == [
        (i.name, i.data_type, list(i.dims)) for i in production.input
    ]
    assert [(o.name, o.data_type, list(o.dims)) for o in loaded.output] == [
        (o.name, o.data_type, list(o.dims)) for o in production.output
    ]
    assert loaded.max_batch_size == production.max_batch_size
    assert (
        loaded.dynamic_batching.max_queue_delay_microseconds
        == production.dynamic_batching.max_queue_delay_microseconds
    )
    assert sum(g.count for g in loaded.instance_group) == 2
    assert loaded.backend == "python"


@pytest.mark.slow
def test_torch_executor_answers_equal_to_torch(production_repository, tiny_model, tmp_path):
    import torch

    # GIVEN a TorchScript trace of the model and the local variant that runs it with torch
    example = make_inputs(3, seed=7)
    with torch.inference_mode():
        scripted = torch.jit.trace(
            tiny_model, (torch.from_numpy(example["input_ids"]), torch.from_numpy(example["attention_mask"]))
        )
    scripted.save(str(tmp_path / "model.pt"))
    local = make_local_repository(
        production_repository,
        tmp_path / "local",
        executor="torch",
        instance_kind="KIND_CPU",
        torchscript={MODEL: tmp_path / "model.pt"},
    )
    # WHEN serving it and invoking with distinct rows
    inputs = make_inputs(3, seed=8)
    with TritonServer(local, default_model=MODEL) as server:
        answer = logits_of(server.invocations(kserve_request(inputs)))
    # THEN the answer is the eager model's
    np.testing.assert_allclose(answer, torch_logits(tiny_model, inputs), atol=ATOL, rtol=RTOL)


@pytest.mark.slow
def test_pipeline_build_of_bert_tiny_serves_locally_equal_to_its_source(tmp_path):
    import torch

    from model_build.examples import get_example
    from model_build.pipeline import build
    from model_build.sources import random_inputs

    # GIVEN the bert-tiny example built by the pipeline, and its source model
    spec = get_example("bert-tiny")
    built = build(spec, cache_dir=tmp_path / "cache")
    source = spec.source.load()
    inputs = random_inputs(source.inputs, batch_size=3, seed=11)
    with torch.inference_mode():
        expected = source.module(*(torch.from_numpy(inputs[s.name]) for s in source.inputs))
    expected = (expected[0] if isinstance(expected, (tuple, list)) else expected).numpy()
    # WHEN serving the local variant of its repository and invoking the default model
    local = make_local_repository(built.repository_dir, tmp_path / "local")
    with TritonServer(local, default_model=built.name) as server:
        response = server.invocations(
            {
                "inputs": [
                    {"name": n, "shape": list(a.shape), "datatype": "INT64", "data": a.ravel().tolist()}
                    for n, a in inputs.items()
                ]
            }
        )
    # THEN the served answer is the source model's
    (output,) = response["outputs"]
    answer = np.asarray(output["data"], dtype=np.float32).reshape(output["shape"])
    np.testing.assert_allclose(answer, expected, atol=1e-4, rtol=1e-3)


@pytest.mark.slow
@pytest.mark.gpu
def test_torch_executor_fp16_on_gpu_answers_close_to_torch(production_repository, tiny_model, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA: the fp16 torch executor is the GPU benchmark path")
    # GIVEN a TorchScript trace made on the GPU (a CPU trace can bake CPU devices into the graph)
    model = tiny_model.to("cuda")
    example = make_inputs(3, seed=7)
    with torch.inference_mode():
        scripted = torch.jit.trace(
            model,
            (
                torch.from_numpy(example["input_ids"]).cuda(),
                torch.from_numpy(example["attention_mask"]).cuda(),
            ),
        )
    scripted.save(str(tmp_path / "model.pt"))
    tiny_model.to("cpu")
    local = make_local_repository(
        production_repository,
        tmp_path / "local",
        executor="torch",
        instance_kind="KIND_GPU",
        precision="fp16",
        torchscript={MODEL: tmp_path / "model.pt"},
    )
    # WHEN serving it in fp16 on the GPU
    inputs = make_inputs(3, seed=8)
    with TritonServer(local, default_model=MODEL) as server:
        answer = logits_of(server.invocations(kserve_request(inputs)))
    # THEN the answer is fp32 torch's within fp16 error, row by row
    np.testing.assert_allclose(answer, torch_logits(tiny_model, inputs), atol=2e-2, rtol=2e-2)


@pytest.mark.slow
def test_torch_executor_runs_a_compiled_export_program_padded_to_batch_buckets(
    production_repository, tiny_model, tmp_path
):
    import torch

    # GIVEN a torch.export program of the model with a dynamic batch axis, served compiled and padded to
    # batch buckets (the GPU benchmark's configuration, here on the CPU)
    example = make_inputs(2, seed=7)
    batch = torch.export.Dim("batch", min=1, max=8)
    program = torch.export.export(
        tiny_model,
        (torch.from_numpy(example["input_ids"]), torch.from_numpy(example["attention_mask"])),
        dynamic_shapes=({0: batch}, {0: batch}),
    )
    torch.export.save(program, str(tmp_path / "model.pt2"))
    local = make_local_repository(
        production_repository,
        tmp_path / "local",
        executor="torch",
        instance_kind="KIND_CPU",
        torchscript={MODEL: tmp_path / "model.pt2"},
        compile_mode="default",
        batch_buckets=(4, 8),
    )
    config = text_format.Parse((local / MODEL / "config.pbtxt").read_text(), mc.ModelConfig())
    assert config.parameters["model_file"].string_value == "model.pt2"
    assert config.parameters["batch_buckets"].string_value == "4,8"
    # WHEN invoking with 3 distinct rows (padded to the bucket of 4 inside the server)
    inputs = make_inputs(3, seed=8)
    with TritonServer(local, default_model=MODEL) as server:
        answer = logits_of(server.invocations(kserve_request(inputs)))
    # THEN each caller row gets its own answer, equal to eager torch's; padding rows are dropped
    assert answer.shape == (3, NUM_LABELS)
    np.testing.assert_allclose(answer, torch_logits(tiny_model, inputs), atol=1e-4, rtol=1e-3)


def test_local_config_rejects_compile_and_buckets_outside_the_torch_executor():
    # GIVEN the production config  WHEN asking the ONNX Runtime executor to compile with oversized buckets
    with pytest.raises(ValueError, match=r"compile_mode and batch_buckets need executor='torch'") as error:
        local_config(production_config(), executor="onnxruntime", compile_mode="default", batch_buckets=(64,))
    # THEN one error names every problem, the bucket bound included
    assert "batch_buckets must each be in 1..max_batch_size=8 (got [64])" in str(error.value)
