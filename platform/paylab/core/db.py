"""Database engines and sessions: one schema and one role per service."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:  # importing boto3 stays lazy for the callers that only need names
    from paylab.core.secrets import SecretReader

# Services that own a Postgres schema (the gateway keeps its state in Redis).
SERVICES_WITH_DB = ("auth", "payment", "wallet", "merchant", "notification", "audit")


def role_name(service: str) -> str:
    """The Postgres role that owns `service`'s schema."""
    return f"paylab_{service}"


def service_url(base_url: str, service: str, password: str) -> URL:
    """`base_url` (any user) rewritten to connect as `service`'s role, psycopg 3 driver."""
    url = make_url(base_url).set(
        drivername="postgresql+psycopg", username=role_name(service), password=password
    )
    return url


def make_engine(
    url: str | URL, *, schema: str | None = None, pool_size: int = 5, max_overflow: int = 10
) -> Engine:
    """An engine whose connections see `schema` first on the search path.

    A connection beyond `pool_size` (up to `max_overflow` more) is opened for one use and
    closed again: a fork and a SCRAM handshake, ~4 ms of CPU between client and server.
    """
    connect_args = {"options": f"-csearch_path={schema},public"} if schema else {}
    url = make_url(url).set(drivername="postgresql+psycopg")
    # Pre-ping: Postgres closes idle sessions (devstack/database.py), the next checkout
    # reconnects. LIFO: a periodic task reuses one warm connection instead of cycling
    # through the pool and keeping every connection from ever idling out.
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_use_lifo=True,
        connect_args=connect_args,
    )


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction per use case: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def db_secret_output(service: str) -> str:
    """The stack output holding the ARN of `service`'s database secret."""
    return f"{service.capitalize()}DbSecretArn"


def service_engine(
    service: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    reader: SecretReader | None = None,
) -> Engine:
    """An engine connected as `service`'s own role to its own schema.

    The server comes from DATABASE_URL (Aurora on AWS) or the local stack's Postgres; the
    password from the service's secret in Secrets Manager, named by the stack's outputs, read
    for every new connection (see `rotating_password`).
    """
    from paylab.core.secrets import shared_reader
    from paylab.core.settings import get_settings
    from paylab.core.stack_outputs import output

    settings = get_settings()
    secret_id = output(db_secret_output(service), settings)
    reader = reader or shared_reader()
    password = str(reader.get_json(secret_id)["password"])
    engine = make_engine(
        service_url(settings.database_dsn(), service, password),
        schema=service,
        pool_size=pool_size,
        max_overflow=max_overflow,
    )
    rotating_password(engine, secret_id, reader)
    return engine


def is_auth_failure(exc: BaseException) -> bool:
    """True when Postgres refused the password (it reports no SQLSTATE before a session)."""
    return "password authentication failed" in str(exc)


def rotating_password(engine: Engine, secret_id: str, reader: SecretReader) -> None:
    """Make every new connection of `engine` authenticate with the secret's password.

    Postgres checks a password only when a connection opens, so pooled connections survive a
    rotation untouched; a new one tries the cached AWSCURRENT value, then a fresh one, then
    AWSPENDING (a rotation between its setSecret and finishSecret steps), and fails only if
    all are refused.
    """

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        refused: Exception | None = None
        for secret in reader.candidates(secret_id):
            cparams["password"] = str(secret["password"])
            try:
                return dialect.connect(*cargs, **cparams)
            except psycopg.OperationalError as exc:
                if not is_auth_failure(exc):
                    raise
                refused = exc
        if refused is not None:
            raise refused
        raise LookupError(f"secret {secret_id} holds no usable password")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (handy in use cases)."""
    return sessionmaker(engine, expire_on_commit=False)
