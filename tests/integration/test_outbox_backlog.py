"""The relay's backlog gauges: read from the outbox tables, put in LocalStack's CloudWatch."""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from paylab.cli import app
from paylab.core.aws import client
from paylab.core.db import SERVICES_WITH_DB, service_engine
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


def test_paylab_outbox_shows_an_event_the_relay_has_not_published(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row in the live payment outbox, its aggregate locked as a relay would lock it while
    publishing: the running relay skips it, and the command must count it."""
    monkeypatch.setenv("COLUMNS", "200")
    payment = service_engine("payment")
    aggregate = f"outbox-cli-{uuid.uuid4().hex[:8]}"
    with payment.connect() as holder:
        # The service roles' sessions end after 2 s idle (devstack/database.py): not this one.
        holder.execute(text("SET idle_session_timeout = 0"))
        holder.execute(
            text("SELECT pg_advisory_lock(hashtextextended(:key, 0))"),
            {"key": f"payment.outbox:{aggregate}"},
        )
        holder.commit()
        try:
            with payment.begin() as conn:  # no destinations: a relay would only mark it
                conn.execute(
                    text(
                        "INSERT INTO payment.outbox (id, aggregate_id, event_type, payload,"
                        " destinations, created_at) VALUES (:id, :agg, 'OutboxCliProbe',"
                        " CAST('{}' AS jsonb), '{}', now() - interval '10 minutes')"
                    ),
                    {"id": uuid.uuid4(), "agg": aggregate},
                )
            result = CliRunner().invoke(app, ["outbox", "--json"])
        finally:
            with payment.begin() as conn:
                conn.execute(
                    text("DELETE FROM payment.outbox WHERE aggregate_id = :agg"),
                    {"agg": aggregate},
                )
            holder.execute(text("SELECT pg_advisory_unlock_all()"))
            holder.commit()
    payment.dispose()
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert set(listed) == set(SERVICES_WITH_DB)
    assert listed["payment"]["events"] >= 1
    assert listed["payment"]["oldest_s"] >= 600
