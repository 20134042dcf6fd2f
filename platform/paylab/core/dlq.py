"""Invoking the DLQ reprocessor Lambda: what `paylab dlq` and the gateway's ops route share."""

from __future__ import annotations

import json
from typing import Any

from paylab.core.aws import invoker
from paylab.core.stack_outputs import output

# Queues the reprocessor manages (its PAYLAB_DLQ_QUEUES keys in the template).
QUEUES = ("notification-ops", "audit-ops", "merchant-ops", "merchant-webhooks")
_FUNCTION_OUTPUT = "DlqReprocessorFunctionName"
#: The reprocessor's function timeout (the template's 120 s) and a margin: a caller (the
#: gateway's redrive route among them) answers 504 after this, never waits longer.
REPROCESSOR_WAIT_S = 130


class ReprocessorFailed(RuntimeError):
    """The Lambda ran but raised; the message is its error."""


def invoke_reprocessor(
    action: str, queue: str | None = None, max_messages: int | None = None, lambda_: Any = None
) -> dict[str, Any]:
    """Run the reprocessor synchronously (`list` or `redrive`) and return its answer."""
    if queue is not None and queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; choose from {', '.join(QUEUES)}")
    event: dict[str, Any] = {"action": action, "queue": queue}
    if max_messages is not None:
        event["max_messages"] = max_messages
    response = (lambda_ or invoker(wait_s=REPROCESSOR_WAIT_S)).invoke(
        FunctionName=output(_FUNCTION_OUTPUT),
        InvocationType="RequestResponse",
        Payload=json.dumps(event).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        message = payload.get("errorMessage") if isinstance(payload, dict) else payload
        raise ReprocessorFailed(str(message))
    if not isinstance(payload, dict):
        raise ReprocessorFailed(f"unexpected answer {payload!r}")
    return payload
