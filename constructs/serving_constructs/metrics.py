"""SageMaker endpoint metrics: namespaces, dimensions and statistics in one place.

Source: SageMaker Developer Guide, "Amazon SageMaker AI metrics in Amazon CloudWatch"
(https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html). Invocation metrics
are published by SageMaker in ``AWS/SageMaker``; instance (utilization) metrics in
``/aws/sagemaker/Endpoints``; both with the dimensions ``EndpointName`` and ``VariantName``.
Shared by every endpoint construct (real-time now; multi-model and async later).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

INVOCATION_NAMESPACE = "AWS/SageMaker"
"""Namespace of the invocation metrics (Invocations, ModelLatency, ...)."""

INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
"""Namespace of the instance metrics (CPUUtilization, GPUUtilization, ...)."""

# Metric name -> (namespace, default statistic).
# Latencies are in microseconds; utilizations in percent, where 100% is one core / one GPU, so a
# 4-GPU instance reports up to 400% GPUUtilization.
KNOWN_METRICS: dict[str, tuple[str, str]] = {
    "Invocations": (INVOCATION_NAMESPACE, "Sum"),
    "InvocationsPerInstance": (INVOCATION_NAMESPACE, "Sum"),
    "Invocation4XXErrors": (INVOCATION_NAMESPACE, "Sum"),
    "Invocation5XXErrors": (INVOCATION_NAMESPACE, "Sum"),
    "InvocationModelErrors": (INVOCATION_NAMESPACE, "Sum"),
    "ModelLatency": (INVOCATION_NAMESPACE, "Average"),
    "OverheadLatency": (INVOCATION_NAMESPACE, "Average"),
    "CPUUtilization": (INSTANCE_NAMESPACE, "Average"),
    "MemoryUtilization": (INSTANCE_NAMESPACE, "Average"),
    "GPUUtilization": (INSTANCE_NAMESPACE, "Average"),
    "GPUMemoryUtilization": (INSTANCE_NAMESPACE, "Average"),
    "DiskUtilization": (INSTANCE_NAMESPACE, "Average"),
}


def variant_metric(
    metric_name: str,
    *,
    endpoint_name: str,
    variant_name: str,
    namespace: str | None = None,
    statistic: str | None = None,
    period: Duration | None = None,
    **props: Any,
) -> cloudwatch.Metric:
    """Return ``metric_name`` of one production variant of an endpoint.

    Args:
        metric_name: the CloudWatch metric name.
        endpoint_name: the endpoint (the ``EndpointName`` dimension).
        variant_name: the production variant (the ``VariantName`` dimension).
        namespace: the namespace. Defaults to the metric's SageMaker namespace for known names,
            else ``AWS/SageMaker``.
        statistic: the statistic. Defaults to Sum for counts and Average otherwise.
        period: the period. Defaults to five minutes (CloudWatch's default).
        **props: further ``cloudwatch.Metric`` props (label, unit, color, ...).
    """
    known_namespace, known_statistic = KNOWN_METRICS.get(metric_name, (INVOCATION_NAMESPACE, "Average"))
    return cloudwatch.Metric(
        namespace=known_namespace if namespace is None else namespace,
        metric_name=metric_name,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": variant_name},
        statistic=known_statistic if statistic is None else statistic,
        period=period,
        **props,
    )
