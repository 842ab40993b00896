"""AsyncInferenceStack: seed 002's composition (builds pegasus-tiny once; cached afterwards)."""

from __future__ import annotations

import pytest
from aws_cdk import App
from aws_cdk.assertions import Annotations, Match, Template

from serving_constructs import defaults
from stacks.async_stack import (
    SEED_MAX_CONCURRENT_INVOCATIONS,
    AsyncInferenceStack,
    async_stack_id,
)


@pytest.fixture(scope="module")
def stack() -> AsyncInferenceStack:
    return AsyncInferenceStack(App(), "Async")


@pytest.fixture(scope="module")
def template(stack) -> Template:
    return Template.from_stack(stack)


def test_seed_002_figures():
    # seed 002, section 3.1: concurrency 2 per instance, backlog target 5.0, 0..5 instances
    # (the last three are AsyncEndpoint.scale_to_zero's defaults, which the stack uses as they are)
    assert (
        SEED_MAX_CONCURRENT_INVOCATIONS,
        defaults.backlog_per_instance_target(),
        defaults.scale_to_zero_max_capacity(),
        defaults.backlog_scale_in_cooldown_seconds(),
        defaults.backlog_scale_out_cooldown_seconds(),
    ) == (2, 5.0, 5, 120, 120)


def test_stack_id_is_named_after_the_model():
    assert async_stack_id("my_summarizer") == "TritonAsync-my-summarizer"


def test_stack_serves_pegasus_tiny_on_an_asynchronous_endpoint_with_both_paths_and_topics(template):
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": Match.object_like(
                {"Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "pegasus-tiny"}}
            )
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like({"InstanceType": "ml.g4dn.xlarge", "InitialInstanceCount": 1})
            ],
            "AsyncInferenceConfig": {
                "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2},
                "OutputConfig": Match.object_like(
                    {
                        "S3OutputPath": Match.any_value(),
                        "S3FailurePath": Match.any_value(),
                        "NotificationConfig": {
                            "SuccessTopic": Match.any_value(),
                            "ErrorTopic": Match.any_value(),
                        },
                    }
                ),
            },
        },
    )
    template.resource_count_is("AWS::SNS::Topic", 2)
    template.resource_count_is("AWS::S3::Bucket", 1)


def test_stack_scales_to_zero_and_back_as_seed_002_and_aws_recipe_say(template):
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"MinCapacity": 0, "MaxCapacity": 5, "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"},
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "TargetValue": 5,
                    "ScaleInCooldown": 120,
                    "ScaleOutCooldown": 120,
                    "CustomizedMetricSpecification": Match.object_like(
                        {
                            "MetricName": "ApproximateBacklogSizePerInstance",
                            "Namespace": "AWS/SageMaker",
                            "Statistic": "Average",
                            "Dimensions": [{"Name": "EndpointName", "Value": Match.any_value()}],
                        }
                    ),
                }
            ),
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": Match.object_like(
                {
                    "AdjustmentType": "ChangeInCapacity",
                    "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
                }
            ),
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "HasBacklogWithoutCapacity",
            "Namespace": "AWS/SageMaker",
            "Dimensions": [{"Name": "EndpointName", "Value": Match.any_value()}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )


def test_stack_outputs_what_a_client_needs(template):
    outputs = template.find_outputs("*")
    assert {
        "EndpointName",
        "EndpointConfigName",
        "InputPath",
        "OutputPath",
        "FailurePath",
        "SuccessTopicArn",
        "ErrorTopicArn",
    } <= set(outputs)


def test_single_instance_warning_is_acknowledged_with_its_reason(stack):
    # An asynchronous endpoint queues requests and scales 0..5: the single-instance warning does not apply.
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("single instance"))
