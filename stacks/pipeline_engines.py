"""TensorRT engines in the pipeline: built on the target GPU family by a SageMaker Processing job, behind a switch.

A TensorRT engine runs only on the GPU architecture and TensorRT version it was built for
(``model_build.engine_target``); the pipeline's CodeBuild machines have neither the endpoint's GPU
nor a way to ask for it (CodeBuild's GPU compute types name vCPUs and memory, not a GPU model). So
the engine is built where the endpoint runs: a SageMaker Processing job on the endpoint's own
instance type (or one with the same GPU), in NVIDIA's TensorRT container of the serving Triton
release (docs/pipeline-engines.md says why, with sources).

:func:`engine_build_step` returns the pipeline step that does it: a ``CodeBuildStep`` that installs
the project as the synth step does, runs ``python -m model_build.engine_job build`` (which runs every
other build stage here and the engine stage in the job, then writes the cache entry a local build
would) and whose primary output directory, :data:`ENGINE_CACHE_DIR`, holds those build-cache entries.
The synth step takes it as an additional input, copies the entries into its build cache and
synthesizes with ``mme_tensorrt=on``, so the multi-model stack serves the engine (and fails
synthesis, saying why, if it is not there). :func:`synth_engine_inputs` says what the synth step adds.

The switch is :data:`ENGINE_BUILD_MODES` (context key :data:`MODE_CONTEXT_KEY`): ``off`` (the
default) ships the ONNX path: no engine step, and the synth runs with ``mme_tensorrt=off``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import ArnFormat, Duration, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs import Construct
from model_build.engine_job import (
    DEFAULT_PREFIX,
    DEFAULT_TIMEOUT_S,
    JOB_NAME_PREFIX,
    STARTUP_ALLOWANCE_S,
    ecr_image,
    image_problems,
    log_location,
    processing_instance_type_for,
)
from model_build.engine_target import EngineTarget
from model_build.user_errors import UserError, did_you_mean
from serving_constructs import PropsError, defaults
from serving_constructs._bucket import hardened_bucket
from serving_constructs._nag import acknowledge, arn_finding_prefix, flattened
from stacks.multi_model_stack import DEFAULT_MODEL_SET, MODEL_SETS

MODE_CONTEXT_KEY = "pipeline_tensorrt"
"""The context key of the switch: one of :data:`ENGINE_BUILD_MODES`."""

IMAGE_CONTEXT_KEY = "pipeline_tensorrt_image"
"""The context key of the TensorRT image (ECR URI) the ``processing-job`` mode needs."""

ENGINE_BUILD_MODES: dict[str, str] = {
    "off": (
        "no engine step: the pipeline ships the ONNX path (the synth runs with mme_tensorrt=off, so the "
        "multi-model endpoint serves TorchScript and ONNX, without resnet_trt_v0.tar.gz)"
    ),
    "processing-job": (
        "a CodeBuild step builds the engine in a SageMaker Processing job on the endpoint's GPU family and "
        "hands its build-cache entry to the synth step, which serves it (mme_tensorrt=on)"
    ),
}
"""The values of :data:`MODE_CONTEXT_KEY` and what each does."""

DEFAULT_MODE = "off"

ENGINE_CACHE_DIR = "engine-cache"
"""The engine step's primary output directory (its build-cache entries), and where the synth step reads it."""

INSTALL_COMMANDS = ("make .venv/.installed",)
"""The Python half of ``make setup`` (the same requirements, so the same tool versions and inputs hash as
the synth step's build; no Node modules or Triton are needed to build an engine)."""

INSTALL_ENV = {"PIP_EXTRA_INDEX_URL": "https://download.pytorch.org/whl/cpu"}
"""The environment of every pipeline step that runs the project's install: ``torch==2.13.0`` from PyPI pulls
GBs of CUDA packages on Linux; PyTorch's CPU index has the same release as ``2.13.0+cpu``, which the pin
accepts and pip (and uv, through ``tools/uv_pip_args.py``) prefers. The engine itself is built in the job's
own image, not with this torch."""

RUNTIME_VERSIONS = {"python": "3.11"}
MAX_JOB_TIMEOUT_S = 6 * 3600


@dataclass(frozen=True, kw_only=True)
class EngineBuild:
    """Props of the engine step: what to build, for which endpoint, with which image.

    Attributes:
        image_uri: NVIDIA's TensorRT container of the serving Triton release mirrored into ECR, e.g.
            ``<account>.dkr.ecr.<region>.amazonaws.com/tensorrt:24.09-py3`` (from
            ``nvcr.io/nvidia/tensorrt:24.09-py3``). Required.
        models: the multi-model set (``mme_models``) whose engine is built. Defaults to ``"resnet50"``.
        instance_type: the endpoint's instance type, the engine's target. Defaults to the multi-model
            stack's default (``ml.g4dn.4xlarge``).
        triton_version: the endpoint's Triton release. Defaults to ``defaults.triton_version()``.
        processing_instance_type: the processing job's instance type. Defaults to the endpoint's, or
            one with the same GPU (``model_build.engine_job.processing_instance_type_for``).
        job_timeout: the processing job's maximum runtime. Defaults to 1 hour.
        prefix: the key prefix of the job's inputs and outputs in the staging bucket. Defaults to
            ``engine-jobs/``.
    """

    image_uri: str
    models: str = DEFAULT_MODEL_SET
    instance_type: str | None = None
    triton_version: str | None = None
    processing_instance_type: str | None = None
    job_timeout: Duration = field(default_factory=lambda: Duration.seconds(DEFAULT_TIMEOUT_S))
    prefix: str = DEFAULT_PREFIX

    @property
    def target(self) -> EngineTarget:
        """Where the engine is served (the multi-model endpoint's instance type and Triton release)."""
        return EngineTarget(
            instance_type=self.instance_type or defaults.multi_model_instance_type_name(),
            triton_version=self.triton_version or defaults.triton_version(),
        )

    @property
    def example(self) -> str:
        """The ``model_build`` example of the set's engine (``resnet50-trt``)."""
        return MODEL_SETS[self.models].tensorrt

    def problems(self) -> list[str]:
        """Every problem of the props, each naming its prop and the fix."""
        problems: list[str] = []
        if self.models not in MODEL_SETS:
            problems.append(
                f"models must be one of {', '.join(MODEL_SETS)} (got {self.models!r})"
                f"{did_you_mean(str(self.models), list(MODEL_SETS))}"
            )
        target = self.target
        target_problems = [p.replace("tensorrt_target.", "", 1) for p in target.problems()]
        problems += target_problems
        if not target_problems:
            problems += [p.replace("--image-uri", "image_uri", 1) for p in image_problems(self.image_uri, target.triton_version)]
            if self.processing_instance_type is None:
                try:
                    processing_instance_type_for(target)
                except UserError as error:
                    problems.append(str(error).replace("--instance-type", "instance_type", 1))
        seconds = self.job_timeout.to_seconds()
        if not 60 <= seconds <= MAX_JOB_TIMEOUT_S:
            problems.append(f"job_timeout must be between 1 minute and 6 hours (got {seconds:g} s)")
        if self.prefix and not (self.prefix.endswith("/") and not self.prefix.startswith("/")):
            problems.append(f"prefix must be empty or end with '/' and not start with one (got {self.prefix!r})")
        return problems


def engine_build_from_context(mode: str | None, image_uri: str | None) -> EngineBuild | None:
    """Return the engine step's props for the context values; None for ``off`` (the default).

    Args:
        mode: the value of :data:`MODE_CONTEXT_KEY`; None means :data:`DEFAULT_MODE`.
        image_uri: the value of :data:`IMAGE_CONTEXT_KEY`.

    Raises:
        UserError: an unknown mode, or ``processing-job`` without an image; the message names the key.
    """
    chosen = DEFAULT_MODE if mode is None else mode
    if chosen not in ENGINE_BUILD_MODES:
        raise UserError(
            f"-c {MODE_CONTEXT_KEY}={chosen!r}: must be one of {', '.join(ENGINE_BUILD_MODES)}"
            f"{did_you_mean(str(chosen), list(ENGINE_BUILD_MODES))}; off ships the ONNX path, processing-job builds "
            "the TensorRT engine on the endpoint's GPU family (docs/pipeline-engines.md)"
        )
    if chosen == "off":
        return None
    if not image_uri:
        raise UserError(
            f"-c {MODE_CONTEXT_KEY}=processing-job needs -c {IMAGE_CONTEXT_KEY}=<ECR URI of "
            f"nvcr.io/nvidia/tensorrt:{defaults.triton_version()}-py3 mirrored into your account> "
            "(docs/pipeline-engines.md, 'Mirror the image')"
        )
    return EngineBuild(image_uri=image_uri)


class EngineBuildResources(Construct):
    """The staging bucket and the role SageMaker runs the engine job with.

    The bucket is hardened (public access blocked, TLS only, SSE-S3) and keeps job files 30 days; the
    role reads the job's inputs, writes its output, pulls the one TensorRT repository and writes the
    job's logs, nothing else.

    Args:
        scope: the pipeline stack.
        construct_id: the construct id.
        props: the engine step's props.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: EngineBuild) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.props = props
        self.bucket = hardened_bucket(
            self, "Staging", holds="the inputs and outputs of TensorRT engine jobs (rebuilt by a rerun)",
            prop="(none: the pipeline owns this bucket)",
        )  # fmt: skip
        self.bucket.add_lifecycle_rule(prefix=props.prefix or None, expiration=Duration.days(30))
        self.role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker Processing: builds TensorRT engines for the pipeline",
        )
        objects = self.bucket.arn_for_objects(f"{props.prefix}*")
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[objects]))
        self.role.add_to_policy(_list_prefix(self.bucket, props.prefix))
        image = ecr_image(props.image_uri)
        assert image is not None  # checked by EngineBuild.problems
        account, region, name = image
        repository = stack.format_arn(
            service="ecr", account=account, region=region, resource="repository", resource_name=name
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[repository],
            )
        )
        # GetAuthorizationToken has no resource-level permissions (ECR's IAM reference).
        self.role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        logs = stack.format_arn(service="logs", resource="log-group", resource_name="/aws/sagemaker/ProcessingJobs:*", arn_format=ArnFormat.COLON_RESOURCE_NAME)
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], resources=[logs])
        )
        self._acknowledge(objects, logs)

    def _acknowledge(self, objects: str, logs: str) -> None:
        acknowledge(
            self.role, f"AwsSolutions-IAM5[Resource::{flattened(self, objects)}]",
            "Each engine job reads and writes its own keys (<prefix><inputs hash>/<job name>/...), unknown until it "
            "starts; the role is limited to the staging bucket's job prefix.",
        )  # fmt: skip
        acknowledge(
            self.role, "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; the image pull itself is limited to the "
            "one TensorRT repository.",
        )  # fmt: skip
        acknowledge(
            self.role, f"AwsSolutions-IAM5[Resource::{flattened(self, logs)}]",
            "SageMaker Processing writes each job's output to its own stream of /aws/sagemaker/ProcessingJobs, "
            "named after the job; the role is limited to that log group.",
        )  # fmt: skip


def _list_prefix(bucket: s3.IBucket, prefix: str) -> iam.PolicyStatement:
    statement = iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
    if prefix:
        statement.add_condition("StringLike", {"s3:prefix": [f"{prefix}*"]})
    return statement


def engine_build_step(
    scope: Construct,
    *,
    input: pipelines.IFileSetProducer,
    props: EngineBuild,
    install_commands: Sequence[str] = INSTALL_COMMANDS,
    runtime_versions: Mapping[str, str] = RUNTIME_VERSIONS,
    build_image: codebuild.IBuildImage | None = None,
) -> pipelines.CodeBuildStep:
    """Return the pipeline step that builds the TensorRT engine on the target GPU family, and its resources.

    The step installs the project, runs ``python -m model_build.engine_job build`` for the set's
    engine example, and leaves the build-cache entry in :data:`ENGINE_CACHE_DIR` (its primary output),
    which the synth step takes as an additional input (:func:`synth_engine_inputs`). Its own
    ``engine-cache`` is kept in the staging bucket between runs, so an unchanged model starts no job.

    Args:
        scope: the pipeline stack (the resources are created in it, as ``TensorRTEngineBuild``).
        input: the source (the same file set the synth step reads).
        props: what to build and with which image.
        install_commands: how the project is installed. Defaults to the Python half of ``make setup``;
            pass the synth step's own commands so both builds hash the same tool versions.
        runtime_versions: CodeBuild runtime versions. Defaults to Python 3.11 (the synth step's).
        build_image: the CodeBuild image. Defaults to ``LinuxBuildImage.STANDARD_7_0`` (the synth step's).

    Raises:
        PropsError: every problem of ``props`` (naming the prop and the fix).
    """
    problems = props.problems()
    if problems:
        raise PropsError("Invalid EngineBuild props: " + "; ".join(problems))
    resources = EngineBuildResources(scope, "TensorRTEngineBuild", props=props)
    stack = Stack.of(scope)
    target = props.target
    command = [
        ".venv/bin/python", "-m", "model_build.engine_job", "build", "--example", props.example,
        "--instance-type", target.instance_type, "--triton-version", target.triton_version,
        "--image-uri", props.image_uri, "--prefix", props.prefix,
        "--timeout", str(int(props.job_timeout.to_seconds())), "--cache-dir", ENGINE_CACHE_DIR,
    ]  # fmt: skip
    if props.processing_instance_type is not None:
        command += ["--processing-instance-type", props.processing_instance_type]
    jobs = stack.format_arn(service="sagemaker", resource="processing-job", resource_name=f"{JOB_NAME_PREFIX}*")
    step = pipelines.CodeBuildStep(
        "BuildTensorRTEngine",
        input=input,
        install_commands=list(install_commands),
        commands=[
            " ".join(shlex.quote(part) for part in command)
            + ' --role-arn "$ENGINE_JOB_ROLE_ARN" --bucket "$ENGINE_JOB_BUCKET"',
        ],
        env={
            **INSTALL_ENV,
            "ENGINE_JOB_ROLE_ARN": resources.role.role_arn,
            "ENGINE_JOB_BUCKET": resources.bucket.bucket_name,
        },
        primary_output_directory=ENGINE_CACHE_DIR,
        build_environment=codebuild.BuildEnvironment(
            build_image=build_image or codebuild.LinuxBuildImage.STANDARD_7_0,
            # 8 vCPUs and 15 GB, as the synth step: the export and ONNX Runtime verification of ResNet-50 up
            # to batch 128 run here; only the engine is built in the job.
            compute_type=codebuild.ComputeType.LARGE,
        ),
        cache=codebuild.Cache.bucket(resources.bucket, prefix="codebuild-cache"),
        partial_build_spec=codebuild.BuildSpec.from_object(
            {
                "phases": {"install": {"runtime-versions": dict(runtime_versions)}},
                "cache": {"paths": [f"{ENGINE_CACHE_DIR}/**/*"]},
            }
        ),
        timeout=Duration.seconds(props.job_timeout.to_seconds() + STARTUP_ALLOWANCE_S + 45 * 60),
        role_policy_statements=[
            iam.PolicyStatement(
                actions=["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob"],
                resources=[jobs],
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[resources.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"], resources=[resources.bucket.arn_for_objects(f"{props.prefix}*")]
            ),
            _list_prefix(resources.bucket, props.prefix),
        ],
    )
    acknowledge(
        scope, f"AwsSolutions-IAM5[Resource::{arn_finding_prefix(scope, 'sagemaker')}processing-job/{JOB_NAME_PREFIX}*]",
        f"The engine step starts one processing job per build, named {JOB_NAME_PREFIX}<inputs hash>-<time>; it may "
        "start, describe and stop only jobs of that name.",
    )  # fmt: skip
    acknowledge(
        scope, f"AwsSolutions-IAM5[Resource::{flattened(scope, resources.bucket.arn_for_objects(f'{props.prefix}*'))}]",
        "The engine step stages each job's inputs under a key made of the inputs hash and the job name, and "
        "reads the job's output there; it is limited to the staging bucket's job prefix.",
    )  # fmt: skip
    return step


@dataclass(frozen=True)
class SynthEngineInputs:
    """What the synth step adds for the engine step (or for its absence).

    Attributes:
        additional_inputs: ``CodeBuildStep(additional_inputs=...)``: :data:`ENGINE_CACHE_DIR` → the engine step.
        commands: run before ``cdk synth``: copy the engine's cache entries into the build cache.
        context: merged into the synth context: ``mme_tensorrt=on`` with the step (synthesis fails,
            saying why, if the engine is not in the cache), ``off`` without it.
        note: one line for the pipeline's docs and logs: which path ships.
    """

    additional_inputs: Mapping[str, pipelines.IFileSetProducer]
    commands: tuple[str, ...]
    context: Mapping[str, str]
    note: str


def synth_engine_inputs(step: pipelines.CodeBuildStep | None, *, models: str = DEFAULT_MODEL_SET) -> SynthEngineInputs:
    """Return what the synth step adds for ``step`` (None: the switch is off, the ONNX path ships)."""
    if step is None:
        return SynthEngineInputs(
            {}, (), {"mme_tensorrt": "off"},
            f"{MODE_CONTEXT_KEY}=off: no TensorRT engine is built; the pipeline ships the ONNX path "
            "(TorchScript and ONNX archives on the multi-model endpoint).",
        )  # fmt: skip
    from model_build.cache import DEFAULT_CACHE_DIR

    return SynthEngineInputs(
        {ENGINE_CACHE_DIR: step},
        (f"mkdir -p {DEFAULT_CACHE_DIR} && cp -R {ENGINE_CACHE_DIR}/. {DEFAULT_CACHE_DIR}/",),
        {"mme_tensorrt": "on", "mme_models": models},
        f"{MODE_CONTEXT_KEY}=processing-job: the TensorRT engine is built on the endpoint's GPU family in a "
        f"SageMaker Processing job and served as resnet_trt_v0.tar.gz (logs: {log_location('<job>')}).",
    )

