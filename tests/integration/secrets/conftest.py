"""Throwaway secrets, Postgres roles and rotation functions; the shared stack's stay untouched.

The stack's own Postgres rotation Lambda is used as is (it alters only the role its secret
names). Partner-key rotation gets its own copy of the function, aimed at a simulator this
test serves on a dev port, so the stack's simulators never see a test key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from paylab.core.aws import client
from paylab.core.settings import get_settings
from paylab.core.stack_outputs import stack_outputs
from paylab.devstack.stack import DevStack

SIM_PORT = 8171


@pytest.fixture(scope="session")
def outputs() -> dict[str, str]:
    found = stack_outputs(refresh=True)
    if "RotatePostgresFunctionArn" not in found:
        pytest.fail("the stack predates issue 6: run ./paylab up")
    return found


@pytest.fixture(scope="session")
def admin_url() -> str:
    return DevStack(get_settings()).admin_database_url()


@pytest.fixture
def sm() -> Any:
    return client("secretsmanager")


@pytest.fixture
def make_secret(sm: Any) -> Iterator[Callable[[dict[str, Any]], str]]:
    """Secrets under `<stack>/test-rotation/` (the rotation role may touch `<stack>/*`)."""
    made: list[str] = []

    def make(value: dict[str, Any]) -> str:
        name = f"{get_settings().stack_name}/test-rotation/{uuid.uuid4().hex[:10]}"
        arn = str(sm.create_secret(Name=name, SecretString=json.dumps(value))["ARN"])
        made.append(arn)
        return arn

    yield make
    for arn in made:
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


@pytest.fixture
def pg_role(admin_url: str) -> Iterator[tuple[str, str]]:
    """A login role with a known first password; dropped afterwards (its sessions first)."""
    role, password = f"paylab_tmp_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    yield role, password
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def partner_rotation_function(outputs: dict[str, str]) -> Iterator[str]:
    """A copy of the partner-key rotation Lambda whose partner `bank` is this test's simulator."""
    lam = client("lambda")
    stack_fn = lam.get_function(FunctionName=outputs["RotatePartnerKeyFunctionArn"])
    config = stack_fn["Configuration"]
    code = client("cloudformation").describe_stacks(StackName=get_settings().stack_name)
    params = {p["ParameterKey"]: p["ParameterValue"] for p in code["Stacks"][0]["Parameters"]}
    name = f"{get_settings().stack_name}-test-rotate-{uuid.uuid4().hex[:8]}"
    arn = lam.create_function(
        FunctionName=name,
        Runtime=config["Runtime"],
        Handler=config["Handler"],
        Role=config["Role"],
        Code={"S3Bucket": params["ArtifactsBucket"], "S3Key": params["LambdaCodeKey"]},
        Timeout=30,
        Environment={
            "Variables": {
                "PAYLAB_PARTNER_URLS": json.dumps({"bank": f"http://127.0.0.1:{SIM_PORT}"}),
                "PAYLAB_KEY_GRACE_SECONDS": "60",
            }
        },
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    yield str(arn)
    lam.delete_function(FunctionName=name)
