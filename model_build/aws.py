"""AWS names and SageMaker runtime limits that more than one layer checks against (one place).

The app checks ``-c region``, the tuning CLI ``--region``, and the rehearsal the regions of its
emulator and data plane; the tuning CLI and the local data plane both hold request bodies to
``InvokeEndpoint``'s limit; the serverless constructs document, and the local data plane enforces,
a serverless endpoint's payload limit and invocation timeout; the rehearsal and the post-deploy check (``operations``) split S3 URIs
the way SageMaker reads them. Each reads the rule from here.
"""

from __future__ import annotations

import re
from typing import Any

#: An AWS region name: ``us-east-1``, ``ap-southeast-3``, ``us-gov-west-1``, ``cn-north-1``,
#: ``eusc-de-east-1`` (the European Sovereign Cloud): a prefix of two letters or more, one or more
#: words, a number. ``tests/test_build_aws.py`` checks it against every region botocore knows.
REGION_PATTERN = re.compile(r"^[a-z]{2,}(-[a-z]+)+-\d+$")

#: The SageMaker Triton DLC release used when none is given: ``serving_constructs.defaults.triton_version()``
#: returns it, and seed 001's TensorRT examples (``model_build.examples``) pin their engines to it.
#: Pinned rather than "newest in the installed SDK data": a default that moves when the sagemaker SDK
#: is upgraded would silently replace every endpoint on the next deploy. 26.05 is the newest release
#: the pinned SDK lists.
DEFAULT_TRITON_VERSION = "26.05"

#: ``InvokeEndpoint``'s request body limit: 6 MB, i.e. 6,291,456 bytes (botocore's ``BodyBlob``
#: shape, ``max`` 6291456). Larger inputs need an asynchronous endpoint.
INVOKE_ENDPOINT_MAX_BODY_BYTES = 6 * 1024 * 1024

#: A serverless endpoint's request and response payload limit: 4 MB (Developer Guide, "Serverless
#: Inference", limits; SERVICE-FACTS §7.2), counted as 4,000,000 bytes, the stricter reading of "MB".
#: ``serving_constructs.serverless.MAX_PAYLOAD_BYTES`` documents it; the local data plane enforces it.
SERVERLESS_MAX_PAYLOAD_BYTES = 4 * 1000**2

#: Seconds a container has to answer one ``InvokeEndpoint`` (real-time and serverless): 60.
INVOCATION_TIMEOUT_S = 60


def is_region(value: Any) -> bool:
    """Whether ``value`` is a string shaped like an AWS region name (existence is not checked)."""
    return isinstance(value, str) and REGION_PATTERN.match(value) is not None


_S3_URI = re.compile(r"s3://([^/]+)/?(.*)")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``, as SageMaker's API reads an S3 URI.

    The pattern is botocore's for SageMaker's S3 URIs (``S3Uri``, ``InputLocation``), its ``s3``
    half: ``s3://`` (lower case), a bucket, an optional slash, the key. The key is everything after
    that slash, as S3 names it: ``?`` and ``#`` are part of it (``urllib.parse`` would cut them off),
    and it is empty for ``s3://bucket`` or ``s3://bucket/`` (a prefix, not an object).

    Raises:
        ValueError: ``uri`` is not ``s3://`` followed by a bucket.
    """
    match = _S3_URI.fullmatch(uri)
    if match is None:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return match[1], match[2]
