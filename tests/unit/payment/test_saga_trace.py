"""`paylab payments saga ID`: the history folded into steps, tries, errors and catches."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from typer.testing import CliRunner

from paylab.cli import app
from paylab.payment import saga_cli
from paylab.payment.saga_trace import execution_arn, fold, history

T0 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


class History:
    """Builds a history the way Step Functions reports one, a millisecond per event unless told."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.now = T0

    def add(self, type_: str, after_ms: float = 1, **details: Any) -> History:
        self.now += timedelta(milliseconds=after_ms)
        event: dict[str, Any] = {"type": type_, "timestamp": self.now, "id": len(self.events) + 1}
        event.update(details)
        self.events.append(event)
        return self

    def started(self) -> History:
        self.now = T0
        return self.add("ExecutionStarted", 0)

    def state(self, kind: str, name: str, after_ms: float = 1, exit_: bool = True) -> History:
        self.add(f"{kind}StateEntered", after_ms, stateEnteredEventDetails={"name": name})
        return self.exited(kind, name) if exit_ and kind != "Task" else self

    def exited(self, kind: str, name: str, after_ms: float = 1) -> History:
        return self.add(f"{kind}StateExited", after_ms, stateExitedEventDetails={"name": name})

    def attempt(
        self, ok: bool = True, after_ms: float = 10, error: str = "", cause: str = ""
    ) -> History:
        self.add("LambdaFunctionScheduled", 1).add("LambdaFunctionStarted", 1)
        if ok:
            return self.add("LambdaFunctionSucceeded", after_ms)
        details = {"error": error, "cause": cause}
        return self.add("LambdaFunctionFailed", after_ms, lambdaFunctionFailedEventDetails=details)


def test_the_approved_path_with_times_tries_and_where_each_went() -> None:
    h = History().started().state("Pass", "Prepare")
    h.state("Task", "ReserveFunds").attempt(after_ms=30).exited("Task", "ReserveFunds")
    h.state("Choice", "ChooseProcessing")
    h.state("Task", "ProcessPayment").attempt(after_ms=20).exited("Task", "ProcessPayment")
    h.add("ExecutionSucceeded", 1, executionSucceededEventDetails={"output": "{}"})

    trace = fold(h.events)

    assert trace.status == "SUCCEEDED" and trace.error is None and trace.started == T0
    assert [(s.state, s.kind, s.outcome, s.attempts) for s in trace.steps] == [
        ("Prepare", "Pass", "ok", 0),
        ("ReserveFunds", "Task", "ok", 1),
        ("ChooseProcessing", "Choice", "ok", 0),
        ("ProcessPayment", "Task", "ok", 1),
    ]
    reserve = trace.steps[1]
    assert (reserve.at_ms, reserve.took_ms, reserve.next_state) == (3.0, 33.0, "ChooseProcessing")
    assert trace.steps[-1].next_state is None
    assert trace.took_ms == 63.0


def test_retries_count_as_tries_and_keep_their_errors() -> None:
    h = History().started().state("Task", "ProcessPayment")
    h.attempt(ok=False, error="TransientError", cause="bank POST /v1/charges: 503 busy")
    h.attempt(ok=False, error="TransientError", cause="bank: 503")
    h.attempt().exited("Task", "ProcessPayment")

    [step] = fold(h.events).steps

    assert (step.attempts, step.outcome) == (3, "ok")
    assert step.errors == [
        "TransientError: bank POST /v1/charges: 503 busy",
        "TransientError: bank: 503",
    ]


def test_a_caught_failure_names_the_compensation_it_went_to() -> None:
    h = History().started().state("Task", "ProcessPayment")
    h.attempt(ok=False, error="Refused", cause="card declined\n  (51)")
    h.state("Pass", "MarkFailed").state("Task", "ReleaseFunds").attempt()
    h.exited("Task", "ReleaseFunds").state("Task", "Notify").attempt().exited("Task", "Notify")
    h.add("ExecutionSucceeded")

    steps = fold(h.events).steps

    assert [(s.state, s.outcome, s.next_state) for s in steps] == [
        ("ProcessPayment", "caught", "MarkFailed"),
        ("MarkFailed", "ok", "ReleaseFunds"),
        ("ReleaseFunds", "ok", "Notify"),
        ("Notify", "ok", None),
    ]
    assert steps[0].errors == ["Refused: card declined (51)"]  # whitespace folded


def test_a_catch_reported_with_an_exit_event_is_still_a_catch() -> None:
    h = History().started().state("Task", "CaptureFunds").attempt(ok=False, error="X")
    h.exited("Task", "CaptureFunds").state("Pass", "MarkFailed")

    assert fold(h.events).steps[0].outcome == "caught"


def test_a_running_execution_waiting_for_pse() -> None:
    h = History().started().state("Task", "AwaitPseConfirmation")
    h.add("TaskScheduled").add("TaskStarted").add("TaskSubmitted")

    trace = fold(h.events)

    assert (trace.status, trace.took_ms) == ("RUNNING", None)
    [step] = trace.steps
    assert (step.outcome, step.took_ms, step.attempts) == ("running", None, 1)


def test_a_failed_execution_says_why_and_where() -> None:
    h = History().started().state("Task", "ReleaseFunds").attempt(ok=False, error="E", cause="c")
    h.state("Fail", "CompensationFailed", exit_=False)
    h.add(
        "ExecutionFailed", executionFailedEventDetails={"error": "States.TaskFailed", "cause": "x"}
    )

    trace = fold(h.events)

    assert trace.status == "FAILED" and trace.error == "States.TaskFailed: x"
    assert [(s.state, s.outcome) for s in trace.steps] == [
        ("ReleaseFunds", "caught"),
        ("CompensationFailed", "failed"),
    ]


def test_long_causes_are_cut() -> None:
    h = History().started().state("Task", "T").attempt(ok=False, error="E", cause="x" * 500)
    [error] = fold(h.events).steps[0].errors
    assert len(error) == len("E: ") + 200 and error.endswith("…")


def test_a_lambdas_error_shows_its_message() -> None:
    cause = json.dumps({"errorMessage": "wallet: 409 short", "errorType": "Refused"})
    h = History().started().state("Task", "T").attempt(ok=False, error="Refused", cause=cause)
    assert fold(h.events).steps[0].errors == ["Refused: wallet: 409 short"]


def test_the_execution_is_named_after_the_payment_and_every_page_is_read() -> None:
    machine = "arn:aws:states:us-east-1:000000000000:stateMachine:paylab-payment-saga"
    arn = execution_arn(machine, "pay-1")
    assert arn == "arn:aws:states:us-east-1:000000000000:execution:paylab-payment-saga:pay-1"

    class Sfn:
        def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
            assert kwargs["executionArn"] == arn
            if "nextToken" not in kwargs:
                return {"events": [{"id": 1}], "nextToken": "t"}
            return {"events": [{"id": 2}]}

    assert [e["id"] for e in history(Sfn(), arn)] == [1, 2]


class FakeSfn:
    def __init__(self, events: list[dict[str, Any]] | None = None, fail: Exception | None = None):
        self.events, self.fail = events or [], fail

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        return {"events": self.events}


def _run(monkeypatch: pytest.MonkeyPatch, sfn: FakeSfn, *args: str) -> Any:
    machine = "arn:aws:states:us-east-1:000000000000:stateMachine:paylab-payment-saga"
    monkeypatch.setattr(saga_cli, "output", lambda key: machine)
    monkeypatch.setattr(saga_cli, "client", lambda service: sfn)
    payment = {"status": "rejected", "cod_respuesta": 2, "reason": "card_declined"}
    monkeypatch.setattr(saga_cli, "_payment", lambda payment_id: payment)
    return CliRunner().invoke(app, ["payments", "saga", "pay-1", *args])


def test_the_command_prints_the_steps_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    h = History().started().state("Task", "ProcessPayment")
    h.attempt(ok=False, error="Refused", cause="declined").state("Pass", "MarkRejected")
    h.add("ExecutionSucceeded")

    result = _run(monkeypatch, FakeSfn(h.events))

    assert result.exit_code == 0, result.output
    assert "SAGA of payment pay-1: SUCCEEDED" in result.output
    assert "payment: rejected (cod_respuesta 2), reason card_declined" in result.output
    assert "caught → MarkRejected" in result.output
    assert "  1 ProcessPayment, try 1: Refused: declined" in result.output


def test_the_same_error_on_every_retry_is_said_once(monkeypatch: pytest.MonkeyPatch) -> None:
    h = History().started().state("Task", "ProcessPayment")
    for cause in ("bank 503", "bank 503", "bank 503", "bank timeout"):
        h.attempt(ok=False, error="TransientError", cause=cause)

    result = _run(monkeypatch, FakeSfn(h.events))

    assert "  1 ProcessPayment, tries 1-3: TransientError: bank 503\n" in result.output
    assert "  1 ProcessPayment, try 4: TransientError: bank timeout\n" in result.output


def test_the_command_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    h = History().started().state("Pass", "Prepare")
    result = _run(monkeypatch, FakeSfn(h.events), "--json")
    body = json.loads(result.output)
    assert body["status"] == "RUNNING" and body["steps"][0]["state"] == "Prepare"
    assert body["payment"]["status"] == "rejected"
    assert body["started"] == T0.isoformat()


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (
            ClientError({"Error": {"Code": "ExecutionDoesNotExist"}}, "GetExecutionHistory"),
            "no SAGA execution for payment 'pay-1'",
        ),
        (
            ClientError({"Error": {"Code": "ThrottlingException"}}, "GetExecutionHistory"),
            "cannot read the SAGA from Step Functions",
        ),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:4566"), "is the stack up?"),
    ],
)
def test_no_trace_is_a_clear_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, error: Exception, says: str
) -> None:
    result = _run(monkeypatch, FakeSfn(fail=error))
    assert result.exit_code == 1
    assert says in result.output
    assert "Traceback" not in result.output


def test_a_schedule_that_failed_is_a_try() -> None:
    h = History().started().state("Task", "T")
    details = {"error": "Lambda.ResourceNotFoundException", "cause": "no function"}
    h.add("LambdaFunctionScheduleFailed", lambdaFunctionScheduleFailedEventDetails=details)
    [step] = fold(h.events).steps
    assert (step.attempts, step.errors) == (1, ["Lambda.ResourceNotFoundException: no function"])


@pytest.mark.parametrize(
    ("ended", "status", "outcome"),
    [("ExecutionAborted", "ABORTED", "aborted"), ("ExecutionTimedOut", "TIMED_OUT", "timed_out")],
)
def test_the_step_an_execution_ended_on_says_how(ended: str, status: str, outcome: str) -> None:
    h = History().started().state("Task", "AwaitPseConfirmation").add("TaskScheduled").add(ended)
    trace = fold(h.events)
    assert trace.status == status and trace.steps[0].outcome == outcome


def test_a_redriven_execution_runs_again() -> None:
    h = History().started().state("Task", "ReleaseFunds").attempt(ok=False, error="E")
    h.state("Fail", "CompensationFailed", exit_=False)
    h.add("ExecutionFailed", executionFailedEventDetails={"error": "E"})
    h.add("ExecutionRedriven").state("Task", "ReleaseFunds").attempt()

    trace = fold(h.events)

    assert (trace.status, trace.error, trace.took_ms) == ("RUNNING", None, None)
    assert [(s.state, s.outcome) for s in trace.steps][-1] == ("ReleaseFunds", "running")
