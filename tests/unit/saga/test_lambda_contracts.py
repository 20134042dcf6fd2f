"""The Lambdas speak the services' contracts: field names and paths come from their schemas."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.routing import Match

from paylab.lambdas import capture_funds, release_funds, reserve_funds, reverse_charge
from paylab.wallet import schemas as wallet
from paylab.wallet.app import create as create_wallet


def _hold() -> dict[str, Any]:
    """A hold exactly as the wallet serialises it (what ReserveFunds puts in `$.hold`)."""
    return wallet.Hold(
        id=uuid.uuid4(),
        payment_id="p-1",
        merchant_id="m-1",
        method="card",
        amount="30000.00",
        fee="1797.00",
        net_amount="28203.00",
        currency="COP",
        payer_account_id=None,
        merchant_account_id=uuid.uuid4(),
        status="held",
        release_reason=None,
        created_at=datetime.now(UTC),
        resolved_at=None,
    ).model_dump(mode="json")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str, dict[str, Any]]]:
    seen: list[tuple[str, str, str, dict[str, Any]]] = []

    def fake(service: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        seen.append((service, method, path, body))
        return {"status": "ok"}

    for module in (capture_funds, release_funds, reserve_funds):
        monkeypatch.setattr(module, "call", fake)
    return seen


def test_reserve_sends_what_the_wallet_accepts(calls: list[Any]) -> None:
    event = {
        "payment_id": "p-1",
        "merchant_id": "m-1",
        "method": "card",
        "amount": "30000.00",
        "currency": "COP",
        "payer_account_id": None,
    }
    reserve_funds.handler(event, None)
    _, _, path, body = calls[0]
    assert path == "/internal/holds"
    wallet.HoldCreate.model_validate(body)  # raises if a field is missing or misnamed


def test_capture_and_release_address_the_hold_the_wallet_returned(calls: list[Any]) -> None:
    hold = _hold()
    capture_funds.handler({"payment_id": "p-1", "hold": hold}, None)
    release_funds.handler({"payment_id": "p-1", "hold": hold, "final_status": "failed"}, None)
    assert calls[0][2] == f"/internal/holds/{hold['id']}/capture"
    assert calls[1][2] == f"/internal/holds/{hold['id']}/release"
    wallet.HoldCapture.model_validate(calls[0][3])
    wallet.HoldRelease.model_validate(calls[1][3])


def test_a_broken_hold_fails_loudly(calls: list[Any]) -> None:
    with pytest.raises(KeyError):
        release_funds.handler({"payment_id": "p-1", "hold": {"status": "held"}}, None)
    assert calls == []


def _route_exists(method: str, path: str) -> bool:
    """True when the wallet app serves `method path` (path parameters matched as the app does)."""
    app = create_wallet()
    scope = {"type": "http", "method": method, "path": path}
    return any(r.matches(scope)[0] is Match.FULL for r in app.router.routes)


def test_without_a_hold_id_the_release_goes_by_payment_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ReserveFunds' answer was lost: the wallet is asked to release whatever the payment holds."""
    hold = _hold()
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def fake(service: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        seen.append((method, path, body))
        return as_served({"payment_id": "p-1", "outcome": "released", "hold": hold})

    monkeypatch.setattr(release_funds, "call", fake)
    out = release_funds.handler({"payment_id": "p-1", "final_status": "failed"}, None)
    method, path, body = seen[0]
    assert (method, path) == ("POST", "/internal/payments/p-1/hold/release")
    assert _route_exists(method, "/internal/payments/p-1/hold/release")
    assert wallet.HoldRelease.model_validate(body).reason == "failed"
    assert out["released"] is True and out["id"] == hold["id"]


def test_nothing_held_by_payment_id_is_reported_not_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(service: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return as_served({"payment_id": "p-1", "outcome": "nothing-held", "hold": None})

    monkeypatch.setattr(release_funds, "call", fake)
    assert release_funds.handler({"payment_id": "p-1"}, None)["released"] is False


def as_served(body: dict[str, Any]) -> dict[str, Any]:
    """`body` as the wallet would serialise it (fails when the fake drifts from the schema)."""
    return wallet.PaymentHoldRelease.model_validate(body).model_dump(mode="json")


def test_reverse_charge_calls_a_route_the_payment_service_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from paylab.payment.app import create as create_payment

    seen: list[tuple[str, str, str]] = []

    def fake(service: str, method: str, path: str) -> dict[str, Any]:
        seen.append((service, method, path))
        return {"outcome": "nothing_charged", "reversed": []}

    monkeypatch.setattr(reverse_charge, "call", fake)
    assert reverse_charge.handler({"payment_id": "p-1"}, None)["outcome"] == "nothing_charged"
    assert seen == [("payment", "POST", "/internal/payments/p-1/reverse-charge")]
    scope = {"type": "http", "method": "POST", "path": seen[0][2]}
    assert any(r.matches(scope)[0] is Match.FULL for r in create_payment().router.routes)
