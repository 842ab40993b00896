"""The SageMaker endpoint metrics table: namespace, dimension set, unit and statistic of every metric.

The expectations below are written from the SageMaker Developer Guide, not read from the table
under test: https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html (real-time
metrics and units), .../multi-model-endpoint-cloudwatch-metrics.html (multi-model) and
.../async-inference-monitor.html (asynchronous).
"""

from __future__ import annotations

import pytest
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from serving_constructs import (
    METRICS,
    Dimensions,
    PropsError,
    ServingMode,
    microseconds_to_milliseconds,
    milliseconds_to_microseconds,
    unit_of,
)
from serving_constructs.metrics import endpoint_metric

SM = "AWS/SageMaker"
EP = "/aws/sagemaker/Endpoints"
VARIANT = ("EndpointName", "VariantName")
ENDPOINT = ("EndpointName",)
US, MS, S = "MICROSECONDS", "MILLISECONDS", "SECONDS"

# name: (namespace, dimensions, default statistic, unit as a cloudwatch.Unit member)
EXPECTED = {
    # real-time invocation metrics
    "Invocations": (SM, VARIANT, "Sum", "COUNT"),
    "InvocationsPerInstance": (SM, VARIANT, "Sum", "COUNT"),
    "Invocation4XXErrors": (SM, VARIANT, "Sum", "COUNT"),
    "Invocation5XXErrors": (SM, VARIANT, "Sum", "COUNT"),
    "InvocationModelErrors": (SM, VARIANT, "Sum", "COUNT"),
    "ModelLatency": (SM, VARIANT, "Average", US),
    "OverheadLatency": (SM, VARIANT, "Average", US),
    # instance metrics
    "CPUUtilization": (EP, VARIANT, "Average", "PERCENT"),
    "MemoryUtilization": (EP, VARIANT, "Average", "PERCENT"),
    "GPUUtilization": (EP, VARIANT, "Average", "PERCENT"),
    "GPUMemoryUtilization": (EP, VARIANT, "Average", "PERCENT"),
    "DiskUtilization": (EP, VARIANT, "Average", "PERCENT"),
    # multi-model (multi-model-endpoint-cloudwatch-metrics.html)
    "ModelLoadingWaitTime": (SM, VARIANT, "Average", US),
    "ModelUnloadingTime": (SM, VARIANT, "Average", US),
    "ModelDownloadingTime": (SM, VARIANT, "Average", US),
    "ModelLoadingTime": (SM, VARIANT, "Average", US),
    "ModelCacheHit": (SM, VARIANT, "Average", "NONE"),
    "LoadedModelCount": (EP, VARIANT, "Average", "NONE"),
    # asynchronous (async-inference-monitor.html): the queue metrics carry EndpointName only
    "ApproximateBacklogSize": (SM, ENDPOINT, "Average", "COUNT"),
    "ApproximateBacklogSizePerInstance": (SM, ENDPOINT, "Average", "COUNT"),
    "ApproximateAgeOfOldestRequest": (SM, ENDPOINT, "Average", S),
    "HasBacklogWithoutCapacity": (SM, ENDPOINT, "Average", "COUNT"),
    "InvocationsProcessed": (SM, VARIANT, "Sum", "COUNT"),
    "InvocationFailures": (SM, VARIANT, "Sum", "COUNT"),
    "TimeInBacklog": (SM, VARIANT, "Average", MS),
    "TotalProcessingTime": (SM, VARIANT, "Average", MS),
    "ExpiredRequests": (SM, VARIANT, "Sum", "COUNT"),
    "NotificationFailures": (SM, VARIANT, "Sum", "COUNT"),
    # serverless (serverless-endpoints-monitoring.html)
    "ModelSetupTime": (SM, VARIANT, "Average", US),
    "ServerlessConcurrentExecutionsUtilization": (SM, VARIANT, "Average", "NONE"),
    "ServerlessProvisionedConcurrencyExecutions": (SM, VARIANT, "Maximum", "COUNT"),
    "ServerlessProvisionedConcurrencyUtilization": (SM, VARIANT, "Average", "NONE"),
    "ServerlessProvisionedConcurrencyInvocations": (SM, VARIANT, "Sum", "COUNT"),
    "ServerlessProvisionedConcurrencySpilloverInvocations": (SM, VARIANT, "Sum", "COUNT"),
}


def test_metrics_table_holds_exactly_the_documented_metrics():
    assert sorted(METRICS) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metric_namespace_dimensions_statistic_and_unit(stack, name):
    # GIVEN the documented facts of one metric
    namespace, dimensions, statistic, unit = EXPECTED[name]
    spec = METRICS[name]

    # WHEN the metric is made for an endpoint (and its first variant when it is per variant)
    variant = "AllTraffic" if dimensions == VARIANT else None
    metric = endpoint_metric(name, endpoint_name="ep", variant_name=variant)

    # THEN
    assert (spec.namespace, spec.dimensions.value, spec.statistic, unit_of(spec)) == (
        namespace,
        dimensions,
        statistic,
        getattr(cloudwatch.Unit, unit),
    )
    assert (metric.namespace, metric.metric_name, metric.statistic) == (namespace, name, statistic)
    assert tuple(metric.dimensions) == dimensions
    # The unit is documentation, never a filter on the CloudWatch metric.
    assert stack.resolve(metric.to_metric_config().metric_stat.unit_filter) is None


@pytest.mark.parametrize(
    ("name", "modes"),
    [
        ("Invocations", {ServingMode.REALTIME, ServingMode.MULTI_MODEL, ServingMode.SERVERLESS}),
        ("OverheadLatency", {ServingMode.REALTIME, ServingMode.MULTI_MODEL, ServingMode.SERVERLESS}),
        ("ModelLatency", set(ServingMode)),
        ("GPUUtilization", {ServingMode.REALTIME, ServingMode.MULTI_MODEL, ServingMode.ASYNC}),
        ("ModelSetupTime", {ServingMode.SERVERLESS}),
        ("ModelCacheHit", {ServingMode.MULTI_MODEL}),
        ("ApproximateBacklogSize", {ServingMode.ASYNC}),
        ("InvocationFailures", {ServingMode.ASYNC}),
    ],
)
def test_metric_knows_which_serving_modes_publish_it(name, modes):
    # Async endpoints publish no Invocations, InvocationsPerInstance or OverheadLatency (§2.3).
    assert set(METRICS[name].modes) == modes


def test_endpoint_only_metric_refuses_a_variant():
    with pytest.raises(
        PropsError,
        match=r"variant_name 'AllTraffic' given for HasBacklogWithoutCapacity, which SageMaker publishes with the EndpointName dimension only — drop variant_name",
    ):
        endpoint_metric("HasBacklogWithoutCapacity", endpoint_name="ep", variant_name="AllTraffic")


def test_variant_metric_needs_a_variant():
    with pytest.raises(PropsError, match="InvocationFailures is published per variant — pass variant_name"):
        endpoint_metric("InvocationFailures", endpoint_name="ep")


def test_known_metric_refuses_a_contradicting_namespace():
    with pytest.raises(
        PropsError,
        match=r"namespace 'AWS/SageMaker' is wrong for GPUUtilization — SageMaker publishes it in '/aws/sagemaker/Endpoints'",
    ):
        endpoint_metric("GPUUtilization", endpoint_name="ep", variant_name="v", namespace="AWS/SageMaker")


def test_metric_props_override_the_table_defaults():
    metric = endpoint_metric(
        "ModelLatency", endpoint_name="ep", variant_name="v", statistic="p99", period=Duration.minutes(1)
    )
    assert (metric.statistic, metric.period.to_seconds(), metric.label) == (
        "p99",
        60,
        "ModelLatency (microseconds)",
    )


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("ModelLatency", "ModelLatency (microseconds)"),
        ("ModelLoadingTime", "ModelLoadingTime (microseconds)"),
        ("ApproximateAgeOfOldestRequest", "ApproximateAgeOfOldestRequest (seconds)"),
        ("TotalProcessingTime", "TotalProcessingTime (milliseconds)"),
        ("Invocations", None),
    ],
)
def test_time_metrics_carry_their_unit_in_the_label(name, label):
    variant = None if METRICS[name].dimensions is Dimensions.ENDPOINT else "v"
    assert endpoint_metric(name, endpoint_name="ep", variant_name=variant).label == label


def test_milliseconds_to_microseconds_is_the_one_conversion():
    # A tuning profile's 500 ms p99 target is a ModelLatency threshold of 500,000 µs.
    assert milliseconds_to_microseconds(500) == 500_000
    assert microseconds_to_milliseconds(milliseconds_to_microseconds(12.5)) == 12.5
    assert unit_of(METRICS["ModelLatency"]) is cloudwatch.Unit.MICROSECONDS


@pytest.mark.parametrize(
    "statistic",
    ["Average", "avg", "sum", "SampleCount", "n", "Minimum", "max", "p99", "P99.9", "p100", "tm90", "wm50",
     "tc10", "ts95", "TM(10%:90%)", "tm(10%:)", "PR(:300)", "pr(100:2000)", "IQM"],
)  # fmt: skip
def test_metric_takes_every_cloudwatch_statistic_form(statistic):
    # GIVEN a statistic CloudWatch knows, in a spelling CDK parses  WHEN / THEN it is taken
    metric = endpoint_metric("ModelLatency", endpoint_name="ep", variant_name="v", statistic=statistic)
    assert metric.statistic.lower() == {"avg": "average", "n": "samplecount", "max": "maximum"}.get(
        statistic.lower(), statistic.lower()
    )
