"""Finish a SAGA's compensation after the execution stopped for an operator.

ReverseCharge and ReleaseFunds end the execution (`ReversalFailed`, `CompensationFailed`)
when retrying cannot mend what went wrong (a 4xx from a service, a broken Lambda); an
operator may also stop an execution that waits in `ReverseLater` / `ReleaseLater`, and Notify
gives up after its retries. The card stays charged or the hold stays open until someone
runs the rest. Step Functions' RedriveExecution would, but LocalStack lacks it, and a redrive
of a Fail state fails again; this runs the rest of the path instead, from the state where the
execution stopped, with that state's input, through the same Lambdas (read from the
definition the execution ran), so nothing is re-implemented. Every step is idempotent per
payment (the reversal per payment, the release per `<payment>:release`, the outcome per
status), so running it again after a fix, or twice, moves no money twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paylab.payment.saga_trace import history

# The states this command may run: the compensation path's Tasks and the final Notify. A
# stop anywhere before them (ReserveFunds, ProcessPayment, CaptureFunds) is not a stopped
# compensation: the money may be moving and the operator must look at the payment first.
RESUMABLE = ("ReverseCharge", "ReleaseFunds", "Notify")
_ENDED_BADLY = ("FAILED", "ABORTED", "TIMED_OUT")
# What shapes a state's input or output besides ResultPath (JSONPath and JSONata): a state
# using any of them would get another input here than from Step Functions.
_SHAPING = frozenset(
    {
        "Parameters",
        "InputPath",
        "OutputPath",
        "ResultSelector",
        "Arguments",
        "Output",
        "Assign",
        "QueryLanguage",
    }
)


class CannotCompensate(Exception):
    """The execution is not one this command may finish; the message says why."""


class StepFailed(Exception):
    """A step's Lambda failed: nothing after it ran; fix the cause and run again."""

    def __init__(self, state: str, error: str, ran: list[StepRun]) -> None:
        super().__init__(f"{state} failed: {error}")
        self.state, self.error, self.ran = state, error, ran


@dataclass
class Plan:
    """Where the execution stopped and what running the rest of its path means."""

    payment_id: str
    execution_status: str
    execution_error: str | None
    stopped_in: str  # the last state the execution entered
    steps: list[str]  # the states to run, in order
    state_input: dict[str, Any] = field(repr=False)
    states: dict[str, Any] = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id,
            "execution_status": self.execution_status,
            "execution_error": self.execution_error,
            "stopped_in": self.stopped_in,
            "steps": self.steps,
            "final_status": self.state_input.get("final_status"),
        }


@dataclass
class StepRun:
    """One state this command ran and what it answered."""

    state: str
    result: Any


def plan(sfn: Any, execution: str, payment_id: str) -> Plan:
    """Read the execution and decide where to resume; CannotCompensate when it must not."""
    described = sfn.describe_execution(executionArn=execution)
    status = str(described["status"])
    if status == "RUNNING":
        raise CannotCompensate(
            f"the SAGA of payment {payment_id} is still running: it compensates by itself "
            "(`paylab payments saga` shows where it is); stop it first if it must not go on"
        )
    if status not in _ENDED_BADLY:
        raise CannotCompensate(
            f"the SAGA of payment {payment_id} ended {status}: there is nothing to compensate"
        )
    definition = json.loads(
        sfn.describe_state_machine_for_execution(executionArn=execution)["definition"]
    )
    if definition.get("QueryLanguage", "JSONPath") != "JSONPath":
        raise CannotCompensate("the SAGA's definition is not JSONPath: this cannot follow it")
    states: dict[str, Any] = definition["States"]
    entered = _entered(history(sfn, execution))
    if not entered:
        raise CannotCompensate(f"the SAGA of payment {payment_id} entered no state")
    stopped_in, raw_input = entered[-1]
    resume, state_input = stopped_in, raw_input
    kind = states[stopped_in]["Type"]
    if kind == "Fail":  # a Catch led here from the state entered before it
        if len(entered) < 2 or not _catches_into(states[entered[-2][0]], stopped_in):
            raise CannotCompensate(f"cannot tell which state led to {stopped_in}")
        resume, state_input = entered[-2]
    elif kind == "Wait":  # ReverseLater / ReleaseLater: the wait passes its input on
        resume = str(states[stopped_in]["Next"])
    if resume not in RESUMABLE:
        raise CannotCompensate(
            f"the SAGA of payment {payment_id} stopped in {resume}, before its compensation: "
            "money may be on its way; look at the payment and its hold before anything else "
            f"(this command only runs {', '.join(RESUMABLE)})"
        )
    error = described.get("error") or (status if status != "FAILED" else None)
    return Plan(payment_id, status, error, stopped_in, _path(states, resume), state_input, states)


def run(plan: Plan, lambda_client: Any) -> list[StepRun]:
    """Run the plan's steps in order, each result placed where the state machine puts it."""
    data: Any = plan.state_input
    ran: list[StepRun] = []
    for name in plan.steps:
        state = plan.states[name]
        if state["Type"] == "Task":
            result = _invoke(lambda_client, name, str(state["Resource"]), data, ran)
        else:  # Pass
            result = state.get("Result", data)
        data = _place(data, state.get("ResultPath", "$"), result)
        ran.append(StepRun(name, result))
    return ran


@dataclass
class Stopped:
    """A SAGA that ended FAILED, ABORTED or TIMED_OUT while its payment has no outcome yet."""

    payment_id: str
    execution_status: str
    stopped_at: datetime | None
    plan: Plan | None  # None: the command may not finish it (`refusal` says why)
    refusal: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id,
            "execution_status": self.execution_status,
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "plan": self.plan.as_dict() if self.plan else None,
            "refusal": self.refusal,
        }


def stopped_sagas(
    sfn: Any, state_machine: str, unfinished: Callable[[list[str]], set[str]]
) -> list[Stopped]:
    """Every execution that ended badly and whose payment has no outcome yet (pending, or
    held for review), oldest first.

    A payment whose compensation was finished (here or by hand) has its outcome and is not
    listed, though its execution stays FAILED.
    """
    ended = [e for status in _ENDED_BADLY for e in _executions(sfn, state_machine, status)]
    names = [str(e["name"]) for e in ended]
    pending = set()
    for start in range(0, len(names), 500):
        pending |= unfinished(names[start : start + 500])
    found = []
    for execution in sorted(ended, key=_stop_order):
        if execution["name"] not in pending:
            continue
        payment_id = str(execution["name"])
        try:
            resumable, refusal = plan(sfn, execution["executionArn"], payment_id), None
        except CannotCompensate as exc:
            resumable, refusal = None, str(exc)
        found.append(
            Stopped(
                payment_id, str(execution["status"]), execution.get("stopDate"), resumable, refusal
            )
        )
    return found


def _stop_order(execution: dict[str, Any]) -> tuple[float, str]:
    stopped = execution.get("stopDate")
    return (stopped.timestamp() if stopped else float("inf"), str(execution["name"]))


def _executions(sfn: Any, state_machine: str, status: str) -> Iterable[dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "stateMachineArn": state_machine,
        "statusFilter": status,
        "maxResults": 1000,
    }
    while True:
        page = sfn.list_executions(**kwargs)
        yield from page["executions"]
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


def _entered(events: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(state, input) of every state entered, oldest first."""
    found = []
    for event in events:
        if event["type"].endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            found.append((str(details["name"]), json.loads(details.get("input") or "{}")))
    return found


def _catches_into(state: dict[str, Any], target: str) -> bool:
    return any(catch.get("Next") == target for catch in state.get("Catch", []))


def _path(states: dict[str, Any], start: str) -> list[str]:
    """The states from `start` to the end, following Next; only Tasks that invoke a Lambda
    and Passes are run here: any other state on the way means the definition changed."""
    steps: list[str] = []
    name: str | None = start
    while name is not None:
        state = states[name]
        if state["Type"] == "Task" and not str(state.get("Resource", "")).startswith(
            "arn:aws:lambda:"
        ):
            raise CannotCompensate(f"{name} does not invoke a Lambda by its ARN")
        if state["Type"] not in ("Task", "Pass"):
            raise CannotCompensate(f"the path from {start} reaches {name}, which this cannot run")
        shaping = sorted(_SHAPING & state.keys())
        if shaping:  # each changes what the next state gets: this only follows ResultPath
            raise CannotCompensate(f"{name} uses {', '.join(shaping)}, which this cannot apply")
        _check_result_path(name, state.get("ResultPath", "$"))
        steps.append(name)
        name = None if state.get("End") else str(state["Next"])
    return steps


def _check_result_path(name: str, path: Any) -> None:
    if path is None or path == "$":
        return
    if not (isinstance(path, str) and path.startswith("$.") and "." not in path[2:]):
        raise CannotCompensate(f"{name}'s ResultPath {path!r} is not a top-level field")


def _place(data: Any, path: Any, result: Any) -> Any:
    """ResultPath: `$` replaces the input, `$.name` sets one field, null keeps the input."""
    if path is None:
        return data
    if path == "$":
        return result
    return {**data, str(path)[2:]: result}


def _invoke(lambda_client: Any, name: str, arn: str, data: Any, ran: list[StepRun]) -> Any:
    try:
        response = lambda_client.invoke(
            FunctionName=arn, InvocationType="RequestResponse", Payload=json.dumps(data).encode()
        )
    except Exception as exc:  # botocore's errors, a read timeout: the step may have run
        raise StepFailed(name, f"the Lambda could not be invoked: {exc}", ran) from exc
    payload = response["Payload"].read()
    answer = json.loads(payload) if payload else None
    if response.get("FunctionError"):
        answer = answer if isinstance(answer, dict) else {}
        kind = answer.get("errorType", response["FunctionError"])
        raise StepFailed(name, f"{kind}: {answer.get('errorMessage', '')}".strip(), ran)
    return answer
