"""The relay's backlog gauges: read from the outbox tables, put in LocalStack's CloudWatch."""

from __future__ import annotations

import datetime
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from paylab.core.aws import client
from paylab.core.db import service_engine
from paylab.core.outbox_backlog import (
    NAMESPACE,
    OLDEST,
    UNPUBLISHED,
    Backlog,
    read_backlog,
    report_backlog,
)
from paylab.core.outbox_relay import OutboxRelay
from paylab.core.publishers import Publisher

from .test_outbox_relay import SCHEMA, _events, _write, throwaway_outbox
from .waiting import wait_until


@pytest.fixture(scope="module")
def engine() -> Engine:
    return service_engine(SCHEMA)


@pytest.fixture
def outbox_table(engine: Engine) -> Iterator[str]:
    with throwaway_outbox(engine, "outbox_backlog") as name:
        yield name


def _age(engine: Engine, table: str, seconds: int, *, published: bool) -> None:
    """Backdate every row of `table`; mark them published or not."""
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {SCHEMA}.{table} SET created_at = now() - make_interval(secs => :s),"
                " published_at = CASE WHEN :p THEN now() END"
            ),
            {"s": seconds, "p": published},
        )


def _relay(engine: Engine, table: str) -> OutboxRelay:
    return OutboxRelay(engine, SCHEMA, Publisher(targets={}), table=table)


def test_the_backlog_counts_unpublished_rows_and_the_oldest_ones_age(
    engine: Engine,
    outbox_table: str,
) -> None:
    relay = _relay(engine, outbox_table)
    assert read_backlog([relay]) == Backlog(0, 0.0)
    _write(engine, outbox_table, _events(["a1"], 2), "sns:payment-events")
    _age(engine, outbox_table, 300, published=True)  # published long ago: not backlog
    _write(engine, outbox_table, _events(["a2", "a3"], 2), "sns:payment-events")
    with engine.begin() as conn:  # the oldest unpublished row waited 90 s
        conn.execute(
            text(
                f"UPDATE {SCHEMA}.{outbox_table} SET created_at = now() - interval '90 seconds'"
                f" WHERE id = (SELECT id FROM {SCHEMA}.{outbox_table}"
                " WHERE published_at IS NULL ORDER BY seq LIMIT 1)"
            )
        )
    backlog = read_backlog([relay])
    assert backlog.events == 4
    assert 90 <= backlog.oldest_s < 120


def test_the_relay_process_reports_both_gauges_to_cloudwatch(
    engine: Engine,
    outbox_table: str,
) -> None:
    stack = f"backlog-it-{uuid.uuid4().hex[:8]}"  # a dimension no other test or stack uses
    _write(engine, outbox_table, _events(["a1", "a2", "a3"], 1), "sns:payment-events")
    _age(engine, outbox_table, 45, published=False)
    stop = threading.Event()
    cloudwatch = client("cloudwatch")
    reporter = threading.Thread(
        target=report_backlog,
        args=([_relay(engine, outbox_table)], lambda: cloudwatch, stack, stop, 0.2),
    )
    reporter.start()
    try:
        points = wait_until(
            lambda: _latest(cloudwatch, stack), timeout=20, description="the backlog gauges"
        )
    finally:
        stop.set()
        reporter.join(10)
    assert not reporter.is_alive()
    assert points[UNPUBLISHED] == 3
    assert 45 <= points[OLDEST] < 75


def _latest(cloudwatch: Any, stack: str) -> dict[str, float] | None:
    """The highest point of each gauge in the last 10 minutes, once both have one."""
    now = datetime.datetime.now(datetime.UTC)
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": name.lower(),
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": name,
                        "Dimensions": [{"Name": "Stack", "Value": stack}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
            for name in (UNPUBLISHED, OLDEST)
        ],
        StartTime=now - datetime.timedelta(minutes=10),
        EndTime=now + datetime.timedelta(minutes=1),
    )
    values = {r["Id"]: r["Values"] for r in answer["MetricDataResults"]}
    if not all(values.values()):
        return None
    return {name: max(values[name.lower()]) for name in (UNPUBLISHED, OLDEST)}
