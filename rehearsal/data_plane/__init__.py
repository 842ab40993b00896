"""A local SageMaker runtime data plane: the emulator's endpoints, served by real Triton servers.

moto emulates SageMaker's *control plane* (CreateModel, CreateEndpointConfig, CreateEndpoint …) but
runs no containers, so nothing answers ``InvokeEndpoint``. :class:`LocalDataPlane` fills that gap
the way SageMaker does: it keeps the routing (endpoint → config → variants → model) in memory,
refreshed from the control plane in the background, picks a production variant by its current
weight (or ``TargetVariant``), and forwards the body to that variant's container — here a real
``tritonserver`` started on first use from the model artifact the Model points at.

Client code is the same as against AWS::

    runtime = boto3.client("sagemaker-runtime", endpoint_url=data_plane.endpoint_url)
    runtime.invoke_endpoint(EndpointName=name, ContentType="application/json", Body=payload)

(or, with no code change at all, ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=<endpoint_url>``).
``invoke_endpoint_async`` works the same way for endpoints with an ``AsyncInferenceConfig``: the
input is read from the emulator's S3, the output or failure written back, and the notification
published to the emulator's SNS.

The package, one module per concern:

* :mod:`~rehearsal.data_plane.routes`: the route table (one entry per SageMaker runtime
  operation) and the dispatch path every route shares;
* :mod:`~rehearsal.data_plane.routing`: the routing table and its background refresh;
* :mod:`~rehearsal.data_plane.backends`: one backend per serving mode, chosen by the container's
  ``Mode`` (real-time there; multi-model in :mod:`~rehearsal.data_plane.multi_model`);
* :mod:`~rehearsal.data_plane.serverless`: serverless variants (cold start on the first request,
  stop when idle, provisioned concurrency, ``MaxConcurrency`` throttling, 4 MB payloads);
* :mod:`~rehearsal.data_plane.async_inference`: InvokeEndpointAsync's queue, workers,
  notifications, TTL and timeout, scale to zero and metrics;
* :mod:`~rehearsal.data_plane.capture`: data capture to S3 (SageMaker's JSON Lines) and shadow
  variants (a copy of each request; answers discarded), after production answered;
* :mod:`~rehearsal.data_plane.errors`: SageMaker runtime's error shapes;
* :mod:`~rehearsal.data_plane.metrics`: SageMaker's endpoint metrics, published to the emulator's
  CloudWatch, and the read-back of what a stack's dashboards and alarms reference;
* :mod:`~rehearsal.data_plane.service`: :class:`LocalDataPlane`, the aiohttp service;
* :mod:`~rehearsal.data_plane.cli`: ``python -m rehearsal.data_plane MOTO_URL``.
"""

from rehearsal.data_plane.async_inference import (
    DEFAULT_INVOCATION_TIMEOUT_S,
    DEFAULT_REQUEST_TTL_S,
    DEFAULT_SCALE_IN_COOLDOWN_S,
    MAX_ASYNC_INPUT_BYTES,
    AsyncInference,
    AsyncRequest,
)
from rehearsal.data_plane.backends import (
    BACKENDS,
    DEFAULT_MODEL_ENV,
    INVOCATION_TIMEOUT_S,
    ContainerBackend,
    Invocation,
    InvocationResult,
    RealTimeBackend,
    safe_extract,
)
from rehearsal.data_plane.capture import CaptureConfig, CounterSampler, PostInvocation
from rehearsal.data_plane.errors import REQUEST_ID_HEADER, RuntimeApiError, validation_error
from rehearsal.data_plane.multi_model import (
    DEFAULT_MULTI_MODEL_MEMORY_BUDGET_BYTES,
    MultiModelBackend,
    TargetModel,
)
from rehearsal.data_plane.routes import MAX_PAYLOAD_BYTES, Route, RuntimeApi
from rehearsal.data_plane.routing import (
    DEFAULT_MAX_CONCURRENT_INVOCATIONS_PER_INSTANCE,
    DEFAULT_REFRESH_INTERVAL_S,
    AsyncConfig,
    ControlPlane,
    EndpointRoute,
    RefreshPass,
    RoutingTable,
    ServerlessConfig,
    VariantRoute,
)
from rehearsal.data_plane.serverless import (
    DEFAULT_SERVERLESS_IDLE_S,
    MAX_SERVERLESS_PAYLOAD_BYTES,
    ServerlessBackend,
)
from rehearsal.data_plane.service import LocalDataPlane

__all__ = [
    "BACKENDS",
    "DEFAULT_INVOCATION_TIMEOUT_S",
    "DEFAULT_MAX_CONCURRENT_INVOCATIONS_PER_INSTANCE",
    "DEFAULT_MODEL_ENV",
    "DEFAULT_MULTI_MODEL_MEMORY_BUDGET_BYTES",
    "DEFAULT_REFRESH_INTERVAL_S",
    "DEFAULT_REQUEST_TTL_S",
    "DEFAULT_SCALE_IN_COOLDOWN_S",
    "DEFAULT_SERVERLESS_IDLE_S",
    "INVOCATION_TIMEOUT_S",
    "MAX_ASYNC_INPUT_BYTES",
    "MAX_PAYLOAD_BYTES",
    "MAX_SERVERLESS_PAYLOAD_BYTES",
    "REQUEST_ID_HEADER",
    "AsyncConfig",
    "AsyncInference",
    "AsyncRequest",
    "CaptureConfig",
    "ContainerBackend",
    "ControlPlane",
    "CounterSampler",
    "EndpointRoute",
    "Invocation",
    "InvocationResult",
    "LocalDataPlane",
    "MultiModelBackend",
    "PostInvocation",
    "RealTimeBackend",
    "RefreshPass",
    "Route",
    "RoutingTable",
    "RuntimeApi",
    "RuntimeApiError",
    "ServerlessBackend",
    "ServerlessConfig",
    "TargetModel",
    "VariantRoute",
    "safe_extract",
    "validation_error",
]
