"""Payment contract: the served OpenAPI equals the committed one; money and errors as agreed."""

from __future__ import annotations

import yaml

from paylab.core.openapi_export import served, spec_path

INTERNAL = {
    ("post", "/internal/payments/{payment_id}/process"),
    ("post", "/internal/payments/{payment_id}/await-confirmation"),
    ("post", "/internal/payments/{payment_id}/outcome"),
    ("post", "/internal/payments/{payment_id}/await-review"),
    ("post", "/internal/payments/{payment_id}/review"),
    ("get", "/internal/payments/{payment_id}"),
    ("post", "/callbacks/pse"),
}


def test_served_spec_equals_committed() -> None:
    committed = yaml.safe_load(spec_path("payment").read_text())
    assert served("payment") == committed, "run: python -m paylab.core.openapi_export payment"


def test_spec_declares_problems_and_money_as_strings() -> None:
    doc = yaml.safe_load(spec_path("payment").read_text())
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "401" in op["responses"], f"{method.upper()} {path} lacks its 401"
            if op.get("requestBody") or "{" in path:
                assert "422" in op["responses"] or path == "/callbacks/pse", (
                    f"{method.upper()} {path} lacks its 422"
                )
    text = spec_path("payment").read_text()
    assert "format: float" not in text
    assert "type: number" not in text  # every amount is a decimal string


def test_the_saga_contract_is_published() -> None:
    doc = yaml.safe_load(spec_path("payment").read_text())
    published = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert published >= INTERNAL | {("post", "/v1/payments"), ("get", "/v1/payments/{payment_id}")}
    process = doc["components"]["schemas"]["ProcessOut"]["properties"]["outcome"]
    assert set(process["enum"]) == {"approved", "rejected", "failed", "abandoned", "pending"}
