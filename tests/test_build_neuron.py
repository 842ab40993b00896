"""The Neuron compile stage: static shapes from the spec, the compile call and commands, neuron.json, and the target rule.

The Neuron SDK is not installable here (PyPI's torch-neuronx / torch-neuron are placeholders), so the
compile itself runs only on an Inferentia machine (the last test, skipped elsewhere with that reason).
Everything around it runs for real: the call constructed from the spec, the build stopping before any
work with the command to run where the SDK is, the manifest rules and the artifact-meets-target rule.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_build.backends import backend
from model_build.neuron import (
    NeuronManifest,
    NeuronManifestError,
    NeuronTarget,
    NeuronUnavailableError,
    neuron_build_commands,
    neuron_compile_call,
    neuron_sdk_version,
    write_neuron_manifest,
)
from model_build.sources import TensorSpec, TransformersConfig
from model_build.spec import ModelSpec
from model_build.user_errors import UserError

BERT_INPUTS = (TensorSpec("input_ids", "INT64", (-1,)), TensorSpec("attention_mask", "INT64", (-1,)))
TINY_BERT = TransformersConfig(
    architecture="bert-sequence-classification",
    config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 37},
    sequence_length=16,
)


def _manifest(built_for: str = "inf2", **changes: object) -> NeuronManifest:
    target = NeuronTarget(target=built_for, batch_size=4, sequence_length=128)
    data = json.loads(NeuronManifest.of(neuron_compile_call(target, BERT_INPUTS), target, "2.21.0").to_json())
    data.update(changes)
    return NeuronManifest.from_json(json.dumps(data), source="bert/neuron.json")


def test_the_compile_call_fixes_batch_and_sequence_length_from_the_spec() -> None:
    # GIVEN an inf2 target with batch 4, sequence length 128 and compiler flags, and BERT's dynamic token inputs
    target = NeuronTarget(target="inf2", batch_size=4, sequence_length=128, compiler_args=("--auto-cast", "matmult"))
    # WHEN the call is constructed
    call = neuron_compile_call(target, BERT_INPUTS)
    # THEN it is torch_neuronx.trace with static [4, 128] INT64 examples and the flags as compiler_args
    assert call.module == "torch_neuronx"
    assert call.examples() == [("input_ids", (4, 128), "INT64"), ("attention_mask", (4, 128), "INT64")]
    assert call.python() == (
        "torch_neuronx.trace(model, example_inputs  # (input_ids: [4, 128] INT64, attention_mask: [4, 128] INT64)\n"
        "    , compiler_args=['--auto-cast', 'matmult'])"
    )
    # AND inf1 compiles with torch_neuron; fixed dims stay as they are
    image = (TensorSpec("pixel_values", "FP32", (3, 224, 224)),)
    inf1 = neuron_compile_call(NeuronTarget(target="inf1", batch_size=2), image)
    assert inf1.module == "torch_neuron" and inf1.example_shapes == ((2, 3, 224, 224),)


def test_a_dynamic_dimension_without_sequence_length_is_named() -> None:
    with pytest.raises(UserError, match=r"neuron_target.sequence_length is missing, but input 'input_ids' has a dynamic"):
        neuron_compile_call(NeuronTarget(target="inf2"), BERT_INPUTS)


def test_the_commands_to_run_where_the_sdk_is() -> None:
    assert neuron_build_commands("inf2", "my model.toml") == (
        "python -m pip install --extra-index-url https://pip.repos.neuron.amazonaws.com torch-neuronx neuronx-cc",
        "python -m model_build build --spec 'my model.toml'",
    )
    assert neuron_build_commands("inf1")[0].endswith("torch-neuron neuron-cc")


def test_the_spec_carries_the_target_into_its_hash_only_when_set() -> None:
    plain = ModelSpec(name="bert", source=TINY_BERT)
    neuron = ModelSpec(name="bert", source=TINY_BERT, backend="neuron", neuron_target=NeuronTarget(target="inf2"))
    inf1 = ModelSpec(name="bert", source=TINY_BERT, backend="neuron", neuron_target=NeuronTarget(target="inf1"))
    # Specs without it keep their hash (no new key); inf1 and inf2 builds are different artifacts
    assert "neuron_target" not in plain.options_dict()
    assert neuron.options_dict()["neuron_target"] == {
        "target": "inf2", "batch_size": 1, "sequence_length": None, "compiler_args": []
    }  # fmt: skip
    assert len({plain.inputs_hash(), neuron.inputs_hash(), inf1.inputs_hash()}) == 3
    neuron.validate()
    assert backend("neuron").requires_inferentia and not backend("neuron").requires_nvidia_gpu


def test_a_sequence_length_other_than_the_sources_is_refused() -> None:
    spec = ModelSpec(
        name="bert", source=TINY_BERT, backend="neuron", neuron_target=NeuronTarget(target="inf2", sequence_length=64)
    )
    with pytest.raises(UserError, match=r"neuron_target\.sequence_length 64 differs from the source's sequence_length 16"):
        spec.validate()


def test_the_spec_file_reads_the_neuron_target(tmp_path: Path) -> None:
    from model_build.spec_file import load_spec_file

    path = tmp_path / "bert.toml"
    path.write_text(
        'name = "bert"\nbackend = "neuron"\n[neuron_target]\ntarget = "inf2"\nbatch_size = 2\nsequence_length = 16\n'
        'compiler_args = ["--auto-cast", "none"]\n[source]\nkind = "transformers"\n'
        'architecture = "bert-sequence-classification"\nsequence_length = 16\n'
    )
    spec = load_spec_file(path)
    assert spec.neuron_target == NeuronTarget(target="inf2", batch_size=2, sequence_length=16, compiler_args=("--auto-cast", "none"))


def test_the_build_stops_before_loading_when_the_sdk_is_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from model_build.pipeline import build

    if neuron_sdk_version("inf2") is not None:
        pytest.skip("torch-neuronx is installed here (an Inferentia machine); the missing-SDK path cannot happen")
    loads: list[str] = []
    monkeypatch.setattr(TransformersConfig, "load", lambda self: loads.append("load"))
    spec = ModelSpec(name="bert", source=TINY_BERT, backend="neuron", neuron_target=NeuronTarget(target="inf2"))
    with pytest.raises(NeuronUnavailableError, match=r"torch_neuronx is not installed here.*--spec bert.toml"):
        build(spec, cache_dir=tmp_path / "cache")
    assert loads == []
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []


def test_the_manifest_round_trips_and_names_each_bad_field(tmp_path: Path) -> None:
    manifest = _manifest()
    written = write_neuron_manifest(tmp_path, manifest)
    assert written.name == "neuron.json"
    assert NeuronManifest.from_json(written.read_text(), source="neuron.json") == manifest
    assert manifest.inputs[0] == {"name": "input_ids", "dtype": "INT64", "shape": [4, 128]}
    with pytest.raises(NeuronManifestError) as error:
        _manifest(target="inf3", batch_size=8, sdk_version="x")
    message = str(error.value)
    assert message.startswith("bert/neuron.json is not a valid Neuron manifest: ")
    assert "unknown field 'sdk_version' (did you mean 'neuron_sdk_version'?)" in message
    with pytest.raises(NeuronManifestError) as error:
        _manifest(target="inf3", batch_size=8)
    message = str(error.value)
    assert "target must be one of inf1, inf2 (got 'inf3')" in message
    assert "inputs[0].shape must start with batch_size 8 (got [4, 128])" in message
    assert message.endswith("rebuild the model with model_build (backend='neuron'), which writes neuron.json")


@pytest.mark.parametrize(
    ("target", "instance_type", "needles"),
    [
        ("inf2", "ml.inf2.xlarge", ()),
        ("inf2", "ml.inf2.48xlarge", ()),
        ("inf1", "ml.inf1.2xlarge", ()),
        (
            "inf2", "ml.inf1.xlarge",
            ("compiled for inf2 (torch-neuronx, Neuron SDK 2.21.0) and cannot run on ml.inf1.xlarge (inf1)",
             "rebuild it with target='inf1' (torch-neuron) — ModelSpec(backend='neuron', "
             "neuron_target=NeuronTarget(target='inf1', batch_size=4, sequence_length=128))"),
        ),
        ("inf1", "ml.inf2.xlarge", ("compiled for inf1", "NeuronTarget(target='inf2'", "or deploy it on an ml.inf1.* instance type")),
        ("inf2", "ml.g5.xlarge", ("runs only on ml.inf2.* instance types, not on ml.g5.xlarge (gpu)",)),
        ("inf2", "ml.m5.xlarge", ("not on ml.m5.xlarge (cpu)", "rebuild the model without the Neuron compile stage")),
    ],
)  # fmt: skip
def test_an_artifact_meets_its_target_in_one_place(target: str, instance_type: str, needles: tuple[str, ...]) -> None:
    # GIVEN the manifest the stage writes, compiled for one target WHEN checked against a variant's instance type
    problems = _manifest(target).target_problems(instance_type)
    # THEN it fits its own generation only (model_build.neuron_target's rule), and the message says what to rebuild
    assert bool(problems) == bool(needles)
    for needle in needles:
        assert needle in problems[0], problems


@pytest.mark.skipif(neuron_sdk_version("inf2") is None, reason="needs torch-neuronx: an Inferentia2 instance or the Neuron DLC")
def test_compile_on_inferentia2(tmp_path: Path) -> None:  # pragma: no cover - runs on inf2 hardware only
    from model_build.pipeline import build

    spec = ModelSpec(
        name="bert", source=TINY_BERT, backend="neuron", neuron_target=NeuronTarget(target="inf2", sequence_length=16)
    )
    result = build(spec, cache_dir=tmp_path / "cache")
    manifest = NeuronManifest.from_json(
        (result.repository_dir / "bert" / "neuron.json").read_text(), source="neuron.json"
    )
    assert manifest.target == "inf2" and manifest.inputs[0]["shape"] == [1, 16]
    assert manifest.target_problems("ml.inf2.xlarge") == []
