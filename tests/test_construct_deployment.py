"""Deployment guardrails: DeploymentPolicy renders as documented, defaults, rollback alarms and their grant, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from serving_constructs import (
    AsyncEndpoint,
    Capacity,
    DeploymentKind,
    DeploymentPolicy,
    EndpointBase,
    InstanceType,
    ModelArtifact,
    MultiModelEndpoint,
    ProductionVariant,
    PropsError,
    RealtimeEndpoint,
    ServerlessProductionVariant,
    TritonModel,
)
from serving_constructs.deployment import default_policy


def _stack() -> tuple[Stack, TritonModel]:
    stack = Stack(App(), "Guardrails")
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    model = TritonModel(
        stack, "Model", artifact=ModelArtifact.from_bucket(bucket, "bert/model.tar.gz", model_name="bert")
    )
    return stack, model


def _variant(
    model: TritonModel, count: int, instance_type: str = "ml.g5.xlarge", **props: Any
) -> ProductionVariant:
    return ProductionVariant(
        model=model, instance_type=InstanceType.of(instance_type), initial_instance_count=count, **props
    )


def _deployment_config(stack: Stack) -> dict[str, Any]:
    endpoints = Template.from_stack(stack).find_resources("AWS::SageMaker::Endpoint")
    (endpoint,) = endpoints.values()
    return endpoint["Properties"]["DeploymentConfig"]


# --- each policy renders as documented ---------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(
            DeploymentPolicy.canary(
                size=Capacity.percent(25),
                bake=Duration.minutes(5),
                termination_wait=Duration.minutes(2),
                max_execution_timeout=Duration.hours(1),
            ),
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "WaitIntervalInSeconds": 300,
                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25},
                    },
                    "TerminationWaitInSeconds": 120,
                    "MaximumExecutionTimeoutInSeconds": 3600,
                },
                "RollingUpdatePolicy": Match.absent(),
            },
            id="canary",
        ),
        pytest.param(
            DeploymentPolicy.linear(step=Capacity.instances(1), bake=Duration.seconds(0)),
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "LINEAR",
                        "WaitIntervalInSeconds": 0,
                        "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                        "CanarySize": Match.absent(),
                    },
                    "TerminationWaitInSeconds": Match.absent(),
                    "MaximumExecutionTimeoutInSeconds": Match.absent(),
                }
            },
            id="linear",
        ),
        pytest.param(
            DeploymentPolicy.all_at_once(bake=Duration.minutes(15)),
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 900}
                }
            },
            id="all-at-once",
        ),
        pytest.param(
            DeploymentPolicy.rolling(
                max_batch=Capacity.instances(2),
                bake=Duration.minutes(3),
                rollback_max_batch=Capacity.percent(100),
                max_execution_timeout=Duration.hours(2),
            ),
            {
                "RollingUpdatePolicy": {
                    "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 2},
                    "WaitIntervalInSeconds": 180,
                    "RollbackMaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 100},
                    "MaximumExecutionTimeoutInSeconds": 7200,
                },
                "BlueGreenUpdatePolicy": Match.absent(),
            },
            id="rolling",
        ),
    ],
)
def test_deployment_policy_renders_as_documented(policy: DeploymentPolicy, expected: dict[str, Any]):
    # GIVEN an endpoint of one 4-instance variant WHEN it is given the policy
    stack, model = _stack()
    RealtimeEndpoint(stack, "Endpoint", variants=[_variant(model, 4)], deployment=policy)

    # THEN the endpoint's DeploymentConfig carries it, with no rollback alarms yet
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {"DeploymentConfig": {**expected, "AutoRollbackConfiguration": Match.absent()}},
    )


# --- defaults --------------------------------------------------------------------------------


def test_deployment_default_is_a_one_instance_canary_baking_ten_minutes():
    # GIVEN a 2-instance variant and no deployment
    stack, model = _stack()
    endpoint = RealtimeEndpoint(stack, "Endpoint", variants=[_variant(model, 2)])

    # THEN guardrails are on: a canary of 1 instance, 10 minutes of baking
    assert endpoint.deployment == DeploymentPolicy.canary()
    assert _deployment_config(stack) == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 600,
                "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
            }
        }
    }


def test_deployment_default_follows_instance_counts_gpu_fleets_and_scaling():
    # GIVEN variants of several sizes (policy choice only: no synthesis)
    _, model = _stack()
    one, two = _variant(model, 1), _variant(model, 2, variant_name="B")
    gpu_fleet, cpu_fleet = _variant(model, 4), _variant(model, 8, instance_type="ml.c5.xlarge")

    # THEN one instance gets all-at-once with baking (a canary must be <= 50 %), two or more a canary,
    # one GPU variant of >= 4 instances rolls in 25 % batches, unless it may scale below 4 or has company
    assert default_policy([one], {}) == DeploymentPolicy.all_at_once()
    assert default_policy([two], {}) == DeploymentPolicy.canary()
    assert default_policy([gpu_fleet], {}) == DeploymentPolicy.rolling(max_batch=Capacity.percent(25))
    assert default_policy([cpu_fleet], {}) == DeploymentPolicy.canary()
    assert default_policy([gpu_fleet], {"AllTraffic": 2}) == DeploymentPolicy.canary()
    assert default_policy([gpu_fleet], {"AllTraffic": 1}) == DeploymentPolicy.all_at_once()
    assert default_policy([gpu_fleet, two], {}) == DeploymentPolicy.canary()
    assert default_policy([gpu_fleet, one], {}).kind is DeploymentKind.ALL_AT_ONCE
    serverless = ServerlessProductionVariant(model=model, memory_size_in_mb=2048, max_concurrency=5)
    assert default_policy([serverless], {}) == DeploymentPolicy.all_at_once()


def test_deployment_default_sees_autoscaling_added_after_the_endpoint():
    # GIVEN a 4-instance GPU variant that later may scale in to 1 instance
    stack, model = _stack()
    endpoint = RealtimeEndpoint(stack, "Endpoint", variants=[_variant(model, 4)])
    assert endpoint.deployment.is_rolling
    endpoint.auto_scale_instance_count(min_capacity=1, max_capacity=8)

    # THEN the template gets all-at-once with baking (at 1 instance neither rolling nor a canary fits)
    assert _deployment_config(stack)["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == {
        "Type": "ALL_AT_ONCE",
        "WaitIntervalInSeconds": 600,
    }


# --- rollback alarms and their grant ---------------------------------------------------------


def test_rollback_alarms_render_by_name_and_the_roles_may_describe_exactly_them():
    # GIVEN two variants on two models, an alarm created before the second variant, and an imported alarm
    stack, model = _stack()
    other = TritonModel(
        stack,
        "Other",
        artifact=ModelArtifact.from_bucket(
            s3.Bucket.from_bucket_name(stack, "Others", "others-bucket"), "m/model.tar.gz", model_name="m"
        ),
    )
    endpoint = RealtimeEndpoint(stack, "Endpoint", variants=[_variant(model, 2)])
    errors = cloudwatch.Alarm(
        endpoint,
        "ErrorRate",
        metric=endpoint.metric_invocation_5xx_errors(statistic="Average"),
        threshold=0.01,
        evaluation_periods=3,
    )
    imported = cloudwatch.Alarm.from_alarm_arn(
        stack, "Latency", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:team-latency"
    )

    # WHEN both become rollback alarms (the first twice) and a second variant arrives
    endpoint.add_rollback_alarm(errors)
    endpoint.add_rollback_alarm(imported)
    endpoint.add_rollback_alarm(errors)
    endpoint.add_production_variant(_variant(other, 2, variant_name="Challenger"))

    # THEN the endpoint names both alarms (literal names: no Ref, so no cycle with the alarm's dimension)
    assert endpoint.rollback_alarms == (errors, imported)
    name = errors.node.default_child.alarm_name
    assert name.startswith("Guardrails-Endpoint-ErrorRate-")
    template = Template.from_stack(stack)
    rollback = _deployment_config(stack)["AutoRollbackConfiguration"]
    assert rollback == {"Alarms": [{"AlarmName": name}, {"AlarmName": "team-latency"}]}
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmName": name})
    # AND each model's role may DescribeAlarms on exactly those two alarms, nothing else
    describe = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "cloudwatch:DescribeAlarms" in str(statement["Action"])
    ]
    assert len(describe) == 2
    for statement in describe:
        assert statement["Action"] == "cloudwatch:DescribeAlarms"
        created, imported_arn = statement["Resource"]
        assert imported_arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:team-latency"
        assert created["Fn::Join"][1][-1] == f":alarm:{name}"
    roles = {
        policy["Properties"]["Roles"][0]["Ref"]
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if "cloudwatch:DescribeAlarms" in str(policy)
    }
    assert len(roles) == 2


def test_rollback_alarms_stack_passes_cfn_lint_and_cdk_nag(cfn_lint_errors, nag_violations):
    # GIVEN a canary endpoint with a rollback alarm on its own error rate
    stack, model = _stack()
    endpoint = RealtimeEndpoint(
        stack,
        "Endpoint",
        variants=[_variant(model, 3)],
        deployment=DeploymentPolicy.linear(
            step=Capacity.percent(34), max_execution_timeout=Duration.hours(2)
        ),
    )
    endpoint.add_rollback_alarm(
        cloudwatch.Alarm(
            endpoint,
            "ErrorRate",
            metric=endpoint.metric_invocation_5xx_errors(),
            threshold=5,
            evaluation_periods=2,
        )
    )

    # THEN cfn-lint finds no error and cdk-nag AwsSolutions nothing unacknowledged
    assert nag_violations(stack.node.root) == []
    assert cfn_lint_errors(Template.from_stack(stack).to_json()) == []


# --- synth messages ----------------------------------------------------------------------------


def test_inf1_variant_warns_that_guardrails_are_ignored():
    # GIVEN a variant on Inf1, where SageMaker falls back to all-at-once with no baking
    stack, model = _stack()
    RealtimeEndpoint(stack, "Endpoint", variants=[_variant(model, 2, instance_type="ml.inf1.xlarge")])

    # THEN a warning with an acknowledgeable id says so
    warnings = Annotations.from_stack(stack).find_warning(
        "/Guardrails/Endpoint", Match.string_like_regexp("ignores deployment guardrails")
    )
    assert len(warnings) == 1
    assert "serving-constructs:guardrailsIgnoredOnInf1:AllTraffic" in warnings[0].entry.data


def test_rolling_is_refused_at_synth_when_a_second_variant_is_added_later():
    # GIVEN a rolling endpoint that gets a second variant after construction
    stack, model = _stack()
    endpoint = RealtimeEndpoint(
        stack, "Endpoint", variants=[_variant(model, 4)], deployment=DeploymentPolicy.rolling()
    )
    endpoint.add_production_variant(_variant(model, 4, variant_name="Challenger"))

    # THEN synthesis fails naming deployment, the variants and the fix
    with pytest.raises(
        RuntimeError, match=r"deployment DeploymentPolicy.rolling\(max_batch=Capacity.percent\(25\)\)"
    ) as error:
        stack.node.root.synth()
    assert "2 variants ('AllTraffic', 'Challenger')" in str(error.value)
    assert "DeploymentPolicy.canary(...)" in str(error.value)


class _ServerlessEndpoint(EndpointBase):
    """A serverless endpoint kind, as a subclass of the base would declare one."""

    variant_kinds = (ServerlessProductionVariant,)


def test_rolling_is_refused_on_serverless_variants():
    # GIVEN a serverless variant WHEN the endpoint rolls
    stack, model = _stack()
    with pytest.raises(PropsError) as error:
        _ServerlessEndpoint(
            stack,
            "Endpoint",
            variants=[ServerlessProductionVariant(model=model, memory_size_in_mb=2048, max_concurrency=5)],
            deployment=DeploymentPolicy.rolling(),
        )

    # THEN one message names deployment, the variant and the fix
    for fragment in (
        "deployment DeploymentPolicy.rolling(",
        "serverless variant 'AllTraffic'",
        "all_at_once(...)",
    ):
        assert fragment in str(error.value)


@pytest.mark.parametrize("kind", [AsyncEndpoint, MultiModelEndpoint])
def test_deployment_passes_through_every_endpoint_kind(kind: type[EndpointBase]):
    # GIVEN an asynchronous or multi-model endpoint with a linear policy
    stack, model = _stack()
    policy = DeploymentPolicy.linear(step=Capacity.percent(50))
    if kind is AsyncEndpoint:
        endpoint = AsyncEndpoint(stack, "Endpoint", variants=[_variant(model, 2)], deployment=policy)
    else:
        endpoint = MultiModelEndpoint(stack, "Endpoint", deployment=policy)

    # THEN the endpoint keeps it (the render is the base's, tested above)
    assert endpoint.deployment is policy
