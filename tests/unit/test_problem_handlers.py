"""Errors every service maps the same way (core/problems.install_problem_handlers)."""

from __future__ import annotations

import psycopg
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError

from paylab.core.app import create_app


def _app_raising(error: Exception) -> TestClient:
    router = APIRouter()

    @router.post("/things")
    def things() -> None:
        raise error

    return TestClient(create_app("t", [router], title="t"), raise_server_exceptions=False)


@pytest.mark.parametrize(
    "message",
    [
        "PostgreSQL text fields cannot contain NUL (0x00) bytes",
        "unsupported Unicode escape sequence\nDETAIL:  \\u0000 cannot be converted to text.",
    ],
)
def test_text_postgres_refuses_for_a_nul_is_a_422_problem(message: str) -> None:
    nul = psycopg.DataError(message)
    response = _app_raising(DataError("SELECT ...", {"name": "a\x00"}, nul)).post("/things")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize("message", ["numeric field overflow", "invalid input syntax"])
def test_other_data_errors_stay_server_errors(message: str) -> None:
    error = DataError("INSERT ...", {}, psycopg.DataError(message))
    assert _app_raising(error).post("/things").status_code == 500
