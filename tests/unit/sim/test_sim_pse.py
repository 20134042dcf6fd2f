"""PSE simulator: transactions, bank page, magic banks, signed confirmations, callback faults."""

from __future__ import annotations

from collections.abc import Callable
from secrets import token_hex
from typing import Any

import pytest
from fastapi.testclient import TestClient

from simulators.testing import CallbackReceiver

pytestmark = pytest.mark.timeout(60)


def txn(bank_code: str = "1007", **kw: Any) -> dict[str, Any]:
    return {
        "amount": "30000.00",
        "reference": "order-77",
        "description": "Pedido 77",
        "bank_code": bank_code,
        "person_type": "natural",
        "doc_type": "CC",
        "doc_number": "1020304050",
        "return_url": "http://shop.test/return?o=77",
        "confirmation_url": "http://shop.test/pse/confirm",
        **kw,
    }


@pytest.fixture
def pse(make_sim: Callable[..., TestClient]) -> TestClient:
    c = make_sim("pse", seed=1)
    c.patch("/_sim/config", json={"callback_max_attempts": 3, "callback_backoff_ms": 1})
    return c


def secret(c: TestClient) -> str:
    """The simulator's callback secret (random per start unless configured)."""
    return str(c.get("/_sim/config").json()["callback_secret"])


def create(c: TestClient, **kw: Any) -> dict[str, Any]:
    r = c.post("/v1/transactions", json=txn(**kw))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_bank_list_has_real_and_magic_banks(pse: TestClient) -> None:
    banks = {b["code"]: b for b in pse.get("/v1/banks").json()["banks"]}
    assert banks["1007"]["name"] == "BANCOLOMBIA" and banks["1007"]["magic"] is None
    assert banks["9991"]["magic"] == "approve" and banks["9995"]["magic"] == "never_answer"


def test_browser_flow_approve(pse: TestClient, receiver: CallbackReceiver) -> None:
    t = create(pse)
    assert t["status"] == "pending" and t["redirect_url"].endswith(f"/bank/{t['id']}")
    page = pse.get(f"/bank/{t['id']}")
    assert page.headers["content-type"].startswith("text/html")
    for button in (
        'value="approve"',
        'value="reject"',
        'value="abandon"',
        "30000.00",
        "BANCOLOMBIA",
    ):
        assert button in page.text
    r = pse.post(f"/bank/{t['id']}/decision", data={"decision": "approve"}, follow_redirects=False)
    assert r.status_code == 303
    assert (
        r.headers["location"]
        == f"http://shop.test/return?o=77&transaction_id={t['id']}&status=approved"
    )
    (cb,) = receiver.wait_for(1)
    assert cb.path == "/pse/confirm" and cb.signed_with(secret(pse))
    data = cb.json["data"]
    assert (data["status"], data["amount"], data["reference"]) == (
        "approved",
        "30000.00",
        "order-77",
    )
    assert data["cus"] is not None and cb.json["event"] == "pse.transaction.approved"
    assert pse.get(f"/v1/transactions/{t['id']}").json()["status"] == "approved"
    again = pse.post(f"/bank/{t['id']}/decision", data={"decision": "reject"})
    assert again.status_code == 409
    assert "Volver al comercio" in pse.get(f"/bank/{t['id']}").text


@pytest.mark.parametrize(("decision", "status"), [("reject", "rejected"), ("abandon", "abandoned")])
def test_browser_flow_other_decisions(
    pse: TestClient, receiver: CallbackReceiver, decision: str, status: str
) -> None:
    t = create(pse)
    pse.post(f"/bank/{t['id']}/decision", data={"decision": decision}, follow_redirects=False)
    assert receiver.wait_for(1)[0].json["data"]["status"] == status


def test_bad_decisions(pse: TestClient) -> None:
    t = create(pse)
    assert pse.post(f"/bank/{t['id']}/decision", data={"decision": "maybe"}).status_code == 422
    assert pse.post(f"/bank/{t['id']}/decision", json={"decision": "approve"}).status_code == 415
    assert pse.post("/bank/nope/decision", data={"decision": "approve"}).status_code == 404


@pytest.mark.parametrize(
    ("code", "status"), [("9991", "approved"), ("9992", "rejected"), ("9993", "failed")]
)
def test_magic_banks_decide_at_once(
    pse: TestClient, receiver: CallbackReceiver, code: str, status: str
) -> None:
    t = create(pse, bank_code=code)
    assert t["status"] == status
    assert receiver.wait_for(1)[0].json["data"]["status"] == status


def test_pending_then_approve(pse: TestClient, receiver: CallbackReceiver) -> None:
    pse.patch("/_sim/settings", json={"pending_approve_ms": 50})
    t = create(pse, bank_code="9994")
    assert t["status"] == "pending"
    assert receiver.wait_for(1)[0].json["data"]["status"] == "approved"
    assert pse.get(f"/v1/transactions/{t['id']}").json()["status"] == "approved"


def test_expiry_abandons_and_never_answer_never_does(
    pse: TestClient, receiver: CallbackReceiver
) -> None:
    pse.patch("/_sim/settings", json={"expiry_ms": 50})
    silent = create(pse, bank_code="9995")
    t = create(pse)
    (cb,) = receiver.wait_for(1)
    assert cb.json["data"] == {**cb.json["data"], "transaction_id": t["id"], "status": "abandoned"}
    assert pse.get(f"/v1/transactions/{silent['id']}").json()["status"] == "pending"
    assert silent["expires_at"] is None


def test_validation(pse: TestClient) -> None:
    r = pse.post("/v1/transactions", json=txn(bank_code="4444"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.bank_code"
    r = pse.post("/v1/transactions", json=txn(amount=30000, return_url="not a url"))
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"body.amount", "body.return_url"} <= fields
    assert pse.get("/v1/transactions/nope").status_code == 404
    assert pse.get("/bank/nope").status_code == 404


def test_idempotent_create(pse: TestClient) -> None:
    h = {"Idempotency-Key": "pse-1"}
    a = pse.post("/v1/transactions", json=txn(), headers=h).json()
    b = pse.post("/v1/transactions", json=txn(), headers=h).json()
    assert a["id"] == b["id"]


def test_callback_retries_on_5xx(pse: TestClient, receiver: CallbackReceiver) -> None:
    receiver.status = 500
    create(pse, bank_code="9991")
    got = receiver.wait_for(3)
    assert [r.headers["x-sim-attempt"] for r in got] == ["1", "2", "3"]
    pse.post("/_sim/callbacks/drain")
    entries = pse.get("/_sim/journal", params={"kind": "callback", "order": "asc"}).json()[
        "entries"
    ]
    assert [e["status"] for e in entries] == [500, 500, 500]


def test_callback_fault_drop(pse: TestClient, receiver: CallbackReceiver) -> None:
    pse.post("/_sim/faults", json={"effect": {"type": "drop"}, "when": {"next": 1}})
    create(pse, bank_code="9991")
    create(pse, bank_code="9992")
    (only,) = receiver.wait_for(1)
    assert only.json["data"]["status"] == "rejected"
    assert pse.post("/_sim/callbacks/drain").json() == {"drained": True, "pending": 0}
    dropped = pse.get("/_sim/journal", params={"fault": "f1"}).json()["entries"]
    assert dropped[0]["note"] == "dropped: never sent" and dropped[0]["kind"] == "callback"
    assert len(receiver.received) == 1


def test_callback_fault_duplicate_keeps_event_id(
    pse: TestClient, receiver: CallbackReceiver
) -> None:
    pse.post("/_sim/faults", json={"effect": {"type": "duplicate", "copies": 2}})
    create(pse, bank_code="9991")
    got = receiver.wait_for(3)
    assert len({r.headers["x-sim-event-id"] for r in got}) == 1
    assert len({r.body for r in got}) == 1


def test_callback_fault_bad_signature(pse: TestClient, receiver: CallbackReceiver) -> None:
    pse.post(
        "/_sim/faults",
        json={"match": {"body": {"status": "approved"}}, "effect": {"type": "bad_signature"}},
    )
    create(pse, bank_code="9991")
    create(pse, bank_code="9992")
    got = {r.json["data"]["status"]: r for r in receiver.wait_for(2)}
    assert not got["approved"].signed_with(secret(pse))
    assert got["rejected"].signed_with(secret(pse))


def test_callback_fault_delay(pse: TestClient, receiver: CallbackReceiver) -> None:
    pse.post("/_sim/faults", json={"effect": {"type": "delay", "ms": 100}, "when": {"next": 1}})
    create(pse, bank_code="9991")
    create(pse, bank_code="9992")
    got = receiver.wait_for(2)
    assert [r.json["data"]["status"] for r in got] == ["rejected", "approved"]


def test_callback_fault_reorder(pse: TestClient, receiver: CallbackReceiver) -> None:
    pse.post(
        "/_sim/faults", json={"effect": {"type": "reorder", "hold_ms": 10000}, "when": {"next": 1}}
    )
    create(pse, bank_code="9991")
    create(pse, bank_code="9992")
    got = receiver.wait_for(2)
    assert [r.json["data"]["status"] for r in got] == ["rejected", "approved"]


def test_reorder_hold_expires(pse: TestClient, receiver: CallbackReceiver) -> None:
    pse.post("/_sim/faults", json={"effect": {"type": "reorder", "hold_ms": 50}})
    create(pse, bank_code="9991")
    assert receiver.wait_for(1)[0].json["data"]["status"] == "approved"


def test_secret_change_applies(pse: TestClient, receiver: CallbackReceiver) -> None:
    before, after = secret(pse), token_hex(16)
    pse.patch("/_sim/config", json={"callback_secret": after})
    create(pse, bank_code="9991")
    cb = receiver.wait_for(1)[0]
    assert cb.signed_with(after) and not cb.signed_with(before)


def test_reset_cancels_timers(pse: TestClient, receiver: CallbackReceiver) -> None:
    pse.patch("/_sim/settings", json={"pending_approve_ms": 50})
    create(pse, bank_code="9994")
    pse.post("/_sim/reset")
    pse.patch("/_sim/settings", json={"pending_approve_ms": 300})
    later = create(pse, bank_code="9994")
    # The first timer was due at 50 ms: had reset not cancelled it, it would arrive first.
    (cb,) = receiver.wait_for(1)
    assert cb.json["data"]["transaction_id"] == later["id"]
