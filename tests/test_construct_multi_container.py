"""MultiContainerModel and ContainerDefinition: templates, roles, endpoint use, and the example stack."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from serving_constructs import (
    ContainerDefinition,
    InstanceType,
    ModelArtifact,
    MultiContainerModel,
    ProductionVariant,
    RealtimeEndpoint,
    TritonImage,
)
from serving_constructs.model import ENV_DEFAULT_MODEL_NAME, ENV_LOG_VERBOSE
from stacks.examples_multi_container import MultiContainerExampleStack


def _pipeline(stack: Stack, **props: Any) -> MultiContainerModel:
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    pre = ContainerDefinition.triton(
        hostname="preprocess",
        artifact=ModelArtifact.from_bucket(bucket, "pre/model.tar.gz", model_name="preprocess"),
        log_verbose=1,
    )
    model = ContainerDefinition.triton(
        hostname="bert", artifact=ModelArtifact.from_bucket(bucket, "bert/model.tar.gz", model_name="bert")
    )
    return MultiContainerModel(stack, "Pipeline", containers=[pre, model], **props)


def test_serial_pipeline_renders_containers_in_order_and_serial_mode(stack):
    # GIVEN two Triton containers  WHEN they make a pipeline (the default mode)
    model = _pipeline(stack)

    # THEN Containers (not PrimaryContainer) in order, each with TritonModel's environment
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "Containers": [
                Match.object_like(
                    {
                        "ContainerHostname": "preprocess",
                        "ModelDataUrl": "s3://models-bucket/pre/model.tar.gz",
                        "Environment": {ENV_DEFAULT_MODEL_NAME: "preprocess", ENV_LOG_VERBOSE: "1"},
                    }
                ),
                Match.object_like(
                    {
                        "ContainerHostname": "bert",
                        "ModelDataUrl": "s3://models-bucket/bert/model.tar.gz",
                        "Environment": {ENV_DEFAULT_MODEL_NAME: "bert"},
                    }
                ),
            ],
            "InferenceExecutionConfig": {"Mode": "Serial"},
            "PrimaryContainer": Match.absent(),
            "EnableNetworkIsolation": True,
        },
    )
    assert model.mode == "Serial"
    assert [c.triton_model_name for c in model.containers] == ["preprocess", "bert"]


def test_direct_mode_renders_direct(stack):
    _pipeline(stack, mode="Direct")
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::Model", {"InferenceExecutionConfig": {"Mode": "Direct"}}
    )


def test_serial_pipeline_without_hostnames_leaves_them_to_sagemaker(stack):
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    containers = [
        ContainerDefinition(image=TritonImage.from_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/pre:1")),
        ContainerDefinition.triton(
            artifact=ModelArtifact.from_bucket(bucket, "b/model.tar.gz", model_name="b")
        ),
    ]
    MultiContainerModel(stack, "Pipeline", containers=containers)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "Containers": [
                {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/pre:1", "Mode": "SingleModel"},
                Match.object_like(
                    {"ContainerHostname": Match.absent(), "ModelDataUrl": "s3://models-bucket/b/model.tar.gz"}
                ),
            ]
        },
    )


def test_role_reads_exactly_each_containers_archive(stack):
    _pipeline(stack)
    template = Template.from_stack(stack)
    statements = [
        s
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "s3:GetObject" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    resources = [
        r for s in statements for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]
    joined = [str(r) for r in resources]
    assert any("pre/model.tar.gz" in r for r in joined) and any("bert/model.tar.gz" in r for r in joined)
    assert not any(r.endswith("/*") or r == "*" for r in joined), joined


def test_realtime_endpoint_serves_a_multi_container_model(stack):
    # GIVEN a pipeline  WHEN a RealtimeEndpoint serves it
    model = _pipeline(stack)
    RealtimeEndpoint(
        stack, "Endpoint", variants=[ProductionVariant(model=model, instance_type=InstanceType.ML_C5_XLARGE)]
    )

    # THEN the variant names the multi-container model
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like(
                    {"ModelName": {"Fn::GetAtt": [Match.string_like_regexp("Pipeline"), "ModelName"]}}
                )
            ]
        },
    )


@pytest.fixture(scope="module")
def example_app() -> tuple[App, MultiContainerExampleStack]:
    app = App()
    return app, MultiContainerExampleStack(app, "MultiContainerExample")


def test_example_stack_has_a_serial_pipeline_and_a_direct_endpoint(example_app):
    _, stack = example_app
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SageMaker::Model", 2)
    template.resource_count_is("AWS::SageMaker::Endpoint", 2)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "InferenceExecutionConfig": {"Mode": "Serial"},
            "Containers": [
                Match.object_like({"ContainerHostname": "preprocess"}),
                Match.object_like({"ContainerHostname": "model"}),
            ],
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "InferenceExecutionConfig": {"Mode": "Direct"},
            "Containers": [
                Match.object_like({"ContainerHostname": "model"}),
                Match.object_like({"ContainerHostname": "other"}),
            ],
        },
    )


def test_example_stack_passes_cfn_lint(example_app, cfn_lint_errors):
    _, stack = example_app
    assert cfn_lint_errors(Template.from_stack(stack).to_json()) == []


def test_example_stack_has_no_unacknowledged_nag_findings(nag_violations):
    app = App()
    MultiContainerExampleStack(app, "MultiContainerNag")
    assert nag_violations(app) == []


def test_example_stack_synth_is_deterministic():
    first, second = App(), App()
    a = Template.from_stack(MultiContainerExampleStack(first, "S")).to_json()
    b = Template.from_stack(MultiContainerExampleStack(second, "S")).to_json()
    assert a == b
