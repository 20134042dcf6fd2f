"""Helpers for the payment features: merchants, the gateway, the SAGA's history, the books.

Everything here talks to the running stack over loopback (`./paylab up`); nothing sleeps
blindly: waits poll with a deadline and back off.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

import httpx
import psutil
from sqlalchemy import Engine, text

from paylab.core.aws import client as aws_client
from paylab.core.db import service_engine, session_factory
from paylab.core.internal_auth import HEADER, MERCHANT_HEADER, internal_credential
from paylab.core.partner_keys import partner_auth
from paylab.core.settings import get_settings
from paylab.core.stack_outputs import output
from paylab.devstack.process import ProcessManager, ProcessSpec
from paylab.payment import domain
from paylab.payment.event_store import EventStore
from paylab.payment.replay import Replay, replay
from paylab.payment.repository import PaymentRepository
from paylab.payment.schemas import luhn_ok
from paylab.wallet import ledger, store
from paylab.wallet.settings import WalletSettings

# PAYLAB_QA_<NAME>_URL points a run at development copies of the services (say, this
# checkout's on other ports while the stack runs the committed code); the SAGA's Lambdas
# still call the stack's own services.
GATEWAY = os.environ.get("PAYLAB_QA_GATEWAY_URL", "http://127.0.0.1:8080")
AUTH = os.environ.get("PAYLAB_QA_AUTH_URL", "http://127.0.0.1:8001")
PAYMENT = os.environ.get("PAYLAB_QA_PAYMENT_URL", "http://127.0.0.1:8002")
WALLET = os.environ.get("PAYLAB_QA_WALLET_URL", "http://127.0.0.1:8003")
SIMS = {"pse": "http://127.0.0.1:9001", "bank": "http://127.0.0.1:9002"}
ANTIFRAUD = "http://127.0.0.1:9003"
FINAL = frozenset({"approved", "rejected", "failed", "reversed", "abandoned", "cancelled"})
T = TypeVar("T")


class TimedOut(AssertionError):
    """A wait's deadline passed; the message says what was awaited and what was last seen."""


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float, first: float = 0.1) -> T:
    """Call `probe` until it returns something, backing off from `first` to 1 s."""
    deadline = time.monotonic() + timeout
    delay = first
    while True:
        got = probe()
        if got is not None:
            return got
        if time.monotonic() >= deadline:
            raise TimedOut(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(min(delay, max(deadline - time.monotonic(), 0.01)))
        delay = min(delay * 1.5, 1.0)


def internal_headers(merchant_id: str | None = None) -> dict[str, str]:
    """Headers of a service-to-service call (and of the merchant the gateway vouches for)."""
    headers = {HEADER: internal_credential()}
    if merchant_id:
        headers[MERCHANT_HEADER] = merchant_id
    return headers


def unique(prefix: str) -> str:
    """A name no other scenario (or run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------------------- merchants
@dataclass
class Merchant:
    """A merchant with its own keys and wallet account, logged in through the gateway."""

    merchant_id: str
    public_key: str
    private_key: str
    http: httpx.Client

    def pay(self, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        """POST /v1/payments with an Idempotency-Key (a fresh one unless given)."""
        return self.call("POST", "/v1/payments", json=body, key=key or unique("idem"))

    def payment(self, payment_id: str) -> dict[str, Any]:
        """GET /v1/payments/{id}."""
        r = self.call("GET", f"/v1/payments/{payment_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def wait_final(self, payment_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """The payment once its status is final (polled through the gateway)."""

        def probe() -> dict[str, Any] | None:
            got = self.payment(payment_id)
            return got if got["status"] in FINAL else None

        return wait_for(f"payment {payment_id} to end", probe, timeout=timeout, first=0.2)

    def balance(self) -> dict[str, Decimal]:
        """The merchant's available and pending COP balance."""
        r = self.call("GET", "/v1/merchants/me/balance")
        assert r.status_code == 200, r.text
        return {k: Decimal(r.json()[k]) for k in ("available", "pending")}

    def call(
        self, method: str, path: str, *, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One gateway call; a 429 waits for Retry-After (bounded) and tries again."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if key is not None:
            headers["Idempotency-Key"] = key
        for _ in range(5):
            r = self.http.request(method, path, headers=headers, **kwargs)
            if r.status_code != 429:
                return r
            time.sleep(min(float(r.headers.get("Retry-After", "1")), 5.0))
        return r


def register_merchant(prefix: str = "qa") -> Merchant:
    """A fresh merchant: API keys from auth, a COP account in the wallet, a gateway login."""
    merchant_id = unique(prefix)
    with httpx.Client(headers=internal_headers(), timeout=10.0) as internal:
        keys = internal.post(f"{AUTH}/internal/merchants/{merchant_id}/api-keys")
        assert keys.status_code == 201, keys.text
        account = internal.post(
            f"{WALLET}/internal/accounts", json={"merchant_id": merchant_id, "currency": "COP"}
        )
        assert account.status_code in (200, 201), account.text
    pair = keys.json()
    login = httpx.post(
        f"{GATEWAY}/v1/auth/login",
        json={"public_key": pair["public_key"], "private_key": pair["private_key"]},
        timeout=10.0,
    )
    assert login.status_code == 200, login.text
    http = httpx.Client(
        base_url=GATEWAY,
        headers={"Authorization": f"Bearer {login.json()['bearer_token']}"},
        timeout=20.0,
    )
    return Merchant(merchant_id, pair["public_key"], pair["private_key"], http)


def platform_fee(amount: Decimal) -> Decimal:
    """The wallet's fee for a COP payment (its own pricing function and defaults)."""
    settings = WalletSettings()
    return ledger.platform_fee(amount, settings.fee_rate, settings.fee_fixed[ledger.Currency.COP])


# ------------------------------------------------------------------------------- payloads
def customer(email: str) -> dict[str, str]:
    """A payer as the public API takes it."""
    return {
        "email": email,
        "name": "Ana Gómez",
        "phone": "+573001234567",
        "doc_type": "CC",
        "doc_number": "1012345678",
    }


def card_payment(amount: str, number: str, *, reference: str, email: str) -> dict[str, Any]:
    """A card payment body; its description is unique too (faults match on it)."""
    cvc = "1234" if number.startswith("37") else "123"
    return {
        "amount": amount,
        "currency": "COP",
        "method": "card",
        "reference": reference,
        "description": f"QA {reference}",
        "customer": customer(email),
        "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": cvc},
    }


def pse_payment(amount: str, bank_code: str, *, reference: str, email: str) -> dict[str, Any]:
    """A PSE payment body."""
    return {
        "amount": amount,
        "currency": "COP",
        "method": "pse",
        "reference": reference,
        "description": f"QA {reference}",
        "customer": customer(email),
        "pse": {
            "bank_code": bank_code,
            "person_type": "natural",
            "doc_type": "CC",
            "doc_number": "1012345678",
        },
    }


def wallet_payment(amount: str, account_id: str, *, reference: str, email: str) -> dict[str, Any]:
    """A wallet payment body."""
    return {
        "amount": amount,
        "currency": "COP",
        "method": "wallet",
        "reference": reference,
        "description": f"QA {reference}",
        "customer": customer(email),
        "wallet": {"account_id": account_id},
    }


# ------------------------------------------------------------------------------- simulators
class Faults:
    """Fault rules added through the simulators' control API, removed on `clear`."""

    def __init__(self) -> None:
        self.added: list[tuple[str, str]] = []

    def add(self, sim: str, rule: dict[str, Any]) -> str:
        r = httpx.post(f"{SIMS[sim]}/_sim/faults", json=rule, timeout=5.0)
        assert r.status_code == 201, r.text
        rule_id = str(r.json()["id"])
        self.added.append((sim, rule_id))
        return rule_id

    def clear(self) -> None:
        for sim, rule_id in reversed(self.added):
            httpx.delete(f"{SIMS[sim]}/_sim/faults/{rule_id}", timeout=5.0)
        self.added.clear()


def bank_authorizations(reference: str) -> int:
    """How many authorization requests for `reference` (a payment id) the bank journal holds."""
    r = httpx.get(
        f"{SIMS['bank']}/_sim/journal",
        params={"kind": "request", "method": "POST", "path": "/v1/authorizations", "limit": 500},
        timeout=5.0,
    )
    assert r.status_code == 200, r.text
    return sum(1 for e in r.json()["entries"] if reference in (e.get("request_body") or ""))


def ensure_card_balance(number: str, at_least: str = "1000000.00") -> None:
    """Top a shared test card back up when earlier runs have spent it down."""
    card = httpx.get(f"{SIMS['bank']}/_sim/cards/{number}", timeout=5.0)
    assert card.status_code == 200, card.text
    if Decimal(card.json()["balance_cop"]) < Decimal(at_least):
        r = httpx.patch(
            f"{SIMS['bank']}/_sim/cards/{number}", json={"balance_cop": "5000000.00"}, timeout=5.0
        )
        assert r.status_code == 200, r.text


def new_card_number() -> str:
    """A Luhn-valid Visa number no one else uses: the bank gives it its own default balance."""
    body = "4" + f"{uuid.uuid4().int % 10**14:014d}"
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError("unreachable: one check digit always fits")


def card_balance(number: str) -> Decimal:
    """The COP balance of the card's account at the bank simulator."""
    card = httpx.get(f"{SIMS['bank']}/_sim/cards/{number}", timeout=5.0)
    assert card.status_code == 200, card.text
    return Decimal(card.json()["balance_cop"])


@contextmanager
def blocked_email(email: str) -> Iterator[None]:
    """`email` on antifraud's block list for the duration of the block."""
    auth = partner_auth("antifraud")  # antifraud's API wants our key once configured
    r = httpx.post(f"{ANTIFRAUD}/v1/lists/email", json={"value": email}, timeout=5.0, auth=auth)
    assert r.status_code in (200, 201), r.text
    try:
        yield
    finally:
        httpx.delete(f"{ANTIFRAUD}/v1/lists/email/{email}", timeout=5.0, auth=auth)


# ------------------------------------------------------------------------------- SAGA
@cache
def _sfn() -> Any:
    return aws_client("stepfunctions")


def execution_arn(payment_id: str) -> str:
    """The SAGA execution named after the payment."""
    machine = output("PaymentSagaStateMachineArn")
    return machine.replace(":stateMachine:", ":execution:") + f":{payment_id}"


def execution_exists(payment_id: str) -> bool:
    """True when a SAGA execution was started for the payment."""
    try:
        _sfn().describe_execution(executionArn=execution_arn(payment_id))
    except _sfn().exceptions.ExecutionDoesNotExist:
        return False
    return True


def execution_status(payment_id: str) -> str:
    """The execution's status now (RUNNING, SUCCEEDED, FAILED, ...)."""
    return str(_sfn().describe_execution(executionArn=execution_arn(payment_id))["status"])


def finished_execution(payment_id: str, timeout: float = 60.0) -> str:
    """The execution's final status (SUCCEEDED, FAILED, ...) once it is no longer running."""

    def probe() -> str | None:
        status = execution_status(payment_id)
        return None if status == "RUNNING" else status

    return wait_for(f"the SAGA of {payment_id} to finish", probe, timeout=timeout)


def history(payment_id: str) -> list[dict[str, Any]]:
    """Every event of the payment's execution, oldest first."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn(payment_id), "maxResults": 1000}
    while True:
        page = _sfn().get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def task_states(payment_id: str) -> list[str]:
    """The Task states the execution entered, in order, each once (retries and loops folded)."""
    seen: list[str] = []
    for event in history(payment_id):
        if event["type"] == "TaskStateEntered":
            name = event["stateEnteredEventDetails"]["name"]
            if name not in seen:
                seen.append(name)
    return seen


def failed_attempts(payment_id: str) -> dict[str, int]:
    """Task state → how many of its attempts failed (each then retried or caught)."""
    kinds = {"LambdaFunctionFailed", "TaskFailed", "LambdaFunctionTimedOut", "TaskTimedOut"}
    failures: dict[str, int] = {}
    state = ""
    for event in history(payment_id):
        if event["type"] == "TaskStateEntered":
            state = event["stateEnteredEventDetails"]["name"]
        elif event["type"] in kinds:
            failures[state] = failures.get(state, 0) + 1
    return failures


def set_pse_timeout(merchant_id: str, seconds: int | None) -> int:
    """An operator's per-merchant PSE wait (None: the default); returns the one now in force."""
    r = httpx.put(
        f"{PAYMENT}/internal/merchants/{merchant_id}/settings",
        json={"pse_timeout_seconds": seconds},
        headers=internal_headers(),
        timeout=10.0,
    )
    assert r.status_code == 200, r.text
    return int(r.json()["pse_timeout_seconds"])


# ------------------------------------------------------------------------------- the books
def ledger_check(merchant_id: str) -> dict[str, Any]:
    """The wallet's invariants, with the merchant's open holds."""
    r = httpx.get(
        f"{WALLET}/internal/ledger/check",
        params={"merchant_id": merchant_id},
        headers=internal_headers(),
        timeout=10.0,
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def pay_out(merchant_id: str, amount: Decimal) -> None:
    """Disperse `amount` of the merchant's available balance (the wallet's internal payout)."""
    r = httpx.post(
        f"{WALLET}/internal/payouts",
        json={
            "operation_id": unique("payout"),
            "merchant_id": merchant_id,
            "amount": f"{amount:.2f}",
            "currency": "COP",
        },
        headers=internal_headers(),
        timeout=10.0,
    )
    assert r.status_code == 201, r.text


@cache
def _wallet_engine() -> Engine:
    return service_engine("wallet", pool_size=1)


def payment_movements(payment_id: str) -> dict[ledger.SystemAccount, Decimal]:
    """What the payment's postings moved, in all, on each COP system account."""
    ids = {store.system_account(code, ledger.Currency.COP): code for code in ledger.SystemAccount}
    with _wallet_engine().connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.account_id, sum(e.amount) FROM wallet.entries e "
                "JOIN wallet.postings p ON p.id = e.posting_id "
                "WHERE p.payment_id = :p GROUP BY e.account_id"
            ),
            {"p": payment_id},
        ).all()
    moved = dict.fromkeys(ledger.SystemAccount, Decimal("0"))
    for account_id, total in rows:
        if account_id in ids:
            moved[ids[account_id]] = Decimal(total)
    return moved


@cache
def payment_repository() -> PaymentRepository:
    """The payment service's own repository (its role, its table), for replays."""
    sessions = session_factory(service_engine("payment", pool_size=2))
    return PaymentRepository(sessions, EventStore(output("PaymentEventStoreTableName")))


def replay_payment(payment_id: str) -> Replay:
    """Fold the payment's events and compare them with its Postgres row."""
    return replay(payment_repository(), payment_id)


def final_events(payment_id: str) -> list[domain.EventRecord]:
    """The payment's PaymentCompleted / PaymentFailed events."""
    events = payment_repository().store.load(payment_id)
    return [e for e in events if e.type in (domain.COMPLETED, domain.FAILED)]


# ------------------------------------------------------------------------------- processes
@cache
def _manager() -> ProcessManager:
    return ProcessManager(get_settings().state_dir)


def _healthy(port: int) -> bool | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200 or None
    except httpx.HTTPError:
        return None


def recorded_argv(name: str) -> list[str]:
    """The argv `./paylab up` recorded in the component's PID file."""
    import json

    record = json.loads(_manager().pid_file(name).read_text())
    return [str(a) for a in record["argv"]]


def stop_service(name: str) -> list[str]:
    """Stop one service by its PID file; returns its argv to start it again."""
    argv = recorded_argv(name)
    assert _manager().stop(name), f"{name} was not running"
    return argv


def kill_service(name: str) -> list[str]:
    """SIGKILL one service (no graceful shutdown), found by its PID file; returns its argv."""
    argv = recorded_argv(name)
    proc = _manager().running(name)
    assert proc is not None, f"{name} was not running"
    proc.kill()
    # Dead, or a zombie when its parent (whoever ran `up`) has not reaped it yet: either way
    # it serves nothing and its port is free.
    wait_for(f"{name} (PID {proc.pid}) to die", lambda: True if _dead(proc) else None, timeout=10.0)
    return argv


def _dead(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def start_service(name: str, argv: list[str], port: int, env: dict[str, str] | None = None) -> None:
    """Start a service again with `argv` (and extra `env`), and wait until it is healthy."""
    _manager().start(
        ProcessSpec(name=name, argv=argv, env=env or {}, cwd=get_settings().root, port=port)
    )
    wait_for(f"{name} to answer /health", lambda: _healthy(port), timeout=60.0)


def service_running(name: str) -> bool:
    """True while the component started as `name` is alive."""
    return _manager().running(name) is not None
