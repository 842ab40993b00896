"""Copy one model archive to its stable key, server-side: the Lambda handler of ModelPrefix's custom resource.

CloudFormation sends ``Create``/``Update``/``Delete`` with the resource properties ``SourceBucket``,
``SourceKey``, ``DestinationBucket`` and ``DestinationKey``; the handler answers by PUT to the
pre-signed ``ResponseURL`` (the cfn-response protocol) itself. Standard library and boto3 only.

- Create/Update: S3 copies the source object to the destination key (``CopyObject`` below the
  multipart threshold, ``UploadPartCopy`` parts above it, through boto3's transfer manager), so no
  byte of the archive passes through this function's memory or ``/tmp``. The PhysicalResourceId
  is ``s3://<DestinationBucket>/<DestinationKey>``: an Update that changes the destination
  returns a new id, and CloudFormation then sends a Delete for the old one.
- Update that keeps the destination but changes the source (a rebuilt model under the same
  name) is refused unless the property ``AllowOverwrite`` is ``"true"``: SageMaker's multi-model
  instances that loaded the old archive may keep serving it ("Add or Remove Models": to update a
  model, use a new and unique name; don't overwrite model artifacts in Amazon S3).
- Delete: removes the destination object only when this resource wrote it (the object's metadata
  ``model-prefix-owner`` is ``<StackId>|<LogicalResourceId>``). An object another resource has
  written since (a renamed archive, two archives swapping names), or one a person copied there by
  hand, is never touched; a missing object or bucket is not an error.
- The copy stops and the handler answers FAILED 30 s before the function's timeout, so a copy too
  large for 15 minutes fails the deploy with a reason instead of leaving CloudFormation waiting.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
from _cfn_response import respond  # handlers/_cfn_response.py, at the asset's root
from boto3.s3.transfer import TransferConfig, create_transfer_manager

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

#: The metadata key naming the custom resource that wrote an object (S3 sends ``x-amz-meta-<key>``).
OWNER_METADATA = "model-prefix-owner"
#: The properties every event must carry.
REQUIRED_PROPERTIES = ("SourceBucket", "SourceKey", "DestinationBucket", "DestinationKey")
#: Server-side copy: 256 MiB parts (S3 allows 5 MiB-5 GiB and 10,000 parts; s3transfer raises
#: the part size itself past 2.5 TB), 16 parts at a time. Only requests are in flight, no bytes.
TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=256 * 1024 * 1024,
    multipart_chunksize=256 * 1024 * 1024,
    max_concurrency=16,
    use_threads=True,
)
#: Answer FAILED this long before Lambda's timeout would kill the function without an answer.
SAFETY_MARGIN_S = 30.0


def handler(event: dict[str, Any], context: Any) -> None:
    """Handle one CloudFormation custom resource event; always answer ``ResponseURL``."""
    LOGGER.info(
        "%s %s %s",
        event.get("RequestType"),
        event.get("LogicalResourceId"),
        json.dumps({k: v for k, v in event.get("ResourceProperties", {}).items() if k != "ServiceToken"}),
    )
    physical_id = event.get("PhysicalResourceId")
    try:
        physical_id, data = _handle(event, context)
        status, reason = "SUCCESS", "OK"
    except Exception as error:  # every failure must reach CloudFormation as FAILED with its reason
        LOGGER.exception("failed")
        status, reason, data = "FAILED", f"{type(error).__name__}: {error}", {}
        if physical_id is None:
            # A failed Create still needs an id; CloudFormation sends a Delete for it, which
            # removes nothing this resource did not write.
            properties = event.get("ResourceProperties", {})
            physical_id = _uri(
                properties.get("DestinationBucket", "unknown"), properties.get("DestinationKey", "unknown")
            )
    respond(event, status, reason, physical_id, data)


def _uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def _owner(event: dict[str, Any]) -> str:
    return f"{event['StackId']}|{event['LogicalResourceId']}"


def _properties(properties: dict[str, Any]) -> dict[str, str]:
    missing = [
        name
        for name in REQUIRED_PROPERTIES
        if not isinstance(properties.get(name), str) or not properties[name]
    ]
    if missing:
        raise ValueError(f"the resource properties lack {', '.join(missing)} (got {sorted(properties)})")
    return {name: properties[name] for name in REQUIRED_PROPERTIES}


def _client() -> Any:
    # AWS_ENDPOINT_URL, when set (a local emulator), is honoured by boto3 itself.
    return boto3.client("s3", config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 5}))


def _handle(event: dict[str, Any], context: Any) -> tuple[str, dict[str, str]]:
    request = event["RequestType"]
    if request == "Delete":
        return event["PhysicalResourceId"], _delete(event)
    if request not in ("Create", "Update"):
        raise ValueError(f"unknown RequestType {request!r} (expected Create, Update or Delete)")
    props = _properties(event.get("ResourceProperties", {}))
    if request == "Update":
        _refuse_overwrite(event, props)
    data = _copy(props, owner=_owner(event), deadline=_deadline(context))
    return _uri(props["DestinationBucket"], props["DestinationKey"]), data


def _refuse_overwrite(event: dict[str, Any], props: dict[str, str]) -> None:
    """Refuse to put a different archive at a key that already served one, unless allowed."""
    old = event.get("OldResourceProperties") or {}
    same_key = (old.get("DestinationBucket"), old.get("DestinationKey")) == (
        props["DestinationBucket"],
        props["DestinationKey"],
    )
    changed = (old.get("SourceBucket"), old.get("SourceKey")) != (props["SourceBucket"], props["SourceKey"])
    allowed = str(event.get("ResourceProperties", {}).get("AllowOverwrite", "")).lower() == "true"
    if same_key and changed and not allowed:
        key = props["DestinationKey"]
        raise ValueError(
            f"{key!r} already holds another archive (from s3://{old.get('SourceBucket')}/{old.get('SourceKey')}; now "
            f"s3://{props['SourceBucket']}/{props['SourceKey']}): a multi-model endpoint's instances that loaded it may "
            "keep serving the old one (SageMaker Developer Guide, 'Add or Remove Models': use a new and unique name). "
            f"Add the changed model under a new name (e.g. a new version in {key.rsplit('/', 1)[-1]!r}), or pass "
            "ModelPrefix(allow_overwrite=True) if no endpoint caches it"
        )


def _deadline(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    budget_s = remaining() / 1000.0 if callable(remaining) else 900.0
    return time.monotonic() + max(budget_s - SAFETY_MARGIN_S, 1.0)


def _copy(props: dict[str, str], *, owner: str, deadline: float) -> dict[str, str]:
    client = _client()
    source = {"Bucket": props["SourceBucket"], "Key": props["SourceKey"]}
    try:
        head = client.head_object(**source)
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise RuntimeError(
            f"cannot read the source archive {_uri(source['Bucket'], source['Key'])} ({code or error}): it must "
            "exist and the function's role must be allowed s3:GetObject on it"
        ) from error
    size = int(head["ContentLength"])
    extra_args = {
        "MetadataDirective": "REPLACE",
        "Metadata": {OWNER_METADATA: owner},
        "ContentType": head.get("ContentType") or "application/x-gzip",
        # The source must not change under a multipart copy (s3transfer also pins the parts).
        "CopySourceIfMatch": head["ETag"],
        # A checksum computed for the copy itself: without it CopyObject keeps the source's, which
        # for a multipart-uploaded asset (cdk-assets uploads large files in parts) is a composite
        # one; moto then serves it as a whole-object checksum and boto3's GetObject fails its check.
        "ChecksumAlgorithm": "CRC32",
    }
    start = time.monotonic()
    manager = create_transfer_manager(client, TRANSFER_CONFIG)
    try:
        future = manager.copy(
            source, props["DestinationBucket"], props["DestinationKey"], extra_args, source_client=client
        )
        while not future.done():
            if time.monotonic() >= deadline:
                future.cancel()  # aborts the multipart upload
                raise TimeoutError(
                    f"the copy of {size} bytes to {_uri(props['DestinationBucket'], props['DestinationKey'])} did "
                    f"not finish in {time.monotonic() - start:.0f} s, before the function's timeout; copy it "
                    "there yourself (aws s3 cp) and leave it out of add_archive: the endpoint serves every key "
                    "under the prefix"
                )
            time.sleep(0.2)
        future.result()
    finally:
        manager.shutdown(cancel=True)
    elapsed = time.monotonic() - start
    LOGGER.info("copied %d bytes in %.1f s", size, elapsed)
    after = client.head_object(Bucket=props["DestinationBucket"], Key=props["DestinationKey"])
    return {
        "S3Uri": _uri(props["DestinationBucket"], props["DestinationKey"]),
        "ETag": str(after["ETag"]).strip('"'),
        "Size": str(size),
    }


def _delete(event: dict[str, Any]) -> dict[str, str]:
    physical_id = str(event.get("PhysicalResourceId", ""))
    if not physical_id.startswith("s3://") or "/" not in physical_id[5:]:
        LOGGER.info("nothing to delete: %r is not an object this resource wrote", physical_id)
        return {}
    bucket, _, key = physical_id[5:].partition("/")
    client = _client()
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
            LOGGER.info("%s is gone already", physical_id)
            return {}
        raise
    owner = head.get("Metadata", {}).get(OWNER_METADATA)
    if owner != _owner(event):
        LOGGER.info("left %s in place: written by %r, not by this resource", physical_id, owner)
        return {}
    client.delete_object(Bucket=bucket, Key=key)
    LOGGER.info("deleted %s", physical_id)
    return {}
