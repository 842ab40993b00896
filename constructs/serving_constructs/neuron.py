"""Inferentia (ml.inf1 / ml.inf2): the Neuron container image, the Neuron runtime settings, the model.

Triton on Inferentia: the SageMaker Triton DLC is published for CPU and GPU only (its SDK image data
lists no Inferentia processor), so a Neuron model runs in a **Neuron DLC** (:meth:`NeuronImage.for_region`),
or in **your own Triton image** built with Triton's python backend for Inferentia
(triton-inference-server/python_backend, ``inferentia/``: a torch-neuron(x) traced model behind
``gen_triton_model.py``, EC2/BYOC-oriented, "tested with a single model"), passed as
:meth:`NeuronImage.from_ecr_repository` (SERVICE-FACTS §7.1). The Triton DLC image, TensorRT engines
and the ONNX backend do not apply on Inferentia.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aws_cdk import Annotations, Aws, CfnMapping, CfnRule, CfnRuleAssertion, Fn, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam

from constructs import Construct
from model_build.neuron_target import NEURON_MANIFEST, NEURON_TARGETS, neuron_target_problems
from model_build.user_errors import did_you_mean
from serving_constructs._validation import (
    Problems,
    PropsError,
    check_bool,
    check_int,
    check_interface,
    check_str,
    check_type,
    given,
    raise_if_any,
)
from serving_constructs.artifact import ModelArtifact
from serving_constructs.image import TritonImage
from serving_constructs.instance_type import InstanceType
from serving_constructs.model import TritonModel

ENV_NUM_CORES = "NEURON_RT_NUM_CORES"
ENV_VISIBLE_CORES = "NEURON_RT_VISIBLE_CORES"
ENV_MULTI_INSTANCE_SHARED_WEIGHTS = "NEURON_RT_MULTI_INSTANCE_SHARED_WEIGHTS"

# The Neuron DLC each target takes from the sagemaker SDK's image data (image_uri_config/*.json).
# The installed SDK has no `pytorch-inference-neuronx` entry: its PyTorch inference image for
# torch-neuronx (inf2) is `huggingface-neuronx` (repository huggingface-pytorch-inference-neuronx,
# a PyTorch + torch-neuronx DLC with transformers), and for torch-neuron (inf1) `inferentia-pytorch`
# (repository sagemaker-neo-pytorch).
_FRAMEWORKS = {"inf1": "inferentia-pytorch", "inf2": "huggingface-neuronx"}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


@functools.cache
def neuron_versions(target: str) -> tuple[str, ...]:
    """Return the Neuron DLC releases the installed sagemaker SDK lists for ``target``, oldest first.

    ``inf2``: the ``huggingface-neuronx`` releases (transformers versions, e.g. ``"4.55.4"``);
    ``inf1``: the ``inferentia-pytorch`` releases (PyTorch versions, e.g. ``"1.9"``).
    """
    from sagemaker.core import image_uris

    config = image_uris.config_for_framework(_FRAMEWORKS[target])
    config = config.get("inference", config)
    return tuple(sorted(config["versions"], key=_version_key))


@dataclass(frozen=True)
class _DlcData:
    registries: dict[str, str]
    repository: str
    tag: str
    neuron_sdk_version: str | None


@functools.cache
def _dlc_data(target: str, version: str) -> _DlcData:
    """Resolve one Neuron DLC release: region -> account from the SDK data, repository and tag from its resolver."""
    from sagemaker.core import image_uris

    config = image_uris.config_for_framework(_FRAMEWORKS[target])
    entry = config.get("inference", config)["versions"][version]
    sdk: str | None = None
    if target == "inf2":
        # One entry per PyTorch base release; the newest one, as the SDK's own default would be.
        base = max((k for k in entry if k.startswith("pytorch")), key=lambda k: _version_key(k[7:]))
        data = entry[base]
        registries = data["registries"]
        sdk = data["sdk_versions"][0].removeprefix("sdk") if data.get("sdk_versions") else None
        uri = image_uris.retrieve(
            "huggingface", region=sorted(registries)[0], version=version, base_framework_version=base,
            instance_type="ml.inf2.xlarge", image_scope="inference", py_version=data["py_versions"][0],
            inference_tool="neuronx",
        )  # fmt: skip
    else:
        registries = entry["registries"]
        uri = image_uris.retrieve(
            _FRAMEWORKS[target], region=sorted(registries)[0], version=version, instance_type="ml.inf1.xlarge"
        )
    repository, _, tag = uri.split("/", 1)[1].partition(":")
    return _DlcData(dict(sorted(registries.items())), repository, tag, sdk)


class NeuronImage(TritonImage):
    """The container image of a Neuron model: a Neuron DLC, or your own image (e.g. Triton with the python backend).

    It fills the model's image slot with the same ``bind(scope, grantee) -> str`` protocol as
    :class:`TritonImage`; its ``triton_version`` is None (no Triton DLC release, no TensorRT).

    Attributes:
        target: ``"inf1"`` or ``"inf2"``: the Inferentia generation the image serves.
        neuron_sdk_version: the Neuron SDK release in the image (``"2.26.0"``), from the SDK data;
            None where the data does not say (inf1 images, your own image).
    """

    target: str = "inf2"
    neuron_sdk_version: str | None = None

    @staticmethod
    def for_region(version: str | None = None, *, target: str = "inf2") -> NeuronImage:
        """Return the Neuron DLC of ``target`` and ``version`` for the stack's region.

        From the installed sagemaker SDK's image data: ``inf2`` →
        ``huggingface-pytorch-inference-neuronx`` (PyTorch + torch-neuronx; ``version`` is its
        transformers release), ``inf1`` → ``sagemaker-neo-pytorch`` (torch-neuron; ``version`` is its
        PyTorch release). The region → registry table becomes a ``CfnMapping`` looked up on
        ``AWS::Region``; an environment-agnostic stack also gets a template rule refusing a deploy in a
        region the SDK does not list for the release, a pinned region is checked at synth.

        Args:
            version: the release. Defaults to the newest one the SDK lists for ``target``.
            target: ``"inf2"`` (default) or ``"inf1"``.

        Raises:
            PropsError: ``target`` or ``version`` is not one the SDK data lists (the message lists them).
        """
        problems = check_str("version", version, optional=True, example=" such as '4.55.4'")
        if target not in NEURON_TARGETS:
            problems.append(
                f"target must be one of {', '.join(map(repr, NEURON_TARGETS))} (got {given(target)})"
                f"{did_you_mean(str(target), list(NEURON_TARGETS))}"
            )
        raise_if_any("NeuronImage.for_region", problems)
        versions = neuron_versions(target)
        version = versions[-1] if version is None else version
        if version not in versions:
            raise PropsError(
                f"Invalid NeuronImage.for_region props: version {version!r} is not an {target} Neuron DLC "
                f"release in the installed sagemaker SDK ({_FRAMEWORKS[target]}){did_you_mean(version, list(versions))} "
                f"— pass one of {', '.join(versions)}, or use NeuronImage.from_ecr_repository(...)"
            )
        return _NeuronDlcImage(target, version)

    @staticmethod
    def from_ecr_repository(
        repository: ecr.IRepository, tag: str = "latest", *, target: str = "inf2"
    ) -> NeuronImage:
        """Return your own image in ECR (a Triton python-backend image for Inferentia, a BYOC server); binding grants pull.

        Args:
            repository: the repository holding the image.
            tag: the image tag. Defaults to ``"latest"`` (pin one for reproducible deploys).
            target: the Inferentia generation the image's Neuron runtime serves. Defaults to ``"inf2"``.

        Raises:
            PropsError: a prop has the wrong type or ``target`` is unknown.
        """
        problems = check_interface(
            "repository", repository, "ecr.IRepository", "repository_uri_for_tag",
            "use ecr.Repository.from_repository_name(self, 'Neuron', 'my-neuron-triton')",
        ) + check_str("tag", tag) + _target_problems(target)  # fmt: skip
        raise_if_any("NeuronImage.from_ecr_repository", problems)
        return _NeuronOwnImage(target, TritonImage.from_ecr_repository(repository, tag))

    @staticmethod
    def from_uri(uri: str, *, target: str = "inf2") -> NeuronImage:
        """Return the image at ``uri`` as is (granting pull access is left to you).

        Args:
            uri: a full image URI.
            target: the Inferentia generation the image serves. Defaults to ``"inf2"``.

        Raises:
            PropsError: ``uri`` is not a str or ``target`` is unknown.
        """
        problems = check_str(
            "uri", uri, example=" such as '123456789012.dkr.ecr.us-east-1.amazonaws.com/neuron:1'"
        )
        raise_if_any("NeuronImage.from_uri", problems + _target_problems(target))
        return _NeuronOwnImage(target, TritonImage.from_uri(uri))


def _target_problems(target: Any) -> list[str]:
    if target in NEURON_TARGETS:
        return []
    return [f"target must be one of {', '.join(map(repr, NEURON_TARGETS))} (got {given(target)})"]


class _NeuronOwnImage(NeuronImage):
    def __init__(self, target: str, image: TritonImage) -> None:
        self.target = target
        self._image = image

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        return self._image.bind(scope, grantee)


class _NeuronDlcImage(NeuronImage):
    def __init__(self, target: str, version: str) -> None:
        self.target = target
        self.version = version
        self.neuron_sdk_version = _dlc_data(target, version).neuron_sdk_version

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        stack = Stack.of(scope)
        data = _dlc_data(self.target, self.version)
        label = f"The {self.target} Neuron DLC {data.repository}:{data.tag}"
        if not Token.is_unresolved(stack.region) and stack.region not in data.registries:
            raise PropsError(
                f"{label} is not published in {stack.region}; the sagemaker SDK lists it in "
                f"{', '.join(data.registries)} — deploy to one of them, or copy the image into your own ECR "
                "repository (NeuronImage.from_ecr_repository)"
            )
        suffix = self.target + "".join(ch for ch in self.version if ch.isalnum())
        mapping = stack.node.try_find_child("NeuronImageAccounts" + suffix)
        if not isinstance(mapping, CfnMapping):
            mapping = CfnMapping(
                stack,
                "NeuronImageAccounts" + suffix,
                mapping={region: {"account": account} for region, account in data.registries.items()},
            )
        if (
            Token.is_unresolved(stack.region)
            and stack.node.try_find_child("NeuronImageRegions" + suffix) is None
        ):
            CfnRule(
                stack,
                "NeuronImageRegions" + suffix,
                assertions=[
                    CfnRuleAssertion(
                        assert_=Fn.condition_contains(list(data.registries), Aws.REGION),
                        assert_description=(
                            f"{label} is published only in {', '.join(data.registries)}. Deploy to one of "
                            "these regions, or use NeuronImage.from_ecr_repository with your own copy."
                        ),
                    )
                ],
            )
        account = mapping.find_in_map(Aws.REGION, "account")
        return f"{account}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{data.repository}:{data.tag}"


@dataclass(frozen=True)
class NeuronRuntime:
    """Neuron runtime settings of a model's container (``NEURON_RT_*`` environment variables).

    By default the Neuron runtime takes every NeuronCore of the instance for the one process. The
    cores are counted per instance (ml.inf2.xlarge: 2, ml.inf2.48xlarge: 24, ml.inf1.xlarge: 4) and
    checked against each variant's instance type at synth.

    Attributes:
        num_cores: NeuronCores the process reserves (``NEURON_RT_NUM_CORES``), 1 to the instance's
            count. Defaults to the runtime's default (0: all).
        visible_cores: the NeuronCores the process uses (``NEURON_RT_VISIBLE_CORES``): one index
            (``0``) or a contiguous ``range(first, last + 1)`` rendered as ``"first-last"``. Defaults to
            none (all). Give at most one of ``num_cores`` and ``visible_cores``.
        multi_instance_shared_weights: share one copy of the weights between the copies of a model
            loaded on several NeuronCores (``NEURON_RT_MULTI_INSTANCE_SHARED_WEIGHTS``): seed 003's fix for
            a large model that fails to load when replicated over cores. Defaults to the runtime's
            default (off).
    """

    num_cores: int | None = None
    visible_cores: int | range | None = None
    multi_instance_shared_weights: bool | None = None

    def __post_init__(self) -> None:
        problems = check_int("num_cores", self.num_cores, 1, optional=True)
        visible = self.visible_cores
        if visible is not None:
            if isinstance(visible, bool) or not isinstance(visible, (int, range)):
                problems.append(
                    f"visible_cores must be a NeuronCore index or a range of them (got {given(visible)}) — "
                    "e.g. visible_cores=0 or visible_cores=range(0, 4) for cores 0-3"
                )
            elif isinstance(visible, int) and visible < 0:
                problems.append(f"visible_cores must be >= 0 (got {visible})")
            elif isinstance(visible, range) and (visible.step != 1 or len(visible) == 0 or visible.start < 0):
                problems.append(
                    f"visible_cores must be a non-empty range of core indexes >= 0 with step 1 (got {visible!r}) — "
                    "the runtime takes one contiguous range, e.g. range(0, 4)"
                )
        if self.num_cores is not None and visible is not None:
            problems.append(
                "give num_cores or visible_cores, not both — visible_cores already fixes the count"
            )
        problems.extend(check_bool("multi_instance_shared_weights", self.multi_instance_shared_weights))
        raise_if_any("NeuronRuntime", problems)

    @property
    def cores_needed(self) -> int | None:
        """The NeuronCores the instance must have at least (None: no requirement)."""
        if isinstance(self.visible_cores, range):
            return self.visible_cores[-1] + 1
        if isinstance(self.visible_cores, int):
            return self.visible_cores + 1
        return self.num_cores

    def environment(self) -> dict[str, str]:
        """Return the ``NEURON_RT_*`` variables these settings render to."""
        env: dict[str, str] = {}
        if self.num_cores is not None:
            env[ENV_NUM_CORES] = str(self.num_cores)
        if isinstance(self.visible_cores, range):
            first, last = self.visible_cores[0], self.visible_cores[-1]
            env[ENV_VISIBLE_CORES] = str(first) if first == last else f"{first}-{last}"
        elif self.visible_cores is not None:
            env[ENV_VISIBLE_CORES] = str(self.visible_cores)
        if self.multi_instance_shared_weights is not None:
            env[ENV_MULTI_INSTANCE_SHARED_WEIGHTS] = "1" if self.multi_instance_shared_weights else "0"
        return env

    def problems(self, instance_type: InstanceType) -> list[str]:
        """Return why these settings do not fit ``instance_type``'s NeuronCores."""
        cores, needed = instance_type.neuron_cores, self.cores_needed
        if cores is None or needed is None:
            return []
        if self.num_cores is not None and needed > cores:
            return [
                f"runtime.num_cores is {needed} but {instance_type} has {cores} NeuronCores — use 1..{cores}"
            ]
        if needed > cores:
            return [
                f"runtime.visible_cores {self.environment()[ENV_VISIBLE_CORES]} is beyond {instance_type}'s "
                f"{cores} NeuronCores (0-{cores - 1})"
            ]
        return []


def _artifact_manifest(
    artifact: Any, default_model_name: Any
) -> tuple[dict[str, Any] | None, str | None, bool]:
    """Return the served model's ``neuron.json`` from the artifact (or None), its name, and whether the archive is known.

    Known: the archive's contents are read at synth (``from_asset``, ``from_build``), so a missing
    manifest means the served model is no Neuron build; data in S3 is not known.
    """
    if not isinstance(artifact, ModelArtifact):
        return None, None, False  # TritonModel names the wrong type
    served = default_model_name if isinstance(default_model_name, str) else artifact.model_name
    manifests = artifact.neuron_manifests
    if manifests is None:
        return None, served, False
    if served is None and len(manifests) == 1:
        served = next(iter(manifests))
    found = manifests.get(served) if served is not None else None
    return (None if found is None else asdict(found)), served, True


class NeuronModel(TritonModel):
    """A SageMaker model compiled for Inferentia, served by a Neuron image on ml.inf1 / ml.inf2 variants.

    A :class:`TritonModel` (so ``ProductionVariant`` and ``RealtimeEndpoint`` take it unchanged,
    with the same least-privilege role, VPC and network isolation) whose image is a
    :class:`NeuronImage` and whose container gets the ``NEURON_RT_*`` settings of ``runtime``. Each
    variant checks it against its instance type at synth: the type must be of the image's target,
    ``runtime``'s cores must exist on it, and an artifact compiled for the other target
    (its ``neuron.json``) is refused, saying what to rebuild.
    ``SAGEMAKER_TRITON_DEFAULT_MODEL_NAME`` is still set (a Triton python-backend image reads it; a
    Neuron DLC ignores it).

    Args:
        scope: the parent construct.
        id: the construct id.
        artifact: the model data (the compiled model and its serving code).
        image: the Neuron image. Defaults to ``NeuronImage.for_region()`` (the newest inf2 DLC the
            installed sagemaker SDK lists), or to the inf1 one when the manifest says inf1.
        runtime: Neuron runtime settings. Defaults to none (the runtime's defaults: all cores).
        neuron_manifest: the compile stage's ``neuron.json`` (a dict with at least ``target``).
            Defaults to the artifact's own ``<model>/neuron.json`` when its archive is known at
            synth (``ModelArtifact.from_build`` of a ``backend="neuron"`` spec, ``from_asset``:
            ``ModelArtifact.neuron_manifests``); an archive known to hold none for the served model
            is refused (not a Neuron build). For data in S3, none: the artifact's target is then not
            checked, only the image's. Given, it overrides the artifact's (for a model you compiled
            yourself; a warning says when the two disagree).
        default_model_name, environment, role, vpc, vpc_subnets, security_groups, network_isolation:
            as :class:`TritonModel`; ``environment`` must not set the ``NEURON_RT_*`` variables
            ``runtime`` controls.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        artifact: ModelArtifact,
        image: NeuronImage | None = None,
        runtime: NeuronRuntime | None = None,
        neuron_manifest: Mapping[str, Any] | None = None,
        default_model_name: str | None = None,
        environment: Mapping[str, str] | None = None,
        role: iam.IRole | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        network_isolation: bool | None = None,
    ) -> None:
        problems = Problems("NeuronModel")
        problems.extend(
            check_type("image", image, NeuronImage, "use NeuronImage.for_region() or .from_ecr_repository(...)",
                       optional=True)
        )  # fmt: skip
        problems.extend(
            check_type("runtime", runtime, NeuronRuntime, "use NeuronRuntime(num_cores=2)", optional=True)
        )
        if neuron_manifest is not None:
            target = neuron_manifest.get("target") if isinstance(neuron_manifest, Mapping) else None
            if target not in NEURON_TARGETS:
                problems.add(
                    f"neuron_manifest must be the compile stage's {NEURON_MANIFEST} with target "
                    f"{' or '.join(map(repr, NEURON_TARGETS))} (got target {given(target)}) — rebuild the artifact "
                    "with the Neuron compile stage"
                )
        if isinstance(environment, Mapping):
            for key, prop in ((ENV_NUM_CORES, "num_cores"), (ENV_VISIBLE_CORES, "visible_cores"),
                              (ENV_MULTI_INSTANCE_SHARED_WEIGHTS, "multi_instance_shared_weights")):  # fmt: skip
                if key in environment:
                    problems.add(
                        f"environment must not set {key} (use runtime=NeuronRuntime({prop}=...) instead)"
                    )
        problems.raise_if_any()
        # Only now read the artifact's own manifest (a from_build of a Neuron spec builds it here,
        # as binding the artifact would): every cheap check above has passed.
        built, served, known = _artifact_manifest(artifact, default_model_name)
        manifest: Mapping[str, Any] | None = neuron_manifest if neuron_manifest is not None else built
        if neuron_manifest is None and built is None and known and served is not None:
            problems.add(
                f"artifact ({artifact.description}) holds no {served}/{NEURON_MANIFEST}, so model {served!r} is "
                "not a Neuron build — build it with ModelSpec(backend='neuron', neuron_target=NeuronTarget("
                "target='inf2', ...)) (the compile stage writes neuron.json), serve it with a TritonModel, or pass "
                "neuron_manifest={'target': 'inf2', ...} for a model you compiled yourself"
            )
        manifest_target = manifest.get("target") if manifest is not None else None
        if isinstance(image, NeuronImage) and manifest_target in NEURON_TARGETS and image.target != manifest_target:
            said = "neuron_manifest says" if neuron_manifest is not None else f"its {NEURON_MANIFEST} says"
            problems.add(
                f"image serves {image.target} but {said} the artifact was compiled for {manifest_target} — use "
                f"NeuronImage.for_region(target={manifest_target!r}), or rebuild the artifact with target={image.target!r}"
            )
        problems.raise_if_any()
        if image is None:
            image = NeuronImage.for_region(target=manifest_target or "inf2")
        self.neuron_image: NeuronImage = image
        """The Neuron image (its ``target`` is the instance family every variant must use)."""
        self.runtime: NeuronRuntime | None = runtime
        """The Neuron runtime settings (checked against each variant's NeuronCores)."""
        self.neuron_manifest: Mapping[str, Any] | None = None if manifest is None else dict(manifest)
        """The compile stage's manifest: ``neuron_manifest``, else the artifact's ``neuron.json`` (checked
        against each variant's instance type)."""
        env = dict(runtime.environment()) if runtime is not None else {}
        if isinstance(environment, Mapping):
            env.update(environment)
        super().__init__(
            scope, id, artifact=artifact, image=image, default_model_name=default_model_name,
            environment=env if (env or environment is not None) else None, role=role, vpc=vpc,
            vpc_subnets=vpc_subnets, security_groups=security_groups, network_isolation=network_isolation,
        )  # fmt: skip
        if neuron_manifest is not None and built is not None and built.get("target") != manifest_target:
            Annotations.of(self).add_warning_v2(
                "serving-constructs:neuronManifestOverridden",
                f"neuron_manifest says target {manifest_target!r} but the artifact's {served}/{NEURON_MANIFEST} says "
                f"{built.get('target')!r}; the prop wins. Drop neuron_manifest to check the artifact's own target.",
            )

    def engine_problems(
        self, instance_type: InstanceType, sources: Mapping[str, ModelArtifact] | None = None
    ) -> list[str]:
        """Return why this model would not run on ``instance_type``: target, NeuronCores, TensorRT engines.

        Called by each ``ProductionVariant`` at synth (an unresolved instance type passes).
        """
        problems = super().engine_problems(instance_type, sources)
        if not instance_type.resolved:
            return problems
        if self.neuron_manifest is not None:
            problems += neuron_target_problems(self.neuron_manifest, instance_type=instance_type.name)
        elif instance_type.family != self.neuron_image.target:
            problems.append(
                f"the image serves {self.neuron_image.target} (Neuron runtime for "
                f"{'Inferentia2' if self.neuron_image.target == 'inf2' else 'Inferentia'}), not {instance_type} — "
                f"use an ml.{self.neuron_image.target}.* instance type, or NeuronImage.for_region(target=...) "
                "of the instance's generation with an artifact compiled for it"
            )
        if self.runtime is not None:
            problems += self.runtime.problems(instance_type)
        return problems
