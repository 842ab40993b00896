"""Application Auto Scaling of SageMaker production variants: the one place scalable targets are wired.

Policies (invocations now; GPU utilization and backlog later) are methods of
:class:`ScalableInstanceCount`, shared by every endpoint construct.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_iam as iam

from constructs import Construct
from serving_constructs import defaults
from serving_constructs._validation import Problems, check_range, resolved

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"

# Application Auto Scaling acts through this service-linked role, which it creates on first use.
_SERVICE_LINKED_ROLE = (
    "role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com",
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
)


def variant_resource_id(endpoint_name: str, variant_name: str) -> str:
    """Return the Application Auto Scaling resource id of a production variant."""
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


def capacity_problems(*, min_capacity: int, max_capacity: int) -> list[str]:
    """Return every problem with a variant's instance-count bounds."""
    # Instance-based variants cannot scale to zero: SageMaker only scales inference-component
    # endpoints (and async endpoints, via their backlog) down to zero instances.
    problems = check_range("min_capacity", min_capacity, 1, None)
    problems += check_range("max_capacity", max_capacity, 1, None)
    if resolved(min_capacity) and resolved(max_capacity) and max_capacity < min_capacity:
        problems.append(f"max_capacity must be >= min_capacity (got {max_capacity} < {min_capacity})")
    return problems


class ScalableInstanceCount(appscaling.BaseScalableAttribute):
    """The instance count of one production variant, as an Application Auto Scaling target.

    Created by ``endpoint.auto_scale_instance_count(...)``; add policies with ``scale_on_*``.
    The scalable target is the child ``Target``.
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
        problems = Problems("ScalableInstanceCount")
        problems.extend(capacity_problems(min_capacity=min_capacity, max_capacity=max_capacity))
        problems.raise_if_any()
        role = iam.Role.from_role_arn(
            scope,
            f"{id}Role",
            Stack.of(scope).format_arn(
                service="iam",
                region="",
                resource=_SERVICE_LINKED_ROLE[0],
                resource_name=_SERVICE_LINKED_ROLE[1],
            ),
        )
        super().__init__(
            scope,
            id,
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=variant_resource_id(endpoint_name, variant_name),
            dimension=SCALABLE_DIMENSION,
            role=role,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
        )
        self.variant_name = variant_name
        self.min_capacity = min_capacity
        self.max_capacity = max_capacity

    def scale_on_invocations(
        self,
        id: str,
        *,
        invocations_per_instance_per_minute: float,
        scale_in_cooldown: Duration | None = None,
        scale_out_cooldown: Duration | None = None,
        disable_scale_in: bool = False,
    ) -> None:
        """Track ``SageMakerVariantInvocationsPerInstance`` (invocations per instance per minute).

        Pick the target as a safety fraction of the per-instance throughput measured under load
        (seed 000: 3,192/min for BERT-large with TensorRT, dynamic batching and two instances per
        GPU on ml.g4dn.xlarge).

        Args:
            id: the policy's construct id.
            invocations_per_instance_per_minute: the target value, > 0.
            scale_in_cooldown: wait after a scale-in. Defaults to 300 s.
            scale_out_cooldown: wait after a scale-out. Defaults to 60 s.
            disable_scale_in: only ever scale out. Defaults to False.
        """
        problems = Problems("scale_on_invocations")
        if resolved(invocations_per_instance_per_minute) and invocations_per_instance_per_minute <= 0:
            problems.add(
                f"invocations_per_instance_per_minute must be > 0 (got {invocations_per_instance_per_minute:g})"
            )
        problems.raise_if_any()
        self._do_scale_to_track_metric(
            id,
            target_value=invocations_per_instance_per_minute,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=_or(scale_in_cooldown, defaults.scale_in_cooldown_seconds()),
            scale_out_cooldown=_or(scale_out_cooldown, defaults.scale_out_cooldown_seconds()),
            disable_scale_in=disable_scale_in,
        )


def _or(duration: Duration | None, default_seconds: int) -> Duration:
    return Duration.seconds(default_seconds) if duration is None else duration
