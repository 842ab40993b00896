"""What was deployed against what the template asked for, field by field, emulator differences named.

The demo deploys the app into moto, which keeps state only, and not always faithfully: it answers
``EnableNetworkIsolation: false`` for a Model the template isolates, and ``DataCaptureConfig: {}``
where AWS leaves the field out (which breaks the SageMaker SDK v3's ``Endpoint.get``). A check that
only looks at what it expects passes over such things silently. This module walks every property
the template sets on ``AWS::SageMaker::Model``, ``EndpointConfig`` and ``Endpoint``, resolves the
intrinsic functions it can (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::FindInMap``
from the stack's own resources and mappings), and compares each leaf with the ``Describe*`` answer,
reporting every difference, with the reason when it is a known emulator difference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Resource type → (what the demo calls it, the Describe* call's name argument).
SAGEMAKER_TYPES: dict[str, tuple[str, str]] = {
    "AWS::SageMaker::Model": ("Model", "ModelName"),
    "AWS::SageMaker::EndpointConfig": ("EndpointConfig", "EndpointConfigName"),
    "AWS::SageMaker::Endpoint": ("Endpoint", "EndpointName"),
}

#: Properties CloudFormation takes that no Describe* call returns (deployment switches, tags).
CLOUDFORMATION_ONLY = frozenset(
    {"Tags", "RetainAllVariantProperties", "ExcludeRetainedVariantProperties", "RetainDeploymentConfig"}
)

#: (resource kind, field) → why moto 5.2.5 answers differently from AWS.
KNOWN_EMULATOR_DIFFERENCES: dict[tuple[str, str], str] = {
    ("Model", "EnableNetworkIsolation"): (
        "moto 5.2.5 keeps no EnableNetworkIsolation and always answers false; on AWS the container "
        "runs without network access"
    ),
    ("EndpointConfig", "DataCaptureConfig"): (
        "moto answers {} when no data capture is configured, where AWS leaves the field out"
    ),
    ("Endpoint", "DeploymentConfig"): (
        "moto 5.2.5 keeps no deployment config and answers none; AWS's DescribeEndpoint reports the "
        "guardrails of the last update as LastDeploymentConfig"
    ),
    ("Endpoint", "DataCaptureConfig"): (
        "moto answers {} when no data capture is configured, where AWS leaves the field out; "
        "the SageMaker SDK v3 cannot read it (see below)"
    ),
}

#: Fields moto adds although neither the template nor AWS has them (checked when absent from the template).
EMULATOR_EXTRA_FIELDS = ("DataCaptureConfig",)

#: Fields the local data plane routes and serves by: a difference there would make the rehearsal lie.
CRITICAL_FIELDS = frozenset(
    {
        "PrimaryContainer.Image",
        "PrimaryContainer.ModelDataUrl",
        "PrimaryContainer.Mode",
        "EndpointConfigName",
    }
)
_CRITICAL_PREFIXES = ("PrimaryContainer.Environment.", "ProductionVariants[")

# List items are matched by these keys, so a reordering is not a difference.
_ITEM_KEYS = ("VariantName", "ContainerHostname", "Key")
_ABSENT = object()


class Unresolved:
    """An intrinsic function the resolver cannot evaluate (its value exists only on AWS)."""

    def __init__(self, expression: Any) -> None:
        self.expression = expression

    def __repr__(self) -> str:
        return f"<{json.dumps(self.expression)[:60]}>"


@dataclass(frozen=True)
class FieldDifference:
    """One field where the emulator's answer differs from the template.

    Attributes:
        kind: ``Model``, ``EndpointConfig`` or ``Endpoint``.
        name: The resource's physical name.
        path: The field (``PrimaryContainer.Environment.X``, ``ProductionVariants[AllTraffic].InstanceType``).
        template: What the template asked for (``None``: not in the template).
        emulator: What the emulator answers (``None``: absent).
        known: Why, when it is a known emulator difference; empty otherwise.
        critical: Whether the data plane depends on the field.
    """

    kind: str
    name: str
    path: str
    template: Any
    emulator: Any
    known: str = ""
    critical: bool = False

    def __str__(self) -> str:
        template = "(not set)" if self.template is None else json.dumps(self.template)
        emulator = "(absent)" if self.emulator is None else json.dumps(self.emulator, default=str)
        why = f"known emulator difference: {self.known}" if self.known else "UNEXPECTED"
        return f"{self.path}: template {template}, emulator {emulator} ({why})"


@dataclass
class ResourceComparison:
    """The field-by-field comparison of one resource.

    Attributes:
        kind: ``Model``, ``EndpointConfig`` or ``Endpoint``.
        logical_id: The template's logical id.
        name: The physical name.
        equal: Fields equal in both.
        unresolved: Fields set by an intrinsic only AWS can evaluate (not compared).
        cloudformation_only: Fields no Describe* call returns.
        differences: Every difference.
    """

    kind: str
    logical_id: str
    name: str
    equal: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    cloudformation_only: list[str] = field(default_factory=list)
    differences: list[FieldDifference] = field(default_factory=list)

    def summary(self) -> str:
        """One line: how many fields matched, and what was not compared."""
        parts = [f"{len(self.equal)} field{'s' if len(self.equal) != 1 else ''} equal"]
        if self.unresolved:
            parts.append(f"not compared (AWS-only values): {', '.join(self.unresolved)}")
        if self.cloudformation_only:
            parts.append(f"CloudFormation-only: {', '.join(self.cloudformation_only)}")
        parts.append(f"{len(self.differences)} difference{'s' if len(self.differences) != 1 else ''}")
        return f"{self.kind} {self.name}: " + "; ".join(parts)


class TemplateResolver:
    """Evaluates the intrinsic functions of one deployed stack's template.

    Args:
        template: The template (as synthesized).
        physical_ids: Logical id → physical id (``ListStackResources``).
        region: The stack's region.
        account: The stack's account.
        attribute: ``(logical id, attribute name, physical id) -> value`` for ``Fn::GetAtt`` of
            attributes other than a resource's name (e.g. a role's ``Arn``); returns an
            :class:`Unresolved` when it cannot tell.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        physical_ids: Mapping[str, str],
        *,
        region: str,
        account: str,
        attribute: Callable[[str, str, str], Any] | None = None,
    ) -> None:
        self.template = template
        self.physical_ids = physical_ids
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "",
        }
        self._attribute = attribute

    def resolve(self, value: Any) -> Any:
        """Return ``value`` with every intrinsic evaluated (or :class:`Unresolved` where impossible)."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self._intrinsic(key, arg, value)
        return {k: self.resolve(v) for k, v in value.items()}

    def _intrinsic(self, key: str, arg: Any, whole: Any) -> Any:
        if key == "Ref":
            if arg in self.pseudo:
                return self.pseudo[arg]
            if arg in self.physical_ids:
                return self.physical_ids[arg]
            return Unresolved(whole)
        if key == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            physical = self.physical_ids.get(logical)
            if physical is None:
                return Unresolved(whole)
            if attribute.endswith("Name"):
                # SageMaker's physical ids are ARNs (…:model/<name>); the *Name attributes are the name.
                return physical.rsplit("/", 1)[-1]
            return self._attribute(logical, attribute, physical) if self._attribute else Unresolved(whole)
        if key == "Fn::Join":
            separator, items = arg
            parts = [self.resolve(i) for i in items]
            if any(isinstance(p, Unresolved) for p in parts):
                return Unresolved(whole)
            return str(separator).join(str(p) for p in parts)
        if key == "Fn::FindInMap":
            name, first, second = (self.resolve(a) for a in arg)
            try:
                return self.template["Mappings"][name][first][second]
            except (KeyError, TypeError):
                return Unresolved(whole)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            values = {k: self.resolve(v) for k, v in variables.items()}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in values:
                    got = values[name]
                elif "." in name:
                    got = self._intrinsic("Fn::GetAtt", name.split(".", 1), whole)
                else:
                    got = self._intrinsic("Ref", name, whole)
                if isinstance(got, Unresolved):
                    raise LookupError(name)
                return str(got)

            try:
                return re.sub(r"\$\{([^}!][^}]*)\}", substitute, text)
            except LookupError:
                return Unresolved(whole)
        return Unresolved(whole)


def compare_resource(
    kind: str, logical_id: str, name: str, declared: Mapping[str, Any], described: Mapping[str, Any], resolver: TemplateResolver
) -> ResourceComparison:
    """Compare every property the template sets with the ``Describe*`` answer.

    Args:
        kind: ``Model``, ``EndpointConfig`` or ``Endpoint``.
        logical_id: The template's logical id.
        name: The physical name.
        declared: The resource's ``Properties`` in the template.
        described: What ``Describe<kind>`` answered.
        resolver: Evaluates the template's intrinsic functions.
    """
    result = ResourceComparison(kind, logical_id, name)
    name_key = SAGEMAKER_TYPES[f"AWS::SageMaker::{kind}"][1]
    for key, value in declared.items():
        if key in CLOUDFORMATION_ONLY:
            result.cloudformation_only.append(key)
            continue
        if key == name_key:
            continue  # the name it was described by
        _walk(result, key, resolver.resolve(value), described.get(key, _ABSENT))
    for key in EMULATOR_EXTRA_FIELDS:
        if key not in declared and key in described and described[key] in ({}, []):
            result.differences.append(_difference(result, key, None, described[key]))
    return result


def _walk(result: ResourceComparison, path: str, want: Any, got: Any) -> None:
    if isinstance(want, Unresolved):
        result.unresolved.append(path)
    elif isinstance(want, dict):
        if not isinstance(got, dict):
            result.differences.append(_difference(result, path, want, None if got is _ABSENT else got))
            return
        for key, value in want.items():
            _walk(result, f"{path}.{key}", value, got.get(key, _ABSENT))
    elif isinstance(want, list) and want and all(isinstance(w, dict) for w in want):
        got_list = got if isinstance(got, list) else []
        item_key = next((k for k in _ITEM_KEYS if all(k in w for w in want)), None)
        for index, item in enumerate(want):
            if item_key is not None:
                label = str(item[item_key])
                match = next((g for g in got_list if isinstance(g, dict) and g.get(item_key) == item[item_key]), _ABSENT)
            else:
                label = str(index)
                match = got_list[index] if index < len(got_list) else _ABSENT
            _walk(result, f"{path}[{label}]", item, match)
    elif got is _ABSENT:
        result.differences.append(_difference(result, path, want, None))
    elif _same(want, got):
        result.equal.append(path)
    else:
        result.differences.append(_difference(result, path, want, got))


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got or (str(want).lower() == str(got).lower())
    if isinstance(want, int | float) and isinstance(got, int | float):
        return float(want) == float(got)
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(_same(w, g) for w, g in zip(want, got, strict=True))
    return bool(want == got)


def _difference(result: ResourceComparison, path: str, want: Any, got: Any) -> FieldDifference:
    top = path.split(".", 1)[0].split("[", 1)[0]
    return FieldDifference(
        kind=result.kind,
        name=result.name,
        path=path,
        template=want,
        emulator=got,
        known=KNOWN_EMULATOR_DIFFERENCES.get((result.kind, top), ""),
        critical=path in CRITICAL_FIELDS or path.startswith(_CRITICAL_PREFIXES),
    )


def sdk_v3_endpoint_get(endpoint_name: str, *, endpoint_url: str, region: str) -> str | None:
    """Read an endpoint with the SageMaker SDK v3 (``sagemaker.core.resources.Endpoint.get``).

    Args:
        endpoint_name: The endpoint.
        endpoint_url: The control plane (the emulator).
        region: Its region.

    Returns:
        None when the SDK read it, else the error it raised (its first lines).
    """
    import os

    import boto3
    from sagemaker.core.resources import Endpoint

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    # sagemaker-core builds its own botocore clients; the service-specific variable aims them here.
    variable = "AWS_ENDPOINT_URL_SAGEMAKER"
    previous = os.environ.get(variable)
    os.environ[variable] = endpoint_url
    try:
        Endpoint.get(endpoint_name, session=session, region=region)
    except Exception as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return f"{type(exc).__name__}: " + " | ".join(lines[:5])
    finally:
        if previous is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = previous
    return None
