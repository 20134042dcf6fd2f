"""Under any interleaving money is never overdrawn, double-held or double-resolved.

Each test starts N threads on a barrier so their transactions overlap on real Postgres.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import pytest

from paylab.wallet.operations import Outcome, WalletError
from paylab.wallet.schemas import HoldCapture, HoldCreate, HoldRelease, PayoutCreate
from paylab.wallet.service import WalletService

from .conftest import Merchant, uid

T = TypeVar("T")
pytestmark = pytest.mark.timeout(120)


def together(n: int, work: Callable[[int], T]) -> list[T]:
    """Run work(0..n-1) in n threads released at the same instant."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def hold(merchant: Merchant, method: str, amount: str, payer: str | None = None) -> HoldCreate:
    return HoldCreate.model_validate(merchant.hold_request(method, amount, payer))


def test_concurrent_reserves_never_overdraw(
    service: WalletService, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    n, each = 32, Decimal("7000.00")
    payer = merchant.wallet(funded="100000.00")
    outcomes = together(
        n, lambda _: service.reserve(hold(merchant, "wallet", str(each), payer), uid("corr"))
    )
    held = [o for o in outcomes if o.status == 201]
    refused = [o for o in outcomes if o.status == 409]
    assert len(held) == 14  # floor(100000 / 7000)
    assert len(refused) == n - 14
    assert all(o.body["type"].endswith("/insufficient-funds") for o in refused)
    balance = merchant.balance(payer)
    assert (balance["available"], balance["held"]) == ("2000.00", "98000.00")
    ledger_ok()


def test_concurrent_retries_of_one_operation_hold_once(
    service: WalletService, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    payer = merchant.wallet(funded="100000.00")
    request = hold(merchant, "wallet", "60000.00", payer)
    outcomes = together(16, lambda _: service.reserve(request, uid("corr")))
    assert {o.status for o in outcomes} == {201}
    assert len({o.body["id"] for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
    assert merchant.balance(payer)["held"] == "60000.00"
    ledger_ok()


def test_concurrent_reserves_of_one_payment_with_different_operations_hold_once(
    service: WalletService, merchant: Merchant
) -> None:
    request = hold(merchant, "card", "1000.00")

    def attempt(i: int) -> str:
        try:
            other = request.model_copy(update={"operation_id": f"{request.operation_id}-{i}"})
            return str(service.reserve(other, uid("corr")).status)
        except WalletError as refused:
            return refused.slug

    outcomes = together(12, attempt)
    assert sorted(outcomes) == ["201"] + ["payment-already-held"] * 11
    assert merchant.merchant_balance()["pending"] == "1000.00"


def test_racing_capture_and_release_resolve_a_hold_exactly_once(
    service: WalletService, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    for _ in range(5):
        payer = merchant.wallet(funded="10000.00")
        hold_id = UUID(
            str(service.reserve(hold(merchant, "wallet", "10000.00", payer), "c").body["id"])
        )

        def resolve(i: int, hold_id: UUID = hold_id) -> Outcome:
            if i % 2:
                return service.capture(hold_id, HoldCapture(operation_id=uid("cap")), "c")
            return service.release(hold_id, HoldRelease(operation_id=uid("rel"), reason="r"), "c")

        outcomes = together(10, resolve)
        winners = {o.body["status"] for o in outcomes if o.status == 200}
        assert len(winners) == 1
        winner = winners.pop()
        losers = [o for o in outcomes if o.status == 409]
        assert len(losers) == 5  # every call of the other kind was refused
        assert all(o.body["type"].endswith(f"/hold-already-{winner}") for o in losers)
        balance = merchant.balance(payer)
        expected = "0.00" if winner == "captured" else "10000.00"
        assert (balance["available"], balance["held"]) == (expected, "0.00")
    ledger_ok()


def test_mixed_operations_across_accounts_never_deadlock_or_lose_money(
    service: WalletService, new_merchant: Callable[..., Merchant], ledger_ok: Callable[[], None]
) -> None:
    merchants = [new_merchant(), new_merchant()]
    payers = {m.id: [m.wallet(funded="50000.00") for _ in range(2)] for m in merchants}
    topped_up = Decimal("50000.00") * 4
    lock = threading.Lock()
    captured: list[dict[str, Any]] = []
    paid_out: list[Decimal] = []

    def worker(i: int) -> None:
        rng = random.Random(i)
        mine: list[dict[str, Any]] = []
        for _ in range(25):
            merchant = rng.choice(merchants)
            action = rng.choice(["wallet", "card", "resolve", "resolve", "payout"])
            amount = f"{rng.randint(100, 20000)}.{rng.randint(0, 99):02d}"
            if action in ("wallet", "card"):
                payer = rng.choice(payers[merchant.id]) if action == "wallet" else None
                o = service.reserve(hold(merchant, action, amount, payer), "stress")
                if o.status == 201:
                    mine.append(o.body)
            elif action == "resolve" and mine:
                h = mine.pop(rng.randrange(len(mine)))
                if rng.random() < 0.6:
                    o = service.capture(UUID(h["id"]), HoldCapture(operation_id=uid("c")), "s")
                    with lock:
                        captured.append(o.body)
                else:
                    service.release(
                        UUID(h["id"]), HoldRelease(operation_id=uid("r"), reason="x"), "s"
                    )
            elif action == "payout":
                body = {"operation_id": uid("p"), "merchant_id": merchant.id, "amount": amount}
                o = service.payout(PayoutCreate.model_validate({**body, "currency": "COP"}), "s")
                if o.status == 201:
                    with lock:
                        paid_out.append(Decimal(amount))
        for h in mine:  # leave nothing held
            service.release(UUID(h["id"]), HoldRelease(operation_id=uid("r"), reason="end"), "s")

    together(8, worker)
    ledger_ok()
    # Exact conservation: payers lost only what wallet captures took; merchants hold exactly
    # what captures paid them net of fees, minus payouts.
    payer_money = sum(
        (
            Decimal(m.balance(p)["available"]) + Decimal(m.balance(p)["held"])
            for m in merchants
            for p in payers[m.id]
        ),
        Decimal(0),
    )
    wallet_captured = sum(
        (Decimal(c["amount"]) for c in captured if c["method"] == "wallet"), Decimal(0)
    )
    assert payer_money == topped_up - wallet_captured
    merchant_money = sum(
        (Decimal(m.merchant_balance()["available"]) for m in merchants), Decimal(0)
    )
    net = sum((Decimal(c["net_amount"]) for c in captured), Decimal(0))
    assert merchant_money == net - sum(paid_out, Decimal(0))
    assert all(m.merchant_balance()["pending"] == "0.00" for m in merchants)
    for m in merchants:
        assert service.check(m.id).open_holds == 0
