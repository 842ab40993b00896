"""SageMaker runtime's error shapes, so boto3 raises the modeled exceptions against the local data plane.

botocore (rest-json) takes the error code from the ``x-amzn-ErrorType`` header and the modeled members
from the JSON body, so ``ClientError.response["Error"]["Code"]`` and, for ``ModelError``,
``response["OriginalStatusCode"]`` read as they do against AWS.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

#: The header SageMaker (like every AWS JSON service) names each request by; boto3 reads it into
#: ``ResponseMetadata["RequestId"]``.
REQUEST_ID_HEADER = "x-amzn-RequestId"


class RuntimeApiError(Exception):
    """An error in SageMaker runtime's wire shape.

    Args:
        code: ``ValidationError``, ``ModelError``, ``ModelNotReadyException``, ``InternalFailure`` …
        status: The HTTP status (400, 424, 429, 500 …).
        message: The human-readable message.
        **members: More modeled members (``OriginalStatusCode``, ``OriginalMessage``, ``LogStreamArn``).
    """

    def __init__(self, code: str, status: int, message: str, **members: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.message = message
        self.members = members
        #: Seconds the container took to answer, when this error is its answer (``ModelLatency``).
        self.model_latency_s: float | None = None

    def to_response(self, request_id: str) -> web.Response:
        """Render the error as SageMaker runtime does, with the request's id."""
        return web.json_response(
            {"Message": self.message, **self.members},
            status=self.status,
            headers={
                "x-amzn-ErrorType": f"{self.code}:http://internal.amazon.com/coral/com.amazon.sagemaker/",
                REQUEST_ID_HEADER: request_id,
            },
        )


def validation_error(message: str) -> RuntimeApiError:
    """``ValidationError`` (400): a bad request, an unknown or not-InService endpoint/variant."""
    return RuntimeApiError("ValidationError", 400, message)


def model_error(
    *, region: str, account_id: str, endpoint_name: str, original_status: int, original_message: str
) -> RuntimeApiError:
    """``ModelError`` (424): the container answered an error, did not answer, or could not start.

    The message is AWS's wording, so scripts that grep it behave the same locally.
    """
    kind = "client" if 400 <= original_status < 500 else "server"
    log_group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
    message = (
        f'Received {kind} error ({original_status}) from primary with message "{original_message}". '
        f"See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logEventViewer:group={log_group} in account {account_id} for more information."
    )
    return RuntimeApiError(
        "ModelError",
        424,
        message,
        OriginalStatusCode=original_status,
        OriginalMessage=original_message,
        LogStreamArn=f"arn:aws:logs:{region}:{account_id}:log-group:{log_group}",
    )
