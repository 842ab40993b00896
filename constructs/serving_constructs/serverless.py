"""Serverless SageMaker endpoints: a Triton model run on demand, sized by memory and concurrency.

:class:`ServerlessEndpoint` is an endpoint kind of :class:`~serving_constructs.endpoint.EndpointBase`
taking one :class:`~serving_constructs.variant.ServerlessProductionVariant`. SageMaker's serverless
restrictions (SageMaker Developer Guide, "Serverless Inference", feature exclusions and limits,
https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html) are synth errors naming
the prop and the fix; :func:`serverless_fit` is the one rule saying which models qualify (Triton
models on CPUs, and your own container, :class:`~serving_constructs.container_model.ContainerModel`).

Limits every caller must live with (not checkable at synth, documented here and on the construct):
a request or response payload of at most 4 MB (:data:`MAX_PAYLOAD_BYTES`), 60 s per invocation
(:data:`INVOCATION_TIMEOUT`), ``/ping`` must answer within 3 minutes of a cold start, a container
image of at most 10 GB and 5 GB of ephemeral disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Annotations, Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from model_build.aws import INVOCATION_TIMEOUT_S, SERVERLESS_MAX_PAYLOAD_BYTES
from serving_constructs import defaults
from serving_constructs._validation import (
    Problems,
    PropsError,
    check_bool,
    check_duration,
    check_number,
    check_str,
    check_type,
    resolved,
)
from serving_constructs.container import MultiContainerModel
from serving_constructs.container_model import ContainerModel
from serving_constructs.deployment import DeploymentKind, DeploymentPolicy
from serving_constructs.endpoint import EndpointBase
from serving_constructs.metrics import ServingMode
from serving_constructs.model import TritonModel
from serving_constructs.neuron import NeuronModel
from serving_constructs.scaling import (
    CapacityFloor,
    capacity_problems,
    service_linked_scaling_role,
    variant_resource_id,
)
from serving_constructs.variant import SERVERLESS_CONCURRENCY_RANGE, ServerlessProductionVariant, VariantBase

__all__ = [
    "DISK_BYTES",
    "INVOCATION_TIMEOUT",
    "MAX_IMAGE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "PROVISIONED_CONCURRENCY_DIMENSION",
    "ScalableProvisionedConcurrency",
    "ServerlessEndpoint",
    "ServerlessFit",
    "serverless_fit",
    "size_fit",
]

_GB = 1000**3  # SageMaker states the limits in GB; decimal GB is the stricter reading
_MIB = 1024**2

MAX_PAYLOAD_BYTES = SERVERLESS_MAX_PAYLOAD_BYTES
"""The largest request or response payload a serverless endpoint takes: 4 MB (serverless-endpoints-invoke page;
``model_build.aws``, which the local data plane enforces too)."""

INVOCATION_TIMEOUT = Duration.seconds(INVOCATION_TIMEOUT_S)
"""How long one ``/invocations`` call may run on a serverless endpoint: 60 s (same page)."""

MAX_IMAGE_BYTES = 10 * _GB
"""The largest container image a serverless endpoint runs: 10 GB (serverless-endpoints page, limits)."""

DISK_BYTES = 5 * _GB
"""The ephemeral disk of a serverless endpoint: 5 GB (serverless-endpoints page, limits)."""

PROVISIONED_CONCURRENCY_DIMENSION = "sagemaker:variant:DesiredProvisionedConcurrency"
"""The Application Auto Scaling dimension of a serverless variant's provisioned concurrency."""

_WARNING_PREFIX = "serving-constructs"

PROVISIONED_CONCURRENCY_FLOOR = CapacityFloor(
    1,
    "provisioned concurrency scales between 1 and the variant's max_concurrency (0 is no provisioned concurrency)",
)


@dataclass(frozen=True)
class ServerlessFit:
    """Whether a model qualifies for serverless, by :func:`serverless_fit`'s rule.

    Attributes:
        errors: what rules it out (each names the prop and the fix).
        warnings: what cannot be checked at synth or leaves too little room, as ``(id, text)``.
        memory_estimate_bytes: the model's memory estimate (the archive's size), None when unknown.
    """

    errors: tuple[str, ...]
    warnings: tuple[tuple[str, str], ...]
    memory_estimate_bytes: int | None


def serverless_fit(
    model: TritonModel | MultiContainerModel | ContainerModel,
    memory_size_in_mb: int,
    path: str = "variants[0]",
) -> ServerlessFit:
    """Apply the rule that says which models qualify for a serverless endpoint.

    **Never:** a :class:`~serving_constructs.container.MultiContainerModel` (serverless endpoints
    run no inference pipelines and no direct multi-container models) and a
    :class:`~serving_constructs.neuron.NeuronModel` (Inferentia runs on ml.inf1 / ml.inf2
    instances only; a serverless variant has no instance type). Each is refused with that one
    error.

    **A Triton model (or your own container, a** :class:`~serving_constructs.container_model.ContainerModel`
    **) qualifies when all of these hold:**

    1. It runs on CPUs: no ``KIND_GPU`` instance group and no TensorRT engine (serverless
       endpoints have no GPUs; :class:`ServerlessProductionVariant` checks this). Whether your
       own container needs a GPU is not known here: it must not.
    2. It is a single model, not a multi-model one (no multi-model serverless endpoints).
    3. Its model has ``network_isolation=False`` and no ``vpc`` (both excluded on serverless;
       ``TritonModel`` and ``ContainerModel`` both default to network isolation on).
    4. **Disk:** its archive is at most half of the 5 GB ephemeral disk (2.5 GB), so the disk holds
       the downloaded archive and its extracted repository at once (a gzip archive of weights
       extracts to at least its own size).
    5. **Memory:** its *memory estimate* — the archive's size, a lower bound of the weights the
       backend loads into memory (gzip barely shrinks floating-point weights) — is at most half of
       ``memory_size_in_mb``; the other half is for the Triton server, the backend's runtime and
       the request tensors. So a 1 GB archive needs 2048 MB, and the largest model that qualifies
       has a 3 GB archive on 6144 MB (and then breaks rule 4: in practice, archives up to 2.5 GB on
       >= 5120 MB). An estimate above the memory size is an error; between half and all of it a
       warning (measure the model's resident memory under load before relying on it).
    6. **Image:** the container image is at most 10 GB. The size of an image is not known at
       synth: the SageMaker Triton DLC (``TritonImage.for_region``) is Triton's full GPU build
       (CUDA, TensorRT), so it gets a warning saying to use a CPU-only Triton image of your own
       (``TritonImage.from_ecr_repository``) whose size you checked; your own image is yours to size
       (a ``ContainerImage`` too: ``from_asset`` images are built by ``cdk deploy``, after synth).

    An archive whose size is unknown at synth (``ModelArtifact.from_bucket``) gets a warning that
    rules 4 and 5 could not be checked. A ``ContainerModel`` without ``model_data`` (its image
    carries the model) has no archive: rules 4 and 5 do not apply, and the image limit holds it.

    Args:
        model: the variant's model.
        memory_size_in_mb: the variant's memory size.
        path: how messages name the variant. Defaults to ``"variants[0]"``.
    """
    if isinstance(model, MultiContainerModel):
        return ServerlessFit(
            (
                f"{path}.model is a MultiContainerModel (mode {model.mode!r}) but serverless endpoints run no "
                "inference pipelines and no multi-container models — serve it on a RealtimeEndpoint "
                "(ProductionVariant(model=..., instance_type=...)), or put the steps in one container "
                "(e.g. a Triton ensemble with a python-backend preprocessing model) for serverless",
            ),
            (),
            None,
        )
    if isinstance(model, NeuronModel):
        return ServerlessFit(
            (
                f"{path}.model is a NeuronModel (for {model.neuron_image.target}) but Inferentia runs "
                "on ml.inf1/ml.inf2 instances only and a serverless variant has no instance type — serve it "
                f"on a RealtimeEndpoint with ProductionVariant(instance_type=InstanceType.of('ml.{model.neuron_image.target}.xlarge')), "
                "or build the model for CPUs (backend onnxruntime, KIND_CPU) and serve a TritonModel",
            ),
            (),
            None,
        )
    kind = "ContainerModel" if isinstance(model, ContainerModel) else "TritonModel"
    errors: list[str] = []
    warnings: list[tuple[str, str]] = []
    if model.multi_model:
        errors.append(
            f"{path}.model is a multi-model model but serverless endpoints do not host multi-model "
            "containers — use a TritonModel with one archive, or a MultiModelEndpoint"
        )
    resource = model.node.default_child
    assert isinstance(resource, sagemaker.CfnModel)
    if resource.enable_network_isolation is True:
        errors.append(
            f"{path}.model has network_isolation on ({kind}'s default) but serverless endpoints do "
            f"not support network isolation — pass {kind}(..., network_isolation=False)"
        )
    if resource.vpc_config is not None:
        errors.append(
            f"{path}.model runs in a VPC (vpc=...) but serverless endpoints do not support VPC "
            f"configuration — drop vpc, vpc_subnets and security_groups from the {kind}"
        )
    artifact = model.artifact  # None: your own image carries the model (no archive; the image limit holds it)
    size = None if artifact is None else artifact.size_bytes
    if artifact is not None and size is None:
        warnings.append(
            (
                "serverlessArchiveSizeUnknown",
                f"{path}.model's archive size is not known at synth ({artifact.description}), so the "
                f"serverless disk ({DISK_BYTES // _GB} GB) and memory rules could not be checked: the archive "
                "must be <= 2.5 GB and <= half of memory_size_in_mb. Use ModelArtifact.from_asset or "
                ".from_build to have them checked.",
            )
        )
    elif size is not None:
        size_errors, size_warnings = size_fit(size, memory_size_in_mb, path)
        errors.extend(size_errors)
        warnings.extend(size_warnings)
    if model.image.triton_version is not None:
        warnings.append(
            (
                "serverlessImageSizeUnchecked",
                f"{path}.model uses the SageMaker Triton DLC {model.image.triton_version} (Triton's GPU build, "
                "with CUDA and TensorRT); serverless endpoints run images of at most 10 GB and this one's size "
                "is not known at synth. Use a CPU-only Triton image of your own whose size you checked "
                "(TritonImage.from_ecr_repository), or acknowledge this warning after checking the DLC's size.",
            )
        )
    return ServerlessFit(tuple(errors), tuple(warnings), size)


def size_fit(
    size_bytes: int, memory_size_in_mb: int, path: str = "variants[0]"
) -> tuple[list[str], list[tuple[str, str]]]:
    """Return the errors and warnings of :func:`serverless_fit`'s disk and memory rules (4 and 5).

    Args:
        size_bytes: the model archive's size (its memory estimate).
        memory_size_in_mb: the variant's memory size (a token skips the memory rule).
        path: how messages name the variant. Defaults to ``"variants[0]"``.
    """
    errors: list[str] = []
    warnings: list[tuple[str, str]] = []
    size = size_bytes
    if size > DISK_BYTES // 2:
        errors.append(
            f"{path}.model's archive is {size / _GB:.2f} GB but a serverless endpoint has {DISK_BYTES // _GB} GB "
            "of disk for the archive and its extracted copy (at most 2.5 GB of archive) — serve it on a "
            "RealtimeEndpoint, or shrink the model (a smaller or quantized build)"
        )
    memory_bytes = memory_size_in_mb * _MIB if resolved(memory_size_in_mb) else None
    if memory_bytes is not None and isinstance(memory_size_in_mb, int):
        need_mb = _smallest_memory_for(2 * size)
        fix = (
            f"use memory_size_in_mb={need_mb} (twice the estimate)"
            if need_mb is not None
            else "it needs more than the 6144 MB serverless offers: serve it on a RealtimeEndpoint"
        )
        if size > memory_bytes:
            errors.append(
                f"{path}.memory_size_in_mb {memory_size_in_mb} is below the model's memory estimate "
                f"({size / _MIB:.0f} MB, the archive's size: the weights alone) — {fix}"
            )
        elif 2 * size > memory_bytes:
            warnings.append(
                (
                    f"serverlessMemoryTight:{path}",
                    f"{path}.memory_size_in_mb {memory_size_in_mb} leaves less than half for Triton and the "
                    f"backend beyond the model's memory estimate ({size / _MIB:.0f} MB, the archive's size) — "
                    f"{fix}, or measure the resident memory under load and acknowledge this warning.",
                )
            )
    return errors, warnings


def _smallest_memory_for(needed_bytes: int) -> int | None:
    from serving_constructs.variant import SERVERLESS_MEMORY_SIZES_MB

    return next((mb for mb in SERVERLESS_MEMORY_SIZES_MB if mb * _MIB >= needed_bytes), None)


class ServerlessEndpoint(EndpointBase):
    """A serverless SageMaker endpoint: SageMaker runs the Triton model on demand, sized by memory.

    Takes exactly one :class:`ServerlessProductionVariant` (memory 1024-6144 MB in 1 GB steps,
    max concurrency 1-200, optional provisioned concurrency <= max concurrency). Without
    provisioned concurrency the first request after idle time waits for a cold start (the
    ``ModelSetupTime`` metric); with it, :meth:`auto_scale_provisioned_concurrency` scales the
    warm capacity.

    **Limits (documented, not checkable at synth):** a request or response payload of at most
    **4 MB** (:data:`MAX_PAYLOAD_BYTES`); each invocation must finish within **60 s**
    (:data:`INVOCATION_TIMEOUT`); the container must answer ``/ping`` within 3 minutes of a cold
    start. Larger payloads or longer requests need a ``RealtimeEndpoint`` or an ``AsyncEndpoint``.

    **Refused at synth** (SageMaker's serverless exclusions; each error names the prop and the fix):
    a ``KIND_GPU`` or TensorRT model, a multi-model model, a ``MultiContainerModel`` (inference
    pipelines and direct multi-container models), a ``NeuronModel`` (Inferentia is instance-only),
    a second variant, an instance variant, a model with ``network_isolation`` (the default of
    ``TritonModel`` and ``ContainerModel``: pass ``network_isolation=False``) or a ``vpc``, a
    rolling, canary or linear deployment (no instances to shift), and a model that does not fit by
    :func:`serverless_fit`'s rule (archive > 2.5 GB, memory estimate > memory size). Your own
    container (``ContainerModel`` with an ECR image) is served; its image must be at most 10 GB,
    which is yours to check (an image's size is not known at synth). Data capture, Model Monitor,
    Marketplace models and private (non-ECR) registries are excluded by SageMaker too; this library
    offers none of them on this kind.

    Args:
        scope: the parent construct.
        id: the construct id.
        variants: the one serverless variant. Defaults to none; add it with
            :meth:`add_production_variant` (synth fails if there is none).
        deployment: how an update rolls out: ``DeploymentPolicy.all_at_once(...)`` only. Defaults
            to all at once with a 10-minute bake and rollback on the endpoint's rollback alarms.

    Raises:
        PropsError: every problem with the props, in one message.
    """

    variant_kinds = (ServerlessProductionVariant,)
    serving_modes = frozenset({ServingMode.SERVERLESS})

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        variants: Sequence[ServerlessProductionVariant] | None = None,
        deployment: DeploymentPolicy | None = None,
    ) -> None:
        if isinstance(deployment, DeploymentPolicy) and deployment.kind is not DeploymentKind.ALL_AT_ONCE:
            raise PropsError(
                f"Invalid ServerlessEndpoint props: deployment {deployment._call()} shifts instances, but a "
                "serverless variant has none — use DeploymentPolicy.all_at_once(...), or omit deployment"
            )
        self._provisioned: ScalableProvisionedConcurrency | None = None
        super().__init__(scope, id, variants=variants, deployment=deployment)

    def _variant_problems(
        self, variant: VariantBase, path: str, existing: Sequence[VariantBase]
    ) -> list[str]:
        problems = super()._variant_problems(variant, path, existing)
        if not isinstance(variant, ServerlessProductionVariant):
            return problems
        if existing:
            problems.append(
                f"{path}: a ServerlessEndpoint has one production variant (SageMaker runs no multi-variant "
                f"serverless endpoints; it has {existing[0].variant_name!r}) — make a second ServerlessEndpoint"
            )
        if isinstance(variant.model, (TritonModel, MultiContainerModel, ContainerModel)):  # else a type error above
            problems.extend(serverless_fit(variant.model, variant.memory_size_in_mb, path).errors)
        return problems

    def _add_variant(self, variant: VariantBase) -> None:
        super()._add_variant(variant)
        if not isinstance(variant, ServerlessProductionVariant):
            return
        path = f"variants[{len(self._variants) - 1}]"
        for key, text in serverless_fit(variant.model, variant.memory_size_in_mb, path).warnings:
            warning_id = f"{_WARNING_PREFIX}:{key}"
            Annotations.of(self).add_warning_v2(
                warning_id,
                f"{text} To accept it: Annotations.of(endpoint).acknowledge_warning({warning_id!r}).",
            )

    # --- provisioned concurrency ---------------------------------------------------------------

    def auto_scale_provisioned_concurrency(
        self, *, min_capacity: int, max_capacity: int
    ) -> ScalableProvisionedConcurrency:
        """Make the variant's provisioned concurrency scalable between ``min_capacity`` and ``max_capacity``.

        Add policies on the result (``scale_on_utilization(...)``, ``scale_on_schedule(...)``).
        SageMaker scales provisioned concurrency only on a variant that has some
        (``provisioned_concurrency`` set), within 1 and its ``max_concurrency``.

        Args:
            min_capacity: the least provisioned concurrency, >= 1.
            max_capacity: the most, >= ``min_capacity`` and <= the variant's ``max_concurrency``.

        Raises:
            PropsError: invalid bounds, no variant, a variant without provisioned concurrency, or
                a second call.
        """
        caller = "ServerlessEndpoint.auto_scale_provisioned_concurrency"
        variant = self._production_variant(None, caller)
        assert isinstance(variant, ServerlessProductionVariant)
        problems = Problems(caller)
        problems.extend(
            capacity_problems(
                min_capacity=min_capacity,
                max_capacity=max_capacity,
                floor=PROVISIONED_CONCURRENCY_FLOOR,
                kind="ServerlessEndpoint",
            )
        )
        if variant.provisioned_concurrency is None:
            problems.add(
                f"variant {variant.variant_name!r} has no provisioned concurrency to scale — set "
                "ServerlessProductionVariant(provisioned_concurrency=...) (1 to max_concurrency)"
            )
        if (
            isinstance(max_capacity, int)
            and resolved(max_capacity)
            and resolved(variant.max_concurrency)
            and max_capacity > variant.max_concurrency
        ):
            problems.add(
                f"max_capacity must be <= the variant's max_concurrency {variant.max_concurrency} (got "
                f"{max_capacity}; provisioned concurrency never exceeds it) — lower max_capacity or raise "
                f"max_concurrency (at most {SERVERLESS_CONCURRENCY_RANGE[1]})"
            )
        if self._provisioned is not None:
            problems.add(
                f"{self.node.path} already scales its provisioned concurrency — add policies to the "
                "ScalableProvisionedConcurrency the first call returned"
            )
        problems.raise_if_any()
        scalable = ScalableProvisionedConcurrency(
            self,
            f"ProvisionedConcurrency{variant.variant_name}",
            endpoint_name=self.endpoint_name,
            variant_name=variant.variant_name,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
        )
        count = variant.provisioned_concurrency
        if resolved(count) and count is not None and not min_capacity <= count <= max_capacity:
            Annotations.of(self).add_warning_v2(
                f"{_WARNING_PREFIX}:provisionedConcurrencyOutsideCapacity:{variant.variant_name}",
                f"Variant {variant.variant_name!r}: provisioned_concurrency {count} is outside [min_capacity "
                f"{min_capacity}, max_capacity {max_capacity}]; autoscaling moves it into the range after deployment.",
            )
        self._provisioned = scalable
        return scalable


class ScalableProvisionedConcurrency(appscaling.BaseScalableAttribute):
    """The provisioned concurrency of a serverless variant, as an Application Auto Scaling target.

    Created by :meth:`ServerlessEndpoint.auto_scale_provisioned_concurrency`. The scalable target
    is the child ``Target`` (dimension ``sagemaker:variant:DesiredProvisionedConcurrency``),
    registered through Application Auto Scaling's SageMaker service-linked role.

    Args:
        scope: the endpoint.
        id: the construct id.
        endpoint_name: the endpoint.
        variant_name: the serverless variant.
        min_capacity: the least provisioned concurrency, >= 1.
        max_capacity: the most, >= ``min_capacity``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint_name: str,
        variant_name: str,
        min_capacity: int,
        max_capacity: int,
    ) -> None:
        role = service_linked_scaling_role(scope, f"{id}Role")
        super().__init__(
            scope,
            id,
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=variant_resource_id(endpoint_name, variant_name),
            dimension=PROVISIONED_CONCURRENCY_DIMENSION,
            role=role,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
        )
        self.variant_name = variant_name
        self.min_capacity = min_capacity
        self.max_capacity = max_capacity

    def _policy_ids(self) -> set[str]:
        return {child.node.id for child in self.node.find_child("Target").node.children}

    def scale_on_utilization(
        self,
        id: str,
        *,
        target_utilization: float,
        scale_in_cooldown: Duration | None = None,
        scale_out_cooldown: Duration | None = None,
        disable_scale_in: bool = False,
    ) -> appscaling.TargetTrackingScalingPolicy:
        """Track ``SageMakerVariantProvisionedConcurrencyUtilization`` (used / provisioned, 0-1).

        Args:
            id: the policy's construct id, unique among this target's policies.
            target_utilization: the utilization to keep, > 0 and <= 1 (e.g. 0.5: half the
                provisioned concurrency in use, the other half absorbing bursts without a cold start).
            scale_in_cooldown: wait after a scale-in. Defaults to 300 s.
            scale_out_cooldown: wait after a scale-out. Defaults to 60 s.
            disable_scale_in: only ever scale out. Defaults to False.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        problems = Problems("scale_on_utilization")
        id_problems = check_str("id", id, example=" such as 'Utilization'")
        if not id_problems and id in self._policy_ids():
            id_problems.append(
                f"id {id!r} is already a policy on this scalable target — give each policy its own id"
            )
        problems.extend(id_problems)
        target_problems = check_number("target_utilization", target_utilization, 0, 1)
        if not target_problems and resolved(target_utilization) and target_utilization == 0:
            target_problems.append("target_utilization must be > 0 (got 0) — e.g. 0.5")
        problems.extend(
            [
                p if " — " in p else f"{p} — a fraction of the provisioned concurrency, e.g. 0.5"
                for p in target_problems
            ]
        )
        problems.extend(check_duration("scale_in_cooldown", scale_in_cooldown, 0))
        problems.extend(check_duration("scale_out_cooldown", scale_out_cooldown, 0))
        problems.extend(check_bool("disable_scale_in", disable_scale_in, optional=False))
        problems.raise_if_any()
        self._do_scale_to_track_metric(
            id,
            target_value=target_utilization,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_PROVISIONED_CONCURRENCY_UTILIZATION,
            scale_in_cooldown=scale_in_cooldown or Duration.seconds(defaults.scale_in_cooldown_seconds()),
            scale_out_cooldown=scale_out_cooldown or Duration.seconds(defaults.scale_out_cooldown_seconds()),
            disable_scale_in=disable_scale_in,
        )
        policy = self.node.find_child("Target").node.find_child(id)
        assert isinstance(policy, appscaling.TargetTrackingScalingPolicy)
        return policy

    def scale_on_schedule(
        self,
        id: str,
        *,
        schedule: appscaling.Schedule,
        min_capacity: int | None = None,
        max_capacity: int | None = None,
    ) -> None:
        """Set the provisioned-concurrency bounds on a schedule (e.g. warm capacity in business hours).

        Args:
            id: the scheduled action's construct id.
            schedule: when, e.g. ``Schedule.cron(hour="8", minute="0", week_day="MON-FRI")``.
            min_capacity: the least provisioned concurrency from then on, >= 1. Defaults to unchanged.
            max_capacity: the most from then on. Defaults to unchanged.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        problems = Problems("scale_on_schedule")
        problems.extend(check_str("id", id, example=" such as 'BusinessHours'"))
        problems.extend(
            check_type(
                "schedule", schedule, appscaling.Schedule,
                "use appscaling.Schedule.cron(hour='8', minute='0')", optional=False,
            )
        )  # fmt: skip
        if min_capacity is None and max_capacity is None:
            problems.add("min_capacity or max_capacity is required (got neither) — e.g. min_capacity=4")
        problems.extend(
            capacity_problems(
                min_capacity=min_capacity,
                max_capacity=max_capacity,
                floor=PROVISIONED_CONCURRENCY_FLOOR,
                kind="ServerlessEndpoint",
                optional=True,
            )
        )
        problems.raise_if_any()
        self._do_scale_on_schedule(
            id, schedule=schedule, min_capacity=min_capacity, max_capacity=max_capacity
        )
