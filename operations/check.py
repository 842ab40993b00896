"""The post-deploy check: the endpoints a stack deployed run the config it deployed, and answer.

``python -m operations check --stack NAME`` runs after ``cdk deploy`` (a pipeline step, or a
person). For every ``AWS::SageMaker::Endpoint`` in each stack it

1. reads the **deployed** template (``GetTemplate``) and the stack's resources, and works out the
   physical name of the ``AWS::SageMaker::EndpointConfig`` the endpoint was given;
2. compares it with ``DescribeEndpoint.EndpointConfigName``. After a deployment guardrail rolls an
   update back, SageMaker leaves the endpoint ``InService`` on the **old** config, and
   ``FailureReason`` may be empty (SERVICE-FACTS §4: Terraform records such an update as a success),
   so the status alone proves nothing;
3. checks the status is ``InService``;
4. invokes it: once per production variant (``TargetVariant``), once per ``TargetModel`` for a
   multi-model endpoint (every ``*.tar.gz`` under the model's S3 prefix), and through the queue for
   an asynchronous one (an input uploaded to S3, ``InvokeEndpointAsync``, then the output or the
   failure object, waited for up to ``--timeout`` seconds).

The request is built from the model itself: the Triton ``config.pbtxt`` inside the archive the
Model points at (input names, data types, dims; a dynamic dim becomes 1), sent as a KServe v2 JSON
request of zeros, which SageMaker's Triton front end accepts on ``/invocations``. ``--payload FILE``
sends a file of your own instead (with ``--content-type``).

Why the JSON request is written here and not with ``triton_runtime.kserve.encode``: ``operations``
may import only ``model_build`` (ARCHITECTURE.md), the codec takes numpy arrays and adds the binary
protocol, and a request of zeros is ten lines of JSON.

AWS endpoints come from boto3's normal configuration (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``, profiles), so the rehearsal points the same command at moto
and at the local data plane.

Exit status: 0 when every check passed; 1 with one line per failure; 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tarfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_build.aws import parse_s3_uri
from model_build.user_errors import FlagProblems, UsageErrorParser, UserError, did_you_mean, run_cli

PROG = "python -m operations check"
DEFAULT_TIMEOUT_S = 300.0
"""How long one invocation (the async answer included) may take before it counts as failed."""
MAX_TIMEOUT_S = 3600.0
DEFAULT_MODEL_ENV = "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"
"""The container variable that names the model a single-model Triton endpoint serves."""
ASYNC_INPUT_PREFIX = "async-inference/input"
"""Where inputs go when the stack has no ``InputPath`` output: the constructs' default input prefix
(``serving_constructs.defaults.async_input_prefix``), in the bucket of ``S3OutputPath``."""
_COMMON_ACTIONS = (
    "sagemaker:DescribeEndpoint",
    "sagemaker:DescribeEndpointConfig",
    "sagemaker:DescribeModel",
    "s3:GetObject",
)
ENDPOINT_ACTIONS: Mapping[str, frozenset[str]] = {
    "realtime": frozenset({*_COMMON_ACTIONS, "sagemaker:InvokeEndpoint"}),
    "multi-model": frozenset({*_COMMON_ACTIONS, "sagemaker:InvokeEndpoint", "s3:ListBucket"}),
    "async": frozenset(
        {*_COMMON_ACTIONS, "sagemaker:InvokeEndpointAsync", "s3:PutObject", "s3:DeleteObject"}
    ),
}
"""The IAM actions the check of one endpoint calls, by endpoint kind (``--endpoint`` mode; ``--stack``
adds CloudFormation's). ``s3:GetObject`` reads the model archive (and the async answer).
``serving_constructs.EndpointBase.grant_smoke_test`` grants exactly these; the tests hold both to it."""
_STACK_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}")
_IN_FLIGHT = ("_IN_PROGRESS",)
_GONE = {"DELETE_COMPLETE"}


@dataclass
class CheckReport:
    """What the check found, in plain words.

    Attributes:
        lines: One line per stack problem, endpoint, variant and target model, in order; a line
            starts with ``ok`` or ``FAIL``.
    """

    lines: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        """The failed lines."""
        return [line for line in self.lines if line.startswith("FAIL")]

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return not self.failures

    def passed(self, text: str) -> None:
        """Record a check that passed."""
        self.lines.append(f"ok    {text}")

    def failed(self, text: str) -> None:
        """Record a check that failed."""
        self.lines.append(f"FAIL  {text}")

    def extend(self, other: CheckReport) -> None:
        """Append another report's lines."""
        self.lines.extend(other.lines)


@dataclass(frozen=True)
class _Request:
    body: bytes
    content_type: str


class _RequestError(Exception):
    """A request could not be built for a model (the message says why and suggests ``--payload``)."""


def check_stack(
    stack_name: str,
    *,
    session: Any = None,
    runtime_endpoint_url: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    endpoint_url: str | None = None,
    payload: bytes | None = None,
    content_type: str = "application/json",
) -> CheckReport:
    """Check every SageMaker endpoint of one deployed stack (see the module docstring).

    Args:
        stack_name: The CloudFormation stack.
        session: A ``boto3.Session``. Defaults to boto3's default configuration.
        runtime_endpoint_url: The SageMaker runtime URL. Defaults to boto3's configuration
            (``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``, else the regional endpoint).
        timeout_s: How long one invocation may take (the async answer included). Defaults to 300 s.
        endpoint_url: The URL of CloudFormation, SageMaker and S3 (the rehearsal's moto). Defaults
            to boto3's configuration (``AWS_ENDPOINT_URL``, else AWS).
        payload: The request body for every invocation. Defaults to one built from each model's
            Triton ``config.pbtxt``.
        content_type: The ``ContentType`` of ``payload``. Defaults to ``application/json``.

    Returns:
        The report; ``report.ok`` is False when any check failed.

    Raises:
        UserError: The stack does not exist (the message names the stacks that do).
    """
    import boto3

    session = boto3.Session() if session is None else session
    clients = _Clients(session, runtime_endpoint_url, timeout_s, endpoint_url)
    stack = _describe_stack(clients.cloudformation, stack_name)
    report = CheckReport()
    status = stack["StackStatus"]
    if any(status.endswith(s) for s in _IN_FLIGHT):
        report.failed(f"{stack_name}: the stack is {status}; run the check after the deploy has finished")
        return report
    if "ROLLBACK" in status or status.endswith("_FAILED"):
        report.failed(
            f"{stack_name}: the stack is {status}: its last deploy failed or was rolled back, so its "
            f"endpoints run what the previous template deployed; see the stack's events "
            f"(aws cloudformation describe-stack-events --stack-name {stack_name})"
        )
    from botocore.exceptions import ClientError

    try:
        physical = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for page in clients.cloudformation.get_paginator("list_stack_resources").paginate(
                StackName=stack_name
            )
            for r in page["StackResourceSummaries"]
        }
        template = _template(clients.cloudformation, stack_name)
    except (ClientError, ValueError) as error:
        report.failed(f"{stack_name}: cannot read the stack's resources or template: {_error_text(error)}")
        return report
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    endpoints = [
        (logical, resource)
        for logical, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::SageMaker::Endpoint"
    ]
    if not endpoints:
        report.failed(
            f"{stack_name}: the deployed template has no AWS::SageMaker::Endpoint; nothing to check"
        )
        return report
    requests = _RequestCache(clients.s3, payload, content_type)
    for logical, resource in endpoints:
        if logical not in physical and "Condition" in resource:
            report.passed(
                f"{stack_name}/{logical}: not deployed (its condition {resource['Condition']} is false)"
            )
            continue
        try:
            _check_endpoint(
                clients, requests, stack_name, logical, resource, physical, outputs, timeout_s, report
            )
        except ClientError as error:  # e.g. AccessDenied on a describe: the finding, not a traceback
            report.failed(f"{stack_name}/{logical}: {_error_text(error)}")
    return report


def check_endpoint(
    endpoint_name: str,
    expected_config: str,
    *,
    session: Any = None,
    runtime_endpoint_url: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    endpoint_url: str | None = None,
    payload: bytes | None = None,
    content_type: str = "application/json",
    input_path: str | None = None,
) -> CheckReport:
    """Check one endpoint from SageMaker's own descriptions (no CloudFormation): what a pipeline's smoke test runs.

    The same checks as :func:`check_stack` makes for each endpoint of a stack: the endpoint runs
    ``expected_config`` (no silent rollback), is ``InService``, and answers once per variant, per
    TargetModel, or through the queue.

    Args:
        endpoint_name: The endpoint (a stack's ``EndpointName`` output).
        expected_config: The endpoint config the deploy gave it (the ``EndpointConfigName`` output).
        session: A ``boto3.Session`` (e.g. :func:`assume_role_session`'s). Defaults to boto3's
            default configuration.
        runtime_endpoint_url: The SageMaker runtime URL. Defaults to boto3's configuration.
        timeout_s: How long one invocation may take (the async answer included). Defaults to 300 s.
        endpoint_url: The URL of SageMaker and S3 (the rehearsal's moto). Defaults to boto3's configuration.
        payload: The request body. Defaults to one built from the model's Triton ``config.pbtxt``.
        content_type: The ``ContentType`` of ``payload``. Defaults to ``application/json``.
        input_path: ``s3://bucket/prefix`` where an asynchronous input is uploaded. Defaults to
            :data:`ASYNC_INPUT_PREFIX` in the bucket of the endpoint's ``S3OutputPath`` (the
            constructs' default input prefix).

    Returns:
        The report; ``report.ok`` is False when any check failed.
    """
    import boto3

    session = boto3.Session() if session is None else session
    clients = _Clients(session, runtime_endpoint_url, timeout_s, endpoint_url)
    report = CheckReport()
    _check_running_endpoint(
        clients,
        _RequestCache(clients.s3, payload, content_type),
        endpoint_name,
        expected_config,
        label="",
        expected_from="--expected-config, the one this deploy created",
        input_path=input_path,
        timeout_s=timeout_s,
        report=report,
    )
    return report


def assume_role_session(
    session: Any, role_arn: str, *, endpoint_url: str | None = None, session_name: str = "operations-check"
) -> Any:
    """Return a ``boto3.Session`` with the credentials of ``role_arn`` (STS ``AssumeRole``), in ``session``'s region.

    How a pipeline in one account checks an endpoint in another: the pipeline's role may only
    ``sts:AssumeRole`` the serving stack's smoke-test role, which may only do what the check needs.

    Raises:
        UserError: STS refused (the message names the role and what the trust needs).
    """
    import boto3
    from botocore.exceptions import ClientError

    control = {} if endpoint_url is None else {"endpoint_url": endpoint_url}
    try:
        credentials = session.client("sts", **control).assume_role(
            RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=3600
        )["Credentials"]
    except ClientError as error:
        raise UserError(
            f"--assume-role: cannot assume {role_arn}: {_error_text(error)}; the role's trust policy must trust "
            "the caller's account and the caller needs sts:AssumeRole on the role (docs/post-deploy-check.md)"
        ) from None
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=session.region_name,
    )


class _Clients:
    """The boto3 clients one check uses (built once per stack)."""

    def __init__(
        self, session: Any, runtime_endpoint_url: str | None, timeout_s: float, endpoint_url: str | None
    ) -> None:
        from botocore.config import Config

        control = {} if endpoint_url is None else {"endpoint_url": endpoint_url}
        self.cloudformation = session.client("cloudformation", **control)
        self.sagemaker = session.client("sagemaker", **control)
        self.s3 = session.client("s3", **control)
        # One attempt per call but throttling: a ModelError is the answer, not a reason to retry.
        runtime_config = Config(
            read_timeout=max(70, int(timeout_s)),
            connect_timeout=10,
            retries={"mode": "standard", "total_max_attempts": 3},
        )
        extra = {} if runtime_endpoint_url is None else {"endpoint_url": runtime_endpoint_url}
        self.runtime = session.client("sagemaker-runtime", config=runtime_config, **extra)


def _describe_stack(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    """Return the stack; a missing one is bad input naming the stacks that exist."""
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" not in str(error):
            raise
        stacks = []
    live = [s for s in stacks if s["StackStatus"] not in _GONE]
    if live:
        return dict(live[0])
    names = sorted(
        s["StackName"]
        for page in cloudformation.get_paginator("list_stacks").paginate()
        for s in page["StackSummaries"]
        if s["StackStatus"] not in _GONE
    )
    existing = ", ".join(names) if names else "none"
    raise UserError(
        f"--stack: got {stack_name!r}, a stack that does not exist in this account and region"
        f"{did_you_mean(stack_name, names)}; the stacks here: {existing}. Give the name `cdk deploy` "
        "printed, and check --region / AWS_REGION"
    )


def _template(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    """Return the deployed template (boto3 parses a JSON body into a dict already).

    Raises:
        ValueError: The template is not JSON (CDK deploys JSON; a hand-written YAML template is not read).
    """
    body = cloudformation.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            raise ValueError("the deployed template is not JSON (CDK deploys JSON templates)") from None
    return dict(body)


def _name_of(physical_id: str) -> str:
    """Return a SageMaker resource's name from its CloudFormation physical id (its ARN: ``...:endpoint/<name>``)."""
    return physical_id.rsplit("/", 1)[-1] if physical_id.startswith("arn:") else physical_id


def _expected_config(value: Any, physical: Mapping[str, str]) -> str | None:
    """Return the config name an endpoint's ``EndpointConfigName`` resolves to, or None if unknown."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return _name_of(physical[value["Ref"]]) if value["Ref"] in physical else None
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, str):
            get_att = get_att.split(".", 1)
        if isinstance(get_att, list) and get_att and get_att[0] in physical:
            return _name_of(physical[get_att[0]])
    return None


def _check_endpoint(
    clients: _Clients,
    requests: _RequestCache,
    stack: str,
    logical: str,
    resource: Mapping[str, Any],
    physical: Mapping[str, str],
    outputs: Mapping[str, str],
    timeout_s: float,
    report: CheckReport,
) -> None:
    """Work out, from the stack, which endpoint and which config to expect; then :func:`_check_running_endpoint`."""
    where = f"{stack}/{logical}"
    if logical not in physical or not physical[logical]:
        report.failed(f"{where}: the stack has no endpoint for this resource (it was never created)")
        return
    expected = _expected_config(resource.get("Properties", {}).get("EndpointConfigName"), physical)
    if expected is None:
        report.failed(
            f"{where}: cannot tell which endpoint config the stack deployed (EndpointConfigName is not a name or a reference)"
        )
        return
    input_path = next(
        (v for k, v in sorted(outputs.items()) if k.endswith("InputPath") and v.startswith("s3://")), None
    )
    _check_running_endpoint(
        clients,
        requests,
        _name_of(physical[logical]),
        expected,
        label=f"{stack}: ",
        expected_from="the one the stack deployed",
        input_path=input_path,
        timeout_s=timeout_s,
        report=report,
    )


def _check_running_endpoint(
    clients: _Clients,
    requests: _RequestCache,
    name: str,
    expected: str,
    *,
    label: str,
    expected_from: str,
    input_path: str | None,
    timeout_s: float,
    report: CheckReport,
) -> None:
    """Check one endpoint from SageMaker's descriptions only: config, status, invocations.

    Both modes end here: ``--stack`` (the expected config read from the deployed template) and
    ``--endpoint`` (the expected config given, e.g. from the stack's ``EndpointConfigName`` output).

    Args:
        clients: The boto3 clients.
        requests: The requests built so far (one per model archive).
        name: The endpoint name.
        expected: The endpoint config the deploy gave it.
        label: What starts each line (``"<stack>: "``, or ``""``).
        expected_from: Where ``expected`` came from, for the rollback message.
        input_path: ``s3://bucket/prefix`` for an asynchronous input. Defaults to
            :data:`ASYNC_INPUT_PREFIX` in the bucket of the endpoint's ``S3OutputPath``.
        timeout_s: How long one invocation may take.
        report: Where the lines go.
    """
    from botocore.exceptions import ClientError

    try:
        endpoint = clients.sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as error:
        report.failed(f"{label}endpoint {name} cannot be described: {_error_text(error)}")
        return
    # The ARN may spell the name in lower case; DescribeEndpoint's EndpointName keeps the case
    # InvokeEndpoint must match (CreateEndpoint: "case-insensitive ..., but the case is preserved").
    where = f"{label}endpoint {endpoint['EndpointName']}"
    actual = endpoint.get("EndpointConfigName", "")
    status = endpoint.get("EndpointStatus", "")
    reason = endpoint.get("FailureReason") or ""
    if actual.lower() != expected.lower():
        said = f" (FailureReason: {reason})" if reason else " (FailureReason is empty)"
        rollback = (endpoint.get("LastDeploymentConfig") or {}).get("AutoRollbackConfiguration") or {}
        alarms = ", ".join(a.get("AlarmName", "") for a in rollback.get("Alarms", []))
        alarms_said = f"its rollback alarms ({alarms})" if alarms else "its rollback alarms"
        report.failed(
            f"{where} runs endpoint config {actual}, expected {expected} ({expected_from}): "
            f"rolled back: the endpoint still runs {actual}{said}, status {status}. A deployment guardrail "
            "undoes a failed update and leaves the endpoint InService on the old config (or someone updated "
            f"the endpoint outside CloudFormation); see the endpoint's events (aws sagemaker describe-endpoint "
            f"--endpoint-name {endpoint['EndpointName']}) and the history of {alarms_said} "
            "(aws cloudwatch describe-alarm-history), fix the cause, deploy again. "
            "Not invoked: it serves another config than the one checked"
        )
        return
    if status != "InService":
        hint = f": {reason}" if reason else ""
        report.failed(f"{where} runs {actual} as deployed but is {status}, not InService{hint}")
        return
    report.passed(f"{where} runs {actual} as deployed, InService")
    try:
        config = clients.sagemaker.describe_endpoint_config(EndpointConfigName=actual)
    except ClientError as error:
        report.failed(f"{where}: endpoint config {actual} cannot be described: {_error_text(error)}")
        return
    variants = config.get("ProductionVariants", [])
    if config.get("AsyncInferenceConfig"):
        _check_async(
            clients,
            requests,
            where,
            endpoint["EndpointName"],
            config,
            variants,
            input_path,
            timeout_s,
            report,
        )
        return
    for variant in variants:
        _check_variant(clients, requests, where, endpoint["EndpointName"], variant, report)


def _container(clients: _Clients, model_name: str) -> dict[str, Any]:
    model = clients.sagemaker.describe_model(ModelName=model_name)
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    return dict(container)


def _model_data(container: Mapping[str, Any]) -> str:
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    return str(container.get("ModelDataUrl") or source.get("S3Uri") or "")


def _check_variant(
    clients: _Clients,
    requests: _RequestCache,
    where: str,
    endpoint_name: str,
    variant: Mapping[str, Any],
    report: CheckReport,
) -> None:
    """Invoke one variant (``TargetVariant``): once, or once per TargetModel of a multi-model endpoint."""
    variant_name = variant["VariantName"]
    try:
        container = _container(clients, variant["ModelName"])
    except Exception as error:  # a deleted Model is the finding, not a crash
        report.failed(
            f"{where} variant {variant_name}: model {variant['ModelName']} cannot be described: {_error_text(error)}"
        )
        return
    data = _model_data(container)
    if container.get("Mode") == "MultiModel":
        try:
            targets = _archives_under(clients.s3, data)
        except Exception as error:
            report.failed(
                f"{where} variant {variant_name}: cannot list the TargetModels under {data}: {_error_text(error)}"
            )
            return
        if not targets:
            report.failed(
                f"{where} variant {variant_name}: no *.tar.gz under {data}, so no TargetModel to invoke; copy the archives there"
            )
            return
        for target in targets:
            label = f"{where} variant {variant_name} TargetModel {target}"
            _invoke(
                clients,
                requests,
                label,
                endpoint_name,
                report,
                url=data + target,
                model=None,
                TargetVariant=variant_name,
                TargetModel=target,
            )
        return
    _invoke(
        clients,
        requests,
        f"{where} variant {variant_name}",
        endpoint_name,
        report,
        url=data,
        model=(container.get("Environment") or {}).get(DEFAULT_MODEL_ENV),
        TargetVariant=variant_name,
    )


def _invoke(
    clients: _Clients,
    requests: _RequestCache,
    label: str,
    endpoint_name: str,
    report: CheckReport,
    *,
    url: str,
    model: str | None,
    **target: str,
) -> None:
    try:
        request = requests.get(url, model)
    except _RequestError as error:
        report.failed(f"{label}: not invoked: {error}")
        return
    started = time.monotonic()
    try:
        answer = clients.runtime.invoke_endpoint(
            EndpointName=endpoint_name, ContentType=request.content_type, Body=request.body, **target
        )
        body = answer["Body"].read()
    except Exception as error:
        report.failed(f"{label} failed: {_error_text(error)}")
        return
    report.passed(f"{label} answered ({len(body)} bytes in {time.monotonic() - started:.1f} s)")


def _check_async(
    clients: _Clients,
    requests: _RequestCache,
    where: str,
    endpoint_name: str,
    config: Mapping[str, Any],
    variants: Sequence[Mapping[str, Any]],
    input_path: str | None,
    timeout_s: float,
    report: CheckReport,
) -> None:
    """One request through the queue: upload, ``InvokeEndpointAsync``, wait for the output or the failure."""
    label = f"{where} (asynchronous)"
    try:
        container = _container(clients, variants[0]["ModelName"])
        request = requests.get(
            _model_data(container), (container.get("Environment") or {}).get(DEFAULT_MODEL_ENV)
        )
    except _RequestError as error:
        report.failed(f"{label}: not invoked: {error}")
        return
    except Exception as error:
        report.failed(f"{label}: model {variants[0]['ModelName']} cannot be described: {_error_text(error)}")
        return
    output_path = config["AsyncInferenceConfig"].get("OutputConfig", {}).get("S3OutputPath", "")
    input_path = input_path or f"s3://{parse_s3_uri(output_path)[0]}/{ASYNC_INPUT_PREFIX}"
    bucket, prefix = parse_s3_uri(input_path)
    key = f"{prefix.rstrip('/')}/post-deploy-check/{uuid.uuid4().hex}.input".lstrip("/")
    started = time.monotonic()
    try:
        clients.s3.put_object(Bucket=bucket, Key=key, Body=request.body, ContentType=request.content_type)
        accepted = clients.runtime.invoke_endpoint_async(
            EndpointName=endpoint_name,
            InputLocation=f"s3://{bucket}/{key}",
            ContentType=request.content_type,
            InvocationTimeoutSeconds=max(1, min(3600, int(timeout_s))),
        )
    except Exception as error:
        report.failed(
            f"{label}: the request was not accepted (input s3://{bucket}/{key}): {_error_text(error)}"
        )
        return
    locations = {"output": accepted.get("OutputLocation", ""), "failure": accepted.get("FailureLocation", "")}
    try:
        outcome, body = _wait_for_object(clients.s3, locations, deadline=started + timeout_s)
    finally:
        _delete_quietly(clients.s3, f"s3://{bucket}/{key}")
    if outcome is None:
        report.failed(
            f"{label}: no output at {locations['output']} and no failure within {timeout_s:g} s "
            f"(InferenceId {accepted.get('InferenceId')}); the queue may be backed up or the endpoint still "
            "scaling out from zero: see its ApproximateBacklogSize and HasBacklogWithoutCapacity metrics, or raise --timeout"
        )
        return
    _delete_quietly(clients.s3, locations[outcome])
    if outcome == "failure":
        report.failed(
            f"{label} failed: {body[:500].decode('utf-8', 'replace')} (failure object {locations['failure']})"
        )
        return
    report.passed(
        f"{label} answered through the queue ({len(body)} bytes in {time.monotonic() - started:.1f} s)"
    )


def _wait_for_object(s3: Any, locations: Mapping[str, str], *, deadline: float) -> tuple[str | None, bytes]:
    """Poll the output and failure locations until one exists; return which and its body."""
    from botocore.exceptions import ClientError

    pause = 0.2
    while True:
        for outcome, uri in locations.items():
            if not uri:
                continue
            bucket, key = parse_s3_uri(uri)
            try:
                return outcome, s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404", "AccessDenied"):
                    raise
        if time.monotonic() >= deadline:
            return None, b""
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 1.5, 1.0)


def _delete_quietly(s3: Any, uri: str) -> None:
    """Remove an object the check wrote (best effort: a role without s3:DeleteObject leaves it)."""
    try:
        bucket, key = parse_s3_uri(uri)
        s3.delete_object(Bucket=bucket, Key=key)
    except Exception:
        pass


def _archives_under(s3: Any, prefix_uri: str) -> list[str]:
    """Return the TargetModel names of a multi-model prefix: every ``*.tar.gz`` key, relative to it."""
    bucket, prefix = parse_s3_uri(prefix_uri)
    return sorted(
        obj["Key"][len(prefix) :]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
        if obj["Key"].endswith(".tar.gz")
    )


def _error_text(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code = response["Error"].get("Code", "")
        message = response["Error"].get("Message", "")
        return f"{code}: {message}"[:800]
    return f"{type(error).__name__}: {error}"[:800]


# -- requests -----------------------------------------------------------------------------


class _RequestCache:
    """One request per model archive (and model name), built once for the whole check."""

    def __init__(self, s3: Any, payload: bytes | None, content_type: str) -> None:
        self._s3 = s3
        self._fixed = None if payload is None else _Request(payload, content_type)
        self._built: dict[tuple[str, str | None], _Request | _RequestError] = {}

    def get(self, url: str, model: str | None) -> _Request:
        if self._fixed is not None:
            return self._fixed
        key = (url, model)
        if key not in self._built:
            try:
                self._built[key] = request_from_config(self._config_text(url, model))
            except _RequestError as error:
                self._built[key] = error
        built = self._built[key]
        if isinstance(built, _RequestError):
            raise built
        return built

    def _config_text(self, url: str, model: str | None) -> str:
        # An archive's key need not end in .tar.gz (CDK's asset keys end in .gz): read it as one.
        # A prefix (uncompressed ModelDataSource) is not an archive.
        if not url or url.endswith("/"):
            raise _RequestError(
                f"the model data {url or '(none)'} is not a model.tar.gz, so its Triton config cannot be read; pass --payload FILE"
            )
        try:
            bucket, key = parse_s3_uri(url)
            stream = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
            return config_in_archive(stream, model)
        except _RequestError:
            raise
        except Exception as error:
            raise _RequestError(
                f"cannot read the Triton config in {url}: {_error_text(error)}; pass --payload FILE"
            ) from None


def config_in_archive(stream: Any, model: str | None) -> str:
    """Return the text of ``<model>/config.pbtxt`` in a ``model.tar.gz`` read as a stream.

    The archive is read once, front to back, and never written to disk (it may be gigabytes).

    Args:
        stream: A file-like object of the gzip'd tar (an S3 ``Body``).
        model: The model folder (``SAGEMAKER_TRITON_DEFAULT_MODEL_NAME``); None: the only one.
    """
    found: dict[str, str] = {}
    with tarfile.open(fileobj=stream, mode="r|gz") as tar:
        for member in tar:
            parts = member.name.lstrip("./").split("/")
            if len(parts) == 2 and parts[1] == "config.pbtxt" and member.isfile():
                handle = tar.extractfile(member)
                found[parts[0]] = handle.read().decode("utf-8") if handle is not None else ""
                if model is not None and parts[0] == model:
                    return found[model]
    if model is not None:
        raise _RequestError(
            f"the archive has no {model}/config.pbtxt ({DEFAULT_MODEL_ENV}={model}; "
            f"models in it: {', '.join(sorted(found)) or 'none'}); pass --payload FILE"
        )
    if len(found) != 1:
        raise _RequestError(
            f"the archive holds {len(found)} model configs ({', '.join(sorted(found)) or 'none'}) and the Model "
            f"names none with {DEFAULT_MODEL_ENV}; pass --payload FILE"
        )
    return next(iter(found.values()))


def request_from_config(config_text: str) -> _Request:
    """Return a KServe v2 JSON request of zeros (batch 1) for every input of a Triton ``config.pbtxt``.

    Dims after the batch dimension come from the config; a dynamic dim (-1) becomes 1. Zeros are a
    valid value for every numeric input (token ids and token type ids included); an input whose name
    ends in ``mask`` gets ones, so an attention mask lets every token through; ``BYTES`` inputs get
    ``"0"``.
    """
    from tritonclient.grpc import model_config_pb2 as mc

    from model_build.triton_config import parse_config

    try:
        config = parse_config(config_text)
    except ValueError as error:
        raise _RequestError(f"{error}; pass --payload FILE") from None
    if not config.input:
        raise _RequestError(
            f"the Triton config of {config.name or 'the model'} lists no inputs; pass --payload FILE"
        )
    inputs = []
    for tensor in config.input:
        dims = [1 if d < 0 else int(d) for d in tensor.dims]
        shape = ([1] if config.max_batch_size > 0 else []) + dims
        datatype = mc.DataType.Name(tensor.data_type).removeprefix("TYPE_")
        datatype = {"STRING": "BYTES"}.get(datatype, datatype)
        zero: Any = {"BYTES": "0", "BOOL": False}.get(datatype, 0)
        if tensor.name.lower().endswith("mask") and datatype != "BYTES":
            # An all-zero attention mask hides every token; some exports then answer NaN.
            zero = True if datatype == "BOOL" else 1
        inputs.append(
            {"name": tensor.name, "shape": shape, "datatype": datatype, "data": [zero] * math.prod(shape)}
        )
    return _Request(json.dumps({"inputs": inputs}, separators=(",", ":")).encode(), "application/json")


# -- command line -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = UsageErrorParser(
        prog=PROG,
        description="After cdk deploy: each endpoint of the stacks (--stack), or one endpoint (--endpoint with "
        "--expected-config, from SageMaker's descriptions only), runs the config the deploy gave it (no silent "
        "rollback), is InService, and answers once per variant, per TargetModel (multi-model) and through the "
        "queue (async). Exit 0 all good, 1 a check failed, 2 bad input.",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", action="append", metavar="NAME", help="a deployed stack (repeatable)")
    target.add_argument(
        "--endpoint",
        metavar="NAME",
        help="one endpoint, checked from SageMaker's descriptions (no CloudFormation)",
    )
    parser.add_argument(
        "--expected-config",
        metavar="NAME",
        help="with --endpoint: the endpoint config the deploy created (the stack's EndpointConfigName output)",
    )
    parser.add_argument(
        "--input-path",
        metavar="S3URI",
        help="with --endpoint, for an asynchronous endpoint: s3://bucket/prefix to upload the request under (the "
        f"stack's InputPath output; default {ASYNC_INPUT_PREFIX} in the bucket of the endpoint's S3OutputPath)",
    )
    parser.add_argument(
        "--assume-role",
        metavar="ARN",
        help="assume this IAM role first (STS AssumeRole); every call then uses its credentials (cross-account)",
    )
    parser.add_argument("--region", help="AWS region (default: boto3's configuration, AWS_REGION)")
    parser.add_argument(
        "--timeout",
        default=str(DEFAULT_TIMEOUT_S),
        metavar="S",
        help=f"seconds one invocation may take, the async answer included (default {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--payload",
        metavar="FILE",
        help="send this file to every endpoint instead of a request built from the model's config.pbtxt",
    )
    parser.add_argument(
        "--content-type",
        default="application/json",
        help="ContentType of --payload (default application/json)",
    )
    return parser


_CONTENT_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;.*)?")
_SAGEMAKER_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
"""An endpoint or endpoint config name (CreateEndpoint's pattern, up to 63 characters)."""
ROLE_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::\d{12}:role/([\x21-\x7e]+/)?[\w+=,.@-]{1,64}")
"""An IAM role ARN: ``arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>``."""


def _name_problem(checks: FlagProblems, flag: str, value: str, what: str, output: str) -> None:
    if not value.strip():
        checks.add(
            flag,
            value,
            f"is empty; give the {what} name (in a pipeline, the stack's {output} output: is its variable set?)",
        )
    elif not _SAGEMAKER_NAME.fullmatch(value):
        checks.add(
            flag,
            value,
            f"a SageMaker {what} name is letters, digits and hyphens, up to 63 characters, starting and "
            "ending with a letter or digit",
        )


def _parse(argv: Sequence[str]) -> tuple[argparse.Namespace, float, bytes | None]:
    """Parse and check every flag before any AWS call; one UserError names every problem."""
    args = _parser().parse_args(list(argv))
    checks = FlagProblems(PROG)
    for name in args.stack or ():
        if not _STACK_NAME.fullmatch(name):
            checks.add(
                "--stack",
                name,
                "a CloudFormation stack name is a letter then letters, digits and hyphens, up to 128 characters",
            )
    if args.stack is not None and len(set(args.stack)) != len(args.stack):
        checks.add("--stack", args.stack, "name each stack once")
    if args.endpoint is not None:
        _name_problem(checks, "--endpoint", args.endpoint, "endpoint", "EndpointName")
        if args.expected_config is None:
            checks.note(
                "--expected-config: missing; --endpoint needs the endpoint config the deploy created (the stack's "
                "EndpointConfigName output), or the check cannot tell a silent rollback from a success"
            )
        else:
            _name_problem(
                checks, "--expected-config", args.expected_config, "endpoint config", "EndpointConfigName"
            )
    elif args.expected_config is not None:
        checks.add(
            "--expected-config",
            args.expected_config,
            "only goes with --endpoint (with --stack the expected config is read from the deployed template); "
            "drop it or use --endpoint NAME",
        )
    if args.input_path is not None:
        if args.endpoint is None:
            checks.add(
                "--input-path",
                args.input_path,
                "only goes with --endpoint (with --stack the input path is the stack's InputPath output); drop it",
            )
        else:
            try:
                bucket, _ = parse_s3_uri(args.input_path)
            except ValueError:
                bucket = ""
            if not bucket:
                checks.add(
                    "--input-path",
                    args.input_path,
                    "must be an S3 prefix like s3://bucket/async-inference/input (the stack's InputPath output)",
                )
    if args.assume_role is not None and not ROLE_ARN.fullmatch(args.assume_role):
        checks.add(
            "--assume-role",
            args.assume_role,
            "must be an IAM role ARN like arn:aws:iam::123456789012:role/NAME (the serving stack's "
            "SmokeTestRoleArn output)",
        )
    if args.region is not None:
        regions = _known_regions()
        if args.region not in regions:
            checks.add(
                "--region",
                args.region,
                f"must be a region SageMaker runs in{did_you_mean(args.region, sorted(regions))}, e.g. us-east-1",
            )
    timeout = checks.number("--timeout", args.timeout, low=0, high=MAX_TIMEOUT_S, low_open=True)
    payload = None
    if args.payload is not None:
        path = Path(args.payload).expanduser()
        if not str(args.payload).strip():
            checks.add("--payload", args.payload, "give the path of a request body file")
        elif not path.is_file():
            checks.add("--payload", args.payload, "no such file; give the path of a request body file")
        else:
            payload = path.read_bytes()
            if not payload:
                checks.add(
                    "--payload",
                    args.payload,
                    "the file is empty; give a request body SageMaker can pass to the model",
                )
    if not _CONTENT_TYPE.fullmatch(args.content_type):
        checks.add("--content-type", args.content_type, "must be a media type like application/json")
    elif args.payload is None and args.content_type != "application/json":
        checks.add(
            "--content-type",
            args.content_type,
            "only goes with --payload (the built request is JSON); add --payload FILE or drop it",
        )
    checks.raise_if_any()
    assert timeout is not None
    return args, timeout, payload


def _known_regions() -> set[str]:
    import boto3

    session = boto3.Session()
    return {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("sagemaker", partition_name=partition)
    }


def _describe_endpoint(sagemaker: Any, name: str) -> None:
    """Make sure the endpoint exists; a missing one is bad input naming the endpoints that do (when listable)."""
    from botocore.exceptions import ClientError

    try:
        sagemaker.describe_endpoint(EndpointName=name)
        return
    except ClientError as error:
        if "could not find" not in str(error).lower():
            raise
    try:  # a smoke-test role may not list endpoints (least privilege): then say less
        names = sorted(
            e["EndpointName"]
            for page in sagemaker.get_paginator("list_endpoints").paginate()
            for e in page["Endpoints"]
        )
        here = f"{did_you_mean(name, names)}; the endpoints here: {', '.join(names) or 'none'}"
    except ClientError:
        here = ""
    raise UserError(
        f"--endpoint: got {name!r}, an endpoint that does not exist in this account and region{here}. Give the "
        "stack's EndpointName output, and check --region / AWS_REGION (and --assume-role's account)"
    )


def _main(argv: Sequence[str] | None = None) -> int:
    args, timeout, payload = _parse(sys.argv[1:] if argv is None else argv)
    import boto3
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    session = boto3.Session(region_name=args.region) if args.region else boto3.Session()
    # The role, then every stack or the endpoint first: an unknown one is bad input, reported
    # before anything is invoked.
    service = "STS" if args.assume_role else "CloudFormation" if args.stack else "SageMaker"
    try:
        if args.assume_role:
            session = assume_role_session(session, args.assume_role)
            # In the pipeline's log: whose permissions the check runs with.
            identity = session.client("sts").get_caller_identity()["Arn"]
            print(f"{PROG}: running as {identity}", file=sys.stderr, flush=True)
            service = "CloudFormation" if args.stack else "SageMaker"
        if args.stack:
            cloudformation = session.client("cloudformation")
            for name in args.stack:
                _describe_stack(cloudformation, name)
        else:
            _describe_endpoint(session.client("sagemaker"), args.endpoint)
    except NoRegionError:
        raise UserError(
            "--region: not given and boto3 has no region configured; pass --region or set AWS_REGION"
        ) from None
    except NoCredentialsError:
        raise UserError(
            "no AWS credentials found; configure them as for the AWS CLI (AWS_PROFILE, environment, role)"
        ) from None
    except ClientError as error:
        first = "cloudformation:DescribeStacks" if args.stack else "sagemaker:DescribeEndpoint"
        raise UserError(
            f"cannot read the {'stacks' if args.stack else 'endpoint'}: {_error_text(error)}; the credentials "
            f"need the permissions listed in docs/post-deploy-check.md ({first} first)"
        ) from None
    except EndpointConnectionError as error:
        raise UserError(f"cannot reach {service} ({error}); check AWS_ENDPOINT_URL and the network") from None
    report = CheckReport()
    if args.endpoint is not None:
        checked = check_endpoint(
            args.endpoint,
            args.expected_config,
            session=session,
            timeout_s=timeout,
            payload=payload,
            content_type=args.content_type,
            input_path=args.input_path,
        )
        for line in checked.lines:
            print(line, flush=True)
        report.extend(checked)
    for name in args.stack or ():
        checked = check_stack(
            name, session=session, timeout_s=timeout, payload=payload, content_type=args.content_type
        )
        for line in checked.lines:  # stack by stack: an async wait can take minutes
            print(line, flush=True)
        report.extend(checked)
    failures = len(report.failures)
    print(
        f"{PROG}: all checks passed"
        if not failures
        else f"{PROG}: {failures} check(s) failed; the promotion should stop because of the FAIL line(s) above",
        file=sys.stderr,
    )
    return 0 if not failures else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m operations check``: exit 0 all good, 1 a check failed, 2 bad input."""
    return run_cli(_main, argv, prog=PROG)


__all__ = [
    "ENDPOINT_ACTIONS",
    "CheckReport",
    "assume_role_session",
    "check_endpoint",
    "check_stack",
    "config_in_archive",
    "main",
    "request_from_config",
]
