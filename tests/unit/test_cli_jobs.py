"""`paylab jobs list|run` against a fake EventBridge, Lambda, SQS and SNS (no I/O)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from rich.console import Console
from typer.testing import CliRunner

from paylab import cli_jobs
from paylab.cli import app
from paylab.core.settings import get_settings

ACCOUNT, REGION = "123456789012", "sa-east-1"


def rule_arn(name: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


class FakeAws:
    """Records every delivery; rules and targets are plain dicts as boto3 returns them."""

    def __init__(self, rules: list[dict[str, Any]], targets: dict[str, list[dict[str, Any]]]):
        self.rules, self.targets = rules, targets
        self.invoked: list[tuple[str, Any]] = []
        self.sent: list[tuple[str, Any, dict[str, Any]]] = []
        self.published: list[tuple[str, Any]] = []
        self.function_error: str | None = None
        self.unreachable = False
        self.stack_exists = True
        self.prefixes: list[str] = []

    def __call__(self, service: str) -> Any:
        return self

    # events
    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_rules"
        return self

    def paginate(self, NamePrefix: str) -> Iterator[dict[str, Any]]:
        if self.unreachable:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        self.prefixes.append(NamePrefix)
        # Two pages, to prove every page is read.
        matching = [r for r in self.rules if r["Name"].startswith(NamePrefix)]
        yield {"Rules": matching[:1]}
        yield {"Rules": matching[1:]}

    def list_targets_by_rule(self, Rule: str) -> dict[str, Any]:
        return {"Targets": self.targets.get(Rule, [])}

    # cloudformation
    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        if not self.stack_exists:
            error = {"Error": {"Code": "ValidationError", "Message": "Stack does not exist"}}
            raise ClientError(error, "DescribeStacks")  # type: ignore[arg-type]
        return {"Stacks": [{"StackStatus": "CREATE_COMPLETE", "Outputs": []}]}

    # lambda
    def invoke(self, FunctionName: str, InvocationType: str, Payload: str) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        event = json.loads(Payload)
        self.invoked.append((FunctionName, event))
        answer = {"errorMessage": "boom"} if self.function_error else {"received": event}
        response: dict[str, Any] = {
            "StatusCode": 200,
            "Payload": io.BytesIO(json.dumps(answer).encode()),
        }
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response

    # sqs
    def get_queue_url(self, QueueName: str, QueueOwnerAWSAccountId: str) -> dict[str, str]:
        return {"QueueUrl": f"http://sqs/{QueueOwnerAWSAccountId}/{QueueName}"}

    def send_message(self, QueueUrl: str, MessageBody: str, **extra: Any) -> dict[str, str]:
        self.sent.append((QueueUrl, json.loads(MessageBody), extra))
        return {"MessageId": "m-1"}

    # sns
    def publish(self, TopicArn: str, Message: str) -> dict[str, str]:
        self.published.append((TopicArn, json.loads(Message)))
        return {"MessageId": "s-1"}


def scheduled_rule(job: str, schedule: str, state: str = "ENABLED") -> dict[str, Any]:
    name = f"paylab-{job}"
    return {"Name": name, "Arn": rule_arn(name), "ScheduleExpression": schedule, "State": state}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    monkeypatch.setenv("PAYLAB_STACK_NAME", "paylab")
    get_settings.cache_clear()
    fake = FakeAws(
        rules=[
            scheduled_rule("dispersion", "cron(0 5 * * ? *)"),
            scheduled_rule("dlq-reprocessor", "rate(5 minutes)"),
            # An event-pattern rule of the stack is not a job.
            {"Name": "paylab-webhook-failed", "Arn": rule_arn("paylab-webhook-failed")},
        ],
        targets={
            "paylab-dispersion": [{"Id": "dispersion", "Arn": function_arn("paylab-dispersion")}],
            "paylab-dlq-reprocessor": [
                {
                    "Id": "dlq-reprocessor",
                    "Arn": function_arn("paylab-dlq-reprocessor"),
                    "Input": '{"action": "redrive"}',
                }
            ],
        },
    )
    monkeypatch.setattr(cli_jobs, "clients", fake)
    # Wide enough that rich does not fold the cells the tests look for.
    monkeypatch.setattr(cli_jobs, "console", Console(width=220))
    yield fake
    get_settings.cache_clear()  # the next test reads the environment monkeypatch restored


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["jobs", *args])


def test_list_shows_each_job_with_its_next_run(aws: FakeAws) -> None:
    result = invoke("list")
    assert result.exit_code == 0, result.output
    assert aws.prefixes == ["paylab-"]
    assert "dispersion" in result.output
    assert "cron(0 5 * * ? *)" in result.output
    # 00:00 in Bogota is 05:00 UTC, whatever the day.
    assert re.search(
        r"dispersion .* \d{4}-\d\d-\d\d 05:00 .* \d{4}-\d\d-\d\d 00:00 ", result.output
    )
    assert re.search(r"dlq-reprocessor .* ≤ \d{4}-", result.output)
    assert "lambda:paylab-dlq-reprocessor (Input)" in result.output
    assert "webhook-failed" not in result.output


def test_list_json(aws: FakeAws) -> None:
    before = datetime.now(UTC)
    result = invoke("list", "--json")
    assert result.exit_code == 0, result.output
    jobs = {job["job"]: job for job in json.loads(result.output)["jobs"]}
    assert sorted(jobs) == ["dispersion", "dlq-reprocessor"]
    dispersion = jobs["dispersion"]
    utc = datetime.fromisoformat(dispersion["next_run_utc"])
    assert before < utc <= before + timedelta(days=1)
    assert (utc.hour, utc.minute) == (5, 0)
    assert datetime.fromisoformat(dispersion["next_run_bogota"]) == utc
    assert dispersion["next_run_bogota"].endswith("T00:00-05:00")
    assert dispersion["next_run_exact"] is True
    rate = jobs["dlq-reprocessor"]
    assert rate["next_run_exact"] is False
    assert rate["targets"][0]["input"] == '{"action": "redrive"}'


def test_a_disabled_job_has_no_next_run(aws: FakeAws) -> None:
    aws.rules = [scheduled_rule("data-cleanup", "cron(0 8 * * ? *)", state="DISABLED")]
    result = invoke("list", "--json")
    (job,) = json.loads(result.output)["jobs"]
    assert (job["state"], job["next_run_utc"], job["next_run_bogota"]) == ("DISABLED", None, None)


def test_run_at_midnight_bogota_sends_the_scheduled_event(aws: FakeAws) -> None:
    result = invoke("run", "dispersion", "--at", "2026-12-05T00:00-05:00")
    assert result.exit_code == 0, result.output
    ((function, event),) = aws.invoked
    assert function == function_arn("paylab-dispersion")
    assert event.pop("id")
    assert event == {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-12-05T05:00:00Z",
        "region": REGION,
        "resources": [rule_arn("paylab-dispersion")],
        "detail": {},
    }
    assert "the function answered" in result.output


def test_run_without_at_is_now_to_the_second(aws: FakeAws) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    assert invoke("run", "dispersion").exit_code == 0
    sent = datetime.fromisoformat(aws.invoked[0][1]["time"])
    assert before <= sent <= datetime.now(UTC)


def test_run_sends_a_targets_constant_input(aws: FakeAws) -> None:
    result = invoke("run", "dlq-reprocessor", "--json")
    assert result.exit_code == 0, result.output
    assert aws.invoked == [(function_arn("paylab-dlq-reprocessor"), {"action": "redrive"})]
    (delivery,) = json.loads(result.output)["deliveries"]
    assert delivery["result"]["payload"] == {"received": {"action": "redrive"}}


def test_a_function_error_is_shown_and_fails_the_command(aws: FakeAws) -> None:
    aws.function_error = "Unhandled"
    result = invoke("run", "dispersion", "--at", "2026-12-05T05:00:00Z")
    assert result.exit_code == 1
    assert "the function failed (Unhandled)" in result.output
    assert "boom" in result.output


def test_queue_and_topic_targets(aws: FakeAws) -> None:
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs.fifo"
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:jobs"
    aws.rules = [scheduled_rule("weekly-report", "cron(0 6 ? * MON *)")]
    aws.targets = {
        "paylab-weekly-report": [
            {"Id": "q", "Arn": queue, "SqsParameters": {"MessageGroupId": "reports"}},
            {"Id": "t", "Arn": topic, "InputPath": "$.resources[0]"},
        ]
    }
    result = invoke("run", "weekly-report", "--at", "2026-12-07T01:00-05:00")
    assert result.exit_code == 0, result.output
    ((url, body, extra),) = aws.sent
    assert url == f"http://sqs/{ACCOUNT}/jobs.fifo"
    assert body["time"] == "2026-12-07T06:00:00Z"
    assert extra == {"MessageGroupId": "reports"}
    assert aws.published == [(topic, rule_arn("paylab-weekly-report"))]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"InputTransformer": {"InputTemplate": "<t>"}}, "InputTransformer"),
        ({"InputPath": "$.detail.missing"}, "selects nothing"),
        ({"Arn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:x"}, "states target"),
    ],
)
def test_targets_it_cannot_reproduce_are_refused(
    aws: FakeAws, target: dict[str, Any], message: str
) -> None:
    aws.targets["paylab-dispersion"] = [
        {"Id": "dispersion", "Arn": function_arn("paylab-dispersion"), **target}
    ]
    result = invoke("run", "dispersion")
    assert result.exit_code == 2
    assert message in result.output
    assert aws.invoked == []


def test_unknown_job_lists_the_known_ones(aws: FakeAws) -> None:
    result = invoke("run", "midnight")
    assert result.exit_code == 2
    assert "unknown job 'midnight'; known jobs: dispersion, dlq-reprocessor" in result.output
    assert aws.invoked == []


@pytest.mark.parametrize(
    ("at", "message"),
    [("2026-12-05T00:00", "needs an offset or Z"), ("midnight", "not an ISO 8601 instant")],
)
def test_bad_at_is_refused_before_anything_runs(aws: FakeAws, at: str, message: str) -> None:
    result = invoke("run", "dispersion", "--at", at)
    assert result.exit_code == 2
    assert message in result.output
    assert aws.invoked == [] and aws.prefixes == []


def test_unreachable_eventbridge(aws: FakeAws) -> None:
    aws.unreachable = True
    for args in (("list",), ("run", "dispersion")):
        result = invoke(*args)
        assert result.exit_code == 1
        assert "is the stack up (./paylab up)?" in result.output
        assert "Traceback" not in result.output


def test_stack_not_deployed(aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stack name of its own: stack outputs are cached per name within a process.
    monkeypatch.setenv("PAYLAB_STACK_NAME", "paylab-h14-missing")
    get_settings.cache_clear()
    aws.stack_exists = False
    result = invoke("run", "dispersion")
    assert result.exit_code == 1
    assert "paylab-h14-missing" in result.output and "is it deployed" in result.output
    aws.stack_exists = True
    result = invoke("list")
    assert result.exit_code == 0
    assert "the stack has no scheduled jobs" in result.output


def test_a_schedule_it_cannot_read_is_named_and_the_rest_listed(aws: FakeAws) -> None:
    aws.rules.append(scheduled_rule("odd", "cron(0 5 * * * *)"))
    result = invoke("list", "--json")
    assert result.exit_code == 0, result.output
    assert "job odd:" in result.stderr and "exactly one of" in result.stderr
    jobs = {job["job"]: job for job in json.loads(result.stdout)["jobs"]}
    assert jobs["odd"]["next_run_utc"] is None
    assert jobs["dispersion"]["next_run_utc"] is not None
