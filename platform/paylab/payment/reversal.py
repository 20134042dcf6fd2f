"""ReverseCharge: give back at the bank what a failed card payment took, before the hold goes.

A card payment can fail after the bank charged the card: ProcessPayment's answer lost on
every try (the service or its stores down while it recorded the outcome, or slower than the
Lambda), an authorization still pending after the SAGA's last poll, or the wallet refusing
the capture of an approved charge. The SAGA then runs this step before ReleaseFunds.

It first closes processing (a `PaymentProcessed` failure: a later ProcessPayment charges
nothing, and one whose charge was already in flight reverses it itself), then asks the bank
for the authorizations made under the payment's id, its reference there. It never authorizes
again to find out: a repeated authorize whose first try never reached the bank would charge.
An approved or pending authorization is voided, a capture refunded in full under
`<payment>:reverse:<authorization>`; repeating the step repeats nothing. A last event says
what was done (`charge_reversed`, or `nothing_charged` after a close); a payment the bank
declined or failed keeps the bank's reason.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import structlog

from paylab.core.money import fmt, to_decimal
from paylab.core.problems import Problem
from paylab.payment import domain
from paylab.payment.domain import PaymentState, Status
from paylab.payment.partners import PartnerRejected, PartnerUnavailable, unavailable
from paylab.payment.repository import NewEvents
from paylab.payment.service import any_payment
from paylab.payment.wiring import Services

log = structlog.get_logger(__name__)

CLOSED = "reversal_started"
REVERSED = "charge_reversed"
NOTHING = "nothing_charged"
#: Reasons of a processing closed by this step: a charge that lands after them is reversed.
CLOSING = frozenset({CLOSED, REVERSED, NOTHING})
_UNCAPTURED = frozenset({"approved", "pending"})
_CAPTURED = frozenset({"captured", "partially_refunded"})
_GIVEN_BACK = frozenset({"voided", "refunded"})


def reverse_charge(svc: Services, payment_id: str) -> dict[str, Any]:
    """Void or refund every charge the bank made for a failed card payment (idempotent).

    `{"reversed": [{"authorization_id", "action": voided|refunded, "amount"}], "outcome"}`;
    503 while the bank cannot be asked (the SAGA retries), 409 for an approved payment.
    """
    state = any_payment(svc, payment_id)
    if state.method != "card":
        return {"reversed": [], "outcome": NOTHING}
    if Status.APPROVED in (state.status, state.outcome_status) or state.refunded_amount:
        raise Problem(
            409,
            "payment-approved",
            f"Payment {payment_id} was approved: it is refunded, not reversed.",
        )
    if state.processor_outcome in (None, "pending"):
        state = _record(svc, state, CLOSED, None)
    try:
        found = _authorizations(svc, state)
        reversed_ = [r for r in (_give_back(svc, payment_id, a) for a in found) if r]
    except PartnerUnavailable as exc:
        raise unavailable("bank", exc) from exc
    except PartnerRejected as exc:
        # Most likely an authorization changed between our read and our call (a pending one
        # resolved): the SAGA's retry reads them again.
        raise Problem(503, "bank-refused-reversal", f"{exc}; retry.") from exc
    back = [r["authorization_id"] for r in reversed_] + [
        str(a["id"]) for a in found if a.get("status") in _GIVEN_BACK
    ]
    if not back and state.processor_outcome == "approved":
        # The bank approved this payment's charge: until it shows up given back, the step
        # must not let ReleaseFunds run (the payer would stay charged, the merchant unpaid).
        raise Problem(
            503,
            "charge-not-found",
            f"The bank approved payment {payment_id} ({state.authorization_id}) but shows "
            "no charge to reverse; retry.",
        )
    outcome = REVERSED if back else NOTHING
    if back or state.processor_reason == CLOSED:
        _record(svc, state, outcome, back[-1] if back else None)
    if reversed_:
        log.warning("charge reversed at the bank", payment_id=payment_id, reversed=reversed_)
    return {"reversed": reversed_, "outcome": outcome}


def _authorizations(svc: Services, state: PaymentState) -> list[dict[str, Any]]:
    """The bank's authorizations under the payment id, and the one the payment recorded."""
    found = svc.bank.find_authorizations(state.id)
    known = state.authorization_id
    if known and all(str(a["id"]) != known for a in found):
        found.append(svc.bank.get_authorization(known))
    return found


def _give_back(svc: Services, payment_id: str, auth: dict[str, Any]) -> dict[str, str] | None:
    auth_id, status = str(auth["id"]), str(auth.get("status"))
    if status in _UNCAPTURED:
        svc.bank.void(auth_id)
        return {"authorization_id": auth_id, "action": "voided", "amount": str(auth["amount"])}
    if status in _CAPTURED:
        left = to_decimal(str(auth["captured_amount"])) - to_decimal(str(auth["refunded_amount"]))
        if left <= Decimal("0"):
            return None
        svc.bank.refund(auth_id, fmt(left), idempotency_key=f"{payment_id}:reverse:{auth_id}")
        return {"authorization_id": auth_id, "action": "refunded", "amount": fmt(left)}
    return None


def _record(svc: Services, known: PaymentState, reason: str, auth_id: str | None) -> PaymentState:
    """A `PaymentProcessed` failure with `reason`, unless the payment already says so."""

    def decide(current: PaymentState) -> NewEvents:
        if current.status is not Status.PENDING:
            return []  # held (never charged) or already ended: nothing to record
        if (current.processor_outcome, current.processor_reason) == ("failed", reason):
            return []
        data = {"outcome": "failed", "reason": reason, "authorization_id": auth_id}
        return [(domain.PROCESSED, data)]

    return svc.repo.change(known.id, decide, known=known)
