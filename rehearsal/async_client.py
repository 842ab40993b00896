"""The client side of asynchronous inference, in plain boto3: the code that runs against AWS too.

An asynchronous endpoint answers ``invoke_endpoint_async`` at once; the outcome arrives later as an
SNS notification (success or error topic) and an S3 object (output or failure path). A client
subscribes an SQS queue to both topics and waits there, keyed by ``InferenceId``:
:class:`NotificationQueue`. The demo, the async tests and ``bench/bench_async.py`` use it, so the
notification parsing lives in one place. S3 URIs are split by ``model_build.aws.parse_s3_uri``.

On AWS the queue also needs a queue policy that lets the topics send to it (``sqs:SendMessage``
with ``aws:SourceArn`` = the topic); :meth:`NotificationQueue.create` sets one. moto delivers
without it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from model_build.aws import parse_s3_uri


#: botocore's pattern for SageMaker's S3 URIs, ``(https|s3)://([^/]+)/?(.*)``, for s3 only.
def read_s3(s3: Any, uri: str) -> bytes | None:
    """Return the object at ``uri``, or None when there is none (yet)."""
    bucket, key = parse_s3_uri(uri)
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


@dataclass(frozen=True)
class Notification:
    """One notification as SNS delivered it to the queue.

    Attributes:
        message_id: SNS's ``MessageId``: the same id received twice is SQS's at-least-once delivery
            (drop it); two ids for one ``inference_id`` are two notifications.
        body: The notification (``invocationStatus``, ``inferenceId``, ``requestParameters``, ...).
        received_at: ``time.monotonic()`` when this client received it (0.0 when built by hand).
    """

    message_id: str
    body: dict[str, Any]
    received_at: float = field(default=0.0, compare=False)

    @property
    def inference_id(self) -> str:
        """``inferenceId``."""
        return str(self.body["inferenceId"])

    @property
    def succeeded(self) -> bool:
        """Whether ``invocationStatus`` is ``Completed``."""
        return self.body.get("invocationStatus") == "Completed"

    @property
    def output_location(self) -> str | None:
        """Where the answer is (success), or None."""
        return (self.body.get("responseParameters") or {}).get("outputLocation")

    @property
    def failure_location(self) -> str | None:
        """Where the failure is, or None. AWS documents no error shape: both places are read."""
        nested = (self.body.get("responseParameters") or {}).get("failureLocation")
        return nested or self.body.get("failureLocation")

    @property
    def failure_reason(self) -> str:
        """``failureReason`` of an error notification ('' for a success)."""
        return str(self.body.get("failureReason", ""))


@dataclass
class NotificationQueue:
    """An SQS queue subscribed to an endpoint's topics, and every notification it delivered.

    Attributes:
        sqs: A boto3 SQS client.
        queue_url: The queue.
        received: ``InferenceId`` → the notifications received for it (distinct SNS messages).
        redelivered: Messages received again (the same SNS ``MessageId``): SQS delivers at least once.

    :meth:`poll` may run in several threads, and :meth:`missing` be asked from another while it does;
    one receiving thread is the usual case (SQS may hand one message to two concurrent receivers, which
    :attr:`redelivered` then counts).
    """

    sqs: Any
    queue_url: str
    received: dict[str, list[Notification]] = field(default_factory=dict)
    redelivered: int = 0
    _seen: set[str] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def create(cls, sqs: Any, sns: Any, name: str, topics: Iterable[str]) -> NotificationQueue:
        """Create a queue, let the topics send to it, and subscribe it to each (SNS's envelope kept).

        Args:
            sqs: A boto3 SQS client.
            sns: A boto3 SNS client.
            name: The queue name.
            topics: The topic ARNs (the endpoint's success and error topics).
        """
        topic_arns = [t for t in topics if t]
        queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arns}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
        for topic in topic_arns:
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        return cls(sqs, queue_url)

    def poll(self, wait_s: int = 1) -> list[Notification]:
        """Receive (and delete) what the queue holds now; return the new notifications."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
        ).get("Messages", [])
        received_at = time.monotonic()
        new = []
        with self._lock:
            for message in messages:
                envelope = json.loads(message["Body"])  # SNS's envelope; the notification is its Message
                if envelope["MessageId"] in self._seen:
                    self.redelivered += 1
                    continue
                self._seen.add(envelope["MessageId"])
                note = Notification(envelope["MessageId"], json.loads(envelope["Message"]), received_at)
                self.received.setdefault(note.inference_id, []).append(note)
                new.append(note)
        if messages:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return new

    def missing(self, inference_ids: Iterable[str]) -> list[str]:
        """Return the ids that have no notification yet (safe while another thread polls)."""
        with self._lock:
            return [i for i in inference_ids if i not in self.received]

    def wait_for(
        self, inference_ids: Iterable[str], timeout_s: float = 120.0, *, settle_s: int = 0
    ) -> dict[str, list[Notification]]:
        """Poll until every id has a notification, then drain what else is there (a duplicate would show).

        Args:
            inference_ids: The requests' ``InferenceId``.
            timeout_s: How long to wait for the last of them.
            settle_s: After the last one came, poll until a poll of this many seconds brings nothing
                new, so a second notification sent a little later is counted too. Defaults to 0: only
                what the queue holds already.

        Raises:
            TimeoutError: Some ids got no notification within ``timeout_s``; the message names them.
        """
        ids = list(inference_ids)
        deadline = time.monotonic() + timeout_s
        while missing := self.missing(ids):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no notification within {timeout_s:.0f} s for {len(missing)} of {len(ids)} "
                    f"requests, e.g. {missing[:5]}"
                )
            self.poll()
        while self.poll(wait_s=settle_s):
            pass
        with self._lock:
            return {i: list(self.received[i]) for i in ids}
