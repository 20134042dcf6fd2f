"""Antifraud review: the SAGA holds a payment (`held`, cod 7) until an operator decides.

The SAGA reserves the funds, then waits (`.waitForTaskToken`) in AwaitReview: `await_review`
appends PaymentHeld and keeps the task token. `decide_review` appends PaymentReviewed and
answers the token: approve → SendTaskSuccess (processing goes on), reject → SendTaskFailure
`ReviewRejected` (the SAGA releases the funds and the payment ends rejected). Nobody deciding
within `review_timeout_seconds` times the task out: released, rejected `review-timeout`.

Both sides write under the row lock (the token; the decision's projection), so whichever
commits second sees the other and answers the token: a decision is never left unanswered.
"""

from __future__ import annotations

import time

import structlog
from sqlalchemy import select

from paylab.core.db import unit_of_work
from paylab.core.problems import Problem
from paylab.payment import domain
from paylab.payment.domain import PaymentState, Status
from paylab.payment.models import payments
from paylab.payment.partners import unavailable
from paylab.payment.repository import NewEvents
from paylab.payment.service import any_payment
from paylab.payment.task_tokens import require_fresh
from paylab.payment.wiring import Services

log = structlog.get_logger(__name__)

#: The error name the SAGA's AwaitReview catches for a rejection (workflows/payment_saga.asl.json).
REJECTED_ERROR = "ReviewRejected"
HELD_REASON = "antifraud_review"


class ReviewConflict(Exception):
    """The payment cannot take a decision now; carries its current state for the 409."""

    def __init__(self, state: PaymentState, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.state = state
        self.slug = slug
        self.detail = detail


def await_review(
    svc: Services, payment_id: str, task_token: str, *, sent_at: float | None = None
) -> PaymentState:
    """Hold the payment for review and keep the SAGA's token; answer it at once if decided.

    The token is stored only while the step's Lambda still waits for this request
    (`task_tokens`): a retry's newer token is never overwritten by a late one.
    """
    received_at = time.time()
    state = any_payment(svc, payment_id)
    if state.antifraud_decision != "review":
        raise Problem(
            409, "not-under-review", f"Antifraud did not ask to review payment {payment_id}."
        )

    def hold(current: PaymentState) -> NewEvents:
        fresh = current.review_decision is None and not current.is_final
        if current.status is Status.PENDING and fresh:
            return [(domain.HELD_FOR_REVIEW, {"reason": HELD_REASON})]
        return []

    svc.repo.change(payment_id, hold, known=state)
    with unit_of_work(svc.sessions) as session:
        row = (
            session.execute(
                select(payments.c.review_decision, payments.c.review_reason)
                .where(payments.c.id == payment_id)
                .with_for_update()
            )
            .mappings()
            .one()
        )
        require_fresh(sent_at, received_at)
        session.execute(
            payments.update()
            .where(payments.c.id == payment_id)
            .values(review_task_token=task_token)
        )
    current = svc.repo.get(payment_id)
    assert current is not None
    if row["review_decision"] is not None:
        _answer(svc, task_token, str(row["review_decision"]), row["review_reason"])
    elif current.is_final:
        # It ended without a decision (a re-driven SAGA after a timeout): compensate again.
        _answer(svc, task_token, "reject", f"payment already {current.status.value}")
    log.info("payment held for review", payment_id=payment_id, status=current.status.value)
    return current


def decide_review(
    svc: Services, payment_id: str, decision: str, reason: str | None
) -> PaymentState:
    """Record an operator's decision once and resume the SAGA; ReviewConflict after that."""
    if decision not in domain.REVIEW_DECISIONS:
        raise Problem(422, "validation-error", f"Unknown decision {decision!r}.")
    known = any_payment(svc, payment_id)

    def decide(current: PaymentState) -> NewEvents:
        if current.review_decision is not None:
            raise ReviewConflict(
                current,
                "already-reviewed",
                f"Payment {payment_id} was already reviewed ({current.review_decision}); "
                f"it is {current.status.value}.",
            )
        if current.status is not Status.HELD:
            raise ReviewConflict(
                current,
                "payment-not-held",
                f"Payment {payment_id} is {current.status.value}, not held for review.",
            )
        return [(domain.REVIEWED, {"decision": decision, "reason": reason})]

    try:
        after = svc.repo.change(payment_id, decide, known=known)
    except ReviewConflict as conflict:
        # A retry after a lost answer (503) must still wake the SAGA: send the recorded
        # decision again; a token the SAGA no longer waits on is ignored.
        resume_recorded(svc, conflict.state)
        raise
    resume_recorded(svc, after)
    log.info("payment reviewed", payment_id=payment_id, decision=decision)
    return after


def resume_recorded(svc: Services, state: PaymentState) -> None:
    """Answer the SAGA's review token with the recorded decision, if both exist."""
    if state.review_decision is None or state.is_final:
        return
    with svc.sessions() as session:
        token = session.execute(
            select(payments.c.review_task_token).where(payments.c.id == state.id)
        ).scalar()
    if token:
        _answer(svc, str(token), state.review_decision, state.review_reason)


def _answer(svc: Services, task_token: str, decision: str, reason: str | None) -> None:
    try:
        if decision == "approve":
            svc.saga.send_task_success(task_token, {"decision": "approve"})
        else:
            svc.saga.send_task_failure(
                task_token, REJECTED_ERROR, reason or "rejected by an operator"
            )
    except Exception as exc:
        raise unavailable("stepfunctions", exc) from exc
