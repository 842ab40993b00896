"""Release a production variant's scalable target when SageMaker would refuse the endpoint change otherwise.

The Lambda handler of ``serving_constructs.scaling.ScalingRelease`` (aws-cdk #29626). SageMaker
refuses an ``UpdateEndpoint`` that changes the instance type of, or removes, a variant that is a
registered Application Auto Scaling target; AWS's advice is to deregister the target first and
register it again after the update
(https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html). CloudFormation
has no resource for "deregister first", so this custom resource does it.

CloudFormation sends ``Create``/``Update``/``Delete`` with the resource properties:

- ``Phase``: ``"BeforeUpdate"`` (the endpoint ``DependsOn`` this resource, so its Update runs
  before the endpoint's) or ``"OnDelete"`` (this resource ``DependsOn`` the endpoint, so its Delete
  runs before the endpoint's).
- ``EndpointLogicalId``: the ``AWS::SageMaker::Endpoint``'s logical id. The physical id (the
  endpoint ARN) is read with ``cloudformation:DescribeStackResource``; the resource cannot
  reference the endpoint (the ``DependsOn`` above would be a cycle).
- ``Variants``: ``{variant name: instance type}`` of every autoscaled variant.

What each event does:

- BeforeUpdate, Update: deregisters the target of every variant whose instance type changed or
  that is gone from ``Variants`` (compared with ``OldResourceProperties``). A variant whose type is
  unchanged is left alone: SageMaker allows every other change (a new model, weights) with a
  registered target. Application Auto Scaling deletes the target's policies (and the alarms of
  target tracking) with it; the stack then creates the new target and policies (see
  ``scaling.py``).
- OnDelete, Delete (the endpoint or its autoscaling leaves the app, or the stack is deleted):
  deregisters every variant in ``Variants``, so the endpoint's delete is not refused and no
  target outlives its endpoint.
- Every other event does nothing.

A target that is not registered (never was, or deregistered already) is not an error, and neither
is an endpoint the stack does not hold yet. Targets are matched by resource id without regard to
case: the endpoint ARN carries the name lowercased, the target's resource id the name as created
(SageMaker endpoint names are unique without regard to case). Standard library and boto3 only.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from _cfn_response import respond  # handlers/_cfn_response.py, at the asset's root

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

NAMESPACE = "sagemaker"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
PHASES = ("BeforeUpdate", "OnDelete")


def handler(event: dict[str, Any], context: Any) -> None:
    """Handle one CloudFormation custom resource event; always answer ``ResponseURL``."""
    LOGGER.info(
        "%s %s %s",
        event.get("RequestType"),
        event.get("LogicalResourceId"),
        json.dumps({k: v for k, v in event.get("ResourceProperties", {}).items() if k != "ServiceToken"}),
    )
    # A stable id: an Update never replaces this resource, so CloudFormation sends no extra Delete.
    physical_id = (
        event.get("PhysicalResourceId") or f"{event.get('LogicalResourceId', 'ScalingRelease')}-release"
    )
    try:
        released = _handle(event)
        status, reason = "SUCCESS", "OK"
        data = {"Released": ",".join(released)}
    except Exception as error:  # every failure must reach CloudFormation as FAILED with its reason
        LOGGER.exception("failed")
        status, reason, data = "FAILED", f"{type(error).__name__}: {error}", {}
    respond(event, status, reason, physical_id, data)


def variants_to_release(request: str, phase: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Return the variants whose scalable targets this event must deregister, sorted.

    Args:
        request: ``Create``, ``Update`` or ``Delete``.
        phase: ``BeforeUpdate`` or ``OnDelete``.
        old: ``{variant: instance type}`` before the event (``OldResourceProperties``), {} for none.
        new: ``{variant: instance type}`` after it (``ResourceProperties``).
    """
    if phase == "BeforeUpdate" and request == "Update":
        return sorted(name for name, instance_type in old.items() if new.get(name) != instance_type)
    if phase == "OnDelete" and request == "Delete":
        return sorted(new)
    return []


def _variants(properties: dict[str, Any], what: str) -> dict[str, str]:
    variants = properties.get("Variants", {})
    if not isinstance(variants, dict) or not all(isinstance(v, str) for v in variants.values()):
        raise ValueError(f"{what} Variants must map variant names to instance types (got {variants!r})")
    return {str(name): str(instance_type) for name, instance_type in variants.items()}


def _handle(event: dict[str, Any]) -> list[str]:
    request = event["RequestType"]
    if request not in ("Create", "Update", "Delete"):
        raise ValueError(f"unknown RequestType {request!r} (expected Create, Update or Delete)")
    properties = event.get("ResourceProperties", {})
    phase = properties.get("Phase")
    if phase not in PHASES:
        raise ValueError(f"the property Phase must be one of {', '.join(PHASES)} (got {phase!r})")
    old = (
        _variants(event.get("OldResourceProperties") or {}, "OldResourceProperties")
        if request == "Update"
        else {}
    )
    names = variants_to_release(request, phase, old, _variants(properties, "ResourceProperties"))
    if not names:
        LOGGER.info("nothing to release")
        return []
    endpoint_name = _endpoint_name(event["StackId"], str(properties.get("EndpointLogicalId", "")))
    if endpoint_name is None:
        return []
    return _deregister(endpoint_name, names)


def _client(service: str) -> Any:
    # Imported here: a Create (nothing to do) answers without loading boto3. AWS_ENDPOINT_URL,
    # when set (a local emulator), is honoured by boto3 itself.
    import boto3
    import botocore.config

    return boto3.client(
        service, config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 5})
    )


def _endpoint_name(stack_id: str, logical_id: str) -> str | None:
    """Return the endpoint's name from its physical id (an ARN, or a name), or None when the stack has none."""
    import botocore.exceptions

    if not logical_id:
        raise ValueError("the property EndpointLogicalId is missing")
    try:
        found = _client("cloudformation").describe_stack_resource(
            StackName=stack_id, LogicalResourceId=logical_id
        )
    except botocore.exceptions.ClientError as error:
        if "does not exist" in str(error):
            LOGGER.info("the stack holds no endpoint %s: nothing to release", logical_id)
            return None
        raise
    physical_id = str(found["StackResourceDetail"].get("PhysicalResourceId") or "")
    if not physical_id:
        LOGGER.info("the endpoint %s has no physical id yet: nothing to release", logical_id)
        return None
    # arn:<partition>:sagemaker:<region>:<account>:endpoint/<name>
    return physical_id.rsplit(":endpoint/", 1)[-1]


def _deregister(endpoint_name: str, variant_names: list[str]) -> list[str]:
    client = _client("application-autoscaling")
    wanted = {f"endpoint/{endpoint_name}/variant/{name}".lower(): name for name in variant_names}
    registered: dict[str, str] = {}
    for page in client.get_paginator("describe_scalable_targets").paginate(
        ServiceNamespace=NAMESPACE, ScalableDimension=SCALABLE_DIMENSION
    ):
        for target in page.get("ScalableTargets", []):
            resource_id = str(target["ResourceId"])
            if resource_id.lower() in wanted:
                registered[wanted[resource_id.lower()]] = resource_id
    released = []
    for name in variant_names:
        found = registered.get(name)
        if found is None:
            LOGGER.info("variant %s of %s has no registered scalable target", name, endpoint_name)
            continue
        try:
            client.deregister_scalable_target(
                ServiceNamespace=NAMESPACE, ResourceId=found, ScalableDimension=SCALABLE_DIMENSION
            )
        except client.exceptions.ObjectNotFoundException:
            LOGGER.info("%s was deregistered meanwhile", found)
            continue
        LOGGER.info("deregistered %s", found)
        released.append(name)
    return released
