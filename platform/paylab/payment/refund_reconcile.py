"""Refunds left `reserved` by an attempt that stopped half-way: finish or undo them.

A refund request reserves the merchant's part in the wallet, asks the bank (cards), then
completes the reservation (payment/refunds.py). A request that died in between (a crash,
a 503 nobody retried, a client that retried with another key) leaves the reservation open:
the merchant's money is held for good. `./paylab payments reconcile-refunds` settles each
payment whose reservations are older than a grace period, from what the bank says:

- no partner holds the money (PSE, wallet payments), or the bank refunded nothing beyond the
  completed refunds: nothing moved for them; the reservations are cancelled;
- the bank refunded exactly the completed refunds plus all the reserved ones: they are
  completed and recorded (PaymentRefunded);
- anything else (the bank refunded some of them): left reserved and reported in doubt, for
  an operator with the bank's statement.

A live request may be between its steps, so the grace period counts from a refund's last
attempt (a retry that found its reservation again touches `attempted_at` in the wallet): a
payment with a refund attempted within it is left for the next run; the payment's refunds
are listed again after the bank is read, and any change (a live request got in between)
leaves it for the next run too; and a cancel only goes through if, under the refund's row
lock, it still was not attempted since (else the wallet answers `refund-in-flight`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import structlog

from paylab.core.money import fmt, to_decimal
from paylab.core.problems import Problem
from paylab.payment.partners import PartnerRejected, PartnerUnavailable
from paylab.payment.refunds import record_refund, recorded_id
from paylab.payment.wiring import Services

log = structlog.get_logger(__name__)
Action = Literal["cancelled", "completed", "recorded", "in-doubt", "in-flight", "failed"]
#: Reserved refunds read per page (a run reads every page, the oldest first), and the most
#: refunds one payment's settlement reads.
BATCH = 500


@dataclass(frozen=True)
class Settled:
    """What a run did with one wallet refund."""

    payment_id: str
    refund_id: str
    amount: str
    action: Action
    detail: str

    def as_dict(self) -> dict[str, str]:
        """For `--json`."""
        return asdict(self)


def reconcile_refunds(
    svc: Services,
    *,
    older_than: timedelta,
    payment_id: str | None = None,
    now: datetime | None = None,
    page: int = BATCH,
) -> list[Settled]:
    """Settle every payment (or one) with a refund reserved more than `older_than` ago.

    Every stale reservation is looked at, page by page: the ones left in doubt (or failed)
    on an early page never hide later ones.
    """
    cutoff = (now or datetime.now(UTC)) - older_than
    settled: list[Settled] = []
    seen: set[str] = set()
    failed: dict[str, str] = {}  # payment -> why, for its refunds on later pages too

    def failures(one: str, stale: list[dict[str, Any]]) -> list[Settled]:
        return [_settled(r, "failed", failed[one]) for r in stale if r["payment_id"] == one]

    for stale in _stale_pages(svc, cutoff, payment_id, page):
        for one in dict.fromkeys(str(r["payment_id"]) for r in stale):
            if one in failed:
                settled += failures(one, stale)
                continue
            if one in seen:  # its refunds span two pages: settled with the first
                continue
            seen.add(one)
            try:
                settled += reconcile_payment(svc, one, cutoff)
            except (Problem, PartnerUnavailable, PartnerRejected) as exc:
                log.error("refund reconciliation failed", payment_id=one, error=str(exc))
                failed[one] = f"{exc}; the next run tries again"
                settled += failures(one, stale)
    return settled


def _stale_pages(
    svc: Services, cutoff: datetime, payment_id: str | None, page: int
) -> Iterator[list[dict[str, Any]]]:
    """The reservations last attempted before `cutoff`, a page at a time, the oldest first.

    Each page is read after the previous one was settled; the wallet pages by a key
    (creation time, id), so settling earlier refunds does not shift what comes next.
    """
    after: str | None = None
    while True:
        stale = svc.wallet.list_refunds(
            payment_id=payment_id,
            status="reserved",
            attempted_before=cutoff,
            limit=page,
            after=after,
        )
        if stale:
            yield stale
        if len(stale) < page:
            return
        after = str(stale[-1]["id"])


def reconcile_payment(svc: Services, payment_id: str, cutoff: datetime) -> list[Settled]:
    """Settle one payment's reserved refunds (all of them, or none)."""
    refunds = svc.wallet.list_refunds(payment_id=payment_id, limit=BATCH)
    reserved = [r for r in refunds if r["status"] == "reserved"]
    if any(_attempted(r) >= cutoff for r in reserved):
        return [_settled(r, "in-flight", _LIVE) for r in reserved]
    state = svc.repo.get(payment_id)
    if state is None:  # the wallet has a refund the payment service never asked for
        why = "the payment service has no such payment; an operator must look at it"
        log.error("refund in doubt", payment_id=payment_id, detail=why)
        return [_settled(r, "in-doubt", why) for r in reserved]
    settled = _record_missing(svc, payment_id, refunds, set(state.refund_ids))
    if not reserved:
        return settled
    completed = _total(r for r in refunds if r["status"] == "refunded")
    open_amount = _total(reserved)
    if state.method != "card" or not state.authorization_id:
        why = f"no partner holds this {state.method} payment's money: nothing moved for it"
        return settled + [_cancel(svc, r, why, cutoff) for r in reserved]
    at_bank = _refunded_at_bank(svc, state.authorization_id)
    if _snapshot(svc.wallet.list_refunds(payment_id=payment_id, limit=BATCH)) != _snapshot(refunds):
        return settled + [_settled(r, "in-flight", _LIVE) for r in reserved]
    if at_bank == completed:
        why = f"the bank refunded {fmt(at_bank)}, only the completed refunds"
        return settled + [_cancel(svc, r, why, cutoff) for r in reserved]
    if at_bank == completed + open_amount:
        why = f"the bank refunded {fmt(at_bank)}, these included"
        return settled + [_complete(svc, payment_id, r, why) for r in reserved]
    why = (
        f"the bank refunded {fmt(at_bank)}; completed {fmt(completed)}, reserved "
        f"{fmt(open_amount)}: some but not all of these; check the bank's statement"
    )
    log.error("refund in doubt", payment_id=payment_id, detail=why)
    return settled + [_settled(r, "in-doubt", why) for r in reserved]


_LIVE = "a refund of this payment was attempted lately and may be under way; next run"


def _refunded_at_bank(svc: Services, authorization_id: str) -> Decimal:
    answer = svc.bank.get_authorization(authorization_id)
    try:
        return to_decimal(str(answer["refunded_amount"]))
    except (KeyError, ValueError, ArithmeticError) as exc:
        raise Problem(
            503,
            "bank-unreadable",
            f"The bank's authorization has no readable refunded amount: {exc}",
        ) from exc


def _snapshot(refunds: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(str(r["id"]), str(r["status"]), str(r["attempted_at"])) for r in refunds]


def _record_missing(
    svc: Services, payment_id: str, refunds: list[dict[str, Any]], known: set[str]
) -> list[Settled]:
    """Completed refunds whose PaymentRefunded was never appended (a crash in between)."""
    missing = [r for r in refunds if r["status"] == "refunded" and recorded_id(r) not in known]
    for refund in missing:
        record_refund(svc, payment_id, refund)
    return [_settled(r, "recorded", "completed in the wallet; now recorded") for r in missing]


def _cancel(svc: Services, refund: dict[str, Any], why: str, cutoff: datetime) -> Settled:
    reason = f"reconciled: {why}"[:200]
    try:
        svc.wallet.cancel_refund(
            str(refund["id"]),
            operation_id=f"{refund['operation_id']}:cancel",
            reason=reason,
            if_not_attempted_since=cutoff,
        )
    except PartnerRejected as exc:
        if exc.body.get("type", "").endswith("/refund-in-flight"):
            return _settled(refund, "in-flight", _LIVE)
        raise
    log.info("refund reconciled", refund_id=refund["id"], action="cancelled", detail=why)
    return _settled(refund, "cancelled", why)


def _complete(svc: Services, payment_id: str, refund: dict[str, Any], why: str) -> Settled:
    done = svc.wallet.complete_refund(
        str(refund["id"]), operation_id=f"{refund['operation_id']}:complete", reference=None
    )
    record_refund(svc, payment_id, done)
    log.info("refund reconciled", refund_id=refund["id"], action="completed", detail=why)
    return _settled(refund, "completed", why)


def _attempted(refund: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(refund["attempted_at"]))


def _total(refunds: Iterable[dict[str, Any]]) -> Decimal:
    return sum((to_decimal(str(r["amount"])) for r in refunds), Decimal(0))


def _settled(refund: dict[str, Any], action: Action, detail: str) -> Settled:
    payment_id, refund_id, amount = (str(refund[k]) for k in ("payment_id", "id", "amount"))
    return Settled(payment_id, refund_id, amount, action, detail)
