"""Helpers for the payment features: the SAGA's execution history and the books afterwards.

Executions are read from Step Functions (LocalStack), the books from the wallet's ledger check
and its tables, a payment's events from the payment service's own event store.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

import httpx
from payments_support import PAYMENT, WALLET, internal_headers, unique
from sqlalchemy import Engine, text
from waiting_support import wait_for

from paylab.core.aws import client as aws_client
from paylab.core.db import service_engine, session_factory
from paylab.core.stack_outputs import output
from paylab.payment import domain, saga_trace
from paylab.payment.event_store import EventStore
from paylab.payment.replay import Replay, replay
from paylab.payment.repository import PaymentRepository
from paylab.wallet import ledger, store


# ------------------------------------------------------------------------------- SAGA
@cache
def _sfn() -> Any:
    return aws_client("stepfunctions")


def execution_arn(payment_id: str) -> str:
    """The SAGA execution named after the payment."""
    return saga_trace.execution_arn(output("PaymentSagaStateMachineArn"), payment_id)


def execution_exists(payment_id: str) -> bool:
    """True when a SAGA execution was started for the payment."""
    try:
        _sfn().describe_execution(executionArn=execution_arn(payment_id))
    except _sfn().exceptions.ExecutionDoesNotExist:
        return False
    return True


def execution_status(payment_id: str) -> str:
    """The execution's status now (RUNNING, SUCCEEDED, FAILED, ...)."""
    return str(_sfn().describe_execution(executionArn=execution_arn(payment_id))["status"])


def finished_execution(payment_id: str, timeout: float = 60.0) -> str:
    """The execution's final status (SUCCEEDED, FAILED, ...) once it is no longer running."""

    def probe() -> str | None:
        status = execution_status(payment_id)
        return None if status == "RUNNING" else status

    return wait_for(f"the SAGA of {payment_id} to finish", probe, timeout=timeout)


def history(payment_id: str) -> list[dict[str, Any]]:
    """Every event of the payment's execution, oldest first."""
    return saga_trace.history(_sfn(), execution_arn(payment_id))


def trace(payment_id: str) -> saga_trace.Trace:
    """The execution as `paylab payments saga` folds it: steps, tries, errors, catches."""
    return saga_trace.fold(history(payment_id))


def task_states(payment_id: str) -> list[str]:
    """The Task states the execution entered, in order, each once (retries and loops folded)."""
    seen: list[str] = []
    for step in trace(payment_id).steps:
        if step.kind == "Task" and step.state not in seen:
            seen.append(step.state)
    return seen


def entered(payment_id: str, state: str) -> bool:
    """True once the execution has entered `state` (of any kind)."""
    return any(step.state == state for step in trace(payment_id).steps)


def failed_attempts(payment_id: str) -> dict[str, int]:
    """Task state → how many of its attempts failed (each then retried or caught)."""
    failures: dict[str, int] = {}
    for step in trace(payment_id).steps:
        if step.errors:
            failures[step.state] = failures.get(step.state, 0) + len(step.errors)
    return failures


def set_pse_timeout(merchant_id: str, seconds: int | None) -> int:
    """An operator's per-merchant PSE wait (None: the default); returns the one now in force."""
    r = httpx.put(
        f"{PAYMENT}/internal/merchants/{merchant_id}/settings",
        json={"pse_timeout_seconds": seconds},
        headers=internal_headers(),
        timeout=10.0,
    )
    assert r.status_code == 200, r.text
    return int(r.json()["pse_timeout_seconds"])


# ------------------------------------------------------------------------------- the books
def ledger_check(merchant_id: str) -> dict[str, Any]:
    """The wallet's invariants, with the merchant's open holds."""
    r = httpx.get(
        f"{WALLET}/internal/ledger/check",
        params={"merchant_id": merchant_id},
        headers=internal_headers(),
        timeout=10.0,
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def pay_out(merchant_id: str, amount: Decimal) -> None:
    """Disperse `amount` of the merchant's available balance (the wallet's internal payout)."""
    r = httpx.post(
        f"{WALLET}/internal/payouts",
        json={
            "operation_id": unique("payout"),
            "merchant_id": merchant_id,
            "amount": f"{amount:.2f}",
            "currency": "COP",
        },
        headers=internal_headers(),
        timeout=10.0,
    )
    assert r.status_code == 201, r.text


@cache
def _wallet_engine() -> Engine:
    return service_engine("wallet", pool_size=1)


def payment_movements(payment_id: str) -> dict[ledger.SystemAccount, Decimal]:
    """What the payment's postings moved, in all, on each COP system account."""
    ids = {store.system_account(code, ledger.Currency.COP): code for code in ledger.SystemAccount}
    with _wallet_engine().connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.account_id, sum(e.amount) FROM wallet.entries e "
                "JOIN wallet.postings p ON p.id = e.posting_id "
                "WHERE p.payment_id = :p GROUP BY e.account_id"
            ),
            {"p": payment_id},
        ).all()
    moved = dict.fromkeys(ledger.SystemAccount, Decimal("0"))
    for account_id, total in rows:
        if account_id in ids:
            moved[ids[account_id]] = Decimal(total)
    return moved


@cache
def payment_repository() -> PaymentRepository:
    """The payment service's own repository (its role, its table), for replays."""
    sessions = session_factory(service_engine("payment", pool_size=2))
    return PaymentRepository(sessions, EventStore(output("PaymentEventStoreTableName")))


def replay_payment(payment_id: str) -> Replay:
    """Fold the payment's events and compare them with its Postgres row."""
    return replay(payment_repository(), payment_id)


def final_events(payment_id: str) -> list[domain.EventRecord]:
    """The payment's PaymentCompleted / PaymentFailed events."""
    events = payment_repository().store.load(payment_id)
    return [e for e in events if e.type in (domain.COMPLETED, domain.FAILED)]
