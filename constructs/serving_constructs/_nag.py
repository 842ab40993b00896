"""Acknowledging cdk-nag findings, always with a written reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations

from constructs import IConstruct


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (``RuleId[Finding]``) on ``scope`` and its children.

    cdk-nag v3 uses CDK's own ``Validations`` acknowledgements; each finding (e.g. one wildcard
    resource) is acknowledged on its own, so a new wildcard still fails synthesis.
    """
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))
