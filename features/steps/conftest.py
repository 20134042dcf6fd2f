"""Steps that more than one step module binds: one definition per step text.

pytest-bdd finds steps defined in a conftest.py for every test module below it. Each step
module declares its own `world` fixture; the steps here use what its World has:
payment_scenario.PaymentWorld (test_payments, test_pse_payments, test_held) or
merchant_scenario.MerchantWorld (test_merchants, test_webhooks).
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import merchant_scenario as scenario
import merchants_support as ms
import payments_support as sup
import saga_support as saga
from merchant_scenario import MerchantWorld
from payment_scenario import PaymentWorld
from pytest_bdd import given, parsers, then, when


# ------------------------------------------------------------------------------- payments
@given("a new merchant is logged in through the gateway")
def _merchant(world: PaymentWorld) -> None:
    world.merchant = sup.register_merchant()
    world.before = world.m.balance()


@when(parsers.parse('the merchant starts a PSE payment of "{amount}" COP with bank "{bank}"'))
def _pse_bank(world: PaymentWorld, amount: str, bank: str) -> None:
    world.start_pse(amount, bank)


@when("the payer approves it at the bank's page")
def _payer_approves(world: PaymentWorld) -> None:
    """As the payer would: the bank page the 201 gave, or (held for review) a later GET's."""
    action = world.created["next_action"] or world.m.payment(world.payment_id)["next_action"]
    assert action is not None, "the payment sends the payer to no bank page"
    page_url = action["redirect_url"]
    page = httpx.get(page_url, timeout=10.0)
    assert page.status_code == 200 and 'value="approve"' in page.text, page.text[:300]
    decided = httpx.post(
        f"{page_url}/decision", data={"decision": "approve"}, follow_redirects=False, timeout=10.0
    )
    assert decided.status_code == 303, decided.text


@then(parsers.parse('the payment ends "{status}" with cod_respuesta {code:d}'))
def _ends(world: PaymentWorld | MerchantWorld, status: str, code: int) -> None:
    got = world.m.wait_final(world.payment_id)
    assert (got["status"], got["cod_respuesta"]) == (status, code), got


@then(parsers.parse('the merchant\'s available balance grew by "{amount}" less the platform fee'))
def _grew(world: PaymentWorld, amount: str) -> None:
    gross = Decimal(amount)
    after = world.m.balance()
    assert after["available"] - world.before["available"] == gross - sup.platform_fee(gross)
    assert after["pending"] == world.before["pending"]


@then("the merchant's balances did not change")
def _unchanged(world: PaymentWorld) -> None:
    assert world.m.balance() == world.before


@then(parsers.parse('the execution went through "{states}"'))
def _went_through(world: PaymentWorld, states: str) -> None:
    assert saga.finished_execution(world.payment_id) == "SUCCEEDED"
    assert saga.task_states(world.payment_id) == [s.strip() for s in states.split(",")]


@then(
    parsers.parse(
        '`paylab payments saga` shows "{state}" failing with "{error}" until caught, '
        'then "{compensation}"'
    )
)
def _saga_cli(world: PaymentWorld, state: str, error: str, compensation: str) -> None:
    """What an operator reads: every try of `state` failed with `error`, a Catch took over."""
    answer = ms.paylab("payments", "saga", world.payment_id)
    assert answer["payment"]["status"] == world.m.payment(world.payment_id)["status"], answer
    steps = answer["steps"]
    [failing] = [s for s in steps if s["state"] == state]
    assert failing["outcome"] == "caught", failing
    assert len(failing["errors"]) == failing["attempts"] >= 1, failing
    assert all(e.startswith(error) for e in failing["errors"]), failing["errors"]
    after = [s["state"] for s in steps[steps.index(failing) + 1 :]]
    assert failing["next_state"] == after[0] and compensation in after, after


# ------------------------------------------------------------------------------- partial refunds
@when(parsers.parse('the merchant refunds "{amount}" of it with Idempotency-Key "{key}"'))
def _refund_part(world: PaymentWorld, amount: str, key: str) -> None:
    world.refund = world.m.call(
        "POST",
        f"/v1/payments/{world.payment_id}/refund",
        json={"amount": amount},
        key=f"{world.reference}-{key}",  # keys are the merchant's: unique per scenario
    )


@when(parsers.parse('the merchant refunds "{amount}" of it without an Idempotency-Key'))
def _refund_part_keyless(world: PaymentWorld, amount: str) -> None:
    path = f"/v1/payments/{world.payment_id}/refund"
    world.refund = world.m.call("POST", path, json={"amount": amount})


@then(parsers.parse('the payment is "{status}" with "{refunded}" refunded'))
def _refunded_so_far(world: PaymentWorld, status: str, refunded: str) -> None:
    assert world.refund is not None and world.refund.status_code == 200, world.refund.text
    answered = world.refund.json()
    got = world.m.payment(world.payment_id)
    assert (got["status"], got["refunded_amount"]) == (status, refunded), got
    assert (answered["status"], answered["refunded_amount"]) == (status, refunded), answered


@then(parsers.parse('the card\'s balance at the bank is "{amount}" below where it was'))
def _card_below(world: PaymentWorld, amount: str) -> None:
    assert sup.card_balance(world.card) == world.card_before - Decimal(amount)


@then("the books are clean")
def _books_clean(world: PaymentWorld) -> None:
    """All entries sum to zero, no hold is open for the merchant, rows equal their events."""
    check = saga.ledger_check(world.m.merchant_id)
    assert check == {
        "entries_sum_zero": True,
        "balances_match_entries": True,
        "holds_match_balances": True,
        "open_holds": 0,
        "open_refunds": 0,
    }, check
    assert world.payment_ids, "the scenario made no payment"
    for payment_id in world.payment_ids:
        result = saga.replay_payment(payment_id)
        assert result.matches, (payment_id, result.differences)


# ------------------------------------------------------------------------------- merchants
@when(parsers.parse('the merchant charges "{amount}" COP to an approved card'))
def _charge_approved(world: MerchantWorld, amount: str) -> None:
    scenario.charge(world, amount, sup.APPROVED_CARD)


@then(
    parsers.parse(
        "the receiver records exactly one confirmation of the payment with x_cod_response {cod:d}"
    )
)
def _one_confirmation(world: MerchantWorld, cod: int) -> None:
    sup.wait_for(
        f"a confirmation of {world.ref_payco} at the receiver",
        lambda: ms.confirmations(world.ref_payco) or None,
        timeout=scenario.WEBHOOK_WAIT,
    )
    # Delivered and nothing left to retry: a second copy can no longer be on its way.
    sup.wait_for(
        "the delivery marked delivered",
        lambda: ms.delivery_in(world.m, world.payment_id, "delivered"),
        timeout=scenario.WEBHOOK_WAIT,
    )
    sup.wait_for(
        "merchant-webhooks to drain", ms.webhooks_queue_drained, timeout=scenario.WEBHOOK_WAIT
    )
    fields = scenario.the_confirmation(world)["fields"]
    assert fields["x_cod_response"] == str(cod), fields
    assert fields["x_transaction_id"] == world.payment_id
    assert fields["x_cust_id_cliente"] == world.keys["p_cust_id_cliente"]
    assert fields["x_amount"] == world.m.payment(world.payment_id)["amount"]


@then("its x_signature verifies with the merchant's p_key")
def _signature_verifies(world: MerchantWorld) -> None:
    hook = scenario.the_confirmation(world)
    assert hook["signature_valid"], hook["signature_note"]
    assert ms.signature_ok(hook["fields"], world.keys["p_cust_id_cliente"], world.keys["p_key"])
