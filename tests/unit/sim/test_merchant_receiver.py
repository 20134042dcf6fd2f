"""The merchant-side receiver: records webhooks, checks x_signature, fails when told to."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from simulators.merchant import create_app

CUST, P_KEY = "500001", "4f6c0d2a9b8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"


def signed_form(**overrides: str) -> dict[str, str]:
    form = {
        "x_cust_id_cliente": CUST,
        "x_ref_payco": "100000135",
        "x_transaction_id": "94cd3c1e-6a55-4f73-8d8e-2f1f4e0f9a10",
        "x_amount": "30000.00",
        "x_currency_code": "COP",
        "x_cod_response": "1",
        "x_response": "Aceptada",
    }
    text = f"{CUST}^{P_KEY}^100000135^94cd3c1e-6a55-4f73-8d8e-2f1f4e0f9a10^30000.00^COP"
    form["x_signature"] = hashlib.sha256(text.encode()).hexdigest()
    return form | overrides


@pytest.fixture
def receiver() -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        assert client.put(f"/_sim/merchants/{CUST}", json={"p_key": P_KEY}).status_code == 200
        yield client


def webhooks(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/_sim/webhooks", params=params)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["webhooks"]
    return found


def test_a_correctly_signed_webhook_is_recorded_valid(receiver: TestClient) -> None:
    r = receiver.post("/confirmation", data=signed_form())
    assert r.status_code == 200
    assert r.json()["signature_valid"] is True
    [hook] = webhooks(receiver)
    assert hook["signature_valid"] and hook["signature_note"] == "ok"
    assert hook["x_ref_payco"] == "100000135" and hook["x_cod_response"] == "1"
    assert hook["content_type"].startswith("application/x-www-form-urlencoded")
    assert hook["fields"]["x_response"] == "Aceptada"


@pytest.mark.parametrize(
    "field", ["x_ref_payco", "x_transaction_id", "x_amount", "x_currency_code"]
)
def test_a_tampered_signed_field_is_invalid(receiver: TestClient, field: str) -> None:
    r = receiver.post("/confirmation", data=signed_form(**{field: "1"}))
    assert r.status_code == 200 and r.json()["signature_valid"] is False
    assert webhooks(receiver)[0]["signature_note"] == "x_signature does not match"


def test_wrong_key_unknown_merchant_and_missing_fields(receiver: TestClient) -> None:
    receiver.put(f"/_sim/merchants/{CUST}", json={"p_key": "another-key"})
    assert receiver.post("/confirmation", data=signed_form()).json()["signature_valid"] is False
    receiver.post("/confirmation", data=signed_form(x_cust_id_cliente="999"))
    assert "not configured" in webhooks(receiver)[0]["signature_note"]
    form = signed_form()
    del form["x_signature"]
    receiver.post("/confirmation", data=form)
    assert webhooks(receiver)[0]["signature_note"] == "missing x_signature"
    assert webhooks(receiver, signature_valid=True) == []
    assert len(webhooks(receiver, signature_valid=False)) == 3


def test_get_confirmations_and_json_are_read_too(receiver: TestClient) -> None:
    assert receiver.get("/confirmation", params=signed_form()).json()["signature_valid"]
    assert receiver.post("/confirmation", json=signed_form()).json()["signature_valid"]


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"hello", "text/plain", 415),
        (b"[1, 2]", "application/json", 400),
        (b"\xff\xfe", "application/x-www-form-urlencoded", 400),
    ],
)
def test_unreadable_bodies_are_4xx(
    receiver: TestClient, content: bytes, content_type: str, status: int
) -> None:
    r = receiver.post("/confirmation", content=content, headers={"content-type": content_type})
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"


def test_faults_make_it_fail_and_nothing_is_recorded(receiver: TestClient) -> None:
    rule = {
        "match": {"method": "POST", "path": "/confirmation"},
        "effect": {"type": "error", "status": 500},
        "when": {"next": 2},
    }
    assert receiver.post("/_sim/faults", json=rule).status_code == 201
    codes = [receiver.post("/confirmation", data=signed_form()).status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    assert len(webhooks(receiver)) == 1  # only the one that reached the endpoint
    journal = receiver.get("/_sim/journal", params={"path": "/confirmation"}).json()["entries"]
    assert [e["status"] for e in journal] == [200, 500, 500]


def test_filters_admin_and_reset(receiver: TestClient) -> None:
    receiver.post("/confirmation", data=signed_form())
    receiver.post("/confirmation", data=signed_form(x_ref_payco="7"))
    assert [h["x_ref_payco"] for h in webhooks(receiver, x_ref_payco="7")] == ["7"]
    listed = receiver.get("/_sim/merchants").json()["merchants"]
    assert listed == [
        {"p_cust_id_cliente": CUST, "p_key_sha256_prefix": listed[0]["p_key_sha256_prefix"]}
    ]
    assert P_KEY not in receiver.get("/_sim/merchants").text  # never echoed
    assert receiver.delete("/_sim/webhooks").json() == {"removed": 2}
    assert receiver.post("/_sim/reset").status_code == 200
    assert receiver.get("/_sim/merchants").json() == {"merchants": []}
    assert receiver.delete(f"/_sim/merchants/{CUST}").status_code == 404
    assert receiver.put("/_sim/merchants/abc", json={"p_key": "k"}).status_code == 422


def test_state_file_keeps_merchants_and_webhooks(tmp_path: Path) -> None:
    state = tmp_path / "merchant.json"
    with TestClient(create_app(state_file=state)) as client:
        client.put(f"/_sim/merchants/{CUST}", json={"p_key": P_KEY})
        client.post("/confirmation", data=signed_form())
    with TestClient(create_app(state_file=state)) as client:
        assert [h["signature_valid"] for h in webhooks(client)] == [True]
        assert client.post("/confirmation", data=signed_form()).json()["signature_valid"]
