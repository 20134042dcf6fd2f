"""Posting rules: which entries each money movement writes, and what they do to balances.

Pure code, no I/O. Every posting's entries sum to zero (one currency per posting), so money
is only ever moved, never created or destroyed; money entering or leaving the platform
moves through system accounts (`world:*`, `clearing:*`), which alone may go negative.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from uuid import UUID

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class Currency(StrEnum):
    COP = "COP"
    USD = "USD"


class Bucket(StrEnum):
    """Where an account's money sits: spendable, held for a payment, or incoming."""

    AVAILABLE = "available"
    HELD = "held"
    PENDING = "pending"


class Method(StrEnum):
    WALLET = "wallet"
    CARD = "card"
    PSE = "pse"


class PostingKind(StrEnum):
    TOPUP = "topup"
    RESERVE = "reserve"
    CAPTURE = "capture"
    RELEASE = "release"
    PAYOUT = "payout"
    REFUND_RESERVE = "refund_reserve"
    REFUND = "refund"
    REFUND_CANCEL = "refund_cancel"
    PAYOUT_RETURN = "payout_return"


class SystemAccount(StrEnum):
    """Accounts of the platform itself, one per currency."""

    FEES = "platform:fees"
    TOPUPS = "world:topups"
    PAYOUTS = "world:payouts"
    CLEARING_CARD = "clearing:card"
    CLEARING_PSE = "clearing:pse"


CLEARING = {Method.CARD: SystemAccount.CLEARING_CARD, Method.PSE: SystemAccount.CLEARING_PSE}


class LedgerError(ValueError):
    """A posting that breaks the ledger's rules (a bug in the caller, never user input)."""


@dataclass(frozen=True)
class InsufficientFunds(Exception):
    """Applying a posting would take an account's bucket below zero."""

    account_id: UUID
    bucket: Bucket
    balance: Decimal
    needed: Decimal

    def __str__(self) -> str:
        return f"account {self.account_id} has {self.balance} {self.bucket}, needs {self.needed}"


@dataclass(frozen=True)
class Leg:
    """One entry: `amount` (signed) into `bucket` of `account_id`."""

    account_id: UUID
    bucket: Bucket
    amount: Decimal


@dataclass(frozen=True)
class Posting:
    """A balanced set of entries in one currency."""

    kind: PostingKind
    currency: Currency
    legs: tuple[Leg, ...]

    def __post_init__(self) -> None:
        if len(self.legs) < 2:
            raise LedgerError("a posting needs at least two entries")
        for leg in self.legs:
            if leg.amount == 0 or leg.amount != leg.amount.quantize(CENT):
                raise LedgerError(f"entry amount {leg.amount} is zero or finer than a cent")
        if sum((leg.amount for leg in self.legs), ZERO) != 0:
            raise LedgerError(f"{self.kind} posting does not sum to zero")

    def account_ids(self) -> list[UUID]:
        """Accounts touched, sorted: the order in which their balance rows are locked."""
        return sorted({leg.account_id for leg in self.legs})


@dataclass(frozen=True)
class Balance:
    """An account's buckets; only system accounts may go below zero."""

    available: Decimal = ZERO
    held: Decimal = ZERO
    pending: Decimal = ZERO
    system: bool = False

    def get(self, bucket: Bucket) -> Decimal:
        """The amount in `bucket`."""
        return Decimal(getattr(self, bucket.value))

    def moved(self, bucket: Bucket, amount: Decimal) -> Balance:
        """This balance with `amount` added to `bucket`."""
        if bucket is Bucket.AVAILABLE:
            return replace(self, available=self.available + amount)
        if bucket is Bucket.HELD:
            return replace(self, held=self.held + amount)
        return replace(self, pending=self.pending + amount)


def money(amount: Decimal) -> Decimal:
    """An amount in cents, or an error when it has more precision than that."""
    if amount != amount.quantize(CENT):
        raise LedgerError(f"{amount} is finer than a cent")
    return amount.quantize(CENT)


def platform_fee(amount: Decimal, rate: Decimal, fixed: Decimal) -> Decimal:
    """`amount * rate + fixed`, rounded half-up to the cent, never more than the amount."""
    fee = (amount * rate + fixed).quantize(CENT, rounding=ROUND_HALF_UP)
    return min(max(fee, ZERO), amount)


def topup(currency: Currency, amount: Decimal, *, wallet: UUID, world: UUID) -> Posting:
    """Money enters a payer wallet from outside the platform."""
    amount = _positive(amount)
    return Posting(
        PostingKind.TOPUP,
        currency,
        (Leg(world, Bucket.AVAILABLE, -amount), Leg(wallet, Bucket.AVAILABLE, amount)),
    )


def reserve(
    method: Method,
    currency: Currency,
    amount: Decimal,
    *,
    merchant: UUID,
    payer: UUID | None = None,
    clearing: UUID | None = None,
) -> Posting:
    """Hold a payment's amount: on the payer's wallet, or as the merchant's incoming money."""
    amount = _positive(amount)
    if method is Method.WALLET:
        payer = _required(payer, "payer")
        legs = (Leg(payer, Bucket.AVAILABLE, -amount), Leg(payer, Bucket.HELD, amount))
    else:
        clearing = _required(clearing, "clearing")
        legs = (Leg(clearing, Bucket.AVAILABLE, -amount), Leg(merchant, Bucket.PENDING, amount))
    return Posting(PostingKind.RESERVE, currency, legs)


def capture(
    method: Method,
    currency: Currency,
    amount: Decimal,
    fee: Decimal,
    *,
    merchant: UUID,
    fees: UUID,
    payer: UUID | None = None,
) -> Posting:
    """The held amount becomes the merchant's available money, net of the platform fee."""
    amount = _positive(amount)
    fee = money(fee)
    if not ZERO <= fee <= amount:
        raise LedgerError(f"fee {fee} is outside 0..{amount}")
    if method is Method.WALLET:
        source = Leg(_required(payer, "payer"), Bucket.HELD, -amount)
    else:
        source = Leg(merchant, Bucket.PENDING, -amount)
    legs = [source]
    if amount - fee:
        legs.append(Leg(merchant, Bucket.AVAILABLE, amount - fee))
    if fee:
        legs.append(Leg(fees, Bucket.AVAILABLE, fee))
    return Posting(PostingKind.CAPTURE, currency, tuple(legs))


def release(
    method: Method,
    currency: Currency,
    amount: Decimal,
    *,
    merchant: UUID,
    payer: UUID | None = None,
    clearing: UUID | None = None,
) -> Posting:
    """Undo a reserve: the exact mirror of its entries."""
    held = reserve(method, currency, amount, merchant=merchant, payer=payer, clearing=clearing)
    legs = tuple(replace(leg, amount=-leg.amount) for leg in held.legs)
    return Posting(PostingKind.RELEASE, currency, legs)


def payout(currency: Currency, amount: Decimal, *, merchant: UUID, world: UUID) -> Posting:
    """Money leaves a merchant's available balance for its bank account."""
    amount = _positive(amount)
    return Posting(
        PostingKind.PAYOUT,
        currency,
        (Leg(merchant, Bucket.AVAILABLE, -amount), Leg(world, Bucket.AVAILABLE, amount)),
    )


def payout_return(currency: Currency, amount: Decimal, *, merchant: UUID, world: UUID) -> Posting:
    """The bank refused a payout: the money comes back to the merchant's available balance."""
    amount = _positive(amount)
    return Posting(
        PostingKind.PAYOUT_RETURN,
        currency,
        (Leg(world, Bucket.AVAILABLE, -amount), Leg(merchant, Bucket.AVAILABLE, amount)),
    )


def apply(balances: Mapping[UUID, Balance], posting: Posting) -> dict[UUID, Balance]:
    """The balances after `posting`; InsufficientFunds if a non-system bucket would go negative."""
    return _run(balances, posting)[0]


def trail(balances: Mapping[UUID, Balance], posting: Posting) -> list[Decimal]:
    """Each entry's bucket balance right after it (the statement's running balance)."""
    return _run(balances, posting)[1]


def _run(
    balances: Mapping[UUID, Balance], posting: Posting
) -> tuple[dict[UUID, Balance], list[Decimal]]:
    after = dict(balances)
    running: list[Decimal] = []
    for leg in posting.legs:
        if leg.account_id not in after:
            raise LedgerError(f"no balance loaded for account {leg.account_id}")
        current = after[leg.account_id]
        moved = current.moved(leg.bucket, leg.amount)
        value = moved.get(leg.bucket)
        if value < 0 and not current.system:
            raise InsufficientFunds(
                leg.account_id, leg.bucket, current.get(leg.bucket), -leg.amount
            )
        after[leg.account_id] = moved
        running.append(value)
    return after, running


def dropped_below(before: Balance, after: Balance, threshold: Decimal) -> bool:
    """The available balance crossed from at-or-above `threshold` to below it."""
    return before.available >= threshold > after.available


def changed(before: Mapping[UUID, Balance], after: Mapping[UUID, Balance]) -> Iterable[UUID]:
    """Non-system accounts whose balance differs, in lock order."""
    return [a for a in sorted(after) if after[a] != before[a] and not after[a].system]


def _positive(amount: Decimal) -> Decimal:
    amount = money(amount)
    if amount <= 0:
        raise LedgerError(f"amount {amount} must be positive")
    return amount


def _required(account: UUID | None, role: str) -> UUID:
    if account is None:
        raise LedgerError(f"this posting needs the {role} account")
    return account
