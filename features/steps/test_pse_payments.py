"""Steps for features/payments/pse_payments.feature: PSE transfers through the running stack.

The payer's decision goes through the PSE simulator's bank page; confirmations are PSE's
signed callbacks, duplicated or sent late by the scenario. Shared steps (starting a PSE payment,
the payer's approval at the bank's page) are in conftest.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import httpx
import payments_support as sup
import pytest
import saga_support as saga
from payment_scenario import PaymentWorld, payment_world
from pytest_bdd import given, parsers, scenarios, then, when

pytestmark = [pytest.mark.stack, pytest.mark.timeout(240)]
scenarios("payments/pse_payments.feature")

SILENT_BANK = "9995"


@pytest.fixture
def world() -> Iterator[PaymentWorld]:
    with payment_world() as w:
        yield w


# ------------------------------------------------------------------------------- PSE
@given(
    parsers.parse("an operator has this merchant's PSE payments wait {seconds:d} seconds at most")
)
def _short_pse_timeout(world: PaymentWorld, seconds: int) -> None:
    merchant_id = world.m.merchant_id
    world.cleanup.callback(saga.set_pse_timeout, merchant_id, None)
    assert saga.set_pse_timeout(merchant_id, seconds) == seconds


@given("PSE sends every confirmation of the payment twice")
def _duplicates(world: PaymentWorld) -> None:
    world.duplicate_confirmations = True  # scoped to the payment once its id is known


@when(
    parsers.parse(
        'the merchant starts a PSE payment of "{amount}" COP with the bank that never answers'
    )
)
def _pse_silent(world: PaymentWorld, amount: str) -> None:
    world.start_pse(amount, SILENT_BANK)


@when("a late confirmation that PSE rejected the same transfer arrives")
def _late_rejection(world: PaymentWorld) -> None:
    world.m.wait_final(world.payment_id)
    drained = httpx.post(
        f"{sup.SIMS['pse']}/_sim/callbacks/drain", params={"timeout_ms": 10000}, timeout=15.0
    )
    assert drained.status_code == 200 and drained.json()["drained"] is True, drained.text
    secret = httpx.get(f"{sup.SIMS['pse']}/_sim/config", timeout=5.0).json()["callback_secret"]
    transaction_id = world.created["next_action"]["redirect_url"].rstrip("/").rsplit("/", 1)[1]
    raw = json.dumps(
        {
            "event_id": sup.unique("evt-late"),
            "event": "pse.transaction.rejected",
            "data": {
                "transaction_id": transaction_id,
                "reference": world.payment_id,
                "status": "rejected",
                "amount": world.m.payment(world.payment_id)["amount"],
                "currency": "COP",
                "bank_code": "1007",
                "cus": None,
                "decided_at": time.time(),
            },
        }
    ).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    for _ in range(2):
        r = httpx.post(
            f"{sup.PAYMENT}/callbacks/pse",
            content=raw,
            headers={"content-type": "application/json", "X-Sim-Signature": signature},
            timeout=10.0,
        )
        assert r.status_code == 200, r.text


@then("the payment has exactly one final event")
def _one_final_event(world: PaymentWorld) -> None:
    finals = saga.final_events(world.payment_id)
    assert [(e.type, e.data["status"]) for e in finals] == [("PaymentCompleted", "approved")]
