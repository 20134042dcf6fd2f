"""ReserveFunds, CaptureFunds, ReleaseFunds: a hold is captured or released exactly once.

Locks are always taken in one order (operation key, then the payment's advisory lock, then
the hold row, then balance rows by account id), so concurrent operations queue instead of
deadlocking. The advisory lock serialises a reserve with a release by payment id, so a
late ReserveFunds can never slip in after the SAGA compensated without knowing the hold.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from paylab.core.money import fmt, to_decimal
from paylab.wallet import events, ledger, schemas, store
from paylab.wallet.models import Hold, HoldTombstone
from paylab.wallet.operations import Outcome, WalletError, invalid, not_found
from paylab.wallet.posting import post
from paylab.wallet.settings import WalletSettings


def hold_body(hold: Hold) -> dict[str, Any]:
    """The hold as the API and the events show it."""
    return schemas.Hold(
        id=hold.id,
        payment_id=hold.payment_id,
        merchant_id=hold.merchant_id,
        method=ledger.Method(hold.method),
        amount=fmt(hold.amount),
        fee=fmt(hold.fee),
        net_amount=fmt(hold.amount - hold.fee),
        currency=ledger.Currency(hold.currency),
        payer_account_id=hold.payer_account_id,
        merchant_account_id=hold.merchant_account_id,
        status=hold.status,  # type: ignore[arg-type]  # the table's CHECK allows only these
        release_reason=hold.release_reason,
        created_at=hold.created_at,
        resolved_at=hold.resolved_at,
    ).model_dump(mode="json")


def reserve(
    session: Session, settings: WalletSettings, req: schemas.HoldCreate, correlation_id: str
) -> Outcome:
    """Hold the amount on the payer's wallet, or as the merchant's pending balance."""
    amount = to_decimal(req.amount)
    _lock_payment(session, req.payment_id)
    if session.get(HoldTombstone, req.payment_id) is not None:
        raise WalletError(
            409,
            "payment-hold-closed",
            f"Payment {req.payment_id!r} was already compensated (ReleaseFunds by payment id); "
            "no hold can be made for it any more.",
            final=True,
        )
    merchant = store.find_merchant_account(session, req.merchant_id, req.currency)
    if merchant is None:
        raise WalletError(
            404,
            "merchant-account-not-found",
            f"Merchant {req.merchant_id!r} has no {req.currency} account.",
        )
    payer_id = None
    if req.method is ledger.Method.WALLET:
        assert req.payer_account_id is not None  # the schema requires it for wallet payments
        payer = store.find_account(session, req.payer_account_id, merchant_id=req.merchant_id)
        if payer is None or payer.kind != "payer":
            raise not_found("payer wallet")
        if payer.currency is not req.currency:
            raise invalid("body.currency", f"the payer wallet holds {payer.currency}")
        payer_id = payer.id
    clearing = ledger.CLEARING.get(req.method)
    posting = ledger.reserve(
        req.method,
        req.currency,
        amount,
        merchant=merchant.id,
        payer=payer_id,
        clearing=store.system_account(clearing, req.currency) if clearing else None,
    )
    fixed = settings.fee_fixed[req.currency]
    hold = Hold(
        id=uuid.uuid4(),
        payment_id=req.payment_id,
        merchant_id=req.merchant_id,
        method=req.method.value,
        amount=amount,
        fee=ledger.platform_fee(amount, settings.fee_rate, fixed),
        currency=req.currency.value,
        payer_account_id=payer_id,
        merchant_account_id=merchant.id,
        status="held",
    )
    _insert_hold(session, hold)
    _post_for(session, settings, posting, hold, req.operation_id, correlation_id)
    body = hold_body(hold)
    events.funds(session, "FundsReserved", body, req.operation_id, correlation_id)
    return Outcome(201, body)


def resolve(
    session: Session,
    settings: WalletSettings,
    hold_id: uuid.UUID,
    *,
    capture: bool,
    operation_id: str,
    reason: str | None,
    correlation_id: str,
) -> Outcome:
    """Capture or release a held amount; resolving it the same way again answers as before."""
    hold = session.scalar(select(Hold).where(Hold.id == hold_id).with_for_update())
    if hold is None:
        raise not_found("hold")
    wanted = "captured" if capture else "released"
    if hold.status == wanted:
        return Outcome(200, hold_body(hold))
    if hold.status != "held":
        verb = "capture" if capture else "release"
        raise WalletError(
            409,
            f"hold-already-{hold.status}",
            f"Hold {hold.id} of payment {hold.payment_id} was already {hold.status}"
            f"{' (' + hold.release_reason + ')' if hold.release_reason else ''}; "
            f"it cannot be {wanted} as well, so this {verb} changed nothing.",
            final=True,
        )
    method = ledger.Method(hold.method)
    currency = ledger.Currency(hold.currency)
    amount = Decimal(hold.amount)
    if capture:
        posting = ledger.capture(
            method,
            currency,
            amount,
            Decimal(hold.fee),
            merchant=hold.merchant_account_id,
            fees=store.system_account(ledger.SystemAccount.FEES, currency),
            payer=hold.payer_account_id,
        )
    else:
        clearing = ledger.CLEARING.get(method)
        posting = ledger.release(
            method,
            currency,
            amount,
            merchant=hold.merchant_account_id,
            payer=hold.payer_account_id,
            clearing=store.system_account(clearing, currency) if clearing else None,
        )
    _post_for(session, settings, posting, hold, operation_id, correlation_id)
    # One UPDATE that also answers the database's time (no separate SELECT now(), no flush).
    changes = {"status": wanted, "release_reason": None if capture else reason}
    resolved_at = session.execute(
        update(Hold)
        .where(Hold.id == hold.id)
        .values(**changes, resolved_at=func.now())
        .returning(Hold.resolved_at)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    for name, value in {**changes, "resolved_at": resolved_at}.items():
        set_committed_value(hold, name, value)  # as stored: nothing left to flush
    body = hold_body(hold)
    kind = "FundsCaptured" if capture else "FundsReleased"
    events.funds(session, kind, body, operation_id, correlation_id)
    return Outcome(200, body)


def release_payment(
    session: Session,
    settings: WalletSettings,
    payment_id: str,
    *,
    operation_id: str,
    reason: str,
    correlation_id: str,
) -> Outcome:
    """Release a payment's hold found by payment id; with none, close the payment to holds."""
    _lock_payment(session, payment_id)
    hold_id = session.scalar(select(Hold.id).where(Hold.payment_id == payment_id))
    if hold_id is None:
        session.execute(
            insert(HoldTombstone)
            .values(payment_id=payment_id, operation_id=operation_id, reason=reason)
            .on_conflict_do_nothing()
        )
        body: dict[str, Any] = {"payment_id": payment_id, "outcome": "nothing-held", "hold": None}
        return Outcome(200, schemas.PaymentHoldRelease.model_validate(body).model_dump(mode="json"))
    released = resolve(
        session,
        settings,
        hold_id,
        capture=False,
        operation_id=operation_id,
        reason=reason,
        correlation_id=correlation_id,
    )
    body = {"payment_id": payment_id, "outcome": "released", "hold": released.body}
    return Outcome(200, schemas.PaymentHoldRelease.model_validate(body).model_dump(mode="json"))


def _lock_payment(session: Session, payment_id: str) -> None:
    # Held to the end of the transaction; the namespace keeps it apart from other locks.
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"wallet:hold:{payment_id}"},
    )


def _insert_hold(session: Session, hold: Hold) -> None:
    # A concurrent reserve for the same payment waits on the hold's unique payment_id, then
    # gets a 409 here; the hold row always exists before the posting that references it.
    # A plain INSERT ... ON CONFLICT, not an ORM add in a savepoint (three round trips and
    # a refresh), that also answers the server-set created_at.
    values = {c.key: getattr(hold, c.key) for c in Hold.__table__.columns if c.key != "created_at"}
    created = session.execute(
        insert(Hold).values(**values).on_conflict_do_nothing().returning(Hold.created_at)
    ).scalar()
    if created is None:
        existing = session.scalar(select(Hold.id).where(Hold.payment_id == hold.payment_id))
        raise _already_held(hold.payment_id, existing)
    hold.created_at = created


def _post_for(
    session: Session,
    settings: WalletSettings,
    posting: ledger.Posting,
    hold: Hold,
    operation_id: str,
    correlation_id: str,
) -> None:
    post(
        session,
        settings,
        posting,
        correlation_id=correlation_id,
        hold_id=hold.id,
        payment_id=hold.payment_id,
        operation_id=operation_id,
    )


def _already_held(payment_id: str, hold_id: uuid.UUID | None) -> WalletError:
    return WalletError(
        409,
        "payment-already-held",
        f"Payment {payment_id!r} already has hold {hold_id}, reserved by another operation.",
    )
