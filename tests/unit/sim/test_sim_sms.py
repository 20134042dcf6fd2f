"""SMS simulator: numbers, encoding, receipts as signed callbacks, message log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from simulators.sms.numbers import encoding_and_segments, number_error
from simulators.testing import CallbackReceiver

pytestmark = pytest.mark.timeout(60)
HOOK = "http://shop.test/sms/receipts"


@pytest.fixture
def sms(make_sim: Callable[..., TestClient]) -> TestClient:
    c = make_sim("sms", seed=2)
    c.patch("/_sim/settings", json={"delivery_delay_ms": 1})
    return c


def send(c: TestClient, to: str = "+573001234567", **kw: Any) -> Any:
    return c.post("/v1/messages", json={"to": to, "body": "Su código es 123456", **kw})


@pytest.mark.parametrize(
    ("to", "ok"),
    [
        ("+573001234567", True),
        ("+14155550123", True),
        ("3001234567", False),
        ("+57601234567", False),
        ("+5760123456789", False),
        ("+0123456789", False),
    ],
)
def test_number_rules(to: str, ok: bool) -> None:
    assert (number_error(to) is None) == ok


def test_encoding_and_segments() -> None:
    assert encoding_and_segments("a" * 160) == ("GSM-7", 1)
    assert encoding_and_segments("a" * 161) == ("GSM-7", 2)
    assert encoding_and_segments("€" * 80) == ("GSM-7", 1)
    assert encoding_and_segments("€" * 81) == ("GSM-7", 2)
    assert encoding_and_segments("😀" * 35) == ("UCS-2", 1)
    assert encoding_and_segments("ç" * 71) == ("UCS-2", 2)


def test_invalid_numbers_get_clear_errors(sms: TestClient) -> None:
    r = send(sms, "+57601234567")
    assert r.status_code == 422
    assert "mobiles" in r.json()["errors"][0]["message"]
    assert r.json()["errors"][0]["field"] == "body.to"
    assert send(sms, "not-a-number").status_code == 422
    assert sms.post("/v1/messages", json={"to": "+573001234567", "body": ""}).status_code == 422


def test_receipts_sent_then_delivered(sms: TestClient, receiver: CallbackReceiver) -> None:
    m = send(sms, callback_url=HOOK, reference="otp-1").json()
    assert m["status"] == "sent" and m["segments"] == 1
    got = receiver.wait_for(2)
    assert [r.json["data"]["status"] for r in got] == ["sent", "delivered"]
    secret = sms.get("/_sim/config").json()["callback_secret"]
    assert all(r.signed_with(secret) for r in got)
    assert got[0].json["data"]["reference"] == "otp-1"
    assert sms.get(f"/v1/messages/{m['id']}").json()["status"] == "delivered"


@pytest.mark.parametrize(
    ("to", "final", "code"),
    [
        ("+573000000001", "failed", "handset_unreachable"),
        ("+573000000002", "undelivered", "carrier_rejected"),
    ],
)
def test_magic_numbers(
    sms: TestClient, receiver: CallbackReceiver, to: str, final: str, code: str
) -> None:
    send(sms, to, callback_url=HOOK)
    last = receiver.wait_for(2)[-1].json["data"]
    assert (last["status"], last["error_code"]) == (final, code)


def test_never_delivered_number(sms: TestClient, receiver: CallbackReceiver) -> None:
    m = send(sms, "+573000000003", callback_url=HOOK).json()
    receiver.wait_for(1)
    assert sms.post("/_sim/callbacks/drain").json()["drained"] is True
    assert len(receiver.received) == 1
    assert sms.get(f"/v1/messages/{m['id']}").json()["status"] == "sent"


def test_reorder_fault_delivers_receipts_out_of_order(
    sms: TestClient, receiver: CallbackReceiver
) -> None:
    sms.post(
        "/_sim/faults",
        json={
            "match": {"body": {"status": "sent"}},
            "effect": {"type": "reorder", "hold_ms": 10000},
        },
    )
    send(sms, callback_url=HOOK)
    got = receiver.wait_for(2)
    assert [r.json["data"]["status"] for r in got] == ["delivered", "sent"]


def test_message_log_query(sms: TestClient) -> None:
    send(sms, "+573001111111", reference="a")
    send(sms, "+573002222222", reference="b")
    send(sms, "+573000000003", reference="c")
    sms.post("/_sim/callbacks/drain")
    log = sms.get("/v1/messages").json()["messages"]
    assert [m["reference"] for m in log] == ["c", "b", "a"]
    assert [
        m["to"] for m in sms.get("/v1/messages", params={"to": "+573002222222"}).json()["messages"]
    ] == ["+573002222222"]
    assert [
        m["reference"]
        for m in sms.get("/v1/messages", params={"reference": "a"}).json()["messages"]
    ] == ["a"]
    assert sms.get("/v1/messages", params={"status": "bogus"}).status_code == 422
    assert sms.get("/v1/messages/nope").status_code == 404
