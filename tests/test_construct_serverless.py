"""ServerlessEndpoint: the serverless config, provisioned-concurrency scaling, the fit rule, metrics, monitoring."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from serving_constructs import (
    METRICS,
    ContainerImage,
    ContainerModel,
    ModelArtifact,
    PropsError,
    ServerlessEndpoint,
    ServerlessFit,
    ServerlessProductionVariant,
    ServingMode,
    TritonModel,
    serverless_fit,
)
from serving_constructs.serverless import INVOCATION_TIMEOUT, MAX_PAYLOAD_BYTES, size_fit

_GB = 1000**3


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serverless")
    config = folder / "config.pbtxt"
    config.write_text('name: "tiny"\nbackend: "onnxruntime"\ninstance_group [{ kind: KIND_CPU }]\n')
    path = folder / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(config, arcname="tiny/config.pbtxt")
    return path


def _endpoint(stack: Stack, artifact: ModelArtifact, **variant_props) -> ServerlessEndpoint:
    model = TritonModel(stack, "Model", artifact=artifact, network_isolation=False)
    variant_props.setdefault("memory_size_in_mb", 2048)
    variant_props.setdefault("max_concurrency", 10)
    return ServerlessEndpoint(
        stack, "Endpoint", variants=[ServerlessProductionVariant(model=model, **variant_props)]
    )


@pytest.fixture(scope="module")
def synth(archive) -> tuple[Stack, Template]:
    stack = Stack(App(), "Serverless")
    endpoint = _endpoint(stack, ModelArtifact.from_asset(archive), provisioned_concurrency=2)
    endpoint.auto_scale_provisioned_concurrency(min_capacity=1, max_capacity=10).scale_on_utilization(
        "Utilization", target_utilization=0.5
    )
    endpoint.add_monitoring(alarms=True, latency_target_ms=200)
    endpoint.add_dashboard()
    return stack, Template.from_stack(stack)


def test_config_has_one_serverless_variant_without_instances(synth):
    _, template = synth
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "KmsKeyId": Match.absent(),
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": Match.any_value(),
                    "InitialVariantWeight": 1,
                    "ServerlessConfig": {
                        "MemorySizeInMB": 2048,
                        "MaxConcurrency": 10,
                        "ProvisionedConcurrency": 2,
                    },
                }
            ],
        },
    )
    template.has_resource_properties("AWS::SageMaker::Model", {"EnableNetworkIsolation": False})
    # Serverless variants have no instances to shift: the default update is all at once, with rollback.
    template.has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "DeploymentConfig": {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600}
                },
                "AutoRollbackConfiguration": {"Alarms": Match.any_value()},
            }
        },
    )


def test_provisioned_concurrency_scales_on_its_utilization(synth):
    _, template = synth
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "ScalableDimension": "sagemaker:variant:DesiredProvisionedConcurrency",
            "ServiceNamespace": "sagemaker",
            "MinCapacity": 1,
            "MaxCapacity": 10,
            "ResourceId": {
                "Fn::Join": [
                    "",
                    ["endpoint/", {"Fn::GetAtt": [Match.any_value(), "EndpointName"]}, "/variant/AllTraffic"],
                ]
            },
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantProvisionedConcurrencyUtilization"
                },
                "TargetValue": 0.5,
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
                "DisableScaleIn": False,
            },
        },
    )


def test_dashboard_shows_serverless_metrics_and_no_instance_metrics(synth):
    _, template = synth
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for name in (
        "ModelSetupTime",
        "ServerlessConcurrentExecutionsUtilization",
        "ServerlessProvisionedConcurrencyUtilization",
        "ServerlessProvisionedConcurrencySpilloverInvocations",
        "OverheadLatency",
        "(serverless)",
    ):
        assert name in body, name
    for name in ("CPUUtilization", "DiskUtilization", "InvocationsPerInstance", "InvocationModelErrors"):
        assert name not in body, name
    # Only the alarms that apply to serverless: the 5xx rate and the p99 latency (both roll back).
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert sorted(a["Properties"]["AlarmName"].split("-")[-2] for a in alarms.values()) == [
        "Invocation5XXErrorRate",
        "ModelLatencyP99",
    ]


def test_metric_table_says_what_serverless_publishes():
    serverless = {name for name, spec in METRICS.items() if ServingMode.SERVERLESS in spec.modes}
    assert serverless == {
        "Invocations",
        "Invocation4XXErrors",
        "Invocation5XXErrors",
        "ModelLatency",
        "OverheadLatency",
        "ModelSetupTime",
        "ServerlessConcurrentExecutionsUtilization",
        "ServerlessProvisionedConcurrencyExecutions",
        "ServerlessProvisionedConcurrencyUtilization",
        "ServerlessProvisionedConcurrencyInvocations",
        "ServerlessProvisionedConcurrencySpilloverInvocations",
    }
    assert METRICS["ModelSetupTime"].unit == "Microseconds"


def test_known_small_archive_only_warns_about_the_dlc_image(synth):
    stack, _ = synth
    warnings = [
        w.entry.data
        for w in Annotations.from_stack(stack).find_warning("/Serverless/Endpoint", Match.any_value())
    ]
    assert len(warnings) == 1 and "serverlessImageSizeUnchecked" in warnings[0]
    assert "at most 10 GB" in warnings[0] and "TritonImage.from_ecr_repository" in warnings[0]


def test_unknown_archive_size_warns_that_the_rule_could_not_be_checked():
    stack = Stack(App(), "Unknown")
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    _endpoint(stack, ModelArtifact.from_bucket(bucket, "m/model.tar.gz", model_name="m"))
    warnings = Annotations.from_stack(stack).find_warning(
        "/Unknown/Endpoint", Match.string_like_regexp("serverlessArchiveSizeUnknown")
    )
    assert len(warnings) == 1
    assert "must be <= 2.5 GB and <= half of memory_size_in_mb" in warnings[0].entry.data


@pytest.mark.parametrize(
    ("size", "memory_mb", "errors", "warning"),
    [
        pytest.param(100 * 1000**2, 1024, [], None, id="100MB-on-1024MB-fits"),
        pytest.param(_GB, 1024, [], "use memory_size_in_mb=2048", id="1GB-on-1024MB-is-tight"),
        pytest.param(_GB, 2048, [], None, id="1GB-on-2048MB-fits"),
        pytest.param(
            2 * _GB,
            1024,
            ["memory_size_in_mb 1024 is below", "use memory_size_in_mb=4096"],
            None,
            id="2GB-on-1024MB-does-not-fit",
        ),
        pytest.param(
            3 * _GB, 6144, ["archive is 3.00 GB", "at most 2.5 GB of archive"], None, id="3GB-breaks-disk"
        ),
        pytest.param(
            4 * _GB, 2048, ["archive is 4.00 GB", "needs more than the 6144 MB"], None, id="4GB-never-fits"
        ),
    ],
)
def test_size_rule_says_which_models_qualify(size, memory_mb, errors, warning):
    found_errors, found_warnings = size_fit(size, memory_mb)
    text = " ".join(found_errors)
    assert all(fragment in text for fragment in errors) and bool(found_errors) == bool(errors), found_errors
    if warning is None:
        assert found_warnings == []
    else:
        assert len(found_warnings) == 1 and warning in found_warnings[0][1]


def test_refusals_come_in_one_message(archive):
    stack = Stack(App(), "Refused")
    model = TritonModel(stack, "Model", artifact=ModelArtifact.from_asset(archive))  # network isolation on
    with pytest.raises(PropsError) as error:
        ServerlessEndpoint(
            stack,
            "Endpoint",
            variants=[
                ServerlessProductionVariant(model=model, memory_size_in_mb=2048, max_concurrency=5),
                ServerlessProductionVariant(
                    model=model, variant_name="B", memory_size_in_mb=2048, max_concurrency=5
                ),
            ],
        )
    message = str(error.value)
    assert message.startswith("Invalid ServerlessEndpoint props: ")
    assert "variants[0].model has network_isolation on" in message
    assert "variants[1]: a ServerlessEndpoint has one production variant" in message


def test_payload_and_timeout_limits_are_stated():
    assert (MAX_PAYLOAD_BYTES, INVOCATION_TIMEOUT.to_seconds()) == (4_000_000, 60)
    doc = ServerlessEndpoint.__doc__ or ""
    assert "**4 MB**" in doc and "**60 s**" in doc


def test_own_container_on_ecr_is_served_without_network_isolation(archive):
    # GIVEN your own container (BYOC) in ECR with its model data, network isolation off
    stack = Stack(App(), "Byoc")
    repository = ecr.Repository.from_repository_name(stack, "Repo", "my-server")
    model = ContainerModel(
        stack,
        "Model",
        image=ContainerImage.from_ecr_repository(repository, "1"),
        model_data=ModelArtifact.from_asset(archive),
        network_isolation=False,
    )
    # WHEN it is the serverless variant's model
    ServerlessEndpoint(
        stack,
        "Endpoint",
        variants=[ServerlessProductionVariant(model=model, memory_size_in_mb=1024, max_concurrency=5)],
    )
    # THEN the endpoint serves it, and the fit rule has nothing to say (small archive, an image of your own)
    assert serverless_fit(model, 1024) == ServerlessFit((), (), archive.stat().st_size)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 5}})]},
    )
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "EnableNetworkIsolation": False,
            "PrimaryContainer": Match.object_like({"Image": Match.object_like({"Fn::Join": Match.any_value()})}),
        },
    )
    assert Annotations.from_stack(stack).find_warning("/Byoc/Endpoint", Match.any_value()) == []
