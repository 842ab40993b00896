"""Autoscaling of production variants: the scalable target and the invocations policy."""

from __future__ import annotations

import pytest
from aws_cdk import Duration
from aws_cdk.assertions import Annotations, Capture, Match, Template

from serving_constructs import ProductionVariant, PropsError, RealtimeEndpoint, TritonModel


@pytest.fixture
def endpoint(stack, bucket_artifact) -> RealtimeEndpoint:
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    return RealtimeEndpoint(
        stack, "Endpoint", variants=[ProductionVariant(model=model, initial_instance_count=2)]
    )


def test_scalable_target_on_variant_desired_instance_count(stack, endpoint):
    # GIVEN / WHEN
    endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)

    # THEN
    template = Template.from_stack(stack)
    endpoint_id = Capture()
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "ServiceNamespace": "sagemaker",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MinCapacity": 2,
            "MaxCapacity": 6,
            "ResourceId": {
                "Fn::Join": [
                    "",
                    ["endpoint/", {"Fn::GetAtt": [endpoint_id, "EndpointName"]}, "/variant/AllTraffic"],
                ]
            },
            "RoleARN": {
                "Fn::Join": [
                    "",
                    Match.array_with(
                        [
                            Match.string_like_regexp(
                                "role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                            )
                        ]
                    ),
                ]
            },
        },
    )
    # The target references (so depends on) the endpoint.
    assert template.to_json()["Resources"][endpoint_id.as_string()]["Type"] == "AWS::SageMaker::Endpoint"


def test_scale_on_invocations_tracks_predefined_metric(stack, endpoint):
    # GIVEN
    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)

    # WHEN
    scalable.scale_on_invocations("Invocations", invocations_per_instance_per_minute=624)

    # THEN
    target = Capture()
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "ScalingTargetId": {"Ref": target},
            "TargetTrackingScalingPolicyConfiguration": {
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
                "TargetValue": 624,
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
                "DisableScaleIn": False,
            },
        },
    )
    assert target.as_string().startswith("EndpointInstanceCountAllTrafficTarget")


def test_scale_on_invocations_custom_cooldowns(stack, endpoint):
    endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6).scale_on_invocations(
        "Invocations",
        invocations_per_instance_per_minute=100,
        scale_in_cooldown=Duration.minutes(10),
        scale_out_cooldown=Duration.seconds(30),
        disable_scale_in=True,
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {"ScaleInCooldown": 600, "ScaleOutCooldown": 30, "DisableScaleIn": True}
            )
        },
    )


def test_scaled_endpoint_keeps_instance_count_across_deploys(stack, endpoint):
    # GIVEN / WHEN
    endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)

    # THEN the endpoint retains the scaled count, but follows new weights
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "RetainAllVariantProperties": True,
            "ExcludeRetainedVariantProperties": [
                {"VariantPropertyType": "DesiredWeight"},
                {"VariantPropertyType": "DataCaptureConfig"},
            ],
        },
    )


def test_unscaled_endpoint_does_not_retain_variant_properties(stack, endpoint):
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {"RetainAllVariantProperties": Match.absent(), "ExcludeRetainedVariantProperties": Match.absent()},
    )


def test_auto_scale_fails_when_min_capacity_above_max(endpoint):
    with pytest.raises(
        PropsError,
        match=r"Invalid ScalableInstanceCount props: max_capacity must be >= min_capacity \(got 2 < 3\)",
    ):
        endpoint.auto_scale_instance_count(min_capacity=3, max_capacity=2)


def test_auto_scale_refuses_scaling_to_zero(endpoint):
    with pytest.raises(
        PropsError, match=r"min_capacity must be >= 1 \(got 0\); max_capacity must be >= 1 \(got 0\)"
    ):
        endpoint.auto_scale_instance_count(min_capacity=0, max_capacity=0)


def test_auto_scale_unknown_variant_lists_variants(endpoint):
    with pytest.raises(ValueError, match=r"has no variant 'Blue' \(it has 'AllTraffic'\)"):
        endpoint.auto_scale_instance_count("Blue", min_capacity=1, max_capacity=2)


def test_auto_scale_twice_fails(endpoint):
    endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=4)
    with pytest.raises(ValueError, match="already auto-scales"):
        endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=4)


def test_scale_on_invocations_refuses_non_positive_target(endpoint):
    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=4)
    with pytest.raises(PropsError, match=r"invocations_per_instance_per_minute must be > 0 \(got 0\)"):
        scalable.scale_on_invocations("Invocations", invocations_per_instance_per_minute=0)


def test_auto_scale_warns_when_initial_count_outside_capacity(stack, endpoint):
    # GIVEN an endpoint that starts with 2 instances  WHEN capacity is 3..5
    endpoint.auto_scale_instance_count(min_capacity=3, max_capacity=5)

    # THEN
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Endpoint",
        Match.string_like_regexp(r"initial_instance_count 2 is outside \[min_capacity 3, max_capacity 5\]"),
    )


def test_each_variant_scales_independently(stack, bucket_artifact):
    # GIVEN an A/B endpoint
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    endpoint = RealtimeEndpoint(
        stack,
        "Endpoint",
        variants=[
            ProductionVariant(model=model, variant_name="A", initial_instance_count=2),
            ProductionVariant(model=model, variant_name="B", initial_instance_count=2),
        ],
    )

    # WHEN
    endpoint.auto_scale_instance_count("A", min_capacity=2, max_capacity=4)
    endpoint.auto_scale_instance_count("B", min_capacity=2, max_capacity=8)

    # THEN
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 2)
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"MaxCapacity": 8, "ResourceId": {"Fn::Join": ["", Match.array_with(["/variant/B"])]}},
    )
