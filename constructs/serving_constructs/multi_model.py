"""Multi-model SageMaker endpoints on GPU with Triton: many model archives behind one endpoint.

:class:`MultiModelEndpoint` is an endpoint kind of :class:`~serving_constructs.endpoint.EndpointBase`
(seed 001, AWS's "Run multiple deep learning models on GPU with Amazon SageMaker multi-model
endpoints"). Its piece:

* one ``AWS::SageMaker::Model`` in ``MultiModel`` mode (:class:`MultiModelTritonModel`) whose
  ``ModelDataUrl`` is the S3 prefix of a :class:`~serving_constructs.model_prefix.ModelPrefix`;
  each ``<name>.tar.gz`` under it is one model, loaded on the first request that names it
  (``invoke_endpoint(..., TargetModel="resnet_trt_v0.tar.gz")``) and evicted when memory runs out;
* :meth:`MultiModelEndpoint.add_model` puts an archive at a key the user chooses (never an asset
  hash), checked for the layout Triton's SageMaker front end loads (one model folder, or an
  ensemble and its steps) and for TensorRT engines built for another GPU or TensorRT version;
* the instance rule: GPU multi-model endpoints are documented for single-GPU types only;
* seed 001's scaling (:meth:`MultiModelEndpoint.scale_on_gpu_utilization`) and the multi-model
  metrics (``metric_model_loading_wait_time`` ...).

Sources: SageMaker Developer Guide, "Multi-model endpoints" and its pages (supported instances,
create, CloudWatch metrics), https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-endpoints.html ;
Triton's SageMaker front end (``triton-inference-server/server``, ``src/sagemaker_server.cc``,
``docker/sagemaker/serve``); ``/work/shared/SERVICE-FACTS.md`` §1 has the details with sources.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Annotations, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct, IValidation
from model_build.user_errors import did_you_mean
from serving_constructs import defaults
from serving_constructs._validation import (
    Problems,
    PropsError,
    check_int,
    check_interface,
    check_sequence,
    check_str,
    check_type,
    given,
    raise_if_any,
)
from serving_constructs.artifact import (
    Compression,
    ModelArtifact,
    ModelDataBinding,
    S3DataType,
    grant_prefix_read,
)
from serving_constructs.container_model import ContainerModel
from serving_constructs.deployment import DeploymentPolicy
from serving_constructs.endpoint import _WARNING_PREFIX, EndpointBase
from serving_constructs.image import TritonImage
from serving_constructs.instance_type import InstanceType
from serving_constructs.metrics import ServingMode
from serving_constructs.model import TritonModel
from serving_constructs.model_prefix import ModelPrefix
from serving_constructs.scaling import INSTANCE_CAPACITY_FLOOR, ScalableInstanceCount
from serving_constructs.variant import ProductionVariant, VariantBase, variant_name_problems

MULTI_MODEL_GPU_INSTANCE_TYPES: tuple[str, ...] = (
    "ml.p2.xlarge",
    "ml.p3.2xlarge",
    "ml.g4dn.xlarge",
    "ml.g4dn.2xlarge",
    "ml.g4dn.4xlarge",
    "ml.g4dn.8xlarge",
    "ml.g4dn.16xlarge",
    "ml.g5.xlarge",
    "ml.g5.2xlarge",
    "ml.g5.4xlarge",
    "ml.g5.8xlarge",
    "ml.g5.16xlarge",
)
"""The GPU instance types SageMaker documents for multi-model endpoints (all single-GPU).

Source: SageMaker Developer Guide, "Supported algorithms, frameworks, and instances for multi-model
endpoints", https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-support.html (and the 2023
revision of ``multi-model-endpoints.md``). Newer single-GPU types (ml.g6.*, ml.g6e.*,
ml.p5.4xlarge) exist for hosting but are not on the list: the endpoint warns, and the warning can
be acknowledged.
"""

# More than this many model folders in one archive makes Triton's SageMaker front end log a
# warning (sagemaker_server.cc); an ensemble and its steps rarely need more.
_ARCHIVE_FOLDERS_WARNING = 5

_ADD_MODEL_EXAMPLE = 'endpoint.add_model("resnet_v0.tar.gz", ModelArtifact.from_build(spec))'


class ModelCacheSetting(enum.Enum):
    """Whether SageMaker caches a multi-model endpoint's models (``MultiModelConfig.ModelCacheSetting``)."""

    ENABLED = "Enabled"
    """Keep loaded models on the instance and evict the least recently used (SageMaker's default)."""
    DISABLED = "Disabled"
    """Load the model for each request and unload it after: for models each called about once."""


def multi_model_instance_type_problems(name: str, instance_type: InstanceType) -> list[str]:
    """Return the errors of ``instance_type`` for a GPU multi-model endpoint (tokens pass).

    A CPU-only, Inferentia or multi-GPU type is refused; a single-GPU type not on
    :data:`MULTI_MODEL_GPU_INSTANCE_TYPES` is only warned about (see :class:`MultiModelEndpoint`).
    """
    if not instance_type.resolved:
        return []
    supported = ", ".join(MULTI_MODEL_GPU_INSTANCE_TYPES)
    hardware = instance_type.hardware
    gpus = instance_type.gpu_count
    if hardware is not None and hardware.kind != "gpu":
        what = "no GPU (CPU only)" if hardware.kind == "cpu" else f"{hardware.describe()}, not NVIDIA GPUs"
        return [
            f"{name} {instance_type.name!r} has {what}, but a multi-model endpoint served by Triton on GPU "
            f"needs one NVIDIA GPU per instance — use one of the documented types: {supported} "
            f"(e.g. {defaults.multi_model_instance_type_name()!r})"
        ]
    if gpus is not None and gpus > 1:
        single = [
            t for t in MULTI_MODEL_GPU_INSTANCE_TYPES if InstanceType.of(t).family == instance_type.family
        ]
        hint = f" ({', '.join(single)} have the same GPU)" if single else ""
        return [
            f"{name} {instance_type.name!r} has {gpus} GPUs, but SageMaker documents GPU multi-model "
            f"endpoints for single-GPU instance types only — use one of {supported}{hint}; for "
            "several large models on a multi-GPU instance use a single-model endpoint per model"
        ]
    return []


def _archive_layout_problem(target_model: str, artifact: ModelArtifact) -> str | None:
    """Return the problem with an archive Triton's SageMaker front end would not load, if any.

    The front end (``SageMakerMMELoadModel``) loads the only model folder of an archive, or the one
    folder whose ``config.pbtxt`` says ``platform: "ensemble"`` when there are several. Archives
    not readable at synth (S3 artifacts) are not checked.
    """
    names = artifact.model_names
    if names is None or len(names) <= 1:
        return None
    ensembles = artifact.ensemble_names
    if ensembles is None or len(ensembles) == 1:
        return None
    found = (
        "none of them is an ensemble"
        if not ensembles
        else f"{len(ensembles)} are ensembles ({', '.join(ensembles)})"
    )
    return (
        f"{target_model!r} ({artifact.description}) holds {len(names)} model folders ({', '.join(names)}) and "
        f"{found}: Triton's SageMaker front end loads the only model folder of an archive, or the one "
        "ensemble among several — put each model in its own archive "
        f"({_ADD_MODEL_EXAMPLE}), or add the one ensemble that ties them together"
    )


class _PrefixArchives(ModelArtifact):
    """Every model archive under a :class:`ModelPrefix`: what a multi-model model's ``ModelDataUrl`` names."""

    def __init__(self, prefix: ModelPrefix) -> None:
        self.prefix = prefix

    @property
    def description(self) -> str:
        return f"the model archives under {self.prefix.node.path}"

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> ModelDataBinding:
        self.prefix.grant_read(grantee)
        # Another reader (the post-deploy check) also lists the prefix: its TargetModels.
        return ModelDataBinding(
            self.prefix.s3_uri,
            S3DataType.PREFIX,
            Compression.GZIP,
            grant_read=functools.partial(grant_prefix_read, self.prefix.bucket, self.prefix.prefix),
        )


class MultiModelTritonModel(TritonModel):
    """A SageMaker model in ``MultiModel`` mode: Triton serves every archive under a :class:`ModelPrefix`.

    ``ModelDataUrl`` is the prefix (``s3://<bucket>/<prefix>``); each request names its archive
    with ``TargetModel``. There is no default model: Triton ignores
    ``SAGEMAKER_TRITON_DEFAULT_MODEL_NAME`` in this mode. The execution role may read the
    prefix's objects (:meth:`ModelPrefix.grant_read`). Created by :class:`MultiModelEndpoint`;
    the other props are :class:`~serving_constructs.model.TritonModel`'s.

    Args:
        scope: the parent construct.
        id: the construct id.
        model_prefix: the prefix of the model archives.
        model_cache_setting: ``MultiModelConfig.ModelCacheSetting``. Defaults to none in the
            template (SageMaker's default, ``Enabled``). Create-only in CloudFormation: changing
            it **replaces the model** (and so the endpoint config).
        image: the Triton container image. Defaults to ``TritonImage.for_region()``.
        environment: extra container variables. Defaults to none.
        log_verbose: Triton's ``--log-verbose`` level. Defaults to Triton's default (0, off).
        role: the execution role. Defaults to a new least-privilege role.
        vpc: the VPC the containers run in. Defaults to none.
        vpc_subnets: the subnets in ``vpc``. Defaults to CDK's default selection.
        security_groups: the containers' security groups. Defaults to a new one with ``vpc``.
        network_isolation: run the container without network access. Defaults to
            :func:`serving_constructs.defaults.network_isolation` (True).

    Raises:
        PropsError: every problem with the props, in one message.
    """

    multi_model = True

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_prefix: ModelPrefix,
        model_cache_setting: ModelCacheSetting | None = None,
        image: TritonImage | None = None,
        environment: Mapping[str, str] | None = None,
        log_verbose: int | None = None,
        role: iam.IRole | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        network_isolation: bool | None = None,
    ) -> None:
        problems = check_type(
            "model_prefix", model_prefix, ModelPrefix, "pass ModelPrefix(self, 'Models', bucket=...)"
        ) + _cache_setting_problems(model_cache_setting)
        raise_if_any(type(self).__name__, problems)
        self.model_prefix = model_prefix
        """The prefix whose archives the model serves."""
        self.model_cache_setting = model_cache_setting
        """``MultiModelConfig.ModelCacheSetting``; None leaves SageMaker's default (``Enabled``)."""
        super().__init__(
            scope,
            id,
            artifact=_PrefixArchives(model_prefix),
            image=image,
            environment=environment,
            log_verbose=log_verbose,
            role=role,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
            network_isolation=network_isolation,
        )

    def _multi_model_config(self) -> Any:
        if self.model_cache_setting is None:
            return None
        return sagemaker.CfnModel.MultiModelConfigProperty(model_cache_setting=self.model_cache_setting.value)

    def engine_sources(self) -> Mapping[str, ModelArtifact]:
        """Return every archive under the prefix, by its ``TargetModel`` name."""
        return dict(self.model_prefix.artifacts)


@jsii.implements(IValidation)
class _HasModels:
    """``node.add_validation`` hook: a multi-model endpoint without archives serves nothing."""

    def __init__(self, endpoint: MultiModelEndpoint) -> None:
        self._endpoint = endpoint

    def validate(self) -> list[str]:
        if self._endpoint.target_models:
            return []
        return [
            f"MultiModelEndpoint {self._endpoint.node.path} has no models — add at least one archive: "
            f"{_ADD_MODEL_EXAMPLE} (or pass models={{'resnet_v0.tar.gz': artifact}})"
        ]


class MultiModelEndpoint(EndpointBase):
    """A SageMaker multi-model endpoint on GPU served by Triton: many models, one fleet, chosen per request.

    Every archive added with :meth:`add_model` lands at ``<prefix><target_model>`` in
    :attr:`model_prefix`; a client invokes one with
    ``invoke_endpoint(EndpointName=..., TargetModel="resnet_trt_v0.tar.gz", ...)``. SageMaker
    downloads and loads a model on the first request that names it (cold start), keeps it while
    memory lasts, evicts the least recently used, and routes requests to instances that already
    hold the model. An archive copied under the prefix later is served without a redeploy.
    Two archives may each hold a model folder of the same name (seed 001's ``resnet`` in
    ``resnet_pt_v0.tar.gz`` and ``resnet_trt_v0.tar.gz``): Triton registers each under its
    ``TargetModel`` name.

    **Archives**: each holds one Triton model folder (``resnet/config.pbtxt``,
    ``resnet/1/model.plan``), or several of which exactly one is an ensemble (loaded with its
    steps). Checked when the archive is known at synth (``from_build``, ``from_asset``).

    **Instances**: SageMaker documents GPU multi-model endpoints for single-GPU types only
    (:data:`MULTI_MODEL_GPU_INSTANCE_TYPES`). A CPU-only, Inferentia or multi-GPU type is an
    error; a newer single-GPU type not on the list (ml.g6.*, ml.g6e.*, ml.p5.4xlarge) is a warning
    (``serving-constructs:multiModelUndocumentedInstanceType:<type>``) you can acknowledge with
    ``Annotations.of(endpoint).acknowledge_warning(id)``. One instance gets the
    ``serving-constructs:singleInstance:<variant>`` warning (AWS advises two).

    **TensorRT engines** in an archive whose build manifest is known must match the instance's
    GPU (compute capability) and the image's TensorRT version; a mismatch is an error saying
    what to rebuild and how.

    **Invoking**: :meth:`grant_invoke` grants ``sagemaker:InvokeEndpoint`` on this endpoint;
    ``TargetModel`` is a request parameter, so the grant covers every model under the prefix.

    **Scaling**: :meth:`scale_on_gpu_utilization` (seed 001's policy) or
    :meth:`scale_on_invocations`; ``auto_scale_instance_count`` for any other policy.

    Args:
        scope: the parent construct.
        id: the construct id.
        instance_type: the instance type, a single-GPU type. Defaults to
            :func:`serving_constructs.defaults.multi_model_instance_type_name` (``ml.g4dn.4xlarge``,
            seed 001's).
        initial_instance_count: instances at creation, >= 1. Defaults to
            :func:`serving_constructs.defaults.multi_model_initial_instance_count` (2).
        models: archives to add now, ``TargetModel`` name -> artifact (see :meth:`add_model`).
            Defaults to none; add them with :meth:`add_model` (synth fails if there are none).
        model_prefix: where the archives live. Defaults to a new ``ModelPrefix`` (child
            ``ModelPrefix``: a new hardened bucket, prefix ``models/``).
        image: the Triton container image. Defaults to ``TritonImage.for_region()``.
        model_cache_setting: ``MultiModelConfig.ModelCacheSetting``. Defaults to SageMaker's
            default (``Enabled``; the template leaves it out). Create-only in CloudFormation:
            changing it **forces replacement** of the model and of the endpoint config.
        variant_name: the production variant's name. Defaults to ``"AllTraffic"``.
        kms_key: the key encrypting the instances' EBS volumes. Defaults to AWS-managed
            encryption. Refused on types with NVMe storage (g4dn, g5: most of the supported ones).
        environment: extra container variables (e.g. ``SAGEMAKER_TRITON_MODEL_LOAD_GPU_LIMIT``).
            Defaults to none.
        role: the execution role. Defaults to a new least-privilege role (reads the prefix).
        vpc: the VPC the containers run in. Defaults to none.
        vpc_subnets: the subnets in ``vpc``. Defaults to CDK's default selection.
        security_groups: the containers' security groups. Defaults to a new one with ``vpc``.
        network_isolation: run the container without network access. Defaults to
            :func:`serving_constructs.defaults.network_isolation` (True).
        deployment: how an update rolls out, with rollback on the endpoint's rollback alarms
            (``DeploymentPolicy.canary()``, ``.linear(...)``, ``.all_at_once()``, ``.rolling()``).
            Defaults to guardrails on, chosen at synth from the variants (see
            :func:`serving_constructs.deployment.default_policy` and ``docs/guardrails.md``).

    Raises:
        PropsError: every problem with the props, in one message.
    """

    variant_kinds = (ProductionVariant,)
    capacity_floor = INSTANCE_CAPACITY_FLOOR
    serving_modes = frozenset({ServingMode.MULTI_MODEL})

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        instance_type: str | InstanceType | None = None,
        initial_instance_count: int | None = None,
        models: Mapping[str, ModelArtifact] | None = None,
        model_prefix: ModelPrefix | None = None,
        image: TritonImage | None = None,
        model_cache_setting: ModelCacheSetting | None = None,
        variant_name: str | None = None,
        kms_key: kms.IKey | None = None,
        environment: Mapping[str, str] | None = None,
        role: iam.IRole | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        network_isolation: bool | None = None,
        deployment: DeploymentPolicy | None = None,
    ) -> None:
        problems: list[str] = []
        chosen_type = _instance_type(
            defaults.multi_model_instance_type_name() if instance_type is None else instance_type, problems
        )
        count = (
            defaults.multi_model_initial_instance_count()
            if initial_instance_count is None
            else initial_instance_count
        )
        problems.extend(check_int("initial_instance_count", count, 1))
        name = defaults.variant_name() if variant_name is None else variant_name
        problems.extend(variant_name_problems("variant_name", name))
        problems.extend(
            check_type(
                "model_prefix", model_prefix, ModelPrefix,
                "pass ModelPrefix(self, 'Models', bucket=...) or omit it for a new bucket", optional=True,
            )
        )  # fmt: skip
        problems.extend(
            check_type(
                "image", image, TritonImage,
                "use TritonImage.for_region() or TritonImage.from_uri(uri)", optional=True,
            )
        )  # fmt: skip
        problems.extend(_cache_setting_problems(model_cache_setting))
        items = _models_problems(models, problems)
        if chosen_type is not None and kms_key is not None and chosen_type.has_nvme_instance_storage:
            problems.append(
                f"kms_key is not supported on {chosen_type} (NVMe instance storage: SageMaker rejects "
                "VolumeKmsKeyId) — remove kms_key, or choose ml.p2.xlarge or ml.p3.2xlarge"
            )
        try:
            super().__init__(scope, id, kms_key=kms_key, deployment=deployment)
        except PropsError as error:
            # One message with the base's problems (kms_key's type) and the multi-model ones.
            raise PropsError("; ".join([str(error), *problems])) from None
        raise_if_any(type(self).__name__, problems)
        assert chosen_type is not None
        self.node.add_validation(_HasModels(self))

        self.model_prefix: ModelPrefix = (
            ModelPrefix(self, "ModelPrefix") if model_prefix is None else model_prefix
        )
        """Where the archives live; ``model_prefix.s3_uri`` is the model's ``ModelDataUrl``."""
        self.model: MultiModelTritonModel = MultiModelTritonModel(
            self,
            "Model",
            model_prefix=self.model_prefix,
            model_cache_setting=model_cache_setting,
            image=image,
            environment=environment,
            role=role,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
            network_isolation=network_isolation,
        )
        """The ``MultiModel``-mode SageMaker model every variant serves."""
        self.add_production_variant(
            ProductionVariant(
                model=self.model,
                variant_name=name,
                instance_type=chosen_type,
                initial_instance_count=count,
            )
        )
        for target_model, artifact in items:
            self.add_model(target_model, artifact)

    # --- models -----------------------------------------------------------------------------

    @property
    def target_models(self) -> tuple[str, ...]:
        """The ``TargetModel`` names of the archives added so far, sorted."""
        return tuple(self.model_prefix.target_models)

    def add_model(self, target_model: str, artifact: ModelArtifact) -> None:
        """Put ``artifact`` under the prefix as ``target_model``, the name clients invoke it by.

        Args:
            target_model: the archive's key under the prefix and its ``TargetModel`` name, ending
                in ``.tar.gz`` (e.g. ``"resnet_trt_v0.tar.gz"``), unique in the endpoint.
            artifact: one model repository archive: ``ModelArtifact.from_build(spec)``,
                ``.from_asset("model.tar.gz")`` or ``.from_bucket(bucket, key)``. It holds one
                model folder, or several of which exactly one is an ensemble.

        Raises:
            PropsError: every problem: a bad name or artifact, an archive layout Triton's
                SageMaker front end does not load, or a TensorRT engine built for another GPU or
                TensorRT version than the variants' instance types and the image.
        """
        problems = Problems("MultiModelEndpoint.add_model")
        problems.extend(check_str("target_model", target_model, example=" such as 'resnet_v0.tar.gz'"))
        artifact_problems = check_type("artifact", artifact, ModelArtifact, _artifact_fix(artifact))
        problems.extend(artifact_problems)
        if not problems:
            layout = _archive_layout_problem(target_model, artifact)
            if layout is not None:
                problems.add(f"artifact of {layout}")
            for index, variant in enumerate(self.variants):
                if isinstance(variant, ProductionVariant):
                    problems.extend(
                        [
                            f"variants[{index}] ({variant.instance_type}): {problem}"
                            for problem in self.model.engine_problems(
                                variant.instance_type, {target_model: artifact}
                            )
                        ]
                    )
        problems.raise_if_any()
        names = artifact.model_names
        if names is not None and len(names) > _ARCHIVE_FOLDERS_WARNING:
            Annotations.of(self).add_warning_v2(
                f"{_WARNING_PREFIX}:multiModelManyFolders:{target_model}",
                f"{target_model!r} holds {len(names)} model folders; Triton's SageMaker front end warns "
                f"above {_ARCHIVE_FOLDERS_WARNING} (an ensemble and its steps rarely need more).",
            )
        self.model_prefix.add_archive(target_model, artifact)

    # --- access ---------------------------------------------------------------------------

    def grant_invoke(
        self, grantee: iam.IGrantable, *, target_models: Sequence[str] | None = None
    ) -> iam.Grant:
        """Grant ``grantee`` ``sagemaker:InvokeEndpoint`` on this endpoint, for every model or some.

        ``TargetModel`` is a request parameter, so the plain grant covers every archive under the
        prefix, including ones copied there after deploy. ``target_models`` narrows it with the
        ``sagemaker:TargetModel`` condition key (SageMaker Developer Guide, "Multi-Model Endpoint
        Security", https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-endpoint-security.html).

        Args:
            grantee: the client (a role, a function, a user).
            target_models: the ``TargetModel`` names or ``StringLike`` patterns the client may
                invoke, e.g. ``["resnet_*"]``. Defaults to every model.

        Raises:
            PropsError: a wrong grantee, or ``target_models`` is not a non-empty list of str.
        """
        if target_models is None:
            return super().grant_invoke(grantee)
        fix = "pass a list of TargetModel names or patterns, e.g. target_models=['resnet_*']"
        problems, patterns = check_sequence("target_models", target_models, str, fix)
        if not problems and not patterns:
            problems.append(f"target_models must not be empty (got []) — {fix}, or omit it for every model")
        problems.extend(
            f"target_models[{index}] must not be empty (got '') — {fix}"
            for index, pattern in enumerate(patterns)
            if pattern == ""
        )
        problems.extend(
            check_interface(
                "grantee", grantee, "iam.IGrantable", "grant_principal", "pass a role, a function or a user"
            )
        )
        raise_if_any("MultiModelEndpoint.grant_invoke", problems)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(self.invoke_actions),
            resource_arns=[self.endpoint_arn],
            conditions={"StringLike": {"sagemaker:TargetModel": patterns}},
        )

    # --- variants ---------------------------------------------------------------------------

    def _variant_problems(
        self, variant: VariantBase, path: str, existing: Sequence[VariantBase]
    ) -> list[str]:
        problems = super()._variant_problems(variant, path, existing)
        if not isinstance(variant, ProductionVariant):
            return problems
        if isinstance(variant.model, TritonModel | ContainerModel) and not variant.model.multi_model:
            problems.append(
                f"{path}.model serves one model (SingleModel mode), but every variant of a MultiModelEndpoint "
                "serves its prefix of archives — pass model=endpoint.model"
            )
        if isinstance(variant.instance_type, InstanceType):
            problems.extend(
                multi_model_instance_type_problems(f"{path}.instance_type", variant.instance_type)
            )
        return problems

    def _add_variant(self, variant: VariantBase) -> None:
        super()._add_variant(variant)
        if not isinstance(variant, ProductionVariant):
            return
        instance_type = variant.instance_type
        if (
            instance_type.resolved
            and instance_type.name not in MULTI_MODEL_GPU_INSTANCE_TYPES
            and instance_type.gpu_count in (1, None)
        ):
            warning_id = f"{_WARNING_PREFIX}:multiModelUndocumentedInstanceType:{instance_type.name}"
            gpu = "a single GPU" if instance_type.gpu_count == 1 else "GPUs this project cannot count"
            Annotations.of(self).add_warning_v2(
                warning_id,
                f"{instance_type.name} has {gpu} but is not on SageMaker's documented list of GPU "
                f"multi-model instance types ({', '.join(MULTI_MODEL_GPU_INSTANCE_TYPES)}); it may work "
                "but is unconfirmed. Use a listed type, or, once it has worked for you, acknowledge this "
                f"warning: Annotations.of(endpoint).acknowledge_warning({warning_id!r}).",
            )

    # --- scaling ----------------------------------------------------------------------------

    def scale_on_gpu_utilization(
        self,
        variant_name: str | None = None,
        *,
        target_utilization_percent: float | None = None,
        min_capacity: int | None = None,
        max_capacity: int | None = None,
        scale_in_cooldown: Duration | None = None,
        scale_out_cooldown: Duration | None = None,
        disable_scale_in: bool = False,
    ) -> ScalableInstanceCount:
        """Scale a variant with seed 001's policy: target tracking on ``GPUUtilization``.

        ``GPUUtilization`` (``/aws/sagemaker/Endpoints``, EndpointName + VariantName, Average)
        runs to 100 x the instance's GPU count; on the single-GPU types of a multi-model endpoint
        that is 100, so the target is the percent of the one GPU. The policy's construct id is
        ``GPUUtilization``. Under many rarely used models, consider :meth:`scale_on_invocations`:
        cold loads keep the GPU idle while requests wait.

        Args:
            variant_name: the variant. Defaults to the first variant.
            target_utilization_percent: the GPUUtilization to keep, > 0 and <= 100 x the GPU count.
                Defaults to :func:`serving_constructs.defaults.multi_model_gpu_utilization_target` (60).
            min_capacity: the fewest instances, >= 1. Defaults to
                :func:`serving_constructs.defaults.multi_model_min_capacity` (1).
            max_capacity: the most instances. Defaults to
                :func:`serving_constructs.defaults.multi_model_max_capacity` (5).
            scale_in_cooldown: wait after a scale-in. Defaults to 600 s (seed 001).
            scale_out_cooldown: wait after a scale-out. Defaults to 200 s (seed 001).
            disable_scale_in: only ever scale out. Defaults to False.

        Returns:
            The scalable instance count, to add more policies or schedules.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        scalable = self._scalable(variant_name, min_capacity, max_capacity)
        scalable.scale_on_gpu_utilization(
            "GPUUtilization",
            target_utilization_percent=defaults.multi_model_gpu_utilization_target()
            if target_utilization_percent is None
            else target_utilization_percent,
            **_cooldowns(scale_in_cooldown, scale_out_cooldown),
            disable_scale_in=disable_scale_in,
        )
        return scalable

    def scale_on_invocations(
        self,
        variant_name: str | None = None,
        *,
        invocations_per_instance_per_minute: float,
        min_capacity: int | None = None,
        max_capacity: int | None = None,
        scale_in_cooldown: Duration | None = None,
        scale_out_cooldown: Duration | None = None,
        disable_scale_in: bool = False,
    ) -> ScalableInstanceCount:
        """Scale a variant on ``InvocationsPerInstance`` instead of GPU utilization (policy id ``InvocationsPerInstance``).

        Args:
            variant_name: the variant. Defaults to the first variant.
            invocations_per_instance_per_minute: the target, > 0 (measure it under load).
            min_capacity: the fewest instances, >= 1. Defaults to 1 (seed 001).
            max_capacity: the most instances. Defaults to 5 (seed 001).
            scale_in_cooldown: wait after a scale-in. Defaults to 600 s (seed 001).
            scale_out_cooldown: wait after a scale-out. Defaults to 200 s (seed 001).
            disable_scale_in: only ever scale out. Defaults to False.

        Returns:
            The scalable instance count.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        scalable = self._scalable(variant_name, min_capacity, max_capacity)
        scalable.scale_on_invocations(
            "InvocationsPerInstance",
            invocations_per_instance_per_minute=invocations_per_instance_per_minute,
            **_cooldowns(scale_in_cooldown, scale_out_cooldown),
            disable_scale_in=disable_scale_in,
        )
        return scalable

    def _scalable(
        self, variant_name: str | None, min_capacity: int | None, max_capacity: int | None
    ) -> ScalableInstanceCount:
        return self.auto_scale_instance_count(
            variant_name,
            min_capacity=defaults.multi_model_min_capacity() if min_capacity is None else min_capacity,
            max_capacity=defaults.multi_model_max_capacity() if max_capacity is None else max_capacity,
        )

    # --- metrics ----------------------------------------------------------------------------

    def metric_model_loading_wait_time(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the time a request waited for its model to be downloaded and loaded, in MICROSECONDS (Average)."""
        return self.metric("ModelLoadingWaitTime", variant_name=variant_name, **props)

    def metric_model_unloading_time(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the time to unload a model, in MICROSECONDS (Average; SampleCount counts evictions: thrashing)."""
        return self.metric("ModelUnloadingTime", variant_name=variant_name, **props)

    def metric_model_downloading_time(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the time to download a model archive from S3, in MICROSECONDS (Average)."""
        return self.metric("ModelDownloadingTime", variant_name=variant_name, **props)

    def metric_model_loading_time(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the time to load a model into Triton, in MICROSECONDS (Average)."""
        return self.metric("ModelLoadingTime", variant_name=variant_name, **props)

    def metric_model_cache_hit(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the requests whose model was already loaded (``AWS/SageMaker``; Average is the hit ratio)."""
        return self.metric("ModelCacheHit", variant_name=variant_name, **props)

    def metric_loaded_model_count(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the models loaded per instance (``/aws/sagemaker/Endpoints``, Average; Sum is not a unique count)."""
        return self.metric("LoadedModelCount", variant_name=variant_name, **props)


def _cooldowns(scale_in: Duration | None, scale_out: Duration | None) -> dict[str, Duration]:
    return {
        "scale_in_cooldown": Duration.seconds(defaults.multi_model_scale_in_cooldown_seconds())
        if scale_in is None
        else scale_in,
        "scale_out_cooldown": Duration.seconds(defaults.multi_model_scale_out_cooldown_seconds())
        if scale_out is None
        else scale_out,
    }


def _instance_type(value: Any, problems: list[str]) -> InstanceType | None:
    """Return ``value`` as an InstanceType (a str is accepted), recording its problems."""
    if isinstance(value, str):
        try:
            value = InstanceType.of(value)
        except PropsError as error:
            problems.append(f"instance_type: {error}")
            return None
    if not isinstance(value, InstanceType):
        problems.append(
            f"instance_type must be an InstanceType or a str (got {given(value)}) — e.g. "
            f"instance_type={defaults.multi_model_instance_type_name()!r}"
        )
        return None
    found = multi_model_instance_type_problems("instance_type", value)
    problems.extend(found)
    return None if found else value


def _artifact_fix(value: Any) -> str:
    """Return how to make a ModelArtifact of what was given instead (an S3 URI, a path, or anything)."""
    if isinstance(value, str) and value.startswith("s3://"):
        bucket, _, key = value[len("s3://") :].partition("/")
        return (
            f"use ModelArtifact.from_bucket(s3.Bucket.from_bucket_name(self, 'Models', {bucket!r}), {key!r})"
        )
    if isinstance(value, str | Path):
        return f"use ModelArtifact.from_asset({str(value)!r})"
    return "use ModelArtifact.from_build(spec), .from_asset('model.tar.gz') or .from_bucket(bucket, key)"


def _cache_setting_problems(value: Any) -> list[str]:
    if value is None or isinstance(value, ModelCacheSetting):
        return []
    allowed = [member.value for member in ModelCacheSetting]
    text = str(value)
    near = next((m for m in ModelCacheSetting if m.value.lower() == text.lower()), None)
    fix = f"ModelCacheSetting.{near.name}" if near is not None else "ModelCacheSetting.DISABLED"
    return [
        f"model_cache_setting must be a ModelCacheSetting (got {given(value)}){did_you_mean(text, allowed)} — "
        f"use {fix}"
    ]


def _models_problems(models: Any, problems: list[str]) -> list[tuple[str, ModelArtifact]]:
    """Check the ``models`` prop's shape; return its items (the archives are checked by add_model)."""
    if models is None:
        return []
    fix = "pass {'resnet_v0.tar.gz': ModelArtifact.from_build(spec)}"
    if not isinstance(models, Mapping):
        problems.append(
            f"models must be a dict of TargetModel name to ModelArtifact (got {given(models)}) — {fix}"
        )
        return []
    items = []
    for key, artifact in models.items():
        key_problems = check_str("models key", key, example=" such as 'resnet_v0.tar.gz'")
        problems.extend(key_problems)
        if not isinstance(artifact, ModelArtifact):
            problems.append(
                f"models[{key!r}] must be a ModelArtifact (got {given(artifact)}) — {_artifact_fix(artifact)}"
            )
        elif not key_problems:
            items.append((key, artifact))
    return items


__all__ = [
    "MULTI_MODEL_GPU_INSTANCE_TYPES",
    "ModelCacheSetting",
    "MultiModelEndpoint",
    "MultiModelTritonModel",
    "multi_model_instance_type_problems",
]
