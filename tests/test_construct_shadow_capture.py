"""Shadow variants and data capture on RealtimeEndpoint, and the example stack that uses both."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from serving_constructs import (
    DataCapture,
    ModelArtifact,
    ProductionVariant,
    PropsError,
    RealtimeEndpoint,
    TritonModel,
)
from stacks.examples_shadow_capture import ShadowCaptureStack


def _models(stack: Stack) -> tuple[TritonModel, TritonModel]:
    bucket = s3.Bucket.from_bucket_name(stack, "ModelsBucket", "models-bucket")
    return (
        TritonModel(
            stack, "Model", artifact=ModelArtifact.from_bucket(bucket, "v1/model.tar.gz", model_name="m")
        ),
        TritonModel(
            stack, "Candidate", artifact=ModelArtifact.from_bucket(bucket, "v2/model.tar.gz", model_name="m")
        ),
    )


def _resource(template: dict[str, Any], type_: str) -> dict[str, Any]:
    (found,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == type_]
    return found


def _statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    (policy,) = [
        r["Properties"]
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Policy" and k.startswith(f"{role_prefix}RoleDefaultPolicy")
    ]
    return policy["PolicyDocument"]["Statement"]


# --- the example stack (one synth for the module) --------------------------------------------


@pytest.fixture(scope="module")
def example() -> tuple[ShadowCaptureStack, dict[str, Any]]:
    stack = ShadowCaptureStack(App(), "ShadowCapture")
    return stack, Template.from_stack(stack).to_json()


def test_example_renders_one_production_and_one_shadow_variant(example):
    _, template = example
    config = _resource(template, "AWS::SageMaker::EndpointConfig")
    assert [v["VariantName"] for v in config["ProductionVariants"]] == ["Production"]
    assert [v["VariantName"] for v in config["ShadowProductionVariants"]] == ["Shadow"]
    shadow = config["ShadowProductionVariants"][0]
    assert shadow["ModelName"] == {"Fn::GetAtt": ["CandidateModel0DE185DB", "ModelName"]}
    assert (shadow["InstanceType"], shadow["InitialInstanceCount"]) == ("ml.g4dn.xlarge", 2)


def test_example_captures_to_its_hardened_bucket_with_the_kms_key(example):
    stack, template = example
    capture = _resource(template, "AWS::SageMaker::EndpointConfig")["DataCaptureConfig"]
    bucket_id = stack.get_logical_id(stack.endpoint.data_capture_bucket.node.default_child)
    key_id = stack.get_logical_id(stack.capture_key.node.default_child)
    assert capture == {
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
        "DestinationS3Uri": {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/data-capture"]]},
        "EnableCapture": True,
        "InitialSamplingPercentage": 20,
        "KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    Template.from_stack(stack).has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                        },
                    }
                ]
            },
        },
    )
    assert template["Resources"][bucket_id]["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("role", ["ProductionModel", "CandidateModel"])
def test_example_model_roles_may_only_put_objects_under_the_capture_prefix(example, role):
    stack, template = example
    bucket_id = stack.get_logical_id(stack.endpoint.data_capture_bucket.node.default_child)
    key_id = stack.get_logical_id(stack.capture_key.node.default_child)
    on_capture = [s for s in _statements(template, role) if bucket_id in str(s["Resource"])]
    assert on_capture == [
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/data-capture/*"]]},
        }
    ]
    on_key = [s for s in _statements(template, role) if key_id in str(s["Resource"])]
    assert on_key == [
        {
            "Action": ["kms:GenerateDataKey", "kms:Encrypt"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [key_id, "Arn"]},
        }
    ]


def test_example_autoscaled_endpoint_still_takes_a_changed_data_capture(example):
    # The production variant scales, so deploys keep its instance count (RetainAllVariantProperties);
    # DataCaptureConfig stays excluded, so a changed capture config reaches the endpoint.
    _, template = example
    endpoint = _resource(template, "AWS::SageMaker::Endpoint")
    assert endpoint["RetainAllVariantProperties"] is True
    assert {"VariantPropertyType": "DataCaptureConfig"} in endpoint["ExcludeRetainedVariantProperties"]


def test_example_passes_cfn_lint(example, cfn_lint_errors):
    _, template = example
    assert cfn_lint_errors(template) == []


def test_example_has_no_unacknowledged_nag_findings(nag_violations):
    app = App()
    ShadowCaptureStack(app, "ShadowCaptureNag")
    assert nag_violations(app) == []


# --- the construct ---------------------------------------------------------------------------


def test_changing_data_capture_renders_a_new_config_the_endpoint_switches_to():
    # Two synths of the same endpoint but for the sampling percentage: the config (no fixed name)
    # differs, so CloudFormation replaces it and updates the endpoint in place.
    configs = []
    for percentage in (20, 50):
        stack = Stack(App(), "S")
        model, _ = _models(stack)
        RealtimeEndpoint(
            stack,
            "Endpoint",
            variants=[ProductionVariant(model=model, initial_instance_count=2)],
            data_capture=DataCapture(sampling_percentage=percentage),
        )
        template = Template.from_stack(stack).to_json()
        configs.append(_resource(template, "AWS::SageMaker::EndpointConfig"))
        endpoint = _resource(template, "AWS::SageMaker::Endpoint")
        assert "EndpointConfigName" in endpoint and "RetainAllVariantProperties" not in endpoint
    assert [c["DataCaptureConfig"]["InitialSamplingPercentage"] for c in configs] == [20, 50]
    assert "EndpointConfigName" not in configs[0]


def test_data_capture_to_the_users_bucket_output_only_csv_and_sampling_zero():
    stack = Stack(App(), "S")
    model, _ = _models(stack)
    bucket = s3.Bucket.from_bucket_name(stack, "Capture", "capture-bucket")
    key = kms.Key.from_key_arn(stack, "Key", "arn:aws:kms:us-east-1:123456789012:key/abcd")
    endpoint = RealtimeEndpoint(
        stack,
        "Endpoint",
        variants=[ProductionVariant(model=model, initial_instance_count=2)],
        data_capture=DataCapture(
            bucket=bucket,
            prefix="monitoring/capture",
            sampling_percentage=0,
            kms_key=key,
            capture_input=False,
            csv_content_types=["text/csv"],
            enabled=False,
        ),
    )
    assert endpoint.data_capture_bucket is bucket
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::S3::Bucket", 0)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "DataCaptureConfig": {
                "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
                "CaptureOptions": [{"CaptureMode": "Output"}],
                "DestinationS3Uri": "s3://capture-bucket/monitoring/capture",
                "EnableCapture": False,
                "InitialSamplingPercentage": 0,
                "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/abcd",
            }
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "s3:PutObject",
                                "Resource": {
                                    "Fn::Join": [
                                        "",
                                        [
                                            "arn:",
                                            {"Ref": "AWS::Partition"},
                                            ":s3:::capture-bucket/monitoring/capture/*",
                                        ],
                                    ]
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_variant_added_later_gets_the_capture_grant_and_shadow_metrics_use_its_name():
    stack = Stack(App(), "S")
    model, candidate = _models(stack)
    endpoint = RealtimeEndpoint(
        stack,
        "Endpoint",
        shadow_variants=[ProductionVariant(model=candidate, variant_name="Shadow", initial_instance_count=2)],
        data_capture=DataCapture(),
    )
    endpoint.add_production_variant(ProductionVariant(model=model, initial_instance_count=2))
    template = Template.from_stack(stack).to_json()
    for role in ("Model", "Candidate"):
        assert any(s["Action"] == "s3:PutObject" for s in _statements(template, role))
    metric = endpoint.metric_model_latency(variant_name="Shadow")
    assert metric.dimensions["VariantName"] == "Shadow"
    with pytest.raises(PropsError, match="'Shadow' is a shadow variant"):
        endpoint.auto_scale_instance_count("Shadow", min_capacity=1, max_capacity=2)
    with pytest.raises(PropsError, match="shadow_variants takes exactly one production variant"):
        endpoint.add_production_variant(
            ProductionVariant(model=model, variant_name="B", initial_instance_count=2)
        )


def test_an_endpoint_kind_without_capture_or_shadows_refuses_them():
    # The hooks a kind sets (ServerlessEndpoint will: SERVICE-FACTS §7.2 "no data capture").
    class NoCaptureKind(RealtimeEndpoint):
        takes_data_capture = False
        takes_shadow_variants = False

    stack = Stack(App(), "S")
    model, candidate = _models(stack)
    with pytest.raises(PropsError) as error:
        NoCaptureKind(
            stack,
            "Endpoint",
            variants=[ProductionVariant(model=model)],
            shadow_variants=[ProductionVariant(model=candidate, variant_name="Shadow")],
            data_capture=DataCapture(),
        )
    message = str(error.value)
    assert "data_capture is not supported by NoCaptureKind" in message
    assert "shadow_variants is not supported by NoCaptureKind" in message


def test_example_synth_is_deterministic(example):
    _, template = example
    again = Template.from_stack(ShadowCaptureStack(App(), "ShadowCapture")).to_json()
    assert again == template
