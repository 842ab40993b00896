"""ServerlessInferenceStack (stacks/examples_serverless.py): the example a user copies for serverless.

The stack's default builds bert-tiny for CPUs (a model build: about a minute on a cold cache), so
these tests pass a tiny CPU archive as ``artifact``; the build path is checked through
``planned_spec`` without building.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Annotations, Match, Template

from serving_constructs import ModelArtifact
from stacks.examples_serverless import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MEMORY_SIZE_IN_MB,
    PROVISIONED_UTILIZATION_TARGET,
    ServerlessInferenceStack,
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("example")
    config = folder / "config.pbtxt"
    config.write_text('name: "tiny"\nbackend: "onnxruntime"\ninstance_group [{ kind: KIND_CPU }]\n')
    path = folder / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(config, arcname="tiny/config.pbtxt")
    return path


def _stack(app: App, archive: Path, **props) -> ServerlessInferenceStack:
    return ServerlessInferenceStack(
        app, "TritonServerless", artifact=ModelArtifact.from_asset(archive), **props
    )


@pytest.fixture(scope="module")
def app_and_stack(archive) -> tuple[App, ServerlessInferenceStack]:
    app = App()
    return app, _stack(
        app,
        archive,
        provisioned_concurrency=2,
        triton_repository_name="triton-cpu",
        triton_image_tag="25.09-cpu",
    )


def test_default_build_is_a_cpu_model():
    spec = ServerlessInferenceStack.planned_spec()
    assert (spec.name, spec.triton.instance_kind) == ("bert-tiny", "KIND_CPU")


def test_example_serves_a_cpu_image_from_ecr_on_a_scaled_serverless_variant(app_and_stack):
    _, stack = app_and_stack
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like(
                    {
                        "ServerlessConfig": {
                            "MemorySizeInMB": DEFAULT_MEMORY_SIZE_IN_MB,
                            "MaxConcurrency": DEFAULT_MAX_CONCURRENCY,
                            "ProvisionedConcurrency": 2,
                        }
                    }
                )
            ]
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "EnableNetworkIsolation": False,
            "PrimaryContainer": Match.object_like(
                {
                    "Image": {
                        "Fn::Join": [
                            "",
                            Match.array_with([Match.string_like_regexp("/triton-cpu:25.09-cpu$")]),
                        ]
                    }
                }
            ),
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "ScalableDimension": "sagemaker:variant:DesiredProvisionedConcurrency",
            "MinCapacity": 1,
            "MaxCapacity": 10,
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {"TargetValue": PROVISIONED_UTILIZATION_TARGET}
            )
        },
    )
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.resource_count_is("AWS::CloudWatch::Alarm", 2)
    template.has_output("EndpointName", {"Value": {"Fn::GetAtt": [Match.any_value(), "EndpointName"]}})
    # Its own image and a known archive size: nothing left to warn about.
    assert Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("serverless")) == []


def test_example_passes_cfn_lint(app_and_stack, cfn_lint_errors):
    _, stack = app_and_stack
    assert cfn_lint_errors(Template.from_stack(stack).to_json()) == []


def test_example_on_the_dlc_has_no_unacknowledged_nag_findings(archive, nag_violations):
    app = App()
    stack = _stack(app, archive)
    assert nag_violations(app) == []
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("serverlessImageSizeUnchecked")
    )
    assert len(warnings) == 1
