"""Internal endpoints of the antifraud review: the SAGA's wait and the operator's decision.

The gateway's operator route `POST /v1/ops/payments/{id}/review` (X-Paylab-Ops-Key) forwards
here; nothing public reaches `/internal/*`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from paylab.core.internal_auth import InternalCaller
from paylab.core.problems import PROBLEM_MEDIA_TYPE, problem_body, problem_responses
from paylab.payment import review, task_tokens
from paylab.payment.domain import PaymentState
from paylab.payment.schemas import AwaitReviewIn, Empty, ReviewIn, ReviewOut
from paylab.payment.wiring import Svc

PaymentId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
router = APIRouter(prefix="/internal/payments", tags=["internal"])

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The payment is not held for review, or was already reviewed: the "
        "problem's `payment` member is its current state",
        **problem_responses(409)[409],
    }
}


def review_out(state: PaymentState) -> ReviewOut:
    """The operator's view of a payment under review."""
    return ReviewOut.model_validate(
        {
            "id": state.id,
            "ref_payco": state.ref_payco,
            "status": state.status.value,
            "cod_respuesta": state.cod_respuesta,
            "review_decision": state.review_decision,
            "review_reason": state.review_reason,
            "reason": state.outcome_reason,
        }
    )


def conflict_response(conflict: review.ReviewConflict) -> Response:
    """409 problem+json with the payment's current state under `payment`."""
    body = problem_body(409, conflict.slug, conflict.detail)
    body["payment"] = review_out(conflict.state).model_dump(mode="json")
    return Response(json.dumps(body).encode(), status_code=409, media_type=PROBLEM_MEDIA_TYPE)


@router.post(
    "/{payment_id}/await-review",
    response_model=Empty,
    responses=problem_responses(401, 404, 409, 422, 503),
)
def await_review(payment_id: PaymentId, body: AwaitReviewIn, _: InternalCaller, svc: Svc) -> Empty:
    """Hold the payment (cod 7) and keep the SAGA's task token until an operator decides."""
    review.await_review(
        svc, payment_id, body.task_token, sent_at=task_tokens.seconds(body.sent_at_ms)
    )
    return Empty()


@router.post(
    "/{payment_id}/review",
    response_model=ReviewOut,
    responses={**problem_responses(401, 404, 422, 503), **_CONFLICT},
)
def decide(payment_id: PaymentId, body: ReviewIn, _: InternalCaller, svc: Svc) -> Any:
    """An operator approves or rejects a held payment, once; the SAGA goes on at once.

    A second decision is 409 with the payment's state (and re-sends the recorded decision to
    the SAGA, in case the first answer was lost); 503 means retry.
    """
    try:
        return review_out(review.decide_review(svc, payment_id, body.decision, body.reason))
    except review.ReviewConflict as conflict:
        return conflict_response(conflict)
