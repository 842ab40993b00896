"""The CDK Pipelines stack: source → synth (tests + model builds) → staging → smoke test → approval → production.

A change reaches production only after the serving stacks deployed to **Staging** pass the
post-deploy check (one smoke test step per stack), the IAM changes are confirmed
(``ConfirmPermissionsBroadening``) and a person approves (``ManualApprovalStep``). See docs/pipeline.md.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Environment, Stack, Token, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns

from constructs import Construct
from model_build.cache import DEFAULT_CACHE_DIR
from serving_constructs import PropsError
from serving_constructs._bucket import hardened_bucket
from serving_constructs._nag import acknowledge, arn_finding_prefix, flattened
from stacks.pipeline_engines import INSTALL_ENV, EngineBuild, engine_build_step, synth_engine_inputs
from stacks.pipeline_smoke import smoke_test_step
from stacks.plans import StackPlan
from stacks.serving_stage import ServingStage

#: The CodePipeline stage names, in order (CDK Pipelines names the first four).
STAGE_ORDER = ("Source", "Build", "UpdatePipeline", "Assets", "Staging", "Production")

#: The commands the synth step runs: the README's install, the fast part of ``make test``, then synth.
INSTALL_COMMANDS = ("make setup",)
TEST_COMMANDS = ("make test-fast",)
CDK = "node_modules/.bin/cdk"

#: Where the synth step's CodeBuild project keeps files between runs (its S3 cache; paths as CodeBuild globs).
CACHED_PATHS = (f"{DEFAULT_CACHE_DIR}/**/*",)

#: The CodeBuild image of the synth step: Ubuntu 22.04 with Python 3.11 and Node 20 (the README's versions).
SYNTH_RUNTIME_VERSIONS = {"python": "3.11", "nodejs": "20"}

_GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_CODECOMMIT_REPOSITORY = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,255}$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[A-Za-z0-9-]+$"
)


@dataclass(frozen=True)
class PipelineSource:
    """Where the pipeline takes the repository from; no secret is ever in the template.

    Use the factories :meth:`github` and :meth:`codecommit`.

    Attributes:
        kind: ``"github"`` or ``"codecommit"``.
        repository: ``owner/name`` on GitHub, or the CodeCommit repository's name.
        branch: the branch whose pushes start the pipeline.
        connection_arn: the CodeStar (CodeConnections) connection to GitHub; ``None`` for CodeCommit.
    """

    kind: str
    repository: str
    branch: str
    connection_arn: str | None = None

    @staticmethod
    def github(*, repository: str, connection_arn: str, branch: str = "main") -> PipelineSource:
        """Take the source from a GitHub repository through a CodeStar connection (authorized once; no token here).

        Args:
            repository: ``owner/name``.
            connection_arn: ``arn:aws:codestar-connections:REGION:ACCOUNT:connection/ID`` (or
                ``codeconnections``).
            branch: the branch. Defaults to ``"main"``.

        Raises:
            PropsError: a prop does not have the shape above.
        """
        problems = []
        if not _GITHUB_REPOSITORY.match(repository):
            problems.append(f"repository must be 'owner/name' (got {repository!r})")
        if not _CONNECTION_ARN.match(connection_arn):
            problems.append(
                "connection_arn must be a CodeStar connection ARN like "
                f"'arn:aws:codestar-connections:us-east-1:123456789012:connection/ID' (got {connection_arn!r})"
            )
        problems += _branch_problems(branch)
        _raise(problems)
        return PipelineSource("github", repository, branch, connection_arn)

    @staticmethod
    def codecommit(*, repository_name: str, branch: str = "main") -> PipelineSource:
        """Take the source from a CodeCommit repository of the pipeline's account.

        Args:
            repository_name: the repository's name.
            branch: the branch. Defaults to ``"main"``.

        Raises:
            PropsError: a prop does not have the shape above.
        """
        problems = []
        if not _CODECOMMIT_REPOSITORY.match(repository_name):
            problems.append(
                f"repository_name must be a CodeCommit repository name (letters, digits, . _ -; got {repository_name!r})"
            )
        problems += _branch_problems(branch)
        _raise(problems)
        return PipelineSource("codecommit", repository_name, branch)

    def bind(self, scope: Construct) -> pipelines.CodePipelineSource:
        """Return the pipeline's source step (a CodeCommit repository is imported by name into ``scope``)."""
        if self.kind == "github":
            assert self.connection_arn is not None
            return pipelines.CodePipelineSource.connection(
                self.repository, self.branch, connection_arn=self.connection_arn, trigger_on_push=True
            )
        repository = codecommit.Repository.from_repository_name(scope, "SourceRepository", self.repository)
        return pipelines.CodePipelineSource.code_commit(repository, self.branch)

    def describe(self) -> str:
        """Say where the source comes from (``github:owner/name@main``)."""
        return f"{self.kind}:{self.repository}@{self.branch}"


def _branch_problems(branch: str) -> list[str]:
    if _BRANCH.match(branch) and ".." not in branch and not branch.endswith(("/", ".lock")):
        return []
    return [f"branch must be a git branch name like 'main' (got {branch!r})"]


def _raise(problems: Sequence[str]) -> None:
    if problems:
        raise PropsError("Invalid PipelineSource props: " + "; ".join(problems))


def synth_command(context: Mapping[str, str]) -> str:
    """Return the ``cdk synth`` command of the synth step: the app with ``context`` (keys sorted, values quoted)."""
    flags = " ".join(f"-c {shlex.quote(f'{key}={value}')}" for key, value in sorted(context.items()))
    return f"{CDK} synth --quiet {flags}".rstrip()


class ServingPipelineStack(Stack):
    """A CDK Pipelines pipeline that deploys the serving stacks to staging, smoke-tests them, then to production.

    Stages, in order: **Source** (the repository) → **Build** (the synth step: ``make setup``, ``make
    test-fast``, ``cdk synth`` with the app's context; the model build cache kept in S3 between runs)
    → **UpdatePipeline** (the pipeline updates itself) → **Assets** (model archives and Lambda code
    published) → **Staging** (the serving stacks, each followed by its smoke test) → **Production**
    (``ConfirmPermissionsBroadening``, then a ``ManualApprovalStep``, then the stacks, each followed by
    its smoke test).

    :meth:`build_pipeline` is called by the constructor, so ``.pipeline.waves`` can be walked at once.

    Args:
        scope: the app.
        construct_id: the stack id.
        source: the repository (:meth:`PipelineSource.github` or :meth:`PipelineSource.codecommit`).
        plans: the serving stacks each stage composes (``app.stack_plans``); their models must have
            been built (``stacks.plans.build_models``).
        synth_context: the context of the synth step's ``cdk synth`` (``-c key=value`` each): the
            context this app was synthesized with, so the pipeline rebuilds itself the same way.
        staging: the staging stage's account and region. Defaults to the pipeline stack's environment.
        production: the production stage's account and region. Defaults to the pipeline stack's
            environment.
        approval_topic_arn: the ARN of an existing SNS topic told when a production deployment waits
            for approval (imported here: the topic must be referenced from inside this stack).
            Defaults to none (the approval waits in the console without a notification).
        tensorrt: what the TensorRT engine step builds (``stacks.pipeline_engines.engine_build_step``:
            a SageMaker Processing job on the endpoint's GPU family); its build-cache entries are an
            additional input of the synth step, which then runs with ``mme_tensorrt=on``. Defaults to
            none: no engine step, the pipeline ships the ONNX path (``mme_tensorrt=off``), and the synth
            step's log says so.
        **kwargs: further ``Stack`` props (``env`` is the pipeline's account and region).

    Raises:
        PropsError: ``plans`` is empty, or a stage's environment is not account-and-region specific
            when the pipeline's is.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: PipelineSource,
        plans: Sequence[StackPlan],
        synth_context: Mapping[str, str],
        staging: Environment | None = None,
        production: Environment | None = None,
        approval_topic_arn: str | None = None,
        tensorrt: EngineBuild | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if not plans:
            raise PropsError(f"Invalid ServingPipelineStack props: plans must name at least one stack (got {list(plans)!r})")
        self.source = source
        self._source = source.bind(self)
        # The engine step (or its absence: nothing builds the engine on the target GPU, ONNX only)
        # decides mme_tensorrt of the synth, and what the synth step copies into its build cache first.
        self.engine_step = (
            None if tensorrt is None else engine_build_step(self, input=self._source, props=tensorrt)
        )
        self.engine_inputs = synth_engine_inputs(
            self.engine_step, **({} if tensorrt is None else {"models": tensorrt.models})
        )
        self._synth_context = {**synth_context, **self.engine_inputs.context}
        self.cache_bucket = hardened_bucket(
            self,
            "BuildCacheBucket",
            holds="the synth step's model build cache (rebuilt from the repository when lost)",
            prop="(none: the pipeline owns this bucket)",
        )
        staging_env = staging if staging is not None else self._own_environment()
        production_env = production if production is not None else self._own_environment()
        cross_account = any(
            env.account is not None and not Token.is_unresolved(self.account) and env.account != self.account
            for env in (staging_env, production_env)
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            synth=self._synth_step(),
            # A key on the artifact bucket that the staging and production accounts can be granted.
            cross_account_keys=cross_account,
            enable_key_rotation=True if cross_account else None,
            publish_assets_in_parallel=False,
        )
        trusted = None if Token.is_unresolved(self.account) else self.account
        self.staging = ServingStage(self, "Staging", plans=plans, env=staging_env, smoke_test_account=trusted)
        self.production = ServingStage(
            self, "Production", plans=plans, env=production_env, smoke_test_account=trusted
        )
        approval_topic = (
            None
            if approval_topic_arn is None
            else sns.Topic.from_topic_arn(self, "ApprovalTopic", approval_topic_arn)
        )
        self.permissions_check = pipelines.ConfirmPermissionsBroadening(
            "CheckPermissionsBroadening", stage=self.production, notification_topic=approval_topic
        )
        self.approval = pipelines.ManualApprovalStep(
            "ApproveProduction",
            comment=(
                "Staging passed its smoke tests. Before approving, look at: the Staging smoke test logs (each "
                "endpoint InService on the expected endpoint config, one invocation per variant / model / async "
                "round trip), the IAM changes CheckPermissionsBroadening listed, and the change sets of the "
                "Production stacks (endpoint replacements, deleted buckets)."
            ),
            notification_topic=approval_topic,
        )
        # Steps of one `pre` list run side by side unless ordered: the IAM check comes first.
        self.approval.add_step_dependency(self.permissions_check)
        self.pipeline.add_stage(self.staging, stack_steps=self._smoke_test_steps(self.staging))
        self.pipeline.add_stage(
            self.production,
            pre=[self.permissions_check, self.approval],
            stack_steps=self._smoke_test_steps(self.production),
        )
        self.pipeline.build_pipeline()
        self._acknowledge_findings()

    @property
    def synth_context(self) -> dict[str, str]:
        """The context of the synth step's ``cdk synth``."""
        return dict(self._synth_context)

    def _own_environment(self) -> Environment:
        return Environment(
            account=None if Token.is_unresolved(self.account) else self.account,
            region=None if Token.is_unresolved(self.region) else self.region,
        )

    def _synth_step(self) -> pipelines.CodeBuildStep:
        return pipelines.CodeBuildStep(
            "Synth",
            input=self._source,
            install_commands=list(INSTALL_COMMANDS),
            env=dict(INSTALL_ENV),
            additional_inputs=dict(self.engine_inputs.additional_inputs),
            commands=[
                *TEST_COMMANDS,
                *self.engine_inputs.commands,
                # The build log says which path ships (the ONNX path, or the engine built on the target GPU).
                f"echo {shlex.quote(self.engine_inputs.note)}",
                synth_command(self._synth_context),
            ],
            primary_output_directory="cdk.out",
            build_environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                # 8 vCPUs and 15 GB: the model builds of a cold cache run side by side on every core.
                compute_type=codebuild.ComputeType.LARGE,
            ),
            cache=codebuild.Cache.bucket(self.cache_bucket, prefix="synth"),
            partial_build_spec=codebuild.BuildSpec.from_object(
                {
                    "phases": {"install": {"runtime-versions": dict(SYNTH_RUNTIME_VERSIONS)}},
                    "cache": {"paths": list(CACHED_PATHS)},
                }
            ),
            timeout=Duration.hours(1),
        )

    def _smoke_test_steps(self, stage: ServingStage) -> list[pipelines.StackSteps]:
        return [
            pipelines.StackSteps(
                stack=stack,
                post=[smoke_test_step(stack, input=self._source)],
            )
            for stack in stage.serving_stacks
        ]

    def _acknowledge_findings(self) -> None:
        """Acknowledge, finding by finding and each with its reason, the wildcards CDK Pipelines generates.

        Every role gets the artifact bucket's and key's grants; every CodeBuild project its own log group
        and report groups; CDK Pipelines' own parts (self-mutation, asset publishing, the
        permissions-broadening check) a few more, named below. A wildcard in a step's own
        ``role_policy_statements`` (a smoke test's) is not among them, so it still fails synthesis.
        """
        pipeline = self.pipeline.node
        artifacts = self.pipeline.pipeline.artifact_bucket
        acknowledge(
            artifacts,
            "AwsSolutions-S1",
            "The pipeline's artifact bucket (made by CDK Pipelines) holds the outputs of pipeline runs; "
            "object access is logged by CloudTrail data events where the account enables them.",
        )
        grants = "CDK Pipelines grants every role of the pipeline read/write on its artifact bucket and key"
        for finding in (
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            "Action::s3:DeleteObject*",
            "Action::s3:Abort*",
            "Action::kms:ReEncrypt*",
            "Action::kms:GenerateDataKey*",
            f"Resource::{flattened(self, artifacts.arn_for_objects('*'))}",
        ):
            acknowledge(self.pipeline, f"AwsSolutions-IAM5[{finding}]", f"{grants} (objects of that bucket only).")
        for project in [c for c in pipeline.find_all() if isinstance(c, codebuild.Project)]:
            name = flattened(self, project.project_name)
            if self.pipeline.pipeline.artifact_bucket.encryption_key is None:
                # Single account (no cross_account_keys): nothing outside the account reads the artifacts.
                acknowledge(
                    project,
                    "AwsSolutions-CB4",
                    "Staging and Production are the pipeline's own account: the build artifacts stay in its artifact "
                    "bucket, encrypted with the S3-managed key; a customer-managed KMS key is made (cross_account_keys) "
                    "when a stage is in another account.",
                )
            for finding in (
                f"{arn_finding_prefix(self, 'logs')}log-group:/aws/codebuild/{name}:*",
                f"{arn_finding_prefix(self, 'codebuild')}report-group/{name}-*",
            ):
                acknowledge(
                    project,
                    f"AwsSolutions-IAM5[Resource::{finding}]",
                    "CDK Pipelines lets each CodeBuild project write its own log streams and test reports.",
                )
            if project.node.path.endswith("/Build/Synth/CdkBuildProject"):
                acknowledge(
                    project,
                    "AwsSolutions-IAM5[Resource::" + flattened(self, self.cache_bucket.arn_for_objects("*")) + "]",
                    "The synth step reads and writes the build cache (CodeBuild's S3 cache) in its own bucket.",
                )
        account = "<AWS::AccountId>" if Token.is_unresolved(self.account) else self.account
        own = {
            "UpdatePipeline": {
                "*": "self-mutation reads the status of any stack (cloudformation:DescribeStacks) and lists buckets",
                f"arn:*:iam::{account}:role/*": "self-mutation assumes the CDK bootstrap roles (cdk-*) to deploy the "
                "pipeline stack",
            },
            "Assets": {
                "*": "asset publishing assumes the CDK bootstrap file-publishing roles of each target account",
                f"{arn_finding_prefix(self, 'logs')}log-group:/aws/codebuild/*": "asset publishing projects are "
                "created per asset; their log groups are not known to the shared role",
                f"{arn_finding_prefix(self, 'codebuild')}report-group/*": "the same for their report groups",
            },
            "PipelinesSecurityCheck": {
                "*": "ConfirmPermissionsBroadening reads the pipeline's state and approves the check when no IAM "
                "change broadens permissions",
            },
        }
        for child_id, findings in own.items():
            child = pipeline.try_find_child(child_id)
            if child is None:
                continue
            for finding, reason in findings.items():
                acknowledge(child, f"AwsSolutions-IAM5[Resource::{finding}]", f"Made by CDK Pipelines: {reason}.")
        security_check = pipeline.try_find_child("PipelinesSecurityCheck")
        if security_check is not None:
            approve = next(c for c in security_check.node.find_all() if isinstance(c, lambda_.Function))
            acknowledge(
                security_check,
                f"AwsSolutions-IAM5[Resource::{flattened(self, approve.function_arn)}:*]",
                "Made by CDK Pipelines: the check's CodeBuild project invokes any version of the auto-approve Lambda.",
            )
            acknowledge(
                security_check,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "Made by CDK Pipelines for ConfirmPermissionsBroadening's auto-approve Lambda: its own logs only.",
            )
