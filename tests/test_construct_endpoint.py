"""RealtimeEndpoint and ProductionVariant: config, endpoint, variants, validation, grants, metrics."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Capture, Match, Template

from serving_constructs import (
    INSTANCE_NAMESPACE,
    INVOCATION_NAMESPACE,
    EndpointBase,
    EndpointResource,
    ImportedEndpoint,
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
        {"Roles": [{"Ref": Match.string_like_regexp("^Caller")}], **_invoke_policy({"Ref": endpoint_id})},
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


# --- the endpoint as an aws-cdk-lib resource: IEndpoint, imports, integrations ---------------


def test_endpoint_is_a_resource_implementing_aws_cdk_iendpoint(stack, model):
    from aws_cdk import Resource

    # GIVEN / WHEN
    endpoint = _endpoint(stack, model, initial_instance_count=2)

    # THEN it is a Resource, and jsii sees the aws-cdk-lib interface
    assert isinstance(endpoint, Resource)
    assert "aws-cdk-lib.aws_sagemaker.IEndpoint" in [i.__jsii_type__ for i in type(endpoint).__jsii_ifaces__]
    endpoint_id = stack.resolve(endpoint.node.default_child.logical_id)
    assert stack.resolve(endpoint.endpoint_ref.endpoint_arn) == {"Ref": endpoint_id}
    assert stack.resolve(endpoint.endpoint_arn) == {"Ref": endpoint_id}


def _invoke_policy(resource: object) -> dict:
    """Return the policy properties of exactly one InvokeEndpoint statement on ``resource``."""
    return {
        "PolicyDocument": {
            "Statement": [{"Action": "sagemaker:InvokeEndpoint", "Effect": "Allow", "Resource": resource}]
        }
    }


def _sagemaker_integration(stack, endpoint) -> dict:
    from aws_cdk import aws_apigateway as apigateway

    api = apigateway.RestApi(stack, "Api", deploy=False)
    api.root.add_method("POST", apigateway.SagemakerIntegration(endpoint))
    method = next(iter(Template.from_stack(stack).find_resources("AWS::ApiGateway::Method").values()))
    return method["Properties"]["Integration"]


def test_sagemaker_integration_accepts_a_created_endpoint(stack, model):
    # GIVEN a RealtimeEndpoint
    endpoint = _endpoint(stack, model, initial_instance_count=2)
    endpoint_id = stack.resolve(endpoint.node.default_child.logical_id)

    # WHEN API Gateway integrates it
    integration = _sagemaker_integration(stack, endpoint)

    # THEN the integration invokes this endpoint by name, with a role granted InvokeEndpoint on its ARN
    assert {"Fn::GetAtt": [endpoint_id, "EndpointName"]} in integration["Uri"]["Fn::Join"][1]
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        _invoke_policy({"Ref": endpoint_id}),
    )


def test_sagemaker_integration_accepts_an_imported_endpoint(stack):
    # GIVEN an endpoint this app did not create
    endpoint = RealtimeEndpoint.from_endpoint_name(stack, "Existing", "Bert-Prod")

    # WHEN API Gateway integrates it
    integration = _sagemaker_integration(stack, endpoint)

    # THEN it calls that endpoint, and the grant names its ARN (lowercased, as SageMaker writes it)
    assert integration["Uri"]["Fn::Join"][1][-1] == ":runtime.sagemaker:path/endpoints/Bert-Prod/invocations"
    policy = next(iter(Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()))
    resource = policy["Properties"]["PolicyDocument"]["Statement"][0]["Resource"]
    assert resource["Fn::Join"][1][-1] == ":endpoint/bert-prod"


def test_from_endpoint_arn_takes_name_and_environment_from_the_arn(stack):
    # GIVEN / WHEN
    arn = "arn:aws:sagemaker:eu-west-1:111122223333:endpoint/bert-prod"
    endpoint = EndpointResource.from_endpoint_arn(stack, "Existing", arn)

    # THEN
    assert isinstance(endpoint, ImportedEndpoint)
    assert endpoint.endpoint_arn == arn
    assert stack.resolve(endpoint.endpoint_name) == "bert-prod"
    assert (endpoint.env.account, endpoint.env.region) == ("111122223333", "eu-west-1")
    assert endpoint.variant_names == ("AllTraffic",)


def test_imported_endpoint_metrics_use_its_variant_names(stack):
    # GIVEN an A/B endpoint imported with its variant names
    endpoint = EndpointResource.from_endpoint_attributes(
        stack, "Existing", endpoint_name="Bert-Prod", variant_names=["Blue", "Green"]
    )

    # WHEN / THEN metrics default to the first variant and take the others by name
    assert endpoint.metric_invocations().dimensions == {"EndpointName": "Bert-Prod", "VariantName": "Blue"}
    assert endpoint.metric_model_latency(variant_name="Green").dimensions["VariantName"] == "Green"
    with pytest.raises(
        PropsError, match=r"has no variant 'Gren' \(it has 'Blue', 'Green'\) \(did you mean 'Green'\?\)"
    ):
        endpoint.metric_invocations(variant_name="Gren")


def test_imported_endpoint_grants_invoke_on_its_arn(stack):
    # GIVEN
    endpoint = EndpointResource.from_endpoint_attributes(
        stack,
        "Existing",
        endpoint_name="Bert-Prod",
        endpoint_arn="arn:aws:sagemaker:us-east-1:111122223333:endpoint/bert-prod",
    )
    caller = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))

    # WHEN
    endpoint.grant_invoke(caller)

    # THEN
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        _invoke_policy("arn:aws:sagemaker:us-east-1:111122223333:endpoint/bert-prod"),
    )


def test_imported_endpoint_needs_a_name_or_arn(stack):
    with pytest.raises(PropsError, match="endpoint_name or endpoint_arn is required"):
        EndpointResource.from_endpoint_attributes(stack, "Existing")


def test_endpoint_base_cannot_be_created_without_a_kind(stack):
    with pytest.raises(TypeError, match="EndpointBase is abstract"):
        EndpointBase(stack, "Endpoint")


def test_realtime_endpoint_refuses_a_serverless_variant(stack):
    # GIVEN a CPU model and a serverless variant
    from serving_constructs import ModelArtifact
    from serving_constructs.variant import ServerlessProductionVariant

    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    cpu_model = TritonModel(
        stack, "Model", artifact=ModelArtifact.from_bucket(bucket, "m.tar.gz", model_name="m")
    )
    serverless = ServerlessProductionVariant(
        model=cpu_model, variant_name="Serverless", memory_size_in_mb=2048, max_concurrency=5
    )

    # WHEN mixed with an instance variant  THEN refused, naming the kinds
    with pytest.raises(
        PropsError,
        match=(
            r"variants\[1\] is a ServerlessProductionVariant \(serverless variant\), but a RealtimeEndpoint "
            r"takes ProductionVariant only, and SageMaker never mixes instance and serverless variants"
        ),
    ):
        RealtimeEndpoint(stack, "Endpoint", variants=[ProductionVariant(model=cpu_model), serverless])


def test_serverless_variant_renders_its_serverless_config(stack, model):
    from serving_constructs.variant import ServerlessProductionVariant

    # GIVEN / WHEN
    variant = ServerlessProductionVariant(
        model=model, memory_size_in_mb=3072, max_concurrency=20, provisioned_concurrency=2
    )

    # THEN
    assert variant.problems("variants[0]") == []
    rendered = stack.resolve(variant.render())
    assert rendered["serverlessConfig"] == {
        "memorySizeInMb": 3072,
        "maxConcurrency": 20,
        "provisionedConcurrency": 2,
    }
    assert "instanceType" not in rendered


def test_serverless_variant_checks_memory_and_concurrency(model):
    from serving_constructs.variant import ServerlessProductionVariant

    variant = ServerlessProductionVariant(
        model=model, memory_size_in_mb=1500, max_concurrency=10, provisioned_concurrency=20
    )
    assert variant.problems("variants[0]") == [
        "variants[0].memory_size_in_mb must be one of 1024, 2048, 3072, 4096, 5120, 6144 (got 1500)",
        "variants[0].provisioned_concurrency must be <= max_concurrency (got 20 > 10)",
    ]


def test_endpoint_kind_adds_endpoint_config_properties_through_its_hook(stack, model):
    # GIVEN an endpoint kind whose piece is extra EndpointConfig properties (as the async kind's
    # AsyncInferenceConfig will be)
    class CapturingEndpoint(RealtimeEndpoint):
        def _endpoint_config_properties(self):
            return {
                "data_capture_config": {
                    "captureOptions": [{"captureMode": "Input"}],
                    "destinationS3Uri": "s3://capture-bucket/bert",
                    "initialSamplingPercentage": 10,
                }
            }

    # WHEN
    CapturingEndpoint(stack, "Endpoint", variants=[ProductionVariant(model=model, initial_instance_count=2)])

    # THEN the base renders them on the EndpointConfig it owns, next to the variants
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "DataCaptureConfig": Match.object_like({"InitialSamplingPercentage": 10}),
            "ProductionVariants": [Match.object_like({"VariantName": "AllTraffic"})],
        },
    )


def test_unknown_instance_type_warns_with_the_near_match(stack, model):
    # GIVEN a well-formed name SageMaker hosting does not list (a typo)
    _endpoint(stack, model, instance_type=InstanceType.of("ml.g4dn.xlargee"), initial_instance_count=2)

    # THEN a warning (not an error: new types appear before botocore knows them) names the near match
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Endpoint",
        Match.string_like_regexp(
            r"variants\[0\]\.instance_type 'ml\.g4dn\.xlargee' is not an instance type SageMaker hosting lists.*"
            r"Did you mean 'ml\.g4dn\.xlarge'"
        ),
    )


def test_unknown_instance_type_warning_can_be_acknowledged(stack, model):
    from aws_cdk import Annotations as CoreAnnotations

    # GIVEN a type newer than botocore, acknowledged by the user
    endpoint = _endpoint(
        stack, model, instance_type=InstanceType.of("ml.g7.xlarge"), initial_instance_count=2
    )
    CoreAnnotations.of(endpoint).acknowledge_warning(
        "serving-constructs:unknownInstanceType:ml.g7.xlarge", "ml.g7 is newer than our botocore"
    )

    # THEN the warning is gone
    assert (
        Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("not an instance type"))
        == []
    )


def test_known_instance_type_does_not_warn(stack, model):
    _endpoint(stack, model, initial_instance_count=2)
    assert (
        Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("not an instance type"))
        == []
    )


@pytest.mark.parametrize(
    ("name", "gpu", "gpus"),
    [
        ("ml.g4dn.xlarge", True, 1),
        ("ml.g4dn.12xlarge", True, 4),
        ("ml.g5.48xlarge", True, 8),
        ("ml.p4d.24xlarge", True, 8),
        ("ml.c5.xlarge", False, 0),
        ("ml.inf2.xlarge", False, 0),
        ("ml.g7.xlarge", True, None),
    ],
)
def test_instance_type_gpus_come_from_model_build_hardware(name, gpu, gpus):
    # GIVEN / WHEN / THEN: the same answer as the project's one hardware table
    from model_build.hardware import hardware_of

    instance_type = InstanceType.of(name)
    assert instance_type.is_gpu is gpu
    assert instance_type.gpu_count == gpus
    assert instance_type.hardware == hardware_of(name)


def test_instance_type_of_a_token_is_not_checked():
    token = Token.as_string({"Ref": "InstanceType"})
    instance_type = InstanceType.of(token)
    assert (instance_type.is_gpu, instance_type.gpu_count, instance_type.known_to_sagemaker_hosting) == (
        False,
        None,
        True,
    )


REALTIME_METRIC_HELPERS = [
    *METRICS,
    ("metric_invocation_model_errors", "InvocationModelErrors", INVOCATION_NAMESPACE, "Sum"),
]


@pytest.mark.parametrize(("method", "metric_name", "namespace", "statistic"), REALTIME_METRIC_HELPERS)
def test_imported_endpoint_metric_helpers_match_created_ones(
    stack, model, method, metric_name, namespace, statistic
):
    # GIVEN a created endpoint and an import of an endpoint with the same variant
    created = _endpoint(stack, model, initial_instance_count=2)
    imported = EndpointResource.from_endpoint_name(stack, "Existing", "bert")

    # WHEN / THEN both give the same metric, dimensions aside
    for endpoint in (created, imported):
        metric = getattr(endpoint, method)()
        assert (metric.metric_name, metric.namespace, metric.statistic) == (metric_name, namespace, statistic)
        assert set(metric.dimensions) == {"EndpointName", "VariantName"}


@pytest.mark.parametrize("method", ["metric_model_latency", "metric_overhead_latency"])
def test_latency_metrics_show_microseconds_in_their_label(stack, model, method):
    endpoint = _endpoint(stack, model, initial_instance_count=2)
    assert getattr(endpoint, method)().label.endswith("(microseconds)")
    assert getattr(endpoint, method)(label="p99 latency").label == "p99 latency"


def test_realtime_endpoint_refuses_a_metric_it_does_not_publish(stack, model):
    endpoint = _endpoint(stack, model, initial_instance_count=2)
    with pytest.raises(
        PropsError,
        match=r"RealtimeEndpoint does not publish ApproximateBacklogSize — SageMaker publishes it for asynchronous endpoints only",
    ):
        endpoint.metric("ApproximateBacklogSize")


def test_endpoint_level_metric_of_an_import_has_no_variant_dimension(stack):
    # GIVEN an imported (e.g. asynchronous) endpoint
    endpoint = EndpointResource.from_endpoint_name(stack, "Existing", "async-bert")

    # WHEN
    metric = endpoint.metric("ApproximateBacklogSizePerInstance")

    # THEN EndpointName only, and a variant is refused
    assert metric.dimensions == {"EndpointName": "async-bert"}
    with pytest.raises(PropsError, match=r"variant_name 'AllTraffic' given for ApproximateBacklogSize"):
        endpoint.metric("ApproximateBacklogSize", variant_name="AllTraffic")


def test_metric_unknown_name_names_the_nearest_and_takes_a_namespace(stack, model):
    endpoint = _endpoint(stack, model, initial_instance_count=2)
    with pytest.raises(
        PropsError, match=r"'ModelLatancy' is not a SageMaker endpoint metric .*did you mean 'ModelLatency'"
    ):
        endpoint.metric("ModelLatancy")
    custom = endpoint.metric("MyTritonQueueTime", namespace="Custom/Triton")
    assert (custom.namespace, custom.dimensions["VariantName"]) == ("Custom/Triton", "AllTraffic")
