"""Database engines and sessions: one schema and one role per service."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

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


def make_engine(url: str | URL, *, schema: str | None = None, pool_size: int = 5) -> Engine:
    """An engine whose connections see `schema` first on the search path."""
    connect_args = {"options": f"-csearch_path={schema},public"} if schema else {}
    url = make_url(url).set(drivername="postgresql+psycopg")
    return create_engine(url, pool_size=pool_size, pool_pre_ping=True, connect_args=connect_args)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction per use case: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def db_secret_output(service: str) -> str:
    """The stack output holding the ARN of `service`'s database secret."""
    return f"{service.capitalize()}DbSecretArn"


def service_engine(service: str, *, pool_size: int = 5) -> Engine:
    """An engine connected as `service`'s own role to its own schema.

    The server comes from DATABASE_URL (Aurora on AWS) or the local stack's Postgres; the
    password from the service's secret in Secrets Manager, named by the stack's outputs.
    """
    from paylab.core.secrets import SecretReader
    from paylab.core.settings import get_settings
    from paylab.core.stack_outputs import output

    settings = get_settings()
    base = settings.database_dsn()
    secret = SecretReader().get_json(output(db_secret_output(service), settings))
    return make_engine(
        service_url(base, service, str(secret["password"])), schema=service, pool_size=pool_size
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (handy in use cases)."""
    return sessionmaker(engine, expire_on_commit=False)
