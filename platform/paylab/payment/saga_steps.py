"""What the SAGA's Lambdas and the PSE simulator drive: process, await, confirm, outcome."""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from paylab.core.db import unit_of_work
from paylab.core.money import fmt
from paylab.core.problems import Problem
from paylab.payment import domain, pse_transfer, reversal
from paylab.payment.domain import PaymentState, Status
from paylab.payment.late_approvals import warn_if_late
from paylab.payment.models import payments, pse_confirmations
from paylab.payment.partners import PartnerRejected, PartnerUnavailable, unavailable
from paylab.payment.projection import load_row
from paylab.payment.repository import NewEvents
from paylab.payment.service import any_payment
from paylab.payment.task_tokens import require_fresh
from paylab.payment.wiring import Services

log = structlog.get_logger(__name__)

Outcome = tuple[str, str | None]
_DECIDED = frozenset({"approved", "rejected", "failed"})
_PSE_FINAL = frozenset({"approved", "rejected", "failed", "abandoned"})
# The bank's authorization states, as processor outcomes.
_BANK = {
    "captured": "approved",
    "partially_refunded": "approved",
    "refunded": "approved",
    "rejected": "rejected",
    "failed": "failed",
    "pending": "pending",
    "voided": "failed",
}


def final_outcome(state: PaymentState) -> Outcome:
    """The processor outcome a final payment stands for."""
    status = state.outcome_status or state.status
    if status is Status.APPROVED:
        return "approved", None
    if status is Status.REJECTED:
        return "rejected", state.outcome_reason
    return "failed", state.outcome_reason or status.value


def pse_outcome(status: str) -> Outcome:
    """A PSE confirmation as the SAGA's outcome; no decision at the bank is an abandonment."""
    if status == "approved":
        return "approved", None
    if status in ("rejected", "abandoned"):
        return status, f"pse_{status}"
    return "failed", f"pse_{status}"


# ------------------------------------------------------------------------------------ process
def process(svc: Services, payment_id: str) -> Outcome:
    """Charge the payment at its processor once; later calls repeat the first final outcome."""
    state = any_payment(svc, payment_id)
    if state.is_final:
        return final_outcome(state)
    if state.status is Status.HELD:
        # Nothing is charged while an operator reviews it (only PaymentReviewed releases it).
        raise Problem(409, "payment-held", f"Payment {payment_id} is held for review.")
    if state.method == "wallet":
        return "approved", None  # the wallet moves the money in the SAGA's own steps
    if state.method == "pse":
        found = confirmation_of(svc, payment_id)
        return pse_outcome(found) if found else ("pending", None)
    if state.processor_outcome in _DECIDED:
        return str(state.processor_outcome), state.processor_reason
    outcome, reason, auth_id = _charge_card(svc, state)

    def decide(current: PaymentState) -> NewEvents:
        if current.is_final or current.processor_outcome in _DECIDED:
            return []
        if (current.processor_outcome, current.authorization_id) == (outcome, auth_id):
            return []
        data = {"outcome": outcome, "reason": reason, "authorization_id": auth_id}
        return [(domain.PROCESSED, data)]

    after = svc.repo.change(payment_id, decide, known=state)
    if outcome in ("approved", "pending") and after.processor_reason in reversal.CLOSING:
        # ReverseCharge closed processing while this charge was in flight: give it back too.
        return "failed", str(reversal.reverse_charge(svc, payment_id)["outcome"])
    if after.processor_outcome in _DECIDED or after.processor_outcome == "pending":
        return str(after.processor_outcome), after.processor_reason
    return final_outcome(after)


def _charge_card(svc: Services, state: PaymentState) -> tuple[str, str | None, str | None]:
    """Authorize and capture (one sale call); a pending authorization is read again."""
    try:
        if state.authorization_id:
            auth = svc.bank.get_authorization(state.authorization_id)
        else:
            body: dict[str, Any] = {
                "amount": fmt(state.amount),
                "currency": state.currency,
                "reference": state.id,
                "token": state.card_token,
                "capture": True,
            }
            if state.description:
                body["description"] = state.description
            # The payment id as Idempotency-Key: a retried call charges nothing twice.
            auth = svc.bank.authorize(body, idempotency_key=state.id)
        if auth.get("status") == "approved":  # a pending one resolved: capture it now
            try:
                auth = svc.bank.capture(str(auth["id"]))
            except PartnerRejected:
                auth = svc.bank.get_authorization(str(auth["id"]))
    except PartnerUnavailable as exc:
        raise unavailable("bank", exc) from exc
    except PartnerRejected as exc:
        return "failed", f"bank_refused_request: {exc.body.get('detail', exc.status)}", None
    outcome = _BANK.get(str(auth.get("status")), "failed")
    reason = None if outcome == "approved" else str(auth.get("response_code") or auth["status"])
    return outcome, reason, str(auth["id"])


# ------------------------------------------------------------------------------------ PSE
def confirmation_of(svc: Services, payment_id: str) -> str | None:
    """The recorded PSE outcome of a payment, if PSE confirmed it."""
    with svc.sessions() as session:
        status = session.execute(
            select(pse_confirmations.c.status).where(pse_confirmations.c.payment_id == payment_id)
        ).scalar()
    return str(status) if status else None


def await_confirmation(
    svc: Services, payment_id: str, task_token: str, *, sent_at: float | None = None
) -> None:
    """Keep the SAGA's task token; answer it at once when the outcome is already known.

    A payment held for review gets its PSE transfer here, once the SAGA waits for it. The
    token is stored only while the step's Lambda still waits for this request (`task_tokens`).
    """
    received_at = time.time()
    pse_transfer.open_approved(svc, any_payment(svc, payment_id))
    with unit_of_work(svc.sessions) as session:
        state = load_row(session, payment_id, lock=True)
        if state is None:
            raise Problem(404, "payment-not-found", f"No payment {payment_id}.")
        if state.method != "pse":
            raise Problem(
                409, "not-a-pse-payment", f"Payment {payment_id} is a {state.method} payment."
            )
        require_fresh(sent_at, received_at)
        session.execute(
            payments.update().where(payments.c.id == payment_id).values(task_token=task_token)
        )
        found = session.execute(
            select(pse_confirmations.c.status).where(pse_confirmations.c.payment_id == payment_id)
        ).scalar()
    if found:
        outcome: Outcome | None = pse_outcome(str(found))
    else:
        outcome = final_outcome(state) if state.is_final else None
    if outcome is not None:
        _resume(svc, task_token, outcome)


def pse_confirmation(svc: Services, raw: bytes, signature: str | None) -> None:
    """Record PSE's confirmation once (the first final one wins) and wake the waiting SAGA."""
    if not svc.pse_signature.verify(raw, signature):
        raise Problem(401, "bad-signature", "The X-Sim-Signature does not match the body.")
    try:
        body = json.loads(raw)
        data = body["data"]
        txn_id, payment_id, status = (
            str(data["transaction_id"]),
            str(data["reference"]),
            str(data["status"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise Problem(400, "malformed-confirmation", f"Unreadable PSE confirmation: {exc}") from exc
    if status not in _PSE_FINAL:
        return  # only decisions are confirmed; anything else changes nothing
    with unit_of_work(svc.sessions) as session:
        known = load_row(session, payment_id)
        if known is not None and (
            known.method != "pse" or known.pse_transaction_id not in (None, txn_id)
        ):
            log.warning("confirmation for another transaction", payment_id=payment_id)
            return
        inserted = session.execute(
            insert(pse_confirmations)
            .values(
                payment_id=payment_id,
                transaction_id=txn_id,
                status=status,
                event_id=str(body.get("event_id", "")),
            )
            .on_conflict_do_nothing()
            .returning(pse_confirmations.c.payment_id)
        ).first()
        # Lock order matches await_confirmation: one of the two always sees the other's write.
        token = session.execute(
            select(payments.c.task_token).where(payments.c.id == payment_id).with_for_update()
        ).scalar()
        first = session.execute(
            select(pse_confirmations.c.status).where(pse_confirmations.c.payment_id == payment_id)
        ).scalar_one()
    log.info("pse confirmation", payment_id=payment_id, status=status, recorded=first)
    if known is not None and inserted is not None:  # a repeated one was seen before
        warn_if_late(known, str(first))
    if token:
        _resume(svc, str(token), pse_outcome(str(first)))


def _resume(svc: Services, task_token: str, outcome: Outcome) -> None:
    try:
        svc.saga.send_task_success(task_token, {"outcome": outcome[0], "reason": outcome[1]})
    except Exception as exc:
        raise unavailable("stepfunctions", exc) from exc


# ------------------------------------------------------------------------------------ outcome
def record_outcome(svc: Services, payment_id: str, status: str, reason: str | None) -> PaymentState:
    """Append the SAGA's final outcome once; the same outcome again changes nothing."""
    target = Status(status)
    known = any_payment(svc, payment_id)

    def decide(current: PaymentState) -> NewEvents:
        if current.outcome_status is not None:
            if current.outcome_status is target:
                return []
            raise Problem(
                409,
                "outcome-already-recorded",
                f"Payment {payment_id} already ended {current.outcome_status.value}; "
                f"it cannot become {status}.",
            )
        if target is Status.APPROVED and current.status is Status.HELD:
            raise Problem(409, "payment-held", f"Payment {payment_id} is held for review.")
        kind = domain.COMPLETED if target is Status.APPROVED else domain.FAILED
        return [(kind, {"status": status, "reason": reason})]

    after = svc.repo.change(payment_id, decide, known=known)
    if after.method == "pse" and target is not Status.APPROVED and after.version > known.version:
        warn_if_late(after, confirmation_of(svc, payment_id))
    return after
