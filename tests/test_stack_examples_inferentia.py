"""The Inferentia example stack: template, cfn-lint, cdk-nag, and the refusal of a wrong target."""

from __future__ import annotations

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from serving_constructs import InstanceType, PropsError
from stacks.examples_inferentia import InferentiaExampleStack

MANIFEST = {"target": "inf2", "neuron_sdk_version": "2.26.0", "batch_size": 4, "sequence_length": 128}
PROPS = {"bucket_name": "models-bucket", "key": "bert-neuron/model.tar.gz", "model_name": "bert"}


@pytest.fixture(scope="module")
def app_and_stack(nag_violations):
    app = App()
    stack = InferentiaExampleStack(
        app, "Inferentia", neuron_manifest=MANIFEST, invocations_per_instance_per_minute=600, **PROPS
    )
    violations = nag_violations(app)
    return stack, violations


def test_example_serves_the_neuron_model_on_inf2_with_shared_weights_and_scaling(app_and_stack):
    stack, _ = app_and_stack
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {"PrimaryContainer": Match.object_like({"Environment": Match.object_like({"NEURON_RT_MULTI_INSTANCE_SHARED_WEIGHTS": "1"})})},
    )  # fmt: skip
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like({"InstanceType": "ml.inf2.xlarge", "InitialInstanceCount": 2})
            ]
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {"TargetTrackingScalingPolicyConfiguration": Match.object_like({"TargetValue": 600})},
    )


def test_example_is_nag_clean_and_lints_clean(app_and_stack, cfn_lint_errors):
    stack, violations = app_and_stack
    assert violations == []
    assert cfn_lint_errors(Template.from_stack(stack).to_json()) == []


@pytest.mark.parametrize(
    ("instance_type", "fragment"),
    [
        ("ml.g5.xlarge", "runs only on ml.inf2.* instance types, not on ml.g5.xlarge (gpu)"),
        (
            "ml.inf1.xlarge",
            "rebuild it with target='inf1' (torch-neuron) — ",
        ),
    ],
)
def test_example_refuses_an_inf2_artifact_on_another_target(instance_type, fragment):
    with pytest.raises(PropsError) as error:
        InferentiaExampleStack(
            App(), "Wrong", neuron_manifest=MANIFEST, instance_type=InstanceType.of(instance_type), **PROPS
        )
    assert "variants[0].model: the artifact was compiled for inf2" in str(error.value)
    assert fragment in str(error.value)
    assert str(error.value).endswith("or deploy it on an ml.inf2.* instance type") or instance_type != "ml.inf1.xlarge"
