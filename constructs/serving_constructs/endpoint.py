"""SageMaker endpoints serving Triton models: one shared shape, endpoint kinds add only their piece.

Layers, as in aws-sagemaker-alpha's ``endpoint.ts`` and the aws-cdk design guidelines ("Abstract
Base", "Imports"):

* :class:`EndpointResource` is what every endpoint is, created here or imported: an
  ``aws_cdk.Resource`` implementing aws-cdk-lib's own ``aws_sagemaker.IEndpoint`` (so
  ``aws_apigateway.SagemakerIntegration(endpoint)`` and other integrations take it), with
  ``grant_invoke``, ``metric(...)`` and the ``metric_*`` helpers. Its importers
  (:meth:`~EndpointResource.from_endpoint_name`, ``from_endpoint_arn``,
  ``from_endpoint_attributes``) return an :class:`ImportedEndpoint`.
* :class:`EndpointBase` renders the ``CfnEndpointConfig`` (child ``EndpointConfig``) and the
  ``CfnEndpoint`` (child ``Resource``, ``node.default_child``) itself, validates and keeps the
  production variants, and makes their instance counts scalable.
* An endpoint kind (:class:`RealtimeEndpoint` now; multi-model, asynchronous and serverless next)
  contributes only its piece through small hooks: ``variant_kinds`` (which variant kind it takes),
  ``capacity_floor`` (how far its variants scale in), ``serving_modes`` (which metrics it
  publishes), ``invoke_actions`` and :meth:`EndpointBase._endpoint_config_properties` (extra
  ``EndpointConfig`` properties, e.g. an ``AsyncInferenceConfig``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import jsii
from aws_cdk import (
    Annotations,
    Arn,
    ArnFormat,
    IResolvable,
    IStableAnyProducer,
    Lazy,
    Names,
    Resource,
    Stack,
    Token,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk.interfaces import aws_sagemaker as sagemaker_refs

from constructs import Construct, IValidation
from model_build.user_errors import did_you_mean
from serving_constructs import defaults
from serving_constructs._bucket import hardened_bucket
from serving_constructs._nag import acknowledge, flattened
from serving_constructs._validation import (
    Problems,
    PropsError,
    check_interface,
    check_sequence,
    check_str,
    check_type,
    given,
    raise_if_any,
    resolved,
)
from serving_constructs.data_capture import DataCapture
from serving_constructs.deployment import DeploymentPolicy, default_policy
from serving_constructs.instance_type import InstanceType
from serving_constructs.metrics import METRICS, Dimensions, ServingMode, endpoint_metric
from serving_constructs.scaling import INSTANCE_CAPACITY_FLOOR, CapacityFloor, ScalableInstanceCount
from serving_constructs.variant import MAX_VARIANTS, ProductionVariant, VariantBase, variant_name_problems

if TYPE_CHECKING:
    from serving_constructs.monitoring import EndpointMonitoring, ServingDashboard

_WARNING_PREFIX = "serving-constructs"

MAX_ROLLBACK_ALARMS = 10
"""The most alarms ``AutoRollbackConfiguration.Alarms`` takes (botocore's ``AlarmList``: 1-10)."""

MAX_SHADOW_VARIANTS = 1
"""The most shadow variants an endpoint takes: "If you use this field, you can only specify one variant
for ProductionVariants and one variant for ShadowProductionVariants" (CreateEndpointConfig API
reference, ``ShadowProductionVariants``)."""


@jsii.implements(IStableAnyProducer)
class _Produce:
    """Render an L1 property from construct state at synth, so ``add_*`` methods can keep adding."""

    def __init__(self, produce: Any) -> None:
        self._produce = produce

    def produce(self) -> Any:
        return self._produce()


def _lazy(produce: Any) -> IResolvable:
    return Lazy.any(_Produce(produce))


@jsii.implements(sagemaker.IEndpoint)
class EndpointResource(Resource):
    """What every SageMaker endpoint is, created by this library or imported: identity, access, metrics.

    Implements ``aws_cdk.aws_sagemaker.IEndpoint``, so aws-cdk-lib integrations take it
    (``aws_apigateway.SagemakerIntegration(endpoint)``). Not instantiated directly: use an
    endpoint kind (``RealtimeEndpoint``) or an importer (:meth:`from_endpoint_name`).
    """

    serving_modes: ClassVar[frozenset[ServingMode]] = frozenset(ServingMode)
    """The serving modes whose metrics this endpoint publishes (every mode for an import)."""

    invoke_actions: ClassVar[tuple[str, ...]] = ("sagemaker:InvokeEndpoint",)
    """The actions :meth:`grant_invoke` grants (an asynchronous kind adds ``InvokeEndpointAsync``)."""

    # --- identity -------------------------------------------------------------------------

    @property
    def endpoint_name(self) -> str:
        """The endpoint name (the ``EndpointName`` metric dimension)."""
        raise NotImplementedError

    @property
    def endpoint_arn(self) -> str:
        """The endpoint ARN, as SageMaker writes it (the name lowercased)."""
        raise NotImplementedError

    @property
    def endpoint_ref(self) -> sagemaker_refs.EndpointReference:
        """A reference to this endpoint for aws-cdk-lib (``IEndpointRef``)."""
        return sagemaker_refs.EndpointReference(endpoint_arn=self.endpoint_arn)

    @property
    def variant_names(self) -> tuple[str, ...]:
        """The production variant names, in order (metrics default to the first)."""
        raise NotImplementedError

    # --- importers ------------------------------------------------------------------------

    @staticmethod
    def from_endpoint_name(scope: Construct, id: str, endpoint_name: str) -> ImportedEndpoint:
        """Import an endpoint this app did not create, by name (one variant, ``AllTraffic``).

        Args:
            scope: the parent construct.
            id: the construct id.
            endpoint_name: the endpoint's exact name (as CloudWatch dimensions carry it).
        """
        return EndpointResource.from_endpoint_attributes(scope, id, endpoint_name=endpoint_name)

    @staticmethod
    def from_endpoint_arn(scope: Construct, id: str, endpoint_arn: str) -> ImportedEndpoint:
        """Import an endpoint by ARN (one variant, ``AllTraffic``).

        The ARN carries the name lowercased; CloudWatch dimensions carry the exact name. For an
        endpoint whose name has capitals, use :meth:`from_endpoint_attributes` with both.

        Args:
            scope: the parent construct.
            id: the construct id.
            endpoint_arn: ``arn:<partition>:sagemaker:<region>:<account>:endpoint/<name>``.
        """
        return EndpointResource.from_endpoint_attributes(scope, id, endpoint_arn=endpoint_arn)

    @staticmethod
    def from_endpoint_attributes(
        scope: Construct,
        id: str,
        *,
        endpoint_name: str | None = None,
        endpoint_arn: str | None = None,
        variant_names: Sequence[str] | None = None,
    ) -> ImportedEndpoint:
        """Import an endpoint from its name and/or ARN and its variant names.

        Args:
            scope: the parent construct.
            id: the construct id.
            endpoint_name: the exact endpoint name. Defaults to the name in ``endpoint_arn``.
            endpoint_arn: the ARN. Defaults to one formatted from ``endpoint_name`` in the scope's
                account and region (the name lowercased, as SageMaker writes it, when known at synth).
            variant_names: the production variants, so per-variant metrics work. Defaults to one
                variant named :func:`serving_constructs.defaults.variant_name` (``"AllTraffic"``).

        Raises:
            PropsError: neither name nor ARN, a wrong type, or an invalid variant name.
        """
        problems = Problems("EndpointResource.from_endpoint_attributes")
        problems.extend(check_str("endpoint_name", endpoint_name, optional=True))
        problems.extend(check_str("endpoint_arn", endpoint_arn, optional=True))
        if endpoint_name is None and endpoint_arn is None:
            problems.add("endpoint_name or endpoint_arn is required (got neither) — pass the endpoint's name")
        names = [defaults.variant_name()] if variant_names is None else variant_names
        sequence_problems, items = check_sequence(
            "variant_names", names, str, "pass the variant names, e.g. ['AllTraffic']"
        )
        problems.extend(sequence_problems)
        if not sequence_problems:
            if not items:
                problems.add("variant_names must not be empty (got []) — omit it for ['AllTraffic']")
            for index, name in enumerate(items):
                problems.extend(variant_name_problems(f"variant_names[{index}]", name))
        problems.raise_if_any()
        stack = Stack.of(scope)
        if endpoint_arn is None:
            assert endpoint_name is not None
            arn_name = endpoint_name if Token.is_unresolved(endpoint_name) else endpoint_name.lower()
            endpoint_arn = stack.format_arn(service="sagemaker", resource="endpoint", resource_name=arn_name)
        if endpoint_name is None:
            endpoint_name = Arn.split(endpoint_arn, ArnFormat.SLASH_RESOURCE_NAME).resource_name
            assert endpoint_name is not None
        return ImportedEndpoint(
            scope, id, endpoint_name=endpoint_name, endpoint_arn=endpoint_arn, variant_names=tuple(items)
        )

    # --- access ---------------------------------------------------------------------------

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``grantee`` ``sagemaker:InvokeEndpoint`` on this endpoint only."""
        problems = check_interface(
            "grantee", grantee, "iam.IGrantable", "grant_principal", "pass a role, a function or a user"
        )
        raise_if_any("grant_invoke", problems)
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(self.invoke_actions), resource_arns=[self.endpoint_arn]
        )

    # --- metrics --------------------------------------------------------------------------

    def _variant_name(self, variant_name: str | None, caller: str) -> str:
        """Return ``variant_name``, or the first variant's name for None (``caller`` names the method in messages)."""
        if variant_name is not None and not isinstance(variant_name, str):
            raise PropsError(
                f"Invalid {caller} props: variant_name must be a str (got {given(variant_name)}) — pass the "
                f"variant's name, e.g. {self.variant_names[0] if self.variant_names else defaults.variant_name()!r}"
            )
        names = self.variant_names
        if not names:
            raise PropsError(
                f"Invalid {caller} props: {self.node.path} has no production variants yet — add one first"
            )
        if variant_name is None:
            return names[0]
        if variant_name not in names:
            listed = ", ".join(repr(n) for n in names)
            raise PropsError(
                f"Invalid variant_name {variant_name!r}: {self.node.path} has no variant {variant_name!r} "
                f"(it has {listed}){did_you_mean(str(variant_name), names)}"
            )
        return variant_name

    def metric(
        self, metric_name: str, *, variant_name: str | None = None, namespace: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return ``metric_name`` with its namespace, dimension set and default statistic from the table.

        Per-variant metrics get ``EndpointName`` and ``VariantName``; the asynchronous queue
        metrics (``ApproximateBacklogSize`` and co.) get ``EndpointName`` only and take no
        variant. See :data:`serving_constructs.metrics.METRICS`.

        Args:
            metric_name: the CloudWatch metric name.
            variant_name: the variant of a per-variant metric. Defaults to the first variant.
            namespace: the namespace of a metric not in the table (then per-variant). Defaults to
                the table's namespace.
            **props: further ``cloudwatch.Metric`` props (statistic, period, label, ...).

        Raises:
            PropsError: an unknown metric without namespace, a metric this endpoint kind does not
                publish, an unknown variant, or a variant for an endpoint-level metric.
        """
        spec = METRICS.get(metric_name)
        if spec is not None and not spec.modes & self.serving_modes:
            kinds = " and ".join(sorted(mode.value for mode in spec.modes))
            raise PropsError(
                f"Invalid metric props: {type(self).__name__} does not publish {metric_name} — SageMaker "
                f"publishes it for {kinds} endpoints only"
            )
        if spec is not None and spec.dimensions is Dimensions.ENDPOINT:
            return endpoint_metric(
                metric_name,
                endpoint_name=self.endpoint_name,
                variant_name=variant_name,
                namespace=namespace,
                **props,
            )
        return endpoint_metric(
            metric_name,
            endpoint_name=self.endpoint_name,
            variant_name=self._variant_name(variant_name, "metric"),
            namespace=namespace,
            **props,
        )

    def metric_invocations(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the requests sent to the variant (``AWS/SageMaker``, Sum). Defaults to the first variant."""
        return self.metric("Invocations", variant_name=variant_name, **props)

    def metric_invocations_per_instance(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the requests per instance, which invocation scaling tracks (Sum). Defaults to the first variant."""
        return self.metric("InvocationsPerInstance", variant_name=variant_name, **props)

    def metric_model_latency(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the time the model container took to respond, in MICROSECONDS (Average).

        Labelled ``ModelLatency (microseconds)``. A millisecond target (a tuning profile's) becomes
        a threshold with :func:`serving_constructs.units.milliseconds_to_microseconds`. Defaults to
        the first variant.
        """
        return self.metric("ModelLatency", variant_name=variant_name, **props)

    def metric_overhead_latency(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return SageMaker's own time per request (total minus ModelLatency), in MICROSECONDS (Average).

        Labelled ``OverheadLatency (microseconds)``. Defaults to the first variant.
        """
        return self.metric("OverheadLatency", variant_name=variant_name, **props)

    def metric_invocation_4xx_errors(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the requests answered with a 4xx status (Sum; Average is the rate). Defaults to the first variant."""
        return self.metric("Invocation4XXErrors", variant_name=variant_name, **props)

    def metric_invocation_5xx_errors(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the requests answered with a 5xx status (Sum; Average is the rate). Defaults to the first variant."""
        return self.metric("Invocation5XXErrors", variant_name=variant_name, **props)

    def metric_invocation_model_errors(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the requests the model container answered with an error (Sum). Defaults to the first variant."""
        return self.metric("InvocationModelErrors", variant_name=variant_name, **props)

    def metric_cpu_utilization(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the CPU utilization in percent, 100 per vCPU (Average). Defaults to the first variant."""
        return self.metric("CPUUtilization", variant_name=variant_name, **props)

    def metric_memory_utilization(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the memory utilization in percent (Average). Defaults to the first variant."""
        return self.metric("MemoryUtilization", variant_name=variant_name, **props)

    def metric_gpu_utilization(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the GPU utilization in percent, 100 per GPU (Average). Defaults to the first variant."""
        return self.metric("GPUUtilization", variant_name=variant_name, **props)

    def metric_gpu_memory_utilization(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the GPU memory utilization in percent, 100 per GPU (Average). Defaults to the first variant."""
        return self.metric("GPUMemoryUtilization", variant_name=variant_name, **props)

    def metric_disk_utilization(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the disk utilization in percent (Average). Defaults to the first variant."""
        return self.metric("DiskUtilization", variant_name=variant_name, **props)


class ImportedEndpoint(EndpointResource):
    """An endpoint this app did not create (from ``from_endpoint_name``/``_arn``/``_attributes``).

    Offers ``grant_invoke`` and the metrics; it cannot add variants or scale them (the owner of
    the endpoint does).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint_name: str,
        endpoint_arn: str,
        variant_names: Sequence[str],
    ) -> None:
        super().__init__(scope, id, environment_from_arn=endpoint_arn)
        self._endpoint_name = endpoint_name
        self._endpoint_arn = endpoint_arn
        self._variant_names = tuple(variant_names)

    @property
    def endpoint_name(self) -> str:
        """The endpoint name."""
        return self._endpoint_name

    @property
    def endpoint_arn(self) -> str:
        """The endpoint ARN."""
        return self._endpoint_arn

    @property
    def variant_names(self) -> tuple[str, ...]:
        """The variant names given at import (``("AllTraffic",)`` by default)."""
        return self._variant_names


class EndpointBase(EndpointResource):
    """An endpoint this library creates: it renders the ``EndpointConfig`` and the ``Endpoint`` itself.

    The endpoint config is replaced on every change and CloudFormation then updates the endpoint
    in place (blue/green), so neither has a fixed physical name. ``node.default_child`` is the
    ``CfnEndpoint`` (child ``Resource``); the config is the child ``EndpointConfig``. The
    variants render lazily, so :meth:`add_production_variant` can keep adding.

    An endpoint kind subclasses this and sets only its hooks: :attr:`variant_kinds`,
    :attr:`capacity_floor`, ``serving_modes``, ``invoke_actions`` and
    :meth:`_endpoint_config_properties`. A kind that needs its own props sets them on ``self``
    before calling ``super().__init__``, because the base renders the L1s in its constructor.

    Args:
        scope: the parent construct.
        id: the construct id.
        variants: the production variants, of a kind in :attr:`variant_kinds`. Defaults to none;
            add them with :meth:`add_production_variant` (synth fails if there are none).
        kms_key: the key encrypting the instances' EBS volumes. Defaults to AWS-managed
            encryption. Refused on instance types with local NVMe storage (g4dn, g5, g6, p4d, ...):
            SageMaker encrypts those disks itself and rejects the key.
        deployment: how an update rolls out, with rollback on the alarms of
            :meth:`add_rollback_alarm` (``DeploymentPolicy.canary()``, ``.linear(...)``,
            ``.all_at_once()``, ``.rolling()``). Defaults to guardrails on, chosen at synth from the
            variants (:func:`serving_constructs.deployment.default_policy`): rolling in 25 % batches
            for one GPU variant of >= 4 instances, a 1-instance canary when every variant runs >= 2
            instances, else all at once; each bakes 10 minutes. Rolling is refused on several or
            serverless variants; Inf1 variants get a warning (SageMaker ignores guardrails there).
        shadow_variants: variants that get a copy of the production traffic; their answers are
            discarded (``ShadowProductionVariants``). Only where :attr:`takes_shadow_variants`.
            SageMaker takes one shadow variant beside exactly one production variant, of the same
            kind, with a name unused by the production variant. Defaults to none.
        data_capture: capture a sample of requests and answers to S3 (``DataCaptureConfig``;
            :class:`~serving_constructs.data_capture.DataCapture`). Only where
            :attr:`takes_data_capture`. Defaults to none.

    Raises:
        PropsError: every problem with the props, in one message.
    """

    variant_kinds: ClassVar[tuple[type[VariantBase], ...]] = (ProductionVariant,)
    """The production variant kinds the endpoint kind takes (SageMaker never mixes kinds)."""

    capacity_floor: ClassVar[CapacityFloor] = INSTANCE_CAPACITY_FLOOR
    """The fewest instances a variant may scale to (1; an asynchronous kind sets 0)."""

    scalable_count_type: ClassVar[type[ScalableInstanceCount]] = ScalableInstanceCount
    """What :meth:`auto_scale_instance_count` returns (an asynchronous kind adds its backlog policies)."""

    takes_shadow_variants: ClassVar[bool] = False
    """Whether the kind takes ``shadow_variants`` (real-time endpoints; SageMaker's shadow tests)."""

    takes_data_capture: ClassVar[bool] = False
    """Whether the kind takes ``data_capture`` (not serverless: SERVICE-FACTS §7.2)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        variants: Sequence[VariantBase] | None = None,
        kms_key: kms.IKey | None = None,
        deployment: DeploymentPolicy | None = None,
        shadow_variants: Sequence[VariantBase] | None = None,
        data_capture: DataCapture | None = None,
    ) -> None:
        if type(self) is EndpointBase:
            raise TypeError("EndpointBase is abstract — use an endpoint kind such as RealtimeEndpoint")
        super().__init__(scope, id)
        self._variants: list[VariantBase] = []
        self._scaling: dict[str, ScalableInstanceCount] = {}
        self._rollback_alarms: list[cloudwatch.IAlarm] = []
        self._rollback_alarm_names: list[str] = []
        self._describe_alarms: iam.PolicyStatement | None = None
        self._describe_alarms_roles: list[iam.IRole] = []
        self._shadow_variants: list[VariantBase] = []
        self.data_capture: DataCapture | None = None
        """The data capture given (None: no capture)."""
        self.data_capture_bucket: s3.IBucket | None = None
        """The bucket captured data goes to: ``data_capture.bucket`` or the one created (child ``DataCaptureBucket``)."""
        self._capture_granted: set[str] = set()
        self.node.add_validation(_HasVariants(self))
        self.node.add_validation(_DeploymentFits(self))

        problems = Problems(type(self).__name__)
        kind_names = " or ".join(kind.__name__ for kind in self.variant_kinds)
        sequence_problems, items = check_sequence(
            "variants",
            variants,
            VariantBase,
            f"pass a list of {kind_names}, e.g. variants=[ProductionVariant(model=model)]",
            item_name=kind_names,
        )
        problems.extend(sequence_problems)
        problems.extend(
            check_interface(
                "kms_key",
                kms_key,
                "kms.IKey",
                "key_arn",
                "use kms.Key(...) or kms.Key.from_key_arn(...)",
                optional=True,
            )
        )
        self.kms_key = kms_key if not problems else None
        if not sequence_problems:
            for index, variant in enumerate(items):
                problems.extend(self._variant_problems(variant, f"variants[{index}]", items[:index]))
        deployment_problems = check_type(
            "deployment",
            deployment,
            DeploymentPolicy,
            "use DeploymentPolicy.canary(), .linear(step=...), .all_at_once() or .rolling(), or omit it for the default",
            optional=True,
        )
        problems.extend(deployment_problems)
        self._deployment = deployment if not deployment_problems else None
        if self._deployment is not None and not problems:
            problems.extend(self._deployment.problems_for(items, {}, endpoint=f"this {type(self).__name__}"))
        shadow_problems, shadows = self._shadow_problems(shadow_variants, items)
        problems.extend(shadow_problems)
        problems.extend(self._data_capture_problems(data_capture))
        problems.raise_if_any()
        self.data_capture = data_capture
        if data_capture is not None:
            self.data_capture_bucket = (
                hardened_bucket(
                    self,
                    "DataCaptureBucket",
                    key=data_capture.kms_key,
                    holds="the requests and answers this endpoint captures",
                    prop="data_capture.bucket",
                )
                if data_capture.bucket is None
                else data_capture.bucket
            )
        self._shadow_variants.extend(shadows)
        for variant in items:
            self._add_variant(variant)
        for shadow in shadows:
            self._grant_describe_alarms(shadow)
            self._grant_data_capture(shadow)

        config_properties: dict[str, Any] = {}
        if shadows:
            config_properties["shadow_production_variants"] = [v.render() for v in shadows]
        if data_capture is not None and self.data_capture_bucket is not None:
            config_properties["data_capture_config"] = data_capture.render(self.data_capture_bucket)
        config_properties.update(self._endpoint_config_properties())
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=_lazy(lambda: [v.render() for v in self._variants]),
            kms_key_id=None if kms_key is None else kms_key.key_arn,
            **config_properties,
        )
        self._resource = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            retain_all_variant_properties=_lazy(self._retain_scaled_counts),
            exclude_retained_variant_properties=_lazy(self._excluded_retained_properties),
            deployment_config=_lazy(self._deployment_config),
        )
        self.endpoint_config_name: str = self.endpoint_config.attr_endpoint_config_name
        """The generated endpoint config name."""

    # --- access ---------------------------------------------------------------------------

    @property
    def endpoint_config_arn(self) -> str:
        """The endpoint config's ARN (``Ref`` of ``AWS::SageMaker::EndpointConfig``)."""
        return self.endpoint_config.endpoint_config_ref.endpoint_config_arn

    def grant_smoke_test(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``grantee`` exactly what the post-deploy check of this endpoint needs, nothing more.

        ``python -m operations check --endpoint NAME --expected-config NAME`` (a pipeline's smoke
        test) describes the endpoint, its config and its models, reads each model's data (the
        Triton config in the archive, the TargetModels under a multi-model prefix) and invokes
        the endpoint: ``sagemaker:DescribeEndpoint`` on this endpoint,
        ``sagemaker:DescribeEndpointConfig`` on this config, ``sagemaker:DescribeModel`` on the
        variants' models, :meth:`TritonModel.grant_read_model_data` for each, and
        :meth:`grant_invoke` (an asynchronous endpoint grants its round trip instead: see
        :meth:`AsyncEndpoint.grant_invoke_async`). Call it after adding the variants.

        Args:
            grantee: the role the check runs as (e.g. the smoke-test role of
                ``stacks.pipeline_smoke.add_smoke_test_access``).

        Returns:
            The grant (all statements combined).

        Raises:
            PropsError: a wrong grantee, or an endpoint without variants.
        """
        problems = check_interface(
            "grantee", grantee, "iam.IGrantable", "grant_principal", "pass a role, a function or a user"
        )
        if not self._variants:
            problems.append(f"{self.node.path} has no production variants yet — add them before granting")
        raise_if_any("grant_smoke_test", problems)
        models = list({variant.model.node.path: variant.model for variant in self._variants}.values())
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:DescribeEndpoint"], resource_arns=[self.endpoint_arn]
        )
        for actions, arns in (
            (["sagemaker:DescribeEndpointConfig"], [self.endpoint_config_arn]),
            (["sagemaker:DescribeModel"], [model.model_arn for model in models]),
        ):
            grant = grant.combine(
                iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=arns)
            )
        for model in models:
            grant = grant.combine(model.grant_read_model_data(grantee))
        return grant.combine(self._grant_smoke_test_invocation(grantee))

    def _grant_smoke_test_invocation(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant the invocation the post-deploy check makes (an asynchronous kind: the whole round trip)."""
        return self.grant_invoke(grantee)

    # --- hooks for endpoint kinds -----------------------------------------------------------

    def _endpoint_config_properties(self) -> Mapping[str, Any]:
        """Return extra ``CfnEndpointConfig`` props of the kind (e.g. ``async_inference_config``)."""
        return {}

    # --- identity -------------------------------------------------------------------------

    @property
    def endpoint_name(self) -> str:
        """The generated endpoint name."""
        return self._resource.attr_endpoint_name

    @property
    def endpoint_arn(self) -> str:
        """The endpoint ARN.

        ``Ref`` of ``AWS::SageMaker::Endpoint`` is its ARN as SageMaker writes it (name
        lowercased); an ARN formatted from the mixed-case generated name would not match in IAM.
        """
        return self._resource.ref

    @property
    def variant_names(self) -> tuple[str, ...]:
        """The production variant names, in the order they were added."""
        return tuple(v.variant_name for v in self._variants)

    # --- variants -------------------------------------------------------------------------

    @property
    def variants(self) -> tuple[VariantBase, ...]:
        """The production variants, in the order they were added."""
        return tuple(self._variants)

    def add_production_variant(self, variant: VariantBase) -> None:
        """Add a production variant (A/B testing: traffic splits by ``initial_variant_weight``).

        Raises:
            PropsError: the variant's props are invalid, its kind is not taken by this endpoint
                kind, its name is taken, or the endpoint is full.
        """
        problems = Problems(type(self).__name__)
        path = f"variants[{len(self._variants)}]"
        if isinstance(variant, VariantBase):
            problems.extend(self._variant_problems(variant, path, self._variants))
            if self._shadow_variants and self._variants:
                problems.add(
                    f"{path}: an endpoint with shadow_variants takes exactly one production variant (SageMaker: "
                    "one ProductionVariant beside one ShadowProductionVariant) — remove the shadow variant to "
                    "split traffic between production variants (A/B), or keep one production variant"
                )
            shadow_names = [v.variant_name for v in self._shadow_variants]
            if resolved(variant.variant_name) and variant.variant_name in shadow_names:
                problems.add(
                    f"{path}.variant_name {variant.variant_name!r} is taken by a shadow variant — variant names "
                    "must be unique across production and shadow variants"
                )
        else:
            accepted = " or ".join(kind.__name__ for kind in self.variant_kinds)
            problems.add(
                f"variant must be a {accepted} (got {given(variant)}) — pass {accepted}(model=..., instance_type=...)"
            )
        problems.raise_if_any()
        self._add_variant(variant)

    def _variant_problems(
        self, variant: VariantBase, path: str, existing: Sequence[VariantBase]
    ) -> list[str]:
        if not isinstance(variant, self.variant_kinds):
            accepted = " or ".join(kind.__name__ for kind in self.variant_kinds)
            return [
                f"{path} is a {type(variant).__name__} ({variant.kind} variant), but a {type(self).__name__} "
                f"takes {accepted} only, and SageMaker never mixes instance and serverless variants in one "
                f"endpoint — use {accepted}(model=..., instance_type=...)"
            ]
        problems = variant.problems(path)
        names = [v.variant_name for v in existing]
        if resolved(variant.variant_name) and variant.variant_name in names:
            problems.append(
                f"{path}.variant_name must be unique in the endpoint (got {variant.variant_name!r} twice)"
            )
        if len(existing) >= MAX_VARIANTS:
            problems.append(f"an endpoint takes at most {MAX_VARIANTS} production variants (adding {path})")
        if (
            self.kms_key is not None
            and isinstance(variant, ProductionVariant)
            and isinstance(variant.instance_type, InstanceType)
            and variant.instance_type.has_nvme_instance_storage
        ):
            problems.append(
                f"kms_key is not supported on {variant.instance_type} ({path}; NVMe instance storage: "
                "SageMaker rejects VolumeKmsKeyId) — remove kms_key or choose a non-NVMe type"
            )
        return problems

    @property
    def shadow_variants(self) -> tuple[VariantBase, ...]:
        """The shadow variants (a copy of production traffic; answers discarded)."""
        return tuple(self._shadow_variants)

    def _variant_name(self, variant_name: str | None, caller: str) -> str:
        """Also accept a shadow variant's name: SageMaker publishes its metrics under its own ``VariantName``."""
        if isinstance(variant_name, str) and variant_name in [v.variant_name for v in self._shadow_variants]:
            return variant_name
        return super()._variant_name(variant_name, caller)

    def _shadow_problems(
        self, shadow_variants: Sequence[VariantBase] | None, production: Sequence[VariantBase]
    ) -> tuple[list[str], list[VariantBase]]:
        """Return the problems with ``shadow_variants`` (SageMaker's rules) and the valid items."""
        if shadow_variants is None:
            return [], []
        kind = type(self).__name__
        if not self.takes_shadow_variants:
            return [
                f"shadow_variants is not supported by {kind}: SageMaker runs shadow variants on real-time "
                "endpoints only — remove shadow_variants, or use a RealtimeEndpoint"
            ], []
        kind_names = " or ".join(k.__name__ for k in self.variant_kinds)
        problems, items = check_sequence(
            "shadow_variants",
            shadow_variants,
            VariantBase,
            f"pass a list of one {kind_names}, e.g. shadow_variants=[ProductionVariant(model=new_model, "
            "variant_name='Shadow')]",
            item_name=kind_names,
        )
        if problems:
            return problems, []
        if not items:
            problems.append("shadow_variants must not be empty (got []) — omit it for no shadow variant")
        if len(items) > MAX_SHADOW_VARIANTS:
            problems.append(
                f"shadow_variants takes at most {MAX_SHADOW_VARIANTS} variant (got {len(items)}): SageMaker takes "
                "one shadow variant beside one production variant — test one candidate at a time"
            )
        if items and len(production) > 1:
            problems.append(
                f"shadow_variants needs exactly one production variant (got {len(production)} variants): SageMaker "
                "takes one ProductionVariant beside one ShadowProductionVariant — keep one production variant"
            )
        if items:
            # Shadow tests' "Exclusions" (SageMaker DG, shadow-tests-exclusions): no multi-container endpoints
            # and no Inf1 instances (serverless, async and multi-model kinds refuse the prop above).
            for path, variant in [*(("variants", v) for v in production), *(("shadow_variants", v) for v in items)]:
                if type(variant.model).__name__ == "MultiContainerModel":
                    problems.append(
                        f"{path}: a MultiContainerModel cannot serve an endpoint with shadow_variants (SageMaker runs "
                        "no shadow variant on multi-container endpoints) — shadow-test each container's model on "
                        "its own endpoint, or remove shadow_variants"
                    )
                instance_type = getattr(variant, "instance_type", None)
                if isinstance(instance_type, InstanceType) and instance_type.family == "inf1":
                    problems.append(
                        f"{path}: {instance_type} (Inf1) cannot serve an endpoint with shadow_variants (SageMaker runs "
                        "no shadow variant on Inf1 instances) — use ml.inf2 types for both variants, or remove "
                        "shadow_variants"
                    )
        names = [v.variant_name for v in production]
        for index, shadow in enumerate(items):
            path = f"shadow_variants[{index}]"
            shadow_kind = self._variant_problems(shadow, path, [])
            problems.extend(shadow_kind)
            if resolved(shadow.variant_name) and shadow.variant_name in names:
                problems.append(
                    f"{path}.variant_name must differ from the production variant's (got {shadow.variant_name!r} "
                    "for both): names are unique across production and shadow variants — e.g. variant_name='Shadow'"
                )
            names.append(shadow.variant_name)
            if production and not shadow_kind and type(shadow) is not type(production[0]):
                problems.append(
                    f"{path} is a {type(shadow).__name__} but the production variant is a "
                    f"{type(production[0]).__name__}: SageMaker never mixes variant kinds in one endpoint"
                )
        return problems, list(items)

    def _data_capture_problems(self, data_capture: DataCapture | None) -> list[str]:
        if data_capture is None:
            return []
        if not self.takes_data_capture:
            return [
                f"data_capture is not supported by {type(self).__name__}: SageMaker does not capture data on "
                "this endpoint kind — remove data_capture, or use a RealtimeEndpoint"
            ]
        problems = check_type(
            "data_capture",
            data_capture,
            DataCapture,
            "pass DataCapture(sampling_percentage=..., ...) from serving_constructs",
        )
        return problems or data_capture.problems("data_capture")

    def _grant_data_capture(self, variant: VariantBase) -> None:
        """Grant the variant's model role ``s3:PutObject`` under the capture prefix and the keys' data keys."""
        capture, bucket = self.data_capture, self.data_capture_bucket
        model = variant.model
        if capture is None or bucket is None or model.node.path in self._capture_granted:
            return
        self._capture_granted.add(model.node.path)
        arn = bucket.arn_for_objects(f"{capture.prefix}/*")
        iam.Grant.add_to_principal(grantee=model, actions=["s3:PutObject"], resource_arns=[arn])
        keys = [key for key in (capture.kms_key, bucket.encryption_key) if key is not None]
        key_arns = list(dict.fromkeys(key.key_arn for key in keys))
        if key_arns:
            iam.Grant.add_to_principal(
                grantee=model, actions=["kms:GenerateDataKey", "kms:Encrypt"], resource_arns=key_arns
            )
        principal = model.grant_principal
        if hasattr(principal, "node"):
            acknowledge(
                principal,
                f"AwsSolutions-IAM5[Resource::{flattened(self, arn)}]",
                "SageMaker writes captured requests and answers under keys it chooses at run time "
                "(<endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/<uuid>.jsonl); the wildcard is confined to the "
                "capture prefix of one bucket.",
            )

    def _add_variant(self, variant: VariantBase) -> None:
        self._variants.append(variant)
        self._grant_describe_alarms(variant)
        self._grant_data_capture(variant)
        if not isinstance(variant, ProductionVariant):
            return
        name, path = variant.variant_name, f"variants[{len(self._variants) - 1}]"
        if variant.instance_type.family == "inf1":
            warning_id = f"{_WARNING_PREFIX}:guardrailsIgnoredOnInf1:{name}"
            Annotations.of(self).add_warning_v2(
                warning_id,
                f"Variant {name!r} runs on {variant.instance_type} (Inf1): SageMaker ignores deployment "
                "guardrails there and updates the endpoint all at once with no baking and no rollback on "
                "alarms, whatever `deployment` says. Use ml.inf2 (guardrails apply) or run "
                "`python -m operations check` after each deploy; to accept it, "
                f"Annotations.of(endpoint).acknowledge_warning({warning_id!r}).",
            )
        if resolved(variant.initial_instance_count) and variant.initial_instance_count == 1:
            Annotations.of(self).add_warning_v2(
                f"{_WARNING_PREFIX}:singleInstance:{name}",
                f"Variant {name!r} starts with a single instance: no Availability Zone "
                "redundancy. Use initial_instance_count >= 2 (and min_capacity >= 2) in production.",
            )
        if resolved(variant.volume_size_in_gb) and variant.instance_type.has_nvme_instance_storage:
            Annotations.of(self).add_warning_v2(
                f"{_WARNING_PREFIX}:volumeSizeOnNvme:{name}",
                f"{path}.volume_size_in_gb is set but {variant.instance_type} uses local NVMe storage; "
                "SageMaker may reject or ignore it.",
            )
        instance_type = variant.instance_type
        if not instance_type.known_to_sagemaker_hosting:
            import botocore

            near = instance_type.near_matches()
            hint = f" Did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
            warning_id = f"{_WARNING_PREFIX}:unknownInstanceType:{instance_type.name}"
            Annotations.of(self).add_warning_v2(
                warning_id,
                f"{path}.instance_type {instance_type.name!r} is not an instance type SageMaker hosting "
                f"lists (botocore {botocore.__version__}).{hint} SageMaker refuses unknown types at "
                "deploy; if the type is newer than the installed botocore and the name is right, "
                f"acknowledge this warning: Annotations.of(endpoint).acknowledge_warning({warning_id!r}).",
            )

    # --- monitoring (serving_constructs.monitoring) ------------------------------------------

    def add_monitoring(self, **props: Any) -> EndpointMonitoring:
        """Add the widgets and (with ``alarms=True``) the recommended alarms that fit this endpoint's mode.

        One call: creates an :class:`~serving_constructs.monitoring.EndpointMonitoring` (child
        ``Monitoring``; a second call adds ``Monitoring2``, ...) and passes each of its
        ``rollback_alarms`` to :meth:`add_rollback_alarm`, so a deployment rolls back when they fire.

        Args:
            **props: the ``EndpointMonitoring`` props except ``endpoint`` (``variant_name``,
                ``latency_target_ms``, ``alarms``, ``alarm_topic``).

        Raises:
            PropsError: every problem with the props (an unknown prop too), in one message.
        """
        from serving_constructs.monitoring import add_monitoring

        return add_monitoring(self, **props)

    def add_dashboard(self, **props: Any) -> ServingDashboard:
        """Add a CloudWatch dashboard (child ``Dashboard``) showing this endpoint.

        It shows the segments already added with :meth:`add_monitoring`, or a new segment
        without alarms when there is none.

        Args:
            **props: the ``ServingDashboard`` props (``dashboard_name``); ``segments`` defaults
                to this endpoint's.

        Raises:
            PropsError: every problem with the props (an unknown prop too), in one message.
        """
        from serving_constructs.monitoring import add_dashboard

        return add_dashboard(self, **props)

    # --- deployment guardrails ---------------------------------------------------------------

    @property
    def rollback_alarms(self) -> tuple[cloudwatch.IAlarm, ...]:
        """The alarms that roll a deployment back (``AutoRollbackConfiguration``), in the order added."""
        return tuple(self._rollback_alarms)

    def add_rollback_alarm(self, alarm: cloudwatch.IAlarm) -> None:
        """Roll an endpoint update back automatically when ``alarm`` fires during the deployment.

        The alarm's NAME goes into ``DeploymentConfig.AutoRollbackConfiguration.Alarms`` (SageMaker
        takes names, not ARNs), as a literal: an alarm on this endpoint's metrics references the
        endpoint (its ``EndpointName`` dimension), so a reference back from the endpoint would be a
        dependency cycle. An alarm this app creates without an ``alarm_name`` therefore gets a fixed
        one, ``<stack name>-<construct path>-<hash>``; an imported alarm keeps its name. The alarm
        is created after the endpoint, which is harmless: SageMaker reads the alarms only while it
        updates the endpoint. The execution role of every model the endpoint serves gets
        ``cloudwatch:DescribeAlarms`` on exactly the rollback alarms: SageMaker reads the alarms as
        the model's execution role ("Ensure that your IAM execution role has permission to perform
        the cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify", SageMaker
        Developer Guide, "Auto-Rollback Configuration and Monitoring"). Adding the same alarm twice
        is a no-op. ``EndpointBase.add_monitoring(...)`` calls this for its rollback alarms.

        Args:
            alarm: a CloudWatch alarm on this endpoint's metrics (an ``Alarm`` or an imported one).

        Raises:
            PropsError: ``alarm`` is not a CloudWatch alarm, or the endpoint already has the
                most rollback alarms SageMaker takes (10).
        """
        problems = check_interface(
            "alarm",
            alarm,
            "cloudwatch.IAlarm",
            "alarm_arn",
            "pass a cloudwatch.Alarm(...) or cloudwatch.Alarm.from_alarm_arn(...)",
        )
        raise_if_any(f"{type(self).__name__}.add_rollback_alarm", problems)
        if any(existing is alarm for existing in self._rollback_alarms):
            return
        if len(self._rollback_alarms) >= MAX_ROLLBACK_ALARMS:
            raise PropsError(
                f"Invalid {type(self).__name__}.add_rollback_alarm props: {self.node.path} already has "
                f"{len(self._rollback_alarms)} rollback alarms and SageMaker takes at most {MAX_ROLLBACK_ALARMS} "
                "(AutoRollbackConfiguration.Alarms) — combine alarms with a cloudwatch.CompositeAlarm"
            )
        name, arn = _rollback_alarm_name_and_arn(alarm)
        self._rollback_alarms.append(alarm)
        self._rollback_alarm_names.append(name)
        if self._describe_alarms is None:
            self._describe_alarms = iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=[])
        self._describe_alarms.add_resources(arn)
        for variant in [*self._variants, *self._shadow_variants]:
            self._grant_describe_alarms(variant)

    def _grant_describe_alarms(self, variant: VariantBase) -> None:
        """Give the variant's model role ``cloudwatch:DescribeAlarms`` on the rollback alarms (once per role)."""
        if self._describe_alarms is None:
            return
        role = variant.model.role
        if any(granted is role for granted in self._describe_alarms_roles):
            return
        self._describe_alarms_roles.append(role)
        role.add_to_principal_policy(self._describe_alarms)
        # SageMaker reads the alarms when the update starts: the grant must exist by then.
        default_policy = role.node.try_find_child("DefaultPolicy")
        if default_policy is not None:
            self._resource.node.add_dependency(default_policy)

    def _auto_rollback_configuration(self) -> sagemaker.CfnEndpoint.AutoRollbackConfigProperty | None:
        if not self._rollback_alarms:
            return None
        return sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[
                sagemaker.CfnEndpoint.AlarmProperty(alarm_name=name) for name in self._rollback_alarm_names
            ]
        )

    @property
    def deployment(self) -> DeploymentPolicy:
        """How an update of this endpoint rolls out: the ``deployment`` given, or the default.

        The default depends on the variants (see :func:`serving_constructs.deployment.default_policy`),
        so it is what the variants added so far make it; the template gets the one at synth.
        """
        if self._deployment is not None:
            return self._deployment
        return default_policy(self._variants, self._min_counts())

    def _min_counts(self) -> dict[str, int]:
        return {
            name: scalable.min_capacity
            for name, scalable in self._scaling.items()
            if isinstance(scalable.min_capacity, int)
        }

    def _deployment_config(self) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        return self.deployment.render(self._auto_rollback_configuration())

    def _production_variant(self, variant_name: str | None, caller: str) -> VariantBase:
        name = self._variant_name(variant_name, caller)
        variant = next((v for v in self._variants if v.variant_name == name), None)
        if variant is None:
            raise PropsError(
                f"Invalid {caller} props: {name!r} is a shadow variant of {self.node.path}; this applies to "
                f"production variants only (it has {', '.join(repr(n) for n in self.variant_names)})"
            )
        return variant

    # --- scaling --------------------------------------------------------------------------

    def auto_scale_instance_count(
        self, variant_name: str | None = None, *, min_capacity: int, max_capacity: int
    ) -> ScalableInstanceCount:
        """Make a variant's instance count scalable between ``min_capacity`` and ``max_capacity``.

        Add policies on the result (``scale_on_invocations(...)``, ``scale_on_gpu_utilization(...)``,
        ``scale_to_track_metric(...)``, ``scale_on_metric(...)``, ``scale_on_schedule(...)``).
        Once a variant scales, the endpoint keeps the scaled instance count across deploys
        (``RetainAllVariantProperties``) instead of resetting it to ``initial_instance_count``.

        Args:
            variant_name: the variant. Defaults to the first variant (as the metrics do).
            min_capacity: the fewest instances, >= the kind's :attr:`capacity_floor` (1 for a
                real-time endpoint: only asynchronous or inference-component endpoints scale to zero).
            max_capacity: the most instances, >= ``min_capacity``.

        Raises:
            PropsError: invalid bounds, an unknown variant, a variant that is not instance-based,
                or a variant that already scales.
        """
        variant = self._production_variant(variant_name, f"{type(self).__name__}.auto_scale_instance_count")
        if not isinstance(variant, ProductionVariant):
            raise PropsError(
                f"Invalid {type(self).__name__}.auto_scale_instance_count props: variant {variant.variant_name!r} "
                f"is a {variant.kind} variant; only instance variants have an instance count to scale"
            )
        if variant.variant_name in self._scaling:
            raise PropsError(
                f"Invalid {type(self).__name__}.auto_scale_instance_count props: variant "
                f"{variant.variant_name!r} of {self.node.path} already auto-scales — add policies to the "
                "ScalableInstanceCount the first call returned"
            )
        scalable = self.scalable_count_type(
            self,
            f"InstanceCount{variant.variant_name}",
            endpoint_name=self.endpoint_name,
            variant_name=variant.variant_name,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            capacity_floor=self.capacity_floor,
            endpoint_kind=type(self).__name__,
            instance_type=variant.instance_type,
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


def _rollback_alarm_name_and_arn(alarm: cloudwatch.IAlarm) -> tuple[str, str]:
    """Return the alarm's name and ARN without a reference to the alarm resource (see ``add_rollback_alarm``)."""
    resource = alarm.node.default_child
    if not isinstance(resource, cloudwatch.CfnAlarm | cloudwatch.CfnCompositeAlarm):
        return alarm.alarm_name, alarm.alarm_arn  # imported: both are literals parsed from the ARN
    stack = Stack.of(alarm)
    name = resource.alarm_name
    if name is None or Token.is_unresolved(name):
        # The L2 alarm's own default is a name CloudFormation generates (a Ref): fix one instead,
        # from the stack name and the construct path (unique per stack, stable across synths).
        name = Names.unique_resource_name(alarm, max_length=255, separator="-")
        resource.alarm_name = name
    arn = stack.format_arn(
        service="cloudwatch", resource="alarm", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    return name, arn


@jsii.implements(IValidation)
class _DeploymentFits:
    """``node.add_validation`` hook: the deployment policy must fit the variants added since."""

    def __init__(self, endpoint: EndpointBase) -> None:
        self._endpoint = endpoint

    def validate(self) -> list[str]:
        endpoint = self._endpoint
        return endpoint.deployment.problems_for(
            endpoint.variants,
            endpoint._min_counts(),
            endpoint=f"{type(endpoint).__name__} {endpoint.node.path}",
        )


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
    """A real-time SageMaker endpoint on instance-based production variants.

    Its piece: instance variants only (:class:`ProductionVariant`), a capacity floor of one
    instance, the real-time metrics, ``sagemaker:InvokeEndpoint``, and no extra config. Everything
    else (rendering, validation, metrics, scaling, imports) comes from :class:`EndpointBase`.

    Args:
        scope: the parent construct.
        id: the construct id.
        variants: the production variants. Defaults to none; add them with
            :meth:`add_production_variant` (synth fails if there are none).
        kms_key: the key encrypting the instances' EBS volumes. Defaults to AWS-managed
            encryption. Refused on instance types with local NVMe storage (g4dn, g5, g6, p4d, ...):
            SageMaker encrypts those disks itself and rejects the key.
        deployment: how an update rolls out, with rollback on the alarms of
            :meth:`add_rollback_alarm` (``DeploymentPolicy.canary()``, ``.linear(...)``,
            ``.all_at_once()``, ``.rolling()``). Defaults to guardrails on, chosen at synth from the
            variants (:func:`serving_constructs.deployment.default_policy`): rolling in 25 % batches
            for one GPU variant of >= 4 instances, a 1-instance canary when every variant runs >= 2
            instances, else all at once; each bakes 10 minutes. Rolling is refused on several or
            serverless variants; Inf1 variants get a warning (SageMaker ignores guardrails there).
        shadow_variants: one :class:`ProductionVariant` that gets a copy of every request while the
            production variant answers (a shadow test of a candidate model on live traffic; its
            answers are discarded, its metrics carry its own ``VariantName``). SageMaker takes it
            beside exactly one production variant, with a different name. Defaults to none.
        data_capture: capture a sample of requests and answers to S3 with
            :class:`~serving_constructs.data_capture.DataCapture` (bucket and prefix, sampling
            percentage, KMS key, input/output, JSON/CSV content types); every model role may write
            under the capture prefix only. A change renders a new endpoint config; an autoscaled
            endpoint keeps its instance counts but takes the new capture settings. Defaults to none.

    Raises:
        PropsError: every problem with the props, in one message.
    """

    variant_kinds = (ProductionVariant,)
    capacity_floor = INSTANCE_CAPACITY_FLOOR
    serving_modes = frozenset({ServingMode.REALTIME})
    takes_shadow_variants = True
    takes_data_capture = True

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        variants: Sequence[ProductionVariant] | None = None,
        kms_key: kms.IKey | None = None,
        deployment: DeploymentPolicy | None = None,
        shadow_variants: Sequence[ProductionVariant] | None = None,
        data_capture: DataCapture | None = None,
    ) -> None:
        super().__init__(
            scope,
            id,
            variants=variants,
            kms_key=kms_key,
            deployment=deployment,
            shadow_variants=shadow_variants,
            data_capture=data_capture,
        )
