"""Reserve, capture, release: idempotent per operation id, exactly once per hold, with events."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paylab.wallet.app import create

from .conftest import SETTINGS, Merchant, uid

Outbox = Callable[[str], list[dict[str, Any]]]


def reserve(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/internal/holds", json=body)


def capture(client: TestClient, hold_id: str, op: str = "") -> Any:
    return client.post(
        f"/internal/holds/{hold_id}/capture", json={"operation_id": op or uid("cap")}
    )


def release(client: TestClient, hold_id: str, op: str = "", reason: str = "declined") -> Any:
    return client.post(
        f"/internal/holds/{hold_id}/release",
        json={"operation_id": op or uid("rel"), "reason": reason},
    )


def test_wallet_payment_held_then_captured_net_of_fee(
    client: TestClient, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    payer = merchant.wallet(funded="100000.00")
    r = reserve(client, merchant.hold_request("wallet", "30000.00", payer))
    assert r.status_code == 201, r.text
    hold = r.json()
    assert hold["status"] == "held"
    assert hold["fee"] == "1797.00"  # 2.99% of 30000 + 900
    assert hold["net_amount"] == "28203.00"
    assert merchant.balance(payer)["available"] == "70000.00"
    assert merchant.balance(payer)["held"] == "30000.00"

    r = capture(client, hold["id"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "captured"
    assert (merchant.balance(payer)["available"], merchant.balance(payer)["held"]) == (
        "70000.00",
        "0.00",
    )
    assert merchant.merchant_balance() == {
        "available": "28203.00",
        "pending": "0.00",
        "currency": "COP",
    }
    ledger_ok()


@pytest.mark.parametrize("method", ["card", "pse"])
def test_card_and_pse_money_in_flight_is_the_merchants_pending(
    client: TestClient, merchant: Merchant, method: str, ledger_ok: Callable[[], None]
) -> None:
    hold = reserve(client, merchant.hold_request(method, "50000.00")).json()
    assert merchant.merchant_balance()["pending"] == "50000.00"
    assert capture(client, hold["id"]).status_code == 200
    assert merchant.merchant_balance() == {
        "available": "47605.00",  # 50000 - (1495 + 900)
        "pending": "0.00",
        "currency": "COP",
    }
    ledger_ok()


def test_release_returns_the_money_and_is_answered_once(
    client: TestClient, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    payer = merchant.wallet(funded="60000.00")
    hold = reserve(client, merchant.hold_request("wallet", "60000.00", payer)).json()
    first = release(client, hold["id"], reason="bank declined")
    assert first.status_code == 200
    assert first.json()["status"] == "released"
    assert first.json()["release_reason"] == "bank declined"
    assert merchant.balance(payer)["available"] == "60000.00"

    again = release(client, hold["id"], reason="compensation retried")  # another operation id
    assert again.status_code == 200
    assert again.json() == first.json()
    assert merchant.balance(payer)["available"] == "60000.00"  # not released twice

    late = capture(client, hold["id"])
    assert late.status_code == 409
    assert late.json()["type"].endswith("/hold-already-released")
    assert "cannot be captured" in late.json()["detail"]
    assert merchant.merchant_balance()["available"] == "0.00"
    ledger_ok()


def test_release_after_capture_is_409_with_a_clear_detail(
    client: TestClient, merchant: Merchant
) -> None:
    hold = reserve(client, merchant.hold_request("card", "10000.00")).json()
    captured = capture(client, hold["id"])
    assert capture(client, hold["id"]).json() == captured.json()  # a second capture: first answer
    r = release(client, hold["id"])
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/hold-already-captured")
    assert f"Hold {hold['id']}" in r.json()["detail"]
    assert merchant.merchant_balance()["available"] == captured.json()["net_amount"]


def test_same_operation_id_same_request_replays_the_first_answer(
    client: TestClient, merchant: Merchant
) -> None:
    payer = merchant.wallet(funded="90000.00")
    body = merchant.hold_request("wallet", "30000.00", payer)
    first = reserve(client, body)
    second = reserve(client, {**body, "amount": "30000"})  # the same amount, written differently
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert merchant.balance(payer)["held"] == "30000.00"  # held once

    op = uid("cap")
    assert (
        capture(client, first.json()["id"], op).json()
        == capture(client, first.json()["id"], op).json()
    )


def test_same_operation_id_different_request_is_409(client: TestClient, merchant: Merchant) -> None:
    body = merchant.hold_request("card", "30000.00")
    hold = reserve(client, body).json()
    r = reserve(client, {**body, "amount": "30001.00"})
    assert r.status_code == 409
    assert r.json()["type"].endswith("/idempotency-key-reused")
    op = uid("op")
    assert capture(client, hold["id"], op).status_code == 200
    assert release(client, hold["id"], op).json()["type"].endswith("/idempotency-key-reused")


def test_a_payment_is_held_once_whatever_the_operation_id(
    client: TestClient, merchant: Merchant
) -> None:
    body = merchant.hold_request("card", "30000.00")
    hold = reserve(client, body).json()
    r = reserve(client, {**body, "operation_id": uid("other")})
    assert r.status_code == 409
    assert r.json()["type"].endswith("/payment-already-held")
    assert hold["id"] in r.json()["detail"]
    assert merchant.merchant_balance()["pending"] == "30000.00"


def test_insufficient_funds_holds_nothing_and_the_answer_is_kept(
    client: TestClient, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    payer = merchant.wallet(funded="10000.00")
    body = merchant.hold_request("wallet", "10000.01", payer)
    r = reserve(client, body)
    assert r.status_code == 409
    assert r.json()["type"].endswith("/insufficient-funds")
    merchant.topup(payer, "5000.00")
    # The operation was decided: retrying it gives the same answer, even with money now there.
    assert reserve(client, body).json() == r.json()
    after = merchant.balance(payer)
    assert (after["available"], after["held"]) == ("15000.00", "0.00")
    r = client.get(f"/internal/ledger/check?merchant_id={merchant.id}")
    assert r.json()["open_holds"] == 0
    ledger_ok()


def test_unknown_hold_and_foreign_payer_are_404(
    client: TestClient, merchant: Merchant, new_merchant: Callable[..., Merchant]
) -> None:
    assert capture(client, "00000000-0000-4000-8000-000000000000").status_code == 404
    other = new_merchant()
    foreign = other.wallet(funded="100000.00")
    r = reserve(client, merchant.hold_request("wallet", "1000.00", foreign))
    assert r.status_code == 404
    assert other.balance(foreign)["available"] == "100000.00"


def test_merchant_without_account_gets_404(client: TestClient) -> None:
    body = {
        "operation_id": uid("op"),
        "payment_id": uid("pay"),
        "merchant_id": uid("nobody"),
        "method": "card",
        "amount": "10.00",
        "currency": "COP",
    }
    r = reserve(client, body)
    assert r.status_code == 404
    assert r.json()["type"].endswith("/merchant-account-not-found")


def test_events_go_to_the_outbox_with_the_envelope(
    client: TestClient, merchant: Merchant, outbox: Outbox
) -> None:
    payer = merchant.wallet(funded="200000.00")
    body = merchant.hold_request("wallet", "30000.00", payer)
    hold = client.post(
        "/internal/holds", json=body, headers={"X-Correlation-Id": "corr-123"}
    ).json()
    capture(client, hold["id"], "cap-" + hold["id"])
    events = outbox(body["payment_id"])
    assert [e["type"] for e in events] == ["FundsReserved", "FundsCaptured"]
    reserved = events[0]
    assert set(reserved) - {"destinations"} == {
        "id",
        "type",
        "version",
        "occurred_at",
        "source",
        "subject_id",
        "correlation_id",
        "data",
    }
    assert reserved["destinations"] == ["sns:wallet-events", "sqs:audit-ops"]
    assert reserved["source"] == "paylab.wallet"
    assert reserved["subject_id"] == body["payment_id"]
    assert reserved["correlation_id"] == "corr-123"
    assert reserved["data"]["amount"] == "30000.00"  # money as a string in events too
    assert reserved["data"]["operation_id"] == body["operation_id"]
    assert events[1]["data"]["status"] == "captured"
    assert events[1]["data"]["fee"] == "1797.00"

    updates = [e for e in outbox(payer) if e["type"] == "BalanceUpdated"]
    assert [(u["data"]["available"], u["data"]["held"]) for u in updates] == [
        ("200000.00", "0.00"),
        ("170000.00", "30000.00"),
        ("170000.00", "0.00"),
    ]
    merchant_updates = [e for e in outbox(merchant.account_id) if e["type"] == "BalanceUpdated"]
    assert merchant_updates[-1]["data"]["available"] == "28203.00"

    # A replay writes no event.
    reserve(client, body)
    assert len(outbox(body["payment_id"])) == 2


def test_low_balance_alert_when_available_drops_below_threshold(
    client: TestClient, merchant: Merchant, outbox: Outbox
) -> None:
    payer = merchant.wallet(funded="80000.00")
    reserve(client, merchant.hold_request("wallet", "20000.00", payer))  # 60000: above 50000
    assert not [e for e in outbox(payer) if e["type"] == "LowBalanceAlert"]
    reserve(client, merchant.hold_request("wallet", "20000.00", payer))  # 40000: crossed
    reserve(client, merchant.hold_request("wallet", "10000.00", payer))  # 30000: still below
    alerts = [e for e in outbox(payer) if e["type"] == "LowBalanceAlert"]
    assert len(alerts) == 1
    assert alerts[0]["destinations"] == ["events:paylab"]
    assert (alerts[0]["data"]["available"], alerts[0]["data"]["threshold"]) == (
        "40000.00",
        "50000.00",
    )
    assert alerts[0]["data"]["merchant_id"] == merchant.id


def test_payout_debits_the_merchant_once_per_operation(
    client: TestClient, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    hold = reserve(client, merchant.hold_request("card", "100000.00")).json()
    capture(client, hold["id"])
    available = merchant.merchant_balance()["available"]
    assert available == "96110.00"
    body = {
        "operation_id": uid("payout"),
        "merchant_id": merchant.id,
        "amount": "90000.00",
        "currency": "COP",
    }
    first = client.post("/internal/payouts", json=body)
    assert first.status_code == 201, first.text
    assert client.post("/internal/payouts", json=body).json() == first.json()
    assert merchant.merchant_balance()["available"] == "6110.00"
    too_much = client.post("/internal/payouts", json={**body, "operation_id": uid("payout")})
    assert too_much.status_code == 409
    assert too_much.json()["type"].endswith("/insufficient-funds")
    assert merchant.merchant_balance()["available"] == "6110.00"
    ledger_ok()


def test_the_balance_limit_refuses_a_top_up_never_a_release(
    engine: Engine, internal_headers: dict[str, str], new_merchant: Callable[..., Merchant]
) -> None:
    """A payer may hold money and top up to the limit again; releasing the hold must still
    work (a refused release would leave the money held for good)."""
    limited = SETTINGS.model_copy(update={"max_balance": Decimal("100000.00")})
    with TestClient(create(engine=engine, settings=limited)) as client:
        client.headers.update(internal_headers)
        merchant = new_merchant()
        merchant.client = client
        payer = merchant.wallet(funded="100000.00")
        hold = reserve(client, merchant.hold_request("wallet", "60000.00", payer)).json()
        merchant.topup(payer, "60000.00")  # available 100000.00 again, 60000.00 held
        over = client.post(
            f"/internal/wallets/{payer}/topups",
            json={"amount": "0.01", "currency": "COP"},
            headers={**merchant.headers, "Idempotency-Key": uid("topup")},
        )
        assert over.status_code == 422 and over.json()["type"].endswith("/balance-limit")
        released = release(client, hold["id"])
        assert released.status_code == 200, released.text
        assert merchant.balance(payer)["available"] == "160000.00"
