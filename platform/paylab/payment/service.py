"""Payment use cases the merchant drives: create (idempotent), read, list (refunds: refunds.py)."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from paylab.core.db import reads, unit_of_work
from paylab.core.money import fmt, to_decimal
from paylab.core.problems import Problem
from paylab.payment import domain, merchant_settings
from paylab.payment.domain import PaymentState, Status
from paylab.payment.event_store import VersionConflict
from paylab.payment.idempotency import StoredResponse, claim_row, key_reused, request_hash
from paylab.payment.models import idempotency_keys, payments
from paylab.payment.partners import partner_call, unavailable
from paylab.payment.projection import from_row
from paylab.payment.pse_transfer import open_pse, require_known_bank
from paylab.payment.repository import NewEvents, new_events
from paylab.payment.saga import SagaUnavailable
from paylab.payment.schemas import PaymentIn
from paylab.payment.views import created_body
from paylab.payment.wiring import Services

log = structlog.get_logger(__name__)


# ------------------------------------------------------------------------------------ create
def create_payment(
    svc: Services, merchant_id: str, idempotency_key: str, body: PaymentIn
) -> tuple[StoredResponse, bool]:
    """Create a payment once per key; returns the answer and whether it is a replay."""
    digest = request_hash(body.model_dump(mode="json"))
    try:
        svc.saga.state_machine_arn()  # fail before anything happens when the SAGA is missing
    except SagaUnavailable as exc:
        raise unavailable("saga", exc) from exc
    replay = svc.idem.claim(merchant_id, idempotency_key, digest)
    if replay is not None:
        return replay, True
    try:
        answer, replayed = _create_once(svc, merchant_id, idempotency_key, digest, body)
    except BaseException:
        svc.idem.release(merchant_id, idempotency_key)
        raise
    svc.idem.complete(merchant_id, idempotency_key, digest, answer)
    return answer, replayed


def _create_once(
    svc: Services, merchant_id: str, key: str, digest: str, body: PaymentIn
) -> tuple[StoredResponse, bool]:
    claimed_id = str(uuid.uuid4())
    ref_payco: str | None = None
    with unit_of_work(svc.sessions) as session:
        row = claim_row(session, merchant_id, key, digest, claimed_id)
        if str(row["payment_id"]) == claimed_id:
            ref_payco = _next_ref_payco(session)  # here, not in a session of its own
    if row["request_hash"] != digest:
        raise key_reused()
    if row["response_status"] is not None:
        return StoredResponse(row["response_status"], dict(row["response_body"])), True
    payment_id = str(row["payment_id"])
    resumed = payment_id != claimed_id
    # A claim without an answer: an earlier attempt died midway; its events (if any) stand.
    state = svc.repo.catch_up(payment_id) if resumed else None
    if state is None:
        try:
            decided = _decide_creation(svc, payment_id, merchant_id, key, digest, body, ref_payco)
        except BaseException:
            if not resumed:
                _forget_claim(svc, merchant_id, key, payment_id)
            raise
        try:
            state = svc.repo.append(None, new_events(0, decided))
        except VersionConflict:
            state = svc.repo.catch_up(payment_id)
        assert state is not None
    if state.status is Status.PENDING:
        try:
            svc.saga.start(state.id, saga_input(svc, state))
        except SagaUnavailable as exc:
            raise unavailable("saga", exc) from exc
    answer = StoredResponse(201, created_body(state))
    with unit_of_work(svc.sessions) as session:
        session.execute(
            idempotency_keys.update()
            .where(
                idempotency_keys.c.merchant_id == merchant_id,
                idempotency_keys.c.idempotency_key == key,
            )
            .values(response_status=answer.status, response_body=answer.body)
        )
    return answer, False


def _forget_claim(svc: Services, merchant_id: str, key: str, payment_id: str) -> None:
    """Nothing happened for this key: let the client use it again."""
    with unit_of_work(svc.sessions) as session:
        session.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.merchant_id == merchant_id,
                idempotency_keys.c.idempotency_key == key,
                idempotency_keys.c.payment_id == payment_id,
                idempotency_keys.c.response_status.is_(None),
            )
        )


def saga_input(svc: Services, state: PaymentState) -> dict[str, Any]:
    """What the SAGA starts with (the same for every start of one payment)."""
    return {
        "payment_id": state.id,
        "merchant_id": state.merchant_id,
        "method": state.method,
        "amount": fmt(state.amount),
        "currency": state.currency,
        "payer_account_id": state.payer_account_id if state.method == "wallet" else None,
        # Read per payment (an operator's per-merchant override, else the default); only PSE
        # waits, so other methods skip the lookup.
        "pse_timeout_seconds": merchant_settings.pse_timeout_seconds(svc, state.merchant_id)
        if state.method == "pse"
        else svc.settings.pse_timeout_seconds,
        # Antifraud's "review": the SAGA holds the funds, then waits for an operator.
        "review": state.antifraud_decision == "review",
        "review_timeout_seconds": svc.settings.review_timeout_seconds,
    }


def _next_ref_payco(session: Session) -> str:
    return str(session.execute(text("SELECT nextval('payment.ref_payco_seq')")).scalar())


def _decide_creation(
    svc: Services,
    payment_id: str,
    merchant_id: str,
    key: str,
    digest: str,
    body: PaymentIn,
    ref_payco: str | None,
) -> NewEvents:
    """Tokenize, ask antifraud, open the PSE transfer: the events that create the payment."""
    card: dict[str, Any] | None = None
    if body.card is not None:
        token = partner_call(
            "bank",
            lambda: svc.bank.tokenize(
                {**body.card.model_dump(), "holder_name": body.customer.name}
            ),
            field_prefix="body",
        )
        card = {"token": token["token"], "brand": token["brand"], "last4": token["last4"]}
    verdict = partner_call("antifraud", lambda: svc.antifraud.evaluate(_attempt(payment_id, body)))
    decision = str(verdict.get("decision"))
    if ref_payco is None:  # resuming a claim whose first attempt died before its events
        with svc.sessions() as session:
            ref_payco = _next_ref_payco(session)
    data: dict[str, Any] = {
        "payment_id": payment_id,
        "merchant_id": merchant_id,
        "ref_payco": ref_payco,
        "reference": body.reference,
        "description": body.description,
        "method": body.method,
        "amount": fmt(to_decimal(body.amount)),
        "currency": body.currency,
        "customer": body.customer.model_dump(mode="json", exclude_none=True),
        "idempotency_key": key,
        "request_hash": digest,
        "card": card,
        "payer_account_id": body.wallet.account_id if body.wallet else None,
        "confirmation_url": str(body.confirmation_url) if body.confirmation_url else None,
        "return_url": str(body.return_url) if body.return_url else None,
        "antifraud": {
            "decision": decision,
            "score": verdict.get("score"),
            "reasons": [r.get("code") for r in verdict.get("reasons", [])],
        },
    }
    if decision == "reject":
        codes = ",".join(str(r.get("code")) for r in verdict.get("reasons", [])) or "score"
        reason = f"antifraud_rejected: {codes}"
        return [
            (domain.CREATED, data),
            (domain.FAILED, {"status": Status.REJECTED.value, "reason": reason}),
        ]
    if body.pse is not None:
        data["pse"] = {
            "bank_code": body.pse.bank_code,
            "person_type": body.pse.person_type,
            "doc_type": body.pse.doc_type,
            "doc_number": body.pse.doc_number,
        }
        if decision == "review":
            # No transfer before an operator approves (pse_transfer.open_approved): PSE has no
            # refunds, and a transfer opened now could expire during a long review.
            require_known_bank(svc, body.pse.bank_code)
        else:
            data["pse"] |= open_pse(svc, data)
    return [(domain.CREATED, data)]


def _attempt(payment_id: str, body: PaymentIn) -> dict[str, Any]:
    attempt: dict[str, Any] = {
        "amount": body.amount,
        "currency": body.currency,
        "reference": payment_id,
        "email": body.customer.email,
    }
    doc_type = body.pse.doc_type if body.pse else body.customer.doc_type
    doc_number = body.pse.doc_number if body.pse else body.customer.doc_number
    if doc_type and doc_number:
        attempt.update(doc_type=doc_type, doc_number=doc_number)
    if body.card is not None:
        attempt["card_number"] = body.card.number
    return attempt


# ------------------------------------------------------------------------------------ queries
def owned_payment(svc: Services, merchant_id: str, payment_id: str) -> PaymentState:
    """The merchant's payment; another merchant's id is as unknown as a missing one."""
    state = svc.repo.get(payment_id)
    if state is None or state.merchant_id != merchant_id:
        raise Problem(404, "payment-not-found", f"No payment {payment_id}.")
    return state


def any_payment(svc: Services, payment_id: str) -> PaymentState:
    """A payment of any merchant (internal callers)."""
    state = svc.repo.get(payment_id)
    if state is None:
        raise Problem(404, "payment-not-found", f"No payment {payment_id}.")
    return state


def payments_by_reference(svc: Services, merchant_id: str, reference: str) -> list[PaymentState]:
    """The merchant's payments with `reference`, oldest first."""
    with reads(svc.sessions) as session:
        rows = session.execute(
            select(payments)
            .where(payments.c.merchant_id == merchant_id, payments.c.reference == reference)
            .order_by(payments.c.created_at, payments.c.id)
            .limit(100)
        ).mappings()
        return [from_row(r) for r in rows]
