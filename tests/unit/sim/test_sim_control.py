"""The /_sim/ control API and the fault + journal middleware, through a simulator."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from secrets import token_hex
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from simulators import bank
from simulators.testing import serve

pytestmark = pytest.mark.timeout(60)

CARD = {"number": "4575623182290326", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
AUTH = {"amount": "30000.00", "reference": "order-1", "card": CARD}


def add_fault(c: TestClient, rule: dict[str, Any]) -> dict[str, Any]:
    r = c.post("/_sim/faults", json=rule)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def journal(c: TestClient, **params: Any) -> list[dict[str, Any]]:
    r = c.get("/_sim/journal", params=params)
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()["entries"]
    return entries


def test_health(bank_client: TestClient) -> None:
    assert bank_client.get("/_sim/health").json() == {"status": "ok", "name": "bank"}


def test_error_fault_next_two_then_normal(bank_client: TestClient) -> None:
    add_fault(
        bank_client,
        {
            "match": {"method": "POST", "path": "/v1/authorizations"},
            "effect": {"type": "error", "status": 503},
            "when": {"next": 2},
        },
    )
    codes = [bank_client.post("/v1/authorizations", json=AUTH).status_code for _ in range(3)]
    assert codes == [503, 503, 201]
    faulted = journal(bank_client, fault="f1", order="asc")
    assert [e["status"] for e in faulted] == [503, 503]
    assert faulted[0]["fault"] == {"id": "f1", "type": "error"}
    assert journal(bank_client, fault="none")[0]["status"] == 201
    rule = bank_client.get("/_sim/faults/f1").json()
    assert (rule["applied"], rule["active"]) == (2, False)


def test_error_fault_with_custom_body(bank_client: TestClient) -> None:
    add_fault(bank_client, {"effect": {"type": "error", "status": 402, "body": {"code": "x"}}})
    r = bank_client.post("/v1/authorizations", json=AUTH)
    assert (r.status_code, r.json(), r.headers["x-sim-fault"]) == (402, {"code": "x"}, "f1")


def test_default_error_body_is_a_problem(bank_client: TestClient) -> None:
    add_fault(bank_client, {"effect": {"type": "error", "status": 500}})
    r = bank_client.get("/v1/authorizations/nope")
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 500 and "f1" in r.json()["detail"]


def test_body_match_faults_only_that_card(bank_client: TestClient) -> None:
    add_fault(
        bank_client,
        {"match": {"body": {"card.number": "4575*"}}, "effect": {"type": "error", "status": 502}},
    )
    assert bank_client.post("/v1/authorizations", json=AUTH).status_code == 502
    other = {**AUTH, "card": {**CARD, "number": "5170394490379427"}}
    assert bank_client.post("/v1/authorizations", json=other).status_code == 201


def test_latency_fault_delays(bank_client: TestClient) -> None:
    add_fault(bank_client, {"effect": {"type": "latency", "ms": 150}})
    started = time.perf_counter()
    r = bank_client.post("/v1/authorizations", json=AUTH)
    assert r.status_code == 201
    assert time.perf_counter() - started >= 0.15
    assert journal(bank_client)[0]["note"] == "delayed 150 ms"


def test_malformed_body_keeps_status_breaks_json(bank_client: TestClient) -> None:
    add_fault(bank_client, {"effect": {"type": "malformed"}})
    r = bank_client.post("/v1/authorizations", json=AUTH)
    assert r.status_code == 201
    with pytest.raises(json.JSONDecodeError):
        r.json()
    assert int(r.headers["content-length"]) == len(r.content)


def test_timeout_fault_answers_504_after_hold(bank_client: TestClient) -> None:
    add_fault(bank_client, {"effect": {"type": "timeout", "hold_ms": 100}})
    r = bank_client.get("/v1/authorizations/x")
    assert r.status_code == 504
    assert journal(bank_client)[0]["note"] == "held until hold_ms"


def test_control_plane_is_never_faulted_nor_journaled(bank_client: TestClient) -> None:
    add_fault(bank_client, {"effect": {"type": "error", "status": 503}})
    assert bank_client.get("/_sim/faults").status_code == 200
    assert bank_client.get("/openapi.json").status_code == 200
    assert journal(bank_client) == []


def test_fault_crud(bank_client: TestClient) -> None:
    add_fault(bank_client, {"id": "slow", "effect": {"type": "latency", "ms": 1}})
    add_fault(bank_client, {"effect": {"type": "reset"}})
    ids = [f["id"] for f in bank_client.get("/_sim/faults").json()["faults"]]
    assert ids == ["slow", "f1"]
    dup = bank_client.post("/_sim/faults", json={"id": "slow", "effect": {"type": "reset"}})
    assert dup.status_code == 409 and dup.json()["type"].endswith("/duplicate-fault")
    assert bank_client.delete("/_sim/faults/slow").status_code == 204
    assert bank_client.delete("/_sim/faults/slow").status_code == 404
    assert bank_client.get("/_sim/faults/slow").status_code == 404
    assert bank_client.delete("/_sim/faults").json() == {"removed": 1}
    assert bank_client.get("/_sim/faults").json() == {"faults": []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"effect": {"type": "error", "status": 99}}, "body.effect.error.status"),
        ({"effect": {"type": "explode"}}, "body.effect"),
        ({"effect": {"type": "reset"}, "when": {"probability": 2}}, "body.when.probability"),
        ({"effect": {"type": "reset"}, "extra": 1}, "body.extra"),
        ({}, "body.effect"),
    ],
)
def test_bad_fault_rules_get_422_with_fields(
    bank_client: TestClient, body: dict[str, Any], field: str
) -> None:
    r = bank_client.post("/_sim/faults", json=body)
    assert r.status_code == 422
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert {"type", "title", "status", "detail", "errors"} <= problem.keys()
    assert field in [e["field"] for e in problem["errors"]]


def test_unparsable_json_gets_400(bank_client: TestClient) -> None:
    r = bank_client.post(
        "/_sim/faults", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["type"].endswith("/malformed-json")


def test_unknown_route_and_method_are_problems(bank_client: TestClient) -> None:
    assert bank_client.get("/nowhere").json()["status"] == 404
    r = bank_client.put("/_sim/reset")
    assert r.status_code == 405 and r.json()["type"].endswith("/method-not-allowed")


def test_seed_reset_and_ids(make_sim: Callable[..., TestClient]) -> None:
    c = make_sim("bank", seed=5)
    assert c.get("/_sim/seed").json() == {"seed": 5}
    first = [c.post("/v1/authorizations", json=AUTH).json()["id"] for _ in range(3)]
    add_fault(c, {"effect": {"type": "reset"}})
    reset = c.post("/_sim/reset").json()
    assert reset == {"status": "reset", "seed": 5}
    assert c.get("/_sim/faults").json()["faults"] == []
    assert journal(c) == []
    # The same seed again, but never an id handed out before: the platform still holds them.
    again = [c.post("/v1/authorizations", json=AUTH).json()["id"] for _ in range(3)]
    assert not set(again) & set(first), (first, again)
    assert c.post("/_sim/seed", json={"seed": 5}).json() == {"seed": 5}
    later = [c.post("/v1/authorizations", json=AUTH).json()["id"] for _ in range(3)]
    assert not set(later) & set(first + again), (first, again, later)
    assert c.post("/_sim/seed", json={"seed": -1}).status_code == 422
    # A freshly started simulator with the same seed hands out the same ids.
    fresh = make_sim("bank", seed=5)
    assert [fresh.post("/v1/authorizations", json=AUTH).json()["id"] for _ in range(3)] == first


def test_a_reseeded_bank_never_gives_an_old_authorization_s_id_to_a_new_one(
    make_sim: Callable[..., TestClient],
) -> None:
    """Refunding an old payment must find its own authorization, not a newer one's."""
    c = make_sim("bank", seed=9)
    old = c.post("/v1/authorizations", json=AUTH).json()["id"]
    assert c.post(f"/v1/authorizations/{old}/capture", json={}).status_code == 200
    assert c.post("/_sim/seed", json={"seed": 9}).json() == {"seed": 9}
    new = c.post("/v1/authorizations", json={**AUTH, "amount": "1000.00"}).json()["id"]
    assert new != old
    r = c.post(f"/v1/authorizations/{old}/refunds", json={"amount": "30000.00"})
    assert r.status_code == 201, r.text
    assert c.post("/_sim/seed", json={"seed": -1}).status_code == 422


def test_same_seed_same_random_fault_schedule(make_sim: Callable[..., TestClient]) -> None:
    def run(seed: int) -> list[int]:
        c = make_sim("bank", seed=seed)
        add_fault(c, {"effect": {"type": "error", "status": 503}, "when": {"probability": 0.3}})
        return [c.post("/v1/authorizations", json=AUTH).status_code for _ in range(40)]

    a, b, other = run(11), run(11), run(12)
    assert a == b and a != other
    assert 503 in a and 201 in a


def test_config_secret_and_journal_capacity(
    bank_client: TestClient, make_sim: Callable[..., TestClient]
) -> None:
    first = bank_client.get("/_sim/config").json()["callback_secret"]
    # No literal default: each start makes its own random secret.
    assert (
        len(first) >= 32 and make_sim("bank").get("/_sim/config").json()["callback_secret"] != first
    )
    chosen = token_hex(16)
    r = bank_client.patch("/_sim/config", json={"callback_secret": chosen, "journal_capacity": 10})
    assert r.json()["callback_secret"] == chosen and r.json()["journal_capacity"] == 10
    assert bank_client.patch("/_sim/config", json={"callback_secret": "x"}).status_code == 422
    assert bank_client.patch("/_sim/config", json={"nope": 1}).status_code == 422


def test_secret_from_environment(
    monkeypatch: pytest.MonkeyPatch, make_sim: Callable[..., TestClient]
) -> None:
    chosen = token_hex(16)
    monkeypatch.setenv("PAYLAB_SIM_BANK_SECRET", chosen)
    assert make_sim("bank").get("/_sim/config").json()["callback_secret"] == chosen


def test_journal_filters_via_api(bank_client: TestClient) -> None:
    bank_client.post("/v1/authorizations", json=AUTH)
    bank_client.get("/v1/authorizations/none")
    assert [e["status"] for e in journal(bank_client, status="4xx")] == [404]
    assert [e["method"] for e in journal(bank_client, method="POST")] == ["POST"]
    assert journal(bank_client, path="/v1/authorizations/*")[0]["path"] == "/v1/authorizations/none"
    assert bank_client.get("/_sim/journal", params={"status": "9xx"}).status_code == 422
    assert bank_client.get("/_sim/journal", params={"bogus": "1"}).status_code == 422
    assert bank_client.delete("/_sim/journal").status_code == 204
    assert journal(bank_client) == []


def test_timeout_holds_until_the_client_gives_up(free_port: int) -> None:
    app = bank.create_app()
    with serve(app, free_port) as url:
        httpx.post(f"{url}/_sim/faults", json={"effect": {"type": "timeout", "hold_ms": 60000}})
        started = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{url}/v1/authorizations/x", timeout=0.3)
        assert time.perf_counter() - started < 5
        entries = httpx.get(f"{url}/_sim/journal", params={"fault": "f1", "wait_ms": 5000}).json()[
            "entries"
        ]
        assert entries[0]["note"] == "client gave up" and entries[0]["status"] == 0


def test_reset_fault_resets_the_connection(free_port: int) -> None:
    app = bank.create_app()
    with serve(app, free_port) as url:
        httpx.post(f"{url}/_sim/faults", json={"effect": {"type": "reset"}, "when": {"next": 1}})
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)):
            httpx.post(f"{url}/v1/authorizations", json=AUTH, timeout=5)
        assert httpx.post(f"{url}/v1/authorizations", json=AUTH, timeout=5).status_code == 201
        entries = httpx.get(f"{url}/_sim/journal", params={"order": "asc"}).json()["entries"]
        assert entries[0]["note"] == "connection reset" and entries[0]["status"] == 0


def test_a_restarted_bank_with_its_state_file_never_reuses_an_authorization_id(
    make_sim: Callable[..., TestClient], tmp_path: Path
) -> None:
    state = tmp_path / "bank.json"
    seen: list[str] = []
    for _ in range(3):  # three runs of one simulator, each restoring the last one's state
        c = make_sim("bank", seed=11, state_file=state)
        seen += [c.post("/v1/authorizations", json=AUTH).json()["id"] for _ in range(2)]
        c.__exit__(None, None, None)  # stops it: the state file is written
    assert len(set(seen)) == len(seen), seen
