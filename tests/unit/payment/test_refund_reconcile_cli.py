"""`paylab payments reconcile-refunds`: what it prints and its exit code (reconciliation faked)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from paylab.cli import app
from paylab.payment import refund_reconcile, wiring
from paylab.payment.partners import PartnerUnavailable
from paylab.payment.refund_reconcile import Settled

runner = CliRunner()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(wiring, "build", lambda settings: object())
    monkeypatch.setattr(
        refund_reconcile, "reconcile_refunds", lambda svc, **kw: seen.append(kw) or []
    )
    return seen


def answer(monkeypatch: pytest.MonkeyPatch, *actions: str) -> None:
    settled = [Settled("p-1", f"r-{n}", "10.00", a, "why") for n, a in enumerate(actions, 1)]  # type: ignore[arg-type]
    monkeypatch.setattr(refund_reconcile, "reconcile_refunds", lambda svc, **kw: settled)


def test_the_grace_period_and_payment_reach_the_reconciliation(calls: list[Any]) -> None:
    result = runner.invoke(
        app, ["payments", "reconcile-refunds", "--older-than", "30", "--payment", "p-9"]
    )
    assert result.exit_code == 0, result.output
    assert calls == [{"older_than": timedelta(seconds=30), "payment_id": "p-9"}]


def test_settled_refunds_are_listed_and_exit_0(
    calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(monkeypatch, "cancelled", "completed")
    result = runner.invoke(app, ["payments", "reconcile-refunds"])
    assert result.exit_code == 0, result.output
    assert "cancelled  payment p-1 refund r-1 10.00: why" in result.output
    assert "2 reserved refund(s) older than 600 s looked at." in result.output


@pytest.mark.parametrize("bad", ["in-doubt", "failed"])
def test_a_refund_left_unsettled_exits_1(
    calls: list[Any], monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    answer(monkeypatch, "completed", bad)
    result = runner.invoke(app, ["payments", "reconcile-refunds", "--json"])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["action"] for line in lines] == ["completed", bad]


def test_a_wallet_that_cannot_answer_is_a_clear_error(
    calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(svc: Any, **_: Any) -> Any:
        raise PartnerUnavailable("wallet is unavailable: connection refused")

    monkeypatch.setattr(refund_reconcile, "reconcile_refunds", down)
    result = runner.invoke(app, ["payments", "reconcile-refunds"])
    assert result.exit_code == 1
    assert "cannot list the wallet's reserved refunds: wallet is unavailable" in result.output
    assert "Traceback" not in result.output


def test_a_negative_grace_period_is_refused() -> None:
    result = runner.invoke(app, ["payments", "reconcile-refunds", "--older-than", "-1"])
    assert result.exit_code == 2
