"""Steps for features/messaging/audit_durability.feature: audit down, nothing lost.

The audit service is stopped by its PID file and started again with the argv `up` recorded
(services_support); the workers process's queue consumers are paused and resumed by signal
(messaging_support). Both run again after the scenario whatever happens.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import messaging_scenario as scenario
import messaging_support as msg
import payments_support as sup
import pytest
import services_support as svc
from messaging_scenario import World
from pytest_bdd import given, parsers, scenarios, then, when

pytestmark = [pytest.mark.stack, pytest.mark.timeout(300)]
scenarios("messaging/audit_durability.feature")


@pytest.fixture
def world() -> Iterator[World]:
    with ExitStack() as stack:
        yield World(cleanup=stack)


@given("a merchant logged in through the gateway")
def merchant_logged_in(world: World) -> None:
    world.merchant = sup.register_merchant("qa-audit")
    world.cleanup.callback(world.m.http.close)
    sup.ensure_card_balance(scenario.APPROVED_CARD)


@given("the audit service is stopped, and the queue consumers with it")
def audit_stopped(world: World) -> None:
    # The consumers are threads of the workers process (audit's among them): paused, while
    # the outbox relay keeps sending to the queues, as with audit down as a whole.
    msg.pause_consumers()
    world.cleanup.callback(lambda: msg.resume_consumers() if msg.consumers_paused() else None)
    world.stopped_argv["audit"] = svc.stop_for_scenario("audit", world.cleanup)


@when(parsers.parse("the payer pays {amount} COP by card and the payment is approved"))
def pay_approved(world: World, amount: str) -> None:
    scenario.pay_approved(world, amount)


@then("none of the payment's events is in the audit log yet")
def none_yet(world: World) -> None:
    def all_sent() -> bool | None:
        [(left, rows)] = sup.service_rows(
            "payment",
            "SELECT count(*) FILTER (WHERE published_at IS NULL), count(*)"
            " FROM payment.outbox WHERE aggregate_id = :id",
            id=world.payment_id,
        )
        return (left == 0 and rows > 0) or None

    # Every event of the payment has left its outbox (so is in audit-ops, or was lost).
    sup.wait_for("the relay to send the payment's events", all_sent, timeout=scenario.EMAIL_WAIT)
    [(stored,)] = sup.service_rows(
        "audit", "SELECT count(*) FROM audit.events WHERE subject_id = :id", id=world.payment_id
    )
    assert stored == 0


@when("the audit service and the queue consumers start again")
def audit_starts(world: World) -> None:
    svc.start_again("audit", world.stopped_argv["audit"])
    msg.resume_consumers()


def _types_once(world: World, subject_id: str, expected: set[str]) -> Counter[str]:
    """The subject's audit event types, once every expected one is there and audit-ops drained."""
    sup.wait_for(
        f"{sorted(expected)} of {subject_id} in the audit log",
        lambda: expected <= {r["type"] for r in msg.audit_rows(world.m.http, subject_id)} or None,
        timeout=scenario.EMAIL_WAIT,
    )
    sup.wait_for(
        "audit-ops to drain",
        lambda: msg.queue_drained("audit-ops") or None,
        timeout=scenario.EMAIL_WAIT,
    )
    return Counter(r["type"] for r in msg.audit_rows(world.m.http, subject_id))


@then(parsers.parse("the audit log has each of the payment's events once: {types}"))
def payment_events_once(world: World, types: str) -> None:
    expected = {t.strip() for t in types.split(",")}
    counts = _types_once(world, world.payment_id, expected)
    assert {t: counts[t] for t in expected} == dict.fromkeys(expected, 1), counts


@then("the audit log has the merchant's BalanceUpdated events of the payment once each")
def balance_updates_once(world: World) -> None:
    # The hold is on the merchant's account (its pending balance, ARCHITECTURE §4); creating
    # the merchant's COP account again answers the one it has.
    r = httpx.post(
        f"{sup.WALLET}/internal/accounts",
        json={"merchant_id": world.m.merchant_id, "currency": "COP"},
        headers=msg.internal_headers(),
        timeout=10.0,
    )
    assert r.status_code == 200, r.text
    account = str(r.json()["id"])

    def updates() -> Counter[str]:
        return Counter(
            r["data"]["posting_kind"]
            for r in msg.audit_rows(world.m.http, account)
            if r["type"] == "BalanceUpdated" and r["data"].get("payment_id") == world.payment_id
        )

    sup.wait_for(
        "the reserve's and the capture's BalanceUpdated in the audit log",
        lambda: {"reserve", "capture"} <= set(updates()) or None,
        timeout=scenario.EMAIL_WAIT,
    )
    assert updates() == Counter({"reserve": 1, "capture": 1}), updates()
