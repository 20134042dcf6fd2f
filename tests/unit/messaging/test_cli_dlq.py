"""`paylab dlq`: arguments, output, and clear errors (the reprocessor faked)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from paylab import cli_dlq
from paylab.cli import app
from paylab.core.dlq import ReprocessorFailed

LISTED = {
    "action": "list",
    "queues": [
        {
            "queue": "notification-ops",
            "dlq": {"available": 2, "in_flight": 0},
            "parking": {"available": 1, "in_flight": 0},
            "parked": [
                {
                    "message_id": "m1",
                    "event_id": "evt-42",
                    "type": "PaymentCompleted",
                    "group": "pay-9",
                    "attempts": 4,
                    "redrives": 3,
                    "last_error": "KeyError: 'email'",
                }
            ],
        }
    ],
}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    seen: list[tuple[Any, ...]] = []

    def invoke(action: str, queue: str | None, max_messages: int | None) -> dict[str, Any]:
        seen.append((action, queue, max_messages))
        if action == "list":
            return LISTED
        return {"action": "redrive", "queues": [{"queue": queue, "redriven": 3, "parked": 1}]}

    monkeypatch.setattr(cli_dlq, "invoke_reprocessor", invoke)
    return seen


def test_list_shows_counts_and_parked_messages(
    calls: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A terminal wide enough that rich does not fold the cells the test looks for.
    monkeypatch.setattr(cli_dlq, "console", Console(width=200))
    result = CliRunner().invoke(app, ["dlq", "list"])
    assert result.exit_code == 0, result.output
    assert "notification-ops" in result.output
    assert "evt-42" in result.output and "KeyError: 'email'" in result.output
    assert calls == [("list", None, None)]


def test_list_json_is_the_reprocessors_answer(calls: list[tuple[Any, ...]]) -> None:
    result = CliRunner().invoke(app, ["dlq", "list", "audit-ops", "--json", "--max", "5"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == LISTED
    assert calls == [("list", "audit-ops", 5)]


def test_redrive_reports_what_moved(calls: list[tuple[Any, ...]]) -> None:
    result = CliRunner().invoke(app, ["dlq", "redrive", "notification-ops"])
    assert result.exit_code == 0, result.output
    assert "3 sent back to the queue, 1 parked" in result.output
    assert calls == [("redrive", "notification-ops", None)]


@pytest.mark.parametrize("argv", [["redrive", "payments"], ["list", "x"], ["redrive"]])
def test_unknown_or_missing_queues_are_usage_errors(
    calls: list[tuple[Any, ...]], argv: list[str]
) -> None:
    result = CliRunner().invoke(app, ["dlq", *argv])
    assert result.exit_code == 2
    assert calls == []


def test_a_failing_reprocessor_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def invoke(*_: Any) -> dict[str, Any]:
        raise ReprocessorFailed("AccessDenied")

    monkeypatch.setattr(cli_dlq, "invoke_reprocessor", invoke)
    result = CliRunner().invoke(app, ["dlq", "redrive", "audit-ops"])
    assert result.exit_code == 1
    assert "the DLQ reprocessor failed: AccessDenied" in result.output


def test_unpark_reports_what_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Any, ...]] = []

    def invoke(*args: Any) -> dict[str, Any]:
        seen.append(args)
        return {"action": "unpark", "queues": [{"queue": "audit-ops", "unparked": 2}]}

    monkeypatch.setattr(cli_dlq, "invoke_reprocessor", invoke)
    result = CliRunner().invoke(app, ["dlq", "unpark", "audit-ops"])
    assert result.exit_code == 0, result.output
    assert "2 moved back to the DLQ" in result.output
    assert seen == [("unpark", "audit-ops", None)]
