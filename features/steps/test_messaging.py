"""Steps for features/messaging/messaging.feature: the ops queues, DLQs and consumers, live.

Each scenario registers its own merchant and pays with its own payer (a unique email and
phone), so what it counts (emails, SMS, audit rows) is its own; faults, stopped processes and
tampered rows are put back afterwards, even on failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack

import messaging_scenario as scenario
import messaging_support as msg
import payments_support as sup
import pytest
from messaging_scenario import World
from pytest_bdd import given, parsers, scenarios, then, when
from typer.testing import CliRunner

from paylab.cli import app as cli
from paylab.core.events import Envelope

pytestmark = [pytest.mark.stack, pytest.mark.timeout(300)]
scenarios("messaging/messaging.feature")


@pytest.fixture
def world() -> Iterator[World]:
    with ExitStack() as stack:
        world = World(cleanup=stack)
        stack.callback(world.restore_audit.close)
        yield world


# ------------------------------------------------------------------------------- background
@given("a merchant logged in through the gateway")
def merchant_logged_in(world: World) -> None:
    world.merchant = sup.register_merchant("qa-msg")
    world.cleanup.callback(world.m.http.close)
    sup.ensure_card_balance(scenario.APPROVED_CARD)


@when(parsers.parse("the payer pays {amount} COP by card and the payment is approved"))
@given(parsers.parse("an approved card payment of {amount} COP"))
def pay_approved(world: World, amount: str) -> None:
    scenario.pay_approved(world, amount)


@when(parsers.parse("the payer makes {n:d} approved card payments of {amount} COP"))
def pay_many(world: World, n: int, amount: str) -> None:
    for _ in range(n):
        scenario.pay_approved(world, amount)


@then("exactly one receipt email was sent for the payment")
def one_receipt(world: World) -> None:
    scenario.exactly_one_receipt(world, world.payment_id)


# ----------------------------------------------------------------------------- SMS outage
@given("the SMS provider answers 503 to the payer's phone")
def sms_down(world: World) -> None:
    world.sms_fault = msg.add_sms_outage(world.phone)
    world.cleanup.callback(lambda: world.sms_fault and msg.remove_sms_fault(world.sms_fault))


@then("the payment's notification lands in the notification-ops DLQ with an SMS error")
def in_dlq(world: World) -> None:
    dlq = msg.queue_url("notification-ops", "Dlq")
    message = sup.wait_for(
        f"{world.payment_id}'s notification in the DLQ",
        lambda: msg.peek(dlq, world.payment_id),
        timeout=scenario.DEAD_LETTER_WAIT,
    )
    error = msg.attribute(message, "paylab-last-error") or ""
    assert "sms" in error.lower() or "503" in error, error
    assert msg.attribute(message, "paylab-attempts") == "4"
    assert msg.sms_delivered_to(world.phone) == []


@when("the SMS provider is back")
def sms_back(world: World) -> None:
    assert world.sms_fault is not None
    msg.remove_sms_fault(world.sms_fault)
    world.sms_fault = None


@when(parsers.parse("an operator redrives {queue} through the gateway"))
def operator_redrives(world: World, queue: str) -> None:
    answer = msg.redrive_through_gateway(queue)
    assert answer["queue"] == queue, answer
    assert answer["redriven"] + answer["parked"] >= 1, answer


@then("exactly one SMS reaches the payer's phone")
def one_sms(world: World) -> None:
    sup.wait_for(
        f"an SMS to {world.phone}",
        lambda: True if msg.sms_delivered_to(world.phone) else None,
        timeout=scenario.EMAIL_WAIT,
    )
    sup.wait_for(
        "notification-ops to drain",
        lambda: msg.queue_drained("notification-ops") or None,
        timeout=scenario.EMAIL_WAIT,
    )
    assert len(msg.sms_delivered_to(world.phone)) == 1


@then("the notification service lists the SMS as sent")
def sms_listed(world: World) -> None:
    r = world.m.call("GET", "/v1/notifications", params={"subject_id": world.payment_id})
    assert r.status_code == 200, r.text
    by_channel = {n["channel"]: n for n in r.json()["items"]}
    assert by_channel["sms"]["status"] == "sent", by_channel
    assert by_channel["sms"]["recipient"] == world.phone
    assert by_channel["email"]["status"] == "sent", by_channel


# ------------------------------------------------------------------------------------ poison
@given("a message that no consumer can read is on the notification-ops queue")
def poison(world: World) -> None:
    world.poison = sup.unique("poison")
    msg.send_raw("notification-ops", f"{{not an envelope {world.poison}", group=world.poison)


@then("the poison message reaches the notification-ops DLQ with its error")
def poison_in_dlq(world: World) -> None:
    dlq = msg.queue_url("notification-ops", "Dlq")
    message = sup.wait_for(
        "the poison message in the DLQ",
        lambda: msg.peek(dlq, world.poison),
        timeout=scenario.DEAD_LETTER_WAIT,
    )
    assert msg.attribute(message, "paylab-last-error"), message


@when("the DLQ is redriven until the poison message is parked")
def redrive_until_parked(world: World) -> None:
    parking = msg.queue_url("notification-ops", "Parking")
    dlq = msg.queue_url("notification-ops", "Dlq")
    world.cleanup.callback(lambda: msg.delete_from(parking, world.poison))
    # Each redrive sends it back; it fails its 4 receives again and returns to the DLQ.
    for _ in range(8):
        if msg.peek(parking, world.poison) is not None:
            return
        sup.wait_for(
            "the poison message back in the DLQ",
            lambda: msg.peek(dlq, world.poison) or msg.peek(parking, world.poison),
            timeout=scenario.DEAD_LETTER_WAIT,
        )
        msg.redrive_through_gateway("notification-ops")
    assert msg.peek(parking, world.poison) is not None, "never parked"


@then("`paylab dlq list` shows the poison message parked with its error")
def parked_listed(world: World) -> None:
    result = CliRunner().invoke(cli, ["dlq", "list", "notification-ops", "--json", "--max", "100"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    parked = [
        p
        for q in listing["queues"]
        for p in q["parked"]
        if world.poison in str(p.get("event_id")) or p.get("group") == world.poison
    ]
    assert len(parked) == 1, listing
    assert parked[0]["redrives"] >= 3
    assert "Error" in parked[0]["last_error"] or "error" in parked[0]["last_error"], parked[0]


# ------------------------------------------------------------------------ stopped consumers
@given("the notification and audit consumers are stopped")
def consumers_stopped(world: World) -> None:
    # The consumers are threads of the worker process: they pause while its relay keeps
    # publishing, so the scenario's events pile up in the queues as with a dead consumer.
    msg.pause_consumers()

    def restart() -> None:
        if msg.consumers_paused():
            msg.resume_consumers()

    world.cleanup.callback(restart)
    world.restart_consumers = restart


@then("no receipt email has been sent for them yet")
def no_receipts_yet(world: World) -> None:
    url = msg.queue_url("notification-ops")
    # Only the consumers stopped: the relay sent each event, and it waits there. Wait on the
    # relay's outbox (no receive), then read the queue once: each read is one of the four
    # receives a message gets before the queue dead-letters it.
    sup.wait_for(
        "the relay to send the payments' notification events",
        lambda: msg.notifications_sent(world.payment_ids) or None,
        timeout=scenario.EMAIL_WAIT,
    )
    found = msg.peek_all(url, world.payment_ids)
    assert sorted(found) == sorted(world.payment_ids), (sorted(found), world.payment_ids)
    for payment_id in world.payment_ids:
        assert scenario.receipts(world, payment_id) == []


@when("the consumers start again")
def consumers_start(world: World) -> None:
    assert world.restart_consumers is not None, "the consumers were not stopped"
    world.restart_consumers()
    assert not msg.consumers_paused()


@then(parsers.parse("each of the {n:d} payments gets exactly one receipt email"))
def each_one_receipt(world: World, n: int) -> None:
    assert len(world.payment_ids) == n
    for payment_id in world.payment_ids:
        scenario.exactly_one_receipt(world, payment_id)


@then(parsers.parse("each of the {n:d} payments' notification events has exactly one audit row"))
def each_one_audit_row(world: World, n: int) -> None:
    for payment_id in world.payment_ids:
        sup.wait_for(
            f"{payment_id}'s audit row",
            lambda p=payment_id: scenario.notify_rows(world, p) or None,
            timeout=scenario.EMAIL_WAIT,
        )
        sup.wait_for(
            "audit-ops to drain",
            lambda: msg.queue_drained("audit-ops") or None,
            timeout=scenario.EMAIL_WAIT,
        )
        assert len(scenario.notify_rows(world, payment_id)) == 1


# ------------------------------------------------------------------------------- duplicates
@when(
    parsers.parse(
        "its notification event is delivered {n:d} more times to notification-ops and audit-ops"
    )
)
def deliver_again(world: World, n: int) -> None:
    scenario.exactly_one_receipt(world, world.payment_id)  # the first delivery is done
    row = sup.wait_for(
        "the notification event's audit row",
        lambda: (scenario.notify_rows(world, world.payment_id) or [None])[0],
        timeout=scenario.EMAIL_WAIT,
    )
    envelope = Envelope.model_validate(
        {
            k: row[k]
            for k in (
                "type",
                "version",
                "source",
                "subject_id",
                "correlation_id",
                "occurred_at",
                "data",
            )
        }
        | {"id": row["event_id"]}
    )
    for copy in range(n):
        for queue in ("notification-ops", "audit-ops"):
            msg.send_envelope(queue, envelope, copy=copy)


@then("the notification event has exactly one audit row")
def one_audit_row(world: World) -> None:
    sup.wait_for(
        "audit-ops to drain",
        lambda: msg.queue_drained("audit-ops") or None,
        timeout=scenario.EMAIL_WAIT,
    )
    assert len(scenario.notify_rows(world, world.payment_id)) == 1


# ------------------------------------------------------------------------------------ audit
@then("the audit chain verifies")
def chain_ok(world: World) -> None:
    result = msg.verify_chain()
    assert result["ok"], result
    assert result["rows_checked"] > 0


@when("a database administrator changes the amount in one audit row")
def tamper(world: World) -> None:
    payment_id = scenario.pay_approved(world, "11000.00")
    row = sup.wait_for(
        "an audit row with an amount",
        lambda: next(
            (r for r in msg.audit_rows(world.m.http, payment_id) if "amount" in r["data"]), None
        ),
        timeout=scenario.EMAIL_WAIT,
    )
    world.broken_seq = int(row["seq"])
    world.restore_audit.enter_context(msg.tampered_amount(world.broken_seq))


@then("verify reports that row as the first broken one")
def broken_found(world: World) -> None:
    result = msg.verify_chain()
    assert not result["ok"], result
    assert result["first_broken"]["seq"] == world.broken_seq, result


@then("the audit chain verifies again once the row is restored")
def chain_ok_again(world: World) -> None:
    world.restore_audit.close()
    result = msg.verify_chain()
    assert result["ok"], result
