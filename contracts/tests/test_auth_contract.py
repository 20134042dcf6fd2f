"""auth's contract: the served OpenAPI equals the committed one and documents its errors."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi.testclient import TestClient

from paylab.auth.app import create
from paylab.core.openapi_export import render, spec_path

COMMITTED = spec_path("auth")


def committed() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMMITTED.read_text())
    return doc


def test_served_spec_equals_committed() -> None:
    # Not entered: /openapi.json needs no database, Redis or Secrets Manager.
    served = TestClient(create()).get("/openapi.json").json()
    assert served == committed(), "run: python -m paylab.core.openapi_export auth"
    assert render(served) == COMMITTED.read_text()


def test_every_operation_declares_its_problem_responses() -> None:
    doc = committed()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if op.get("requestBody") or "{" in path:
                assert "422" in op["responses"], f"{method.upper()} {path} lacks its 422"
            if path.startswith("/internal/"):
                assert "401" in op["responses"], f"{method.upper()} {path} lacks its 401"
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    assert "application/problem+json" in response["content"], (path, status)
    login = doc["paths"]["/v1/auth/login"]["post"]["responses"]
    assert {"200", "401", "422", "429", "503"} <= set(login)


def test_login_speaks_epaycos_field_names() -> None:
    schemas = committed()["components"]["schemas"]
    assert schemas["LoginRequest"]["required"] == ["public_key", "private_key"]
    assert schemas["LoginResponse"]["required"] == ["bearer_token", "expires_in"]
    jwk = schemas["Jwk"]["properties"]
    assert jwk["alg"]["const"] == "EdDSA" and jwk["crv"]["const"] == "Ed25519"
