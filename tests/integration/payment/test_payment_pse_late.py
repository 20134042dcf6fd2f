"""PSE approvals after the SAGA ended the payment otherwise: logged and listed for operators."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from structlog.testing import capture_logs
from typer.testing import CliRunner

from paylab.cli import app as cli_app
from paylab.core.aws import client as aws_client
from paylab.core.settings import get_settings
from paylab.payment.late_approvals import late_approvals
from paylab.payment.wiring import Services

from .conftest import db_rows, pse_body, signed

Headers = Callable[..., dict[str, str]]
WARNING = "PSE approved a payment the SAGA had ended"


def create(client: TestClient, headers: Headers) -> tuple[str, str]:
    response = client.post("/v1/payments", json=pse_body("1007"), headers=headers())
    assert response.status_code == 201, response.text
    payment = response.json()
    return str(payment["id"]), str(payment["next_action"]["redirect_url"].rsplit("/", 1)[1])


def confirm(client: TestClient, payment_id: str, txn: str, status: str) -> None:
    raw, sig = signed({"transaction_id": txn, "reference": payment_id, "status": status})
    assert client.post("/callbacks/pse", content=raw, headers=sig).status_code == 200


def end(client: TestClient, internal: dict[str, str], payment_id: str, status: str) -> None:
    """The SAGA's Notify recording the payment's end."""
    body = {"status": status, "reason": None if status == "approved" else "States.Timeout"}
    url = f"/internal/payments/{payment_id}/outcome"
    client.post(url, json=body, headers=internal).raise_for_status()


def warned(logs: list[dict[str, Any]], payment_id: str) -> bool:
    return any(e["event"].startswith(WARNING) and e["payment_id"] == payment_id for e in logs)


def test_an_approval_after_the_end_or_an_end_after_the_approval_is_listed(
    client: TestClient, headers: Headers, internal_headers: dict[str, str], svc: Services
) -> None:
    abandoned, txn = create(client, headers)
    end(client, internal_headers, abandoned, "abandoned")
    assert abandoned not in {a.payment_id for a in late_approvals(svc)}
    with capture_logs() as logs:
        confirm(client, abandoned, txn, "approved")
    assert warned(logs, abandoned)
    # The approval came while the SAGA still ran, but after its wait had timed out.
    failed, txn2 = create(client, headers)
    confirm(client, failed, txn2, "approved")
    with capture_logs() as logs:
        end(client, internal_headers, failed, "failed")
    assert warned(logs, failed)
    listed = {a.payment_id: a for a in late_approvals(svc)}
    assert (listed[abandoned].outcome, listed[failed].outcome) == ("abandoned", "failed")
    assert listed[abandoned].amount == Decimal("1500.00")
    assert listed[abandoned].pse_transaction_id == txn
    shown = CliRunner().invoke(cli_app, ["payments", "late-approvals", "--json"])
    assert shown.exit_code == 1, shown.output
    assert abandoned in shown.output and failed in shown.output
    # A repeated confirmation is not news: no second error.
    with capture_logs() as logs:
        confirm(client, abandoned, txn, "approved")
    assert not warned(logs, abandoned)


def test_an_operator_settles_a_late_approval_once(
    client: TestClient, headers: Headers, internal_headers: dict[str, str], svc: Services
) -> None:
    payment_id, txn = create(client, headers)
    end(client, internal_headers, payment_id, "abandoned")
    confirm(client, payment_id, txn, "approved")
    runner = CliRunner()
    command = ["payments", "late-approvals", "--settle", payment_id]
    no_note = runner.invoke(cli_app, command)
    assert no_note.exit_code == 2 and "--note" in no_note.output
    assert payment_id in {a.payment_id for a in late_approvals(svc)}
    done = runner.invoke(cli_app, [*command, "--note", "merchant credited by hand, ticket 42"])
    assert done.exit_code == 0, done.output
    assert f"settled: payment {payment_id} (1500.00 COP)" in done.output
    assert payment_id not in {a.payment_id for a in late_approvals(svc)}
    again = runner.invoke(cli_app, [*command, "--note", "twice"])
    assert again.exit_code == 1 and "no unsettled late PSE approval" in again.output
    stored = db_rows(
        svc,
        "SELECT settled_note FROM payment.pse_confirmations WHERE payment_id = :p",
        p=payment_id,
    )
    assert stored == [{"settled_note": "merchant credited by hand, ticket 42"}]


def test_a_rejection_after_the_end_or_an_approved_payment_is_not_listed(
    client: TestClient, headers: Headers, internal_headers: dict[str, str], svc: Services
) -> None:
    rejected, txn = create(client, headers)
    end(client, internal_headers, rejected, "abandoned")
    confirm(client, rejected, txn, "rejected")
    approved, txn2 = create(client, headers)
    confirm(client, approved, txn2, "approved")
    end(client, internal_headers, approved, "approved")
    listed = {a.payment_id for a in late_approvals(svc)}
    assert rejected not in listed and approved not in listed


def ops_metrics_run() -> int:
    """`paylab jobs run ops-metrics` against the running stack: the gauge it put."""
    result = CliRunner().invoke(cli_app, ["jobs", "run", "ops-metrics", "--json"])
    assert result.exit_code == 0, result.output
    (delivery,) = json.loads(result.output)["deliveries"]
    assert delivery["result"]["function_error"] is None, delivery
    return int(delivery["result"]["payload"]["metrics"]["UnsettledLatePseApprovals"])


def gauge_newest(since: datetime) -> float | None:
    """The newest minute's UnsettledLatePseApprovals CloudWatch holds for this stack."""
    found = aws_client("cloudwatch").get_metric_statistics(
        Namespace="Paylab/Operations",
        MetricName="UnsettledLatePseApprovals",
        Dimensions=[{"Name": "Stack", "Value": get_settings().stack_name}],
        StartTime=since,
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Minimum"],
    )["Datapoints"]
    newest = max(found, key=lambda point: point["Timestamp"], default=None)
    return None if newest is None else float(newest["Minimum"])


def test_the_ops_metrics_job_puts_how_many_late_approvals_wait(
    client: TestClient, headers: Headers, internal_headers: dict[str, str], svc: Services
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    payment_id, txn = create(client, headers)
    end(client, internal_headers, payment_id, "abandoned")
    confirm(client, payment_id, txn, "approved")
    waiting = ops_metrics_run()
    assert waiting == len(late_approvals(svc)) and waiting >= 1  # this test's one at least
    # The alarm's metric, in LocalStack's CloudWatch (an earlier run this minute put as many
    # or fewer: approvals only go away when settled, and this test settles its own after).
    assert gauge_newest(since) == waiting
    settled = CliRunner().invoke(
        cli_app, ["payments", "late-approvals", "--settle", payment_id, "--note", "ops test"]
    )
    assert settled.exit_code == 0, settled.output
    assert ops_metrics_run() == waiting - 1
