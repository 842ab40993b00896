"""The engine job launcher (model_build.engine_job) against moto's SageMaker and S3, in-process server mode.

The tests that start moto are marked ``slow``; the rest (request shape, polling, image and instance rules) are fast.

moto records a processing job and reports it ``Completed`` at once without running anything (and
``Stopped`` after StopProcessingJob); it cannot report ``Failed`` or ``InProgress``, so those two
statuses come from botocore's own Stubber (AWS's documented response shape, not our code). No TensorRT
runs here: the container side is run for real with a bare interpreter and fails as it would in a wrong
image. The one test that lets an "engine" reach the cache uses bytes that say they are not an engine
(the launcher never reads them; it checks engine.json against the target) in a temp cache.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from model_build import cache
from model_build.engine_job import (
    JOB_CODE_DIR,
    EngineJobError,
    EngineJobSettings,
    build_with_processing_job,
    image_problems,
    job_name,
    job_request,
    main,
    processing_instance_type_for,
    wait_for_job,
)
from model_build.engine_target import EngineManifest, EngineTarget
from model_build.sources import OnnxFile
from model_build.spec import ModelSpec, TritonOptions

REGION = "us-east-1"
BUCKET = "engine-staging"
ROLE = "arn:aws:iam::123456789012:role/engine-job"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tensorrt:24.09-py3"
TARGET = EngineTarget(instance_type="ml.g4dn.xlarge", triton_version="24.09")
OPAQUE = b"NOT AN ENGINE: opaque bytes standing in for the job's model.plan; the launcher never reads them"
T4_MANIFEST = EngineManifest(
    tensorrt_version="10.4.0", compute_capability="7.5", gpu_name="NVIDIA T4",
    hardware_compatibility="none", precision="FP16", max_batch_size=4, builder="tensorrt-python",
)  # fmt: skip


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    """moto in-process server mode; the S3 and SageMaker clients, and the env that points the CLI at it."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        kwargs = {"region_name": REGION, "endpoint_url": env["AWS_ENDPOINT_URL"]}
        s3 = boto3.client("s3", **kwargs)
        s3.create_bucket(Bucket=BUCKET)
        yield {"s3": s3, "sagemaker": boto3.client("sagemaker", **kwargs), "env": env}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


@pytest.fixture(scope="module")
def spec(relu_onnx, tmp_path_factory: pytest.TempPathFactory) -> ModelSpec:
    """A backend='tensorrt' spec of a one-node ONNX model, served on ml.g4dn.xlarge with Triton 24.09."""
    onnx = relu_onnx(tmp_path_factory.mktemp("onnx") / "relu.onnx")
    return ModelSpec(
        name="relu", source=OnnxFile(onnx), triton=TritonOptions(max_batch_size=4), backend="tensorrt",
        tensorrt_target=TARGET,
    )  # fmt: skip


@pytest.fixture(scope="module")
def staged(aws, spec, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One launcher run against moto (which completes the job without running it): the error and the job."""
    cache_dir = tmp_path_factory.mktemp("cache")
    with pytest.raises(EngineJobError) as raised:
        build_with_processing_job(
            spec, _settings("empty/"), sagemaker=aws["sagemaker"], s3=aws["s3"], cache_dir=cache_dir, log=lambda _: None
        )
    name = aws["sagemaker"].list_processing_jobs()["ProcessingJobSummaries"][0]["ProcessingJobName"]
    return {"error": str(raised.value), "cache_dir": cache_dir, "name": name, "key": f"empty/{spec.inputs_hash()}/{name}"}


def _settings(prefix: str) -> EngineJobSettings:
    return EngineJobSettings(bucket=BUCKET, role_arn=ROLE, image_uri=IMAGE, prefix=prefix, poll_s=0.01)


def _entries(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir() if not p.name.endswith(".lock")) if cache_dir.exists() else []


def test_processing_type_is_the_serving_type_or_one_with_its_gpu() -> None:
    # GIVEN serving types WHEN the processing type is chosen THEN it carries the target's GPU
    assert processing_instance_type_for(TARGET) == "ml.g4dn.xlarge"
    h100 = EngineTarget(instance_type="ml.p5.48xlarge", triton_version="24.09")
    assert processing_instance_type_for(h100) == "ml.p5.4xlarge"
    a100_any = EngineTarget(instance_type="ml.p4d.24xlarge", triton_version="24.09", hardware_compatibility="ampere+")
    assert processing_instance_type_for(a100_any) == "ml.g5.xlarge"
    # AND an A100 engine for ml.p4d only (Processing offers no A100) is refused with the way out
    with pytest.raises(ValueError, match=r"offers no instance type with NVIDIA A100 40GB.*'ampere\+'"):
        processing_instance_type_for(EngineTarget(instance_type="ml.p4d.24xlarge", triton_version="24.09"))


def test_image_must_be_ecr_and_of_the_serving_release() -> None:
    assert image_problems(IMAGE, "24.09") == []
    assert "mirror nvcr.io/nvidia/tensorrt:24.09-py3 into ECR" in image_problems("nvcr.io/nvidia/tensorrt:24.09-py3", "24.09")[0]
    assert "its tag is release 25.04, but the endpoint serves Triton 24.09" in image_problems(
        IMAGE.replace("24.09", "25.04"), "24.09"
    )[0]


@pytest.mark.slow  # moto
def test_completed_without_engine_is_an_error_and_caches_nothing(staged) -> None:
    # GIVEN moto, which reports every processing job Completed without running it
    # WHEN the launcher built the spec THEN the error says no engine came back, and no cache entry exists
    assert "completed without an engine: model.plan, engine.json missing" in staged["error"]
    assert _entries(staged["cache_dir"]) == []


@pytest.mark.slow  # moto
def test_the_job_runs_the_in_job_command_on_the_staged_inputs(aws, spec, staged) -> None:
    name = staged["name"]
    job = aws["sagemaker"].describe_processing_job(ProcessingJobName=name)
    # AND the job moto recorded runs this package's in-job command in the image, with the staged inputs
    name = aws["sagemaker"].list_processing_jobs()["ProcessingJobSummaries"][-1]["ProcessingJobName"]
    job = aws["sagemaker"].describe_processing_job(ProcessingJobName=name)
    assert name.startswith(f"trt-engine-{spec.inputs_hash()[:12]}-")
    assert job["RoleArn"] == ROLE and job["AppSpecification"]["ImageUri"] == IMAGE
    assert job["AppSpecification"]["ContainerEntrypoint"][:4] == ["python3", "-m", "model_build.engine_job", "in-job"]
    base = f"s3://{BUCKET}/empty/{spec.inputs_hash()}/{name}"
    assert {i["InputName"]: i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]} == {
        "onnx": f"{base}/onnx/", "request": f"{base}/request/", "code": f"{base}/code/",
    }  # fmt: skip
    assert job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == f"{base}/output/"
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    # AND S3 holds the verified ONNX, the request and the package's source
    key = staged["key"]
    request = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=f"{key}/request/request.json")["Body"].read())
    assert (request["target"], request["max_batch_size"], request["precision"]) == (TARGET.to_dict(), 4, "FP16")
    assert request["inputs"] == [{"name": "x", "dtype": "FP32", "dims": [4]}]
    keys = {o["Key"] for o in aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix=key)["Contents"]}
    assert keys == {f"{key}/onnx/model.onnx", f"{key}/request/request.json", f"{key}/code/model_build.zip"}


def test_request_passes_botocore_validation_and_names_the_processing_type() -> None:
    # GIVEN the request WHEN botocore validates it against SageMaker's API model THEN it is well formed
    request = job_request(
        name="trt-engine-0123456789ab-1", settings=_settings("p/"), instance_type="ml.g4dn.xlarge",
        input_uri="s3://b/i/", request_uri="s3://b/r/", code_uri="s3://b/c/", output_uri="s3://b/o/",
    )  # fmt: skip
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("create_processing_job", {"ProcessingJobArn": "arn:aws:sagemaker:us-east-1:1:processing-job/x"}, request)
        client.create_processing_job(**request)
    assert request["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.g4dn.xlarge"
    assert request["Environment"]["PYTHONPATH"] == f"{JOB_CODE_DIR}/model_build.zip"
    assert request["NetworkConfig"] == {"EnableNetworkIsolation": True}


@pytest.mark.slow  # moto
def test_stopped_job_is_an_error_naming_its_log(aws) -> None:
    # GIVEN a job started in moto and stopped (as an operator would)
    name = job_name("f" * 64, 1)
    aws["sagemaker"].create_processing_job(**job_request(
        name=name, settings=_settings("stop/"), instance_type="ml.g4dn.xlarge",
        input_uri=f"s3://{BUCKET}/i/", request_uri=f"s3://{BUCKET}/r/", code_uri=f"s3://{BUCKET}/c/",
        output_uri=f"s3://{BUCKET}/o/",
    ))  # fmt: skip
    aws["sagemaker"].stop_processing_job(ProcessingJobName=name)
    # WHEN waited for THEN the error says Stopped, no engine, and where the log is
    with pytest.raises(EngineJobError, match=rf"{name} ended Stopped; no engine was built.*/aws/sagemaker/ProcessingJobs"):
        wait_for_job(aws["sagemaker"], name, deadline_s=60, poll_s=0.01, log=lambda _: None)


def _described(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "ProcessingJobName": "trt-engine-x-1", "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:1:processing-job/x",
        "ProcessingJobStatus": status, "CreationTime": 0,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.g4dn.xlarge", "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": IMAGE}, **extra,
    }  # fmt: skip


def test_polling_waits_through_in_progress_and_reports_failed_with_the_reason() -> None:
    # GIVEN SageMaker answering InProgress twice, then Failed with a reason (moto cannot fail a job)
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    sleeps: list[float] = []
    with Stubber(client) as stub:
        for status in ("InProgress", "InProgress"):
            stub.add_response("describe_processing_job", _described(status))
        stub.add_response("describe_processing_job", _described("Failed", FailureReason="AlgorithmError: exit code 2"))
        # WHEN waited for THEN it polled twice and the error carries SageMaker's reason
        with pytest.raises(EngineJobError, match=r"ended Failed \(FailureReason: AlgorithmError: exit code 2\)"):
            wait_for_job(client, "trt-engine-x-1", deadline_s=60, poll_s=5, sleep=sleeps.append, log=lambda _: None)
    assert sleeps == [5, 5]


def test_a_job_past_its_deadline_is_stopped() -> None:
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    clock = iter([0.0, 10.0, 100.0])
    with Stubber(client) as stub:
        stub.add_response("describe_processing_job", _described("InProgress"))
        stub.add_response("describe_processing_job", _described("InProgress"))
        stub.add_response("stop_processing_job", {}, {"ProcessingJobName": "trt-engine-x-1"})
        with pytest.raises(EngineJobError, match=r"did not finish within 50 s \(status InProgress\); it was stopped"):
            wait_for_job(
                client, "trt-engine-x-1", deadline_s=50, poll_s=1, clock=lambda: next(clock),
                sleep=lambda _: None, log=lambda _: None,
            )  # fmt: skip
        stub.assert_no_pending_responses()


def _put_job_output(aws: dict[str, Any], spec: ModelSpec, prefix: str, now: float, manifest: EngineManifest) -> None:
    """Stand in for the container's upload at the end of the job (moto runs no container)."""
    key = f"{prefix}{spec.inputs_hash()}/{job_name(spec.inputs_hash(), now)}/output"
    aws["s3"].put_object(Bucket=BUCKET, Key=f"{key}/model.plan", Body=OPAQUE)
    aws["s3"].put_object(Bucket=BUCKET, Key=f"{key}/engine.json", Body=manifest.to_json().encode())


@pytest.mark.slow  # moto
def test_an_engine_for_another_gpu_is_refused(aws, spec, tmp_path: Path) -> None:
    # GIVEN a job whose engine.json says it was built on an A10G (compute capability 8.6), for a T4 target
    import dataclasses

    wrong = dataclasses.replace(T4_MANIFEST, compute_capability="8.6", gpu_name="NVIDIA A10G")
    _put_job_output(aws, spec, "wrong/", 1000.0, wrong)
    # WHEN the launcher fetches it THEN it refuses, saying why, and caches nothing
    with pytest.raises(EngineJobError, match=r"does not fit the target.*built for TensorRT 10\.4\.0 on NVIDIA A10G"):
        build_with_processing_job(
            spec, _settings("wrong/"), sagemaker=aws["sagemaker"], s3=aws["s3"], cache_dir=tmp_path,
            clock=lambda: 1000.0, log=lambda _: None,
        )
    assert _entries(tmp_path) == []


@pytest.mark.slow  # moto
def test_a_fitting_engine_lands_in_the_cache_as_a_local_build_would(aws, spec, tmp_path: Path) -> None:
    # GIVEN a job whose output is a T4 / TensorRT 10.4.0 manifest (Triton 24.09) and opaque plan bytes
    _put_job_output(aws, spec, "ok/", 2000.0, T4_MANIFEST)
    # WHEN the launcher builds the spec
    result = build_with_processing_job(
        spec, _settings("ok/"), sagemaker=aws["sagemaker"], s3=aws["s3"], cache_dir=tmp_path,
        clock=lambda: 2000.0, log=lambda _: None,
    )
    # THEN the entry is the spec's own (its inputs hash), complete, and names the job in its engine manifest
    assert cache.lookup(tmp_path, spec.inputs_hash()) == result.entry_dir
    engine = result.manifest["engine"]
    assert (engine["gpu_name"], engine["tensorrt_version"]) == ("NVIDIA T4", "10.4.0")
    assert engine["builder"] == f"tensorrt-python in SageMaker Processing job {job_name(spec.inputs_hash(), 2000.0)}"
    with tarfile.open(result.archive_path) as archive:
        names = set(archive.getnames())
        assert {"relu/config.pbtxt", "relu/engine.json"} <= names
        plan = next(n for n in names if n.endswith("model.plan"))
        assert archive.extractfile(plan).read() == OPAQUE  # type: ignore[union-attr]
    # AND the multi-model stack's check finds it (so mme_tensorrt=auto serves it, with no TensorRT here)
    from stacks.multi_model_stack import engine_build_problem

    assert engine_build_problem(spec, cache_dir=tmp_path) is None


@pytest.mark.slow  # moto
def test_cli_reports_a_job_without_engine_with_exit_1(aws, relu_onnx, tmp_path: Path, capsys) -> None:
    # GIVEN a backend='tensorrt' spec file of an ONNX model, and the CLI pointed at moto (AWS_ENDPOINT_URL)
    relu_onnx(tmp_path / "relu.onnx")
    (tmp_path / "model.toml").write_text(
        'name = "relu"\nbackend = "tensorrt"\n\n[triton]\nmax_batch_size = 4\n\n'
        '[source]\nkind = "onnx"\npath = "relu.onnx"\n',
        encoding="utf-8",
    )
    argv = [
        "build", "--spec", str(tmp_path / "model.toml"), "--instance-type", "ml.g4dn.xlarge", "--triton-version",
        "24.09", "--image-uri", IMAGE, "--role-arn", ROLE, "--bucket", BUCKET, "--prefix", "cli/", "--poll", "0.01",
        "--cache-dir", str(tmp_path / "cache"), "--region", REGION,
    ]  # fmt: skip
    # WHEN run (moto completes the job without running it)
    code = main(argv)
    # THEN exit 1, one error naming the model and the missing engine, and nothing cached
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("python -m model_build.engine_job: error: relu: processing job trt-engine-")
    assert "completed without an engine" in err and "Traceback" not in err
    assert _entries(tmp_path / "cache") == []


@pytest.mark.slow  # moto
def test_container_side_runs_with_a_bare_interpreter_and_fails_without_tensorrt(aws, staged, tmp_path: Path) -> None:
    # GIVEN what the job staged (code zip, request, ONNX), downloaded as SageMaker would into the container
    for item in aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix=staged["key"])["Contents"]:
        local = tmp_path / item["Key"][len(staged["key"]) + 1 :]
        local.parent.mkdir(parents=True, exist_ok=True)
        aws["s3"].download_file(BUCKET, item["Key"], str(local))
    # WHEN the in-job command runs as the job's entrypoint, with no site-packages (no numpy, onnx, boto3)
    result = subprocess.run(
        [sys.executable, "-S", "-m", "model_build.engine_job", "in-job", "--request", str(tmp_path / "request/request.json"),
         "--onnx-dir", str(tmp_path / "onnx"), "--output-dir", str(tmp_path / "output")],
        env={"PYTHONPATH": str(tmp_path / "code/model_build.zip"), "PATH": os.environ["PATH"]}, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    # THEN it fails as in a wrong image (exit 2, a local build's own TensorRT message) and leaves no engine to upload
    assert result.returncode == 2, result.stderr
    assert "TensorRT is not available here to build the engine" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any((tmp_path / "output").glob("*"))
