"""app.py's ``examples`` and ``examples_bucket`` keys: the example stacks of the other hosting options.

One synthesis of every example (``examples=all``) next to the default real-time stack, checked the
way the app's own stacks are: template assertions per example, cdk-nag, cfn-lint, determinism.
The stacks' own prop-by-prop tests live in tests/test_stack_examples_*.py and the construct tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

import app as app_module
from stacks.examples import EXAMPLES
from stacks.examples_byoc import example_model_archive
from stacks.examples_serverless import ServerlessInferenceStack
from stacks.realtime_stack import realtime_stack_id

CONTEXT = {"examples": "all", "examples_bucket": "my-models", "async_model": "none", "mme_models": "none"}
EXAMPLE_IDS = [example.stack_id for example in EXAMPLES.values()]


def _synth(outdir: Path):
    app = app_module.build_app(App(outdir=str(outdir), context=dict(CONTEXT)))
    return app, app.synth()


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    return _synth(tmp_path_factory.mktemp("examples"))


def _template(synthesized, stack_id: str) -> Template:
    app, _ = synthesized
    return Template.from_stack(app.node.find_child(stack_id))


def test_examples_all_adds_one_stack_per_option_after_the_serving_stacks(synthesized):
    _, assembly = synthesized
    assert [stack.stack_name for stack in assembly.stacks] == sorted(
        [realtime_stack_id("bert-tiny"), *EXAMPLE_IDS]
    )
    assert list(EXAMPLES) == ["serverless", "shadow-capture", "multi-container", "byoc", "inferentia"]


def test_the_examples_are_left_out_by_default():
    settings = app_module.settings_from_context({})
    assert settings["examples"] == []
    assert app_module.example_plans(settings) == []


def test_serverless_example_builds_its_model_for_cpus_with_provisioned_concurrency(synthesized):
    template = _template(synthesized, "ExampleServerless")
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like(
                    {"ServerlessConfig": Match.object_like({"MemorySizeInMB": 2048, "ProvisionedConcurrency": 1})}
                )
            ]
        },
    )
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 1)
    # The model is the app's build of bert-tiny for CPUs, planned with the serving stacks' models.
    assert ServerlessInferenceStack.planned_spec() in app_module.planned_specs(
        app_module.example_plans(app_module.settings_from_context(CONTEXT))
    )


def test_shadow_capture_example_reads_both_archives_from_examples_bucket(synthesized):
    template = _template(synthesized, "ExampleShadowCapture")
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ShadowProductionVariants": [Match.object_like({"VariantName": "Shadow"})],
            "DataCaptureConfig": Match.object_like({"InitialSamplingPercentage": 20}),
        },
    )
    models = template.find_resources("AWS::SageMaker::Model")
    urls = json.dumps(models)
    assert "my-models" in urls and "bert/v1/model.tar.gz" in urls and "bert/v2/model.tar.gz" in urls


def test_multi_container_example_has_a_serial_and_a_direct_model(synthesized):
    template = _template(synthesized, "ExampleMultiContainer")
    template.has_resource_properties(
        "AWS::SageMaker::Model", {"InferenceExecutionConfig": {"Mode": "Serial"}}
    )
    template.has_resource_properties(
        "AWS::SageMaker::Model", {"InferenceExecutionConfig": {"Mode": "Direct"}}
    )


def test_byoc_example_ships_its_image_and_its_model_archive_as_assets(synthesized):
    _, assembly = synthesized
    manifest = json.loads((Path(assembly.directory) / "ExampleByoc.assets.json").read_text())
    assert len(manifest["dockerImages"]) == 1
    # The model archive is the example's classifier, written to the build cache with fixed bytes.
    (asset,) = [f for f in manifest["files"].values() if not f["source"]["path"].endswith(".template.json")]
    staged = Path(assembly.directory) / asset["source"]["path"]
    assert staged.read_bytes() == example_model_archive().read_bytes()


def test_inferentia_example_serves_a_neuron_image_on_inf2(synthesized):
    template = _template(synthesized, "ExampleInferentia")
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InstanceType": "ml.inf2.xlarge"})]},
    )
    assert "neuronx" in json.dumps(template.find_resources("AWS::SageMaker::Model"))


def test_example_stacks_have_no_unacknowledged_nag_findings(synthesized):
    _, assembly = synthesized
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    assert [v for plugin in report["pluginReports"] for v in plugin["violations"]] == []


@pytest.mark.parametrize("stack_id", EXAMPLE_IDS)
def test_example_template_passes_cfn_lint(synthesized, cfn_lint_errors, stack_id):
    _, assembly = synthesized
    assert cfn_lint_errors(assembly.get_stack_by_name(stack_id).template) == []


def test_example_synth_is_deterministic(synthesized, tmp_path):
    _, first = synthesized
    _, second = _synth(tmp_path)
    for stack_id in EXAMPLE_IDS:
        for name in (f"{stack_id}.template.json", f"{stack_id}.assets.json"):
            assert (Path(first.directory) / name).read_text() == (Path(second.directory) / name).read_text()
