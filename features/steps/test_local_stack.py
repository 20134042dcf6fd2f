"""Steps for features/local_stack.feature: the stack that `./paylab up` leaves running."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from pytest_bdd import given, scenarios, then, when
from sqlalchemy.engine import make_url

from paylab.core.db import db_secret_output
from paylab.core.secrets import SecretReader
from paylab.core.settings import get_settings
from paylab.devstack.stack import DevStack

scenarios("local_stack.feature")

# The output keys the services rely on (ARCHITECTURE §3); the template must provide them.
_REQUIRED_OUTPUTS = {
    "PaymentEventsTopicArn",
    "WalletEventsTopicArn",
    "MerchantEventsTopicArn",
    "EventBusName",
    "NotificationOpsQueueUrl",
    "NotificationOpsDlqUrl",
    "AuditOpsQueueUrl",
    "AuditOpsDlqUrl",
    "PaymentEventStoreTableName",
    "JwtSigningKeySecretArn",
}


@pytest.fixture
def stack() -> DevStack:
    return DevStack(get_settings())


@pytest.fixture
def context() -> dict[str, Any]:
    return {}


@given("the local stack is running")
def stack_running(stack: DevStack) -> None:
    if not stack.status()["components"]["localstack"]["healthy"]:
        pytest.fail("the local stack is not running: run ./paylab up (./paylab test does)")


@when("I ask for its status")
def ask_status(stack: DevStack, context: dict[str, Any]) -> None:
    context["status"] = stack.status()


@then("LocalStack, Postgres and Redis are healthy")
def data_plane_healthy(context: dict[str, Any]) -> None:
    components = context["status"]["components"]
    for name in ("localstack", "postgres", "redis"):
        assert components[name]["healthy"], f"{name}: {components[name]}"


@then("the CloudFormation stack is complete")
def stack_complete(context: dict[str, Any]) -> None:
    assert context["status"]["stack"]["status"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")


@then("its outputs name the queues, topics, bus, event store and secrets of the architecture")
def outputs_complete(context: dict[str, Any]) -> None:
    outputs = context["status"]["stack"]["outputs"]
    assert outputs.keys() >= _REQUIRED_OUTPUTS, _REQUIRED_OUTPUTS - outputs.keys()


def _connect_as(stack: DevStack, service: str) -> psycopg.Connection[Any]:
    outputs = stack.status()["stack"]["outputs"]
    password = SecretReader().get_json(outputs[db_secret_output(service)])["password"]
    url = make_url(stack.admin_database_url()).set(
        drivername="postgresql", username=f"paylab_{service}", password=password
    )
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


@when("the wallet service's role reads its own outbox")
def wallet_reads_own(stack: DevStack, context: dict[str, Any]) -> None:
    context["conn"] = _connect_as(stack, "wallet")
    context["rows"] = context["conn"].execute("SELECT count(*) FROM wallet.outbox").fetchone()


@then("it gets an answer")
def got_answer(context: dict[str, Any]) -> None:
    assert context["rows"] is not None and context["rows"][0] >= 0


@then("when it reads the auth service's outbox it is refused")
def refused(context: dict[str, Any]) -> None:
    with context["conn"] as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM auth.outbox")
