"""A SageMaker model that runs your own inference container (not Triton)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from serving_constructs import defaults
from serving_constructs._validation import (
    Problems,
    PropsError,
    check_bool,
    check_environment,
    check_interface,
    check_type,
    raise_if_any,
)
from serving_constructs.artifact import Compression, ModelArtifact, ModelDataBinding
from serving_constructs.container_image import ContainerImage
from serving_constructs.image import TritonImage
from serving_constructs.instance_type import InstanceType
from serving_constructs.model import create_execution_role, model_data_source

MODEL_DIR = "/opt/ml/model"
"""Where SageMaker puts the model data in the container (extracted, for a ``model.tar.gz``)."""


@jsii.implements(iam.IGrantable)
class ContainerModel(Construct):
    """A SageMaker model (``AWS::SageMaker::Model``) running your own container image.

    For a server that is not Triton: seed 004's nginx + gunicorn + Flask layout
    (``examples/byoc/``), or any image that follows SageMaker's container contract (``serve``
    entry point, port 8080, ``GET /ping``, ``POST /invocations``). A ``ProductionVariant`` of a
    ``RealtimeEndpoint`` takes it as its ``model``.

    The execution role is least-privilege by default, as :class:`~serving_constructs.model.TritonModel`'s:
    read of this model's data only (none without ``model_data``), pull of the image when it is in
    ECR, writing logs to ``/aws/sagemaker/Endpoints/*`` and ``cloudwatch:PutMetricData`` in
    SageMaker's endpoint namespace. ``node.default_child`` is the ``CfnModel``.

    Args:
        scope: the parent construct.
        id: the construct id.
        image: the container image: ``ContainerImage.from_asset(directory)``, ``.from_ecr_repository``
            or ``.from_uri`` (anything with ``bind(scope, grantee) -> str``, a ``TritonImage`` too).
        model_data: the model data SageMaker puts in ``/opt/ml/model``: one ``model.tar.gz``
            (``ModelDataUrl``, extracted) or an uncompressed S3 prefix (``ModelDataSource``).
            Defaults to none (an image that carries its model).
        environment: the container's environment variables. Defaults to none.
        role: the execution role SageMaker assumes. Defaults to a new least-privilege role; a
            role you pass gets the same grants added (imported roles are left unchanged).
        network_isolation: run the container without network access. Defaults to
            :func:`serving_constructs.defaults.network_isolation` (True).
    """

    multi_model: ClassVar[bool] = False
    """Always False: the container serves one model (SingleModel mode)."""

    requires_gpu: ClassVar[bool | None] = None
    """Unknown: whether your server needs a GPU is up to you when choosing the instance type."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        image: ContainerImage | TritonImage,
        model_data: ModelArtifact | None = None,
        environment: Mapping[str, str] | None = None,
        role: iam.IRole | None = None,
        network_isolation: bool | None = None,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems("ContainerModel")
        problems.extend(
            check_interface(
                "image",
                image,
                "ContainerImage",
                "bind",
                "use ContainerImage.from_asset('examples/byoc'), .from_ecr_repository(repo, tag) or .from_uri(uri)",
            )
        )
        problems.extend(
            check_type(
                "model_data",
                model_data,
                ModelArtifact,
                "use ModelArtifact.from_asset('model.tar.gz') or .from_bucket(bucket, key), or omit it",
                optional=True,
            )
        )
        environment_problems, environment = check_environment(
            "environment", environment, example="{'MODEL_FILE': 'model.onnx'}"
        )
        problems.extend(environment_problems)
        problems.extend(
            check_interface(
                "role", role, "iam.IRole", "role_arn",
                "use iam.Role(...) or iam.Role.from_role_arn(...)", optional=True,
            )
        )  # fmt: skip
        problems.extend(check_bool("network_isolation", network_isolation))
        problems.raise_if_any()

        self.role: iam.IRole = (
            role
            if role is not None
            else create_execution_role(
                self,
                description="Execution role of a container model: reads its model data, pulls its image, "
                "writes endpoint logs and metrics",
                also_unscoped="ecr:GetAuthorizationToken (pulling an image from ECR) supports no "
                "resource-level permissions either; the pull itself is granted on the image's repository only.",
            )
        )
        self.artifact: ModelArtifact | None = model_data
        """The model data as given (None when the image carries its model)."""
        self.image: ContainerImage | TritonImage = image
        """The container image."""
        image_uri = image.bind(self, self.role)
        self.model_data: ModelDataBinding | None = None
        """What the model data bound to (None without model data)."""
        if model_data is not None:
            self.model_data = model_data.bind(self, self.role)
            if self.model_data.is_prefix and self.model_data.compression is not Compression.NONE:
                raise PropsError(
                    "Invalid ContainerModel props: model_data is a prefix of archives, which only a "
                    "multi-model endpoint serves — use one archive (ModelArtifact.from_bucket) or "
                    "uncompressed data (ModelArtifact.from_bucket_prefix)"
                )
        binding = self.model_data
        self._resource = sagemaker.CfnModel(
            self,
            "Resource",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri,
                mode="SingleModel",
                model_data_url=binding.s3_uri if binding is not None and binding.is_archive else None,
                model_data_source=model_data_source(binding)
                if binding is not None and not binding.is_archive
                else None,
                environment=dict(sorted(environment.items())) or None,
            ),
            enable_network_isolation=defaults.network_isolation()
            if network_isolation is None
            else network_isolation,
        )
        # The grants live in the role's default policy: without this dependency an endpoint can
        # start (and fail to pull the image or download the data) before the policy exists.
        default_policy = self.role.node.try_find_child("DefaultPolicy")
        if default_policy is not None:
            self._resource.node.add_dependency(default_policy)

        self.model_name: str = self._resource.attr_model_name
        """The generated SageMaker model name."""

    def engine_problems(self, instance_type: InstanceType, sources: object = None) -> list[str]:
        """Return no problems: the project knows no TensorRT engines in your container (TritonModel's protocol)."""
        return []

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The principal SageMaker runs the model as (the execution role)."""
        return self.role

    @property
    def model_arn(self) -> str:
        """The model ARN (``Ref`` of ``AWS::SageMaker::Model``)."""
        return self._resource.model_ref.model_arn

    def grant_read_model_data(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``grantee`` read of this model's data, as far as the model reads it (nothing without data).

        Raises:
            PropsError: a wrong grantee, or the model data does not say how to read it.
        """
        problems = check_interface(
            "grantee", grantee, "iam.IGrantable", "grant_principal", "pass a role, a function or a user"
        )
        if self.model_data is not None and self.model_data.grant_read is None:
            problems.append(
                f"{self.artifact.description if self.artifact else 'the model data'} does not say how to "
                "read it (its ModelDataBinding has no grant_read) — grant the read yourself"
            )
        raise_if_any("grant_read_model_data", problems)
        if self.model_data is None:
            return iam.Grant.drop(grantee, "read the model data of a model without model data")
        assert self.model_data.grant_read is not None
        return self.model_data.grant_read(grantee)

    def grant_pass_role(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``grantee`` ``iam:PassRole`` on this model's execution role (to create models with it)."""
        return self.role.grant_pass_role(grantee.grant_principal)
