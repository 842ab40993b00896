"""SageMaker's endpoint metrics, published by the local data plane to the emulator's CloudWatch.

SageMaker publishes its endpoint metrics to CloudWatch; the dashboards and alarms a stack defines
read them. Locally the data plane observes the same events (an invocation, its container's answer,
a model loaded, a request queued) and puts what it saw with ``PutMetricData`` to the control plane
(moto), with the namespace, dimensions and unit of :data:`model_build.sagemaker_metrics.METRICS`
(never re-typed here). A dashboard and its alarms can then be read back in the rehearsal:
:func:`referenced_metrics` lists what a synthesized template's dashboards and alarms use,
:func:`missing_metrics` asks CloudWatch for each, and :func:`verify_metrics` says in plain words
which return no data: the check that catches an alarm whose metric is never published (a wrong
dimension set, a misspelled name) before it is deployed to AWS.

**How it is published.** :class:`MetricsPublisher` aggregates what is recorded into one statistic
set (SampleCount, Sum, Minimum, Maximum) per metric and dimension set, and a background thread puts
the sets every ``interval_s`` (10 s by default; SageMaker aggregates per minute, CloudWatch
aggregates further by the period a reader asks for), and once more at stop. Recording takes a lock
and adds to a dictionary: invocation latency does not wait for CloudWatch. A failed ``PutMetricData``
drops that batch, is logged once (then at debug level) and counted in ``failures``; it never fails
an invocation.

**Published, and what each value measures here:**

* every mode, per variant (``EndpointName`` + ``VariantName``):
  ``Invocation4XXErrors`` / ``Invocation5XXErrors`` (0 or 1 per request: the model container's
  status, ``OriginalStatusCode``, for a ``ModelError``; otherwise the status the caller got, for a
  request refused after its variant was chosen), ``ModelLatency`` (microseconds from sending the
  request to the container to its whole answer; for an asynchronous request the input is streamed
  from S3 during it);
* real-time and multi-model: ``Invocations`` (1 per request that reached a variant),
  ``InvocationsPerInstance`` (1 / the variant's ``CurrentInstanceCount`` per request),
  ``InvocationModelErrors`` (0 or 1 per request: 1 when the answer is a ``ModelError``),
  ``OverheadLatency`` (microseconds from receiving the request to answering it, less
  ``ModelLatency``; requests the container never answered have no latency);
* multi-model: ``ModelCacheHit`` (0 or 1 per request: whether its TargetModel was loaded),
  ``ModelLoadingWaitTime`` (per cache miss, how long the request waited for download and load),
  ``ModelDownloadingTime`` (download from S3, extraction and the local twin of the archive),
  ``ModelLoadingTime`` (Triton's ``POST /models``), ``ModelUnloadingTime`` (Triton's unload of a
  least recently used model), all in microseconds, and ``LoadedModelCount`` (models Triton holds,
  sampled every interval; ``/aws/sagemaker/Endpoints``);
* asynchronous: ``ApproximateBacklogSize``, ``ApproximateBacklogSizePerInstance``,
  ``ApproximateAgeOfOldestRequest`` (seconds) and ``HasBacklogWithoutCapacity``, with
  ``EndpointName`` only, sampled every interval (and ``HasBacklogWithoutCapacity`` at once when
  it changes); ``InvocationsProcessed``, ``InvocationFailures``, ``ExpiredRequests``,
  ``NotificationFailures`` (what happened during the interval, 0 included, per variant that has
  seen a request); ``TimeInBacklog`` and ``TotalProcessingTime`` (milliseconds, per request);
* serverless (:mod:`~rehearsal.data_plane.serverless`): ``ModelSetupTime`` (microseconds per cold
  start: artifact download and extraction, the local repository and Triton ready; the request that
  waited for it has the cold start in its ``OverheadLatency``), ``ServerlessConcurrentExecutionsUtilization``
  (per admitted request, the invocations in flight with it divided by ``MaxConcurrency``) and, with
  provisioned concurrency, ``ServerlessProvisionedConcurrencyExecutions``/``...Utilization`` (per
  admitted request, its executions within the provisioned concurrency, and that share of it) and
  ``ServerlessProvisionedConcurrencyInvocations``/``...SpilloverInvocations`` (0 or 1 per admitted
  request); no ``InvocationsPerInstance``, ``InvocationModelErrors`` or instance metrics;
* instance metrics (``/aws/sagemaker/Endpoints``), per instance-based variant whose Triton runs, sampled every
  interval: ``CPUUtilization`` (CPU time of the Triton process and its children, such as the
  python backend's stubs, per wall time, 100 per core: psutil's ``cpu_percent`` since the previous
  sample, or the average since the process started on its first sample, so a server that runs
  less than one interval is measured too), ``MemoryUtilization`` (their resident memory as a percentage of this
  machine's memory) and ``DiskUtilization`` (the used share of the file system holding the
  variant's work folder: shared with everything else on that file system).

**Not published, and why:** ``GPUUtilization`` and ``GPUMemoryUtilization`` (the local Triton
serves every model through its python backend on the CPU: there is no GPU work to measure; a
number would be invented), ``RequestDownloadFailures``/``ResponseUploadFailures`` and the
``*Latency`` of the asynchronous S3 transfers (counted in the data plane's summary but not in the
table of :mod:`model_build.sagemaker_metrics`). :data:`NOT_OBSERVABLE` names them
with the reason, and :func:`verify_metrics` reports a reference to one of them as not observable
here rather than as missing.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from model_build.sagemaker_metrics import (
    METRICS,
    MICROSECONDS,
    MILLISECONDS,
    SECONDS,
    Dimensions,
    MetricSpec,
    ServingMode,
)

log = logging.getLogger(__name__)

#: Seconds between two publishes (SageMaker aggregates per minute; locally sooner, to see it sooner).
DEFAULT_METRICS_INTERVAL_S = 10.0
#: Items per ``PutMetricData`` call (CloudWatch takes 1000; moto answers small batches fastest).
_BATCH = 20

_GPU_REASON = (
    "the local Triton serves every model through its python backend on the CPU, so there is no GPU work to measure"
)
#: Metrics of :data:`METRICS` the local data plane cannot observe, with the reason.
NOT_OBSERVABLE: Mapping[str, str] = {
    "GPUUtilization": _GPU_REASON,
    "GPUMemoryUtilization": _GPU_REASON,
}

# Seconds → the unit a metric is published in (the unit comes from METRICS).
_PER_SECOND = {MICROSECONDS: 1e6, MILLISECONDS: 1e3, SECONDS: 1.0}


def spec_of(metric_name: str) -> MetricSpec:
    """Return the table's row for ``metric_name`` (``KeyError`` names the unknown metric)."""
    try:
        return METRICS[metric_name]
    except KeyError:
        raise KeyError(f"{metric_name!r} is not a SageMaker metric of model_build.sagemaker_metrics.METRICS") from None


def dimensions_of(spec: MetricSpec, endpoint: str, variant: str | None) -> tuple[tuple[str, str], ...]:
    """Return the metric's dimensions for one endpoint (and variant, where the metric has one)."""
    if spec.dimensions is Dimensions.ENDPOINT:
        return (("EndpointName", endpoint),)
    if variant is None:
        raise ValueError(f"{spec.name} is published per variant: give the variant name")
    return (("EndpointName", endpoint), ("VariantName", variant))


@dataclass
class _Aggregate:
    count: int = 0
    total: float = 0.0
    minimum: float = float("inf")
    maximum: float = float("-inf")

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)


#: A sampler returns ``(metric name, value, endpoint, variant or None)`` for each gauge it reads now.
Sampler = Callable[[], Iterable[tuple[str, float, str, str | None]]]


class MetricsPublisher:
    """Aggregates recorded values and puts them to CloudWatch in the background.

    Args:
        cloudwatch: A boto3 ``cloudwatch`` client (the control plane's).
        interval_s: Seconds between publishes. Defaults to :data:`DEFAULT_METRICS_INTERVAL_S`.
    """

    def __init__(self, cloudwatch: Any, *, interval_s: float = DEFAULT_METRICS_INTERVAL_S) -> None:
        self._cloudwatch = cloudwatch
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._publish_lock = threading.Lock()  # one PutMetricData round at a time
        self._pending: dict[tuple[str, tuple[tuple[str, str], ...]], _Aggregate] = {}
        self._samplers: list[Sampler] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        #: Datapoints (statistic sets) put so far.
        self.published = 0
        #: ``PutMetricData`` calls that failed (their batches are dropped).
        self.failures = 0
        self._failure_logged = False

    # -- recording (any thread) ----------------------------------------------------------------

    def record(self, metric_name: str, value: float, *, endpoint: str, variant: str | None = None) -> None:
        """Record one value of a metric, in the metric's own unit (a count, a 0/1 flag, a percentage)."""
        spec = spec_of(metric_name)
        key = (spec.name, dimensions_of(spec, endpoint, variant))
        with self._lock:
            self._pending.setdefault(key, _Aggregate()).add(float(value))

    def record_duration(self, metric_name: str, seconds: float, *, endpoint: str, variant: str | None = None) -> None:
        """Record a duration given in seconds, converted to the metric's unit (microseconds for ModelLatency)."""
        unit = spec_of(metric_name).unit
        if unit not in _PER_SECOND:
            raise ValueError(f"{metric_name} is in {unit}, not a duration")
        self.record(metric_name, seconds * _PER_SECOND[unit], endpoint=endpoint, variant=variant)

    def add_sampler(self, sampler: Sampler) -> None:
        """Read ``sampler``'s gauges before every publish (called from the publishing thread)."""
        self._samplers.append(sampler)

    def publish_soon(self) -> None:
        """Publish now rather than at the end of the interval (a gauge changed that an alarm watches)."""
        self._wake.set()

    # -- publishing ------------------------------------------------------------------------------

    def start(self) -> MetricsPublisher:
        """Start the background thread that publishes every ``interval_s``."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="metrics-publisher", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and publish what is left. Safe to call twice."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            self._wake.set()
            thread.join(timeout=60)
        self.flush()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stopping.is_set():
                return
            self.flush()

    def _sample(self) -> None:
        for sampler in list(self._samplers):
            try:
                for name, value, endpoint, variant in sampler():
                    self.record(name, value, endpoint=endpoint, variant=variant)
            except Exception:  # a gauge that cannot be read this time is left out, not invented
                log.debug("a metrics sampler failed", exc_info=True)

    def flush(self) -> int:
        """Sample the gauges and put everything recorded so far; return the datapoints put.

        Blocking (call it from a thread, not the event loop). Never raises.
        """
        with self._publish_lock:
            self._sample()
            with self._lock:
                pending, self._pending = self._pending, {}
            if not pending:
                return 0
            now = datetime.datetime.now(datetime.UTC)
            by_namespace: dict[str, list[dict[str, Any]]] = {}
            for (name, dims), agg in pending.items():
                spec = METRICS[name]
                by_namespace.setdefault(spec.namespace, []).append(
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                        "Timestamp": now,
                        "StatisticValues": {
                            "SampleCount": agg.count,
                            "Sum": agg.total,
                            "Minimum": agg.minimum,
                            "Maximum": agg.maximum,
                        },
                        "Unit": spec.unit,
                    }
                )
            put = 0
            for namespace, data in by_namespace.items():
                for start in range(0, len(data), _BATCH):
                    batch = data[start : start + _BATCH]
                    try:
                        self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=batch)
                    except Exception as exc:
                        self.failures += 1
                        if not self._failure_logged:
                            self._failure_logged = True
                            log.warning(
                                "PutMetricData to the control plane failed (%s: %s); %d datapoints dropped. "
                                "Invocations are not affected; later failures are logged at debug level.",
                                type(exc).__name__,
                                exc,
                                len(batch),
                            )
                        else:
                            log.debug("PutMetricData failed: %s", exc)
                        continue
                    put += len(batch)
            self.published += put
            return put


# -- what a template's dashboards and alarms read ------------------------------------------------


@dataclass(frozen=True, order=True)
class MetricRef:
    """One metric a dashboard widget or an alarm reads.

    Attributes:
        namespace: The namespace.
        name: The metric name.
        dimensions: ``(name, value)`` pairs, sorted by name.
        stat: The statistic (``Average``, ``Sum``, ``p99`` ...).
        period: The period in seconds (300 when the reader gives none, as CloudWatch does).
    """

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int = 300

    def describe(self) -> str:
        """Return ``AWS/SageMaker ModelLatency {EndpointName=e, VariantName=AllTraffic} p99``."""
        dims = ", ".join(f"{k}={v}" for k, v in self.dimensions)
        return f"{self.namespace} {self.name} {{{dims}}} {self.stat}"


_TOKEN_RE = re.compile(r"\x00(\d+)\x00")


def _resolve(node: Any, resources: Mapping[str, str]) -> tuple[str, list[str]]:
    """Render a ``Fn::Join``/``Ref``/``Fn::GetAtt`` string; unresolved tokens become placeholders.

    Returns:
        The text, and the names of the references that could not be resolved.
    """
    unresolved: list[str] = []

    def render(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return json.dumps(value)
        if isinstance(value, dict) and len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Fn::Join":
                separator, parts = arg
                return separator.join(render(p) for p in parts)
            if fn == "Ref":
                key = str(arg)
            elif fn == "Fn::GetAtt":
                key = ".".join(arg) if isinstance(arg, list) else str(arg)
            else:
                key = fn
            if key in resources:
                return resources[key]
            if fn == "Ref" and arg == "AWS::Region":
                return resources.get("AWS::Region", "us-east-1")
            unresolved.append(key)
            return f"<{key}>"
        raise ValueError(f"cannot render {value!r}")

    return render(node), unresolved


def _stack_values(stack_resources: Sequence[Mapping[str, Any]] | Mapping[str, str] | None) -> dict[str, str]:
    """``Ref``/``GetAtt`` values from ``describe_stack_resources``'s list (or a ready mapping)."""
    if stack_resources is None:
        return {}
    if isinstance(stack_resources, Mapping):
        return {str(k): str(v) for k, v in stack_resources.items()}
    values: dict[str, str] = {}
    for resource in stack_resources:
        logical, physical = resource.get("LogicalResourceId"), resource.get("PhysicalResourceId")
        if not logical or physical is None:
            continue
        values[logical] = physical
        # The SageMaker resources' GetAtt names return the physical name (moto's id is the name or ARN).
        name = physical.rsplit("/", 1)[-1]
        for attribute in ("EndpointName", "EndpointConfigName", "ModelName", "Name"):
            values[f"{logical}.{attribute}"] = name
    return values


def _widget_refs(widget: Mapping[str, Any]) -> set[MetricRef]:
    """Return the metrics of one dashboard widget (CloudWatch's compact ``metrics`` array form)."""
    props = widget.get("properties") or {}
    refs: set[MetricRef] = set()
    default_stat = props.get("stat", "Average")
    default_period = int(props.get("period", 300))
    rows = list(props.get("metrics") or [])
    previous: list[Any] = []
    for row in rows:
        if not isinstance(row, list):
            continue
        options = row[-1] if row and isinstance(row[-1], dict) else {}
        parts = row[:-1] if options else row
        if parts and isinstance(parts[0], dict):
            continue  # a math expression row: its inputs are rows of their own
        # "..." / "." repeat the previous row's parts (CloudWatch's shorthand).
        expanded: list[Any] = []
        for i, part in enumerate(parts):
            if part == "...":
                after = parts[i + 1 :]
                expanded += previous[i : len(previous) - len(after)] + after
                break
            expanded.append(previous[i] if part == "." and i < len(previous) else part)
        previous = expanded
        if len(expanded) < 2 or len(expanded) % 2:
            continue
        namespace, name, *dims = expanded
        pairs = tuple(sorted(zip(dims[::2], dims[1::2], strict=True)))
        refs.add(
            MetricRef(
                str(namespace),
                str(name),
                tuple((str(k), str(v)) for k, v in pairs),
                str(options.get("stat", default_stat)),
                int(options.get("period", default_period)),
            )
        )
    return refs


def _alarm_refs(props: Mapping[str, Any], values: Mapping[str, str]) -> set[MetricRef]:
    def text(node: Any) -> str:
        return _resolve(node, values)[0]

    def dims(items: Any) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((text(d["Name"]), text(d["Value"])) for d in items or []))

    refs: set[MetricRef] = set()
    if "MetricName" in props:
        stat = props.get("Statistic") or props.get("ExtendedStatistic") or "Average"
        refs.add(
            MetricRef(
                text(props["Namespace"]),
                text(props["MetricName"]),
                dims(props.get("Dimensions")),
                text(stat),
                int(props.get("Period", 300)),
            )
        )
    for query in props.get("Metrics") or []:
        stat = query.get("MetricStat")
        if not stat:
            continue  # a math expression: its inputs are MetricStat queries of their own
        metric = stat["Metric"]
        refs.add(
            MetricRef(
                text(metric["Namespace"]),
                text(metric["MetricName"]),
                dims(metric.get("Dimensions")),
                text(stat["Stat"]),
                int(stat.get("Period", 300)),
            )
        )
    return refs


def referenced_metrics(
    template: Mapping[str, Any], stack_resources: Sequence[Mapping[str, Any]] | Mapping[str, str] | None = None
) -> set[MetricRef]:
    """Return every metric the template's dashboards and alarms read.

    Args:
        template: A synthesized CloudFormation template (a dict).
        stack_resources: The deployed stack's resources (``describe_stack_resources``'s
            ``StackResources``), or a mapping of ``Ref`` / ``"Logical.Attribute"`` to values, to
            resolve the endpoint names a dashboard body and the alarms reference. Defaults to none:
            unresolved references stay as ``<Logical.Attribute>`` placeholders.

    Returns:
        One :class:`MetricRef` per (namespace, name, dimensions, statistic, period): the widgets'
        ``metrics`` rows of every ``AWS::CloudWatch::Dashboard`` and the metric (or the
        ``Metrics`` queries' ``MetricStat``, for metric math) of every ``AWS::CloudWatch::Alarm``.
    """
    values = _stack_values(stack_resources)
    refs: set[MetricRef] = set()
    for resource in (template.get("Resources") or {}).values():
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        if kind == "AWS::CloudWatch::Dashboard":
            body, _ = _resolve(props["DashboardBody"], values)
            for widget in json.loads(body).get("widgets", []):
                refs |= _widget_refs(widget)
        elif kind == "AWS::CloudWatch::Alarm":
            refs |= _alarm_refs(props, values)
    return refs


def published_metrics(endpoint_name: str, variant_name: str, mode: ServingMode) -> set[MetricRef]:
    """Return a reference to every metric SageMaker publishes for an endpoint of ``mode`` that the rehearsal observes.

    Each with the table's dimension set and default statistic (what :func:`missing_metrics` then
    reads back); the metrics of :data:`NOT_OBSERVABLE` are left out.
    """
    return {
        MetricRef(spec.namespace, spec.name, dimensions_of(spec, endpoint_name, variant_name), spec.statistic, 60)
        for spec in METRICS.values()
        if mode in spec.modes and spec.name not in NOT_OBSERVABLE
    }


# moto's get_metric_data computes these statistics; others (p99, tm90 ...) come back as nothing.
_MOTO_STATS = frozenset({"Average", "Sum", "Minimum", "Maximum", "SampleCount"})


def missing_metrics(
    cloudwatch_client: Any, refs: Iterable[MetricRef], start: datetime.datetime, end: datetime.datetime
) -> list[MetricRef]:
    """Return the references for which CloudWatch holds no datapoint between ``start`` and ``end``.

    Each reference is read with ``get_metric_data`` (its namespace, name, exact dimension set and
    statistic, a 60 s period). A percentile or other extended statistic is read as ``SampleCount``
    (moto computes only the five basic statistics; a sample count above 0 means the percentile has
    data too).
    """
    refs = sorted(set(refs))
    missing: list[MetricRef] = []
    for start_at in range(0, len(refs), 100):  # GetMetricData takes 500 queries; keep answers small
        chunk = refs[start_at : start_at + 100]
        queries = [
            {
                "Id": f"m{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": ref.namespace,
                        "MetricName": ref.name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in ref.dimensions],
                    },
                    "Period": 60,
                    "Stat": ref.stat if ref.stat in _MOTO_STATS else "SampleCount",
                },
                "ReturnData": True,
            }
            for i, ref in enumerate(chunk)
        ]
        answer = cloudwatch_client.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
        has_data = {r["Id"] for r in answer["MetricDataResults"] if [v for v in r.get("Values", []) if v is not None]}
        missing += [ref for i, ref in enumerate(chunk) if f"m{i}" not in has_data]
    return missing


@dataclasses.dataclass(frozen=True)
class MetricsVerdict:
    """What :func:`verify_metrics` found.

    Attributes:
        referenced: Every metric the dashboards and alarms read.
        missing: Those with no data although the local data plane publishes such a metric (a wrong
            name, dimension set or namespace, or no traffic reached it).
        not_observable: Those with no data that the local data plane cannot publish
            (:data:`NOT_OBSERVABLE`).
        lines: One plain-words line per finding, then a summary line.
    """

    referenced: frozenset[MetricRef]
    missing: tuple[MetricRef, ...]
    not_observable: tuple[MetricRef, ...]
    lines: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether every metric the rehearsal can publish has data."""
        return not self.missing


def verify_metrics(
    cloudwatch_client: Any,
    template: Mapping[str, Any],
    stack_resources: Sequence[Mapping[str, Any]] | Mapping[str, str] | None,
    start: datetime.datetime,
    end: datetime.datetime,
) -> MetricsVerdict:
    """Read back every metric a deployed template's dashboards and alarms reference.

    Args:
        cloudwatch_client: A boto3 ``cloudwatch`` client of the emulator.
        template: The synthesized template.
        stack_resources: ``describe_stack_resources(StackName=...)["StackResources"]`` of its stack.
        start: The beginning of the traffic.
        end: Its end (after :meth:`LocalDataPlane.flush_metrics`).

    Returns:
        The verdict, with one line per metric that returned no data.
    """
    refs = referenced_metrics(template, stack_resources)
    empty = missing_metrics(cloudwatch_client, refs, start, end)
    not_observable = tuple(r for r in empty if r.name in NOT_OBSERVABLE)
    missing = tuple(r for r in empty if r.name not in NOT_OBSERVABLE)
    lines = []
    for ref in missing:
        known = METRICS.get(ref.name)
        hint = ""
        if known is None:
            hint = " (not a SageMaker endpoint metric: check the name)"
        elif known.namespace != ref.namespace:
            hint = f" (SageMaker publishes it in {known.namespace})"
        elif tuple(k for k, _ in ref.dimensions) != known.dimensions.value:
            hint = f" (SageMaker publishes it with the dimensions {', '.join(known.dimensions.value)} only)"
        lines.append(f"NO DATA: {ref.describe()}{hint}")
    for ref in not_observable:
        lines.append(f"not observable locally: {ref.describe()} ({NOT_OBSERVABLE[ref.name]})")
    lines.append(
        f"{len(refs) - len(empty)} of {len(refs)} metrics the dashboards and alarms read have data; "
        f"{len(missing)} missing, {len(not_observable)} not observable locally"
    )
    return MetricsVerdict(frozenset(refs), missing, not_observable, tuple(lines))
