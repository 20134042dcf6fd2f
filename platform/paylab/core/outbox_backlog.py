"""The outbox relay's backlog as CloudWatch gauges: how many events wait, how old the oldest is.

Every `PAYLAB_OUTBOX_BACKLOG_METRIC_S` seconds (60; 0: never) the relay process reads the
unpublished rows of every outbox it relays (the partial index `outbox_unpublished` answers
it) and puts two gauges in `Paylab/Operations`, dimension `Stack`, as the scheduled jobs do:

- `UnpublishedEvents`: rows not yet published, all outboxes together. On AWS the relay's
  tasks scale on it (infra/compute.yaml).
- `OldestUnpublishedSeconds`: how long the oldest has waited. On AWS the `outbox-stuck`
  alarm tells `ops-alerts` when events stop leaving (AWS refusing, every relay task down).

Every relay task reads the same tables and reports the same totals: alarms take the Maximum.
A report that fails (the database or CloudWatch down) is logged; the next one is on time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from paylab.core.outbox_relay import OutboxRelay

log = structlog.get_logger(component="outbox-relay")

NAMESPACE = "Paylab/Operations"
UNPUBLISHED = "UnpublishedEvents"
OLDEST = "OldestUnpublishedSeconds"
_BACKLOG = """
    SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)
    FROM {table} WHERE published_at IS NULL
"""


@dataclass(frozen=True)
class Backlog:
    """What waits in the outboxes: how many rows, and the oldest one's age in seconds."""

    events: int
    oldest_s: float


def table_backlog(engine: Engine, table: str) -> Backlog:
    """The backlog of one outbox table (`schema.table`, a name the caller checked)."""
    with engine.connect() as conn:
        count, age = conn.execute(text(_BACKLOG.replace("{table}", table))).one()
    return Backlog(int(count), round(float(age), 1))


def read_backlog(relays: Sequence[OutboxRelay]) -> Backlog:
    """The backlog of every relay's outbox together."""
    each = [table_backlog(relay.engine, relay.table) for relay in relays]
    return Backlog(sum(b.events for b in each), max((b.oldest_s for b in each), default=0.0))


def put_backlog(cloudwatch: Any, stack: str, backlog: Backlog) -> None:
    """The two gauges, one data point each, now."""
    dimensions = [{"Name": "Stack", "Value": stack}]
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": UNPUBLISHED,
                "Dimensions": dimensions,
                "Value": backlog.events,
                "Unit": "Count",
            },
            {
                "MetricName": OLDEST,
                "Dimensions": dimensions,
                "Value": backlog.oldest_s,
                "Unit": "Seconds",
            },
        ],
    )


def report_backlog(
    relays: Sequence[OutboxRelay],
    cloudwatch: Callable[[], Any],
    stack: str,
    stop: threading.Event,
    interval_s: float,
) -> None:
    """Every `interval_s` until `stop` (the first after one interval: not during `up`)."""
    client = None
    while not stop.wait(interval_s):
        try:
            client = client or cloudwatch()
            backlog = read_backlog(relays)
            put_backlog(client, stack, backlog)
        except (SQLAlchemyError, BotoCoreError, ClientError) as exc:
            log.warning("outbox.backlog_report_failed", error=str(exc))
            continue
        except Exception:  # anything else (a secret without a password...): the next report
            # must still come, or the stuck alarm would call a working relay silent.
            log.exception("outbox.backlog_report_failed")
            continue
        if backlog.events:
            log.debug("outbox.backlog", events=backlog.events, oldest_s=backlog.oldest_s)
