"""sfn_history.py: finished executions beyond the newest N keep their path, not their payloads."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, LocalStack, client, running_localstack, wait_until

KEEP = 3
PASS_MACHINE = {
    "StartAt": "Shape",
    "States": {
        "Shape": {"Type": "Pass", "Parameters": {"echo.$": "$.blob", "n.$": "$.n"}, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    },
}


@pytest.fixture(scope="module")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """This module's LocalStack keeps the payloads of the newest KEEP finished executions."""
    root = tmp_path_factory.mktemp("localstack-sfn-history")
    with running_localstack(root, PAYLAB_SFN_KEEP_HISTORIES=str(KEEP)) as instance:
        yield instance


def _finished(sfn: Any, arn: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def done() -> bool:
        seen.update(sfn.describe_execution(executionArn=arn))
        return seen["status"] != "RUNNING"

    assert wait_until(done, timeout=30), seen
    return seen


def _run(sfn: Any, machine: str, payload: dict[str, Any]) -> str:
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]
    _finished(sfn, arn)
    return str(arn)


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    return list(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])


def _payload_fields(events: list[dict[str, Any]]) -> set[str]:
    return {
        field
        for event in events
        for key, details in event.items()
        if key.endswith("EventDetails")
        for field in details
        if field in ("input", "output")
    }


def _path(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (
            e["type"],
            e.get("stateEnteredEventDetails", e.get("stateExitedEventDetails", {})).get("name", ""),
        )
        for e in events
    ]


def test_older_executions_keep_their_path_and_lose_their_payloads(localstack: LocalStack) -> None:
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"t-history-{uuid.uuid4().hex[:6]}", definition=json.dumps(PASS_MACHINE), roleArn=ROLE
    )["stateMachineArn"]
    blob = "x" * 20_000
    arns = [_run(sfn, machine, {"blob": blob, "n": n}) for n in range(KEEP + 2)]

    newest = _history(sfn, arns[-1])
    assert _payload_fields(newest) == {"input", "output"}
    for arn in arns[-KEEP:]:
        assert blob in json.dumps(_history(sfn, arn), default=str), arn
    for arn in arns[:2]:
        events = _history(sfn, arn)
        assert _payload_fields(events) == set(), arn
        assert blob not in json.dumps(events, default=str)
        assert _path(events) == _path(newest)  # the same states, in the same order
        described = sfn.describe_execution(executionArn=arn)  # its own input and output stay
        assert json.loads(described["input"])["blob"] == blob
        assert json.loads(described["output"])["echo"] == blob
        # StopExecution of a finished, compacted execution is no server error.
        sfn.stop_execution(executionArn=arn)


def _waiting_machine(sfn: Any, queue: str, timeout_s: int) -> str:
    waiting = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": timeout_s,
                "End": True,
            }
        },
    }
    return str(
        sfn.create_state_machine(
            name=f"t-token-{uuid.uuid4().hex[:6]}", definition=json.dumps(waiting), roleArn=ROLE
        )["stateMachineArn"]
    )


def _token(sqs: Any, queue: str) -> str:
    received: list[dict[str, Any]] = []

    def arrived() -> bool:
        received.extend(sqs.receive_message(QueueUrl=queue).get("Messages", []))
        return bool(received)

    assert wait_until(arrived, timeout=15)
    return str(json.loads(received[0]["Body"])["token"])


def _task_failure_code(sfn: Any, token: str) -> str:
    """SendTaskFailure's answer: "ok", or the error code."""
    try:
        sfn.send_task_failure(taskToken=token, error="E", cause="c")
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def test_task_tokens_answer_as_before_around_compacted_executions(localstack: LocalStack) -> None:
    """SendTaskFailure looks through every execution's tokens, finished ones included:
    compacted ones must answer as they did before."""
    sfn, sqs = client("stepfunctions"), client("sqs")
    queues = [
        sqs.create_queue(QueueName=f"t-tokens-{uuid.uuid4().hex[:6]}")["QueueUrl"] for _ in "ab"
    ]
    expired = sfn.start_execution(stateMachineArn=_waiting_machine(sfn, queues[0], 1), input="{}")[
        "executionArn"
    ]
    expired_token = _token(sqs, queues[0])
    assert _finished(sfn, expired)["status"] == "FAILED"  # States.Timeout
    before = _task_failure_code(sfn, expired_token)  # still among the newest KEEP
    waiting = sfn.start_execution(
        stateMachineArn=_waiting_machine(sfn, queues[1], 120), input="{}"
    )["executionArn"]
    waiting_token = _token(sqs, queues[1])

    machine = sfn.create_state_machine(
        name=f"t-after-{uuid.uuid4().hex[:6]}", definition=json.dumps(PASS_MACHINE), roleArn=ROLE
    )["stateMachineArn"]
    for n in range(KEEP + 1):  # pushes the expired execution out of the newest KEEP
        _run(sfn, machine, {"blob": "b", "n": n})

    scheduled = [e for e in _history(sfn, expired) if e["type"] == "TaskScheduled"]
    assert scheduled[0]["taskScheduledEventDetails"]["parameters"] == "{}"  # compacted
    # The expired token's answer does not change with compaction (its callback pool is kept;
    # stock LocalStack accepts it: the endpoint outlives the execution).
    assert _task_failure_code(sfn, expired_token) == before
    assert _task_failure_code(sfn, "no-such-token") == "InvalidToken"
    assert sfn.list_map_runs(executionArn=expired)["mapRuns"] == []
    # A running execution is never compacted: its token still resumes it.
    sfn.send_task_success(taskToken=waiting_token, output=json.dumps({"paid": True}))
    done = _finished(sfn, waiting)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"paid": True})
    assert "output" in json.dumps(_history(sfn, waiting), default=str)
