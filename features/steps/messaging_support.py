"""Helpers for features/messaging: the ops queues, their DLQs, SES, the SMS simulator, audit.

Everything talks to the running stack over loopback; waits poll with a deadline (see
payments_support.wait_for). Messages the scenarios put on queues carry ids no one else uses.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from payments_support import internal_headers, service_rows, wait_for
from sqlalchemy import create_engine, text

from paylab.audit.settings import AuditSettings
from paylab.core.aws import client as aws_client
from paylab.core.events import Envelope
from paylab.core.internal_auth import operator_key
from paylab.core.settings import get_settings
from paylab.core.stack_outputs import output
from paylab.core.worker import PAUSE, RESUME, paused_marker
from paylab.devstack.postgres import ADMIN_USER, DATABASE
from paylab.devstack.process import ProcessManager
from paylab.devstack.workers import WORKER_PROCESS
from paylab.notification.settings import NotificationSettings

SMS = "http://127.0.0.1:9004"
AUDIT = "http://127.0.0.1:8006"
GATEWAY = "http://127.0.0.1:8080"
QUEUES = {"notification-ops": "NotificationOps", "audit-ops": "AuditOps"}


def unique_mobile() -> str:
    """A Colombian mobile number no other scenario uses (+57 3xx xxx xxxx)."""
    return "+573" + "".join(str(secrets.randbelow(10)) for _ in range(9))


# ------------------------------------------------------------------------------------ email
def receipts_to(address: str) -> list[dict[str, Any]]:
    """What LocalStack's SES sent to `address` (GET /_aws/ses, the stack's own sender)."""
    sender = NotificationSettings().sender_email
    endpoint = get_settings().endpoint_url()
    r = httpx.get(f"{endpoint}/_aws/ses", params={"email": sender}, timeout=10.0)
    r.raise_for_status()
    return [
        m
        for m in r.json()["messages"]
        if address in m.get("Destination", {}).get("ToAddresses", [])
    ]


# -------------------------------------------------------------------------------------- SMS
def add_sms_outage(phone: str) -> str:
    """POST /v1/messages to `phone` answers 503 until the rule is deleted; the rule id."""
    rule = {
        "match": {"method": "POST", "path": "/v1/messages", "body": {"to": phone}},
        "effect": {"type": "error", "status": 503},
    }
    r = httpx.post(f"{SMS}/_sim/faults", json=rule, timeout=10.0)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def remove_sms_fault(rule_id: str) -> None:
    r = httpx.delete(f"{SMS}/_sim/faults/{rule_id}", timeout=10.0)
    assert r.status_code in (204, 404), r.text


def sms_delivered_to(phone: str) -> list[dict[str, Any]]:
    """Messages the SMS provider accepted for `phone` (its own message log)."""
    from paylab.core.partner_keys import partner_auth

    r = httpx.get(
        f"{SMS}/v1/messages", params={"to": phone}, auth=partner_auth("sms"), timeout=10.0
    )
    r.raise_for_status()
    return list(r.json()["messages"])


# ----------------------------------------------------------------------------------- queues
def queue_url(queue: str, kind: str = "Queue") -> str:
    """The stack's URL of `queue` (notification-ops | audit-ops), its Dlq or its Parking."""
    return output(f"{QUEUES[queue]}{kind}Url")


def send_raw(queue: str, body: str, *, group: str, dedup: str | None = None) -> str:
    """Put a message straight on an ops queue; returns its SQS message id."""
    r = aws_client("sqs").send_message(
        QueueUrl=queue_url(queue),
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=dedup or uuid.uuid4().hex,
    )
    return str(r["MessageId"])


def send_envelope(queue: str, envelope: Envelope, *, copy: int) -> None:
    """Deliver `envelope` again, as a producer's retry would (a new deduplication id)."""
    send_raw(
        queue,
        envelope.to_json(),
        group=envelope.subject_id,
        dedup=f"{envelope.id}:qa-copy:{copy}",
    )


def _matches(message: dict[str, Any], needle: str) -> bool:
    return needle in message["Body"] or needle == message["MessageId"]


def peek(url: str, needle: str) -> dict[str, Any] | None:
    """The message whose body mentions `needle` (or whose id it is), left in the queue.

    Received with a short visibility timeout and made visible again at once, so the queue's
    consumers (the DLQ reprocessor, say) are not held up. Every peek counts as a receive of
    each message it reads: on a queue with a redrive policy, see `peek_all`.
    """
    return peek_all(url, [needle]).get(needle)


def peek_all(url: str, needles: list[str]) -> dict[str, dict[str, Any]]:
    """needle -> the message that mentions it, for those found in one pass over the queue.

    One pass reads each message at most once, i.e. adds one to its receive count (a source
    queue moves a message to its DLQ after maxReceiveCount receives).
    """
    sqs = aws_client("sqs")
    seen: list[dict[str, Any]] = []
    found: dict[str, dict[str, Any]] = {}
    for _ in range(10):
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=30,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            break
        seen.extend(got)
        for needle in needles:
            match = next((m for m in got if _matches(m, needle)), None)
            if match is not None and needle not in found:
                found[needle] = match
        if len(found) == len(needles):
            break
    for m in seen:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
        )
    return found


def notifications_sent(payment_ids: list[str]) -> bool:
    """True once the relay has sent every payment's PaymentNotificationRequested to its queues.

    The relay sends to the SQS queues itself, then marks the outbox row published: reading
    the row receives nothing from the queue (each receive counts towards the DLQ).
    """
    [(sent,)] = service_rows(
        "payment",
        "SELECT count(*) FROM payment.outbox WHERE aggregate_id = ANY(:ids)"
        " AND event_type = 'PaymentNotificationRequested' AND published_at IS NOT NULL",
        ids=payment_ids,
    )
    return int(sent) == len(payment_ids)


def attribute(message: dict[str, Any], name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name)
    return None if value is None else str(value.get("StringValue"))


def delete_from(url: str, needle: str, timeout: float = 30.0) -> None:
    """Remove this scenario's own message from a queue (parking, say): it is handled."""
    sqs = aws_client("sqs")

    def probe() -> bool | None:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=5).get(
            "Messages", []
        )
        for m in got:
            if _matches(m, needle):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                return True
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )
        return None

    wait_for(f"to delete {needle} from {url}", probe, timeout=timeout)


def queue_drained(queue: str) -> bool:
    """True when the queue holds nothing visible or in flight."""
    attrs = aws_client("sqs").get_queue_attributes(
        QueueUrl=queue_url(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(int(v) == 0 for v in attrs.values())


def redrive_through_gateway(queue: str) -> dict[str, Any]:
    """POST /v1/ops/dlq/{queue}/redrive with the operator key."""
    r = httpx.post(
        f"{GATEWAY}/v1/ops/dlq/{queue}/redrive",
        headers={"X-Paylab-Ops-Key": operator_key()},
        timeout=60.0,
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# ------------------------------------------------------------------------------------ audit
def audit_rows(merchant_http: httpx.Client, subject_id: str) -> list[dict[str, Any]]:
    """The merchant's audit events of one subject, through the gateway (all pages)."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"subject_id": subject_id, "limit": 100}
        if cursor:
            params["cursor"] = cursor
        r = merchant_http.get("/v1/audit/events", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        rows.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return rows


def verify_chain() -> dict[str, Any]:
    """The whole chain verified, unredacted (the audit service's internal route)."""
    r = httpx.get(f"{AUDIT}/internal/audit/verify", headers=internal_headers(), timeout=120.0)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _admin_url() -> str:
    settings = get_settings()
    if settings.database_url:
        return settings.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    password = (settings.state_dir / "postgres" / "admin-password").read_text().strip()
    return (
        f"postgresql+psycopg://{ADMIN_USER}:{password}@127.0.0.1:{settings.postgres_port}/"
        f"{DATABASE}"
    )


@contextmanager
def tampered_amount(seq: int) -> Iterator[None]:
    """As the DBA, change one audit row's amount; the original content comes back afterwards.

    `session_replication_role = replica` skips the append-only triggers in this session only
    (a superuser's privilege), which is exactly the tampering `verify` exists to catch.
    """
    engine = create_engine(_admin_url())
    try:
        with engine.begin() as conn:
            original = conn.execute(
                text("SELECT content FROM audit.events WHERE seq = :seq"), {"seq": seq}
            ).scalar_one()
            doctored = json.loads(original)
            doctored["data"]["amount"] = "1.00"
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(
                text("UPDATE audit.events SET content = :c WHERE seq = :seq"),
                {"c": json.dumps(doctored, sort_keys=True, separators=(",", ":")), "seq": seq},
            )
        try:
            yield
        finally:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL session_replication_role = replica"))
                conn.execute(
                    text("UPDATE audit.events SET content = :c WHERE seq = :seq"),
                    {"c": original, "seq": seq},
                )
    finally:
        engine.dispose()


def audit_settings() -> AuditSettings:
    return AuditSettings()


# ------------------------------------------------------------------------------- consumers
def _worker_pid() -> int:
    proc = ProcessManager(get_settings().state_dir).running(WORKER_PROCESS)
    assert proc is not None, f"the {WORKER_PROCESS} process is not running"
    return proc.pid


def consumers_paused() -> bool:
    """True while every consumer thread of the worker process is parked."""
    return paused_marker(get_settings().state_dir).exists()


def pause_consumers() -> None:
    """Stop the worker's consumers (not its outbox relay) and wait until none polls."""
    os.kill(_worker_pid(), PAUSE)
    wait_for("the consumers to pause", lambda: consumers_paused() or None, timeout=15)


def resume_consumers() -> None:
    """Let the worker's consumers poll again and wait until they do."""
    os.kill(_worker_pid(), RESUME)
    wait_for("the consumers to resume", lambda: not consumers_paused() or None, timeout=15)
