"""A Lambda runtime that dies mid-step (killed, out of memory) is retried, not compensated.

Lambda reports a dead runtime as `Runtime.ExitError` (our host executor does too) and Step
Functions documents unhandled runtime failures as `Lambda.Unknown`; every SAGA step is
idempotent (operation ids, the bank's Idempotency-Key), so trying it again is safe.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from paylab.infra.artifacts import WORKFLOWS

DEAD_RUNTIME = {"Runtime.ExitError", "Lambda.Unknown"}


@pytest.fixture(scope="module")
def lambda_tasks() -> dict[str, dict[str, Any]]:
    states: dict[str, Any] = json.loads((WORKFLOWS / "payment_saga.asl.json").read_text())["States"]
    tasks = {
        name: state
        for name, state in states.items()
        if state["Type"] == "Task"
        and ("Arn}" in state["Resource"] or ":lambda:invoke" in state["Resource"])
    }
    assert {"ReserveFunds", "ProcessPayment", "CaptureFunds", "ReleaseFunds"} <= set(tasks)
    return tasks


def test_every_lambda_step_retries_a_dead_runtime(lambda_tasks: dict[str, Any]) -> None:
    for name, state in lambda_tasks.items():
        retried: set[str] = set()
        for retry in state.get("Retry", []):
            retried |= set(retry["ErrorEquals"])
        assert "States.ALL" in retried or retried >= DEAD_RUNTIME, name


def test_the_pse_wait_still_abandons_on_its_own_timeout(lambda_tasks: dict[str, Any]) -> None:
    pse = lambda_tasks["AwaitPseConfirmation"]
    for retry in pse.get("Retry", []):
        assert "States.Timeout" not in retry["ErrorEquals"]
        assert "States.ALL" not in retry["ErrorEquals"]
