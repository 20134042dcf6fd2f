"""One messaging-feature scenario's state, and the payments and counts its steps share.

Each scenario registers its own merchant and pays with its own payer (a unique email and
phone), so what it counts (emails, SMS, audit rows) is its own.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import messaging_support as msg
import payments_support as sup

APPROVED_CARD = "4575623182290326"
# A consumer retries with 2, 4, 8 s visibility timeouts before dead-lettering (4 receives).
DEAD_LETTER_WAIT = 90.0
EMAIL_WAIT = 60.0


@dataclass
class World:
    """One scenario's merchant, payer, payments, and what it must put back."""

    cleanup: ExitStack
    merchant: sup.Merchant | None = None
    email: str = field(default_factory=lambda: f"{sup.unique('payer')}@example.com")
    phone: str = field(default_factory=msg.unique_mobile)
    payment_ids: list[str] = field(default_factory=list)
    sms_fault: str | None = None
    poison: str = ""
    restart_consumers: Callable[[], None] | None = None
    restore_audit: ExitStack = field(default_factory=ExitStack)
    broken_seq: int = 0
    stopped_argv: dict[str, list[str]] = field(default_factory=dict)

    @property
    def m(self) -> sup.Merchant:
        assert self.merchant is not None, "no merchant: the Background logs one in"
        return self.merchant

    @property
    def payment_id(self) -> str:
        assert self.payment_ids, "no payment yet"
        return self.payment_ids[-1]


def pay_approved(world: World, amount: str) -> str:
    body = sup.card_payment(amount, APPROVED_CARD, reference=sup.unique("order"), email=world.email)
    body["customer"]["phone"] = world.phone
    r = world.m.pay(body)
    assert r.status_code == 201, r.text
    payment_id = str(r.json()["id"])
    assert world.m.wait_final(payment_id)["status"] == "approved"
    world.payment_ids.append(payment_id)
    return payment_id


def receipts(world: World, payment_id: str) -> list[dict[str, Any]]:
    # A receipt names the payment's ePayco reference; the payer's address is the scenario's.
    ref_payco = str(world.m.payment(payment_id)["ref_payco"])
    return [m for m in msg.receipts_to(world.email) if ref_payco in _text(m)]


def _text(message: dict[str, Any]) -> str:
    body = message.get("Body", {})
    return f"{message.get('Subject', '')} {body.get('text_part', '')} {body.get('html_part', '')}"


def exactly_one_receipt(world: World, payment_id: str) -> None:
    sup.wait_for(
        f"a receipt email for {payment_id}",
        lambda: True if receipts(world, payment_id) else None,
        timeout=EMAIL_WAIT,
    )
    # Whatever else is still in flight for this payment must have been handled before
    # counting: the queue drained means every delivery was processed (or dead-lettered).
    sup.wait_for(
        "notification-ops to drain",
        lambda: msg.queue_drained("notification-ops") or None,
        timeout=EMAIL_WAIT,
    )
    assert len(receipts(world, payment_id)) == 1


def notify_rows(world: World, payment_id: str) -> list[dict[str, Any]]:
    rows = msg.audit_rows(world.m.http, payment_id)
    return [r for r in rows if r["type"] == "PaymentNotificationRequested"]
