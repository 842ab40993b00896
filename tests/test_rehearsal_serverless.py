"""Serverless endpoints on the local data plane: cold starts, scale to zero, provisioned concurrency, limits.

moto holds two serverless endpoints of the relu model (the multi-container rehearsal's, from the shared
build cache): ``on-demand`` (``MaxConcurrency`` 1, no provisioned concurrency) and ``provisioned``
(``ProvisionedConcurrency`` 1). The data plane starts a real Triton for each as SageMaker starts
compute: on the first request, or at deploy for provisioned concurrency. Calls are plain boto3;
metrics are read back from moto's CloudWatch.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from rehearsal.api_endpoints import EMULATED_ROLE_ARN, EMULATED_TRITON_IMAGE

pytestmark = pytest.mark.slow  # moto + the data plane + Triton

BUCKET = "serverless"
KEY = "relu/model.tar.gz"
IDLE_S = 1.0  # the on-demand variant's Triton stops after this long without a request
ROWS = np.array([[-1.0, 2.0, -3.0, 4.0]], dtype=np.float32)
BODY = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": ROWS.ravel().tolist()}]})


@dataclass
class Serverless:
    moto: Any
    sagemaker: Any
    plane: Any
    runtime: Any
    cloudwatch: Any
    start: datetime.datetime
    #: The on-demand endpoint's Triton process (the idle test watches it exit).
    on_demand_pid: int | None = None

    def backend(self, endpoint: str) -> Any:
        """The endpoint's backend (None before the data plane created it)."""
        return next((b for (e, _, _), b in list(self.plane.backends.items()) if e == endpoint), None)

    def stats(self, endpoint: str, metric: str) -> dict[str, float]:
        """Publish what was recorded, then fold every datapoint of ``metric`` (AllTraffic) into one."""
        self.plane.flush_metrics()
        points = self.cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=metric,
            Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}],
            StartTime=self.start,
            EndTime=datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1),
            Period=3600,
            Statistics=["Sum", "SampleCount", "Maximum", "Minimum"],
        )["Datapoints"]
        if not points:
            return {"SampleCount": 0.0, "Sum": 0.0}
        return {
            "SampleCount": sum(p["SampleCount"] for p in points),
            "Sum": sum(p["Sum"] for p in points),
            "Maximum": max(p["Maximum"] for p in points),
            "Minimum": min(p["Minimum"] for p in points),
        }

    def invoke(self, endpoint: str, body: str | bytes = BODY) -> tuple[np.ndarray, float]:
        """Invoke; return the output and the client's seconds."""
        started = time.perf_counter()
        response = self.runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/json", Body=body)
        seconds = time.perf_counter() - started
        (output,) = json.loads(response["Body"].read())["outputs"]
        return np.array(output["data"], dtype=np.float32).reshape(output["shape"]), seconds


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _runtime(endpoint_url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        # No retries: boto3 would retry a ThrottlingException.
        config=Config(retries={"total_max_attempts": 1}, read_timeout=120),
    )


def _deploy(sagemaker: Any, name: str, serverless_config: dict[str, int]) -> None:
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=EMULATED_ROLE_ARN,
        PrimaryContainer={
            "Image": EMULATED_TRITON_IMAGE,
            "ModelDataUrl": f"s3://{BUCKET}/{KEY}",
            "Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "relu"},
        },
    )
    # A serverless variant: a ServerlessConfig and no InstanceType (moto keeps it as given).
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name, "ServerlessConfig": serverless_config}],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


@pytest.fixture(scope="module")
def sls(tmp_path_factory: pytest.TempPathFactory, relu_onnx: Callable[..., Any]) -> Iterator[Serverless]:
    import boto3

    from model_build.pipeline import build
    from model_build.spec_file import load_spec_file
    from rehearsal.data_plane import LocalDataPlane
    from rehearsal.moto_server import MotoServer

    folder = tmp_path_factory.mktemp("relu")
    relu_onnx(folder / "relu.onnx")
    # The multi-container rehearsal's spec, byte for byte: one build in the shared cache serves both.
    (folder / "relu.toml").write_text(
        'name = "relu"\n[source]\nkind = "onnx"\npath = "relu.onnx"\n'
        '[triton]\nmax_batch_size = 4\ninstance_kind = "KIND_CPU"\n'
    )
    built = build(load_spec_file(folder / "relu.toml"))
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    with MotoServer() as moto:
        s3 = boto3.client("s3", **moto.boto3_kwargs())
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(built.archive_path), BUCKET, KEY)
        sagemaker = boto3.client("sagemaker", **moto.boto3_kwargs())
        _deploy(sagemaker, "on-demand", {"MemorySizeInMB": 2048, "MaxConcurrency": 1})
        _deploy(sagemaker, "provisioned", {"MemorySizeInMB": 2048, "MaxConcurrency": 2, "ProvisionedConcurrency": 1})
        with LocalDataPlane(
            moto.endpoint_url,
            work_dir=tmp_path_factory.mktemp("plane"),
            seed=0,
            serverless_idle_s=IDLE_S,
            metrics_interval_s=3600,  # published when a test flushes, not in between
        ) as plane:
            runtime = _runtime(plane.endpoint_url)
            yield Serverless(moto, sagemaker, plane, runtime, boto3.client("cloudwatch", **moto.boto3_kwargs()), start)


def test_on_demand_has_no_instance_until_the_first_call_which_cold_starts_and_throttles_beyond_max_concurrency(
    sls: Serverless,
) -> None:
    from botocore.exceptions import ClientError

    # GIVEN an on-demand serverless endpoint (MaxConcurrency 1), deployed and never invoked
    # THEN nothing runs for it: no instance until the first request
    backend = sls.backend("on-demand")
    assert backend is None or backend.server is None
    # WHEN a first request arrives, and a second one while the first waits for the cold start
    answers: list[Any] = []
    first = threading.Thread(target=lambda: answers.append(sls.invoke("on-demand")))
    first.start()
    try:
        _wait_for(lambda: (b := sls.backend("on-demand")) is not None and b.in_flight == 1, "the first request")
        with pytest.raises(ClientError) as raised:
            sls.runtime.invoke_endpoint(EndpointName="on-demand", ContentType="application/json", Body=BODY)
    finally:
        first.join(timeout=120)
    # AND a third right after the first is answered
    warm, warm_s = sls.invoke("on-demand")
    sls.on_demand_pid = sls.backend("on-demand").server.pid  # read before its idle period ends
    # THEN the second was throttled: ThrottlingException, HTTP 400
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "MaxConcurrency" in raised.value.response["Error"]["Message"]
    # AND the first and third answers are right; the first waited for Triton to start, the third did not
    ((cold, cold_s),) = answers
    np.testing.assert_allclose(cold, np.maximum(ROWS, 0))
    np.testing.assert_allclose(warm, np.maximum(ROWS, 0))
    backend = sls.backend("on-demand")
    assert backend.cold_starts == 1 and backend.throttled == 1 and cold_s > warm_s
    # AND one ModelSetupTime was published: the measured start, in microseconds, within the first call
    setup = sls.stats("on-demand", "ModelSetupTime")
    assert setup["SampleCount"] == 1
    assert setup["Maximum"] == pytest.approx(backend.setup_times_s[0] * 1e6)
    assert 0 < setup["Maximum"] < cold_s * 1e6
    # AND the cold start counts in that request's OverheadLatency
    overhead = sls.stats("on-demand", "OverheadLatency")
    assert overhead["SampleCount"] == 2 and overhead["Maximum"] >= setup["Maximum"]
    # AND the throttled request counts as a 4XX error; concurrency utilization peaked at 1 of 1
    assert sls.stats("on-demand", "Invocation4XXErrors")["Sum"] == 1
    assert sls.stats("on-demand", "ServerlessConcurrentExecutionsUtilization")["Maximum"] == 1.0


def test_oversize_payload_is_refused_with_serverless_wording(sls: Serverless) -> None:
    # GIVEN a body over serverless's 4 MB (real-time endpoints take up to 6 MB)
    from rehearsal.data_plane import MAX_SERVERLESS_PAYLOAD_BYTES

    body = b"x" * (MAX_SERVERLESS_PAYLOAD_BYTES + 1)
    # WHEN it is sent to a serverless endpoint
    with pytest.raises(sls.runtime.exceptions.ValidationError) as raised:
        sls.runtime.invoke_endpoint(EndpointName="on-demand", ContentType="application/json", Body=body)
    # THEN SageMaker's serverless error: ValidationError "Request <id> has oversize body."
    request_id = raised.value.response["ResponseMetadata"]["RequestId"]
    assert raised.value.response["Error"]["Message"] == f"Request {request_id} has oversize body."
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_provisioned_concurrency_is_started_at_deploy_and_answers_without_a_cold_start(sls: Serverless) -> None:
    # GIVEN a serverless endpoint with ProvisionedConcurrency 1, deployed and never invoked
    # WHEN the data plane's refresh has found it
    sls.plane.refresh()
    _wait_for(lambda: (b := sls.backend("provisioned")) is not None and b.server is not None, "the provisioned Triton")
    backend = sls.backend("provisioned")
    # THEN its Triton runs before any request
    assert backend.invocations == 0 and backend.cold_starts == 0
    # AND the endpoint answers correctly, with no ModelSetupTime (no cold start)
    output, _ = sls.invoke("provisioned")
    np.testing.assert_allclose(output, np.maximum(ROWS, 0))
    assert backend.cold_starts == 0
    assert sls.stats("provisioned", "ModelSetupTime")["SampleCount"] == 0
    # AND the request counted as served by provisioned concurrency, none spilled over
    assert sls.stats("provisioned", "ServerlessProvisionedConcurrencyInvocations")["Sum"] == 1
    assert sls.stats("provisioned", "ServerlessProvisionedConcurrencySpilloverInvocations")["Sum"] == 0
    assert sls.stats("provisioned", "ServerlessProvisionedConcurrencyUtilization")["Maximum"] == 1.0
    # AND no InvocationsPerInstance (serverless endpoints have no instances)
    assert sls.stats("provisioned", "Invocations")["Sum"] == 1
    assert sls.stats("provisioned", "InvocationsPerInstance")["SampleCount"] == 0


def test_idle_on_demand_endpoint_scales_to_zero_but_provisioned_concurrency_stays(sls: Serverless) -> None:
    import psutil

    # GIVEN the on-demand endpoint after its calls (its Triton was running then)
    backend, pid = sls.backend("on-demand"), sls.on_demand_pid
    assert pid is not None
    # WHEN it stays idle longer than the idle period
    _wait_for(lambda: backend.server is None, "the idle stop", timeout_s=IDLE_S + 30)
    # THEN its Triton is stopped (scaled to zero: the next request is a cold start, as the first was)
    assert backend.scaled_to_zero and sls.plane.describe_backends()
    def exited() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    _wait_for(exited, "Triton's exit")
    # AND the provisioned endpoint's Triton, idle for longer, still runs
    assert sls.backend("provisioned").server is not None


def test_invocation_timeout_is_a_model_error_naming_it(sls: Serverless, tmp_path: Any) -> None:
    from rehearsal.data_plane import LocalDataPlane

    # GIVEN a second data plane on the same emulator whose serverless containers have 1 µs to answer
    # (the provisioned endpoint is deleted first: this plane would start it too)
    sls.sagemaker.delete_endpoint(EndpointName="provisioned")
    with LocalDataPlane(
        sls.moto.endpoint_url, work_dir=tmp_path, serverless_invocation_timeout_s=1e-6, metrics_interval_s=3600
    ) as plane:
        runtime = _runtime(plane.endpoint_url)
        # WHEN the on-demand endpoint is invoked through it (a cold start, then the container call)
        with pytest.raises(runtime.exceptions.ModelError) as raised:
            runtime.invoke_endpoint(EndpointName="on-demand", ContentType="application/json", Body=BODY)
    # THEN the call that outlived the timeout is a ModelError with the container's status 408
    assert raised.value.response["OriginalStatusCode"] == 408
    assert "timed out while waiting for a response from container primary (after 1e-06 s)" in str(raised.value)
