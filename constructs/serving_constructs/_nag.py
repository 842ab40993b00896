"""Acknowledging cdk-nag findings, always with a written reason."""

from __future__ import annotations

import json
from typing import Any

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


def flattened(scope: IConstruct, value: str) -> str:
    """Return a resource (an ARN, maybe with tokens) as cdk-nag names it in a finding.

    A port of cdk-nag 3's ``flattenCfnReference``: ``Ref`` becomes ``<Name>``, ``Fn::GetAtt``
    becomes ``<Resource.Attribute>``, ``Fn::Join`` is joined and ``${X}`` in ``Fn::Sub`` becomes
    ``<X>``. Used for findings whose resource depends on the user's bucket (imported or created).
    """

    def visit(node: Any) -> str:
        if node is None:
            return ""
        if isinstance(node, str):
            return node.replace("${", "<").replace("}", ">")
        if isinstance(node, dict):
            if "Fn::Join" in node:
                delimiter, items = node["Fn::Join"]
                return str(delimiter).join(visit(item) for item in items)
            if "Fn::Sub" in node:
                return visit(node["Fn::Sub"])
            if "Fn::GetAtt" in node:
                resource, attribute = node["Fn::GetAtt"]
                return f"<{visit(resource)}.{visit(attribute)}>"
            if "Fn::ImportValue" in node:
                return visit(node["Fn::ImportValue"])
            if "Ref" in node:
                return f"<{visit(node['Ref'])}>"
        return json.dumps(node, separators=(",", ":"))

    return visit(Stack.of(scope).resolve(value))
