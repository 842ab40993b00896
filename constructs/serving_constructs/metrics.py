"""SageMaker endpoint metrics: one table of namespace, dimension set, unit and default statistic.

Every metric an endpoint construct returns (``endpoint.metric(...)``, the ``metric_*`` helpers, the
GPU-utilization scaling policy) is made from this table, so a namespace or dimension set is
written once. Dashboards and alarms (a later issue) read the same table: :data:`METRICS` says which
serving modes publish each metric.

Sources (SageMaker Developer Guide):

* real-time invocation and instance metrics, and their units: "Amazon SageMaker AI metrics in
  Amazon CloudWatch", https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html ;
* multi-model metrics (per variant, never per model): "CloudWatch Metrics for Multi-Model Endpoint
  Deployments", https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-endpoint-cloudwatch-metrics.html ;
* asynchronous metrics: "Monitoring asynchronous endpoints", https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-monitor.html .
  The page lists the metrics asynchronous endpoints publish ("exhaustive"; no Invocations,
  InvocationsPerInstance or OverheadLatency). The four queue metrics carry the ``EndpointName``
  dimension only; the others carry ``EndpointName`` and ``VariantName``;
* units: latencies are **microseconds** (see :mod:`serving_constructs.units`); utilizations are
  percent where 100 is one vCPU or one GPU, so a 4-GPU instance reports up to 400.

The table's unit is documentation (and a dashboard's axis label); it is not set on the CloudWatch
metric, because a ``unit`` there filters datapoints by unit, which CloudWatch advises against.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_cloudwatch as cloudwatch

from model_build.user_errors import did_you_mean
from serving_constructs._validation import (
    PropsError,
    check_duration,
    check_str,
    duration_seconds,
    raise_if_any,
    resolved,
)

INVOCATION_NAMESPACE = "AWS/SageMaker"
"""Namespace of the invocation, multi-model loading and asynchronous metrics."""

INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
"""Namespace of the instance metrics (CPUUtilization, GPUUtilization, LoadedModelCount, ...)."""


class Dimensions(enum.Enum):
    """The dimension set a metric is published with."""

    ENDPOINT = ("EndpointName",)
    """``EndpointName`` only (the asynchronous queue metrics)."""
    VARIANT = ("EndpointName", "VariantName")
    """``EndpointName`` and ``VariantName`` (every other endpoint metric)."""


class ServingMode(enum.Enum):
    """The endpoint kinds that publish a metric."""

    REALTIME = "real-time"
    MULTI_MODEL = "multi-model"
    ASYNC = "asynchronous"


_ALL_MODES = frozenset(ServingMode)
_SYNC = frozenset({ServingMode.REALTIME, ServingMode.MULTI_MODEL})


@dataclass(frozen=True)
class MetricSpec:
    """What one SageMaker endpoint metric is.

    Attributes:
        name: the CloudWatch metric name.
        namespace: its namespace.
        dimensions: the dimension set it is published with.
        unit: the unit of its datapoints (for labels and thresholds; see the module docstring).
        statistic: the default statistic (Sum for counts, Average for latencies and utilizations).
        modes: the serving modes that publish it.
        description: one line for docs and dashboards.
    """

    name: str
    namespace: str
    dimensions: Dimensions
    unit: cloudwatch.Unit
    statistic: str
    modes: frozenset[ServingMode]
    description: str

    @property
    def label(self) -> str:
        """The default label, with the unit where it matters: ``"ModelLatency (microseconds)"``."""
        if self.unit in (cloudwatch.Unit.MICROSECONDS, cloudwatch.Unit.MILLISECONDS, cloudwatch.Unit.SECONDS):
            return f"{self.name} ({self.unit.value.lower()})"
        return self.name


def _spec(
    name: str,
    namespace: str,
    unit: cloudwatch.Unit,
    statistic: str,
    modes: frozenset[ServingMode],
    description: str,
    dimensions: Dimensions = Dimensions.VARIANT,
) -> MetricSpec:
    return MetricSpec(name, namespace, dimensions, unit, statistic, modes, description)


_US = cloudwatch.Unit.MICROSECONDS
_COUNT = cloudwatch.Unit.COUNT
_PERCENT = cloudwatch.Unit.PERCENT
_NONE = cloudwatch.Unit.NONE
_ASYNC = frozenset({ServingMode.ASYNC})
_MME = frozenset({ServingMode.MULTI_MODEL})

METRICS: Mapping[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        # Invocation metrics (AWS/SageMaker). Async endpoints publish no Invocations,
        # InvocationsPerInstance or OverheadLatency (async-inference-monitor page, above).
        _spec("Invocations", INVOCATION_NAMESPACE, _COUNT, "Sum", _SYNC, "requests sent to the variant"),
        _spec("InvocationsPerInstance", INVOCATION_NAMESPACE, _COUNT, "Sum", _SYNC,
              "requests per instance (what invocation scaling tracks)"),
        _spec("Invocation4XXErrors", INVOCATION_NAMESPACE, _COUNT, "Sum", _ALL_MODES,
              "requests answered with a 4xx status (0/1 per request: Average is the rate)"),
        _spec("Invocation5XXErrors", INVOCATION_NAMESPACE, _COUNT, "Sum", _ALL_MODES,
              "requests answered with a 5xx status (0/1 per request: Average is the rate)"),
        _spec("InvocationModelErrors", INVOCATION_NAMESPACE, _COUNT, "Sum", _SYNC,
              "requests whose model container answered with an error"),
        _spec("ModelLatency", INVOCATION_NAMESPACE, _US, "Average", _ALL_MODES,
              "time the model container took to respond, in microseconds"),
        _spec("OverheadLatency", INVOCATION_NAMESPACE, _US, "Average", _SYNC,
              "SageMaker's own time per request (total minus ModelLatency), in microseconds"),
        # Instance metrics (/aws/sagemaker/Endpoints): 100 per vCPU / per GPU.
        _spec("CPUUtilization", INSTANCE_NAMESPACE, _PERCENT, "Average", _ALL_MODES,
              "CPU utilization, 0-100 x vCPUs"),
        _spec("MemoryUtilization", INSTANCE_NAMESPACE, _PERCENT, "Average", _ALL_MODES, "memory utilization"),
        _spec("GPUUtilization", INSTANCE_NAMESPACE, _PERCENT, "Average", _ALL_MODES,
              "GPU utilization, 0-100 x GPUs"),
        _spec("GPUMemoryUtilization", INSTANCE_NAMESPACE, _PERCENT, "Average", _ALL_MODES,
              "GPU memory utilization, 0-100 x GPUs"),
        _spec("DiskUtilization", INSTANCE_NAMESPACE, _PERCENT, "Average", _ALL_MODES, "disk utilization"),
        # Multi-model endpoints (multi-model-endpoint-cloudwatch-metrics page): per variant, never per model.
        _spec("ModelLoadingWaitTime", INVOCATION_NAMESPACE, _US, "Average", _MME,
              "time a request waited for its model to be downloaded or loaded, in microseconds"),
        _spec("ModelUnloadingTime", INVOCATION_NAMESPACE, _US, "Average", _MME,
              "time to unload a model, in microseconds (SampleCount counts evictions: thrashing)"),
        _spec("ModelDownloadingTime", INVOCATION_NAMESPACE, _US, "Average", _MME,
              "time to download a model from S3, in microseconds"),
        _spec("ModelLoadingTime", INVOCATION_NAMESPACE, _US, "Average", _MME,
              "time to load a model into the container, in microseconds"),
        _spec("ModelCacheHit", INVOCATION_NAMESPACE, _NONE, "Average", _MME,
              "requests whose model was already loaded (Average is the hit ratio)"),
        _spec("LoadedModelCount", INSTANCE_NAMESPACE, _NONE, "Average", _MME,
              "models loaded per instance (Sum over instances is not a count of unique models)"),
        # Asynchronous endpoints (async-inference-monitor page): the queue metrics have EndpointName only.
        _spec("ApproximateBacklogSize", INVOCATION_NAMESPACE, _COUNT, "Average", _ASYNC,
              "requests queued or being processed", Dimensions.ENDPOINT),
        _spec("ApproximateBacklogSizePerInstance", INVOCATION_NAMESPACE, _COUNT, "Average", _ASYNC,
              "backlog divided by the instance count (what backlog scaling tracks)", Dimensions.ENDPOINT),
        _spec("ApproximateAgeOfOldestRequest", INVOCATION_NAMESPACE, cloudwatch.Unit.SECONDS, "Average", _ASYNC,
              "age of the oldest queued request, in seconds", Dimensions.ENDPOINT),
        _spec("HasBacklogWithoutCapacity", INVOCATION_NAMESPACE, _COUNT, "Average", _ASYNC,
              "1 while requests are queued and no instance runs (scale from zero on it)", Dimensions.ENDPOINT),
        # AWS's page spells it InvocationsProcesssed; the table takes the spelling other consumers
        # of the metric use. Unconfirmed: `aws cloudwatch list-metrics --namespace AWS/SageMaker`
        # on an asynchronous endpoint settles it.
        _spec("InvocationsProcessed", INVOCATION_NAMESPACE, _COUNT, "Sum", _ASYNC,
              "asynchronous requests processed (AWS's page spells it InvocationsProcesssed)"),
        _spec("InvocationFailures", INVOCATION_NAMESPACE, _COUNT, "Sum", _ASYNC, "asynchronous requests that failed"),
        # TimeInBacklog's unit is unconfirmed: revisions of the guide's source disagree (Microseconds
        # at https://github.com/awsdocs/amazon-sagemaker-developer-guide/blob/4ac846c8fab6053ddc6b4eb8a250709dc454f2bf/doc_source/async-inference-monitor.md,
        # Milliseconds in a later one). Check the Unit of live datapoints before setting thresholds on it.
        _spec("TimeInBacklog", INVOCATION_NAMESPACE, cloudwatch.Unit.MILLISECONDS, "Average", _ASYNC,
              "time a request spent queued, in milliseconds (unit unconfirmed)"),
        _spec("TotalProcessingTime", INVOCATION_NAMESPACE, cloudwatch.Unit.MILLISECONDS, "Average", _ASYNC,
              "time from queueing to the response written to S3, in milliseconds"),
        _spec("ExpiredRequests", INVOCATION_NAMESPACE, _COUNT, "Sum", _ASYNC,
              "requests dropped after their RequestTTLSeconds"),
        _spec("NotificationFailures", INVOCATION_NAMESPACE, _COUNT, "Sum", _ASYNC,
              "SNS notifications that could not be published"),
    )
}  # fmt: skip
"""Every SageMaker endpoint metric the constructs know, by name."""


def metric_spec(metric_name: str) -> MetricSpec:
    """Return the table entry of ``metric_name``.

    Raises:
        PropsError: the name is not in the table; the message names the closest one.
    """
    spec = METRICS.get(metric_name)
    if spec is None:
        raise PropsError(
            f"Invalid metric props: metric_name {metric_name!r} is not a SageMaker endpoint metric this "
            f"library knows{did_you_mean(metric_name, list(METRICS))} — use one of {', '.join(METRICS)}, "
            "or pass namespace=... (and the dimensions are EndpointName and VariantName) for any other"
        )
    return spec


# The props endpoint_metric passes on to cloudwatch.Metric; the dimensions come from the table.
_METRIC_PROPS = (
    "account", "color", "id", "label", "period", "region", "stack_account", "stack_region", "statistic",
    "unit", "visible",
)  # fmt: skip

# CloudWatch's statistics as CDK parses them (aws-cdk-lib, aws-cloudwatch/lib/private/statistic):
# the simple ones (case-insensitive, with CDK's aliases), IQM, pNN/tmNN/wmNN/tcNN/tsNN with NN in
# 0-100, and the ranges PR/TM/WM/TC/TS(lower:upper). CDK renders anything else as an extended
# statistic that CloudWatch refuses only at deploy. Reference: "CloudWatch statistics definitions",
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html
_SIMPLE_STATISTICS = ("Average", "Sum", "SampleCount", "Minimum", "Maximum")
_STATISTIC_ALIASES = frozenset(
    {"avg", "min", "max", "n", "iqm", *(name.lower() for name in _SIMPLE_STATISTICS)}
)
_SINGLE_STATISTIC = re.compile(r"^(?:p|tm|wm|tc|ts)(\d+(?:\.\d+)?)$", re.IGNORECASE)
_RANGE_STATISTIC = re.compile(r"^(?:pr|tm|wm|tc|ts)\(([^:)]*):([^:)]*)\)$", re.IGNORECASE)
_RANGE_BOUND = re.compile(r"^(\d+(?:\.\d+)?)(%?)$")

# CloudWatch periods: 1, 5, 10 or 30 s (high resolution) or a multiple of a minute.
_SUB_MINUTE_PERIODS_S = (1, 5, 10, 30)


def is_statistic(statistic: str) -> bool:
    """Return whether CloudWatch knows ``statistic`` (``"Average"``, ``"p99"``, ``"TM(10%:90%)"``, ...)."""
    if statistic.lower() in _STATISTIC_ALIASES:
        return True
    single = _SINGLE_STATISTIC.match(statistic)
    if single is not None:
        return float(single.group(1)) <= 100
    pair = _RANGE_STATISTIC.match(statistic)
    if pair is None:
        return False
    kinds = set()  # "%" for a percentage bound, "" for an absolute one
    for bound in (text.strip() for text in pair.groups()):
        if not bound:
            continue
        match = _RANGE_BOUND.match(bound)
        if match is None or (match.group(2) and float(match.group(1)) > 100):
            return False
        kinds.add(match.group(2))
    return len(kinds) == 1  # at least one bound, and both of one kind


def _props_problems(props: dict[str, Any]) -> list[str]:
    """Return the problems with the ``cloudwatch.Metric`` props passed through ``**props``."""
    problems = []
    for key in props:
        if key == "dimensions_map":
            problems.append(
                "dimensions_map is set from the metrics table (EndpointName, and VariantName for "
                "per-variant metrics) — drop it; pass variant_name for another variant"
            )
        elif key not in _METRIC_PROPS:
            problems.append(
                f"{key} is not a cloudwatch.Metric prop{did_you_mean(key, _METRIC_PROPS)} — use one of "
                f"{', '.join(_METRIC_PROPS)}"
            )
    statistic = props.get("statistic")
    problems += check_str("statistic", statistic, optional=True, example=" such as 'Average' or 'p99'")
    if isinstance(statistic, str) and statistic and resolved(statistic) and not is_statistic(statistic):
        problems.append(
            f"statistic {statistic!r} is not a CloudWatch statistic{did_you_mean(statistic, _SIMPLE_STATISTICS)} "
            f"— use {', '.join(_SIMPLE_STATISTICS)}, a percentile such as 'p99', or tmNN, wmNN, tcNN, tsNN, "
            "IQM, PR/TM/WM/TC/TS(lower:upper)"
        )
    period = props.get("period")
    period_problems = check_duration("period", period, 1)
    if not period_problems and period is not None:
        seconds = duration_seconds(period)
        if seconds is not None and seconds not in _SUB_MINUTE_PERIODS_S and seconds % 60:
            period_problems.append(
                f"period must be 1, 5, 10 or 30 seconds or a multiple of 60 seconds (got {seconds:g} s) — "
                f"use Duration.minutes({max(1, round(seconds / 60))})"
            )
    return problems + period_problems


def endpoint_metric(
    metric_name: str,
    *,
    endpoint_name: str,
    variant_name: str | None = None,
    namespace: str | None = None,
    **props: Any,
) -> cloudwatch.Metric:
    """Return ``metric_name`` of an endpoint, with the table's namespace, dimensions and statistic.

    Args:
        metric_name: a name from :data:`METRICS`, or any other name together with ``namespace``.
        endpoint_name: the ``EndpointName`` dimension.
        variant_name: the ``VariantName`` dimension; required for per-variant metrics, refused
            for metrics published with ``EndpointName`` only.
        namespace: the namespace of a metric that is not in the table. Defaults to the table's.
        **props: further ``cloudwatch.Metric`` props (statistic, period, label, color, ...). The
            statistic defaults to the table's, the label to the name with its unit for latencies,
            the period to CloudWatch's 5 minutes (CDK's default).

    Raises:
        PropsError: an unknown name without ``namespace``, a namespace that contradicts the table,
            a variant given for an endpoint-level metric (or missing for a variant one), a prop
            ``cloudwatch.Metric`` does not take, ``dimensions_map``, a statistic CloudWatch does not
            know, or a period CloudWatch refuses.
    """
    problems = (
        check_str("metric_name", metric_name, example=" such as 'ModelLatency'")
        + check_str("endpoint_name", endpoint_name)
        + check_str("variant_name", variant_name, optional=True, example=" such as 'AllTraffic'")
        + check_str("namespace", namespace, optional=True)
        + _props_problems(props)
    )
    raise_if_any("metric", problems)
    spec = METRICS.get(metric_name)
    if spec is None:
        if namespace is None:
            metric_spec(metric_name)  # raises, naming the nearest known metric
        assert namespace is not None
        spec = MetricSpec(metric_name, namespace, Dimensions.VARIANT, _NONE, "Average", _ALL_MODES, "")
    elif namespace is not None and namespace != spec.namespace:
        raise PropsError(
            f"Invalid metric props: namespace {namespace!r} is wrong for {metric_name} — SageMaker "
            f"publishes it in {spec.namespace!r}; drop namespace"
        )
    if spec.dimensions is Dimensions.ENDPOINT:
        if variant_name is not None:
            raise PropsError(
                f"Invalid metric props: variant_name {variant_name!r} given for {metric_name}, which SageMaker "
                "publishes with the EndpointName dimension only — drop variant_name"
            )
        dimensions = {"EndpointName": endpoint_name}
    else:
        if variant_name is None:
            raise PropsError(
                f"Invalid metric props: {metric_name} is published per variant — pass variant_name"
            )
        dimensions = {"EndpointName": endpoint_name, "VariantName": variant_name}
    if props.get("statistic") is None:
        props["statistic"] = spec.statistic
    if props.get("label") is None and spec.label != spec.name:
        props["label"] = spec.label
    return cloudwatch.Metric(
        namespace=spec.namespace, metric_name=metric_name, dimensions_map=dimensions, **props
    )
