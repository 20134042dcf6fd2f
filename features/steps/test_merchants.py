"""Steps for features/merchants/{registration,webhooks}.feature, through the public gateway.

Each scenario signs up its own merchants (unique NITs, its own loopback address) and scopes
receiver faults to its merchant's p_cust_id_cliente; faults, receiver keys and a restarted
merchant service are put back afterwards, even on failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import httpx
import merchants_support as ms
import payments_support as sup
import pytest
from pytest_bdd import given, parsers, scenarios, then, when

pytestmark = [pytest.mark.stack, pytest.mark.timeout(300)]
scenarios("merchants/registration.feature")
scenarios("merchants/webhooks.feature")

DECLINED_CARD = "4151611527583283"
MERCHANT_PORT = 8004
# WebhookFailed → relay → bus → queue, then the consumer's backoff (2, 4, 8 s) before the DLQ.
DEAD_LETTER_WAIT = 120.0
WEBHOOK_WAIT = 60.0


@dataclass
class World:
    """One scenario's partner, merchants, payment and what came back."""

    cleanup: ExitStack
    partner: httpx.Client
    form: dict[str, Any] = field(default_factory=ms.signup_form)
    key: str = field(default_factory=lambda: sup.unique("signup"))
    answers: list[httpx.Response] = field(default_factory=list)
    merchant: sup.Merchant | None = None
    keys: dict[str, str] = field(default_factory=dict)  # p_cust_id_cliente, p_key
    old_p_key: str = ""
    payment_id: str = ""
    ref_payco: str = ""
    fault: str = ""
    backoff_base: float = 0.0
    attempts: int = 0
    others: list[dict[str, Any]] = field(default_factory=list)

    @property
    def signup(self) -> dict[str, Any]:
        assert self.answers, "no signup yet"
        body: dict[str, Any] = self.answers[-1].json()
        return body

    @property
    def m(self) -> sup.Merchant:
        assert self.merchant is not None, "the merchant has not logged in"
        return self.merchant


@pytest.fixture
def world() -> Iterator[World]:
    with ExitStack() as stack:
        partner = stack.enter_context(ms.partner_client())
        w = World(stack, partner)
        yield w
        if w.merchant is not None:
            w.merchant.http.close()


def _sign_up(world: World) -> dict[str, Any]:
    r = ms.signup(world.partner, world.form, world.key)
    assert r.status_code == 201, r.text
    world.answers.append(r)
    keys = world.signup["signature_keys"]
    world.keys = {"p_cust_id_cliente": keys["p_cust_id_cliente"], "p_key": keys["p_key"]}
    world.cleanup.callback(ms.receiver_forgets, keys["p_cust_id_cliente"])
    return world.signup


def _log_in(world: World) -> sup.Merchant:
    creds = world.signup["credentials"]
    world.merchant = ms.login(creds["public_key"], creds["private_key"])
    assert world.m.merchant_id == world.signup["merchant"]["id"]
    return world.m


def _point_at_receiver(merchant: sup.Merchant, url: str = ms.CONFIRMATION_URL) -> None:
    r = merchant.call("PUT", "/v1/merchants/me/webhook", json={"confirmation_url": url})
    assert r.status_code == 200, r.text
    assert r.json()["confirmation_url"] == url


# ------------------------------------------------------------------------------- signup
@given("a partner signs a merchant up through the gateway")
def _partner_signs_up(world: World) -> None:
    body = _sign_up(world)
    assert body["merchant"]["status"] == "active"
    assert body["merchant"]["confirmation_url"] is None


@when("the merchant logs in with the API keys from its signup")
def _merchant_logs_in(world: World) -> None:
    _log_in(world)


@when("the merchant points its confirmation URL at the merchant-side receiver")
def _merchant_points_url(world: World) -> None:
    _point_at_receiver(world.m)
    # The partner's endpoint needs the p_key from its dashboard: the same as signup showed.
    r = world.m.call("GET", "/v1/merchants/me/signature-keys")
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in world.keys} == world.keys
    ms.receiver_knows(world.keys["p_cust_id_cliente"], world.keys["p_key"])


@given("a merchant signed up through the gateway with its confirmation URL at the receiver")
def _signed_up_with_url(world: World) -> None:
    world.form = ms.signup_form(confirmation_url=ms.CONFIRMATION_URL)
    body = _sign_up(world)
    assert body["merchant"]["confirmation_url"] == ms.CONFIRMATION_URL
    _log_in(world)
    ms.receiver_knows(world.keys["p_cust_id_cliente"], world.keys["p_key"])


# ------------------------------------------------------------------------------- payments
def _charge(world: World, amount: str, card: str) -> None:
    if card == ms.APPROVED_CARD:  # shared by every run: others' payments spend it down
        sup.ensure_card_balance(card)
    body = sup.card_payment(
        amount, card, reference=sup.unique("order"), email=f"{sup.unique('payer')}@example.com"
    )
    r = world.m.pay(body)
    assert r.status_code == 201, r.text
    world.payment_id = str(r.json()["id"])
    world.ref_payco = str(r.json()["ref_payco"])


@when(parsers.parse('the merchant charges "{amount}" COP to an approved card'))
def _charge_approved(world: World, amount: str) -> None:
    _charge(world, amount, ms.APPROVED_CARD)


@when(parsers.parse('the merchant charges "{amount}" COP to a card that the bank declines'))
def _charge_declined(world: World, amount: str) -> None:
    _charge(world, amount, DECLINED_CARD)


@then(parsers.parse('the payment ends "{status}" with cod_respuesta {cod:d}'))
def _payment_ends(world: World, status: str, cod: int) -> None:
    final = world.m.wait_final(world.payment_id)
    assert (final["status"], final["cod_respuesta"]) == (status, cod), final


# ------------------------------------------------------------------------------- confirmations
def _the_confirmation(world: World) -> dict[str, Any]:
    [hook] = ms.confirmations(world.ref_payco)
    return hook


@then(
    parsers.parse(
        "the receiver records exactly one confirmation of the payment with x_cod_response {cod:d}"
    )
)
def _one_confirmation(world: World, cod: int) -> None:
    sup.wait_for(
        f"a confirmation of {world.ref_payco} at the receiver",
        lambda: ms.confirmations(world.ref_payco) or None,
        timeout=WEBHOOK_WAIT,
    )
    # Delivered and nothing left to retry: a second copy can no longer be on its way.
    sup.wait_for(
        "the delivery marked delivered",
        lambda: ms.delivery_in(world.m, world.payment_id, "delivered"),
        timeout=WEBHOOK_WAIT,
    )
    sup.wait_for("merchant-webhooks to drain", ms.webhooks_queue_drained, timeout=WEBHOOK_WAIT)
    fields = _the_confirmation(world)["fields"]
    assert fields["x_cod_response"] == str(cod), fields
    assert fields["x_transaction_id"] == world.payment_id
    assert fields["x_cust_id_cliente"] == world.keys["p_cust_id_cliente"]
    assert fields["x_amount"] == world.m.payment(world.payment_id)["amount"]


@then("its x_signature verifies with the merchant's p_key")
def _signature_verifies(world: World) -> None:
    hook = _the_confirmation(world)
    assert hook["signature_valid"], hook["signature_note"]
    assert ms.signature_ok(hook["fields"], world.keys["p_cust_id_cliente"], world.keys["p_key"])


@then("the same confirmation with a tampered x_amount fails verification")
def _tampered_fails(world: World) -> None:
    fields = dict(_the_confirmation(world)["fields"])
    fields["x_amount"] = "3000000.00"
    assert not ms.signature_ok(fields, world.keys["p_cust_id_cliente"], world.keys["p_key"])
    assert ms.post_to_receiver(fields) is False  # the merchant's endpoint rejects it too


@when("the merchant rotates its p_key")
def _rotate(world: World) -> None:
    r = world.m.call("POST", "/v1/merchants/me/signature-keys")
    assert r.status_code == 200, r.text
    world.old_p_key = world.keys["p_key"]
    world.keys["p_key"] = r.json()["p_key"]
    assert world.keys["p_key"] != world.old_p_key
    ms.receiver_knows(world.keys["p_cust_id_cliente"], world.keys["p_key"])


@then("it does not verify with the p_key from before the rotation")
def _old_key_fails(world: World) -> None:
    fields = _the_confirmation(world)["fields"]
    assert not ms.signature_ok(fields, world.keys["p_cust_id_cliente"], world.old_p_key)


# ------------------------------------------------------------------------------- idempotency
@when(parsers.parse("a partner sends the same signup {n:d} times with one Idempotency-Key"))
def _same_signup(world: World, n: int) -> None:
    for _ in range(n):
        world.answers.append(ms.signup(world.partner, world.form, world.key))
    keys = world.signup["signature_keys"]
    world.keys = {"p_cust_id_cliente": keys["p_cust_id_cliente"], "p_key": keys["p_key"]}


@then("every answer names the same merchant, and only the first one created it")
def _same_merchant(world: World) -> None:
    statuses = [r.status_code for r in world.answers]
    assert statuses == [201] + [200] * (len(world.answers) - 1), [r.text for r in world.answers]
    ids = {r.json()["merchant"]["id"] for r in world.answers}
    assert len(ids) == 1, ids
    assert len({r.json()["signature_keys"]["p_cust_id_cliente"] for r in world.answers}) == 1


@then("only the API keys of the last answer log in")
def _last_keys_only(world: World) -> None:
    *earlier, last = [r.json()["credentials"] for r in world.answers]
    assert len({c["public_key"] for c in [*earlier, last]}) == len(world.answers)
    assert [ms.logs_in(c["public_key"], c["private_key"]) for c in earlier] == [False] * len(
        earlier
    )
    assert ms.logs_in(last["public_key"], last["private_key"])


@then("the merchant service announced MerchantRegistered once")
def _registered_once(world: World) -> None:
    assert ms.registered_events(world.signup["merchant"]["id"]) == 1


@when("the partner sends the same signup once more")
def _once_more(world: World) -> None:
    world.answers.append(ms.signup(world.partner, world.form, world.key))


@then(parsers.parse('the signup is refused with {status:d} "{slug}"'))
def _refused(world: World, status: int, slug: str) -> None:
    r = world.answers[-1]
    assert r.status_code == status, r.text
    assert ms.problem_slug(r) == slug, r.text


@then(
    parsers.parse('the same Idempotency-Key with another form is refused with {status:d} "{slug}"')
)
def _other_form(world: World, status: int, slug: str) -> None:
    r = ms.signup(world.partner, ms.signup_form(), world.key)
    assert r.status_code == status, r.text
    assert ms.problem_slug(r) == slug, r.text


# ------------------------------------------------------------------------------- isolation
def _settings(merchant: sup.Merchant) -> dict[str, Any]:
    """What a merchant can read about itself: profile, confirmation URL, signature keys."""
    got = {}
    for name, path in (
        ("profile", "/v1/merchants/me"),
        ("webhook", "/v1/merchants/me/webhook"),
        ("keys", "/v1/merchants/me/signature-keys"),
    ):
        r = merchant.call("GET", path)
        assert r.status_code == 200, r.text
        got[name] = r.json()
    return got


@given("two merchants signed up and logged in through the gateway")
def _two_merchants(world: World) -> None:
    for _ in range(2):
        world.form, world.key = ms.signup_form(), sup.unique("signup")
        _sign_up(world)
        merchant = _log_in(world)
        world.cleanup.callback(merchant.http.close)
        _point_at_receiver(merchant, f"{ms.CONFIRMATION_URL}?shop={merchant.merchant_id}")
        world.others.append({"merchant": merchant, "before": _settings(merchant)})
    world.merchant = None  # both are closed by the cleanup


@when("the second merchant reads and changes its settings claiming the first one's identity")
def _second_acts(world: World) -> None:
    first, second = (o["merchant"] for o in world.others)
    # What a partner could add to its requests; the gateway must drop both headers.
    forged = {"X-Paylab-Merchant-Id": first.merchant_id, "X-Paylab-Internal-Key": "forged"}
    read = second.call("GET", "/v1/merchants/me", headers=forged)
    url = f"{ms.CONFIRMATION_URL}?shop={second.merchant_id}&changed=1"
    changed = second.call(
        "PUT", "/v1/merchants/me/webhook", json={"confirmation_url": url}, headers=forged
    )
    rotated = second.call("POST", "/v1/merchants/me/signature-keys", headers=forged)
    world.others[1]["answers"] = {"read": read, "changed": changed, "rotated": rotated, "url": url}


@then("the second merchant saw and changed only its own settings")
def _second_own(world: World) -> None:
    second = world.others[1]
    answers, before = second["answers"], second["before"]
    for name in ("read", "changed", "rotated"):
        assert answers[name].status_code == 200, answers[name].text
    assert answers["read"].json()["id"] == second["merchant"].merchant_id
    now = _settings(second["merchant"])
    assert now["webhook"]["confirmation_url"] == answers["url"]
    assert now["keys"]["p_cust_id_cliente"] == before["keys"]["p_cust_id_cliente"]
    assert now["keys"]["p_key"] == answers["rotated"].json()["p_key"] != before["keys"]["p_key"]


@then("the first merchant's profile, confirmation URL and signature keys did not change")
def _first_unchanged(world: World) -> None:
    first = world.others[0]
    assert _settings(first["merchant"]) == first["before"]


@then("the first merchant's id in a path reveals nothing to the second merchant")
def _no_path_leak(world: World) -> None:
    first, second = (o["merchant"] for o in world.others)
    secret = world.others[0]["before"]["keys"]["p_key"]
    for method, path in (
        ("GET", f"/v1/merchants/{first.merchant_id}"),
        ("GET", f"/v1/merchants/{first.merchant_id}/signature-keys"),
        ("PUT", f"/v1/merchants/{first.merchant_id}/webhook"),
        ("GET", f"/internal/merchants/{first.merchant_id}"),
    ):
        r = second.call(method, path, json={"confirmation_url": None} if method == "PUT" else None)
        assert r.status_code in (404, 405), (method, path, r.status_code, r.text)
        assert secret not in r.text and first.merchant_id not in r.text.replace(path, "")


# ------------------------------------------------------------------------------- endpoint down
@given(
    parsers.parse(
        "the merchant service gives up on a webhook after {n:d} attempts, "
        "{base:d} s apart and doubling"
    )
)
def _fast_retries(world: World, n: int, base: int) -> None:
    argv = sup.stop_service("merchant")

    def restore() -> None:
        if sup.service_running("merchant"):
            sup.stop_service("merchant")
        sup.start_service("merchant", argv, MERCHANT_PORT)

    world.cleanup.callback(restore)
    # The same settings an operator would set (merchant/settings.py), read at start-up.
    env = {
        "PAYLAB_MERCHANT_WEBHOOK_MAX_ATTEMPTS": str(n),
        "PAYLAB_MERCHANT_WEBHOOK_BACKOFF_BASE_S": str(base),
        "PAYLAB_MERCHANT_DELIVERY_POLL_S": "0.2",
    }
    sup.start_service("merchant", argv, MERCHANT_PORT, env=env)
    world.attempts, world.backoff_base = n, float(base)


@given(parsers.parse("the merchant's endpoint answers {status:d}"))
def _endpoint_down(world: World, status: int) -> None:
    world.fault = ms.endpoint_down(world.keys["p_cust_id_cliente"], status)
    world.cleanup.callback(ms.endpoint_back, world.fault)


@then(
    parsers.parse(
        "the endpoint saw {n:d} attempts at the confirmation, each gap twice the one before"
    )
)
def _growing_gaps(world: World, n: int) -> None:
    sup.wait_for(
        "the delivery to give up",
        lambda: ms.delivery_in(world.m, world.payment_id, "failed"),
        timeout=WEBHOOK_WAIT,
    )
    posts = ms.failed_posts(world.fault, world.ref_payco)[:n]
    assert len(posts) == n == world.attempts, posts
    gaps = [b["at"] - a["at"] for a, b in pairwise(posts)]
    for i, gap in enumerate(gaps):
        # Scheduled base * 2**i after the answer; the loop polls every 0.2 s.
        assert world.backoff_base * 2**i - 0.05 <= gap <= world.backoff_base * 2**i + 1.5, gaps
    assert gaps == sorted(gaps) and len(set(gaps)) == len(gaps), gaps


@then("the merchant's webhook list shows the confirmation failed")
def _listed_failed(world: World) -> None:
    delivery = ms.delivery_of(world.m, world.payment_id)
    assert delivery is not None and delivery["status"] == "failed", delivery
    assert delivery["attempts"] >= world.attempts
    assert delivery["last_status_code"] == 503, delivery


@then(
    "the retry path tried it again until it landed in the merchant-webhooks DLQ "
    "with the endpoint's error"
)
def _in_dlq(world: World) -> None:
    dead = sup.wait_for(
        f"{world.payment_id}'s WebhookFailed in the DLQ",
        lambda: ms.dead_letter(world.payment_id),
        timeout=DEAD_LETTER_WAIT,
    )
    error = dead["MessageAttributes"]["paylab-last-error"]["StringValue"]
    assert "WebhookStillFailing" in error and "HTTP 503" in error, error
    receives = ms.max_receives()
    assert dead["MessageAttributes"]["paylab-attempts"]["StringValue"] == str(receives)
    # One more POST per receive the consumer handled, each refused by the endpoint. Every
    # WebhookFailed shares one FIFO group: received behind another merchant's failing one
    # (the stack's other webhooks fail too while the endpoint's merchant service restarts),
    # ours waits behind it unhandled, and that receive counts without a POST.
    posts = len(ms.failed_posts(world.fault, world.ref_payco))
    assert world.attempts + 1 <= posts <= world.attempts + receives, (posts, receives)
    # Attempts are counted at the claim, before the POST (a crash or a timeout mid-send still
    # counts), so the delivery counts every POST the endpoint saw and at most one per receive.
    delivery = ms.delivery_of(world.m, world.payment_id)
    assert delivery is not None, world.payment_id
    assert posts <= delivery["attempts"] <= world.attempts + receives, (delivery, posts)
    assert ms.confirmations(world.ref_payco) == []


@then("`paylab dlq list` counts it in the merchant-webhooks DLQ")
def _dlq_list(world: World) -> None:
    [queue] = ms.paylab("dlq", "list", "merchant-webhooks")["queues"]
    assert queue["queue"] == "merchant-webhooks", queue
    assert queue["dlq"]["available"] + queue["dlq"]["in_flight"] >= 1, queue


@when("the merchant's endpoint is back")
def _endpoint_back(world: World) -> None:
    ms.endpoint_back(world.fault)


@when("an operator runs `paylab dlq redrive merchant-webhooks`")
def _redrive(world: World) -> None:
    assert ms.dead_letter(world.payment_id) is not None, "not in the DLQ any more"
    [result] = ms.paylab("dlq", "redrive", "merchant-webhooks")["queues"]
    assert result["redriven"] >= 1, result


@then("the merchant's webhook list shows the confirmation delivered")
def _listed_delivered(world: World) -> None:
    delivery = ms.delivery_of(world.m, world.payment_id)
    assert delivery is not None and delivery["status"] == "delivered", delivery
    assert delivery["last_status_code"] == 200
    assert ms.dead_letter(world.payment_id) is None
