"""Bad input to the constructs' Python API: one clear message naming the prop, the value and the fix.

Each case builds one small stack (no asset build: ``ModelArtifact.from_bucket`` or the tiny
archive fixture) and passes one wrong thing. Errors must be a ``PropsError`` (a
``model_build.user_errors.UserError``, so ``app.py`` and the CLIs print it without a traceback)
raised at the call, never a crash at synth; every expected fragment (the prop, the value given,
the fix) must be in the message. Likely typos that might still be right (an instance type newer
than botocore) are warnings that name the near match.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match

from model_build.examples import get_example
from model_build.user_errors import UserError
from serving_constructs import (
    AsyncEndpoint,
    Capacity,
    ContainerDefinition,
    ContainerImage,
    ContainerModel,
    DataCapture,
    DeploymentPolicy,
    EndpointMonitoring,
    EndpointResource,
    IncludeInferenceResponseIn,
    InstanceType,
    ModelArtifact,
    ModelPrefix,
    MultiContainerModel,
    MultiModelEndpoint,
    MultiModelTritonModel,
    NeuronImage,
    NeuronModel,
    NeuronRuntime,
    ProductionVariant,
    PropsError,
    RealtimeEndpoint,
    RecommendedAlarms,
    ServerlessEndpoint,
    ServingDashboard,
    TritonImage,
    TritonModel,
)
from serving_constructs.metrics import endpoint_metric
from serving_constructs.variant import ServerlessProductionVariant


@dataclass
class Ctx:
    """One small stack with a model on an imported bucket, and the tiny archive on disk."""

    stack: Stack
    bucket: s3.IBucket
    model: TritonModel
    archive: Path
    tmp: Path

    def endpoint(self, **variant_props: Any) -> RealtimeEndpoint:
        variant_props.setdefault("initial_instance_count", 2)
        variant_props.setdefault("model", self.model)
        return RealtimeEndpoint(self.stack, "Endpoint", variants=[ProductionVariant(**variant_props)])

    def scalable(self, **variant_props: Any):
        return self.endpoint(**variant_props).auto_scale_instance_count(min_capacity=2, max_capacity=4)

    def new_model(self, id: str = "Model2", **props: Any) -> TritonModel:
        props.setdefault("artifact", ModelArtifact.from_bucket(self.bucket, "m/model.tar.gz", model_name="m"))
        return TritonModel(self.stack, id, **props)


@pytest.fixture
def ctx(model_archive: Path, tmp_path: Path) -> Ctx:
    stack = Stack(App(), "Bad")
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    model = TritonModel(
        stack, "Model", artifact=ModelArtifact.from_bucket(bucket, "bert/model.tar.gz", model_name="bert")
    )
    return Ctx(stack, bucket, model, model_archive, tmp_path)


def _mme_model(c: Ctx) -> MultiModelTritonModel:
    return MultiModelTritonModel(c.stack, "MmeModel2", model_prefix=ModelPrefix(c.stack, "Prefix2"))


def _twice(make: Callable[[], Any], act: Callable[[Any], Any]) -> Any:
    """Call ``act`` twice on what ``make`` returns (the second call is the bad one)."""
    made = make()
    act(made)
    return act(made)


def _steps() -> list[appscaling.ScalingInterval]:
    return [appscaling.ScalingInterval(upper=0.5, change=0), appscaling.ScalingInterval(lower=0.5, change=1)]


_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:results"


def _mme(c: Ctx, **props: Any) -> MultiModelEndpoint:
    """A MultiModelEndpoint with ``props`` (no archive added)."""
    return MultiModelEndpoint(c.stack, "Mme", **props)


def _two_models_archive(c: Ctx) -> ModelArtifact:
    """An archive with two model folders and no ensemble (Triton's SageMaker front end loads neither)."""
    import tarfile

    config = c.tmp / "config.pbtxt"
    config.write_text('backend: "onnxruntime"\n')
    path = c.tmp / "two.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(config, arcname="pre/config.pbtxt")
        tar.add(config, arcname="resnet/config.pbtxt")
    return ModelArtifact.from_asset(path)


def _triton(c: Ctx, hostname: str | None) -> ContainerDefinition:
    """A Triton container of a model on the context's bucket."""
    artifact = ModelArtifact.from_bucket(c.bucket, "m/model.tar.gz", model_name="m")
    return ContainerDefinition.triton(artifact=artifact, hostname=hostname)


def _multi(c: Ctx, containers: Any, **props: Any) -> MultiContainerModel:
    return MultiContainerModel(c.stack, "Multi", containers=containers, **props)


def _async(c: Ctx, **props: Any) -> AsyncEndpoint:
    """An AsyncEndpoint on the context's model with ``props``."""
    props.setdefault("variants", [ProductionVariant(model=c.model)])
    return AsyncEndpoint(c.stack, "Async", **props)


def _shadow_variant(c: Ctx, **props: Any) -> ProductionVariant:
    """A shadow candidate on a second model (``variant_name`` defaults to ``"Shadow"``)."""
    props.setdefault("variant_name", "Shadow")
    props.setdefault("initial_instance_count", 2)
    return ProductionVariant(model=c.new_model(f"Candidate{props['variant_name']}"), **props)


def _shadow(c: Ctx, **props: Any) -> RealtimeEndpoint:
    """A RealtimeEndpoint with a shadow variant; ``props`` override the defaults."""
    if "variants" not in props:
        props["variants"] = [ProductionVariant(model=c.model, initial_instance_count=2)]
    if "shadow_variants" not in props:
        props["shadow_variants"] = [_shadow_variant(c)]
    return RealtimeEndpoint(c.stack, "Shadowed", **props)


def _capture(c: Ctx, **props: Any) -> RealtimeEndpoint:
    """A RealtimeEndpoint with ``DataCapture(**props)``."""
    return RealtimeEndpoint(
        c.stack, "Captured", variants=[ProductionVariant(model=c.model)], data_capture=DataCapture(**props)
    )


def _eleven_rollback_alarms(c: Ctx) -> None:
    """Give an endpoint one rollback alarm more than SageMaker takes."""
    endpoint = c.endpoint()
    for index in range(11):
        arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:a{index}"
        endpoint.add_rollback_alarm(cloudwatch.Alarm.from_alarm_arn(c.stack, f"Alarm{index}", arn))


def _neuron(c: Ctx, **props: Any) -> NeuronModel:
    """A NeuronModel on the context's bucket with ``props``."""
    props.setdefault("artifact", ModelArtifact.from_bucket(c.bucket, "n/model.tar.gz", model_name="n"))
    return NeuronModel(c.stack, "Neuron", **props)


def _neuron_on(c: Ctx, instance_type: str, **props: Any) -> RealtimeEndpoint:
    """A real-time endpoint serving a NeuronModel with ``props`` on ``instance_type``."""
    return c.endpoint(model=_neuron(c, **props), instance_type=InstanceType.of(instance_type))


def _neuron_archive(c: Ctx, **fields: Any) -> ModelArtifact:
    """An archive whose ``bert/neuron.json`` has ``fields`` over a valid inf2 manifest (a damaged manifest)."""
    import json
    import tarfile

    manifest = {
        "neuron_sdk_version": "2.21.0", "target": "inf2", "batch_size": 1, "sequence_length": 128,
        "inputs": [{"name": "input_ids", "dtype": "INT64", "shape": [1, 128]}], "compiler_args": [],
    }  # fmt: skip
    text = c.tmp / "neuron.json"
    text.write_text(json.dumps({**manifest, **fields}))
    path = c.tmp / "neuron.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(text, arcname="bert/neuron.json")
    return ModelArtifact.from_asset(path)


def _open_model(c: Ctx, id: str = "OpenModel", **props: Any) -> TritonModel:
    """A model a serverless endpoint takes: no network isolation."""
    props.setdefault("network_isolation", False)
    return c.new_model(id, **props)


def _serverless_variant(c: Ctx, **props: Any) -> ServerlessProductionVariant:
    props.setdefault("memory_size_in_mb", 2048)
    props.setdefault("max_concurrency", 5)
    if "model" not in props:
        props["model"] = _open_model(c)
    return ServerlessProductionVariant(**props)


def _serverless(c: Ctx, **props: Any) -> ServerlessEndpoint:
    """A ServerlessEndpoint with ``props`` (one open serverless variant by default)."""
    if "variants" not in props:
        props["variants"] = [_serverless_variant(c, provisioned_concurrency=2)]
    return ServerlessEndpoint(c.stack, "Serverless", **props)


# (action, fragments the error message must contain: the prop, the value given, the fix)
ERRORS: list[Any] = [
    # --- instance types and variants -----------------------------------------------------
    pytest.param(
        lambda c: c.endpoint(instance_type="ml.g4dn.xlarge"),
        ["variants[0].instance_type", "'ml.g4dn.xlarge' (a str)", "use InstanceType.of('ml.g4dn.xlarge')"],
        id="variant-instance-type-is-a-str",
    ),
    pytest.param(
        lambda c: InstanceType.of(4),
        ["InstanceType.of", "4 (an int)", "use InstanceType.of('ml.g4dn.xlarge')"],
        id="instance-type-of-an-int",
    ),
    pytest.param(
        lambda c: InstanceType.of("g5.xlarge"),
        ["Invalid instance type 'g5.xlarge'", "like 'ml.g4dn.xlarge'", "did you mean 'ml.g5.xlarge'"],
        id="instance-type-without-ml-prefix",
    ),
    pytest.param(
        lambda c: InstanceType("g5.xlarge"),
        ["Invalid instance type 'g5.xlarge'", "like 'ml.g4dn.xlarge'", "did you mean 'ml.g5.xlarge'"],
        id="instance-type-constructor-checks-the-name-too",
    ),
    pytest.param(
        lambda c: InstanceType.of("ML.G4DN.XLARGE"),
        ["Invalid instance type 'ML.G4DN.XLARGE'", "like 'ml.g4dn.xlarge'", "did you mean 'ml.g4dn.xlarge'"],
        id="instance-type-in-capitals",
    ),
    pytest.param(
        lambda c: InstanceType.of("ml.g5.xlarge "),
        ["Invalid instance type 'ml.g5.xlarge '", "like 'ml.g4dn.xlarge'", "did you mean 'ml.g5.xlarge'"],
        id="instance-type-with-a-trailing-space",
    ),
    pytest.param(
        lambda c: InstanceType.of(InstanceType.ML_G5_XLARGE),
        [
            "Invalid instance type an InstanceType",
            "takes the type's name as a str",
            "pass the InstanceType itself",
        ],
        id="instance-type-of-an-instance-type",
    ),
    pytest.param(
        lambda c: RealtimeEndpoint(c.stack, "Endpoint", variants=ProductionVariant(model=c.model)),
        [
            "variants must be a list of ProductionVariant",
            "got one ProductionVariant",
            "wrap it: variants=[...]",
        ],
        id="variants-is-one-variant-not-a-list",
    ),
    pytest.param(
        lambda c: RealtimeEndpoint(c.stack, "Endpoint", variants="AllTraffic"),
        [
            "variants must be a list of ProductionVariant",
            "'AllTraffic' (a str)",
            "variants=[ProductionVariant(model=model)]",
        ],
        id="variants-is-a-str",
    ),
    pytest.param(
        lambda c: RealtimeEndpoint(c.stack, "Endpoint", variants=[{"model": c.model}]),
        ["variants[0] must be a ProductionVariant", "a dict", "variants=[ProductionVariant(model=model)]"],
        id="variants-item-is-a-dict",
    ),
    pytest.param(
        lambda c: c.endpoint(initial_instance_count=2.5),
        [
            "variants[0].initial_instance_count must be an int",
            "2.5 (a float)",
            "pass a whole number (2 or 3)",
        ],
        id="instance-count-is-a-float",
    ),
    pytest.param(
        lambda c: c.endpoint(initial_instance_count="2"),
        [
            "variants[0].initial_instance_count must be an int",
            "'2' (a str)",
            "pass the number 2, not the string '2'",
        ],
        id="instance-count-is-a-str",
    ),
    pytest.param(
        lambda c: c.endpoint(initial_instance_count=True),
        ["variants[0].initial_instance_count must be an int", "True (a bool)", "pass a number, not a bool"],
        id="instance-count-is-a-bool",
    ),
    pytest.param(
        lambda c: c.endpoint(initial_instance_count=0),
        ["variants[0].initial_instance_count", "(got 0)", "must be >= 1"],
        id="instance-count-is-zero",
    ),
    pytest.param(
        lambda c: c.endpoint(initial_instance_count={2}),
        ["variants[0].initial_instance_count must be an int", "a set", "pass a number"],
        id="instance-count-is-a-set",
    ),
    pytest.param(
        lambda c: c.endpoint(initial_variant_weight=float("inf")),
        ["variants[0].initial_variant_weight must be a number", "inf (a float)", "pass a finite number"],
        id="variant-weight-is-infinite",
    ),
    pytest.param(
        lambda c: c.endpoint(initial_variant_weight="0.5"),
        ["variants[0].initial_variant_weight must be a number", "'0.5' (a str)", "pass the number 0.5"],
        id="variant-weight-is-a-str",
    ),
    pytest.param(
        lambda c: c.endpoint(volume_size_in_gb=30.5, instance_type=InstanceType.ML_C5_XLARGE),
        ["variants[0].volume_size_in_gb must be an int", "30.5 (a float)", "pass a whole number (30 or 31)"],
        id="volume-size-is-a-float",
    ),
    pytest.param(
        lambda c: c.endpoint(model_data_download_timeout=600),
        [
            "variants[0].model_data_download_timeout must be a Duration",
            "600 (an int)",
            "use Duration.seconds(600)",
        ],
        id="download-timeout-is-a-number",
    ),
    pytest.param(
        lambda c: c.endpoint(container_startup_health_check_timeout=Duration.millis(61_500)),
        [
            "variants[0].container_startup_health_check_timeout must be whole seconds",
            "(got 61.5 s)",
            "use Duration.seconds(62)",
        ],
        id="health-check-timeout-is-not-whole-seconds",
    ),
    pytest.param(
        lambda c: c.endpoint(model="bert"),
        [
            "variants[0].model must be a TritonModel",
            "'bert' (a str)",
            "TritonModel(self, 'Model', artifact=...)",
        ],
        id="variant-model-is-a-str",
    ),
    pytest.param(
        lambda c: c.endpoint(variant_name=1),
        ["variants[0].variant_name must be a str", "1 (an int)", "such as 'AllTraffic'"],
        id="variant-name-is-an-int",
    ),
    pytest.param(
        lambda c: c.endpoint(variant_name="blue_green"),
        ["variants[0].variant_name", "'blue_green'", "letters, digits or inner hyphens", "e.g. 'blue-green'"],
        id="variant-name-has-an-underscore",
    ),
    pytest.param(
        lambda c: RealtimeEndpoint(
            c.stack,
            "Endpoint",
            kms_key="arn:aws:kms:us-east-1:111122223333:key/abc",
            variants=[ProductionVariant(model=c.model, instance_type=InstanceType.ML_C5_XLARGE)],
        ),
        [
            "kms_key must be a kms.IKey",
            "'arn:aws:kms:us-east-1:111122223333:key/abc' (a str)",
            "kms.Key.from_key_arn",
        ],
        id="kms-key-is-an-arn-string",
    ),
    pytest.param(
        lambda c: RealtimeEndpoint(
            c.stack,
            "Endpoint",
            variants=[ServerlessProductionVariant(model=c.model, memory_size_in_mb=2048, max_concurrency=5)],
        ),
        [
            "variants[0] is a ServerlessProductionVariant",
            "takes ProductionVariant only",
            "use ProductionVariant(model=...",
        ],
        id="serverless-variant-on-a-realtime-endpoint",
    ),
    pytest.param(
        lambda c: c.endpoint().add_production_variant("Green"),
        ["variant must be a ProductionVariant", "'Green' (a str)", "pass ProductionVariant(model=..."],
        id="add-production-variant-takes-a-str",
    ),
    # --- scaling ---------------------------------------------------------------------------
    pytest.param(
        lambda c: c.endpoint().auto_scale_instance_count(min_capacity=1.5, max_capacity=4),
        ["min_capacity must be an int", "1.5 (a float)", "pass a whole number (1 or 2)"],
        id="min-capacity-is-a-float",
    ),
    pytest.param(
        lambda c: c.endpoint().auto_scale_instance_count(min_capacity=2, max_capacity="4"),
        ["max_capacity must be an int", "'4' (a str)", "pass the number 4, not the string '4'"],
        id="max-capacity-is-a-str",
    ),
    pytest.param(
        lambda c: c.endpoint().auto_scale_instance_count(min_capacity=0, max_capacity=4),
        [
            "min_capacity must be >= 1 on a RealtimeEndpoint",
            "(got 0)",
            "only asynchronous",
            "use min_capacity=1",
        ],
        id="min-capacity-zero-on-a-realtime-endpoint",
    ),
    pytest.param(
        lambda c: c.endpoint().auto_scale_instance_count(min_capacity=3, max_capacity=2),
        ["max_capacity must be >= min_capacity", "(got 2 < 3)", "raise max_capacity or lower min_capacity"],
        id="max-capacity-below-min-capacity",
    ),
    pytest.param(
        lambda c: c.endpoint().auto_scale_instance_count(0, min_capacity=2, max_capacity=4),
        ["variant_name must be a str", "0 (an int)", "e.g. 'AllTraffic'"],
        id="auto-scale-variant-name-is-an-int",
    ),
    pytest.param(
        lambda c: c.endpoint().auto_scale_instance_count("Allraffic", min_capacity=2, max_capacity=4),
        ["variant_name 'Allraffic'", "it has 'AllTraffic'", "did you mean 'AllTraffic'"],
        id="auto-scale-variant-name-typo",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_invocations("Inv", invocations_per_instance_per_minute="600"),
        ["invocations_per_instance_per_minute must be a number", "'600' (a str)", "pass the number 600"],
        id="invocations-target-is-a-str",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_invocations("Inv", invocations_per_instance_per_minute=0),
        ["invocations_per_instance_per_minute", "(got 0)", "must be > 0"],
        id="invocations-target-is-zero",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_invocations(
            "Inv", invocations_per_instance_per_minute=600, scale_in_cooldown=300
        ),
        ["scale_in_cooldown must be a Duration", "300 (an int)", "use Duration.seconds(300)"],
        id="cooldown-is-a-number",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_invocations(
            "Inv", invocations_per_instance_per_minute=600, scale_out_cooldown=float("nan")
        ),
        [
            "scale_out_cooldown must be a Duration",
            "nan (a float)",
            "use Duration.seconds(...) or Duration.minutes(...)",
        ],
        id="cooldown-is-nan",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_invocations(
            "Inv", invocations_per_instance_per_minute=600, disable_scale_in="false"
        ),
        ["disable_scale_in must be a bool", "'false' (a str)", "pass True or False"],
        id="disable-scale-in-is-a-str",
    ),
    pytest.param(
        # NaN must never reach jsii: its JSON has no NaN, and the kernel would die
        lambda c: c.scalable().scale_on_gpu_utilization("Gpu", target_utilization_percent=float("nan")),
        ["target_utilization_percent must be a number", "nan (a float)", "pass a finite number"],
        id="gpu-target-is-nan",
    ),
    pytest.param(
        lambda c: c.scalable().scale_to_track_metric(
            "Backlog", metric=c.stack.node.find_child("Endpoint").metric_invocations(), target_value=None
        ),
        ["target_value is required", "(got None)", "pass a number > 0"],
        id="tracking-target-is-none",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_gpu_utilization("Gpu", target_utilization_percent=150),
        ["target_utilization_percent must be <= 100 on ml.g4dn.xlarge", "(got 150)", "1 GPU", "e.g. 60"],
        id="gpu-target-above-100-on-one-gpu",
    ),
    pytest.param(
        lambda c: c.scalable(instance_type=InstanceType.ML_C5_XLARGE).scale_on_gpu_utilization(
            "Gpu", target_utilization_percent=60
        ),
        ["variant 'AllTraffic' runs on ml.c5.xlarge", "which has no GPU", "scale on invocations"],
        id="gpu-scaling-on-a-cpu-instance",
    ),
    pytest.param(
        lambda c: c.scalable().scale_to_track_metric("Latency", metric="ModelLatency", target_value=1000),
        ["metric must be an IMetric", "'ModelLatency' (a str)", "endpoint.metric("],
        id="tracked-metric-is-a-name",
    ),
    pytest.param(
        lambda c: c.scalable().scale_to_track_metric(
            "Latency",
            metric=c.stack.node.find_child("Endpoint").metric_model_latency(statistic="p99"),
            target_value=1000,
        ),
        ["metric statistic must be one of Average", "(got 'p99')", "pass statistic='Average'"],
        id="tracked-metric-is-a-percentile",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_metric(
            "Errors",
            metric=c.stack.node.find_child("Endpoint").metric_invocations(),
            scaling_steps=[appscaling.ScalingInterval(lower=1, change=1)],
        ),
        ["scaling_steps needs at least 2 intervals", "(got 1;", "add a zero-change interval"],
        id="step-scaling-with-one-interval",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_metric(
            "Errors",
            metric=c.stack.node.find_child("Endpoint").metric_invocations(),
            scaling_steps=appscaling.ScalingInterval(lower=1, change=1),
        ),
        [
            "scaling_steps must be a list of ScalingInterval",
            "a ScalingInterval",
            "ScalingInterval(upper=0.5, change=0)",
        ],
        id="step-scaling-steps-not-a-list",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_metric(
            "Errors",
            metric=c.stack.node.find_child("Endpoint").metric_invocations(),
            scaling_steps=_steps(),
            evaluation_periods=2,
            datapoints_to_alarm=3,
        ),
        ["datapoints_to_alarm must be <= evaluation_periods", "(got 3 > 2)", "lower datapoints_to_alarm"],
        id="step-scaling-datapoints-above-periods",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_schedule("Night", schedule="cron(0 8 * * ? *)", min_capacity=2),
        ["schedule must be a Schedule", "'cron(0 8 * * ? *)' (a str)", "appscaling.Schedule.cron("],
        id="schedule-is-a-cron-string",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_schedule(
            "Night", schedule=appscaling.Schedule.cron(hour="0", minute="0")
        ),
        ["min_capacity or max_capacity is required", "(got neither)", "pass the bounds to set"],
        id="schedule-without-capacities",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_schedule(
            "Night",
            schedule=appscaling.Schedule.cron(hour="0", minute="0"),
            min_capacity=2,
            start_time=datetime.datetime(2027, 1, 2, tzinfo=datetime.UTC),
            end_time=datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC),
        ),
        [
            "end_time must be after start_time",
            "2027-01-01T00:00:00+00:00 <= 2027-01-02T00:00:00+00:00",
            "swap them",
        ],
        id="schedule-ends-before-it-starts",
    ),
    pytest.param(
        # jsii refuses a naive datetime at synth ("Naive datetimes are not supported")
        lambda c: c.scalable().scale_on_schedule(
            "Night",
            schedule=appscaling.Schedule.cron(hour="0", minute="0"),
            min_capacity=2,
            start_time=datetime.datetime(2027, 1, 1),
        ),
        [
            "start_time must have a time zone",
            "(got 2027-01-01T00:00:00, a naive datetime)",
            "tzinfo=datetime.timezone.utc",
        ],
        id="schedule-start-time-without-a-time-zone",
    ),
    pytest.param(
        # a naive and an aware datetime cannot be compared: that was a TypeError
        lambda c: c.scalable().scale_on_schedule(
            "Night",
            schedule=appscaling.Schedule.cron(hour="0", minute="0"),
            min_capacity=2,
            start_time=datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC),
            end_time=datetime.datetime(2027, 1, 2),
        ),
        ["end_time must have a time zone", "a naive datetime", "tzinfo=datetime.timezone.utc"],
        id="schedule-end-time-naive-start-time-aware",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_schedule(
            "Night", schedule=appscaling.Schedule.cron(hour="0", minute="0"), min_capacity=0
        ),
        ["min_capacity must be >= 1 on a RealtimeEndpoint", "(got 0)", "use min_capacity=1"],
        id="schedule-min-capacity-below-the-floor",
    ),
    pytest.param(
        lambda c: _twice(
            lambda: c.scalable(),
            lambda s: s.scale_on_schedule(
                "Night", schedule=appscaling.Schedule.cron(hour="0", minute="0"), min_capacity=2
            ),
        ),
        ["id 'Night' is already a scheduled action on this scalable target", "its own id"],
        id="schedule-id-used-twice",
    ),
    pytest.param(
        lambda c: _twice(
            lambda: c.scalable(),
            lambda s: s.scale_on_invocations("Invocations", invocations_per_instance_per_minute=600),
        ),
        ["id 'Invocations' is already a policy on this scalable target", "give each policy its own id"],
        id="policy-id-used-twice",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_invocations(7, invocations_per_instance_per_minute=600),
        ["id must be a str", "7 (an int)", "such as 'Invocations'"],
        id="policy-id-is-an-int",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_metric(
            "Errors",
            metric=c.stack.node.find_child("Endpoint").metric_invocations(),
            scaling_steps=[
                appscaling.ScalingInterval(change=0),
                appscaling.ScalingInterval(lower=1, change=1),
            ],
        ),
        ["scaling_steps[0] needs lower or upper", "(got neither)", "ScalingInterval(lower=0.5, change=1)"],
        id="step-interval-without-bounds",
    ),
    pytest.param(
        lambda c: c.scalable().scale_on_metric(
            "Errors",
            metric=c.stack.node.find_child("Endpoint").metric_invocations(),
            scaling_steps=[
                appscaling.ScalingInterval(upper=5, change=0),
                appscaling.ScalingInterval(lower=1, change=1),
            ],
        ),
        [
            "Invalid scale_on_metric props: scaling_steps do not fit together",
            '{"change":1,"lower":1}',
            "must not overlap",
        ],
        id="step-intervals-overlap",
    ),
    # --- models, artifacts and images ------------------------------------------------------
    pytest.param(
        lambda c: c.new_model(artifact="model.tar.gz"),
        [
            "artifact must be a ModelArtifact",
            "'model.tar.gz' (a str)",
            "use ModelArtifact.from_asset('model.tar.gz')",
        ],
        id="model-artifact-is-a-path",
    ),
    pytest.param(
        lambda c: c.new_model(image="123456789012.dkr.ecr.us-east-1.amazonaws.com/triton:1"),
        ["image must be a TritonImage", "(a str)", "TritonImage.from_uri(uri)"],
        id="model-image-is-a-uri-string",
    ),
    pytest.param(
        lambda c: c.new_model(environment={"MY_THREADS": 4}),
        ["environment['MY_THREADS'] must be a str", "4 (an int)", "pass '4'"],
        id="model-environment-value-is-an-int",
    ),
    pytest.param(
        lambda c: c.new_model(log_verbose="1"),
        ["log_verbose must be an int", "'1' (a str)", "pass the number 1"],
        id="model-log-verbose-is-a-str",
    ),
    pytest.param(
        lambda c: c.new_model(network_isolation="false"),
        ["network_isolation must be a bool", "'false' (a str)", "pass True or False"],
        id="model-network-isolation-is-a-str",
    ),
    pytest.param(
        lambda c: c.new_model(
            vpc=ec2.Vpc.from_vpc_attributes(
                c.stack, "Vpc", vpc_id="vpc-1", availability_zones=["a"], private_subnet_ids=["subnet-1"]
            ),
            security_groups=ec2.SecurityGroup.from_security_group_id(c.stack, "Sg", "sg-1"),
        ),
        [
            "security_groups must be a list of ec2.ISecurityGroup",
            "got the construct Bad/Sg",
            "wrap it: security_groups=[group]",
        ],
        id="model-security-groups-is-one-group",
    ),
    pytest.param(
        lambda c: c.new_model(artifact=ModelArtifact.from_asset(c.archive), default_model_name="bert"),
        ["default_model_name 'bert' is not a model in the archive", "it holds: tiny", "pass one of them"],
        id="model-default-name-not-in-the-archive",
    ),
    pytest.param(
        lambda c: ModelArtifact.from_asset(c.tmp),
        ["path", "is a folder", "python -m model_build build"],
        id="asset-is-a-folder",
    ),
    pytest.param(
        lambda c: ModelArtifact.from_asset(c.tmp / "model.onnx"),
        ["path", "model.onnx' does not exist", "python -m model_build build"],
        id="asset-does-not-exist",
    ),
    pytest.param(
        lambda c: (
            (c.tmp / "model.onnx").write_bytes(b"\x08\x01") and ModelArtifact.from_asset(c.tmp / "model.onnx")
        ),
        ["path", "model.onnx' is not a .tar.gz archive", "python -m model_build build --onnx"],
        id="asset-is-an-onnx-file",
    ),
    pytest.param(
        lambda c: ModelArtifact.from_asset(c.archive, model_name="bert"),
        ["model_name 'bert' is not a model in", "it holds: tiny", "pass one of them"],
        id="asset-model-name-not-in-the-archive",
    ),
    pytest.param(
        lambda c: ModelArtifact.from_asset(c.archive, model_name="tiyn"),
        ["model_name 'tiyn' is not a model in", "it holds: tiny", "did you mean 'tiny'"],
        id="asset-model-name-typo",
    ),
    pytest.param(
        lambda c: ModelArtifact.from_bucket(c.bucket, "bert/model.tar.gz", model_name="models/bert"),
        [
            "model_name must be the name of one model folder",
            "'models/bert'",
            "the folder that holds config.pbtxt",
        ],
        id="bucket-model-name-is-a-path",
    ),
    pytest.param(
        lambda c: c.new_model(default_model_name="bert/1"),
        ["default_model_name must be the name of one model folder", "'bert/1'", "e.g. 'bert'"],
        id="model-default-name-is-a-path",
    ),
    pytest.param(
        lambda c: ModelArtifact.from_build(get_example("bert-tiny"), cache_dir=5),
        ["cache_dir must be a str or PathLike", "5 (an int)", "pass a folder path"],
        id="build-cache-dir-is-a-number",
    ),
    pytest.param(
        lambda c: ModelArtifact.from_asset(42),
        ["path must be the path of a .tar.gz file", "42 (an int)", "python -m model_build build"],
        id="asset-path-is-a-number",
    ),
    pytest.param(
        lambda c: ModelArtifact.from_bucket("models-bucket", "bert/model.tar.gz"),
        ["bucket must be an s3.IBucket", "'models-bucket' (a str)", "s3.Bucket.from_bucket_name("],
        id="bucket-is-a-name",
    ),
    pytest.param(
        lambda c: ModelArtifact.from_bucket(c.bucket, "s3://models-bucket/bert/model.tar.gz"),
        [
            "key must be the object key inside the bucket",
            "'s3://models-bucket/bert/model.tar.gz'",
            "e.g. 'bert/model.tar.gz'",
        ],
        id="bucket-key-is-a-uri",
    ),
    pytest.param(
        lambda c: ModelArtifact.from_bucket(c.bucket, "bert/"),
        ["key 'bert/' ends with '/'", "a prefix", "ModelArtifact.from_bucket_prefix"],
        id="bucket-key-is-a-prefix",
    ),
    pytest.param(
        lambda c: ModelArtifact.from_bucket_prefix(c.bucket, "bert/model.tar.gz"),
        ["prefix 'bert/model.tar.gz'", "names an archive", "use ModelArtifact.from_bucket"],
        id="bucket-prefix-is-an-archive",
    ),
    pytest.param(
        lambda c: ModelArtifact.from_build("bert-tiny"),
        ["spec must be a ModelSpec", "'bert-tiny' (a str)", "get_example('bert-tiny')"],
        id="build-spec-is-a-name",
    ),
    pytest.param(
        lambda c: TritonImage.for_region(26.05),
        ["version must be a str", "26.05 (a float)", "such as '26.05'"],
        id="image-version-is-a-float",
    ),
    pytest.param(
        lambda c: TritonImage.for_region("26.5"),
        ["version '26.5'", "did you mean '26.05'", "Pass one of them"],
        id="image-version-typo",
    ),
    pytest.param(
        lambda c: TritonModel(
            Stack(App(), "China", env=Environment(region="cn-north-1")),
            "Model",
            artifact=ModelArtifact.from_bucket(
                s3.Bucket.from_bucket_name(c.stack, "B", "models-b"), "k.tar.gz", model_name="m"
            ),
        ),
        ["not published in cn-north-1", "lists it in af-south-1", "TritonImage.from_ecr_repository"],
        id="image-region-without-the-dlc",
    ),
    # --- metrics, grants and imports -------------------------------------------------------
    pytest.param(
        lambda c: c.endpoint().metric("ModelLatancy"),
        ["metric_name 'ModelLatancy'", "did you mean 'ModelLatency'", "or pass namespace="],
        id="metric-name-typo",
    ),
    pytest.param(
        lambda c: c.endpoint().metric_invocations(period=60),
        ["period must be a Duration", "60 (an int)", "use Duration.seconds(60)"],
        id="metric-period-is-a-number",
    ),
    pytest.param(
        # CDK passes an unknown statistic through; CloudWatch refuses it only at deploy
        lambda c: c.endpoint().metric_model_latency(statistic="Averag"),
        [
            "statistic 'Averag' is not a CloudWatch statistic",
            "did you mean 'Average'",
            "a percentile such as 'p99'",
        ],
        id="metric-statistic-typo",
    ),
    pytest.param(
        lambda c: c.endpoint().metric_model_latency(statistic="p101"),
        ["statistic 'p101' is not a CloudWatch statistic", "use Average", "a percentile such as 'p99'"],
        id="metric-percentile-above-100",
    ),
    pytest.param(
        lambda c: c.endpoint().metric_invocations(period=Duration.seconds(45)),
        [
            "period must be 1, 5, 10 or 30 seconds or a multiple of 60 seconds",
            "(got 45 s)",
            "Duration.minutes(1)",
        ],
        id="metric-period-not-a-cloudwatch-period",
    ),
    pytest.param(
        lambda c: c.endpoint().metric_invocations(period=Duration.seconds(0)),
        ["period must be >= 1 s", "(got 0 s)"],
        id="metric-period-zero",
    ),
    pytest.param(
        lambda c: c.endpoint().metric("ModelLatency", dimensions_map={"EndpointName": "other"}),
        ["dimensions_map is set from the metrics table", "drop it", "pass variant_name"],
        id="metric-dimensions-map-given",
    ),
    pytest.param(
        lambda c: c.endpoint().metric_invocations(periode=Duration.minutes(1)),
        ["periode is not a cloudwatch.Metric prop", "did you mean 'period'", "use one of"],
        id="metric-prop-typo",
    ),
    pytest.param(
        lambda c: c.endpoint().metric_invocations(variant_name=5),
        ["variant_name must be a str", "5 (an int)", "e.g. 'AllTraffic'"],
        id="metric-variant-name-is-an-int",
    ),
    pytest.param(
        lambda c: endpoint_metric("ModelLatency", endpoint_name=None, variant_name="AllTraffic"),
        ["endpoint_name is required", "(got None)", "pass a str"],
        id="endpoint-metric-without-endpoint-name",
    ),
    pytest.param(
        lambda c: EndpointResource.from_endpoint_name(c.stack, "Old", "ep").metric(
            "ApproximateBacklogSize", variant_name="AllTraffic"
        ),
        [
            "variant_name 'AllTraffic' given for ApproximateBacklogSize",
            "EndpointName dimension only",
            "drop variant_name",
        ],
        id="metric-variant-for-an-endpoint-level-metric",
    ),
    pytest.param(
        lambda c: c.endpoint().grant_invoke("arn:aws:iam::111122223333:role/caller"),
        [
            "grantee must be an iam.IGrantable",
            "'arn:aws:iam::111122223333:role/caller' (a str)",
            "pass a role",
        ],
        id="grant-invoke-takes-an-arn",
    ),
    pytest.param(
        lambda c: c.endpoint().grant_smoke_test("arn:aws:iam::111122223333:role/smoke"),
        ["grant_smoke_test", "grantee must be an iam.IGrantable", "(a str)", "pass a role"],
        id="grant-smoke-test-takes-an-arn",
    ),
    pytest.param(
        lambda c: RealtimeEndpoint(c.stack, "Empty").grant_smoke_test(
            iam.Role(c.stack, "Smoke", assumed_by=iam.AccountRootPrincipal())
        ),
        ["grant_smoke_test", "Bad/Empty has no production variants yet", "add them before granting"],
        id="grant-smoke-test-before-the-variants",
    ),
    pytest.param(
        lambda c: c.model.grant_read_model_data(None),
        ["grant_read_model_data", "grantee must be an iam.IGrantable", "pass a role"],
        id="grant-read-model-data-without-grantee",
    ),
    pytest.param(
        lambda c: EndpointResource.from_endpoint_attributes(
            c.stack, "Old", endpoint_name="ep", variant_names="Blue"
        ),
        ["variant_names must be a list of str", "'Blue' (a str)", "wrap it: variant_names=['Blue']"],
        id="import-variant-names-is-a-str",
    ),
    pytest.param(
        lambda c: EndpointResource.from_endpoint_attributes(
            c.stack, "Old", endpoint_name="ep", variant_names=["Blue", "green_v2"]
        ),
        ["variant_names[1] must be 1-63 letters, digits or inner hyphens", "'green_v2'", "e.g. 'green-v2'"],
        id="import-variant-name-has-an-underscore",
    ),
    pytest.param(
        lambda c: EndpointResource.from_endpoint_name(c.stack, "Old", 42),
        ["endpoint_name must be a str", "42 (an int)", "pass a str"],
        id="import-endpoint-name-is-an-int",
    ),
    # --- shadow variants and data capture ----------------------------------------------------
    pytest.param(
        lambda c: _shadow(
            c, shadow_variants=[_shadow_variant(c), _shadow_variant(c, variant_name="Shadow2")]
        ),
        ["shadow_variants takes at most 1 variant", "(got 2)", "test one candidate at a time"],
        id="shadow-two-shadow-variants",
    ),
    pytest.param(
        lambda c: _shadow(
            c,
            variants=[
                ProductionVariant(model=c.model, variant_name="A", initial_instance_count=2),
                ProductionVariant(model=c.model, variant_name="B", initial_instance_count=2),
            ],
        ),
        [
            "shadow_variants needs exactly one production variant",
            "(got 2 variants)",
            "keep one production variant",
        ],
        id="shadow-beside-two-production-variants",
    ),
    pytest.param(
        lambda c: _shadow(c, shadow_variants=[_shadow_variant(c, variant_name="AllTraffic")]),
        [
            "shadow_variants[0].variant_name must differ from the production variant's",
            "'AllTraffic'",
            "e.g. variant_name='Shadow'",
        ],
        id="shadow-name-taken-by-production",
    ),
    pytest.param(
        lambda c: _shadow(
            c,
            shadow_variants=[
                ServerlessProductionVariant(model=c.model, memory_size_in_mb=2048, max_concurrency=5)
            ],
        ),
        [
            "shadow_variants[0] is a ServerlessProductionVariant",
            "takes ProductionVariant only",
            "never mixes",
        ],
        id="shadow-serverless-variant-on-realtime",
    ),
    pytest.param(
        lambda c: _shadow(
            c,
            variants=[
                ProductionVariant(
                    model=_multi(c, [_triton(c, "pre"), _triton(c, "model")], mode="Serial"), initial_instance_count=2
                )
            ],
        ),
        [
            "variants: a MultiContainerModel cannot serve an endpoint with shadow_variants",
            "no shadow variant on multi-container endpoints",
            "or remove shadow_variants",
        ],
        id="shadow-beside-a-multi-container-model",
    ),
    pytest.param(
        lambda c: _shadow(c, shadow_variants=[_shadow_variant(c, instance_type=InstanceType.of("ml.inf1.xlarge"))]),
        [
            "shadow_variants: ml.inf1.xlarge (Inf1) cannot serve an endpoint with shadow_variants",
            "use ml.inf2 types for both variants",
        ],
        id="shadow-on-inf1",
    ),
    pytest.param(
        lambda c: _shadow(c, shadow_variants=[_shadow_variant(c, initial_instance_count=0)]),
        ["shadow_variants[0].initial_instance_count must be", "(got 0)"],
        id="shadow-zero-instances",
    ),
    pytest.param(
        lambda c: _shadow(c, shadow_variants=[]),
        ["shadow_variants must not be empty", "omit it for no shadow variant"],
        id="shadow-empty-list",
    ),
    pytest.param(
        lambda c: _shadow(c, shadow_variants=_shadow_variant(c)),
        ["shadow_variants must be a list of ProductionVariant", "wrap it: shadow_variants=[...]"],
        id="shadow-not-a-list",
    ),
    pytest.param(
        lambda c: _shadow(
            c,
            kms_key=kms.Key.from_key_arn(c.stack, "VolKey", "arn:aws:kms:us-east-1:123456789012:key/k"),
            variants=[ProductionVariant(model=c.model, instance_type=InstanceType.of("ml.m5.xlarge"))],
            shadow_variants=[_shadow_variant(c, instance_type=InstanceType.of("ml.g5.xlarge"))],
        ),
        [
            "kms_key is not supported on ml.g5.xlarge",
            "shadow_variants[0]",
            "remove kms_key or choose a non-NVMe type",
        ],
        id="shadow-nvme-type-with-volume-key",
    ),
    pytest.param(
        lambda c: _twice(
            lambda: _shadow(c, variants=None),
            lambda e: e.add_production_variant(
                ProductionVariant(model=c.model, variant_name="Prod", initial_instance_count=2)
            ),
        ),
        ["shadow_variants takes exactly one production variant", "remove the shadow variant"],
        id="shadow-second-production-variant-added-later",
    ),
    pytest.param(
        lambda c: _shadow(c, variants=None).add_production_variant(
            ProductionVariant(model=c.model, variant_name="Shadow", initial_instance_count=2)
        ),
        [
            "variants[0].variant_name 'Shadow' is taken by a shadow variant",
            "unique across production and shadow",
        ],
        id="shadow-production-added-later-with-the-shadow-name",
    ),
    pytest.param(
        lambda c: c.endpoint().metric_model_latency(variant_name="Shadow"),
        ["variant_name 'Shadow'", "has no variant 'Shadow'"],
        id="shadow-metric-without-a-shadow",
    ),
    pytest.param(
        lambda c: _capture(c, sampling_percentage=101),
        ["data_capture.sampling_percentage must be between 0 and 100 %", "(got 101 %)"],
        id="capture-sampling-above-100",
    ),
    pytest.param(
        lambda c: _capture(c, sampling_percentage=12.5),
        ["data_capture.sampling_percentage must be an int", "12.5"],
        id="capture-sampling-not-whole",
    ),
    pytest.param(
        lambda c: _capture(c, prefix="/capture/"),
        [
            "data_capture.prefix must not start or end with '/'",
            "'/capture/'",
            "use data_capture.prefix='capture'",
        ],
        id="capture-prefix-slashes",
    ),
    pytest.param(
        lambda c: _capture(c, prefix="my capture#1"),
        [
            "data_capture.prefix may hold only letters, digits",
            "'my capture#1'",
            "e.g. data_capture.prefix='data-capture'",
        ],
        id="capture-prefix-unsafe-characters",
    ),
    pytest.param(
        lambda c: _capture(c, bucket="my-capture-bucket"),
        [
            "data_capture.bucket must be an s3.IBucket",
            "'my-capture-bucket'",
            "s3.Bucket.from_bucket_name(...)",
        ],
        id="capture-bucket-is-a-name",
    ),
    pytest.param(
        lambda c: _capture(c, kms_key="alias/capture"),
        ["data_capture.kms_key must be a kms.IKey", "'alias/capture'", "kms.Key.from_key_arn(...)"],
        id="capture-key-is-a-str",
    ),
    pytest.param(
        lambda c: _capture(c, capture_input=False, capture_output=False),
        ["data_capture captures nothing", "set one True", "data_capture.enabled=False"],
        id="capture-neither-input-nor-output",
    ),
    pytest.param(
        lambda c: _capture(c, capture_input="yes"),
        ["data_capture.capture_input must be a bool", "'yes'", "pass True or False"],
        id="capture-input-is-a-str",
    ),
    pytest.param(
        lambda c: _capture(c, json_content_types="application/json"),
        [
            "data_capture.json_content_types must be a list of content types",
            "e.g. data_capture.json_content_types=['application/json']",
        ],
        id="capture-json-types-is-a-str",
    ),
    pytest.param(
        lambda c: _capture(c, csv_content_types=["text/csv; charset=utf-8"]),
        [
            "data_capture.csv_content_types[0] must be a content type 'type/subtype'",
            "'text/csv; charset=utf-8'",
            "'text/csv'",
        ],
        id="capture-csv-type-with-parameters",
    ),
    pytest.param(
        lambda c: _capture(c, json_content_types=[f"application/x{i}" for i in range(11)]),
        ["data_capture.json_content_types takes at most 10 content types", "(got 11)"],
        id="capture-eleven-json-types",
    ),
    pytest.param(
        lambda c: _capture(c, json_content_types=["text/csv"], csv_content_types=["text/csv"]),
        ["'text/csv' is in both json_content_types and csv_content_types", "list each content type once"],
        id="capture-type-in-both-lists",
    ),
    pytest.param(
        lambda c: RealtimeEndpoint(
            c.stack,
            "E",
            variants=[ProductionVariant(model=c.model)],
            data_capture={"sampling_percentage": 10},
        ),
        ["data_capture must be a DataCapture", "(got a dict)", "pass DataCapture("],
        id="capture-is-a-dict",
    ),
    # --- asynchronous endpoints ------------------------------------------------------------
    pytest.param(
        lambda c: _async(c, output_prefix="/async/out"),
        ["output_prefix must not start or end with '/'", "'/async/out'", "use output_prefix='async/out'"],
        id="async-output-prefix-leading-slash",
    ),
    pytest.param(
        lambda c: _async(c, failure_prefix="async/failures/"),
        [
            "failure_prefix must not start or end with '/'",
            "'async/failures/'",
            "use failure_prefix='async/failures'",
        ],
        id="async-failure-prefix-trailing-slash",
    ),
    pytest.param(
        lambda c: _async(c, input_prefix="my inputs#1"),
        ["input_prefix may hold only letters, digits", "'my inputs#1'", "' #'", "replace them"],
        id="async-input-prefix-unsafe-characters",
    ),
    pytest.param(
        lambda c: _async(c, output_prefix="a//b"),
        ["output_prefix must not have empty, '.' or '..' segments", "'a//b'", "e.g. output_prefix="],
        id="async-output-prefix-empty-segment",
    ),
    pytest.param(
        lambda c: _async(c, output_prefix="o" * 450),
        [
            "output_prefix is too long",
            "a generated bucket name (up to 63 characters)",
            "519 characters",
            "at most 512",
            "shorten it to 443 characters or fewer",
        ],
        id="async-output-path-over-512-characters",
    ),
    pytest.param(
        lambda c: _async(c, output_bucket=c.bucket, output_prefix="o" * 500),
        ["output_prefix is too long", "bucket 'models-bucket'", "shorten it to 493 characters or fewer"],
        id="async-output-path-over-512-characters-named-bucket",
    ),
    pytest.param(
        lambda c: _async(c, failure_prefix="async-inference/output/failed"),
        [
            "output_prefix and failure_prefix must not overlap",
            "'async-inference/output' and 'async-inference/output/failed'",
            "give each its own",
        ],
        id="async-failure-prefix-inside-output-prefix",
    ),
    pytest.param(
        lambda c: _async(c, include_inference_response_in="SUCCESS_NOTIFICATION_TOPIC"),
        [
            "include_inference_response_in must be a list",
            "'SUCCESS_NOTIFICATION_TOPIC' (a str)",
            "wrap it: include_inference_response_in=['SUCCESS_NOTIFICATION_TOPIC']",
        ],
        id="async-include-response-in-is-a-str",
    ),
    pytest.param(
        lambda c: _async(c, include_inference_response_in=["success_notification_topic"]),
        [
            "include_inference_response_in[0] must be one of SUCCESS_NOTIFICATION_TOPIC, ERROR_NOTIFICATION_TOPIC",
            "'success_notification_topic' (a str)",
            "did you mean 'SUCCESS_NOTIFICATION_TOPIC'",
            "IncludeInferenceResponseIn.SUCCESS_NOTIFICATION_TOPIC",
        ],
        id="async-include-response-in-lowercase",
    ),
    pytest.param(
        lambda c: _async(
            c,
            include_inference_response_in=[
                IncludeInferenceResponseIn.ERROR_NOTIFICATION_TOPIC,
                "ERROR_NOTIFICATION_TOPIC",
            ],
        ),
        ["include_inference_response_in names ERROR_NOTIFICATION_TOPIC twice", "list each at most once"],
        id="async-include-response-in-twice",
    ),
    pytest.param(
        lambda c: _async(c, max_concurrent_invocations_per_instance=0),
        [
            "max_concurrent_invocations_per_instance must be between 1 and 1000 (got 0)",
            "omit it to let SageMaker choose",
        ],
        id="async-max-concurrency-zero",
    ),
    pytest.param(
        lambda c: _async(c, max_concurrent_invocations_per_instance=1001),
        ["max_concurrent_invocations_per_instance must be between 1 and 1000 (got 1001)"],
        id="async-max-concurrency-above-1000",
    ),
    pytest.param(
        lambda c: _async(c, max_concurrent_invocations_per_instance="2"),
        ["max_concurrent_invocations_per_instance must be an int", "'2' (a str)", "pass the number 2"],
        id="async-max-concurrency-is-a-str",
    ),
    pytest.param(
        lambda c: _async(
            c, notifications=False, success_topic=sns.Topic.from_topic_arn(c.stack, "T", _TOPIC_ARN)
        ),
        ["success_topic is given but notifications=False", "drop success_topic, or drop notifications=False"],
        id="async-topic-given-without-notifications",
    ),
    pytest.param(
        lambda c: _async(
            c,
            notifications=False,
            include_inference_response_in=[IncludeInferenceResponseIn.SUCCESS_NOTIFICATION_TOPIC],
        ),
        [
            "include_inference_response_in is SUCCESS_NOTIFICATION_TOPIC but notifications=False",
            "drop include_inference_response_in",
        ],
        id="async-response-in-without-notifications",
    ),
    pytest.param(
        lambda c: _async(c, notifications="false"),
        ["notifications must be a bool", "'false' (a str)", "pass True or False"],
        id="async-notifications-is-a-str",
    ),
    pytest.param(
        lambda c: _async(c, output_bucket="my-results"),
        ["output_bucket must be an s3.IBucket", "'my-results' (a str)", "s3.Bucket.from_bucket_name(...)"],
        id="async-output-bucket-is-a-name",
    ),
    pytest.param(
        lambda c: _async(c, error_topic=_TOPIC_ARN),
        ["error_topic must be an sns.ITopic", f"{_TOPIC_ARN!r} (a str)", "sns.Topic.from_topic_arn(...)"],
        id="async-error-topic-is-an-arn",
    ),
    pytest.param(
        lambda c: _async(c, output_kms_key="alias/results"),
        ["output_kms_key must be a kms.IKey", "'alias/results' (a str)", "kms.Key.from_key_arn(...)"],
        id="async-output-key-is-an-alias-name",
    ),
    pytest.param(
        lambda c: _async(
            c,
            variants=[ServerlessProductionVariant(model=c.model, memory_size_in_mb=2048, max_concurrency=5)],
        ),
        ["variants[0] is a ServerlessProductionVariant", "takes ProductionVariant only"],
        id="async-serverless-variant",
    ),
    pytest.param(
        lambda c: _async(
            c,
            variants=[ProductionVariant(model=c.model, initial_instance_count=0)],
            output_prefix="/out",
            max_concurrent_invocations_per_instance=0,
        ),
        [
            "Invalid AsyncEndpoint props: ",
            "variants[0].initial_instance_count must be >= 1 (got 0)",
            "output_prefix must not start or end with '/' (got '/out')",
            "max_concurrent_invocations_per_instance must be between 1 and 1000 (got 0)",
        ],
        id="async-every-problem-in-one-error",
    ),
    pytest.param(
        lambda c: _async(c).grant_invoke_async(
            iam.Role(c.stack, "Client", assumed_by=iam.AccountRootPrincipal()),
            input_prefix="async-inference/failures/in",
        ),
        ["grant_invoke_async", "failure_prefix and input_prefix must not overlap", "give each its own"],
        id="async-grant-input-prefix-inside-failure-prefix",
    ),
    pytest.param(
        lambda c: _async(c).grant_invoke_async("arn:aws:iam::123456789012:role/client"),
        ["grantee must be an iam.IGrantable", "'arn:aws:iam::123456789012:role/client' (a str)"],
        id="async-grant-takes-an-arn",
    ),
    pytest.param(
        lambda c: _async(c).subscribe_queue(sqs.Queue(c.stack, "Q"), on=("sucess",)),
        ["on[0] must be 'success' or 'error'", "'sucess' (a str)", "did you mean 'success'"],
        id="async-subscribe-on-typo",
    ),
    pytest.param(
        lambda c: _async(c).subscribe_queue(sqs.Queue(c.stack, "Q"), on="error"),
        ["on must be a list of 'success' and/or 'error'", "wrap it: on=('error',)"],
        id="async-subscribe-on-is-a-str",
    ),
    pytest.param(
        lambda c: _async(c).subscribe_queue("https://sqs.us-east-1.amazonaws.com/123456789012/q"),
        ["queue must be an sqs.IQueue", "(a str)", "pass an sqs.Queue"],
        id="async-subscribe-queue-is-a-url",
    ),
    pytest.param(
        lambda c: _async(c).subscribe_email("ops-at-example.com"),
        ["address must be an email address", "'ops-at-example.com'", "e.g. address='ops@example.com'"],
        id="async-subscribe-email-not-an-address",
    ),
    pytest.param(
        lambda c: _async(c, notifications=False).subscribe_email("ops@example.com"),
        ["has no topics (created with notifications=False)", "drop notifications=False"],
        id="async-subscribe-without-notifications",
    ),
    pytest.param(
        lambda c: (
            _async(c)
            .auto_scale_instance_count(min_capacity=0, max_capacity=2)
            .scale_on_backlog_size_per_instance("Backlog", target_backlog_per_instance=0)
        ),
        ["target_backlog_per_instance must be > 0 (got 0)"],
        id="async-backlog-target-zero",
    ),
    pytest.param(
        lambda c: (
            _async(c)
            .auto_scale_instance_count(min_capacity=0, max_capacity=2)
            .scale_out_from_zero("FromZero", datapoints_to_alarm=3)
        ),
        ["datapoints_to_alarm must be <= evaluation_periods (got 3 > 2)", "lower datapoints_to_alarm"],
        id="async-from-zero-datapoints-above-periods",
    ),
    pytest.param(
        lambda c: _async(c).scale_to_zero(max_capacity=0),
        ["max_capacity must be >= 1 (got 0)"],
        id="async-scale-to-zero-max-capacity-zero",
    ),
    pytest.param(
        lambda c: _async(c).scale_to_zero(scale_in_cooldown=120),
        ["scale_in_cooldown must be a Duration", "120 (an int)", "use Duration.seconds(120)"],
        id="async-scale-to-zero-cooldown-is-a-number",
    ),
    # --- multi-model endpoints -----------------------------------------------------------------
    pytest.param(
        lambda c: _mme(c, instance_type="ml.g5.12xlarge"),
        [
            "instance_type 'ml.g5.12xlarge' has 4 GPUs",
            "single-GPU instance types only",
            "ml.g5.xlarge",
            "(ml.g5.xlarge, ml.g5.2xlarge, ml.g5.4xlarge, ml.g5.8xlarge, ml.g5.16xlarge have the same GPU)",
        ],
        id="mme-multi-gpu-instance-type",
    ),
    pytest.param(
        lambda c: _mme(c, instance_type=InstanceType.ML_C5_XLARGE),
        [
            "instance_type 'ml.c5.xlarge' has no GPU (CPU only)",
            "use one of the documented types",
            "ml.p2.xlarge",
            "ml.g4dn.4xlarge",
        ],
        id="mme-cpu-instance-type",
    ),
    pytest.param(
        lambda c: _mme(c, instance_type="ml.inf2.xlarge"),
        ["instance_type 'ml.inf2.xlarge' has 1 x AWS Inferentia2, not NVIDIA GPUs", "ml.g4dn.4xlarge"],
        id="mme-inferentia-instance-type",
    ),
    pytest.param(
        lambda c: _mme(c, instance_type="g4dn.4xlarge"),
        ["instance_type: Invalid instance type 'g4dn.4xlarge'", "did you mean 'ml.g4dn.4xlarge'"],
        id="mme-instance-type-without-ml-prefix",
    ),
    pytest.param(
        lambda c: _mme(c, instance_type=4),
        ["instance_type must be an InstanceType or a str", "4 (an int)", "instance_type='ml.g4dn.4xlarge'"],
        id="mme-instance-type-is-an-int",
    ),
    pytest.param(
        lambda c: _mme(c, initial_instance_count=0),
        ["initial_instance_count must be >= 1 (got 0)"],
        id="mme-initial-instance-count-zero",
    ),
    pytest.param(
        lambda c: _mme(c, model_cache_setting="disabled"),
        [
            "model_cache_setting must be a ModelCacheSetting",
            "'disabled' (a str)",
            "use ModelCacheSetting.DISABLED",
        ],
        id="mme-model-cache-setting-is-a-str",
    ),
    pytest.param(
        lambda c: _mme(c, model_prefix="models/"),
        [
            "model_prefix must be a ModelPrefix",
            "'models/' (a str)",
            "ModelPrefix(self, 'Models', bucket=...)",
        ],
        id="mme-model-prefix-is-a-str",
    ),
    pytest.param(
        lambda c: _mme(c, models=[ModelArtifact.from_asset(c.archive)]),
        ["models must be a dict of TargetModel name to ModelArtifact", "a list", "{'resnet_v0.tar.gz': "],
        id="mme-models-is-a-list",
    ),
    pytest.param(
        lambda c: _mme(c, models={"resnet_v0.tar.gz": "s3://models-bucket/resnet.tar.gz"}),
        [
            "models['resnet_v0.tar.gz'] must be a ModelArtifact",
            "(a str)",
            "use ModelArtifact.from_bucket(s3.Bucket.from_bucket_name(self, 'Models', 'models-bucket'), "
            "'resnet.tar.gz')",
        ],
        id="mme-models-value-is-a-uri",
    ),
    pytest.param(
        lambda c: _mme(c, kms_key=kms.Key(c.stack, "Key")),
        ["kms_key is not supported on ml.g4dn.4xlarge", "NVMe", "ml.p3.2xlarge"],
        id="mme-kms-key-on-nvme-instance",
    ),
    pytest.param(
        lambda c: _mme(c, variant_name="All Traffic"),
        ["variant_name must be 1-63 letters", "'All Traffic'", "'All-Traffic'"],
        id="mme-variant-name-with-a-space",
    ),
    pytest.param(
        lambda c: _mme(c).add_model("resnet_v0.tar.gz", "dist/model.tar.gz"),
        [
            "artifact must be a ModelArtifact",
            "'dist/model.tar.gz' (a str)",
            "use ModelArtifact.from_asset('dist/model.tar.gz')",
        ],
        id="mme-add-model-artifact-is-a-path",
    ),
    pytest.param(
        lambda c: _mme(c).add_model("resnet", ModelArtifact.from_asset(c.archive)),
        ["target_model must name a .tar.gz archive", "'resnet'", "target_model='resnet.tar.gz'"],
        id="mme-add-model-name-without-tar-gz",
    ),
    pytest.param(
        lambda c: _twice(
            lambda: _mme(c), lambda e: e.add_model("resnet_v0.tar.gz", ModelArtifact.from_asset(c.archive))
        ),
        ["target_model 'resnet_v0.tar.gz' was added already", "'resnet_pt_v1.tar.gz'"],
        id="mme-add-model-twice",
    ),
    pytest.param(
        lambda c: _mme(c).add_model("pipeline_v0.tar.gz", _two_models_archive(c)),
        [
            "'pipeline_v0.tar.gz'",
            "holds 2 model folders (pre, resnet)",
            "none of them is an ensemble",
            'endpoint.add_model("resnet_v0.tar.gz", ModelArtifact.from_build(spec))',
        ],
        id="mme-add-model-two-folders-without-ensemble",
    ),
    pytest.param(
        lambda c: _mme(c).add_production_variant(
            ProductionVariant(model=c.model, variant_name="Green", instance_type=InstanceType.ML_G4DN_XLARGE)
        ),
        ["variants[1].model serves one model (SingleModel mode)", "pass model=endpoint.model"],
        id="mme-variant-with-a-single-model-model",
    ),
    pytest.param(
        lambda c: _mme(c).add_production_variant(
            ProductionVariant(
                model=_mme_model(c), variant_name="Big", instance_type=InstanceType.ML_G5_12XLARGE
            )
        ),
        ["variants[1].instance_type 'ml.g5.12xlarge' has 4 GPUs", "single-GPU"],
        id="mme-added-variant-on-a-multi-gpu-type",
    ),
    pytest.param(
        lambda c: _mme(c).scale_on_gpu_utilization(target_utilization_percent=150),
        ["target_utilization_percent must be <= 100 on ml.g4dn.4xlarge (got 150)", "e.g. 60"],
        id="mme-gpu-target-above-one-gpu",
    ),
    pytest.param(
        lambda c: _mme(c).scale_on_gpu_utilization(scale_in_cooldown=600),
        ["scale_in_cooldown must be a Duration", "600 (an int)", "use Duration.seconds(600)"],
        id="mme-gpu-scaling-cooldown-is-a-number",
    ),
    pytest.param(
        lambda c: _mme(c).grant_invoke(
            iam.Role(c.stack, "C", assumed_by=iam.AccountRootPrincipal()), target_models="resnet_*"
        ),
        ["target_models must be a list of str", "'resnet_*' (a str)", "wrap it: target_models=['resnet_*']"],
        id="mme-grant-invoke-target-models-is-a-str",
    ),
    pytest.param(
        lambda c: MultiModelTritonModel(c.stack, "MmeModel", model_prefix="s3://models-bucket/models/"),
        [
            "MultiModelTritonModel props: model_prefix must be a ModelPrefix",
            "'s3://models-bucket/models/' (a str)",
            "ModelPrefix(self, 'Models', bucket=...)",
        ],
        id="mme-model-prefix-of-the-model-is-a-uri",
    ),
    pytest.param(
        lambda c: _mme(c, environment={"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "resnet"}),
        [
            "environment must not set SAGEMAKER_TRITON_DEFAULT_MODEL_NAME",
            "ignores it in MultiModel mode",
            "TargetModel",
            "drop it",
        ],
        id="mme-environment-sets-the-default-model",
    ),
    # --- ModelPrefix ------------------------------------------------------------------------
    pytest.param(
        lambda c: ModelPrefix(c.stack, "P", prefix="/models"),
        ["ModelPrefix props: prefix must not start with '/'", "'/models'", "use prefix='models'"],
        id="model-prefix-prefix-starts-with-a-slash",
    ),
    pytest.param(
        lambda c: ModelPrefix(c.stack, "P", prefix="my models/"),
        ["prefix may hold only letters, digits", "'my models/'", "with ' '", "e.g. prefix='models/'"],
        id="model-prefix-prefix-has-a-space",
    ),
    pytest.param(
        lambda c: ModelPrefix(c.stack, "P", prefix="models/../other"),
        ["prefix must not have empty, '.' or '..' segments", "'models/../other'"],
        id="model-prefix-prefix-has-a-dot-dot-segment",
    ),
    pytest.param(
        lambda c: ModelPrefix(c.stack, "P", prefix="m" * 1020),
        ["prefix is too long (got 1021 characters)", "at most 1024", "shorten it to"],
        id="model-prefix-prefix-too-long",
    ),
    pytest.param(
        lambda c: ModelPrefix(c.stack, "P", allow_overwrite="yes"),
        ["ModelPrefix props: allow_overwrite", "'yes'"],
        id="model-prefix-allow-overwrite-is-a-str",
    ),
    pytest.param(
        lambda c: ModelPrefix(c.stack, "P", bucket="models-bucket"),
        ["bucket must be an s3.IBucket", "'models-bucket' (a str)", "s3.Bucket.from_bucket_name(...)"],
        id="model-prefix-bucket-is-a-name",
    ),
    pytest.param(
        lambda c: ModelPrefix(c.stack, "P").add_archive("resnet_pt_v0", ModelArtifact.from_asset(c.archive)),
        [
            "ModelPrefix.add_archive props: target_model must name a .tar.gz archive",
            "'resnet_pt_v0'",
            "use target_model='resnet_pt_v0.tar.gz'",
        ],
        id="model-prefix-target-model-without-tar-gz",
    ),
    pytest.param(
        lambda c: ModelPrefix(c.stack, "P").add_archive(
            "/resnet.tar.gz", ModelArtifact.from_asset(c.archive)
        ),
        ["target_model must not start with '/'", "'/resnet.tar.gz'", "use target_model='resnet.tar.gz'"],
        id="model-prefix-target-model-starts-with-a-slash",
    ),
    pytest.param(
        lambda c: ModelPrefix(c.stack, "P").add_archive(
            "r" * 1018 + ".tar.gz", ModelArtifact.from_asset(c.archive)
        ),
        ["target_model is too long (got 1025 characters)", "S3 allows 1024", "shorten it to 1017 characters"],
        id="model-prefix-target-model-too-long-with-the-prefix",
    ),
    pytest.param(
        lambda c: _twice(
            lambda: ModelPrefix(c.stack, "P"),
            lambda p: p.add_archive("resnet.tar.gz", ModelArtifact.from_asset(c.archive)),
        ),
        ["target_model 'resnet.tar.gz' was added already", "its own name", "'resnet_pt_v1.tar.gz'"],
        id="model-prefix-target-model-added-twice",
    ),
    pytest.param(
        lambda c: ModelPrefix(c.stack, "P").add_archive(
            "bert.tar.gz", "s3://models-bucket/bert/model.tar.gz"
        ),
        [
            "artifact must be a ModelArtifact",
            "'s3://models-bucket/bert/model.tar.gz' (a str)",
            "ModelArtifact.from_bucket(bucket, 'key.tar.gz')",
        ],
        id="model-prefix-artifact-is-a-uri",
    ),
    pytest.param(
        lambda c: ModelPrefix(c.stack, "P").add_archive(
            "bert.tar.gz", ModelArtifact.from_bucket_prefix(c.bucket, "bert/repository")
        ),
        [
            "artifact must be one archive",
            "the prefix 'bert/repository/'",
            "one *.tar.gz per TargetModel",
            "use ModelArtifact.from_bucket(bucket, 'key.tar.gz')",
        ],
        id="model-prefix-artifact-is-a-prefix",
    ),
    pytest.param(
        lambda c: ModelPrefix(c.stack, "P", bucket=c.bucket).add_archive(
            "bert.tar.gz", ModelArtifact.from_bucket(c.bucket, "models/bert.tar.gz")
        ),
        ["artifact is already at", "models/bert.tar.gz", "leave archives copied by hand out of add_archive"],
        id="model-prefix-artifact-is-its-own-destination",
    ),
    # --- deployment guardrails (serving_constructs.deployment) ----------------------------------
    pytest.param(
        lambda c: DeploymentPolicy.canary(size=Capacity.percent(60)),
        ["DeploymentPolicy.canary", "size must be at most 50 %", "(got 60 %)", "use Capacity.percent(50)"],
        id="deployment-canary-above-half",
    ),
    pytest.param(
        lambda c: DeploymentPolicy.linear(step=Capacity.percent(5)),
        ["step must be 10-50 %", "(got 5 %)", "use Capacity.percent(10)"],
        id="deployment-linear-step-below-ten-percent",
    ),
    pytest.param(
        lambda c: DeploymentPolicy.linear(step=None),
        ["step is required (got None)", "Capacity.percent(n)"],
        id="deployment-linear-step-missing",
    ),
    pytest.param(
        lambda c: DeploymentPolicy.rolling(max_batch=Capacity.percent(60)),
        ["max_batch must be 5-50 %", "(got 60 %)", "use Capacity.percent(50)"],
        id="deployment-rolling-batch-above-half",
    ),
    pytest.param(
        lambda c: DeploymentPolicy.rolling(rollback_max_batch="100%"),
        ["rollback_max_batch must be a Capacity", "'100%' (a str)", "use Capacity.percent(100)"],
        id="deployment-rolling-rollback-batch-is-a-str",
    ),
    pytest.param(
        lambda c: DeploymentPolicy.canary(bake=Duration.hours(2)),
        ["bake must be between 0 and 3600 s", "(got 7200 s)", "up to Duration.hours(1)"],
        id="deployment-bake-over-an-hour",
    ),
    pytest.param(
        lambda c: DeploymentPolicy.canary(bake=600),
        ["bake must be a Duration", "600 (an int)", "use Duration.seconds(600)"],
        id="deployment-bake-is-a-number",
    ),
    pytest.param(
        lambda c: DeploymentPolicy.all_at_once(termination_wait=Duration.hours(2)),
        ["termination_wait must be between 0 and 3600 s", "(got 7200 s)"],
        id="deployment-termination-wait-over-an-hour",
    ),
    pytest.param(
        lambda c: DeploymentPolicy.rolling(max_execution_timeout=Duration.hours(9)),
        ["max_execution_timeout must be between 600 and 28800 s", "(got 32400 s)", "Duration.hours(8)"],
        id="deployment-max-execution-over-eight-hours",
    ),
    pytest.param(
        lambda c: DeploymentPolicy.canary(
            bake=Duration.minutes(50),
            termination_wait=Duration.minutes(30),
            max_execution_timeout=Duration.hours(1),
        ),
        [
            "max_execution_timeout must be longer than",
            "bake + termination_wait = 4800 s",
            "(got 3600 s)",
            "4801",
        ],
        id="deployment-max-execution-shorter-than-the-waits",
    ),
    pytest.param(
        lambda c: Capacity.percent(0),
        ["Capacity.percent", "value must be between 1 and 100 %", "(got 0 %)", "use Capacity.percent(1)"],
        id="deployment-capacity-zero-percent",
    ),
    pytest.param(
        lambda c: DeploymentPolicy.canary(size=1),
        ["size must be a Capacity", "1 (an int)", "Capacity.instances(1)"],
        id="deployment-canary-size-is-a-number",
    ),
    pytest.param(
        lambda c: RealtimeEndpoint(
            c.stack, "Endpoint", variants=[ProductionVariant(model=c.model)], deployment="canary"
        ),
        ["deployment must be a DeploymentPolicy", "'canary' (a str)", "DeploymentPolicy.canary()"],
        id="deployment-is-a-str",
    ),
    pytest.param(
        lambda c: RealtimeEndpoint(
            c.stack,
            "Endpoint",
            variants=[ProductionVariant(model=c.model)],
            deployment=DeploymentPolicy.canary(),
        ),
        [
            "deployment DeploymentPolicy.canary(size=Capacity.instances(1))",
            "is 100 % of variant 'AllTraffic'",
            "at most 50 %",
            "DeploymentPolicy.all_at_once(...)",
        ],
        id="deployment-canary-on-a-one-instance-variant",
    ),
    pytest.param(
        lambda c: RealtimeEndpoint(
            c.stack,
            "Endpoint",
            variants=[ProductionVariant(model=c.model, initial_instance_count=20)],
            deployment=DeploymentPolicy.linear(step=Capacity.instances(1)),
        ),
        [
            "step 1 instance is 5 % of variant 'AllTraffic' (20 instances",
            "10-50 %",
            "Capacity.instances(2) to 10",
        ],
        id="deployment-linear-step-too-small-for-the-fleet",
    ),
    pytest.param(
        lambda c: RealtimeEndpoint(
            c.stack,
            "Endpoint",
            deployment=DeploymentPolicy.rolling(),
            variants=[
                ProductionVariant(model=c.model, initial_instance_count=4),
                ProductionVariant(model=c.model, initial_instance_count=4, variant_name="B"),
            ],
        ),
        [
            "deployment DeploymentPolicy.rolling(",
            "2 variants ('AllTraffic', 'B')",
            "DeploymentPolicy.canary(...)",
        ],
        id="deployment-rolling-with-two-variants",
    ),
    pytest.param(
        lambda c: c.endpoint().add_rollback_alarm("my-alarm"),
        [
            "add_rollback_alarm",
            "alarm must be a cloudwatch.IAlarm",
            "'my-alarm' (a str)",
            "Alarm.from_alarm_arn",
        ],
        id="deployment-rollback-alarm-is-a-name",
    ),
    pytest.param(
        lambda c: _eleven_rollback_alarms(c),
        ["already has 10 rollback alarms", "at most 10", "cloudwatch.CompositeAlarm"],
        id="deployment-eleven-rollback-alarms",
    ),
    # --- monitoring (serving_constructs.monitoring, serving_constructs.alarms) -------------------
    pytest.param(
        lambda c: c.endpoint().add_monitoring(alarms="yes"),
        ["EndpointMonitoring", "alarms must be a bool or a RecommendedAlarms", "'yes' (a str)", "pass True"],
        id="monitoring-alarms-is-a-str",
    ),
    pytest.param(
        lambda c: c.endpoint().add_monitoring(latency_target_ms=0),
        ["latency_target_ms must be > 0", "(got 0)", "pass the p99 target in milliseconds, e.g. 500"],
        id="monitoring-latency-target-zero",
    ),
    pytest.param(
        lambda c: c.endpoint().add_monitoring(latency_target_ms="500"),
        ["latency_target_ms must be a number", "'500' (a str)", "pass the number 500"],
        id="monitoring-latency-target-is-a-str",
    ),
    pytest.param(
        lambda c: c.endpoint().add_monitoring(variant_name="AllTrafic"),
        [
            "variant_name 'AllTrafic' is not a variant of Bad/Endpoint",
            "(did you mean 'AllTraffic'?)",
            "omit variant_name",
        ],
        id="monitoring-unknown-variant",
    ),
    pytest.param(
        lambda c: c.endpoint().add_monitoring(alarm_topic="arn:aws:sns:us-east-1:123456789012:ops"),
        ["alarm_topic must be an sns.ITopic", "(a str)", "sns.Topic.from_topic_arn(...)"],
        id="monitoring-alarm-topic-is-an-arn",
    ),
    pytest.param(
        lambda c: c.endpoint().add_monitoring(alarm=True),
        [
            "add_monitoring",
            "alarm is not a prop",
            "(did you mean 'alarms'?)",
            "use variant_name, latency_target_ms",
        ],
        id="monitoring-unknown-prop",
    ),
    pytest.param(
        lambda c: EndpointMonitoring(
            c.stack, "M", endpoint=EndpointResource.from_endpoint_name(c.stack, "Imported", "my-endpoint")
        ),
        ["endpoint must be an EndpointBase", "the construct Bad/Imported", "no known serving mode"],
        id="monitoring-imported-endpoint",
    ),
    pytest.param(
        lambda c: c.endpoint().add_monitoring(
            alarms=RecommendedAlarms(
                invocation_5xx_error_rate_percent=150, backlog_without_capacity_minutes=2.5
            )
        ),
        [
            "alarms.invocation_5xx_error_rate_percent must be between 0 and 100 % (got 150 %)",
            "alarms.backlog_without_capacity_minutes must be an int (got 2.5 (a float))",
            "pass a whole number (2 or 3)",
            "pass e.g. 1 (the default), or None",
        ],
        id="monitoring-recommended-alarms-out-of-range",
    ),
    pytest.param(
        lambda c: c.endpoint().add_monitoring(alarms=RecommendedAlarms(model_cache_hit_ratio_percent=100)),
        [
            "alarms.model_cache_hit_ratio_percent",
            "(got 100 %)",
            "could never fire",
            "or None to leave the alarm out",
        ],
        id="monitoring-cache-hit-threshold-can-never-fire",
    ),
    pytest.param(
        lambda c: c.endpoint().add_monitoring(alarms=RecommendedAlarms(oldest_request_age_seconds=-5)),
        ["alarms.oldest_request_age_seconds must be", "(got -5 s)", "pass e.g. 900 (the default)"],
        id="monitoring-negative-age",
    ),
    pytest.param(
        lambda c: c.endpoint().add_dashboard(dashboard_name="my dashboard!"),
        [
            "ServingDashboard",
            "dashboard_name 'my dashboard!'",
            "letters, digits, '-' or '_'",
            "use e.g. 'my-dashboard-'",
        ],
        id="dashboard-name-with-spaces",
    ),
    pytest.param(
        lambda c: ServingDashboard(c.stack, "D", segments=[c.endpoint()]),
        [
            "segments[0] must be an EndpointMonitoring",
            "the construct Bad/Endpoint",
            "endpoint.add_monitoring(...)",
        ],
        id="dashboard-segment-is-an-endpoint",
    ),
    pytest.param(
        lambda c: _twice(
            lambda: (ServingDashboard(c.stack, "D"), c.endpoint().add_monitoring()),
            lambda made: made[0].add_segment(made[1]),
        ),
        ["ServingDashboard.add_segment", "segment Bad/Endpoint/Monitoring is on dashboard Bad/D already"],
        id="dashboard-segment-added-twice",
    ),
    pytest.param(
        lambda c: c.endpoint().add_dashboard(dashbord_name="Serving"),
        ["add_dashboard", "dashbord_name is not a prop", "(did you mean 'dashboard_name'?)"],
        id="dashboard-unknown-prop",
    ),
    # Multi-container models (SageMaker: 2-15 containers; Direct needs hostnames; unique hostnames).
    pytest.param(
        lambda c: _multi(c, [_triton(c, "a")]),
        ["MultiContainerModel", "containers must hold 2-15 containers (got 1)", "use TritonModel"],
        id="multi-container-one-container",
    ),
    pytest.param(
        lambda c: _multi(c, [_triton(c, "a"), ContainerDefinition(image=ContainerImage.from_uri("123.dkr.ecr/x:1"), hostname="b", environment={"WORKERS": 2})]),
        ["containers[1].environment['WORKERS'] must be a str (got 2 (an int))", "pass '2'"],
        id="multi-container-environment-value-not-a-string",
    ),
    pytest.param(
        lambda c: _multi(c, [_triton(c, f"c{i}") for i in range(16)]),
        ["containers must hold 2-15 containers (got 16)"],
        id="multi-container-sixteen-containers",
    ),
    pytest.param(
        lambda c: _multi(c, [_triton(c, "a"), _triton(c, None)], mode="Direct"),
        ["containers[1].hostname is required in Direct mode", "TargetContainerHostname", "pass hostname="],
        id="multi-container-direct-without-hostname",
    ),
    pytest.param(
        lambda c: _multi(c, [_triton(c, "a"), _triton(c, None)]),
        ["every container of a Serial pipeline or to none", "add the missing hostnames"],
        id="multi-container-serial-some-hostnames",
    ),
    pytest.param(
        lambda c: _multi(c, [_triton(c, "a"), _triton(c, "a")], mode="Direct"),
        ["hostnames must be unique (repeated: a)", "rename them"],
        id="multi-container-duplicate-hostnames",
    ),
    pytest.param(
        lambda c: _multi(c, [_triton(c, "a"), _triton(c, "b")], mode="Parallel"),
        ["mode must be one of Direct, Serial", "'Parallel'", "mode='Serial'"],
        id="multi-container-unknown-mode",
    ),
    pytest.param(
        lambda c: _multi(c, [_triton(c, "pre_process"), _triton(c, "b")]),
        [
            "containers[0].hostname 'pre_process' is not a valid ContainerHostname",
            "letters, digits and hyphens",
        ],
        id="multi-container-hostname-underscore",
    ),
    pytest.param(
        lambda c: _multi(c, [{"Image": "x"}, _triton(c, "b")]),
        [
            "containers[0] must be a ContainerDefinition",
            "(got a dict)",
            "ContainerDefinition.triton(artifact=...)",
        ],
        id="multi-container-dict-bag",
    ),
    pytest.param(
        lambda c: _multi(c, [ContainerDefinition(image="123.dkr.ecr/x:1"), _triton(c, None)]),
        ["containers[0].image must have bind(scope, grantee) -> str", "(a str)", "TritonImage.from_uri(uri)"],
        id="multi-container-image-is-a-str",
    ),
    pytest.param(
        lambda c: _multi(c, "pre,model"),
        ["containers must be a list of ContainerDefinition", "(a str)"],
        id="multi-container-containers-is-a-str",
    ),
    pytest.param(
        lambda c: ContainerDefinition.triton(
            artifact=ModelArtifact.from_bucket(c.bucket, "m/model.tar.gz", model_name="m"), log_verbose=-1
        ),
        ["ContainerDefinition.triton", "log_verbose"],
        id="triton-container-negative-log-verbose",
    ),
    pytest.param(
        lambda c: ContainerDefinition.triton(artifact=ModelArtifact.from_bucket(c.bucket, "m/model.tar.gz")),
        ["ContainerDefinition.triton", "default_model_name is required", "pass default_model_name"],
        id="triton-container-without-model-name",
    ),
    pytest.param(
        lambda c: NeuronImage.for_region(target="inf3"),
        ["NeuronImage.for_region", "target must be one of 'inf1', 'inf2'", "'inf3'", "did you mean 'inf2'"],
        id="neuron-image-unknown-target",
    ),
    pytest.param(
        lambda c: NeuronImage.for_region("9.9"),
        [
            "version '9.9' is not an inf2 Neuron DLC release",
            "pass one of 4.28.1",
            "NeuronImage.from_ecr_repository",
        ],
        id="neuron-image-unknown-version",
    ),
    pytest.param(
        lambda c: NeuronImage.from_ecr_repository("my-repo"),  # type: ignore[arg-type]
        ["repository must be an ecr.IRepository", "'my-repo'", "ecr.Repository.from_repository_name"],
        id="neuron-image-repository-name",
    ),
    pytest.param(
        lambda c: NeuronRuntime(num_cores=0),
        ["NeuronRuntime", "num_cores must be >= 1", "(got 0)"],
        id="neuron-runtime-zero-cores",
    ),
    pytest.param(
        lambda c: NeuronRuntime(visible_cores="0-3"),  # type: ignore[arg-type]
        ["visible_cores must be a NeuronCore index or a range", "'0-3'", "range(0, 4)"],
        id="neuron-runtime-visible-cores-str",
    ),
    pytest.param(
        lambda c: NeuronRuntime(visible_cores=range(0, 4, 2)),
        ["visible_cores must be a non-empty range", "step 1", "range(0, 4, 2)"],
        id="neuron-runtime-visible-cores-step",
    ),
    pytest.param(
        lambda c: NeuronRuntime(num_cores=2, visible_cores=0),
        ["give num_cores or visible_cores, not both"],
        id="neuron-runtime-both-core-settings",
    ),
    pytest.param(
        lambda c: NeuronRuntime(multi_instance_shared_weights="1"),  # type: ignore[arg-type]
        ["multi_instance_shared_weights must be a bool", "'1'", "pass True or False"],
        id="neuron-runtime-shared-weights-str",
    ),
    pytest.param(
        lambda c: _neuron(c, environment={"NEURON_RT_NUM_CORES": "2"}),
        [
            "NeuronModel",
            "environment must not set NEURON_RT_NUM_CORES",
            "runtime=NeuronRuntime(num_cores=...)",
        ],
        id="neuron-model-runtime-env",
    ),
    pytest.param(
        lambda c: _neuron(c, image=TritonImage.for_region()),
        ["image must be a NeuronImage", "NeuronImage.for_region()"],
        id="neuron-model-triton-dlc-image",
    ),
    pytest.param(
        lambda c: _neuron(c, neuron_manifest={"target": "gpu"}),
        ["neuron_manifest must be the compile stage's neuron.json", "'gpu'", "Neuron compile stage"],
        id="neuron-model-manifest-target",
    ),
    pytest.param(
        lambda c: _neuron(c, image=NeuronImage.for_region(target="inf1"), neuron_manifest={"target": "inf2"}),
        ["image serves inf1", "compiled for inf2", "NeuronImage.for_region(target='inf2')"],
        id="neuron-model-image-manifest-mismatch",
    ),
    pytest.param(
        lambda c: _neuron_on(c, "ml.inf2.xlarge", runtime=NeuronRuntime(num_cores=4)),
        ["variants[0].model: runtime.num_cores is 4", "ml.inf2.xlarge has 2 NeuronCores", "use 1..2"],
        id="neuron-runtime-more-cores-than-instance",
    ),
    pytest.param(
        lambda c: _neuron_on(
            c,
            "ml.inf1.xlarge",
            image=NeuronImage.for_region(target="inf1"),
            runtime=NeuronRuntime(visible_cores=range(2, 6)),
        ),
        ["variants[0].model: runtime.visible_cores 2-5 is beyond ml.inf1.xlarge's 4 NeuronCores (0-3)"],
        id="neuron-runtime-visible-cores-beyond-instance",
    ),
    pytest.param(
        lambda c: _neuron_on(c, "ml.g5.xlarge"),
        ["variants[0].model: the image serves inf2", "not ml.g5.xlarge", "use an ml.inf2.* instance type"],
        id="neuron-model-on-gpu-without-manifest",
    ),
    pytest.param(
        lambda c: _neuron_on(
            c,
            "ml.inf2.xlarge",
            image=NeuronImage.for_region(target="inf1"),
            neuron_manifest={"target": "inf1", "neuron_sdk_version": "1.19.2"},
        ),
        [
            "variants[0].model: the artifact was compiled for inf1 (torch-neuron, Neuron SDK 1.19.2)",
            "rebuild it with target='inf2' (torch-neuronx)",
            "or deploy it on an ml.inf1.* instance type",
        ],
        id="neuron-inf1-artifact-on-inf2",
    ),
    pytest.param(
        lambda c: _serverless(c, variants=[ProductionVariant(model=c.model)]),
        ["variants[0] is a ProductionVariant", "ServerlessEndpoint takes ServerlessProductionVariant only"],
        id="serverless-instance-variant",
    ),
    pytest.param(
        lambda c: _serverless(
            c,
            variants=[
                _serverless_variant(c),
                _serverless_variant(c, model=_open_model(c, "B"), variant_name="B"),
            ],
        ),
        ["variants[1]: a ServerlessEndpoint has one production variant", "make a second ServerlessEndpoint"],
        id="serverless-second-variant",
    ),
    pytest.param(
        lambda c: _serverless(c, variants=[_serverless_variant(c, model=c.model)]),
        ["variants[0].model has network_isolation on", "TritonModel(..., network_isolation=False)"],
        id="serverless-network-isolation",
    ),
    pytest.param(
        lambda c: _serverless(
            c,
            variants=[_serverless_variant(c, model=_open_model(c, "VpcModel", vpc=ec2.Vpc(c.stack, "Vpc")))],
        ),
        ["variants[0].model runs in a VPC", "drop vpc, vpc_subnets and security_groups"],
        id="serverless-vpc",
    ),
    pytest.param(
        lambda c: _serverless(c, variants=[_serverless_variant(c, model=_mme_model(c))]),
        ["variants[0].model is a multi-model model", "use a TritonModel with one archive"],
        id="serverless-multi-model",
    ),
    pytest.param(
        lambda c: _serverless(
            c,
            variants=[
                _serverless_variant(
                    c,
                    model=_open_model(
                        c, "GpuModel", artifact=ModelArtifact.from_build(get_example("bert-tiny"))
                    ),
                )
            ],
        ),
        ["variants[0].model uses KIND_GPU", "build the model with instance_kind KIND_CPU"],
        id="serverless-gpu-model",
    ),
    pytest.param(
        lambda c: _serverless(
            c, variants=[_serverless_variant(c, memory_size_in_mb=1500, max_concurrency=201)]
        ),
        [
            "variants[0].memory_size_in_mb must be one of 1024, 2048",
            "variants[0].max_concurrency must be between 1 and 200 (got 201)",
        ],
        id="serverless-memory-and-concurrency",
    ),
    pytest.param(
        lambda c: _serverless(c, deployment=DeploymentPolicy.canary()),
        [
            "deployment DeploymentPolicy.canary(",
            "a serverless variant has none",
            "DeploymentPolicy.all_at_once(...)",
        ],
        id="serverless-canary-deployment",
    ),
    pytest.param(
        lambda c: _serverless(c, deployment=DeploymentPolicy.rolling()),
        ["deployment DeploymentPolicy.rolling(", "use DeploymentPolicy.all_at_once(...)"],
        id="serverless-rolling-deployment",
    ),
    pytest.param(
        lambda c: _serverless(c).auto_scale_instance_count(min_capacity=1, max_capacity=2),
        ["variant 'AllTraffic' is a serverless variant", "only instance variants have an instance count"],
        id="serverless-instance-count-scaling",
    ),
    pytest.param(
        lambda c: _serverless(c, variants=[_serverless_variant(c)]).auto_scale_provisioned_concurrency(
            min_capacity=1, max_capacity=2
        ),
        [
            "variant 'AllTraffic' has no provisioned concurrency",
            "ServerlessProductionVariant(provisioned_concurrency=...)",
        ],
        id="serverless-scaling-without-provisioned-concurrency",
    ),
    pytest.param(
        lambda c: _serverless(c).auto_scale_provisioned_concurrency(min_capacity=0, max_capacity=6),
        [
            "min_capacity must be >= 1 on a ServerlessEndpoint (got 0)",
            "max_capacity must be <= the variant's max_concurrency 5 (got 6;",
        ],
        id="serverless-provisioned-bounds",
    ),
    pytest.param(
        lambda c: _twice(
            lambda: _serverless(c),
            lambda e: e.auto_scale_provisioned_concurrency(min_capacity=1, max_capacity=2),
        ),
        ["already scales its provisioned concurrency", "add policies to the ScalableProvisionedConcurrency"],
        id="serverless-provisioned-scaling-twice",
    ),
    pytest.param(
        lambda c: (
            _serverless(c)
            .auto_scale_provisioned_concurrency(min_capacity=1, max_capacity=2)
            .scale_on_utilization("U", target_utilization=50)
        ),
        ["target_utilization must be between 0 and 1 (got 50)"],
        id="serverless-utilization-target-as-percent",
    ),
    pytest.param(
        lambda c: (
            _serverless(c)
            .auto_scale_provisioned_concurrency(min_capacity=1, max_capacity=2)
            .scale_on_schedule("Morning", schedule=appscaling.Schedule.cron(hour="8", minute="0"))
        ),
        ["min_capacity or max_capacity is required (got neither)"],
        id="serverless-schedule-without-bounds",
    ),
    pytest.param(
        lambda c: _serverless(c).metric("CPUUtilization"),
        ["ServerlessEndpoint does not publish CPUUtilization"],
        id="serverless-instance-metric",
    ),
    pytest.param(
        lambda c: _serverless(
            c,
            variants=[
                _serverless_variant(
                    c, model=_multi(c, [_triton(c, "pre"), _triton(c, "triton")], network_isolation=False)
                )
            ],
        ),
        [
            "variants[0].model is a MultiContainerModel (mode 'Serial')",
            "serverless endpoints run no inference pipelines and no multi-container models",
            "serve it on a RealtimeEndpoint",
        ],
        id="serverless-inference-pipeline",
    ),
    pytest.param(
        lambda c: _serverless(c, variants=[_serverless_variant(c, model=_neuron(c, network_isolation=False))]),
        [
            "variants[0].model is a NeuronModel (for inf2)",
            "a serverless variant has no instance type",
            "InstanceType.of('ml.inf2.xlarge')",
        ],
        id="serverless-neuron-model",
    ),
    pytest.param(
        lambda c: _serverless(
            c,
            variants=[_serverless_variant(c, model=ContainerModel(c.stack, "Byoc", image=ContainerImage.from_uri("x:1")))],
        ),
        ["variants[0].model has network_isolation on (ContainerModel's default)", "ContainerModel(..., network_isolation=False)"],
        id="serverless-container-model-network-isolation",
    ),
    pytest.param(
        lambda c: NeuronModel(c.stack, "Neuron", artifact=ModelArtifact.from_asset(c.archive)),
        [
            "artifact (the archive",
            "holds no tiny/neuron.json, so model 'tiny' is not a Neuron build",
            "ModelSpec(backend='neuron'",
            "neuron_manifest={'target': 'inf2', ...} for a model you compiled yourself",
        ],
        id="neuron-model-archive-without-manifest",
    ),
    pytest.param(
        lambda c: NeuronModel(c.stack, "Neuron", artifact=_neuron_archive(c, target="inf3", batch_size=0)),
        [
            "bert/neuron.json in",
            "is not a valid Neuron manifest",
            "target must be one of inf1, inf2 (got 'inf3')",
            "batch_size must be a whole number >= 1 (got 0)",
            "rebuild the model with model_build (backend='neuron')",
        ],
        id="neuron-model-archive-manifest-invalid",
    ),
]


_BYOC_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "byoc"


def _byoc(c: Ctx, edit: Callable[[Path], Any]) -> Path:
    """A copy of examples/byoc in the test's folder, changed by ``edit`` (one contract broken)."""
    import shutil

    folder = c.tmp / "byoc"
    shutil.copytree(_BYOC_EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", "model.tar.gz"))
    edit(folder)
    return folder


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def _byoc_errors() -> list[Any]:
    """Bring-your-own-container cases: ContainerImage factories, the container contract, ContainerModel."""
    return [
        pytest.param(
            lambda c: ContainerImage.from_asset(c.tmp / "nowhere"),
            ["ContainerImage.from_asset", "nowhere", "is not a folder", "the folder holding your Dockerfile"],
            id="byoc-directory-missing",
        ),
        pytest.param(
            lambda c: ContainerImage.from_asset(_byoc(c, lambda d: (d / "Dockerfile").unlink())),
            ["Dockerfile does not exist", "add a Dockerfile", "examples/byoc/Dockerfile", "file="],
            id="byoc-no-dockerfile",
        ),
        pytest.param(
            lambda c: ContainerImage.from_asset(_byoc(c, lambda d: (d / "serve").unlink())),
            [
                "Dockerfile has no ENTRYPOINT",
                "has no `serve` script",
                "docker run <image> serve",
                "put it on PATH",
                "skip_contract_checks=['serve']",
            ],
            id="byoc-no-serve-entry-point",
        ),
        pytest.param(
            lambda c: ContainerImage.from_asset(_byoc(c, lambda d: (d / "serve").chmod(0o644))),
            ["serve is not executable", "chmod +x"],
            id="byoc-serve-not-executable",
        ),
        pytest.param(
            lambda c: ContainerImage.from_asset(
                _byoc(c, lambda d: _replace(d / "serve", "#!/usr/bin/env python3\n", ""))
            ),
            ["serve has no #! line", "#!/usr/bin/env python3"],
            id="byoc-serve-without-shebang",
        ),
        pytest.param(
            lambda c: ContainerImage.from_asset(
                _byoc(
                    c,
                    lambda d: (
                        _replace(d / "Dockerfile", "EXPOSE 8080", "EXPOSE 5000"),
                        _replace(d / "nginx.conf", "listen 8080", "listen 5000"),
                    ),
                )
            ),
            [
                "listens on port 8080 (it exposes 5000)",
                "nginx.conf listens on 5000, not 8080",
                "add `EXPOSE 8080` to Dockerfile",
                "listen 8080;",
                "skip_contract_checks=['port']",
            ],
            id="byoc-wrong-port",
        ),
        pytest.param(
            lambda c: ContainerImage.from_asset(
                _byoc(c, lambda d: _replace(d / "predictor.py", '"/ping"', '"/health"'))
            ),
            [
                "names the /ping route",
                "SageMaker calls GET /ping",
                "@app.route('/ping', methods=['GET'])",
                "skip_contract_checks=['routes']",
            ],
            id="byoc-no-ping-route",
        ),
        pytest.param(
            lambda c: ContainerImage.from_asset(_BYOC_EXAMPLE, skip_contract_checks=["rotues"]),
            [
                "skip_contract_checks has an unknown check 'rotues'",
                "did you mean 'routes'",
                "port, serve, routes",
            ],
            id="byoc-unknown-contract-check",
        ),
        pytest.param(
            lambda c: ContainerImage.from_asset(_BYOC_EXAMPLE, skip_contract_checks="serve"),
            ["skip_contract_checks must be a list of str", "(got 'serve'", "['serve']"],
            id="byoc-skip-checks-a-str",
        ),
        pytest.param(
            lambda c: ContainerImage.from_asset(_BYOC_EXAMPLE, build_args={"WORKERS": 2}),
            ["build_args must be a dict of str to str", "{'PYTHON_VERSION': '3.12'}"],
            id="byoc-build-arg-not-str",
        ),
        pytest.param(
            lambda c: ContainerImage.from_asset(_BYOC_EXAMPLE, platform="linux/amd64"),
            ["platform must be an ecr_assets.Platform", "'linux/amd64'", "Platform.LINUX_AMD64"],
            id="byoc-platform-a-str",
        ),
        pytest.param(
            lambda c: ContainerImage.from_uri(None),
            ["ContainerImage.from_uri", "uri is required", "123456789012.dkr.ecr"],
            id="byoc-uri-none",
        ),
        pytest.param(
            lambda c: ContainerImage.from_ecr_repository("my-server"),
            ["repository must be an ecr.IRepository", "'my-server'", "ecr.Repository.from_repository_name"],
            id="byoc-repository-a-name",
        ),
        pytest.param(
            lambda c: ContainerModel(
                c.stack, "Byoc", image="123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"
            ),
            [
                "ContainerModel",
                "image must be a ContainerImage",
                "ContainerImage.from_asset('examples/byoc')",
                ".from_uri(uri)",
            ],
            id="container-model-image-a-str",
        ),
        pytest.param(
            lambda c: ContainerModel(
                c.stack, "Byoc", image=ContainerImage.from_uri("x:1"), model_data="model.tar.gz"
            ),
            ["model_data must be", "'model.tar.gz'", "ModelArtifact.from_asset('model.tar.gz')"],
            id="container-model-data-a-path",
        ),
        pytest.param(
            lambda c: ContainerModel(
                c.stack, "Byoc", image=ContainerImage.from_uri("x:1"), environment={"MODEL_SERVER_WORKERS": 2}
            ),
            ["environment['MODEL_SERVER_WORKERS'] must be a str", "pass '2'"],
            id="container-model-env-int",
        ),
    ]


ERRORS += _byoc_errors()


@pytest.mark.parametrize(("act", "fragments"), ERRORS)
def test_construct_bad_input_gets_one_clear_error(ctx, act: Callable[[Ctx], Any], fragments: list[str]):
    # GIVEN one wrong prop  WHEN the construct (or factory, or method) is called
    with pytest.raises(PropsError) as error:
        act(ctx)

    # THEN one message names the prop, the value given and the fix
    message = str(error.value)
    missing = [fragment for fragment in fragments if fragment not in message]
    assert missing == [], f"{missing} not in: {message}"


WARNINGS: list[Any] = [
    pytest.param("ml.g4dn.xlargee", "Did you mean 'ml.g4dn.xlarge'", id="instance-type-typo-extra-letter"),
    pytest.param("ml.g5n.xlarge", "Did you mean 'ml.g5.xlarge'", id="instance-type-typo-sdk-g5n"),
    pytest.param("ml.g4dn.xlarg", "Did you mean 'ml.g4dn.xlarge'", id="instance-type-typo-missing-letter"),
]


@pytest.mark.parametrize(("name", "near"), WARNINGS)
def test_construct_likely_typo_gets_a_warning_naming_the_near_match(ctx, name: str, near: str):
    # GIVEN a well-formed instance type SageMaker hosting does not list
    ctx.endpoint(instance_type=InstanceType.of(name))

    # THEN a warning (new types appear before botocore knows them) names the prop, the value and the near match
    warnings = Annotations.from_stack(ctx.stack).find_warning(
        "/Bad/Endpoint", Match.string_like_regexp("not an instance type")
    )
    assert len(warnings) == 1
    text = warnings[0].entry.data
    for fragment in ("variants[0].instance_type", repr(name), near, "acknowledge_warning("):
        assert fragment in text, f"{fragment!r} not in: {text}"


def test_props_error_is_a_user_error_so_clis_print_it_without_a_traceback():
    assert issubclass(PropsError, UserError) and issubclass(PropsError, ValueError)
