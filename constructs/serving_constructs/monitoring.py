"""Monitoring for SageMaker endpoints: a segment of widgets and alarms per endpoint, and dashboards.

Three layers, each usable alone (the layering of cdk-monitoring-constructs' metric factory ->
monitoring segment -> facade):

1. the metric helpers on the endpoint (``endpoint.metric(...)``, ``metric_model_latency()``, ...),
   made from the one table of SageMaker metrics, :data:`model_build.sagemaker_metrics.METRICS`;
2. :class:`EndpointMonitoring`: the widgets that fit ONE endpoint's serving mode (real-time,
   multi-model, asynchronous: the table says which mode publishes which metric) and, opt-in, the
   recommended alarms (:class:`serving_constructs.alarms.RecommendedAlarms`), with the subset for
   deployment auto-rollback in :attr:`EndpointMonitoring.rollback_alarms`;
3. :class:`ServingDashboard`: one CloudWatch dashboard holding one or several segments.

``endpoint.add_monitoring(...)`` and ``endpoint.add_dashboard(...)`` are the one-call versions.

Units. SageMaker publishes latencies in MICROSECONDS, the asynchronous queue age in seconds,
TimeInBacklog and TotalProcessingTime in milliseconds, errors and cache hits as 0/1 per request,
and utilizations as percent where 100 is one vCPU or one GPU. The widgets show every latency in
milliseconds (metric math divides the microsecond metrics by
:data:`serving_constructs.units.MICROSECONDS_PER_MILLISECOND`, chosen from the table's unit, so a
millisecond metric is never divided), error and hit rates in percent, and GPU utilization per GPU
(divided by the instance type's GPU count from :mod:`model_build.hardware`). Thresholds are converted
in :mod:`serving_constructs.alarms`.

Why not cdk-monitoring-constructs (cdklabs, the maintained CDK monitoring library): its facade has
segments for about 40 services but none for SageMaker (its README's feature table and its
``lib/monitoring`` tree have no SageMaker endpoint monitoring), so it would contribute only the
dashboard frame, while every SageMaker-specific piece (metrics per mode, units, the per-GPU scale,
rate alarms, rollback wiring) would still be ours, behind a further jsii dependency. The segment
here follows its shape instead (widgets + opt-in alarms per resource, units in names).

No instance count: SageMaker publishes no instance-count metric for instance-based endpoints.
The "Instances (estimate)" widget derives one with metric math where the metrics allow it:
Invocations / InvocationsPerInstance (real-time, multi-model; only while requests arrive) and
ApproximateBacklogSize / ApproximateBacklogSizePerInstance (asynchronous; only while requests
are queued).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns

from constructs import Construct
from model_build.profile import SEED_LATENCY_TARGET_MS
from model_build.sagemaker_metrics import METRICS, MICROSECONDS, MILLISECONDS, ServingMode
from model_build.user_errors import did_you_mean
from serving_constructs._validation import (
    Problems,
    check_interface,
    check_positive,
    check_str,
    check_type,
    given,
    resolved,
)
from serving_constructs.alarms import AlarmPlan, RecommendedAlarms, check_alarms_prop, fraction_of_percent
from serving_constructs.units import MICROSECONDS_PER_MILLISECOND, milliseconds_to_microseconds

if TYPE_CHECKING:
    from serving_constructs.endpoint import EndpointBase

__all__ = ["DEFAULT_LATENCY_TARGET_MS", "EndpointMonitoring", "RecommendedAlarms", "ServingDashboard"]

DEFAULT_LATENCY_TARGET_MS = SEED_LATENCY_TARGET_MS
"""The p99 ModelLatency target the stacks use when no tuning profile gives one: seed 000's 500 ms.

A project default (the tuning benchmark's default criterion, ``model_build.profile.SEED_LATENCY_TARGET_MS``),
not an AWS figure. ``python -m tuning`` measures a model and writes its ``latency_target_ms`` into
the profile; pass that instead.
"""

PERIOD = Duration.minutes(1)
"""Every widget and alarm reads one-minute periods: SageMaker publishes its endpoint metrics every minute."""

_GRID_WIDTH = 24  # CloudWatch dashboards are 24 units wide
_GRAPH_HEIGHT = 6
_PERCENTILES = ("p50", "p90", "p99")
_MODE_TITLES = {
    ServingMode.REALTIME: "real-time",
    ServingMode.MULTI_MODEL: "multi-model",
    ServingMode.ASYNC: "asynchronous",
    ServingMode.SERVERLESS: "serverless",
}
_DASHBOARD_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_MAX_DASHBOARD_NAME = 255


def _math_id(metric_name: str, statistic: str) -> str:
    """Return a metric-math id (``^[a-z][a-zA-Z0-9_]*$``) for one metric and statistic."""
    return f"{metric_name.lower()}_{statistic.lower()}"


@dataclass(frozen=True)
class _Graph:
    """One graph widget before its row decides its width."""

    title: str
    metrics: tuple[cloudwatch.IMetric, ...]
    axis_label: str
    annotations: tuple[cloudwatch.HorizontalAnnotation, ...] = ()

    def widget(self, width: int) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(
            title=self.title,
            left=list(self.metrics),
            left_y_axis=cloudwatch.YAxisProps(label=self.axis_label, min=0, show_units=False),
            left_annotations=list(self.annotations) or None,
            width=width,
            height=_GRAPH_HEIGHT,
        )


@dataclass(frozen=True)
class _Target:
    """What the segment reads from the endpoint: its mode, variant and hardware."""

    mode: ServingMode
    variant_name: str
    instance_type: str | None  # None for a serverless variant or an unresolved token
    gpu_count: int | None  # 0 on CPU types; None when unknown


class EndpointMonitoring(Construct):
    """The widgets, and opt-in alarms, that fit one endpoint's serving mode: a dashboard segment.

    Real-time: invocations and 4xx/5xx sums, 4xx/5xx/model-error rates (%), an instance estimate,
    ModelLatency and OverheadLatency p50/p90/p99 in milliseconds, CPU, memory, disk and (on GPU
    types) GPU and GPU-memory utilization per GPU. Multi-model adds loaded models per instance,
    the cache-hit ratio (%), model download/load/wait/unload times (ms) and unload counts.
    Asynchronous adds the backlog and backlog per instance, the oldest request's age (s),
    HasBacklogWithoutCapacity, processed/failed/expired requests and the time in backlog; it has no
    Invocations or OverheadLatency (SageMaker does not publish them for asynchronous endpoints).
    Serverless has no instance widgets (SageMaker publishes no instance metrics for it) and adds
    cold starts (ModelSetupTime in ms and its count), the concurrency used (% of max_concurrency)
    and, with provisioned concurrency, its utilization and the provisioned vs spillover
    invocations. Its alarms are the real-time ones that apply (5xx rate, p99 latency); none is
    added on the serverless metrics: a threshold there would be a guess, not a fact.

    Args:
        scope: the parent construct.
        id: the construct id.
        endpoint: the endpoint to monitor (its ``serving_modes`` chooses the widgets and alarms).
        variant_name: the production variant to monitor. Defaults to the endpoint's first variant;
            make one segment per variant to watch several.
        latency_target_ms: the p99 latency SLO in MILLISECONDS (a tuning profile's
            ``latency_target_ms``). Drawn on the latency widget and, with alarms, the threshold of
            the p99 ModelLatency alarm (converted to microseconds). Defaults to None: no target line
            and no latency alarm.
        alarms: True for the recommended alarms, a :class:`RecommendedAlarms` to change or leave
            out single ones. Defaults to False (widgets only).
        alarm_topic: the SNS topic every alarm notifies on ALARM and on OK. Defaults to none
            (the alarms change state and roll deployments back, but notify nobody).

    Attributes:
        widgets: the rows of widgets, the title row first.
        alarms: the alarms by stable key (``"Invocation5XXErrorRate"``, ``"ModelLatencyP99"``, ...).
        rollback_alarms: the alarms meant for deployment auto-rollback (error rates and latency).

    Raises:
        PropsError: every problem with the props, in one message.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint: EndpointBase,
        variant_name: str | None = None,
        latency_target_ms: float | None = None,
        alarms: RecommendedAlarms | bool = False,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        target = _validated_target(endpoint, variant_name, latency_target_ms, alarms, alarm_topic)
        super().__init__(scope, id)
        self.endpoint = endpoint
        self.variant_name = target.variant_name
        self.latency_target_ms = latency_target_ms
        self.mode = target.mode
        self._target = target
        settings = RecommendedAlarms() if alarms is True else (alarms or None)
        self._settings: RecommendedAlarms | None = (
            settings if isinstance(settings, RecommendedAlarms) else None
        )

        created: dict[str, cloudwatch.Alarm] = {}
        rollback: list[cloudwatch.IAlarm] = []
        for plan in self._alarm_plans():
            alarm = plan.create(self)
            if alarm_topic is not None:
                action = cloudwatch_actions.SnsAction(alarm_topic)
                alarm.add_alarm_action(action)
                alarm.add_ok_action(action)
            created[plan.key] = alarm
            if plan.rollback:
                rollback.append(alarm)
        self.alarms: Mapping[str, cloudwatch.Alarm] = created
        self.rollback_alarms: tuple[cloudwatch.IAlarm, ...] = tuple(rollback)
        self.widgets: list[list[cloudwatch.IWidget]] = self._rows()

    # --- metrics ---------------------------------------------------------------------------

    def _published(self, metric_name: str) -> bool:
        """Whether SageMaker publishes ``metric_name`` for this endpoint's mode (from the table)."""
        return self.mode in METRICS[metric_name].modes

    def _metric(
        self, metric_name: str, statistic: str | None = None, label: str | None = None
    ) -> cloudwatch.Metric:
        spec = METRICS[metric_name]
        variant = None if spec.dimensions.value == ("EndpointName",) else self.variant_name
        return self.endpoint.metric(
            metric_name,
            variant_name=variant,
            statistic=statistic or spec.statistic,
            period=PERIOD,
            label=label or spec.label,
        )

    def _milliseconds(self, metric_name: str, statistic: str | None = None) -> cloudwatch.IMetric:
        """Return ``metric_name`` in milliseconds: microsecond metrics go through metric math (/1000)."""
        spec = METRICS[metric_name]
        statistic = statistic or spec.statistic
        label = f"{metric_name} {statistic} (ms)"
        if spec.unit == MILLISECONDS:
            return self._metric(metric_name, statistic, label)
        if spec.unit != MICROSECONDS:  # pragma: no cover - a table change this module must follow
            raise AssertionError(f"{metric_name} is in {spec.unit}, not a time this widget converts")
        math_id = _math_id(metric_name, statistic)
        return cloudwatch.MathExpression(
            expression=f"{math_id} / {MICROSECONDS_PER_MILLISECOND}",
            using_metrics={math_id: self._metric(metric_name, statistic)},
            label=label,
            period=PERIOD,
        )

    def _percent_of_requests(self, metric_name: str, label: str) -> cloudwatch.IMetric:
        """Return the Average of a 0/1-per-request metric (the rate) as a percentage."""
        math_id = _math_id(metric_name, "average")
        return cloudwatch.MathExpression(
            expression=f"100 * {math_id}",
            using_metrics={math_id: self._metric(metric_name, "Average")},
            label=label,
            period=PERIOD,
        )

    def _per_gpu(self, metric_name: str) -> cloudwatch.IMetric:
        """Return a GPU utilization (SageMaker: 100 per GPU, summed) divided by the GPU count."""
        count = self._target.gpu_count
        assert count  # only called on GPU types with a known count
        math_id = _math_id(metric_name, "average")
        return cloudwatch.MathExpression(
            expression=f"{math_id} / {count}",
            using_metrics={math_id: self._metric(metric_name)},
            label=f"{metric_name} (% per GPU: reported / {count} GPUs)",
            period=PERIOD,
        )

    def _ratio(self, numerator: str, denominator: str, label: str) -> cloudwatch.IMetric:
        top, bottom = METRICS[numerator], METRICS[denominator]
        top_id, bottom_id = _math_id(numerator, top.statistic), _math_id(denominator, bottom.statistic)
        return cloudwatch.MathExpression(
            expression=f"{top_id} / {bottom_id}",
            using_metrics={top_id: self._metric(numerator), bottom_id: self._metric(denominator)},
            label=label,
            period=PERIOD,
        )

    @property
    def _has_gpu_metrics(self) -> bool:
        return bool(self._target.gpu_count)

    @property
    def _has_instance_metrics(self) -> bool:
        return self._target.instance_type is not None

    # --- alarms ----------------------------------------------------------------------------

    def _alarm_plans(self) -> list[AlarmPlan]:
        settings = self._settings
        if settings is None:
            return []
        plans: list[AlarmPlan] = []
        where = f"variant {self.variant_name} of endpoint {self.endpoint.node.path}"
        why_rate = (
            "Project default, derived from the AWS deployment-guardrail example (which alarms on "
            "Average > 1 of this 0/1-per-request metric and so can never fire): the Average is the "
            "fraction of requests, compared with a fraction below 1."
        )
        for key, metric_name, percent in (
            ("Invocation5XXErrorRate", "Invocation5XXErrors", settings.invocation_5xx_error_rate_percent),
            ("InvocationModelErrorRate", "InvocationModelErrors", settings.model_error_rate_percent),
        ):
            if percent is None or not self._published(metric_name):
                continue
            plans.append(
                AlarmPlan(
                    key=key,
                    metric=self._metric(metric_name, "Average", f"{metric_name} rate (fraction of requests)"),
                    threshold=fraction_of_percent(percent),
                    comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=3,
                    description=(
                        f"More than {percent:g} % of requests to {where} got {metric_name} for 3 "
                        f"consecutive minutes (threshold {fraction_of_percent(percent):g} as a fraction). "
                        f"{why_rate} Rolls a deployment back."
                    ),
                    rollback=True,
                )
            )
        if settings.model_latency_p99 and self.latency_target_ms is not None:
            threshold_microseconds = milliseconds_to_microseconds(self.latency_target_ms)
            plans.append(
                AlarmPlan(
                    key="ModelLatencyP99",
                    metric=self._metric("ModelLatency", "p99", "ModelLatency p99 (microseconds)"),
                    threshold=threshold_microseconds,
                    comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=3,
                    description=(
                        f"p99 ModelLatency of {where} above the {self.latency_target_ms:g} ms target "
                        f"({threshold_microseconds:g} microseconds: SageMaker publishes ModelLatency in "
                        "microseconds) for 3 consecutive minutes. The target is the tuning profile's "
                        "latency_target_ms (or the project default). Rolls a deployment back."
                    ),
                    rollback=True,
                )
            )
        if (
            settings.gpu_memory_utilization_percent_per_gpu is not None
            and self._has_gpu_metrics
            and self._published("GPUMemoryUtilization")
        ):
            percent = settings.gpu_memory_utilization_percent_per_gpu
            plans.append(
                AlarmPlan(
                    key="GPUMemoryUtilizationPerGPU",
                    metric=self._per_gpu("GPUMemoryUtilization"),
                    threshold=percent,
                    comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=5,
                    description=(
                        f"GPU memory of {where} above {percent:g} % per GPU for 5 minutes (SageMaker "
                        f"reports 100 per GPU; divided by the {self._target.gpu_count} GPUs of "
                        f"{self._target.instance_type}). Project default: the next model or a larger "
                        "batch may no longer fit."
                    ),
                )
            )
        if (
            settings.disk_utilization_percent is not None
            and self._has_instance_metrics
            and self._published("DiskUtilization")
        ):
            percent = settings.disk_utilization_percent
            plans.append(
                AlarmPlan(
                    key="DiskUtilization",
                    metric=self._metric("DiskUtilization", "Average", "DiskUtilization (%)"),
                    threshold=percent,
                    comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=5,
                    description=(
                        f"Disk of {where} above {percent:g} % for 5 minutes. Project default: model "
                        "archives are downloaded and unpacked on this disk."
                    ),
                )
            )
        if settings.oldest_request_age_seconds is not None and self._published(
            "ApproximateAgeOfOldestRequest"
        ):
            seconds = settings.oldest_request_age_seconds
            plans.append(
                AlarmPlan(
                    key="ApproximateAgeOfOldestRequestSeconds",
                    metric=self._metric(
                        "ApproximateAgeOfOldestRequest",
                        "Maximum",
                        "ApproximateAgeOfOldestRequest Maximum (seconds)",
                    ),
                    threshold=seconds,
                    comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=5,
                    description=(
                        f"The oldest queued request of {self.endpoint.node.path} older than {seconds:g} "
                        "seconds for 5 minutes: the queue is not draining. Project default (SageMaker's "
                        "default InvocationTimeoutSeconds is 900)."
                    ),
                )
            )
        if settings.backlog_without_capacity_minutes is not None and self._published(
            "HasBacklogWithoutCapacity"
        ):
            minutes = settings.backlog_without_capacity_minutes
            plans.append(
                AlarmPlan(
                    key="HasBacklogWithoutCapacity",
                    metric=self._metric(
                        "HasBacklogWithoutCapacity", "Average", "HasBacklogWithoutCapacity (1 = stuck)"
                    ),
                    threshold=1,
                    comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    evaluation_periods=minutes,
                    description=(
                        f"Requests queued at {self.endpoint.node.path} with no instance running for "
                        f"{minutes} consecutive minutes: scaling out from zero did not happen. Same "
                        "metric, statistic and threshold as AWS's scale-from-zero alarm, over a longer "
                        "window (project default)."
                    ),
                )
            )
        if settings.model_loading_wait_time_ms is not None and self._published("ModelLoadingWaitTime"):
            wait_ms = settings.model_loading_wait_time_ms
            wait_microseconds = milliseconds_to_microseconds(wait_ms)
            plans.append(
                AlarmPlan(
                    key="ModelLoadingWaitTime",
                    metric=self._metric(
                        "ModelLoadingWaitTime", "Average", "ModelLoadingWaitTime (microseconds)"
                    ),
                    threshold=wait_microseconds,
                    comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=5,
                    description=(
                        f"Requests to {where} waited on average more than {wait_ms:g} ms "
                        f"({wait_microseconds:g} microseconds, the metric's unit) for their model to load, "
                        "for 5 minutes: the instances keep evicting and reloading models. Project default."
                    ),
                )
            )
        if settings.model_cache_hit_ratio_percent is not None and self._published("ModelCacheHit"):
            percent = settings.model_cache_hit_ratio_percent
            plans.append(
                AlarmPlan(
                    key="ModelCacheHitRatio",
                    metric=self.endpoint.metric(
                        "ModelCacheHit",
                        variant_name=self.variant_name,
                        statistic="Average",
                        period=Duration.minutes(5),
                        label="ModelCacheHit ratio (fraction of requests)",
                    ),
                    threshold=fraction_of_percent(percent),
                    comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                    evaluation_periods=3,
                    description=(
                        f"Fewer than {percent:g} % of requests to {where} found their model loaded "
                        f"(Average of ModelCacheHit below {fraction_of_percent(percent):g}) over 15 minutes. "
                        "Project default: a low ratio means load waits on most requests."
                    ),
                )
            )
        return plans

    # --- widgets ---------------------------------------------------------------------------

    def _graph(
        self,
        title: str,
        metrics: Sequence[cloudwatch.IMetric],
        axis_label: str,
        annotations: Sequence[cloudwatch.HorizontalAnnotation] = (),
    ) -> _Graph:
        return _Graph(title, tuple(metrics), axis_label, tuple(annotations))

    def _annotation(self, key: str, value: float, label: str) -> list[cloudwatch.HorizontalAnnotation]:
        """Return a threshold line where the alarm ``key`` exists (``value`` in the widget's unit)."""
        if key not in self.alarms:
            return []
        return [cloudwatch.HorizontalAnnotation(value=value, label=label)]

    def _rows(self) -> list[list[cloudwatch.IWidget]]:
        graphs = [self._traffic_row(), self._latency_row()]
        if self.mode is ServingMode.MULTI_MODEL:
            graphs.append(self._multi_model_row())
        if self.mode is ServingMode.ASYNC:
            graphs.append(self._queue_row())
        if self.mode is ServingMode.SERVERLESS:
            graphs.append(self._serverless_row())
        if self._has_instance_metrics:
            graphs.append(self._instance_row())
        return [self._title_row()] + [
            [graph.widget(_GRID_WIDTH // len(row)) for graph in row] for row in graphs
        ]

    def _title_row(self) -> list[cloudwatch.IWidget]:
        hardware = self._target.instance_type or "serverless"
        if self._target.gpu_count:
            hardware += f", {self._target.gpu_count} GPU(s)"
        target = (
            "" if self.latency_target_ms is None else f" · p99 latency target {self.latency_target_ms:g} ms"
        )
        text = cloudwatch.TextWidget(
            markdown=(
                f"## {self.endpoint.node.path} ({_MODE_TITLES[self.mode]})\n"
                f"Endpoint `{self.endpoint.endpoint_name}` · variant `{self.variant_name}` · {hardware}{target}. "
                "Latencies in milliseconds, rates in % of requests, GPU figures per GPU."
            ),
            width=_GRID_WIDTH if not self.alarms else _GRID_WIDTH // 2,
            height=2,
        )
        if not self.alarms:
            return [text]
        status = cloudwatch.AlarmStatusWidget(
            alarms=list(self.alarms.values()), title="Alarms", width=_GRID_WIDTH // 2, height=2
        )
        return [text, status]

    def _traffic_row(self) -> list[_Graph]:
        widgets: list[_Graph] = []
        if self._published("Invocations"):
            counts = [
                self._metric(name, "Sum", f"{name} (Sum)")
                for name in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors")
            ]
            widgets.append(self._graph("Invocations and errors (count per minute)", counts, "count"))
        else:
            counts = [
                self._metric(name, "Sum", f"{name} (Sum)")
                for name in (
                    "InvocationsProcessed",
                    "InvocationFailures",
                    "ExpiredRequests",
                    "Invocation4XXErrors",
                    "Invocation5XXErrors",
                )
            ]
            widgets.append(
                self._graph("Processed, failed, expired and errors (count per minute)", counts, "count")
            )
        rates = [
            self._percent_of_requests(name, f"{name} rate (%)")
            for name in ("Invocation4XXErrors", "Invocation5XXErrors", "InvocationModelErrors")
            if self._published(name)
        ]
        settings = self._settings
        annotations = []
        if settings is not None and settings.invocation_5xx_error_rate_percent is not None:
            annotations = self._annotation(
                "Invocation5XXErrorRate", settings.invocation_5xx_error_rate_percent, "5xx alarm"
            )
        widgets.append(self._graph("Error rates (% of requests)", rates, "%", annotations))
        if not self._has_instance_metrics and not self._published("ApproximateBacklogSize"):
            return widgets  # serverless: no instances to estimate
        if self._published("InvocationsPerInstance"):
            instances = self._ratio(
                "Invocations", "InvocationsPerInstance", "instances ≈ Invocations / InvocationsPerInstance"
            )
            note = "while requests arrive"
        else:
            instances = self._ratio(
                "ApproximateBacklogSize",
                "ApproximateBacklogSizePerInstance",
                "instances ≈ ApproximateBacklogSize / ApproximateBacklogSizePerInstance",
            )
            note = "while requests are queued"
        widgets.append(
            self._graph(
                f"Instances (estimate {note}: SageMaker publishes no instance count)",
                [instances],
                "instances",
            )
        )
        return widgets

    def _latency_row(self) -> list[_Graph]:
        target = (
            []
            if self.latency_target_ms is None
            else [cloudwatch.HorizontalAnnotation(value=self.latency_target_ms, label="p99 target")]
        )
        widgets: list[_Graph] = [
            self._graph(
                "ModelLatency p50/p90/p99 (milliseconds)",
                [self._milliseconds("ModelLatency", stat) for stat in _PERCENTILES],
                "ms",
                target,
            )
        ]
        if self._published("OverheadLatency"):
            widgets.append(
                self._graph(
                    "OverheadLatency p50/p90/p99 (milliseconds)",
                    [self._milliseconds("OverheadLatency", stat) for stat in _PERCENTILES],
                    "ms",
                )
            )
        if self._published("TimeInBacklog"):
            widgets.append(
                self._graph(
                    "Time in backlog and total processing (milliseconds; TimeInBacklog's unit unconfirmed)",
                    [self._milliseconds("TimeInBacklog"), self._milliseconds("TotalProcessingTime")],
                    "ms",
                )
            )
        return widgets

    def _multi_model_row(self) -> list[_Graph]:
        settings = self._settings
        hit_line: list[cloudwatch.HorizontalAnnotation] = []
        wait_line: list[cloudwatch.HorizontalAnnotation] = []
        if settings is not None and settings.model_cache_hit_ratio_percent is not None:
            hit_line = self._annotation(
                "ModelCacheHitRatio", settings.model_cache_hit_ratio_percent, "alarm below"
            )
        if settings is not None and settings.model_loading_wait_time_ms is not None:
            wait_line = self._annotation(
                "ModelLoadingWaitTime", settings.model_loading_wait_time_ms, "wait alarm"
            )
        return [
            self._graph(
                "Loaded models per instance",
                [self._metric("LoadedModelCount", "Average", "LoadedModelCount (Average per instance)")],
                "models",
            ),
            self._graph(
                "Model cache hit ratio (% of requests)",
                [self._percent_of_requests("ModelCacheHit", "ModelCacheHit ratio (%)")],
                "%",
                hit_line,
            ),
            self._graph(
                "Model download / load / wait / unload time (milliseconds)",
                [
                    self._milliseconds(name)
                    for name in (
                        "ModelDownloadingTime",
                        "ModelLoadingTime",
                        "ModelLoadingWaitTime",
                        "ModelUnloadingTime",
                    )
                ],
                "ms",
                wait_line,
            ),
            self._graph(
                "Model unloads (count per minute: many means thrashing)",
                [
                    self._metric(
                        "ModelUnloadingTime", "SampleCount", "model unloads (ModelUnloadingTime SampleCount)"
                    )
                ],
                "count",
            ),
        ]

    def _queue_row(self) -> list[_Graph]:
        settings = self._settings
        age_line: list[cloudwatch.HorizontalAnnotation] = []
        if settings is not None and settings.oldest_request_age_seconds is not None:
            age_line = self._annotation(
                "ApproximateAgeOfOldestRequestSeconds", settings.oldest_request_age_seconds, "age alarm"
            )
        return [
            self._graph(
                "Backlog (requests queued or in progress)",
                [self._metric("ApproximateBacklogSize"), self._metric("ApproximateBacklogSizePerInstance")],
                "requests",
            ),
            self._graph(
                "Age of the oldest request (seconds)",
                [
                    self._metric(
                        "ApproximateAgeOfOldestRequest",
                        "Maximum",
                        "ApproximateAgeOfOldestRequest Maximum (seconds)",
                    )
                ],
                "s",
                age_line,
            ),
            self._graph(
                "HasBacklogWithoutCapacity (1 = requests queued, no instance)",
                [self._metric("HasBacklogWithoutCapacity", "Maximum", "HasBacklogWithoutCapacity (Maximum)")],
                "0 or 1",
            ),
        ]

    def _serverless_row(self) -> list[_Graph]:
        widgets = [
            self._graph(
                "Cold starts: ModelSetupTime Average/Maximum (milliseconds)",
                [
                    self._milliseconds("ModelSetupTime", "Average"),
                    self._milliseconds("ModelSetupTime", "Maximum"),
                ],
                "ms",
            ),
            self._graph(
                "Cold starts (count per minute: ModelSetupTime SampleCount)",
                [self._metric("ModelSetupTime", "SampleCount", "cold starts (ModelSetupTime SampleCount)")],
                "count",
            ),
            self._graph(
                "Concurrency used (% of max_concurrency; at 100 % requests are throttled)",
                [self._fraction_as_percent("ServerlessConcurrentExecutionsUtilization", "Maximum")],
                "%",
            ),
        ]
        variant = next(v for v in self.endpoint.variants if v.variant_name == self.variant_name)
        if getattr(variant, "provisioned_concurrency", None) is not None:
            widgets.append(
                self._graph(
                    "Provisioned concurrency utilization (%)",
                    [self._fraction_as_percent("ServerlessProvisionedConcurrencyUtilization", "Average")],
                    "%",
                )
            )
            widgets.append(
                self._graph(
                    "Provisioned vs spillover invocations (count per minute; spillover may cold start)",
                    [
                        self._metric(name, "Sum", f"{name} (Sum)")
                        for name in (
                            "ServerlessProvisionedConcurrencyInvocations",
                            "ServerlessProvisionedConcurrencySpilloverInvocations",
                        )
                    ],
                    "count",
                )
            )
        return widgets

    def _fraction_as_percent(self, metric_name: str, statistic: str) -> cloudwatch.IMetric:
        """Return a 0-1 utilization metric as a percentage."""
        math_id = _math_id(metric_name, statistic)
        return cloudwatch.MathExpression(
            expression=f"100 * {math_id}",
            using_metrics={math_id: self._metric(metric_name, statistic)},
            label=f"{metric_name} {statistic} (%)",
            period=PERIOD,
        )

    def _instance_row(self) -> list[_Graph]:
        settings = self._settings
        widgets: list[_Graph] = [
            self._graph(
                "CPU utilization (%; 100 per vCPU, so up to 100 x vCPUs)",
                [self._metric("CPUUtilization", "Average", "CPUUtilization (% summed over vCPUs)")],
                "% x vCPUs",
            ),
        ]
        disk_line: list[cloudwatch.HorizontalAnnotation] = []
        if settings is not None and settings.disk_utilization_percent is not None:
            disk_line = self._annotation("DiskUtilization", settings.disk_utilization_percent, "disk alarm")
        widgets.append(
            self._graph(
                "Memory and disk utilization (%)",
                [
                    self._metric("MemoryUtilization", "Average", "MemoryUtilization (%)"),
                    self._metric("DiskUtilization", "Average", "DiskUtilization (%)"),
                ],
                "%",
                disk_line,
            )
        )
        if self._has_gpu_metrics:
            gpu_line: list[cloudwatch.HorizontalAnnotation] = []
            if settings is not None and settings.gpu_memory_utilization_percent_per_gpu is not None:
                gpu_line = self._annotation(
                    "GPUMemoryUtilizationPerGPU",
                    settings.gpu_memory_utilization_percent_per_gpu,
                    "GPU memory alarm",
                )
            widgets.append(
                self._graph(
                    f"GPU and GPU memory utilization (% per GPU; {self._target.gpu_count} GPU(s) per instance)",
                    [self._per_gpu("GPUUtilization"), self._per_gpu("GPUMemoryUtilization")],
                    "% per GPU",
                    gpu_line,
                )
            )
        return widgets


def _validated_target(
    endpoint: Any, variant_name: Any, latency_target_ms: Any, alarms: Any, alarm_topic: Any
) -> _Target:
    """Check every prop and return what the segment reads from the endpoint; raise one PropsError."""
    from serving_constructs.endpoint import EndpointBase

    problems = Problems("EndpointMonitoring")
    problems.extend(
        check_type(
            "endpoint",
            endpoint,
            EndpointBase,
            "pass an endpoint this app creates (RealtimeEndpoint, MultiModelEndpoint, AsyncEndpoint or "
            "ServerlessEndpoint); "
            "an imported endpoint has no known serving mode or instance type",
        )
    )
    problems.extend(check_str("variant_name", variant_name, optional=True, example=" such as 'AllTraffic'"))
    problems.extend(
        [
            problem
            if " — " in problem
            else f"{problem} — pass the p99 target in milliseconds, e.g. "
            f"{DEFAULT_LATENCY_TARGET_MS:g} (a tuning profile's latency_target_ms), or None for no latency alarm"
            for problem in check_positive("latency_target_ms", latency_target_ms, optional=True)
        ]
    )
    problems.extend(check_alarms_prop(alarms))
    problems.extend(
        check_interface(
            "alarm_topic",
            alarm_topic,
            "sns.ITopic",
            "topic_arn",
            "pass sns.Topic(...) or sns.Topic.from_topic_arn(...), or None for no notifications",
            optional=True,
        )
    )
    target = None
    if isinstance(endpoint, EndpointBase):
        modes = sorted(endpoint.serving_modes, key=lambda mode: mode.value)
        names = endpoint.variant_names
        chosen = names[0] if variant_name is None and names else variant_name
        if not names:
            problems.add(
                f"endpoint {endpoint.node.path} has no production variants yet — add one before monitoring it"
            )
        elif isinstance(chosen, str) and resolved(chosen) and chosen not in names:
            problems.add(
                f"variant_name {chosen!r} is not a variant of {endpoint.node.path} (it has "
                f"{', '.join(repr(n) for n in names)}){did_you_mean(chosen, names)} — pass one of them, or "
                "omit variant_name for the first"
            )
        if len(modes) != 1:
            problems.add(
                f"endpoint {endpoint.node.path} ({type(endpoint).__name__}) publishes the metrics of "
                f"{len(modes)} serving modes — EndpointMonitoring needs an endpoint kind with one"
            )
        elif isinstance(chosen, str) and chosen in names:
            variant = next(v for v in endpoint.variants if v.variant_name == chosen)
            instance = getattr(variant, "instance_type", None)
            instance_type = instance.name if instance is not None and instance.resolved else None
            gpu_count = None if instance is None else instance.gpu_count
            target = _Target(modes[0], chosen, instance_type, gpu_count)
    problems.raise_if_any()
    assert target is not None
    return target


class ServingDashboard(Construct):
    """One CloudWatch dashboard with one or several endpoint segments, each under its title row.

    Args:
        scope: the parent construct.
        id: the construct id.
        dashboard_name: the dashboard's name (letters, digits, ``-`` and ``_``, at most 255).
            Defaults to a name CloudFormation generates.
        segments: the segments to show, top to bottom. Defaults to none; add them with
            :meth:`add_segment`.

    Attributes:
        dashboard: the ``cloudwatch.Dashboard``.
        segments: the segments, in the order added.

    Raises:
        PropsError: every problem with the props, in one message.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        dashboard_name: str | None = None,
        segments: Sequence[EndpointMonitoring] = (),
    ) -> None:
        problems = Problems("ServingDashboard")
        problems.extend(
            check_str("dashboard_name", dashboard_name, optional=True, example=" such as 'Serving'")
        )
        if isinstance(dashboard_name, str) and dashboard_name and resolved(dashboard_name):
            bad = sorted(set(dashboard_name) - _DASHBOARD_NAME_CHARS)
            if bad or len(dashboard_name) > _MAX_DASHBOARD_NAME:
                problems.add(
                    f"dashboard_name {dashboard_name!r} must be at most {_MAX_DASHBOARD_NAME} letters, digits, "
                    f"'-' or '_' (got {len(dashboard_name)} characters"
                    + (f", with {''.join(bad)!r}" if bad else "")
                    + ") — use e.g. "
                    + repr(
                        "".join(c if c in _DASHBOARD_NAME_CHARS else "-" for c in dashboard_name)[
                            :_MAX_DASHBOARD_NAME
                        ]
                    )
                )
        if isinstance(segments, str) or not isinstance(segments, Sequence):
            problems.add(
                f"segments must be a list of EndpointMonitoring (got {given(segments)}) — pass "
                "[endpoint.add_monitoring()] or [EndpointMonitoring(self, 'Monitoring', endpoint=endpoint)]"
            )
            segments = ()
        for index, segment in enumerate(segments):
            problems.extend(_segment_problems(f"segments[{index}]", segment))
        problems.raise_if_any()
        super().__init__(scope, id)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Resource",
            dashboard_name=dashboard_name,
            default_interval=Duration.hours(3),
        )
        self.segments: list[EndpointMonitoring] = []
        for segment in segments:
            self.add_segment(segment)

    def add_segment(self, segment: EndpointMonitoring) -> None:
        """Add one endpoint's rows below the ones already there.

        Raises:
            PropsError: ``segment`` is not an EndpointMonitoring, or is on the dashboard already.
        """
        problems = Problems("ServingDashboard.add_segment")
        problems.extend(_segment_problems("segment", segment))
        if any(existing is segment for existing in self.segments):
            problems.add(
                f"segment {segment.node.path} is on dashboard {self.node.path} already — add each segment once"
            )
        problems.raise_if_any()
        self.segments.append(segment)
        for row in segment.widgets:
            self.dashboard.add_widgets(*row)


def _segment_problems(name: str, segment: Any) -> list[str]:
    return check_type(
        name,
        segment,
        EndpointMonitoring,
        "pass endpoint.add_monitoring(...) or EndpointMonitoring(self, 'Monitoring', endpoint=endpoint)",
    )


_MONITORING_PROPS = ("variant_name", "latency_target_ms", "alarms", "alarm_topic")
_DASHBOARD_PROPS = ("dashboard_name", "segments")


def _unknown_props(method: str, props: Mapping[str, Any], allowed: Sequence[str]) -> None:
    problems = Problems(method)
    for key in props:
        if key not in allowed:
            problems.add(
                f"{key} is not a prop of {method}{did_you_mean(key, allowed)} — use {', '.join(allowed)}"
            )
    problems.raise_if_any()


def _next_child_id(scope: Construct, base: str) -> str:
    """Return ``base``, or ``base2``, ``base3`` ... when ``scope`` has that child already."""
    index, name = 1, base
    while scope.node.try_find_child(name) is not None:
        index += 1
        name = f"{base}{index}"
    return name


def add_monitoring(endpoint: EndpointBase, **props: Any) -> EndpointMonitoring:
    """Implement ``EndpointBase.add_monitoring``: a segment under the endpoint, its rollback alarms wired.

    Raises:
        PropsError: an unknown prop, or every problem with the ``EndpointMonitoring`` props.
    """
    _unknown_props("add_monitoring", props, _MONITORING_PROPS)
    segment = EndpointMonitoring(endpoint, _next_child_id(endpoint, "Monitoring"), endpoint=endpoint, **props)
    for alarm in segment.rollback_alarms:
        endpoint.add_rollback_alarm(alarm)
    return segment


def add_dashboard(endpoint: EndpointBase, **props: Any) -> ServingDashboard:
    """Implement ``EndpointBase.add_dashboard``: the endpoint's segments (or a new one) on a dashboard.

    Raises:
        PropsError: an unknown prop, or every problem with the ``ServingDashboard`` props.
    """
    _unknown_props("add_dashboard", props, _DASHBOARD_PROPS)
    if "segments" not in props:
        segments = [child for child in endpoint.node.children if isinstance(child, EndpointMonitoring)]
        props["segments"] = segments or [add_monitoring(endpoint)]
    return ServingDashboard(endpoint, _next_child_id(endpoint, "Dashboard"), **props)
