"""The pipeline's smoke test: a least-privilege role in each serving stack, and the step that assumes it.

After a stage deploys a serving stack, CDK Pipelines runs :func:`smoke_test_step` (a
``CodeBuildStep``): ``python -m operations check --endpoint ... --expected-config ...
--assume-role ...`` against the endpoint the stack just deployed, from SageMaker's own
descriptions (docs/post-deploy-check.md). It fails the promotion when the endpoint is not
``InService``, runs another endpoint config than the deploy created (a silent rollback), or does
not answer once per variant / ``TargetModel`` / asynchronous round trip.

**Who may do what.** The stage may live in another account than the pipeline. So
:func:`add_smoke_test_access` puts a role into the serving stack itself, trusted by the pipeline's
account, with exactly the check's permissions on that stack's endpoints
(:meth:`serving_constructs.EndpointBase.grant_smoke_test`); the step's CodeBuild role may only
``sts:AssumeRole`` that one role. Same account or not, the step works the same way.

**Why the role has a fixed name.** The step's ``role_policy_statements`` are synthesized into the
*pipeline's* stack, which cannot reference a resource of a stack in another account or region
(no cross-stack reference crosses an account). So the role's ARN must be known when the pipeline
is synthesized: :func:`smoke_test_role_name` derives it from the serving stack's name (and region),
both fixed by the stage, and the pipeline formats ``arn:<partition>:iam::<stage account>:role/<name>``
from it. The step reads the same ARN from the stack's ``SmokeTestRoleArn`` output at run time.
"""

from __future__ import annotations

import hashlib
import re
import shlex

from aws_cdk import Aws, CfnOutput, Duration, Stack, Token, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam

from serving_constructs import EndpointBase, PropsError

ROLE_OUTPUT = "SmokeTestRoleArn"
"""The serving stack's output holding the smoke-test role's ARN."""
ENDPOINT_OUTPUT = "EndpointName"
CONFIG_OUTPUT = "EndpointConfigName"
ROLE_ID = "SmokeTestRole"
"""The construct id of the role in the serving stack."""

ENV_ENDPOINT = "ENDPOINT_NAME"
ENV_EXPECTED_CONFIG = "EXPECTED_ENDPOINT_CONFIG"
ENV_ROLE_ARN = "SMOKE_TEST_ROLE_ARN"
ENV_INPUT_PATH = "ASYNC_INPUT_PATH"
"""The step's environment variables, from the stack's outputs (``env_from_cfn_outputs``); the last
only for a stack with an ``InputPath`` output (an asynchronous endpoint's)."""
INPUT_OUTPUT = "InputPath"

CHECK_PACKAGES = ("boto3", "tritonclient", "protobuf")
"""What ``python -m operations check`` imports beyond the repository: boto3, and the Triton model
config protobufs it builds its request from. Installed at the versions ``requirements.txt`` pins."""
INSTALL_COMMAND = (
    "python -m pip install --quiet $(grep -E '^(" + "|".join(CHECK_PACKAGES) + r")[=\[]' requirements.txt)"
)
"""The step's install: only the check's packages, pinned by requirements.txt (not ``make setup``,
which installs torch, the exporters and Triton, minutes and gigabytes the check never uses)."""
RUNTIME_VERSIONS = {"python": "3.11"}
"""The CodeBuild runtime of the step (the README's Python)."""

_MAX_ROLE_NAME = 64
_ACCOUNT = re.compile(r"\d{12}")


def smoke_test_role_name(stack: Stack) -> str:
    """Return the smoke-test role's name in ``stack``: ``<stack name>-smoke-test-<8 hex>``, at most 64 characters.

    The name starts with (up to 44 characters of) the stack's name, so a person recognises it; the
    suffix is a hash of the region and the full stack name, so two stacks never share a name in an
    account (IAM names are account-wide), also when the stack name is cut or the same stack is
    deployed to two regions.

    Raises:
        PropsError: the stack's name is not known at synth (a token).
    """
    name = stack.stack_name
    if Token.is_unresolved(name):
        raise PropsError(
            f"Invalid add_smoke_test_access props: {stack.node.path} has a stack name that is a token; the "
            "smoke-test role is named after it so that the pipeline can assume it — give the stack a plain name"
        )
    region = "" if Token.is_unresolved(stack.region) else stack.region
    digest = hashlib.sha256(f"{region}/{name}".encode()).hexdigest()[:8]
    suffix = f"-smoke-test-{digest}"
    return name[: _MAX_ROLE_NAME - len(suffix)] + suffix


def smoke_test_role_arn(stack: Stack) -> str:
    """Return the ARN of ``stack``'s smoke-test role, for a policy in another stack (the pipeline's).

    The account is the serving stack's; an environment-agnostic stack deploys into the account of
    the stack that uses the ARN (a pipeline's stage without ``env`` deploys into the pipeline's).
    """
    account = Aws.ACCOUNT_ID if Token.is_unresolved(stack.account) else stack.account
    return f"arn:{Aws.PARTITION}:iam::{account}:role/{smoke_test_role_name(stack)}"


def _endpoints(stack: Stack) -> list[EndpointBase]:
    return [child for child in stack.node.find_all() if isinstance(child, EndpointBase)]


def add_smoke_test_access(stack: Stack, *, trusted_account: str | None = None) -> iam.Role:
    """Add to a serving stack the role its smoke test assumes, and the ``SmokeTestRoleArn`` output.

    The role is trusted by ``trusted_account`` (the pipeline's; its principals still need
    ``sts:AssumeRole`` on the role in their own policy: :func:`smoke_test_step` grants exactly
    that) and may do exactly what the post-deploy check needs on every endpoint of the stack:
    :meth:`serving_constructs.EndpointBase.grant_smoke_test`. Its name is
    :func:`smoke_test_role_name`. Call it after the stack's endpoints have their variants.

    Args:
        stack: a serving stack (one or more endpoints of this library).
        trusted_account: the 12-digit account the pipeline runs in. Defaults to the stack's own account.

    Returns:
        The role.

    Raises:
        PropsError: ``trusted_account`` is not 12 digits, the stack has no endpoint, or already has the role.
    """
    problems = []
    if trusted_account is not None and not (
        isinstance(trusted_account, str) and _ACCOUNT.fullmatch(trusted_account)
    ):
        problems.append(
            f"trusted_account must be a 12-digit AWS account id (got {trusted_account!r}) — pass the pipeline's "
            "account, or omit it for the stack's own"
        )
    endpoints = _endpoints(stack)
    if not endpoints:
        problems.append(
            f"{stack.node.path} has no endpoint of serving_constructs, so there is nothing to smoke-test"
        )
    if stack.node.try_find_child(ROLE_ID) is not None:
        problems.append(
            f"{stack.node.path} already has its smoke-test role — call add_smoke_test_access once"
        )
    if problems:
        raise PropsError("Invalid add_smoke_test_access props: " + "; ".join(problems))
    principal: iam.IPrincipal = (
        iam.AccountRootPrincipal() if trusted_account is None else iam.AccountPrincipal(trusted_account)
    )
    role = iam.Role(
        stack,
        ROLE_ID,
        role_name=smoke_test_role_name(stack),
        assumed_by=principal,
        description="Assumed by the pipeline's smoke test: describe and invoke this stack's endpoints, nothing else",
        max_session_duration=Duration.hours(1),
    )
    for endpoint in endpoints:
        endpoint.grant_smoke_test(role)
    CfnOutput(
        stack,
        ROLE_OUTPUT,
        value=role.role_arn,
        description="The pipeline's smoke test assumes this role (python -m operations check --assume-role)",
    )
    return role


def _output(stack: Stack, output_id: str, fix: str) -> CfnOutput:
    child = stack.node.try_find_child(output_id)
    if not isinstance(child, CfnOutput):
        raise PropsError(
            f"Invalid smoke_test_step props: {stack.node.path} has no {output_id} output — {fix}"
        )
    return child


def check_command(*, region: str | None = None, timeout_s: int = 600, input_path: bool = False) -> str:
    """Return the step's check command: plain shell, run in the repository root with the step's environment.

    Args:
        region: the stack's region (``--region``). Defaults to none: boto3's (CodeBuild's ``AWS_REGION``).
        timeout_s: the check's ``--timeout``. Defaults to 600.
        input_path: pass ``--input-path "$ASYNC_INPUT_PATH"`` (an asynchronous endpoint's input prefix).
            Defaults to False.
    """
    where = "" if region is None else f" --region {shlex.quote(region)}"
    upload = f' --input-path "${ENV_INPUT_PATH}"' if input_path else ""
    return (
        f'python -m operations check --endpoint "${ENV_ENDPOINT}" --expected-config "${ENV_EXPECTED_CONFIG}" '
        f'--assume-role "${ENV_ROLE_ARN}"{upload}{where} --timeout {timeout_s}'
    )


def smoke_test_step(
    stack: Stack,
    *,
    input: pipelines.IFileSetProducer,
    timeout_s: int = 600,
    step_id: str | None = None,
) -> pipelines.CodeBuildStep:
    """Return the ``CodeBuildStep`` that smoke-tests ``stack`` after its deploy (``StackSteps(stack, post=[...])``).

    Environment from the stack's outputs: ``ENDPOINT_NAME`` (``EndpointName``),
    ``EXPECTED_ENDPOINT_CONFIG`` (``EndpointConfigName``) and ``SMOKE_TEST_ROLE_ARN``
    (``SmokeTestRoleArn``, from :func:`add_smoke_test_access`), and for a stack with an
    ``InputPath`` output (asynchronous) ``ASYNC_INPUT_PATH``, passed as ``--input-path`` so the
    request goes where the role may put it. The step's own role may only
    ``sts:AssumeRole`` the stack's smoke-test role. Commands: :data:`INSTALL_COMMAND`, then
    :func:`check_command`.

    Args:
        stack: a serving stack with the three outputs.
        input: the repository (the pipeline's source), where ``python -m operations`` runs.
        timeout_s: the check's ``--timeout`` (one invocation, the async answer included). Defaults to 600.
        step_id: the step's id. Defaults to ``SmokeTest-<stack id>``.

    Raises:
        PropsError: an output is missing (the message says which call adds it).
    """
    access = "call stacks.pipeline_smoke.add_smoke_test_access(stack, trusted_account=...) first"
    outputs = {
        ENV_ENDPOINT: _output(stack, ENDPOINT_OUTPUT, "every serving stack outputs its endpoint's name"),
        ENV_EXPECTED_CONFIG: _output(stack, CONFIG_OUTPUT, "output the endpoint's endpoint_config_name"),
        ENV_ROLE_ARN: _output(stack, ROLE_OUTPUT, access),
    }
    input_path = stack.node.try_find_child(INPUT_OUTPUT)
    if isinstance(input_path, CfnOutput):
        outputs[ENV_INPUT_PATH] = input_path
    if not isinstance(timeout_s, int) or isinstance(timeout_s, bool) or not 1 <= timeout_s <= 3600:
        raise PropsError(
            f"Invalid smoke_test_step props: timeout_s must be a whole number of seconds 1-3600 (got {timeout_s!r})"
        )
    return pipelines.CodeBuildStep(
        step_id or f"SmokeTest-{stack.node.id}",
        input=input,
        env_from_cfn_outputs=outputs,
        install_commands=[INSTALL_COMMAND],
        commands=[
            check_command(
                region=None if Token.is_unresolved(stack.region) else stack.region,
                timeout_s=timeout_s,
                input_path=ENV_INPUT_PATH in outputs,
            )
        ],
        role_policy_statements=[
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[smoke_test_role_arn(stack)])
        ],
        build_environment=codebuild.BuildEnvironment(
            build_image=codebuild.LinuxBuildImage.STANDARD_7_0, compute_type=codebuild.ComputeType.SMALL
        ),
        partial_build_spec=codebuild.BuildSpec.from_object(
            {"phases": {"install": {"runtime-versions": dict(RUNTIME_VERSIONS)}}}
        ),
        timeout=Duration.seconds(timeout_s).plus(Duration.minutes(5)),
    )


__all__ = [
    "add_smoke_test_access",
    "check_command",
    "smoke_test_role_arn",
    "smoke_test_role_name",
    "smoke_test_step",
]
