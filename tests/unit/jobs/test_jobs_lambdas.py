"""The daily-summary and data-cleanup Lambdas without I/O: paging, business date, failures."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from jobs_fakes import FakeCloudWatch

from paylab.lambdas import daily_summary, data_cleanup, refund_reconcile


def scheduled(time: str) -> dict[str, Any]:
    return {"detail-type": "Scheduled Event", "source": "aws.events", "time": time, "detail": {}}


def test_daily_summary_asks_for_yesterday_page_by_page(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies: list[dict[str, Any]] = []
    answers = iter(
        [
            {"merchants": 2, "requested": 2, "already_requested": 0, "next_cursor": "m2"},
            {"merchants": 1, "requested": 0, "already_requested": 1, "next_cursor": None},
        ]
    )

    def call(service: str, method: str, path: str, body: Any = None) -> Any:
        assert (service, method, path) == ("merchant", "POST", "/internal/jobs/daily-summaries")
        bodies.append(dict(body))
        return next(answers)

    monkeypatch.setattr(daily_summary, "call", call)
    # cron(0 6 * * ? *): 01:00 on 5 December in Bogota sums up 4 December.
    result = daily_summary.handler(scheduled("2026-12-05T06:00:00Z"), None)

    assert result == {
        "job": "daily-summary",
        "business_date": "2026-12-04",
        "merchants": 3,
        "requested": 2,
        "already_requested": 1,
    }
    assert [b.get("after") for b in bodies] == [None, "m2"]
    assert {b["business_date"] for b in bodies} == {"2026-12-04"}
    assert bodies[0]["scheduled_at"] == "2026-12-05T06:00:00+00:00"


def test_daily_summary_refuses_an_event_without_a_time() -> None:
    with pytest.raises(ValueError, match="not a scheduled event"):
        daily_summary.handler({"detail": {}}, None)


def test_cleanup_calls_each_service_until_nothing_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    rounds = {"payment": 0}

    def call(service: str, method: str, path: str, body: Any = None) -> Any:
        assert (method, path) == ("POST", "/internal/jobs/cleanup")
        calls.append(service)
        if service == "payment":
            rounds["payment"] += 1
            more = rounds["payment"] < 3
            return {"deleted": {"payment.outbox": 1000 if more else 5}, "more": more}
        return {"deleted": {f"{service}.outbox": 0}, "more": False}

    monkeypatch.setattr(data_cleanup, "call", call)
    monkeypatch.setenv("PAYLAB_CLEANUP_SERVICES", "payment, wallet")
    result = data_cleanup.handler(scheduled("2026-12-05T08:00:00Z"), None)

    assert calls == ["payment", "payment", "payment", "wallet"]
    assert result["deleted"] == {
        "payment": {"payment.outbox": 2005},
        "wallet": {"wallet.outbox": 0},
    }
    assert result["business_date"] == "2026-12-04"


def test_cleanup_rounds_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def call(service: str, method: str, path: str, body: Any = None) -> Any:
        calls.append(service)
        return {"deleted": {"x": 1}, "more": True}

    monkeypatch.setattr(data_cleanup, "call", call)
    monkeypatch.setenv("PAYLAB_CLEANUP_SERVICES", "payment")
    data_cleanup.handler(scheduled("2026-12-05T08:00:00Z"), None)
    assert len(calls) == data_cleanup.MAX_ROUNDS


def test_a_failing_service_does_not_spare_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    cleaned: list[str] = []

    def call(service: str, method: str, path: str, body: Any = None) -> Any:
        if service == "wallet":
            raise RuntimeError("wallet down")
        cleaned.append(service)
        return {"deleted": {}, "more": False}

    monkeypatch.setattr(data_cleanup, "call", call)
    monkeypatch.delenv("PAYLAB_CLEANUP_SERVICES", raising=False)
    with pytest.raises(RuntimeError, match="wallet"):
        data_cleanup.handler(scheduled("2026-12-05T08:00:00Z"), None)
    assert cleaned == ["payment", "merchant", "notification"]


def reconcile_answer(*actions: str) -> dict[str, Any]:
    settled = [{"refund_id": f"r{n}", "action": a} for n, a in enumerate(actions)]
    return {"settled": settled, "counts": dict(Counter(actions))}


def test_refund_reconcile_asks_payment_with_the_grace_period(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cloudwatch: FakeCloudWatch,
) -> None:
    calls: list[tuple[str, str, str, Any]] = []

    def call(service: str, method: str, path: str, body: Any = None) -> Any:
        calls.append((service, method, path, body))
        return reconcile_answer("cancelled", "completed", "in-doubt")

    monkeypatch.setattr(refund_reconcile, "call", call)
    monkeypatch.setenv("PAYLAB_REFUND_RECONCILE_AFTER_S", "900")
    result = refund_reconcile.handler(scheduled("2026-12-05T06:15:00Z"), None)
    assert calls == [("payment", "POST", "/internal/jobs/reconcile-refunds", {"older_than_s": 900})]
    assert result["counts"] == {"cancelled": 1, "completed": 1, "in-doubt": 1}
    assert result["fired_at"] == "2026-12-05T06:15:00+00:00"
    assert '"refunds unsettled"' in capsys.readouterr().out  # the in-doubt one is logged
    assert cloudwatch.gauges() == {"RefundsInDoubt": 1}  # RefundsInDoubtAlarm's metric


def test_refund_reconcile_fails_the_run_when_a_refund_could_not_be_settled(
    monkeypatch: pytest.MonkeyPatch, cloudwatch: FakeCloudWatch
) -> None:
    monkeypatch.setattr(refund_reconcile, "call", lambda *a, **k: reconcile_answer("failed"))
    with pytest.raises(refund_reconcile.UnsettledRefunds, match='"failed": 1'):
        refund_reconcile.handler(scheduled("2026-12-05T06:15:00Z"), None)
    assert cloudwatch.gauges() == {"RefundsInDoubt": 1}  # its outcome is unknown too


def test_refund_reconcile_refuses_an_event_that_is_not_scheduled() -> None:
    with pytest.raises(ValueError, match="not a scheduled event"):
        refund_reconcile.handler({"detail": {}}, None)


def test_refund_reconcile_logs_a_gauge_it_could_not_put_and_ends_well(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cloudwatch: FakeCloudWatch,
) -> None:
    cloudwatch.error = ClientError({"Error": {"Code": "Throttling"}}, "PutMetricData")
    monkeypatch.setattr(refund_reconcile, "call", lambda *a, **k: reconcile_answer("in-doubt"))
    result = refund_reconcile.handler(scheduled("2026-12-05T06:15:00Z"), None)
    assert result["counts"] == {"in-doubt": 1}
    logged = capsys.readouterr().out
    assert '"refunds unsettled"' in logged and '"gauge not put"' in logged
