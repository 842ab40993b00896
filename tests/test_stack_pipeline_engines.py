"""The TensorRT engine step of the pipeline (stacks/pipeline_engines.py): the step, its resources, the switch.

CodeBuild and SageMaker Processing cannot run here (moto runs neither a CodeBuild project nor a
processing job's container); the command the step runs is tested against moto in
tests/test_build_engine_job.py. A CodeBuildStep becomes a template only inside a synthesized
CodePipeline (15 s here), which the pipeline stack's own tests synthesize; these tests read the step's
props, and synthesize its resources with the step's policy statements on a role, as CDK Pipelines
attaches them to the step's project role, in a plain stack (cfn-lint, cdk-nag).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from model_build.user_errors import UserError
from serving_constructs import PropsError, defaults
from stacks.pipeline_engines import (
    ENGINE_CACHE_DIR,
    IMAGE_CONTEXT_KEY,
    MODE_CONTEXT_KEY,
    EngineBuild,
    engine_build_from_context,
    engine_build_step,
    synth_engine_inputs,
)

ACCOUNT, REGION = "111111111111", "us-east-1"
TRITON = defaults.triton_version()
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/tensorrt:{TRITON}-py3"


@pytest.fixture(scope="module")
def synthesized(nag_violations, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The engine step in a stack, its statements on a stand-in for the project role; synthesized once under cdk-nag."""
    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stack = Stack(app, "Pipeline", env=Environment(account=ACCOUNT, region=REGION))
    source = pipelines.CodePipelineSource.code_commit(
        codecommit.Repository(stack, "Repo", repository_name="serving"), "main"
    )
    step = engine_build_step(stack, input=source, props=EngineBuild(image_uri=IMAGE, models="resnet-tiny"))
    project_role = iam.Role(stack, "StepProjectRole", assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"))
    for statement in step.role_policy_statements or ():
        project_role.add_to_policy(statement)
    violations = nag_violations(app)
    template = json.loads((Path(app.outdir) / "Pipeline.template.json").read_text())
    return {"template": template, "step": step, "stack": stack, "violations": violations}


def test_step_runs_the_launcher_for_the_sets_engine_on_the_endpoints_target(synthesized) -> None:
    step = synthesized["step"]
    # THEN the step builds the set's engine for the multi-model endpoint's instance type and Triton release
    (command,) = step.commands
    assert command.startswith(".venv/bin/python -m model_build.engine_job build --example resnet-tiny-trt ")
    assert f"--instance-type ml.g4dn.4xlarge --triton-version {TRITON}" in command
    assert f"--image-uri {IMAGE}" in command and f"--cache-dir {ENGINE_CACHE_DIR}" in command
    assert command.endswith('--role-arn "$ENGINE_JOB_ROLE_ARN" --bucket "$ENGINE_JOB_BUCKET"')
    assert step.install_commands == ["make .venv/.installed"]
    # AND its primary output is the build-cache folder the launcher writes, kept between runs in S3
    assert [o.directory for o in step.outputs] == [ENGINE_CACHE_DIR]
    stack = synthesized["stack"]
    spec = json.loads(stack.resolve(step.partial_build_spec.to_build_spec(stack)))
    assert spec["cache"] == {"paths": [f"{ENGINE_CACHE_DIR}/**/*"]}
    # AND the job's role and bucket reach it as environment variables
    env = synthesized["stack"].resolve(step.env)
    assert "Fn::GetAtt" in env["ENGINE_JOB_ROLE_ARN"] and "Ref" in env["ENGINE_JOB_BUCKET"]
    # AND it runs where the synth step runs (the same image, so the same tool versions and inputs hash)
    assert step.build_environment.compute_type == codebuild.ComputeType.LARGE
    assert step.build_environment.build_image.image_id == codebuild.LinuxBuildImage.STANDARD_7_0.image_id
    # AND its timeout covers the job's hour, the provisioning allowance and the export: 120 minutes
    assert step.timeout.to_minutes() == 120


def test_step_role_may_run_only_its_jobs_pass_only_the_job_role_and_touch_only_the_job_prefix(synthesized) -> None:
    template = Template.from_json(synthesized["template"])
    template.has_resource_properties("AWS::IAM::Policy", {"Roles": [{"Ref": Match.string_like_regexp("StepProjectRole")}],
        "PolicyDocument": {"Statement": [
        {"Action": ["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob"],
         "Effect": "Allow",
         "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":sagemaker:{REGION}:{ACCOUNT}:processing-job/trt-engine-*"]]}},
        {"Action": "iam:PassRole", "Effect": "Allow", "Resource": {"Fn::GetAtt": [Match.string_like_regexp("TensorRTEngineBuildJobRole"), "Arn"]},
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        {"Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow",
         "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [Match.string_like_regexp("TensorRTEngineBuildStaging"), "Arn"]}, "/engine-jobs/*"]]}},
        {"Action": "s3:ListBucket", "Effect": "Allow", "Resource": Match.any_value(),
         "Condition": {"StringLike": {"s3:prefix": ["engine-jobs/*"]}}},
    ]}})  # fmt: skip


def test_job_role_is_for_sagemaker_and_pulls_only_the_tensorrt_repository(synthesized) -> None:
    template = Template.from_json(synthesized["template"])
    template.has_resource_properties("AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}]}})  # fmt: skip
    template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        {"Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
         "Effect": "Allow",
         "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":ecr:{REGION}:{ACCOUNT}:repository/tensorrt"]]}},
    ])}})  # fmt: skip


def test_staging_bucket_is_private_encrypted_ssl_only_and_expires_job_files(synthesized) -> None:
    template = Template.from_json(synthesized["template"])
    template.has_resource_properties("AWS::S3::Bucket", {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like({"Prefix": "engine-jobs/", "ExpirationInDays": 30})])},
    })  # fmt: skip
    template.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}})  # fmt: skip


def test_synth_step_takes_the_engine_entries_and_serves_the_engine(synthesized) -> None:
    step = synthesized["step"]
    wiring = synth_engine_inputs(step, models="resnet-tiny")
    assert wiring.additional_inputs == {ENGINE_CACHE_DIR: step}
    assert wiring.commands == (f"mkdir -p .model-build-cache && cp -R {ENGINE_CACHE_DIR}/. .model-build-cache/",)
    assert wiring.context == {"mme_tensorrt": "on", "mme_models": "resnet-tiny"}


def test_off_ships_the_onnx_path_and_says_so() -> None:
    assert engine_build_from_context(None, None) is None
    assert engine_build_from_context("off", IMAGE) is None
    wiring = synth_engine_inputs(None)
    assert (wiring.additional_inputs, wiring.commands, dict(wiring.context)) == ({}, (), {"mme_tensorrt": "off"})
    assert "ships the ONNX path" in wiring.note
    chosen = engine_build_from_context("processing-job", IMAGE)
    assert chosen is not None and (chosen.image_uri, chosen.models, chosen.target.instance_type) == (
        IMAGE, "resnet50", "ml.g4dn.4xlarge"
    )


@pytest.mark.parametrize(
    ("mode", "image", "needles"),
    [
        ("processing_job", IMAGE, (f"-c {MODE_CONTEXT_KEY}='processing_job'", "did you mean 'processing-job'")),
        ("processing-job", None, (f"needs -c {IMAGE_CONTEXT_KEY}=", f"nvcr.io/nvidia/tensorrt:{TRITON}-py3")),
    ],
)
def test_bad_context_names_the_key_and_the_fix(mode: str, image: str | None, needles: tuple[str, ...]) -> None:
    with pytest.raises(UserError) as raised:
        engine_build_from_context(mode, image)
    assert all(n in str(raised.value) for n in needles), raised.value


@pytest.mark.parametrize(
    ("props", "needle"),
    [
        ({"image_uri": "nvcr.io/nvidia/tensorrt:24.09-py3"}, "image_uri: got 'nvcr.io/nvidia/tensorrt:24.09-py3'; must be an ECR image URI"),
        ({"image_uri": IMAGE.replace(TRITON, "25.04")}, f"its tag is release 25.04, but the endpoint serves Triton {TRITON}"),
        ({"image_uri": IMAGE, "models": "resnet"}, "models must be one of resnet50, resnet-tiny"),
        ({"image_uri": IMAGE, "instance_type": "ml.m5.xlarge"}, "instance_type 'ml.m5.xlarge' has no NVIDIA GPU"),
        ({"image_uri": IMAGE, "instance_type": "ml.p4d.24xlarge"}, "instance_type 'ml.p4d.24xlarge': SageMaker Processing offers no"),
        ({"image_uri": IMAGE, "job_timeout": Duration.hours(7)}, "job_timeout must be between 1 minute and 6 hours"),
    ],
)  # fmt: skip
def test_bad_props_fail_before_anything_is_created(props: dict[str, Any], needle: str) -> None:
    stack = Stack(App(), "S")
    source = pipelines.CodePipelineSource.code_commit(codecommit.Repository(stack, "R", repository_name="r"), "main")
    with pytest.raises(PropsError, match="Invalid EngineBuild props") as raised:
        engine_build_step(stack, input=source, props=EngineBuild(**props))
    assert needle in str(raised.value)
    assert stack.node.try_find_child("TensorRTEngineBuild") is None


def test_template_is_cfn_lint_clean(synthesized, cfn_lint_errors) -> None:
    assert cfn_lint_errors(synthesized["template"]) == []


def test_engine_resources_and_step_statements_are_cdk_nag_clean(synthesized) -> None:
    assert synthesized["violations"] == []
