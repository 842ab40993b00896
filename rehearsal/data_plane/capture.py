"""Data capture and shadow variants on the local data plane: what SageMaker does after production answers.

**Data capture** (an endpoint config's ``DataCaptureConfig``). After a production variant answered
an ``InvokeEndpoint``, a sample of the requests is written to the emulator's S3 in SageMaker's
format: JSON Lines under
``<DestinationS3Uri>/<EndpointName>/<VariantName>/<yyyy>/<mm>/<dd>/<hh>/<mm>-<ss>-<mmm>-<uuid>.jsonl``
(the hour of the inference, UTC), one line per captured request::

    {"captureData": {"endpointInput": {"observedContentType": "application/json", "mode": "INPUT",
                                       "data": "...", "encoding": "JSON"},
                     "endpointOutput": {... "mode": "OUTPUT" ...}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<InferenceId, when the caller gave one>",
                       "inferenceTime": "2026-12-02T06:10:00Z"},
     "eventVersion": "0"}

(SageMaker Developer Guide, "Capture data from real-time endpoint": the S3 path
``s3://<destination>/{endpoint-name}/{variant-name}/yyyy/mm/dd/hh/filename.jsonl`` and sample
lines.) ``encoding`` is ``JSON`` or ``CSV`` when the observed content type (its media type, without
parameters such as ``charset``) is listed in ``CaptureContentTypeHeader.JsonContentTypes`` /
``CsvContentTypes``, and then ``data`` is the payload as text; any other payload is ``BASE64``.
``CaptureOptions`` chooses the halves (``Input``, ``Output``, or both). ``KmsKeyId``, when given,
is the objects' SSE-KMS key (moto records it on the object; it encrypts nothing).

**Sampling is deterministic here**: for each (endpoint, variant) the n-th answered request is
captured when ``floor(n * p / 100)`` grows, so exactly ``floor(N * p / 100)`` of the first N
requests are captured (50 %: every second request). SageMaker samples at random at the same rate.

**Shadow variants** (``ShadowProductionVariants``). The production variant answers the caller;
the request is then sent to each shadow variant's own container, its answer discarded but counted
(SageMaker's metrics under the shadow's ``VariantName``) and, with data capture on, captured under
the shadow's name. The share of requests mirrored is the shadow's weight over the production
variant's, capped at 100 % (both weights 1, as in AWS's example: every request), sampled with the
same counter. The mirror runs after the answer is sent, so a slow or failing shadow never delays or
fails the caller.

**Nothing is lost silently.** Capture writes and shadow calls run in the background; a failure is
logged (warning) and counted (:meth:`PostInvocation.stats`), and never changes the caller's answer.
:meth:`PostInvocation.drain` waits for what is in flight (``LocalDataPlane.flush_data_capture``).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import math
import threading
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from model_build.aws import parse_s3_uri

if TYPE_CHECKING:
    from rehearsal.data_plane.backends import Invocation, InvocationResult

log = logging.getLogger(__name__)

#: The header carrying the caller's ``InferenceId`` (recorded as ``eventMetadata.inferenceId``).
INFERENCE_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"
JSON_ENCODING, CSV_ENCODING, BASE64_ENCODING = "JSON", "CSV", "BASE64"


@dataclass(frozen=True)
class CaptureConfig:
    """An endpoint config's ``DataCaptureConfig``, as the data plane needs it.

    Attributes:
        destination_s3_uri: ``DestinationS3Uri`` (``s3://bucket/prefix``).
        sampling_percentage: ``InitialSamplingPercentage`` (0-100).
        enabled: ``EnableCapture`` (absent: True, as the API's default).
        capture_input: ``CaptureOptions`` has ``Input`` or ``InputAndOutput``.
        capture_output: ``CaptureOptions`` has ``Output`` or ``InputAndOutput``.
        json_content_types: ``CaptureContentTypeHeader.JsonContentTypes``.
        csv_content_types: ``CaptureContentTypeHeader.CsvContentTypes``.
        kms_key_id: ``KmsKeyId``: the objects' SSE-KMS key; None: the bucket's default encryption.
    """

    destination_s3_uri: str
    sampling_percentage: int
    enabled: bool = True
    capture_input: bool = True
    capture_output: bool = True
    json_content_types: frozenset[str] = frozenset()
    csv_content_types: frozenset[str] = frozenset()
    kms_key_id: str | None = None

    @classmethod
    def from_api(cls, config: Mapping[str, Any]) -> CaptureConfig:
        """Read ``DescribeEndpointConfig``'s ``DataCaptureConfig``."""
        modes = {str(option.get("CaptureMode", "")) for option in config.get("CaptureOptions") or ()}
        header = config.get("CaptureContentTypeHeader") or {}
        return cls(
            destination_s3_uri=str(config.get("DestinationS3Uri", "")),
            sampling_percentage=int(config.get("InitialSamplingPercentage", 0)),
            enabled=config.get("EnableCapture", True) not in (False, "false", "False"),
            capture_input=bool(modes & {"Input", "InputAndOutput"}),
            capture_output=bool(modes & {"Output", "InputAndOutput"}),
            json_content_types=frozenset(_media_type(t) for t in header.get("JsonContentTypes") or ()),
            csv_content_types=frozenset(_media_type(t) for t in header.get("CsvContentTypes") or ()),
            kms_key_id=config.get("KmsKeyId") or None,
        )

    def encode(self, body: bytes, content_type: str) -> tuple[str, str]:
        """Return ``(data, encoding)`` of one payload: text for listed JSON/CSV types, else base64."""
        media_type = _media_type(content_type)
        for types, encoding in ((self.json_content_types, JSON_ENCODING), (self.csv_content_types, CSV_ENCODING)):
            if media_type in types:
                try:
                    return body.decode("utf-8"), encoding
                except UnicodeDecodeError:
                    break  # not text after all: recorded as base64 rather than mangled
        return base64.b64encode(body).decode("ascii"), BASE64_ENCODING

    def record(
        self,
        invocation: Invocation,
        result: InvocationResult,
        *,
        event_id: str,
        inference_time: datetime,
    ) -> dict[str, Any]:
        """Return one capture line (as a dict) for a request and the answer of one variant."""
        capture: dict[str, Any] = {}
        if self.capture_input:
            content_type = invocation.headers.get("Content-Type", "application/octet-stream")
            data, encoding = self.encode(invocation.body, content_type)
            capture["endpointInput"] = {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": data,
                "encoding": encoding,
            }
        if self.capture_output:
            content_type = result.headers.get("Content-Type", "application/octet-stream")
            data, encoding = self.encode(result.body, content_type)
            capture["endpointOutput"] = {
                "observedContentType": content_type,
                "mode": "OUTPUT",
                "data": data,
                "encoding": encoding,
            }
        metadata = {"eventId": event_id}
        if invocation.headers.get(INFERENCE_ID_HEADER):
            metadata["inferenceId"] = invocation.headers[INFERENCE_ID_HEADER]
        metadata["inferenceTime"] = inference_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"}

    def object_location(
        self, endpoint_name: str, variant_name: str, inference_time: datetime, event_id: str
    ) -> tuple[str, str]:
        """Return ``(bucket, key)`` of a capture file (SageMaker's layout, one record per file here)."""
        bucket, prefix = parse_s3_uri(self.destination_s3_uri)
        prefix = prefix.strip("/")
        t = inference_time
        name = f"{t:%M-%S}-{t.microsecond // 1000:03d}-{event_id}.jsonl"
        parts = [p for p in (prefix, endpoint_name, variant_name, f"{t:%Y/%m/%d/%H}", name) if p]
        return bucket, "/".join(parts)


def _media_type(content_type: str) -> str:
    """``text/csv; charset=utf-8`` → ``text/csv`` (lower case)."""
    return content_type.split(";", 1)[0].strip().lower()


class CounterSampler:
    """Deterministic sampling at a percentage: the n-th call is taken when ``floor(n * p / 100)`` grows.

    Exactly ``floor(N * p / 100)`` of the first N calls are taken, spread evenly (50 %: the 2nd,
    4th, 6th ...; 100 %: every call; 0 %: none). Thread-safe; one counter per key.
    """

    def __init__(self) -> None:
        self._counts: dict[Any, int] = {}
        self._lock = threading.Lock()

    def take(self, key: Any, percentage: float) -> bool:
        """Count one call under ``key`` and say whether it is sampled at ``percentage`` (0-100)."""
        percentage = min(100.0, max(0.0, float(percentage)))
        with self._lock:
            n = self._counts.get(key, 0) + 1
            self._counts[key] = n
        return math.floor(n * percentage / 100 + 1e-9) > math.floor((n - 1) * percentage / 100 + 1e-9)


@dataclass
class PostInvocationStats:
    """What the work after production's answer did so far (``LocalDataPlane.flush_data_capture``).

    Attributes:
        captured: Capture files written, per ``"<endpoint>/<variant>"``.
        capture_failures: Capture writes that failed (each logged).
        shadow_invocations: Requests mirrored to a shadow variant that it answered, per ``"<endpoint>/<variant>"``.
        shadow_failures: Mirrored requests the shadow failed (each logged; the caller never sees them).
        last_error: The most recent failure, in words.
    """

    captured: dict[str, int] = dataclasses.field(default_factory=dict)
    capture_failures: int = 0
    shadow_invocations: dict[str, int] = dataclasses.field(default_factory=dict)
    shadow_failures: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able copy."""
        return dataclasses.asdict(self)


class PostInvocation:
    """Data capture writes and shadow mirroring, run in the background after production answered.

    Args:
        put_object: ``s3.put_object`` of the control plane (called from a worker thread).
        now: The clock of ``inferenceTime`` (UTC). Defaults to :func:`datetime.now`.
    """

    def __init__(self, put_object: Callable[..., Any], *, now: Callable[[], datetime] | None = None) -> None:
        self._put_object = put_object
        self._now = now or (lambda: datetime.now(UTC))
        self.capture_sampler = CounterSampler()
        self.shadow_sampler = CounterSampler()
        self.stats = PostInvocationStats()
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background (on the running loop), kept until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every background write and mirrored call has ended."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def capture(
        self, config: CaptureConfig | None, endpoint_name: str, variant_name: str, invocation: Invocation, result: InvocationResult
    ) -> None:
        """Capture one answered request of ``variant_name`` if capture is on and the sampler takes it."""
        if config is None or not config.enabled or not (config.capture_input or config.capture_output):
            return
        if not self.capture_sampler.take((endpoint_name, variant_name), config.sampling_percentage):
            return
        self.spawn(self._write(config, endpoint_name, variant_name, invocation, result))

    async def _write(
        self, config: CaptureConfig, endpoint_name: str, variant_name: str, invocation: Invocation, result: InvocationResult
    ) -> None:
        event_id = str(uuid.uuid4())
        when = self._now()
        try:
            bucket, key = config.object_location(endpoint_name, variant_name, when, event_id)
            line = json.dumps(config.record(invocation, result, event_id=event_id, inference_time=when))
            extra: dict[str, str] = {}
            if config.kms_key_id:
                extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config.kms_key_id}
            await asyncio.to_thread(
                self._put_object,
                Bucket=bucket,
                Key=key,
                Body=(line + "\n").encode("utf-8"),
                ContentType="application/jsonl",
                **extra,
            )
        except Exception as exc:
            self.stats.capture_failures += 1
            self.stats.last_error = f"data capture of {endpoint_name}/{variant_name} to {config.destination_s3_uri}: {exc}"
            log.warning("%s (the invocation was answered; this record is not captured)", self.stats.last_error)
            return
        label = f"{endpoint_name}/{variant_name}"
        self.stats.captured[label] = self.stats.captured.get(label, 0) + 1

    def mirror_share(self, production_weight: float, shadow_weight: float) -> float:
        """Percentage of requests a shadow gets: its weight over production's, capped at 100."""
        if shadow_weight <= 0:
            return 0.0
        if production_weight <= 0:
            return 100.0
        return min(100.0, 100.0 * shadow_weight / production_weight)

    def record_shadow(self, endpoint_name: str, variant_name: str, error: BaseException | None) -> None:
        """Count one mirrored request (answered, or failed with ``error``: logged)."""
        if error is None:
            label = f"{endpoint_name}/{variant_name}"
            self.stats.shadow_invocations[label] = self.stats.shadow_invocations.get(label, 0) + 1
            return
        self.stats.shadow_failures += 1
        self.stats.last_error = f"shadow variant {variant_name} of {endpoint_name}: {error}"
        log.warning("%s (its answer is discarded; the caller got production's)", self.stats.last_error)
