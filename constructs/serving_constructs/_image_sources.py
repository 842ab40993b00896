"""Where an image the construct did not build comes from: your ECR repository, or a URI as is.

One implementation for :class:`~serving_constructs.TritonImage` and
:class:`~serving_constructs.ContainerImage` (each mixes these into its own private classes, so
a Triton image and your own server keep their own types), and one check of their props.
"""

from __future__ import annotations

from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam

from constructs import Construct
from serving_constructs._validation import check_interface, check_str, raise_if_any


class EcrSource:
    """An image in your own ECR repository; binding grants the model role pull access."""

    def __init__(self, repository: ecr.IRepository, tag: str) -> None:
        self.repository = repository
        self.tag = tag

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        self.repository.grant_pull(grantee)
        return self.repository.repository_uri_for_tag(self.tag)


class UriSource:
    """An image at a URI, used as is; granting pull access is left to the user."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        return self.uri


def check_ecr_source(where: str, repository: ecr.IRepository, tag: str, *, example_name: str) -> None:
    """Raise PropsError naming ``where`` when ``repository`` is not an ECR repository or ``tag`` not a str."""
    problems = check_interface(
        "repository", repository, "ecr.IRepository", "repository_uri_for_tag",
        f"use ecr.Repository.from_repository_name(self, 'Image', '{example_name}')",
    ) + check_str("tag", tag)  # fmt: skip
    raise_if_any(where, problems)


def check_uri_source(where: str, uri: str, *, example_name: str) -> None:
    """Raise PropsError naming ``where`` when ``uri`` is not a str."""
    problems = check_str("uri", uri, example=f" such as '123456789012.dkr.ecr.eu-west-1.amazonaws.com/{example_name}:1'")
    raise_if_any(where, problems)
