"""The data-cleanup Lambda: old rows go, young ones and those still needed stay."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from .conftest import invoke

RUN_AT = "2026-12-05T08:00:00Z"  # 03:00 in Bogota
OLD, YOUNG = "now() - interval '400 days'", "now() - interval '1 hour'"


def outbox_row(conn: Connection, schema: str, *, published: str | None, created: str) -> str:
    row_id = str(uuid.uuid4())
    conn.execute(
        text(
            f"INSERT INTO {schema}.outbox (id, aggregate_id, event_type, payload, destinations,"
            f" created_at, published_at) VALUES (CAST(:id AS uuid), :agg, 'CleanupProbe',"
            f" CAST('{{}}' AS jsonb), ARRAY[]::text[], {created}, {published or 'NULL'})"
        ),
        {"id": row_id, "agg": f"it-cleanup-{row_id}"},
    )
    return row_id


def exists(engine: Engine, sql: str, **params: Any) -> bool:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).first() is not None


@pytest.fixture
def cleanup_rows(engines: dict[str, Engine]) -> Iterator[list[tuple[str, str, str]]]:
    """(schema, DELETE statement, id) of every probe row, removed if the job kept it."""
    made: list[tuple[str, str, str]] = []
    yield made
    for schema, delete, row_id in reversed(made):
        with engines[schema].begin() as conn:
            conn.execute(text(delete), {"id": row_id})


def test_cleanup_deletes_by_the_policy_and_keeps_what_is_still_needed(
    engines: dict[str, Engine],
    active_merchant: Callable[[], tuple[str, str]],
    cleanup_rows: list[tuple[str, str, str]],
) -> None:
    payment, merchant, notification = (engines[s] for s in ("payment", "merchant", "notification"))
    drop_outbox = "DELETE FROM payment.outbox WHERE id = CAST(:id AS uuid)"
    with payment.begin() as conn:
        old_published = outbox_row(conn, "payment", published=OLD, created=OLD)
        young_published = outbox_row(conn, "payment", published=YOUNG, created=OLD)
        key = f"it-{uuid.uuid4().hex}"
        for answered, suffix in ((True, "done"), (False, "open")):
            conn.execute(
                text(
                    "INSERT INTO payment.idempotency_keys (merchant_id, idempotency_key,"
                    " request_hash, payment_id, response_status, response_body, created_at)"
                    f" VALUES ('it-cleanup', :key, 'h', 'p', :status, :body, {OLD})"
                ),
                {
                    "key": f"{key}-{suffix}",
                    "status": 201 if answered else None,
                    "body": json.dumps({}) if answered else None,
                },
            )
    cleanup_rows.extend(("payment", drop_outbox, i) for i in (old_published, young_published))
    drop_key = "DELETE FROM payment.idempotency_keys WHERE idempotency_key = :id"
    cleanup_rows.extend(("payment", drop_key, f"{key}-{s}") for s in ("done", "open"))

    merchant_id, _ = active_merchant()
    lane = f"it-{uuid.uuid4().hex[:8]}"  # no delivery loop serves this lane
    deliveries = {"delivered": str(uuid.uuid4()), "pending": str(uuid.uuid4())}
    with merchant.begin() as conn:
        for status, delivery in deliveries.items():
            pending = status == "pending"
            conn.execute(
                text(
                    "INSERT INTO merchant.webhook_deliveries (id, event_id, event_type,"
                    " merchant_id, payment_id, url, fields, status, lane, attempts,"
                    " next_attempt_at, finished_at) VALUES (CAST(:id AS uuid), :id,"
                    " 'PaymentCompleted', :merchant, 'p', 'http://127.0.0.1:9/', CAST('{}' AS"
                    " jsonb), :status, :lane, 1, :next, :finished)"
                ),
                {
                    "id": delivery,
                    "merchant": merchant_id,
                    "status": status,
                    "lane": lane,
                    "next": "2100-01-01T00:00:00Z" if pending else None,
                    "finished": None if pending else "2025-01-01T00:00:00Z",
                },
            )
            conn.execute(
                text(
                    "INSERT INTO merchant.webhook_attempts (delivery_id, attempt, status_code,"
                    f" duration_ms, at) VALUES (CAST(:id AS uuid), 1, 500, 3, {OLD})"
                ),
                {"id": delivery},
            )
        message = f"it-{uuid.uuid4().hex}"
        conn.execute(
            text(
                "INSERT INTO merchant.processed_messages (consumer, message_id, processed_at)"
                f" VALUES ('it-cleanup', :old, {OLD}), ('it-cleanup', :young, {YOUNG})"
            ),
            {"old": f"{message}-old", "young": f"{message}-young"},
        )
    for delivery in deliveries.values():
        cleanup_rows.append(
            (
                "merchant",
                "DELETE FROM merchant.webhook_deliveries WHERE id = CAST(:id AS uuid)",
                delivery,
            )
        )
        cleanup_rows.append(
            (
                "merchant",
                "DELETE FROM merchant.webhook_attempts WHERE delivery_id = CAST(:id AS uuid)",
                delivery,
            )
        )
    drop_message = "DELETE FROM merchant.processed_messages WHERE message_id = :id"
    cleanup_rows.extend(("merchant", drop_message, f"{message}-{a}") for a in ("old", "young"))

    notices = {}
    with notification.begin() as conn:
        for label, status, created in (
            ("old-sent", "sent", OLD),
            ("old-sending", "sending", OLD),
            ("young-sent", "sent", YOUNG),
        ):
            notices[label] = f"it-cleanup-{uuid.uuid4().hex}"
            sent = status == "sent"
            conn.execute(
                text(
                    "INSERT INTO notification.notifications (id, event_id, event_type, channel,"
                    " recipient, template, subject, body, status, provider_message_id, attempts,"
                    " merchant_id, created_at, sent_at) VALUES (gen_random_uuid(), :event,"
                    " 'CleanupProbe', 'email', 'a@b.co', 't', 's', 'b', :status, :provider, 1,"
                    f" 'it-cleanup', {created}, :sent_at)"
                ),
                {
                    "event": notices[label],
                    "status": status,
                    "provider": "m-1" if sent else None,
                    "sent_at": "2025-01-01T00:00:00Z" if sent else None,
                },
            )
    drop_notice = "DELETE FROM notification.notifications WHERE event_id = :id"
    cleanup_rows.extend(("notification", drop_notice, e) for e in notices.values())

    # The relay must not publish (and so change) the unpublished probe while the job runs:
    # hold the advisory lock it takes per aggregate (paylab.core.outbox_relay).
    with payment.connect() as holder:
        unpublished = str(uuid.uuid4())
        holder.execute(
            text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"),
            {"k": f"payment.outbox:it-cleanup-{unpublished}"},
        )
        # The lock must outlive the Lambda's run: no idle_session_timeout for this session.
        holder.execute(text("SET idle_session_timeout = 0"))
        holder.commit()  # the session-level lock outlives the transaction
        with holder.begin():
            holder.execute(
                text(
                    "INSERT INTO payment.outbox (id, aggregate_id, event_type, payload,"
                    " destinations, created_at) VALUES (CAST(:id AS uuid), :agg, 'CleanupProbe',"
                    f" CAST('{{}}' AS jsonb), ARRAY[]::text[], {OLD})"
                ),
                {"id": unpublished, "agg": f"it-cleanup-{unpublished}"},
            )
        try:
            result = invoke("DataCleanupFunctionArn", RUN_AT, "data-cleanup")
            kept_unpublished = exists(
                payment,
                "SELECT 1 FROM payment.outbox WHERE id = CAST(:id AS uuid)"
                " AND published_at IS NULL",
                id=unpublished,
            )
        finally:
            with holder.begin():
                holder.execute(text(drop_outbox), {"id": unpublished})
            holder.execute(text("SELECT pg_advisory_unlock_all()"))

    assert result["business_date"] == "2026-12-04"
    deleted = result["deleted"]
    assert deleted["payment"]["payment.outbox"] >= 1
    assert deleted["payment"]["payment.idempotency_keys"] >= 1
    assert deleted["merchant"]["merchant.webhook_attempts"] >= 1
    assert deleted["merchant"]["merchant.processed_messages"] >= 1
    assert deleted["notification"]["notification.notifications"] >= 1
    assert "wallet.outbox" in deleted["wallet"]

    outbox = "SELECT 1 FROM payment.outbox WHERE id = CAST(:id AS uuid)"
    assert not exists(payment, outbox, id=old_published)
    assert exists(payment, outbox, id=young_published)
    assert kept_unpublished
    keys = "SELECT 1 FROM payment.idempotency_keys WHERE idempotency_key = :id"
    assert not exists(payment, keys, id=f"{key}-done")
    assert exists(payment, keys, id=f"{key}-open")  # a claim without an answer may resume

    attempts = "SELECT 1 FROM merchant.webhook_attempts WHERE delivery_id = CAST(:id AS uuid)"
    assert not exists(merchant, attempts, id=deliveries["delivered"])
    assert exists(merchant, attempts, id=deliveries["pending"])
    delivery = "SELECT 1 FROM merchant.webhook_deliveries WHERE id = CAST(:id AS uuid)"
    assert exists(merchant, delivery, id=deliveries["delivered"])  # the delivery row stays
    messages = "SELECT 1 FROM merchant.processed_messages WHERE message_id = :id"
    assert not exists(merchant, messages, id=f"{message}-old")
    assert exists(merchant, messages, id=f"{message}-young")

    notice = "SELECT 1 FROM notification.notifications WHERE event_id = :id"
    assert not exists(notification, notice, id=notices["old-sent"])
    assert exists(notification, notice, id=notices["old-sending"])
    assert exists(notification, notice, id=notices["young-sent"])
