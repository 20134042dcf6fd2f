"""POST /v1/payments: idempotency, antifraud, PSE redirect, ownership, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from paylab.core.stack_outputs import StackOutputsUnavailable
from paylab.payment import wiring
from paylab.payment.app import create
from paylab.payment.settings import PaymentSettings
from paylab.payment.wiring import Services

from ..resources import AwsClients
from .conftest import card_body, db_rows, outbox_types, pse_body, wallet_body

Headers = Callable[..., dict[str, str]]


def execution(aws: AwsClients, saga_arn: str, payment_id: str) -> dict[str, Any]:
    arn = saga_arn.replace(":stateMachine:", ":execution:") + f":{payment_id}"
    return dict(aws.stepfunctions.describe_execution(executionArn=arn))


def test_card_payment_is_pending_stored_published_and_started(
    client: TestClient, headers: Headers, svc: Services, aws: AwsClients, saga_arn: str
) -> None:
    response = client.post("/v1/payments", json=card_body(), headers=headers())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending" and body["cod_respuesta"] == 3
    assert body["next_action"] is None and body["ref_payco"].isdigit()
    row = db_rows(svc, "SELECT * FROM payment.payments WHERE id = :id", id=body["id"])[0]
    assert row["card_last4"] == "0326" and row["card_token"].startswith("tok_")
    assert "4575623182290326" not in json.dumps(row, default=str)  # no PAN, no CVC
    assert outbox_types(svc, body["id"]) == ["PaymentCreated", "PaymentProcessingStarted"]
    started = execution(aws, saga_arn, body["id"])
    assert json.loads(started["input"]) == {
        "payment_id": body["id"],
        "merchant_id": row["merchant_id"],
        "method": "card",
        "amount": "1500.00",
        "currency": "COP",
        "payer_account_id": None,
        "pse_timeout_seconds": 900,
        "review": False,
        "review_timeout_seconds": 86400,
    }


def test_wallet_payment_passes_the_payer_account(
    client: TestClient, headers: Headers, aws: AwsClients, saga_arn: str
) -> None:
    body = wallet_body()
    response = client.post("/v1/payments", json=body, headers=headers())
    assert response.status_code == 201, response.text
    started = json.loads(execution(aws, saga_arn, response.json()["id"])["input"])
    assert started["method"] == "wallet"
    assert started["payer_account_id"] == body["wallet"]["account_id"]


def test_same_key_same_body_gets_the_first_answer(client: TestClient, headers: Headers) -> None:
    h, body = headers(), card_body()
    first = client.post("/v1/payments", json=body, headers=h)
    again = client.post("/v1/payments", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_same_key_other_body_is_a_conflict(client: TestClient, headers: Headers) -> None:
    h, body = headers(), card_body()
    assert client.post("/v1/payments", json=body, headers=h).status_code == 201
    other = client.post("/v1/payments", json={**body, "amount": "1501.00"}, headers=h)
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["type"].endswith("idempotency-key-reused")


def test_concurrent_duplicates_make_one_payment(
    client: TestClient, headers: Headers, svc: Services, merchant: str
) -> None:
    h, body = headers(), card_body()
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: client.post("/v1/payments", json=body, headers=h), range(8))
        )
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    rows = db_rows(
        svc,
        "SELECT id FROM payment.payments WHERE merchant_id = :m AND idempotency_key = :k",
        m=merchant,
        k=h["Idempotency-Key"],
    )
    assert len(rows) == 1


def test_the_postgres_key_answers_when_redis_forgot(
    client: TestClient, headers: Headers, svc: Services, merchant: str
) -> None:
    h, body = headers(), card_body()
    first = client.post("/v1/payments", json=body, headers=h).json()
    svc.idem.release(merchant, h["Idempotency-Key"])  # as if the Redis key had expired
    again = client.post("/v1/payments", json=body, headers=h)
    assert again.status_code == 201 and again.json() == first
    svc.idem.release(merchant, h["Idempotency-Key"])
    other = client.post("/v1/payments", json={**body, "reference": "x"}, headers=h)
    assert other.status_code == 409


def test_antifraud_reject_stores_rejected_and_starts_nothing(
    client: TestClient, headers: Headers, svc: Services, aws: AwsClients, saga_arn: str
) -> None:
    body = card_body(customer={"email": "fraud@paylab.test", "name": "Mallory"})
    response = client.post("/v1/payments", json=body, headers=headers())
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "rejected" and created["cod_respuesta"] == 2
    published = outbox_types(svc, created["id"])
    assert sorted(published) == [
        "PaymentCreated",
        "PaymentFailed",
        "PaymentNotificationRequested",
    ]  # and no PaymentProcessingStarted: nothing is held
    with pytest.raises(ClientError) as missing:
        execution(aws, saga_arn, created["id"])
    assert missing.value.response["Error"]["Code"] == "ExecutionDoesNotExist"
    shown = client.get(f"/v1/payments/{created['id']}", headers=headers()).json()
    assert shown["reason"].startswith("antifraud_rejected") and shown["version"] == 2


def test_pse_payment_answers_with_the_bank_redirect(client: TestClient, headers: Headers) -> None:
    response = client.post("/v1/payments", json=pse_body("1007"), headers=headers())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert body["next_action"]["redirect_url"].startswith("http://127.0.0.1:9001/bank/")


def test_unknown_pse_bank_is_a_field_error(client: TestClient, headers: Headers) -> None:
    response = client.post("/v1/payments", json=pse_body("4321"), headers=headers())
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.pse.bank_code"


def test_a_merchant_sees_only_its_own_payments(
    client: TestClient, headers: Headers, merchant: str
) -> None:
    body = card_body()
    created = client.post("/v1/payments", json=body, headers=headers()).json()
    other = headers(merchant_id=merchant + "-other")
    assert client.get(f"/v1/payments/{created['id']}", headers=headers()).status_code == 200
    assert client.get(f"/v1/payments/{created['id']}", headers=other).status_code == 404
    assert client.post(f"/v1/payments/{created['id']}/refund", headers=other).status_code == 404
    mine = client.get("/v1/payments", params={"reference": body["reference"]}, headers=headers())
    theirs = client.get("/v1/payments", params={"reference": body["reference"]}, headers=other)
    assert [p["id"] for p in mine.json()["items"]] == [created["id"]]
    assert theirs.json()["items"] == []


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda b: {**b, "amount": 1500}, 422),
        (lambda b: {**b, "amount": "-1.00"}, 422),
        (lambda b: {**b, "amount": "999999999999.00"}, 422),
        (lambda b: {**b, "currency": "EUR"}, 422),
        (lambda b: {**b, "card": {**b["card"], "number": "4575623182290327"}}, 422),
        (lambda b: {**b, "card": {**b["card"], "exp_year": 2019}}, 422),
        (lambda b: {**b, "card": {**b["card"], "cvc": "1"}}, 422),
        (lambda b: {**b, "return_url": "file:///etc/passwd"}, 422),
        (lambda b: {k: v for k, v in b.items() if k != "customer"}, 422),
    ],
)
def test_bad_bodies_are_4xx_problems(
    client: TestClient, headers: Headers, mutate: Callable[[dict[str, Any]], Any], status: int
) -> None:
    response = client.post("/v1/payments", json=mutate(card_body()), headers=headers())
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"]


def test_bad_requests_without_a_body_problem(
    client: TestClient, headers: Headers, internal_headers: dict[str, str]
) -> None:
    h = headers()
    no_key = {k: v for k, v in h.items() if k != "Idempotency-Key"}
    assert client.post("/v1/payments", json=card_body(), headers=no_key).status_code == 422
    no_merchant = {**internal_headers, "Idempotency-Key": "k"}
    assert client.post("/v1/payments", json=card_body(), headers=no_merchant).status_code == 401
    bad_internal = {**h, "X-Paylab-Internal-Key": "nope"}
    assert client.post("/v1/payments", json=card_body(), headers=bad_internal).status_code == 401
    broken = client.post(
        "/v1/payments", content=b"{not json", headers={**h, "content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert client.get("/v1/payments/does-not-exist", headers=h).status_code == 404
    assert client.get("/v1/payments/bad%20id", headers=h).status_code == 422
    assert client.get("/v1/payments", headers=h).status_code == 422  # reference is required
    # Regression (found by schemathesis): a NUL in the reference reached Postgres, 500.
    nul = client.get("/v1/payments", params={"reference": "order\x00"}, headers=h)
    assert nul.status_code == 422, nul.text


def test_free_text_with_a_nul_is_a_422_not_a_500(client: TestClient, headers: Headers) -> None:
    """Regression (found by schemathesis): Postgres cannot store NUL; it was a 500."""
    response = client.post("/v1/payments", json=card_body(description="a\x00b"), headers=headers())
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.description"


def test_without_a_deployed_saga_nothing_is_created(
    svc: Services, headers: Headers, monkeypatch: pytest.MonkeyPatch, merchant: str
) -> None:
    def missing(key: str) -> str:
        raise StackOutputsUnavailable(f"the stack has no output {key!r}")

    monkeypatch.setattr(wiring, "fresh_output", missing)
    settings = PaymentSettings(saga_state_machine_arn=None)
    bare = Services(**{**svc.__dict__, "settings": settings})
    bare.saga = wiring.Saga(lambda: wiring.fresh_output(wiring.SAGA_OUTPUT))
    with TestClient(create(settings, services_override=bare)) as client:
        response = client.post("/v1/payments", json=card_body(), headers=headers())
    assert response.status_code == 503
    assert response.json()["type"].endswith("saga-unavailable")
    assert db_rows(svc, "SELECT id FROM payment.payments WHERE merchant_id = :m", m=merchant) == []
