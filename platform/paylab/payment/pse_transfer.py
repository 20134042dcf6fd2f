"""The PSE transfer behind a PSE payment: opened at creation, or after a review approved it.

A payment antifraud held for review gets its transfer only when the SAGA, past the
approval, waits for PSE (`saga_steps.await_confirmation`): opened at creation it could
expire during a long review, a test bank that decides at once could charge a payer whose
payment is then rejected, and opened at the approval itself it would race the review's
timeout (an approval landing while the SAGA already compensates would show a live page).
"""

from __future__ import annotations

from typing import Any

import structlog

from paylab.core.problems import Problem
from paylab.payment import domain
from paylab.payment.domain import PaymentState, Status
from paylab.payment.partners import QuickCall, partner_call, unavailable
from paylab.payment.repository import NewEvents
from paylab.payment.wiring import Services

log = structlog.get_logger(__name__)
#: Well inside the AwaitPseConfirmation Lambda's 10 s call timeout (lambdas/_services.py).
STEP_BUDGET = QuickCall(attempts=1, timeout_s=4.0)


def open_pse(
    svc: Services, created: dict[str, Any], budget: QuickCall | None = None
) -> dict[str, Any]:
    """Open the PSE transfer of a payment (its PaymentCreated data): `transaction_id`, page.

    The payment id is the Idempotency-Key, so opening it again answers the same transfer.
    """
    pse = created["pse"]
    request = {
        "amount": created["amount"],
        "currency": "COP",
        "reference": created["payment_id"],
        "description": created["description"],
        "bank_code": pse["bank_code"],
        "person_type": pse["person_type"],
        "doc_type": pse["doc_type"],
        "doc_number": pse["doc_number"],
        "payer_email": (created.get("customer") or {}).get("email"),
        "return_url": str(created.get("return_url") or svc.settings.default_return_url),
        "confirmation_url": svc.settings.pse_confirmation_url,
    }
    txn = partner_call(
        "pse",
        lambda: svc.pse.create_transaction(
            request, idempotency_key=created["payment_id"], budget=budget
        ),
        field_prefix="body.pse",
    )
    return {"transaction_id": txn["id"], "redirect_url": txn["redirect_url"]}


def require_known_bank(svc: Services, bank_code: str) -> None:
    """What opening the transfer would have checked at once: PSE knows the payer's bank."""
    listed = partner_call("pse", svc.pse.banks).get("banks")
    if not isinstance(listed, list):
        log.error("PSE's bank list is unreadable", answer=type(listed).__name__)
        raise unavailable("pse", ValueError("PSE answered an unreadable bank list"))
    if bank_code not in {str(b.get("code")) for b in listed if isinstance(b, dict)}:
        raise Problem(
            422,
            "validation-error",
            f"PSE does not know bank {bank_code}.",
            errors=[{"field": "body.pse.bank_code", "message": "unknown bank code"}],
        )


def open_approved(svc: Services, state: PaymentState) -> PaymentState:
    """Open the transfer of an approved held PSE payment once (PaymentTransferOpened).

    The payment id is the Idempotency-Key, so a retried SAGA step gets the same transfer;
    PSE down is a 503 (the step retries), PSE refusing it a 422 (the SAGA compensates).
    """
    if not _needs_transfer(state):
        return state
    created = svc.repo.store.load(state.id)[0]
    # One short try: the SAGA step's Lambda gives up on us after 10 s and retries with a new
    # task token; an older request still at PSE could then store its dead token last.
    opened = open_pse(svc, dict(created.data), budget=STEP_BUDGET)

    def record(current: PaymentState) -> NewEvents:
        if not _needs_transfer(current):
            return []  # a concurrent retry recorded the same transfer
        return [(domain.TRANSFER_OPENED, {"pse": opened})]

    return svc.repo.change(state.id, record, known=state)


def _needs_transfer(state: PaymentState) -> bool:
    approved = state.review_decision == "approve" and state.status is Status.PENDING
    return state.method == "pse" and approved and state.pse_transaction_id is None
