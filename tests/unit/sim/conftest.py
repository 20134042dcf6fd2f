"""Fixtures for simulator unit tests: in-process clients and a callback receiver."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from simulators import antifraud, bank, pse, sms
from simulators.testing import CallbackReceiver

FACTORIES: dict[str, Callable[..., FastAPI]] = {
    "bank": bank.create_app,
    "pse": pse.create_app,
    "antifraud": antifraud.create_app,
    "sms": sms.create_app,
}


class FakeClock:
    """Wall clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def receiver() -> CallbackReceiver:
    return CallbackReceiver()


@pytest.fixture
def make_sim(
    receiver: CallbackReceiver,
) -> Iterator[Callable[..., TestClient]]:
    """Factory: a started simulator whose callbacks go, in process, to `receiver`."""
    clients: list[TestClient] = []

    def make(name: str, **kwargs: Any) -> TestClient:
        transport = httpx.ASGITransport(app=receiver)
        kwargs.setdefault("callback_client", httpx.AsyncClient(transport=transport))
        client = TestClient(FACTORIES[name](**kwargs), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def bank_client(make_sim: Callable[..., TestClient], clock: FakeClock) -> TestClient:
    return make_sim("bank", clock=clock)


@pytest.fixture
def free_port() -> int:
    """A free loopback port in the range reserved for these tests (9101-9199)."""
    for port in range(9101, 9200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 9101-9199")
