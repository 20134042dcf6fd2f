"""Dispersion through the real wallet and bank simulator: once per merchant and day, even when
fired twice, concurrently, or after a run that died half-way."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from ..waiting import wait_until
from .dispersion_support import (
    available,
    money_check,
    ready_merchant,
    results,
    rows,
    run,
    some_day,
    wallet,
)

pytestmark = pytest.mark.integration


def test_pays_the_available_balance_once_with_event_and_signed_webhook(
    api: httpx.Client,
    register: Any,
    receiver: httpx.Client,
    receiver_url: str,
    outbox: Any,
) -> None:
    merchant = ready_merchant(register, confirmation_url=f"{receiver_url}/confirmation")
    keys = merchant.keys
    receiver.put(f"/_sim/merchants/{keys['p_cust_id_cliente']}", json={"p_key": keys["p_key"]})
    balance = available(merchant.id)
    day = some_day()

    body = run(api, day, merchant)
    assert results(body, merchant) == ["paid"]
    assert available(merchant.id) == Decimal("0.00")
    [row] = rows(api, merchant)
    assert (row["status"], row["attempt"], Decimal(row["amount"])) == ("paid", 1, balance)
    assert money_check(api, merchant) == balance

    [event] = [e for e in outbox(row["id"]) if e["type"] == "DispersionCompleted"]
    assert event["data"]["merchant_email"] == merchant.body["merchant"]["email"]
    assert set(event["destinations"]) >= {"sns:merchant-events", "sqs:notification-ops"}

    def webhook() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = receiver.get(
            "/_sim/webhooks", params={"x_ref_payco": row["id"]}
        ).json()["webhooks"]
        return found

    [hook] = wait_until(webhook, timeout=15, description="the dispersion webhook")
    assert hook["signature_valid"] is True, hook["signature_note"]
    fields = hook["fields"]
    assert fields["x_type"] == "dispersion" and fields["x_amount"] == row["amount"]

    mine = api.get("/v1/merchants/me/dispersions", headers=merchant.headers).json()["items"]
    assert [d["id"] for d in mine] == [row["id"]]


def test_fired_twice_and_concurrently_pays_once(api: httpx.Client, register: Any) -> None:
    merchant = ready_merchant(register)
    balance = available(merchant.id)
    day = some_day()
    answers: list[list[str]] = []
    start = threading.Barrier(3)

    def fire() -> None:
        with httpx.Client(base_url=str(api.base_url), headers=api.headers, timeout=60) as c:
            start.wait()
            answers.append(results(run(c, day, merchant), merchant))

    threads = [threading.Thread(target=fire) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    answers.append(results(run(api, day, merchant), merchant))  # and once more, afterwards

    counts = Counter(r for a in answers for r in a)
    assert counts["paid"] == 1, answers
    assert counts["paid"] + counts["already_paid"] + counts["in_progress"] == 4
    assert answers[-1] == ["already_paid"]
    assert money_check(api, merchant) == balance
    assert len(rows(api, merchant)) == 1


def test_a_run_that_died_after_the_wallet_debit_is_resumed_next_night(
    api: httpx.Client, register: Any, engine: Engine
) -> None:
    merchant = ready_merchant(register)
    balance = available(merchant.id)
    day = some_day()
    # What a crash right after step 2 leaves: a pending row and its wallet debit, no bank call.
    dispersion_id = uuid.uuid4()
    with wallet() as w:
        debit = w.post(
            "/internal/payouts",
            json={
                "operation_id": f"{dispersion_id}:1",
                "merchant_id": merchant.id,
                "amount": f"{balance:.2f}",
                "currency": "COP",
            },
        )
        assert debit.status_code == 201, debit.text
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO merchant.dispersions (id, merchant_id, business_date, status,"
                " attempt, amount, currency, bank_account_last4, wallet_payout_id)"
                " VALUES (:id, :m, :d, 'pending', 1, :a, 'COP', '6789', NULL)"
            ),
            {"id": dispersion_id, "m": merchant.id, "d": day, "a": balance},
        )
    assert available(merchant.id) == Decimal("0.00")

    body = run(api, day.fromordinal(day.toordinal() + 1), merchant)
    resumed = [x for x in body["results"] if x["business_date"] == day.isoformat()]
    assert [x["result"] for x in resumed] == ["paid"]
    assert resumed[0]["dispersion_id"] == str(dispersion_id)
    [row] = [r for r in rows(api, merchant) if r["id"] == str(dispersion_id)]
    assert row["status"] == "paid" and row["attempt"] == 1
    # The wallet replayed the debit (operation id) instead of taking the money twice.
    assert money_check(api, merchant) == balance
