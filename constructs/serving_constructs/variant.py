"""Production variants: the props of one model fleet behind an endpoint, validated in one place.

Two variant kinds, as separate typed props (aws-sagemaker-alpha's ``InstanceProductionVariantProps``
and ``ServerlessProductionVariantProps``): :class:`ProductionVariant` runs on instances you choose;
:class:`ServerlessProductionVariant` is sized by memory and concurrency. SageMaker does not mix
the two in one endpoint, and each endpoint kind says which kind it takes
(``EndpointBase.variant_kinds``): ``RealtimeEndpoint`` takes instance variants only;
``ServerlessEndpoint`` (:mod:`serving_constructs.serverless`) takes one serverless variant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aws_cdk import Duration
from aws_cdk import aws_sagemaker as sagemaker

from serving_constructs import defaults
from serving_constructs._validation import (
    check_duration,
    check_int,
    check_number,
    check_str,
    check_type,
    resolved,
)
from serving_constructs.container import MultiContainerModel
from serving_constructs.container_model import ContainerModel
from serving_constructs.instance_type import InstanceType
from serving_constructs.model import TritonModel

# CreateEndpointConfig API limits (SageMaker API Reference, ProductionVariant).
VARIANT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
MAX_VARIANTS = 10
VOLUME_SIZE_RANGE_GB = (1, 512)
TIMEOUT_RANGE_SECONDS = (60, 3600)

# ProductionVariantServerlessConfig (SageMaker API Reference,
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html).
SERVERLESS_MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_CONCURRENCY_RANGE = (1, 200)


def variant_name_problems(name: str, value: Any) -> list[str]:
    """Return the problems with a production variant name (``VARIANT_NAME_PATTERN``; tokens pass)."""
    problems = check_str(name, value, example=" such as 'AllTraffic'")
    if not problems and resolved(value) and not VARIANT_NAME_PATTERN.match(value):
        fixed = re.sub(r"[^A-Za-z0-9]+", "-", value).strip("-")[:63].strip("-") or "AllTraffic"
        problems.append(
            f"{name} must be 1-63 letters, digits or inner hyphens (got {value!r}) — e.g. {fixed!r}"
        )
    return problems


class VariantBase:
    """What every production variant kind has: a model, a name and a traffic weight.

    Subclasses are frozen dataclasses with ``model``, ``variant_name`` and
    ``initial_variant_weight`` fields; they add their own props, checks and rendering.
    """

    kind: ClassVar[str]
    """How messages name the kind: ``"instance"`` or ``"serverless"``."""

    model: TritonModel | MultiContainerModel | ContainerModel
    variant_name: str
    initial_variant_weight: float

    def problems(self, path: str) -> list[str]:
        """Return every problem with these props, each prefixed with ``path`` (e.g. ``variants[0]``)."""
        problems = check_type(
            f"{path}.model",
            self.model,
            (TritonModel, MultiContainerModel, ContainerModel),
            "pass the TritonModel, MultiContainerModel or ContainerModel construct: "
            "ProductionVariant(model=TritonModel(self, 'Model', artifact=...))",
        )
        problems += variant_name_problems(f"{path}.variant_name", self.variant_name)
        problems += check_number(f"{path}.initial_variant_weight", self.initial_variant_weight, 0)
        return problems

    def render(self) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        """Return the CloudFormation production variant."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class ProductionVariant(VariantBase):
    """One fleet of instances behind an endpoint (an instance-based SageMaker production variant).

    Attributes:
        model: the model the variant serves: a ``TritonModel`` or a ``ContainerModel`` (your own
            container).
        variant_name: the variant name (unique per endpoint; the ``VariantName`` metric dimension).
            Defaults to ``"AllTraffic"``.
        instance_type: the instance type, e.g. ``InstanceType.of("ml.g5.xlarge")``. Defaults to
            ``ml.g4dn.xlarge`` (one NVIDIA T4).
        initial_instance_count: instances at creation (autoscaling takes over afterwards), >= 1.
            Defaults to 1.
        initial_variant_weight: the share of traffic relative to the other variants' weights, >= 0.
            Defaults to 1.0.
        volume_size_in_gb: the EBS volume per instance, 1-512 GB. Defaults to SageMaker's default;
            instance types with NVMe storage use their local disk instead.
        model_data_download_timeout: time allowed to download and extract the artifact, 60-3600 s.
            Defaults to one from the archive's size when it is known at synth (``from_build``,
            ``from_asset``: :func:`serving_constructs.defaults.startup_timeouts`, at least 600 s), else
            SageMaker's default. Not set by default on a multi-model variant: its archives are
            loaded on request, not at startup.
        container_startup_health_check_timeout: time allowed for the container to pass its
            ``/ping`` health check, 60-3600 s. Defaults as ``model_data_download_timeout`` does.
    """

    kind: ClassVar[str] = "instance"

    model: TritonModel | MultiContainerModel | ContainerModel
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
        problems = super().problems(path)
        type_ok = not (
            instance_type_problems := check_type(
                f"{path}.instance_type",
                self.instance_type,
                InstanceType,
                f"use InstanceType.of({self.instance_type!r})"
                if isinstance(self.instance_type, str)
                else "use InstanceType.of('ml.g4dn.xlarge') or a constant such as InstanceType.ML_G5_XLARGE",
            )
        )
        problems += instance_type_problems
        if (
            type_ok
            and isinstance(self.model, (TritonModel, MultiContainerModel))
            and self.model.requires_gpu
            and self.instance_type.resolved
            and not self.instance_type.is_gpu
        ):
            problems.append(
                f"{path}.instance_type {self.instance_type} has no GPU but the model needs one (KIND_GPU "
                "instance groups in its Triton config, or a TensorRT engine; Triton would fail to load it) — "
                "choose a GPU type (ml.g*/ml.p*) or build the model with instance_kind KIND_CPU and backend "
                "onnxruntime"
            )
        if type_ok and isinstance(self.model, (TritonModel, MultiContainerModel)):
            problems += [f"{path}.model: {p}" for p in self.model.engine_problems(self.instance_type)]
        problems += check_int(f"{path}.initial_instance_count", self.initial_instance_count, 1)
        problems += check_int(
            f"{path}.volume_size_in_gb", self.volume_size_in_gb, *VOLUME_SIZE_RANGE_GB, " GB", optional=True
        )
        for name, timeout in (
            ("model_data_download_timeout", self.model_data_download_timeout),
            ("container_startup_health_check_timeout", self.container_startup_health_check_timeout),
        ):
            problems += check_duration(f"{path}.{name}", timeout, *TIMEOUT_RANGE_SECONDS)
        return problems

    def render(self) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        """Return the CloudFormation production variant."""
        download, startup = self.startup_timeouts()
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=self.variant_name,
            model_name=self.model.model_name,
            instance_type=self.instance_type.name,
            initial_instance_count=self.initial_instance_count,
            initial_variant_weight=self.initial_variant_weight,
            volume_size_in_gb=self.volume_size_in_gb,
            model_data_download_timeout_in_seconds=_seconds(download),
            container_startup_health_check_timeout_in_seconds=_seconds(startup),
        )

    def startup_timeouts(self) -> tuple[Duration | None, Duration | None]:
        """Return the ``(model_data_download_timeout, container_startup_health_check_timeout)`` rendered.

        The values set win; an unset one defaults from the archive's size when it is known at synth
        (:func:`serving_constructs.defaults.startup_timeouts`). A multi-model variant gets no default:
        SageMaker loads its archives on request, after the container passed its health check.
        """
        download, startup = self.model_data_download_timeout, self.container_startup_health_check_timeout
        if (download is None or startup is None) and not self.model.multi_model:
            if isinstance(self.model, MultiContainerModel):
                size = self.model.model_data_size_bytes
            else:  # a ContainerModel may have no model data
                artifact = self.model.artifact
                size = None if artifact is None else artifact.size_bytes
            if size is not None:
                sized_download, sized_startup = defaults.startup_timeouts(size)
                download = sized_download if download is None else download
                startup = sized_startup if startup is None else startup
        return download, startup


@dataclass(frozen=True, kw_only=True)
class ServerlessProductionVariant(VariantBase):
    """A serverless production variant: SageMaker runs the model on demand, sized by memory.

    :class:`~serving_constructs.serverless.ServerlessEndpoint` takes it (``RealtimeEndpoint`` refuses
    it); which models qualify is :func:`serving_constructs.serverless.serverless_fit`'s rule.
    Serverless endpoints have no GPUs (SageMaker Developer Guide, "Serverless Inference",
    https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html), so a ``KIND_GPU``
    model is refused.

    Attributes:
        model: the model the variant serves: a ``TritonModel`` on CPUs with ``network_isolation=False``,
            or your own container (``ContainerModel`` with ``network_isolation=False``). A
            ``MultiContainerModel`` (no inference pipelines on serverless), a ``NeuronModel``
            (Inferentia is instance-only) and a multi-model model are refused by the endpoint.
        memory_size_in_mb: 1024, 2048, 3072, 4096, 5120 or 6144.
        max_concurrency: concurrent invocations, 1-200.
        provisioned_concurrency: invocations kept warm, 1-200 and <= ``max_concurrency``. Defaults
            to none (cold starts).
        variant_name: the variant name. Defaults to ``"AllTraffic"``.
        initial_variant_weight: the traffic weight. Defaults to 1.0.
    """

    kind: ClassVar[str] = "serverless"

    model: TritonModel | ContainerModel
    memory_size_in_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None = None
    variant_name: str = field(default_factory=defaults.variant_name)
    initial_variant_weight: float = field(default_factory=defaults.initial_variant_weight)

    def problems(self, path: str) -> list[str]:
        """Return every problem with these props, each prefixed with ``path``."""
        problems = super().problems(path)
        if isinstance(self.model, TritonModel) and self.model.requires_gpu:
            problems.append(
                f"{path}.model uses KIND_GPU instance groups but serverless endpoints have no GPUs — "
                "build the model with instance_kind KIND_CPU"
            )
        memory_problems = check_int(f"{path}.memory_size_in_mb", self.memory_size_in_mb, 1024, 6144, " MB")
        if not memory_problems and resolved(self.memory_size_in_mb) and self.memory_size_in_mb % 1024:
            memory_problems.append(
                f"{path}.memory_size_in_mb must be one of {', '.join(map(str, SERVERLESS_MEMORY_SIZES_MB))} "
                f"(got {self.memory_size_in_mb})"
            )
        problems += memory_problems
        problems += check_int(f"{path}.max_concurrency", self.max_concurrency, *SERVERLESS_CONCURRENCY_RANGE)
        provisioned = check_int(
            f"{path}.provisioned_concurrency",
            self.provisioned_concurrency,
            *SERVERLESS_CONCURRENCY_RANGE,
            optional=True,
        )
        if (
            not provisioned
            and resolved(self.provisioned_concurrency)
            and isinstance(self.max_concurrency, int)
            and resolved(self.max_concurrency)
            and self.provisioned_concurrency > self.max_concurrency  # type: ignore[operator]
        ):
            provisioned.append(
                f"{path}.provisioned_concurrency must be <= max_concurrency "
                f"(got {self.provisioned_concurrency} > {self.max_concurrency})"
            )
        return problems + provisioned

    def render(self) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        """Return the CloudFormation production variant with its ``ServerlessConfig``."""
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=self.variant_name,
            model_name=self.model.model_name,
            initial_variant_weight=self.initial_variant_weight,
            serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                memory_size_in_mb=self.memory_size_in_mb,
                max_concurrency=self.max_concurrency,
                provisioned_concurrency=self.provisioned_concurrency,
            ),
        )


def _seconds(duration: Duration | None) -> float | None:
    return None if duration is None else duration.to_seconds()
