"""A payment's SAGA as people read it: the states it went through, how long each took, what
failed and where the failure was caught (`paylab payments saga ID`).

Folded from the execution's Step Functions history, the same on LocalStack and AWS: one step
per state entered, its attempts (a Retry makes several), the errors of the failed ones, and
how it ended: `ok`, `caught` (a Catch sent the SAGA on to another state, the compensation
path), `failed` / `timed_out` / `aborted` (the execution ended on it) or `running` (still
there, e.g. waiting for PSE). The payment SAGA has no Map or Parallel state: their branches
would be folded flat, one step per state entered.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

# Attempt events: Lambda tasks given by ARN report LambdaFunction*, integrations (the
# `.waitForTaskToken` ones) report Task*. A schedule that failed has no Scheduled event:
# it is a try of its own.
_SCHEDULED = {"LambdaFunctionScheduled", "TaskScheduled"}
_FAILED = {
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
}
_ENDED = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
# What the step the execution ended on is called, by how it ended.
_LAST_STEP = {"SUCCEEDED": "ok", "FAILED": "failed", "TIMED_OUT": "timed_out", "ABORTED": "aborted"}
_MAX_CAUSE = 200


@dataclass
class Step:
    """One state the execution entered."""

    state: str
    kind: str  # Task, Choice, Pass, Wait, Fail, ...
    at_ms: float  # since the execution started
    took_ms: float | None = None  # None while it runs
    attempts: int = 0  # Task states only
    errors: list[str] = field(default_factory=list)
    outcome: str = "running"
    next_state: str | None = None


@dataclass
class Trace:
    """The execution's status and its steps, oldest first."""

    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    started: datetime | None
    took_ms: float | None
    steps: list[Step]
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (`--json`)."""
        body = asdict(self)
        body["started"] = self.started.isoformat() if self.started else None
        return body


def _error(details: dict[str, Any]) -> str:
    error = str(details.get("error") or "error")
    cause = str(details.get("cause") or "")
    # A Lambda's error is {"errorMessage", "errorType", "stackTrace"}: the message says it.
    with contextlib.suppress(ValueError, TypeError, KeyError):
        cause = str(json.loads(cause)["errorMessage"])
    cause = " ".join(cause.split())
    if len(cause) > _MAX_CAUSE:
        cause = cause[: _MAX_CAUSE - 1] + "…"
    return f"{error}: {cause}" if cause else error


def _ms(later: datetime, earlier: datetime) -> float:
    return round((later - earlier).total_seconds() * 1000, 1)


def fold(events: list[dict[str, Any]]) -> Trace:
    """The trace of one execution from its history events (oldest first, as boto3 gives)."""
    started: datetime | None = None
    status, error = "RUNNING", None
    steps: list[Step] = []
    open_step: Step | None = None
    last_failed = False
    for event in events:
        kind, at = event["type"], event["timestamp"]
        if kind == "ExecutionStarted":
            started = at
        elif kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            if open_step is not None:  # left without an exit event: a Catch moved on
                _close(open_step, at, started, "caught" if last_failed else "ok")
            open_step = Step(name, kind.removesuffix("StateEntered"), _since(at, started))
            steps.append(open_step)
            last_failed = False
        elif kind.endswith("StateExited") and open_step is not None:
            _close(open_step, at, started, "caught" if last_failed else "ok")
            open_step, last_failed = None, False
        elif kind in _SCHEDULED and open_step is not None:
            open_step.attempts += 1
        elif kind in _FAILED and open_step is not None:
            open_step.attempts += kind == "LambdaFunctionScheduleFailed"
            open_step.errors.append(_error(event.get(_FAILED[kind], {})))
            last_failed = True
        elif kind.endswith("Succeeded") and kind != "ExecutionSucceeded":
            last_failed = False
        elif kind in _ENDED:
            status = _ENDED[kind]
            details: dict[str, Any] = next(
                (v for k, v in event.items() if k.endswith("EventDetails")), {}
            )
            if status != "SUCCEEDED":
                error = _error(details) if details else status
            if open_step is not None:
                _close(open_step, at, started, _LAST_STEP[status])
                open_step = None
        elif kind == "ExecutionRedriven":  # runs again from the state that failed
            status, error = "RUNNING", None
    for step, following in pairwise(steps):  # where each step that let the SAGA go on led
        if step.outcome in ("ok", "caught"):
            step.next_state = following.state
    took = None
    if started is not None and status != "RUNNING" and events:
        took = _ms(events[-1]["timestamp"], started)
    return Trace(status, started, took, steps, error)


def _since(at: datetime, started: datetime | None) -> float:
    return _ms(at, started) if started is not None else 0.0


def _close(step: Step, at: datetime, started: datetime | None, outcome: str) -> None:
    step.took_ms = round(_since(at, started) - step.at_ms, 1)
    step.outcome = outcome


def execution_arn(state_machine_arn: str, payment_id: str) -> str:
    """The payment's SAGA execution: the state machine's ARN, named after the payment."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{payment_id}"


def history(sfn: Any, execution: str) -> list[dict[str, Any]]:
    """Every history event of `execution`, oldest first (all pages)."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]
