"""Bank / card acquirer simulator behaviour."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from simulators.bank import state as bank_state
from simulators.bank.cards import brand, luhn_ok
from simulators.bank.state import PER_REFERENCE

APPROVED, NO_FUNDS, FAILS, PENDING = (
    "4575623182290326",
    "4151611527583283",
    "5170394490379427",
    "373118856457642",
)


def card(number: str = APPROVED, **kw: Any) -> dict[str, Any]:
    cvc = "1234" if number.startswith("37") else "123"
    return {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": cvc, **kw}


def authorize(c: TestClient, amount: str = "30000.00", **kw: Any) -> Any:
    body = {"amount": amount, "reference": "order-1", "card": card(), **kw}
    return c.post("/v1/authorizations", json=body)


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [
        (APPROVED, "approved", "approved"),
        (NO_FUNDS, "rejected", "insufficient_funds"),
        (FAILS, "failed", "processor_error"),
        (PENDING, "pending", "pending_review"),
    ],
)
def test_epayco_test_cards(bank_client: TestClient, number: str, status: str, code: str) -> None:
    r = authorize(bank_client, card=card(number))
    assert r.status_code == 201
    body = r.json()
    assert (body["status"], body["response_code"]) == (status, code)
    assert body["amount"] == "30000.00" and body["card"]["last4"] == number[-4:]
    assert (body["authorization_code"] is not None) == (status == "approved")


def test_luhn_brand() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert [brand(n) for n in (APPROVED, FAILS, PENDING, "6011000990139424")] == [
        "visa",
        "mastercard",
        "amex",
        "discover",
    ]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"number": "4575623182290327"}, "body.card.number"),
        ({"cvc": "12"}, "body.card.cvc"),
        ({"cvc": "1234"}, "body.card.cvc"),
        ({"exp_month": 13}, "body.card.exp_month"),
        ({"number": "45756231822903x6"}, "body.card.number"),
    ],
)
def test_card_validation_errors(
    bank_client: TestClient, override: dict[str, Any], field: str
) -> None:
    r = authorize(bank_client, card=card(**override))
    assert r.status_code == 422
    assert field in [e["field"] for e in r.json()["errors"]]


def test_amount_must_be_a_positive_decimal_string(bank_client: TestClient) -> None:
    for bad in (30000, 30000.5, "30000.001", "-1.00", "0.00", "abc"):
        r = authorize(bank_client, amount=bad)
        assert r.status_code == 422, bad
        assert r.json()["errors"][0]["field"] == "body.amount"
    assert "not a JSON number" in authorize(bank_client, amount=5).json()["errors"][0]["message"]


def test_card_xor_token(bank_client: TestClient) -> None:
    r = bank_client.post("/v1/authorizations", json={"amount": "1.00", "reference": "r"})
    assert r.status_code == 422 and "exactly one" in r.text


def test_expired_card_is_declined(bank_client: TestClient) -> None:
    body = authorize(bank_client, card=card(exp_year=2020)).json()
    assert (body["status"], body["response_code"]) == ("rejected", "expired_card")


def test_balance_runs_out(bank_client: TestClient) -> None:
    bank_client.patch(f"/_sim/cards/{APPROVED}", json={"balance_cop": "100000.00"})
    statuses = [authorize(bank_client, "40000.00").json()["response_code"] for _ in range(3)]
    assert statuses == ["approved", "approved", "insufficient_funds"]
    assert bank_client.get(f"/_sim/cards/{APPROVED}").json()["balance_cop"] == "20000.00"


def test_per_transaction_limit(bank_client: TestClient) -> None:
    bank_client.patch(f"/_sim/cards/{APPROVED}", json={"limit_cop": "50000.00"})
    assert authorize(bank_client, "60000.00").json()["response_code"] == "exceeds_limit"
    assert authorize(bank_client, "50000.00").json()["response_code"] == "approved"


def test_capture_void_refund_lifecycle(bank_client: TestClient) -> None:
    acct = f"/_sim/cards/{APPROVED}"
    start = bank_client.get(acct).json()["balance_cop"]
    assert start == "5000000.00"
    a = authorize(bank_client, "100000.00").json()
    assert bank_client.get(acct).json()["balance_cop"] == "4900000.00"
    cap = bank_client.post(f"/v1/authorizations/{a['id']}/capture", json={"amount": "80000.00"})
    assert cap.json()["status"] == "captured" and cap.json()["captured_amount"] == "80000.00"
    assert bank_client.get(acct).json()["balance_cop"] == "4920000.00"  # the rest released
    assert bank_client.post(f"/v1/authorizations/{a['id']}/void").status_code == 409
    r1 = bank_client.post(f"/v1/authorizations/{a['id']}/refunds", json={"amount": "30000.00"})
    assert r1.status_code == 201 and r1.json()["authorization_status"] == "partially_refunded"
    too_much = bank_client.post(
        f"/v1/authorizations/{a['id']}/refunds", json={"amount": "60000.00"}
    )
    assert too_much.status_code == 422
    r2 = bank_client.post(f"/v1/authorizations/{a['id']}/refunds", json={})
    assert r2.json()["amount"] == "50000.00" and r2.json()["authorization_status"] == "refunded"
    assert bank_client.get(acct).json()["balance_cop"] == start
    again = bank_client.post(f"/v1/authorizations/{a['id']}/refunds", json={})
    assert again.status_code == 409 and again.json()["type"].endswith("/invalid-state")


def test_a_refund_repeated_with_its_idempotency_key_refunds_once(bank_client: TestClient) -> None:
    acct = f"/_sim/cards/{APPROVED}"
    a = authorize(bank_client, "100000.00").json()
    bank_client.post(f"/v1/authorizations/{a['id']}/capture", json={})
    after_capture = bank_client.get(acct).json()["balance_cop"]
    url, key = f"/v1/authorizations/{a['id']}/refunds", {"Idempotency-Key": "p-1:refund:k1"}
    first = bank_client.post(url, json={"amount": "30000.00"}, headers=key)
    again = bank_client.post(url, json={"amount": "30000.00"}, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert bank_client.get(f"/v1/authorizations/{a['id']}").json()["refunded_amount"] == "30000.00"
    assert Decimal(bank_client.get(acct).json()["balance_cop"]) == Decimal(after_capture) + 30000
    other = bank_client.post(url, json={"amount": "10000.00"}, headers=key)
    assert other.status_code == 409  # the key already refunded another amount


def test_void_releases_and_capture_over_amount_is_rejected(bank_client: TestClient) -> None:
    a = authorize(bank_client, "100000.00").json()
    over = bank_client.post(f"/v1/authorizations/{a['id']}/capture", json={"amount": "100000.01"})
    assert over.status_code == 422
    v = bank_client.post(f"/v1/authorizations/{a['id']}/void")
    assert v.json()["status"] == "voided"
    assert bank_client.get(f"/_sim/cards/{APPROVED}").json()["balance_cop"] == "5000000.00"
    assert bank_client.post(f"/v1/authorizations/{a['id']}/capture", json={}).status_code == 409


def test_sale_captures_at_once(bank_client: TestClient) -> None:
    body = authorize(bank_client, capture=True).json()
    assert body["status"] == "captured" and body["captured_amount"] == "30000.00"


def test_pending_resolves_after_delay(bank_client: TestClient, clock: Any) -> None:
    a = authorize(bank_client, card=card(PENDING)).json()
    assert bank_client.get(f"/v1/authorizations/{a['id']}").json()["status"] == "pending"
    clock.advance(5.0)
    assert bank_client.get(f"/v1/authorizations/{a['id']}").json()["status"] == "approved"


def test_a_pending_authorization_can_be_voided_and_never_resolves(
    bank_client: TestClient, clock: Any
) -> None:
    a = authorize(bank_client, card=card(PENDING)).json()
    assert bank_client.post(f"/v1/authorizations/{a['id']}/void").json()["status"] == "voided"
    clock.advance(5.0)
    assert bank_client.get(f"/v1/authorizations/{a['id']}").json()["status"] == "voided"
    assert bank_client.get(f"/_sim/cards/{PENDING}").json()["balance_cop"] == "5000000.00"


def test_authorizations_are_found_by_reference_oldest_first(
    bank_client: TestClient, clock: Any
) -> None:
    first = authorize(bank_client, reference="order-7", capture=True).json()
    authorize(bank_client, reference="order-8")
    clock.advance(1.0)
    second = authorize(bank_client, reference="order-7", card=card(PENDING)).json()
    clock.advance(5.0)  # the listing resolves a pending one whose time has come
    found = bank_client.get("/v1/authorizations", params={"reference": "order-7"}).json()
    listed = [(a["id"], a["status"]) for a in found["authorizations"]]
    assert listed == [(first["id"], "captured"), (second["id"], "approved")]
    none = bank_client.get("/v1/authorizations", params={"reference": "order-9"})
    assert none.status_code == 200 and none.json() == {"authorizations": []}
    assert bank_client.get("/v1/authorizations").status_code == 422
    too_long = bank_client.get("/v1/authorizations", params={"reference": "x" * 65})
    assert too_long.status_code == 422


def test_a_reused_reference_keeps_its_latest_authorizations(bank_client: TestClient) -> None:
    made = [authorize(bank_client, "10.00", reference="bench-1").json()["id"] for _ in range(25)]
    found = bank_client.get("/v1/authorizations", params={"reference": "bench-1"}).json()
    assert [a["id"] for a in found["authorizations"]] == made[-PER_REFERENCE:]


def test_the_index_forgets_the_least_recently_used_reference_first(
    bank_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bank_state, "MAX_RECORDS", 3)

    def ids(reference: str) -> list[str]:
        found = bank_client.get("/v1/authorizations", params={"reference": reference}).json()
        return [a["id"] for a in found["authorizations"]]

    made = {}
    for key, ref in (("a1", "A"), ("b1", "B"), ("a2", "A"), ("c1", "C"), ("d1", "D")):
        made[key] = authorize(bank_client, "10.00", reference=ref).json()["id"]
    # a1 and b1 went first (the oldest records); A, used again since B, keeps a2.
    assert ids("A") == [made["a2"]] and ids("B") == []
    assert ids("C") == [made["c1"]] and ids("D") == [made["d1"]]


def test_the_reference_index_survives_a_snapshot(make_sim: Callable[..., TestClient]) -> None:
    c = make_sim("bank")
    made = authorize(c, reference="order-5").json()
    state = c.app.state.sim.state  # type: ignore[attr-defined]
    state.restore(state.snapshot())
    found = c.get("/v1/authorizations", params={"reference": "order-5"}).json()
    assert [a["id"] for a in found["authorizations"]] == [made["id"]]


def test_tokens(bank_client: TestClient) -> None:
    t = bank_client.post("/v1/tokens", json=card())
    assert t.status_code == 201
    tok = t.json()
    assert tok["brand"] == "visa" and tok["last4"] == "0326" and "number" not in tok
    r = bank_client.post(
        "/v1/authorizations", json={"amount": "1000.00", "reference": "r", "token": tok["token"]}
    )
    assert r.json()["status"] == "approved"
    bad = bank_client.post(
        "/v1/authorizations", json={"amount": "1.00", "reference": "r", "token": "tok_000000000000"}
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("/unknown-token")
    assert bank_client.post("/v1/tokens", json=card(number="4575623182290327")).status_code == 422


def test_idempotency_key(bank_client: TestClient) -> None:
    body = {"amount": "1000.00", "reference": "r", "card": card()}
    h = {"Idempotency-Key": "k-1"}
    first = bank_client.post("/v1/authorizations", json=body, headers=h)
    second = bank_client.post("/v1/authorizations", json=body, headers=h)
    assert first.json() == second.json() and second.headers["idempotent-replayed"] == "true"
    assert bank_client.get(f"/_sim/cards/{APPROVED}").json()["balance_cop"] == "4999000.00"
    other = bank_client.post("/v1/authorizations", json={**body, "amount": "2.00"}, headers=h)
    assert other.status_code == 409


@pytest.mark.parametrize(
    ("account", "status", "reason"),
    [
        ("1234567890", "paid", None),
        ("12340000", "rejected", "account_closed"),
        ("12341111", "rejected", "invalid_account"),
        ("12349999", "pending", None),
    ],
)
def test_payouts(bank_client: TestClient, account: str, status: str, reason: str | None) -> None:
    body = {
        "amount": "250000.00",
        "reference": "disp-1",
        "bank_code": "1007",
        "account_type": "savings",
        "account_number": account,
        "holder_name": "Tienda",
        "holder_doc_type": "NIT",
        "holder_doc_number": "900123456",
    }
    r = bank_client.post("/v1/payouts", json=body)
    assert r.status_code == 201
    assert (r.json()["status"], r.json()["failure_reason"]) == (status, reason)
    assert bank_client.get(f"/v1/payouts/{r.json()['id']}").json()["status"] == status


def test_pending_payout_is_paid_later(bank_client: TestClient, clock: Any) -> None:
    body = {
        "amount": "1.00",
        "reference": "d",
        "bank_code": "1007",
        "account_type": "checking",
        "account_number": "5559999",
        "holder_name": "T",
        "holder_doc_type": "CC",
        "holder_doc_number": "1234",
    }
    pid = bank_client.post("/v1/payouts", json=body).json()["id"]
    clock.advance(5)
    assert bank_client.get(f"/v1/payouts/{pid}").json()["status"] == "paid"


def test_unknown_ids_are_404(bank_client: TestClient) -> None:
    for path in ("/v1/authorizations/x", "/v1/payouts/x"):
        r = bank_client.get(path)
        assert r.status_code == 404 and r.json()["title"] == "Not found"
    assert bank_client.post("/v1/authorizations/x/void").status_code == 404
    assert bank_client.get("/_sim/cards/12ab").status_code == 422


def test_fast_path_and_route_answer_alike(make_sim: Callable[..., TestClient]) -> None:
    """The hot path must give what the FastAPI route gives for the same requests."""

    def run(keyed: bool) -> list[tuple[int, Any]]:
        c = make_sim("bank", seed=3)
        out = []
        for i, body in enumerate(
            (
                {"amount": "1000.00", "reference": "r", "card": card()},
                {"amount": "1000.00", "reference": "r", "card": card(NO_FUNDS)},
                {"amount": "1000.00", "reference": "r", "card": card(number="4575623182290327")},
                {"amount": 1000, "reference": "r", "card": card()},
            )
        ):
            headers = {"Idempotency-Key": f"k{i}"} if keyed else {}  # a key forces the route
            r = c.post("/v1/authorizations", json=body, headers=headers)
            data = r.json()
            if isinstance(data, dict):
                data.pop("created_at", None)
            out.append((r.status_code, data))
        return out

    fast, routed = run(keyed=False), run(keyed=True)
    assert [s for s, _ in fast] == [201, 201, 422, 422]
    assert fast == routed


def test_settings(bank_client: TestClient) -> None:
    assert bank_client.get("/_sim/settings").json() == {"pending_resolve_ms": 5000}
    r = bank_client.patch("/_sim/settings", json={"pending_resolve_ms": 0})
    assert r.json() == {"pending_resolve_ms": 0}
    assert bank_client.patch("/_sim/settings", json={"pending_resolve_ms": -1}).status_code == 422
    assert len(bank_client.get("/_sim/test-cards").json()) == 4
