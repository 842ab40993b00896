"""SageMaker endpoint metrics as facts: one table of namespace, dimension set, unit and default statistic.

The one table of what SageMaker publishes. It lives in the lowest layer because two sides read it:
the constructs (``serving_constructs.metrics`` turns a row into a ``cloudwatch.Metric``: the
``metric_*`` helpers, scaling policies, dashboards and alarms) and the local rehearsal (whose data
plane publishes the same metrics to the emulator's CloudWatch with ``PutMetricData``). A namespace,
dimension set or unit is written here once. :data:`METRICS` also says which serving modes publish
each metric.

Sources (SageMaker Developer Guide):

* real-time invocation and instance metrics, and their units: "Amazon SageMaker AI metrics in
  Amazon CloudWatch", https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html ;
* multi-model metrics (per variant, never per model): "CloudWatch Metrics for Multi-Model Endpoint
  Deployments", https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-endpoint-cloudwatch-metrics.html ;
* serverless metrics: "Alarms and logs for tracking metrics from serverless endpoints",
  https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-monitoring.html . Its list is
  exhaustive: the common ``Invocations``, ``Invocation4XXErrors``, ``Invocation5XXErrors``,
  ``ModelLatency``, ``OverheadLatency`` (which includes the cold start), ``ModelSetupTime`` and
  ``MemoryUtilization``; ``ServerlessConcurrentExecutionsUtilization``; and, with provisioned
  concurrency, the ``ServerlessProvisionedConcurrency*`` metrics. No CPU, GPU or disk metrics, no
  ``InvocationsPerInstance``. ``MemoryUtilization`` is left out of the serverless rows here: the page
  does not say its namespace for serverless endpoints (this table's row is the instance
  namespace), so a serverless dashboard would read a metric that may not exist there;
* asynchronous metrics: "Monitoring asynchronous endpoints", https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-monitor.html .
  The page lists the metrics asynchronous endpoints publish ("exhaustive"; no Invocations,
  InvocationsPerInstance or OverheadLatency). The four queue metrics carry the ``EndpointName``
  dimension only; the others carry ``EndpointName`` and ``VariantName``;
* units: latencies are **microseconds** (see :mod:`serving_constructs.units`); utilizations are
  percent where 100 is one vCPU or one GPU, so a 4-GPU instance reports up to 400.

The constructs use the unit as documentation (and a dashboard's axis label); they do not set it on
the CloudWatch metric, because a ``unit`` there filters datapoints by unit, which CloudWatch advises
against. The rehearsal sends it with every datapoint, as SageMaker does.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

# CloudWatch unit names (the ``Unit`` of ``PutMetricData`` and the values of ``cloudwatch.Unit``).
MICROSECONDS = "Microseconds"
MILLISECONDS = "Milliseconds"
SECONDS = "Seconds"
COUNT = "Count"
PERCENT = "Percent"
NONE = "None"

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
    SERVERLESS = "serverless"


ALL_MODES = frozenset(ServingMode)
_SYNC = frozenset({ServingMode.REALTIME, ServingMode.MULTI_MODEL})
_INSTANCES = frozenset({ServingMode.REALTIME, ServingMode.MULTI_MODEL, ServingMode.ASYNC})
"""The modes that run on instances (and so publish instance metrics: CPU, memory, GPU, disk)."""
_INVOKED = _SYNC | {ServingMode.SERVERLESS}
"""The modes answering InvokeEndpoint synchronously (Invocations, OverheadLatency)."""


@dataclass(frozen=True)
class MetricSpec:
    """What one SageMaker endpoint metric is.

    Attributes:
        name: the CloudWatch metric name.
        namespace: its namespace.
        dimensions: the dimension set it is published with.
        unit: the CloudWatch unit name of its datapoints (``"Microseconds"``, ``"Count"``, ...; for
            labels, thresholds and the rehearsal's ``PutMetricData``; see the module docstring).
        statistic: the default statistic (Sum for counts, Average for latencies and utilizations).
        modes: the serving modes that publish it.
        description: one line for docs and dashboards.
    """

    name: str
    namespace: str
    dimensions: Dimensions
    unit: str
    statistic: str
    modes: frozenset[ServingMode]
    description: str

    @property
    def label(self) -> str:
        """The default label, with the unit where it matters: ``"ModelLatency (microseconds)"``."""
        if self.unit in (MICROSECONDS, MILLISECONDS, SECONDS):
            return f"{self.name} ({self.unit.lower()})"
        return self.name


def _spec(
    name: str,
    namespace: str,
    unit: str,
    statistic: str,
    modes: frozenset[ServingMode],
    description: str,
    dimensions: Dimensions = Dimensions.VARIANT,
) -> MetricSpec:
    return MetricSpec(name, namespace, dimensions, unit, statistic, modes, description)


_US = MICROSECONDS
_COUNT = COUNT
_PERCENT = PERCENT
_NONE = NONE
_ASYNC = frozenset({ServingMode.ASYNC})
_MME = frozenset({ServingMode.MULTI_MODEL})
_SERVERLESS = frozenset({ServingMode.SERVERLESS})

METRICS: Mapping[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        # Invocation metrics (AWS/SageMaker). Async endpoints publish no Invocations,
        # InvocationsPerInstance or OverheadLatency (async-inference-monitor page, above).
        _spec("Invocations", INVOCATION_NAMESPACE, _COUNT, "Sum", _INVOKED, "requests sent to the variant"),
        _spec("InvocationsPerInstance", INVOCATION_NAMESPACE, _COUNT, "Sum", _SYNC,
              "requests per instance (what invocation scaling tracks)"),
        _spec("Invocation4XXErrors", INVOCATION_NAMESPACE, _COUNT, "Sum", ALL_MODES,
              "requests answered with a 4xx status (0/1 per request: Average is the rate)"),
        _spec("Invocation5XXErrors", INVOCATION_NAMESPACE, _COUNT, "Sum", ALL_MODES,
              "requests answered with a 5xx status (0/1 per request: Average is the rate)"),
        _spec("InvocationModelErrors", INVOCATION_NAMESPACE, _COUNT, "Sum", _SYNC,
              "requests whose model container answered with an error"),
        _spec("ModelLatency", INVOCATION_NAMESPACE, _US, "Average", ALL_MODES,
              "time the model container took to respond, in microseconds"),
        _spec("OverheadLatency", INVOCATION_NAMESPACE, _US, "Average", _INVOKED,
              "SageMaker's own time per request (total minus ModelLatency; on serverless it includes "
              "cold starts), in microseconds"),
        # Instance metrics (/aws/sagemaker/Endpoints): 100 per vCPU / per GPU.
        _spec("CPUUtilization", INSTANCE_NAMESPACE, _PERCENT, "Average", _INSTANCES,
              "CPU utilization, 0-100 x vCPUs"),
        _spec("MemoryUtilization", INSTANCE_NAMESPACE, _PERCENT, "Average", _INSTANCES, "memory utilization"),
        _spec("GPUUtilization", INSTANCE_NAMESPACE, _PERCENT, "Average", _INSTANCES,
              "GPU utilization, 0-100 x GPUs"),
        _spec("GPUMemoryUtilization", INSTANCE_NAMESPACE, _PERCENT, "Average", _INSTANCES,
              "GPU memory utilization, 0-100 x GPUs"),
        _spec("DiskUtilization", INSTANCE_NAMESPACE, _PERCENT, "Average", _INSTANCES, "disk utilization"),
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
        _spec("ApproximateAgeOfOldestRequest", INVOCATION_NAMESPACE, SECONDS, "Average", _ASYNC,
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
        _spec("TimeInBacklog", INVOCATION_NAMESPACE, MILLISECONDS, "Average", _ASYNC,
              "time a request spent queued, in milliseconds (unit unconfirmed)"),
        _spec("TotalProcessingTime", INVOCATION_NAMESPACE, MILLISECONDS, "Average", _ASYNC,
              "time from queueing to the response written to S3, in milliseconds"),
        _spec("ExpiredRequests", INVOCATION_NAMESPACE, _COUNT, "Sum", _ASYNC,
              "requests dropped after their RequestTTLSeconds"),
        _spec("NotificationFailures", INVOCATION_NAMESPACE, _COUNT, "Sum", _ASYNC,
              "SNS notifications that could not be published"),
        # Serverless endpoints (serverless-endpoints-monitoring page, above).
        _spec("ModelSetupTime", INVOCATION_NAMESPACE, _US, "Average", _SERVERLESS,
              "time to launch new compute for a request (a cold start), in microseconds; "
              "SampleCount counts cold starts"),
        _spec("ServerlessConcurrentExecutionsUtilization", INVOCATION_NAMESPACE, _NONE, "Average", _SERVERLESS,
              "concurrent executions divided by MaxConcurrency (0-1; at 1 further requests are throttled)"),
        _spec("ServerlessProvisionedConcurrencyExecutions", INVOCATION_NAMESPACE, _COUNT, "Maximum", _SERVERLESS,
              "concurrent executions served by provisioned concurrency"),
        _spec("ServerlessProvisionedConcurrencyUtilization", INVOCATION_NAMESPACE, _NONE, "Average", _SERVERLESS,
              "provisioned-concurrency executions divided by the provisioned concurrency (0-1; what "
              "provisioned-concurrency scaling tracks)"),
        _spec("ServerlessProvisionedConcurrencyInvocations", INVOCATION_NAMESPACE, _COUNT, "Sum", _SERVERLESS,
              "requests served by provisioned concurrency"),
        _spec("ServerlessProvisionedConcurrencySpilloverInvocations", INVOCATION_NAMESPACE, _COUNT, "Sum",
              _SERVERLESS, "requests beyond the provisioned concurrency, served on demand (may cold start)"),
    )
}  # fmt: skip
"""Every SageMaker endpoint metric the constructs know, by name."""
