"""EndpointMonitoring, RecommendedAlarms and ServingDashboard: widgets and alarms per serving mode.

One stack per module holds an endpoint of each mode (real-time on a 4-GPU type with an SNS topic,
asynchronous and multi-model with the recommended alarms, and a CPU real-time endpoint with widgets
only), a dashboard per endpoint and one with all of them; it is synthesized once under cdk-nag.
The dashboard bodies are compared with snapshots under ``tests/snapshots/`` (rerun with
``UPDATE_SNAPSHOTS=1`` to accept an intended change and review the diff).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from model_build.sagemaker_metrics import METRICS
from serving_constructs import (
    AsyncEndpoint,
    EndpointMonitoring,
    InstanceType,
    ModelArtifact,
    MultiModelEndpoint,
    ProductionVariant,
    RealtimeEndpoint,
    RecommendedAlarms,
    ServingDashboard,
    TritonModel,
    milliseconds_to_microseconds,
)

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ops"
LATENCY_TARGET_MS = 500


@dataclass
class Synth:
    """The module's stack: its segments by mode, and the raw template."""

    stack: Stack
    segments: dict[str, EndpointMonitoring]
    raw: dict[str, Any]
    findings: list[str]

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {key: r for key, r in self.raw["Resources"].items() if r["Type"] == kind}

    def alarm(self, segment: str, key: str) -> dict[str, Any]:
        logical_id = self.stack.resolve(self.segments[segment].alarms[key].node.default_child.logical_id)
        return self.raw["Resources"][logical_id]["Properties"]


def _build(app: App, archive: Path) -> tuple[Stack, dict[str, EndpointMonitoring]]:
    stack = Stack(app, "Monitored")
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    model = TritonModel(
        stack, "Model", artifact=ModelArtifact.from_bucket(bucket, "bert/model.tar.gz", model_name="bert")
    )
    topic = sns.Topic.from_topic_arn(stack, "Ops", TOPIC_ARN)
    realtime = RealtimeEndpoint(
        stack,
        "Realtime",
        variants=[ProductionVariant(model=model, instance_type=InstanceType.of("ml.g5.12xlarge"))],
    )
    asynchronous = AsyncEndpoint(stack, "Async", variants=[ProductionVariant(model=model)])
    multi_model = MultiModelEndpoint(stack, "MultiModel")
    multi_model.add_model("resnet.tar.gz", ModelArtifact.from_asset(archive))
    cpu = RealtimeEndpoint(
        stack, "Cpu", variants=[ProductionVariant(model=model, instance_type=InstanceType.of("ml.c5.xlarge"))]
    )
    segments = {
        "realtime": realtime.add_monitoring(
            alarms=True, latency_target_ms=LATENCY_TARGET_MS, alarm_topic=topic
        ),
        "async": asynchronous.add_monitoring(alarms=True, latency_target_ms=LATENCY_TARGET_MS),
        "multi_model": multi_model.add_monitoring(alarms=True, latency_target_ms=LATENCY_TARGET_MS),
        "cpu": cpu.add_monitoring(),
    }
    for name, endpoint in (("realtime", realtime), ("async", asynchronous), ("multi_model", multi_model)):
        endpoint.add_dashboard(dashboard_name=f"Serving-{name}")
    ServingDashboard(stack, "AllEndpoints", dashboard_name="Serving-all", segments=list(segments.values()))
    return stack, segments


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory, nag_violations: Callable[[App], list[str]]) -> Synth:
    archive = tmp_path_factory.mktemp("archive") / "resnet.tar.gz"
    _tiny_archive(archive)
    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stack, segments = _build(app, archive)
    findings = nag_violations(app)
    raw = json.loads((Path(app.outdir) / "Monitored.template.json").read_text())
    return Synth(stack, segments, raw, findings)


def _tiny_archive(path: Path) -> None:
    import io
    import tarfile

    data = b'backend: "onnxruntime"\n'
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("resnet/config.pbtxt")
        info.size = len(data)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data))


def _body(synth: Synth, dashboard_name: str) -> Any:
    """Return a dashboard's body as JSON, with each CloudFormation reference shown as ``${...}``."""
    for resource in synth.resources("AWS::CloudWatch::Dashboard").values():
        if resource["Properties"]["DashboardName"] == dashboard_name:
            body = resource["Properties"]["DashboardBody"]
            parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
            text = "".join(
                part
                if isinstance(part, str)
                else "${%s}" % (".".join(part["Fn::GetAtt"]) if "Fn::GetAtt" in part else part["Ref"])
                for part in parts
            )
            return json.loads(text)
    raise AssertionError(f"no dashboard {dashboard_name}")


# (mode, widgets per row, alarm keys)
EXPECTED = {
    "realtime": (
        [2, 3, 2, 3],
        {
            "Invocation5XXErrorRate",
            "InvocationModelErrorRate",
            "ModelLatencyP99",
            "GPUMemoryUtilizationPerGPU",
            "DiskUtilization",
        },
    ),
    "async": (
        [2, 3, 2, 3, 3],
        {
            "Invocation5XXErrorRate",
            "ModelLatencyP99",
            "GPUMemoryUtilizationPerGPU",
            "DiskUtilization",
            "ApproximateAgeOfOldestRequestSeconds",
            "HasBacklogWithoutCapacity",
        },
    ),
    "multi_model": (
        [2, 3, 2, 4, 3],
        {
            "Invocation5XXErrorRate",
            "InvocationModelErrorRate",
            "ModelLatencyP99",
            "GPUMemoryUtilizationPerGPU",
            "DiskUtilization",
            "ModelLoadingWaitTime",
            "ModelCacheHitRatio",
        },
    ),
    "cpu": ([1, 3, 2, 2], set()),
}


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_endpoint_monitoring_has_the_widgets_and_alarms_of_its_mode(synth, mode):
    # GIVEN an endpoint of each mode  WHEN it gets monitoring
    segment = synth.segments[mode]
    rows, alarm_keys = EXPECTED[mode]
    # THEN its rows have the expected widget counts, its alarms the expected keys
    assert [len(row) for row in segment.widgets] == rows
    assert set(segment.alarms) == alarm_keys
    # ... and the rollback subset is the error-rate and latency alarms
    rollback = {key for key, alarm in segment.alarms.items() if alarm in segment.rollback_alarms}
    assert rollback == alarm_keys & {"Invocation5XXErrorRate", "InvocationModelErrorRate", "ModelLatencyP99"}


def test_endpoint_monitoring_stack_has_every_alarm_once(synth):
    # THEN the template holds exactly the alarms of the segments
    assert len(synth.resources("AWS::CloudWatch::Alarm")) == sum(len(keys) for _, keys in EXPECTED.values())
    assert len(synth.resources("AWS::CloudWatch::Dashboard")) == 4


@pytest.mark.parametrize("mode", ["realtime", "async", "multi_model"])
def test_serving_dashboard_body_matches_its_snapshot(synth, mode):
    # GIVEN the dashboard of one endpoint  WHEN synthesized
    body = _body(synth, f"Serving-{mode}")
    path = SNAPSHOTS / f"dashboard.{mode}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    # THEN it is the reviewed one
    assert body == json.loads(path.read_text())


def test_serving_dashboard_with_several_endpoints_shows_every_segment_in_order(synth):
    # GIVEN one dashboard for all four segments
    widgets = _body(synth, "Serving-all")["widgets"]
    # THEN it has all their widgets, each segment under its title
    assert len(widgets) == sum(sum(rows) for rows, _ in EXPECTED.values())
    titles = [w["properties"]["markdown"].split("\n")[0] for w in widgets if w["type"] == "text"]
    assert titles == [
        "## Monitored/Realtime (real-time)",
        "## Monitored/Async (asynchronous)",
        "## Monitored/MultiModel (multi-model)",
        "## Monitored/Cpu (real-time)",
    ]


def _metrics_in(body: Any) -> list[list[Any]]:
    return [line for w in body["widgets"] if w["type"] == "metric" for line in w["properties"]["metrics"]]


def test_serving_dashboard_shows_latencies_in_milliseconds_and_gpu_per_gpu(synth):
    # GIVEN the real-time dashboard (ml.g5.12xlarge: 4 GPUs)
    lines = _metrics_in(_body(synth, "Serving-realtime"))
    expressions = [
        line[0]["expression"] for line in lines if isinstance(line[0], dict) and "expression" in line[0]
    ]
    # THEN every microsecond metric is divided by 1000, and the GPU metrics by the GPU count
    assert "modellatency_p99 / 1000" in expressions
    assert "overheadlatency_p50 / 1000" in expressions
    assert "gpuutilization_average / 4" in expressions
    assert "gpumemoryutilization_average / 4" in expressions
    # ... and no widget shows a raw microsecond metric
    raw = [line for line in lines if isinstance(line[0], str) and line[0] == "AWS/SageMaker"]
    shown = [line for line in raw if not any(isinstance(o, dict) and o.get("visible") is False for o in line)]
    assert not [line for line in shown if METRICS[line[1]].unit == "Microseconds"]


def test_serving_dashboard_of_an_async_endpoint_has_no_metric_async_endpoints_do_not_publish(synth):
    # GIVEN the async dashboard
    names = {line[1] for line in _metrics_in(_body(synth, "Serving-async")) if isinstance(line[0], str)}
    # THEN every metric in it is one asynchronous endpoints publish (no Invocations, OverheadLatency)
    assert {
        "ApproximateBacklogSize",
        "HasBacklogWithoutCapacity",
        "TimeInBacklog",
        "ExpiredRequests",
    } <= names
    assert [
        name
        for name in names
        if name in METRICS and "asynchronous" not in {m.value for m in METRICS[name].modes}
    ] == []


# --- alarms: metric, namespace, dimensions, statistic, threshold, comparison ------------------


def _single(props: dict[str, Any]) -> dict[str, Any]:
    """Return the one returned metric of an alarm as (namespace, name, dimension names, stat, period)."""
    data = [m for m in props["Metrics"] if m.get("ReturnData", True)]
    assert len(data) == 1
    return data[0]


def _stat(metric: dict[str, Any]) -> tuple[str, str, list[str], str, int]:
    stat = metric["MetricStat"]
    return (
        stat["Metric"]["Namespace"],
        stat["Metric"]["MetricName"],
        [d["Name"] for d in stat["Metric"]["Dimensions"]],
        stat["Stat"],
        stat["Period"],
    )


VARIANT = ["EndpointName", "VariantName"]
# (segment, key, (namespace, metric, dimensions, statistic, period), threshold, comparison, periods)
ALARMS = [
    (
        "realtime",
        "Invocation5XXErrorRate",
        ("AWS/SageMaker", "Invocation5XXErrors", VARIANT, "Average", 60),
        0.01,
        "GreaterThanThreshold",
        3,
    ),
    (
        "realtime",
        "InvocationModelErrorRate",
        ("AWS/SageMaker", "InvocationModelErrors", VARIANT, "Average", 60),
        0.01,
        "GreaterThanThreshold",
        3,
    ),
    (
        "realtime",
        "ModelLatencyP99",
        ("AWS/SageMaker", "ModelLatency", VARIANT, "p99", 60),
        500_000,
        "GreaterThanThreshold",
        3,
    ),
    (
        "realtime",
        "DiskUtilization",
        ("/aws/sagemaker/Endpoints", "DiskUtilization", VARIANT, "Average", 60),
        90,
        "GreaterThanThreshold",
        5,
    ),
    (
        "async",
        "ApproximateAgeOfOldestRequestSeconds",
        ("AWS/SageMaker", "ApproximateAgeOfOldestRequest", ["EndpointName"], "Maximum", 60),
        900,
        "GreaterThanThreshold",
        5,
    ),
    (
        "async",
        "HasBacklogWithoutCapacity",
        ("AWS/SageMaker", "HasBacklogWithoutCapacity", ["EndpointName"], "Average", 60),
        1,
        "GreaterThanOrEqualToThreshold",
        15,
    ),
    (
        "async",
        "ModelLatencyP99",
        ("AWS/SageMaker", "ModelLatency", VARIANT, "p99", 60),
        500_000,
        "GreaterThanThreshold",
        3,
    ),
    (
        "multi_model",
        "ModelLoadingWaitTime",
        ("AWS/SageMaker", "ModelLoadingWaitTime", VARIANT, "Average", 60),
        10_000_000,
        "GreaterThanThreshold",
        5,
    ),
    (
        "multi_model",
        "ModelCacheHitRatio",
        ("AWS/SageMaker", "ModelCacheHit", VARIANT, "Average", 300),
        0.8,
        "LessThanThreshold",
        3,
    ),
]


@pytest.mark.parametrize(
    ("segment", "key", "metric", "threshold", "comparison", "periods"),
    ALARMS,
    ids=[f"{a[0]}-{a[1]}" for a in ALARMS],
)
def test_recommended_alarm_watches_the_right_metric_with_its_threshold(
    synth, segment, key, metric, threshold, comparison, periods
):
    # GIVEN the recommended alarms  WHEN synthesized
    props = synth.alarm(segment, key)
    # THEN metric, namespace, dimensions, statistic, period, threshold and comparison are the documented ones
    assert _stat(_single(props)) == metric
    assert props["Threshold"] == threshold
    assert props["ComparisonOperator"] == comparison
    assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == periods
    assert props["TreatMissingData"] == "notBreaching"
    # ... and the description says why the threshold, without crediting AWS with it
    assert "Project default" in props["AlarmDescription"] or "project default" in props["AlarmDescription"]
    assert "AWS recommend" not in props["AlarmDescription"]


def test_gpu_memory_alarm_normalises_to_one_gpu(synth):
    # GIVEN ml.g5.12xlarge (4 GPUs, SageMaker reports up to 400 %)
    props = synth.alarm("realtime", "GPUMemoryUtilizationPerGPU")
    expression = _single(props)
    hidden = [m for m in props["Metrics"] if m.get("ReturnData") is False]
    # THEN the alarm divides the reported value by 4 and compares the per-GPU percentage with 90
    assert expression["Expression"] == f"{hidden[0]['Id']} / 4"
    assert _stat(hidden[0]) == ("/aws/sagemaker/Endpoints", "GPUMemoryUtilization", VARIANT, "Average", 60)
    assert props["Threshold"] == 90


def test_latency_alarm_threshold_is_the_millisecond_target_in_microseconds(synth):
    # GIVEN latency_target_ms=500
    props = synth.alarm("realtime", "ModelLatencyP99")
    # THEN the threshold is 500,000: ModelLatency is published in microseconds
    assert props["Threshold"] == milliseconds_to_microseconds(LATENCY_TARGET_MS) == 500_000
    assert "500 ms" in props["AlarmDescription"] and "500000 microseconds" in props["AlarmDescription"]


def test_alarms_notify_the_topic_on_alarm_and_ok_only_where_one_is_given(synth):
    # THEN the real-time segment's alarms notify the topic; the others notify nobody
    for key in synth.segments["realtime"].alarms:
        props = synth.alarm("realtime", key)
        assert props["AlarmActions"] == props["OKActions"] == [TOPIC_ARN]
    for key in synth.segments["async"].alarms:
        assert "AlarmActions" not in synth.alarm("async", key)


def test_add_monitoring_wires_the_rollback_alarms_into_the_endpoint(synth):
    # GIVEN the real-time endpoint's rollback alarms
    segment = synth.segments["realtime"]
    endpoint = next(
        r for key, r in synth.resources("AWS::SageMaker::Endpoint").items() if key.startswith("Realtime")
    )
    names = [
        a["AlarmName"]
        for a in endpoint["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    ]
    # THEN the endpoint rolls back on exactly those (by name)
    assert names == [
        synth.alarm("realtime", key)["AlarmName"]
        for key in ("Invocation5XXErrorRate", "InvocationModelErrorRate", "ModelLatencyP99")
    ]
    assert len(segment.rollback_alarms) == 3


def test_recommended_alarms_can_be_changed_or_left_out_one_by_one():
    # GIVEN a 5 % 5xx threshold, no disk alarm and no latency target
    stack = Stack(App(), "Custom")
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    model = TritonModel(
        stack, "Model", artifact=ModelArtifact.from_bucket(bucket, "m.tar.gz", model_name="m")
    )
    endpoint = RealtimeEndpoint(stack, "Endpoint", variants=[ProductionVariant(model=model)])
    settings = dataclasses.replace(
        RecommendedAlarms(), invocation_5xx_error_rate_percent=5, disk_utilization_percent=None
    )
    segment = endpoint.add_monitoring(alarms=settings)
    # THEN the 5xx alarm moved, the disk alarm and the latency alarm are absent
    assert set(segment.alarms) == {
        "Invocation5XXErrorRate",
        "InvocationModelErrorRate",
        "GPUMemoryUtilizationPerGPU",
    }
    assert stack.resolve(segment.alarms["Invocation5XXErrorRate"].node.default_child.threshold) == 0.05
    # ... and RecommendedAlarms.none() leaves every alarm out
    assert EndpointMonitoring(stack, "None", endpoint=endpoint, alarms=RecommendedAlarms.none()).alarms == {}


def test_endpoint_monitoring_stack_has_no_unacknowledged_nag_findings(synth):
    assert synth.findings == []


def test_endpoint_monitoring_template_passes_cfn_lint(synth, cfn_lint_errors):
    assert cfn_lint_errors(synth.raw, regions=("us-east-1",)) == []


def test_endpoint_monitoring_synthesis_is_deterministic(synth, tmp_path):
    # GIVEN the same stack built again in a fresh app
    archive = tmp_path / "resnet.tar.gz"
    _tiny_archive(archive)
    app = App(outdir=str(tmp_path / "cdk.out"))
    _build(app, archive)
    again = app.synth().get_stack_by_name("Monitored").template
    # THEN the alarms and dashboards are identical
    for kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"):
        assert {k: r for k, r in again["Resources"].items() if r["Type"] == kind} == synth.resources(kind)
