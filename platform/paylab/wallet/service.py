"""The wallet's use cases: one transaction each, events written in it (STYLE rules 1-2)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import Engine, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import session_factory, unit_of_work
from paylab.core.money import fmt, to_decimal
from paylab.wallet import holds, ledger, schemas, store
from paylab.wallet.checks import ledger_check
from paylab.wallet.models import Account, Balance, Entry, Hold, Posting
from paylab.wallet.operations import Outcome, fingerprint, invalid, not_found, run_once
from paylab.wallet.posting import post
from paylab.wallet.settings import WalletSettings

HOLDS = "holds"
PAYOUTS = "payouts"


class WalletService:
    """Accounts, top-ups, holds and payouts over one engine connected as `paylab_wallet`."""

    def __init__(self, engine: Engine, settings: WalletSettings) -> None:
        self._engine = engine
        self._sessions: sessionmaker[Session] = session_factory(engine)
        self.settings = settings

    # ------------------------------------------------------------------ accounts
    def create_wallet(
        self, merchant_id: str, req: schemas.WalletCreate, idempotency_key: str | None
    ) -> Outcome:
        """A new, empty payer wallet owned by `merchant_id`."""

        def action(session: Session) -> Outcome:
            account_id = store.add_account(
                session,
                kind="payer",
                merchant_id=merchant_id,
                currency=req.currency,
                reference=req.reference,
            )
            view = store.find_account(session, account_id)
            assert view is not None
            return Outcome(201, _wallet(view).model_dump(mode="json"))

        with unit_of_work(self._sessions) as session:
            if idempotency_key is None:
                return action(session)
            request = fingerprint(currency=req.currency, reference=req.reference)
            scope = f"wallets:{merchant_id}"
            return run_once(session, scope, idempotency_key, request, lambda: action(session))

    def create_merchant_account(
        self, req: schemas.MerchantAccountCreate
    ) -> tuple[bool, schemas.MerchantAccount]:
        """The merchant's account in a currency; created once, returned as is afterwards."""
        with unit_of_work(self._sessions) as session:
            account_id = uuid.uuid4()
            created = session.execute(
                insert(Account)
                .values(
                    id=account_id,
                    kind="merchant",
                    merchant_id=req.merchant_id,
                    currency=req.currency.value,
                )
                .on_conflict_do_nothing(
                    index_elements=["merchant_id", "currency"],
                    # A literal: a bound parameter cannot infer the partial unique index once
                    # psycopg prepares the statement (after a few executions).
                    index_where=text("kind = 'merchant'"),
                )
                .returning(Account.id)
            ).first()
            if created is not None:
                session.add(
                    Balance(account_id=account_id, currency=req.currency.value, kind="merchant")
                )
                session.flush()
            view = store.find_merchant_account(session, req.merchant_id, req.currency)
            assert view is not None and view.merchant_id is not None
            return created is not None, schemas.MerchantAccount(
                id=view.id,
                merchant_id=view.merchant_id,
                currency=view.currency,
                available=fmt(view.balance.available),
                pending=fmt(view.balance.pending),
                created_at=view.created_at,
            )

    def get_wallet(self, merchant_id: str, account_id: uuid.UUID) -> schemas.Wallet:
        """One of the merchant's accounts with its balance; 404 for anyone else's."""
        with self._sessions() as session:
            view = store.find_account(session, account_id, merchant_id=merchant_id)
            if view is None:
                raise not_found("wallet")
            return _wallet(view)

    def statement(
        self, merchant_id: str, account_id: uuid.UUID, *, limit: int, cursor: int | None
    ) -> schemas.Statement:
        """The account's entries, newest first, `limit` at a time."""
        with self._sessions() as session:
            if store.find_account(session, account_id, merchant_id=merchant_id) is None:
                raise not_found("wallet")
            query = (
                select(Entry, Posting.kind, Posting.payment_id)
                .join(Posting, Posting.id == Entry.posting_id)
                .where(Entry.account_id == account_id)
                .order_by(Entry.id.desc())
                .limit(limit + 1)
            )
            if cursor is not None:
                query = query.where(Entry.id < cursor)
            rows = session.execute(query).all()
        items = [
            schemas.StatementEntry(
                entry_id=entry.id,
                posting_id=entry.posting_id,
                kind=ledger.PostingKind(kind),
                bucket=ledger.Bucket(entry.bucket),
                amount=fmt(entry.amount),
                balance_after=fmt(entry.balance_after),
                currency=ledger.Currency(entry.currency),
                payment_id=payment_id,
                created_at=entry.created_at,
            )
            for entry, kind, payment_id in rows[:limit]
        ]
        more = len(rows) > limit
        return schemas.Statement(
            account_id=account_id,
            items=items,
            next_cursor=str(items[-1].entry_id) if more else None,
        )

    def merchant_balance(
        self, merchant_id: str, currency: ledger.Currency
    ) -> schemas.MerchantBalance:
        """The merchant's available and pending (in flight) money."""
        with self._sessions() as session:
            view = store.find_merchant_account(session, merchant_id, currency)
        if view is None:
            raise not_found(f"{currency} merchant account")
        return schemas.MerchantBalance(
            available=fmt(view.balance.available),
            pending=fmt(view.balance.pending),
            currency=currency,
        )

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


def _wallet(view: store.AccountView) -> schemas.Wallet:
    assert view.merchant_id is not None
    return schemas.Wallet(
        id=view.id,
        kind="payer" if view.kind == "payer" else "merchant",
        merchant_id=view.merchant_id,
        reference=view.reference,
        available=fmt(view.balance.available),
        held=fmt(view.balance.held),
        pending=fmt(view.balance.pending),
        currency=view.currency,
        created_at=view.created_at,
    )
