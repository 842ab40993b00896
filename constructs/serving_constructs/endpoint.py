"""Real-time SageMaker endpoints serving Triton models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import Annotations, IResolvable, IStableAnyProducer, Lazy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct, IValidation
from serving_constructs import defaults
from serving_constructs._validation import Problems, resolved
from serving_constructs.metrics import variant_metric
from serving_constructs.scaling import ScalableInstanceCount
from serving_constructs.variant import MAX_VARIANTS, ProductionVariant

_WARNING_PREFIX = "serving-constructs"


@jsii.implements(IStableAnyProducer)
class _Produce:
    """Render an L1 property from construct state at synth, so ``add_*`` methods can keep adding."""

    def __init__(self, produce: Any) -> None:
        self._produce = produce

    def produce(self) -> Any:
        return self._produce()


def _lazy(produce: Any) -> IResolvable:
    return Lazy.any(_Produce(produce))


class EndpointBase(Construct):
    """What every endpoint kind shares: production variants, metrics, invoke grants and scaling.

    Subclasses create the ``CfnEndpointConfig`` (child ``EndpointConfig``) and the ``CfnEndpoint``
    (child ``Resource``), render the variants with ``ProductionVariant.render`` and set
    ``endpoint_name`` and ``endpoint_arn``.
    """

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self._variants: list[ProductionVariant] = []
        self._scaling: dict[str, ScalableInstanceCount] = {}
        self.node.add_validation(_HasVariants(self))

    # --- variants -------------------------------------------------------------------------

    @property
    def variants(self) -> tuple[ProductionVariant, ...]:
        """The production variants, in the order they were added."""
        return tuple(self._variants)

    def add_production_variant(self, variant: ProductionVariant) -> None:
        """Add a production variant (A/B testing: traffic splits by ``initial_variant_weight``).

        Raises:
            PropsError: the variant's props are invalid, its name is taken, or the endpoint is full.
        """
        problems = Problems(type(self).__name__)
        problems.extend(self._variant_problems(variant, f"variants[{len(self._variants)}]", self._variants))
        problems.raise_if_any()
        self._add_variant(variant)

    def _variant_problems(
        self, variant: ProductionVariant, path: str, existing: Sequence[ProductionVariant]
    ) -> list[str]:
        problems = variant.problems(path)
        names = [v.variant_name for v in existing]
        if resolved(variant.variant_name) and variant.variant_name in names:
            problems.append(
                f"{path}.variant_name must be unique in the endpoint (got {variant.variant_name!r} twice)"
            )
        if len(existing) >= MAX_VARIANTS:
            problems.append(f"an endpoint takes at most {MAX_VARIANTS} production variants (adding {path})")
        return problems

    def _add_variant(self, variant: ProductionVariant) -> None:
        self._variants.append(variant)
        if resolved(variant.initial_instance_count) and variant.initial_instance_count == 1:
            Annotations.of(self).add_warning_v2(
                f"{_WARNING_PREFIX}:singleInstance:{variant.variant_name}",
                f"Variant {variant.variant_name!r} starts with a single instance: no Availability Zone "
                "redundancy. Use initial_instance_count >= 2 (and min_capacity >= 2) in production.",
            )

    def _variant(self, variant_name: str | None) -> ProductionVariant:
        if not self._variants:
            raise ValueError(f"{self.node.path} has no production variants yet — add one first")
        if variant_name is None:
            return self._variants[0]
        for variant in self._variants:
            if variant.variant_name == variant_name:
                return variant
        names = ", ".join(repr(v.variant_name) for v in self._variants)
        raise ValueError(f"{self.node.path} has no variant {variant_name!r} (it has {names})")

    # --- identity (set by subclasses) ------------------------------------------------------

    endpoint_name: str
    """The generated endpoint name."""
    endpoint_arn: str
    """The endpoint ARN (as SageMaker writes it: the name lowercased)."""

    # --- access ---------------------------------------------------------------------------

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``grantee`` ``sagemaker:InvokeEndpoint`` on this endpoint only."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:InvokeEndpoint"], resource_arns=[self.endpoint_arn]
        )

    # --- metrics --------------------------------------------------------------------------

    def metric(
        self, metric_name: str, *, variant_name: str | None = None, namespace: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return ``metric_name`` of one variant (dimensions ``EndpointName`` and ``VariantName``).

        Args:
            metric_name: the CloudWatch metric name.
            variant_name: the variant. Defaults to the first variant.
            namespace: the namespace. Defaults to the SageMaker namespace of known metric names
                (``AWS/SageMaker`` for invocation metrics, ``/aws/sagemaker/Endpoints`` for instance
                metrics), else ``AWS/SageMaker``.
            **props: further ``cloudwatch.Metric`` props (statistic, period, label, ...).
        """
        variant = self._variant(variant_name)
        return variant_metric(
            metric_name,
            endpoint_name=self.endpoint_name,
            variant_name=variant.variant_name,
            namespace=namespace,
            **props,
        )

    def metric_invocations(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the requests sent to the variant (Sum). Defaults to the first variant."""
        return self.metric("Invocations", variant_name=variant_name, **props)

    def metric_invocations_per_instance(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the requests per instance, which invocation scaling tracks (Sum). Defaults to the first variant."""
        return self.metric("InvocationsPerInstance", variant_name=variant_name, **props)

    def metric_model_latency(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the time the model container took to respond, in MICROseconds (Average). Defaults to the first variant."""
        return self.metric("ModelLatency", variant_name=variant_name, **props)

    def metric_overhead_latency(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return SageMaker's own time per request (total minus ModelLatency), in MICROseconds (Average). Defaults to the first variant."""
        return self.metric("OverheadLatency", variant_name=variant_name, **props)

    def metric_invocation_4xx_errors(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the requests answered with a 4xx status (Sum). Defaults to the first variant."""
        return self.metric("Invocation4XXErrors", variant_name=variant_name, **props)

    def metric_invocation_5xx_errors(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the requests answered with a 5xx status (Sum). Defaults to the first variant."""
        return self.metric("Invocation5XXErrors", variant_name=variant_name, **props)

    def metric_cpu_utilization(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the CPU utilization in percent, 100% per vCPU (Average). Defaults to the first variant."""
        return self.metric("CPUUtilization", variant_name=variant_name, **props)

    def metric_memory_utilization(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the memory utilization in percent (Average). Defaults to the first variant."""
        return self.metric("MemoryUtilization", variant_name=variant_name, **props)

    def metric_gpu_utilization(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the GPU utilization in percent, 100% per GPU (Average). Defaults to the first variant."""
        return self.metric("GPUUtilization", variant_name=variant_name, **props)

    def metric_gpu_memory_utilization(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the GPU memory utilization in percent, 100% per GPU (Average). Defaults to the first variant."""
        return self.metric("GPUMemoryUtilization", variant_name=variant_name, **props)

    def metric_disk_utilization(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the disk utilization in percent (Average). Defaults to the first variant."""
        return self.metric("DiskUtilization", variant_name=variant_name, **props)

    # --- scaling --------------------------------------------------------------------------

    def auto_scale_instance_count(
        self, variant_name: str | None = None, *, min_capacity: int, max_capacity: int
    ) -> ScalableInstanceCount:
        """Make a variant's instance count scalable between ``min_capacity`` and ``max_capacity``.

        Add policies on the result (``scale_on_invocations(...)``). Once a variant scales, the
        endpoint keeps the scaled instance count across deploys (``RetainAllVariantProperties``)
        instead of resetting it to ``initial_instance_count``.

        Args:
            variant_name: the variant. Defaults to ``"AllTraffic"``.
            min_capacity: the fewest instances, >= 1 (instance-based variants cannot scale to zero).
            max_capacity: the most instances, >= ``min_capacity``.

        Raises:
            PropsError: invalid bounds.
            ValueError: no such variant, or it already scales.
        """
        variant = self._variant(defaults.variant_name() if variant_name is None else variant_name)
        if variant.variant_name in self._scaling:
            raise ValueError(f"Variant {variant.variant_name!r} of {self.node.path} already auto-scales")
        scalable = ScalableInstanceCount(
            self,
            f"InstanceCount{variant.variant_name}",
            endpoint_name=self.endpoint_name,
            variant_name=variant.variant_name,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
        )
        count = variant.initial_instance_count
        if (
            resolved(count)
            and resolved(min_capacity)
            and resolved(max_capacity)
            and not min_capacity <= count <= max_capacity
        ):
            Annotations.of(self).add_warning_v2(
                f"{_WARNING_PREFIX}:initialCountOutsideCapacity:{variant.variant_name}",
                f"Variant {variant.variant_name!r}: initial_instance_count {count} is outside "
                f"[min_capacity {min_capacity}, max_capacity {max_capacity}]; autoscaling will move it "
                "into the range right after deployment.",
            )
        self._scaling[variant.variant_name] = scalable
        return scalable

    def _retain_scaled_counts(self) -> bool | None:
        return True if self._scaling else None

    def _excluded_retained_properties(self) -> list[sagemaker.CfnEndpoint.VariantPropertyProperty] | None:
        # Keep only the (autoscaled) instance count; weights and data capture follow the new config.
        if not self._scaling:
            return None
        return [
            sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DesiredWeight"),
            sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DataCaptureConfig"),
        ]


@jsii.implements(IValidation)
class _HasVariants:
    """``node.add_validation`` hook: an endpoint without variants cannot be created."""

    def __init__(self, endpoint: EndpointBase) -> None:
        self._endpoint = endpoint

    def validate(self) -> list[str]:
        if self._endpoint.variants:
            return []
        return [
            f"{type(self._endpoint).__name__} has no production variants — pass variants or call add_production_variant"
        ]


class RealtimeEndpoint(EndpointBase):
    """A real-time SageMaker endpoint: an ``EndpointConfig`` and an ``Endpoint``, names generated.

    The endpoint config is replaced on every change and CloudFormation then updates the endpoint
    in place (blue/green), so neither has a fixed physical name. ``node.default_child`` is the
    ``CfnEndpoint``; the config is the child ``EndpointConfig``.

    Args:
        scope: the parent construct.
        id: the construct id.
        variants: the production variants. Defaults to none; add them with
            :meth:`add_production_variant` (synth fails if there are none).
        kms_key: the key encrypting the instances' EBS volumes. Defaults to AWS-managed
            encryption. Refused on instance types with local NVMe storage (g4dn, g5, g6, p4d, ...):
            SageMaker encrypts those disks itself and rejects the key.

    Raises:
        PropsError: every problem with the props, in one message.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        variants: Sequence[ProductionVariant] | None = None,
        kms_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        variants = [] if variants is None else list(variants)
        self.kms_key = kms_key

        problems = Problems("RealtimeEndpoint")
        for index, variant in enumerate(variants):
            problems.extend(self._variant_problems(variant, f"variants[{index}]", variants[:index]))
        problems.raise_if_any()
        for variant in variants:
            self._add_variant(variant)

        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=_lazy(lambda: [v.render() for v in self._variants]),
            kms_key_id=None if kms_key is None else kms_key.key_arn,
        )
        self._resource = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            retain_all_variant_properties=_lazy(self._retain_scaled_counts),
            exclude_retained_variant_properties=_lazy(self._excluded_retained_properties),
        )
        self.endpoint_name = self._resource.attr_endpoint_name
        # Ref of AWS::SageMaker::Endpoint is its ARN, as SageMaker writes it (name lowercased);
        # an ARN formatted from the mixed-case generated name would not match in IAM.
        self.endpoint_arn = self._resource.ref
        self.endpoint_config_name: str = self.endpoint_config.attr_endpoint_config_name
        """The generated endpoint config name."""

    def _variant_problems(
        self, variant: ProductionVariant, path: str, existing: Sequence[ProductionVariant]
    ) -> list[str]:
        problems = super()._variant_problems(variant, path, existing)
        if self.kms_key is not None and variant.instance_type.has_nvme_instance_storage:
            problems.append(
                f"kms_key is not supported on {variant.instance_type} ({path}; NVMe instance storage: "
                "SageMaker rejects VolumeKmsKeyId) — remove kms_key or choose a non-NVMe type"
            )
        if resolved(variant.volume_size_in_gb) and variant.instance_type.has_nvme_instance_storage:
            Annotations.of(self).add_warning_v2(
                f"{_WARNING_PREFIX}:volumeSizeOnNvme:{variant.variant_name}",
                f"{path}.volume_size_in_gb is set but {variant.instance_type} uses local NVMe storage; "
                "SageMaker may reject or ignore it.",
            )
        return problems
