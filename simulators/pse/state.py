"""PSE transactions, their lifecycle, and the confirmation callbacks they trigger."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from paylab.core.money import fmt, to_decimal
from paylab.core.problems import Problem
from simulators.callbacks import CallbackSender
from simulators.idempotency import IdempotencyStore
from simulators.pse.banks import MAGIC_BANKS, bank_name
from simulators.pse.schemas import PseSettings, TransactionIn
from simulators.seeding import SeededRandom

MAX_RECORDS = 200_000
DECISIONS = {"approve": "approved", "reject": "rejected", "abandon": "abandoned"}


@dataclass
class Transaction:
    """One PSE transfer."""

    id: str
    status: str
    reference: str
    description: str
    amount: str
    bank_code: str
    person_type: str
    doc_type: str
    doc_number: str
    return_url: str
    confirmation_url: str
    created_at: float
    expires_at: float | None
    decided_at: float | None = None
    cus: str | None = None

    def return_target(self) -> str:
        """Where the browser goes back to: return_url plus the outcome."""
        parts = urlsplit(self.return_url)
        extra = urlencode({"transaction_id": self.id, "status": self.status})
        query = f"{parts.query}&{extra}" if parts.query else extra
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


@dataclass
class PseState:
    """All transactions plus the timers that decide or expire them."""

    rng: SeededRandom
    callbacks: CallbackSender
    clock: Callable[[], float] = time.time
    settings: PseSettings = field(default_factory=PseSettings)
    txns: dict[str, Transaction] = field(default_factory=dict)
    idempotency: IdempotencyStore = field(default_factory=IdempotencyStore)
    _timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    def reset(self) -> None:
        """No transactions, default settings, no timers."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self.txns.clear()
        self.idempotency.clear()
        self.settings = PseSettings()

    def create(self, body: TransactionIn) -> Transaction:
        """Start a transfer; magic banks decide at once or on a timer."""
        if bank_name(body.bank_code) is None:
            raise Problem(
                422,
                "unknown-bank",
                f"PSE does not know bank {body.bank_code}; GET /v1/banks lists them.",
                errors=[{"field": "body.bank_code", "message": "unknown bank code"}],
            )
        now = self.clock()
        magic = MAGIC_BANKS.get(body.bank_code, ("", None))[1]
        txn = Transaction(
            id=self.rng.new_id("pse"),
            status="pending",
            reference=body.reference,
            description=body.description,
            amount=fmt(to_decimal(body.amount)),
            bank_code=body.bank_code,
            person_type=body.person_type,
            doc_type=body.doc_type,
            doc_number=body.doc_number,
            return_url=str(body.return_url),
            confirmation_url=str(body.confirmation_url),
            created_at=now,
            expires_at=None if magic == "never_answer" else now + self.settings.expiry_ms / 1000,
        )
        self.txns[txn.id] = txn
        if len(self.txns) > MAX_RECORDS:
            del self.txns[next(iter(self.txns))]
        if magic in ("approve", "reject", "fail"):
            self._decide(
                txn, {"approve": "approved", "reject": "rejected", "fail": "failed"}[magic]
            )
        elif magic == "pending_then_approve":
            self._arm(txn, self.settings.pending_approve_ms / 1000, "approved")
        elif magic is None:
            self._arm(txn, self.settings.expiry_ms / 1000, "abandoned")
        return txn

    def get(self, txn_id: str) -> Transaction:
        """One transaction."""
        txn = self.txns.get(txn_id)
        if txn is None:
            raise Problem(404, "unknown-transaction", f"No PSE transaction {txn_id!r}.")
        return txn

    def payer_decides(self, txn_id: str, decision: str) -> Transaction:
        """The payer pressed a button on the bank page."""
        txn = self.get(txn_id)
        status = DECISIONS.get(decision)
        if status is None:
            raise Problem(
                422,
                "validation-error",
                "decision must be approve, reject or abandon.",
                errors=[
                    {"field": "form.decision", "message": "must be approve, reject or abandon"}
                ],
            )
        if txn.status != "pending" or txn.bank_code in MAGIC_BANKS:
            raise Problem(
                409,
                "already-decided",
                f"Transaction {txn_id} is {txn.status}; only a pending transaction at a "
                "real bank takes the payer's decision.",
            )
        self._decide(txn, status)
        return txn

    def _arm(self, txn: Transaction, delay_s: float, status: str) -> None:
        loop = asyncio.get_running_loop()
        self._timers[txn.id] = loop.call_later(max(delay_s, 0.0), self._timer_fired, txn.id, status)

    def _timer_fired(self, txn_id: str, status: str) -> None:
        self._timers.pop(txn_id, None)
        txn = self.txns.get(txn_id)
        if txn is not None and txn.status == "pending":
            self._decide(txn, status)

    def _decide(self, txn: Transaction, status: str) -> None:
        handle = self._timers.pop(txn.id, None)
        if handle is not None:
            handle.cancel()
        txn.status = status
        txn.decided_at = self.clock()
        txn.expires_at = None
        if status == "approved":
            txn.cus = f"{self.rng.stream('ids').randrange(10**9):09d}"
        self.callbacks.send(txn.confirmation_url, f"pse.transaction.{status}", confirmation(txn))

    def snapshot(self) -> dict[str, Any]:
        """Transactions and settings."""
        return {
            "settings": self.settings.model_dump(),
            "txns": [asdict(t) for t in self.txns.values()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load transactions and re-arm the timers of pending ones."""
        self.reset()
        self.settings = PseSettings.model_validate(data.get("settings", {}))
        now = self.clock()
        for raw in data.get("txns", []):
            txn = Transaction(**raw)
            self.txns[txn.id] = txn
            if txn.status != "pending" or txn.expires_at is None:
                continue
            magic = MAGIC_BANKS.get(txn.bank_code, ("", None))[1]
            if magic == "pending_then_approve":
                due = txn.created_at + self.settings.pending_approve_ms / 1000
                self._arm(txn, due - now, "approved")
            else:
                self._arm(txn, txn.expires_at - now, "abandoned")


def confirmation(txn: Transaction) -> dict[str, Any]:
    """The body PSE posts to the merchant's confirmation URL."""
    return {
        "transaction_id": txn.id,
        "reference": txn.reference,
        "status": txn.status,
        "amount": txn.amount,
        "currency": "COP",
        "bank_code": txn.bank_code,
        "cus": txn.cus,
        "decided_at": txn.decided_at,
    }
