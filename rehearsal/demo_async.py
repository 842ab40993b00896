"""The asynchronous part of ``make demo`` (seed 002's system): plain boto3 against the emulator.

Every call here is one a client makes against AWS: upload the input to S3,
``invoke_endpoint_async``, wait for the notification on an SQS queue subscribed to the endpoint's
topics (:class:`rehearsal.async_client.NotificationQueue`), read the output (or the failure) from
S3. The only emulator-specific step is registering the scalable target, which moto's
CloudFormation skips: it is registered through the Application Auto Scaling API with the
template's own values, and the demo says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_build.aws import parse_s3_uri
from rehearsal.async_client import NotificationQueue, read_s3
from rehearsal.demo import DemoFailure, DeployedEndpoint, compare_outputs, format_row
from rehearsal.reference import ModelReference, kserve_outputs, kserve_request

#: How long the demo waits for one notification (a cold start of Triton included).
NOTIFICATION_TIMEOUT_S = 300.0
#: How long it waits for the idle variant to scale to zero, beyond the data plane's cooldown.
SCALE_IN_GRACE_S = 30.0


@dataclass(frozen=True)
class AsyncSetup:
    """What the demo's client knows about the deployed asynchronous endpoint.

    Attributes:
        endpoint_name: The endpoint.
        variant_name: Its (only) production variant.
        input_prefix: ``s3://bucket/prefix`` where inputs are uploaded (the stack's ``InputPath``).
        output_path: ``S3OutputPath`` of the deployed config.
        failure_path: ``S3FailurePath`` of the deployed config.
        queue: The SQS queue subscribed to both topics.
    """

    endpoint_name: str
    variant_name: str
    input_prefix: str
    output_path: str
    failure_path: str
    queue: NotificationQueue


def prepare(
    clients: Mapping[str, Any],
    assembly: Path,
    deployed: DeployedEndpoint,
    outputs: Mapping[str, str],
    say: Any,
) -> AsyncSetup:
    """Register the skipped scalable target with the template's values and subscribe a queue to both topics."""
    config = deployed.config.get("AsyncInferenceConfig") or {}
    output_config = config.get("OutputConfig") or {}
    topics = output_config.get("NotificationConfig") or {}
    if not output_config.get("S3OutputPath") or not topics:
        raise DemoFailure(
            f"endpoint config {deployed.config['EndpointConfigName']} has no AsyncInferenceConfig with topics: {config}"
        )
    variant = deployed.config["ProductionVariants"][0]["VariantName"]
    template = json.loads((assembly / f"{deployed.stack}.template.json").read_text())
    targets = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    ]
    if len(targets) != 1:
        raise DemoFailure(f"{deployed.stack} holds {len(targets)} scalable targets; the demo expects one")
    target = targets[0]
    resource_id = f"endpoint/{deployed.endpoint_name}/variant/{variant}"
    clients["application-autoscaling"].register_scalable_target(
        ServiceNamespace=target["ServiceNamespace"],
        ResourceId=resource_id,
        ScalableDimension=target["ScalableDimension"],
        MinCapacity=int(target["MinCapacity"]),
        MaxCapacity=int(target["MaxCapacity"]),
    )
    say(
        "moto's CloudFormation skipped AWS::ApplicationAutoScaling::ScalableTarget: registered through the API "
        f"with the template's values: {resource_id}, MinCapacity {target['MinCapacity']}, MaxCapacity {target['MaxCapacity']}"
    )
    say(
        "not rehearsed: the scaling policies and the HasBacklogWithoutCapacity alarm (moto evaluates no alarms); "
        "the data plane starts a variant at zero as soon as work is queued, where AWS's alarm takes 2 x 60 s"
    )
    queue = NotificationQueue.create(
        clients["sqs"],
        clients["sns"],
        "demo-notifications",
        [topics.get("SuccessTopic", ""), topics.get("ErrorTopic", "")],
    )
    say(
        f"SQS queue {queue.queue_url.rsplit('/', 1)[-1]} subscribed to {topics.get('SuccessTopic')} and {topics.get('ErrorTopic')}"
    )
    client = config.get("ClientConfig") or {}
    say(
        f"S3OutputPath {output_config['S3OutputPath']}, S3FailurePath {output_config.get('S3FailurePath')}, "
        f"MaxConcurrentInvocationsPerInstance {client.get('MaxConcurrentInvocationsPerInstance', 'chosen by SageMaker')}"
    )
    return AsyncSetup(
        endpoint_name=deployed.endpoint_name,
        variant_name=variant,
        input_prefix=outputs.get("InputPath", "").rstrip("/"),
        output_path=output_config["S3OutputPath"],
        failure_path=output_config.get("S3FailurePath", ""),
        queue=queue,
    )


def _submit(
    runtime: Any, clients: Mapping[str, Any], setup: AsyncSetup, name: str, body: bytes
) -> dict[str, Any]:
    """Upload ``body`` under the input prefix and call ``invoke_endpoint_async`` on it."""
    if not setup.input_prefix.startswith("s3://"):
        raise DemoFailure(f"the stack's InputPath output is not an s3:// URI: {setup.input_prefix!r}")
    bucket, prefix = parse_s3_uri(setup.input_prefix + "/")
    clients["s3"].put_object(Bucket=bucket, Key=f"{prefix}{name}", Body=body, ContentType="application/json")
    return dict(
        runtime.invoke_endpoint_async(
            EndpointName=setup.endpoint_name,
            InputLocation=f"s3://{bucket}/{prefix}{name}",
            ContentType="application/json",
        )
    )


def _one_notification(setup: AsyncSetup, inference_id: str) -> Any:
    try:
        (notes,) = setup.queue.wait_for([inference_id], NOTIFICATION_TIMEOUT_S).values()
    except TimeoutError as error:
        raise DemoFailure(str(error)) from None
    if len(notes) != 1:
        raise DemoFailure(
            f"request {inference_id} got {len(notes)} notifications, not one: {[n.body for n in notes]}"
        )
    return notes[0]


def _check_answer(
    clients: Mapping[str, Any],
    answer: Mapping[str, Any],
    note: Any,
    reference: ModelReference,
    inputs: Mapping[str, np.ndarray],
    request: str,
) -> tuple[np.ndarray, np.ndarray]:
    if not note.succeeded:
        raise DemoFailure(f"{request} failed: {note.failure_reason or note.body}")
    if note.output_location != answer["OutputLocation"]:
        raise DemoFailure(
            f"{request}: the notification names {note.output_location}, the call answered {answer['OutputLocation']}"
        )
    body = read_s3(clients["s3"], answer["OutputLocation"])
    if body is None:
        raise DemoFailure(f"{request}: no object at {answer['OutputLocation']}")
    got = kserve_outputs(body)
    want, _ = compare_outputs(request, got, reference, inputs)
    name = reference.output_names[0]
    return np.asarray(got[name]), want[name]


def invoke_and_compare(
    runtime: Any, clients: Mapping[str, Any], setup: AsyncSetup, reference: ModelReference, say: Any
) -> None:
    """Two requests (the first starts Triton: cold; the second warm), each compared with the source."""
    name = reference.output_names[0]
    say(f"{'req':>3} {'rows':>4} {'':<5} {'ms':>8}  {'endpoint ' + name + ' (row 0)':<40} = {reference.kind}")
    for i, state in enumerate(("cold", "warm")):
        inputs = reference.inputs(batch_size=i + 1, seed=2000 + i)
        started = time.monotonic()
        answer = _submit(runtime, clients, setup, f"demo-{i}.json", kserve_request(inputs))
        note = _one_notification(setup, answer["InferenceId"])
        elapsed_ms = (time.monotonic() - started) * 1000
        got, want = _check_answer(clients, answer, note, reference, inputs, f"async request {i}")
        say(
            f"{i:>3} {i + 1:>4} {state:<5} {elapsed_ms:8.1f}  {format_row(got[0]):<40} = {format_row(want[0])}"
        )
    say(f"output {answer['OutputLocation']}")
    say(
        f"notification: invocationStatus {note.body['invocationStatus']}, keys {', '.join(sorted(note.body))}"
    )
    say(f"every answer equals {reference.kind} exactly (integer token ids); ms = call to notification")


def malformed(runtime: Any, clients: Mapping[str, Any], setup: AsyncSetup, say: Any) -> None:
    """Send a body the model cannot take: it must end in the failure path, with an error notification."""
    answer = _submit(runtime, clients, setup, "demo-malformed.json", b'{"inputs": "not a tensor"}')
    note = _one_notification(setup, answer["InferenceId"])
    if note.succeeded:
        raise DemoFailure(f"the malformed input succeeded: {note.body}")
    failure_location = answer.get("FailureLocation") or note.failure_location
    if not failure_location or read_s3(clients["s3"], failure_location) is None:
        raise DemoFailure(f"no failure object for the malformed input (FailureLocation {failure_location!r})")
    if read_s3(clients["s3"], answer["OutputLocation"]) is not None:
        raise DemoFailure(f"the malformed input left an output object at {answer['OutputLocation']}")
    say(f"error notification: {note.failure_reason[:160]}")
    say(f"failure object {failure_location}; no output object")


def scale_to_zero_and_back(
    runtime: Any,
    clients: Mapping[str, Any],
    setup: AsyncSetup,
    reference: ModelReference,
    plane: Any,
    say: Any,
) -> None:
    """Wait for the idle variant to stop; then one request starts it again and is served."""
    idle_since = time.monotonic()
    deadline = idle_since + plane.scale_in_cooldown_s + SCALE_IN_GRACE_S
    while not _backend(plane, setup.endpoint_name).get("scaled_to_zero"):
        if time.monotonic() > deadline:
            raise DemoFailure(f"the idle variant did not scale to zero within {deadline - idle_since:.0f} s")
        time.sleep(0.1)
    say(
        f"idle {time.monotonic() - idle_since:.1f} s (cooldown {plane.scale_in_cooldown_s:g} s): Triton stopped, instances 0"
    )
    inputs = reference.inputs(batch_size=1, seed=2100)
    started = time.monotonic()
    answer = _submit(runtime, clients, setup, "demo-from-zero.json", kserve_request(inputs))
    backlog_without_capacity = False
    while not setup.queue.received.get(answer["InferenceId"]):
        queue: dict[str, Any] = next(
            (q for q in plane.describe_async_queues() if q["endpoint"] == setup.endpoint_name), {}
        )
        backlog_without_capacity |= queue.get("HasBacklogWithoutCapacity") == 1
        setup.queue.poll(wait_s=0)
        if time.monotonic() - started > NOTIFICATION_TIMEOUT_S:
            raise DemoFailure(
                f"the request sent at zero instances got no notification in {NOTIFICATION_TIMEOUT_S:.0f} s"
            )
        time.sleep(0.05)
    note = _one_notification(setup, answer["InferenceId"])
    elapsed = time.monotonic() - started
    got, _ = _check_answer(clients, answer, note, reference, inputs, "the request sent at zero")
    if not backlog_without_capacity:
        raise DemoFailure("HasBacklogWithoutCapacity never read 1 while the request waited at zero instances")
    say("HasBacklogWithoutCapacity = 1 while the request waited at zero instances; Triton started again")
    say(f"served {elapsed:.1f} s after the call (restart included): {format_row(got[0])} = {reference.kind}")
    metrics = clients["cloudwatch"].list_metrics(
        Namespace="AWS/SageMaker", MetricName="HasBacklogWithoutCapacity"
    )
    for metric in metrics.get("Metrics", []):
        dims = ", ".join(f"{d['Name']}={d['Value']}" for d in metric["Dimensions"])
        say(f"in the emulator's CloudWatch: AWS/SageMaker HasBacklogWithoutCapacity [{dims}]")


def _backend(plane: Any, endpoint_name: str) -> dict[str, Any]:
    return next((b for b in plane.describe_backends() if b["endpoint"] == endpoint_name), {})
