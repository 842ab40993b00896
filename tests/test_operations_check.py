"""The post-deploy check against the local rehearsal: moto's CloudFormation, the real Triton data plane.

One moto server and one data plane for the module (the ``rehearsal`` fixture of ``conftest.py``,
with its bert-tiny archive). Stacks are created with CloudFormation's ``CreateStack`` from small
templates (Model, EndpointConfig, Endpoint: what moto's CloudFormation implements), so no CDK CLI
runs. Each Triton the data plane starts is one variant: a good one, a broken one, an asynchronous
one and a multi-model one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from operations.check import ENDPOINT_ACTIONS, check_endpoint, check_stack, main
from rehearsal.api_endpoints import EMULATED_INSTANCE_TYPE, EMULATED_ROLE_ARN, EMULATED_TRITON_IMAGE

REPO_ROOT = Path(__file__).resolve().parents[1]
MISSING_KEY = "deleted/model.tar.gz"
CDK_STYLE_KEY = "bb0efeaa667ce0dbc5cd6156adcd45e2da43f727691ed684a724d04c1aac7c25.gz"
MME_PREFIX = "mme/"
ASYNC_OUTPUT = "async-out/output"


def _model(url: str, *, triton_name: str | None = None, multi_model: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {"Image": EMULATED_TRITON_IMAGE, "ModelDataUrl": url}
    if triton_name is not None:
        container["Environment"] = {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": triton_name}
    if multi_model:
        container["Mode"] = "MultiModel"
    return {
        "Type": "AWS::SageMaker::Model",
        "Properties": {"ExecutionRoleArn": EMULATED_ROLE_ARN, "PrimaryContainer": container},
    }


def _template(variants: dict[str, dict[str, Any]], *, async_output: str | None = None) -> str:
    """A stack of one endpoint: variant name → its Model resource."""
    resources: dict[str, Any] = {f"Model{name}": model for name, model in variants.items()}
    config: dict[str, Any] = {
        "ProductionVariants": [
            {
                "VariantName": name,
                "ModelName": {"Fn::GetAtt": [f"Model{name}", "ModelName"]},
                "InitialInstanceCount": 1,
                "InstanceType": EMULATED_INSTANCE_TYPE,
                "InitialVariantWeight": 1.0,
            }
            for name in variants
        ]
    }
    if async_output is not None:
        config["AsyncInferenceConfig"] = {"OutputConfig": {"S3OutputPath": async_output}}
    resources["EndpointConfig"] = {"Type": "AWS::SageMaker::EndpointConfig", "Properties": config}
    resources["Endpoint"] = {
        "Type": "AWS::SageMaker::Endpoint",
        "Properties": {"EndpointConfigName": {"Fn::GetAtt": ["EndpointConfig", "EndpointConfigName"]}},
    }
    return json.dumps({"Resources": resources})


@dataclass
class Deployed:
    rehearsal: Any
    cloudformation: Any
    session: Any


@pytest.fixture(scope="module")
def deployed(rehearsal: Any) -> Iterator[Deployed]:
    """Four stacks in the rehearsal's moto: real-time, one broken variant, asynchronous, multi-model."""
    import boto3

    kwargs = rehearsal.moto.boto3_kwargs()
    session = boto3.Session(
        region_name=kwargs["region_name"],
        aws_access_key_id=kwargs["aws_access_key_id"],
        aws_secret_access_key=kwargs["aws_secret_access_key"],
    )
    s3 = boto3.client("s3", **kwargs)
    bucket = rehearsal.bucket
    good = f"s3://{bucket}/bert-tiny/model.tar.gz"
    s3.upload_file(str(rehearsal.built.archive_path), bucket, MME_PREFIX + "bert_v0.tar.gz")
    # CDK's asset keys end in .gz, not .tar.gz: the check reads the archive whatever its key
    cdk_style = f"s3://{bucket}/{CDK_STYLE_KEY}"
    s3.upload_file(str(rehearsal.built.archive_path), bucket, CDK_STYLE_KEY)
    name = rehearsal.spec.name
    cloudformation = boto3.client("cloudformation", **kwargs)
    stacks = {
        "CheckRealtime": _template({"AllTraffic": _model(good, triton_name=name)}),
        # A variant whose archive was deleted after the deploy: its container cannot start.
        "CheckBroken": _template({"Broken": _model(f"s3://{bucket}/{MISSING_KEY}", triton_name=name)}),
        "CheckAsync": _template(
            {"AllTraffic": _model(cdk_style, triton_name=name)}, async_output=f"s3://{bucket}/{ASYNC_OUTPUT}"
        ),
        "CheckMultiModel": _template({"AllTraffic": _model(f"s3://{bucket}/{MME_PREFIX}", multi_model=True)}),
    }
    for stack_name, body in stacks.items():
        cloudformation.create_stack(StackName=stack_name, TemplateBody=body)
    yield Deployed(rehearsal, cloudformation, session)  # the rehearsal's moto goes with the module


@pytest.fixture
def cli_env(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3's normal configuration aimed at the rehearsal, as a pipeline step would set it."""
    for key, value in deployed.rehearsal.moto.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", deployed.rehearsal.plane.endpoint_url)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _endpoint_of(deployed: Deployed, stack: str) -> str:
    resources = deployed.cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    arn = next(r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::SageMaker::Endpoint")
    return str(arn.rsplit("/", 1)[-1])


def test_operations_check_passes_a_realtime_stack_through_the_cli(
    deployed: Deployed, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a deployed real-time stack and boto3's configuration aimed at moto and the data plane
    # WHEN the pipeline runs the check
    code = main(["--stack", "CheckRealtime", "--timeout", "120"])
    # THEN it exits 0, having compared the config and invoked the variant
    out = capsys.readouterr().out
    endpoint = _endpoint_of(deployed, "CheckRealtime")
    assert code == 0, out
    assert f"ok    CheckRealtime: endpoint {endpoint} runs " in out
    assert "as deployed, InService" in out
    assert "variant AllTraffic answered" in out


def test_operations_check_reports_a_silent_rollback(
    deployed: Deployed, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the real-time endpoint put back on another config outside CloudFormation (what a
    # guardrail's auto-rollback leaves: same endpoint, InService, the old config). moto has no
    # UpdateEndpoint, so the endpoint is re-created under its name on the other config.
    sagemaker = deployed.rehearsal.sagemaker
    endpoint = _endpoint_of(deployed, "CheckRealtime")
    deployed_config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    # Another config serving the same model: the one of the rehearsal fixture's own endpoint "bert".
    old = sagemaker.describe_endpoint(EndpointName="bert")["EndpointConfigName"]
    sagemaker.delete_endpoint(EndpointName=endpoint)
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=old)
    try:
        # WHEN the check runs
        code = main(["--stack", "CheckRealtime"])
    finally:
        sagemaker.delete_endpoint(EndpointName=endpoint)
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=deployed_config)
    # THEN it exits 1 with one line saying which config runs, which was expected, and where to look
    out = capsys.readouterr().out
    assert code == 1
    (line,) = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert (
        f"CheckRealtime: endpoint {endpoint} runs endpoint config {old}, expected {deployed_config}" in line
    )
    assert f"rolled back: the endpoint still runs {old}" in line
    assert "describe-endpoint" in line and "alarm" in line


def test_operations_check_names_the_variant_that_fails(
    deployed: Deployed, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a stack whose one variant cannot serve, and a request body of the user's own
    payload = tmp_path / "request.json"
    payload.write_text('{"inputs": []}')
    # WHEN the check runs with --payload (no archive is read to build a request)
    code = main(["--stack", "CheckBroken", "--payload", str(payload)])
    # THEN it exits 1 with one line naming the variant and SageMaker's error
    out = capsys.readouterr().out
    assert code == 1
    (failure,) = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert "CheckBroken: endpoint" in failure
    assert "variant Broken failed: ModelError" in failure
    assert "did not start" in failure


def test_operations_check_invokes_an_async_endpoint_through_the_queue(deployed: Deployed) -> None:
    # GIVEN an asynchronous endpoint (no InputPath output: the input goes under the constructs' default prefix)
    # WHEN the check runs
    report = check_stack(
        "CheckAsync",
        session=deployed.session,
        runtime_endpoint_url=deployed.rehearsal.plane.endpoint_url,
        endpoint_url=deployed.rehearsal.moto.endpoint_url,
        timeout_s=120,
    )
    # THEN the request went through the queue and its output arrived; the check removed what it wrote
    assert report.ok, report.lines
    assert any("(asynchronous) answered through the queue" in line for line in report.lines)
    s3 = deployed.session.client("s3", endpoint_url=deployed.rehearsal.moto.endpoint_url)
    left = s3.list_objects_v2(Bucket=deployed.rehearsal.bucket, Prefix="async-inference/input/").get(
        "KeyCount", 0
    )
    assert left == 0


def test_operations_check_invokes_every_target_model_of_a_multi_model_endpoint(deployed: Deployed) -> None:
    # GIVEN a multi-model endpoint whose prefix holds one archive
    # WHEN the check runs
    report = check_stack(
        "CheckMultiModel",
        session=deployed.session,
        runtime_endpoint_url=deployed.rehearsal.plane.endpoint_url,
        endpoint_url=deployed.rehearsal.moto.endpoint_url,
        timeout_s=120,
    )
    # THEN it invoked that TargetModel, with a request built from the archive's config.pbtxt
    assert report.ok, report.lines
    assert any("variant AllTraffic TargetModel bert_v0.tar.gz answered" in line for line in report.lines)


def test_operations_check_refuses_an_unknown_stack_naming_those_that_exist(
    deployed: Deployed, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a stack name with a typo
    # WHEN the check runs
    code = main(["--stack", "CheckRealtim"])
    # THEN bad input: exit 2, one line naming the flag, the value, the near match and the stacks that exist
    err = capsys.readouterr().err
    assert code == 2
    assert "--stack: got 'CheckRealtim'" in err
    assert "did you mean 'CheckRealtime'?" in err
    assert "CheckAsync, CheckBroken, CheckMultiModel, CheckRealtime" in err
    assert "Traceback" not in err


# --- one endpoint, from SageMaker's descriptions (the pipeline's smoke test) ----------------------


def _deployed_names(deployed: Deployed, stack: str) -> tuple[str, str]:
    """The endpoint and endpoint config a stack deployed (what its EndpointName/EndpointConfigName outputs say)."""
    resources = deployed.cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    by_type = {r["ResourceType"]: str(r["PhysicalResourceId"]).rsplit("/", 1)[-1] for r in resources}
    return by_type["AWS::SageMaker::Endpoint"], by_type["AWS::SageMaker::EndpointConfig"]


def _recording_session(deployed: Deployed, called: set[str]) -> Any:
    """The fixture's session, recording the IAM action of every AWS call its clients make."""
    import boto3

    credentials = deployed.session.get_credentials()
    session = boto3.Session(
        region_name=deployed.session.region_name,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
    )

    def record(model: Any, **_: Any) -> None:
        prefix = model.service_model.signing_name  # sagemaker-runtime signs as sagemaker
        called.add(f"{prefix}:{ {'ListObjectsV2': 'ListBucket'}.get(model.name, model.name) }")

    session.events.register("before-call", record)
    return session


@pytest.mark.parametrize(
    ("kind", "stack", "answered"),
    [
        ("realtime", "CheckRealtime", "variant AllTraffic answered"),
        ("multi-model", "CheckMultiModel", "TargetModel bert_v0.tar.gz answered"),
        ("async", "CheckAsync", "(asynchronous) answered through the queue"),
    ],
)
def test_operations_check_endpoint_mode_passes_each_kind_with_only_the_actions_it_declares(
    deployed: Deployed, kind: str, stack: str, answered: str
) -> None:
    # GIVEN an endpoint of each kind, checked by name only; the async input goes under the prefix
    # given (--input-path: the stack's InputPath output)
    called: set[str] = set()
    input_path = f"s3://{deployed.rehearsal.bucket}/smoke-input"
    # WHEN the check runs
    report = check_endpoint(
        *_deployed_names(deployed, stack),
        session=_recording_session(deployed, called),
        runtime_endpoint_url=deployed.rehearsal.plane.endpoint_url,
        endpoint_url=deployed.rehearsal.moto.endpoint_url,
        timeout_s=120,
        input_path=input_path,
    )
    # THEN it passed (every TargetModel answered, the async request came back through the queue,
    # from under the given prefix, and was removed)
    assert report.ok, report.lines
    assert any(answered in line for line in report.lines)
    s3 = deployed.session.client("s3", endpoint_url=deployed.rehearsal.moto.endpoint_url)
    assert s3.list_objects_v2(Bucket=deployed.rehearsal.bucket, Prefix="smoke-input/").get("KeyCount", 0) == 0
    # using exactly the actions ENDPOINT_ACTIONS declares for the kind (what grant_smoke_test grants)
    assert called == ENDPOINT_ACTIONS[kind]


def test_operations_check_endpoint_mode_stops_the_promotion_on_another_config(
    deployed: Deployed, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an expected config the endpoint does not run (the deploy created it, a rollback left the old one)
    endpoint, config = _deployed_names(deployed, "CheckRealtime")
    other = deployed.rehearsal.sagemaker.describe_endpoint(EndpointName="bert")["EndpointConfigName"]
    # WHEN the smoke test runs
    code = main(["--endpoint", endpoint, "--expected-config", other])
    # THEN exit 1, one FAIL line saying plainly which config runs and which was expected, not invoked,
    # and a last line telling the pipeline log's reader that the promotion should stop
    captured = capsys.readouterr()
    assert code == 1
    (line,) = [line for line in captured.out.splitlines() if line.startswith("FAIL")]
    assert line.startswith(
        f"FAIL  endpoint {endpoint} runs endpoint config {config}, expected {other} "
        "(--expected-config, the one this deploy created): rolled back: the endpoint still runs"
    )
    assert "Not invoked" in line and "answered" not in captured.out
    assert "1 check(s) failed; the promotion should stop because of the FAIL line(s) above" in captured.err


def test_operations_check_endpoint_mode_refuses_an_unknown_endpoint(
    deployed: Deployed, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an endpoint name with a typo  THEN bad input naming the near match, before any invocation
    endpoint, config = _deployed_names(deployed, "CheckRealtime")
    code = main(["--endpoint", endpoint[:-1], "--expected-config", config])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--endpoint: got {endpoint[:-1]!r}, an endpoint that does not exist" in err
    assert f"did you mean {endpoint!r}?" in err


def test_operations_check_the_pipeline_step_command_assumes_the_smoke_test_role(
    deployed: Deployed, cli_env: None
) -> None:
    # GIVEN the role a serving stack gives its smoke test (moto's IAM and STS), and the smoke test
    # step's own command line with the environment the pipeline gives it from the stack's outputs
    from stacks.pipeline_smoke import ENV_ENDPOINT, ENV_EXPECTED_CONFIG, ENV_ROLE_ARN, check_command

    iam = deployed.session.client("iam", endpoint_url=deployed.rehearsal.moto.endpoint_url)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = iam.create_role(
        RoleName="CheckRealtime-smoke-test", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    endpoint, config = _deployed_names(deployed, "CheckRealtime")
    env = {**os.environ, ENV_ENDPOINT: endpoint, ENV_EXPECTED_CONFIG: config, ENV_ROLE_ARN: role_arn}
    # `python` is the project's interpreter, as the Makefile's PATH (and CodeBuild's runtime) make it
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    # WHEN the command runs as plain shell in the repository root
    done = subprocess.run(
        ["bash", "-c", check_command(region="us-east-1", timeout_s=120)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN it ran as the assumed role (STS says so) and the check passed
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "python -m operations check: running as "
        "arn:aws:sts::123456789012:assumed-role/CheckRealtime-smoke-test/operations-check"
    ) in done.stderr
    assert f"ok    endpoint {endpoint} runs {config} as deployed, InService" in done.stdout
    assert f"ok    endpoint {endpoint} variant AllTraffic answered" in done.stdout
    assert done.stderr.strip().endswith("python -m operations check: all checks passed")
