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
