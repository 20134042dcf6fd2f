"""Steps for features/payments/*.feature: payments through the whole running stack.

Each scenario registers its own merchant, so balances are its own; faults are scoped to the
scenario's payment (its description or its id) and removed afterwards, even on failure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import payments_support as sup
import pytest
import runtimes_support as rt
from pytest_bdd import given, parsers, scenarios, then, when

from paylab.wallet import ledger

pytestmark = [pytest.mark.stack, pytest.mark.timeout(240)]
scenarios("payments/card_payments.feature")
scenarios("payments/pse_payments.feature")
scenarios("payments/wallet_payments.feature")
scenarios("payments/refunds.feature")

APPROVED_CARD = "4575623182290326"
SILENT_BANK = "9995"


@dataclass
class World:
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
    card: str = APPROVED_CARD
    card_before: Decimal = Decimal("0")

    @property
    def m(self) -> sup.Merchant:
        assert self.merchant is not None, "no merchant: the Background logs one in"
        return self.merchant

    @property
    def description(self) -> str:
        return f"QA {self.reference}"

    def created_payment(self, response: httpx.Response) -> str:
        assert response.status_code == 201, response.text
        self.created = response.json()
        self.payment_id = str(self.created["id"])
        if self.payment_id not in self.payment_ids:
            self.payment_ids.append(self.payment_id)
        return self.payment_id


@pytest.fixture
def world() -> Iterator[World]:
    with ExitStack() as stack:
        faults = sup.Faults()
        stack.callback(faults.clear)
        w = World(stack, faults)
        yield w
        if w.merchant is not None:
            w.merchant.http.close()


# ------------------------------------------------------------------------------- merchants
@given("a new merchant is logged in through the gateway")
def _merchant(world: World) -> None:
    world.merchant = sup.register_merchant()
    world.before = world.m.balance()


# ------------------------------------------------------------------------------- card
def _charge(world: World, amount: str, number: str) -> None:
    if number == APPROVED_CARD:  # shared by every run: others' payments spend it down
        sup.ensure_card_balance(number)
    body = sup.card_payment(amount, number, reference=world.reference, email=world.email)
    world.created_payment(world.m.pay(body))


@when(parsers.parse('the merchant charges "{amount}" COP to card "{number}"'))
def _charge_card(world: World, amount: str, number: str) -> None:
    _charge(world, amount, number)


@when(parsers.parse('the merchant charges "{amount}" COP to card "{number}" for a blocked email'))
def _charge_blocked(world: World, amount: str, number: str) -> None:
    world.cleanup.enter_context(sup.blocked_email(world.email))
    _charge(world, amount, number)


def _authorizations(world: World) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/v1/authorizations",
        "body": {"description": world.description},
    }


@given(parsers.parse("the bank fails the next {n:d} authorizations with status {status:d}"))
def _bank_fails_next(world: World, n: int, status: int) -> None:
    world.faults.add(
        "bank",
        {
            "match": _authorizations(world),
            "effect": {"type": "error", "status": status},
            "when": {"next": n},
        },
    )


@given(parsers.parse("the bank fails every authorization with status {status:d}"))
def _bank_fails_all(world: World, status: int) -> None:
    world.faults.add(
        "bank", {"match": _authorizations(world), "effect": {"type": "error", "status": status}}
    )


@given(parsers.parse("the bank takes {seconds:d} seconds to answer this merchant's authorizations"))
def _bank_slow(world: World, seconds: int) -> None:
    world.faults.add(
        "bank",
        {"match": _authorizations(world), "effect": {"type": "latency", "ms": seconds * 1000}},
    )


@then(parsers.parse("the bank saw {n:d} authorization attempts"))
def _bank_saw(world: World, n: int) -> None:
    assert sup.bank_authorizations(world.payment_id) == n


@then("no execution was started for it")
def _no_execution(world: World) -> None:
    assert not sup.execution_exists(world.payment_id)


@when(
    parsers.parse("the merchant sends the same card payment {n:d} times with one Idempotency-Key")
)
def _same_key(world: World, n: int) -> None:
    sup.ensure_card_balance(APPROVED_CARD)
    body = sup.card_payment("25000.00", APPROVED_CARD, reference=world.reference, email=world.email)
    key = sup.unique("idem")
    world.answers = [world.m.pay(body, key=key) for _ in range(n)]
    world.created_payment(world.answers[0])


@then("there is exactly one payment with that reference")
def _one_payment(world: World) -> None:
    r = world.m.call("GET", "/v1/payments", params={"reference": world.reference})
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["items"]] == [world.payment_id]


@then("every answer carried the same payment id")
def _same_id(world: World) -> None:
    assert [a.status_code for a in world.answers] == [201] * len(world.answers)
    assert {a.json()["id"] for a in world.answers} == {world.payment_id}


@given(parsers.parse('an approved card payment of "{amount}" COP'))
def _approved(world: World, amount: str) -> None:
    _charge(world, amount, APPROVED_CARD)
    assert world.m.wait_final(world.payment_id)["status"] == "approved"


@when("the merchant refunds it")
def _refund(world: World) -> None:
    world.refund = world.m.call("POST", f"/v1/payments/{world.payment_id}/refund")


@then(parsers.parse('the payment is "{status}" with cod_respuesta {code:d}'))
def _payment_is(world: World, status: str, code: int) -> None:
    assert world.refund is not None and world.refund.status_code == 200, world.refund
    got = world.m.payment(world.payment_id)
    assert (got["status"], got["cod_respuesta"]) == (status, code), got


@given("a payer card of its own")
def _own_card(world: World) -> None:
    world.card = sup.new_card_number()
    world.card_before = sup.card_balance(world.card)


@when(parsers.parse('the merchant charges "{amount}" COP to that card'))
def _charge_own_card(world: World, amount: str) -> None:
    _charge(world, amount, world.card)


@given(parsers.parse('an approved card payment of "{amount}" COP on that card'))
def _approved_on_card(world: World, amount: str) -> None:
    _charge(world, amount, world.card)
    assert world.m.wait_final(world.payment_id)["status"] == "approved"


@given(parsers.parse('an approved payment of "{amount}" COP from that wallet'))
def _approved_from_wallet(world: World, amount: str) -> None:
    _charge_wallet(world, amount)
    assert world.m.wait_final(world.payment_id)["status"] == "approved"


@given("the merchant has paid out its whole available balance")
def _paid_out(world: World) -> None:
    sup.pay_out(world.m.merchant_id, world.m.balance()["available"])
    world.before = world.m.balance()
    assert world.before["available"] == 0, world.before


@then("the card's balance at the bank is back where it was")
def _card_back(world: World) -> None:
    assert sup.card_balance(world.card) == world.card_before


@then("the card's balance at the bank still shows the payment")
def _card_charged(world: World) -> None:
    amount = Decimal(world.m.payment(world.payment_id)["amount"])
    assert sup.card_balance(world.card) == world.card_before - amount


@then("the payment left nothing on the card clearing account nor the fee account")
def _nothing_left(world: World) -> None:
    moved = sup.payment_movements(world.payment_id)
    assert moved[ledger.SystemAccount.CLEARING_CARD] == 0, moved
    assert moved[ledger.SystemAccount.FEES] == 0, moved


@then(parsers.parse('the refund is refused with {status:d} "{slug}"'))
def _refund_refused(world: World, status: int, slug: str) -> None:
    assert world.refund is not None
    assert world.refund.status_code == status, world.refund.text
    assert world.refund.headers["content-type"].startswith("application/problem+json")
    assert world.refund.json()["type"].endswith(f"/{slug}"), world.refund.json()


@then(parsers.parse('the payment is still "{status}" with cod_respuesta {code:d}'))
def _still(world: World, status: str, code: int) -> None:
    got = world.m.payment(world.payment_id)
    assert (got["status"], got["cod_respuesta"]) == (status, code), got


# ------------------------------------------------------------------------------- a dying service
@when("the wallet service is killed while the funds are held")
def _kill_wallet(world: World) -> None:
    sup.wait_for(
        "the SAGA to hold the funds",
        lambda: True if sup.ledger_check(world.m.merchant_id)["open_holds"] == 1 else None,
        timeout=30.0,
    )
    argv = sup.recorded_argv("wallet")
    # Whatever happens next, the wallet runs again after the scenario.
    world.cleanup.callback(
        lambda: None if sup.service_running("wallet") else sup.start_service("wallet", argv, 8003)
    )
    sup.kill_service("wallet")
    world.created["wallet_argv"] = argv


@when("the wallet service is started again after the SAGA failed to reach it")
def _restart_wallet(world: World) -> None:
    sup.wait_for(
        "CaptureFunds to fail against the stopped wallet",
        lambda: True if sup.failed_attempts(world.payment_id).get("CaptureFunds") else None,
        timeout=30.0,
    )
    assert sup.execution_status(world.payment_id) == "RUNNING"
    sup.start_service("wallet", world.created["wallet_argv"], 8003)


# ------------------------------------------------------------------------------- a dying Lambda
@when(parsers.parse('the runtime process of the "{step}" Lambda is killed in the middle of it'))
def _kill_runtime(world: World, step: str) -> None:
    # The scenario's partner fault keeps its own call open; others' calls end in milliseconds.
    victim = rt.busy_runtime(step, busy_for=1.0, timeout=30.0)
    assert sup.execution_status(world.payment_id) == "RUNNING"
    rt.kill(victim)


@then(parsers.parse('the SAGA retried "{step}" after its runtime died'))
def _retried_dead_runtime(world: World, step: str) -> None:
    errors = rt.task_errors(world.payment_id)
    assert (step, "Runtime.ExitError") in errors, errors


# ------------------------------------------------------------------------------- PSE
@given(
    parsers.parse("an operator has this merchant's PSE payments wait {seconds:d} seconds at most")
)
def _short_pse_timeout(world: World, seconds: int) -> None:
    merchant_id = world.m.merchant_id
    world.cleanup.callback(sup.set_pse_timeout, merchant_id, None)
    assert sup.set_pse_timeout(merchant_id, seconds) == seconds


@given("PSE sends every confirmation of the payment twice")
def _duplicates(world: World) -> None:
    world.duplicate_confirmations = True  # scoped to the payment once its id is known


def _start_pse(world: World, amount: str, bank: str) -> None:
    body = sup.pse_payment(amount, bank, reference=world.reference, email=world.email)
    payment_id = world.created_payment(world.m.pay(body))
    if world.duplicate_confirmations:
        world.faults.add(
            "pse",
            {
                "match": {"path": "/callbacks/pse", "body": {"reference": payment_id}},
                "effect": {"type": "duplicate", "copies": 1},
            },
        )


@when(parsers.parse('the merchant starts a PSE payment of "{amount}" COP with bank "{bank}"'))
def _pse_bank(world: World, amount: str, bank: str) -> None:
    _start_pse(world, amount, bank)


@when(
    parsers.parse(
        'the merchant starts a PSE payment of "{amount}" COP with the bank that never answers'
    )
)
def _pse_silent(world: World, amount: str) -> None:
    _start_pse(world, amount, SILENT_BANK)


@when("the payer approves it at the bank's page")
def _payer_approves(world: World) -> None:
    page_url = world.created["next_action"]["redirect_url"]
    page = httpx.get(page_url, timeout=10.0)
    assert page.status_code == 200 and 'value="approve"' in page.text, page.text[:300]
    decided = httpx.post(
        f"{page_url}/decision", data={"decision": "approve"}, follow_redirects=False, timeout=10.0
    )
    assert decided.status_code == 303, decided.text


@when("a late confirmation that PSE rejected the same transfer arrives")
def _late_rejection(world: World) -> None:
    world.m.wait_final(world.payment_id)
    drained = httpx.post(f"{sup.SIMS['pse']}/_sim/callbacks/drain", params={"timeout_ms": 10000})
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


@then(parsers.parse('the SAGA retried "{state}" while the wallet was down'))
def _retried(world: World, state: str) -> None:
    assert sup.failed_attempts(world.payment_id).get(state, 0) >= 1


@then("the payment has exactly one final event")
def _one_final_event(world: World) -> None:
    finals = sup.final_events(world.payment_id)
    assert [(e.type, e.data["status"]) for e in finals] == [("PaymentCompleted", "approved")]


# ------------------------------------------------------------------------------- wallet
@given(parsers.parse('a payer wallet with "{amount}" COP'))
def _payer_wallet(world: World, amount: str) -> None:
    created = world.m.call(
        "POST",
        "/v1/wallets",
        json={"currency": "COP", "reference": world.email},
        key=sup.unique("w"),
    )
    assert created.status_code == 201, created.text
    world.wallet_id = str(created.json()["id"])
    topup = world.m.call(
        "POST",
        f"/v1/wallets/{world.wallet_id}/topups",
        json={"amount": amount, "currency": "COP"},
        key=sup.unique("topup"),
    )
    assert topup.status_code == 201, topup.text


@when(parsers.parse('the merchant charges "{amount}" COP to that wallet'))
def _charge_wallet(world: World, amount: str) -> None:
    body = sup.wallet_payment(amount, world.wallet_id, reference=world.reference, email=world.email)
    world.created_payment(world.m.pay(body))


@then(parsers.parse('the wallet shows "{available}" available and "{held}" held'))
def _wallet_shows(world: World, available: str, held: str) -> None:
    r = world.m.call("GET", f"/v1/wallets/{world.wallet_id}")
    assert r.status_code == 200, r.text
    assert (r.json()["available"], r.json()["held"]) == (available, held), r.json()


# ------------------------------------------------------------------------------- outcomes
@then(parsers.parse('the payment ends "{status}" with cod_respuesta {code:d}'))
def _ends(world: World, status: str, code: int) -> None:
    got = world.m.wait_final(world.payment_id)
    assert (got["status"], got["cod_respuesta"]) == (status, code), got


@then(parsers.parse('the merchant\'s available balance grew by "{amount}" less the platform fee'))
def _grew(world: World, amount: str) -> None:
    gross = Decimal(amount)
    after = world.m.balance()
    assert after["available"] - world.before["available"] == gross - sup.platform_fee(gross)
    assert after["pending"] == world.before["pending"]


@then("the merchant's balances did not change")
def _unchanged(world: World) -> None:
    assert world.m.balance() == world.before


@then(parsers.parse('the execution went through "{states}"'))
def _went_through(world: World, states: str) -> None:
    assert sup.finished_execution(world.payment_id) == "SUCCEEDED"
    assert sup.task_states(world.payment_id) == [s.strip() for s in states.split(",")]


@then("the books are clean")
def _books_clean(world: World) -> None:
    """All entries sum to zero, no hold is open for the merchant, rows equal their events."""
    check = sup.ledger_check(world.m.merchant_id)
    assert check == {
        "entries_sum_zero": True,
        "balances_match_entries": True,
        "holds_match_balances": True,
        "open_holds": 0,
        "open_refunds": 0,
    }, check
    assert world.payment_ids, "the scenario made no payment"
    for payment_id in world.payment_ids:
        result = sup.replay_payment(payment_id)
        assert result.matches, (payment_id, result.differences)
