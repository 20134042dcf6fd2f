"""Scheduled jobs: the stack's EventBridge rules and their targets.

A job is a scheduled rule on the default bus named `<stack>-<job>`. Running one by hand is
`paylab.core.job_runs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from paylab.core.aws import client, invoker
from paylab.core.schedules import Rate, parse
from paylab.core.settings import Settings, get_settings
from paylab.core.stack_outputs import StackOutputsUnavailable, stack_outputs

Clients = Callable[[str], Any]


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


def default_clients(settings: Settings) -> Clients:
    """AWS clients by service name, from `settings` (Lambda's for synchronous invokes)."""
    return lambda service: invoker(settings) if service == "lambda" else client(service, settings)


def list_jobs(clients: Clients | None = None, settings: Settings | None = None) -> list[Job]:
    """The stack's scheduled rules on the default bus, by job name."""
    settings = settings or get_settings()
    clients = clients or default_clients(settings)
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
