"""Database engines and sessions: one schema and one role per service."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:  # importing boto3 stays lazy for the callers that only need names
    from paylab.core.secrets import SecretReader

# Services that own a Postgres schema (the gateway keeps its state in Redis).
SERVICES_WITH_DB = ("auth", "payment", "wallet", "merchant", "notification", "audit")
# A pooled connection idle for longer is pinged before use even when its socket is quiet (a
# peer that vanished without closing, e.g. a failed-over writer). Shorter than the service
# roles' idle_session_timeout (2 s, devstack/database.py): a session Postgres is about to close
# has no message on its socket yet, and a statement sent then failed with IdleSessionTimeout
# (a 500 in CI). A ping that loses that race is retried by the pool on a new connection, and
# one that wins restarts the server's idle clock.
PING_AFTER_IDLE_S = 1.5
_now = time.monotonic  # the pool's idle clock (tests move it)


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
    # LIFO: a periodic task reuses one warm connection instead of cycling through the pool
    # and keeping every connection from ever idling out.
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_use_lifo=True,
        connect_args=connect_args,
    )
    check_liveness_on_checkout(engine)
    return engine


def check_liveness_on_checkout(
    engine: Engine, ping_after_idle_s: float = PING_AFTER_IDLE_S
) -> None:
    """Hand out only live connections, pinging only those that may be dead.

    Postgres closes idle sessions (devstack/database.py) and may be restarted or terminate a
    backend; each of these leaves a message or an end-of-file on the socket. So a pooled
    connection is pinged (`SELECT 1`, a round trip) before use only when its socket has
    something to read or it has been idle for more than `ping_after_idle_s`; a dead one is
    replaced (SQLAlchemy's pessimistic disconnect handling, its checkout-event recipe).
    SQLAlchemy's `pool_pre_ping` pinged on every checkout: ~1 in 6 of all statements.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _idle_from_now(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = _now()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since", 0.0)
        quiet_and_recent = _now() - idle_since <= ping_after_idle_s and not _has_input(
            dbapi_connection
        )
        if quiet_and_recent:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: the pool discards it and tries another
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def _has_input(dbapi_connection: Any) -> bool:
    """True when an idle connection's socket is readable: a server message or EOF waits."""
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):  # closed: let the ping say so
        return True
    return bool(readable)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction per use case: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def reads(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads only, outside a transaction (autocommit).

    Each statement sees what was committed when it ran: right for one-query reads (a
    payment's status, polled by clients). It saves the BEGIN and ROLLBACK round trips that a
    transaction around a single SELECT costs; use `unit_of_work` for anything that writes or
    needs several reads to agree.
    """
    with factory() as session:
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
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
