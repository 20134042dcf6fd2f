"""Lambda invoke as the saga and the scheduled jobs rely on it: results, errors, timeouts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from .resources import AwsClients, Function


def _invoke(
    aws: AwsClients, function: Function, event: dict[str, Any]
) -> tuple[dict[str, Any], Any]:
    response = aws.lambda_.invoke(FunctionName=function.name, Payload=json.dumps(event).encode())
    return response, json.loads(response["Payload"].read())


def test_invoke_returns_the_result_with_the_function_environment(
    aws: AwsClients, lambda_create_function: Callable[..., Function]
) -> None:
    echo = lambda_create_function("echo", environment={"PAYLAB_TEST_VALUE": "from-env"})
    response, payload = _invoke(aws, echo, {"payment_id": "pay-1"})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert payload == {
        "event": {"payment_id": "pay-1"},
        "function_name": echo.name,
        "paylab_test_value": "from-env",
    }


def test_an_exception_comes_back_as_a_function_error_not_a_failed_call(
    aws: AwsClients, lambda_create_function: Callable[..., Function]
) -> None:
    fail = lambda_create_function("fail")
    response, payload = _invoke(aws, fail, {"reason": "insufficient funds"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "PaymentDeclinedError"
    assert payload["errorMessage"] == "declined: insufficient funds"


def test_a_function_over_its_timeout_is_stopped_and_the_next_invoke_works(
    aws: AwsClients, lambda_create_function: Callable[..., Function]
) -> None:
    sleeper = lambda_create_function("sleep", timeout=1)
    started = time.monotonic()
    response, payload = _invoke(aws, sleeper, {"seconds": 30})
    elapsed = time.monotonic() - started
    assert response["FunctionError"] == "Unhandled"
    assert "timed out" in payload["errorMessage"].lower()
    assert elapsed < 10, f"a 1 s timeout took {elapsed:.1f} s to report"

    # The executor replaced the killed process: the function still serves.
    response, payload = _invoke(aws, sleeper, {"seconds": 0})
    assert "FunctionError" not in response
    assert payload == {"slept": 0}
