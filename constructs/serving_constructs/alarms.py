"""Recommended alarms for SageMaker endpoints: which ones, their thresholds, and why.

:class:`RecommendedAlarms` is the typed set :class:`serving_constructs.monitoring.EndpointMonitoring`
creates when ``alarms=True`` (the defaults below) or ``alarms=RecommendedAlarms(...)`` (one field
changed, or set to None to leave that alarm out). Every threshold carries its unit in the field's
name (``..._percent``, ``..._seconds``, ``..._ms``); the conversion to the metric's own unit happens
here, from the metrics table (:data:`model_build.sagemaker_metrics.METRICS`) and
:func:`serving_constructs.units.milliseconds_to_microseconds`, so a millisecond target cannot end
up as a microsecond threshold off by 1000.

The thresholds are **project defaults, derived from the AWS examples**, not AWS recommendations:
CloudWatch's "recommended alarms" list has no SageMaker section, and the only SageMaker alarms AWS
documents are the deployment-guardrail examples (SageMaker Developer Guide, "Configure Deployment
Guardrails", https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html).
One of those alarms on ``Average(Invocation4XXErrors) > 1``, which can never fire: the metric is 0
or 1 per request, so its Average is the error rate, at most 1. The rate alarms here compare that
Average with a fraction below 1.

``TreatMissingData`` is NOT_BREACHING for every alarm, deliberately: SageMaker publishes the
invocation metrics only while requests arrive and the instance metrics only while instances run
(an asynchronous endpoint scaled to zero publishes none), so "no data" means "no traffic" or "no
instance", neither of which is an error, a slow request or a full disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from serving_constructs._validation import check_bool, check_int, check_number, given

__all__ = ["AlarmPlan", "RecommendedAlarms"]

# CloudWatch evaluates at most one day of periods (EvaluationPeriods x Period <= 86,400 s).
_MAX_ONE_MINUTE_PERIODS = 24 * 60


@dataclass(frozen=True, kw_only=True)
class RecommendedAlarms:
    """Which recommended alarms an :class:`~serving_constructs.monitoring.EndpointMonitoring` creates.

    ``alarms=True`` is ``RecommendedAlarms()``. Set a field to None to leave that alarm out; change
    it to move the threshold. Fields of another serving mode are ignored (an async field on a
    real-time endpoint). All thresholds are project defaults, derived from the AWS examples.

    Attributes:
        invocation_5xx_error_rate_percent: alarm when more than this percentage of requests get a
            5xx answer, over 3 consecutive minutes (Average of ``Invocation5XXErrors``, which is
            0/1 per request, against the fraction). A rollback alarm. Defaults to 1 %: a healthy
            Triton endpoint answers 5xx only when it is broken or overloaded.
        model_error_rate_percent: the same for ``InvocationModelErrors`` (the container answered
            with an error; real-time and multi-model only: asynchronous endpoints do not publish
            it). A rollback alarm. Defaults to 1 %.
        model_latency_p99: alarm when p99 ``ModelLatency`` exceeds ``latency_target_ms`` (the
            tuning profile's SLO) for 3 consecutive minutes. A rollback alarm. Needs
            ``latency_target_ms``; without one there is no latency alarm. Defaults to True.
        gpu_memory_utilization_percent_per_gpu: alarm when GPU memory, normalised to one GPU
            (SageMaker reports 100 per GPU, so a 4-GPU instance reports up to 400), stays above this
            for 5 minutes: the next model or larger batch fails to load. GPU instances with a known
            GPU count only. Defaults to 90.
        disk_utilization_percent: alarm when the instance disk stays above this for 5 minutes
            (model archives are downloaded and unpacked there). Defaults to 90.
        oldest_request_age_seconds: asynchronous only: alarm when the oldest queued request
            (``ApproximateAgeOfOldestRequest``, Maximum, in seconds) stays older than this for 5
            minutes: the queue is not draining. Defaults to 900 (15 minutes, SageMaker's default
            ``InvocationTimeoutSeconds``).
        backlog_without_capacity_minutes: asynchronous only: alarm when ``HasBacklogWithoutCapacity``
            (1 while requests wait and no instance runs) stays 1 for this many consecutive minutes:
            scaling out from zero did not happen. Defaults to 15 (a GPU instance is usually
            serving within about 10 minutes of the scale-out).
        model_loading_wait_time_ms: multi-model only: alarm when requests wait on average longer
            than this many milliseconds for their model to be downloaded and loaded
            (``ModelLoadingWaitTime``, published in microseconds, converted here), for 5 minutes.
            Defaults to 10,000 ms: waits that long mean the instances keep evicting and reloading
            models (too many models for the memory: add instances or a larger type).
        model_cache_hit_ratio_percent: multi-model only: alarm when fewer than this percentage of
            requests find their model already loaded (Average of ``ModelCacheHit``) over 15
            minutes. Defaults to 80.
    """

    invocation_5xx_error_rate_percent: float | None = 1.0
    model_error_rate_percent: float | None = 1.0
    model_latency_p99: bool = True
    gpu_memory_utilization_percent_per_gpu: float | None = 90.0
    disk_utilization_percent: float | None = 90.0
    oldest_request_age_seconds: float | None = 900.0
    backlog_without_capacity_minutes: int | None = 15
    model_loading_wait_time_ms: float | None = 10_000.0
    model_cache_hit_ratio_percent: float | None = 80.0

    @staticmethod
    def none() -> RecommendedAlarms:
        """Return a set with every alarm left out (add back the ones you want with ``dataclasses.replace``)."""
        return RecommendedAlarms(
            invocation_5xx_error_rate_percent=None,
            model_error_rate_percent=None,
            model_latency_p99=False,
            gpu_memory_utilization_percent_per_gpu=None,
            disk_utilization_percent=None,
            oldest_request_age_seconds=None,
            backlog_without_capacity_minutes=None,
            model_loading_wait_time_ms=None,
            model_cache_hit_ratio_percent=None,
        )

    def problems(self, path: str = "alarms") -> list[str]:
        """Return every problem with these settings, each naming ``path.field``."""
        percent_fields = (
            "invocation_5xx_error_rate_percent",
            "model_error_rate_percent",
            "gpu_memory_utilization_percent_per_gpu",
            "disk_utilization_percent",
            "model_cache_hit_ratio_percent",
        )
        problems: list[str] = []
        for name in percent_fields:
            value = getattr(self, name)
            found = check_number(f"{path}.{name}", value, 0, 100, " %", optional=True)
            if not found and value is not None and value in (0, 100):
                found = [
                    f"{path}.{name} must be between 0 and 100 % exclusive (got {value:g} %): the alarm "
                    f"could never fire — pass a percentage such as {getattr(RecommendedAlarms(), name):g}, "
                    "or None to leave the alarm out"
                ]
            problems += _with_fix(found, name)
        problems += check_bool(f"{path}.model_latency_p99", self.model_latency_p99, optional=False)
        problems += _with_fix(
            _positive(f"{path}.oldest_request_age_seconds", self.oldest_request_age_seconds, " s"),
            "oldest_request_age_seconds",
        )
        problems += _with_fix(
            _positive(f"{path}.model_loading_wait_time_ms", self.model_loading_wait_time_ms, " ms"),
            "model_loading_wait_time_ms",
        )
        problems += _with_fix(
            check_int(
                f"{path}.backlog_without_capacity_minutes",
                self.backlog_without_capacity_minutes,
                1,
                _MAX_ONE_MINUTE_PERIODS,
                " minutes",
                optional=True,
            ),
            "backlog_without_capacity_minutes",
        )
        return problems


def _with_fix(problems: list[str], field_name: str) -> list[str]:
    """Return ``problems`` with the fix (the default, or None) on those that have none."""
    default = getattr(RecommendedAlarms(), field_name)
    return [
        problem
        if " — " in problem
        else f"{problem} — pass e.g. {default:g} (the default), or None to leave the alarm out"
        for problem in problems
    ]


def _positive(name: str, value: Any, unit: str) -> list[str]:
    problems = check_number(name, value, 0, None, unit, optional=True)
    if not problems and value is not None and value <= 0:
        problems.append(f"{name} must be > 0{unit} (got {value:g}{unit})")
    return problems


def check_alarms_prop(value: Any) -> list[str]:
    """Return the problems with the ``alarms`` prop (a bool or a :class:`RecommendedAlarms`)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, RecommendedAlarms):
        return value.problems()
    return [
        f"alarms must be a bool or a RecommendedAlarms (got {given(value)}) — pass True for the "
        "recommended set, False for none, or RecommendedAlarms(field=...) to change one"
    ]


@dataclass(frozen=True)
class AlarmPlan:
    """One alarm before it becomes a ``cloudwatch.Alarm``: its metric, threshold and why.

    Attributes:
        key: the stable key in ``EndpointMonitoring.alarms`` and the construct id.
        metric: the metric or metric-math expression it watches.
        threshold: the threshold, in the unit of ``metric`` (already converted).
        comparison: how the metric compares with the threshold.
        evaluation_periods: the periods evaluated (each ``metric``'s period long).
        description: the alarm description: what it means, the threshold with its unit, and why.
        rollback: whether it belongs to the deployment auto-rollback set.
    """

    key: str
    metric: cloudwatch.IMetric
    threshold: float
    comparison: cloudwatch.ComparisonOperator
    evaluation_periods: int
    description: str
    rollback: bool = False

    def create(self, scope: Any) -> cloudwatch.Alarm:
        """Create the alarm under ``scope`` (missing data: NOT_BREACHING, see the module docstring)."""
        return cloudwatch.Alarm(
            scope,
            self.key,
            metric=self.metric,
            threshold=self.threshold,
            comparison_operator=self.comparison,
            evaluation_periods=self.evaluation_periods,
            datapoints_to_alarm=self.evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=self.description,
        )


def fraction_of_percent(percent: float) -> float:
    """Return ``percent`` as the fraction a 0/1-per-request metric's Average is compared with (1 % -> 0.01)."""
    return percent / 100


ONE_MINUTE = Duration.minutes(1)
"""SageMaker publishes endpoint metrics every minute; the alarms evaluate one-minute periods."""
