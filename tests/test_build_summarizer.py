"""model_build: the pegasus-tiny summarizer (seed 002's stand-in), greedy decoding in one graph, built and served.

One build per module (the project's build cache, shared with ``make demo``), one Triton start.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_build.examples import get_example
from model_build.local_serving import make_local_repository
from model_build.pipeline import BuildResult, build
from model_build.sources import TransformersConfig
from model_build.spec import ModelSpec, ModelSpecError, Tolerance
from model_build.spec_file import load_spec_file
from model_build.triton_config import parse_config
from rehearsal.reference import PEGASUS_EOS_ID, ModelReference, kserve_outputs, kserve_request
from triton_runtime.server import TritonServer

NAME = "pegasus-tiny"
SPEC = get_example(NAME)
assert isinstance(SPEC.source, TransformersConfig)
SEQ, NEW_TOKENS, VOCAB = SPEC.source.sequence_length, SPEC.source.max_new_tokens, SPEC.source.config["vocab_size"]
PAD_ID = 0


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return SPEC


@pytest.fixture(scope="module")
def built(spec: ModelSpec) -> BuildResult:
    return build(spec)


@pytest.fixture(scope="module")
def reference(spec: ModelSpec, built: BuildResult) -> ModelReference:
    """The source model loaded once (torch), answering as the endpoint should."""
    return ModelReference(spec, built.manifest)


def generate_summary(model: Any, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """``transformers``' own greedy ``generate``, without the decoder start token, padded to NEW_TOKENS."""
    import torch

    with torch.inference_mode():
        sequences = model.generate(
            input_ids=torch.from_numpy(inputs["input_ids"]),
            attention_mask=torch.from_numpy(inputs["attention_mask"]),
            do_sample=False,
            num_beams=1,
            max_new_tokens=NEW_TOKENS,
        )[:, 1:]
    # generate stops when every row has ended; the graph always returns NEW_TOKENS columns.
    return np.pad(sequences.numpy(), ((0, 0), (0, NEW_TOKENS - sequences.shape[1])), constant_values=PAD_ID)


def wrapper_summary(module: Any, inputs: dict[str, np.ndarray]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return module(torch.from_numpy(inputs["input_ids"]), torch.from_numpy(inputs["attention_mask"])).numpy()


# ------------------------------------------------------------------ the build


def test_pegasus_tiny_build_declares_token_inputs_and_int64_summary_ids(built: BuildResult) -> None:
    # GIVEN the pegasus-tiny example built by the pipeline
    manifest = built.manifest
    # THEN the graph takes two INT64 [128] inputs and returns INT64 [max_new_tokens] token ids
    assert manifest["inputs"] == [
        {"name": "input_ids", "dtype": "INT64", "dims": [SEQ]},
        {"name": "attention_mask", "dtype": "INT64", "dims": [SEQ]},
    ]
    assert manifest["outputs"] == [{"name": "summary_ids", "dtype": "INT64", "dims": [NEW_TOKENS]}]
    # AND ONNX Runtime chose exactly torch's tokens at both verified batch sizes
    (check,) = manifest["verification"]["outputs"]
    assert manifest["verification"]["passed"] and manifest["verification"]["batch_sizes"] == [1, 3]
    assert (check["name"], check["atol"], check["rtol"], check["max_abs_diff"]) == ("summary_ids", 0.0, 0.0, 0.0)
    # AND Triton's config says the same, with a dynamic batch up to 8
    config = parse_config((built.repository_dir / NAME / "config.pbtxt").read_text())
    assert config.max_batch_size == 8 and config.platform == "onnxruntime_onnx"
    assert [(o.name, list(o.dims)) for o in config.output] == [("summary_ids", [NEW_TOKENS])]
    # AND the tied 96103 x 64 embedding is stored once, not again as a transposed lm_head copy
    embedding_bytes = VOCAB * 64 * 4
    assert embedding_bytes < manifest["model_file"]["size_bytes"] < 1.5 * embedding_bytes


# ------------------------------------------------------------------ it is greedy decoding


def test_greedy_summarizer_equals_transformers_generate(reference: ModelReference) -> None:
    # GIVEN the source module and eight tokenizer-shaped articles of different lengths
    inputs = reference.inputs(batch_size=8, seed=21)
    # WHEN the wrapper and transformers' generate(do_sample=False, num_beams=1) summarize them
    summary = wrapper_summary(reference.loaded.module, inputs)
    # THEN the token ids are the same, and the seeded model's summaries depend on the article
    np.testing.assert_array_equal(summary, generate_summary(reference.loaded.module.inner, inputs))
    assert summary.shape == (8, NEW_TOKENS) and summary.dtype == np.int64
    assert len({tuple(row) for row in summary.tolist()}) > 4
    # AND every summary ends with PEGASUS's EOS (forced at the last step, as generate forces it)
    assert (summary[:, -1] == PEGASUS_EOS_ID).all()


@pytest.mark.parametrize(
    ("eos_boost", "all_end_at_once"),
    [(15.0, False), (25.0, True)],
    ids=["some-rows-end-early", "every-row-ends-at-the-first-step"],
)
def test_greedy_summarizer_pads_rows_after_eos_as_generate_does(
    spec: ModelSpec, reference: ModelReference, eos_boost: float, all_end_at_once: bool
) -> None:
    # GIVEN a fresh copy of the model whose EOS logit is raised, so summaries end before the last token
    module = spec.source.load().module
    module.inner.final_logits_bias[0, PEGASUS_EOS_ID] += eos_boost
    inputs = reference.inputs(batch_size=8, seed=3)
    # WHEN the wrapper and generate summarize the same articles
    summary = wrapper_summary(module, inputs)
    expected = generate_summary(module.inner, inputs)
    # THEN the rows that ended early are padded after their EOS exactly as generate pads them
    ends = [row.index(PEGASUS_EOS_ID) for row in summary.tolist()]
    assert min(ends) < NEW_TOKENS - 1
    assert (max(ends) == 0) == all_end_at_once
    np.testing.assert_array_equal(summary, expected)
    for row, end in zip(summary, ends, strict=True):
        assert (row[end + 1 :] == PAD_ID).all()


def test_pegasus_weights_dir_loads_a_local_checkpoint_instead_of_seeded_weights(
    reference: ModelReference, tmp_path: Path
) -> None:
    # GIVEN the model saved as a local checkpoint (what a downloaded google/pegasus-xsum folder is)
    reference.loaded.module.inner.save_pretrained(tmp_path / "checkpoint")
    source = TransformersConfig(
        architecture="pegasus-summarization",
        weights_dir=tmp_path / "checkpoint",
        seed=123,
        sequence_length=SEQ,
        max_new_tokens=NEW_TOKENS,
    )
    assert source.problems() == []
    # WHEN it is loaded from the folder (a different seed: the weights come from the files)
    loaded = source.load()
    # THEN it summarizes exactly as the model that was saved
    inputs = reference.inputs(batch_size=3, seed=4)
    np.testing.assert_array_equal(wrapper_summary(loaded.module, inputs), wrapper_summary(reference.loaded.module, inputs))


# ------------------------------------------------------------------ served by the real Triton


@pytest.mark.slow
def test_pegasus_tiny_served_by_triton_answers_the_torch_summary(
    built: BuildResult, reference: ModelReference, tmp_path: Path
) -> None:
    # GIVEN the python-backend twin of the built repository, served by Triton, and PEGASUS-shaped rows
    local = make_local_repository(built.repository_dir, tmp_path / "local")
    inputs = reference.inputs(batch_size=3, seed=5)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    for row_ids, row_mask in zip(ids, mask, strict=True):
        n = int(row_mask.sum())
        assert row_ids[n - 1] == PEGASUS_EOS_ID and (row_ids[n:] == PAD_ID).all() and row_ids[0] >= 1996
    # WHEN the rehearsal's KServe JSON request goes through /invocations
    with TritonServer(local, default_model=built.name) as server:
        response = server.invocations(json.loads(kserve_request(inputs)))
    # THEN the endpoint returns INT64 [3, max_new_tokens] summary ids equal to torch's, which stay integers
    (output,) = response["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("summary_ids", "INT64", [3, NEW_TOKENS])
    served = kserve_outputs(json.dumps(response).encode())["summary_ids"]
    want = reference.outputs(inputs)["summary_ids"]
    assert want.dtype == np.int64
    np.testing.assert_array_equal(served, want)


# ------------------------------------------------------------------ the spec (no torch)


def test_pegasus_source_refuses_lengths_the_model_cannot_take() -> None:
    # GIVEN a summarizer whose positions stop at 64, asked for 65 input and 64 output tokens
    source = TransformersConfig(
        architecture="pegasus-summarization",
        config={"max_position_embeddings": 64},
        sequence_length=65,
        max_new_tokens=64,
    )
    # WHEN the spec is validated THEN both lengths are named with the limit and the fix, in one error
    with pytest.raises(ModelSpecError) as raised:
        ModelSpec(name="summarizer", source=source).validate()
    message = str(raised.value)
    assert "source.sequence_length must be <= config max_position_embeddings 64 (got 65)" in message
    assert "source.max_new_tokens must be < config max_position_embeddings 64 (got 64" in message
    # AND a summary of no tokens, or a length given as a string, is refused before any build
    zero = TransformersConfig(architecture="pegasus-summarization", max_new_tokens=0)
    assert any("source.max_new_tokens must be >= 1 (got 0)" in p for p in zero.problems())
    text = TransformersConfig(architecture="pegasus-summarization", max_new_tokens="16")  # type: ignore[arg-type]
    assert any(p.startswith("source.max_new_tokens") for p in text.problems())


def test_pegasus_tolerance_must_name_summary_ids() -> None:
    # GIVEN a summarizer spec with a per-output tolerance for a classifier's "logits"
    spec = ModelSpec(
        name="summarizer",
        source=TransformersConfig(architecture="pegasus-summarization"),
        tolerance=Tolerance(per_output={"logits": (0.0, 0.0)}),
    )
    # WHEN validated THEN the error names the summarizer's real output
    with pytest.raises(ModelSpecError, match=r"tolerance.per_output.logits names no output of the model \(its outputs: summary_ids\)"):
        spec.validate()


def test_max_new_tokens_is_hashed_for_pegasus_only(spec: ModelSpec) -> None:
    # GIVEN the pegasus-tiny spec and a BERT source
    assert isinstance(spec.source, TransformersConfig)
    longer = ModelSpec(name=NAME, source=dataclasses.replace(spec.source, max_new_tokens=NEW_TOKENS + 4))
    bert = TransformersConfig(architecture="bert-sequence-classification")
    # THEN a different summary length is a different build, and BERT's key (so its cache and CDK
    # asset) does not carry the field it ignores
    assert longer.inputs_hash() != ModelSpec(name=NAME, source=spec.source).inputs_hash()
    assert spec.source.describe()["max_new_tokens"] == NEW_TOKENS
    assert "max_new_tokens" not in bert.describe()
    assert bert.fingerprint() == TransformersConfig(architecture="bert-sequence-classification", max_new_tokens=8).fingerprint()


def test_spec_file_sets_the_summary_length(tmp_path: Path) -> None:
    # GIVEN a spec file for a PEGASUS checkpoint folder with a summary length
    (tmp_path / "pegasus-xsum").mkdir()
    path = tmp_path / "summarizer.toml"
    path.write_text(
        'name = "summarizer"\n'
        "[source]\n"
        'kind = "transformers"\n'
        'architecture = "pegasus-summarization"\n'
        'weights_dir = "pegasus-xsum"\n'
        "sequence_length = 512\n"
        "max_new_tokens = 64\n"
        "[tolerance]\n"
        "atol = 0.0\n"
        "rtol = 0.0\n"
    )
    # WHEN it is read
    loaded = load_spec_file(path)
    # THEN the source has the lengths and the folder, relative to the file
    assert isinstance(loaded.source, TransformersConfig)
    assert (loaded.source.sequence_length, loaded.source.max_new_tokens) == (512, 64)
    assert Path(loaded.source.weights_dir or "") == tmp_path / "pegasus-xsum"
