"""One payment scenario's state, shared by the payment step modules and conftest.py's steps.

Each scenario registers its own merchant, so balances are its own; faults are scoped to the
scenario's payment (its description or its id) and removed afterwards, even on failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import payments_support as sup


@dataclass
class PaymentWorld:
    """One scenario's merchant, payments and what they answered."""

    cleanup: ExitStack
    faults: sup.Faults
    merchant: sup.Merchant | None = None
    before: dict[str, Decimal] = field(default_factory=dict)
    reference: str = field(default_factory=lambda: sup.unique("order"))
    email: str = field(default_factory=lambda: f"{sup.unique('payer')}@example.com")
    payment_id: str = ""
    payment_ids: list[str] = field(default_factory=list)
    created: dict[str, Any] = field(default_factory=dict)
    answers: list[httpx.Response] = field(default_factory=list)
    wallet_id: str = ""
    duplicate_confirmations: bool = False
    refund: httpx.Response | None = None
    card: str = sup.APPROVED_CARD
    card_before: Decimal = Decimal("0")
    # What a step keeps for a later one (the created payment's answer is `created`).
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def m(self) -> sup.Merchant:
        """The scenario's merchant (the Background logs one in)."""
        assert self.merchant is not None, "no merchant: the Background logs one in"
        return self.merchant

    @property
    def description(self) -> str:
        """The payments' description, which the scenario's faults match on."""
        return f"QA {self.reference}"

    def start_pse(self, amount: str, bank: str) -> str:
        """POST a PSE payment (its confirmations duplicated when the scenario asked); its id."""
        body = sup.pse_payment(amount, bank, reference=self.reference, email=self.email)
        payment_id = self.created_payment(self.m.pay(body))
        if self.duplicate_confirmations:
            self.faults.add(
                "pse",
                {
                    "match": {"path": "/callbacks/pse", "body": {"reference": payment_id}},
                    "effect": {"type": "duplicate", "copies": 1},
                },
            )
        return payment_id

    def created_payment(self, response: httpx.Response) -> str:
        """Remember the payment a 201 answer created; its id."""
        assert response.status_code == 201, response.text
        self.created = response.json()
        self.payment_id = str(self.created["id"])
        if self.payment_id not in self.payment_ids:
            self.payment_ids.append(self.payment_id)
        return self.payment_id


@contextmanager
def payment_world() -> Iterator[PaymentWorld]:
    """A fresh scenario; afterwards its faults are removed and its merchant's client closed."""
    with ExitStack() as stack:
        faults = sup.Faults()
        stack.callback(faults.clear)
        world = PaymentWorld(stack, faults)
        yield world
        if world.merchant is not None:
            world.merchant.http.close()
