"""The data retention policy, in one place: what each service deletes, after how long, and why.

The nightly data-cleanup job (`lambdas/data_cleanup.py`) calls each service's
`POST /internal/jobs/cleanup`, which runs this table's rules for the service's schema in
bounded batches. docs/retention.md explains the policy; `tests/unit/jobs/test_retention.py`
keeps the table honest (nothing from audit or the ledger, nothing still needed).

A rule's `condition` is what makes a row safe to delete besides its age: an outbox row only
once published, a notification only once sent or failed, an attempt only once its delivery
is finished. Rules never touch: audit rows (append-only, hash-chained), ledger rows (wallet
postings, entries, holds, operations), payments, merchants, dispersions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text

from paylab.core.db import SERVICES_WITH_DB, service_engine
from paylab.core.internal_auth import InternalCaller
from paylab.core.lazy import Lazy
from paylab.core.problems import problem_responses

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Rule:
    """Delete `schema.table` rows whose `age_column` is older than `keep` and `condition` holds."""

    schema: str
    table: str
    keep: timedelta
    age_column: str
    condition: str
    why: str

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


def _outbox(schema: str) -> Rule:
    return Rule(
        schema,
        "outbox",
        7 * DAY,
        "published_at",
        "published_at IS NOT NULL",
        "Published events are in SNS/SQS/EventBridge and their consumers; a week is enough to "
        "look at what left. Unpublished rows are the relay's work: never deleted.",
    )


def _inbox(schema: str) -> Rule:
    return Rule(
        schema,
        "processed_messages",
        30 * DAY,
        "processed_at",
        "TRUE",
        "Remembered message ids stop redeliveries; no copy of a message outlives SQS's longest "
        "retention (14 days in a DLQ or parking queue) plus a redrive, so 30 days is safe.",
    )


#: The policy. Order matters within a schema: children before their parents.
RULES: tuple[Rule, ...] = (
    _outbox("payment"),
    Rule(
        "payment",
        "idempotency_keys",
        30 * DAY,
        "created_at",
        "response_status IS NOT NULL",
        "Idempotency-Key answers are replayed for 24 h (at most 30 days by settings); a claim "
        "without an answer (an attempt that died midway) is kept so that a retry resumes it.",
    ),
    _outbox("wallet"),
    _outbox("merchant"),
    _inbox("merchant"),
    Rule(
        "merchant",
        "webhook_attempts",
        90 * DAY,
        "at",
        "delivery_id IN (SELECT id FROM merchant.webhook_deliveries"
        " WHERE status IN ('delivered', 'failed'))",
        "Each POST of a confirmation webhook and its answer, for support; the delivery row "
        "(status, last answer, the event-id guard) stays. Attempts of pending deliveries stay.",
    ),
    _outbox("notification"),
    Rule(
        "notification",
        "notifications",
        180 * DAY,
        "created_at",
        "status IN ('sent', 'failed')",
        "Sent messages, listed to merchants; (event_id, channel) also stops a redelivered "
        "event from sending twice, so keep far beyond any queue retention. `sending` rows stay.",
    ),
    Rule(
        "notification",
        "payment_outcomes",
        62 * DAY,
        "occurred_at",
        "TRUE",
        "Figures for the daily summary of yesterday; two months allow re-running a summary. "
        "The payment service keeps the payments themselves.",
    ),
)

#: Never deleted by any rule (tests/unit/jobs/test_retention.py checks it).
PROTECTED = frozenset(
    {
        "audit.events",
        "audit.chain_head",
        "wallet.accounts",
        "wallet.balances",
        "wallet.postings",
        "wallet.entries",
        "wallet.holds",
        "wallet.refunds",
        "wallet.hold_tombstones",
        "wallet.operations",
        "payment.payments",
        "payment.pse_confirmations",
        "merchant.merchants",
        "merchant.webhook_deliveries",
    }
)


def rules_for(schema: str) -> tuple[Rule, ...]:
    """The rules that apply to one service's schema, in order."""
    if schema not in SERVICES_WITH_DB:
        raise ValueError(f"no service schema {schema!r}")
    return tuple(rule for rule in RULES if rule.schema == schema)


def delete_statement(rule: Rule) -> str:
    """One bounded batch: lock up to :batch old rows (skipping locked ones) and delete them.

    The outer condition repeats the inner one so that a row changed since the inner SELECT
    (impossible under its FOR UPDATE lock, but cheap to state) is never deleted.
    """
    where = f"{rule.age_column} < now() - make_interval(secs => :keep_s) AND ({rule.condition})"
    return (
        f"DELETE FROM {rule.name} WHERE ctid = ANY(ARRAY("  # noqa: S608 (constants only)
        f"SELECT ctid FROM {rule.name} WHERE {where} LIMIT :batch FOR UPDATE SKIP LOCKED"
        f")) AND {where}"
    )


class CleanupIn(BaseModel):
    """How much one call may delete: `batch` rows per transaction, `max_batches` per rule."""

    batch: int = Field(default=1000, ge=1, le=10_000)
    max_batches: int = Field(default=20, ge=1, le=1000)


class CleanupOut(BaseModel):
    """Rows deleted per rule; `more` when a rule hit `max_batches` (call again)."""

    schema_name: str
    deleted: dict[str, int]
    more: bool


def purge(engine: Engine, schema: str, batch: int = 1000, max_batches: int = 20) -> CleanupOut:
    """Apply `schema`'s rules, one short transaction per batch (locks stay brief)."""
    deleted: dict[str, int] = {}
    more = False
    for rule in rules_for(schema):
        statement = text(delete_statement(rule))
        params = {"keep_s": rule.keep.total_seconds(), "batch": batch}
        total = 0
        for _ in range(max_batches):
            with engine.begin() as conn:
                count = int(getattr(conn.execute(statement, params), "rowcount", 0))
            total += count
            if count < batch:
                break
        else:
            more = True
        deleted[rule.name] = total
    return CleanupOut(schema_name=schema, deleted=deleted, more=more)


def cleanup_router(schema: str, engine: Callable[[], Engine] | None = None) -> APIRouter:
    """`POST /internal/jobs/cleanup` for one service (the data-cleanup Lambda calls it)."""
    # A job that runs once a night needs one connection, built on its first call.
    engine_of = engine or Lazy(lambda: service_engine(schema, pool_size=1))
    router = APIRouter(tags=["jobs"], responses=problem_responses(400, 401, 422))

    @router.post("/internal/jobs/cleanup", response_model=CleanupOut)
    def cleanup(_: InternalCaller, body: Annotated[CleanupIn | None, Body()] = None) -> CleanupOut:
        """Delete what the retention policy (paylab.core.retention) says this service may."""
        limits = body or CleanupIn()
        return purge(engine_of(), schema, limits.batch, limits.max_batches)

    return router
