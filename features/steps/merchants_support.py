"""Helpers for features/merchants: a partner's view of signup and confirmation webhooks.

Partners reach the platform only through the public gateway (8080); their confirmation
endpoint is the merchant-side receiver (9005). Each partner client connects from its own
loopback address (127.x.y.z), so the per-address signup limits see distinct partners, as they
would in production, and scenarios never spend each other's allowance. Waits poll with a
deadline (waiting_support.wait_for); nothing sleeps blindly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from typing import Any

import httpx
import payments_support as sup
from messaging_support import peek
from typer.testing import CliRunner

from paylab.cli import app as cli
from paylab.core.aws import client as aws_client
from paylab.core.stack_outputs import output
from paylab.merchant.schemas import nit_check_digit

RECEIVER = "http://127.0.0.1:9005"
CONFIRMATION_URL = f"{RECEIVER}/confirmation"
DELIVERIES = {"pending", "delivered", "failed"}


# ------------------------------------------------------------------------------- partners
def partner_client() -> httpx.Client:
    """An anonymous gateway client from a loopback address of its own."""
    address = "127.{}.{}.{}".format(*(secrets.randbelow(254) + 1 for _ in range(3)))
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=sup.GATEWAY, transport=transport, timeout=20.0)


def signup_form(**overrides: Any) -> dict[str, Any]:
    """A valid signup form with a NIT no one else has (its DIAN check digit included)."""
    digits = str(600_000_000 + uuid.uuid4().int % 99_999_999)
    form = {
        "name": f"Tienda QA {digits}",
        "email": f"pagos-{digits}@tienda-qa.co",
        "phone": "+573001234567",
        "doc_type": "NIT",
        "doc_number": f"{digits}-{nit_check_digit(digits)}",
    }
    return form | overrides


def signup(partner: httpx.Client, form: dict[str, Any], key: str) -> httpx.Response:
    """POST /v1/merchants with no token, as ePayco's web form does."""
    return partner.post("/v1/merchants", json=form, headers={"Idempotency-Key": key})


def login(public_key: str, private_key: str) -> sup.Merchant:
    """Log in through the gateway with a signup's API keys; the merchant id is the token's."""
    http = sup.gateway_login(public_key, private_key)
    me = http.get("/v1/merchants/me")
    assert me.status_code == 200, me.text
    return sup.Merchant(str(me.json()["id"]), public_key, private_key, http)


def logs_in(public_key: str, private_key: str) -> bool:
    """True when the pair logs in through the gateway."""
    r = httpx.post(
        f"{sup.GATEWAY}/v1/auth/login",
        json={"public_key": public_key, "private_key": private_key},
        timeout=10.0,
    )
    return r.status_code == 200


def problem_slug(response: httpx.Response) -> str:
    """The last segment of a problem+json `type` (the slug the service chose)."""
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return str(response.json()["type"]).rstrip("/").rsplit("/", 1)[-1]


def registered_events(merchant_id: str) -> int:
    """How many MerchantRegistered the merchant service queued for `merchant_id` (its outbox)."""
    [(count,)] = sup.service_rows(
        "merchant",
        "SELECT count(*) FROM merchant.outbox WHERE aggregate_id = :m"
        " AND payload->>'type' = 'MerchantRegistered'",
        m=merchant_id,
    )
    return int(count)


# ------------------------------------------------------------------------------- signatures
def signature_ok(form: dict[str, str], p_cust_id_cliente: str, p_key: str) -> bool:
    """The README's partner check, verbatim: ePayco's x_signature over the signed fields."""
    signed = [form[k] for k in ("x_ref_payco", "x_transaction_id", "x_amount", "x_currency_code")]
    expected = hashlib.sha256("^".join([p_cust_id_cliente, p_key, *signed]).encode()).hexdigest()
    return hmac.compare_digest(expected, form.get("x_signature", ""))


# ------------------------------------------------------------------------------- receiver
def receiver_knows(p_cust_id_cliente: str, p_key: str) -> None:
    """Give the receiver the merchant's p_key, so it checks signatures as the merchant would."""
    r = httpx.put(
        f"{RECEIVER}/_sim/merchants/{p_cust_id_cliente}", json={"p_key": p_key}, timeout=5.0
    )
    assert r.status_code == 200, r.text


def receiver_forgets(p_cust_id_cliente: str) -> None:
    """Remove the merchant from the receiver (scenario cleanup)."""
    httpx.delete(f"{RECEIVER}/_sim/merchants/{p_cust_id_cliente}", timeout=5.0)


def confirmations(ref_payco: str) -> list[dict[str, Any]]:
    """The confirmations the receiver recorded for a payment, oldest first."""
    r = httpx.get(
        f"{RECEIVER}/_sim/webhooks", params={"x_ref_payco": ref_payco, "limit": 100}, timeout=5.0
    )
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["webhooks"]))


def post_to_receiver(form: dict[str, str]) -> bool:
    """POST a form to the receiver's confirmation endpoint; its signature verdict."""
    r = httpx.post(CONFIRMATION_URL, data=form, timeout=5.0)
    assert r.status_code == 200, r.text
    return bool(r.json()["signature_valid"])


def endpoint_down(p_cust_id_cliente: str, status: int) -> str:
    """The receiver answers `status` to this merchant's confirmations until the rule goes."""
    rule = {
        "match": {
            "method": "POST",
            "path": "/confirmation",
            "body": {"x_cust_id_cliente": p_cust_id_cliente},
        },
        "effect": {"type": "error", "status": status},
    }
    r = httpx.post(f"{RECEIVER}/_sim/faults", json=rule, timeout=5.0)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def endpoint_back(rule_id: str) -> None:
    """Remove the fault rule (idempotent)."""
    r = httpx.delete(f"{RECEIVER}/_sim/faults/{rule_id}", timeout=5.0)
    assert r.status_code in (204, 404), r.text


def failed_posts(rule_id: str, ref_payco: str) -> list[dict[str, Any]]:
    """The POSTs the fault rule answered for one payment, oldest first (the receiver's journal)."""
    r = httpx.get(
        f"{RECEIVER}/_sim/journal",
        params={"fault": rule_id, "path": "/confirmation", "order": "asc", "limit": 1000},
        timeout=5.0,
    )
    assert r.status_code == 200, r.text
    needle = f"x_ref_payco={ref_payco}&"
    return [e for e in r.json()["entries"] if needle in e["request_body"] + "&"]


# ------------------------------------------------------------------------------- the merchant side
def delivery_of(merchant: sup.Merchant, payment_id: str) -> dict[str, Any] | None:
    """The merchant's confirmation webhook for a payment (GET /v1/merchants/me/webhooks)."""
    r = merchant.call("GET", "/v1/merchants/me/webhooks", params={"limit": 200})
    assert r.status_code == 200, r.text
    found = [d for d in r.json()["items"] if d["payment_id"] == payment_id]
    assert len(found) <= 1, found
    return found[0] if found else None


def attempts_of(payment_id: str) -> list[tuple[int, int | None, str | None]]:
    """(attempt, status code, error) of each POST of the payment's webhook, in order."""
    rows = sup.service_rows(
        "merchant",
        "SELECT a.attempt, a.status_code, a.error FROM merchant.webhook_attempts a"
        " JOIN merchant.webhook_deliveries d ON d.id = a.delivery_id"
        " WHERE d.payment_id = :p ORDER BY a.attempt",
        p=payment_id,
    )
    return [(int(r[0]), r[1], r[2]) for r in rows]


def delivery_in(merchant: sup.Merchant, payment_id: str, status: str) -> dict[str, Any] | None:
    """The delivery once it has `status`, else None (a wait_for probe)."""
    assert status in DELIVERIES
    got = delivery_of(merchant, payment_id)
    return got if got is not None and got["status"] == status else None


# ------------------------------------------------------------------------------- dead letters
def dead_letter(payment_id: str) -> dict[str, Any] | None:
    """The merchant-webhooks dead letter about `payment_id`, left in its DLQ."""
    return peek(output("MerchantWebhooksDlqUrl"), payment_id)


def max_receives() -> int:
    """The merchant-webhooks queue's maxReceiveCount (its redrive policy in the template)."""
    attrs = aws_client("sqs").get_queue_attributes(
        QueueUrl=output("MerchantWebhooksQueueUrl"), AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    return int(json.loads(attrs["RedrivePolicy"])["maxReceiveCount"])


def webhooks_queue_drained() -> bool:
    """True when merchant-webhooks holds nothing visible or in flight."""
    attrs = aws_client("sqs").get_queue_attributes(
        QueueUrl=output("MerchantWebhooksQueueUrl"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(int(v) == 0 for v in attrs.values())


def paylab(*args: str) -> dict[str, Any]:
    """Run `paylab ARGS --json` in process (typer's CliRunner); its JSON answer."""
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.output)
    return answer
