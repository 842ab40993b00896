"""Data capture: SageMaker copies a sample of an endpoint's requests and answers to S3 (Model Monitor's input).

:class:`DataCapture` is the typed prop behind ``RealtimeEndpoint(data_capture=...)``; it renders
the endpoint config's ``DataCaptureConfig``. The endpoint creates the destination bucket (hardened,
see :func:`serving_constructs._bucket.hardened_bucket`) when none is given, and grants each model's
execution role ``s3:PutObject`` under the capture prefix only, plus ``kms:GenerateDataKey`` /
``kms:Encrypt`` on the capture key and the bucket's customer-managed key.

SageMaker writes JSON Lines files under
``s3://<bucket>/<prefix>/<endpoint name>/<variant name>/<yyyy>/<mm>/<dd>/<hh>/<uuid>.jsonl``, one
line per captured request: ``{"captureData": {"endpointInput": {"observedContentType", "mode":
"INPUT", "data", "encoding"}, "endpointOutput": {...}}, "eventMetadata": {"eventId",
"inferenceTime"}, "eventVersion": "0"}``. ``encoding`` is ``JSON`` or ``CSV`` for the content types
listed in ``json_content_types`` / ``csv_content_types``, else ``BASE64``.

Sources: the API shapes ``DataCaptureConfig``, ``CaptureOption`` and ``CaptureContentTypeHeader``
(botocore's SageMaker service model: sampling 0-100, 1-10 content types per list, each
``type/subtype`` of at most 256 characters, destination URI at most 512 characters); SageMaker
Developer Guide, "Capture data from real-time endpoint"
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html).
Serverless endpoints do not support data capture (SERVICE-FACTS §7.2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from serving_constructs._bucket import key_prefix_problems
from serving_constructs._validation import check_bool, check_int, check_interface, given, resolved

DEFAULT_CAPTURE_PREFIX = "data-capture"
"""The key prefix captured data goes under when ``DataCapture.prefix`` is not given."""

DEFAULT_SAMPLING_PERCENTAGE = 20
"""The share of requests captured by default (the SageMaker Python SDK's ``DataCaptureConfig`` default)."""

# botocore: CaptureContentTypeHeader.CsvContentTypes / JsonContentTypes (min 1, max 10 items;
# each 1-256 characters matching the pattern below).
MAX_CONTENT_TYPES = 10
MAX_CONTENT_TYPE_LENGTH = 256
CONTENT_TYPE_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*/[a-zA-Z0-9](-*[a-zA-Z0-9.])*$")


@dataclass(frozen=True, kw_only=True)
class DataCapture:
    """Capture a sample of an endpoint's requests and answers to S3 (``DataCaptureConfig``).

    Attributes:
        bucket: the destination bucket. Defaults to a bucket the endpoint creates (child
            ``DataCaptureBucket``): public access blocked, TLS only, encrypted with ``kms_key``
            (with an S3 bucket key) or S3-managed keys, retained when the stack is deleted.
        prefix: the key prefix captured files go under (``DestinationS3Uri`` is
            ``s3://<bucket>/<prefix>``). No leading or trailing ``/``. Defaults to
            ``"data-capture"``.
        sampling_percentage: the share of requests captured, 0-100 (``InitialSamplingPercentage``).
            Defaults to 20, the SageMaker Python SDK's default; lower it on busy endpoints.
        kms_key: the key SageMaker encrypts captured files with (``KmsKeyId``). Defaults to the
            bucket's default encryption (the created bucket uses this key when given).
        capture_input: capture the requests. Defaults to True.
        capture_output: capture the answers. Defaults to True. At least one of the two.
        json_content_types: request/answer content types recorded as JSON text (``encoding``
            ``JSON``), e.g. ``["application/json"]``; at most 10. Defaults to none.
        csv_content_types: content types recorded as CSV text, e.g. ``["text/csv"]``; at most 10.
            Defaults to none. Types in neither list are recorded base64-encoded.
        enabled: whether capture is on (``EnableCapture``). ``False`` keeps the configuration and
            stops capturing. Defaults to True.
    """

    bucket: s3.IBucket | None = None
    prefix: str = DEFAULT_CAPTURE_PREFIX
    sampling_percentage: int = DEFAULT_SAMPLING_PERCENTAGE
    kms_key: kms.IKey | None = None
    capture_input: bool = True
    capture_output: bool = True
    json_content_types: Sequence[str] = ()
    csv_content_types: Sequence[str] = ()
    enabled: bool = True

    def problems(self, path: str = "data_capture") -> list[str]:
        """Return every problem with these props, each naming ``path.<prop>``."""
        problems = check_interface(
            f"{path}.bucket",
            self.bucket,
            "s3.IBucket",
            "bucket_arn",
            "pass s3.Bucket(...) or s3.Bucket.from_bucket_name(...), or omit it for a bucket of the endpoint",
            optional=True,
        )
        bucket_name = self.bucket.bucket_name if self.bucket is not None and not problems else None
        problems += key_prefix_problems(
            f"{path}.prefix", self.prefix, bucket_name, example=DEFAULT_CAPTURE_PREFIX
        )
        problems += check_int(f"{path}.sampling_percentage", self.sampling_percentage, 0, 100, " %")
        problems += check_interface(
            f"{path}.kms_key",
            self.kms_key,
            "kms.IKey",
            "key_arn",
            "use kms.Key(...) or kms.Key.from_key_arn(...)",
            optional=True,
        )
        flags = [
            ("capture_input", self.capture_input),
            ("capture_output", self.capture_output),
            ("enabled", self.enabled),
        ]
        flag_problems = [
            p for name, value in flags for p in check_bool(f"{path}.{name}", value, optional=False)
        ]
        problems += flag_problems
        if not flag_problems and not self.capture_input and not self.capture_output:
            problems.append(
                f"{path} captures nothing (capture_input and capture_output are both False) — set one True, or "
                f"set {path}.enabled=False to stop capturing"
            )
        for name, types in (
            ("json_content_types", self.json_content_types),
            ("csv_content_types", self.csv_content_types),
        ):
            problems += _content_type_problems(f"{path}.{name}", types)
        both = set(_strings(self.json_content_types)) & set(_strings(self.csv_content_types))
        if both:
            problems.append(
                f"{path}: {', '.join(sorted(map(repr, both)))} is in both json_content_types and csv_content_types "
                "— list each content type once"
            )
        return problems

    @property
    def capture_mode(self) -> str:
        """``CaptureMode``: ``InputAndOutput``, ``Input`` or ``Output``."""
        if self.capture_input and self.capture_output:
            return "InputAndOutput"
        return "Input" if self.capture_input else "Output"

    def render(self, bucket: s3.IBucket) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
        """Return the ``DataCaptureConfig`` writing to ``bucket`` (the given one or the endpoint's)."""
        header = None
        if self.json_content_types or self.csv_content_types:
            header = sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                json_content_types=list(self.json_content_types) or None,
                csv_content_types=list(self.csv_content_types) or None,
            )
        return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
            destination_s3_uri=self.destination_uri(bucket),
            initial_sampling_percentage=self.sampling_percentage,
            capture_options=[
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode=self.capture_mode)
            ],
            capture_content_type_header=header,
            enable_capture=self.enabled,
            kms_key_id=None if self.kms_key is None else self.kms_key.key_arn,
        )

    def destination_uri(self, bucket: s3.IBucket) -> str:
        """Return ``DestinationS3Uri``: ``s3://<bucket>/<prefix>``."""
        return f"s3://{bucket.bucket_name}/{self.prefix}"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return []
    return [item for item in value if isinstance(item, str)]


def _content_type_problems(name: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [
            f"{name} must be a list of content types (got {given(value)}) — e.g. {name}=['application/json']"
        ]
    problems = []
    if len(value) > MAX_CONTENT_TYPES:
        problems.append(f"{name} takes at most {MAX_CONTENT_TYPES} content types (got {len(value)})")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            problems.append(f"{name}[{index}] must be a str (got {given(item)}) — e.g. 'application/json'")
        elif resolved(item) and (len(item) > MAX_CONTENT_TYPE_LENGTH or not CONTENT_TYPE_PATTERN.match(item)):
            problems.append(
                f"{name}[{index}] must be a content type 'type/subtype' of at most {MAX_CONTENT_TYPE_LENGTH} "
                f"characters, without parameters (got {item!r}) — e.g. 'application/json' or 'text/csv'"
            )
    if len(set(_strings(value))) != len(_strings(value)):
        problems.append(f"{name} lists a content type twice — list each once")
    return problems
