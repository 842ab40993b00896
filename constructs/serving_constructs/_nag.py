"""Acknowledging cdk-nag findings, always with a written reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Token, Validations

from constructs import IConstruct


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (``RuleId[Finding]``) on ``scope`` and its children.

    cdk-nag v3 uses CDK's own ``Validations`` acknowledgements; each finding (e.g. one wildcard
    resource) is acknowledged on its own, so a new wildcard still fails synthesis.
    """
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def arn_finding_prefix(scope: IConstruct, service: str) -> str:
    """Return how cdk-nag writes ``arn:<partition>:<service>:<region>:<account>:`` for ``scope``'s stack.

    cdk-nag names a wildcard finding after the resolved resource: pseudo parameters appear as
    ``<AWS::Region>`` and the like, but an environment-specific stack has literal values.
    """
    stack = Stack.of(scope)

    def text(value: str, pseudo: str) -> str:
        return f"<AWS::{pseudo}>" if Token.is_unresolved(value) else value

    return (
        f"arn:{text(stack.partition, 'Partition')}:{service}:{text(stack.region, 'Region')}:"
        f"{text(stack.account, 'AccountId')}:"
    )
