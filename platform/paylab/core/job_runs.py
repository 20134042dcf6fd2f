"""Running a job by hand, so that midnight can happen on demand (`./paylab jobs run`).

A run builds exactly what EventBridge sends the rule's targets when the schedule fires (the
"Scheduled Event" envelope, or the target's constant `Input`) and hands it to the same
targets.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from paylab.core.jobs import (
    Clients,
    Job,
    JobError,
    StackNotDeployed,
    Target,
    UnsupportedTarget,
    default_clients,
)
from paylab.core.settings import get_settings

_PATH_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")


def scheduled_event(job: Job, at: datetime, event_id: str | None = None) -> dict[str, Any]:
    """EventBridge's Scheduled Event for a run of `job` at `at` (second precision, UTC)."""
    if at.tzinfo is None:
        raise ValueError("the run's instant must carry a time zone")
    return eventbridge_scheduled_event(
        at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        rule_arn=job.arn,
        account=job.account,
        region=job.region,
        event_id=event_id,
    )


def eventbridge_scheduled_event(
    time: str, *, rule_arn: str, account: str, region: str, event_id: str | None = None
) -> dict[str, Any]:
    """The envelope EventBridge sends a scheduled rule's target (no `Input`), `time` as given."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": time,
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def target_event(target: Target, event: dict[str, Any]) -> Any:
    """What the target receives: its constant Input, the InputPath's part, or the event."""
    if target.input is not None:
        return json.loads(target.input)
    if target.input_transformer is not None:
        raise UnsupportedTarget(
            f"target {target.id!r} uses an InputTransformer, which `jobs run` does not "
            "reproduce; run it with `aws events put-events` or drop the transformer"
        )
    if target.input_path is not None:
        return _select(event, target.input_path, target.id)
    return event


def _select(event: dict[str, Any], path: str, target_id: str) -> Any:
    """The simple JSONPath forms EventBridge targets use: `$`, `$.a.b`, `$.a[0]`."""
    rest = path.strip()
    if not rest.startswith("$"):
        raise UnsupportedTarget(f"target {target_id!r}: InputPath {path!r} must start with $")
    value: Any = event
    rest = rest[1:]
    while rest:
        step = _PATH_STEP.match(rest)
        if step is None:
            raise UnsupportedTarget(f"target {target_id!r}: InputPath {path!r} is not supported")
        key, index = step.groups()
        try:
            value = value[key] if key is not None else value[int(index)]
        except (KeyError, IndexError, TypeError):
            raise UnsupportedTarget(
                f"target {target_id!r}: InputPath {path!r} selects nothing in the event"
            ) from None
        rest = rest[step.end() :]
    return value


@dataclass(frozen=True)
class Delivery:
    """One target's event and what delivering it answered."""

    target: Target
    event: Any
    result: dict[str, Any]

    @property
    def failed(self) -> bool:
        """Whether the target reported an error (a Lambda's FunctionError)."""
        return bool(self.result.get("function_error"))


def run_job(job: Job, at: datetime, clients: Clients | None = None) -> list[Delivery]:
    """Deliver the run of `job` at `at` to each of its targets, as EventBridge would."""
    clients = clients or default_clients(get_settings())
    if not job.targets:
        raise JobError(f"job {job.name!r} has no targets: its rule {job.rule} delivers nothing")
    for target in job.targets:
        if target.service == "?":
            raise JobError(
                f"target {target.id!r} of {job.rule} has no valid ARN ({target.arn!r}); "
                "redeploy the stack (./paylab up)"
            )
        if target.service not in _SENDERS:
            raise UnsupportedTarget(
                f"target {target.id!r} is a {target.service} target; `jobs run` delivers to "
                f"{', '.join(sorted(_SENDERS))} targets"
            )
    # One event id per run: EventBridge sends every target of a rule the same event.
    event = scheduled_event(job, at)
    events = [(target, target_event(target, event)) for target in job.targets]
    try:
        return [
            Delivery(target, body, _SENDERS[target.service](clients, target, body))
            for target, body in events
        ]
    except ClientError as exc:
        raise JobError(f"delivering {job.name!r} failed: {exc}") from None
    except BotoCoreError as exc:
        raise StackNotDeployed(
            f"cannot reach AWS ({exc}); is the stack up (./paylab up)?"
        ) from None


def _invoke(clients: Clients, target: Target, body: Any) -> dict[str, Any]:
    response = clients("lambda").invoke(
        FunctionName=target.arn, InvocationType="RequestResponse", Payload=json.dumps(body)
    )
    raw = response["Payload"].read()
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode(errors="replace")
    return {
        "status_code": response.get("StatusCode"),
        "function_error": response.get("FunctionError"),
        "payload": payload,
    }


def _send(clients: Clients, target: Target, body: Any) -> dict[str, Any]:
    sqs = clients("sqs")
    _, _, _, _, account, name = target.arn.split(":")
    url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    extra = {"MessageGroupId": target.message_group_id} if target.message_group_id else {}
    response = sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body), **extra)
    return {"message_id": response["MessageId"], "queue_url": url}


def _publish(clients: Clients, target: Target, body: Any) -> dict[str, Any]:
    response = clients("sns").publish(TopicArn=target.arn, Message=json.dumps(body))
    return {"message_id": response["MessageId"]}


_SENDERS: dict[str, Callable[[Clients, Target, Any], dict[str, Any]]] = {
    "lambda": _invoke,
    "sqs": _send,
    "sns": _publish,
}
