"""Fixtures for the conformance suite: one client factory, and factories that clean up.

Every fixture that creates an AWS resource is a factory: call it as often as a test
needs, each call makes a uniquely named resource, and the fixture deletes all of them
afterwards, even when the test fails. Clients come from `paylab.core.aws.client`, so
the same suite runs against LocalStack or AWS by configuration alone.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from paylab.core.settings import get_settings
from paylab.infra.artifacts import publish, upload_template

from .http_sink import HttpSink
from .resources import (
    AwsClients,
    Function,
    Queue,
    create_role,
    delete_role,
    delete_stack,
    ignore_missing,
    unique_name,
    wait_for_stack,
    zip_module,
)
from .waiting import wait_until

HERE = Path(__file__).parent
# Services the suite touches; LocalStack must report each as available or running.
SERVICES = (
    "cloudformation",
    "dynamodb",
    "events",
    "iam",
    "lambda",
    "secretsmanager",
    "sns",
    "sqs",
    "stepfunctions",
)
DEFAULT_TIMEOUT = 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not item.path.is_relative_to(HERE):
            continue
        item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT))


@pytest.fixture(scope="session", autouse=True)
def localstack() -> str | None:
    """Fail (never skip) every test here when LocalStack does not answer; None on AWS."""
    endpoint = get_settings().endpoint_url()
    if endpoint is None:
        return None
    url = f"{endpoint}/_localstack/health"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            health = json.load(response)
    except (OSError, ValueError) as exc:
        pytest.fail(
            f"the local stack is not running: run ./paylab up (no answer from {url}: {exc})",
            pytrace=False,
        )
    services = health.get("services", {})
    broken = {
        s: services.get(s) for s in SERVICES if services.get(s) not in ("available", "running")
    }
    if broken:
        pytest.fail(
            f"LocalStack at {endpoint} lacks services the suite needs: {broken}", pytrace=False
        )
    return endpoint


@pytest.fixture(scope="session")
def aws() -> AwsClients:
    return AwsClients()


# ------------------------------------------------------------------------------- SQS
@pytest.fixture
def sqs_create_queue(aws: AwsClients) -> Iterator[Callable[..., Queue]]:
    """create(fifo=False, **attributes) -> Queue."""
    created: list[str] = []

    def create(*, fifo: bool = False, **attributes: Any) -> Queue:
        name = unique_name("q") + (".fifo" if fifo else "")
        attrs = {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in attributes.items()
        }
        if fifo:
            attrs["FifoQueue"] = "true"
        url = aws.sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        created.append(url)
        arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return Queue(name, url, arn["Attributes"]["QueueArn"])

    yield create
    for url in created:
        ignore_missing(aws.sqs.delete_queue, QueueUrl=url)


@pytest.fixture
def sqs_create_queue_with_dlq(
    sqs_create_queue: Callable[..., Queue],
) -> Callable[..., tuple[Queue, Queue]]:
    """create(fifo=True, max_receive_count=4, **attributes) -> (queue, dlq), like the template."""

    def create(
        *, fifo: bool = True, max_receive_count: int = 4, **attributes: Any
    ) -> tuple[Queue, Queue]:
        extra = {"ContentBasedDeduplication": False} if fifo else {}
        dlq = sqs_create_queue(fifo=fifo, **extra)
        policy = {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": max_receive_count}
        queue = sqs_create_queue(fifo=fifo, RedrivePolicy=json.dumps(policy), **extra, **attributes)
        return queue, dlq

    return create


# ------------------------------------------------------------------------------- SNS
@pytest.fixture
def sns_create_topic(aws: AwsClients) -> Iterator[Callable[[], str]]:
    """create() -> topic ARN; its subscriptions go with it."""
    created: list[str] = []

    def create() -> str:
        arn = str(aws.sns.create_topic(Name=unique_name("topic"))["TopicArn"])
        created.append(arn)
        return arn

    yield create
    for arn in created:
        for sub in aws.sns.list_subscriptions_by_topic(TopicArn=arn).get("Subscriptions", []):
            if sub["SubscriptionArn"].startswith("arn:"):
                ignore_missing(aws.sns.unsubscribe, SubscriptionArn=sub["SubscriptionArn"])
        ignore_missing(aws.sns.delete_topic, TopicArn=arn)


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    """A local HTTP endpoint on 127.0.0.1 and an ephemeral port that records every POST."""
    sink = HttpSink().start()
    yield sink
    sink.stop()


# ------------------------------------------------------------------------------- EventBridge
@pytest.fixture
def events_create_bus(aws: AwsClients) -> Iterator[Callable[[], str]]:
    """create() -> bus name; its rules and their targets are deleted with it."""
    created: list[str] = []

    def create() -> str:
        name = unique_name("bus")
        aws.events.create_event_bus(Name=name)
        created.append(name)
        return name

    yield create
    for bus in created:
        for rule in aws.events.list_rules(EventBusName=bus).get("Rules", []):
            targets = aws.events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)
            ids = [t["Id"] for t in targets.get("Targets", [])]
            if ids:
                aws.events.remove_targets(Rule=rule["Name"], EventBusName=bus, Ids=ids)
            aws.events.delete_rule(Name=rule["Name"], EventBusName=bus)
        ignore_missing(aws.events.delete_event_bus, Name=bus)


# ------------------------------------------------------------------------------- DynamoDB
@pytest.fixture
def dynamodb_create_table(aws: AwsClients) -> Iterator[Callable[..., str]]:
    """create(**create_table_kwargs) -> table name, once ACTIVE."""
    created: list[str] = []

    def create(**kwargs: Any) -> str:
        name = unique_name("table")
        aws.dynamodb.create_table(TableName=name, **kwargs)
        created.append(name)
        aws.dynamodb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )
        return name

    yield create
    for name in created:
        ignore_missing(aws.dynamodb.delete_table, TableName=name)


# ------------------------------------------------------------------------------- Secrets Manager
@pytest.fixture
def secretsmanager_create_secret(aws: AwsClients) -> Iterator[Callable[..., dict[str, Any]]]:
    """create(**create_secret_kwargs) -> the CreateSecret response."""
    created: list[str] = []

    def create(**kwargs: Any) -> dict[str, Any]:
        response: dict[str, Any] = aws.secretsmanager.create_secret(
            Name=unique_name("secret"), **kwargs
        )
        created.append(response["ARN"])
        return response

    yield create
    for arn in created:
        ignore_missing(
            aws.secretsmanager.delete_secret, SecretId=arn, ForceDeleteWithoutRecovery=True
        )


# ------------------------------------------------------------------------------- IAM
@pytest.fixture(scope="session")
def lambda_role(aws: AwsClients, localstack: str | None) -> Iterator[str]:
    name, arn = create_role(aws, "lambda.amazonaws.com", ["logs:*"])
    yield arn
    delete_role(aws, name)


@pytest.fixture(scope="session")
def states_role(aws: AwsClients, localstack: str | None) -> Iterator[str]:
    name, arn = create_role(aws, "states.amazonaws.com", ["lambda:InvokeFunction"])
    yield arn
    delete_role(aws, name)


# ------------------------------------------------------------------------------- Lambda
@pytest.fixture
def lambda_create_function(aws: AwsClients, lambda_role: str) -> Iterator[Callable[..., Function]]:
    """create(module, timeout=5, environment=None) -> Function running lambdas/<module>.py."""
    created: list[str] = []

    def create(
        module: str, *, timeout: int = 5, environment: dict[str, str] | None = None
    ) -> Function:
        name = unique_name("fn")
        response = aws.lambda_.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=lambda_role,
            Handler=f"{module}.handler",
            Code={"ZipFile": zip_module(module)},
            Timeout=timeout,
            MemorySize=128,
            Environment={"Variables": environment or {}},
        )
        created.append(name)
        wait_until(
            lambda: aws.lambda_.get_function_configuration(FunctionName=name)["State"] != "Pending",
            timeout=20,
            description=f"function {name} to leave Pending",
        )
        state = aws.lambda_.get_function_configuration(FunctionName=name)
        assert state["State"] == "Active", f"{name}: {state['State']} {state.get('StateReason')}"
        return Function(name, str(response["FunctionArn"]))

    yield create
    for name in created:
        ignore_missing(aws.lambda_.delete_function, FunctionName=name)


# ------------------------------------------------------------------------------- Step Functions
@pytest.fixture
def sfn_create_state_machine(
    aws: AwsClients, states_role: str
) -> Iterator[Callable[[dict[str, Any]], str]]:
    """create(definition) -> state machine ARN (STANDARD); running executions are stopped."""
    created: list[str] = []

    def create(definition: dict[str, Any]) -> str:
        arn = aws.stepfunctions.create_state_machine(
            name=unique_name("sm"), definition=json.dumps(definition), roleArn=states_role
        )["stateMachineArn"]
        created.append(arn)
        return str(arn)

    yield create
    for arn in created:
        running = aws.stepfunctions.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
        for execution in running.get("executions", []):
            ignore_missing(aws.stepfunctions.stop_execution, executionArn=execution["executionArn"])
        ignore_missing(aws.stepfunctions.delete_state_machine, stateMachineArn=arn)


# ------------------------------------------------------------------------------- CloudFormation
@pytest.fixture
def cfn_create_stack(aws: AwsClients) -> Iterator[Callable[..., dict[str, Any]]]:
    """create(template_body, parameters) -> the stack once no longer in progress."""
    created: list[str] = []

    def create(template_body: str, parameters: dict[str, str] | None = None) -> dict[str, Any]:
        # By URL, as `up` deploys: an inline TemplateBody is limited to 51,200 bytes.
        publish(get_settings())  # the artifacts bucket exists
        stack_id = aws.cloudformation.create_stack(
            StackName=unique_name("stack"),
            TemplateURL=upload_template(get_settings(), template_body.encode()),
            Parameters=[
                {"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()
            ],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )["StackId"]
        created.append(stack_id)
        return wait_for_stack(aws, stack_id, timeout=45)

    yield create
    for stack_id in created:
        delete_stack(aws, stack_id)


@pytest.fixture
def scratch_database() -> Iterator[tuple[str, str]]:
    """(name, admin URL) of a new empty database on the stack's Postgres, dropped afterwards:
    for what must not touch the stack's own database."""
    import uuid

    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from paylab.devstack.stack import DevStack

    admin = DevStack(get_settings()).admin_database_url()
    name = f"paylab_scratch_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name, make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
