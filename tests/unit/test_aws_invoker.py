"""A synchronous Lambda invoke is sent once: a retry could run the function a second time.

The endpoint here reads each request and drops the connection without an answer, what a
client sees when a function outlives its read timeout or a proxy resets the connection.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from botocore.exceptions import BotoCoreError
from loopback_server import LoopbackServer

from paylab.core.aws import LAMBDA_MAX_WAIT_S, client, invoker
from paylab.core.dlq import REPROCESSOR_WAIT_S
from paylab.core.settings import Settings
from paylab.infra.template import load_template


def _drop(conn: socket.socket) -> None:
    conn.recv(65536)  # read the request, answer nothing: the connection closes


@pytest.fixture
def endpoint() -> Iterator[LoopbackServer]:
    with LoopbackServer(_drop) as e:
        yield e


def _settings(url: str) -> Settings:
    return Settings(aws_endpoint_url=url)


def test_a_synchronous_invoke_is_never_sent_twice(endpoint: LoopbackServer) -> None:
    with pytest.raises(BotoCoreError):
        invoker(_settings(endpoint.url)).invoke(FunctionName="job", Payload=b"{}")
    assert endpoint.connections == 1


def test_other_calls_are_retried(endpoint: LoopbackServer) -> None:
    """The contrast: the plain client retries what failed in transit (4 retries)."""
    with pytest.raises(BotoCoreError):
        client("sqs", _settings(endpoint.url)).list_queues()
    assert endpoint.connections == 5


def test_callers_wait_longer_than_the_functions_they_invoke_may_run() -> None:
    resources = load_template()["Resources"]
    timeouts = {
        name: int(r["Properties"].get("Timeout", 3))
        for name, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert timeouts["DlqReprocessorFunction"] < REPROCESSOR_WAIT_S
    assert max(timeouts.values()) < LAMBDA_MAX_WAIT_S
