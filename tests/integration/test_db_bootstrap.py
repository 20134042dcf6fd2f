"""The database bootstrap (the compute plane's db-bootstrap task on AWS) on the local stack.

It reads the server and admin login from the stack's DbAdminSecret and the roles' passwords
from their secrets, as on AWS; here it is aimed at a throwaway database of the stack's
Postgres (the admin secret's `dbname` swapped), never at the stack's own.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from paylab.core.db import SERVICES_WITH_DB, role_name
from paylab.core.secrets import SecretReader
from paylab.core.settings import get_settings
from paylab.core.stack_outputs import stack_outputs
from paylab.devstack import database
from paylab.devstack.stack import DevStack
from paylab.infra.db_bootstrap import bootstrap_database


@pytest.fixture
def scratch(scratch_database: tuple[str, str]) -> str:
    return scratch_database[0]


def _layout(url: Any) -> tuple[list[tuple[str, str]], list[tuple[str]]]:
    """The service schemas with their owners, and Alembic's revisions, of one database."""
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        schemas = conn.execute(
            "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace"
            " WHERE nspname = ANY(%s) ORDER BY 1",
            (list(SERVICES_WITH_DB),),
        ).fetchall()
        heads = conn.execute("SELECT version_num FROM public.alembic_version ORDER BY 1").fetchall()
    return schemas, heads


class ScratchReader(SecretReader):
    """The stack's secrets, with the admin login pointing at the scratch database."""

    def __init__(self, admin_secret: str, dbname: str) -> None:
        super().__init__()
        self.admin_secret = admin_secret
        self.dbname = dbname

    def get_json(self, secret_id: str, *, refresh: bool = False) -> dict[str, Any]:
        value = super().get_json(secret_id, refresh=refresh)
        return {**value, "dbname": self.dbname} if secret_id == self.admin_secret else value


def test_bootstrap_builds_every_schema_and_each_role_logs_in_with_its_secret(
    scratch: str,
) -> None:
    settings = get_settings()
    outputs = stack_outputs(settings)
    reader = ScratchReader(outputs["DbAdminSecretArn"], scratch)
    steps: list[str] = []

    bootstrap_database(settings, sslmode="disable", progress=steps.append, reader=reader)

    assert steps[-1] == "the database is ready"
    stack_db = make_url(DevStack(settings).admin_database_url())
    admin = stack_db.set(database=scratch)
    # The same schemas, owners and revisions as `up` built in the stack's own database (audit's
    # schema belongs to the admin: its log is append-only for the audit role).
    assert _layout(admin) == _layout(stack_db)
    assert {schema for schema, _owner in _layout(admin)[0]} == set(SERVICES_WITH_DB)
    passwords = database.service_passwords(outputs, reader)
    for service in SERVICES_WITH_DB:
        url = admin.set(username=role_name(service), password=passwords[service])
        with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role_name(service),)

    # A second run (the next deployment's) changes nothing and does not fail.
    bootstrap_database(settings, sslmode="disable", reader=reader)


@pytest.fixture
def master_like_admin() -> Iterator[dict[str, Any]]:
    """A login like Aurora's master user: no superuser, CREATEROLE, and on the service roles
    the ADMIN option without SET or INHERIT (what PostgreSQL 16+ gives the roles' creator),
    owning a new database. Its login as the admin secret would hold it."""
    admin = DevStack(get_settings()).admin_database_url()
    name = f"paylab_master_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    roles = [sql.Identifier(role_name(s)) for s in SERVICES_WITH_DB]
    user = sql.Identifier(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                user, sql.Literal(password)
            )
        )
        for role in roles:
            conn.execute(
                sql.SQL("GRANT {} TO {} WITH ADMIN TRUE, INHERIT FALSE, SET FALSE").format(
                    role, user
                )
            )
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(user, user))
    url = make_url(admin)
    try:
        yield {
            "username": name,
            "password": password,
            "host": url.host,
            "port": url.port,
            "dbname": name,
        }
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(user))
            for role in roles:
                conn.execute(sql.SQL("REVOKE {} FROM {} CASCADE").format(role, user))
            conn.execute(sql.SQL("DROP ROLE {}").format(user))


def test_bootstrap_works_as_a_master_user_that_is_not_a_superuser(
    master_like_admin: dict[str, Any],
) -> None:
    """Aurora's master may make a role own a schema only as a member of it: `prepare` grants
    each service role to itself first (without that: "must be able to SET ROLE")."""
    settings = get_settings()
    outputs = stack_outputs(settings)

    class MasterReader(SecretReader):
        def get_json(self, secret_id: str, *, refresh: bool = False) -> dict[str, Any]:
            if secret_id == outputs["DbAdminSecretArn"]:
                return master_like_admin
            return super().get_json(secret_id, refresh=refresh)

    bootstrap_database(settings, sslmode="disable", reader=MasterReader())
    stack_db = make_url(DevStack(settings).admin_database_url())
    built = _layout(stack_db.set(database=master_like_admin["dbname"]))
    # As `up` built the stack's, the admin (here the master) owning audit's schema.
    schemas, heads = _layout(stack_db)
    admin = stack_db.username
    expected = [(n, master_like_admin["username"] if o == admin else o) for n, o in schemas]
    assert built == (expected, heads)


def test_a_server_without_tls_is_refused_in_one_line_when_tls_is_required() -> None:
    """On AWS the admin connection requires TLS; the local Postgres has none: a clear error."""
    done = subprocess.run(
        [sys.executable, "-m", "paylab.infra.db_bootstrap"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("db-bootstrap: "), done.stderr
    assert "SSL" in done.stderr and "Traceback" not in done.stderr, done.stderr
