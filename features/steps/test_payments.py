"""Steps for features/payments/{card_payments,wallet_payments,refunds}.feature.

Card and wallet payments and their refunds through the whole running stack, with faults at
the bank and a dying wallet service or Lambda runtime. The steps these features share with
PSE and held payments (the merchant, outcomes, balances, the books) are in conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import payments_support as sup
import pytest
import saga_support as saga
from payment_fault_steps import *  # noqa: F403 (pytest-bdd steps: a dying wallet or runtime)
from payment_scenario import PaymentWorld, payment_world
from pytest_bdd import given, parsers, scenarios, then, when

from paylab.wallet import ledger

pytestmark = [pytest.mark.stack, pytest.mark.timeout(240)]
scenarios("payments/card_payments.feature")
scenarios("payments/wallet_payments.feature")
scenarios("payments/refunds.feature")


@pytest.fixture
def world() -> Iterator[PaymentWorld]:
    with payment_world() as w:
        yield w


# ------------------------------------------------------------------------------- card
def _charge(world: PaymentWorld, amount: str, number: str) -> None:
    if number == sup.APPROVED_CARD:  # shared by every run: others' payments spend it down
        sup.ensure_card_balance(number)
    body = sup.card_payment(amount, number, reference=world.reference, email=world.email)
    world.created_payment(world.m.pay(body))


@when(parsers.parse('the merchant charges "{amount}" COP to card "{number}"'))
def _charge_card(world: PaymentWorld, amount: str, number: str) -> None:
    _charge(world, amount, number)


@when(parsers.parse('the merchant charges "{amount}" COP to card "{number}" for a blocked email'))
def _charge_blocked(world: PaymentWorld, amount: str, number: str) -> None:
    world.cleanup.enter_context(sup.blocked_email(world.email))
    _charge(world, amount, number)


def _authorizations(world: PaymentWorld) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/v1/authorizations",
        "body": {"description": world.description},
    }


@given(parsers.parse("the bank fails the next {n:d} authorizations with status {status:d}"))
def _bank_fails_next(world: PaymentWorld, n: int, status: int) -> None:
    world.faults.add(
        "bank",
        {
            "match": _authorizations(world),
            "effect": {"type": "error", "status": status},
            "when": {"next": n},
        },
    )


@given(parsers.parse("the bank fails every authorization with status {status:d}"))
def _bank_fails_all(world: PaymentWorld, status: int) -> None:
    world.faults.add(
        "bank", {"match": _authorizations(world), "effect": {"type": "error", "status": status}}
    )


@given(parsers.parse("the bank takes {seconds:d} seconds to answer this merchant's authorizations"))
def _bank_slow(world: PaymentWorld, seconds: int) -> None:
    world.faults.add(
        "bank",
        {"match": _authorizations(world), "effect": {"type": "latency", "ms": seconds * 1000}},
    )


@given("the bank charges this merchant's cards but cuts every answer short")
def _bank_answers_lost(world: PaymentWorld) -> None:
    world.faults.add("bank", {"match": _authorizations(world), "effect": {"type": "malformed"}})


@then("the bank refunded the payment's authorization once")
def _bank_refunded_once(world: PaymentWorld) -> None:
    (auth,) = sup.bank_authorizations_of(world.payment_id)
    assert auth["status"] == "refunded", auth
    assert sup.bank_refunds(auth["id"]) == 1


@then(parsers.parse("the bank saw {n:d} authorization attempts"))
def _bank_saw(world: PaymentWorld, n: int) -> None:
    assert sup.bank_authorizations(world.payment_id) == n


@then("no execution was started for it")
def _no_execution(world: PaymentWorld) -> None:
    assert not saga.execution_exists(world.payment_id)


@when(
    parsers.parse("the merchant sends the same card payment {n:d} times with one Idempotency-Key")
)
def _same_key(world: PaymentWorld, n: int) -> None:
    sup.ensure_card_balance(sup.APPROVED_CARD)
    body = sup.card_payment(
        "25000.00", sup.APPROVED_CARD, reference=world.reference, email=world.email
    )
    key = sup.unique("idem")
    world.answers = [world.m.pay(body, key=key) for _ in range(n)]
    world.created_payment(world.answers[0])


@then("there is exactly one payment with that reference")
def _one_payment(world: PaymentWorld) -> None:
    r = world.m.call("GET", "/v1/payments", params={"reference": world.reference})
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["items"]] == [world.payment_id]


@then("every answer carried the same payment id")
def _same_id(world: PaymentWorld) -> None:
    assert [a.status_code for a in world.answers] == [201] * len(world.answers)
    assert {a.json()["id"] for a in world.answers} == {world.payment_id}


@given(parsers.parse('an approved card payment of "{amount}" COP'))
def _approved(world: PaymentWorld, amount: str) -> None:
    _charge(world, amount, sup.APPROVED_CARD)
    assert world.m.wait_final(world.payment_id)["status"] == "approved"


@when("the merchant refunds it")
def _refund(world: PaymentWorld) -> None:
    world.refund = world.m.call("POST", f"/v1/payments/{world.payment_id}/refund")


@then(parsers.parse('the payment is "{status}" with cod_respuesta {code:d}'))
def _payment_is(world: PaymentWorld, status: str, code: int) -> None:
    assert world.refund is not None and world.refund.status_code == 200, world.refund
    got = world.m.payment(world.payment_id)
    assert (got["status"], got["cod_respuesta"]) == (status, code), got


@given("a payer card of its own")
def _own_card(world: PaymentWorld) -> None:
    world.card = sup.new_card_number()
    world.card_before = sup.card_balance(world.card)


@when(parsers.parse('the merchant charges "{amount}" COP to that card'))
def _charge_own_card(world: PaymentWorld, amount: str) -> None:
    _charge(world, amount, world.card)


@given(parsers.parse('an approved card payment of "{amount}" COP on that card'))
def _approved_on_card(world: PaymentWorld, amount: str) -> None:
    _charge(world, amount, world.card)
    assert world.m.wait_final(world.payment_id)["status"] == "approved"


@given(parsers.parse('an approved payment of "{amount}" COP from that wallet'))
def _approved_from_wallet(world: PaymentWorld, amount: str) -> None:
    _charge_wallet(world, amount)
    assert world.m.wait_final(world.payment_id)["status"] == "approved"


@given("the merchant has paid out its whole available balance")
def _paid_out(world: PaymentWorld) -> None:
    saga.pay_out(world.m.merchant_id, world.m.balance()["available"])
    world.before = world.m.balance()
    assert world.before["available"] == 0, world.before


@then("the card's balance at the bank is back where it was")
def _card_back(world: PaymentWorld) -> None:
    assert sup.card_balance(world.card) == world.card_before


@then("the card's balance at the bank still shows the payment")
def _card_charged(world: PaymentWorld) -> None:
    amount = Decimal(world.m.payment(world.payment_id)["amount"])
    assert sup.card_balance(world.card) == world.card_before - amount


@then("the payment left nothing on the card clearing account nor the fee account")
def _nothing_left(world: PaymentWorld) -> None:
    moved = saga.payment_movements(world.payment_id)
    assert moved[ledger.SystemAccount.CLEARING_CARD] == 0, moved
    assert moved[ledger.SystemAccount.FEES] == 0, moved


@then(parsers.parse('the refund is refused with {status:d} "{slug}"'))
def _refund_refused(world: PaymentWorld, status: int, slug: str) -> None:
    assert world.refund is not None
    assert world.refund.status_code == status, world.refund.text
    assert world.refund.headers["content-type"].startswith("application/problem+json")
    assert world.refund.json()["type"].endswith(f"/{slug}"), world.refund.json()


@then(parsers.parse('the payment is still "{status}" with cod_respuesta {code:d}'))
def _still(world: PaymentWorld, status: str, code: int) -> None:
    got = world.m.payment(world.payment_id)
    assert (got["status"], got["cod_respuesta"]) == (status, code), got


# ------------------------------------------------------------------------------- wallet
@given(parsers.parse('a payer wallet with "{amount}" COP'))
def _payer_wallet(world: PaymentWorld, amount: str) -> None:
    created = world.m.call(
        "POST",
        "/v1/wallets",
        json={"currency": "COP", "reference": world.email},
        key=sup.unique("w"),
    )
    assert created.status_code == 201, created.text
    world.wallet_id = str(created.json()["id"])
    # Top-ups are internal (an operator's, a test's): the gateway does not route them.
    refused = world.m.call(
        "POST",
        f"/v1/wallets/{world.wallet_id}/topups",
        json={"amount": amount, "currency": "COP"},
        key=sup.unique("topup"),
    )
    assert refused.status_code == 404, refused.text
    sup.top_up(world.m.merchant_id, world.wallet_id, amount)


@when(parsers.parse('the merchant charges "{amount}" COP to that wallet'))
def _charge_wallet(world: PaymentWorld, amount: str) -> None:
    body = sup.wallet_payment(amount, world.wallet_id, reference=world.reference, email=world.email)
    world.created_payment(world.m.pay(body))


@then(parsers.parse('the wallet shows "{available}" available and "{held}" held'))
def _wallet_shows(world: PaymentWorld, available: str, held: str) -> None:
    r = world.m.call("GET", f"/v1/wallets/{world.wallet_id}")
    assert r.status_code == 200, r.text
    assert (r.json()["available"], r.json()["held"]) == (available, held), r.json()
