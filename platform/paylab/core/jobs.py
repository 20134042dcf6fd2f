"""Scheduled jobs: the stack's EventBridge rules, the event a run sends, and delivering it.

A job is a scheduled rule on the default bus named `<stack>-<job>`. Running one by hand
builds exactly what EventBridge sends the rule's targets when the schedule fires (the
"Scheduled Event" envelope, or the target's constant `Input`) and hands it to the same
targets, so that midnight can happen on demand (`./paylab jobs run`).
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

from paylab.core.aws import client
from paylab.core.schedules import Rate, parse
from paylab.core.settings import Settings, get_settings
from paylab.core.stack_outputs import StackOutputsUnavailable, stack_outputs

Clients = Callable[[str], Any]
_PATH_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")


class JobError(Exception):
    """A job cannot be listed or run; the message says why in one line."""


class StackNotDeployed(JobError):
    """EventBridge cannot be reached, or the stack does not exist."""


class UnknownJob(JobError):
    """No scheduled rule of the stack has that name."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name, self.known = name, known
        listing = f"known jobs: {', '.join(known)}" if known else "the stack has no scheduled jobs"
        super().__init__(f"unknown job {name!r}; {listing}")


class UnsupportedTarget(JobError):
    """The rule's target is of a kind (or has an input form) this command cannot reproduce."""


@dataclass(frozen=True)
class Target:
    """One target of a rule, as ListTargetsByRule describes it."""

    id: str
    arn: str
    input: str | None = None
    input_path: str | None = None
    input_transformer: dict[str, Any] | None = None
    message_group_id: str | None = None

    @property
    def service(self) -> str:
        """`lambda`, `sqs`, `sns`, ... (the ARN's service part), or `?` for a broken ARN."""
        parts = self.arn.split(":")
        return parts[2] if len(parts) >= 6 and parts[0] == "arn" else "?"

    @property
    def resource(self) -> str:
        """The function, queue or topic name (the raw ARN when it is not one)."""
        if self.service == "?":
            return self.arn
        parts = self.arn.split(":")
        # arn:aws:lambda:region:account:function:NAME[:qualifier]; sqs/sns end with the name.
        return parts[6] if self.service == "lambda" and len(parts) > 6 else parts[5]


@dataclass(frozen=True)
class Job:
    """A scheduled rule of the stack."""

    name: str
    rule: str
    arn: str
    schedule: str
    state: str
    description: str
    targets: tuple[Target, ...]

    @property
    def region(self) -> str:
        """The rule's region, from its ARN (what EventBridge puts in `region`)."""
        return self.arn.split(":")[3]

    @property
    def account(self) -> str:
        """The rule's account, from its ARN (what EventBridge puts in `account`)."""
        return self.arn.split(":")[4]

    def next_run(self, after: datetime) -> tuple[datetime, bool] | None:
        """The next run after `after` and whether it is exact (a rate's is an upper bound)."""
        if self.state != "ENABLED":
            return None
        schedule = parse(self.schedule)
        runs = schedule.next_runs(after)
        return (runs[0], not isinstance(schedule, Rate)) if runs else None


def _default_clients(settings: Settings) -> Clients:
    return lambda service: client(service, settings)


def list_jobs(clients: Clients | None = None, settings: Settings | None = None) -> list[Job]:
    """The stack's scheduled rules on the default bus, by job name."""
    settings = settings or get_settings()
    clients = clients or _default_clients(settings)
    stack_prefix = f"{settings.stack_name}-"
    events = clients("events")
    try:
        rules = [
            rule
            for page in events.get_paginator("list_rules").paginate(NamePrefix=stack_prefix)
            for rule in page.get("Rules", [])
            if rule.get("ScheduleExpression")
        ]
        jobs = [_job(events, rule, stack_prefix) for rule in rules]
    except BotoCoreError as exc:
        raise StackNotDeployed(
            f"cannot reach EventBridge ({exc}); is the stack up (./paylab up)?"
        ) from None
    except ClientError as exc:
        raise JobError(f"cannot list the scheduled rules: {exc}") from None
    if not jobs:
        # No rules may just mean no jobs; a missing stack deserves its own message.
        try:
            stack_outputs(settings, cfn=clients("cloudformation"))
        except StackOutputsUnavailable as exc:
            raise StackNotDeployed(str(exc)) from None
    return sorted(jobs, key=lambda job: job.name)


def _job(events: Any, rule: dict[str, Any], stack_prefix: str) -> Job:
    listed = events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", [])
    targets = tuple(
        Target(
            id=t["Id"],
            arn=t["Arn"],
            input=t.get("Input"),
            input_path=t.get("InputPath"),
            input_transformer=t.get("InputTransformer"),
            message_group_id=t.get("SqsParameters", {}).get("MessageGroupId"),
        )
        for t in listed
    )
    name = rule["Name"]
    return Job(
        name=name.removeprefix(stack_prefix),
        rule=name,
        arn=rule["Arn"],
        schedule=rule["ScheduleExpression"],
        state=rule.get("State", "ENABLED"),
        description=rule.get("Description", ""),
        targets=targets,
    )


def find_job(name: str, clients: Clients | None = None, settings: Settings | None = None) -> Job:
    """The job called `name` (without the stack prefix), or UnknownJob listing the known ones."""
    jobs = list_jobs(clients, settings)
    for job in jobs:
        if job.name == name:
            return job
    raise UnknownJob(name, [job.name for job in jobs])


def scheduled_event(job: Job, at: datetime, event_id: str | None = None) -> dict[str, Any]:
    """EventBridge's Scheduled Event for a run of `job` at `at` (second precision, UTC)."""
    if at.tzinfo is None:
        raise ValueError("the run's instant must carry a time zone")
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": job.account,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": job.region,
        "resources": [job.arn],
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
    clients = clients or _default_clients(get_settings())
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
