"""SageMaker endpoint metrics as CloudWatch metrics: the table's rows made into ``cloudwatch.Metric``.

Every metric an endpoint construct returns (``endpoint.metric(...)``, the ``metric_*`` helpers, the
scaling policies, dashboards and alarms) is made here from the one table of facts,
:mod:`model_build.sagemaker_metrics` (namespace, dimension set, unit, default statistic, the
serving modes that publish it, and the sources). The local rehearsal publishes from the same table.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import aws_cloudwatch as cloudwatch

from model_build.sagemaker_metrics import (
    ALL_MODES,
    INSTANCE_NAMESPACE,
    INVOCATION_NAMESPACE,
    METRICS,
    NONE,
    Dimensions,
    MetricSpec,
    ServingMode,
)
from model_build.user_errors import did_you_mean
from serving_constructs._validation import (
    PropsError,
    check_duration,
    check_str,
    duration_seconds,
    raise_if_any,
    resolved,
)

__all__ = [
    "INSTANCE_NAMESPACE",
    "INVOCATION_NAMESPACE",
    "METRICS",
    "Dimensions",
    "MetricSpec",
    "ServingMode",
    "endpoint_metric",
    "is_statistic",
    "metric_spec",
    "unit_of",
]


def unit_of(spec: MetricSpec) -> cloudwatch.Unit:
    """Return the table's unit of ``spec`` as a ``cloudwatch.Unit`` (``Unit.MICROSECONDS`` for ModelLatency)."""
    return cloudwatch.Unit[spec.unit.upper()]


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
        spec = MetricSpec(metric_name, namespace, Dimensions.VARIANT, NONE, "Average", ALL_MODES, "")
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
