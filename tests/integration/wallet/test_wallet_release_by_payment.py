"""ReleaseFunds by payment id: what the SAGA does when ReserveFunds' answer was lost."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paylab.core.settings import get_settings
from paylab.core.stack_outputs import output
from paylab.lambdas import release_funds
from paylab.wallet.app import create
from paylab.wallet.operations import WalletError
from paylab.wallet.schemas import HoldCreate, HoldRelease
from paylab.wallet.service import WalletService

from ..waiting import wait_until
from .conftest import Merchant, uid
from .test_wallet_concurrency import together

pytestmark = pytest.mark.timeout(120)


def release(client: TestClient, payment_id: str, op: str = "") -> Any:
    return client.post(
        f"/internal/payments/{payment_id}/hold/release",
        json={"operation_id": op or uid("rel"), "reason": "failed"},
    )


def test_a_hold_whose_id_was_lost_is_found_and_released(
    client: TestClient, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    payer = merchant.wallet(funded="50000.00")
    request = merchant.hold_request("wallet", "20000.00", payer)
    assert client.post("/internal/holds", json=request).status_code == 201
    found = client.get(f"/internal/payments/{request['payment_id']}/hold")
    assert found.status_code == 200 and found.json()["status"] == "held"

    op = uid("rel")
    r = release(client, request["payment_id"], op)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["outcome"], body["hold"]["status"]) == ("released", "released")
    assert body["hold"]["release_reason"] == "failed"
    assert (merchant.balance(payer)["available"], merchant.balance(payer)["held"]) == (
        "50000.00",
        "0.00",
    )
    replay = release(client, request["payment_id"], op)
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    assert release(client, request["payment_id"]).json()["outcome"] == "released"  # new op: same
    ledger_ok()


def test_without_a_hold_the_payment_is_closed_to_a_late_reserve(
    client: TestClient, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    request = merchant.hold_request("card", "20000.00")
    r = release(client, request["payment_id"])
    assert r.status_code == 200, r.text
    assert r.json() == {
        "payment_id": request["payment_id"],
        "outcome": "nothing-held",
        "hold": None,
    }
    late = client.post("/internal/holds", json=request)
    assert late.status_code == 409 and late.json()["type"].endswith("/payment-hold-closed")
    assert client.get(f"/internal/payments/{request['payment_id']}/hold").status_code == 404
    assert merchant.merchant_balance()["pending"] == "0.00"
    ledger_ok()


def test_a_captured_payment_is_not_released(client: TestClient, merchant: Merchant) -> None:
    request = merchant.hold_request("card", "20000.00")
    hold = client.post("/internal/holds", json=request).json()
    client.post(f"/internal/holds/{hold['id']}/capture", json={"operation_id": uid("cap")})
    r = release(client, request["payment_id"])
    assert r.status_code == 409 and r.json()["type"].endswith("/hold-already-captured")


def test_a_racing_late_reserve_is_released_or_refused_never_left_open(
    service: WalletService, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    """Reserve and release-by-payment at the same instant, many times: no hold stays open."""
    requests = [merchant.hold_request("card", "1000.00") for _ in range(6)]

    def work(i: int) -> str:
        request = requests[i // 2]
        try:
            if i % 2:
                body = HoldRelease(operation_id=uid("rel"), reason="failed")
                return str(service.release_payment(request["payment_id"], body, "c").body)
            return str(service.reserve(HoldCreate.model_validate(request), "c").status)
        except WalletError as refused:
            return str(refused.status)

    together(12, work)
    assert service.check(merchant.id).open_holds == 0
    assert merchant.merchant_balance()["pending"] == "0.00"
    ledger_ok()


@pytest.fixture
def wallet_over_http(engine: Engine) -> Iterator[str]:
    """This checkout's wallet served over HTTP, as the Lambdas reach the real one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(create(engine=engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=15, description="the wallet test server")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_release_funds_lambda_falls_back_to_the_payment_id(
    monkeypatch: pytest.MonkeyPatch,
    wallet_over_http: str,
    client: TestClient,
    merchant: Merchant,
    ledger_ok: Callable[[], None],
) -> None:
    """The real handler, its HTTP call and credential: a hold whose id the SAGA lost is freed."""
    settings = get_settings()
    monkeypatch.setenv("PAYLAB_WALLET_URL", wallet_over_http)
    monkeypatch.setenv("PAYLAB_INTERNAL_SECRET_ARN", output("InternalServiceCredentialSecretArn"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", settings.endpoint_url() or "")
    monkeypatch.setenv("AWS_DEFAULT_REGION", settings.region)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, os.environ.get(name, "test"))
    request = merchant.hold_request("card", "12000.00")
    assert client.post("/internal/holds", json=request).status_code == 201  # answer "lost"
    execution = {"payment_id": request["payment_id"], "final_status": "failed"}

    out = release_funds.handler(execution, None)
    assert out["released"] is True and out["status"] == "released"
    assert release_funds.handler(execution, None)["released"] is True  # a retried compensation
    assert merchant.merchant_balance()["pending"] == "0.00"

    never_held = {"payment_id": uid("pay"), "final_status": "failed"}
    assert release_funds.handler(never_held, None)["released"] is False
    ledger_ok()
