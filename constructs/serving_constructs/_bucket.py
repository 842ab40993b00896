"""The hardened bucket a construct creates when the user passes none, and the S3 key rules it checks.

One place for both: :class:`~serving_constructs.async_endpoint.AsyncEndpoint`'s output bucket and
:class:`~serving_constructs.model_prefix.ModelPrefix`'s model bucket are made the same way.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from serving_constructs._nag import acknowledge
from serving_constructs._validation import check_str, resolved

# Amazon S3's "safe characters" for object keys (User Guide, "Naming Amazon S3 objects"); the
# others need URL encoding or special handling in clients and IAM resource ARNs.
SAFE_KEY = re.compile(r"^[A-Za-z0-9!_.*'()/-]+$")
SAFE_KEY_TEXT = "letters, digits, / and ! - _ . * ' ( )"
# An S3 object key has at most 1024 bytes (UTF-8); safe characters are one byte each.
MAX_KEY_LENGTH = 1024
# A bucket name has at most 63 characters; a generated one is unknown at synth.
MAX_BUCKET_NAME = 63
# SageMaker's S3 URIs (AsyncInferenceOutputConfig.S3OutputPath, DataCaptureConfig.DestinationS3Uri):
# (https|s3)://..., at most 512 characters.
MAX_S3_URI = 512


def key_prefix_problems(name: str, value: Any, bucket_name: str | None, *, example: str) -> list[str]:
    """Return the problems with an S3 key prefix SageMaker writes under.

    No leading or trailing slash, safe characters, and the ``s3://<bucket>/<prefix>`` URI at most
    :data:`MAX_S3_URI` characters.

    Args:
        name: the prop as messages name it (``"output_prefix"``, ``"data_capture.prefix"``).
        value: the prefix given.
        bucket_name: the bucket's name when known at synth (a generated one counts as 63 characters).
        example: a valid prefix for the fix in messages (``"async-inference/output"``).
    """
    problems = check_str(name, value, example=f" such as {example!r}")
    if problems or not resolved(value):
        return problems
    fix = f"e.g. {name}={example!r}"
    if value.startswith("/") or value.endswith("/"):
        stripped = value.strip("/")
        problems.append(
            f"{name} must not start or end with '/' (got {value!r}) — use {name}={stripped!r}"
            if stripped
            else f"{name} must name a key prefix (got {value!r}) — {fix}"
        )
    elif "//" in value or any(part in (".", "..") for part in value.split("/")):
        problems.append(f"{name} must not have empty, '.' or '..' segments (got {value!r}) — {fix}")
    if not SAFE_KEY.match(value):
        bad = "".join(sorted({ch for ch in value if not SAFE_KEY.match(ch)}))
        problems.append(
            f"{name} may hold only {SAFE_KEY_TEXT} (got {value!r}, with {bad!r}) — replace them, {fix}"
        )
    known = bucket_name is not None and resolved(bucket_name)
    bucket_length = len(bucket_name) if known and bucket_name is not None else MAX_BUCKET_NAME
    total = len("s3://") + bucket_length + 1 + len(value)
    if total > MAX_S3_URI:
        bucket = (
            f"bucket {bucket_name!r}"
            if known
            else f"a generated bucket name (up to {MAX_BUCKET_NAME} characters)"
        )
        problems.append(
            f"{name} is too long: with {bucket} the S3 path has {total} characters (got a {len(value)}-character "
            f"prefix) and SageMaker allows at most {MAX_S3_URI} — shorten it to {len(value) - (total - MAX_S3_URI)} "
            "characters or fewer"
        )
    return problems


def hardened_bucket(
    scope: Construct, id: str, *, key: kms.IKey | None = None, holds: str, prop: str
) -> s3.Bucket:
    """Create a bucket with public access blocked, TLS only, encrypted at rest, and retained.

    Public access blocked, a TLS-only bucket policy (``enforce_ssl``), S3-managed encryption (or
    ``key`` with an S3 bucket key), incomplete multipart uploads removed after 7 days, and CDK's
    default ``RETAIN`` removal policy (deleting the stack leaves the bucket and its objects).

    Args:
        scope: the construct that owns the bucket.
        id: the bucket's construct id (a contract: it names the logical id).
        key: the KMS key of the default encryption. Defaults to S3-managed keys (SSE-S3).
        holds: what the bucket holds, for the cdk-nag acknowledgement of server access logs
            (``"inference inputs and results of one endpoint"``).
        prop: the construct prop that takes the user's own bucket instead (``"output_bucket"``).
    """
    bucket = s3.Bucket(
        scope,
        id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        encryption=s3.BucketEncryption.S3_MANAGED if key is None else s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True if key is not None else None,
        lifecycle_rules=[s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(7))],
    )
    acknowledge(
        bucket,
        "AwsSolutions-S1",
        f"The bucket holds {holds}; object access is logged by CloudTrail data events where the account "
        f"enables them. For S3 server access logs, pass your own {prop} with server_access_logs_bucket set.",
    )
    return bucket
