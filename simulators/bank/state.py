"""The bank's fake world: card accounts, tokens, authorizations, refunds and payouts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from paylab.core.money import fmt, to_decimal
from paylab.core.problems import Problem
from simulators.bank.cards import TEST_CARDS, Behaviour, card_errors, is_expired
from simulators.bank.records import Authorization, CardAccount, Payout, decimals_as_text, pack
from simulators.bank.schemas import AuthorizationIn, BankSettings, PayoutIn
from simulators.idempotency import IdempotencyStore
from simulators.seeding import SeededRandom

DEFAULT_BALANCE = {"COP": Decimal("5000000.00"), "USD": Decimal("2000.00")}
DEFAULT_LIMIT = {"COP": Decimal("10000000.00"), "USD": Decimal("5000.00")}
MAX_RECORDS = 200_000  # bounded memory under load tests; the oldest records go first
PER_REFERENCE = 20  # a payment has one or two; load tests reuse one reference for all


@dataclass
class BankState:
    """All of the bank simulator's state; reset() brings back the defaults."""

    rng: SeededRandom
    clock: Callable[[], float] = time.time
    settings: BankSettings = field(default_factory=BankSettings)
    accounts: dict[str, CardAccount] = field(default_factory=dict)
    tokens: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    # Rows are tuples of atomic values, which the cyclic GC stops tracking: hundreds of
    # thousands of them under load then cost nothing in full GC passes (p99 stays flat).
    auths: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    payouts: dict[str, Payout] = field(default_factory=dict)
    # reference -> its latest authorizations' ids, oldest first; the least recently used
    # reference first (tuples of strings: untracked by the cyclic GC, like `auths`' rows).
    by_reference: dict[str, tuple[str, ...]] = field(default_factory=dict)
    idempotency: IdempotencyStore = field(default_factory=IdempotencyStore)

    def reset(self) -> None:
        """Defaults: every card has the default balance; the test cards behave as documented."""
        self.settings = BankSettings()
        self.accounts.clear()
        self.tokens.clear()
        self.auths.clear()
        self.by_reference.clear()
        self.payouts.clear()
        self.idempotency.clear()

    def account(self, number: str) -> CardAccount:
        """The account behind a card, created with defaults on first use."""
        acct = self.accounts.get(number)
        if acct is None:
            test = TEST_CARDS.get(number)
            behaviour: Behaviour = test.behaviour if test else "normal"
            balance = dict(DEFAULT_BALANCE)
            if behaviour == "reject":
                balance = {k: Decimal("0.00") for k in balance}
            acct = CardAccount(number, behaviour, balance, dict(DEFAULT_LIMIT))
            self.accounts[number] = acct
        return acct

    def tokenize(self, number: str, exp_month: int, exp_year: int, cvc: str) -> str:
        """Store a card and return its token."""
        self._check_card(number, exp_month, exp_year, cvc)
        token = f"tok_{self.rng.stream('ids').getrandbits(48):012x}"
        self.tokens[token] = (number, exp_month, exp_year)
        return token

    def _check_card(self, number: str, exp_month: int, exp_year: int, cvc: str | None) -> None:
        errors = card_errors(number, exp_month, exp_year, cvc)
        if errors:
            raise Problem(422, "invalid-card", "The card data is not valid.", errors=errors)

    def authorize(self, body: AuthorizationIn) -> Authorization:
        """Decide an authorization: card rules, then the account's behaviour and funds."""
        if body.card is not None:
            number, month, year = body.card.number, body.card.exp_month, body.card.exp_year
            self._check_card(number, month, year, body.card.cvc)
        else:
            assert body.token is not None
            found = self.tokens.get(body.token)
            if found is None:
                raise Problem(
                    422,
                    "unknown-token",
                    "No such card token.",
                    errors=[{"field": "body.token", "message": "unknown token"}],
                )
            number, month, year = found
        amount = to_decimal(body.amount)
        now = self.clock()
        auth = Authorization(
            id=self.rng.new_id("auth"),
            status="approved",
            response_code="approved",
            authorization_code=None,
            amount=amount,
            currency=body.currency,
            captured=Decimal("0.00"),
            refunded=Decimal("0.00"),
            reference=body.reference,
            installments=body.installments,
            number=number,
            created_at=now,
        )
        acct = self.account(number)
        today = datetime.fromtimestamp(now, UTC).date()
        if is_expired(month, year, today):
            auth.status, auth.response_code = "rejected", "expired_card"
        elif acct.behaviour == "fail":
            auth.status, auth.response_code = "failed", "processor_error"
        elif acct.behaviour == "pending":
            auth.status, auth.response_code = "pending", "pending_review"
            auth.resolve_at = now + self.settings.pending_resolve_ms / 1000
        else:
            self._decide_funds(auth, acct)
        if auth.status == "approved" and body.capture:
            auth.status, auth.captured = "captured", amount
        self._store_auth(auth)
        return auth

    def _store_auth(self, auth: Authorization) -> None:
        self._store(self.auths, auth.id, pack(auth))
        # Popped and put back, so the reference that goes first is the least recently used:
        # its authorizations were all evicted from `auths` before any other reference's last.
        kept = self.by_reference.pop(auth.reference, ())[-(PER_REFERENCE - 1) :]
        self.by_reference[auth.reference] = (*kept, auth.id)
        if len(self.by_reference) > MAX_RECORDS:
            del self.by_reference[next(iter(self.by_reference))]

    def find_by_reference(self, reference: str) -> list[Authorization]:
        """The latest authorizations (at most PER_REFERENCE) made for a merchant reference,
        oldest first; a pending one is resolved once its time has come."""
        ids = self.by_reference.get(reference, ())
        return [self.get_auth(i) for i in ids if i in self.auths]

    def _decide_funds(self, auth: Authorization, acct: CardAccount) -> None:
        if acct.behaviour == "reject" or auth.amount > acct.balance[auth.currency]:
            auth.status, auth.response_code = "rejected", "insufficient_funds"
        elif auth.amount > acct.limit[auth.currency]:
            auth.status, auth.response_code = "rejected", "exceeds_limit"
        else:
            acct.balance[auth.currency] -= auth.amount
            auth.status, auth.response_code = "approved", "approved"
            auth.authorization_code = f"{self.rng.stream('ids').randrange(10**6):06d}"

    def get_auth(self, auth_id: str) -> Authorization:
        """One authorization, with a pending one resolved once its time has come."""
        row = self.auths.get(auth_id)
        if row is None:
            raise Problem(404, "unknown-authorization", f"No authorization {auth_id!r}.")
        auth = Authorization(*row)
        due = auth.resolve_at
        if auth.status == "pending" and due is not None and self.clock() >= due:
            auth.resolve_at = None
            self._decide_funds(auth, self.account(auth.number))
            self.auths[auth_id] = pack(auth)
        return auth

    def capture(self, auth_id: str, amount: str | None) -> Authorization:
        """Capture all or part of an approved authorization; the rest is released."""
        auth = self._in_state(auth_id, "approved", "capture")
        value = auth.amount if amount is None else to_decimal(amount)
        if value > auth.amount:
            raise Problem(
                422,
                "capture-exceeds-authorization",
                f"Cannot capture {fmt(value)}: only {fmt(auth.amount)} was authorized.",
                errors=[{"field": "body.amount", "message": "exceeds the authorized amount"}],
            )
        self.account(auth.number).balance[auth.currency] += auth.amount - value
        auth.captured, auth.status = value, "captured"
        self.auths[auth.id] = pack(auth)
        return auth

    def void(self, auth_id: str) -> Authorization:
        """Cancel an uncaptured authorization: an approved one gives back what it held, a
        pending one is never decided."""
        auth = self._in_state(auth_id, ("approved", "pending"), "void")
        if auth.status == "approved":
            self.account(auth.number).balance[auth.currency] += auth.amount
        auth.status, auth.resolve_at = "voided", None
        self.auths[auth.id] = pack(auth)
        return auth

    def refund(self, auth_id: str, amount: str | None) -> tuple[str, Decimal, Authorization]:
        """Refund part or all of what was captured and not yet refunded."""
        auth = self._in_state(auth_id, ("captured", "partially_refunded"), "refund")
        left = auth.captured - auth.refunded
        value = left if amount is None else to_decimal(amount)
        if value > left:
            raise Problem(
                422,
                "refund-exceeds-capture",
                f"Cannot refund {fmt(value)}: only {fmt(left)} is left to refund.",
                errors=[{"field": "body.amount", "message": "exceeds what is left to refund"}],
            )
        auth.refunded += value
        auth.status = "refunded" if auth.refunded == auth.captured else "partially_refunded"
        self.account(auth.number).balance[auth.currency] += value
        self.auths[auth.id] = pack(auth)
        return self.rng.new_id("rf"), value, auth

    def _in_state(self, auth_id: str, allowed: str | tuple[str, ...], action: str) -> Authorization:
        auth = self.get_auth(auth_id)
        states = (allowed,) if isinstance(allowed, str) else allowed
        if auth.status not in states:
            raise Problem(
                409,
                "invalid-state",
                f"Cannot {action} authorization {auth_id} in state {auth.status!r}; "
                f"allowed from: {', '.join(states)}.",
            )
        return auth

    def payout(self, body: PayoutIn) -> Payout:
        """Pay out; magic account suffixes: 0000 closed, 1111 invalid, 9999 pending."""
        now = self.clock()
        p = Payout(
            id=self.rng.new_id("po"),
            status="paid",
            failure_reason=None,
            amount=to_decimal(body.amount),
            currency=body.currency,
            reference=body.reference,
            bank_code=body.bank_code,
            account_number=body.account_number,
            created_at=now,
        )
        if body.account_number.endswith("0000"):
            p.status, p.failure_reason = "rejected", "account_closed"
        elif body.account_number.endswith("1111"):
            p.status, p.failure_reason = "rejected", "invalid_account"
        elif body.account_number.endswith("9999"):
            p.status, p.resolve_at = "pending", now + self.settings.pending_resolve_ms / 1000
        self._store(self.payouts, p.id, p)
        return p

    def get_payout(self, payout_id: str) -> Payout:
        """One payout; a pending one is paid once its time has come."""
        p = self.payouts.get(payout_id)
        if p is None:
            raise Problem(404, "unknown-payout", f"No payout {payout_id!r}.")
        if p.status == "pending" and p.resolve_at is not None and self.clock() >= p.resolve_at:
            p.status, p.resolve_at = "paid", None
        return p

    @staticmethod
    def _store(table: dict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        if len(table) > MAX_RECORDS:
            del table[next(iter(table))]

    def snapshot(self) -> dict[str, Any]:
        """Everything, JSON-able (Decimals as strings)."""

        def enc(obj: Any) -> Any:
            d = asdict(obj)
            return {k: decimals_as_text(v) for k, v in d.items()}

        return {
            "settings": self.settings.model_dump(),
            "accounts": [enc(a) for a in self.accounts.values()],
            "tokens": {k: list(v) for k, v in self.tokens.items()},
            "auths": [enc(Authorization(*row)) for row in self.auths.values()],
            "payouts": [enc(p) for p in self.payouts.values()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load a snapshot."""
        self.reset()
        self.settings = BankSettings.model_validate(data.get("settings", {}))
        for a in data.get("accounts", []):
            self.accounts[a["number"]] = CardAccount(
                a["number"],
                a["behaviour"],
                {k: Decimal(v) for k, v in a["balance"].items()},
                {k: Decimal(v) for k, v in a["limit"].items()},
            )
        self.tokens = {k: (v[0], int(v[1]), int(v[2])) for k, v in data.get("tokens", {}).items()}
        for a in data.get("auths", []):
            for k in ("amount", "captured", "refunded"):
                a[k] = Decimal(a[k])
            self._store_auth(Authorization(**a))
        for p in data.get("payouts", []):
            p["amount"] = Decimal(p["amount"])
            self.payouts[p["id"]] = Payout(**p)
