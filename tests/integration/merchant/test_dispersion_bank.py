"""Dispersion when the bank refuses or does not answer: the balance stays intact (or in transit
under one Idempotency-Key), and a later run pays exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from .dispersion_support import (
    BANK_URL,
    available,
    money_check,
    payout_account,
    ready_merchant,
    results,
    rows,
    run,
    some_day,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def bank_faults() -> Iterator[list[str]]:
    """Fault rules added on the bank simulator; removed (only those) afterwards."""
    added: list[str] = []
    yield added
    for rule in added:
        httpx.delete(f"{BANK_URL}/_sim/faults/{rule}", timeout=10)


def fault(bank_faults: list[str], merchant_doc: str, effect: dict[str, Any], times: int) -> None:
    """Fault the next `times` payouts of this merchant only (matched on its document)."""
    r = httpx.post(
        f"{BANK_URL}/_sim/faults",
        json={
            "match": {
                "method": "POST",
                "path": "/v1/payouts",
                "body": {"holder_doc_number": merchant_doc},
            },
            "effect": effect,
            "when": {"next": times},
        },
        timeout=10,
    )
    assert r.status_code in (200, 201), r.text
    bank_faults.append(str(r.json()["id"]))


def doc(merchant: Any) -> str:
    return str(merchant.body["merchant"]["doc_number"]).split("-")[0]


def test_a_closed_account_is_refused_balance_intact_then_paid_next_run(
    api: httpx.Client, register: Any
) -> None:
    merchant = ready_merchant(register)
    payout_account(merchant, "00123450000")  # the bank answers: rejected, account_closed
    balance = available(merchant.id)
    day = some_day()

    assert results(run(api, day, merchant), merchant) == ["rejected"]
    assert available(merchant.id) == balance  # the wallet got it back
    [row] = rows(api, merchant)
    assert row["status"] == "rejected" and "account_closed" in row["last_error"]
    assert row["wallet_return_id"] is not None
    assert money_check(api, merchant) == Decimal("0.00")

    payout_account(merchant)  # the merchant fixes its account
    assert results(run(api, day, merchant), merchant) == ["paid"]
    [row] = rows(api, merchant)
    assert (row["status"], row["attempt"]) == ("paid", 2)
    assert available(merchant.id) == Decimal("0.00")
    assert money_check(api, merchant) == balance


def test_a_bank_refusal_by_fault_is_retried_on_the_next_night(
    api: httpx.Client, register: Any, bank_faults: list[str]
) -> None:
    merchant = ready_merchant(register)
    balance = available(merchant.id)
    fault(bank_faults, doc(merchant), {"type": "error", "status": 422}, 1)
    day = some_day()

    assert results(run(api, day, merchant), merchant) == ["rejected"]
    assert available(merchant.id) == balance
    next_day = day.fromordinal(day.toordinal() + 1)
    assert results(run(api, next_day, merchant), merchant) == ["paid"]
    statuses = {r["business_date"]: r["status"] for r in rows(api, merchant)}
    assert statuses == {day.isoformat(): "rejected", next_day.isoformat(): "paid"}
    assert money_check(api, merchant) == balance


def test_a_bank_that_does_not_answer_keeps_the_money_in_transit_then_pays_once(
    api: httpx.Client, register: Any, bank_faults: list[str]
) -> None:
    merchant = ready_merchant(register)
    balance = available(merchant.id)
    # More 503s than the client's attempts: the outcome is unknown, nothing is returned.
    fault(bank_faults, doc(merchant), {"type": "error", "status": 503}, 10)
    day = some_day()

    assert results(run(api, day, merchant), merchant) == ["retry"]
    [row] = rows(api, merchant)
    assert row["status"] == "pending" and row["wallet_payout_id"] is not None
    assert available(merchant.id) == Decimal("0.00")

    httpx.delete(f"{BANK_URL}/_sim/faults/{bank_faults.pop()}", timeout=10)
    assert results(run(api, day, merchant), merchant) == ["paid"]
    [row] = rows(api, merchant)
    assert (row["status"], row["attempt"]) == ("paid", 1)  # same ids: the bank deduplicated
    assert money_check(api, merchant) == balance
