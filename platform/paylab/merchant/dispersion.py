"""Daily dispersion: pay each merchant's available balance out, once per merchant and day.

Order, so that no crash, refusal or concurrent run pays twice or loses money:

1. claim the (merchant, business_date) row (UNIQUE) under the Redis lock
   `dispersion:{merchant}:{date}`, with the amount fixed: the available balance now;
2. debit the wallet (operation id `<dispersion id>:<attempt>`: a retry never debits twice);
3. pay at the bank with the same id as Idempotency-Key (a retry never pays twice);
4. mark the row paid with DispersionCompleted and the webhook in the same transaction.

The wallet is debited before the bank pays: the bank never sends money the ledger did not
take. A definitive bank refusal gives the money back (`payout_return`) and the row ends
`rejected`, to be claimed again by a later run (attempt + 1, new ids). An unknown outcome
(timeout, 5xx) leaves the row `pending`; every run first resumes its merchants' pending rows
with the same ids, so the wallet and the bank deduplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

import structlog

log = structlog.get_logger("paylab.merchant.dispersion")
MAX_ERROR = 500


class Result(StrEnum):
    """What a run did for one merchant."""

    PAID = "paid"
    ALREADY_PAID = "already_paid"
    BELOW_MINIMUM = "below_minimum"
    NO_PAYOUT_ACCOUNT = "no_payout_account"
    REJECTED = "rejected"
    IN_TRANSIT = "in_transit"  # the bank accepted and settles later
    RETRY = "retry"  # outcome unknown or a service unavailable: the next run resumes
    IN_PROGRESS = "in_progress"  # another run holds the lock


@dataclass(frozen=True)
class Payee:
    """A merchant as dispersion needs it; `account_number` None: no payout account."""

    merchant_id: str
    email: str
    minimum: Decimal
    doc_type: str
    doc_number: str
    bank_code: str | None = None
    account_type: str | None = None
    account_number: str | None = None
    holder_name: str | None = None


@dataclass
class Row:
    """A dispersion row as the use case sees it."""

    id: uuid.UUID
    merchant_id: str
    business_date: date
    status: str  # pending | paid | rejected
    attempt: int
    amount: Decimal
    currency: str
    wallet_payout_id: uuid.UUID | None = None
    bank_payout_id: str | None = None
    bank_status: str | None = None

    @property
    def operation_id(self) -> str:
        """The wallet operation id and bank Idempotency-Key of this attempt."""
        return f"{self.id}:{self.attempt}"


@dataclass(frozen=True)
class BankAnswer:
    """The bank's answer to a payout: paid, pending (settles later) or rejected."""

    status: str
    payout_id: str | None
    reason: str | None = None


@dataclass(frozen=True)
class Outcome:
    """One merchant's line in a run's summary."""

    merchant_id: str
    result: Result
    dispersion_id: uuid.UUID | None = None
    business_date: date | None = None
    amount: Decimal | None = None
    detail: str | None = None


class Unavailable(Exception):
    """A service did not answer usefully; nothing is known to have happened."""


class InsufficientFunds(Exception):
    """The wallet refused the debit: the balance fell below the amount since it was read."""


class WalletRefused(Exception):
    """The wallet refused the debit for another reason (a limit, a closed account): nothing
    moved, and only an operator can change it; the other merchants are paid all the same."""


class Wallet(Protocol):
    """The wallet operations dispersion needs (all idempotent per operation id)."""

    def available(self, merchant_id: str, currency: str) -> Decimal:
        """The merchant's available balance now."""

    def debit(
        self, operation_id: str, merchant_id: str, amount: Decimal, currency: str
    ) -> uuid.UUID:
        """Take the amount out of the available balance; the payout posting id."""

    def give_back(self, operation_id: str, reason: str) -> uuid.UUID:
        """Return a payout the bank refused; the return posting id."""


class Bank(Protocol):
    """The bank's payouts (idempotent per Idempotency-Key)."""

    def pay(self, key: str, row: Row, payee: Payee) -> BankAnswer:
        """Send the row's amount to the payee's account (Unavailable: outcome unknown)."""

    def status(self, payout_id: str) -> BankAnswer:
        """A payout's current state."""


class Store(Protocol):
    """Dispersion rows; every method is one transaction."""

    def payees(self, merchant_ids: list[str] | None) -> list[Payee]:
        """Active merchants (all, or those named), with their payout accounts."""

    def pending(self, merchant_id: str) -> list[Row]:
        """The merchant's rows left pending by earlier runs, oldest first."""

    def find(self, merchant_id: str, day: date) -> Row | None:
        """The merchant's row for `day`."""

    def claim(self, payee: Payee, day: date, amount: Decimal, currency: str) -> Row | None:
        """Insert the day's row, or reopen a rejected one (attempt + 1); None if not claimable."""

    def debited(self, row: Row, payout_id: uuid.UUID) -> None:
        """Record the wallet payout."""

    def bank_pending(self, row: Row, answer: BankAnswer) -> None:
        """Record a payout the bank accepted but has not settled."""

    def paid(self, row: Row, answer: BankAnswer, payee: Payee) -> None:
        """Mark paid, with DispersionCompleted and the webhook (one transaction)."""

    def rejected(self, row: Row, reason: str, return_id: uuid.UUID | None) -> None:
        """Close the attempt: refused, the money back in the wallet (or never taken)."""

    def failed(self, row: Row, error: str) -> None:
        """Note why the attempt stopped half-way (the row stays pending)."""


Lock = Callable[[str, date], AbstractContextManager[bool]]


class Dispersions:
    """The dispersion use case over a store, the wallet, the bank and a lock."""

    def __init__(self, store: Store, wallet: Wallet, bank: Bank, lock: Lock) -> None:
        self.store, self.wallet, self.bank, self.lock = store, wallet, bank, lock

    def run(self, day: date, merchant_ids: list[str] | None = None) -> list[Outcome]:
        """Pay every merchant (or those named) for `day`; one outcome per merchant and row."""
        out: list[Outcome] = []
        for payee in self.store.payees(merchant_ids):
            out.extend(self.for_merchant(payee, day))
        return out

    def for_merchant(self, payee: Payee, day: date) -> Iterator[Outcome]:
        """Resume the merchant's pending rows of other days, then disperse `day`."""
        if payee.account_number is None:
            # Rows are only ever claimed with an account: nothing to resume, nothing to lock.
            yield Outcome(payee.merchant_id, Result.NO_PAYOUT_ACCOUNT, business_date=day)
            return
        for row in self.store.pending(payee.merchant_id):
            if row.business_date != day:
                yield self._locked(payee, row.business_date)
        yield self._locked(payee, day)

    def _locked(self, payee: Payee, day: date) -> Outcome:
        with self.lock(payee.merchant_id, day) as held:
            if not held:
                return Outcome(payee.merchant_id, Result.IN_PROGRESS, business_date=day)
            try:
                return self._disperse(payee, day)
            except Unavailable as exc:
                return Outcome(payee.merchant_id, Result.RETRY, business_date=day, detail=str(exc))

    def _disperse(self, payee: Payee, day: date) -> Outcome:
        row = self.store.find(payee.merchant_id, day)  # read under the lock: current
        if row is not None and row.status == "paid":
            return _outcome(row, Result.ALREADY_PAID)
        if row is None or row.status == "rejected":
            currency = "COP"
            available = self.wallet.available(payee.merchant_id, currency)
            if available < payee.minimum or available <= 0:
                return Outcome(
                    payee.merchant_id, Result.BELOW_MINIMUM, business_date=day, amount=available
                )
            row = self.store.claim(payee, day, available, currency)
            if row is None:  # paid or reopened by a run that held no lock (Redis down)
                return Outcome(payee.merchant_id, Result.IN_PROGRESS, business_date=day)
        return self._resume(payee, row)

    def _resume(self, payee: Payee, row: Row) -> Outcome:
        """Steps 2-4 for a pending row, skipping what an earlier run already recorded."""
        if row.wallet_payout_id is None:
            try:
                payout_id = self.wallet.debit(
                    row.operation_id, row.merchant_id, row.amount, row.currency
                )
            except InsufficientFunds as exc:
                self.store.rejected(row, f"insufficient funds: {exc}"[:MAX_ERROR], None)
                return _outcome(row, Result.REJECTED, "insufficient funds")
            except WalletRefused as exc:
                reason = f"wallet refused: {exc}"[:MAX_ERROR]
                log.error("dispersion.wallet_refused", dispersion_id=str(row.id), reason=reason)
                self.store.rejected(row, reason, None)
                return _outcome(row, Result.REJECTED, reason)
            except Unavailable as exc:
                self.store.failed(row, f"wallet: {exc}"[:MAX_ERROR])
                raise
            self.store.debited(row, payout_id)
            row.wallet_payout_id = payout_id
        try:
            if row.bank_payout_id is not None and row.bank_status == "pending":
                answer = self.bank.status(row.bank_payout_id)
            else:
                answer = self.bank.pay(row.operation_id, row, payee)
        except Unavailable as exc:
            self.store.failed(row, f"bank: {exc}"[:MAX_ERROR])
            raise
        log.info(
            "dispersion.bank_answer",
            dispersion_id=str(row.id),
            attempt=row.attempt,
            status=answer.status,
            reason=answer.reason,
        )
        if answer.status == "paid":
            self.store.paid(row, answer, payee)
            return _outcome(row, Result.PAID)
        if answer.status == "pending":
            self.store.bank_pending(row, answer)
            return _outcome(row, Result.IN_TRANSIT)
        reason = f"bank refused: {answer.reason or 'no reason given'}"[:MAX_ERROR]
        try:
            return_id = self.wallet.give_back(row.operation_id, reason)
        except Unavailable as exc:
            # Known refused: a later run tries the return again (the bank replays its refusal).
            self.store.failed(row, f"{reason}; wallet return: {exc}"[:MAX_ERROR])
            raise
        self.store.rejected(row, reason, return_id)
        return _outcome(row, Result.REJECTED, reason)


def _outcome(row: Row, result: Result, detail: str | None = None) -> Outcome:
    return Outcome(row.merchant_id, result, row.id, row.business_date, row.amount, detail)
