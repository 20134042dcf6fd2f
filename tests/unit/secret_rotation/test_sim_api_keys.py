"""Simulators check X-Api-Key once configured, with a grace window for the replaced key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from simulators import antifraud, bank
from simulators.api_keys import ApiKeys

KEY_A = "a" * 24
KEY_B = "b" * 24
KEY_C = "c" * 24
EVAL = {"amount": "30000.00", "email": "ana@example.com", "card_number": "4575623182290326"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_accepts_current_and_previous_until_the_grace_ends() -> None:
    clock = Clock()
    keys = ApiKeys(clock=clock)
    assert keys.check(None) == "open"
    keys.set(KEY_A, 60)
    assert keys.check(KEY_A) == "current"
    assert keys.check(None) is None
    keys.set(KEY_B, 60)
    assert keys.check(KEY_B) == "current"
    assert keys.check(KEY_A) == "previous"
    clock.now += 61
    assert keys.check(KEY_A) is None
    assert keys.check(KEY_B) == "current"


def test_a_key_two_rotations_old_is_refused_at_once() -> None:
    keys = ApiKeys(clock=Clock())
    keys.set(KEY_A, 600)
    keys.set(KEY_B, 600)
    keys.set(KEY_C, 600)
    assert keys.check(KEY_A) is None
    assert keys.check(KEY_B) == "previous"


def test_setting_the_current_key_again_keeps_the_previous_one() -> None:
    keys = ApiKeys(clock=Clock())
    keys.set(KEY_A, 600)
    keys.set(KEY_B, 600)
    keys.set(KEY_B, 600)  # a retried setSecret
    assert keys.check(KEY_A) == "previous"


@pytest.fixture
def af() -> Iterator[TestClient]:
    with TestClient(antifraud.create_app(seed=1)) as client:
        yield client


def test_an_unconfigured_simulator_is_open(af: TestClient) -> None:
    assert af.post("/v1/evaluations", json=EVAL).status_code == 200
    assert af.get("/v1/auth/check").json() == {"key": "open"}


def test_a_configured_simulator_wants_the_key_on_partner_routes_only(af: TestClient) -> None:
    assert af.put("/_sim/api-keys", json={"key": KEY_A}).status_code == 200
    refused = af.post("/v1/evaluations", json=EVAL)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["status"] == 401
    wrong = af.post("/v1/evaluations", json=EVAL, headers={"X-Api-Key": KEY_B})
    assert wrong.status_code == 401
    ok = af.post("/v1/evaluations", json=EVAL, headers={"X-Api-Key": KEY_A})
    assert ok.status_code == 200
    assert af.get("/_sim/health").status_code == 200  # the control plane stays open
    journal = af.get("/_sim/journal", params={"path": "/v1/evaluations"}).json()["entries"]
    assert sorted(e["status"] for e in journal) == [200, 401, 401]


def test_the_admin_api_shows_fingerprints_never_keys(af: TestClient) -> None:
    af.put("/_sim/api-keys", json={"key": KEY_A, "grace_seconds": 30})
    status = af.put("/_sim/api-keys", json={"key": KEY_B, "grace_seconds": 30}).json()
    assert status["configured"] is True
    assert status["previous"] is not None
    assert 0 < status["previous_valid_for_seconds"] <= 30
    assert KEY_A not in str(status)
    assert KEY_B not in str(status)
    check = af.get("/v1/auth/check", headers={"X-Api-Key": KEY_A})
    assert check.json() == {"key": "previous"}
    assert af.delete("/_sim/api-keys").status_code == 204
    assert af.get("/_sim/api-keys").json()["configured"] is False
    assert af.post("/v1/evaluations", json=EVAL).status_code == 200


def test_bad_admin_input_is_a_422(af: TestClient) -> None:
    assert af.put("/_sim/api-keys", json={"key": "short"}).status_code == 422
    assert af.put("/_sim/api-keys", json={"key": KEY_A, "grace_seconds": -1}).status_code == 422


def test_the_bank_fast_path_checks_the_key_too() -> None:
    body = {
        "amount": "1000.00",
        "currency": "COP",
        "reference": "r-1",
        "card": {"number": "4575623182290326", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    }
    with TestClient(bank.create_app(seed=1)) as client:
        client.put("/_sim/api-keys", json={"key": KEY_A})
        assert client.post("/v1/authorizations", json=body).status_code == 401
        ok = client.post("/v1/authorizations", json=body, headers={"X-Api-Key": KEY_A})
        assert ok.status_code == 201


def test_a_fault_on_the_probe_fails_a_valid_key_check(af: TestClient) -> None:
    af.put("/_sim/api-keys", json={"key": KEY_A})
    rule = {
        "match": {"method": "GET", "path": "/v1/auth/check"},
        "effect": {"type": "error", "status": 503},
    }
    assert af.post("/_sim/faults", json=rule).status_code == 201
    assert af.get("/v1/auth/check", headers={"X-Api-Key": KEY_A}).status_code == 503
    assert af.get("/v1/auth/check", headers={"X-Api-Key": KEY_B}).status_code == 401
