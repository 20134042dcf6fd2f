"""Step Functions as payment-saga uses it: Lambda tasks, Catch, task tokens, idempotent starts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .http_sink import HttpSink
from .resources import AwsClients, Function
from .waiting import wait_until


def _step(name: str, function: Function, next_state: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": function.arn,
        "Parameters": {
            "step": name,
            "payment_id.$": "$.payment_id",
            "fail_at.$": "$.fail_at",
            "trail.$": "$.trail",
        },
    }
    state.update({"Next": next_state} if next_state else {"End": True})
    return state


def saga_definition(step: Function) -> dict[str, Any]:
    """Reserve -> Process -> Capture; a declined Process compensates with Release."""
    reserve = {
        # The optimized integration, as the saga's first step uses it.
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": step.arn,
            "Payload": {
                "step": "ReserveFunds",
                "payment_id.$": "$.payment_id",
                "fail_at.$": "$.fail_at",
                "trail.$": "$.trail",
            },
        },
        "OutputPath": "$.Payload",
        "Next": "ProcessPayment",
    }
    process = _step("ProcessPayment", step, "CaptureFunds")
    process["Catch"] = [
        {"ErrorEquals": ["PaymentDeclinedError"], "ResultPath": "$.error", "Next": "ReleaseFunds"}
    ]
    return {
        "StartAt": "ReserveFunds",
        "States": {
            "ReserveFunds": reserve,
            "ProcessPayment": process,
            "CaptureFunds": _step("CaptureFunds", step, "Approved"),
            "ReleaseFunds": {
                **_step("ReleaseFunds", step, "Rejected"),
                "Parameters": {
                    "step": "ReleaseFunds",
                    "payment_id.$": "$.payment_id",
                    "fail_at": None,
                    "trail.$": "$.trail",
                    "error.$": "$.error.Error",
                },
            },
            "Approved": {
                "Type": "Pass",
                "Parameters": {"outcome": "approved", "trail.$": "$.trail"},
                "End": True,
            },
            "Rejected": {
                "Type": "Pass",
                "Parameters": {"outcome": "rejected", "trail.$": "$.trail", "error.$": "$.error"},
                "End": True,
            },
        },
    }


def bank_confirmation_definition(post_token: Function, timeout_seconds: int) -> dict[str, Any]:
    """PSE: hand the task token to the bank (over REST) and wait, bounded, for its answer."""
    return {
        "StartAt": "AwaitBankConfirmation",
        "States": {
            "AwaitBankConfirmation": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": post_token.arn,
                    "Payload": {
                        "token.$": "$$.Task.Token",
                        "payment_id.$": "$.payment_id",
                        "callback_url.$": "$.callback_url",
                    },
                },
                "TimeoutSeconds": timeout_seconds,
                "Catch": [
                    {"ErrorEquals": ["States.Timeout"], "Next": "Abandoned"},
                    {"ErrorEquals": ["BankRejected"], "ResultPath": "$.error", "Next": "Rejected"},
                ],
                "End": True,
            },
            "Abandoned": {"Type": "Pass", "Result": {"outcome": "abandoned"}, "End": True},
            "Rejected": {
                "Type": "Pass",
                "Parameters": {"outcome": "rejected", "cause.$": "$.error.Cause"},
                "End": True,
            },
        },
    }


def _finished(aws: AwsClients, execution_arn: str, timeout: float = 20) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        execution: dict[str, Any] = aws.stepfunctions.describe_execution(executionArn=execution_arn)
        return None if execution["status"] == "RUNNING" else execution

    return wait_until(done, timeout=timeout, interval=0.1, description=f"{execution_arn} to end")


def _run(aws: AwsClients, machine: str, payload: dict[str, Any]) -> dict[str, Any]:
    arn = aws.stepfunctions.start_execution(stateMachineArn=machine, input=json.dumps(payload))[
        "executionArn"
    ]
    return _finished(aws, arn)


@pytest.fixture
def saga(
    lambda_create_function: Callable[..., Function],
    sfn_create_state_machine: Callable[[dict[str, Any]], str],
) -> str:
    return sfn_create_state_machine(saga_definition(lambda_create_function("saga_step")))


def test_saga_runs_its_lambda_tasks_in_order(aws: AwsClients, saga: str) -> None:
    execution = _run(aws, saga, {"payment_id": "pay-1", "fail_at": None, "trail": []})
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"]) == {
        "outcome": "approved",
        "trail": ["ReserveFunds", "ProcessPayment", "CaptureFunds"],
    }


def test_saga_catches_a_declined_payment_and_compensates(aws: AwsClients, saga: str) -> None:
    execution = _run(aws, saga, {"payment_id": "pay-2", "fail_at": "ProcessPayment", "trail": []})
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    output = json.loads(execution["output"])
    assert output["outcome"] == "rejected"
    assert output["trail"] == ["ReserveFunds", "ReleaseFunds"]
    assert output["error"] == "PaymentDeclinedError"


@pytest.fixture
def bank_confirmation(
    lambda_create_function: Callable[..., Function],
    sfn_create_state_machine: Callable[[dict[str, Any]], str],
) -> Callable[[int], str]:
    post_token = lambda_create_function("post_token")
    return lambda timeout: sfn_create_state_machine(
        bank_confirmation_definition(post_token, timeout)
    )


def _await_token(
    aws: AwsClients, machine: str, http_sink: HttpSink, payment_id: str
) -> tuple[str, str]:
    arn = aws.stepfunctions.start_execution(
        stateMachineArn=machine,
        name=payment_id,
        input=json.dumps({"payment_id": payment_id, "callback_url": f"{http_sink.url}/bank"}),
    )["executionArn"]
    request = http_sink.next_request(timeout=15)
    assert request.path == "/bank"
    body = request.json()
    assert body["payment_id"] == payment_id
    return arn, body["token"]


def test_wait_for_task_token_resumes_on_send_task_success(
    aws: AwsClients, bank_confirmation: Callable[[int], str], http_sink: HttpSink
) -> None:
    arn, token = _await_token(aws, bank_confirmation(30), http_sink, "pay-3")
    assert aws.stepfunctions.describe_execution(executionArn=arn)["status"] == "RUNNING"

    aws.stepfunctions.send_task_success(taskToken=token, output=json.dumps({"bank": "approved"}))

    execution = _finished(aws, arn)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"]) == {"bank": "approved"}


def test_wait_for_task_token_takes_the_catch_on_send_task_failure(
    aws: AwsClients, bank_confirmation: Callable[[int], str], http_sink: HttpSink
) -> None:
    arn, token = _await_token(aws, bank_confirmation(30), http_sink, "pay-4")

    aws.stepfunctions.send_task_failure(taskToken=token, error="BankRejected", cause="no funds")

    execution = _finished(aws, arn)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"]) == {"outcome": "rejected", "cause": "no funds"}
    # A token is good for one answer only.
    with pytest.raises(ClientError) as error:
        aws.stepfunctions.send_task_success(taskToken=token, output="{}")
    assert error.value.response["Error"]["Code"] in ("TaskTimedOut", "InvalidToken")


def test_wait_for_task_token_times_out_into_the_catch(
    aws: AwsClients, bank_confirmation: Callable[[int], str], http_sink: HttpSink
) -> None:
    arn, _ = _await_token(aws, bank_confirmation(1), http_sink, "pay-5")

    execution = _finished(aws, arn, timeout=15)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"]) == {"outcome": "abandoned"}


def test_starting_an_execution_twice_by_name_is_idempotent(
    aws: AwsClients, sfn_create_state_machine: Callable[[dict[str, Any]], str]
) -> None:
    # payment-saga executions are named after the payment: a retried start must not fork it.
    machine = sfn_create_state_machine(
        {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 60, "End": True}}}
    )
    payload = json.dumps({"payment_id": "pay-6"})
    first = aws.stepfunctions.start_execution(stateMachineArn=machine, name="pay-6", input=payload)
    again = aws.stepfunctions.start_execution(stateMachineArn=machine, name="pay-6", input=payload)
    assert again["executionArn"] == first["executionArn"]

    with pytest.raises(ClientError) as error:
        aws.stepfunctions.start_execution(
            stateMachineArn=machine, name="pay-6", input=json.dumps({"payment_id": "other"})
        )
    assert error.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
    executions = aws.stepfunctions.list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == 1
