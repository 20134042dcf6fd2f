"""The PSE transfer behind a PSE payment: opened at creation, or on approval after a review."""

from __future__ import annotations

from typing import Any

from paylab.core.problems import Problem
from paylab.payment.partners import partner_call
from paylab.payment.wiring import Services


def open_pse(svc: Services, created: dict[str, Any]) -> dict[str, Any]:
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
        lambda: svc.pse.create_transaction(request, idempotency_key=created["payment_id"]),
        field_prefix="body.pse",
    )
    return {"transaction_id": txn["id"], "redirect_url": txn["redirect_url"]}


def require_known_bank(svc: Services, bank_code: str) -> None:
    """What opening the transfer would have checked at once: PSE knows the payer's bank."""
    banks = partner_call("pse", svc.pse.banks)
    if bank_code not in {str(b.get("code")) for b in banks.get("banks", [])}:
        raise Problem(
            422,
            "validation-error",
            f"PSE does not know bank {bank_code}.",
            errors=[{"field": "body.pse.bank_code", "message": "unknown bank code"}],
        )
