"""The public contract: served = committed, every path routable, login identical to auth's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from fastapi.testclient import TestClient

from paylab.gateway.app import SPEC, create
from paylab.gateway.routing import match

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "contracts" / "openapi" / "gateway.yaml"
AUTH = ROOT / "contracts" / "openapi" / "auth.yaml"
PROBLEM_STATUSES = re.compile(r"^[45]\d\d$")


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_served_spec_equals_committed() -> None:
    served = TestClient(create()).get("/openapi.json").json()  # no lifespan: nothing connects
    assert served == load(COMMITTED)
    assert SPEC.read_text() == COMMITTED.read_text(), "copy paylab/gateway/openapi.yaml here"


def test_spec_is_openapi_31_with_valid_schemas() -> None:
    doc = load(COMMITTED)
    assert doc["openapi"].startswith("3.1")
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema), name
    assert "format: float" not in COMMITTED.read_text()


def test_architecture_section_7_is_all_there() -> None:
    doc = load(COMMITTED)
    expected = {
        ("/v1/auth/login", "post"),
        ("/v1/payments", "post"),
        ("/v1/payments/{payment_id}", "get"),
        ("/v1/payments/{payment_id}/refund", "post"),
        ("/v1/wallets/{account_id}", "get"),
        ("/v1/merchants/me/balance", "get"),
    }
    assert expected <= {(path, method) for path, method, _ in operations(doc)}


def test_every_path_is_routed_and_only_login_is_public() -> None:
    doc = load(COMMITTED)
    for path, method, op in operations(doc):
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        route = match(concrete)
        assert route is not None, f"{path} has no upstream"
        public = op.get("security", doc["security"]) == []
        assert public is route.public, f"{method.upper()} {path}: spec and gateway disagree"
    assert match("/v1/merchants/me/balance").service == "wallet"  # type: ignore[union-attr]


def test_errors_are_problems_and_gateway_failures_documented() -> None:
    doc = load(COMMITTED)
    responses = doc["components"]["responses"]
    for path, method, op in operations(doc):
        codes = set(op["responses"])
        assert {"429", "503", "504"} <= codes, f"{method.upper()} {path}"
        if op.get("security", doc.get("security")) != []:  # public: login, merchant signup
            assert "401" in codes, f"{method.upper()} {path} lacks its 401"
        if op.get("requestBody"):
            assert {"413", "422"} <= codes, f"{method.upper()} {path}"
        for status, response in op["responses"].items():
            if PROBLEM_STATUSES.match(status):
                ref = response["$ref"].rsplit("/", 1)[-1]
                assert "application/problem+json" in responses[ref]["content"], (path, status)
    assert "Retry-After" in responses["TooManyRequests"]["headers"]
    assert "WWW-Authenticate" in responses["Unauthorized"]["headers"]


def _shape(schema: dict[str, Any]) -> dict[str, Any]:
    keep = ("type", "minLength", "maxLength")
    return {
        "required": schema["required"],
        "properties": {
            name: {k: v for k, v in prop.items() if k in keep}
            for name, prop in schema["properties"].items()
        },
    }


def test_login_is_the_same_contract_as_auths() -> None:
    gateway = load(COMMITTED)["components"]["schemas"]
    auth = load(AUTH)["components"]["schemas"]
    for name in ("LoginRequest", "LoginResponse"):
        assert _shape(gateway[name]) == _shape(auth[name]), name
