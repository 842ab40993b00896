"""Answer CloudFormation for a custom resource: the one cfn-response of this project's Lambda handlers.

``handlers/`` is one Lambda asset: each function's handler is ``<folder>.index.handler`` and imports
this module from the asset's root (Lambda puts it on ``sys.path``). Standard library only.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from typing import Any

LOGGER = logging.getLogger()

MAX_REASON = 3000
"""Longest Reason sent (CloudFormation's response object is limited to 4096 bytes in all)."""


def respond(event: dict[str, Any], status: str, reason: str, physical_id: str, data: dict[str, str]) -> None:
    """PUT the response to the event's pre-signed ``ResponseURL``, retrying transient failures 4 times.

    Args:
        event: the custom resource event.
        status: ``SUCCESS`` or ``FAILED``.
        reason: why (cut to :data:`MAX_REASON` characters).
        physical_id: the resource's physical id.
        data: the attributes ``Fn::GetAtt`` reads.

    Raises:
        OSError: the fifth attempt failed too.
    """
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 3] + "..."
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason,
            "PhysicalResourceId": physical_id,
            "StackId": event.get("StackId"),
            "RequestId": event.get("RequestId"),
            "LogicalResourceId": event.get("LogicalResourceId"),
            "NoEcho": False,
            "Data": data,
        }
    ).encode()
    # The pre-signed URL is signed for an empty Content-Type.
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    for attempt in range(5):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                LOGGER.info("answered %s: HTTP %s", status, response.status)
                return
        except OSError:
            if attempt == 4:
                raise
            LOGGER.exception("answering CloudFormation failed; retrying")
            time.sleep(2**attempt)
