"""Database bootstrap: one role and one schema per service, then Alembic migrations."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from botocore.exceptions import ClientError
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from paylab.core.db import SERVICES_WITH_DB, db_secret_output, role_name

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
# Postgres closes a service role's session after this long between transactions: an idle
# backend costs 12-16 MiB RSS, and a stack at rest would keep one per pooled connection
# (the relay's, the consumers', each service's). Short enough that the sessions of `up`'s
# seeding are gone when bench/boot.py measures, 5 s later. Pools pre-ping, so the next use
# reconnects (~10 ms); a busy pool never idles this long. Sessions that must stay (the
# relay's LISTEN) turn it off for themselves.
IDLE_SESSION_TIMEOUT = "2s"


def prepare(admin_url: str) -> None:
    """Each service's role and its own schema, then the migrations; no password is needed.

    `up` runs this while LocalStack deploys the stack: the passwords live in the stack's
    secrets and are set afterwards (`set_passwords`). A role created here cannot log in
    with a password until then.
    """
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for service in SERVICES_WITH_DB:
            role = sql.Identifier(role_name(service))
            exists = conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (role_name(service),)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
            # Aurora's master user is not a superuser: it may create a schema owned by the
            # role, and migrations may hand it tables, only as a member of the role
            # (PostgreSQL 15). Re-granting is harmless.
            conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(role))
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                    sql.Identifier(service), role
                )
            )
            # A service sees its own schema only.
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(role))
            conn.execute(
                sql.SQL("ALTER ROLE {} SET idle_session_timeout = {}").format(
                    role, sql.Literal(IDLE_SESSION_TIMEOUT)
                )
            )
    migrate(admin_url)


def reset(admin_url: str) -> None:
    """Drop every service's schema and Alembic's version table (in `public`, see
    migrations/env.py): `prepare` then migrates them again, empty. Roles stay; `up` sets their
    passwords again. One transaction."""
    with psycopg.connect(admin_url) as conn:
        for service in SERVICES_WITH_DB:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(service))
            )
        conn.execute("DROP TABLE IF EXISTS public.alembic_version")


def set_passwords(admin_url: str, passwords: Mapping[str, str]) -> None:
    """Give each service's role its password (from the service's database secret)."""
    missing = [s for s in SERVICES_WITH_DB if s not in passwords]
    if missing:
        raise ValueError(f"no database password for: {', '.join(missing)}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for service in SERVICES_WITH_DB:
            conn.execute(
                sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(role_name(service)), sql.Literal(passwords[service])
                )
            )


def migrate(admin_url: str) -> None:
    """Bring every schema to the newest Alembic revision.

    Each service keeps its migrations on its own branch (branch label = service name) off
    the shared baseline, so services evolve their schemas independently.
    """
    command.upgrade(alembic_config(admin_url), "heads")


def alembic_config(admin_url: str) -> Config:
    """Alembic's configuration, aimed at `admin_url` (psycopg 3 driver)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    url = admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def admin_login(admin_url: str) -> dict[str, str | int]:
    """The admin login in `admin_url` as the DB rotation Lambda reads it from its secret."""
    url = make_url(admin_url)
    if not url.username or url.password is None or not url.host:
        raise ValueError("the admin database URL needs a user, a password and a host")
    return {
        "engine": "postgres",
        "username": url.username,
        "password": str(url.password),
        "host": url.host,
        "port": url.port or 5432,
        "dbname": url.database or "postgres",
    }


def admin_url_from_login(
    login: Mapping[str, Any], sslmode: str | None = None, sslrootcert: str | None = None
) -> str:
    """The inverse of `admin_login`: the admin secret (as Aurora's cluster fills it on AWS:
    host and port attached, `dbname` from the template) as a libpq URL; `sslrootcert` is the
    CA bundle that `sslmode=verify-full` checks the server against."""
    missing = sorted({"username", "password", "host", "port"} - login.keys())
    if missing:
        raise ValueError(
            f"the database admin secret has no {', '.join(missing)}"
            " (on AWS the cluster attaches host and port once it exists)"
        )
    url = URL.create(
        "postgresql",
        username=str(login["username"]),
        password=str(login["password"]),
        host=str(login["host"]),
        port=int(login["port"]),
        database=str(login.get("dbname") or "postgres"),
        query={k: v for k, v in (("sslmode", sslmode), ("sslrootcert", sslrootcert)) if v},
    )
    return url.render_as_string(hide_password=False)


def service_passwords(stack_outputs: Mapping[str, str], reader: Any) -> dict[str, str]:
    """Each service's database password, from its secret (named by the stack's outputs)."""
    passwords = {}
    for service in SERVICES_WITH_DB:
        arn = stack_outputs.get(db_secret_output(service))
        if arn is None:
            raise LookupError(f"the stack has no output {db_secret_output(service)}")
        passwords[service] = str(reader.get_json(arn)["password"])
    return passwords


def store_admin_login(admin_url: str, secret_arn: str, sm: Any) -> bool:
    """Keep the admin secret equal to the server's admin login; True when it was updated.

    The embedded server's admin password is made at `initdb` (or comes with DATABASE_URL),
    so the secret follows the server, not the other way round.
    """
    wanted = admin_login(admin_url)
    try:
        current = json.loads(sm.get_secret_value(SecretId=secret_arn)["SecretString"])
    except (ClientError, ValueError, KeyError):
        current = None
    if current == wanted:
        return False
    sm.put_secret_value(SecretId=secret_arn, SecretString=json.dumps(wanted))
    return True
