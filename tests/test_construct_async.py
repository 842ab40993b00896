"""AsyncEndpoint: async config, bucket and topics, least privilege, scale to zero and back, metrics.

One stack per module for the seed's configuration (defaults, synthesized under cdk-nag) and one
for a configuration with every resource passed in; the tests read their templates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk import App, CfnElement, DefaultStackSynthesizer, Duration, Environment, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template

from serving_constructs import (
    INVOCATION_NAMESPACE,
    METRICS,
    AsyncEndpoint,
    AsyncScalableInstanceCount,
    IncludeInferenceResponseIn,
    InstanceType,
    ModelArtifact,
    ProductionVariant,
    PropsError,
    TritonModel,
    defaults,
    unit_of,
)


@dataclass
class Synth:
    """A synthesized stack with an AsyncEndpoint."""

    stack: Stack
    endpoint: AsyncEndpoint
    model: TritonModel
    template: Template
    raw: dict[str, Any]

    def resolve(self, value: Any) -> Any:
        return self.stack.resolve(value)

    def logical_id(self, construct: Any) -> str:
        element = construct if isinstance(construct, CfnElement) else construct.node.default_child
        return str(self.stack.resolve(element.logical_id))

    def role_statements(self, role_construct: Any) -> list[dict[str, Any]]:
        """Return the statements of the default policy of a role construct."""
        role_id = self.logical_id(role_construct)
        return [
            statement
            for resource in self.raw["Resources"].values()
            if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        ]


def _model(stack: Stack) -> TritonModel:
    bucket = s3.Bucket.from_bucket_name(stack, "ModelsBucket", "models-bucket")
    return TritonModel(
        stack, "Model", artifact=ModelArtifact.from_bucket(bucket, "bert/model.tar.gz", model_name="bert")
    )


def _seed_stack(app: App, **stack_props: Any) -> tuple[Stack, AsyncEndpoint, TritonModel, iam.Role]:
    """Seed 002's endpoint: defaults, concurrency 2, scale to zero, and a client."""
    stack = Stack(app, "Seed", **stack_props)
    model = _model(stack)
    endpoint = AsyncEndpoint(
        stack,
        "Endpoint",
        variants=[ProductionVariant(model=model, initial_instance_count=1)],
        max_concurrent_invocations_per_instance=2,
        include_inference_response_in=[IncludeInferenceResponseIn.SUCCESS_NOTIFICATION_TOPIC],
    )
    endpoint.scale_to_zero()
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke_async(client)
    return stack, endpoint, model, client


@pytest.fixture(scope="module")
def seed(nag_violations: Callable[[App], list[str]]) -> tuple[Synth, iam.Role, list[str]]:
    """The seed stack, synthesized once under cdk-nag AwsSolutions; its findings are returned too."""
    app = App()
    stack, endpoint, model, client = _seed_stack(app)
    findings = nag_violations(app)
    raw = json.loads((Path(app.outdir) / "Seed.template.json").read_text())
    return Synth(stack, endpoint, model, Template.from_json(raw), raw), client, findings


@pytest.fixture(scope="module")
def custom() -> tuple[Synth, dict[str, Any]]:
    """Everything passed in: bucket, prefixes, topics with a customer key, output key, subscribers."""
    app = App()
    stack = Stack(app, "Custom")
    model = _model(stack)
    parts: dict[str, Any] = {
        "output_key": kms.Key(stack, "OutputKey", enable_key_rotation=True),
        "topic_key": kms.Key(stack, "TopicKey", enable_key_rotation=True),
    }
    parts["success"] = sns.Topic(stack, "Done", master_key=parts["topic_key"])
    parts["error"] = sns.Topic(stack, "Failed", master_key=parts["topic_key"])
    endpoint = AsyncEndpoint(
        stack,
        "Endpoint",
        variants=[ProductionVariant(model=model, initial_instance_count=1)],
        output_bucket=s3.Bucket.from_bucket_name(stack, "Results", "my-results"),
        output_prefix="results/out",
        failure_prefix="results/failed",
        input_prefix="requests",
        success_topic=parts["success"],
        error_topic=parts["error"],
        output_kms_key=parts["output_key"],
    )
    parts["queue"] = sqs.Queue(stack, "Queue", enforce_ssl=True)
    parts["function"] = lambda_.Function.from_function_attributes(
        stack,
        "Consumer",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:consumer",
        same_environment=True,
    )
    parts["queue_subscriptions"] = endpoint.subscribe_queue(parts["queue"], raw_message_delivery=True)
    parts["function_subscriptions"] = endpoint.subscribe_function(parts["function"], on=("success",))
    parts["email_subscriptions"] = endpoint.subscribe_email("ops@example.com")
    parts["client"] = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    parts["grant"] = endpoint.grant_invoke_async(parts["client"], input_prefix="batch/in")
    scalable = endpoint.auto_scale_instance_count(min_capacity=0, max_capacity=3)
    parts["scalable"] = scalable
    scalable.scale_on_backlog_size_per_instance(
        "Backlog", target_backlog_per_instance=20.0, scale_in_cooldown=Duration.minutes(10)
    )
    raw = app.synth().get_stack_by_name("Custom").template
    return Synth(stack, endpoint, model, Template.from_json(raw), raw), parts


def _s3_path(bucket_id: str, suffix: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, suffix]]}


def _object_arn(bucket_id: str, suffix: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, suffix]]}


def _ids_of(raw: dict[str, Any], resource_type: str) -> list[str]:
    return sorted(k for k, v in raw["Resources"].items() if v["Type"] == resource_type)


# --- the async config ------------------------------------------------------------------------


def test_async_endpoint_renders_the_seed_async_config_exactly(seed):
    # GIVEN seed 002's endpoint (defaults, concurrency 2, the response in success notifications)
    synth, _, _ = seed
    bucket = synth.logical_id(synth.endpoint.output_bucket)
    success, error = (synth.logical_id(t) for t in (synth.endpoint.success_topic, synth.endpoint.error_topic))

    # THEN the EndpointConfig's AsyncInferenceConfig is exactly this
    config = synth.raw["Resources"][synth.logical_id(synth.endpoint.endpoint_config)]["Properties"]
    assert config["AsyncInferenceConfig"] == {
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2},
        "OutputConfig": {
            "S3OutputPath": _s3_path(bucket, "/async-inference/output"),
            "S3FailurePath": _s3_path(bucket, "/async-inference/failures"),
            "NotificationConfig": {
                "SuccessTopic": {"Ref": success},
                "ErrorTopic": {"Ref": error},
                "IncludeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC"],
            },
        },
    }
    assert "KmsKeyId" not in config  # the EBS key (kms_key) was not given
    # THEN the paths the construct exposes are the same strings
    assert synth.resolve(synth.endpoint.output_path) == _s3_path(bucket, "/async-inference/output")
    assert synth.resolve(synth.endpoint.failure_path) == _s3_path(bucket, "/async-inference/failures")
    assert synth.resolve(synth.endpoint.input_path) == _s3_path(bucket, "/async-inference/input")


def test_async_endpoint_with_given_bucket_topics_and_key_renders_them(custom):
    # GIVEN a bucket, prefixes, topics and an output key passed in
    synth, parts = custom

    # THEN the config names them, with literal paths for the imported bucket
    key = synth.logical_id(parts["output_key"])
    synth.template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "AsyncInferenceConfig": {
                "OutputConfig": {
                    "S3OutputPath": "s3://my-results/results/out",
                    "S3FailurePath": "s3://my-results/results/failed",
                    "KmsKeyId": {"Fn::GetAtt": [key, "Arn"]},
                    "NotificationConfig": {
                        "SuccessTopic": {"Ref": synth.logical_id(parts["success"])},
                        "ErrorTopic": {"Ref": synth.logical_id(parts["error"])},
                    },
                },
            }
        },
    )
    # THEN SageMaker chooses the concurrency (no ClientConfig), and nothing was created in place of the inputs
    config = next(iter(synth.template.find_resources("AWS::SageMaker::EndpointConfig").values()))
    assert "ClientConfig" not in config["Properties"]["AsyncInferenceConfig"]
    synth.template.resource_count_is("AWS::S3::Bucket", 0)
    synth.template.resource_count_is("AWS::SNS::Topic", 2)
    assert synth.endpoint.input_path == "s3://my-results/requests"


def test_async_endpoint_without_notifications_has_no_topics(stack, bucket_artifact):
    # GIVEN notifications=False
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    endpoint = AsyncEndpoint(
        stack, "Endpoint", variants=[ProductionVariant(model=model)], notifications=False
    )

    # THEN no topic, no NotificationConfig, no sns:Publish; subscribing is refused
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"AsyncInferenceConfig": {"OutputConfig": Match.object_like({"NotificationConfig": Match.absent()})}},
    )
    assert "sns:Publish" not in json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert endpoint.success_topic is None and endpoint.error_topic is None
    with pytest.raises(PropsError, match=r"has no topics \(created with notifications=False\)"):
        endpoint.subscribe_queue(sqs.Queue(stack, "Queue"))


# --- the bucket and the topics ---------------------------------------------------------------


def test_async_endpoint_default_bucket_is_private_tls_only_encrypted_and_retained(seed):
    synth, _, _ = seed
    bucket = synth.logical_id(synth.endpoint.output_bucket)
    # The bucket holds users' results: its logical id is a contract.
    assert bucket == "EndpointOutputBucket704EF111"
    resource = synth.raw["Resources"][bucket]
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["Properties"] == {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "LifecycleConfiguration": {"Rules": [{"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}, "Status": "Enabled"}]},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
    }  # fmt: skip
    synth.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket},
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Effect": "Deny",
                            "Action": "s3:*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    )
                ]
            },
        },
    )


def test_async_endpoint_default_bucket_uses_the_output_key(stack, bucket_artifact):
    # GIVEN an output key and no bucket
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    AsyncEndpoint(stack, "Endpoint", variants=[ProductionVariant(model=model)], output_kms_key=key)

    # THEN the new bucket's default encryption is that key (with an S3 bucket key)
    key_id = stack.resolve(key.node.default_child.logical_id)
    Template.from_stack(stack).has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                            "SSEAlgorithm": "aws:kms",
                        },
                    }
                ]
            }
        },
    )


def test_async_endpoint_default_topics_are_encrypted_and_tls_only(seed):
    synth, _, _ = seed
    topics = _ids_of(synth.raw, "AWS::SNS::Topic")
    assert len(topics) == 2
    for topic in topics:
        key = synth.raw["Resources"][topic]["Properties"]["KmsMasterKeyId"]
        assert json.dumps(key).endswith(':alias/aws/sns"]]}')
        synth.template.has_resource_properties(
            "AWS::SNS::TopicPolicy",
            {
                "Topics": [{"Ref": topic}],
                "PolicyDocument": {
                    "Statement": [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sns:Publish",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                },
            },
        )


# --- least privilege -------------------------------------------------------------------------


def test_async_endpoint_execution_role_gets_only_its_prefixes_and_topics(seed):
    synth, _, _ = seed
    bucket = synth.logical_id(synth.endpoint.output_bucket)
    success, error = (synth.logical_id(t) for t in (synth.endpoint.success_topic, synth.endpoint.error_topic))
    statements = synth.role_statements(synth.model.role)
    # THEN after the model's own statements (logs, metrics, its artifact) come exactly these
    async_statements = statements[-3:]
    assert async_statements == [
        {
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Effect": "Allow",
            "Resource": [
                _object_arn(bucket, "/async-inference/output/*"),
                _object_arn(bucket, "/async-inference/failures/*"),
            ],
        },
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": _object_arn(bucket, "/async-inference/input/*"),
        },
        {"Action": "sns:Publish", "Effect": "Allow", "Resource": [{"Ref": success}, {"Ref": error}]},
    ]
    # THEN no KMS statement: the bucket is S3-encrypted and the topics use the AWS-managed SNS key
    assert not [s for s in statements if "kms:" in json.dumps(s["Action"])]


def test_async_endpoint_execution_role_uses_only_the_output_and_topic_keys(custom):
    synth, parts = custom
    statements = synth.role_statements(synth.model.role)
    # THEN the keys are named, no wildcard
    assert {
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Effect": "Allow",
        "Resource": [
            {"Fn::GetAtt": [synth.logical_id(parts["output_key"]), "Arn"]},
            {"Fn::GetAtt": [synth.logical_id(parts["topic_key"]), "Arn"]},
        ],
    } in statements
    # THEN writes only under the given prefixes; reads the endpoint's and the client's input prefixes
    bucket_arn = ["arn:", {"Ref": "AWS::Partition"}, ":s3:::my-results/"]

    def under(suffix: str) -> dict[str, Any]:
        return {"Fn::Join": ["", [*bucket_arn[:-1], bucket_arn[-1] + suffix]]}

    assert {
        "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
        "Effect": "Allow",
        "Resource": [under("results/out/*"), under("results/failed/*")],
    } in statements
    assert {"Action": "s3:GetObject", "Effect": "Allow", "Resource": under("requests/*")} in statements
    assert {"Action": "s3:GetObject", "Effect": "Allow", "Resource": under("batch/in/*")} in statements
    assert not [s for s in statements if s["Resource"] == "*" and s["Action"] != "cloudwatch:PutMetricData"]


def test_grant_invoke_async_grants_invoke_and_the_clients_prefixes(seed):
    synth, client, _ = seed
    bucket = synth.logical_id(synth.endpoint.output_bucket)
    assert synth.role_statements(client) == [
        {
            "Action": "sagemaker:InvokeEndpointAsync",
            "Effect": "Allow",
            "Resource": {"Ref": synth.logical_id(synth.endpoint)},
        },
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": _object_arn(bucket, "/async-inference/input/*"),
        },
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": [
                _object_arn(bucket, "/async-inference/output/*"),
                _object_arn(bucket, "/async-inference/failures/*"),
            ],
        },
    ]


def test_grant_invoke_async_with_a_key_grants_the_key_and_returns_one_grant(custom):
    synth, parts = custom
    statements = synth.role_statements(parts["client"])
    assert {
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [synth.logical_id(parts["output_key"]), "Arn"]},
    } in statements
    assert parts["grant"].success
    assert len(parts["grant"].principal_statements) == 4


def test_grant_invoke_on_an_async_endpoint_grants_invoke_endpoint_async(stack, bucket_artifact):
    # An endpoint with an AsyncInferenceConfig takes asynchronous invocations only.
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    endpoint = AsyncEndpoint(stack, "Endpoint", variants=[ProductionVariant(model=model)])
    role = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(role)
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {"Roles": [{"Ref": stack.resolve(role.node.default_child.logical_id)}], "PolicyDocument": {"Statement": [
            {"Action": "sagemaker:InvokeEndpointAsync", "Effect": "Allow", "Resource": {"Ref": Match.any_value()}}
        ]}},
    )  # fmt: skip


def test_async_endpoint_grants_a_variant_added_later(stack, bucket_artifact):
    # GIVEN an endpoint created without variants
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    endpoint = AsyncEndpoint(stack, "Endpoint")
    # WHEN a variant is added
    endpoint.add_production_variant(ProductionVariant(model=model))
    # THEN its execution role may publish to the topics
    assert "sns:Publish" in json.dumps(Template.from_stack(stack).find_resources("AWS::IAM::Policy"))


# --- scale to zero and back ------------------------------------------------------------------


def test_scale_to_zero_registers_a_target_from_zero_to_five(seed):
    synth, _, _ = seed
    endpoint_id = synth.logical_id(synth.endpoint)
    synth.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "MinCapacity": 0,
            "MaxCapacity": 5,
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "ServiceNamespace": "sagemaker",
            "ResourceId": {
                "Fn::Join": [
                    "",
                    ["endpoint/", {"Fn::GetAtt": [endpoint_id, "EndpointName"]}, "/variant/AllTraffic"],
                ]
            },
        },
    )


def test_scale_to_zero_tracks_backlog_per_instance_on_endpoint_name_only(seed):
    synth, _, _ = seed
    endpoint_id = synth.logical_id(synth.endpoint)
    synth.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "CustomizedMetricSpecification": {
                    "MetricName": "ApproximateBacklogSizePerInstance",
                    "Namespace": "AWS/SageMaker",
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": {"Fn::GetAtt": [endpoint_id, "EndpointName"]}}
                    ],
                    "Statistic": "Average",
                },
                "TargetValue": 5,
                "ScaleInCooldown": 120,
                "ScaleOutCooldown": 120,
                "DisableScaleIn": False,
            },
        },
    )


def test_scale_to_zero_adds_awss_step_policy_and_alarm_from_zero(seed):
    synth, _, _ = seed
    endpoint_id = synth.logical_id(synth.endpoint)
    # THEN the step policy is AWS's recipe: ChangeInCapacity, Average, cooldown 300, one step {>= 0: +1}
    synth.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": {
                "AdjustmentType": "ChangeInCapacity",
                "Cooldown": 300,
                "MetricAggregationType": "Average",
                "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
            },
        },
    )
    synth.template.resource_count_is("AWS::CloudWatch::Alarm", 1)
    alarm = next(iter(synth.template.find_resources("AWS::CloudWatch::Alarm").values()))["Properties"]
    # THEN the alarm watches HasBacklogWithoutCapacity with EndpointName only and triggers the step
    assert {k: v for k, v in alarm.items() if k not in ("AlarmActions", "AlarmDescription")} == {
        "MetricName": "HasBacklogWithoutCapacity",
        "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": "EndpointName", "Value": {"Fn::GetAtt": [endpoint_id, "EndpointName"]}}],
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 2,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "missing",
    }
    steps = synth.template.find_resources(
        "AWS::ApplicationAutoScaling::ScalingPolicy", {"Properties": {"PolicyType": "StepScaling"}}
    )
    assert alarm["AlarmActions"] == [{"Ref": step} for step in steps]


def test_scale_on_backlog_size_per_instance_takes_a_target_and_cooldowns(custom):
    synth, parts = custom
    assert isinstance(parts["scalable"], AsyncScalableInstanceCount)
    synth.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 0, "MaxCapacity": 3}
    )
    synth.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {"TargetValue": 20, "ScaleInCooldown": 600, "ScaleOutCooldown": 120}
            )
        },
    )
    synth.template.resource_count_is("AWS::CloudWatch::Alarm", 0)


def test_scale_out_from_zero_warns_when_the_minimum_is_above_zero(stack, bucket_artifact):
    # GIVEN a scalable count that never reaches zero
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    endpoint = AsyncEndpoint(stack, "Endpoint", variants=[ProductionVariant(model=model)])
    scalable = endpoint.auto_scale_instance_count(min_capacity=1, max_capacity=3)
    # WHEN the from-zero step is added anyway
    scalable.scale_out_from_zero("FromZero")
    # THEN a warning says it only acts at zero
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("acts only at zero instances")
    )
    assert len(warnings) == 1


def test_async_endpoint_scale_out_from_zero_refuses_a_taken_id(stack, bucket_artifact):
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    endpoint = AsyncEndpoint(stack, "Endpoint", variants=[ProductionVariant(model=model)])
    scalable = endpoint.scale_to_zero()
    with pytest.raises(
        PropsError, match=r"id 'ScaleOutFromZero' is already a policy on this scalable target"
    ):
        scalable.scale_out_from_zero("ScaleOutFromZero")


# --- notifications ---------------------------------------------------------------------------


def test_subscribe_helpers_subscribe_queue_function_and_email_to_the_chosen_topics(custom):
    synth, parts = custom
    success, error = synth.logical_id(parts["success"]), synth.logical_id(parts["error"])
    subscriptions = sorted(
        (
            p["Properties"]["Protocol"],
            p["Properties"]["TopicArn"]["Ref"],
            p["Properties"].get("RawMessageDelivery"),
        )
        for p in synth.template.find_resources("AWS::SNS::Subscription").values()
    )
    assert subscriptions == sorted(
        [
            ("sqs", success, True),
            ("sqs", error, True),
            ("lambda", success, None),
            ("email", error, None),
        ]
    )
    assert len(parts["queue_subscriptions"]) == 2 and len(parts["function_subscriptions"]) == 1
    # THEN the queue's policy lets each topic send to it
    policy = next(iter(synth.template.find_resources("AWS::SQS::QueuePolicy").values()))
    sources = [s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in policy["Properties"]["PolicyDocument"]["Statement"] if "Condition" in s and "ArnEquals" in s["Condition"]]  # fmt: skip
    assert sorted(json.dumps(s) for s in sources) == sorted(json.dumps({"Ref": t}) for t in (success, error))


# --- metrics ---------------------------------------------------------------------------------

_UNITS = {
    "ApproximateAgeOfOldestRequest": cloudwatch.Unit.SECONDS,
    "TimeInBacklog": cloudwatch.Unit.MILLISECONDS,
    "TotalProcessingTime": cloudwatch.Unit.MILLISECONDS,
}
_ENDPOINT_ONLY = ("EndpointName",)
_PER_VARIANT = ("EndpointName", "VariantName")


@pytest.mark.parametrize(
    ("method", "metric_name", "dimensions", "statistic", "label"),
    [
        ("metric_approximate_backlog_size", "ApproximateBacklogSize", _ENDPOINT_ONLY, "Average", None),
        ("metric_approximate_backlog_size_per_instance", "ApproximateBacklogSizePerInstance", _ENDPOINT_ONLY, "Average", None),
        ("metric_approximate_age_of_oldest_request", "ApproximateAgeOfOldestRequest", _ENDPOINT_ONLY, "Average",
         "ApproximateAgeOfOldestRequest (seconds)"),
        ("metric_has_backlog_without_capacity", "HasBacklogWithoutCapacity", _ENDPOINT_ONLY, "Average", None),
        ("metric_invocations_processed", "InvocationsProcessed", _PER_VARIANT, "Sum", None),
        ("metric_invocation_failures", "InvocationFailures", _PER_VARIANT, "Sum", None),
        ("metric_time_in_backlog", "TimeInBacklog", _PER_VARIANT, "Average", "TimeInBacklog (milliseconds)"),
        ("metric_total_processing_time", "TotalProcessingTime", _PER_VARIANT, "Average",
         "TotalProcessingTime (milliseconds)"),
        ("metric_expired_requests", "ExpiredRequests", _PER_VARIANT, "Sum", None),
        ("metric_notification_failures", "NotificationFailures", _PER_VARIANT, "Sum", None),
    ],
)  # fmt: skip
def test_async_endpoint_metric_has_sagemakers_namespace_dimensions_and_statistic(
    seed, method, metric_name, dimensions, statistic, label
):
    synth, _, _ = seed
    # WHEN the helper is called
    metric = getattr(synth.endpoint, method)()
    # THEN namespace, dimension set, statistic and label are SageMaker's
    assert (metric.namespace, metric.metric_name, metric.statistic, metric.label) == (
        INVOCATION_NAMESPACE,
        metric_name,
        statistic,
        label,
    )
    # THEN the table's unit (documentation and axis label; CloudWatch filters on a set unit) is SageMaker's
    assert unit_of(METRICS[metric_name]) == _UNITS.get(metric_name, cloudwatch.Unit.COUNT)
    resolved = synth.resolve(metric.dimensions)
    assert tuple(sorted(resolved)) == dimensions
    assert resolved["EndpointName"] == {"Fn::GetAtt": [synth.logical_id(synth.endpoint), "EndpointName"]}
    if "VariantName" in resolved:
        assert resolved["VariantName"] == "AllTraffic"


def test_async_endpoint_refuses_metrics_async_endpoints_do_not_publish(seed):
    synth, _, _ = seed
    with pytest.raises(PropsError, match=r"AsyncEndpoint does not publish Invocations"):
        synth.endpoint.metric_invocations()


def test_async_endpoint_queue_metric_refuses_a_variant(seed):
    synth, _, _ = seed
    with pytest.raises(PropsError, match=r"variant"):
        synth.endpoint.metric("ApproximateBacklogSize", variant_name="AllTraffic")


# --- checks ----------------------------------------------------------------------------------


def test_async_endpoint_has_no_unacknowledged_nag_findings(seed):
    _, _, findings = seed
    assert findings == []


def test_async_endpoint_with_given_resources_in_a_pinned_environment_has_no_unacknowledged_nag_findings(
    nag_violations,
):
    # GIVEN an imported bucket, customer keys, given topics and an extra input prefix, in a pinned
    # environment (cdk-nag then names resources with the literal region and account)
    app = App()
    stack = Stack(app, "Pinned", env=Environment(account="123456789012", region="eu-west-1"))
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    endpoint = AsyncEndpoint(
        stack,
        "Endpoint",
        variants=[ProductionVariant(model=_model(stack), instance_type=InstanceType.ML_C5_XLARGE)],
        output_bucket=s3.Bucket.from_bucket_name(stack, "Results", "my-results"),
        output_kms_key=key,
        success_topic=sns.Topic(stack, "Done", master_key=key, enforce_ssl=True),
        error_topic=sns.Topic(stack, "Failed", master_key=key, enforce_ssl=True),
    )
    endpoint.scale_to_zero()
    endpoint.grant_invoke_async(
        iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal()), input_prefix="in"
    )
    # THEN every finding has an acknowledgement with a reason
    assert nag_violations(app) == []


def test_async_endpoint_templates_pass_cfn_lint(seed, custom, cfn_lint_errors):
    assert cfn_lint_errors(seed[0].raw) == []
    assert cfn_lint_errors(custom[0].raw) == []


def test_async_endpoint_synthesis_is_deterministic(seed):
    # GIVEN the seed stack built again in two fresh apps
    templates = []
    for _ in range(2):
        app = App()
        _seed_stack(app)
        templates.append(json.dumps(app.synth().get_stack_by_name("Seed").template, sort_keys=True))
    # THEN both equal each other and the module's
    assert templates[0] == templates[1] == json.dumps(seed[0].raw, sort_keys=True)


@pytest.mark.slow
def test_async_endpoint_deploys_into_the_emulator_and_reports_what_it_skipped(
    tmp_path, publish_file_assets, wait_for_stack
):
    from rehearsal.cdk_cli import CdkCli
    from rehearsal.moto_server import MotoServer

    # GIVEN the seed stack, synthesized without the bootstrap-version rule (no CDK bootstrap here)
    app = App()
    _seed_stack(app, synthesizer=DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
    assembly = app.synth()
    template = assembly.get_stack_by_name("Seed").template
    with MotoServer() as moto:
        s3_client = boto3.client("s3", **moto.boto3_kwargs())
        s3_client.create_bucket(Bucket="models-bucket")
        # the scaling release's handler (a Lambda custom resource) is read from the asset bucket
        publish_file_assets(Path(assembly.directory), "Seed", s3_client, account=moto.account_id, region=moto.region)
        cfn = boto3.client("cloudformation", **moto.boto3_kwargs())
        # WHEN it is created through CloudFormation
        cfn.create_stack(StackName="Seed", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
        # THEN the stack is complete and the endpoint has the async config
        assert wait_for_stack(cfn, "Seed")["StackStatus"] == "CREATE_COMPLETE"
        sagemaker = boto3.client("sagemaker", **moto.boto3_kwargs())
        (summary,) = sagemaker.list_endpoints()["Endpoints"]
        endpoint = sagemaker.describe_endpoint(EndpointName=summary["EndpointName"])
        config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        output = config["AsyncInferenceConfig"]["OutputConfig"]
        bucket = output["S3OutputPath"].split("/")[2]
        assert output["S3OutputPath"] == f"s3://{bucket}/async-inference/output"
        assert output["S3FailurePath"] == f"s3://{bucket}/async-inference/failures"
        assert config["AsyncInferenceConfig"]["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 2}
        topics = {t["TopicArn"] for t in boto3.client("sns", **moto.boto3_kwargs()).list_topics()["Topics"]}
        assert {
            output["NotificationConfig"]["SuccessTopic"],
            output["NotificationConfig"]["ErrorTopic"],
        } == topics
        # THEN what moto's CloudFormation skipped is exactly the policies and the scaling (the alarm is
    # created by rehearsal.moto_extensions)
        skipped = CdkCli(moto.subprocess_env(), output_dir=tmp_path / "cdk.out").find_skipped_resources(
            "Seed"
        )
    assert sorted(s.resource_type for s in skipped) == [
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::S3::BucketPolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::SNS::TopicPolicy",
    ]


# --- documented defaults ---------------------------------------------------------------------


def _docs_defaults_table() -> dict[str, str]:
    docs = Path(__file__).resolve().parents[1] / "docs" / "constructs.md"
    section = docs.read_text().split("\n## Defaults\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ")]
    return {prop.strip(): default.strip() for prop, default in rows[1:]}


def test_async_defaults_agree_with_the_docs_table_and_the_docstrings():
    # GIVEN the defaults module  THEN the docs' Defaults table and the docstrings say the same values
    table = _docs_defaults_table()
    assert table["`AsyncEndpoint` output / failure / input prefix"] == (
        f"`{defaults.async_output_prefix()}` / `{defaults.async_failure_prefix()}` / `{defaults.async_input_prefix()}`"
    )
    assert table["backlog target per instance"] == str(defaults.backlog_per_instance_target())
    assert table["backlog scale-in / scale-out cooldown"] == (
        f"{defaults.backlog_scale_in_cooldown_seconds()} s / {defaults.backlog_scale_out_cooldown_seconds()} s"
    )
    assert table["scale-out-from-zero cooldown"] == f"{defaults.scale_out_from_zero_cooldown_seconds()} s"
    assert table["`scale_to_zero(max_capacity)`"] == str(defaults.scale_to_zero_max_capacity())

    def doc(obj: Any) -> str:
        return " ".join((obj.__doc__ or "").split())

    for text in (
        f'Defaults to ``"{defaults.async_output_prefix()}"``',
        f'Defaults to ``"{defaults.async_failure_prefix()}"``',
        f'Defaults to ``"{defaults.async_input_prefix()}"``',
    ):
        assert text in doc(AsyncEndpoint)
    backlog = doc(AsyncScalableInstanceCount.scale_on_backlog_size_per_instance)
    assert f"Defaults to {defaults.backlog_per_instance_target()}" in backlog
    assert f"scale-in. Defaults to {defaults.backlog_scale_in_cooldown_seconds()} s" in backlog
    assert f"scale-out. Defaults to {defaults.backlog_scale_out_cooldown_seconds()} s" in backlog
    assert f"Defaults to {defaults.scale_out_from_zero_cooldown_seconds()} s" in doc(
        AsyncScalableInstanceCount.scale_out_from_zero
    )
    to_zero = doc(AsyncEndpoint.scale_to_zero)
    assert f">= 1. Defaults to {defaults.scale_to_zero_max_capacity()}." in to_zero
    assert f"Defaults to {defaults.scale_out_from_zero_cooldown_seconds()} s." in to_zero
