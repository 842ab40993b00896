"""The container image a Triton model runs in."""

from __future__ import annotations

import abc
import functools
from typing import Any

from aws_cdk import Aws, CfnMapping, Stack, Token
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam

from constructs import Construct
from serving_constructs import defaults

_FRAMEWORK = "sagemaker-tritonserver"


@functools.cache
def _triton_config() -> dict[str, Any]:
    """Return the sagemaker SDK's image data for the Triton DLC.

    Loaded through ``sagemaker.core.image_uris.config_for_framework``, the SDK's public loader for
    its bundled ``image_uri_config/*.json``, so the data is the one the SDK itself resolves with
    (no copy of the JSON here to go stale). Imported lazily: the SDK import costs ~2 s.
    """
    from sagemaker.core import image_uris

    config: dict[str, Any] = image_uris.config_for_framework(_FRAMEWORK)
    return config


def triton_versions() -> list[str]:
    """Return the Triton DLC releases the installed sagemaker SDK lists, oldest first."""
    from sagemaker.core import image_uris

    versions: list[str] = image_uris.list_versions(_FRAMEWORK)
    return versions


def triton_registries(version: str) -> dict[str, str]:
    """Return region -> ECR registry account of the Triton DLC ``version``.

    Raises:
        ValueError: the SDK data does not list ``version``; the message lists the versions it does.
    """
    versions = _triton_config()["versions"]
    if version not in versions:
        raise ValueError(
            f"Unknown SageMaker Triton DLC version {version!r}: the installed sagemaker SDK lists "
            f"{', '.join(triton_versions())}. Pass one of them, or use TritonImage.from_uri(...)."
        )
    return dict(sorted(versions[version]["registries"].items()))


class TritonImage(abc.ABC):
    """The Triton Inference Server container image of a model.

    Use :meth:`for_region` for the SageMaker Triton DLC (resolved per region at deploy time),
    :meth:`from_ecr_repository` for your own image in ECR, or :meth:`from_uri` for any other URI.
    """

    @staticmethod
    def for_region(version: str | None = None) -> TritonImage:
        """Return the SageMaker Triton DLC image of ``version`` for the stack's region.

        The region -> registry account table comes from the installed sagemaker SDK and is written
        into the template as a ``CfnMapping``, looked up with ``Fn::FindInMap`` on ``AWS::Region``;
        the DNS suffix is ``AWS::URLSuffix``, so the same template deploys in every region (and
        partition) the SDK lists. AWS-owned DLC images need no ECR grant on the execution role.

        Args:
            version: Triton DLC release, e.g. ``"25.09"``. Defaults to
                :func:`serving_constructs.defaults.triton_version` (26.05).

        Raises:
            ValueError: the SDK data does not list ``version`` (the message lists the versions).
        """
        version = defaults.triton_version() if version is None else version
        triton_registries(version)  # fail now, at the call site, on an unknown version
        return _DlcImage(version)

    @staticmethod
    def from_ecr_repository(repository: ecr.IRepository, tag: str = "latest") -> TritonImage:
        """Return an image in your own ECR repository; binding grants the model role pull access.

        Args:
            repository: the repository holding the image.
            tag: the image tag. Defaults to ``"latest"`` (pin a tag or digest for reproducible deploys).
        """
        return _EcrImage(repository, tag)

    @staticmethod
    def from_uri(uri: str) -> TritonImage:
        """Return the image at ``uri`` as is; granting pull access is left to you.

        Args:
            uri: a full image URI (``<registry>/<repository>:<tag>``).
        """
        return _UriImage(uri)

    @abc.abstractmethod
    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        """Return the image URI for a model in ``scope``, granting ``grantee`` pull access if needed."""


class _DlcImage(TritonImage):
    def __init__(self, version: str) -> None:
        self.version = version

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        stack = Stack.of(scope)
        registries = triton_registries(self.version)
        if not Token.is_unresolved(stack.region) and stack.region not in registries:
            raise ValueError(
                f"The SageMaker Triton DLC {self.version} is not published in {stack.region}; "
                f"the sagemaker SDK lists it in {', '.join(registries)}"
            )
        repository = _triton_config()["versions"][self.version]["repository"]
        tag = _triton_config()["versions"][self.version]["tag_prefix"]
        # One mapping per version per stack, found again by its deterministic id.
        mapping_id = "TritonImageAccounts" + "".join(ch for ch in self.version if ch.isalnum())
        mapping = stack.node.try_find_child(mapping_id)
        if not isinstance(mapping, CfnMapping):
            mapping = CfnMapping(
                stack,
                mapping_id,
                mapping={region: {"account": account} for region, account in registries.items()},
            )
        account = mapping.find_in_map(Aws.REGION, "account")
        return f"{account}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{repository}:{tag}"


class _EcrImage(TritonImage):
    def __init__(self, repository: ecr.IRepository, tag: str) -> None:
        self.repository = repository
        self.tag = tag

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        self.repository.grant_pull(grantee)
        return self.repository.repository_uri_for_tag(self.tag)


class _UriImage(TritonImage):
    def __init__(self, uri: str) -> None:
        self.uri = uri

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        return self.uri
