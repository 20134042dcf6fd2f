"""A Postgres role's password rotates under a live pool: nothing in flight breaks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from paylab.core.aws import invoker
from paylab.core.db import make_engine, rotating_password
from paylab.core.secrets import SecretReader

pytestmark = pytest.mark.timeout(120)


def _engine(admin_url: str, role: str, secret_arn: str, reader: SecretReader) -> Engine:
    url = make_url(admin_url).set(username=role, password="unused")
    engine = make_engine(url, pool_size=2)
    rotating_password(engine, secret_arn, reader)
    return engine


def _login(admin_url: str, role: str, password: str) -> bool:
    url = make_url(admin_url).set(username=role, password=password)
    try:
        with psycopg.connect(url.render_as_string(hide_password=False), connect_timeout=5):
            return True
    except psycopg.OperationalError:
        return False


def test_a_pool_keeps_working_through_two_rotations(
    sm: Any,
    outputs: dict[str, str],
    admin_url: str,
    pg_role: tuple[str, str],
    make_secret: Callable[[dict[str, Any]], str],
) -> None:
    role, first = pg_role
    arn = make_secret({"username": role, "password": first})
    engine = _engine(admin_url, role, arn, SecretReader(ttl_seconds=300))
    try:
        held = engine.connect()  # in flight across both rotations
        held.execute(text("SELECT 1"))
        passwords = [first]
        for _ in range(2):
            sm.rotate_secret(
                SecretId=arn,
                RotationLambdaARN=outputs["RotatePostgresFunctionArn"],
                RotationRules={"AutomaticallyAfterDays": 30},
            )
            current = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])["password"]
            assert current not in passwords
            passwords.append(current)
            assert held.execute(text("SELECT current_user")).scalar() == role
            # A new connection: the reader's cached password is stale, the fresh one works.
            with engine.connect() as fresh:
                assert fresh.execute(text("SELECT current_user")).scalar() == role
        held.close()
        assert not _login(admin_url, role, first)
        assert _login(admin_url, role, passwords[-1])
    finally:
        engine.dispose()


def test_between_set_and_finish_new_connections_use_the_pending_password(
    sm: Any,
    outputs: dict[str, str],
    admin_url: str,
    pg_role: tuple[str, str],
    make_secret: Callable[[dict[str, Any]], str],
) -> None:
    role, first = pg_role
    arn = make_secret({"username": role, "password": first})
    lam = invoker()
    token = "00000000-0000-4000-8000-" + role[-10:].rjust(12, "0")
    sm.put_secret_value(
        SecretId=arn,
        ClientRequestToken=token,
        SecretString=json.dumps({"username": role, "password": "PendingPassword42"}),
        VersionStages=["AWSPENDING"],
    )

    def step(name: str) -> None:
        event = {"Step": name, "SecretId": arn, "ClientRequestToken": token}
        answer = lam.invoke(
            FunctionName=outputs["RotatePostgresFunctionArn"], Payload=json.dumps(event)
        )
        assert "FunctionError" not in answer, answer["Payload"].read()

    step("createSecret")  # keeps the pending value we put
    step("setSecret")
    assert _login(admin_url, role, "PendingPassword42")
    assert not _login(admin_url, role, first)
    engine = _engine(admin_url, role, arn, SecretReader())
    try:
        with engine.connect() as conn:  # AWSCURRENT is refused: falls back to AWSPENDING
            assert conn.execute(text("SELECT current_user")).scalar() == role
        step("testSecret")
        step("finishSecret")
        stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
        assert stages[token] == ["AWSCURRENT"]
    finally:
        engine.dispose()
