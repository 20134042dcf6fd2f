"""Steps for features/secret_rotation.feature: rotations of the running stack's own secrets.

Needs a stack started with issue 6's code (services read credentials per connection and
partner keys per request); the Background fails with that advice otherwise. The JWT
scenarios need auth and the gateway of this checkout: auth checks the secret's versions
every 2 s, the gateway refetches auth's JWKS on an unknown kid and every 15 s.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import payments_support as sup
import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from paylab import cli_secrets
from paylab.core.aws import client
from paylab.core.internal_auth import internal_credential
from paylab.core.settings import get_settings
from paylab.devstack.demo import demo_login
from paylab.devstack.internal_probes import refused_by

pytestmark = [pytest.mark.stack, pytest.mark.timeout(300)]
scenarios("secret_rotation.feature")

ANTIFRAUD = "http://127.0.0.1:9003"
KEY_CHECK_FAULT = {
    "id": "secret-rotation-key-check",
    "match": {"method": "GET", "path": "/v1/auth/check"},
    "effect": {"type": "error", "status": 503},
}


@dataclass
class RotationWorld:
    """The merchant, the versions seen before rotating, and what the stream answered."""

    merchant: sup.Merchant | None = None
    before: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    answers: list[httpx.Response] = field(default_factory=list)
    rotated: list[cli_secrets.Rotated] = field(default_factory=list)
    failure: str | None = None
    logins: list[httpx.Response] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # JWT scenarios: which token when


@pytest.fixture
def world() -> Any:
    state = RotationWorld()
    yield state
    httpx.delete(f"{ANTIFRAUD}/_sim/faults/{KEY_CHECK_FAULT['id']}", timeout=5.0)
    if state.merchant is not None:
        state.merchant.http.close()


def _sm() -> Any:
    return client("secretsmanager")


def _stages(name: str) -> dict[str, list[str]]:
    arn = cli_secrets.resolve(_sm(), get_settings().stack_name, name)["ARN"]
    found: dict[str, list[str]] = _sm().describe_secret(SecretId=arn)["VersionIdsToStages"]
    return found


def _version(stages: dict[str, list[str]], stage: str) -> str | None:
    return next((v for v, labels in stages.items() if stage in labels), None)


def _rotate(world: RotationWorld, name: str) -> None:
    world.before.setdefault(name, _stages(name))
    sm = _sm()
    arn = cli_secrets.resolve(sm, get_settings().stack_name, name)["ARN"]
    try:
        world.rotated.append(cli_secrets.rotate(sm, client("logs"), arn, timeout=60))
    except cli_secrets.RotationFailed as exc:
        world.failure = str(exc)


@given("the stack checks partner API keys")
def _keys_checked() -> None:
    for name, port in (("bank", 9002), ("antifraud", 9003)):
        r = httpx.get(f"http://127.0.0.1:{port}/_sim/api-keys", timeout=5.0)
        assert r.status_code == 200 and r.json()["configured"], (
            f"the {name} simulator checks no API keys: restart the stack (./paylab down && up)"
        )


@given("the demo merchant is logged in through the gateway")
def _demo(world: RotationWorld) -> None:
    demo, token = demo_login(sup.GATEWAY)
    http = httpx.Client(
        base_url=sup.GATEWAY, headers={"Authorization": f"Bearer {token}"}, timeout=30.0
    )
    world.merchant = sup.Merchant(
        demo["merchant_id"], demo["public_key"], demo["private_key"], http
    )
    sup.ensure_card_balance(sup.APPROVED_CARD, "5000000.00")


def _pay(world: RotationWorld, token: str | None = None) -> httpx.Response:
    """A card payment with the scenario's token (or `token`)."""
    assert world.merchant is not None
    ref = sup.unique("rot")
    body = sup.card_payment("1000.00", sup.APPROVED_CARD, reference=ref, email=f"{ref}@paylab.test")
    if token is None:
        return world.merchant.pay(body)
    bearer = {"Authorization": f"Bearer {token}"}
    return world.merchant.call(
        "POST", "/v1/payments", json=body, key=sup.unique("i"), headers=bearer
    )


def _while_rotating(
    world: RotationWorld,
    name: str,
    count: int,
    one: Callable[[], None],
    times: int = 1,
    then: Callable[[], None] | None = None,
) -> None:
    """Run `one` `count` times in a thread, rotating `name` (`times` times in a row) once a
    quarter of them ran. With `then`, the rest wait until the rotations and `then` are done."""
    started, rotated = threading.Event(), threading.Event()

    def run() -> None:
        for i in range(count):
            one()
            if i == count // 4:
                started.set()  # rotate with payments before, during and after it
                if then is not None:
                    assert rotated.wait(180), "the rotations did not finish"
        started.set()

    stream = threading.Thread(target=run)
    stream.start()
    assert started.wait(120), "the payment stream did not start"
    for _ in range(times):
        _rotate(world, name)
    if then is not None:
        then()
    rotated.set()
    stream.join(240)
    assert not stream.is_alive(), "the payment stream did not finish"
    assert world.failure is None, world.failure


@when(parsers.parse('{count:d} card payments run while "{name}" is rotated'))
def _stream(world: RotationWorld, count: int, name: str) -> None:
    _while_rotating(world, name, count, lambda: world.answers.append(_pay(world)))


def _show_services_the_newest_credential() -> None:
    """What the first caller with the new value does: every service reads the secret again,
    and from then on refuses the value two rotations old that the gateway and the Lambdas
    may still hold (otherwise they would go on accepting it until their 30 s re-read)."""
    refusing = refused_by(internal_credential(refresh=True))
    assert not any(refusing.values()), refusing


@when(parsers.parse('{count:d} card payments run while "{name}" is rotated twice in a row'))
def _stream_twice(world: RotationWorld, count: int, name: str) -> None:
    _while_rotating(
        world,
        name,
        count,
        lambda: world.answers.append(_pay(world)),
        times=2,
        then=_show_services_the_newest_credential,
    )


@when(
    parsers.parse('{count:d} card payments, each after a new login, run while "{name}" is rotated')
)
def _login_stream(world: RotationWorld, count: int, name: str) -> None:
    def one() -> None:
        token = _login(world)
        if token is not None:
            world.answers.append(_pay(world, token))

    _while_rotating(world, name, count, one)


@when(parsers.parse('"{name}" is rotated'))
def _rotate_step(world: RotationWorld, name: str) -> None:
    _rotate(world, name)


@given("the antifraud partner fails its key check")
def _fail_check() -> None:
    r = httpx.post(f"{ANTIFRAUD}/_sim/faults", json=KEY_CHECK_FAULT, timeout=5.0)
    assert r.status_code == 201, r.text


@when("the antifraud partner's key check works again")
def _fix_check(world: RotationWorld) -> None:
    httpx.delete(f"{ANTIFRAUD}/_sim/faults/{KEY_CHECK_FAULT['id']}", timeout=5.0)
    world.failure = None


@then(parsers.parse('the rotation is reported failed at "{step}"'))
def _failed_at(world: RotationWorld, step: str) -> None:
    assert world.failure is not None, "the rotation did not fail"
    assert f"failed at {step}" in world.failure, world.failure


@then(parsers.parse('the AWSCURRENT version of "{name}" did not change'))
def _unchanged(world: RotationWorld, name: str) -> None:
    before = _version(world.before[name], "AWSCURRENT")
    assert _version(_stages(name), "AWSCURRENT") == before


@then(parsers.parse('"{name}" has a new AWSCURRENT version and the old one is AWSPREVIOUS'))
def _new_current(world: RotationWorld, name: str) -> None:
    old = _version(world.before[name], "AWSCURRENT")
    stages = _stages(name)
    assert _version(stages, "AWSCURRENT") not in (None, old)
    assert _version(stages, "AWSPREVIOUS") == old


@then(parsers.parse('"{name}" went through {count:d} new versions'))
def _versions(world: RotationWorld, name: str, count: int) -> None:
    assert world.failure is None, world.failure
    made = {r.version for r in world.rotated if r.name.endswith(name)}
    assert len(made) == count
    assert _version(_stages(name), "AWSCURRENT") in made
    assert _version(world.before[name], "AWSCURRENT") not in made


@then(parsers.parse('every payment was accepted and ended "{status}"'))
def _all_final(world: RotationWorld, status: str) -> None:
    assert world.merchant is not None
    refused = [(r.status_code, r.text) for r in world.answers if r.status_code != 201]
    assert refused == [], f"failed requests during the rotation: {refused}"
    refused_logins = [(r.status_code, r.text) for r in world.logins if r.status_code != 200]
    assert refused_logins == [], f"failed logins during the rotation: {refused_logins}"
    ids = [r.json()["id"] for r in world.answers]
    assert len(set(ids)) == len(ids)
    ends = {pid: world.merchant.wait_final(pid)["status"] for pid in ids}
    assert set(ends.values()) == {status}, json.dumps(ends)


@then(parsers.parse('a card payment still ends "{status}"'))
def _one_payment(world: RotationWorld, status: str) -> None:
    assert world.merchant is not None
    answer = _pay(world)
    assert answer.status_code == 201, answer.text
    assert world.merchant.wait_final(answer.json()["id"])["status"] == status


# ------------------------------------------------------------------------ the JWT signing key
JWT_SECRET = "jwt-signing-key"


def _login(world: RotationWorld) -> str | None:
    """A new login through the gateway (a 429 waits for Retry-After); its token, or None."""
    assert world.merchant is not None
    body = {"public_key": world.merchant.public_key, "private_key": world.merchant.private_key}
    for _ in range(5):
        answer = httpx.post(f"{sup.GATEWAY}/v1/auth/login", json=body, timeout=10.0)
        if answer.status_code != 429:
            break
        time.sleep(min(float(answer.headers.get("Retry-After", "1")), 5.0))
    world.logins.append(answer)
    return str(answer.json()["bearer_token"]) if answer.status_code == 200 else None


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _current_kid() -> str:
    """The kid of the signing secret's AWSCURRENT version (nothing else of it is kept)."""
    arn = cli_secrets.resolve(_sm(), get_settings().stack_name, JWT_SECRET)["ARN"]
    return str(json.loads(_sm().get_secret_value(SecretId=arn)["SecretString"])["kid"])


def _token_with_new_key(world: RotationWorld) -> str:
    """A new login's token, once auth signs with AWSCURRENT (it checks every 2 s)."""
    kid = _current_kid()

    def probe() -> str | None:
        token = _login(world)
        assert token is not None, world.logins[-1].text
        return token if _kid(token) == kid else None

    return sup.wait_for(f"a login signed with kid {kid}", probe, timeout=20.0, first=0.5)


def _balance(token: str) -> httpx.Response:
    """An authenticated read through the gateway with `token`."""
    bearer = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{sup.GATEWAY}/v1/merchants/me/balance", headers=bearer, timeout=10.0)


@given(parsers.parse("a token issued {when}"))
def _token_issued(world: RotationWorld, when: str) -> None:
    token = _login(world)
    assert token is not None, world.logins[-1].text
    world.tokens[when] = token


@when(parsers.parse("a token is issued {when} with the new key"))
def _token_issued_new(world: RotationWorld, when: str) -> None:
    world.tokens[when] = _token_with_new_key(world)


@then("new logins get the new key's kid, and payments with their tokens are approved")
def _new_logins(world: RotationWorld) -> None:
    assert world.merchant is not None
    token = _token_with_new_key(world)
    world.merchant.http.headers["Authorization"] = f"Bearer {token}"  # for later steps too
    answer = _pay(world)
    assert answer.status_code == 201, answer.text
    assert world.merchant.wait_final(answer.json()["id"])["status"] == "approved"


@then(parsers.parse("the token issued {when} still works"))
def _still_works(world: RotationWorld, when: str) -> None:
    answer = _balance(world.tokens[when])
    assert answer.status_code == 200, answer.text


@then(parsers.parse("the token issued {when} is refused with 401 within {seconds:d} s"))
def _refused(world: RotationWorld, when: str, seconds: int) -> None:
    token = world.tokens[when]

    def probe() -> httpx.Response | None:
        answer = _balance(token)
        # Until the gateway refetches auth's JWKS the old key is still known; never a 5xx.
        assert answer.status_code in (200, 401), answer.text
        return answer if answer.status_code == 401 else None

    answer = sup.wait_for("the gateway to refuse the old token", probe, timeout=seconds)
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "unknown key" in answer.json()["detail"], answer.text
