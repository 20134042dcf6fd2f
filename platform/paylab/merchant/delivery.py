"""The delivery loop: POST due webhooks, retry with exponential backoff, give up after N.

It runs as a thread in the merchant service (no extra process to pay memory for) and is
restart-safe with any number of copies: a batch is claimed with FOR UPDATE SKIP LOCKED and
leased by moving `next_attempt_at` past the send's timeout, so a copy that dies mid-send
leaves rows another copy picks up when the lease ends. Attempts are counted at the claim, so
a crash loop cannot retry forever. A merchant may therefore get one webhook twice (at least
once, like ePayco's): x_ref_payco with x_cod_response is the key its endpoint dedupes on.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import unit_of_work
from paylab.core.events import Envelope
from paylab.core.outbox import add_event
from paylab.merchant.models import Merchant, WebhookAttempt, WebhookDelivery
from paylab.merchant.settings import MerchantSettings
from paylab.merchant.urls import Resolver, UnsafeUrl, checked_addresses, pinned, resolve
from paylab.merchant.webhooks import backoff_s, signed

log = structlog.get_logger("paylab.merchant.delivery")
USER_AGENT = "Paylab-Webhooks/1.0"
MAX_ERROR = 500
#: NOTIFY'd when a delivery is recorded: the queue consumers record them in another process.
WEBHOOK_CHANNEL = "merchant_webhooks"


@dataclass(frozen=True)
class Claimed:
    """A delivery leased for one attempt, with what signing it needs."""

    id: uuid.UUID
    attempt: int
    url: str
    form: dict[str, str]


@dataclass(frozen=True)
class Result:
    """What one attempt got: a status code, or an error with none."""

    status_code: int | None
    error: str | None
    duration_ms: int
    permanent: bool = False

    @property
    def ok(self) -> bool:
        """2xx: the merchant has it."""
        return self.status_code is not None and 200 <= self.status_code < 300


def webhook_client() -> httpx.Client:
    """The HTTP client webhooks go out with: one new connection per attempt.

    Never a kept-alive one: a merchant's server closes idle connections on its own schedule
    (uvicorn after 5 s, gunicorn after 2 s), and a POST sent as it closes fails without
    reaching the endpoint, an attempt lost to the race rather than to the merchant. Retries
    are seconds apart, so a pool would save little. Redirects are never followed (a 302 to an
    internal address would bypass the URL guard), and proxies are not read from the environment.
    """
    return httpx.Client(
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


class Deliverer:
    """Claims due deliveries, sends them, records each attempt (one transaction per step)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: MerchantSettings,
        http: httpx.Client,
        resolver: Resolver = resolve,
    ) -> None:
        self.sessions, self.settings, self.http, self.resolver = sessions, settings, http, resolver

    def run_once(self) -> int:
        """Send every due delivery of one batch; returns how many were attempted."""
        batch = self.claim()
        for claimed in batch:
            self.record(claimed, self.send(claimed))
        return len(batch)

    def next_due_in(self) -> float | None:
        """Seconds until this lane's next pending delivery is due (0 if overdue); None if none."""
        with unit_of_work(self.sessions) as session:
            due = session.execute(
                select(func.min(WebhookDelivery.next_attempt_at)).where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.lane == self.settings.delivery_lane,
                )
            ).scalar_one()
        return None if due is None else max(0.0, (due - datetime.now(UTC)).total_seconds())

    def claim(self) -> list[Claimed]:
        """Lease up to `delivery_batch` due deliveries (skipping rows another copy holds)."""
        lease = timedelta(seconds=self.settings.webhook_timeout_s * 2 + 5)
        with unit_of_work(self.sessions) as session:
            rows = (
                session.execute(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.lane == self.settings.delivery_lane,
                        WebhookDelivery.next_attempt_at <= func.now(),
                    )
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(self.settings.delivery_batch)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            now = datetime.now(UTC)
            out = []
            for row in rows:
                out.append(count_attempt(session, row, now))
                row.next_attempt_at = now + lease
            return out

    def send(self, claimed: Claimed) -> Result:
        """POST the form once; never follows redirects, never to an address the policy bars."""
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            addresses = checked_addresses(claimed.url, self.settings.url_policy, self.resolver)
        except UnsafeUrl as exc:
            return Result(None, f"refused: {exc}"[:MAX_ERROR], elapsed(), permanent=True)
        headers = {"User-Agent": USER_AGENT, "X-Paylab-Webhook-Id": str(claimed.id)}
        failure: Exception | None = None
        for address in addresses:  # the next one only when this one takes no connection
            try:
                target, host, extensions = pinned(claimed.url, address)
                response = self.http.post(
                    target,
                    data=claimed.form,
                    headers={**host, **headers},
                    timeout=self.settings.webhook_timeout_s,
                    extensions=extensions,
                )
                break
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure = exc
            except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # a URL httpx refuses
                return Result(None, _failure(exc), elapsed())
        else:
            return Result(None, _failure(failure), elapsed())
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        return Result(response.status_code, error, elapsed())

    def record(self, claimed: Claimed, result: Result) -> None:
        """Store the attempt; delivered, retried later, or failed with WebhookFailed."""
        with unit_of_work(self.sessions) as session:
            row = session.get(WebhookDelivery, claimed.id, with_for_update=True)
            if row is None or row.status != "pending" or row.attempts != claimed.attempt:
                return  # the lease ran out and another copy owns this delivery now
            now = record_attempt(session, row, claimed, result)
            if result.ok:
                row.status, row.next_attempt_at, row.finished_at = "delivered", None, now
            elif result.permanent or claimed.attempt >= self.settings.webhook_max_attempts:
                row.status, row.next_attempt_at, row.finished_at = "failed", None, now
                session.flush()
                add_event(session, "merchant", _failed(session, row), ["events:paylab"])
            else:
                wait = backoff_s(
                    claimed.attempt,
                    self.settings.webhook_backoff_base_s,
                    self.settings.webhook_backoff_max_s,
                )
                row.next_attempt_at = now + timedelta(seconds=wait)
        log.info(
            "webhook.attempt",
            delivery_id=str(claimed.id),
            attempt=claimed.attempt,
            status_code=result.status_code,
            error=result.error,
        )


def count_attempt(session: Session, row: WebhookDelivery, now: datetime) -> Claimed:
    """Count one more attempt on a locked delivery and sign its form for the send."""
    merchant = session.get(Merchant, row.merchant_id)
    assert merchant is not None  # a foreign key
    # Counted at the claim, not after the send: a crash mid-send still counts.
    row.attempts += 1
    row.updated_at = now
    # Signed with the key in force now: a rotation applies to retries too.
    form = signed(row.fields, str(merchant.cust_id), merchant.p_key)
    return Claimed(row.id, row.attempts, row.url, form)


def record_attempt(
    session: Session, row: WebhookDelivery, claimed: Claimed, result: Result
) -> datetime:
    """Store one attempt and its outcome as the delivery's last; returns when it was recorded."""
    session.add(
        WebhookAttempt(
            delivery_id=row.id,
            attempt=claimed.attempt,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
        )
    )
    now = datetime.now(UTC)
    row.last_status_code, row.last_error, row.updated_at = result.status_code, result.error, now
    return now


def _failed(session: Session, row: WebhookDelivery) -> Envelope:
    first, last = session.execute(
        select(func.min(WebhookAttempt.at), func.max(WebhookAttempt.at)).where(
            WebhookAttempt.delivery_id == row.id
        )
    ).one()
    data: dict[str, Any] = {
        "webhook_id": str(row.id),
        "merchant_id": row.merchant_id,
        "payment_id": row.payment_id,
        "ref_payco": str(row.fields.get("x_ref_payco", "")),
        "event_type": row.event_type,
        "url": row.url,
        "attempts": row.attempts,
        "last_status": row.last_status_code,
        "last_error": row.last_error or "",
        "first_attempt_at": first.astimezone(UTC).isoformat(),
        "last_attempt_at": last.astimezone(UTC).isoformat(),
    }
    return Envelope(
        type="WebhookFailed",
        source="paylab.merchant",
        subject_id=str(row.id),
        correlation_id=row.event_id,
        data=data,
    )


def _failure(exc: Exception | None) -> str:
    """An attempt's error as stored (bounded)."""
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR] or "error"
