"""rehearsal.async_client: the notification parsing, the S3 URI parsing, and the queue against moto's SQS.

The notification shapes are the documented success one (AWS's async-inference-check-predictions
page, SERVICE-FACTS §2.2) and the two error shapes public consumers expect (AWS documents none): the
failure location nested under ``responseParameters`` (what the local data plane sends) or at the top.
The queue tests run against one moto server (real SNS → SQS delivery, SNS's envelope kept).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from model_build.aws import parse_s3_uri
from rehearsal.async_client import Notification, NotificationQueue, read_s3

OUTPUT_URI = "s3://my-bucket/output/prediction.out"
# AWS's documented success notification (the page's example, its placeholders filled in).
SUCCESS: dict[str, Any] = {
    "awsRegion": "us-east-1",
    "eventTime": "2022-01-25T22:46:00.608Z",
    "receivedTime": "2022-01-25T22:46:00.455Z",
    "invocationStatus": "Completed",
    "requestParameters": {
        "contentType": "text/csv",
        "endpointName": "my-endpoint",
        "inputLocation": "s3://my-bucket/input/input-data.csv",
    },
    "responseParameters": {
        "contentType": "text/csv; charset=utf-8",
        "outputLocation": OUTPUT_URI,
    },
    "inferenceId": "11111111-2222-3333-4444-555555555555",
    "eventVersion": "1.0",
    "eventSource": "aws:sagemaker",
    "eventName": "InferenceResult",
}
REASON = "ClientError: Received server error (500) from model. See the SageMaker Endpoint logs."
FAILURE_URI = "s3://my-bucket/failure/req-1-error.out"
ERROR_BASE: dict[str, Any] = {
    "awsRegion": "us-east-1",
    "invocationStatus": "Failed",
    "failureReason": REASON,
    "requestParameters": {"endpointName": "my-endpoint", "inputLocation": "s3://my-bucket/input/bad.json"},
    "inferenceId": "req-1",
    "eventVersion": "1.0",
    "eventSource": "aws:sagemaker",
    "eventName": "InferenceResult",
}


# ---------------------------------------------------------------------------------- Notification


def test_notification_reads_the_documented_success_shape() -> None:
    # GIVEN AWS's documented success notification
    note = Notification("m-1", SUCCESS)
    # THEN it reads as a success with its output location and no failure
    assert (note.inference_id, note.succeeded) == ("11111111-2222-3333-4444-555555555555", True)
    assert note.output_location == OUTPUT_URI
    assert (note.failure_location, note.failure_reason) == (None, "")


@pytest.mark.parametrize(
    "body",
    [
        {**ERROR_BASE, "responseParameters": {"failureLocation": FAILURE_URI}},
        {**ERROR_BASE, "failureLocation": FAILURE_URI},
    ],
    ids=["nested-under-responseParameters", "top-level"],
)
def test_notification_reads_both_error_shapes(body: dict[str, Any]) -> None:
    # GIVEN an error notification in either shape public consumers expect
    note = Notification("m-2", body)
    # THEN it reads as a failure, with its reason and failure location, and no output
    assert (note.inference_id, note.succeeded) == ("req-1", False)
    assert (note.failure_location, note.failure_reason) == (FAILURE_URI, REASON)
    assert note.output_location is None


def test_notification_equality_ignores_when_it_was_received() -> None:
    # GIVEN one SNS message received at two moments
    first, again = Notification("m-1", SUCCESS, 1.0), Notification("m-1", SUCCESS, 2.0)
    # THEN they are the same notification
    assert first == again


# ------------------------------------------------------------------------------------ parse_s3_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/key.json", ("bucket", "key.json")),
        ("s3://bucket/a/b/c-error.out", ("bucket", "a/b/c-error.out")),
        ("s3://bucket/a?b#c", ("bucket", "a?b#c")),  # S3 keys may hold ? and #: nothing is cut off
        ("s3://bucket//key", ("bucket", "/key")),  # a key that starts with a slash is another object
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket", ("bucket", "")),  # botocore's pattern takes a bucket alone
    ],
)
def test_parse_s3_uri_splits_bucket_and_key(uri: str, expected: tuple[str, str]) -> None:
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "bucket/key",
        "https://bucket/key",
        "S3://bucket/key",
        "s3:/bucket/key",
        "s3://",
        "s3:///key",
        " s3://b/k",
    ],
)
def test_parse_s3_uri_refuses_what_is_not_an_s3_uri(uri: str) -> None:
    with pytest.raises(ValueError, match="not an s3://bucket/key URI") as excinfo:
        parse_s3_uri(uri)
    assert repr(uri) in str(excinfo.value)


# ------------------------------------------------------------------------- NotificationQueue (moto)


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    """boto3 S3, SNS and SQS clients of one moto server."""
    import boto3

    from rehearsal.moto_server import MotoServer

    with MotoServer() as moto:
        kwargs = moto.boto3_kwargs()
        yield {service: boto3.client(service, **kwargs) for service in ("s3", "sns", "sqs")}


def _topics(aws: dict[str, Any], prefix: str) -> list[str]:
    return [aws["sns"].create_topic(Name=f"{prefix}-{kind}")["TopicArn"] for kind in ("success", "error")]


@pytest.mark.slow
def test_notification_queue_create_lets_the_topics_send_and_subscribes_to_each(aws: dict[str, Any]) -> None:
    # GIVEN an endpoint's success and error topics
    topics = _topics(aws, "create")
    # WHEN a queue is created for them
    queue = NotificationQueue.create(aws["sqs"], aws["sns"], "create-notes", topics)
    # THEN its policy lets exactly those topics send to it (what AWS needs), and it is subscribed to each
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=queue.queue_url, AttributeNames=["Policy", "QueueArn"]
    )
    (statement,) = json.loads(attributes["Attributes"]["Policy"])["Statement"]
    assert (
        statement["Action"] == "sqs:SendMessage"
        and statement["Resource"] == attributes["Attributes"]["QueueArn"]
    )
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topics}}
    subscribed = {
        s["TopicArn"]
        for s in aws["sns"].list_subscriptions()["Subscriptions"]
        if s["Endpoint"] == attributes["Attributes"]["QueueArn"] and s["Protocol"] == "sqs"
    }
    assert subscribed == set(topics)
    # WHEN each topic publishes one notification
    aws["sns"].publish(TopicArn=topics[0], Message=json.dumps(SUCCESS))
    aws["sns"].publish(TopicArn=topics[1], Message=json.dumps({**ERROR_BASE, "failureLocation": FAILURE_URI}))
    # THEN both arrive, keyed by InferenceId, parsed from SNS's envelope
    got = queue.wait_for([SUCCESS["inferenceId"], "req-1"], timeout_s=30)
    assert [(n.succeeded, n.output_location) for n in got[SUCCESS["inferenceId"]]] == [(True, OUTPUT_URI)]
    assert [(n.succeeded, n.failure_location) for n in got["req-1"]] == [(False, FAILURE_URI)]
    assert queue.redelivered == 0 and queue.missing([SUCCESS["inferenceId"], "req-1", "other"]) == ["other"]


@pytest.mark.slow
def test_notification_queue_counts_a_redelivered_message_apart_from_a_second_notification(
    aws: dict[str, Any],
) -> None:
    # GIVEN a queue subscribed to a topic that published two distinct messages for one request
    topics = _topics(aws, "redeliver")
    queue = NotificationQueue.create(aws["sqs"], aws["sns"], "redeliver-notes", topics)
    body = json.dumps({**SUCCESS, "inferenceId": "req-2"})
    aws["sns"].publish(TopicArn=topics[0], Message=body)
    aws["sns"].publish(TopicArn=topics[0], Message=body)
    # ... and SQS delivering the first of them a second time (at-least-once: another copy of its envelope)
    (first,) = aws["sqs"].receive_message(
        QueueUrl=queue.queue_url, MaxNumberOfMessages=1, VisibilityTimeout=0
    )["Messages"]
    aws["sqs"].send_message(QueueUrl=queue.queue_url, MessageBody=first["Body"])
    # WHEN the queue is drained
    notes = queue.wait_for(["req-2"], timeout_s=30, settle_s=1)["req-2"]
    # THEN the two SNS messages are two notifications (a duplicate the sender made), and the copy is a
    # redelivery, not a third
    assert len({n.message_id for n in notes}) == len(notes) == 2
    assert json.loads(first["Body"])["MessageId"] in {n.message_id for n in notes}
    assert queue.redelivered == 1
    # THEN the queue is empty: every message received was deleted
    assert aws["sqs"].receive_message(QueueUrl=queue.queue_url, WaitTimeSeconds=0).get("Messages", []) == []


@pytest.mark.slow
def test_notification_queue_wait_for_raises_timeout_naming_the_missing_ids(aws: dict[str, Any]) -> None:
    # GIVEN a queue that no topic sends to
    queue = NotificationQueue.create(aws["sqs"], aws["sns"], "silent-notes", [])
    # WHEN a request's notification is awaited
    # THEN it times out, naming the request
    with pytest.raises(TimeoutError, match=r"for 1 of 1 requests, e\.g\. \['never'\]"):
        queue.wait_for(["never"], timeout_s=0)


@pytest.mark.slow
def test_notification_queue_polls_from_two_threads_without_losing_or_doubling(aws: dict[str, Any]) -> None:
    # GIVEN 40 notifications for 40 requests on one queue
    topics = _topics(aws, "threads")
    queue = NotificationQueue.create(aws["sqs"], aws["sns"], "threads-notes", topics)
    ids = [f"t-{i}" for i in range(40)]
    for i in ids:
        aws["sns"].publish(TopicArn=topics[0], Message=json.dumps({**SUCCESS, "inferenceId": i}))
    # WHEN two threads drain it at once
    threads = [threading.Thread(target=lambda: [queue.poll(wait_s=0) for _ in range(10)]) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.wait_for(ids, timeout_s=30)
    # THEN every request has exactly one notification (a message both received counts as a redelivery)
    assert {i: len(notes) for i, notes in queue.received.items()} == {i: 1 for i in ids}


@pytest.mark.slow
def test_read_s3_returns_the_object_or_none(aws: dict[str, Any]) -> None:
    # GIVEN a bucket with one object
    aws["s3"].create_bucket(Bucket="client-read")
    aws["s3"].put_object(Bucket="client-read", Key="out/a?b.out", Body=b"answer")
    # THEN read_s3 returns it by its URI (the key's ? kept), and None where there is no object
    assert read_s3(aws["s3"], "s3://client-read/out/a?b.out") == b"answer"
    assert read_s3(aws["s3"], "s3://client-read/out/missing.out") is None
