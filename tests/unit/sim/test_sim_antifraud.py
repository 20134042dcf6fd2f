"""Antifraud simulator: lists, thresholds, velocity, editable rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from simulators.antifraud import state as antifraud_state
from simulators.antifraud.schemas import EvaluationIn
from simulators.seeding import SeededRandom


@pytest.fixture
def af(make_sim: Callable[..., TestClient], clock: Any) -> TestClient:
    return make_sim("antifraud", clock=clock)


def evaluate(c: TestClient, **kw: Any) -> dict[str, Any]:
    body = {"amount": "30000.00", "email": "ana@example.com", **kw}
    r = c.post("/v1/evaluations", json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def codes(result: dict[str, Any]) -> list[str]:
    return [r["code"] for r in result["reasons"]]


def test_clean_attempt_is_approved(af: TestClient) -> None:
    r = evaluate(af)
    assert (r["score"], r["decision"], r["reasons"]) == (0, "approve", [])
    assert af.get(f"/v1/evaluations/{r['id']}").json() == r


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("email", "Fraud@Paylab.test", "blocklist_email"),
        ("doc_number", "1000000666", "blocklist_document"),
        ("card_number", "6666661234567890", "blocklist_bin"),
        ("card_bin", "66666612", "blocklist_bin"),
        ("ip", "203.0.113.66", "blocklist_ip"),
    ],
)
def test_magic_blocked_values_reject(af: TestClient, field: str, value: str, code: str) -> None:
    r = evaluate(af, **{field: value})
    assert r["decision"] == "reject" and r["score"] == 100 and codes(r) == [code]


def test_amount_thresholds(af: TestClient) -> None:
    assert evaluate(af, amount="4999999.99")["decision"] == "approve"
    review = evaluate(af, amount="5000000.00")
    assert (review["decision"], review["score"], codes(review)) == ("review", 40, ["amount_review"])
    assert evaluate(af, amount="20000000.00")["decision"] == "reject"


def test_velocity_per_card_in_window(af: TestClient, clock: Any) -> None:
    card = "4575623182290326"
    results = [evaluate(af, card_number=card, email=f"u{i}@x.co") for i in range(6)]
    assert [r["decision"] for r in results] == ["approve"] * 5 + ["review"]
    assert codes(results[-1]) == ["velocity_card"]
    clock.advance(601)
    assert evaluate(af, card_number=card)["decision"] == "approve"


def test_rules_are_editable(af: TestClient) -> None:
    r = af.put("/v1/rules", json={"amount_review": "10000.00", "max_per_email": 1})
    assert r.status_code == 200 and r.json()["amount_review"] == "10000.00"
    first = evaluate(af)
    assert codes(first) == ["amount_review"]
    second = evaluate(af)
    assert codes(second) == ["amount_review", "velocity_email"] and second["decision"] == "reject"
    assert af.put("/v1/rules", json={"review_score": 90, "reject_score": 50}).status_code == 422
    assert af.put("/v1/rules", json={"amount_review": 5}).status_code == 422


def test_lists_are_editable(af: TestClient) -> None:
    assert af.post("/v1/lists/email", json={"value": "Ana@Example.com"}).status_code == 201
    assert evaluate(af)["decision"] == "reject"
    assert af.post("/v1/lists/email", json={"value": "ana@example.com"}).status_code == 409
    assert "ana@example.com" in af.get("/v1/lists").json()["email"]
    assert af.delete("/v1/lists/email/ana@example.com").status_code == 204
    assert af.delete("/v1/lists/email/ana@example.com").status_code == 404
    assert evaluate(af)["decision"] == "approve"
    assert af.post("/v1/lists/phone", json={"value": "1"}).status_code == 422


def test_reset_restores_defaults(af: TestClient) -> None:
    af.delete("/v1/lists/email/fraud@paylab.test")
    af.post("/_sim/reset")
    assert "fraud@paylab.test" in af.get("/v1/lists").json()["email"]


def test_validation(af: TestClient) -> None:
    r = af.post("/v1/evaluations", json={"amount": "1.00", "email": "nope"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.email"
    assert af.get("/v1/evaluations/nope").status_code == 404


LEASE = {"max_per_card": 100, "max_per_email": 100, "max_per_ip": 100, "ttl_s": 60}


def test_velocity_lease_raises_limits_until_it_lapses(af: TestClient, clock: Any) -> None:
    card = "4575623182290326"
    r = af.put("/v1/rules/leases/run-1", json=LEASE)
    assert r.status_code == 200 and r.json()["expires_in_s"] == 60, r.json()
    results = [evaluate(af, card_number=card, email=f"u{i}@x.co") for i in range(6)]
    assert [r["decision"] for r in results] == ["approve"] * 6  # default limit per card: 5
    assert af.get("/v1/rules").json()["max_per_card"] == 5  # the rules themselves are unchanged
    clock.advance(61)  # not renewed: lapsed, the rules' limit applies again
    assert af.get("/v1/rules/leases").json() == []
    assert codes(evaluate(af, card_number=card, email="late@x.co")) == ["velocity_card"]


def test_overlapping_leases_each_hold_their_own(af: TestClient, clock: Any) -> None:
    card = "4575623182290326"
    assert af.put("/v1/rules/leases/outer", json={**LEASE, "ttl_s": 600}).status_code == 200
    assert af.put("/v1/rules/leases/inner", json={**LEASE, "max_per_card": 3}).status_code == 200
    assert af.delete("/v1/rules/leases/inner").status_code == 204  # the inner run ends first
    results = [evaluate(af, card_number=card, email=f"u{i}@x.co") for i in range(6)]
    assert [r["decision"] for r in results] == ["approve"] * 6  # the outer lease still holds
    clock.advance(30)
    renewed = af.put("/v1/rules/leases/outer", json={**LEASE, "ttl_s": 600}).json()
    assert renewed["expires_in_s"] == 600 and renewed["holder"] == "outer"
    assert [x["holder"] for x in af.get("/v1/rules/leases").json()] == ["outer"]


def test_lease_errors_are_clear(af: TestClient) -> None:
    assert af.delete("/v1/rules/leases/nobody").status_code == 404
    assert af.put("/v1/rules/leases/bad%20name", json=LEASE).status_code == 422
    assert af.put("/v1/rules/leases/x", json={**LEASE, "ttl_s": 0}).status_code == 422
    assert af.put("/v1/rules/leases/x", json={"ttl_s": 60}).status_code == 422


def test_reset_ends_leases(af: TestClient) -> None:
    assert af.put("/v1/rules/leases/run-1", json=LEASE).status_code == 200
    af.post("/_sim/reset")
    assert af.get("/v1/rules/leases").json() == []


def test_velocity_keys_idle_longer_than_the_window_are_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each distinct card, e-mail and IP was kept for good: a load run grew without bound."""
    monkeypatch.setattr(antifraud_state, "SWEEP_KEYS", 12)
    now = [1_000.0]
    state = antifraud_state.AntifraudState(rng=SeededRandom(7), clock=lambda: now[0])

    def attempt(n: int) -> dict[str, Any]:
        card = f"4{n:015d}"
        body = EvaluationIn(amount="1000.00", card_number=card, email=f"p{n}@x.co", ip="10.0.0.9")
        return state.evaluate(body)

    for n in range(4):  # 9 keys: 4 cards, 4 e-mails, one IP
        attempt(n)
    now[0] += 601  # past the 600 s window: those cards and e-mails are idle
    for n in range(100, 106):
        attempt(n)
    kept = set(state.attempts)
    assert not any(k in kept for k in ("card:4000000000000000", "email:p0@x.co"))
    assert {"card:4000000000000105", "email:p105@x.co", "ip:10.0.0.9"} <= kept
    # Velocity still counts what is inside the window: the IP's attempts since the sweep.
    assert len(state.attempts["ip:10.0.0.9"]) == 6
