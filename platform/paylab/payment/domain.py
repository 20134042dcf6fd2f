"""Payments as event-sourced aggregates: states, events and the pure fold (no I/O here)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from paylab.core.money import to_decimal


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    FAILED = "failed"
    REVERSED = "reversed"
    HELD = "held"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"


#: ePayco's `cod_respuesta` for each state (ARCHITECTURE §4).
COD_RESPUESTA: dict[Status, int] = {
    Status.APPROVED: 1,
    Status.REJECTED: 2,
    Status.PENDING: 3,
    Status.FAILED: 4,
    Status.REVERSED: 6,
    Status.HELD: 7,
    Status.ABANDONED: 10,
    Status.CANCELLED: 11,
}

#: The outcomes a SAGA can record; each is final.
FINAL_OUTCOMES = frozenset(
    {Status.APPROVED, Status.REJECTED, Status.FAILED, Status.ABANDONED, Status.CANCELLED}
)
#: What the processor (bank, PSE) can answer; "pending" means ask again later.
PROCESSOR_OUTCOMES = frozenset({"approved", "rejected", "failed", "pending"})

#: A single payment above these is a typo or an attack, whatever the partners would say.
MAX_AMOUNT = {"COP": Decimal("100000000.00"), "USD": Decimal("50000.00")}

CREATED = "PaymentCreated"
PROCESSED = "PaymentProcessed"
COMPLETED = "PaymentCompleted"
FAILED = "PaymentFailed"
REFUNDED = "PaymentRefunded"
HELD_FOR_REVIEW = "PaymentHeld"
REVIEWED = "PaymentReviewed"
#: A held PSE payment's transfer, opened once the SAGA waits for PSE after an approval.
TRANSFER_OPENED = "PaymentTransferOpened"
EVENT_TYPES = frozenset(
    {CREATED, PROCESSED, COMPLETED, FAILED, REFUNDED, HELD_FOR_REVIEW, REVIEWED, TRANSFER_OPENED}
)
#: An operator's answer to antifraud's "review" (POST /v1/ops/payments/{id}/review).
REVIEW_DECISIONS = frozenset({"approve", "reject"})


class InvalidTransition(Exception):
    """An event that the payment's current state does not allow."""


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event of a payment's stream, as stored (version 1, 2, ...)."""

    event_id: str
    type: str
    version: int
    occurred_at: datetime
    data: Mapping[str, Any]
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class PaymentState:
    """Everything a payment is; the Postgres row holds exactly these fields."""

    id: str
    merchant_id: str
    ref_payco: str
    reference: str
    description: str
    method: str
    amount: Decimal
    currency: str
    status: Status
    customer: Mapping[str, Any]
    idempotency_key: str
    request_hash: str
    version: int
    created_at: datetime
    updated_at: datetime
    card_token: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    pse_bank_code: str | None = None
    pse_transaction_id: str | None = None
    pse_redirect_url: str | None = None
    payer_account_id: str | None = None
    confirmation_url: str | None = None
    return_url: str | None = None
    antifraud_decision: str | None = None
    antifraud_score: int | None = None
    processor_outcome: str | None = None
    processor_reason: str | None = None
    authorization_id: str | None = None
    outcome_status: Status | None = None
    outcome_reason: str | None = None
    refund_id: str | None = None  # the last refund's (the bank's id, or the wallet's)
    refunded_amount: Decimal = Decimal("0.00")
    refund_ids: tuple[str, ...] = ()  # every refund recorded, oldest first
    review_decision: str | None = None
    review_reason: str | None = None

    @property
    def cod_respuesta(self) -> int:
        """ePayco's numeric code for the state."""
        return COD_RESPUESTA[self.status]

    @property
    def is_final(self) -> bool:
        """True once the SAGA recorded an outcome (or a refund reversed it)."""
        return self.outcome_status is not None

    def as_dict(self) -> dict[str, Any]:
        """Field by field, for comparisons (replay) and the projection."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _created(event: EventRecord) -> PaymentState:
    d = event.data
    card = d.get("card") or {}
    pse = d.get("pse") or {}
    antifraud = d.get("antifraud") or {}
    return PaymentState(
        id=str(d["payment_id"]),
        merchant_id=str(d["merchant_id"]),
        ref_payco=str(d["ref_payco"]),
        reference=str(d["reference"]),
        description=str(d.get("description", "")),
        method=str(d["method"]),
        amount=to_decimal(str(d["amount"])),
        currency=str(d["currency"]),
        status=Status.PENDING,
        customer=dict(d.get("customer") or {}),
        idempotency_key=str(d["idempotency_key"]),
        request_hash=str(d["request_hash"]),
        version=event.version,
        created_at=event.occurred_at,
        updated_at=event.occurred_at,
        card_token=card.get("token"),
        card_brand=card.get("brand"),
        card_last4=card.get("last4"),
        pse_bank_code=pse.get("bank_code"),
        pse_transaction_id=pse.get("transaction_id"),
        pse_redirect_url=pse.get("redirect_url"),
        payer_account_id=d.get("payer_account_id"),
        confirmation_url=d.get("confirmation_url"),
        return_url=d.get("return_url"),
        antifraud_decision=antifraud.get("decision"),
        antifraud_score=antifraud.get("score"),
    )


def evolve(state: PaymentState | None, event: EventRecord) -> PaymentState:
    """Apply one event; raises InvalidTransition when the state does not allow it."""
    if event.type not in EVENT_TYPES:
        raise InvalidTransition(f"unknown event type {event.type!r}")
    if state is None:
        if event.type != CREATED or event.version != 1:
            raise InvalidTransition(f"a stream starts with {CREATED} at version 1")
        return _created(event)
    if event.version != state.version + 1:
        raise InvalidTransition(f"version {event.version} after {state.version}")
    bump: dict[str, Any] = {"version": event.version, "updated_at": event.occurred_at}
    d = event.data
    if event.type == PROCESSED:
        _require(state, event, {Status.PENDING})
        outcome = str(d["outcome"])
        if outcome not in PROCESSOR_OUTCOMES:
            raise InvalidTransition(f"unknown processor outcome {outcome!r}")
        return dataclasses.replace(
            state,
            processor_outcome=outcome,
            processor_reason=d.get("reason"),
            authorization_id=d.get("authorization_id") or state.authorization_id,
            **bump,
        )
    if event.type == HELD_FOR_REVIEW:
        _require(state, event, {Status.PENDING})
        return dataclasses.replace(state, status=Status.HELD, **bump)
    if event.type == REVIEWED:
        return _reviewed(state, event, bump)
    if event.type == TRANSFER_OPENED:
        return _transfer_opened(state, event, bump)
    if event.type in (COMPLETED, FAILED):
        # Approval leaves `held` through PaymentReviewed; only a failure ends a held payment.
        _require(
            state,
            event,
            {Status.PENDING} if event.type == COMPLETED else {Status.PENDING, Status.HELD},
        )
        status = Status(str(d["status"]))
        failures = FINAL_OUTCOMES - {Status.APPROVED}
        allowed = {Status.APPROVED} if event.type == COMPLETED else failures
        if status not in allowed:
            raise InvalidTransition(f"{event.type} cannot carry status {status}")
        return dataclasses.replace(
            state, status=status, outcome_status=status, outcome_reason=d.get("reason"), **bump
        )
    return _refunded(state, event, bump)


def _refunded(state: PaymentState, event: EventRecord, bump: dict[str, Any]) -> PaymentState:
    """A refund of part or all of what is left; the last one reverses the payment."""
    _require(state, event, {Status.APPROVED})
    refund_id = str(event.data["refund_id"])
    if refund_id in state.refund_ids:
        raise InvalidTransition(f"refund {refund_id} of payment {state.id} is already recorded")
    # Events written before partial refunds existed carry the full amount, or none.
    amount = to_decimal(str(event.data.get("amount") or state.amount - state.refunded_amount))
    refunded = state.refunded_amount + amount
    if amount <= 0 or refunded > state.amount:
        raise InvalidTransition(
            f"a refund of {amount} after {state.refunded_amount} of {state.amount} refunded"
        )
    return dataclasses.replace(
        state,
        status=Status.REVERSED if refunded == state.amount else Status.APPROVED,
        refund_id=refund_id,
        refunded_amount=refunded,
        refund_ids=(*state.refund_ids, refund_id),
        **bump,
    )


def _reviewed(state: PaymentState, event: EventRecord, bump: dict[str, Any]) -> PaymentState:
    """held → pending (approved: processing goes on) or held with a rejection to compensate."""
    _require(state, event, {Status.HELD})
    if state.review_decision is not None:
        raise InvalidTransition(f"payment {state.id} was already reviewed")
    decision = str(event.data["decision"])
    if decision not in REVIEW_DECISIONS:
        raise InvalidTransition(f"unknown review decision {decision!r}")
    return dataclasses.replace(
        state,
        status=Status.PENDING if decision == "approve" else Status.HELD,
        review_decision=decision,
        review_reason=event.data.get("reason"),
        **bump,
    )


def _transfer_opened(state: PaymentState, event: EventRecord, bump: dict[str, Any]) -> PaymentState:
    """The PSE transfer of a payment an operator approved (none was opened while held)."""
    _require(state, event, {Status.PENDING})
    if state.method != "pse" or state.review_decision != "approve":
        raise InvalidTransition(f"payment {state.id} is not an approved PSE payment")
    if state.pse_transaction_id is not None:
        raise InvalidTransition(f"payment {state.id} already has a PSE transfer")
    pse = event.data["pse"]
    return dataclasses.replace(
        state,
        pse_transaction_id=str(pse["transaction_id"]),
        pse_redirect_url=str(pse["redirect_url"]),
        **bump,
    )


def _require(state: PaymentState, event: EventRecord, allowed: set[Status]) -> None:
    if state.status not in allowed:
        raise InvalidTransition(f"{event.type} is not allowed in state {state.status}")


def fold(events: Iterable[EventRecord]) -> PaymentState | None:
    """The state a stream of events describes (None for an empty stream)."""
    state: PaymentState | None = None
    for event in events:
        state = evolve(state, event)
    return state


def fold_from(state: PaymentState | None, events: Iterable[EventRecord]) -> PaymentState | None:
    """Continue a fold from a known state."""
    for event in events:
        state = evolve(state, event)
    return state
