"""`paylab outbox`: each service's waiting events, and one clear line when it cannot tell."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from paylab import cli_outbox
from paylab.cli import app
from paylab.core.db import SERVICES_WITH_DB
from paylab.core.outbox_backlog import Backlog
from paylab.core.settings import get_settings
from paylab.core.stack_outputs import StackOutputsUnavailable


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no such secret"}}, "GetSecretValue")


class FakeEngine:
    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.disposed = False

    def dispose(self) -> None:
        self.disposed = True


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> list[FakeEngine]:
    made: list[FakeEngine] = []

    def service_engine(schema: str, **_: Any) -> FakeEngine:
        made.append(FakeEngine(schema))
        return made[-1]

    monkeypatch.setattr(cli_outbox, "service_engine", service_engine)
    return made


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["outbox", *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def test_each_services_backlog_is_listed_and_every_engine_closed(
    engines: list[FakeEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    def backlog(engine: FakeEngine, table: str) -> Backlog:
        assert table == f"{engine.schema}.outbox"
        return Backlog(3, 42.5) if engine.schema == "payment" else Backlog(0, 0.0)

    monkeypatch.setattr(cli_outbox, "table_backlog", backlog)
    code, output = _run(["--json"])
    assert code == 0
    assert json.loads(output) == {
        schema: {"events": 3, "oldest_s": 42.5}
        if schema == "payment"
        else {"events": 0, "oldest_s": 0.0}
        for schema in SERVICES_WITH_DB
    }
    assert [e.schema for e in engines] == list(SERVICES_WITH_DB)
    assert all(e.disposed for e in engines)
    code, output = _run([])
    assert code == 0
    (payment_line,) = [line for line in output.splitlines() if " payment " in line]
    assert "3" in payment_line and "42.5" in payment_line


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (StackOutputsUnavailable("stack paylab not found: run ./paylab up"), "run ./paylab up"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:4566"), "database secrets"),
        (_client_error("ResourceNotFoundException"), "database secrets"),
        (KeyError("password"), "database secrets"),
        (ValueError("secret paylab/db/payment is not JSON"), "is not JSON"),
        (OperationalError("SELECT 1", {}, Exception("refused")), "cannot read the outboxes"),
    ],
)
def test_a_stack_it_cannot_read_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, error: Exception, message: str
) -> None:
    """The errors come from where they arise: the engine (outputs, secrets) or the query."""
    engines: list[FakeEngine] = []

    def service_engine(schema: str, **_: Any) -> FakeEngine:
        if not isinstance(error, OperationalError):
            raise error
        engines.append(FakeEngine(schema))
        return engines[-1]

    def backlog(engine: FakeEngine, table: str) -> Backlog:
        raise error

    monkeypatch.setattr(cli_outbox, "service_engine", service_engine)
    monkeypatch.setattr(cli_outbox, "table_backlog", backlog)
    code, output = _run([])
    assert code == 1
    assert message in " ".join(output.split()) and output.count("paylab:") == 1
    assert all(e.disposed for e in engines)


def test_bad_settings_are_named_with_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYLAB_TARGET", "prod")
    get_settings.cache_clear()
    try:
        code, output = _run([])
    finally:
        get_settings.cache_clear()
    assert code == 2 and "invalid PAYLAB_TARGET" in output
