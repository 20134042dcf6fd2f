"""Time travel: `jobs run` delivers exactly the event EventBridge's own schedule delivers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from paylab.cli import app
from paylab.core.job_runs import scheduled_event, target_event
from paylab.core.jobs import find_job
from paylab.core.settings import get_settings

from .resources import AwsClients, Queue, ignore_missing
from .waiting import wait_until


def _receive(aws: AwsClients, queue: Queue) -> list[dict[str, Any]]:
    # A short long-poll: wait_until bounds the whole wait, this only avoids a busy loop.
    response = aws.sqs.receive_message(
        QueueUrl=queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=2
    )
    messages = response.get("Messages", [])
    for message in messages:
        aws.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def every_minute(aws: AwsClients, sqs_create_queue: Any) -> Iterator[tuple[str, Queue]]:
    """A `rate(1 minute)` rule of the stack on the default bus, targeting a fresh queue."""
    queue = sqs_create_queue()
    job = f"it-jobs-{uuid.uuid4().hex[:8]}"
    rule = f"{get_settings().stack_name}-{job}"
    arn = aws.events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)", State="ENABLED")[
        "RuleArn"
    ]
    # What AWS needs for EventBridge to write to the queue (LocalStack does not check it).
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue.arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": arn}},
            }
        ],
    }
    aws.sqs.set_queue_attributes(QueueUrl=queue.url, Attributes={"Policy": json.dumps(policy)})
    aws.events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue.arn}])
    yield job, queue
    ignore_missing(aws.events.remove_targets, Rule=rule, Ids=["queue"])
    ignore_missing(aws.events.delete_rule, Name=rule)


def _without_id(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key != "id"}


@pytest.mark.timeout(150)
def test_jobs_run_delivers_what_the_schedule_delivers(
    aws: AwsClients, every_minute: tuple[str, Queue]
) -> None:
    job_name, queue = every_minute
    (delivered, *_) = wait_until(
        lambda: _receive(aws, queue),
        timeout=75,
        interval=0,
        description=f"EventBridge's scheduled delivery of {job_name} to its queue",
    )
    assert delivered["id"]
    at = datetime.fromisoformat(delivered["time"])

    # The jobs code builds the same event for that rule and instant...
    job = find_job(job_name)
    (target,) = job.targets
    built = target_event(target, scheduled_event(job, at))
    assert _without_id(built) == _without_id(delivered)

    # ...and `jobs run` hands it to the same target. A disabled job still runs on demand;
    # disabling keeps AWS's next scheduled run out of the queue (LocalStack 2026.3 goes on
    # firing a disabled rule, so a later scheduled message, with a later time, is skipped).
    aws.events.disable_rule(Name=job.rule)
    result = CliRunner().invoke(app, ["jobs", "run", job_name, "--at", delivered["time"]])
    assert result.exit_code == 0, result.output
    (sent,) = wait_until(
        lambda: [m for m in _receive(aws, queue) if m["time"] == delivered["time"]],
        timeout=10,
        interval=0,
        description="the run's message",
    )
    assert sent["id"] != delivered["id"]
    assert _without_id(sent) == _without_id(delivered)


@pytest.mark.timeout(60)
def test_run_the_dlq_reprocessor_with_its_input() -> None:
    result = CliRunner().invoke(app, ["jobs", "run", "dlq-reprocessor", "--json"])
    assert result.exit_code == 0, result.output
    (delivery,) = json.loads(result.output)["deliveries"]
    assert delivery["event"] == {"action": "redrive", "min_age_seconds": 240}
    assert delivery["result"]["function_error"] is None
    answer = delivery["result"]["payload"]
    assert answer["action"] == "redrive"
    assert {q["queue"] for q in answer["queues"]} >= {"notification-ops", "audit-ops"}


def test_an_unknown_job_names_the_known_ones() -> None:
    result = CliRunner().invoke(app, ["jobs", "run", "no-such-job"])
    assert result.exit_code == 2
    assert "unknown job 'no-such-job'" in result.output
    assert "dlq-reprocessor" in result.output
