"""In-memory wallet, bank, store and lock for the dispersion use case, with crash points.

The fakes keep the real guarantees that dispersion relies on: the wallet and the bank answer a
repeated operation id / Idempotency-Key with their first answer, the store keeps one row per
merchant and day. `crash_at` names a step after which the process "dies" (Crash is raised
after the step's effect, so a retry must converge).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from paylab.merchant.dispersion import (
    BankAnswer,
    Dispersions,
    InsufficientFunds,
    Payee,
    Row,
    Unavailable,
    WalletRefused,
)


class Crash(Exception):
    """The process died here."""


@dataclass
class World:
    """Everything a run touches, plus the journal of calls in order."""

    balances: dict[str, Decimal] = field(default_factory=dict)
    payees: list[Payee] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    crash_at: set[str] = field(default_factory=set)
    # wallet
    payouts: dict[str, tuple[str, Decimal, uuid.UUID]] = field(default_factory=dict)
    returns: dict[str, uuid.UUID] = field(default_factory=dict)
    refused_ops: set[str] = field(default_factory=set)
    wallet_down: bool = False
    wallet_refuses: set[str] = field(default_factory=set)  # merchants whose debit it refuses
    # bank
    bank_answers: dict[str, BankAnswer] = field(default_factory=dict)
    bank_paid: list[tuple[str, Decimal]] = field(default_factory=list)
    bank_next: list[str] = field(default_factory=list)  # scripted: paid|pending|rejected|down
    bank_status_next: list[str] = field(default_factory=list)
    # store
    rows: dict[tuple[str, date], Row] = field(default_factory=dict)
    events: list[uuid.UUID] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    held_locks: set[tuple[str, date]] = field(default_factory=set)

    def step(self, name: str) -> None:
        """Record a call; die after it when told to."""
        self.calls.append(name)
        if name in self.crash_at:
            self.crash_at.discard(name)
            raise Crash(name)


@dataclass
class FakeWallet:
    world: World

    def available(self, merchant_id: str, currency: str) -> Decimal:
        if self.world.wallet_down:
            raise Unavailable("wallet down")
        return self.world.balances.get(merchant_id, Decimal("0.00"))

    def debit(
        self, operation_id: str, merchant_id: str, amount: Decimal, currency: str
    ) -> uuid.UUID:
        w = self.world
        if w.wallet_down:
            raise Unavailable("wallet down")
        if operation_id in w.refused_ops:
            raise InsufficientFunds("replayed refusal")
        if merchant_id in w.wallet_refuses:
            raise WalletRefused("body.amount: must be at most 1000000000.00")
        if operation_id not in w.payouts:
            if w.balances.get(merchant_id, Decimal(0)) < amount:
                w.refused_ops.add(operation_id)
                raise InsufficientFunds("short")
            w.balances[merchant_id] -= amount
            w.payouts[operation_id] = (merchant_id, amount, uuid.uuid4())
        w.step("wallet.debit")
        return w.payouts[operation_id][2]

    def give_back(self, operation_id: str, reason: str) -> uuid.UUID:
        w = self.world
        if w.wallet_down:
            raise Unavailable("wallet down")
        if operation_id not in w.returns:
            merchant_id, amount, _ = w.payouts[operation_id]
            w.balances[merchant_id] += amount
            w.returns[operation_id] = uuid.uuid4()
        w.step("wallet.give_back")
        return w.returns[operation_id]


@dataclass
class FakeBank:
    world: World

    def pay(self, key: str, row: Row, payee: Payee) -> BankAnswer:
        w = self.world
        if key not in w.bank_answers:
            outcome = w.bank_next.pop(0) if w.bank_next else "paid"
            if outcome == "down":
                raise Unavailable("bank 503")
            answer = BankAnswer(outcome, f"po_{len(w.bank_answers) + 1}", None)
            if outcome == "rejected":
                answer = BankAnswer("rejected", answer.payout_id, "account_closed")
            if outcome == "paid":
                w.bank_paid.append((key, row.amount))
            w.bank_answers[key] = answer
        w.step("bank.pay")
        return w.bank_answers[key]

    def status(self, payout_id: str) -> BankAnswer:
        w = self.world
        key = next(k for k, a in w.bank_answers.items() if a.payout_id == payout_id)
        answer = w.bank_answers[key]
        if answer.status == "pending" and w.bank_status_next:
            answer = replace(answer, status=w.bank_status_next.pop(0))
            if answer.status == "paid":
                w.bank_paid.append(
                    (key, next(r.amount for r in w.rows.values() if r.operation_id == key))
                )
            w.bank_answers[key] = answer
        w.step("bank.status")
        return answer


@dataclass
class FakeStore:
    world: World

    def payees(self, merchant_ids: list[str] | None) -> list[Payee]:
        return [
            p for p in self.world.payees if merchant_ids is None or p.merchant_id in merchant_ids
        ]

    def pending(self, merchant_id: str) -> list[Row]:
        rows = [r for r in self.world.rows.values() if r.merchant_id == merchant_id]
        return sorted(
            (replace(r) for r in rows if r.status == "pending"), key=lambda r: r.business_date
        )

    def find(self, merchant_id: str, day: date) -> Row | None:
        row = self.world.rows.get((merchant_id, day))
        return replace(row) if row else None

    def claim(self, payee: Payee, day: date, amount: Decimal, currency: str) -> Row | None:
        key = (payee.merchant_id, day)
        row = self.world.rows.get(key)
        if row is None:
            row = Row(uuid.uuid4(), payee.merchant_id, day, "pending", 1, amount, currency)
        elif row.status == "rejected":
            row = replace(row, status="pending", attempt=row.attempt + 1, amount=amount)
            row.wallet_payout_id = row.bank_payout_id = row.bank_status = None
        else:
            return None
        self.world.rows[key] = row
        self.world.step("store.claim")
        return replace(row)

    def _current(self, row: Row) -> Row | None:
        stored = self.world.rows[(row.merchant_id, row.business_date)]
        ok = stored.status == "pending" and stored.attempt == row.attempt
        return stored if ok else None

    def debited(self, row: Row, payout_id: uuid.UUID) -> None:
        if (stored := self._current(row)) is not None:
            stored.wallet_payout_id = payout_id
        self.world.step("store.debited")

    def bank_pending(self, row: Row, answer: BankAnswer) -> None:
        if (stored := self._current(row)) is not None:
            stored.bank_payout_id, stored.bank_status = answer.payout_id, "pending"
        self.world.step("store.bank_pending")

    def paid(self, row: Row, answer: BankAnswer, payee: Payee) -> None:
        if (stored := self._current(row)) is not None:
            stored.status, stored.bank_payout_id, stored.bank_status = (
                "paid",
                answer.payout_id,
                "paid",
            )
            self.world.events.append(stored.id)  # DispersionCompleted in the same transaction
        self.world.step("store.paid")

    def rejected(self, row: Row, reason: str, return_id: uuid.UUID | None) -> None:
        if (stored := self._current(row)) is not None:
            stored.status = "rejected"
        self.world.errors.append(reason)
        self.world.step("store.rejected")

    def failed(self, row: Row, error: str) -> None:
        self.world.errors.append(error)


def lock_for(world: World):  # type: ignore[no-untyped-def]
    """A lock that refuses a (merchant, day) another run holds."""

    @contextmanager
    def lock(merchant_id: str, day: date) -> Iterator[bool]:
        key = (merchant_id, day)
        if key in world.held_locks:
            yield False
            return
        world.held_locks.add(key)
        try:
            yield True
        finally:
            world.held_locks.discard(key)

    return lock


def build(world: World) -> Dispersions:
    """The use case over the fakes."""
    return Dispersions(FakeStore(world), FakeWallet(world), FakeBank(world), lock_for(world))


def payee(merchant_id: str = "mch_1", *, account: str | None = "00123456789") -> Payee:
    """A merchant with (or without) a payout account; minimum 50,000.00."""
    return Payee(
        merchant_id=merchant_id,
        email=f"{merchant_id}@example.com",
        minimum=Decimal("50000.00"),
        doc_type="NIT",
        doc_number="900123456-8",
        bank_code="1007" if account else None,
        account_type="savings" if account else None,
        account_number=account,
        holder_name="Tienda" if account else None,
    )
