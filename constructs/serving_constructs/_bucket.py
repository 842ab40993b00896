"""The hardened bucket a construct creates when the user passes none, and the S3 key rules it checks.

One place for both: :class:`~serving_constructs.async_endpoint.AsyncEndpoint`'s output bucket and
:class:`~serving_constructs.model_prefix.ModelPrefix`'s model bucket are made the same way.
"""

from __future__ import annotations

import re

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from serving_constructs._nag import acknowledge

# Amazon S3's "safe characters" for object keys (User Guide, "Naming Amazon S3 objects"); the
# others need URL encoding or special handling in clients and IAM resource ARNs.
SAFE_KEY = re.compile(r"^[A-Za-z0-9!_.*'()/-]+$")
SAFE_KEY_TEXT = "letters, digits, / and ! - _ . * ' ( )"
# An S3 object key has at most 1024 bytes (UTF-8); safe characters are one byte each.
MAX_KEY_LENGTH = 1024
# A bucket name has at most 63 characters; a generated one is unknown at synth.
MAX_BUCKET_NAME = 63


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
