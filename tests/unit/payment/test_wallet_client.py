"""The payment service's wallet client: a reservation found again says so (MockTransport)."""

from __future__ import annotations

import json

import httpx
import pytest

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
