"""Autoscaling of production variants: the scalable target and the invocations policy."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration
from aws_cdk.assertions import Annotations, Capture, Match, Template

from serving_constructs import InstanceType, ProductionVariant, PropsError, RealtimeEndpoint, TritonModel


def _endpoint(stack, bucket_artifact, *variants: dict[str, Any]) -> RealtimeEndpoint:
    """Return an endpoint with one variant per props dict (two instances unless the dict says)."""
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    return RealtimeEndpoint(
        stack,
        "Endpoint",
        variants=[
            ProductionVariant(model=model, **{"initial_instance_count": 2, **props})
            for props in variants or [{}]
        ],
    )


@pytest.fixture
def endpoint(stack, bucket_artifact) -> RealtimeEndpoint:
    return _endpoint(stack, bucket_artifact)


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
    # the target's construct id ends with the instance type (a new type is a new target, aws-cdk #29626)
    assert target.as_string().startswith("EndpointInstanceCountAllTrafficMlG4dnXlargeTarget")


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


def test_auto_scale_refuses_scaling_a_realtime_endpoint_to_zero(endpoint):
    with pytest.raises(
        PropsError,
        match=(
            r"max_capacity must be >= 1 \(got 0\); min_capacity must be >= 1 on a RealtimeEndpoint \(got 0\): "
            r"only asynchronous \(or inference-component\) endpoints can scale to zero instances.* — use min_capacity=1"
        ),
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
    endpoint = _endpoint(stack, bucket_artifact, {"variant_name": "A"}, {"variant_name": "B"})

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


def test_scaling_defaults_to_the_first_variant_as_metrics_do(stack, bucket_artifact):
    # GIVEN an A/B endpoint whose first variant is not called AllTraffic
    endpoint = _endpoint(stack, bucket_artifact, {"variant_name": "Blue"}, {"variant_name": "Green"})

    # WHEN no variant is named
    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=4)

    # THEN scaling and metrics both pick the first variant
    assert scalable.variant_name == endpoint.metric_invocations().dimensions["VariantName"] == "Blue"


def _policy(stack, policy_type: str) -> dict:
    policies = Template.from_stack(stack).find_resources(
        "AWS::ApplicationAutoScaling::ScalingPolicy", {"Properties": {"PolicyType": policy_type}}
    )
    assert len(policies) == 1
    return next(iter(policies.values()))["Properties"]


def test_scale_on_gpu_utilization_tracks_the_instance_metric(stack, endpoint):
    # GIVEN a variant on ml.g4dn.xlarge (1 GPU)
    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)

    # WHEN
    policy = scalable.scale_on_gpu_utilization(
        "Gpu", target_utilization_percent=60, scale_in_cooldown=Duration.minutes(10)
    )

    # THEN target tracking on GPUUtilization in /aws/sagemaker/Endpoints, per variant, Average
    assert policy.node.id == "Gpu"
    endpoint_id = stack.resolve(endpoint.node.default_child.logical_id)
    config = _policy(stack, "TargetTrackingScaling")["TargetTrackingScalingPolicyConfiguration"]
    assert config == {
        "CustomizedMetricSpecification": {
            "MetricName": "GPUUtilization",
            "Namespace": "/aws/sagemaker/Endpoints",
            "Dimensions": [
                {"Name": "EndpointName", "Value": {"Fn::GetAtt": [endpoint_id, "EndpointName"]}},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            "Statistic": "Average",
        },
        "TargetValue": 60,
        "ScaleInCooldown": 600,
        "ScaleOutCooldown": 60,
        "DisableScaleIn": False,
    }


def test_scale_on_gpu_utilization_target_runs_to_100_per_gpu(stack, bucket_artifact):
    # GIVEN a 4-GPU variant (ml.g5.12xlarge)
    endpoint = _endpoint(stack, bucket_artifact, {"instance_type": InstanceType.ML_G5_12XLARGE})
    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)

    # WHEN / THEN 240 (60 % of each GPU) is allowed, 450 is not
    scalable.scale_on_gpu_utilization("Gpu", target_utilization_percent=240)
    with pytest.raises(
        PropsError,
        match=r"target_utilization_percent must be <= 400 on ml\.g5\.12xlarge \(got 450\): GPUUtilization runs to "
        r"100 x the GPU count and it has 4 GPUs — e.g\. 240 keeps each GPU at 60 %",
    ):
        scalable.scale_on_gpu_utilization("Gpu2", target_utilization_percent=450)


def test_scale_on_gpu_utilization_refuses_a_cpu_instance_type(stack, bucket_artifact):
    endpoint = _endpoint(stack, bucket_artifact, {"instance_type": InstanceType.ML_C5_XLARGE})
    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)
    with pytest.raises(
        PropsError,
        match=r"runs on ml\.c5\.xlarge, which has no GPU, so SageMaker publishes no GPUUtilization",
    ):
        scalable.scale_on_gpu_utilization("Gpu", target_utilization_percent=60)


def test_scale_to_track_metric_tracks_a_custom_metric(stack, endpoint):
    # GIVEN
    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)
    queue = endpoint.metric("ModelLatency", statistic="Maximum")

    # WHEN
    scalable.scale_to_track_metric("Latency", metric=queue, target_value=250_000, disable_scale_in=True)

    # THEN
    config = _policy(stack, "TargetTrackingScaling")["TargetTrackingScalingPolicyConfiguration"]
    assert config["CustomizedMetricSpecification"]["MetricName"] == "ModelLatency"
    assert config["CustomizedMetricSpecification"]["Namespace"] == "AWS/SageMaker"
    assert config["CustomizedMetricSpecification"]["Statistic"] == "Maximum"
    assert (config["TargetValue"], config["DisableScaleIn"]) == (250_000, True)


def test_scale_to_track_metric_refuses_a_percentile(stack, endpoint):
    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)
    with pytest.raises(PropsError, match=r"metric statistic must be one of Average, .* \(got 'p99'\)"):
        scalable.scale_to_track_metric(
            "Latency", metric=endpoint.metric_model_latency(statistic="p99"), target_value=1
        )


def test_scale_on_metric_renders_step_policy_and_alarm(stack, endpoint):
    from aws_cdk import aws_applicationautoscaling as appscaling

    # GIVEN
    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)

    # WHEN one step (the zero-change interval workaround of aws/aws-cdk#28776)
    policy = scalable.scale_on_metric(
        "Errors",
        metric=endpoint.metric_invocation_5xx_errors(period=Duration.minutes(1)),
        scaling_steps=[
            appscaling.ScalingInterval(upper=0.5, change=0),
            appscaling.ScalingInterval(lower=0.5, change=1),
        ],
        cooldown=Duration.minutes(5),
        evaluation_periods=2,
        datapoints_to_alarm=2,
    )

    # THEN one step policy and its alarm on the metric
    assert isinstance(policy, appscaling.StepScalingPolicy)
    config = _policy(stack, "StepScaling")["StepScalingPolicyConfiguration"]
    assert config["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    assert (config["AdjustmentType"], config["Cooldown"]) == ("ChangeInCapacity", 300)
    Template.from_stack(stack).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "Invocation5XXErrors",
            "Namespace": "AWS/SageMaker",
            "Threshold": 0.5,
            "EvaluationPeriods": 2,
            "DatapointsToAlarm": 2,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )


def test_scale_on_metric_with_one_step_explains_the_workaround(stack, endpoint):
    from aws_cdk import aws_applicationautoscaling as appscaling

    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)
    with pytest.raises(
        PropsError,
        match=r"scaling_steps needs at least 2 intervals \(got 1; aws/aws-cdk#28776\) — for one step add a zero-change interval",
    ):
        scalable.scale_on_metric(
            "Errors",
            metric=endpoint.metric_invocations(),
            scaling_steps=[appscaling.ScalingInterval(lower=1, change=1)],
        )


def test_scale_on_schedule_adds_a_scheduled_action(stack, endpoint):
    from aws_cdk import aws_applicationautoscaling as appscaling

    # GIVEN
    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)

    # WHEN business hours raise the floor and the evening lowers it
    scalable.scale_on_schedule(
        "BusinessHours",
        schedule=appscaling.Schedule.cron(hour="8", minute="0", week_day="MON-FRI"),
        min_capacity=4,
    )
    scalable.scale_on_schedule(
        "Evening", schedule=appscaling.Schedule.cron(hour="20", minute="0"), min_capacity=2
    )

    # THEN
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "ScheduledActions": [
                {
                    "ScheduledActionName": "BusinessHours",
                    "Schedule": "cron(0 8 ? * MON-FRI *)",
                    "ScalableTargetAction": {"MinCapacity": 4},
                },
                {
                    "ScheduledActionName": "Evening",
                    "Schedule": "cron(0 20 * * ? *)",
                    "ScalableTargetAction": {"MinCapacity": 2},
                },
            ]
        },
    )


def test_scale_on_schedule_respects_the_capacity_floor(stack, endpoint):
    from aws_cdk import aws_applicationautoscaling as appscaling

    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)
    with pytest.raises(
        PropsError,
        match=r"Invalid scale_on_schedule props: min_capacity must be >= 1 on a RealtimeEndpoint \(got 0\): only asynchronous",
    ):
        scalable.scale_on_schedule(
            "Night", schedule=appscaling.Schedule.cron(hour="0", minute="0"), min_capacity=0
        )


def test_scalable_instance_count_with_a_zero_floor_scales_to_zero(stack):
    # GIVEN the floor an asynchronous endpoint kind sets (SageMaker scales those to zero)
    from serving_constructs.scaling import SCALE_TO_ZERO, ScalableInstanceCount

    # WHEN
    ScalableInstanceCount(
        stack, "Count", endpoint_name="async-ep", variant_name="AllTraffic", min_capacity=0, max_capacity=5,
        capacity_floor=SCALE_TO_ZERO,
    )  # fmt: skip

    # THEN
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 0, "MaxCapacity": 5}
    )


def test_every_policy_kind_passes_cfn_lint_and_nag(bucket_artifact, cfn_lint_errors, nag_violations):
    from aws_cdk import App, Stack
    from aws_cdk import aws_applicationautoscaling as appscaling

    # GIVEN one variant with the whole policy family
    app = App()
    stack = Stack(app, "Policies")
    endpoint = _endpoint(stack, bucket_artifact)
    scalable = endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=6)
    scalable.scale_on_invocations("Invocations", invocations_per_instance_per_minute=600)
    scalable.scale_on_gpu_utilization("Gpu", target_utilization_percent=70)
    scalable.scale_to_track_metric("Latency", metric=endpoint.metric_model_latency(), target_value=200_000)
    scalable.scale_on_metric(
        "Errors",
        metric=endpoint.metric_invocation_5xx_errors(),
        scaling_steps=[
            appscaling.ScalingInterval(upper=0.5, change=0),
            appscaling.ScalingInterval(lower=0.5, change=1),
        ],
    )
    scalable.scale_on_schedule(
        "Night", schedule=appscaling.Schedule.cron(hour="0", minute="0"), max_capacity=2
    )

    # THEN
    assert cfn_lint_errors(Template.from_stack(stack).to_json()) == []
    assert nag_violations(app) == []
