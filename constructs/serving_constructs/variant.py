"""Production variants: the props of one model fleet behind an endpoint, validated in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aws_cdk import Duration, Token
from aws_cdk import aws_sagemaker as sagemaker

from serving_constructs import defaults
from serving_constructs._validation import check_range, resolved
from serving_constructs.instance_type import InstanceType
from serving_constructs.model import TritonModel

# CreateEndpointConfig API limits (SageMaker API Reference, ProductionVariant).
VARIANT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
MAX_VARIANTS = 10
VOLUME_SIZE_RANGE_GB = (1, 512)
TIMEOUT_RANGE_SECONDS = (60, 3600)


@dataclass(frozen=True, kw_only=True)
class ProductionVariant:
    """One model fleet behind an endpoint (a SageMaker production variant).

    Attributes:
        model: the model the variant serves.
        variant_name: the variant name (unique per endpoint; the ``VariantName`` metric dimension).
            Defaults to ``"AllTraffic"``.
        instance_type: the instance type. Defaults to ``ml.g4dn.xlarge`` (one NVIDIA T4).
        initial_instance_count: instances at creation (autoscaling takes over afterwards).
            Defaults to 1.
        initial_variant_weight: the share of traffic relative to the other variants' weights.
            Defaults to 1.0.
        volume_size_in_gb: the EBS volume per instance, 1-512 GB. Defaults to SageMaker's default;
            instance types with NVMe storage use their local disk instead.
        model_data_download_timeout: time allowed to download the artifact, 60-3600 s. Defaults to
            SageMaker's default.
        container_startup_health_check_timeout: time allowed for the container to pass its
            ``/ping`` health check, 60-3600 s. Defaults to SageMaker's default.
    """

    model: TritonModel
    variant_name: str = field(default_factory=defaults.variant_name)
    instance_type: InstanceType = field(
        default_factory=lambda: InstanceType.of(defaults.instance_type_name())
    )
    initial_instance_count: int = field(default_factory=defaults.initial_instance_count)
    initial_variant_weight: float = field(default_factory=defaults.initial_variant_weight)
    volume_size_in_gb: int | None = None
    model_data_download_timeout: Duration | None = None
    container_startup_health_check_timeout: Duration | None = None

    def problems(self, path: str) -> list[str]:
        """Return every problem with these props, each prefixed with ``path`` (e.g. ``variants[0]``)."""
        problems: list[str] = []
        if resolved(self.variant_name) and not VARIANT_NAME_PATTERN.match(self.variant_name):
            problems.append(
                f"{path}.variant_name must be 1-63 letters, digits or inner hyphens (got {self.variant_name!r})"
            )
        if self.model.requires_gpu and resolved(self.instance_type.name) and not self.instance_type.is_gpu:
            problems.append(
                f"{path}.instance_type {self.instance_type} has no GPU but the model's Triton config uses "
                "KIND_GPU instance groups (Triton would fail to load it) — choose a GPU type (ml.g*/ml.p*) "
                "or build the model with instance_kind KIND_CPU"
            )
        problems += check_range(f"{path}.initial_instance_count", self.initial_instance_count, 1, None)
        problems += check_range(f"{path}.initial_variant_weight", self.initial_variant_weight, 0, None)
        problems += check_range(
            f"{path}.volume_size_in_gb", self.volume_size_in_gb, *VOLUME_SIZE_RANGE_GB, " GB"
        )
        for name, timeout in (
            ("model_data_download_timeout", self.model_data_download_timeout),
            ("container_startup_health_check_timeout", self.container_startup_health_check_timeout),
        ):
            if timeout is not None and not Token.is_unresolved(timeout.to_seconds()):
                problems += check_range(f"{path}.{name}", timeout.to_seconds(), *TIMEOUT_RANGE_SECONDS, " s")
        return problems

    def render(self) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        """Return the CloudFormation production variant."""
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=self.variant_name,
            model_name=self.model.model_name,
            instance_type=self.instance_type.name,
            initial_instance_count=self.initial_instance_count,
            initial_variant_weight=self.initial_variant_weight,
            volume_size_in_gb=self.volume_size_in_gb,
            model_data_download_timeout_in_seconds=_seconds(self.model_data_download_timeout),
            container_startup_health_check_timeout_in_seconds=_seconds(
                self.container_startup_health_check_timeout
            ),
        )


def _seconds(duration: Duration | None) -> float | None:
    return None if duration is None else duration.to_seconds()
