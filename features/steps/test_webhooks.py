"""Steps for features/merchants/webhooks.feature: confirmations, retries, the DLQ, a redrive.

Receiver faults are scoped to the scenario's merchant (its p_cust_id_cliente); the "endpoint is
down" scenario restarts the stack's merchant service with a short retry schedule and puts it
back afterwards, even on failure. Shared steps are in conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import merchant_scenario as scenario
import merchants_support as ms
import payments_support as sup
import pytest
import services_support as svc
from merchant_scenario import MerchantWorld, merchant_world
from pytest_bdd import given, parsers, scenarios, then, when

pytestmark = [pytest.mark.stack, pytest.mark.timeout(300)]
scenarios("merchants/webhooks.feature")

DECLINED_CARD = "4151611527583283"
MERCHANT_PORT = 8004
# WebhookFailed → relay → bus → queue, then the consumer's backoff (2, 4, 8 s) before the DLQ.
DEAD_LETTER_WAIT = 120.0


@pytest.fixture
def world() -> Iterator[MerchantWorld]:
    with merchant_world() as w:
        yield w


# ------------------------------------------------------------------------------- signup
@given("a merchant signed up through the gateway with its confirmation URL at the receiver")
def _signed_up_with_url(world: MerchantWorld) -> None:
    world.form = ms.signup_form(confirmation_url=ms.CONFIRMATION_URL)
    body = scenario.sign_up(world)
    assert body["merchant"]["confirmation_url"] == ms.CONFIRMATION_URL
    scenario.log_in(world)
    ms.receiver_knows(world.keys["p_cust_id_cliente"], world.keys["p_key"])


# ------------------------------------------------------------------------------- payments
@when(parsers.parse('the merchant charges "{amount}" COP to a card that the bank declines'))
def _charge_declined(world: MerchantWorld, amount: str) -> None:
    scenario.charge(world, amount, DECLINED_CARD)


# ------------------------------------------------------------------------------- confirmations
@when("the merchant rotates its p_key")
def _rotate(world: MerchantWorld) -> None:
    r = world.m.call("POST", "/v1/merchants/me/signature-keys")
    assert r.status_code == 200, r.text
    world.old_p_key = world.keys["p_key"]
    world.keys["p_key"] = r.json()["p_key"]
    assert world.keys["p_key"] != world.old_p_key
    ms.receiver_knows(world.keys["p_cust_id_cliente"], world.keys["p_key"])


@then("it does not verify with the p_key from before the rotation")
def _old_key_fails(world: MerchantWorld) -> None:
    fields = scenario.the_confirmation(world)["fields"]
    assert not ms.signature_ok(fields, world.keys["p_cust_id_cliente"], world.old_p_key)


# ------------------------------------------------------------------------------- endpoint down
@given(
    parsers.parse(
        "the merchant service gives up on a webhook after {n:d} attempts, "
        "{base:d} s apart and doubling"
    )
)
def _fast_retries(world: MerchantWorld, n: int, base: int) -> None:
    argv = svc.stop_service("merchant")

    def restore() -> None:
        if svc.service_running("merchant"):
            svc.stop_service("merchant")
        svc.start_service("merchant", argv, MERCHANT_PORT)

    world.cleanup.callback(restore)
    # The same settings an operator would set (merchant/settings.py), read at start-up.
    env = {
        "PAYLAB_MERCHANT_WEBHOOK_MAX_ATTEMPTS": str(n),
        "PAYLAB_MERCHANT_WEBHOOK_BACKOFF_BASE_S": str(base),
        "PAYLAB_MERCHANT_DELIVERY_POLL_S": "0.2",
    }
    svc.start_service("merchant", argv, MERCHANT_PORT, env=env)
    world.attempts, world.backoff_base = n, float(base)


@given(parsers.parse("the merchant's endpoint answers {status:d}"))
def _endpoint_down(world: MerchantWorld, status: int) -> None:
    world.fault = ms.endpoint_down(world.keys["p_cust_id_cliente"], status)
    world.cleanup.callback(ms.endpoint_back, world.fault)


@then(
    parsers.parse(
        "the endpoint saw {n:d} attempts at the confirmation, each gap twice the one before"
    )
)
def _growing_gaps(world: MerchantWorld, n: int) -> None:
    sup.wait_for(
        "the delivery to give up",
        lambda: ms.delivery_in(world.m, world.payment_id, "failed"),
        timeout=scenario.WEBHOOK_WAIT,
    )
    posts = ms.failed_posts(world.fault, world.ref_payco)[:n]
    assert len(posts) == n == world.attempts, posts
    gaps = [b["at"] - a["at"] for a, b in pairwise(posts)]
    for i, gap in enumerate(gaps):
        # Scheduled base * 2**i after the answer; the loop polls every 0.2 s, and a busy
        # machine adds the recording, the claim and a connection to each gap.
        assert world.backoff_base * 2**i - 0.05 <= gap <= world.backoff_base * 2**i + 3.0, gaps
    assert gaps == sorted(gaps) and len(set(gaps)) == len(gaps), gaps


@then("the merchant's webhook list shows the confirmation failed")
def _listed_failed(world: MerchantWorld) -> None:
    delivery = ms.delivery_of(world.m, world.payment_id)
    assert delivery is not None and delivery["status"] == "failed", delivery
    assert delivery["attempts"] >= world.attempts
    assert delivery["last_status_code"] == 503, delivery


@then(
    "the retry path tried it again until it landed in the merchant-webhooks DLQ "
    "with the endpoint's error"
)
def _in_dlq(world: MerchantWorld) -> None:
    dead = sup.wait_for(
        f"{world.payment_id}'s WebhookFailed in the DLQ",
        lambda: ms.dead_letter(world.payment_id),
        timeout=DEAD_LETTER_WAIT,
    )
    error = dead["MessageAttributes"]["paylab-last-error"]["StringValue"]
    assert "WebhookStillFailing" in error and "HTTP 503" in error, error
    receives = ms.max_receives()
    assert dead["MessageAttributes"]["paylab-attempts"]["StringValue"] == str(receives)
    # One more POST per receive, each refused by the endpoint. The rule puts every
    # WebhookFailed in one FIFO group and the consumer moves each to its own group first, so
    # ours never waits unhandled behind another merchant's failing one (the stack's other
    # webhooks fail too while the endpoint's merchant service restarts). Each attempt is on a
    # new connection: none is lost to the endpoint closing an idle one as it is sent.
    posts = len(ms.failed_posts(world.fault, world.ref_payco))
    attempts = ms.attempts_of(world.payment_id)
    assert [(n, code) for n, code, _ in attempts] == [
        (n, 503) for n in range(1, world.attempts + receives + 1)
    ], attempts
    assert posts == world.attempts + receives, (posts, world.attempts, receives, attempts)
    delivery = ms.delivery_of(world.m, world.payment_id)
    assert delivery is not None and delivery["attempts"] == len(attempts), (delivery, attempts)
    assert ms.confirmations(world.ref_payco) == []


@then("`paylab dlq list` counts it in the merchant-webhooks DLQ")
def _dlq_list(world: MerchantWorld) -> None:
    [queue] = ms.paylab("dlq", "list", "merchant-webhooks")["queues"]
    assert queue["queue"] == "merchant-webhooks", queue
    assert queue["dlq"]["available"] + queue["dlq"]["in_flight"] >= 1, queue


@when("the merchant's endpoint is back")
def _endpoint_back(world: MerchantWorld) -> None:
    ms.endpoint_back(world.fault)


@when("an operator runs `paylab dlq redrive merchant-webhooks`")
def _redrive(world: MerchantWorld) -> None:
    assert ms.dead_letter(world.payment_id) is not None, "not in the DLQ any more"
    [result] = ms.paylab("dlq", "redrive", "merchant-webhooks")["queues"]
    assert result["redriven"] >= 1, result


@then("the merchant's webhook list shows the confirmation delivered")
def _listed_delivered(world: MerchantWorld) -> None:
    delivery = ms.delivery_of(world.m, world.payment_id)
    assert delivery is not None and delivery["status"] == "delivered", delivery
    assert delivery["last_status_code"] == 200
    assert ms.dead_letter(world.payment_id) is None


# ------------------------------------------------------------------------------- service down
@given("the merchant service is stopped")
def _merchant_stopped(world: MerchantWorld) -> None:
    world.notes["merchant_argv"] = svc.stop_for_scenario("merchant", world.cleanup)


@then("the confirmation waits, recorded, while the merchant service is down")
def _recorded_while_down(world: MerchantWorld) -> None:
    # The outcome came through the merchant-ops queue (no SNS push to a stopped service):
    # the workers' consumer recorded the delivery; nothing has sent it.
    def recorded() -> list[tuple[str, int]] | None:
        rows = sup.service_rows(
            "merchant",
            "SELECT status, attempts FROM merchant.webhook_deliveries WHERE payment_id = :id",
            id=world.payment_id,
        )
        return [(str(status), int(n)) for status, n in rows] or None

    rows = sup.wait_for("the delivery to be recorded", recorded, timeout=scenario.WEBHOOK_WAIT)
    assert rows == [("pending", 0)], rows
    assert not svc.service_running("merchant")
    assert ms.confirmations(world.ref_payco) == []


@when("the merchant service starts again")
def _merchant_starts(world: MerchantWorld) -> None:
    svc.start_again("merchant", world.notes["merchant_argv"])
