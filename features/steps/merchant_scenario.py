"""One merchants-feature scenario's state and the signup, login and charge its steps share.

Each scenario signs up its own merchants (unique NITs, its own loopback address) and scopes
receiver faults to its merchant's p_cust_id_cliente; faults, receiver keys and a restarted
merchant service are put back afterwards, even on failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import merchants_support as ms
import payments_support as sup

WEBHOOK_WAIT = 60.0


@dataclass
class MerchantWorld:
    """One scenario's partner, merchants, payment and what came back."""

    cleanup: ExitStack
    partner: httpx.Client
    form: dict[str, Any] = field(default_factory=ms.signup_form)
    key: str = field(default_factory=lambda: sup.unique("signup"))
    answers: list[httpx.Response] = field(default_factory=list)
    merchant: sup.Merchant | None = None
    keys: dict[str, str] = field(default_factory=dict)  # p_cust_id_cliente, p_key
    old_p_key: str = ""
    payment_id: str = ""
    ref_payco: str = ""
    fault: str = ""
    backoff_base: float = 0.0
    attempts: int = 0
    others: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)  # what a step keeps for a later one

    @property
    def signup(self) -> dict[str, Any]:
        """The last signup's answer."""
        assert self.answers, "no signup yet"
        body: dict[str, Any] = self.answers[-1].json()
        return body

    @property
    def m(self) -> sup.Merchant:
        """The merchant that logged in last."""
        assert self.merchant is not None, "the merchant has not logged in"
        return self.merchant


@contextmanager
def merchant_world() -> Iterator[MerchantWorld]:
    """A fresh scenario with a partner client of its own; everything it changed put back."""
    with ExitStack() as stack:
        partner = stack.enter_context(ms.partner_client())
        world = MerchantWorld(stack, partner)
        yield world
        if world.merchant is not None:
            world.merchant.http.close()


def sign_up(world: MerchantWorld) -> dict[str, Any]:
    """Sign the world's form up (201), remember its signature keys; the signup's answer."""
    r = ms.signup(world.partner, world.form, world.key)
    assert r.status_code == 201, r.text
    world.answers.append(r)
    keys = world.signup["signature_keys"]
    world.keys = {"p_cust_id_cliente": keys["p_cust_id_cliente"], "p_key": keys["p_key"]}
    world.cleanup.callback(ms.receiver_forgets, keys["p_cust_id_cliente"])
    return world.signup


def log_in(world: MerchantWorld) -> sup.Merchant:
    """Log in with the last signup's API keys; the merchant, now the world's."""
    creds = world.signup["credentials"]
    world.merchant = ms.login(creds["public_key"], creds["private_key"])
    assert world.m.merchant_id == world.signup["merchant"]["id"]
    return world.m


def point_at_receiver(merchant: sup.Merchant, url: str = ms.CONFIRMATION_URL) -> None:
    """Set the merchant's confirmation URL through the gateway."""
    r = merchant.call("PUT", "/v1/merchants/me/webhook", json={"confirmation_url": url})
    assert r.status_code == 200, r.text
    assert r.json()["confirmation_url"] == url


def charge(world: MerchantWorld, amount: str, card: str) -> None:
    """A card payment by the world's merchant; its id and ref_payco."""
    if card == sup.APPROVED_CARD:  # shared by every run: others' payments spend it down
        sup.ensure_card_balance(card)
    body = sup.card_payment(
        amount, card, reference=sup.unique("order"), email=f"{sup.unique('payer')}@example.com"
    )
    r = world.m.pay(body)
    assert r.status_code == 201, r.text
    world.payment_id = str(r.json()["id"])
    world.ref_payco = str(r.json()["ref_payco"])


def the_confirmation(world: MerchantWorld) -> dict[str, Any]:
    """The one confirmation the receiver recorded for the world's payment."""
    [hook] = ms.confirmations(world.ref_payco)
    return hook
