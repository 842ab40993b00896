"""Time units of SageMaker's endpoint metrics, and the one conversion from the project's milliseconds.

SageMaker publishes ModelLatency, OverheadLatency and the multi-model loading times in
**microseconds** (SageMaker Developer Guide, "Amazon SageMaker AI metrics in Amazon CloudWatch",
https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html, and "CloudWatch
Metrics for Multi-Model Endpoint Deployments",
https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-endpoint-cloudwatch-metrics.html), while the tuning profile (``TuningProfile.latency_target_ms``) and the load
generator speak **milliseconds**. Anything that turns a millisecond target into a threshold on a
microsecond metric (an alarm, a dashboard line) converts here, so the factor lives in one place.
"""

from __future__ import annotations

MICROSECONDS_PER_MILLISECOND = 1000
"""1 ms = 1000 µs."""


def milliseconds_to_microseconds(milliseconds: float) -> float:
    """Return ``milliseconds`` in microseconds, the unit of ModelLatency and OverheadLatency.

    Example: a p99 target of 500 ms from a tuning profile is a ModelLatency threshold of 500,000.
    """
    return milliseconds * MICROSECONDS_PER_MILLISECOND


def microseconds_to_milliseconds(microseconds: float) -> float:
    """Return ``microseconds`` (a ModelLatency datapoint) in milliseconds."""
    return microseconds / MICROSECONDS_PER_MILLISECOND
