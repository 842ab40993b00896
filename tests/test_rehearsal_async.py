"""rehearsal.data_plane: InvokeEndpointAsync against moto's S3/SNS/SQS/CloudWatch and a real Triton.

Everything is real: moto's server holds the endpoints, the inputs and outputs, the topics and the
queue the topics deliver to; the bert-tiny example built by model_build runs in Triton; the client
is plain boto3 (upload the input, ``invoke_endpoint_async``, wait for the notification on an SQS
queue subscribed to the topics, read ``OutputLocation``): ``rehearsal.async_client``, the code that
runs against AWS. Every wait settles for a second after the last notification, so a second
notification for a request would be counted.

One moto, one data plane and one build per module. The TTL request (``RequestTTLSeconds`` is at
least 60) is sent when the module starts, to an endpoint that cannot leave zero instances, and is
checked by the last test, so its wait overlaps the others.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import signal
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psutil
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rehearsal.api_endpoints import create_triton_endpoint
from rehearsal.async_client import Notification, NotificationQueue, read_s3
from rehearsal.data_plane.async_inference import MAX_ASYNC_INPUT_BYTES
from rehearsal.reference import ModelReference, kserve_outputs, kserve_request, tokenized_inputs

BUCKET = "rehearsal-async"
MODELS = "rehearsal-models"
COOLDOWN_S = 2.0
TTL_S = 60  # the smallest RequestTTLSeconds SageMaker takes

# The documented success notification's keys (SERVICE-FACTS §2.2; AWS's async-inference-check-predictions page).
SUCCESS_KEYS = {
    "awsRegion",
    "eventTime",
    "receivedTime",
    "invocationStatus",
    "requestParameters",
    "responseParameters",
    "inferenceId",
    "eventVersion",
    "eventSource",
    "eventName",
}


@dataclass
class AsyncRehearsal:
    """moto with the bert-tiny artifact, topics, a subscribed queue, async endpoints, and the data plane."""

    moto: Any
    plane: Any
    clients: dict[str, Any]
    runtime: Any
    spec: Any
    built: Any
    notifications: NotificationQueue
    ttl_response: dict[str, Any]
    ttl_sent_at: float

    def __getattr__(self, name: str) -> Any:
        try:
            return self.clients[name]
        except KeyError:
            raise AttributeError(name) from None

    def put_input(self, key: str, body: bytes) -> str:
        self.clients["s3"].put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="application/json")
        return f"s3://{BUCKET}/{key}"

    def read(self, location: str) -> bytes | None:
        """The object at ``location``, or None when there is none."""
        return read_s3(self.clients["s3"], location)

    def ended(self, ids: Sequence[str], timeout_s: float = 120.0) -> dict[str, list[Notification]]:
        """Every notification of ``ids``, once each has one and the queue stayed quiet for a second."""
        ended = self.notifications.wait_for(ids, timeout_s, settle_s=1)
        # One receiver, deleting at once: SQS has no cause to deliver a message twice, so none may come again.
        assert self.notifications.redelivered == 0
        return ended

    def queue(self, endpoint: str) -> dict[str, Any]:
        return next(q for q in self.plane.describe_async_queues() if q["endpoint"] == endpoint)

    def backend(self, endpoint: str) -> dict[str, Any]:
        return next(b for b in self.plane.describe_backends() if b["endpoint"] == endpoint)


def _create_async_endpoint(
    clients: dict[str, Any], spec: Any, name: str, topics: tuple[str, str], *, capacity: tuple[int, int] | None = None
) -> None:
    create_triton_endpoint(
        clients["sagemaker"],
        name,
        model_data_url=f"s3://{MODELS}/bert-tiny/model.tar.gz",
        triton_model_name=spec.name,
        async_inference_config={
            "OutputConfig": {
                "S3OutputPath": f"s3://{BUCKET}/{name}/output",
                "S3FailurePath": f"s3://{BUCKET}/{name}/failure",
                "NotificationConfig": {"SuccessTopic": topics[0], "ErrorTopic": topics[1]},
            },
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2},  # the seed's value
        },
        # moto's CloudFormation skips AWS::ApplicationAutoScaling::ScalableTarget: registered through the API.
        autoscaling=clients["autoscaling"],
        capacity=capacity,
    )


@pytest.fixture(scope="module")
def ar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsyncRehearsal]:
    """Endpoints ``bert-async`` (always on), ``bert-zero`` (MinCapacity 0) and ``bert-never`` (Min = Max = 0)."""
    import boto3

    from model_build.examples import get_example
    from model_build.pipeline import build
    from rehearsal.data_plane import LocalDataPlane
    from rehearsal.moto_server import MotoServer

    spec = get_example("bert-tiny")
    built = build(spec)
    with MotoServer() as moto:
        kwargs = moto.boto3_kwargs()
        clients = {
            name: boto3.client(service, **kwargs)
            for name, service in [
                ("s3", "s3"),
                ("sagemaker", "sagemaker"),
                ("sns", "sns"),
                ("sqs", "sqs"),
                ("cloudwatch", "cloudwatch"),
                ("autoscaling", "application-autoscaling"),
            ]
        }
        s3 = clients["s3"]
        s3.create_bucket(Bucket=MODELS)
        s3.upload_file(str(built.archive_path), MODELS, "bert-tiny/model.tar.gz")
        s3.create_bucket(Bucket=BUCKET)
        topics = (
            clients["sns"].create_topic(Name="async-success")["TopicArn"],
            clients["sns"].create_topic(Name="async-error")["TopicArn"],
        )
        notifications = NotificationQueue.create(clients["sqs"], clients["sns"], "async-notifications", topics)
        _create_async_endpoint(clients, spec, "bert-async", topics)
        _create_async_endpoint(clients, spec, "bert-zero", topics, capacity=(0, 5))
        _create_async_endpoint(clients, spec, "bert-never", topics, capacity=(0, 0))
        with LocalDataPlane(
            moto.endpoint_url, work_dir=tmp_path_factory.mktemp("plane"), seed=0, scale_in_cooldown_s=COOLDOWN_S
        ) as plane:
            runtime = boto3.client(
                "sagemaker-runtime",
                endpoint_url=plane.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(max_pool_connections=16, retries={"max_attempts": 1}),
            )
            good = kserve_request(tokenized_inputs(batch_size=1, sequence_length=128, seed=1))
            s3.put_object(Bucket=BUCKET, Key="input/ttl.json", Body=good)
            ttl_sent_at = time.monotonic()
            ttl_response = runtime.invoke_endpoint_async(
                EndpointName="bert-never",
                InputLocation=f"s3://{BUCKET}/input/ttl.json",
                ContentType="application/json",
                InferenceId="ttl-1",
                RequestTTLSeconds=TTL_S,
            )
            yield AsyncRehearsal(
                moto,
                plane,
                clients,
                runtime,
                spec,
                built,
                notifications,
                ttl_response,
                ttl_sent_at,
            )


def torch_logits(ar: AsyncRehearsal, inputs: dict[str, np.ndarray]) -> np.ndarray:
    return ModelReference(ar.spec, ar.built.manifest).outputs(inputs)["logits"]


def assert_close(ar: AsyncRehearsal, got: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(got, expected, atol=ar.spec.tolerance.atol, rtol=ar.spec.tolerance.rtol)


# ------------------------------------------------------------------------------------- round trips


@pytest.mark.slow
def test_invoke_endpoint_async_round_trip_through_plain_boto3_equals_torch(ar: AsyncRehearsal) -> None:
    # GIVEN an input uploaded to S3
    inputs = tokenized_inputs(batch_size=3, sequence_length=128, seed=7)
    location = ar.put_input("input/ok-1.json", kserve_request(inputs))
    # WHEN boto3's invoke_endpoint_async is called
    response = ar.runtime.invoke_endpoint_async(
        EndpointName="bert-async", InputLocation=location, ContentType="application/json", InferenceId="ok-1"
    )
    # THEN it is accepted at once (202) with the locations SageMaker names
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert response["InferenceId"] == "ok-1"
    assert response["OutputLocation"] == f"s3://{BUCKET}/bert-async/output/ok-1.out"
    assert response["FailureLocation"] == f"s3://{BUCKET}/bert-async/failure/ok-1-error.out"
    # THEN exactly one success notification reaches the SQS queue subscribed to the success topic
    (note,) = ar.ended(["ok-1"])["ok-1"]
    assert set(note.body) == SUCCESS_KEYS
    assert (note.body["invocationStatus"], note.body["eventName"], note.body["eventSource"], note.body["eventVersion"]) == (
        "Completed",
        "InferenceResult",
        "aws:sagemaker",
        "1.0",
    )
    assert note.body["requestParameters"] == {
        "contentType": "application/json",
        "endpointName": "bert-async",
        "inputLocation": location,
    }
    assert note.output_location == response["OutputLocation"]
    assert note.body["awsRegion"] == "us-east-1" and note.body["receivedTime"] <= note.body["eventTime"]
    # THEN the output object holds Triton's answer, equal to the torch model's; no failure object
    output = ar.read(response["OutputLocation"])
    assert output is not None
    assert_close(ar, kserve_outputs(output)["logits"], torch_logits(ar, inputs))
    assert ar.read(response["FailureLocation"]) is None


@pytest.mark.slow
def test_invoke_endpoint_async_inline_body_with_path_extension_and_filename(ar: AsyncRehearsal) -> None:
    # GIVEN a small input sent inline (Body, no S3 upload), with an output path extension and a file name
    inputs = tokenized_inputs(batch_size=1, sequence_length=128, seed=8)
    response = ar.runtime.invoke_endpoint_async(
        EndpointName="bert-async",
        Body=kserve_request(inputs),
        ContentType="application/json",
        InferenceId="inline-1",
        S3OutputPathExtension="batch-7",
        Filename="answer.json",
    )
    # THEN the output goes to <S3OutputPath>/<extension>/<Filename>, and holds the model's answer
    assert response["OutputLocation"] == f"s3://{BUCKET}/bert-async/output/batch-7/answer.json"
    (note,) = ar.ended(["inline-1"])["inline-1"]
    assert note.succeeded and note.body["requestParameters"]["inputLocation"] is None
    output = ar.read(response["OutputLocation"])
    assert output is not None
    assert_close(ar, kserve_outputs(output)["logits"], torch_logits(ar, inputs))


@pytest.mark.slow
def test_malformed_input_lands_in_the_failure_path_with_an_error_notification(ar: AsyncRehearsal) -> None:
    # GIVEN an input the model cannot parse
    location = ar.put_input("input/bad-1.json", b"this is not JSON")
    # WHEN it is invoked asynchronously
    response = ar.runtime.invoke_endpoint_async(
        EndpointName="bert-async", InputLocation=location, ContentType="application/json", InferenceId="bad-1"
    )
    # THEN one error notification arrives (shape as public consumers expect it; AWS documents none)
    (note,) = ar.ended(["bad-1"])["bad-1"]
    assert note.body["invocationStatus"] == "Failed"
    assert note.failure_reason.startswith("ClientError: Received server error (500) from model")
    assert note.body["requestParameters"]["inputLocation"] == location
    assert note.body["responseParameters"]["failureLocation"] == response["FailureLocation"]
    # THEN the failure object holds the reason and Triton's message; no output object exists
    failure = ar.read(response["FailureLocation"])
    assert failure is not None and b"JSON" in failure
    assert ar.read(response["OutputLocation"]) is None


# ---------------------------------------------------------------------------- refused at once


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"EndpointName": "no-such"}, "Endpoint no-such of account 123456789012 not found."),
        ({"EndpointName": "bert-rt"}, "is not an asynchronous inference endpoint"),
        ({"RequestTTLSeconds": 59}, "at 'requestTTLSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"),
        ({"RequestTTLSeconds": 21601}, "Member must have value less than or equal to 21600"),
        ({"InvocationTimeoutSeconds": 0}, "at 'invocationTimeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        ({"InvocationTimeoutSeconds": 3601}, "Member must have value less than or equal to 3600"),
        ({"Body": b"{}"}, "Exactly one of InputLocation and Body must be provided (got both)"),
        ({"InputLocation": None}, "Exactly one of InputLocation and Body must be provided (got neither)"),
        ({"InputLocation": "https://example.com/x"}, "is not an S3 URI"),
        ({"Filename": "a.b.c"}, "at 'filename' failed to satisfy constraint"),
    ],
    ids=["unknown-endpoint", "real-time-endpoint", "ttl-59", "ttl-21601", "timeout-0", "timeout-3601",
         "body-and-location", "neither", "https-location", "filename-two-dots"],
)
def test_invoke_endpoint_async_refuses_what_sagemaker_refuses_with_a_validation_error(
    ar: AsyncRehearsal, kwargs: dict[str, Any], expected: str
) -> None:
    import boto3

    if kwargs.get("EndpointName") == "bert-rt" and "bert-rt" not in {
        e["EndpointName"] for e in ar.sagemaker.list_endpoints()["Endpoints"]
    }:
        ar.sagemaker.create_endpoint_config(
            EndpointConfigName="bert-rt-config",
            ProductionVariants=[
                {"VariantName": "AllTraffic", "ModelName": "bert-async-AllTraffic", "InitialInstanceCount": 1, "InstanceType": "ml.g4dn.xlarge"}
            ],
        )
        ar.sagemaker.create_endpoint(EndpointName="bert-rt", EndpointConfigName="bert-rt-config")
    # GIVEN a client that sends what boto3 would refuse itself (so the data plane's own checks answer)
    raw = boto3.client(
        "sagemaker-runtime",
        endpoint_url=ar.plane.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    request = {"EndpointName": "bert-async", "InputLocation": f"s3://{BUCKET}/input/ttl.json", **kwargs}
    request = {k: v for k, v in request.items() if v is not None}
    accepted = ar.plane.api.async_inference.accepted
    # WHEN it is sent
    with pytest.raises(ClientError) as excinfo:
        raw.invoke_endpoint_async(**request)
    # THEN SageMaker's ValidationError (400) comes back, and nothing was queued
    error = excinfo.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("ValidationError", 400)
    assert expected in error["Error"]["Message"]
    assert ar.plane.api.async_inference.accepted == accepted


@pytest.mark.slow
def test_invoke_endpoint_on_an_async_endpoint_is_a_validation_error(ar: AsyncRehearsal) -> None:
    # WHEN the real-time API is called on an async endpoint
    with pytest.raises(ar.runtime.exceptions.ValidationError) as excinfo:
        ar.runtime.invoke_endpoint(EndpointName="bert-async", ContentType="application/json", Body=b"{}")
    # THEN SageMaker's ValidationError says which API to use
    assert "InvokeEndpointAsync" in excinfo.value.response["Error"]["Message"]


# ------------------------------------------------------------------------------- large inputs


class _Zeros(io.RawIOBase):
    """A seekable stream of ``size`` zero bytes that never exists in memory (an upload body)."""

    def __init__(self, size: int) -> None:
        self.size, self.pos = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = [offset, self.pos + offset, self.size + offset][whence]
        return self.pos

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.pos)
        buffer[:n] = bytes(n)
        self.pos += n
        return n


@pytest.mark.slow
def test_100_mb_input_is_streamed_through_without_the_plane_holding_it(ar: AsyncRehearsal) -> None:
    # GIVEN a 100 MB input: a real request padded with 100 MiB of JSON whitespace before its last brace,
    # so Triton must read every byte before it can answer
    inputs = tokenized_inputs(batch_size=2, sequence_length=128, seed=9)
    request = kserve_request(inputs)
    padding = 100 * 1024 * 1024
    body = io.BytesIO(request[:-1] + b" " * padding + request[-1:])
    ar.s3.upload_fileobj(body, BUCKET, "input/big.json")
    del body
    # WHEN it is invoked asynchronously, the data plane running in this process under tracemalloc
    tracemalloc.start()
    try:
        response = ar.runtime.invoke_endpoint_async(
            EndpointName="bert-async",
            InputLocation=f"s3://{BUCKET}/input/big.json",
            ContentType="application/json",
            InferenceId="big-1",
        )
        (note,) = ar.ended(["big-1"])["big-1"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # THEN the answer equals torch's (every byte reached Triton) ...
    assert note.succeeded, note.body
    output = ar.read(response["OutputLocation"])
    assert output is not None
    assert_close(ar, kserve_outputs(output)["logits"], torch_logits(ar, inputs))
    # ... and this process's Python heap never held more than a quarter of the input at once
    assert peak < padding / 4, f"peak traced memory {peak / 2**20:.1f} MiB for a {padding / 2**20:.0f} MiB input"


@pytest.mark.slow
def test_input_over_the_1_gb_limit_is_refused_at_once(ar: AsyncRehearsal) -> None:
    # GIVEN an input of 1 GiB + 1 byte in S3 (streamed up from a generator, never whole in memory here)
    size = MAX_ASYNC_INPUT_BYTES + 1
    ar.s3.put_object(Bucket=BUCKET, Key="input/huge.bin", Body=io.BufferedReader(_Zeros(size), 1 << 20), ContentLength=size)
    accepted = ar.plane.api.async_inference.accepted
    try:
        # WHEN it is invoked asynchronously
        with pytest.raises(ar.runtime.exceptions.ValidationError) as excinfo:
            ar.runtime.invoke_endpoint_async(EndpointName="bert-async", InputLocation=f"s3://{BUCKET}/input/huge.bin")
    finally:
        ar.s3.delete_object(Bucket=BUCKET, Key="input/huge.bin")  # frees moto's memory
    # THEN SageMaker's ValidationError names the size and the limit, and nothing was queued
    message = excinfo.value.response["Error"]["Message"]
    assert f"{size} bytes" in message and "1 GB" in message
    assert ar.plane.api.async_inference.accepted == accepted


# --------------------------------------------------------------------------- timeout, scale to zero


@pytest.mark.slow
def test_invocation_timeout_ends_the_request_as_a_failure(ar: AsyncRehearsal) -> None:
    # GIVEN bert-async's Triton stopped (SIGSTOP: it accepts connections but answers nothing)
    location = ar.put_input("input/slow.json", kserve_request(tokenized_inputs(batch_size=1, sequence_length=128, seed=2)))
    pid = ar.backend("bert-async")["triton_pid"]
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        # WHEN a request with InvocationTimeoutSeconds=1 runs
        response = ar.runtime.invoke_endpoint_async(
            EndpointName="bert-async", InputLocation=location, InferenceId="slow-1", InvocationTimeoutSeconds=1
        )
        (note,) = ar.ended(["slow-1"], timeout_s=30)["slow-1"]
    finally:
        os.kill(pid, signal.SIGCONT)
    # THEN it ends as a failure naming the timeout, with its failure object
    assert note.body["invocationStatus"] == "Failed"
    assert "timed out after 1 s" in note.failure_reason
    failure = ar.read(response["FailureLocation"])
    assert failure is not None and b"InvocationTimeoutSeconds" in failure
    assert ar.read(response["OutputLocation"]) is None


def _wait(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout_s} s"
        time.sleep(0.05)


@pytest.mark.slow
def test_variant_scales_to_zero_when_idle_and_back_when_work_arrives(ar: AsyncRehearsal) -> None:
    inputs = tokenized_inputs(batch_size=1, sequence_length=128, seed=3)
    location = ar.put_input("input/zero.json", kserve_request(inputs))
    def watch(inference_id: str) -> tuple[list[tuple[int, int]], set[int]]:
        """Until the request's notification: (HasBacklogWithoutCapacity, backlog) and Triton pids seen."""
        seen, pids = [], set()
        deadline = time.monotonic() + 120
        while inference_id not in ar.notifications.received:
            assert time.monotonic() < deadline, f"no notification for {inference_id}"
            queue = ar.queue("bert-zero")
            seen.append((queue["HasBacklogWithoutCapacity"], queue["ApproximateBacklogSize"]))
            pids.add(ar.backend("bert-zero")["triton_pid"])
            ar.notifications.poll(wait_s=0)
            time.sleep(0.05)
        return seen, pids - {None}

    # GIVEN bert-zero (scalable target MinCapacity 0) served once
    ar.runtime.invoke_endpoint_async(EndpointName="bert-zero", InputLocation=location, InferenceId="zero-1")
    _, (first_pid,) = watch("zero-1")
    assert ar.notifications.received["zero-1"][0].succeeded
    # WHEN it stays idle past the scale-in cooldown
    _wait(lambda: ar.backend("bert-zero")["scaled_to_zero"], 30, "scale-in")
    # THEN its Triton is stopped and the endpoint has no instance
    _wait(lambda: not psutil.pid_exists(first_pid) or psutil.Process(first_pid).status() == psutil.STATUS_ZOMBIE, 30, "Triton exit")
    assert ar.queue("bert-zero")["instances"] == 0
    # WHEN a request arrives at zero capacity
    sent_at = time.time()
    response = ar.runtime.invoke_endpoint_async(EndpointName="bert-zero", InputLocation=location, InferenceId="zero-2")
    seen, pids = watch("zero-2")
    # THEN it waited in the queue with HasBacklogWithoutCapacity = 1 while Triton started, then was served
    assert (1, 1) in seen, seen[:20]
    (note,) = ar.notifications.received["zero-2"]
    assert note.succeeded
    output = ar.read(response["OutputLocation"])
    assert output is not None
    assert_close(ar, kserve_outputs(output)["logits"], torch_logits(ar, inputs))
    # THEN a new Triton served it (it may be scaled in again by now)
    assert pids - {first_pid}, pids
    # THEN CloudWatch got HasBacklogWithoutCapacity = 1 with the EndpointName dimension only (the alarm's metric)
    points = ar.cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="HasBacklogWithoutCapacity",
        Dimensions=[{"Name": "EndpointName", "Value": "bert-zero"}],
        StartTime=sent_at - 120,
        EndTime=time.time() + 120,
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert max(p["Maximum"] for p in points) == 1.0


# -------------------------------------------------------------------------------- nothing lost


@pytest.mark.slow
def test_nothing_lost_when_triton_is_killed_mid_run(ar: AsyncRehearsal) -> None:
    # GIVEN 300 requests, every 10th malformed
    n = 300
    good = ar.put_input("input/lost-good.json", kserve_request(tokenized_inputs(batch_size=1, sequence_length=128, seed=4)))
    bad = ar.put_input("input/lost-bad.json", b"{not json")
    ids = [f"lost-{i}" for i in range(n)]
    malformed = {ids[i] for i in range(3, n, 10)}
    before = ar.backend("bert-async")
    # WHEN they are sent at once and Triton is SIGKILLed once a third of them have ended
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        accepted = list(
            pool.map(
                lambda i: ar.runtime.invoke_endpoint_async(
                    EndpointName="bert-async", InputLocation=bad if i in malformed else good, InferenceId=i
                )["InferenceId"],
                ids,
            )
        )
    assert accepted == ids
    _wait(lambda: (ar.notifications.poll() or True) and sum(i in ar.notifications.received for i in ids) >= n // 3, 120, "a third ended")
    backlog_at_kill = ar.queue("bert-async")["ApproximateBacklogSize"]
    os.kill(before["triton_pid"], signal.SIGKILL)
    ended = ar.ended(ids, timeout_s=300)
    # THEN work was still queued at the kill, and the container was replaced once
    assert backlog_at_kill > 0
    after = ar.backend("bert-async")
    assert after["restarts"] == before["restarts"] + 1 and after["triton_pid"] != before["triton_pid"]
    # THEN every request has exactly one notification, and exactly one object: an output when its input
    # was good, a failure when it was malformed
    assert {i: len(notes) for i, notes in ended.items() if len(notes) != 1} == {}
    prefix = {"output": "bert-async/output/lost-", "failure": "bert-async/failure/lost-"}
    objects = {
        kind: {
            o["Key"].rsplit("/", 1)[1].removesuffix("-error.out").removesuffix(".out")
            for page in ar.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=p)
            for o in page.get("Contents", [])
        }
        for kind, p in prefix.items()
    }
    assert objects["failure"] == malformed
    assert objects["output"] == set(ids) - malformed
    assert {i for i, (note,) in ended.items() if note.body["invocationStatus"] == "Failed"} == malformed
    assert ar.plane.api.async_inference.second_ends_refused == 0


# ----------------------------------------------------------------------------------- TTL (last)


@pytest.mark.slow
def test_request_past_its_ttl_ends_as_an_expired_failure(ar: AsyncRehearsal) -> None:
    # GIVEN the request sent at the module's start to bert-never (MinCapacity = MaxCapacity = 0: it can
    # never be served) with RequestTTLSeconds=60
    if time.monotonic() - ar.ttl_sent_at < TTL_S - 5:
        # THEN while it waits, the endpoint shows a backlog without capacity
        queue = ar.queue("bert-never")
        assert (queue["HasBacklogWithoutCapacity"], queue["ApproximateBacklogSize"], queue["instances"]) == (1, 1, 0)
    # WHEN its TTL passes
    (note,) = ar.ended(["ttl-1"], timeout_s=TTL_S + 60)["ttl-1"]
    # THEN it ended as a failure, not before its TTL, counted in ExpiredRequests, with its failure object
    assert time.monotonic() - ar.ttl_sent_at >= TTL_S
    assert note.body["invocationStatus"] == "Failed"
    assert "expired" in note.failure_reason and "RequestTTLSeconds (60 s)" in note.failure_reason
    failure = ar.read(ar.ttl_response["FailureLocation"])
    assert failure is not None and b"expired" in failure
    assert ar.queue("bert-never")["variants"]["AllTraffic"]["ExpiredRequests"] == 1
    assert ar.queue("bert-never")["ApproximateBacklogSize"] == 0


# ------------------------------------------------------------------------- metrics (after the TTL)


@pytest.mark.slow
def test_async_endpoints_publish_every_asynchronous_metric(ar: AsyncRehearsal) -> None:
    import datetime

    from model_build.sagemaker_metrics import ServingMode
    from rehearsal.data_plane.metrics import missing_metrics, published_metrics

    # GIVEN the module's traffic (successes, failures, a restart, a request expired on bert-never)
    # WHEN the data plane publishes (two samples: the CPU share needs two readings) and the metrics are read back
    ar.plane.flush_metrics()
    time.sleep(0.5)
    ar.plane.flush_metrics()
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(minutes=1)
    refs = published_metrics("bert-async", "AllTraffic", ServingMode.ASYNC)
    missing = missing_metrics(ar.cloudwatch, refs, start, end)
    # THEN every metric SageMaker publishes for an asynchronous endpoint (but the GPU ones) has data,
    # the queue metrics with EndpointName only
    assert {r.name for r in refs} >= {"HasBacklogWithoutCapacity", "ApproximateBacklogSizePerInstance", "TimeInBacklog"}
    assert missing == [], [r.describe() for r in missing]
    # THEN bert-never's expired request and its backlog without capacity are there, as its alarms would read them
    never = [{"Name": "EndpointName", "Value": "bert-never"}]

    def stat(name: str, dimensions: list[dict[str, str]], statistic: str) -> float:
        points = ar.cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker", MetricName=name, Dimensions=dimensions, StartTime=start, EndTime=end,
            Period=3600, Statistics=[statistic],
        )["Datapoints"]  # fmt: skip
        return max(p[statistic] for p in points)

    assert stat("HasBacklogWithoutCapacity", never, "Maximum") == 1.0
    assert stat("ExpiredRequests", [*never, {"Name": "VariantName", "Value": "AllTraffic"}], "Sum") == 1.0
