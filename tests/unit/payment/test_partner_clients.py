"""The payment service's partner clients: replays, retries and budgets (MockTransport)."""

from __future__ import annotations

import json

import httpx
import pytest

from paylab.payment.partners import PartnerUnavailable, PseClient, QuickCall, RetryPolicy
from paylab.payment.wallet_client import WalletClient


def client(status: int, replayed: bool) -> tuple[WalletClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        body = {"id": "r-1", "status": "reserved", "amount": "10.00"}
        return httpx.Response(status, json=body, headers=headers)

    http = httpx.Client(base_url="http://wallet.test", transport=httpx.MockTransport(answer))
    return WalletClient(http, credential=lambda refresh=False: "cred"), seen


@pytest.mark.parametrize(("status", "replayed"), [(201, False), (200, True)])
def test_reserve_refund_tells_a_first_reservation_from_one_found_again(
    status: int, replayed: bool
) -> None:
    wallet, seen = client(status, replayed)
    refund = wallet.reserve_refund(
        operation_id="p-1:refund", payment_id="p-1", merchant_id="m-1", amount="10.00"
    )
    assert refund["found_again"] is replayed and refund["id"] == "r-1"
    [request] = seen
    assert request.url.path == "/internal/refunds"
    assert json.loads(request.content)["operation_id"] == "p-1:refund"


def test_a_quick_call_tries_once_with_its_own_timeout() -> None:
    seen: list[httpx.Request] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, json={"detail": "busy"})

    http = httpx.Client(base_url="http://pse.test", transport=httpx.MockTransport(unavailable))
    pse = PseClient(http, RetryPolicy(attempts=3, backoff_s=0.001))
    with pytest.raises(PartnerUnavailable):
        pse.create_transaction({}, "p-1", budget=QuickCall(attempts=1, timeout_s=2.5))
    [request] = seen
    assert request.extensions["timeout"]["read"] == 2.5
    seen.clear()
    with pytest.raises(PartnerUnavailable):
        pse.create_transaction({}, "p-1")  # the client's own policy: three attempts
    assert len(seen) == 3
