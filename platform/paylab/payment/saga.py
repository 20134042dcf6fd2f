"""Step Functions, as payment uses it: start the payment SAGA, answer its task tokens."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from paylab.core.aws import client as aws_client

log = structlog.get_logger(__name__)

#: The SAGA moved on (timed out, finished, stopped): a late answer is not an error.
_GONE = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist", "ExecutionDoesNotExist")


class SagaUnavailable(Exception):
    """The state machine is not deployed or Step Functions does not answer."""


class Saga:
    """Starts executions named after the payment id; a second start is a no-op."""

    def __init__(self, state_machine_arn: Callable[[], str], client: Any = None) -> None:
        self._arn = state_machine_arn
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("stepfunctions")
        return self._client

    def state_machine_arn(self) -> str:
        """The SAGA's ARN, or SagaUnavailable naming what is missing."""
        try:
            return self._arn()
        except Exception as exc:
            raise SagaUnavailable(f"the payment SAGA is not deployed: {exc}") from exc

    def start(self, payment_id: str, saga_input: dict[str, Any]) -> None:
        """Start the execution `payment_id`; an existing one counts as started."""
        arn = self.state_machine_arn()
        try:
            self.client.start_execution(
                stateMachineArn=arn, name=payment_id, input=json.dumps(saga_input, sort_keys=True)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return
            raise SagaUnavailable(f"cannot start the SAGA for {payment_id}: {exc}") from exc
        except BotoCoreError as exc:
            raise SagaUnavailable(f"cannot reach Step Functions: {exc}") from exc

    def send_task_success(self, task_token: str, output: dict[str, Any]) -> bool:
        """Resume a waiting task; False when the SAGA no longer waits for this token."""
        try:
            self.client.send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _GONE:
                log.info("task token no longer awaited", code=code)
                return False
            raise
        return True

    def send_task_failure(self, task_token: str, error: str, cause: str) -> bool:
        """Fail a waiting task with `error` (the SAGA's Catch routes it); False when gone."""
        try:
            self.client.send_task_failure(taskToken=task_token, error=error, cause=cause[:32768])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _GONE:
                log.info("task token no longer awaited", code=code)
                return False
            raise
        return True
