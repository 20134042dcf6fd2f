"""Steps for features/payments/held.feature: antifraud review, held (cod 7), operator decisions.

Each scenario registers its own merchant and uses a card of its own (antifraud's velocity
rules count per card), topped up above the amount; nothing is shared with other scenarios.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import payments_support as sup
import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from paylab.core.internal_auth import internal_credential
from paylab.gateway.ops import OPS_KEY_HEADER

pytestmark = [pytest.mark.stack, pytest.mark.timeout(240)]
scenarios("payments/held.feature")


@dataclass
class World:
    """One scenario's merchant, card and payment."""

    merchant: sup.Merchant | None = None
    before: dict[str, Decimal] = field(default_factory=dict)
    reference: str = field(default_factory=lambda: sup.unique("held"))
    email: str = field(default_factory=lambda: f"{sup.unique('payer')}@example.com")
    card: str = ""
    card_before: Decimal = Decimal("0")
    payment_id: str = ""

    @property
    def m(self) -> sup.Merchant:
        assert self.merchant is not None, "no merchant: the Background logs one in"
        return self.merchant


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    if w.merchant is not None:
        w.merchant.http.close()


def review(payment_id: str, decision: str, reason: str | None, **headers: str) -> httpx.Response:
    """POST /v1/ops/payments/{id}/review through the gateway (operator key unless overridden)."""
    sent = headers or {OPS_KEY_HEADER: internal_credential()}
    body: dict[str, Any] = {"decision": decision}
    if reason is not None:
        body["reason"] = reason
    return httpx.post(
        f"{sup.GATEWAY}/v1/ops/payments/{payment_id}/review", json=body, headers=sent, timeout=20.0
    )


# ------------------------------------------------------------------------------- given / when
@given("a new merchant is logged in through the gateway")
def _merchant(world: World) -> None:
    world.merchant = sup.register_merchant()
    world.before = world.m.balance()


@when(parsers.parse('the merchant charges "{amount}" COP to a card of its own'))
def _charge(world: World, amount: str) -> None:
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
    created = world.m.pay(body)
    assert created.status_code == 201, created.text
    world.payment_id = str(created.json()["id"])


@when(parsers.parse('an operator {verb} it with reason "{reason}"'))
def _decide(world: World, verb: str, reason: str) -> None:
    decision = {"approves": "approve", "rejects": "reject"}[verb]
    r = review(world.payment_id, decision, reason)
    assert r.status_code == 200, r.text
    assert r.json()["review_decision"] == decision, r.json()


# ------------------------------------------------------------------------------- then
@then(parsers.parse("the payment is held with cod_respuesta {code:d}"))
def _held(world: World, code: int) -> None:
    def probe() -> dict[str, Any] | None:
        got = world.m.payment(world.payment_id)
        assert got["status"] in ("pending", "held"), got  # nothing else before a decision
        return got if got["status"] == "held" else None

    got = sup.wait_for(f"payment {world.payment_id} to be held", probe, timeout=60.0)
    assert (got["cod_respuesta"], got["antifraud_decision"]) == (code, "review"), got


@then(parsers.parse("the payment is still held with cod_respuesta {code:d}"))
def _still_held(world: World, code: int) -> None:
    got = world.m.payment(world.payment_id)
    assert (got["status"], got["cod_respuesta"]) == ("held", code), got


@then(parsers.parse('the merchant\'s pending balance shows "{amount}"'))
def _pending(world: World, amount: str) -> None:
    balance = world.m.balance()
    assert balance["pending"] - world.before["pending"] == Decimal(amount), balance
    assert balance["available"] == world.before["available"], balance


@then("the card was not charged yet")
def _not_charged(world: World) -> None:
    assert sup.card_balance(world.card) == world.card_before


@then(parsers.parse('the card was charged "{amount}"'))
def _charged(world: World, amount: str) -> None:
    assert world.card_before - sup.card_balance(world.card) == Decimal(amount)


@then("the merchant's own token cannot review it")
def _merchant_cannot(world: World) -> None:
    token = world.m.http.headers["Authorization"]
    refused = review(world.payment_id, "approve", None, Authorization=token)
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    wrong = review(world.payment_id, "approve", None, **{OPS_KEY_HEADER: "not-the-key"})
    assert wrong.status_code == 403, wrong.text


@then(parsers.parse('the payment ends "{status}" with cod_respuesta {code:d}'))
def _ends(world: World, status: str, code: int) -> None:
    got = world.m.wait_final(world.payment_id)
    assert (got["status"], got["cod_respuesta"]) == (status, code), got


@then(parsers.parse('its reason is "{reason}"'))
def _reason(world: World, reason: str) -> None:
    assert world.m.payment(world.payment_id)["reason"] == reason


@then(parsers.parse('a second decision is refused with 409 showing "{status}" and "{decision}"'))
def _second(world: World, status: str, decision: str) -> None:
    other = "reject" if decision == "approve" else "approve"
    r = review(world.payment_id, other, "changed my mind")
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/already-reviewed"), body
    payment = body["payment"]
    assert (payment["status"], payment["review_decision"]) == (status, decision), body


@then(parsers.parse('the merchant\'s available balance grew by "{amount}" less the platform fee'))
def _grew(world: World, amount: str) -> None:
    gross = Decimal(amount)
    after = world.m.balance()
    assert after["available"] - world.before["available"] == gross - sup.platform_fee(gross)
    assert after["pending"] == world.before["pending"]


@then("the merchant's balances did not change")
def _unchanged(world: World) -> None:
    assert world.m.balance() == world.before


@then(parsers.parse('its events are "{types}"'))
def _events(world: World, types: str) -> None:
    events = sup.payment_repository().store.load(world.payment_id)
    assert [e.type for e in events] == [t.strip() for t in types.split(",")]


@then(parsers.parse('the execution went through "{states}"'))
def _went_through(world: World, states: str) -> None:
    assert sup.finished_execution(world.payment_id) == "SUCCEEDED"
    assert sup.task_states(world.payment_id) == [s.strip() for s in states.split(",")]


@then("the books are clean")
def _books_clean(world: World) -> None:
    """All entries sum to zero, no hold is open for the merchant, the row equals its events."""
    check = sup.ledger_check(world.m.merchant_id)
    assert check == {
        "entries_sum_zero": True,
        "balances_match_entries": True,
        "holds_match_balances": True,
        "open_holds": 0,
        "open_refunds": 0,
    }, check
    result = sup.replay_payment(world.payment_id)
    assert result.matches, (world.payment_id, result.differences)
