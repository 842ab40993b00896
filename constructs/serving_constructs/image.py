"""The container image a Triton model runs in."""

from __future__ import annotations

import abc
import functools
from typing import Any

from aws_cdk import Aws, CfnMapping, CfnRule, CfnRuleAssertion, Fn, Stack, Token
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam

from constructs import Construct
from model_build.user_errors import did_you_mean
from serving_constructs import defaults
from serving_constructs._image_sources import EcrSource, UriSource, check_ecr_source, check_uri_source
from serving_constructs._validation import PropsError, check_str, raise_if_any

_FRAMEWORK = "sagemaker-tritonserver"


@functools.cache
def _triton_config() -> dict[str, Any]:
    """Return the sagemaker SDK's image data for the Triton DLC.

    Loaded through ``sagemaker.core.image_uris.config_for_framework``, the SDK's public loader for
    its bundled ``image_uri_config/*.json``, so the data is the one the SDK itself resolves with
    (no copy of the JSON here to go stale). Imported lazily: the SDK import takes seconds
    (docs/constructs.md, "Image", has the figures and the command).
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
        PropsError: the SDK data does not list ``version``; the message lists the versions it does.
    """
    versions = _triton_config()["versions"]
    if version not in versions:
        raise PropsError(
            f"Unknown SageMaker Triton DLC version {version!r}{did_you_mean(version, list(versions))}: the "
            f"installed sagemaker SDK lists {', '.join(triton_versions())}. Pass one of them, or use "
            "TritonImage.from_uri(...)."
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
        into the template as a ``CfnMapping``, looked up with ``Fn::FindInMap`` on ``AWS::Region``
        (the DNS suffix is ``AWS::URLSuffix``).

        Supported regions are exactly those the SDK lists for ``version``. For the default 26.05
        (and 25.09) that is 34 commercial regions and **no China or GovCloud region**; 23.12-25.04
        also list cn-north-1 and cn-northwest-1; no release lists a GovCloud region. A stack pinned
        to an unlisted region fails at synth; an environment-agnostic stack gets a template
        ``Rules`` assertion on ``AWS::Region``, so CloudFormation refuses a deploy in an unlisted
        region before creating anything, with a message naming the supported ones. Elsewhere, copy
        the image into your own ECR repository and use :meth:`from_ecr_repository`.

        AWS-owned DLC images need no ECR grant on the execution role.

        Args:
            version: Triton DLC release, e.g. ``"25.09"``. Defaults to
                :func:`serving_constructs.defaults.triton_version` (26.05).

        Raises:
            PropsError: ``version`` is not a str, or the SDK data does not list it (the message
                lists the versions).
        """
        problems = check_str("version", version, optional=True, example=" such as '26.05'")
        raise_if_any("TritonImage.for_region", problems)
        version = defaults.triton_version() if version is None else version
        triton_registries(version)  # fail now, at the call site, on an unknown version
        return _DlcImage(version)

    @staticmethod
    def from_ecr_repository(repository: ecr.IRepository, tag: str = "latest") -> TritonImage:
        """Return an image in your own ECR repository; binding grants the model role pull access.

        Args:
            repository: the repository holding the image.
            tag: the image tag. Defaults to ``"latest"`` (pin a tag or digest for reproducible deploys).

        Raises:
            PropsError: a prop has the wrong type.
        """
        check_ecr_source("TritonImage.from_ecr_repository", repository, tag, example_name="my-triton")
        return _EcrImage(repository, tag)

    @staticmethod
    def from_uri(uri: str) -> TritonImage:
        """Return the image at ``uri`` as is; granting pull access is left to you.

        Args:
            uri: a full image URI (``<registry>/<repository>:<tag>``).

        Raises:
            PropsError: ``uri`` is not a str.
        """
        check_uri_source("TritonImage.from_uri", uri, example_name="triton")
        return _UriImage(uri)

    @property
    def triton_version(self) -> str | None:
        """The SageMaker Triton DLC release the image renders (``"26.05"``); None for your own image.

        TensorRT engines are checked against the TensorRT version of this release; an image from
        :meth:`from_ecr_repository` or :meth:`from_uri` has no known release.
        """
        return None

    @abc.abstractmethod
    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        """Return the image URI for a model in ``scope``, granting ``grantee`` pull access if needed."""


class _DlcImage(TritonImage):
    def __init__(self, version: str) -> None:
        self.version = version

    @property
    def triton_version(self) -> str | None:
        return self.version

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        stack = Stack.of(scope)
        registries = triton_registries(self.version)
        if not Token.is_unresolved(stack.region) and stack.region not in registries:
            raise PropsError(
                f"The SageMaker Triton DLC {self.version} is not published in {stack.region}; "
                f"the sagemaker SDK lists it in {', '.join(registries)} — deploy to one of them, pick "
                "a release published there (TritonImage.for_region(version)), or copy the image into "
                "your own ECR repository (TritonImage.from_ecr_repository)"
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
        if Token.is_unresolved(stack.region):
            _require_listed_region(stack, self.version, list(registries))
        return f"{account}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{repository}:{tag}"


def _require_listed_region(stack: Stack, version: str, regions: list[str]) -> None:
    """Add (once per version) a template rule refusing a deploy in a region the DLC is not in.

    Without it, an environment-agnostic template deployed in, say, cn-north-1 or us-gov-west-1
    fails on ``Fn::FindInMap`` with "Unable to get mapping for TritonImageAccounts..."; the rule
    is checked first and says what to do instead.
    """
    rule_id = "TritonImageRegions" + "".join(ch for ch in version if ch.isalnum())
    if stack.node.try_find_child(rule_id) is not None:
        return
    CfnRule(
        stack,
        rule_id,
        assertions=[
            CfnRuleAssertion(
                assert_=Fn.condition_contains(regions, Aws.REGION),
                assert_description=(
                    f"The SageMaker Triton DLC {version} is published only in {', '.join(regions)}. "
                    "Deploy to one of these regions, or use TritonImage.from_ecr_repository with your "
                    "own copy of the image."
                ),
            )
        ],
    )


class _EcrImage(EcrSource, TritonImage):
    pass


class _UriImage(UriSource, TritonImage):
    pass
