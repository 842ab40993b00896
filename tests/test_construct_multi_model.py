"""MultiModelEndpoint: MultiModel mode on a prefix, archives at chosen keys, instances, scaling, metrics, engines.

Two stacks per module, each synthesized once: seed 001's endpoint (defaults, two archives that
both hold a ``resnet`` folder, the TensorRT one with an engine manifest for the default target,
GPU-utilization scaling, a client; synthesized under cdk-nag) and one with every choice made
(an imported bucket and prefix, cache disabled, ml.g5.xlarge x 3, invocation scaling, a client
limited to some models). Archives are tiny tar.gz files written here (no model build).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnElement, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from model_build.engine_target import ENGINE_MANIFEST_FILENAME, EngineManifest, tensorrt_version_of_triton
from serving_constructs import (
    INSTANCE_NAMESPACE,
    INVOCATION_NAMESPACE,
    METRICS,
    InstanceType,
    ModelArtifact,
    ModelCacheSetting,
    ModelPrefix,
    MultiModelEndpoint,
    ProductionVariant,
    PropsError,
    RealtimeEndpoint,
    TritonImage,
    TritonModel,
    defaults,
    unit_of,
)

_ONNX_CONFIG = 'name: "{name}"\nbackend: "onnxruntime"\nmax_batch_size: 8\n'
_PLAN_CONFIG = 'name: "{name}"\nplatform: "tensorrt_plan"\nmax_batch_size: 128\n'
_ENSEMBLE_CONFIG = 'name: "{name}"\nplatform: "ensemble"\nmax_batch_size: 8\n'


def _manifest(
    *, gpu: str = "NVIDIA T4", capability: str = "7.5", tensorrt: str | None = None
) -> EngineManifest:
    """An engine manifest as model_build writes it; TensorRT defaults to the default image's."""
    version = tensorrt_version_of_triton(defaults.triton_version()) if tensorrt is None else tensorrt
    assert version is not None
    return EngineManifest(
        tensorrt_version=version,
        compute_capability=capability,
        gpu_name=gpu,
        hardware_compatibility="none",
        precision="FP16",
        max_batch_size=128,
        builder="tensorrt-python",
    )


def write_archive(path: Path, members: dict[str, str]) -> Path:
    """Write a tar.gz holding ``members`` (archive name -> text)."""
    with tarfile.open(path, "w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return path


def _onnx_archive(path: Path, folder: str = "resnet") -> Path:
    return write_archive(
        path, {f"{folder}/config.pbtxt": _ONNX_CONFIG.format(name=folder), f"{folder}/1/model.onnx": "x"}
    )


def _engine_archive(path: Path, manifest: EngineManifest, folder: str = "resnet") -> Path:
    return write_archive(
        path,
        {
            f"{folder}/config.pbtxt": _PLAN_CONFIG.format(name=folder),
            f"{folder}/1/model.plan": "x",
            f"{folder}/{ENGINE_MANIFEST_FILENAME}": manifest.to_json(),
        },
    )


@dataclass
class Synth:
    """A synthesized stack with a MultiModelEndpoint."""

    stack: Stack
    endpoint: MultiModelEndpoint
    client: iam.Role
    template: Template
    raw: dict[str, Any]

    def logical_id(self, construct: Any) -> str:
        element = construct if isinstance(construct, CfnElement) else construct.node.default_child
        return str(self.stack.resolve(element.logical_id))

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == resource_type}

    def statements(self, role: Any) -> list[dict[str, Any]]:
        """Return the statements of the policies attached to ``role``."""
        role_id = self.logical_id(role)
        return [
            statement
            for resource in self.resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in resource["Properties"]["Roles"]
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        ]


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Seed 001's two archives, both holding a ``resnet`` folder (the TensorRT one built for a T4)."""
    folder = tmp_path_factory.mktemp("archives")
    return {
        "resnet_pt_v0.tar.gz": _onnx_archive(folder / "pt.tar.gz"),
        "resnet_trt_v0.tar.gz": _engine_archive(folder / "trt.tar.gz", _manifest()),
    }


def _seed_stack(app: App, archives: dict[str, Path]) -> tuple[Stack, MultiModelEndpoint, iam.Role]:
    """Seed 001's endpoint: every default, two archives, GPU-utilization scaling and a client."""
    stack = Stack(app, "Seed")
    endpoint = MultiModelEndpoint(stack, "Endpoint")
    for target_model, path in archives.items():
        endpoint.add_model(target_model, ModelArtifact.from_asset(path))
    endpoint.scale_on_gpu_utilization()
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(client)
    return stack, endpoint, client


@pytest.fixture(scope="module")
def seed(archives: dict[str, Path], nag_violations: Callable[[App], list[str]]) -> tuple[Synth, list[str]]:
    """The seed stack, synthesized once under cdk-nag AwsSolutions, and its unacknowledged findings."""
    app = App()
    stack, endpoint, client = _seed_stack(app, archives)
    findings = nag_violations(app)
    raw = json.loads((Path(app.outdir) / "Seed.template.json").read_text())
    return Synth(stack, endpoint, client, Template.from_json(raw), raw), findings


@pytest.fixture(scope="module")
def custom(archives: dict[str, Path]) -> Synth:
    """Every choice made: imported bucket and prefix, cache disabled, ml.g5.xlarge x 3, invocation scaling."""
    app = App()
    stack = Stack(app, "Custom")
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "my-models")
    prefix = ModelPrefix(stack, "Prefix", bucket=bucket, prefix="mme/resnet")
    endpoint = MultiModelEndpoint(
        stack,
        "Endpoint",
        instance_type=InstanceType.ML_G5_XLARGE,
        initial_instance_count=3,
        model_prefix=prefix,
        model_cache_setting=ModelCacheSetting.DISABLED,
        variant_name="Blue",
        models={"resnet_pt_v0.tar.gz": ModelArtifact.from_asset(archives["resnet_pt_v0.tar.gz"])},
    )
    endpoint.scale_on_invocations(
        invocations_per_instance_per_minute=500,
        max_capacity=8,
        scale_in_cooldown=Duration.minutes(20),
        scale_out_cooldown=Duration.minutes(1),
    )
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(client, target_models=["resnet_*"])
    raw = app.synth().get_stack_by_name("Custom").template
    return Synth(stack, endpoint, client, Template.from_json(raw), raw)


# --- the model ---------------------------------------------------------------------------------


def test_multi_model_endpoint_model_is_multi_model_mode_on_the_prefix(seed):
    synth, _ = seed
    bucket_id = synth.logical_id(synth.endpoint.model_prefix.bucket)
    # THEN one model, MultiModel mode, ModelDataUrl the prefix, no default model, cache left to SageMaker
    synth.template.resource_count_is("AWS::SageMaker::Model", 1)
    synth.template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                "Mode": "MultiModel",
                "ModelDataUrl": {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/models/"]]},
                "Environment": Match.absent(),
                "MultiModelConfig": Match.absent(),
                "ModelDataSource": Match.absent(),
            },
            "EnableNetworkIsolation": True,
        },
    )


def test_multi_model_endpoint_renders_model_cache_setting_and_a_given_prefix(custom):
    # GIVEN an imported bucket, the prefix 'mme/resnet' and ModelCacheSetting.DISABLED
    # THEN the URL is the given bucket and prefix (with its '/') and the cache setting is rendered
    custom.template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                "Mode": "MultiModel",
                "ModelDataUrl": "s3://my-models/mme/resnet/",
                "MultiModelConfig": {"ModelCacheSetting": "Disabled"},
            }
        },
    )


def test_multi_model_endpoint_copies_each_archive_to_its_target_model_key(seed):
    synth, _ = seed
    bucket_id = synth.logical_id(synth.endpoint.model_prefix.bucket)
    # THEN one copy per archive, to <prefix><target_model> in the prefix's bucket (never an asset hash)
    copies = synth.resources("Custom::ModelArchive")
    assert sorted(c["Properties"]["DestinationKey"] for c in copies.values()) == [
        "models/resnet_pt_v0.tar.gz",
        "models/resnet_trt_v0.tar.gz",
    ]
    assert {json.dumps(c["Properties"]["DestinationBucket"]) for c in copies.values()} == {
        json.dumps({"Ref": bucket_id})
    }
    assert synth.endpoint.target_models == ("resnet_pt_v0.tar.gz", "resnet_trt_v0.tar.gz")


def test_multi_model_endpoint_takes_two_archives_holding_a_model_folder_of_the_same_name(seed, archives):
    synth, _ = seed
    # GIVEN two archives that both hold the folder 'resnet' (seed 001's PyTorch and TensorRT builds)
    artifacts = synth.endpoint.model_prefix.artifacts
    assert [artifacts[name].model_names for name in synth.endpoint.target_models] == [
        ("resnet",),
        ("resnet",),
    ]
    # THEN each is its own archive under its own key, from its own source object
    copies = list(synth.resources("Custom::ModelArchive").values())
    assert len({json.dumps(c["Properties"]["SourceKey"]) for c in copies}) == 2


def test_multi_model_endpoint_variant_defaults_to_two_g4dn_4xlarge_instances_all_traffic(seed):
    synth, _ = seed
    model_id = synth.logical_id(synth.endpoint.model)
    synth.template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "InstanceType": "ml.g4dn.4xlarge",
                    "InitialInstanceCount": 2,
                    "InitialVariantWeight": 1,
                    "ModelName": {"Fn::GetAtt": [model_id, "ModelName"]},
                }
            ]
        },
    )
    # THEN the seed's defaults come from the defaults module
    assert (defaults.multi_model_instance_type_name(), defaults.multi_model_initial_instance_count()) == (
        "ml.g4dn.4xlarge",
        2,
    )


def test_multi_model_endpoint_execution_role_reads_only_the_prefix(seed):
    synth, _ = seed
    bucket_id = synth.logical_id(synth.endpoint.model_prefix.bucket)
    statements = synth.statements(synth.endpoint.model.role)
    s3_statements = [s for s in statements if any(str(a).startswith("s3:") for a in _list(s["Action"]))]
    # THEN the role may get the objects under the prefix, and nothing else in S3 (not the assets)
    assert s3_statements == [
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/models/*"]]},
        }
    ]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- access ------------------------------------------------------------------------------------


def test_multi_model_endpoint_grant_invoke_grants_invoke_endpoint_for_every_model(seed):
    synth, _ = seed
    endpoint_id = synth.logical_id(synth.endpoint)
    assert synth.statements(synth.client) == [
        {"Action": "sagemaker:InvokeEndpoint", "Effect": "Allow", "Resource": {"Ref": endpoint_id}}
    ]


def test_multi_model_endpoint_grant_invoke_can_be_limited_to_target_models(custom):
    endpoint_id = custom.logical_id(custom.endpoint)
    assert custom.statements(custom.client) == [
        {
            "Action": "sagemaker:InvokeEndpoint",
            "Condition": {"StringLike": {"sagemaker:TargetModel": ["resnet_*"]}},
            "Effect": "Allow",
            "Resource": {"Ref": endpoint_id},
        }
    ]


# --- scaling -----------------------------------------------------------------------------------


def test_multi_model_endpoint_scales_on_gpu_utilization_as_seed_001(seed):
    synth, _ = seed
    endpoint_id = synth.logical_id(synth.endpoint)
    # THEN a target from 1 to 5 instances on the variant
    synth.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "MinCapacity": 1,
            "MaxCapacity": 5,
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "ServiceNamespace": "sagemaker",
        },
    )
    # THEN target tracking keeps GPUUtilization (instance namespace, endpoint + variant, Average) at 60
    synth.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "CustomizedMetricSpecification": {
                    "MetricName": "GPUUtilization",
                    "Namespace": "/aws/sagemaker/Endpoints",
                    "Statistic": "Average",
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": {"Fn::GetAtt": [endpoint_id, "EndpointName"]}},
                        {"Name": "VariantName", "Value": "AllTraffic"},
                    ],
                },
                "TargetValue": 60,
                "ScaleInCooldown": 600,
                "ScaleOutCooldown": 200,
                "DisableScaleIn": False,
            },
        },
    )
    synth.template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 1)


def test_multi_model_endpoint_scales_on_invocations_with_overrides(custom):
    # GIVEN scale_on_invocations(500/min, max 8, cooldowns 20 min / 1 min) on variant 'Blue'
    custom.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"MinCapacity": 1, "MaxCapacity": 8, "ResourceId": Match.object_like({})},
    )
    custom.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": {
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
                "TargetValue": 500,
                "ScaleInCooldown": 1200,
                "ScaleOutCooldown": 60,
                "DisableScaleIn": False,
            }
        },
    )
    custom.template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"VariantName": "Blue", "InstanceType": "ml.g5.xlarge",
                                                    "InitialInstanceCount": 3})]},
    )  # fmt: skip


def test_multi_model_endpoint_gpu_scaling_takes_a_target_capacity_and_cooldowns(archives):
    # GIVEN seed 001's policy with every value overridden
    stack = Stack(App(), "Override")
    endpoint = MultiModelEndpoint(stack, "Endpoint")
    endpoint.add_model("a.tar.gz", ModelArtifact.from_asset(archives["resnet_pt_v0.tar.gz"]))
    scalable = endpoint.scale_on_gpu_utilization(
        target_utilization_percent=75,
        min_capacity=2,
        max_capacity=10,
        scale_in_cooldown=Duration.minutes(15),
        scale_out_cooldown=Duration.seconds(90),
        disable_scale_in=True,
    )
    template = Template.from_stack(stack)
    # THEN the values are the given ones
    assert (scalable.min_capacity, scalable.max_capacity) == (2, 10)
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {"TargetValue": 75, "ScaleInCooldown": 900, "ScaleOutCooldown": 90, "DisableScaleIn": True}
            )
        },
    )


# --- metrics -----------------------------------------------------------------------------------

_MICROSECONDS = cloudwatch.Unit.MICROSECONDS


@pytest.mark.parametrize(
    ("method", "metric_name", "namespace", "unit", "label"),
    [
        ("metric_model_loading_wait_time", "ModelLoadingWaitTime", INVOCATION_NAMESPACE, _MICROSECONDS,
         "ModelLoadingWaitTime (microseconds)"),
        ("metric_model_unloading_time", "ModelUnloadingTime", INVOCATION_NAMESPACE, _MICROSECONDS,
         "ModelUnloadingTime (microseconds)"),
        ("metric_model_downloading_time", "ModelDownloadingTime", INVOCATION_NAMESPACE, _MICROSECONDS,
         "ModelDownloadingTime (microseconds)"),
        ("metric_model_loading_time", "ModelLoadingTime", INVOCATION_NAMESPACE, _MICROSECONDS,
         "ModelLoadingTime (microseconds)"),
        ("metric_model_cache_hit", "ModelCacheHit", INVOCATION_NAMESPACE, cloudwatch.Unit.NONE, None),
        ("metric_loaded_model_count", "LoadedModelCount", INSTANCE_NAMESPACE, cloudwatch.Unit.NONE, None),
        ("metric_gpu_memory_utilization", "GPUMemoryUtilization", INSTANCE_NAMESPACE, cloudwatch.Unit.PERCENT, None),
        ("metric_disk_utilization", "DiskUtilization", INSTANCE_NAMESPACE, cloudwatch.Unit.PERCENT, None),
    ],
)  # fmt: skip
def test_multi_model_endpoint_metric_has_sagemakers_namespace_unit_and_dimensions(
    seed, method, metric_name, namespace, unit, label
):
    synth, _ = seed
    # WHEN the helper is called
    metric = getattr(synth.endpoint, method)()
    # THEN namespace, name, statistic (Average) and label are SageMaker's; the table has the unit
    assert (metric.namespace, metric.metric_name, metric.statistic, metric.label) == (
        namespace,
        metric_name,
        "Average",
        label,
    )
    assert unit_of(METRICS[metric_name]) == unit
    # THEN per variant, never per model: EndpointName + VariantName of the first variant
    dimensions = synth.stack.resolve(metric.dimensions)
    assert dimensions == {
        "EndpointName": {"Fn::GetAtt": [synth.logical_id(synth.endpoint), "EndpointName"]},
        "VariantName": "AllTraffic",
    }


def test_multi_model_endpoint_refuses_metrics_it_does_not_publish(seed):
    synth, _ = seed
    with pytest.raises(PropsError, match=r"MultiModelEndpoint does not publish ApproximateBacklogSize"):
        synth.endpoint.metric("ApproximateBacklogSize")


def test_realtime_endpoint_refuses_the_multi_model_metrics(stack, bucket_artifact):
    endpoint = RealtimeEndpoint(
        stack,
        "Realtime",
        variants=[ProductionVariant(model=TritonModel(stack, "Model", artifact=bucket_artifact(stack)))],
    )
    with pytest.raises(PropsError, match=r"RealtimeEndpoint does not publish ModelCacheHit .*multi-model"):
        endpoint.metric("ModelCacheHit")


# --- validation: models, instances, warnings ---------------------------------------------------


def test_multi_model_endpoint_without_models_fails_synthesis_saying_what_to_add():
    # GIVEN an endpoint to which no archive was added
    app = App()
    MultiModelEndpoint(Stack(app, "Empty"), "Endpoint")
    # WHEN the app is synthesized  THEN validation fails with the call to make
    with pytest.raises(RuntimeError) as error:
        app.synth()
    assert "MultiModelEndpoint Empty/Endpoint has no models" in str(error.value)
    assert 'endpoint.add_model("resnet_v0.tar.gz", ModelArtifact.from_build(spec))' in str(error.value)


@pytest.mark.parametrize("instance_type", ["ml.g6.xlarge", "ml.g6e.2xlarge", "ml.p5.4xlarge"])
def test_multi_model_endpoint_warns_on_an_undocumented_single_gpu_type_and_the_warning_can_be_acknowledged(
    archives, instance_type
):
    # GIVEN a newer single-GPU type that SageMaker's multi-model list does not name
    def build(acknowledge: bool) -> Stack:
        stack = Stack(App(), "Newer")
        endpoint = MultiModelEndpoint(stack, "Endpoint", instance_type=instance_type)
        endpoint.add_model("a.tar.gz", ModelArtifact.from_asset(archives["resnet_pt_v0.tar.gz"]))
        if acknowledge:
            from aws_cdk import Annotations as CdkAnnotations

            CdkAnnotations.of(endpoint).acknowledge_warning(
                f"serving-constructs:multiModelUndocumentedInstanceType:{instance_type}"
            )
        return stack

    # THEN a warning names the type, the documented list and how to acknowledge it
    warnings = Annotations.from_stack(build(False)).find_warning(
        "/Newer/Endpoint", Match.string_like_regexp("not on SageMaker's documented list")
    )
    assert len(warnings) == 1
    text = warnings[0].entry.data
    for fragment in (instance_type, "ml.g4dn.4xlarge", "ml.g5.16xlarge", "acknowledge_warning("):
        assert fragment in text
    # THEN acknowledged, it is gone
    assert (
        Annotations.from_stack(build(True)).find_warning(
            "/Newer/Endpoint", Match.string_like_regexp("not on SageMaker's documented list")
        )
        == []
    )


def test_multi_model_endpoint_warns_on_one_instance_and_the_warning_can_be_acknowledged(archives):
    def build(acknowledge: bool) -> Stack:
        stack = Stack(App(), "Single")
        endpoint = MultiModelEndpoint(stack, "Endpoint", initial_instance_count=1)
        endpoint.add_model("a.tar.gz", ModelArtifact.from_asset(archives["resnet_pt_v0.tar.gz"]))
        if acknowledge:
            from aws_cdk import Annotations as CdkAnnotations

            CdkAnnotations.of(endpoint).acknowledge_warning("serving-constructs:singleInstance:AllTraffic")
        return stack

    pattern = Match.string_like_regexp("single instance")
    assert len(Annotations.from_stack(build(False)).find_warning("/Single/Endpoint", pattern)) == 1
    assert Annotations.from_stack(build(True)).find_warning("/Single/Endpoint", pattern) == []


def test_multi_model_endpoint_documented_types_get_no_instance_warning(seed):
    synth, _ = seed
    assert Annotations.from_stack(synth.stack).find_warning("*", Match.any_value()) == []


def test_multi_model_endpoint_takes_an_archive_with_one_ensemble_and_its_steps(tmp_path):
    # GIVEN an archive with an ensemble and the two models it chains
    archive = write_archive(
        tmp_path / "pipeline.tar.gz",
        {
            "pipeline/config.pbtxt": _ENSEMBLE_CONFIG.format(name="pipeline"),
            "pre/config.pbtxt": _ONNX_CONFIG.format(name="pre"),
            "resnet/config.pbtxt": _ONNX_CONFIG.format(name="resnet"),
        },
    )
    stack = Stack(App(), "Ensemble")
    endpoint = MultiModelEndpoint(stack, "Endpoint")
    # WHEN it is added  THEN it is taken
    endpoint.add_model("pipeline_v0.tar.gz", ModelArtifact.from_asset(archive))
    assert endpoint.target_models == ("pipeline_v0.tar.gz",)


def test_multi_model_endpoint_warns_on_an_archive_of_more_than_five_model_folders(tmp_path):
    # GIVEN an ensemble and six steps in one archive (Triton's SageMaker front end warns above five)
    members = {"pipeline/config.pbtxt": _ENSEMBLE_CONFIG.format(name="pipeline")}
    members.update({f"step{i}/config.pbtxt": _ONNX_CONFIG.format(name=f"step{i}") for i in range(6)})
    stack = Stack(App(), "Many")
    endpoint = MultiModelEndpoint(stack, "Endpoint")
    # WHEN it is added  THEN it is taken, with a warning naming the archive and the count
    endpoint.add_model(
        "pipeline_v0.tar.gz", ModelArtifact.from_asset(write_archive(tmp_path / "p.tar.gz", members))
    )
    warnings = Annotations.from_stack(stack).find_warning(
        "/Many/Endpoint", Match.string_like_regexp("model folders")
    )
    assert len(warnings) == 1
    assert "'pipeline_v0.tar.gz' holds 7 model folders" in warnings[0].entry.data


# --- TensorRT engines pinned to their target ---------------------------------------------------


def test_multi_model_endpoint_refuses_an_engine_built_for_another_gpu(archives):
    # GIVEN seed 001's TensorRT archive (built on a T4) and an endpoint on ml.g5.xlarge (an A10G)
    stack = Stack(App(), "Mismatch")
    endpoint = MultiModelEndpoint(stack, "Endpoint", instance_type="ml.g5.xlarge")
    # WHEN it is added  THEN the error names the archive, the model, both GPUs and the rebuild
    with pytest.raises(PropsError) as error:
        endpoint.add_model("resnet_trt_v0.tar.gz", ModelArtifact.from_asset(archives["resnet_trt_v0.tar.gz"]))
    message = str(error.value)
    for fragment in (
        "MultiModelEndpoint.add_model",
        "variants[0] (ml.g5.xlarge)",
        "'resnet'",
        "NVIDIA T4",
        "NVIDIA A10G",
        "rebuild it with ModelSpec(tensorrt_target=EngineTarget(instance_type='ml.g5.xlarge'",
    ):
        assert fragment in message, f"{fragment!r} not in: {message}"
    # THEN nothing was added
    assert endpoint.target_models == ()


def test_multi_model_endpoint_refuses_an_engine_built_with_another_tensorrt_version(tmp_path):
    # GIVEN an engine built for a T4 with the TensorRT of Triton 24.09, and the default image (newer)
    archive = _engine_archive(
        tmp_path / "old.tar.gz", _manifest(tensorrt=tensorrt_version_of_triton("24.09"))
    )
    stack = Stack(App(), "OldTrt")
    endpoint = MultiModelEndpoint(stack, "Endpoint")
    with pytest.raises(PropsError) as error:
        endpoint.add_model("resnet_trt_v0.tar.gz", ModelArtifact.from_asset(archive))
    assert "10.4.0" in str(error.value)
    assert defaults.triton_version() in str(error.value)


def test_multi_model_endpoint_checks_its_engines_against_a_variant_added_later(archives):
    # GIVEN the T4 engine on the default ml.g4dn.4xlarge (fits), then a second variant on ml.g5.xlarge
    stack = Stack(App(), "Later")
    endpoint = MultiModelEndpoint(stack, "Endpoint")
    endpoint.add_model("resnet_trt_v0.tar.gz", ModelArtifact.from_asset(archives["resnet_trt_v0.tar.gz"]))
    with pytest.raises(PropsError, match=r"variants\[1\]\.model: .*resnet_trt_v0\.tar\.gz.*NVIDIA A10G"):
        endpoint.add_production_variant(
            ProductionVariant(
                model=endpoint.model, variant_name="Green", instance_type=InstanceType.ML_G5_XLARGE
            )
        )


def test_realtime_endpoint_refuses_an_engine_built_for_another_gpu(archives):
    # GIVEN a single-model endpoint serving the T4 engine on ml.g5.xlarge
    stack = Stack(App(), "RealtimeMismatch")
    model = TritonModel(stack, "Model", artifact=ModelArtifact.from_asset(archives["resnet_trt_v0.tar.gz"]))
    # WHEN the variant is given  THEN the same check refuses it, naming the variant's model
    with pytest.raises(PropsError, match=r"variants\[0\]\.model: the archive .*NVIDIA T4.*NVIDIA A10G"):
        RealtimeEndpoint(
            stack,
            "Endpoint",
            variants=[ProductionVariant(model=model, instance_type=InstanceType.ML_G5_XLARGE)],
        )
    # THEN on the GPU it was built for, it is taken
    RealtimeEndpoint(
        stack, "Fits", variants=[ProductionVariant(model=model, instance_type=InstanceType.ML_G4DN_XLARGE)]
    )


def test_triton_image_exposes_the_dlc_release_engines_are_checked_against():
    # GIVEN the DLC images and your own  THEN the DLC's release is known, your own image's is not
    assert TritonImage.for_region().triton_version == defaults.triton_version()
    assert TritonImage.for_region("25.09").triton_version == "25.09"
    assert (
        TritonImage.from_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/triton:1").triton_version is None
    )


def test_engine_of_an_image_of_unknown_release_gets_a_warning_instead(archives):
    # GIVEN the T4 engine in your own image (its TensorRT version is unknown here)
    stack = Stack(App(), "OwnImage")
    endpoint = MultiModelEndpoint(
        stack, "Endpoint", image=TritonImage.from_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/triton:1")
    )
    endpoint.add_model("resnet_trt_v0.tar.gz", ModelArtifact.from_asset(archives["resnet_trt_v0.tar.gz"]))
    # THEN a warning says the engines are not checked against it
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("not checked"))
    assert len(warnings) == 1


# --- checks ------------------------------------------------------------------------------------


def test_multi_model_endpoint_has_no_unacknowledged_nag_findings(seed):
    _, findings = seed
    assert findings == []


def test_multi_model_endpoint_templates_pass_cfn_lint(seed, custom, cfn_lint_errors):
    assert cfn_lint_errors(seed[0].raw) == []
    assert cfn_lint_errors(custom.raw) == []


def test_multi_model_endpoint_synthesis_is_deterministic(seed, archives):
    # GIVEN the seed stack built again in a fresh app  THEN its template equals the module's
    app = App()
    _seed_stack(app, archives)
    template = app.synth().get_stack_by_name("Seed").template
    assert json.dumps(template, sort_keys=True) == json.dumps(seed[0].raw, sort_keys=True)
