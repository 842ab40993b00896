"""Application Auto Scaling of SageMaker production variants: the one place scalable targets are wired.

:class:`ScalableInstanceCount` is the instance count of one variant as a scalable attribute, with
the whole policy family in the style of aws-ecs's ``ScalableTaskCount``: target tracking on
invocations, on GPU utilization or on any metric, step scaling on a metric, and scheduled
capacity. The endpoint kind sets the capacity floor (:class:`CapacityFloor`): 1 for
instance-based real-time endpoints, 0 for asynchronous ones, whose
:class:`AsyncScalableInstanceCount` adds backlog tracking and the scale-out-from-zero step
(:class:`ScaleOutFromZero`).

Updates that change an instance type (aws-cdk #29626)
------------------------------------------------------
SageMaker refuses an ``UpdateEndpoint`` that changes the instance type of, or removes, a variant
that is a registered scalable target ("the update fails"); AWS's advice is to deregister the
target, update, and register it again
(https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html). CloudFormation
updates a resource before the resources that depend on it, and the scalable target depends on the
endpoint (its ``ResourceId`` holds the endpoint name), so nothing in the stack as CDK writes it can
act before the endpoint update. Every autoscaled variant therefore gets, in one ``cdk deploy``:

1. **Deregister before the update.** :class:`ScalingRelease` (child ``ScalingRelease`` of the
   endpoint) holds a custom resource ``BeforeUpdate`` that the ``AWS::SageMaker::Endpoint``
   ``DependsOn``. Its properties carry ``{variant: instance type}`` of the autoscaled variants (not
   the model, image or weights: SageMaker allows those changes with a registered target), so
   CloudFormation sends it an Update exactly when a type changes or a variant goes, and the
   handler (``handlers/scaling_release/index.py``, one Python function per stack) deregisters
   those variants' targets (Application Auto Scaling deletes their policies with them). The
   resource cannot reference the endpoint (that would be a cycle); it gets the endpoint's logical
   id as a plain string and reads the physical id with ``cloudformation:DescribeStackResource``.
2. **A new target after the update.** The scalable target and its policies live under a construct
   whose id ends with the instance type (``InstanceCountAllTrafficMlG5Xlarge``), so a new type is a
   new logical id: CloudFormation creates the target and policies after the endpoint update (they
   reference it) and its view stays true. A readable suffix rather than a hash, so ``cdk diff``
   shows why the target is replaced.
3. **Retain the old target.** The old target's delete in the cleanup phase would deregister the
   new registration (same ``ResourceId`` and dimension), so targets carry ``DeletionPolicy`` and
   ``UpdateReplacePolicy: Retain``. The old policies' deletes find nothing (deleted with the
   deregistration); CloudFormation treats a delete that finds nothing as done. Step-scaling
   alarms are stack resources of their own and are deleted in cleanup like any replaced resource.
4. **Release on delete.** Because targets are retained, a second custom resource ``OnDelete``
   ``DependsOn`` the endpoint (so CloudFormation deletes it first): when the endpoint or its
   autoscaling leaves the app, or the stack is deleted, it deregisters every autoscaled variant,
   so ``cdk destroy`` leaves no target behind and the endpoint delete is never refused.

A failed update that CloudFormation rolls back: if the release already ran, the old target stays
deregistered (its policies are gone with it) while CloudFormation believes it exists, because a
rollback cannot recreate what Application Auto Scaling deleted. The endpoint keeps serving on its
old configuration at its current instance count, without autoscaling, until the next deploy that
changes the type (or a manual ``register-scalable-target``); ``docs/updates.md`` says how to spot
and fix it. Stacks deployed before this release step existed: the first deploy gives the target a
new logical id and deletes the old one (which had no Retain) in cleanup, which deregisters the new
registration; deploy that version once with autoscaling off, then on (``docs/updates.md``).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import (
    Annotations,
    CustomResource,
    Duration,
    IStableAnyProducer,
    Lazy,
    RemovalPolicy,
    Stack,
    TimeZone,
)
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from serving_constructs import defaults
from serving_constructs._handler_function import StackHandlerFunction
from serving_constructs._nag import acknowledge, arn_finding_prefix
from serving_constructs._validation import (
    Problems,
    PropsError,
    article,
    check_bool,
    check_duration,
    check_int,
    check_interface,
    check_positive,
    check_str,
    check_type,
    given,
    resolved,
)
from serving_constructs.instance_type import InstanceType
from serving_constructs.metrics import endpoint_metric

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"

# Application Auto Scaling acts through this service-linked role, which it creates on first use.
_SERVICE_LINKED_ROLE = (
    "role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com",
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
)

# CustomizedMetricSpecification.Statistic (Application Auto Scaling API Reference): no percentiles.
_TRACKING_STATISTICS = ("Average", "Minimum", "Maximum", "SampleCount", "Sum")

# The codes of CDK's step-interval errors (aws-cdk-lib, aws-autoscaling-common/lib/interval-utils).
_CDK_INTERVAL_ERRORS = ("CouldDetermineLowerUpper", "IntervalsOverlap", "MostNoChangeInterval")


@dataclass(frozen=True)
class CapacityFloor:
    """The fewest instances an endpoint kind may scale down to, and why.

    Attributes:
        minimum: the smallest ``min_capacity`` allowed.
        reason: the sentence an error shows when ``min_capacity`` is below it.
    """

    minimum: int
    reason: str


INSTANCE_CAPACITY_FLOOR = CapacityFloor(
    1,
    "only asynchronous (or inference-component) endpoints can scale to zero instances; an "
    "instance-based real-time endpoint always keeps one",
)
"""The floor of real-time (and multi-model) endpoints.

Only endpoints hosting inference components scale a real-time fleet to zero instances
(https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html).
"""

SCALE_TO_ZERO = CapacityFloor(0, "")
"""The floor of endpoint kinds that SageMaker scales to zero (asynchronous endpoints)."""


def variant_resource_id(endpoint_name: str, variant_name: str) -> str:
    """Return the Application Auto Scaling resource id of a production variant."""
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


def instance_type_suffix(instance_type: InstanceType | None) -> str:
    """Return the construct-id suffix naming a variant's instance type: ``ml.g5.xlarge`` -> ``MlG5Xlarge``.

    The scalable target lives under ``InstanceCount<variant><suffix>``, so a new instance type is a
    new logical id (see the module docstring). Each dot-separated part is capitalized, so distinct
    (lowercase) type names give distinct suffixes. An unknown or unresolved type gives ``""``.
    """
    if instance_type is None or not instance_type.resolved:
        return ""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", instance_type.name) if part)


@jsii.implements(IStableAnyProducer)
class _Produce:
    def __init__(self, produce: Any) -> None:
        self._produce = produce

    def produce(self) -> Any:
        return self._produce()


#: The resource type of the release step.
RELEASE_RESOURCE_TYPE = "Custom::ScalingRelease"
#: The stack-level construct holding the one release function (with its role and log group).
RELEASE_HANDLER_ID = "ScalingReleaseHandler"
#: Deregistering takes seconds; the timeout leaves room for API retries.
RELEASE_FUNCTION_TIMEOUT = Duration.minutes(2)
#: How long CloudFormation waits for an answer: the timeout plus a minute, not its default hour.
RELEASE_SERVICE_TIMEOUT = Duration.minutes(3)
_RELEASE_DESCRIPTION = "Deregisters SageMaker variants' scalable targets before an instance-type change or delete"



def service_linked_scaling_role(scope: Construct, id: str) -> iam.IRole:
    """Return Application Auto Scaling's service-linked role for SageMaker (imported by ARN, created by AWS)."""
    return iam.Role.from_role_arn(
        scope,
        id,
        Stack.of(scope).format_arn(
            service="iam", region="", resource=_SERVICE_LINKED_ROLE[0], resource_name=_SERVICE_LINKED_ROLE[1]
        ),
    )

class _ReleaseHandler(StackHandlerFunction):
    """The stack's one function that deregisters scalable targets: its role, log group and code.

    Least privilege: ``cloudformation:DescribeStackResource`` on this stack only;
    ``application-autoscaling:DescribeScalableTargets`` on ``*`` (it has no resource-level
    permissions); ``application-autoscaling:DeregisterScalableTarget`` on the scalable targets of
    this account and region (their ARNs carry an id Application Auto Scaling assigns, not the
    endpoint's name, so a tighter ARN cannot be written at synth). No SageMaker permission: the
    endpoint name comes from the stack, the target from Application Auto Scaling.
    """

    def __init__(self, scope: Construct, id: str) -> None:
        stack = Stack.of(scope)
        super().__init__(
            scope,
            id,
            handler="scaling_release",
            role_description=_RELEASE_DESCRIPTION,
            function_description=_RELEASE_DESCRIPTION,
            timeout=RELEASE_FUNCTION_TIMEOUT,
            memory_size=128,
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["cloudformation:DescribeStackResource"], resources=[stack.stack_id])
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["application-autoscaling:DescribeScalableTargets"], resources=["*"])
        )
        targets = stack.format_arn(
            service="application-autoscaling", resource="scalable-target", resource_name="*"
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["application-autoscaling:DeregisterScalableTarget"], resources=[targets]
            )
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "application-autoscaling:DescribeScalableTargets has no resource-level permissions (Service "
            "Authorization Reference); it only reads which targets are registered.",
        )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::{arn_finding_prefix(self.role, 'application-autoscaling')}scalable-target/*]",
            "A scalable target's ARN ends with an id Application Auto Scaling assigns at registration, unknown at "
            "synth; deregistration is confined to this account and region, and the handler deregisters only the "
            "variants of this stack's endpoint.",
        )

    @staticmethod
    def of(scope: Construct) -> _ReleaseHandler:
        """Return the stack's release handler, creating it on first use."""
        return _ReleaseHandler.once_per_stack(scope, RELEASE_HANDLER_ID)


class ScalingRelease(Construct):
    """The release steps of one endpoint's autoscaled variants (see the module docstring).

    Child ``ScalingRelease`` of the endpoint, created with its first scalable variant. Two
    ``Custom::ScalingRelease`` resources with the properties ``Phase``, ``EndpointLogicalId`` and
    ``Variants`` (``{variant: instance type}``):

    * ``BeforeUpdate``: the endpoint ``DependsOn`` it; deregisters a variant's target before an
      update that changes its instance type or removes it.
    * ``OnDelete``: it ``DependsOn`` the endpoint; deregisters every variant's target before the
      endpoint (or its autoscaling) is deleted.

    Attributes:
        before_update: the custom resource updated before the endpoint.
        on_delete: the custom resource deleted before the endpoint.
    """

    def __init__(self, scope: Construct, id: str, *, endpoint: sagemaker.CfnEndpoint) -> None:
        super().__init__(scope, id)
        self._variants: dict[str, str] = {}
        handler = _ReleaseHandler.of(self)
        logical_id = Stack.of(self).get_logical_id(endpoint)
        variants = Lazy.any(_Produce(lambda: dict(sorted(self._variants.items()))))

        def release(phase: str) -> CustomResource:
            resource = CustomResource(
                self,
                phase,
                service_token=handler.function.function_arn,
                resource_type=RELEASE_RESOURCE_TYPE,
                service_timeout=RELEASE_SERVICE_TIMEOUT,
                properties={"Phase": phase, "EndpointLogicalId": logical_id, "Variants": variants},
            )
            # The role's policies exist before the handler runs.
            resource.node.add_dependency(handler.role)
            return resource

        self.before_update = release("BeforeUpdate")
        endpoint.node.add_dependency(self.before_update)
        self.on_delete = release("OnDelete")
        self.on_delete.node.add_dependency(endpoint)

    @property
    def variants(self) -> dict[str, str]:
        """``{variant: instance type}`` of the released variants (a copy)."""
        return dict(self._variants)

    def add_variant(self, variant_name: str, instance_type_name: str) -> None:
        """Release ``variant_name``'s target when its instance type (``instance_type_name``) changes or it goes."""
        self._variants[variant_name] = instance_type_name

    @staticmethod
    def of(endpoint_scope: Construct) -> ScalingRelease | None:
        """Return the release steps of the endpoint ``endpoint_scope`` (created on first use).

        None when ``endpoint_scope`` is no endpoint (its default child is not an
        ``AWS::SageMaker::Endpoint``): nothing to release before.
        """
        existing = endpoint_scope.node.try_find_child("ScalingRelease")
        if isinstance(existing, ScalingRelease):
            return existing
        endpoint = endpoint_scope.node.default_child
        if not isinstance(endpoint, sagemaker.CfnEndpoint):
            return None
        return ScalingRelease(endpoint_scope, "ScalingRelease", endpoint=endpoint)


def capacity_problems(
    *,
    min_capacity: object,
    max_capacity: object,
    floor: CapacityFloor = INSTANCE_CAPACITY_FLOOR,
    kind: str = "endpoint",
    optional: bool = False,
) -> list[str]:
    """Return every problem with a variant's instance-count bounds.

    Args:
        min_capacity: the fewest instances.
        max_capacity: the most instances.
        floor: the endpoint kind's floor. Defaults to 1 (instance-based real-time endpoints).
        kind: the endpoint kind as messages name it (``"RealtimeEndpoint"``). Defaults to ``"endpoint"``.
        optional: whether either bound may be None (a scheduled action sets one or both).
            Defaults to False.
    """
    min_problems = check_int("min_capacity", min_capacity, 0, optional=optional)
    max_problems = check_int("max_capacity", max_capacity, 1, optional=optional)
    problems = min_problems + max_problems
    min_ok = not min_problems and resolved(min_capacity)
    if min_ok and min_capacity < floor.minimum:  # type: ignore[operator]
        problems.append(
            f"min_capacity must be >= {floor.minimum} on {article(kind)} {kind} (got {min_capacity}): {floor.reason} — "
            f"use min_capacity={floor.minimum}"
        )
    if min_ok and not max_problems and resolved(max_capacity) and max_capacity < min_capacity:  # type: ignore[operator]
        problems.append(
            f"max_capacity must be >= min_capacity (got {max_capacity} < {min_capacity}) — raise max_capacity "
            "or lower min_capacity"
        )
    return problems


def _moment_problems(name: str, value: object) -> list[str]:
    """Return the problems with a scheduled action's start or end time: a datetime with a time zone."""
    fix = f"pass {name}=datetime.datetime(2027, 1, 1, 8, 0, tzinfo=datetime.timezone.utc)"
    problems = check_type(name, value, datetime.datetime, fix, optional=True)
    if not problems and isinstance(value, datetime.datetime) and value.utcoffset() is None:
        # jsii refuses naive datetimes ("Naive datetimes are not supported") at synth.
        problems.append(f"{name} must have a time zone (got {value.isoformat()}, a naive datetime) — {fix}")
    return problems


def _cooldown(value: Duration | None, default_seconds: int) -> Duration:
    return Duration.seconds(default_seconds) if value is None else value


def _tracking_problems(
    scale_in_cooldown: object, scale_out_cooldown: object, disable_scale_in: object
) -> list[str]:
    return (
        check_duration("scale_in_cooldown", scale_in_cooldown, 0)
        + check_duration("scale_out_cooldown", scale_out_cooldown, 0)
        + check_bool("disable_scale_in", disable_scale_in, optional=False)
    )


def _metric_problems(name: str, metric: object, *, tracking: bool) -> list[str]:
    problems = check_interface(
        name,
        metric,
        "IMetric",
        "to_metric_config",
        "pass a cloudwatch.Metric, e.g. endpoint.metric('ApproximateBacklogSizePerInstance')",
    )
    if (
        not problems
        and tracking
        and isinstance(metric, cloudwatch.Metric)
        and resolved(metric.statistic)
        and metric.statistic not in _TRACKING_STATISTICS
    ):
        problems.append(
            f"{name} statistic must be one of {', '.join(_TRACKING_STATISTICS)} for target tracking "
            f"(got {metric.statistic!r}) — pass statistic='Average' (Application Auto Scaling takes no percentiles)"
        )
    return problems


class ScalableInstanceCount(appscaling.BaseScalableAttribute):
    """The instance count of one production variant, as an Application Auto Scaling target.

    Created by ``endpoint.auto_scale_instance_count(...)``; add policies with the ``scale_*``
    methods. The scalable target is the child ``Target``; each policy is a child of it, so its
    construct id is part of its logical id. Under an endpoint, the construct id ends with the
    instance type (``InstanceCountAllTrafficMlG5Xlarge``), the target is retained, and the
    endpoint's :class:`ScalingRelease` deregisters it before a type change or a delete, so those
    deploy in one ``cdk deploy`` (module docstring; aws-cdk #29626).

    Several policies on one target act together: Application Auto Scaling runs each and uses the
    largest capacity any of them asks for (AWS warns that they can conflict).

    Args:
        scope: the endpoint.
        id: the construct id.
        endpoint_name: the endpoint.
        variant_name: the production variant.
        min_capacity: the fewest instances, >= the endpoint kind's floor.
        max_capacity: the most instances, >= ``min_capacity``.
        capacity_floor: the endpoint kind's floor. Defaults to 1 (instance-based real-time).
        endpoint_kind: the endpoint kind as messages name it. Defaults to ``"endpoint"``.
        instance_type: the variant's instance type, used to check GPU-utilization targets against
            its GPU count. Defaults to unknown (targets are only checked to be > 0).

    Raises:
        PropsError: every problem with the bounds, in one message.
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
        capacity_floor: CapacityFloor | None = None,
        endpoint_kind: str = "endpoint",
        instance_type: InstanceType | None = None,
    ) -> None:
        floor = INSTANCE_CAPACITY_FLOOR if capacity_floor is None else capacity_floor
        problems = Problems("ScalableInstanceCount")
        problems.extend(
            capacity_problems(
                min_capacity=min_capacity, max_capacity=max_capacity, floor=floor, kind=endpoint_kind
            )
        )
        problems.raise_if_any()
        role = service_linked_scaling_role(scope, f"{id}Role")
        # The target's construct id ends with the instance type: a new type is a new target
        # (module docstring, "Updates that change an instance type").
        super().__init__(
            scope,
            id + instance_type_suffix(instance_type),
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=variant_resource_id(endpoint_name, variant_name),
            dimension=SCALABLE_DIMENSION,
            role=role,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
        )
        self.endpoint_name = endpoint_name
        self.variant_name = variant_name
        self.min_capacity = min_capacity
        self.max_capacity = max_capacity
        self.capacity_floor = floor
        self.endpoint_kind = endpoint_kind
        self.instance_type = instance_type
        self._scheduled_action_names: set[str] = set()
        self.release: ScalingRelease | None = None
        """The endpoint's release steps this variant is part of; None outside an endpoint."""
        if instance_type is not None and instance_type_suffix(instance_type):
            self.release = ScalingRelease.of(scope)
        if self.release is not None:
            assert instance_type is not None
            self.release.add_variant(variant_name, instance_type.name)
            target = self.node.find_child("Target")
            assert isinstance(target, appscaling.ScalableTarget)
            # The release steps deregister it; a delete of an old target would deregister its successor.
            target.apply_removal_policy(RemovalPolicy.RETAIN)
        elif instance_type is not None:
            Annotations.of(scope).add_warning_v2(
                f"serving-constructs:scalingReleaseUnknownType:{variant_name}",
                f"Variant {variant_name!r}: the instance type is not known at synth, so an update that changes it "
                "cannot deregister the scalable target first and SageMaker will refuse it (aws-cdk #29626). Use an "
                "instance type known at synth, e.g. InstanceType.of('ml.g5.xlarge').",
            )

    def _policy(self, id: str) -> Construct:
        target = self.node.find_child("Target")
        child = target.node.find_child(id)
        assert isinstance(child, Construct)
        return child

    def _policy_ids(self) -> set[str]:
        return {child.node.id for child in self.node.find_child("Target").node.children}

    @staticmethod
    def _id_problems(id: object, taken: set[str], what: str) -> list[str]:
        problems = check_str("id", id, example=" such as 'Invocations'")
        if not problems and id in taken:
            problems.append(
                f"id {id!r} is already a {what} on this scalable target — give each {what} its own id"
            )
        return problems

    # --- target tracking ------------------------------------------------------------------

    def scale_on_invocations(
        self,
        id: str,
        *,
        invocations_per_instance_per_minute: float,
        scale_in_cooldown: Duration | None = None,
        scale_out_cooldown: Duration | None = None,
        disable_scale_in: bool = False,
    ) -> appscaling.TargetTrackingScalingPolicy:
        """Track ``SageMakerVariantInvocationsPerInstance`` (invocations per instance per minute).

        Pick the target as a safety fraction of the per-instance throughput measured under load
        (seed 000, AWS's "Achieve hyperscale performance for model serving using NVIDIA Triton
        Inference Server on Amazon SageMaker", https://aws.amazon.com/blogs/machine-learning/achieve-hyperscale-performance-for-model-serving-using-nvidia-triton-inference-server-on-amazon-sagemaker/ :
        3,192/min for BERT-large with TensorRT, dynamic batching and two instances per GPU on
        ml.g4dn.xlarge; a figure of that post, not measured here).

        Args:
            id: the policy's construct id, unique among this target's policies.
            invocations_per_instance_per_minute: the target value, > 0.
            scale_in_cooldown: wait after a scale-in. Defaults to 300 s.
            scale_out_cooldown: wait after a scale-out. Defaults to 60 s.
            disable_scale_in: only ever scale out. Defaults to False.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        problems = Problems("scale_on_invocations")
        problems.extend(self._id_problems(id, self._policy_ids(), "policy"))
        problems.extend(
            check_positive("invocations_per_instance_per_minute", invocations_per_instance_per_minute)
        )
        problems.extend(_tracking_problems(scale_in_cooldown, scale_out_cooldown, disable_scale_in))
        problems.raise_if_any()
        return self._track(
            id,
            appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            invocations_per_instance_per_minute,
            scale_in_cooldown,
            scale_out_cooldown,
            disable_scale_in,
        )

    def scale_to_track_metric(
        self,
        id: str,
        *,
        metric: cloudwatch.IMetric,
        target_value: float,
        scale_in_cooldown: Duration | None = None,
        scale_out_cooldown: Duration | None = None,
        disable_scale_in: bool = False,
    ) -> appscaling.TargetTrackingScalingPolicy:
        """Keep ``metric`` at ``target_value`` (target tracking on any CloudWatch metric).

        The metric must grow with load per instance (more load, higher value: scale out), e.g.
        ``endpoint.metric("ApproximateBacklogSizePerInstance")`` on an asynchronous endpoint. Its
        statistic must be Average, Minimum, Maximum, SampleCount or Sum.

        Args:
            id: the policy's construct id, unique among this target's policies.
            metric: the metric to track.
            target_value: the value to keep it at, > 0.
            scale_in_cooldown: wait after a scale-in. Defaults to 300 s.
            scale_out_cooldown: wait after a scale-out. Defaults to 60 s.
            disable_scale_in: only ever scale out. Defaults to False.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        problems = Problems("scale_to_track_metric")
        problems.extend(self._id_problems(id, self._policy_ids(), "policy"))
        problems.extend(_metric_problems("metric", metric, tracking=True))
        problems.extend(check_positive("target_value", target_value))
        problems.extend(_tracking_problems(scale_in_cooldown, scale_out_cooldown, disable_scale_in))
        problems.raise_if_any()
        return self._track(id, metric, target_value, scale_in_cooldown, scale_out_cooldown, disable_scale_in)

    def scale_on_gpu_utilization(
        self,
        id: str,
        *,
        target_utilization_percent: float,
        scale_in_cooldown: Duration | None = None,
        scale_out_cooldown: Duration | None = None,
        disable_scale_in: bool = False,
    ) -> appscaling.TargetTrackingScalingPolicy:
        """Keep ``GPUUtilization`` (``/aws/sagemaker/Endpoints``, EndpointName + VariantName, Average) at a target.

        SageMaker reports GPUUtilization **summed over the instance's GPUs**: it runs from 0 to
        100 x the GPU count. The target is on that scale, so 60 % of each GPU is 60 on
        ml.g4dn.xlarge (1 GPU) and 240 on ml.g5.12xlarge (4 GPUs). The AWS multi-model GPU notebook
        tracks 60 on single-GPU instances (``resnet50_mme_with_gpu.ipynb``,
        https://github.com/aws/amazon-sagemaker-examples/blob/1ddf24e4b93538076343dd1b3b5088daf52331f3/multi-model-endpoints/mme-on-gpu/cv/resnet50_mme_with_gpu.ipynb).

        Args:
            id: the policy's construct id, unique among this target's policies.
            target_utilization_percent: the GPUUtilization to keep, > 0 and <= 100 x the variant's
                GPU count when the instance type's GPU count is known.
            scale_in_cooldown: wait after a scale-in. Defaults to 300 s.
            scale_out_cooldown: wait after a scale-out. Defaults to 60 s.
            disable_scale_in: only ever scale out. Defaults to False.

        Raises:
            PropsError: every problem with the props (including a CPU instance type), in one message.
        """
        problems = Problems("scale_on_gpu_utilization")
        problems.extend(self._id_problems(id, self._policy_ids(), "policy"))
        target_problems = check_positive("target_utilization_percent", target_utilization_percent)
        gpus = None if self.instance_type is None else self.instance_type.gpu_count
        if gpus == 0:
            problems.add(
                f"variant {self.variant_name!r} runs on {self.instance_type}, which has no GPU, so SageMaker "
                "publishes no GPUUtilization — scale on invocations (scale_on_invocations) or choose a GPU type"
            )
        elif not target_problems and gpus is not None and resolved(target_utilization_percent):
            ceiling = 100 * gpus
            if target_utilization_percent > ceiling:
                problems.add(
                    f"target_utilization_percent must be <= {ceiling} on {self.instance_type} (got "
                    f"{target_utilization_percent:g}): GPUUtilization runs to 100 x the GPU count and it has "
                    f"{gpus} GPU{'s' if gpus > 1 else ''} — e.g. {int(0.6 * ceiling)} keeps each GPU at 60 %"
                )
        problems.extend(target_problems)
        problems.extend(_tracking_problems(scale_in_cooldown, scale_out_cooldown, disable_scale_in))
        problems.raise_if_any()
        metric = endpoint_metric(
            "GPUUtilization",
            endpoint_name=self.endpoint_name,
            variant_name=self.variant_name,
            statistic="Average",
        )
        return self._track(
            id, metric, target_utilization_percent, scale_in_cooldown, scale_out_cooldown, disable_scale_in
        )

    def _track(
        self,
        id: str,
        metric: cloudwatch.IMetric | appscaling.PredefinedMetric,
        target_value: float,
        scale_in_cooldown: Duration | None,
        scale_out_cooldown: Duration | None,
        disable_scale_in: bool,
    ) -> appscaling.TargetTrackingScalingPolicy:
        self._do_scale_to_track_metric(
            id,
            target_value=target_value,
            predefined_metric=metric if isinstance(metric, appscaling.PredefinedMetric) else None,
            custom_metric=None if isinstance(metric, appscaling.PredefinedMetric) else metric,
            scale_in_cooldown=_cooldown(scale_in_cooldown, defaults.scale_in_cooldown_seconds()),
            scale_out_cooldown=_cooldown(scale_out_cooldown, defaults.scale_out_cooldown_seconds()),
            disable_scale_in=disable_scale_in,
        )
        policy = self._policy(id)
        assert isinstance(policy, appscaling.TargetTrackingScalingPolicy)
        return policy

    # --- step scaling ---------------------------------------------------------------------

    def scale_on_metric(
        self,
        id: str,
        *,
        metric: cloudwatch.IMetric,
        scaling_steps: Sequence[appscaling.ScalingInterval],
        adjustment_type: appscaling.AdjustmentType | None = None,
        cooldown: Duration | None = None,
        evaluation_periods: int | None = None,
        datapoints_to_alarm: int | None = None,
        metric_aggregation_type: appscaling.MetricAggregationType | None = None,
        min_adjustment_magnitude: int | None = None,
    ) -> appscaling.StepScalingPolicy:
        """Scale in steps on a metric's value (step scaling: CloudWatch alarms drive the changes).

        CDK needs at least two intervals (https://github.com/aws/aws-cdk/issues/28776). For a
        single step, e.g. "add one instance while the value is >= 1", give a zero-change interval
        below it: ``[ScalingInterval(upper=0.5, change=0), ScalingInterval(lower=0.5, change=1)]``.
        On a 0/1 metric such as ``HasBacklogWithoutCapacity`` that is AWS's scale-from-zero step
        (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html).

        Args:
            id: the policy's construct id, unique among this target's policies.
            metric: the metric the alarms watch.
            scaling_steps: the intervals and the capacity change of each, at least two.
            adjustment_type: how ``change`` applies. Defaults to ``CHANGE_IN_CAPACITY``.
            cooldown: wait after an activity. Defaults to none (Application Auto Scaling's default).
            evaluation_periods: periods the alarms evaluate, >= 1. Defaults to 1.
            datapoints_to_alarm: breaching periods that trigger, 1..``evaluation_periods``.
                Defaults to ``evaluation_periods``.
            metric_aggregation_type: how datapoints aggregate. Defaults to the metric's statistic.
            min_adjustment_magnitude: the smallest change with ``PERCENT_CHANGE_IN_CAPACITY``, >= 1.
                Defaults to none.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        problems = Problems("scale_on_metric")
        problems.extend(self._id_problems(id, self._policy_ids(), "policy"))
        problems.extend(_metric_problems("metric", metric, tracking=False))
        if isinstance(scaling_steps, appscaling.ScalingInterval) or not isinstance(scaling_steps, Sequence):
            problems.add(
                f"scaling_steps must be a list of ScalingInterval (got {given(scaling_steps)}) — e.g. "
                "[ScalingInterval(upper=0.5, change=0), ScalingInterval(lower=0.5, change=1)]"
            )
        else:
            for index, step in enumerate(scaling_steps):
                step_problems = check_type(
                    f"scaling_steps[{index}]",
                    step,
                    appscaling.ScalingInterval,
                    "use ScalingInterval(lower=..., change=...)",
                )
                if not step_problems and step.lower is None and step.upper is None:
                    step_problems.append(
                        f"scaling_steps[{index}] needs lower or upper (got neither) — e.g. "
                        "ScalingInterval(lower=0.5, change=1)"
                    )
                problems.extend(step_problems)
            if len(scaling_steps) < 2:
                problems.add(
                    f"scaling_steps needs at least 2 intervals (got {len(scaling_steps)}; aws/aws-cdk#28776) — for "
                    "one step add a zero-change interval: [ScalingInterval(upper=0.5, change=0), "
                    "ScalingInterval(lower=0.5, change=1)]"
                )
        problems.extend(
            check_type(
                "adjustment_type", adjustment_type, appscaling.AdjustmentType,
                "use appscaling.AdjustmentType.CHANGE_IN_CAPACITY", optional=True,
            )
        )  # fmt: skip
        problems.extend(check_duration("cooldown", cooldown, 0))
        problems.extend(check_int("evaluation_periods", evaluation_periods, 1, optional=True))
        problems.extend(check_int("datapoints_to_alarm", datapoints_to_alarm, 1, optional=True))
        if (
            isinstance(evaluation_periods, int)
            and isinstance(datapoints_to_alarm, int)
            and resolved(evaluation_periods)
            and resolved(datapoints_to_alarm)
            and datapoints_to_alarm > evaluation_periods
        ):
            problems.add(
                f"datapoints_to_alarm must be <= evaluation_periods (got {datapoints_to_alarm} > {evaluation_periods}) — "
                "lower datapoints_to_alarm or raise evaluation_periods"
            )
        problems.extend(
            check_type(
                "metric_aggregation_type", metric_aggregation_type, appscaling.MetricAggregationType,
                "use appscaling.MetricAggregationType.AVERAGE", optional=True,
            )
        )  # fmt: skip
        problems.extend(check_int("min_adjustment_magnitude", min_adjustment_magnitude, 1, optional=True))
        problems.raise_if_any()
        try:
            self._do_scale_on_metric(
                id,
                metric=metric,
                scaling_steps=list(scaling_steps),
                adjustment_type=adjustment_type,
                cooldown=cooldown,
                evaluation_periods=evaluation_periods,
                datapoints_to_alarm=datapoints_to_alarm,
                metric_aggregation_type=metric_aggregation_type,
                min_adjustment_magnitude=min_adjustment_magnitude,
            )
        except RuntimeError as error:
            # How the intervals fit together is checked by CDK (aws-autoscaling-common's
            # interval-utils); its codes name what is wrong, the message gets our prop and fix.
            if not any(code in str(error) for code in _CDK_INTERVAL_ERRORS):
                raise
            raise PropsError(
                f"Invalid scale_on_metric props: scaling_steps do not fit together ({str(error).strip()}) — "
                "the intervals must not overlap and at most one may have change=0, e.g. "
                "[ScalingInterval(upper=0.5, change=0), ScalingInterval(lower=0.5, change=1)]"
            ) from None
        policy = self._policy(id)
        assert isinstance(policy, appscaling.StepScalingPolicy)
        return policy

    # --- scheduled capacity ---------------------------------------------------------------

    def scale_on_schedule(
        self,
        id: str,
        *,
        schedule: appscaling.Schedule,
        min_capacity: int | None = None,
        max_capacity: int | None = None,
        start_time: datetime.datetime | None = None,
        end_time: datetime.datetime | None = None,
        time_zone: TimeZone | None = None,
    ) -> None:
        """Set the capacity bounds on a schedule (a scheduled action on the target).

        Example: ``scale_on_schedule("BusinessHours", schedule=Schedule.cron(hour="8", minute="0",
        week_day="MON-FRI"), min_capacity=4)`` and another action that sets it back in the evening.

        Args:
            id: the action's name, unique among this target's scheduled actions.
            schedule: when: ``Schedule.cron(...)``, ``Schedule.rate(...)`` or ``Schedule.at(...)``.
            min_capacity: the new minimum, >= the endpoint kind's floor. At least one of
                ``min_capacity`` and ``max_capacity`` is required.
            max_capacity: the new maximum, >= ``min_capacity`` and >= 1.
            start_time: when the action starts to apply, a datetime with a time zone. Defaults to now.
            end_time: when it stops, after ``start_time``, with a time zone. Defaults to never.
            time_zone: the time zone of a cron schedule. Defaults to UTC.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        problems = Problems("scale_on_schedule")
        problems.extend(
            check_type(
                "schedule", schedule, appscaling.Schedule,
                "use appscaling.Schedule.cron(hour='8', minute='0') or Schedule.rate(Duration.hours(1))",
            )
        )  # fmt: skip
        problems.extend(self._id_problems(id, self._scheduled_action_names, "scheduled action"))
        if min_capacity is None and max_capacity is None:
            problems.add("min_capacity or max_capacity is required (got neither) — pass the bounds to set")
        problems.extend(
            capacity_problems(
                min_capacity=min_capacity,
                max_capacity=max_capacity,
                floor=self.capacity_floor,
                kind=self.endpoint_kind,
                optional=True,
            )
        )
        start_problems = _moment_problems("start_time", start_time)
        end_problems = _moment_problems("end_time", end_time)
        problems.extend(start_problems + end_problems)
        if (
            not start_problems
            and not end_problems
            and start_time is not None
            and end_time is not None
            and end_time <= start_time
        ):
            problems.add(
                f"end_time must be after start_time (got {end_time.isoformat()} <= {start_time.isoformat()}) — "
                "swap them, or drop end_time"
            )
        problems.extend(
            check_type(
                "time_zone",
                time_zone,
                TimeZone,
                "use aws_cdk.TimeZone.EUROPE_BERLIN or the like",
                optional=True,
            )
        )
        problems.raise_if_any()
        self._do_scale_on_schedule(
            id,
            schedule=schedule,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            start_time=start_time,
            end_time=end_time,
            time_zone=time_zone,
        )
        self._scheduled_action_names.add(id)


# --- asynchronous endpoints: scale to zero and back ------------------------------------------

# AWS's scale-from-zero alarm (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html):
# HasBacklogWithoutCapacity, Average over 60 s, 2 of 2 periods >= 1, missing data "missing".
_FROM_ZERO_PERIOD_S = 60
_FROM_ZERO_EVALUATION_PERIODS = 2


class ScaleOutFromZero(Construct):
    """AWS's scale-from-zero recipe: an alarm on ``HasBacklogWithoutCapacity`` drives a one-step policy.

    Target tracking on the backlog per instance cannot leave zero instances (with no instance
    there is no per-instance value), so SageMaker's documented recipe adds a step policy
    (``ChangeInCapacity``, ``MetricAggregationType`` Average, one step ``{lower bound 0: +1}``)
    that an alarm on ``HasBacklogWithoutCapacity`` (Average, 60 s, 2 of 2 periods >= 1,
    missing data "missing", dimension ``EndpointName`` only) triggers
    (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html).

    CDK's ``StepScalingPolicy`` refuses a single step (https://github.com/aws/aws-cdk/issues/28776),
    so this is a ``StepScalingAction`` (child ``Action``) and a ``cloudwatch.Alarm`` (child
    ``Alarm``) whose action is ``ApplicationScalingAction(Action)``: the recipe field for field.
    Created by :meth:`AsyncScalableInstanceCount.scale_out_from_zero`.

    Attributes:
        action: the step scaling policy.
        alarm: the alarm that triggers it.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        scaling_target: appscaling.IScalableTarget,
        metric: cloudwatch.IMetric,
        cooldown: Duration,
        evaluation_periods: int,
        datapoints_to_alarm: int,
    ) -> None:
        super().__init__(scope, id)
        self.action = appscaling.StepScalingAction(
            self,
            "Action",
            scaling_target=scaling_target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=cooldown,
            metric_aggregation_type=appscaling.MetricAggregationType.AVERAGE,
        )
        self.action.add_adjustment(adjustment=1, lower_bound=0)
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            metric=metric,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            treat_missing_data=cloudwatch.TreatMissingData.MISSING,
            alarm_description=(
                "Requests are queued and the variant has no instance (HasBacklogWithoutCapacity): add one "
                "instance (scale out from zero)."
            ),
        )
        self.alarm.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(self.action))


class AsyncScalableInstanceCount(ScalableInstanceCount):
    """The instance count of an asynchronous endpoint's variant: floor 0, and the backlog policies.

    Returned by ``AsyncEndpoint.auto_scale_instance_count(...)``; ``AsyncEndpoint.scale_to_zero()``
    adds both policies at once. Everything of :class:`ScalableInstanceCount` applies (schedules,
    any metric), plus:

    * :meth:`scale_on_backlog_size_per_instance`: target tracking on
      ``ApproximateBacklogSizePerInstance`` (how many queued requests each instance has);
    * :meth:`scale_out_from_zero`: the alarm-driven step that leaves zero instances.

    The queue metrics carry the ``EndpointName`` dimension only (no ``VariantName``): they
    describe the endpoint's one queue, whichever variant serves it.
    """

    def scale_on_backlog_size_per_instance(
        self,
        id: str,
        *,
        target_backlog_per_instance: float | None = None,
        scale_in_cooldown: Duration | None = None,
        scale_out_cooldown: Duration | None = None,
        disable_scale_in: bool = False,
    ) -> appscaling.TargetTrackingScalingPolicy:
        """Keep ``ApproximateBacklogSizePerInstance`` (``AWS/SageMaker``, EndpointName only, Average) at a target.

        Renders AWS's recipe: a ``CustomizedMetricSpecification`` of that metric with the
        ``EndpointName`` dimension only and the Average statistic. It scales in to the target's
        ``min_capacity`` (0) when the queue drains, but cannot leave zero on its own: add
        :meth:`scale_out_from_zero` (or use ``AsyncEndpoint.scale_to_zero``).

        Args:
            id: the policy's construct id, unique among this target's policies.
            target_backlog_per_instance: queued requests per instance to keep, > 0. Defaults to
                5.0 (seed 002 and AWS's recipe).
            scale_in_cooldown: wait after a scale-in. Defaults to 120 s (seed 002).
            scale_out_cooldown: wait after a scale-out. Defaults to 120 s (seed 002).
            disable_scale_in: only ever scale out. Defaults to False.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        target = (
            defaults.backlog_per_instance_target()
            if target_backlog_per_instance is None
            else target_backlog_per_instance
        )
        problems = Problems("scale_on_backlog_size_per_instance")
        problems.extend(self._id_problems(id, self._policy_ids(), "policy"))
        problems.extend(check_positive("target_backlog_per_instance", target))
        problems.extend(_tracking_problems(scale_in_cooldown, scale_out_cooldown, disable_scale_in))
        problems.raise_if_any()
        metric = endpoint_metric(
            "ApproximateBacklogSizePerInstance", endpoint_name=self.endpoint_name, statistic="Average"
        )
        return self._track(
            id,
            metric,
            target,
            _cooldown(scale_in_cooldown, defaults.backlog_scale_in_cooldown_seconds()),
            _cooldown(scale_out_cooldown, defaults.backlog_scale_out_cooldown_seconds()),
            disable_scale_in,
        )

    def scale_out_from_zero(
        self,
        id: str,
        *,
        cooldown: Duration | None = None,
        evaluation_periods: int = _FROM_ZERO_EVALUATION_PERIODS,
        datapoints_to_alarm: int | None = None,
    ) -> ScaleOutFromZero:
        """Add one instance when requests are queued and the variant has none (AWS's recipe).

        An alarm on ``HasBacklogWithoutCapacity`` (``AWS/SageMaker``, EndpointName only, Average
        over 60 s, >= 1 for ``datapoints_to_alarm`` of ``evaluation_periods`` periods, missing
        data "missing") triggers a step policy that adds one instance; target tracking on the
        backlog (:meth:`scale_on_backlog_size_per_instance`) takes over from one instance. See
        :class:`ScaleOutFromZero` for why this is not a CDK ``StepScalingPolicy``.

        Args:
            id: the construct id, unique among this target's policies.
            cooldown: wait after the step before another. Defaults to 300 s (AWS's recipe).
            evaluation_periods: 60 s periods the alarm evaluates, >= 1. Defaults to 2 (AWS's recipe).
            datapoints_to_alarm: periods at >= 1 that trigger it, 1..``evaluation_periods``.
                Defaults to ``evaluation_periods``.

        Returns:
            The :class:`ScaleOutFromZero` construct (its ``action`` and ``alarm``).

        Raises:
            PropsError: every problem with the props, in one message.
        """
        datapoints = evaluation_periods if datapoints_to_alarm is None else datapoints_to_alarm
        problems = Problems("scale_out_from_zero")
        problems.extend(self._id_problems(id, self._policy_ids(), "policy"))
        problems.extend(check_duration("cooldown", cooldown, 0))
        period_problems = check_int("evaluation_periods", evaluation_periods, 1)
        datapoint_problems = check_int("datapoints_to_alarm", datapoints, 1)
        problems.extend(period_problems + datapoint_problems)
        if (
            not period_problems
            and not datapoint_problems
            and resolved(evaluation_periods)
            and resolved(datapoints)
            and datapoints > evaluation_periods
        ):
            problems.add(
                f"datapoints_to_alarm must be <= evaluation_periods (got {datapoints} > {evaluation_periods}) — "
                "lower datapoints_to_alarm or raise evaluation_periods"
            )
        problems.raise_if_any()
        if resolved(self.min_capacity) and self.min_capacity > 0:
            Annotations.of(self).add_warning_v2(
                f"serving-constructs:scaleOutFromZeroAboveZero:{id}",
                f"scale_out_from_zero({id!r}) acts only at zero instances, but min_capacity is "
                f"{self.min_capacity}: HasBacklogWithoutCapacity stays 0 unless a schedule lowers the "
                "minimum to 0. Use min_capacity=0 (AsyncEndpoint.scale_to_zero does).",
            )
        metric = endpoint_metric(
            "HasBacklogWithoutCapacity",
            endpoint_name=self.endpoint_name,
            statistic="Average",
            period=Duration.seconds(_FROM_ZERO_PERIOD_S),
        )
        target = self.node.find_child("Target")
        assert isinstance(target, appscaling.ScalableTarget)
        return ScaleOutFromZero(
            target,
            id,
            scaling_target=target,
            metric=metric,
            cooldown=_cooldown(cooldown, defaults.scale_out_from_zero_cooldown_seconds()),
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints,
        )
