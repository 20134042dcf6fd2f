"""Account use cases: payer wallets, merchant accounts, balances and statements."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import unit_of_work
from paylab.core.money import fmt
from paylab.wallet import ledger, schemas, store
from paylab.wallet.models import Account, Balance, Entry, Posting
from paylab.wallet.operations import Outcome, fingerprint, not_found, run_once


class AccountUseCases:
    """Part of WalletService: everything about accounts that moves no money."""

    _sessions: sessionmaker[Session]

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
