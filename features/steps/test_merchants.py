"""Steps for features/merchants/registration.feature: signup, login and isolation via the gateway.

Each scenario signs up its own merchants (merchant_scenario.py); the steps registration shares
with the webhooks feature (a charge, its signed confirmation) are in conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import merchant_scenario as scenario
import merchants_support as ms
import messaging_support as msg
import payments_support as sup
import pytest
from merchant_scenario import MerchantWorld, merchant_world
from pytest_bdd import given, parsers, scenarios, then, when

pytestmark = [pytest.mark.stack, pytest.mark.timeout(300)]
scenarios("merchants/registration.feature")


@pytest.fixture
def world() -> Iterator[MerchantWorld]:
    with merchant_world() as w:
        yield w


# ------------------------------------------------------------------------------- signup
@given("a partner signs a merchant up through the gateway")
def _partner_signs_up(world: MerchantWorld) -> None:
    body = scenario.sign_up(world)
    assert body["merchant"]["status"] == "active"
    assert body["merchant"]["confirmation_url"] is None


@when("the merchant logs in with the API keys from its signup")
def _merchant_logs_in(world: MerchantWorld) -> None:
    scenario.log_in(world)


@when("the merchant points its confirmation URL at the merchant-side receiver")
def _merchant_points_url(world: MerchantWorld) -> None:
    scenario.point_at_receiver(world.m)
    # The partner's endpoint needs the p_key from its dashboard: the same as signup showed.
    r = world.m.call("GET", "/v1/merchants/me/signature-keys")
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in world.keys} == world.keys
    ms.receiver_knows(world.keys["p_cust_id_cliente"], world.keys["p_key"])


# ------------------------------------------------------------------------------- confirmations
@then("the same confirmation with a tampered x_amount fails verification")
def _tampered_fails(world: MerchantWorld) -> None:
    fields = dict(scenario.the_confirmation(world)["fields"])
    fields["x_amount"] = "3000000.00"
    assert not ms.signature_ok(fields, world.keys["p_cust_id_cliente"], world.keys["p_key"])
    assert ms.post_to_receiver(fields) is False  # the merchant's endpoint rejects it too


# ------------------------------------------------------------------------------- idempotency
@when(parsers.parse("a partner sends the same signup {n:d} times with one Idempotency-Key"))
def _same_signup(world: MerchantWorld, n: int) -> None:
    for _ in range(n):
        world.answers.append(ms.signup(world.partner, world.form, world.key))
    keys = world.signup["signature_keys"]
    world.keys = {"p_cust_id_cliente": keys["p_cust_id_cliente"], "p_key": keys["p_key"]}


@then("every answer names the same merchant, and only the first one created it")
def _same_merchant(world: MerchantWorld) -> None:
    statuses = [r.status_code for r in world.answers]
    assert statuses == [201] + [200] * (len(world.answers) - 1), [r.text for r in world.answers]
    ids = {r.json()["merchant"]["id"] for r in world.answers}
    assert len(ids) == 1, ids
    assert len({r.json()["signature_keys"]["p_cust_id_cliente"] for r in world.answers}) == 1


@then("only the API keys of the last answer log in")
def _last_keys_only(world: MerchantWorld) -> None:
    *earlier, last = [r.json()["credentials"] for r in world.answers]
    assert len({c["public_key"] for c in [*earlier, last]}) == len(world.answers)
    assert [ms.logs_in(c["public_key"], c["private_key"]) for c in earlier] == [False] * len(
        earlier
    )
    assert ms.logs_in(last["public_key"], last["private_key"])


@then("the merchant service announced MerchantRegistered once")
def _registered_once(world: MerchantWorld) -> None:
    assert ms.registered_events(world.signup["merchant"]["id"]) == 1


@when("the partner sends the same signup once more")
def _once_more(world: MerchantWorld) -> None:
    world.answers.append(ms.signup(world.partner, world.form, world.key))


@then(parsers.parse('the signup is refused with {status:d} "{slug}"'))
def _refused(world: MerchantWorld, status: int, slug: str) -> None:
    r = world.answers[-1]
    assert r.status_code == status, r.text
    assert ms.problem_slug(r) == slug, r.text


@then(
    parsers.parse('the same Idempotency-Key with another form is refused with {status:d} "{slug}"')
)
def _other_form(world: MerchantWorld, status: int, slug: str) -> None:
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
def _two_merchants(world: MerchantWorld) -> None:
    for _ in range(2):
        world.form, world.key = ms.signup_form(), sup.unique("signup")
        scenario.sign_up(world)
        merchant = scenario.log_in(world)
        world.cleanup.callback(merchant.http.close)
        scenario.point_at_receiver(merchant, f"{ms.CONFIRMATION_URL}?shop={merchant.merchant_id}")
        world.others.append({"merchant": merchant, "before": _settings(merchant)})
    world.merchant = None  # both are closed by the cleanup


@when("the second merchant reads and changes its settings claiming the first one's identity")
def _second_acts(world: MerchantWorld) -> None:
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
def _second_own(world: MerchantWorld) -> None:
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
def _first_unchanged(world: MerchantWorld) -> None:
    first = world.others[0]
    assert _settings(first["merchant"]) == first["before"]


@then("the first merchant's id in a path reveals nothing to the second merchant")
def _no_path_leak(world: MerchantWorld) -> None:
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


# ------------------------------------------------------------------------------- e-mail change
@when("the merchant changes its e-mail through the gateway")
def _change_email(world: MerchantWorld) -> None:
    world.notes["previous_email"] = str(world.form["email"])
    world.notes["new_email"] = f"nuevo-{sup.unique('mail')}@example.com"
    r = world.m.call("PATCH", "/v1/merchants/me", json={"email": world.notes["new_email"]})
    assert r.status_code == 200, r.text
    assert r.json()["email"] == world.notes["new_email"]


@then("the previous address receives a notice naming the new address masked")
def _previous_told(world: MerchantWorld) -> None:
    def notices() -> list[dict[str, Any]] | None:
        found = [
            m
            for m in msg.receipts_to(world.notes["previous_email"])
            if m.get("Subject") == "El correo de tu cuenta Paylab cambió"
        ]
        return found or None

    [notice] = sup.wait_for("the e-mail change notice", notices, timeout=30)
    body = str(notice.get("Body", {}))
    assert "pasó a ser nu***@example.com" in body, body
    assert world.notes["new_email"] not in body


@then("the new address does not receive that notice")
def _new_not_told(world: MerchantWorld) -> None:
    subjects = [m.get("Subject") for m in msg.receipts_to(world.notes["new_email"])]
    assert "El correo de tu cuenta Paylab cambió" not in subjects
