"""Scheduled-job fixtures: invoke the stack's job Lambdas with EventBridge's scheduled event,
and make (then remove) the merchants and payments they work on, straight in the databases."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from paylab.core.aws import invoker
from paylab.core.db import service_engine
from paylab.core.job_runs import eventbridge_scheduled_event
from paylab.core.stack_outputs import output


def scheduled_event(time: str, rule: str) -> dict[str, Any]:
    """What EventBridge sends a scheduled rule's target (no Input): only `time` matters."""
    return eventbridge_scheduled_event(
        time,
        rule_arn=f"arn:aws:events:us-east-1:000000000000:rule/paylab-{rule}",
        account="000000000000",
        region="us-east-1",
    )


def invoke(output_key: str, time: str, rule: str) -> dict[str, Any]:
    """Invoke a job Lambda (by its stack output) synchronously; its answer, or fail."""
    response = invoker().invoke(
        FunctionName=output(output_key),
        Payload=json.dumps(scheduled_event(time, rule)).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"null")
    assert "FunctionError" not in response, payload
    assert isinstance(payload, dict)
    return payload


@pytest.fixture(scope="session")
def engines() -> Iterator[dict[str, Engine]]:
    made = {name: service_engine(name, pool_size=2) for name in ("merchant", "payment")}
    made["notification"] = service_engine("notification", pool_size=2)
    yield made
    for engine in made.values():
        engine.dispose()


@pytest.fixture
def active_merchant(engines: dict[str, Engine]) -> Iterator[Callable[[], tuple[str, str]]]:
    """make() -> (merchant id, e-mail): an active merchant row, deleted afterwards."""
    made: list[str] = []

    def make() -> tuple[str, str]:
        merchant_id = f"mch_it{uuid.uuid4().hex[:18]}"
        email = f"jobs-{uuid.uuid4().hex[:10]}@tienda.test"
        with engines["merchant"].begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO merchant.merchants (id, status, name, email, phone, doc_type,"
                    " doc_number, registration_key, request_hash, p_key, wallet_account_id,"
                    " api_public_key, activated_at)"
                    " VALUES (:id, 'active', 'Tienda de jobs', :email, '+573001234567', 'CC',"
                    " :doc, :id, 'h', 'k', :wallet, :id, now())"
                ),
                {
                    "id": merchant_id,
                    "email": email,
                    "doc": str(uuid.uuid4().int)[:10],
                    "wallet": uuid.uuid4(),
                },
            )
        made.append(merchant_id)
        return merchant_id, email

    yield make
    if made:
        with engines["merchant"].begin() as conn:
            conn.execute(text("DELETE FROM merchant.merchants WHERE id = ANY(:ids)"), {"ids": made})


@pytest.fixture
def payment_rows(engines: dict[str, Engine]) -> Iterator[Callable[..., str]]:
    """add(merchant_id, created_at, **columns) -> payment id: a projected payment row."""
    made: list[str] = []

    def add(merchant_id: str, created_at: datetime, **columns: Any) -> str:
        payment_id = f"pay_it{uuid.uuid4().hex[:16]}"
        row = {
            "id": payment_id,
            "merchant_id": merchant_id,
            "ref_payco": f"it{uuid.uuid4().int % 10**12}",
            "reference": f"order-{payment_id[-6:]}",
            "description": "Pedido de prueba",
            "method": "card",
            "amount": Decimal("30000.00"),
            "currency": "COP",
            "status": "approved",
            "cod_respuesta": 1,
            "created_at": created_at,
        } | columns
        with engines["payment"].begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO payment.payments (id, merchant_id, ref_payco, reference,"
                    " description, method, amount, currency, status, cod_respuesta, customer,"
                    " idempotency_key, request_hash, version, created_at, updated_at)"
                    " VALUES (:id, :merchant_id, :ref_payco, :reference, :description, :method,"
                    " :amount, :currency, :status, :cod_respuesta, CAST('{}' AS jsonb), :id,"
                    " 'h', 1, :created_at, :created_at)"
                ),
                row,
            )
        made.append(payment_id)
        return payment_id

    yield add
    if made:
        with engines["payment"].begin() as conn:
            conn.execute(text("DELETE FROM payment.payments WHERE id = ANY(:ids)"), {"ids": made})
