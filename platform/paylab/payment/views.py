"""How payments look from outside: API bodies built from a PaymentState."""

from __future__ import annotations

from typing import Any

from paylab.core.money import fmt
from paylab.payment.domain import PaymentState, Status
from paylab.payment.schemas import (
    CardOut,
    NextAction,
    PaymentCreatedOut,
    PaymentOut,
    PseOut,
    WalletOut,
)


def bank_page(state: PaymentState) -> str | None:
    """The PSE page the payer pays on, unless antifraud's review has not approved it yet.

    Until an operator approves a payment held for review, its payer must not be able to
    pay at the bank: a rejected payment would have taken money PSE cannot give back.
    """
    if state.antifraud_decision == "review" and state.review_decision != "approve":
        return None
    return state.pse_redirect_url


def next_action(state: PaymentState) -> NextAction | None:
    """A pending PSE payment sends the payer to their bank (once nothing holds it back)."""
    page = bank_page(state)
    if state.status is Status.PENDING and page:
        return NextAction(redirect_url=page)
    return None


def created_body(state: PaymentState) -> dict[str, Any]:
    """The 201 body of `POST /v1/payments`."""
    return PaymentCreatedOut(
        id=state.id,
        ref_payco=state.ref_payco,
        status=state.status.value,
        cod_respuesta=state.cod_respuesta,
        next_action=next_action(state),
    ).model_dump(mode="json")


def payment_out(state: PaymentState) -> PaymentOut:
    """The full view of a payment."""
    return PaymentOut(
        id=state.id,
        ref_payco=state.ref_payco,
        merchant_id=state.merchant_id,
        reference=state.reference,
        description=state.description,
        method=state.method,
        amount=fmt(state.amount),
        refunded_amount=fmt(state.refunded_amount),
        currency=state.currency,
        status=state.status.value,
        cod_respuesta=state.cod_respuesta,
        reason=state.outcome_reason,
        antifraud_decision=state.antifraud_decision,
        card=CardOut(brand=state.card_brand, last4=state.card_last4)
        if state.method == "card"
        else None,
        pse=PseOut(
            bank_code=state.pse_bank_code,
            transaction_id=state.pse_transaction_id,
            redirect_url=bank_page(state),
        )
        if state.method == "pse"
        else None,
        wallet=WalletOut(account_id=state.payer_account_id) if state.method == "wallet" else None,
        next_action=next_action(state),
        version=state.version,
        created_at=state.created_at,
        updated_at=state.updated_at,
    )
