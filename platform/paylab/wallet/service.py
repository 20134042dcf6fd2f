"""The wallet's use cases: one transaction each, events written in it (STYLE rules 1-2)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import session_factory, unit_of_work
from paylab.core.money import fmt, to_decimal
from paylab.wallet import holds, ledger, schemas, store
from paylab.wallet.accounts import AccountUseCases
from paylab.wallet.checks import ledger_check
from paylab.wallet.models import Hold
from paylab.wallet.operations import Outcome, fingerprint, invalid, not_found, run_once
from paylab.wallet.posting import post
from paylab.wallet.refunds import RefundService
from paylab.wallet.settings import WalletSettings

HOLDS = "holds"
PAYOUTS = "payouts"
PAYOUT_RETURNS = "payout-returns"


class WalletService(AccountUseCases):
    """Accounts, top-ups, holds, refunds and payouts over one engine as `paylab_wallet`."""

    def __init__(self, engine: Engine, settings: WalletSettings) -> None:
        self._engine = engine
        self._sessions: sessionmaker[Session] = session_factory(engine)
        self.settings = settings
        self.refunds = RefundService(self._sessions, settings)

    # ------------------------------------------------------------------ money in and out
    def topup(
        self,
        merchant_id: str,
        account_id: uuid.UUID,
        req: schemas.TopupCreate,
        idempotency_key: str,
        correlation_id: str,
    ) -> Outcome:
        """Fund a payer wallet from outside the platform, once per Idempotency-Key."""
        amount = self._amount(req.amount)

        def action(session: Session) -> Outcome:
            wallet = store.find_account(session, account_id, merchant_id=merchant_id)
            if wallet is None or wallet.kind != "payer":
                raise not_found("wallet")
            if wallet.currency is not req.currency:
                raise invalid("body.currency", f"the wallet holds {wallet.currency}")
            world = store.system_account(ledger.SystemAccount.TOPUPS, req.currency)
            posting = ledger.topup(req.currency, amount, wallet=account_id, world=world)
            posted = post(
                session,
                self.settings,
                posting,
                correlation_id=correlation_id,
                operation_id=idempotency_key,
            )
            balance = posted.after[account_id]
            return Outcome(
                201,
                schemas.Topup(
                    id=posted.posting_id,
                    account_id=account_id,
                    amount=fmt(amount),
                    currency=req.currency,
                    available=fmt(balance.available),
                    held=fmt(balance.held),
                ).model_dump(mode="json"),
            )

        request = fingerprint(account_id=account_id, amount=fmt(amount), currency=req.currency)
        with unit_of_work(self._sessions) as session:
            scope = f"topups:{merchant_id}"
            return run_once(session, scope, idempotency_key, request, lambda: action(session))

    def payout(self, req: schemas.PayoutCreate, correlation_id: str) -> Outcome:
        """Debit the merchant's available balance for a dispersion, once per operation id."""
        amount = self._amount(req.amount)

        def action(session: Session) -> Outcome:
            merchant = store.find_merchant_account(session, req.merchant_id, req.currency)
            if merchant is None:
                raise not_found(f"{req.currency} merchant account")
            world = store.system_account(ledger.SystemAccount.PAYOUTS, req.currency)
            posting = ledger.payout(req.currency, amount, merchant=merchant.id, world=world)
            posted = post(
                session,
                self.settings,
                posting,
                correlation_id=correlation_id,
                operation_id=req.operation_id,
            )
            return Outcome(
                201,
                schemas.Payout(
                    id=posted.posting_id,
                    merchant_id=req.merchant_id,
                    merchant_account_id=merchant.id,
                    amount=fmt(amount),
                    currency=req.currency,
                    available=fmt(posted.after[merchant.id].available),
                ).model_dump(mode="json"),
            )

        request = fingerprint(
            merchant_id=req.merchant_id, amount=fmt(amount), currency=req.currency
        )
        with unit_of_work(self._sessions) as session:
            return run_once(session, PAYOUTS, req.operation_id, request, lambda: action(session))

    def return_payout(
        self, operation_id: str, req: schemas.PayoutReturn, correlation_id: str
    ) -> Outcome:
        """Credit back a payout the bank refused, once per payout (its operation id)."""

        def action(session: Session) -> Outcome:
            paid = store.payout_by_operation(session, operation_id)
            if paid is None:
                raise not_found("payout")
            account_id, merchant_id, amount, currency = paid
            world = store.system_account(ledger.SystemAccount.PAYOUTS, currency)
            posting = ledger.payout_return(currency, amount, merchant=account_id, world=world)
            # The payout's own operation id: a unique index allows one return per payout.
            posted = post(
                session,
                self.settings,
                posting,
                correlation_id=correlation_id,
                operation_id=operation_id,
            )
            return Outcome(
                201,
                schemas.Payout(
                    id=posted.posting_id,
                    merchant_id=merchant_id,
                    merchant_account_id=account_id,
                    amount=fmt(amount),
                    currency=currency,
                    available=fmt(posted.after[account_id].available),
                ).model_dump(mode="json"),
            )

        request = fingerprint(op="payout-return", operation_id=operation_id)
        with unit_of_work(self._sessions) as session:
            return run_once(session, PAYOUT_RETURNS, operation_id, request, lambda: action(session))

    # ------------------------------------------------------------------ holds
    def reserve(self, req: schemas.HoldCreate, correlation_id: str) -> Outcome:
        """ReserveFunds, once per operation id."""
        amount = self._amount(req.amount)
        request = fingerprint(
            op="reserve", **req.model_dump(mode="json", exclude={"amount"}), amount=fmt(amount)
        )
        with unit_of_work(self._sessions) as session:
            return run_once(
                session,
                HOLDS,
                req.operation_id,
                request,
                lambda: holds.reserve(session, self.settings, req, correlation_id),
            )

    def capture(self, hold_id: uuid.UUID, req: schemas.HoldCapture, correlation_id: str) -> Outcome:
        """CaptureFunds, once per operation id and once per hold."""
        request = fingerprint(op="capture", hold_id=hold_id)
        return self._resolve(hold_id, req.operation_id, request, None, correlation_id)

    def release(self, hold_id: uuid.UUID, req: schemas.HoldRelease, correlation_id: str) -> Outcome:
        """ReleaseFunds, once per operation id and once per hold."""
        request = fingerprint(op="release", hold_id=hold_id, reason=req.reason)
        return self._resolve(hold_id, req.operation_id, request, req.reason, correlation_id)

    def _resolve(
        self,
        hold_id: uuid.UUID,
        operation_id: str,
        request: str,
        reason: str | None,
        correlation_id: str,
    ) -> Outcome:
        with unit_of_work(self._sessions) as session:
            return run_once(
                session,
                HOLDS,
                operation_id,
                request,
                lambda: holds.resolve(
                    session,
                    self.settings,
                    hold_id,
                    capture=reason is None,
                    operation_id=operation_id,
                    reason=reason,
                    correlation_id=correlation_id,
                ),
            )

    def release_payment(
        self, payment_id: str, req: schemas.HoldRelease, correlation_id: str
    ) -> Outcome:
        """ReleaseFunds when the SAGA lost the hold id: by payment id, once per operation id."""
        request = fingerprint(op="release-payment", payment_id=payment_id, reason=req.reason)
        with unit_of_work(self._sessions) as session:
            return run_once(
                session,
                HOLDS,
                req.operation_id,
                request,
                lambda: holds.release_payment(
                    session,
                    self.settings,
                    payment_id,
                    operation_id=req.operation_id,
                    reason=req.reason,
                    correlation_id=correlation_id,
                ),
            )

    def payment_hold(self, payment_id: str) -> schemas.Hold:
        """The hold of a payment, found by payment id."""
        with self._sessions() as session:
            hold = session.scalar(select(Hold).where(Hold.payment_id == payment_id))
            if hold is None:
                raise not_found("hold")
            return schemas.Hold.model_validate(holds.hold_body(hold))

    def get_hold(self, hold_id: uuid.UUID) -> schemas.Hold:
        """A hold's current state."""
        with self._sessions() as session:
            hold = session.get(Hold, hold_id)
            if hold is None:
                raise not_found("hold")
            return schemas.Hold.model_validate(holds.hold_body(hold))

    # ------------------------------------------------------------------ checks
    def check(self, merchant_id: str | None = None) -> schemas.LedgerCheck:
        """The ledger's invariants, all read from one snapshot."""
        with self._engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                return ledger_check(conn, merchant_id)

    def _amount(self, value: str) -> Decimal:
        amount = to_decimal(value)
        if amount > self.settings.max_amount:
            raise invalid("body.amount", f"must be at most {fmt(self.settings.max_amount)}")
        return amount
