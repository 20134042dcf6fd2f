"""The ops-metrics Lambda without I/O: the gauge it puts, what it logs, what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from jobs_fakes import FakeCloudWatch

from paylab.lambdas import ops_metrics
from paylab.lambdas._services import TransientError


def scheduled(time: str) -> dict[str, Any]:
    return {"detail-type": "Scheduled Event", "source": "aws.events", "time": time, "detail": {}}


def answer(*payment_ids: str) -> dict[str, Any]:
    return {"count": len(payment_ids), "items": [{"payment_id": p} for p in payment_ids]}


@pytest.mark.parametrize("waiting", [(), ("pay_1", "pay_2")])
def test_the_gauge_is_the_number_of_unsettled_late_approvals(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cloudwatch: FakeCloudWatch,
    waiting: tuple[str, ...],
) -> None:
    calls: list[tuple[str, str, str]] = []

    def call(service: str, method: str, path: str, body: Any = None) -> Any:
        calls.append((service, method, path))
        return answer(*waiting)

    monkeypatch.setattr(ops_metrics, "call", call)
    result = ops_metrics.handler(scheduled("2026-12-05T06:15:00Z"), None)
    assert calls == [("payment", "GET", "/internal/jobs/late-approvals")]
    assert result == {
        "job": "ops-metrics",
        "fired_at": "2026-12-05T06:15:00+00:00",
        "metrics": {"UnsettledLatePseApprovals": len(waiting)},
    }
    (put,) = cloudwatch.put
    assert put["Namespace"] == "Paylab/Operations"
    (datum,) = put["MetricData"]
    assert datum["MetricName"] == "UnsettledLatePseApprovals"
    assert datum["Value"] == len(waiting)  # 0 too: the alarm sees the state, not silence
    assert datum["Dimensions"] == [{"Name": "Stack", "Value": "paylab-test"}]
    logged = capsys.readouterr().out
    assert all(p in logged for p in waiting) and ("late PSE approvals" in logged) == bool(waiting)


def test_a_payment_service_that_cannot_answer_fails_the_run_and_puts_nothing(
    monkeypatch: pytest.MonkeyPatch, cloudwatch: FakeCloudWatch
) -> None:
    def call(*_: Any, **__: Any) -> Any:
        raise TransientError("payment unavailable")

    monkeypatch.setattr(ops_metrics, "call", call)
    with pytest.raises(TransientError, match="payment unavailable"):
        ops_metrics.handler(scheduled("2026-12-05T06:15:00Z"), None)
    assert cloudwatch.put == []  # no made-up zero


def test_an_event_that_is_not_scheduled_is_refused(cloudwatch: FakeCloudWatch) -> None:
    with pytest.raises(ValueError, match="not a scheduled event"):
        ops_metrics.handler({"detail": {}}, None)
    assert cloudwatch.put == []
