"""Callback signing secrets: the payment side's verifier and what `paylab up` pushes to the sims."""

from __future__ import annotations

import json
from secrets import token_hex

import httpx
import pytest

from paylab.core.secrets import SecretReader
from paylab.devstack.simulator_secrets import (
    CALLBACK_PARTNERS,
    callback_secret_output,
    push_partner_secrets,
)
from paylab.payment.callback_signature import CallbackSignature, signature
from simulators.callbacks import sign

from .fakes import FakeSecretsManager

SECRET_ID = "paylab/callbacks/pse"
BODY = b'{"event_id":"evt_1","event":"pse.transaction.approved","data":{}}'


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _value(secret: str, partner: str = "pse") -> str:
    return json.dumps({"partner": partner, "callback_secret": secret})


def _verifier(secret: str) -> tuple[CallbackSignature, FakeSecretsManager, Clock]:
    sm = FakeSecretsManager()
    sm.create(SECRET_ID, _value(secret))
    clock = Clock()
    reader = SecretReader(ttl_seconds=300, sm=sm)
    return CallbackSignature(SECRET_ID, reader=reader, clock=clock), sm, clock


def test_the_payment_side_signs_like_the_simulator() -> None:
    secret = token_hex(16)
    assert signature(secret, BODY) == sign(secret, BODY)


def test_only_the_secret_s_signature_over_the_exact_body_passes() -> None:
    secret = token_hex(16)
    verifier, _, _ = _verifier(secret)
    assert verifier.verify(BODY, sign(secret, BODY))
    assert not verifier.verify(BODY + b" ", sign(secret, BODY))
    assert not verifier.verify(BODY, sign(token_hex(16), BODY))
    assert not verifier.verify(BODY, None) and not verifier.verify(BODY, "")


def test_a_replaced_secret_is_read_again_once_on_mismatch() -> None:
    old, new = token_hex(16), token_hex(16)
    verifier, sm, clock = _verifier(old)
    assert verifier.verify(BODY, sign(old, BODY))
    sm.put_secret_value(SECRET_ID, "v2", _value(new), ["AWSCURRENT"])
    reads = sm.reads
    assert verifier.verify(BODY, sign(new, BODY))
    assert sm.reads == reads + 1
    clock.now += 0.1
    assert verifier.verify(BODY, sign(new, BODY)) and sm.reads == reads + 1  # cached now


def test_forged_signatures_refresh_at_most_once_a_second() -> None:
    verifier, sm, clock = _verifier(token_hex(16))
    verifier.verify(BODY, "sha256=" + "0" * 64)
    reads = sm.reads
    for _ in range(20):
        assert not verifier.verify(BODY, "sha256=" + "0" * 64)
    assert sm.reads == reads
    clock.now += 1.5
    assert not verifier.verify(BODY, "sha256=" + "0" * 64)
    assert sm.reads == reads + 1


def test_up_pushes_api_keys_and_callback_secrets_to_the_simulators() -> None:
    sm = FakeSecretsManager()
    ports = {"pse": 1, "bank": 2, "antifraud": 3, "sms": 4}
    outputs, keys, secrets = {}, {}, {}
    for partner in ports:
        keys[partner] = token_hex(24)
        sm.create(f"paylab/partners/{partner}", json.dumps({"api_key": keys[partner]}))
        outputs[f"{partner.capitalize()}ApiKeySecretArn"] = f"paylab/partners/{partner}"
    for partner in CALLBACK_PARTNERS:
        secrets[partner] = token_hex(32)
        sm.create(f"paylab/callbacks/{partner}", _value(secrets[partner], partner))
        outputs[callback_secret_output(partner)] = f"paylab/callbacks/{partner}"
    seen: list[tuple[str, int, str, dict[str, object]]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        port = request.url.port or 0
        seen.append((request.method, port, request.url.path, json.loads(request.content)))
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(handle)) as http:
        push_partner_secrets(outputs, ports, lambda _: None, reader=SecretReader(sm=sm), http=http)
    pushed_keys = {p: b["key"] for m, p, path, b in seen if path == "/_sim/api-keys"}
    assert pushed_keys == {ports[p]: keys[p] for p in ports}
    pushed = {p: b for m, p, path, b in seen if path == "/_sim/config" and m == "PATCH"}
    assert pushed == {ports[p]: {"callback_secret": secrets[p]} for p in CALLBACK_PARTNERS}


def test_only_partners_that_call_back_have_a_callback_secret() -> None:
    assert callback_secret_output("pse") == "PseCallbackSecretArn"
    with pytest.raises(ValueError, match="sends no callbacks"):
        callback_secret_output("bank")
