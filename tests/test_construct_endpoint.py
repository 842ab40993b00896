"""RealtimeEndpoint and ProductionVariant: config, endpoint, variants, validation, grants, metrics."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Annotations, Capture, Match, Template

from serving_constructs import (
    INSTANCE_NAMESPACE,
    INVOCATION_NAMESPACE,
    InstanceType,
    ProductionVariant,
    PropsError,
    RealtimeEndpoint,
    TritonModel,
)


@pytest.fixture
def model(stack, bucket_artifact) -> TritonModel:
    return TritonModel(stack, "Model", artifact=bucket_artifact(stack))


def _endpoint(stack, model, **variant_props) -> RealtimeEndpoint:
    return RealtimeEndpoint(stack, "Endpoint", variants=[ProductionVariant(model=model, **variant_props)])


def test_endpoint_renders_config_and_endpoint_with_generated_names(stack, model):
    # GIVEN / WHEN
    _endpoint(stack, model, initial_instance_count=2)

    # THEN
    template = Template.from_stack(stack)
    model_id = next(iter(template.find_resources("AWS::SageMaker::Model")))
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "EndpointConfigName": Match.absent(),
            "KmsKeyId": Match.absent(),
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": {"Fn::GetAtt": [model_id, "ModelName"]},
                    "InstanceType": "ml.g4dn.xlarge",
                    "InitialInstanceCount": 2,
                    "InitialVariantWeight": 1,
                }
            ],
        },
    )
    config = Capture()
    template.has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "EndpointName": Match.absent(),
            "EndpointConfigName": {"Fn::GetAtt": [config, "EndpointConfigName"]},
        },
    )
    assert template.to_json()["Resources"][config.as_string()]["Type"] == "AWS::SageMaker::EndpointConfig"


def test_endpoint_logical_id_is_pinned(stack, model):
    # Renaming the endpoint's logical id replaces the endpoint (downtime): pin it.
    endpoint = _endpoint(stack, model, initial_instance_count=2)
    assert endpoint.node.default_child.node.id == "Resource"
    assert stack.resolve(endpoint.node.default_child.logical_id) == "EndpointEEF1FD8F"
    assert endpoint.endpoint_config.node.id == "EndpointConfig"


def test_endpoint_variant_timeouts_and_volume_render(stack, model):
    # GIVEN / WHEN
    _endpoint(
        stack,
        model,
        instance_type=InstanceType.ML_C6I_XLARGE,
        initial_instance_count=2,
        volume_size_in_gb=30,
        model_data_download_timeout=Duration.minutes(10),
        container_startup_health_check_timeout=Duration.minutes(5),
    )

    # THEN
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like(
                    {
                        "InstanceType": "ml.c6i.xlarge",
                        "VolumeSizeInGB": 30,
                        "ModelDataDownloadTimeoutInSeconds": 600,
                        "ContainerStartupHealthCheckTimeoutInSeconds": 300,
                    }
                )
            ]
        },
    )


def test_add_production_variant_splits_traffic_by_weight(stack, model):
    # GIVEN
    endpoint = _endpoint(stack, model, variant_name="A", initial_instance_count=2, initial_variant_weight=3)

    # WHEN
    endpoint.add_production_variant(
        ProductionVariant(
            model=model, variant_name="B", instance_type=InstanceType.ML_G5_XLARGE, initial_instance_count=2
        )
    )

    # THEN
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like({"VariantName": "A", "InitialVariantWeight": 3}),
                Match.object_like(
                    {"VariantName": "B", "InitialVariantWeight": 1, "InstanceType": "ml.g5.xlarge"}
                ),
            ]
        },
    )


def test_endpoint_refuses_duplicate_variant_names(stack, model):
    endpoint = _endpoint(stack, model, initial_instance_count=2)
    with pytest.raises(
        PropsError,
        match=r"variants\[1\]\.variant_name must be unique in the endpoint \(got 'AllTraffic' twice\)",
    ):
        endpoint.add_production_variant(ProductionVariant(model=model))


def test_endpoint_refuses_more_than_ten_variants(stack, model):
    endpoint = RealtimeEndpoint(
        stack, "Endpoint", variants=[ProductionVariant(model=model, variant_name=f"V{i}") for i in range(10)]
    )
    with pytest.raises(PropsError, match="at most 10 production variants"):
        endpoint.add_production_variant(ProductionVariant(model=model, variant_name="V10"))


def test_endpoint_collects_every_variant_problem_into_one_error(stack, model):
    # GIVEN variant props that break every SageMaker range
    with pytest.raises(PropsError) as error:
        RealtimeEndpoint(
            stack,
            "Endpoint",
            variants=[
                ProductionVariant(
                    model=model,
                    variant_name="bad_name",
                    initial_instance_count=0,
                    initial_variant_weight=-1,
                    volume_size_in_gb=600,
                    model_data_download_timeout=Duration.seconds(30),
                    container_startup_health_check_timeout=Duration.hours(2),
                )
            ],
        )

    # THEN
    message = str(error.value)
    assert message.startswith("Invalid RealtimeEndpoint props: ")
    for expected in (
        "variants[0].variant_name must be 1-63 letters, digits or inner hyphens (got 'bad_name')",
        "variants[0].initial_instance_count must be >= 1 (got 0)",
        "variants[0].initial_variant_weight must be >= 0 (got -1)",
        "variants[0].volume_size_in_gb must be between 1 and 512 GB (got 600 GB)",
        "variants[0].model_data_download_timeout must be between 60 and 3600 s (got 30 s)",
        "variants[0].container_startup_health_check_timeout must be between 60 and 3600 s (got 7200 s)",
    ):
        assert expected in message


def test_endpoint_refuses_kms_key_on_nvme_instance_type(stack, model):
    # GIVEN a key and a g4dn variant (NVMe instance storage)
    key = kms.Key(stack, "Key")

    # WHEN / THEN, together with the other problems
    with pytest.raises(
        PropsError,
        match=(
            r"Invalid RealtimeEndpoint props: variants\[0\]\.initial_instance_count must be >= 1 \(got 0\); "
            r"kms_key is not supported on ml\.g4dn\.xlarge \(variants\[0\]; NVMe instance storage: SageMaker rejects "
            r"VolumeKmsKeyId\) — remove kms_key or choose a non-NVMe type"
        ),
    ):
        RealtimeEndpoint(
            stack,
            "Endpoint",
            kms_key=key,
            variants=[ProductionVariant(model=model, initial_instance_count=0)],
        )


def test_endpoint_refuses_kms_key_on_nvme_variant_added_later(stack, model):
    key = kms.Key(stack, "Key")
    endpoint = RealtimeEndpoint(
        stack,
        "Endpoint",
        kms_key=key,
        variants=[ProductionVariant(model=model, instance_type=InstanceType.ML_C5_XLARGE)],
    )
    with pytest.raises(PropsError, match=r"kms_key is not supported on ml\.p4d\.24xlarge"):
        endpoint.add_production_variant(
            ProductionVariant(model=model, variant_name="Gpu", instance_type=InstanceType.ML_P4D_24XLARGE)
        )


def test_endpoint_kms_key_on_ebs_instance_type(stack, model):
    # GIVEN / WHEN
    key = kms.Key(stack, "Key")
    RealtimeEndpoint(
        stack,
        "Endpoint",
        kms_key=key,
        variants=[ProductionVariant(model=model, instance_type=InstanceType.ML_M5_XLARGE)],
    )

    # THEN
    key_id = next(iter(Template.from_stack(stack).find_resources("AWS::KMS::Key")))
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::EndpointConfig", {"KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )


@pytest.mark.parametrize(
    ("name", "nvme"),
    [
        ("ml.g4dn.xlarge", True),
        ("ml.g5.2xlarge", True),
        ("ml.g6.xlarge", True),
        ("ml.g6e.xlarge", True),
        ("ml.p3dn.24xlarge", True),
        ("ml.p4d.24xlarge", True),
        ("ml.p4de.24xlarge", True),
        ("ml.p5.48xlarge", True),
        ("ml.m5d.large", True),
        ("ml.c5d.xlarge", True),
        ("ml.r5d.xlarge", True),
        ("ml.m6id.large", True),
        ("ml.c5.xlarge", False),
        ("ml.m5.xlarge", False),
        ("ml.c6i.xlarge", False),
        ("ml.p3.2xlarge", False),
        ("ml.inf2.xlarge", False),
    ],
)
def test_instance_type_nvme_family_rule(name, nvme):
    assert InstanceType.of(name).has_nvme_instance_storage is nvme


def test_instance_type_rejects_malformed_names():
    with pytest.raises(ValueError, match=r"Invalid instance type 'g4dn\.xlarge'"):
        InstanceType.of("g4dn.xlarge")


def test_endpoint_skips_checks_on_unresolved_tokens(stack, model):
    # GIVEN a count only known at deploy time
    count = Token.as_number({"Ref": "Count"})

    # WHEN / THEN no error is raised for it
    _endpoint(stack, model, initial_instance_count=count)


def test_endpoint_warns_about_a_single_instance(stack, model):
    # GIVEN / WHEN
    _endpoint(stack, model)

    # THEN
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Endpoint", Match.string_like_regexp("single instance: no Availability Zone redundancy")
    )


def test_endpoint_does_not_warn_with_two_instances(stack, model):
    _endpoint(stack, model, initial_instance_count=2)
    assert Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("single instance")) == []


def test_endpoint_warns_about_volume_size_on_nvme(stack, model):
    _endpoint(stack, model, initial_instance_count=2, volume_size_in_gb=100)
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Endpoint",
        Match.string_like_regexp("volume_size_in_gb is set but ml.g4dn.xlarge uses local NVMe"),
    )


def test_endpoint_without_variants_fails_validation():
    # GIVEN an endpoint nobody added a variant to
    app = App()
    stack = Stack(app, "Empty")
    RealtimeEndpoint(stack, "Endpoint")

    # WHEN / THEN synthesis reports it
    with pytest.raises(RuntimeError, match="RealtimeEndpoint has no production variants"):
        app.synth()


def test_grant_invoke_is_limited_to_this_endpoint(stack, model):
    # GIVEN
    endpoint = _endpoint(stack, model, initial_instance_count=2)
    caller = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))

    # WHEN
    grant = endpoint.grant_invoke(caller)

    # THEN
    assert grant.success
    endpoint_id = next(iter(Template.from_stack(stack).find_resources("AWS::SageMaker::Endpoint")))
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("^Caller")}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "sagemaker:InvokeEndpoint",
                        "Effect": "Allow",
                        "Resource": {"Ref": endpoint_id},
                    }
                ]
            },
        },
    )


METRICS = [
    ("metric_invocations", "Invocations", INVOCATION_NAMESPACE, "Sum"),
    ("metric_invocations_per_instance", "InvocationsPerInstance", INVOCATION_NAMESPACE, "Sum"),
    ("metric_model_latency", "ModelLatency", INVOCATION_NAMESPACE, "Average"),
    ("metric_overhead_latency", "OverheadLatency", INVOCATION_NAMESPACE, "Average"),
    ("metric_invocation_4xx_errors", "Invocation4XXErrors", INVOCATION_NAMESPACE, "Sum"),
    ("metric_invocation_5xx_errors", "Invocation5XXErrors", INVOCATION_NAMESPACE, "Sum"),
    ("metric_cpu_utilization", "CPUUtilization", INSTANCE_NAMESPACE, "Average"),
    ("metric_memory_utilization", "MemoryUtilization", INSTANCE_NAMESPACE, "Average"),
    ("metric_gpu_utilization", "GPUUtilization", INSTANCE_NAMESPACE, "Average"),
    ("metric_gpu_memory_utilization", "GPUMemoryUtilization", INSTANCE_NAMESPACE, "Average"),
    ("metric_disk_utilization", "DiskUtilization", INSTANCE_NAMESPACE, "Average"),
]


@pytest.mark.parametrize(("method", "metric_name", "namespace", "statistic"), METRICS)
def test_metric_namespace_and_dimensions(stack, model, method, metric_name, namespace, statistic):
    # GIVEN
    endpoint = _endpoint(stack, model, initial_instance_count=2)

    # WHEN
    metric = getattr(endpoint, method)()

    # THEN
    assert INVOCATION_NAMESPACE == "AWS/SageMaker" and INSTANCE_NAMESPACE == "/aws/sagemaker/Endpoints"
    assert metric.metric_name == metric_name
    assert metric.namespace == namespace
    assert metric.statistic == statistic
    endpoint_id = stack.resolve(endpoint.node.default_child.logical_id)
    assert stack.resolve(metric.dimensions) == {
        "EndpointName": {"Fn::GetAtt": [endpoint_id, "EndpointName"]},
        "VariantName": "AllTraffic",
    }


def test_metric_for_named_variant_and_custom_props(stack, model):
    # GIVEN two variants
    endpoint = _endpoint(stack, model, variant_name="A", initial_instance_count=2)
    endpoint.add_production_variant(
        ProductionVariant(model=model, variant_name="B", initial_instance_count=2)
    )

    # WHEN
    metric = endpoint.metric_model_latency(variant_name="B", statistic="p99", period=Duration.minutes(1))

    # THEN
    assert metric.dimensions["VariantName"] == "B"
    assert metric.statistic == "p99"
    assert metric.period.to_seconds() == 60


def test_metric_for_unknown_variant_lists_variants(stack, model):
    endpoint = _endpoint(stack, model, initial_instance_count=2)
    with pytest.raises(ValueError, match=r"has no variant 'Nope' \(it has 'AllTraffic'\)"):
        endpoint.metric_invocations(variant_name="Nope")


def test_endpoint_template_passes_cfn_lint(stack, model, cfn_lint_errors):
    endpoint = _endpoint(stack, model, initial_instance_count=2)
    endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=4).scale_on_invocations(
        "Invocations", invocations_per_instance_per_minute=600
    )
    assert cfn_lint_errors(Template.from_stack(stack).to_json()) == []


def test_endpoint_has_no_unacknowledged_nag_findings(bucket_artifact, nag_violations):
    app = App()
    stack = Stack(app, "Nag")
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    endpoint = _endpoint(stack, model, initial_instance_count=2)
    endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=4).scale_on_invocations(
        "Invocations", invocations_per_instance_per_minute=600
    )
    assert nag_violations(app) == []


def test_endpoint_refuses_gpu_model_on_cpu_instance_type(stack):
    # GIVEN a model whose Triton config needs a GPU (KIND_GPU instance groups)
    from model_build.examples import get_example
    from serving_constructs import ModelArtifact

    spec = get_example("bert-tiny")
    assert spec.triton.instance_kind == "KIND_GPU"
    model = TritonModel(stack, "Model", artifact=ModelArtifact.from_build(spec))

    # WHEN / THEN a CPU variant is refused (Triton could not load the model there)
    with pytest.raises(
        PropsError, match=r"variants\[0\]\.instance_type ml\.c5\.xlarge has no GPU but .*KIND_GPU"
    ):
        RealtimeEndpoint(
            stack,
            "Endpoint",
            variants=[ProductionVariant(model=model, instance_type=InstanceType.ML_C5_XLARGE)],
        )
