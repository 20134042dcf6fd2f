"""Refunds: the money goes back through the bank and the wallet, and no peso is lost half-way.

A refund is of part of a payment or of all that is left; the one that completes the amount
reverses the payment. The order (docs/decisions.md, "Refunds"):

1. the wallet reserves the merchant's part of the refund (available -> held). When the
   merchant's available balance cannot pay it, or it is more than is left to refund, the
   answer is 409 and nothing moved anywhere: the bank was not asked yet;
2. the processor refunds: the bank for cards; PSE and wallet payments have no partner step;
3. the wallet completes the refund (to the clearing account or the payer's wallet);
4. PaymentRefunded is appended (the payment is `reversed` once refunds add up to its amount).

Every step is idempotent per refund (the rest: once per payment; a partial refund: per
Idempotency-Key), so a retry after a crash or a 503 carries on where the first attempt
stopped: the reservation is found again by its operation id, the bank answers a repeated
refund with the first one's id (same Idempotency-Key), completing twice changes nothing. If
the bank refuses a first attempt for good, the reservation is cancelled and the merchant keeps
its money; if it refuses a retry, the refund is in doubt and stays reserved (decisions.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import structlog

from paylab.core.money import fmt
from paylab.core.problems import Problem
from paylab.payment import domain
from paylab.payment.domain import PaymentState, Status
from paylab.payment.partners import PartnerRejected, PartnerUnavailable, unavailable
from paylab.payment.repository import NewEvents
from paylab.payment.service import owned_payment
from paylab.payment.wiring import Services

log = structlog.get_logger(__name__)
_CONTROL = re.compile(r"[\x00-\x1f]+")


#: Attempts at refunding the rest of one payment state (each cancelled one allows the next).
MAX_REST_ATTEMPTS = 5


class BankRefused(Exception):
    """The bank refused the refund (retrying the same request will not help).

    `certain` is false for a 409: a conflict with the authorization's state or with another
    request under the same key, which may itself have refunded.
    """

    def __init__(self, detail: str, *, certain: bool = True) -> None:
        super().__init__(detail)
        self.certain = certain


def refund_payment(
    svc: Services,
    merchant_id: str,
    payment_id: str,
    amount: Decimal | None = None,
    key: str | None = None,
) -> PaymentState:
    """Refund `amount` of an approved payment, or all that is left when it is None.

    A partial refund is its Idempotency-Key's (`key`): repeating it repeats nothing. Refunding
    the rest happens once per payment: a repeat answers the reversed payment.
    """
    state = owned_payment(svc, merchant_id, payment_id)
    if amount is None:
        if state.status is Status.REVERSED:
            return state
        # Once per payment and per amount refunded before it: a rest refund the bank refused
        # (cancelled) does not block the rest after a later partial refund.
        operation = f"{state.id}:refund"
        if state.refunded_amount:
            operation += f":after:{fmt(state.refunded_amount)}"
    elif key is None:
        raise Problem(
            400,
            "idempotency-key-required",
            "A partial refund needs an Idempotency-Key header, so that a retry of it cannot "
            "refund twice.",
        )
    else:
        # The key is any printable ASCII up to 255 characters; operation ids are shorter and
        # plainer (the wallet's: 128, letters, digits and ._:-), so they carry its digest.
        operation = f"{state.id}:refund:{hashlib.sha256(key.encode()).hexdigest()[:32]}"
    if state.status is not Status.REVERSED:  # a repeated partial refund may have reversed it
        _require_approved(state)
    left = state.amount - state.refunded_amount

    def reserve(operation_id: str) -> dict[str, Any]:
        return _wallet(
            state,
            lambda: svc.wallet.reserve_refund(
                operation_id=operation_id,
                payment_id=state.id,
                merchant_id=state.merchant_id,
                amount=fmt(left if amount is None else amount),
            ),
        )

    base, refund = operation, reserve(operation)
    for _ in range(MAX_REST_ATTEMPTS - 1):
        if amount is not None or refund["status"] != "cancelled":
            break
        # The rest's earlier attempt was cancelled (refused, or reconciled after a crash):
        # the next attempt's id follows from it, so retries of this one find it again.
        operation = f"{base}:after-cancel:{refund['id']}"
        refund = reserve(operation)
    if refund["status"] == "cancelled":
        raise Problem(
            409,
            "refund-refused",
            f"Payment {payment_id} cannot be refunded: an earlier attempt was refused "
            f"({refund.get('cancel_reason')}), and nothing was moved.",
        )
    if refund["status"] == "reserved":
        reference = _processor_refund(svc, state, refund, operation)
        refund = _complete(svc, state, refund, operation, reference)
    return record_refund(svc, state.id, refund)


def recorded_id(refund: dict[str, Any]) -> str:
    """The id a completed wallet refund is recorded under: the bank's, else the wallet's."""
    return str(refund.get("reference") or refund["id"])


def record_refund(svc: Services, payment_id: str, refund: dict[str, Any]) -> PaymentState:
    """Append PaymentRefunded for a refund the wallet completed, once."""
    data = {
        "refund_id": recorded_id(refund),
        "amount": str(refund["amount"]),
        "wallet_refund_id": str(refund["id"]),
    }

    def decide(current: PaymentState) -> NewEvents:
        if data["refund_id"] in current.refund_ids:
            return []  # a concurrent request for the same refund recorded it first
        _require_approved(current)
        return [(domain.REFUNDED, data)]

    return svc.repo.change(payment_id, decide)


def _require_approved(state: PaymentState) -> None:
    if state.status is not Status.APPROVED:
        raise Problem(
            409,
            "payment-not-refundable",
            f"Payment {state.id} is {state.status.value}; only approved payments can be refunded.",
        )


def _processor_refund(
    svc: Services, state: PaymentState, refund: dict[str, Any], operation: str
) -> str | None:
    """The bank's refund id for cards; None where no partner holds the money (PSE, wallet)."""
    if state.method != "card":
        # PSE has no refund API: the money goes back to the PSE clearing account, from which
        # the transfer to the payer's bank is settled (docs/decisions.md, "Refunds").
        return None
    try:
        if not state.authorization_id:
            raise BankRefused("the payment has no bank authorization")
        return _bank_refund(svc, state.authorization_id, str(refund["amount"]), operation)
    except BankRefused as exc:
        if refund.get("found_again") or not exc.certain:
            # An earlier attempt reserved this refund and stopped (the bank may have refunded
            # it and forgotten the key), or the bank's conflict may be another request under
            # the same key that did refund: cancelling could hand the merchant back money the
            # payer received. The reservation stays until reconciliation settles it.
            log.error(
                "refund in doubt", payment_id=state.id, refund_id=refund["id"], error=str(exc)
            )
            raise Problem(
                409,
                "refund-in-doubt",
                f"The bank refused this refund ({exc}), and an earlier or concurrent attempt "
                f"of it may have been refunded: whether the payer was is not known. The "
                f"merchant's {refund['amount']} {state.currency} stay reserved (wallet refund "
                f"{refund['id']}) until `paylab payments reconcile-refunds` settles it.",
            ) from exc
        _cancel(svc, state, refund, operation, f"bank refused: {exc}")
        raise Problem(
            409, "refund-refused", f"The bank refused the refund ({exc}); nothing was moved."
        ) from exc


#: Bank answers that refuse the refund itself (409: not for certain, see BankRefused); any
#: other 4xx (our credential, a limit) is trouble on our side or a passing one: a 503, and
#: the reservation stays for a retry.
_BANK_REFUSALS = frozenset({400, 404, 409, 422})


def _bank_refund(svc: Services, authorization_id: str, amount: str, operation: str) -> str:
    try:
        return str(svc.bank.refund(authorization_id, amount, idempotency_key=operation)["id"])
    except PartnerUnavailable as exc:
        raise unavailable("bank", exc) from exc
    except PartnerRejected as exc:
        if exc.status not in _BANK_REFUSALS:
            log.error("bank refused our request", status=exc.status)
            raise unavailable("bank", exc) from exc
        detail = str(exc.body.get("detail") or exc.status)
        raise BankRefused(detail, certain=exc.status != 409) from exc


def _complete(
    svc: Services,
    state: PaymentState,
    refund: dict[str, Any],
    operation: str,
    reference: str | None,
) -> dict[str, Any]:
    """Move the reserved money on; a payer's wallet that cannot take it cancels the refund."""
    try:
        return svc.wallet.complete_refund(
            str(refund["id"]), operation_id=f"{operation}:complete", reference=reference
        )
    except PartnerRejected as exc:
        # Only a refund into the payer's wallet can be refused here (its balance limit), and
        # no partner moved money for it: give the merchant its reservation back.
        if state.method != "wallet" or exc.status != 422:
            raise _wallet_problem(state, exc) from exc
        detail = str(exc.body.get("detail", exc))
        _cancel(svc, state, refund, operation, f"payer's wallet refused it: {detail}")
        raise Problem(
            409,
            "refund-refused",
            f"The payer's wallet cannot take the refund ({detail}); nothing was moved.",
        ) from exc
    except PartnerUnavailable as exc:
        raise unavailable("wallet", exc) from exc


def _cancel(
    svc: Services, state: PaymentState, refund: dict[str, Any], operation: str, why: str
) -> None:
    reason = _CONTROL.sub(" ", why)[:200]
    _wallet(
        state,
        lambda: svc.wallet.cancel_refund(
            str(refund["id"]), operation_id=f"{operation}:cancel", reason=reason
        ),
    )


def _wallet(state: PaymentState, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One wallet call: its refusals become this API's 409s, its trouble a 503."""
    try:
        return call()
    except PartnerUnavailable as exc:
        raise unavailable("wallet", exc) from exc
    except PartnerRejected as exc:
        raise _wallet_problem(state, exc) from exc


def _wallet_problem(state: PaymentState, exc: PartnerRejected) -> Problem:
    slug = str(exc.body.get("type", "")).rsplit("/", 1)[-1] or "refund-refused"
    detail = str(exc.body.get("detail", exc))
    if slug == "insufficient-funds":
        return Problem(
            409,
            "insufficient-funds",
            f"The merchant's available balance cannot pay back the refund ({detail}); "
            "nothing was refunded.",
        )
    if exc.status in (404, 409):
        log.error("wallet refused a refund", payment_id=state.id, slug=slug, detail=detail)
        return Problem(409, slug, f"The wallet refused the refund: {detail}")
    log.error("wallet refused our request", payment_id=state.id, status=exc.status)
    return unavailable("wallet", exc)
