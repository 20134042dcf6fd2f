"""Operator endpoints: `POST /v1/ops/dlq/{queue}/redrive` invokes the DLQ reprocessor Lambda;
`POST /v1/ops/payments/{id}/review` forwards an antifraud review decision to the payment service.

Authorized by the operator key (header X-Paylab-Ops-Key; the `<stack>/operator-key` secret,
not the internal service credential, which stays the gateway's own upstream), never by a
merchant token: a merchant must not move other merchants' messages. The route is an API
Gateway Lambda integration in effect.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import structlog
from botocore.exceptions import ReadTimeoutError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from paylab.core.dlq import QUEUES, ReprocessorFailed, invoke_reprocessor
from paylab.core.problems import problem_response

log = structlog.get_logger("paylab.gateway.ops")
OPS_KEY_HEADER = "x-paylab-ops-key"
_REDRIVE = re.compile(r"^/v1/ops/dlq/([^/]+)/redrive$")
_REVIEW = re.compile(r"^/v1/ops/payments/([A-Za-z0-9_-]{1,64})/review$")
#: Sends the request's body to (service, path) with the internal credential; the gateway's own.
Forward = Callable[[str, str], Awaitable[Response]]


async def handle_ops(
    request: Request,
    path: str,
    credential: Callable[[], Awaitable[str]],
    invoke: Callable[..., dict[str, Any]] = invoke_reprocessor,
    forward: Forward | None = None,
    fresh: Callable[[], Awaitable[str]] | None = None,
) -> Response:
    """Answer one /v1/ops request: 401/403 without the operator key, 404 for unknown queues."""
    found = _REDRIVE.match(path)
    review = _REVIEW.match(path)
    if found is None and (review is None or forward is None):
        return problem_response(404, "not-found", "No such resource.")
    if request.method != "POST":
        return problem_response(
            405,
            "method-not-allowed",
            f"{request.method} is not allowed here; use POST.",
            headers={"Allow": "POST"},
        )
    presented = request.headers.get(OPS_KEY_HEADER)
    if not presented:
        return problem_response(
            401, "unauthenticated", "Missing X-Paylab-Ops-Key.", title="Unauthorized"
        )
    if not _same(presented, await credential()) and (
        fresh is None or not _same(presented, await fresh())  # rotated since it was read?
    ):
        return problem_response(
            403, "forbidden", "X-Paylab-Ops-Key is not the operator key.", title="Forbidden"
        )
    if review is not None and forward is not None:
        log.info("ops.review", payment_id=review.group(1))
        return await forward("payment", f"/internal/payments/{review.group(1)}/review")
    assert found is not None
    queue = found.group(1)
    if queue not in QUEUES:
        return problem_response(
            404, "unknown-queue", f"No dead-letter queue {queue!r}; use {' or '.join(QUEUES)}."
        )
    try:
        result = await anyio.to_thread.run_sync(lambda: invoke("redrive", queue))
    except ReadTimeoutError as exc:
        log.warning("ops.redrive_timeout", queue=queue, error=repr(exc))
        return problem_response(
            504,
            "reprocessor-timeout",
            "The DLQ reprocessor did not answer in time; it may still be running.",
            title="Gateway timeout",
        )
    except (ReprocessorFailed, Exception) as exc:  # Lambda or AWS unavailable: retryable
        log.warning("ops.redrive_failed", queue=queue, error=repr(exc))
        return problem_response(
            503,
            "reprocessor-unavailable",
            "The DLQ reprocessor failed; try again.",
            headers={"Retry-After": "5"},
        )
    log.info("ops.redrive", queue=queue, result=result)
    return JSONResponse(result["queues"][0])


def _same(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode())
