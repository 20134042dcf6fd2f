"""The public API fuzzed live through the gateway: no 5xx, no schema drift, no 2xx for bad input.

Needs the running stack (`./paylab up`) and fails, never skips, without it. It acts as a fresh
merchant of its own (keys from auth's internal API, a COP account in the wallet), so it
cannot touch another test's merchant, and it connects from a loopback address of its own
(127.x.y.z, picked per run): the gateway's anonymous limit and auth's failed-login throttle
count per client IP, and fuzzing login with made-up keys must not spend the budget of
whoever else logs in from 127.0.0.1. Everything stays on loopback; the only money that can
move is the test merchant's (a fuzzed card seldom passes Luhn, cvc and expiry checks).
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from requests.adapters import HTTPAdapter
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from paylab.core.internal_auth import HEADER, internal_credential

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "contracts" / "openapi" / "gateway.yaml"
GATEWAY = "http://127.0.0.1:8080"
AUTH = "http://127.0.0.1:8001"
WALLET = "http://127.0.0.1:8003"

# Bounded: the whole file takes about a minute on the 2-core dev box (limit: 4 minutes).
MAX_EXAMPLES = 50
STATEFUL_SCENARIOS = 25
STATEFUL_STEPS = 6
pytestmark = [pytest.mark.stack, pytest.mark.timeout(240)]

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
]
# Every status below is documented for the operations that can answer it; 413 is how the
# gateway refuses an oversized (fuzzed) body.
REJECTIONS = ["400", "401", "404", "409", "413", "422", "429"]

schema = schemathesis.openapi.from_path(SPEC)
schema.config.update(base_url=GATEWAY, request_timeout=20)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    # The bearer token is the session's; a fuzzed Authorization header only tests the 401.
    with_security_parameters=False,
    database="none",
)
schema.config.checks.negative_data_rejection.expected_statuses = REJECTIONS

_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
# A 429 of the merchant's limit (GCRA) asks for a second or two; a longer one is the login
# throttle, which the fuzzer spends on purpose: that 429 is judged as the answer it is.
_SHORT_WAITS = {"1", "2"}
_MAX_WAIT = 30.0  # seconds, per request


class _SourceAddressAdapter(HTTPAdapter):
    """Connects from a chosen loopback address, so the gateway sees a client of its own."""

    def __init__(self, source: str) -> None:
        self._source = (source, 0)
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = self._source
        super().init_poolmanager(*args, **kwargs)


@dataclass
class Merchant:
    """The test's own merchant: its id, bearer token and a session from its own address."""

    merchant_id: str
    token: str
    session: requests.Session

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def gateway() -> str:
    """Fail (never skip) when the gateway does not answer."""
    try:
        httpx.get(f"{GATEWAY}/health", timeout=3.0).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.fail(
            f"the stack is not running: run ./paylab up (no answer from {GATEWAY}: {exc!r})",
            pytrace=False,
        )
    return GATEWAY


@pytest.fixture(scope="session")
def merchant(gateway: str) -> Iterator[Merchant]:
    """A fresh merchant with keys, a COP account and a bearer token, logged in via the gateway."""
    merchant_id = f"fuzz-{uuid.uuid4().hex[:12]}"
    internal = {HEADER: internal_credential()}
    keys = _patiently(f"{AUTH}/internal/merchants/{merchant_id}/api-keys", headers=internal)
    assert keys.status_code == 201, keys.text
    account = _patiently(
        f"{WALLET}/internal/accounts",
        headers=internal,
        json={"merchant_id": merchant_id, "currency": "COP"},
    )
    assert account.status_code in (200, 201), account.text
    a, b, c = secrets.token_bytes(3)
    source = f"127.{64 + a % 180}.{b}.{1 + c % 254}"  # a fresh client address on loopback
    session = requests.Session()
    session.trust_env = False  # loopback only: never through an environment proxy
    session.mount("http://", _SourceAddressAdapter(source))
    pair = keys.json()
    login = session.post(
        f"{gateway}/v1/auth/login",
        json={"public_key": pair["public_key"], "private_key": pair["private_key"]},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    merchant = Merchant(merchant_id, login.json()["bearer_token"], session)
    yield merchant
    session.close()


def _patiently(url: str, **kwargs: Any) -> httpx.Response:
    """POST to a service, waiting (bounded) while another suite has it restarting."""
    deadline = time.monotonic() + _MAX_WAIT
    while True:
        try:
            return httpx.post(url, timeout=10.0, **kwargs)
        except httpx.TransportError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1.0)


def _fresh_idempotency_key(case: Any) -> None:
    """A unique key per request when the fuzzer drew a valid one; invalid ones stay invalid.

    Hypothesis draws the same few short keys again and again; reused with another body they
    would turn most payments into 409s and hide what the body does.
    """
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and _VALID_KEY.match(key):
        headers["Idempotency-Key"] = f"fuzz-{uuid.uuid4().hex}"


def _call(case: Any, merchant: Merchant) -> Response:
    """Send the case, waiting out (bounded) a 429 from the merchant's limit or an upstream's 503.

    The feature suite may be restarting a service to test SAGA recovery while this runs; the
    gateway's 503 then is the documented answer, but not what the fuzzer is here to judge.
    """
    _fresh_idempotency_key(case)
    _plausible_card_payment(case)
    deadline = time.monotonic() + _MAX_WAIT
    while True:
        response: Response = case.call(session=merchant.session, headers=merchant.headers)
        retry_after = response.headers.get("retry-after", [""])[0]
        transient = (response.status_code == 429 and retry_after in _SHORT_WAITS) or (
            response.status_code == 503 and _problem_type(response) == "upstream-unavailable"
        )
        if not transient or time.monotonic() >= deadline:
            return response
        time.sleep(1.0)


def _plausible_card_payment(case: Any) -> None:
    """Give a schema-valid card payment a chance to pass the rules the schema cannot say.

    Only one fuzzed card in ~30 passes Luhn, the brand's cvc length and a future expiry, so
    positive cases would almost never create a payment and the links from it would go
    untested. The fixed case stays schema-valid; negative cases are left alone.
    """
    body = case.body
    if case.operation.label != "POST /v1/payments" or not isinstance(body, dict):
        return
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    card = body.get("card")
    if body.get("method") != "card" or not isinstance(card, dict):
        return
    for other in ("pse", "wallet"):
        body.pop(other, None)
    number = str(card["number"])[:-1]
    card["number"] = number + _luhn_digit(number)
    card["cvc"] = "1234" if number.startswith(("34", "37")) else "123"
    card["exp_year"] = max(int(card["exp_year"]), datetime.now(UTC).year + 1)


def _luhn_digit(payload: str) -> str:
    """The check digit that makes `payload` + digit pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _problem_type(response: Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("type", "")).rsplit("/", 1)[-1] if isinstance(body, dict) else ""


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_by_the_contract(case: Any, merchant: Merchant) -> None:
    response = _call(case, merchant)
    case.validate_response(response, checks=CHECKS, headers=merchant.headers)


@pytest.fixture
def state_machine(merchant: Merchant) -> type[schemathesis.stateful.APIStateMachine]:
    """Chains create → get / refund (payments) and create → get (wallets) by the spec's links."""
    base = schema.as_state_machine()

    class Machine(base):  # type: ignore[valid-type, misc]
        def call(self, case: Any, **kwargs: Any) -> Response:
            return _call(case, merchant)

        def validate_response(
            self, response: Response, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS, headers=merchant.headers)

    return Machine


def test_linked_operations_keep_the_contract(
    state_machine: type[schemathesis.stateful.APIStateMachine],
) -> None:
    state_machine.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
