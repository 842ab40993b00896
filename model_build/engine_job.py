"""Build a TensorRT engine on the target GPU family in a SageMaker Processing job: ``python -m model_build.engine_job``.

An engine runs only on the GPU architecture and TensorRT version it was built for
(:mod:`model_build.engine_target`). A CI machine has neither, so the pipeline (``stacks/pipeline_engines.py``)
runs this launcher, which builds the engine where it will be served and puts it in the build cache
exactly as a local build would:

1. Every stage but the engine runs here, through :func:`model_build.pipeline.build` (load, export,
   verify, Triton config, repository, package, manifest): the cache entry, its inputs hash and its
   ``manifest.json`` are the local build's.
2. The engine stage is :class:`ProcessingJobEngineBuilder`: it uploads the verified ``model.onnx``,
   a request (inputs, batch, precision, target) and this package's own source to S3, starts a
   SageMaker Processing job on an instance type with the **target's GPU** (the serving instance
   type itself when Processing offers it, see :func:`processing_instance_type_for`) in NVIDIA's
   TensorRT container of the **serving Triton release** (``nvcr.io/nvidia/tensorrt:<yy.mm>-py3``,
   mirrored into ECR: Processing runs images from ECR), waits with a timeout, downloads
   ``model.plan`` and ``engine.json`` and checks the manifest against the target
   (:func:`model_build.engine_target.engine_target_problems`) before the entry is published.
3. In the job, ``python3 -m model_build.engine_job in-job`` runs :func:`model_build.tensorrt.build_engine`
   (the TensorRT 10 Python API path, with the same GPU and version checks as a local build): one
   engine build, one place.

A job that fails, stops, times out or completes without an engine is an :class:`EngineJobError`
(exit 1) naming the job, its status and reason, and its log; nothing enters the cache. Bad input
(flags, model, target, image, role, bucket) is one message and exit 2, before anything is uploaded.

Nothing here can build an engine on a machine without TensorRT and the target GPU: the tests run
the launcher against moto (which records the job and reports it ``Completed`` without running it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_build.engine_target import (
    ENGINE_MANIFEST_FILENAME,
    TENSORRT_CONTAINER,
    EngineManifest,
    EngineManifestError,
    EngineTarget,
    engine_target_problems,
    tensorrt_container_image,
)
from model_build.user_errors import FlagProblems, UsageErrorParser, UserError, did_you_mean, run_cli

if TYPE_CHECKING:
    from model_build.sources import TensorSpec
    from model_build.spec import ModelSpec
    from model_build.tensorrt import EngineResult

PROG = "python -m model_build.engine_job"

# Where the processing container sees its inputs and writes its output (all under /opt/ml/processing).
JOB_ROOT = "/opt/ml/processing"
JOB_ONNX_DIR = f"{JOB_ROOT}/input/onnx"
JOB_REQUEST_DIR = f"{JOB_ROOT}/input/request"
JOB_CODE_DIR = f"{JOB_ROOT}/input/code"
JOB_OUTPUT_DIR = f"{JOB_ROOT}/output/engine"
REQUEST_FILENAME = "request.json"
CODE_ARCHIVE = "model_build.zip"
"""This package's source, one zip on the job's ``PYTHONPATH`` (Python imports from zips)."""
ENGINE_FILENAME = "model.plan"

JOB_NAME_PREFIX = "trt-engine-"
"""Every job this launcher starts is named ``trt-engine-<inputs hash[:12]>-<unix time>``; the pipeline's
IAM policy is scoped to ``processing-job/trt-engine-*``."""

DEFAULT_PREFIX = "engine-jobs/"
DEFAULT_TIMEOUT_S = 3600
DEFAULT_POLL_S = 30.0
DEFAULT_VOLUME_GB = 30
STARTUP_ALLOWANCE_S = 900
"""How long the launcher waits beyond the job's own ``MaxRuntimeInSeconds`` (which starts when the
instance runs the container, after provisioning and the image pull)."""

MAX_RUNTIME_S = 5 * 24 * 3600
"""``StoppingCondition.MaxRuntimeInSeconds`` is at most 5 days (SageMaker API reference)."""

TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+)(?::(?P<tag>[\w.-]+)|@sha256:[0-9a-f]{64})$"
)
_RELEASE_TAG = re.compile(r"^(?P<release>\d{2}\.\d{2})-py3$")
_PREFIX = re.compile(r"^([A-Za-z0-9!_.*'()-]+/)*$")


class EngineJobError(RuntimeError):
    """The processing job did not produce an engine for the target (failed, stopped, timed out, or no engine)."""


@dataclass(frozen=True)
class EngineJobSettings:
    """Where and how the processing job runs.

    Attributes:
        bucket: The staging bucket for the job's inputs and output.
        role_arn: The role SageMaker runs the job with (reads the inputs, writes the output, pulls the image).
        image_uri: NVIDIA's TensorRT container of the serving Triton release, mirrored into ECR
            (``<account>.dkr.ecr.<region>.amazonaws.com/tensorrt:24.09-py3``).
        prefix: The key prefix under the bucket. Defaults to ``engine-jobs/``.
        instance_type: The processing instance type. Defaults to :func:`processing_instance_type_for`
            the target (the serving type when Processing offers it).
        timeout_s: The job's ``MaxRuntimeInSeconds``. Defaults to 3600.
        poll_s: Seconds between ``DescribeProcessingJob`` calls. Defaults to 30.
        volume_gb: The job's storage volume. Defaults to 30.
    """

    bucket: str
    role_arn: str
    image_uri: str
    prefix: str = DEFAULT_PREFIX
    instance_type: str | None = None
    timeout_s: int = DEFAULT_TIMEOUT_S
    poll_s: float = DEFAULT_POLL_S
    volume_gb: int = DEFAULT_VOLUME_GB


def processing_instance_type_for(target: EngineTarget) -> str:
    """Return the Processing instance type that builds ``target``'s engine: one with the target's GPU.

    The serving instance type itself when SageMaker Processing offers it (every ml.g4dn, g5, g6, g6e
    and p3 type does); otherwise the first Processing type with the same GPU (ml.p5.48xlarge →
    ml.p5.4xlarge, both H100); for an ``"ampere+"`` engine, any Processing type of compute
    capability >= 8.0 (ml.g5.xlarge first).

    Raises:
        UserError: No Processing instance type has a GPU that can build it (ml.p4d: A100 is not
            offered to Processing), with the way out.
    """
    from model_build.engine_target import AMPERE_PLUS_MIN_CAPABILITY, capability_tuple
    from model_build.hardware import hardware_of, processing_instance_types

    offered = processing_instance_types()
    if target.instance_type in offered:
        return target.instance_type
    wanted = hardware_of(target.instance_type).accelerator

    def fits(name: str) -> bool:
        accelerator = hardware_of(name).accelerator
        if accelerator is None or accelerator.compute_capability is None:
            return False
        if target.hardware_compatibility == "ampere+":
            return capability_tuple(accelerator.compute_capability) >= AMPERE_PLUS_MIN_CAPABILITY
        return accelerator == wanted

    same = [name for name in offered if name.startswith("ml.") and fits(name)]
    if same:
        return same[0]
    gpu = "its GPU" if wanted is None else wanted.name
    raise UserError(
        f"--instance-type {target.instance_type!r}: SageMaker Processing offers no instance type with {gpu}, "
        "so the engine cannot be built on the target GPU family there; serve on a family Processing offers "
        "(ml.g4dn, ml.g5, ml.g6, ml.g6e, ml.p3, ml.p5.4xlarge), or for a GPU of compute capability >= 8.0 "
        "build an 'ampere+' engine (EngineTarget(hardware_compatibility='ampere+'))"
    )


def image_problems(image_uri: str, triton_version: str, *, flag: str = "--image-uri") -> list[str]:
    """Return why ``image_uri`` cannot build an engine for Triton ``triton_version`` (empty when it can).

    It must be an ECR image (SageMaker Processing runs images from ECR), and when its tag is a
    release tag (``<yy.mm>-py3``) that release must be the serving Triton's, so the TensorRT versions match.
    """
    mirror = tensorrt_container_image(triton_version)
    match = _ECR_IMAGE.match(image_uri)
    if match is None:
        return [
            f"{flag}: got {image_uri!r}; must be an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/"
            f"<repository>:<tag>) — SageMaker Processing runs images from ECR: mirror {mirror} into ECR "
            "(docker pull, docker tag, docker push) and pass that URI"
        ]
    release = _RELEASE_TAG.match(match.group("tag") or "")
    if release is not None and release.group("release") != triton_version:
        return [
            f"{flag}: got {image_uri!r}; its tag is release {release.group('release')}, but the endpoint serves "
            f"Triton {triton_version}: TensorRT loads only engines of its own version — mirror {mirror} and pass that"
        ]
    return []


def ecr_image(image_uri: str) -> tuple[str, str, str] | None:
    """Return ``(account, region, repository)`` of an ECR image URI; None when it is not one."""
    match = _ECR_IMAGE.match(image_uri)
    return None if match is None else (match.group("account"), match.group("region"), match.group("repository"))


def job_name(inputs_hash: str, now: float) -> str:
    """Return ``trt-engine-<hash[:12]>-<unix seconds>`` (<= 63 characters, SageMaker's limit)."""
    return f"{JOB_NAME_PREFIX}{inputs_hash[:12]}-{int(now)}"


def job_request(
    *,
    name: str,
    settings: EngineJobSettings,
    instance_type: str,
    input_uri: str,
    request_uri: str,
    code_uri: str,
    output_uri: str,
) -> dict[str, Any]:
    """Return the ``CreateProcessingJob`` request: the TensorRT image runs this package's ``in-job`` command."""
    s3_input = {"S3DataType": "S3Prefix", "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}
    return {
        "ProcessingJobName": name,
        "RoleArn": settings.role_arn,
        "AppSpecification": {
            "ImageUri": settings.image_uri,
            "ContainerEntrypoint": [
                "python3", "-m", "model_build.engine_job", "in-job",
                "--request", f"{JOB_REQUEST_DIR}/{REQUEST_FILENAME}",
                "--onnx-dir", JOB_ONNX_DIR,
                "--output-dir", JOB_OUTPUT_DIR,
            ],
        },
        "Environment": {"PYTHONPATH": f"{JOB_CODE_DIR}/{CODE_ARCHIVE}", "PYTHONDONTWRITEBYTECODE": "1"},
        "ProcessingInputs": [
            {"InputName": "onnx", "S3Input": {"S3Uri": input_uri, "LocalPath": JOB_ONNX_DIR, **s3_input}},
            {"InputName": "request", "S3Input": {"S3Uri": request_uri, "LocalPath": JOB_REQUEST_DIR, **s3_input}},
            {"InputName": "code", "S3Input": {"S3Uri": code_uri, "LocalPath": JOB_CODE_DIR, **s3_input}},
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "engine",
                    "S3Output": {"S3Uri": output_uri, "LocalPath": JOB_OUTPUT_DIR, "S3UploadMode": "EndOfJob"},
                }
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": instance_type, "VolumeSizeInGB": settings.volume_gb}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.timeout_s},
        # The job reads and writes only what SageMaker stages for it: no network for the container.
        "NetworkConfig": {"EnableNetworkIsolation": True},
    }


def wait_for_job(
    sagemaker: Any,
    name: str,
    *,
    deadline_s: float,
    poll_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Poll ``DescribeProcessingJob`` until ``Completed``; return that description.

    Raises:
        EngineJobError: ``Failed`` or ``Stopped`` (with SageMaker's reason and where the log is), or
            not done within ``deadline_s`` (the job is stopped first, so it bills no further).
    """
    start = clock()
    last = None
    while True:
        described = sagemaker.describe_processing_job(ProcessingJobName=name)
        status = described["ProcessingJobStatus"]
        if status != last:
            log(f"{name}: {status}")
            last = status
        if status == "Completed":
            return dict(described)
        if status in TERMINAL_STATUSES:
            raise EngineJobError(job_failure_message(described))
        if clock() - start >= deadline_s:
            sagemaker.stop_processing_job(ProcessingJobName=name)
            raise EngineJobError(
                f"processing job {name} did not finish within {deadline_s:.0f} s (status {status}); it was stopped "
                f"and nothing was put in the build cache — raise --timeout, or read its log: {log_location(name)}"
            )
        sleep(poll_s)


def job_failure_message(described: dict[str, Any]) -> str:
    """Return the message for a ``Failed`` or ``Stopped`` job (its reason, exit message and log)."""
    name = described["ProcessingJobName"]
    status = described["ProcessingJobStatus"]
    details = [
        f"{key}: {described[key]}" for key in ("FailureReason", "ExitMessage") if described.get(key)
    ]
    reason = f" ({'; '.join(details)})" if details else ""
    return (
        f"processing job {name} ended {status}{reason}; no engine was built and nothing was put in the build "
        f"cache — read its log: {log_location(name)}"
    )


def log_location(name: str) -> str:
    """Where SageMaker Processing writes the container's output: CloudWatch Logs."""
    return f"log group /aws/sagemaker/ProcessingJobs, streams {name}/*"


class ProcessingJobEngineBuilder:
    """The engine stage of :func:`model_build.pipeline.build`, run as a SageMaker Processing job.

    Call it like :func:`model_build.tensorrt.build_engine`; ``timing_cache_dir`` and ``environment``
    describe this machine and are ignored (the job builds without a timing cache).

    Args:
        settings: Where and how the job runs.
        inputs_hash: The spec's inputs hash (job name and S3 key).
        model: The Triton model name, for messages.
        sagemaker: A boto3 SageMaker client.
        s3: A boto3 S3 client.
        clock: Wall clock for the job name. Defaults to ``time.time``.
        sleep: Waits between polls. Defaults to ``time.sleep``.
        log: Progress lines. Defaults to ``print``.
    """

    def __init__(
        self,
        settings: EngineJobSettings,
        *,
        inputs_hash: str,
        model: str,
        sagemaker: Any,
        s3: Any,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.inputs_hash = inputs_hash
        self.model = model
        self.sagemaker = sagemaker
        self.s3 = s3
        self.clock = clock
        self.sleep = sleep
        self.log = log
        self.job_name: str | None = None

    def __call__(
        self,
        onnx_path: Path,
        engine_path: Path,
        *,
        inputs: tuple[TensorSpec, ...],
        max_batch_size: int,
        precision: str = "FP16",
        target: EngineTarget | None = None,
        timing_cache_dir: Path | None = None,
        environment: Any = None,
        workspace_bytes: int = 1 << 30,
    ) -> EngineResult:
        """Run the job for ``onnx_path`` and write its engine to ``engine_path``; return what it built.

        Raises:
            EngineJobError: The job failed, stopped, timed out, or left no engine that fits ``target``.
        """
        from model_build.tensorrt import EngineResult

        del timing_cache_dir, environment
        if target is None:
            raise UserError("a processing-job engine build needs the spec's tensorrt_target (where it is served)")
        started = time.perf_counter()
        settings = self.settings
        instance_type = settings.instance_type or processing_instance_type_for(target)
        name = job_name(self.inputs_hash, self.clock())
        self.job_name = name
        base = f"{settings.prefix}{self.inputs_hash}/{name}"
        uri = f"s3://{settings.bucket}/{base}"
        for file in sorted(onnx_path.parent.iterdir()):
            if file.is_file() and file != engine_path:
                self.s3.upload_file(str(file), settings.bucket, f"{base}/onnx/{file.name}")
        request = {
            "job_name": name,
            "onnx": onnx_path.name,
            "inputs": [spec.to_dict() for spec in inputs],
            "max_batch_size": max_batch_size,
            "precision": precision,
            "workspace_bytes": workspace_bytes,
            "target": target.to_dict(),
            "instance_type": instance_type,
        }
        self.s3.put_object(
            Bucket=settings.bucket,
            Key=f"{base}/request/{REQUEST_FILENAME}",
            Body=json.dumps(request, indent=2, sort_keys=True).encode(),
        )
        self.s3.put_object(Bucket=settings.bucket, Key=f"{base}/code/{CODE_ARCHIVE}", Body=code_archive())
        self.sagemaker.create_processing_job(
            **job_request(
                name=name,
                settings=settings,
                instance_type=instance_type,
                input_uri=f"{uri}/onnx/",
                request_uri=f"{uri}/request/",
                code_uri=f"{uri}/code/",
                output_uri=f"{uri}/output/",
            )
        )
        self.log(
            f"{name}: started on {instance_type} with {settings.image_uri} for {target.instance_type} "
            f"(Triton {target.triton_version})"
        )
        wait_for_job(
            self.sagemaker,
            name,
            deadline_s=settings.timeout_s + STARTUP_ALLOWANCE_S,
            poll_s=settings.poll_s,
            sleep=self.sleep,
            log=self.log,
        )
        manifest = self._download(name, f"{base}/output", engine_path, target, max_batch_size, precision)
        return EngineResult(
            engine_path=engine_path,
            size_bytes=engine_path.stat().st_size,
            seconds=time.perf_counter() - started,
            manifest=manifest,
            where="sagemaker-processing",
        )

    def _download(
        self, name: str, key: str, engine_path: Path, target: EngineTarget, max_batch_size: int, precision: str
    ) -> EngineManifest:
        bucket = self.settings.bucket
        listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=f"{key}/")
        present = {item["Key"].rsplit("/", 1)[-1] for item in listed.get("Contents", [])}
        missing = [f for f in (ENGINE_FILENAME, ENGINE_MANIFEST_FILENAME) if f not in present]
        if missing:
            raise EngineJobError(
                f"processing job {name} completed without an engine: {', '.join(missing)} missing under "
                f"s3://{bucket}/{key}/; nothing was put in the build cache — read its log: {log_location(name)}"
            )
        source = f"engine.json of processing job {name}"
        body = self.s3.get_object(Bucket=bucket, Key=f"{key}/{ENGINE_MANIFEST_FILENAME}")["Body"].read()
        try:
            manifest = EngineManifest.from_json(body.decode("utf-8", "replace"), source=source)
        except EngineManifestError as error:
            raise EngineJobError(str(error)) from None
        problems = engine_target_problems(
            manifest, model=self.model, instance_type=target.instance_type, triton_version=target.triton_version
        )
        if manifest.max_batch_size != max_batch_size or manifest.precision != precision:
            problems.append(
                f"{source} is for max_batch_size {manifest.max_batch_size} {manifest.precision}, but the spec asks "
                f"for {max_batch_size} {precision}"
            )
        if problems:
            raise EngineJobError(
                f"processing job {name} built an engine that does not fit the target; nothing was put in the "
                f"build cache: {'; '.join(problems)}"
            )
        engine_path.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(bucket, f"{key}/{ENGINE_FILENAME}", str(engine_path))
        return dataclasses.replace(
            manifest, builder=f"{manifest.builder} in SageMaker Processing job {name}"
        )


def code_archive() -> bytes:
    """Return this package's ``*.py`` files as a zip (``model_build/<file>.py``), byte-stable for the same files."""
    import io
    import zipfile

    package = Path(__file__).resolve().parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(package.glob("*.py")):
            info = zipfile.ZipInfo(f"model_build/{file.name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.read_bytes())
    return buffer.getvalue()


def build_with_processing_job(
    spec: ModelSpec,
    settings: EngineJobSettings,
    *,
    sagemaker: Any,
    s3: Any,
    cache_dir: str | Path | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> Any:
    """Build ``spec`` into the build cache with its engine made by a processing job; a cache hit starts nothing.

    Returns:
        The :class:`model_build.pipeline.BuildResult`.

    Raises:
        EngineJobError: The job did not produce an engine that fits the target.
    """
    from model_build.pipeline import build

    builder = ProcessingJobEngineBuilder(
        settings,
        inputs_hash=spec.inputs_hash(),
        model=spec.triton_model_name,
        sagemaker=sagemaker, s3=s3, clock=clock, sleep=sleep, log=log
    )
    return build(spec, cache_dir=cache_dir, engine_builder=builder)


# -- inside the processing job -------------------------------------------------------------------


def run_in_job(request_file: Path, onnx_dir: Path, output_dir: Path) -> int:
    """Build the engine the request describes with :func:`model_build.tensorrt.build_engine`, on this GPU.

    Writes ``model.plan`` and ``engine.json`` into ``output_dir`` (both or neither). No TensorRT of
    the target's version, or a GPU that does not fit, is the same error a local build gives (exit 2).
    """
    from model_build.sources import TensorSpec
    from model_build.tensorrt import build_engine, write_engine_manifest

    request = json.loads(request_file.read_text(encoding="utf-8"))
    inputs = tuple(
        TensorSpec(name=item["name"], dtype=item["dtype"], dims=tuple(item["dims"])) for item in request["inputs"]
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    engine_path = output_dir / ENGINE_FILENAME
    try:
        result = build_engine(
            onnx_dir / request["onnx"],
            engine_path,
            inputs=inputs,
            max_batch_size=int(request["max_batch_size"]),
            precision=request["precision"],
            workspace_bytes=int(request["workspace_bytes"]),
            target=EngineTarget(**request["target"]),
        )
        write_engine_manifest(output_dir, result.manifest)
    except BaseException:
        engine_path.unlink(missing_ok=True)
        (output_dir / ENGINE_MANIFEST_FILENAME).unlink(missing_ok=True)
        raise
    print(f"{request['job_name']}: {result.size_bytes} bytes in {result.seconds:.1f} s; {result.manifest.to_json()}")
    return 0


# -- command line ----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = UsageErrorParser(
        prog=PROG,
        description="Build a model's TensorRT engine on the target GPU family in a SageMaker Processing job and "
        "put the model in the build cache, as a local build would.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=UsageErrorParser)
    b = sub.add_parser("build", help="Build one backend='tensorrt' model (a cache hit starts no job).")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--example", metavar="NAME", help="a backend='tensorrt' example (resnet-tiny-trt, resnet50-trt)")
    src.add_argument("--spec", metavar="FILE", help="a backend='tensorrt' model spec file (model.toml)")
    b.add_argument("--instance-type", required=True, help="the SageMaker instance type that serves the engine")
    b.add_argument("--triton-version", required=True, help="the Triton release that serves it (yy.mm, e.g. 24.09)")
    b.add_argument("--image-uri", required=True, help=f"{TENSORRT_CONTAINER}:<triton-version>-py3 mirrored into ECR")
    b.add_argument("--role-arn", required=True, help="the role the processing job runs with")
    b.add_argument("--bucket", required=True, help="the staging bucket for the job's inputs and output")
    b.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"key prefix in the bucket (default {DEFAULT_PREFIX})")
    b.add_argument(
        "--processing-instance-type",
        help="the processing instance type (default: the serving type, or one with the same GPU)",
    )
    b.add_argument("--timeout", metavar="S", help=f"the job's max runtime in seconds (default {DEFAULT_TIMEOUT_S})")
    b.add_argument("--poll", metavar="S", help=f"seconds between status checks (default {DEFAULT_POLL_S:g})")
    b.add_argument("--cache-dir", metavar="DIR", help="build cache folder (default: $MODEL_BUILD_CACHE_DIR or ./.model-build-cache)")
    b.add_argument("--region", help="AWS region (default: the SDK's, e.g. $AWS_REGION)")
    j = sub.add_parser("in-job", help="(inside the processing job) build the engine the request describes")
    j.add_argument("--request", required=True, type=Path)
    j.add_argument("--onnx-dir", required=True, type=Path)
    j.add_argument("--output-dir", required=True, type=Path)
    sub.metavar = "{build,in-job}"
    return parser


def _checked(args: argparse.Namespace) -> tuple[ModelSpec, EngineJobSettings]:
    """Return the spec (retargeted) and settings, after checking every flag; raise one UserError otherwise."""
    from model_build.cache import cache_dir_problem
    from model_build.examples import EXAMPLES, get_example
    from model_build.hardware import processing_instance_types
    from model_build.spec import spec_problems
    from model_build.tensorrt import retarget_engine

    checks = FlagProblems(f"{PROG} build")
    spec: ModelSpec | None = None
    if args.example is not None:
        trt = [name for name in EXAMPLES if get_example(name).backend == "tensorrt"]
        if args.example not in trt:
            checks.add("--example", args.example, f"must be a backend='tensorrt' example: {', '.join(trt)}"
                       f"{did_you_mean(args.example, trt)}")  # fmt: skip
        else:
            spec = get_example(args.example)
    else:
        from model_build.spec_file import SpecFileError, load_spec_file

        try:
            spec = load_spec_file(Path(args.spec))
        except SpecFileError as error:
            checks.note(f"--spec {error}")
        else:
            if spec.backend != "tensorrt":
                checks.add("--spec", args.spec, f"its backend is {spec.backend!r}; an engine job builds backend='tensorrt' models")
                spec = None
    target = EngineTarget(instance_type=args.instance_type, triton_version=args.triton_version)
    if spec is not None and spec.tensorrt_target is not None:
        target = dataclasses.replace(target, hardware_compatibility=spec.tensorrt_target.hardware_compatibility)
    flags = {"tensorrt_target.instance_type": "--instance-type", "tensorrt_target.triton_version": "--triton-version"}
    target_problems = target.problems(key="tensorrt_target")
    for problem in target_problems:
        key = problem.split(" ", 1)[0].rstrip(":")
        checks.note(flags[key] + problem[len(key):] if key in flags else f"--spec {problem}")
    if not target_problems:
        checks.problems.extend(image_problems(args.image_uri, args.triton_version))
    elif _ECR_IMAGE.match(args.image_uri) is None:
        checks.problems.extend(image_problems(args.image_uri, "yy.mm"))
    if not _ROLE_ARN.match(args.role_arn):
        checks.add("--role-arn", args.role_arn, "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    if not _BUCKET.match(args.bucket):
        checks.add("--bucket", args.bucket, "must be an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)")
    if not _PREFIX.match(args.prefix):
        checks.add("--prefix", args.prefix, "must be empty or folders ending in '/' (e.g. engine-jobs/)")
    processing_type = args.processing_instance_type
    if processing_type is not None and processing_type not in processing_instance_types():
        checks.add("--processing-instance-type", processing_type, "must be a SageMaker Processing instance type"
                   f"{did_you_mean(processing_type, list(processing_instance_types()))}")  # fmt: skip
    timeout = checks.whole_number("--timeout", args.timeout, low=60, high=MAX_RUNTIME_S)
    poll = checks.number("--poll", args.poll, low=0, high=600, low_open=True)
    cache_problem = cache_dir_problem(args.cache_dir, flag="--cache-dir")
    if cache_problem:
        checks.note(cache_problem)
    if spec is not None and not target_problems:
        spec = retarget_engine(spec, instance_type=args.instance_type, triton_version=args.triton_version)
        checks.problems.extend(f"--spec {p}" for p in spec_problems(spec))
        if processing_type is None:
            try:
                processing_instance_type_for(target)
            except UserError as error:
                checks.note(str(error))
    checks.raise_if_any()
    assert spec is not None
    settings = EngineJobSettings(
        bucket=args.bucket,
        role_arn=args.role_arn,
        image_uri=args.image_uri,
        prefix=args.prefix,
        instance_type=processing_type,
        timeout_s=DEFAULT_TIMEOUT_S if timeout is None else timeout,
        poll_s=DEFAULT_POLL_S if poll is None else poll,
    )
    return spec, settings


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "in-job":
        return run_in_job(args.request, args.onnx_dir, args.output_dir)
    spec, settings = _checked(args)
    import boto3

    session = boto3.session.Session(region_name=args.region)
    try:
        result = build_with_processing_job(
            spec,
            settings,
            sagemaker=session.client("sagemaker"),
            s3=session.client("s3"),
            cache_dir=args.cache_dir,
        )
    except EngineJobError as error:
        print(f"{PROG}: error: {spec.name}: {error}", file=sys.stderr, flush=True)
        return 1
    engine = result.manifest.get("engine", {})
    print(
        f"{result.entry_dir} ({'cached' if result.cached else 'built'}, inputs hash {result.inputs_hash[:12]}): "
        f"engine for {spec.tensorrt_target.instance_type if spec.tensorrt_target else '?'} "
        f"(TensorRT {engine.get('tensorrt_version', '?')}, {engine.get('gpu_name', '?')})"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; bad input is one line on stderr and exit status 2, a failed job exit 1."""
    from model_build.tensorrt import TensorRTUnavailableError

    return run_cli(_run, list(sys.argv[1:] if argv is None else argv), prog=PROG, user_errors=(TensorRTUnavailableError,))


if __name__ == "__main__":
    sys.exit(main())
