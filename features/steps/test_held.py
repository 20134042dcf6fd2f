"""Steps for features/payments/held.feature: antifraud review, held (cod 7), operator decisions.

Each scenario registers its own merchant and uses a card of its own (antifraud's velocity
rules count per card), topped up above the amount; nothing is shared with other scenarios.
The steps held payments share with the other payment features are in conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import payments_support as sup
import pytest
import saga_support as saga
from payment_scenario import PaymentWorld, payment_world
from pytest_bdd import parsers, scenarios, then, when
from waiting_support import wait_for

from paylab.core.internal_auth import operator_key
from paylab.gateway.ops import OPS_KEY_HEADER

pytestmark = [pytest.mark.stack, pytest.mark.timeout(240)]
scenarios("payments/held.feature")


@pytest.fixture
def world() -> Iterator[PaymentWorld]:
    with payment_world() as w:
        yield w


def review(payment_id: str, decision: str, reason: str | None, **headers: str) -> httpx.Response:
    """POST /v1/ops/payments/{id}/review through the gateway (operator key unless overridden)."""
    sent = headers or {OPS_KEY_HEADER: operator_key()}
    body: dict[str, Any] = {"decision": decision}
    if reason is not None:
        body["reason"] = reason
    return httpx.post(
        f"{sup.GATEWAY}/v1/ops/payments/{payment_id}/review", json=body, headers=sent, timeout=20.0
    )


# ------------------------------------------------------------------------------- given / when
@when(parsers.parse('the merchant charges "{amount}" COP to a card of its own'))
def _charge(world: PaymentWorld, amount: str) -> None:
    world.card = sup.new_card_number()
    room = f"{Decimal(amount) * 2:.2f}"  # the bank's default balance and limit are COP 5 M
    r = httpx.patch(
        f"{sup.SIMS['bank']}/_sim/cards/{world.card}",
        json={"balance_cop": room, "limit_cop": room},
        timeout=5.0,
    )
    assert r.status_code == 200, r.text
    world.card_before = sup.card_balance(world.card)
    body = sup.card_payment(amount, world.card, reference=world.reference, email=world.email)
    world.created_payment(world.m.pay(body))


@when(parsers.parse('an operator {verb} it with reason "{reason}"'))
def _decide(world: PaymentWorld, verb: str, reason: str) -> None:
    decision = {"approves": "approve", "rejects": "reject"}[verb]
    r = review(world.payment_id, decision, reason)
    assert r.status_code == 200, r.text
    assert r.json()["review_decision"] == decision, r.json()


# ------------------------------------------------------------------------------- then
@then(parsers.parse("the payment is held with cod_respuesta {code:d}"))
def _held(world: PaymentWorld, code: int) -> None:
    def probe() -> dict[str, Any] | None:
        got = world.m.payment(world.payment_id)
        assert got["status"] in ("pending", "held"), got  # nothing else before a decision
        return got if got["status"] == "held" else None

    got = sup.wait_for(f"payment {world.payment_id} to be held", probe, timeout=60.0)
    assert (got["cod_respuesta"], got["antifraud_decision"]) == (code, "review"), got


@then(parsers.parse("the payment is still held with cod_respuesta {code:d}"))
def _still_held(world: PaymentWorld, code: int) -> None:
    got = world.m.payment(world.payment_id)
    assert (got["status"], got["cod_respuesta"]) == ("held", code), got


@then(parsers.parse('the merchant\'s pending balance shows "{amount}"'))
def _pending(world: PaymentWorld, amount: str) -> None:
    balance = world.m.balance()
    assert balance["pending"] - world.before["pending"] == Decimal(amount), balance
    assert balance["available"] == world.before["available"], balance


@then("the card was not charged yet")
def _not_charged(world: PaymentWorld) -> None:
    assert sup.card_balance(world.card) == world.card_before


@then(parsers.parse('the card was charged "{amount}"'))
def _charged(world: PaymentWorld, amount: str) -> None:
    assert world.card_before - sup.card_balance(world.card) == Decimal(amount)


@then("the merchant's own token cannot review it")
def _merchant_cannot(world: PaymentWorld) -> None:
    token = world.m.http.headers["Authorization"]
    refused = review(world.payment_id, "approve", None, Authorization=token)
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    wrong = review(world.payment_id, "approve", None, **{OPS_KEY_HEADER: "not-the-key"})
    assert wrong.status_code == 403, wrong.text


@then("the answer sends the payer to no bank page yet")
def _no_page_in_201(world: PaymentWorld) -> None:
    assert world.created["next_action"] is None, world.created


@then("the payment shows no bank page")
def _no_page(world: PaymentWorld) -> None:
    got = world.m.payment(world.payment_id)
    assert got["next_action"] is None and got["pse"]["redirect_url"] is None, got


@then("PSE was not asked to open a transfer for it")
def _no_transfer(world: PaymentWorld) -> None:
    assert sup.journaled_posts("pse", "/v1/transactions", world.payment_id) == 0


@then("PSE opened one transfer for it")
def _one_transfer(world: PaymentWorld) -> None:
    assert sup.journaled_posts("pse", "/v1/transactions", world.payment_id) == 1


@then("the payment shows its bank page once the SAGA waits for PSE")
def _page(world: PaymentWorld) -> None:
    def page() -> dict[str, Any] | None:
        got = world.m.payment(world.payment_id)
        return got if got["pse"]["redirect_url"] else None

    got = wait_for("the bank page", page, timeout=30)
    assert got["status"] == "pending", got
    assert got["next_action"]["redirect_url"] == got["pse"]["redirect_url"], got


@then(parsers.parse('its reason is "{reason}"'))
def _reason(world: PaymentWorld, reason: str) -> None:
    assert world.m.payment(world.payment_id)["reason"] == reason


@then(parsers.parse('a second decision is refused with 409 showing "{status}" and "{decision}"'))
def _second(world: PaymentWorld, status: str, decision: str) -> None:
    other = "reject" if decision == "approve" else "approve"
    r = review(world.payment_id, other, "changed my mind")
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/already-reviewed"), body
    payment = body["payment"]
    assert (payment["status"], payment["review_decision"]) == (status, decision), body


@then(parsers.parse('its events are "{types}"'))
def _events(world: PaymentWorld, types: str) -> None:
    events = saga.payment_repository().store.load(world.payment_id)
    assert [e.type for e in events] == [t.strip() for t in types.split(",")]
