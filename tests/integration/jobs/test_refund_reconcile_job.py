"""The refund-reconcile Lambda on the stack: EventBridge's event, the payment service's job
route, the wallet. Refunds are made half-way straight in the wallet and aged in its database
(the job only looks at refunds not attempted for 10 minutes)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from paylab.core.db import service_engine
from paylab.core.internal_auth import HEADER, internal_credential
from paylab.payment.settings import get_payment_settings

from .conftest import invoke

RUN_AT = "2026-12-05T15:00:00Z"


@pytest.fixture
def wallet() -> Iterator[httpx.Client]:
    base = get_payment_settings().wallet_url
    headers = {HEADER: internal_credential()}
    with httpx.Client(base_url=base, headers=headers, timeout=10.0) as http:
        yield http


def half_done_refund(wallet: httpx.Client, payment_id: str, merchant_id: str) -> dict[str, Any]:
    """A captured 30,000 COP PSE hold and a 5,000 refund of it left reserved an hour ago."""
    account = wallet.post(
        "/internal/accounts", json={"merchant_id": merchant_id, "currency": "COP"}
    )
    assert account.status_code in (200, 201), account.text
    hold = wallet.post(
        "/internal/holds",
        json={
            "operation_id": f"{payment_id}:reserve",
            "payment_id": payment_id,
            "merchant_id": merchant_id,
            "method": "pse",
            "amount": "30000.00",
            "currency": "COP",
        },
    )
    assert hold.status_code == 201, hold.text
    captured = wallet.post(
        f"/internal/holds/{hold.json()['id']}/capture",
        json={"operation_id": f"{payment_id}:capture"},
    )
    assert captured.status_code == 200, captured.text
    refund = wallet.post(
        "/internal/refunds",
        json={
            "operation_id": f"{payment_id}:refund:crashed",
            "payment_id": payment_id,
            "merchant_id": merchant_id,
            "amount": "5000.00",
        },
    )
    assert refund.status_code == 201, refund.text
    engine = service_engine("wallet", pool_size=1)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE wallet.refunds SET attempted_at = now() - interval '1 hour'"
                " WHERE id = CAST(:id AS uuid)"
            ),
            {"id": refund.json()["id"]},
        )
    engine.dispose()
    return dict(refund.json())


def status_of(wallet: httpx.Client, refund_id: str) -> str:
    return str(wallet.get(f"/internal/refunds/{refund_id}").json()["status"])


def test_a_stale_refund_is_cancelled_and_an_orphan_is_left_in_doubt(
    wallet: httpx.Client,
    active_merchant: Callable[[], tuple[str, str]],
    payment_rows: Callable[..., str],
) -> None:
    merchant_id, _ = active_merchant()
    known = payment_rows(merchant_id, datetime.now(UTC), method="pse")
    stale = half_done_refund(wallet, known, merchant_id)
    orphan = half_done_refund(wallet, f"pay_it{uuid.uuid4().hex[:16]}", merchant_id)

    answer = invoke("RefundReconcileFunctionArn", RUN_AT, "refund-reconcile")

    assert answer["job"] == "refund-reconcile" and answer["counts"]["cancelled"] >= 1
    assert status_of(wallet, stale["id"]) == "cancelled"  # PSE: nothing moved outside
    assert status_of(wallet, orphan["id"]) == "reserved"  # no payment: for an operator
    cancel = wallet.post(
        f"/internal/refunds/{orphan['id']}/cancel",
        json={"operation_id": f"{orphan['operation_id']}:cancel", "reason": "test cleanup"},
    )
    assert cancel.status_code == 200, cancel.text
    check = wallet.get("/internal/ledger/check", params={"merchant_id": merchant_id}).json()
    assert check["entries_sum_zero"] and check["open_refunds"] == 0, check
