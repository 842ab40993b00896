"""The smoke test's side of the pipeline: the access role in a serving stack, and the step that assumes it.

One serving stack with the three endpoint kinds (real-time, asynchronous, multi-model; model data
from an imported bucket, so nothing is built), the access role added for a pipeline in another
account, synthesized once under cdk-nag AwsSolutions. CodePipeline and CodeBuild cannot run
here: the step is read through its properties (what CDK Pipelines renders into the CodeBuild
project), its command runs for real against the rehearsal in ``test_operations_check.py``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnElement, CfnOutput, Environment, Stack, pipelines
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from operations.check import ENDPOINT_ACTIONS
from serving_constructs import (
    AsyncEndpoint,
    InstanceType,
    ModelArtifact,
    MultiModelEndpoint,
    ProductionVariant,
    PropsError,
    RealtimeEndpoint,
    TritonModel,
)
from stacks.pipeline_smoke import (
    CHECK_PACKAGES,
    INSTALL_COMMAND,
    ROLE_OUTPUT,
    add_smoke_test_access,
    smoke_test_role_name,
    smoke_test_step,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGE_ACCOUNT = "111111111111"
PIPELINE_ACCOUNT = "222222222222"
STACK_NAME = "Staging-TritonServing"
KINDS = {"realtime": "Realtime", "async": "Async", "multi-model": "Mme"}
"""ENDPOINT_ACTIONS' endpoint kinds -> the endpoint of that kind in the stack."""


@dataclass
class Serving:
    stack: Stack
    template: Template
    raw: dict[str, Any]
    findings: list[str]
    role: iam.Role


def _serving_stack(app: App) -> Stack:
    stack = Stack(
        app,
        "TritonServing",
        stack_name=STACK_NAME,
        env=Environment(account=STAGE_ACCOUNT, region="eu-west-1"),
    )
    bucket = s3.Bucket.from_bucket_name(stack, "ModelsBucket", "models-bucket")
    small = InstanceType.of("ml.m5.large")
    model = TritonModel(
        stack, "Model", artifact=ModelArtifact.from_bucket(bucket, "bert/model.tar.gz", model_name="bert")
    )
    realtime = RealtimeEndpoint(
        stack, "Realtime", variants=[ProductionVariant(model=model, instance_type=small)]
    )
    async_model = TritonModel(
        stack,
        "AsyncModel",
        artifact=ModelArtifact.from_bucket(bucket, "async/model.tar.gz", model_name="bert"),
    )
    async_endpoint = AsyncEndpoint(
        stack,
        "Async",
        variants=[ProductionVariant(model=async_model, instance_type=small, initial_instance_count=1)],
    )
    CfnOutput(stack, "InputPath", value=async_endpoint.input_path)
    mme = MultiModelEndpoint(stack, "Mme")
    mme.add_model("resnet_v0.tar.gz", ModelArtifact.from_bucket(bucket, "resnet/model.tar.gz"))
    CfnOutput(stack, "EndpointName", value=realtime.endpoint_name)
    CfnOutput(stack, "EndpointConfigName", value=realtime.endpoint_config_name)
    return stack


@pytest.fixture(scope="module")
def serving(nag_violations: Callable[[App], list[str]], tmp_path_factory: pytest.TempPathFactory) -> Serving:
    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stack = _serving_stack(app)
    role = add_smoke_test_access(stack, trusted_account=PIPELINE_ACCOUNT)
    # One role per endpoint kind too, to compare each kind's grant with what the check calls for it
    for path in KINDS.values():
        endpoint = stack.node.find_child(path)
        endpoint.grant_smoke_test(iam.Role(stack, f"Only{path}", assumed_by=iam.AccountRootPrincipal()))
    findings = nag_violations(app)
    raw = json.loads((Path(app.outdir) / f"{stack.artifact_id}.template.json").read_text())
    return Serving(stack, Template.from_json(raw), raw, findings, role)


def _statements(serving: Serving, role: Any = None) -> list[dict[str, Any]]:
    role = serving.role if role is None else role
    policy = serving.stack.resolve(role.node.find_child("DefaultPolicy").node.default_child.logical_id)
    return list(serving.raw["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"])


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}


def _ref(serving: Serving, path: str) -> dict[str, str]:
    construct = serving.stack.node.find_child(path.split("/")[0])
    for part in path.split("/")[1:]:
        construct = construct.node.find_child(part)
    element = construct if isinstance(construct, CfnElement) else construct.node.default_child
    return {"Ref": serving.stack.resolve(element.logical_id)}


def test_smoke_test_role_is_named_from_the_stack_and_trusts_the_pipeline_account_only(
    serving: Serving,
) -> None:
    # THEN a deterministic name the pipeline can format, and a trust of the pipeline's account only
    name = smoke_test_role_name(serving.stack)
    assert name.startswith(f"{STACK_NAME}-smoke-test-") and len(name) <= 64
    serving.template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": name,
            "MaxSessionDuration": 3600,
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": {
                                "Fn::Join": [
                                    "",
                                    ["arn:", {"Ref": "AWS::Partition"}, f":iam::{PIPELINE_ACCOUNT}:root"],
                                ]
                            }
                        },
                    }
                ]
            },
        },
    )
    role_id = serving.stack.resolve(serving.role.node.default_child.logical_id)
    assert serving.template.find_outputs(ROLE_OUTPUT)[ROLE_OUTPUT]["Value"] == {
        "Fn::GetAtt": [role_id, "Arn"]
    }


def test_smoke_test_role_may_do_exactly_what_the_check_does_on_this_stacks_resources(
    serving: Serving,
) -> None:
    statements = _statements(serving)
    by_action: dict[str, list[Any]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in actions:
            by_action.setdefault(action, []).extend(resources)
    # THEN only the check's actions (no wildcard action, no "*" resource): for each endpoint kind,
    # exactly what the check calls on one (ENDPOINT_ACTIONS, held to the calls on the rehearsal)
    for kind, path in KINDS.items():
        only = serving.stack.node.find_child(f"Only{path}")
        assert _actions(_statements(serving, only)) == ENDPOINT_ACTIONS[kind], kind
    assert set(by_action) == set().union(*ENDPOINT_ACTIONS.values())
    assert all(resource != "*" for resources in by_action.values() for resource in resources)
    # describe: the three endpoints, their configs and their models, by Ref (their ARNs)
    assert by_action["sagemaker:DescribeEndpoint"] == [_ref(serving, p) for p in ("Realtime", "Async", "Mme")]
    assert by_action["sagemaker:DescribeEndpointConfig"] == [
        _ref(serving, f"{p}/EndpointConfig") for p in ("Realtime", "Async", "Mme")
    ]
    assert by_action["sagemaker:DescribeModel"] == [
        _ref(serving, p) for p in ("Model", "AsyncModel", "Mme/Model")
    ]
    # invoke: the real-time and multi-model endpoints; the async one only asynchronously
    assert by_action["sagemaker:InvokeEndpoint"] == [_ref(serving, "Realtime"), _ref(serving, "Mme")]
    assert by_action["sagemaker:InvokeEndpointAsync"] == [_ref(serving, "Async")]
    # the listing: the multi-model prefix only
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["models/*"]}}


def test_smoke_test_role_reads_the_archives_and_round_trips_only_under_the_async_prefixes(
    serving: Serving,
) -> None:
    rendered = json.dumps(_statements(serving))
    # the two archives, object by object
    for key in ("bert/model.tar.gz", "async/model.tar.gz"):
        assert f':s3:::models-bucket/{key}"' in rendered
    puts = [s for s in _statements(serving) if s["Action"] == "s3:PutObject"]
    deletes = [s for s in _statements(serving) if s["Action"] == "s3:DeleteObject"]
    assert [json.dumps(s["Resource"]).count("/async-inference/input/*") for s in puts] == [1]
    (delete,) = deletes
    assert [r["Fn::Join"][1][1] for r in delete["Resource"]] == [
        "/async-inference/input/*",
        "/async-inference/output/*",
        "/async-inference/failures/*",
    ]


def test_serving_stack_with_the_smoke_test_role_is_nag_clean(serving: Serving, cfn_lint_errors) -> None:
    # THEN every finding is acknowledged with its reason (the prefix wildcards), and cfn-lint is clean
    assert serving.findings == []
    assert cfn_lint_errors(serving.raw, regions=["eu-west-1"]) == []


def test_smoke_test_step_reads_the_outputs_and_may_only_assume_that_role(serving: Serving) -> None:
    # GIVEN the pipeline's stack in its own account, and the repository as the step's input
    app = App()
    pipeline_stack = Stack(app, "Pipeline", env=Environment(account=PIPELINE_ACCOUNT, region="eu-west-1"))
    source = pipelines.CodePipelineSource.connection(
        "owner/repo",
        "main",
        connection_arn="arn:aws:codestar-connections:eu-west-1:222222222222:connection/x",
    )
    # WHEN the step is made for the serving stack
    step = smoke_test_step(serving.stack, input=source)
    # THEN its environment comes from the stack's three outputs
    assert step.id == "SmokeTest-TritonServing"
    assert {name: ref.output_name for name, ref in step.env_from_cfn_outputs.items()} == {
        "ENDPOINT_NAME": "EndpointName",
        "EXPECTED_ENDPOINT_CONFIG": "EndpointConfigName",
        "SMOKE_TEST_ROLE_ARN": ROLE_OUTPUT,
        "ASYNC_INPUT_PATH": "InputPath",  # the stack has an asynchronous endpoint
    }
    # its role may do one thing: assume the stage's role, whose ARN the pipeline knows without a reference
    (statement,) = [pipeline_stack.resolve(s.to_statement_json()) for s in step.role_policy_statements]
    assert statement == {
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Resource": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    f":iam::{STAGE_ACCOUNT}:role/{smoke_test_role_name(serving.stack)}",
                ],
            ]
        },
    }
    # and it installs the check's packages, then runs the check on that endpoint as that role
    assert step.install_commands == [INSTALL_COMMAND]
    assert step.commands == [
        'python -m operations check --endpoint "$ENDPOINT_NAME" --expected-config "$EXPECTED_ENDPOINT_CONFIG" '
        '--assume-role "$SMOKE_TEST_ROLE_ARN" --input-path "$ASYNC_INPUT_PATH" --region eu-west-1 --timeout 600'
    ]


def test_smoke_test_install_takes_the_pins_of_requirements_txt() -> None:
    # GIVEN the install command's package list, evaluated by the shell in the repository root
    listed = subprocess.run(
        ["bash", "-c", "echo " + INSTALL_COMMAND.split("install --quiet ", 1)[1]],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # THEN one pinned requirement per package, exactly as requirements.txt writes it
    pinned = [
        line.split("#")[0].strip() for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
    ]
    assert len(listed) == len(CHECK_PACKAGES)
    assert all("==" in item and item in pinned for item in listed)


def test_smoke_test_role_name_fits_iam_for_a_long_stack_name_and_differs_by_region() -> None:
    app = App()
    long_name = "Production-" + "A" * 100
    one = Stack(app, "One", stack_name=long_name, env=Environment(region="us-east-1"))
    two = Stack(app, "Two", stack_name=long_name, env=Environment(region="eu-west-1"))
    names = {smoke_test_role_name(one), smoke_test_role_name(two)}
    assert len(names) == 2 and all(len(name) == 64 for name in names)


@pytest.mark.parametrize(
    ("act", "fragment"),
    [
        (
            lambda s: add_smoke_test_access(s, trusted_account="2222"),
            "trusted_account must be a 12-digit AWS account id (got '2222')",
        ),
        (
            lambda s: add_smoke_test_access(Stack(App(), "Empty")),
            "Empty has no endpoint of serving_constructs",
        ),
        (
            lambda s: smoke_test_step(s, input=pipelines.CodePipelineSource.git_hub("o/r", "main")),
            "has no SmokeTestRoleArn output — call stacks.pipeline_smoke.add_smoke_test_access",
        ),
    ],
)
def test_smoke_test_bad_input_names_the_prop_and_the_fix(act: Callable[[Stack], Any], fragment: str) -> None:
    stack = _serving_stack(App())
    with pytest.raises(PropsError) as raised:
        act(stack)
    assert fragment in str(raised.value)


_ONLY_THE_INSTALLED = r'''
import importlib.metadata as md
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# What the step's pip install brings: the packages and everything they require (their extras as pinned).
wanted = [Requirement(line) for line in sys.argv[1:]]
allowed, todo = set(), [(r.name, set(r.extras)) for r in wanted]
while todo:
    name, extras = todo.pop()
    if canonicalize_name(name) in allowed:
        continue
    allowed.add(canonicalize_name(name))
    for text in md.requires(name) or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
            todo.append((req.name, set(req.extras)))
owners = md.packages_distributions()
project = {"operations", "model_build"}


class OnlyInstalled:
    """Refuse any third-party module the step's install would not bring (as if it were not installed)."""

    def find_spec(self, name, path=None, target=None):
        root = name.split(".")[0]
        dists = owners.get(root)
        if root in project or not dists or sys.modules.get(root) is not None:
            return None
        if not any(canonicalize_name(d) in allowed for d in dists):
            raise ImportError(f"{root} ({dists}) is not installed by the smoke test step")
        return None


sys.meta_path.insert(0, OnlyInstalled())
from operations.check import main, request_from_config

request_from_config('name: "m" max_batch_size: 1 input [{name: "x" data_type: TYPE_FP32 dims: [-1]}]')
code = main(["--endpoint", "ep", "--expected-config", "cfg", "--assume-role", "arn:aws:iam::123456789012:role/R"])
print("EXIT", code)
'''


def test_smoke_test_install_is_all_the_check_imports(tmp_path: Path) -> None:
    # GIVEN the packages the step installs (with what they require), and nothing else importable
    import os
    import socket
    import sys

    pins = subprocess.run(
        ["bash", "-c", "echo " + INSTALL_COMMAND.split("install --quiet ", 1)[1]],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": nowhere,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("TRITON_IAC_DEBUG", None)
    # WHEN the check builds a request and runs the --assume-role --endpoint path up to its first AWS call
    done = subprocess.run(
        [sys.executable, "-c", _ONLY_THE_INSTALLED, *pins],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    # THEN no import was refused: it got as far as calling STS (unreachable here: bad input, exit 2)
    assert "is not installed by the smoke test step" not in done.stderr, done.stderr
    assert done.stdout.strip().endswith("EXIT 2"), done.stdout + done.stderr
    assert "cannot reach STS" in done.stderr
