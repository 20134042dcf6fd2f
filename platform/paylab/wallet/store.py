"""Ledger persistence: account lookups, balance locks and posting writes (no business rules)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from paylab.wallet import ledger
from paylab.wallet.models import Account, Balance, Entry, Posting

# The same namespace as migration wallet_0001, which creates the system accounts.
SYSTEM_NAMESPACE = uuid.UUID("5b0c7f4e-7a43-4b8e-9d0e-3f6f0c9e2a11")


def system_account(code: ledger.SystemAccount, currency: ledger.Currency) -> uuid.UUID:
    """The id of a system account (fixed in every environment)."""
    return uuid.uuid5(SYSTEM_NAMESPACE, f"{code.value}:{currency.value}")


@dataclass(frozen=True)
class AccountView:
    """An account with its balance, as read (not locked)."""

    id: uuid.UUID
    kind: str
    merchant_id: str | None
    currency: ledger.Currency
    reference: str | None
    created_at: datetime
    balance: ledger.Balance


def _view(account: Account, balance: Balance) -> AccountView:
    return AccountView(
        id=account.id,
        kind=account.kind,
        merchant_id=account.merchant_id,
        currency=ledger.Currency(account.currency),
        reference=account.reference,
        created_at=account.created_at,
        balance=_to_ledger(balance.available, balance.held, balance.pending, balance.kind),
    )


def _to_ledger(available: Decimal, held: Decimal, pending: Decimal, kind: str) -> ledger.Balance:
    return ledger.Balance(available, held, pending, system=kind == "system")


def find_account(
    session: Session, account_id: uuid.UUID, *, merchant_id: str | None = None
) -> AccountView | None:
    """A payer or merchant account; with `merchant_id`, only when that merchant owns it."""
    query = (
        select(Account, Balance)
        .join(Balance, Balance.account_id == Account.id)
        .where(Account.id == account_id, Account.kind != "system")
    )
    if merchant_id is not None:
        query = query.where(Account.merchant_id == merchant_id)
    row = session.execute(query).first()
    return _view(row[0], row[1]) if row else None


def find_merchant_account(
    session: Session, merchant_id: str, currency: ledger.Currency
) -> AccountView | None:
    """The merchant's account in `currency`, if it has one."""
    row = session.execute(
        select(Account, Balance)
        .join(Balance, Balance.account_id == Account.id)
        .where(
            Account.kind == "merchant",
            Account.merchant_id == merchant_id,
            Account.currency == currency.value,
        )
    ).first()
    return _view(row[0], row[1]) if row else None


def add_account(
    session: Session,
    *,
    kind: str,
    merchant_id: str,
    currency: ledger.Currency,
    reference: str | None = None,
) -> uuid.UUID:
    """Create an account and its zero balance row."""
    account_id = uuid.uuid4()
    session.add(
        Account(
            id=account_id,
            kind=kind,
            merchant_id=merchant_id,
            currency=currency.value,
            reference=reference,
        )
    )
    session.flush()
    session.add(Balance(account_id=account_id, currency=currency.value, kind=kind))
    session.flush()
    return account_id


def lock_balances(
    session: Session, account_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ledger.Balance]:
    """Lock the balance rows FOR UPDATE in account-id order (the one lock order: no deadlocks)."""
    ids = sorted(set(account_ids))
    rows = session.execute(
        select(Balance.account_id, Balance.available, Balance.held, Balance.pending, Balance.kind)
        .where(Balance.account_id.in_(ids))
        .order_by(Balance.account_id)
        .with_for_update()
    ).all()
    found = {r.account_id: _to_ledger(r.available, r.held, r.pending, r.kind) for r in rows}
    missing = set(ids) - set(found)
    if missing:
        raise ledger.LedgerError(f"no balance row for accounts {sorted(map(str, missing))}")
    return found


def write_posting(
    session: Session,
    posting: ledger.Posting,
    before: Mapping[uuid.UUID, ledger.Balance],
    after: Mapping[uuid.UUID, ledger.Balance],
    *,
    hold_id: uuid.UUID | None = None,
    payment_id: str | None = None,
    operation_id: str | None = None,
    refund_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Insert the posting and its entries and set the locked balance rows to `after`."""
    posting_id = uuid.uuid4()
    # Plain INSERT/UPDATE statements, not ORM objects: nothing reads them back in this
    # transaction, and the unit of work's flush was a good part of a posting's CPU. What the
    # posting refers to (a refund the caller added) must be written first: flush (a no-op
    # when nothing is pending).
    session.flush()
    session.execute(
        insert(Posting).values(
            id=posting_id,
            kind=posting.kind.value,
            currency=posting.currency.value,
            hold_id=hold_id,
            payment_id=payment_id,
            operation_id=operation_id,
            refund_id=refund_id,
        )
    )
    trail = ledger.trail(before, posting)
    session.execute(
        insert(Entry),
        [
            {
                "posting_id": posting_id,
                "account_id": leg.account_id,
                "bucket": leg.bucket.value,
                "amount": leg.amount,
                "currency": posting.currency.value,
                "balance_after": balance_after,
            }
            for leg, balance_after in zip(posting.legs, trail, strict=True)
        ],
    )
    # One executemany (a single pipelined round trip with psycopg 3) for every locked row.
    session.connection().execute(
        _SET_BALANCE,
        [
            {
                "b_account_id": account_id,
                "b_available": after[account_id].available,
                "b_held": after[account_id].held,
                "b_pending": after[account_id].pending,
            }
            for account_id in posting.account_ids()
        ],
    )
    return posting_id


_SET_BALANCE = (
    update(Balance)
    .where(Balance.account_id == bindparam("b_account_id"))
    .values(
        available=bindparam("b_available"),
        held=bindparam("b_held"),
        pending=bindparam("b_pending"),
        updated_at=func.now(),
    )
)


def payout_by_operation(
    session: Session, operation_id: str
) -> tuple[uuid.UUID, str, Decimal, ledger.Currency] | None:
    """The merchant account, merchant, amount and currency of the payout `operation_id` made."""
    row = session.execute(
        select(Account.id, Account.merchant_id, Entry.amount, Posting.currency)
        .join(Entry, Entry.posting_id == Posting.id)
        .join(Account, Account.id == Entry.account_id)
        .where(
            Posting.kind == ledger.PostingKind.PAYOUT.value,
            Posting.operation_id == operation_id,
            Account.kind == "merchant",
        )
    ).first()
    if row is None or row.merchant_id is None:
        return None
    return row.id, row.merchant_id, -row.amount, ledger.Currency(row.currency)
