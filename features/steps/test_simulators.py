"""Steps for features/simulators.feature: simulators in process, callbacks to a local receiver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from secrets import token_hex
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pytest_bdd import given, parsers, scenarios, then, when

from simulators import antifraud, bank, pse, sms
from simulators.testing import CallbackReceiver

pytestmark = pytest.mark.timeout(60)
scenarios("simulators.feature")


@dataclass
class SimWorld:
    """The simulators of one scenario and what the shop saw."""

    receiver: CallbackReceiver
    clients: dict[str, TestClient] = field(default_factory=dict)
    answers: list[httpx.Response] = field(default_factory=list)
    first_run: list[int] = field(default_factory=list)
    elapsed: float = 0.0
    txn: dict[str, Any] = field(default_factory=dict)
    redirect: str = ""
    evaluation: dict[str, Any] = field(default_factory=dict)
    # The secret the shop shares with PSE, made per scenario (no literal in the repository).
    pse_secret: str = field(default_factory=lambda: token_hex(32))

    def __getitem__(self, name: str) -> TestClient:
        return self.clients[name]


@pytest.fixture
def sim_world() -> Iterator[SimWorld]:
    world = SimWorld(CallbackReceiver())
    yield world
    for client in world.clients.values():
        client.__exit__(None, None, None)


@given(parsers.parse("the partner simulators run with seed {seed:d}"))
def _start(sim_world: SimWorld, seed: int) -> None:
    for name, module in (("pse", pse), ("bank", bank), ("antifraud", antifraud), ("sms", sms)):
        hook = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_world.receiver))
        client = TestClient(module.create_app(seed=seed, callback_client=hook))
        client.__enter__()
        sim_world.clients[name] = client
    config = {"callback_backoff_ms": 1, "callback_secret": sim_world.pse_secret}
    sim_world["pse"].patch("/_sim/config", json=config).raise_for_status()
    sim_world["sms"].patch("/_sim/settings", json={"delivery_delay_ms": 1})


def _fault(world: SimWorld, sim: str, rule: dict[str, Any]) -> None:
    r = world[sim].post("/_sim/faults", json=rule)
    assert r.status_code == 201, r.text


AUTHS = {"method": "POST", "path": "/v1/authorizations"}


@given(parsers.parse("the bank fails the next {n:d} authorizations with status {status:d}"))
def _fail_next(sim_world: SimWorld, n: int, status: int) -> None:
    rule = {"match": AUTHS, "effect": {"type": "error", "status": status}, "when": {"next": n}}
    _fault(sim_world, "bank", rule)


FAULT_CHANCE = parsers.parse(
    "the bank fails authorizations with status {status:d} at a {pct:d}% chance"
)


@given(FAULT_CHANCE)
def _fail_randomly(sim_world: SimWorld, status: int, pct: int) -> None:
    rule = {
        "id": "random",
        "match": AUTHS,
        "effect": {"type": "error", "status": status},
        "when": {"probability": pct / 100},
    }
    _fault(sim_world, "bank", rule)


@given(parsers.parse("the bank delays authorizations by {ms:d} ms"))
def _slow(sim_world: SimWorld, ms: int) -> None:
    _fault(sim_world, "bank", {"match": AUTHS, "effect": {"type": "latency", "ms": ms}})


@given(parsers.parse('card {number} has a balance of "{amount}"'))
def _balance(sim_world: SimWorld, number: str, amount: str) -> None:
    r = sim_world["bank"].patch(f"/_sim/cards/{number}", json={"balance_cop": amount})
    assert r.status_code == 200, r.text


def _authorize(world: SimWorld, n: int, amount: str, number: str) -> None:
    cvc = "1234" if number.startswith("37") else "123"
    card = {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": cvc}
    started = time.perf_counter()
    for i in range(n):
        body = {"amount": amount, "reference": f"order-{i}", "card": card}
        world.answers.append(world["bank"].post("/v1/authorizations", json=body))
    world.elapsed = time.perf_counter() - started


AUTHORIZE = parsers.re(
    r'the shop authorizes (?P<n>\d+) payments? of "(?P<amount>[0-9.]+)" '
    r"with card (?P<number>\d+)(?P<again> again)?$"
)


@when(AUTHORIZE)
def _authorize_step(sim_world: SimWorld, n: str, amount: str, number: str, again: str) -> None:
    if again:
        sim_world.first_run = [r.status_code for r in sim_world.answers]
        sim_world.answers = []
    _authorize(sim_world, int(n), amount, number)


@when(parsers.parse("the bank is reset to seed {seed:d} with the same fault"))
def _reset_same(sim_world: SimWorld, seed: int) -> None:
    rule = sim_world["bank"].get("/_sim/faults/random").json()
    sim_world["bank"].post("/_sim/reset")
    sim_world["bank"].post("/_sim/seed", json={"seed": seed})
    _fault(sim_world, "bank", {k: rule[k] for k in ("id", "match", "effect", "when")})


@then(parsers.parse("the bank answers {codes}"))
def _answers(sim_world: SimWorld, codes: str) -> None:
    expected = [int(c) for c in codes.split(", ")]
    assert [r.status_code for r in sim_world.answers] == expected


@then(parsers.parse('the bank journal shows {n:d} authorizations faulted by rule "{rule}"'))
def _journal_faulted(sim_world: SimWorld, n: int, rule: str) -> None:
    entries = sim_world["bank"].get("/_sim/journal", params={"fault": rule}).json()["entries"]
    assert len(entries) == n
    assert all(e["path"] == "/v1/authorizations" for e in entries)


@then("both runs got the same answers")
def _same(sim_world: SimWorld) -> None:
    assert sim_world.first_run == [r.status_code for r in sim_world.answers]


@then("some answers were 503 and some 201")
def _mixed(sim_world: SimWorld) -> None:
    assert {503, 201} <= {r.status_code for r in sim_world.answers}


@then(parsers.parse('the authorization is {status} with code "{code}"'))
def _auth_outcome(sim_world: SimWorld, status: str, code: str) -> None:
    body = sim_world.answers[-1].json()
    assert (body["status"], body["response_code"]) == (status, code)


@then(parsers.parse("the response codes are {codes}"))
def _codes(sim_world: SimWorld, codes: str) -> None:
    assert [r.json()["response_code"] for r in sim_world.answers] == codes.split(", ")


@then(parsers.parse("the answer took at least {ms:d} ms"))
def _took(sim_world: SimWorld, ms: int) -> None:
    assert sim_world.answers[-1].status_code == 201
    assert sim_world.elapsed >= ms / 1000


@when(parsers.parse('the shop starts a PSE transfer of "{amount}" at bank {code}'))
def _pse_start(sim_world: SimWorld, amount: str, code: str) -> None:
    body = {
        "amount": amount,
        "reference": "order-1",
        "bank_code": code,
        "person_type": "natural",
        "doc_type": "CC",
        "doc_number": "1020304050",
        "return_url": "http://shop.test/return",
        "confirmation_url": "http://shop.test/pse/confirm",
    }
    r = sim_world["pse"].post("/v1/transactions", json=body)
    assert r.status_code == 201, r.text
    sim_world.txn = r.json()


@when(parsers.parse('the payer presses "{decision}" on the bank page'))
def _press(sim_world: SimWorld, decision: str) -> None:
    path = f"/bank/{sim_world.txn['id']}"
    page = sim_world["pse"].get(path)
    assert f'value="{decision}"' in page.text
    r = sim_world["pse"].post(
        f"{path}/decision", data={"decision": decision}, follow_redirects=False
    )
    assert r.status_code == 303
    sim_world.redirect = r.headers["location"]


@then(parsers.parse('the browser is sent back to the shop with status "{status}"'))
def _redirected(sim_world: SimWorld, status: str) -> None:
    assert sim_world.redirect.startswith("http://shop.test/return?")
    assert f"status={status}" in sim_world.redirect


@then(
    parsers.parse(
        'the shop receives {n:d} confirmation with status "{status}" signed with the PSE secret'
    )
)
def _confirmed(sim_world: SimWorld, n: int, status: str) -> None:
    got = sim_world.receiver.wait_for(n)
    assert [r.json["data"]["status"] for r in got] == [status] * n
    assert all(r.signed_with(sim_world.pse_secret) for r in got)


@given("PSE drops the next confirmation")
def _drop(sim_world: SimWorld) -> None:
    _fault(sim_world, "pse", {"effect": {"type": "drop"}, "when": {"next": 1}})


@given("PSE signs the next confirmation wrongly")
def _bad_sig(sim_world: SimWorld) -> None:
    _fault(sim_world, "pse", {"effect": {"type": "bad_signature"}, "when": {"next": 1}})


@then("the shop receives no confirmation")
def _none(sim_world: SimWorld) -> None:
    assert sim_world["pse"].post("/_sim/callbacks/drain").json()["drained"] is True
    assert sim_world.receiver.received == []


@then("the PSE journal shows the confirmation was dropped")
def _dropped(sim_world: SimWorld) -> None:
    entries = sim_world["pse"].get("/_sim/journal", params={"kind": "callback"}).json()["entries"]
    assert [(e["fault"]["type"], e["status"]) for e in entries] == [("drop", 0)]


@then(
    parsers.parse(
        'the shop receives {n:d} confirmation with status "{status}" '
        "whose signature does not verify"
    )
)
def _unverified(sim_world: SimWorld, n: int, status: str) -> None:
    got = sim_world.receiver.wait_for(n)
    assert [r.json["data"]["status"] for r in got] == [status]
    assert not got[0].signed_with(sim_world.pse_secret)


@given(parsers.parse('the SMS provider holds the "{status}" receipt until the next one'))
def _reorder(sim_world: SimWorld, status: str) -> None:
    rule = {"match": {"body": {"status": status}}, "effect": {"type": "reorder"}}
    _fault(sim_world, "sms", rule)


@when(parsers.parse('the shop sends an SMS to "{to}" with receipts'))
def _sms(sim_world: SimWorld, to: str) -> None:
    body = {"to": to, "body": "Su código es 123456", "callback_url": "http://shop.test/sms"}
    assert sim_world["sms"].post("/v1/messages", json=body).status_code == 201


@then(parsers.parse("the receipts arrive as {order}"))
def _receipts(sim_world: SimWorld, order: str) -> None:
    got = sim_world.receiver.wait_for(2)
    assert [r.json["data"]["status"] for r in got] == order.split(", ")


@when(parsers.parse('antifraud evaluates a payment of "{amount}" from "{email}"'))
def _evaluate(sim_world: SimWorld, amount: str, email: str) -> None:
    r = sim_world["antifraud"].post("/v1/evaluations", json={"amount": amount, "email": email})
    sim_world.evaluation = r.json()


@then(parsers.parse('antifraud decides "{decision}" because of "{code}"'))
def _decided(sim_world: SimWorld, decision: str, code: str) -> None:
    assert sim_world.evaluation["decision"] == decision
    assert [r["code"] for r in sim_world.evaluation["reasons"]] == [code]
