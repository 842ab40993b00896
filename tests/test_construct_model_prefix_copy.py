"""ModelPrefix's copy handler for real against moto's S3: the events CloudFormation sends, a multipart copy.

The handler (``handlers/model_copy/index.py``) runs in this process with boto3 aimed at a
MotoServer through ``AWS_ENDPOINT_URL``, as the emulator's Lambda runner does; its cfn-response
PUT goes to a listener on 127.0.0.1 that records what CloudFormation would receive.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from rehearsal.moto_server import MotoServer

pytestmark = pytest.mark.slow  # every test uses the module's moto server

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/Models/11111111-2222-3333-4444-555555555555"
ASSETS, MODELS = "cdk-hnb659fds-assets-123456789012-us-east-1", "models-bucket"
MiB = 1024**2


@dataclass
class Harness:
    """moto's S3, the handler module and the ResponseURL listener."""

    s3: Any
    handler: ModuleType
    url: str
    received: dict[str, dict[str, Any]]

    def send(self, request: str, logical_id: str, props: dict[str, str], **extra: Any) -> dict[str, Any]:
        """Send one event as CloudFormation builds it; return the cfn-response body the handler PUT."""
        path = f"/response/{uuid.uuid4()}"
        remaining_ms = extra.pop("remaining_ms", 900_000)
        event = {
            "RequestType": request,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:copy",
            "ResponseURL": self.url + path,
            "StackId": STACK_ID,
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": logical_id,
            "ResourceType": "Custom::ModelArchive",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:copy",
                                   "ServiceTimeout": "960", **props},
            **extra,
        }  # fmt: skip
        self.handler.handler(event, _Context(remaining_ms))
        answer = self.received.pop(path)
        assert answer["content_type"] == ""  # the pre-signed URL is signed for an empty Content-Type
        return dict(answer["body"])

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def body(self, bucket: str, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def exists(self, bucket: str, key: str) -> bool:
        return "Contents" in self.s3.list_objects_v2(Bucket=bucket, Prefix=key)


class _Context:
    def __init__(self, remaining_ms: int) -> None:
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def _props(source_key: str, destination_key: str) -> dict[str, str]:
    return {
        "SourceBucket": ASSETS,
        "SourceKey": source_key,
        "DestinationBucket": MODELS,
        "DestinationKey": destination_key,
    }


@pytest.fixture(scope="module")
def harness(custom_resource_handler: Any) -> Iterator[Harness]:
    with MotoServer() as moto, custom_resource_handler("model_copy") as (module, url, received):
        saved = dict(os.environ)
        os.environ.update(moto.env())
        try:
            s3 = boto3.client("s3", **moto.boto3_kwargs())
            s3.create_bucket(Bucket=ASSETS)
            s3.create_bucket(Bucket=MODELS)
            yield Harness(s3, module, url, received)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def test_model_copy_create_copies_the_archive_to_its_stable_key(harness: Harness) -> None:
    # GIVEN an archive uploaded as a CDK asset under its content hash
    harness.put(ASSETS, "aaaa.gz", b"resnet pt v0")
    # WHEN CloudFormation creates the archive's custom resource
    answer = harness.send("Create", "ResnetPt", _props("aaaa.gz", "models/resnet_pt_v0.tar.gz"))
    # THEN the handler answered SUCCESS with the stable key as the physical id
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["PhysicalResourceId"] == f"s3://{MODELS}/models/resnet_pt_v0.tar.gz"
    assert answer["Data"]["S3Uri"] == answer["PhysicalResourceId"]
    assert answer["LogicalResourceId"] == "ResnetPt" and answer["StackId"] == STACK_ID
    # THEN the bytes are at the stable key, tagged with the resource that wrote them
    assert harness.body(MODELS, "models/resnet_pt_v0.tar.gz") == b"resnet pt v0"
    head = harness.s3.head_object(Bucket=MODELS, Key="models/resnet_pt_v0.tar.gz")
    assert head["Metadata"] == {"model-prefix-owner": f"{STACK_ID}|ResnetPt"}


def test_model_copy_of_a_multipart_uploaded_asset_reads_back_with_a_valid_checksum(harness: Harness) -> None:
    # GIVEN an asset uploaded in parts, as cdk-assets uploads large files (boto3 adds a CRC32 per part)
    data = bytes(range(256)) * (40 * 1024)  # 10 MiB
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    harness.s3.upload_fileobj(io.BytesIO(data), ASSETS, "parts.gz", Config=config)
    # WHEN it is copied (one CopyObject: below the multipart copy threshold)
    answer = harness.send("Create", "Parts", _props("parts.gz", "models/parts.tar.gz"))
    # THEN a full GetObject passes boto3's checksum validation and returns the bytes
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert harness.body(MODELS, "models/parts.tar.gz") == data


def test_model_copy_update_of_the_source_under_the_same_key_is_refused_naming_the_fix(harness: Harness) -> None:
    # GIVEN an archive at its key, then rebuilt (a new asset hash) under the same target model
    old = _props("cccc1.gz", "models/resnet.tar.gz")
    harness.put(ASSETS, "cccc1.gz", b"resnet v1")
    harness.put(ASSETS, "cccc2.gz", b"resnet v2")
    created = harness.send("Create", "Resnet", old)
    # WHEN CloudFormation updates the resource with the new SourceKey (no AllowOverwrite)
    new = _props("cccc2.gz", "models/resnet.tar.gz")
    answer = harness.send(
        "Update", "Resnet", new, PhysicalResourceId=created["PhysicalResourceId"], OldResourceProperties=old
    )
    # THEN the update fails naming the key, SageMaker's reason and the fix; the old bytes stay
    assert answer["Status"] == "FAILED"
    assert "'models/resnet.tar.gz' already holds another archive" in answer["Reason"]
    assert "use a new and unique name" in answer["Reason"]
    assert "ModelPrefix(allow_overwrite=True)" in answer["Reason"]
    assert harness.body(MODELS, "models/resnet.tar.gz") == b"resnet v1"


def test_model_copy_update_of_the_source_replaces_the_bytes_under_the_same_id(harness: Harness) -> None:
    # GIVEN an archive at its key, then rebuilt (a new asset hash), in a prefix that allows overwrites
    old = _props("bbbb1.gz", "models/bert.tar.gz")
    harness.put(ASSETS, "bbbb1.gz", b"bert v1")
    harness.put(ASSETS, "bbbb2.gz", b"bert v2")
    created = harness.send("Create", "Bert", old)
    # WHEN CloudFormation updates the resource with the new SourceKey
    new = {**_props("bbbb2.gz", "models/bert.tar.gz"), "AllowOverwrite": "true"}
    answer = harness.send(
        "Update", "Bert", new, PhysicalResourceId=created["PhysicalResourceId"], OldResourceProperties=old
    )
    # THEN the same key holds the new bytes and the id is unchanged (CloudFormation deletes nothing)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert harness.body(MODELS, "models/bert.tar.gz") == b"bert v2"


def test_model_copy_rename_returns_a_new_id_and_the_delete_of_the_old_id_removes_the_old_key(
    harness: Harness,
) -> None:
    # GIVEN an archive at models/old.tar.gz
    harness.put(ASSETS, "cccc.gz", b"renamed")
    old = _props("cccc.gz", "models/old.tar.gz")
    created = harness.send("Create", "Renamed", old)
    # WHEN its target_model changes: Update with the new destination...
    new = _props("cccc.gz", "models/new.tar.gz")
    updated = harness.send(
        "Update", "Renamed", new, PhysicalResourceId=created["PhysicalResourceId"], OldResourceProperties=old
    )
    # THEN a new physical id, so CloudFormation sends a Delete for the old one after the update
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    assert (
        updated["PhysicalResourceId"] == f"s3://{MODELS}/models/new.tar.gz" != created["PhysicalResourceId"]
    )
    deleted = harness.send("Delete", "Renamed", old, PhysicalResourceId=created["PhysicalResourceId"])
    # THEN the old key is gone and the new one stays
    assert deleted["Status"] == "SUCCESS", deleted["Reason"]
    assert not harness.exists(MODELS, "models/old.tar.gz")
    assert harness.body(MODELS, "models/new.tar.gz") == b"renamed"


def test_model_copy_delete_leaves_keys_it_did_not_write(harness: Harness) -> None:
    # GIVEN an archive a person copied into the prefix by hand ("add a model by copying it")
    harness.put(MODELS, "models/by_hand.tar.gz", b"by hand")
    # GIVEN an archive resource A wrote, then resource B (a renamed construct) wrote the same key
    harness.put(ASSETS, "dddd.gz", b"shared")
    props = _props("dddd.gz", "models/shared.tar.gz")
    first = harness.send("Create", "OldName", props)
    harness.send("Create", "NewName", props)
    # WHEN CloudFormation deletes a resource naming each key (the hand-made one and the shared one)
    by_hand = harness.send(
        "Delete", "ByHand", _props("dddd.gz", "models/by_hand.tar.gz"),
        PhysicalResourceId=f"s3://{MODELS}/models/by_hand.tar.gz",
    )  # fmt: skip
    old_name = harness.send("Delete", "OldName", props, PhysicalResourceId=first["PhysicalResourceId"])
    # THEN both succeed and neither key was touched: only the writer of an object deletes it
    assert by_hand["Status"] == old_name["Status"] == "SUCCESS"
    assert harness.body(MODELS, "models/by_hand.tar.gz") == b"by hand"
    assert harness.body(MODELS, "models/shared.tar.gz") == b"shared"
    # THEN the current writer's Delete (the model removed from the app) removes it
    assert (
        harness.send("Delete", "NewName", props, PhysicalResourceId=first["PhysicalResourceId"])["Status"]
        == "SUCCESS"
    )
    assert not harness.exists(MODELS, "models/shared.tar.gz")
    # THEN a Delete of a key that is gone already, or of a failed Create's id, succeeds too
    gone = harness.send("Delete", "NewName", props, PhysicalResourceId=first["PhysicalResourceId"])
    assert gone["Status"] == "SUCCESS"


def test_model_copy_missing_source_fails_with_a_reason_naming_it(harness: Harness) -> None:
    # WHEN the source archive does not exist
    answer = harness.send("Create", "Missing", _props("nothing-here.gz", "models/missing.tar.gz"))
    # THEN FAILED, with the object and what is needed in the reason, and an id for the Delete that follows
    assert answer["Status"] == "FAILED"
    assert f"s3://{ASSETS}/nothing-here.gz" in answer["Reason"] and "s3:GetObject" in answer["Reason"]
    assert answer["PhysicalResourceId"] == f"s3://{MODELS}/models/missing.tar.gz"
    assert not harness.exists(MODELS, "models/missing.tar.gz")


def test_model_copy_missing_property_fails_naming_it(harness: Harness) -> None:
    # WHEN an event lacks DestinationKey
    props = _props("aaaa.gz", "x")
    del props["DestinationKey"]
    answer = harness.send("Create", "NoKey", props)
    # THEN FAILED, naming the property
    assert answer["Status"] == "FAILED"
    assert "DestinationKey" in answer["Reason"]


class _Pattern:
    """A readable stream of ``size`` bytes where each 1 MiB block repeats its own index (cheap, order-sensitive)."""

    def __init__(self, size: int) -> None:
        self.size, self.position = size, 0

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.position if n < 0 else min(n, self.size - self.position)
        out = bytearray()
        while len(out) < n:
            block, offset = divmod(self.position + len(out), MiB)
            take = min(MiB - offset, n - len(out))
            out += (struct.pack(">Q", block) * (MiB // 8))[offset : offset + take]
        self.position += n
        return bytes(out)


def _range_digests(s3: Any, bucket: str, key: str, size: int) -> list[str]:
    """sha256 of 64 KiB at the start, across the part boundary (256 MiB), and at the end."""
    starts = (0, 256 * MiB - 32 * 1024, size - 64 * 1024)
    return [
        hashlib.sha256(
            s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{start + 64 * 1024 - 1}")[
                "Body"
            ].read()
        ).hexdigest()
        for start in starts
    ]


def test_model_copy_above_the_multipart_threshold_fails_in_time_or_copies_every_part(
    harness: Harness,
) -> None:
    # GIVEN a 300 MiB asset (above the 256 MiB multipart threshold: two parts; the 1 GiB copy runs
    # in the emulator's Lambda runner, tests/test_construct_model_prefix_deploy.py)
    size = 300 * MiB
    harness.s3.upload_fileobj(_Pattern(size), ASSETS, "multipart.gz")
    props = _props("multipart.gz", "models/multipart.tar.gz")
    # WHEN the function has less time left than the copy needs (30.5 s: 0.5 s after the safety margin)
    too_late = harness.send("Create", "Multipart", props, remaining_ms=30_500)
    # THEN it answers FAILED in time, naming the object, and leaves no object or upload behind
    assert too_late["Status"] == "FAILED"
    assert "models/multipart.tar.gz" in too_late["Reason"] and "did not finish" in too_late["Reason"]
    assert not harness.exists(MODELS, "models/multipart.tar.gz")
    assert not harness.s3.list_multipart_uploads(Bucket=MODELS).get("Uploads")
    # WHEN the function has its 15 minutes
    answer = harness.send("Create", "Multipart", props)
    # THEN the copy is at the stable key, its size and sampled ranges identical to the source
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    head = harness.s3.head_object(Bucket=MODELS, Key="models/multipart.tar.gz")
    assert head["ContentLength"] == size == int(answer["Data"]["Size"])
    # a multipart ETag ("<md5>-<parts>"): the copy went through UploadPartCopy, 2 parts of <= 256 MiB
    assert head["ETag"].strip('"').endswith("-2")
    source = _range_digests(harness.s3, ASSETS, "multipart.gz", size)
    assert _range_digests(harness.s3, MODELS, "models/multipart.tar.gz", size) == source
    assert len(set(source)) == len(source)  # the sampled ranges differ: a reordered copy would not pass
