"""Multi-container SageMaker models: direct invocation and serial inference pipelines.

SageMaker's rules (SageMaker Developer Guide, "Create a multi-container endpoint (Boto 3)", "Invoke
a multi-container endpoint with direct invocation", "Inference pipelines"; API reference,
``ContainerDefinition.ContainerHostname``):

* a multi-container model lists its containers in ``Containers`` (not ``PrimaryContainer``), more
  than one, at most 15;
* ``InferenceExecutionConfig.Mode`` is ``Direct`` (each request names one container with
  ``TargetContainerHostname``) or ``Serial`` (an inference pipeline: each container's response is
  the next one's request; SageMaker's default);
* ``Direct`` needs a ``ContainerHostname`` on every container; in a pipeline, hostnames are given
  for every container or for none (SageMaker then names them by position); hostnames identify a
  container, so they are unique.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import jsii
from aws_cdk import Token
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
    given,
    raise_if_any,
)
from serving_constructs.artifact import Compression, ModelArtifact, ModelDataBinding
from serving_constructs.image import TritonImage
from serving_constructs.instance_type import InstanceType
from serving_constructs.model import create_execution_role, model_data_source, triton_container_settings

MAX_CONTAINERS = 15
"""Containers one SageMaker model may list (Direct and Serial alike)."""

MODES = ("Direct", "Serial")
"""``InferenceExecutionConfig.Mode`` values."""

# API reference, ContainerDefinition.ContainerHostname: up to 63 characters, this pattern.
_HOSTNAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


@runtime_checkable
class BindsImage(Protocol):
    """Anything that binds to a container image URI (:class:`TritonImage` is one)."""

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        """Return the image URI, granting ``grantee`` the pull where the image needs it."""
        ...


@dataclass(frozen=True, kw_only=True)
class ContainerDefinition:
    """One container of a :class:`MultiContainerModel` (``AWS::SageMaker::Model`` ``Containers[]``).

    Use :meth:`triton` for a Triton container (same settings and checks as :class:`TritonModel`).

    Attributes:
        image: the container image: anything with ``bind(scope, grantee) -> str``
            (:class:`TritonImage`, or your own).
        hostname: the ``ContainerHostname``: 1-63 letters, digits and hyphens, starting and
            ending with a letter or digit. Required in ``Direct`` mode (requests name it with
            ``TargetContainerHostname``); in ``Serial`` mode give it on every container or none.
            Defaults to none.
        environment: the container's environment variables. Defaults to none.
        model_data: the model data the container reads (one ``model.tar.gz`` or an uncompressed S3
            prefix). Defaults to none (a container that needs no data, e.g. preprocessing code
            baked into its image).
        triton_model_name: the Triton model a :meth:`triton` container serves (``None`` otherwise).
    """

    image: BindsImage
    hostname: str | None = None
    environment: Mapping[str, str] | None = None
    model_data: ModelArtifact | None = None
    triton_model_name: str | None = None

    @staticmethod
    def triton(
        *,
        artifact: ModelArtifact,
        hostname: str | None = None,
        image: TritonImage | None = None,
        default_model_name: str | None = None,
        environment: Mapping[str, str] | None = None,
        log_verbose: int | None = None,
        shm_default_byte_size: int | None = None,
        shm_growth_byte_size: int | None = None,
    ) -> ContainerDefinition:
        """Return a Triton container: the props and defaults of :class:`TritonModel`, checked the same way.

        Raises:
            PropsError: a prop :class:`TritonModel` would refuse, named ``ContainerDefinition.triton``.
        """
        problems = Problems("ContainerDefinition.triton")
        model_name, env = triton_container_settings(
            problems,
            multi_model=False,
            artifact=artifact,
            image=image,
            default_model_name=default_model_name,
            environment=environment,
            log_verbose=log_verbose,
            shm_default_byte_size=shm_default_byte_size,
            shm_growth_byte_size=shm_growth_byte_size,
        )
        problems.raise_if_any()
        return ContainerDefinition(
            image=TritonImage.for_region() if image is None else image,
            hostname=hostname,
            environment=env,
            model_data=artifact,
            triton_model_name=model_name,
        )

    def problems(self, path: str) -> list[str]:
        """Return every problem with these props, each prefixed with ``path`` (e.g. ``containers[0]``)."""
        problems: list[str] = []
        if not isinstance(self.image, BindsImage):
            problems.append(
                f"{path}.image must have bind(scope, grantee) -> str (got {given(self.image)}) — use "
                "TritonImage.for_region(), TritonImage.from_uri(uri) or your own image"
            )
        if self.hostname is not None:
            if not isinstance(self.hostname, str):
                problems.append(
                    f"{path}.hostname must be a str (got {given(self.hostname)}) — e.g. 'preprocess'"
                )
            elif not Token.is_unresolved(self.hostname) and not _HOSTNAME.match(self.hostname):
                problems.append(
                    f"{path}.hostname {self.hostname!r} is not a valid ContainerHostname: 1-63 letters, digits "
                    "and hyphens, starting and ending with a letter or digit — e.g. 'preprocess'"
                )
        problems.extend(check_environment(f"{path}.environment", self.environment)[0])
        if self.model_data is not None and not isinstance(self.model_data, ModelArtifact):
            problems.append(
                f"{path}.model_data must be a ModelArtifact (got {given(self.model_data)}) — use "
                "ModelArtifact.from_asset(...), .from_bucket(...) or .from_build(spec)"
            )
        return problems


@jsii.implements(iam.IGrantable)
class MultiContainerModel(Construct):
    """A SageMaker model of 2-15 containers, invoked directly by hostname or as a serial pipeline.

    The execution role is least-privilege, as :class:`TritonModel`'s: read of each container's model
    data only, pull of images that need it, endpoint logs and ``cloudwatch:PutMetricData`` in
    SageMaker's namespace. ``node.default_child`` is the ``CfnModel``. Serve it with
    ``RealtimeEndpoint(variants=[ProductionVariant(model=multi_container_model, ...)])``.

    Args:
        scope: the parent construct.
        id: the construct id.
        containers: the containers, 2-15, in pipeline order for ``Serial``.
        mode: ``"Serial"`` (an inference pipeline: each container's response is the next
            container's request; the last one's is the answer) or ``"Direct"`` (each request
            names its container with ``TargetContainerHostname``). Defaults to ``"Serial"``,
            SageMaker's default.
        role: the execution role SageMaker assumes. Defaults to a new least-privilege role.
        network_isolation: run the containers without network access. Defaults to
            :func:`serving_constructs.defaults.network_isolation` (True).
    """

    multi_model = False
    """A multi-container model is never a multi-model (``MultiModel`` mode) one."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        containers: Sequence[ContainerDefinition],
        mode: str = "Serial",
        role: iam.IRole | None = None,
        network_isolation: bool | None = None,
    ) -> None:
        super().__init__(scope, id)
        problems = Problems("MultiContainerModel")
        if mode not in MODES:
            problems.add(
                f"mode must be one of {', '.join(MODES)} (got {mode!r}) — pass mode='Serial' or 'Direct'"
            )
        if isinstance(containers, str) or not isinstance(containers, Sequence):
            problems.add(
                f"containers must be a list of ContainerDefinition (got {given(containers)}) — e.g. "
                "containers=[ContainerDefinition(image=...), ContainerDefinition.triton(artifact=...)]"
            )
            containers = []
        elif not 2 <= len(containers) <= MAX_CONTAINERS:
            problems.add(
                f"containers must hold 2-{MAX_CONTAINERS} containers (got {len(containers)}) — SageMaker "
                "refuses a multi-container model outside that range; use TritonModel for one container"
            )
        for index, container in enumerate(containers):
            if not isinstance(container, ContainerDefinition):
                problems.add(
                    f"containers[{index}] must be a ContainerDefinition (got {given(container)}) — use "
                    "ContainerDefinition(image=...) or ContainerDefinition.triton(artifact=...)"
                )
            else:
                for problem in container.problems(f"containers[{index}]"):
                    problems.add(problem)
        typed = [c for c in containers if isinstance(c, ContainerDefinition)]
        hostnames = [c.hostname for c in typed]
        named = [h for h in hostnames if h is not None]
        if mode == "Direct":
            missing = [
                i
                for i, c in enumerate(containers)
                if isinstance(c, ContainerDefinition) and c.hostname is None
            ]
            if missing:
                problems.add(
                    "containers[" + "], containers[".join(map(str, missing)) + "].hostname is required in "
                    "Direct mode (requests name their container with TargetContainerHostname) — pass hostname='...'"
                )
        elif named and len(named) != len(hostnames):
            problems.add(
                "containers: give a hostname to every container of a Serial pipeline or to none (SageMaker "
                "then names them by position) — add the missing hostnames"
            )
        duplicates = sorted({h for h in named if isinstance(h, str) and named.count(h) > 1})
        if duplicates:
            problems.add(
                f"containers' hostnames must be unique (repeated: {', '.join(duplicates)}) — rename them"
            )
        problems.extend(
            check_interface(
                "role", role, "iam.IRole", "role_arn",
                "use iam.Role(...) or iam.Role.from_role_arn(...)", optional=True,
            )
        )  # fmt: skip
        problems.extend(check_bool("network_isolation", network_isolation))
        problems.raise_if_any()

        self.mode: str = mode
        """``Direct`` or ``Serial``."""
        self.containers: tuple[ContainerDefinition, ...] = tuple(typed)
        """The containers, in order."""
        self.role: iam.IRole = role if role is not None else create_execution_role(
            self,
            description="Execution role of a multi-container model: reads its containers' data, writes endpoint logs and metrics",
        )
        self._bindings: list[tuple[ContainerDefinition, ModelDataBinding | None]] = []
        rendered: list[sagemaker.CfnModel.ContainerDefinitionProperty] = []
        for index, container in enumerate(self.containers):
            image_uri = container.image.bind(self, self.role)
            binding = None
            if container.model_data is not None:
                binding = container.model_data.bind(self, self.role)
                if binding.is_prefix and binding.compression is not Compression.NONE:
                    raise_if_any(
                        "MultiContainerModel",
                        [
                            f"containers[{index}].model_data is a prefix of archives, which only a multi-model "
                            "endpoint serves — use one archive or uncompressed data"
                        ],
                    )
            self._bindings.append((container, binding))
            rendered.append(
                sagemaker.CfnModel.ContainerDefinitionProperty(
                    image=image_uri,
                    container_hostname=container.hostname,
                    mode="SingleModel",
                    model_data_url=binding.s3_uri if binding is not None and binding.is_archive else None,
                    model_data_source=model_data_source(binding)
                    if binding is not None and not binding.is_archive
                    else None,
                    environment=dict(sorted(container.environment.items())) or None
                    if container.environment
                    else None,
                )
            )
        self._resource = sagemaker.CfnModel(
            self,
            "Resource",
            execution_role_arn=self.role.role_arn,
            containers=rendered,
            inference_execution_config=sagemaker.CfnModel.InferenceExecutionConfigProperty(mode=mode),
            enable_network_isolation=defaults.network_isolation()
            if network_isolation is None
            else network_isolation,
        )
        default_policy = self.role.node.try_find_child("DefaultPolicy")
        if default_policy is not None:
            self._resource.node.add_dependency(default_policy)
        self.model_name: str = self._resource.attr_model_name
        """The generated SageMaker model name."""

    @property
    def requires_gpu(self) -> bool | None:
        """Whether any container's model data needs a GPU instance; None when none is known."""
        needs = [c.model_data.requires_gpu for c in self.containers if c.model_data is not None]
        if any(needs):
            return True
        return None if any(n is None for n in needs) else False

    @property
    def model_data_size_bytes(self) -> int | None:
        """The total size of the containers' model data, when every size is known at synth."""
        sizes = [c.model_data.size_bytes for c in self.containers if c.model_data is not None]
        if not sizes or any(s is None for s in sizes):
            return None
        return sum(s for s in sizes if s is not None)

    def engine_problems(self, instance_type: InstanceType) -> list[str]:
        """Return why a Triton container's TensorRT engines would not run on ``instance_type``.

        Each Triton container is checked as :meth:`TritonModel.engine_problems` checks a model
        (:func:`model_build.engine_target.engine_target_problems`, the one place engines meet their target).
        """
        from model_build.engine_target import engine_target_problems

        problems: list[str] = []
        if not instance_type.resolved:
            return problems
        for index, container in enumerate(self.containers):
            manifests = getattr(container.model_data, "engine_manifests", None)
            version = getattr(container.image, "triton_version", None)
            if not manifests or version is None or container.model_data is None:
                continue
            for model_dir, manifest in sorted(manifests.items()):
                problems.extend(
                    f"containers[{index}] ({container.model_data.description}): {problem}"
                    for problem in engine_target_problems(
                        manifest, model=model_dir, instance_type=instance_type.name, triton_version=version
                    )
                )
        return problems

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The principal SageMaker runs the model as (the execution role)."""
        return self.role

    @property
    def model_arn(self) -> str:
        """The model ARN (``Ref`` of ``AWS::SageMaker::Model``)."""
        return self._resource.model_ref.model_arn

    def grant_read_model_data(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``grantee`` read of every container's model data, exactly as far as the model reads it."""
        grant: iam.Grant | None = None
        problems = check_interface(
            "grantee", grantee, "iam.IGrantable", "grant_principal", "pass a role, a function or a user"
        )
        raise_if_any("grant_read_model_data", problems)
        for container, binding in self._bindings:
            if binding is None:
                continue
            if binding.grant_read is None:
                raise PropsError(
                    f"Invalid grant_read_model_data props: {getattr(container.model_data, 'description', '?')} "
                    "does not say how to read it — grant the read yourself"
                )
            next_grant = binding.grant_read(grantee)
            grant = next_grant if grant is None else grant.combine(next_grant)
        return grant if grant is not None else iam.Grant.drop(grantee=grantee, intent="no model data")

    def grant_pass_role(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``grantee`` ``iam:PassRole`` on this model's execution role."""
        return self.role.grant_pass_role(grantee.grant_principal)
