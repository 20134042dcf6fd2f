"""Confirmation webhooks end to end: payment event → delivery row → signed POST → receiver."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.events import Envelope
from paylab.core.pg_listen import listener_factory
from paylab.merchant.consumers import record_webhook
from paylab.merchant.delivery import WEBHOOK_CHANNEL, Deliverer, webhook_client
from paylab.merchant.delivery_loop import DeliveryLoop

from ..waiting import wait_until
from .conftest import SETTINGS, Registered


def payment_event(merchant_id: str, **data: Any) -> Envelope:
    """PaymentCompleted as payment's projection publishes it."""
    payment_id = str(uuid.uuid4())
    body = {
        "payment_id": payment_id,
        "merchant_id": merchant_id,
        "ref_payco": str(100_000_000 + uuid.uuid4().int % 899_999_999),
        "reference": f"order-{payment_id[:8]}",
        "method": "card",
        "amount": "30000.00",
        "currency": "COP",
        "status": "approved",
        "cod_respuesta": 1,
        "reason": None,
    }
    return Envelope(
        type="PaymentCompleted",
        source="paylab.payment",
        subject_id=payment_id,
        correlation_id=payment_id,
        occurred_at=datetime.now(UTC),
        data=body | data,
    )


def arrived(receiver: httpx.Client, ref_payco: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = receiver.get(
        "/_sim/webhooks", params={"x_ref_payco": ref_payco}
    ).json()["webhooks"]
    return found


def delivery(merchant: Registered, status: str | None = None) -> dict[str, Any] | None:
    items = merchant.get("/v1/merchants/me/webhooks").json()["items"]
    match = [d for d in items if status is None or d["status"] == status]
    return match[0] if match else None


def setup_merchant(
    register: Callable[..., Registered], receiver: httpx.Client, receiver_url: str
) -> Registered:
    merchant = register(confirmation_url=f"{receiver_url}/confirmation")
    keys = merchant.keys
    r = receiver.put(f"/_sim/merchants/{keys['p_cust_id_cliente']}", json={"p_key": keys["p_key"]})
    assert r.status_code == 200
    return merchant


def test_an_approved_payment_reaches_the_merchant_signed(
    register: Callable[..., Registered],
    receiver: httpx.Client,
    receiver_url: str,
    sessions: sessionmaker[Session],
    service_url: str,
) -> None:
    merchant = setup_merchant(register, receiver, receiver_url)
    event = payment_event(merchant.id, reference="order-1001")
    assert record_webhook(sessions, SETTINGS, event) is not None
    assert record_webhook(sessions, SETTINGS, event) is None  # a redelivered event: nothing new
    ref = event.data["ref_payco"]
    [hook] = wait_until(lambda: arrived(receiver, ref), timeout=30, description="the webhook")
    assert hook["signature_valid"], hook["signature_note"]
    fields = hook["fields"]
    assert fields["x_cust_id_cliente"] == merchant.keys["p_cust_id_cliente"]
    assert fields["x_transaction_id"] == event.data["payment_id"]
    assert (fields["x_amount"], fields["x_currency_code"]) == ("30000.00", "COP")
    assert (fields["x_cod_response"], fields["x_response"]) == ("1", "Aceptada")
    assert fields["x_id_invoice"] == "order-1001"
    done = wait_until(lambda: delivery(merchant, "delivered"), description="delivered")
    assert (done["attempts"], done["last_status_code"], done["ref_payco"]) == (1, 200, ref)

    # What a partner's endpoint must refuse: the same form with one signed field changed.
    tampered = {**fields, "x_amount": "3000000.00"}
    answer = receiver.post("/confirmation", data=tampered).json()
    assert answer["signature_valid"] is False


def test_the_payment_confirmation_url_wins_and_rotation_applies(
    register: Callable[..., Registered],
    receiver: httpx.Client,
    receiver_url: str,
    sessions: sessionmaker[Session],
    service_url: str,
) -> None:
    merchant = register()  # no confirmation URL of its own
    assert record_webhook(sessions, SETTINGS, payment_event(merchant.id)) is None
    rotated = merchant.send("POST", "/v1/merchants/me/signature-keys").json()
    receiver.put(
        f"/_sim/merchants/{rotated['p_cust_id_cliente']}", json={"p_key": rotated["p_key"]}
    )
    event = payment_event(
        merchant.id,
        status="rejected",
        cod_respuesta=2,
        reason="insufficient_funds",
        confirmation_url=f"{receiver_url}/confirmation?order=7",
    )
    event.type = "PaymentFailed"
    record_webhook(sessions, SETTINGS, event)
    [hook] = wait_until(lambda: arrived(receiver, event.data["ref_payco"]), timeout=30)
    assert hook["signature_valid"], hook["signature_note"]  # signed with the new p_key
    assert hook["fields"]["x_response"] == "Rechazada"
    assert hook["fields"]["x_response_reason_text"] == "insufficient_funds"


def test_a_failing_endpoint_is_retried_then_the_webhook_fails(
    register: Callable[..., Registered],
    receiver: httpx.Client,
    receiver_url: str,
    sessions: sessionmaker[Session],
    service_url: str,
    outbox: Callable[[str], list[dict[str, Any]]],
) -> None:
    merchant = setup_merchant(register, receiver, receiver_url)
    rule = {
        "match": {"method": "POST", "path": "/confirmation"},
        "effect": {"type": "error", "status": 500},
    }
    assert receiver.post("/_sim/faults", json=rule).status_code == 201
    event = payment_event(merchant.id)
    delivery_id = record_webhook(sessions, SETTINGS, event)
    assert delivery_id is not None
    failed = wait_until(lambda: delivery(merchant, "failed"), timeout=20, description="failed")
    assert failed["attempts"] == SETTINGS.webhook_max_attempts == 3
    assert (failed["last_status_code"], failed["last_error"]) == (500, "HTTP 500")
    with sessions() as session:
        attempts = session.execute(
            text(
                "SELECT attempt, status_code, at FROM merchant.webhook_attempts"
                " WHERE delivery_id = :d ORDER BY attempt"
            ),
            {"d": delivery_id},
        ).all()
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 500)]
    gaps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2  # the backoff doubled between attempts
    [webhook_failed] = outbox(str(delivery_id))
    assert webhook_failed["type"] == "WebhookFailed"
    assert webhook_failed["destinations"] == ["events:paylab"]
    data = webhook_failed["data"]
    assert (data["attempts"], data["last_status"], data["payment_id"]) == (
        3,
        500,
        event.data["payment_id"],
    )
    assert arrived(receiver, event.data["ref_payco"]) == []


def test_a_delivery_recorded_in_another_process_wakes_a_sleeping_loop(
    register: Callable[..., Registered],
    receiver: httpx.Client,
    receiver_url: str,
    engine: Engine,
    sessions: sessionmaker[Session],
    service_url: str,
) -> None:
    """The merchant-ops consumer records deliveries in the workers process: its NOTIFY, not the
    loop's poll (300 s here), is what gets the webhook out at once."""
    settings = SETTINGS.model_copy(
        update={"delivery_lane": f"it-listen-{uuid.uuid4().hex[:8]}", "delivery_poll_s": 300.0}
    )
    merchant = setup_merchant(register, receiver, receiver_url)

    def listening() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE query = :q"),
                    {"q": f"LISTEN {WEBHOOK_CHANNEL}"},
                ).scalar_one()
            )

    before = listening()
    with webhook_client() as http:
        deliverer = Deliverer(sessions, settings, http)
        loop = DeliveryLoop(
            lambda: deliverer,
            settings.delivery_poll_s,
            settings.delivery_batch,
            listener_factory(engine),
        )
        loop.start()
        try:
            # Its first round has run and its session listens: now it sleeps for 300 s.
            wait_until(lambda: listening() > before or None, description="the loop to listen")
            event = payment_event(merchant.id)
            assert record_webhook(sessions, settings, event) is not None
            ref = event.data["ref_payco"]
            [hook] = wait_until(
                lambda: arrived(receiver, ref), timeout=10, description="the woken delivery"
            )
            assert hook["signature_valid"], hook["signature_note"]
        finally:
            loop.stop()
