"""`paylab payments compensate ID`: where a stopped SAGA resumes, and what running the rest does."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from paylab.cli import app
from paylab.payment import compensate, saga_cli
from paylab.payment.compensate import CannotCompensate, StepFailed, plan, run

ASL = Path(compensate.__file__).parents[1] / "workflows" / "payment_saga.asl.json"
EXECUTION = "arn:aws:states:us-east-1:000000000000:execution:paylab-payment-saga:p-1"


def definition() -> dict[str, Any]:
    """The SAGA as deployed: each `${XArn}` a Lambda ARN named X."""
    text = re.sub(
        r"\$\{(\w+)Arn\}", r"arn:aws:lambda:us-east-1:000000000000:function:\1", ASL.read_text()
    )
    return dict(json.loads(text))


def lambda_name(arn: str) -> str:
    return arn.rsplit(":", 1)[1]


class Sfn:
    """A finished execution: its status and the states it entered, each with its input."""

    def __init__(self, status: str, entered: list[tuple[str, dict[str, Any]]], **extra: Any):
        self.status, self.entered, self.extra = status, entered, extra
        self.definition = definition()

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        assert executionArn.startswith(EXECUTION.rsplit(":", 1)[0])
        return {"status": self.status, **self.extra}

    def describe_state_machine_for_execution(self, executionArn: str) -> dict[str, Any]:
        return {"definition": json.dumps(self.definition)}

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        kinds = {s: v["Type"] for s, v in self.definition["States"].items()}
        events = [
            {
                "type": f"{kinds[name]}StateEntered",
                "stateEnteredEventDetails": {"name": name, "input": json.dumps(data)},
            }
            for name, data in self.entered
        ]
        return {"events": [{"type": "ExecutionStarted"}, *events]}


class Lambda:
    """Records each invoke; answers from `answers` by function name, or fails as told."""

    def __init__(self, answers: dict[str, Any], fail: dict[str, dict[str, str]] | None = None):
        self.answers, self.fail = answers, fail or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        name = lambda_name(FunctionName)
        self.calls.append((name, json.loads(Payload)))
        if name in self.fail:
            body = json.dumps(self.fail[name]).encode()
            return {"FunctionError": "Unhandled", "Payload": io.BytesIO(body)}
        return {"Payload": io.BytesIO(json.dumps(self.answers[name]).encode())}


CARD = {"payment_id": "p-1", "method": "card", "hold": {"id": "h-1"}, "final_status": "failed"}
ANSWERS = {
    "ReverseCharge": {"outcome": "charge_reversed", "reversed": []},
    "ReleaseFunds": {"released": True, "status": "released"},
    "Notify": {"status": "failed", "cod_respuesta": 4},
}


def test_compensation_failed_resumes_at_release_funds_with_its_input() -> None:
    caught = {**CARD, "release_error": {"Error": "Refused"}}
    sfn = Sfn(
        "FAILED",
        [("ReleaseFunds", CARD), ("CompensationFailed", caught)],
        error="CompensationFailed",
    )
    found = plan(sfn, EXECUTION, "p-1")
    assert (found.stopped_in, found.steps) == ("CompensationFailed", ["ReleaseFunds", "Notify"])
    assert found.execution_error == "CompensationFailed"
    lam = Lambda(ANSWERS)
    ran = run(found, lam)
    assert [r.state for r in ran] == ["ReleaseFunds", "Notify"]
    # ReleaseFunds gets the input it had; Notify also sees its result at $.release, as the
    # state machine would have passed it.
    assert lam.calls[0] == ("ReleaseFunds", CARD)
    assert lam.calls[1] == ("Notify", {**CARD, "release": ANSWERS["ReleaseFunds"]})


def test_reversal_failed_gives_the_charge_back_before_releasing() -> None:
    sfn = Sfn("FAILED", [("ReverseCharge", CARD), ("ReversalFailed", CARD)])
    found = plan(sfn, EXECUTION, "p-1")
    assert found.steps == ["ReverseCharge", "ReleaseFunds", "Notify"]
    lam = Lambda(ANSWERS)
    run(found, lam)
    assert [name for name, _ in lam.calls] == ["ReverseCharge", "ReleaseFunds", "Notify"]
    assert lam.calls[1][1]["reversal"] == ANSWERS["ReverseCharge"]


def test_an_execution_stopped_while_waiting_to_retry_resumes_at_the_step_it_waited_for() -> None:
    waiting = {**CARD, "release_error": {"Error": "TransientError"}}
    sfn = Sfn("ABORTED", [("ReleaseFunds", CARD), ("ReleaseLater", waiting)])
    found = plan(sfn, EXECUTION, "p-1")
    assert (found.steps, found.execution_error) == (["ReleaseFunds", "Notify"], "ABORTED")
    lam = Lambda(ANSWERS)
    run(found, lam)
    assert lam.calls[0] == ("ReleaseFunds", waiting)


def test_notify_out_of_retries_runs_notify_alone() -> None:
    approved = {**CARD, "final_status": "approved"}
    sfn = Sfn("FAILED", [("MarkApproved", approved), ("Notify", approved)], error="TransientError")
    found = plan(sfn, EXECUTION, "p-1")
    assert found.steps == ["Notify"]
    assert found.as_dict()["final_status"] == "approved"


@pytest.mark.parametrize("stopped_in", ["ProcessPayment", "CaptureFunds", "ReserveFunds"])
def test_a_stop_before_the_compensation_is_refused(stopped_in: str) -> None:
    sfn = Sfn("ABORTED", [(stopped_in, CARD)])
    with pytest.raises(CannotCompensate, match=f"stopped in {stopped_in}, before"):
        plan(sfn, EXECUTION, "p-1")


@pytest.mark.parametrize(
    ("status", "says"), [("RUNNING", "still running"), ("SUCCEEDED", "nothing to compensate")]
)
def test_a_running_or_succeeded_execution_is_refused(status: str, says: str) -> None:
    with pytest.raises(CannotCompensate, match=says):
        plan(Sfn(status, [("Notify", CARD)]), EXECUTION, "p-1")


def test_a_failing_step_stops_the_run_and_says_what_ran() -> None:
    sfn = Sfn("FAILED", [("ReverseCharge", CARD), ("ReversalFailed", CARD)])
    lam = Lambda(ANSWERS, fail={"ReleaseFunds": {"errorType": "Refused", "errorMessage": "404"}})
    with pytest.raises(StepFailed) as failed:
        run(plan(sfn, EXECUTION, "p-1"), lam)
    assert (failed.value.state, failed.value.error) == ("ReleaseFunds", "Refused: 404")
    assert [r.state for r in failed.value.ran] == ["ReverseCharge"]
    assert [name for name, _ in lam.calls] == ["ReverseCharge", "ReleaseFunds"]  # no Notify


def test_every_fail_state_is_reached_only_from_a_step_the_command_can_resume() -> None:
    """A new Fail state, or a Catch into one from elsewhere, needs this command taught first."""
    states = definition()["States"]
    fails = {name for name, state in states.items() if state["Type"] == "Fail"}
    catching = {
        name
        for name, state in states.items()
        for catch in state.get("Catch", [])
        if catch["Next"] in fails
    }
    assert catching == {"ReverseCharge", "ReleaseFunds"}
    assert catching <= set(compensate.RESUMABLE)
    for name in compensate.RESUMABLE:  # and the path from each runs to the end
        assert compensate._path(states, name)[-1] == "Notify"


def test_the_cli_refuses_clearly_and_runs_with_dry_run_showing_the_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sfn = Sfn("FAILED", [("ReleaseFunds", CARD), ("CompensationFailed", CARD)])
    monkeypatch.setattr(
        saga_cli,
        "output",
        lambda _name: EXECUTION.replace(":p-1", "").replace(":execution:", ":stateMachine:"),
    )
    monkeypatch.setattr(saga_cli, "client", lambda _service: sfn)
    result = CliRunner().invoke(app, ["payments", "compensate", "p-1", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would run: ReleaseFunds, Notify" in result.output
    sfn.status = "RUNNING"
    result = CliRunner().invoke(app, ["payments", "compensate", "p-1"])
    assert result.exit_code == 1
    assert "cannot compensate: the SAGA of payment p-1 is still running" in result.output


def test_the_cli_runs_the_steps_then_shows_the_payment_or_the_step_that_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import paylab.core.aws

    sfn = Sfn("FAILED", [("ReleaseFunds", CARD), ("CompensationFailed", CARD)])
    machine = EXECUTION.rsplit(":", 1)[0].replace(":execution:", ":stateMachine:")
    monkeypatch.setattr(saga_cli, "output", lambda _name: machine)
    monkeypatch.setattr(saga_cli, "client", lambda _service: sfn)
    monkeypatch.setattr(
        saga_cli, "_payment", lambda _id: {"status": "failed", "cod_respuesta": 4, "reason": None}
    )
    outcome: set[str] = set()  # ids whose payment has its outcome (Notify ran)
    monkeypatch.setattr(saga_cli, "_unfinished", lambda ids: set(ids) - outcome)
    lam = Lambda(ANSWERS, fail={"ReleaseFunds": {"errorType": "Refused", "errorMessage": "404."}})
    monkeypatch.setattr(paylab.core.aws, "invoker", lambda: lam)
    result = CliRunner().invoke(app, ["payments", "compensate", "p-1"])
    assert result.exit_code == 1
    assert "ReleaseFunds failed: Refused: 404. Nothing after it ran" in result.output
    lam.fail = {}
    result = CliRunner().invoke(app, ["payments", "compensate", "p-1", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [r["state"] for r in body["ran"]] == ["ReleaseFunds", "Notify"]
    assert body["payment"]["status"] == "failed"
    # The payment has its outcome now: a second run is refused unless forced.
    outcome.add("p-1")
    result = CliRunner().invoke(app, ["payments", "compensate", "p-1"])
    assert result.exit_code == 1
    assert "already has its outcome (failed): nothing is left to finish" in result.output
    result = CliRunner().invoke(app, ["payments", "compensate", "p-1", "--force"])
    assert result.exit_code == 0, result.output


class Executions:
    """Several finished executions of one machine, listed by status in pages of two."""

    def __init__(self, by_name: dict[str, Sfn]) -> None:
        self.by_name = by_name

    def _one(self, arn: str) -> Sfn:
        return self.by_name[arn.rsplit(":", 1)[1]]

    def list_executions(
        self, stateMachineArn: str, statusFilter: str, maxResults: int, nextToken: str = "0"
    ) -> dict[str, Any]:
        from datetime import UTC, datetime, timedelta

        names = [n for n, e in self.by_name.items() if e.status == statusFilter]
        start = int(nextToken)
        page = [
            {
                "name": n,
                "status": statusFilter,
                "executionArn": EXECUTION.rsplit(":", 1)[0] + f":{n}",
                "stopDate": datetime(2026, 12, 5, tzinfo=UTC) - timedelta(minutes=len(n)),
            }
            for n in names[start : start + 2]
        ]
        more = start + 2 < len(names)
        return {"executions": page, **({"nextToken": str(start + 2)} if more else {})}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return self._one(executionArn).describe_execution(executionArn)

    def describe_state_machine_for_execution(self, executionArn: str) -> dict[str, Any]:
        return self._one(executionArn).describe_state_machine_for_execution(executionArn)

    def get_execution_history(self, executionArn: str, **kw: Any) -> dict[str, Any]:
        return self._one(executionArn).get_execution_history(**kw)


def test_stopped_lists_badly_ended_sagas_whose_payment_is_pending_and_says_what_to_do() -> None:
    release = [("ReleaseFunds", CARD), ("CompensationFailed", CARD)]
    sfn = Executions(
        {
            "p-a": Sfn("FAILED", release, error="CompensationFailed"),
            "p-bb": Sfn("FAILED", release, error="CompensationFailed"),  # compensated since
            "p-ccc": Sfn("FAILED", [("ReverseCharge", CARD), ("ReversalFailed", CARD)]),
            "p-dddd": Sfn("ABORTED", [("CaptureFunds", CARD)]),
            "p-eeeee": Sfn("SUCCEEDED", [("Notify", CARD)]),
        }
    )
    asked: list[list[str]] = []

    def still_pending(ids: list[str]) -> set[str]:
        asked.append(ids)
        return set(ids) - {"p-bb"}

    found = compensate.stopped_sagas(sfn, "arn:machine", still_pending)
    # Oldest stop first (the fake stops longer names earlier); SUCCEEDED never asked about.
    assert [f.payment_id for f in found] == ["p-dddd", "p-ccc", "p-a"]
    assert sorted(i for batch in asked for i in batch) == ["p-a", "p-bb", "p-ccc", "p-dddd"]
    aborted, reversal, release_failed = found
    assert aborted.plan is None and "stopped in CaptureFunds, before" in str(aborted.refusal)
    assert reversal.plan is not None and reversal.plan.steps[0] == "ReverseCharge"
    assert release_failed.plan is not None and release_failed.plan.steps == [
        "ReleaseFunds",
        "Notify",
    ]
    assert release_failed.as_dict()["plan"]["execution_error"] == "CompensationFailed"


@pytest.mark.parametrize(
    "shaping", ["ResultSelector", "InputPath", "OutputPath", "Parameters", "Assign"]
)
def test_a_state_that_reshapes_its_input_or_output_is_refused(shaping: str) -> None:
    sfn = Sfn("FAILED", [("ReleaseFunds", CARD), ("CompensationFailed", CARD)])
    sfn.definition["States"]["Notify"][shaping] = {"x.$": "$"}
    with pytest.raises(CannotCompensate, match=f"Notify uses {shaping}"):
        plan(sfn, EXECUTION, "p-1")


def test_a_jsonata_definition_is_refused() -> None:
    sfn = Sfn("FAILED", [("ReleaseFunds", CARD), ("CompensationFailed", CARD)])
    sfn.definition["QueryLanguage"] = "JSONata"
    with pytest.raises(CannotCompensate, match="not JSONPath"):
        plan(sfn, EXECUTION, "p-1")
