"""Routing state: endpoint → endpoint config → production variants → model, held by the data plane.

SageMaker's runtime does not ask the control plane on every call, and neither does this one: the
first call to an endpoint resolves it (``DescribeEndpoint`` + ``DescribeEndpointConfig`` +
``DescribeModel``), and a background pass re-reads every known endpoint every
``refresh_interval_s`` (one ``DescribeEndpoint`` each; EndpointConfigs and Models are immutable in
SageMaker, so they are cached by name). A control-plane change — ``UpdateEndpoint`` (moto: delete
and re-create, as its CloudFormation does), ``UpdateEndpointWeightsAndCapacities``,
``DeleteEndpoint`` — is therefore seen by the first pass that *starts* after it: within
``refresh_interval_s`` plus one pass (a few milliseconds per endpoint). Before, every invocation
called ``DescribeEndpoint`` on the emulator (~4 ms, ~3 ms of its CPU), which made moto the busiest
process of a load test.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import itertools
import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_build.aws import parse_s3_uri
from rehearsal.data_plane.capture import CaptureConfig
from rehearsal.data_plane.errors import validation_error

#: How often known endpoints are re-read from the control plane, by default (seconds).
DEFAULT_REFRESH_INTERVAL_S = 1.0

# DescribeEndpoint's error codes for an endpoint that does not exist (moto and AWS).
_NOT_FOUND_CODES = frozenset({"ValidationException", "ValidationError", "ResourceNotFound"})

#: ``ClientConfig.MaxConcurrentInvocationsPerInstance`` when the endpoint config leaves it out. AWS
#: says only that "SageMaker chooses an optimal value"; the local data plane picks 4 (bert-tiny-sized
#: models on Triton keep its dynamic batcher fed at 4 without queueing inside the container).
DEFAULT_MAX_CONCURRENT_INVOCATIONS_PER_INSTANCE = 4
# The IncludeInferenceResponseIn values (botocore's AsyncNotificationTopicTypes).
SUCCESS_NOTIFICATION_TOPIC = "SUCCESS_NOTIFICATION_TOPIC"
ERROR_NOTIFICATION_TOPIC = "ERROR_NOTIFICATION_TOPIC"


@dataclass(frozen=True)
class AsyncConfig:
    """An endpoint config's ``AsyncInferenceConfig``, as the data plane needs it.

    Attributes:
        s3_output_path: ``OutputConfig.S3OutputPath`` (``s3://bucket/prefix``).
        s3_failure_path: ``OutputConfig.S3FailurePath``; None when not configured.
        success_topic: ``NotificationConfig.SuccessTopic`` (SNS ARN); None: no success notification.
        error_topic: ``NotificationConfig.ErrorTopic``; None: no error notification.
        include_response_in: ``NotificationConfig.IncludeInferenceResponseIn``.
        max_concurrent_invocations_per_instance: ``ClientConfig.MaxConcurrentInvocationsPerInstance``,
            or :data:`DEFAULT_MAX_CONCURRENT_INVOCATIONS_PER_INSTANCE` when absent.
        kms_key_id: ``OutputConfig.KmsKeyId`` (informational: moto's S3 does not encrypt).
    """

    s3_output_path: str
    s3_failure_path: str | None = None
    success_topic: str | None = None
    error_topic: str | None = None
    include_response_in: frozenset[str] = frozenset()
    max_concurrent_invocations_per_instance: int = DEFAULT_MAX_CONCURRENT_INVOCATIONS_PER_INSTANCE
    kms_key_id: str | None = None

    @classmethod
    def from_api(cls, config: Mapping[str, Any]) -> AsyncConfig:
        """Read ``DescribeEndpointConfig``'s ``AsyncInferenceConfig``."""
        output = config.get("OutputConfig") or {}
        notification = output.get("NotificationConfig") or {}
        client = config.get("ClientConfig") or {}
        return cls(
            s3_output_path=str(output.get("S3OutputPath", "")),
            s3_failure_path=output.get("S3FailurePath") or None,
            success_topic=notification.get("SuccessTopic") or None,
            error_topic=notification.get("ErrorTopic") or None,
            include_response_in=frozenset(notification.get("IncludeInferenceResponseIn") or ()),
            max_concurrent_invocations_per_instance=int(
                client.get("MaxConcurrentInvocationsPerInstance") or DEFAULT_MAX_CONCURRENT_INVOCATIONS_PER_INSTANCE
            ),
            kms_key_id=output.get("KmsKeyId") or None,
        )


@dataclass(frozen=True)
class ServerlessConfig:
    """A serverless variant's ``ServerlessConfig``, as the data plane needs it.

    Attributes:
        memory_size_in_mb: ``MemorySizeInMB`` (informational: the local Triton is not memory-capped).
        max_concurrency: ``MaxConcurrency``: concurrent invocations beyond it are throttled.
        provisioned_concurrency: ``ProvisionedConcurrency`` (0 when absent): with any, the variant's
            container is started at deploy and never stopped for idleness.
    """

    memory_size_in_mb: int
    max_concurrency: int
    provisioned_concurrency: int = 0

    @classmethod
    def from_api(cls, config: Mapping[str, Any]) -> ServerlessConfig:
        """Read a production variant's ``ServerlessConfig`` (or DescribeEndpoint's ``CurrentServerlessConfig``)."""
        return cls(
            memory_size_in_mb=int(config.get("MemorySizeInMB") or 0),
            max_concurrency=max(1, int(config.get("MaxConcurrency") or 1)),
            provisioned_concurrency=int(config.get("ProvisionedConcurrency") or 0),
        )


@dataclass(frozen=True)
class ContainerRoute:
    """One container of a multi-container Model (``Containers[i]``).

    Attributes:
        hostname: ``ContainerHostname`` (SageMaker names an unnamed pipeline container by position).
        image: ``Image``: a Triton image runs on the local Triton; any other needs a local stand-in.
        model_data_url: ``ModelDataUrl`` (empty for a container without model data).
        environment: ``Environment``.
    """

    hostname: str
    image: str
    model_data_url: str
    environment: Mapping[str, str]


@dataclass(frozen=True)
class VariantRoute:
    """One production variant as the data plane needs it (from EndpointConfig + Model).

    Attributes:
        name: ``VariantName``.
        weight: The endpoint's ``CurrentWeight`` (falls back to ``InitialVariantWeight``).
        model_name: The SageMaker Model; empty for a variant that hosts inference components.
        image: ``PrimaryContainer.Image`` (informational: the local backend is always Triton).
        model_data_url: ``PrimaryContainer.ModelDataUrl`` (``s3://bucket/key.tar.gz``).
        environment: ``PrimaryContainer.Environment``.
        mode: The container's ``Mode``: ``SingleModel`` or ``MultiModel``; picks the backend.
        container_hostnames: ``ContainerHostname`` of each container of a multi-container Model.
        inference_execution_mode: The Model's ``InferenceExecutionConfig.Mode`` (``Serial`` or ``Direct``).
        containers: Every container of a Model with more than one (empty for a one-container Model).
        instance_type: ``InstanceType`` (informational).
        instance_count: ``CurrentInstanceCount`` (else ``InitialInstanceCount``): one local server
            per variant whatever the count, but an async endpoint admits
            ``MaxConcurrentInvocationsPerInstance`` x this many invocations at a time.
        min_capacity: The variant's Application Auto Scaling target ``MinCapacity`` (None: no
            target). 0 lets an async variant scale to zero: its Triton stops when idle.
        max_capacity: The target's ``MaxCapacity`` (None: no target).
        serverless: The variant's serverless config (DescribeEndpoint's ``CurrentServerlessConfig``,
            else the endpoint config's ``ServerlessConfig``); None for an instance-based variant.
    """

    name: str
    weight: float
    model_name: str
    image: str
    model_data_url: str
    environment: Mapping[str, str]
    mode: str
    container_hostnames: tuple[str, ...] = ()
    inference_execution_mode: str = "Serial"
    containers: tuple[ContainerRoute, ...] = ()
    instance_type: str = ""
    instance_count: int = 1
    min_capacity: int | None = None
    max_capacity: int | None = None
    serverless: ServerlessConfig | None = None


@dataclass(frozen=True)
class EndpointRoute:
    """An endpoint with its config and models resolved, ready to route a call.

    Attributes:
        name: ``EndpointName``.
        status: ``EndpointStatus``.
        config_name: ``EndpointConfigName``.
        variants: The production variants, in config order.
        resolved_at: ``time.monotonic()`` of the read.
        async_config: The config's ``AsyncInferenceConfig``; None for a real-time endpoint.
        data_capture: The config's ``DataCaptureConfig``; None when it has none.
        shadow_variants: The config's ``ShadowProductionVariants`` (a copy of production's traffic,
            answers discarded; :mod:`~rehearsal.data_plane.capture`).
    """

    name: str
    status: str
    config_name: str
    variants: tuple[VariantRoute, ...]
    resolved_at: float = 0.0
    async_config: AsyncConfig | None = None
    data_capture: CaptureConfig | None = None
    shadow_variants: tuple[VariantRoute, ...] = ()
    _cumulative: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        weights = [max(0.0, v.weight) for v in self.variants]
        object.__setattr__(self, "_cumulative", tuple(itertools.accumulate(weights)))

    @property
    def has_inference_components(self) -> bool:
        """Whether the endpoint hosts inference components (its variants name no Model)."""
        return any(not v.model_name for v in self.variants)

    def variant(self, name: str) -> VariantRoute | None:
        """Return the variant called ``name``, or None."""
        return next((v for v in self.variants if v.name == name), None)

    def choose(self, rng: random.Random) -> VariantRoute | None:
        """Draw a variant by weight (None when no variant has a positive weight)."""
        if not self._cumulative or self._cumulative[-1] <= 0:
            return None
        point = rng.random() * self._cumulative[-1]
        return self.variants[min(bisect.bisect_right(self._cumulative, point), len(self.variants) - 1)]

    def same_routing(self, other: EndpointRoute) -> bool:
        """Whether ``other`` routes exactly like this one (ignoring when it was read)."""
        return (
            self.status,
            self.config_name,
            self.variants,
            self.async_config,
            self.data_capture,
            self.shadow_variants,
        ) == (
            other.status,
            other.config_name,
            other.variants,
            other.async_config,
            other.data_capture,
            other.shadow_variants,
        )


def _container_routes(containers: list[dict[str, Any]]) -> tuple[ContainerRoute, ...]:
    """Return the routes of a multi-container Model's ``Containers`` (none for a one-container Model)."""
    if len(containers) < 2:
        return ()
    return tuple(
        ContainerRoute(
            hostname=c.get("ContainerHostname") or f"container-{index + 1}",
            image=c.get("Image", ""),
            model_data_url=c.get("ModelDataUrl", ""),
            environment=dict(c.get("Environment") or {}),
        )
        for index, c in enumerate(containers)
    )


def _serverless_config(current: Mapping[str, Any], variant: Mapping[str, Any]) -> ServerlessConfig | None:
    """Return a variant's serverless config: the endpoint's current one, else the endpoint config's; None if instance-based."""
    config = current.get("CurrentServerlessConfig") or variant.get("ServerlessConfig")
    return ServerlessConfig.from_api(config) if config else None


class ControlPlane:
    """Reads endpoints from the (emulated) SageMaker control plane and artifacts from its S3.

    Args:
        endpoint_url: The control plane (moto) URL.
        region: The region. Defaults to ``us-east-1``.
        credentials: ``aws_access_key_id``/``aws_secret_access_key``. Defaults to moto's dummies.
    """

    def __init__(
        self,
        endpoint_url: str,
        *,
        region: str = "us-east-1",
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        creds = dict(credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"})
        # A private session: boto3's default session is not thread-safe to create clients from.
        session = boto3.session.Session(region_name=region, **creds)
        self.endpoint_url = endpoint_url
        self.region = region
        self.sagemaker = session.client("sagemaker", endpoint_url=endpoint_url)
        # Async workers read inputs and write outputs from many threads at once.
        self.s3 = session.client("s3", endpoint_url=endpoint_url, config=Config(max_pool_connections=64))
        # No botocore retries for Publish (``total_max_attempts`` 1: ``max_attempts`` 1 would still retry
        # once): the async workers retry it themselves and count each retry (a publish retried after it
        # reached SNS delivers twice).
        self.sns = session.client(
            "sns", endpoint_url=endpoint_url, config=Config(max_pool_connections=64, retries={"total_max_attempts": 1})
        )
        # The metrics publisher's: one retry, so a stop after the emulator is gone does not wait on backoffs.
        self.cloudwatch = session.client(
            "cloudwatch", endpoint_url=endpoint_url, config=Config(retries={"total_max_attempts": 2}, connect_timeout=5)
        )
        self.autoscaling = session.client("application-autoscaling", endpoint_url=endpoint_url)
        self.account_id = "123456789012"
        with contextlib.suppress(Exception):
            self.account_id = session.client("sts", endpoint_url=endpoint_url).get_caller_identity()["Account"]
        self._configs: dict[str, dict[str, Any]] = {}
        self._models: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        #: ``DescribeEndpoint`` calls made so far (the per-request cost this module removes).
        self.describe_calls = 0

    def not_found(self, endpoint_name: str) -> Exception:
        """Return AWS's error for ``InvokeEndpoint`` on an endpoint that does not exist."""
        return validation_error(f"Endpoint {endpoint_name} of account {self.account_id} not found.")

    def describe(self, endpoint_name: str) -> EndpointRoute | None:
        """Resolve an endpoint → config → models (blocking); None when the endpoint does not exist."""
        from botocore.exceptions import ClientError

        self.describe_calls += 1
        try:
            endpoint = self.sagemaker.describe_endpoint(EndpointName=endpoint_name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _NOT_FOUND_CODES:
                return None
            raise
        config = self._cached(self._configs, endpoint["EndpointConfigName"], self._describe_config)
        current = {v["VariantName"]: v for v in endpoint.get("ProductionVariants", [])}
        async_config = (
            AsyncConfig.from_api(config["AsyncInferenceConfig"]) if config.get("AsyncInferenceConfig") else None
        )
        # Scale to zero is an async endpoint's: read its variants' scalable targets (moto's
        # CloudFormation skips AWS::ApplicationAutoScaling::*, so they come from the API).
        targets = self._scalable_targets(endpoint_name, config["ProductionVariants"]) if async_config else {}
        variants = tuple(self._variant_route(pv, current, targets) for pv in config["ProductionVariants"])
        shadows = tuple(self._variant_route(pv, current, {}) for pv in config.get("ShadowProductionVariants") or ())
        return EndpointRoute(
            name=endpoint_name,
            status=endpoint["EndpointStatus"],
            config_name=endpoint["EndpointConfigName"],
            variants=variants,
            resolved_at=time.monotonic(),
            async_config=async_config,
            data_capture=CaptureConfig.from_api(config["DataCaptureConfig"]) if config.get("DataCaptureConfig") else None,
            shadow_variants=shadows,
        )

    def _variant_route(
        self,
        pv: Mapping[str, Any],
        current: Mapping[str, Mapping[str, Any]],
        targets: Mapping[str, tuple[int | None, int | None]],
    ) -> VariantRoute:
        """Return the route of one (production or shadow) variant of an endpoint config."""
        model_name = pv.get("ModelName", "")
        model = self._cached(self._models, model_name, self._describe_model) if model_name else {}
        containers = model.get("Containers") or []
        container = model.get("PrimaryContainer") or (containers or [{}])[0]
        weight = current.get(pv["VariantName"], {}).get("CurrentWeight", pv.get("InitialVariantWeight", 1.0))
        return VariantRoute(
            name=pv["VariantName"],
            weight=float(weight),
            model_name=model_name,
            image=container.get("Image", ""),
            model_data_url=container.get("ModelDataUrl", ""),
            environment=dict(container.get("Environment") or {}),
            mode=container.get("Mode", "SingleModel"),
            container_hostnames=tuple(c["ContainerHostname"] for c in containers if c.get("ContainerHostname")),
            inference_execution_mode=(model.get("InferenceExecutionConfig") or {}).get("Mode", "Serial"),
            containers=_container_routes(containers),
            instance_type=pv.get("InstanceType", ""),
            instance_count=int(
                current.get(pv["VariantName"], {}).get("CurrentInstanceCount", pv.get("InitialInstanceCount", 1))
            ),
            min_capacity=targets.get(pv["VariantName"], (None, None))[0],
            max_capacity=targets.get(pv["VariantName"], (None, None))[1],
            serverless=_serverless_config(current.get(pv["VariantName"], {}), pv),
        )

    def _scalable_targets(
        self, endpoint_name: str, production_variants: list[dict[str, Any]]
    ) -> dict[str, tuple[int, int]]:
        """Return ``{variant: (MinCapacity, MaxCapacity)}`` of the variants' registered scalable targets."""
        ids = {f"endpoint/{endpoint_name}/variant/{pv['VariantName']}": pv["VariantName"] for pv in production_variants}
        found = self.autoscaling.describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=list(ids), ScalableDimension="sagemaker:variant:DesiredInstanceCount"
        )
        return {
            ids[t["ResourceId"]]: (int(t["MinCapacity"]), int(t["MaxCapacity"]))
            for t in found.get("ScalableTargets", [])
            if t["ResourceId"] in ids
        }

    def _describe_config(self, name: str) -> dict[str, Any]:
        return dict(self.sagemaker.describe_endpoint_config(EndpointConfigName=name))

    def _describe_model(self, name: str) -> dict[str, Any]:
        return dict(self.sagemaker.describe_model(ModelName=name))

    def _cached(self, cache: dict[str, dict[str, Any]], name: str, read: Any) -> dict[str, Any]:
        with self._lock:
            found = cache.get(name)
        if found is None:
            found = read(name)
            with self._lock:
                cache[name] = found
        return found

    def download(self, s3_url: str, dest: Path) -> Path:
        """Download ``s3://bucket/key`` to ``dest`` (as SageMaker does before starting a container)."""
        try:
            bucket, key = parse_s3_uri(s3_url)
        except ValueError:
            bucket = key = ""
        if not key:  # an object, not a prefix
            raise ValueError(f"ModelDataUrl must be s3://bucket/key (got {s3_url!r})")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(bucket, key, str(dest))
        return dest


@dataclass(frozen=True)
class RefreshPass:
    """What one refresh pass found.

    Attributes:
        changed: Endpoints whose routing changed (new config, weights or status).
        removed: Endpoints that no longer exist.
        started_at: ``time.monotonic()`` when the pass began.
        duration_s: How long it took.
    """

    changed: tuple[str, ...]
    removed: tuple[str, ...]
    started_at: float
    duration_s: float


class RoutingTable:
    """The data plane's view of the control plane: endpoint name → :class:`EndpointRoute`.

    Reads are lock-free dictionary lookups on the event loop; writes (first resolution, refresh
    passes) happen in worker threads and replace whole entries.

    Args:
        control_plane: Where endpoints are read from.
        refresh_interval_s: Seconds between the end of one refresh pass and the start of the next.
    """

    def __init__(self, control_plane: ControlPlane, *, refresh_interval_s: float = DEFAULT_REFRESH_INTERVAL_S) -> None:
        self.control_plane = control_plane
        self.refresh_interval_s = refresh_interval_s
        self._routes: dict[str, EndpointRoute] = {}
        self._pass_lock = threading.Lock()
        #: Refresh passes completed so far.
        self.passes = 0
        self.last_pass: RefreshPass | None = None
        #: The most recent passes, oldest first (what a caller that was not watching missed).
        self.recent_passes: collections.deque[RefreshPass] = collections.deque(maxlen=64)

    def get(self, endpoint_name: str) -> EndpointRoute | None:
        """Return the cached route (no I/O), or None when the endpoint was never resolved."""
        return self._routes.get(endpoint_name)

    def routes(self) -> dict[str, EndpointRoute]:
        """Return a snapshot of every known route."""
        return dict(self._routes)

    def resolve(self, endpoint_name: str) -> EndpointRoute:
        """Read an endpoint from the control plane now and remember it (blocking).

        Raises:
            RuntimeApiError: ``ValidationError`` when the endpoint does not exist.
        """
        route = self.control_plane.describe(endpoint_name)
        if route is None:
            self._routes.pop(endpoint_name, None)
            raise self.control_plane.not_found(endpoint_name)
        self._routes[endpoint_name] = route
        return route

    @contextlib.contextmanager
    def refresh_held(self) -> Iterator[None]:
        """Hold the background refresh while the block runs (a pass already running finishes first).

        Calls are then routed from memory alone, however long the block takes: what a check that
        counts the control-plane reads of invocations needs on a slow machine.
        """
        with self._pass_lock:
            yield

    def refresh(self) -> RefreshPass:
        """Re-read every known endpoint (blocking): one ``DescribeEndpoint`` each."""
        with self._pass_lock:
            started = time.monotonic()
            changed, removed = [], []
            for name, old in list(self._routes.items()):
                try:
                    new = self.control_plane.describe(name)
                except Exception:
                    # The emulator is briefly unreachable (or stopping): keep the last known route.
                    continue
                if new is None:
                    self._routes.pop(name, None)
                    removed.append(name)
                    continue
                self._routes[name] = new
                if not old.same_routing(new):
                    changed.append(name)
            self.passes += 1
            self.last_pass = RefreshPass(tuple(changed), tuple(removed), started, time.monotonic() - started)
            self.recent_passes.append(self.last_pass)
            return self.last_pass
