"""HTTP entrypoints: parse, call one use case, map its answer (no SQL, no rules here)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from paylab.core.internal_auth import InternalCaller, MerchantId
from paylab.core.problems import PROBLEM_MEDIA_TYPE, problem_responses
from paylab.wallet import schemas
from paylab.wallet.ledger import Currency
from paylab.wallet.operations import Outcome
from paylab.wallet.service import WalletService


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return problem_responses(400, 401, *statuses)


async def wallet_service(request: Request) -> WalletService:
    """The app's service (built on first use, so the app starts without a database)."""
    service: WalletService = await request.app.state.wallet.ready()
    return service


async def correlation_id(request: Request) -> str:
    """The correlation id RequestIdMiddleware put on the request."""
    return str(getattr(request.state, "correlation_id", None) or "")


Service = Annotated[WalletService, Depends(wallet_service)]
Correlation = Annotated[str, Depends(correlation_id)]
IdempotencyKey = Annotated[
    str,
    Header(alias="Idempotency-Key", min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$"),
]
PaymentId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f/]+$")]
OptionalIdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$"),
]


def respond(outcome: Outcome) -> Response:
    """An operation's answer; a replay says so in `Idempotent-Replayed`."""
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    media = PROBLEM_MEDIA_TYPE if outcome.status >= 400 else "application/json"
    return JSONResponse(outcome.body, outcome.status, headers=headers, media_type=media)


public = APIRouter(tags=["wallets"])
internal = APIRouter(prefix="/internal", tags=["internal"])


@public.post(
    "/v1/wallets",
    status_code=201,
    response_model=schemas.Wallet,
    responses=_problems(409, 422),
)
def create_wallet(
    _: InternalCaller,
    merchant_id: MerchantId,
    body: schemas.WalletCreate,
    service: Service,
    idempotency_key: OptionalIdempotencyKey = None,
) -> Response:
    """Create a payer wallet for one of the merchant's customers."""
    return respond(service.create_wallet(merchant_id, body, idempotency_key))


@public.get(
    "/v1/wallets/{account_id}", response_model=schemas.Wallet, responses=_problems(404, 422)
)
def get_wallet(
    _: InternalCaller, merchant_id: MerchantId, account_id: UUID, service: Service
) -> schemas.Wallet:
    """A wallet's balance: `available`, `held`, `currency` (only the merchant's own)."""
    return service.get_wallet(merchant_id, account_id)


@public.get(
    "/v1/wallets/{account_id}/statement",
    response_model=schemas.Statement,
    responses=_problems(404, 422),
)
def statement(
    _: InternalCaller,
    merchant_id: MerchantId,
    account_id: UUID,
    service: Service,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^[1-9][0-9]{0,17}$")] = None,
) -> schemas.Statement:
    """The wallet's entries, newest first; follow `next_cursor` for older ones."""
    return service.statement(
        merchant_id, account_id, limit=limit, cursor=int(cursor) if cursor else None
    )


# Internal: a top-up credits a payer wallet from the platform's `world:topups` account, money
# no charge brought in. Through the gateway any merchant could mint balance, pay itself with
# it and have dispersion pay it out; only operators, tests and the demo seed add it.
@internal.post(
    "/wallets/{account_id}/topups",
    status_code=201,
    response_model=schemas.Topup,
    responses=_problems(404, 409, 422),
)
def topup(
    _: InternalCaller,
    merchant_id: MerchantId,
    account_id: UUID,
    body: schemas.TopupCreate,
    idempotency_key: IdempotencyKey,
    service: Service,
    correlation: Correlation,
) -> Response:
    """Add money to one of the merchant's payer wallets (operators, tests, the demo seed);
    the same Idempotency-Key never adds it twice."""
    return respond(service.topup(merchant_id, account_id, body, idempotency_key, correlation))


@public.get(
    "/v1/merchants/me/balance",
    response_model=schemas.MerchantBalance,
    responses=_problems(404, 422),
)
def merchant_balance(
    _: InternalCaller,
    merchant_id: MerchantId,
    service: Service,
    currency: Currency = Currency.COP,
) -> schemas.MerchantBalance:
    """The merchant's `available` and `pending` (in flight) money."""
    return service.merchant_balance(merchant_id, currency)


@internal.post(
    "/accounts",
    status_code=201,
    response_model=schemas.MerchantAccount,
    responses={200: {"description": "The account already existed."}, **_problems(422)},
)
def create_merchant_account(
    _: InternalCaller, body: schemas.MerchantAccountCreate, service: Service
) -> Response:
    """Create the merchant's account in a currency (201), or return the existing one (200)."""
    created, account = service.create_merchant_account(body)
    return JSONResponse(account.model_dump(mode="json"), 201 if created else 200)


@internal.post(
    "/holds", status_code=201, response_model=schemas.Hold, responses=_problems(404, 409, 422)
)
def reserve(
    _: InternalCaller, body: schemas.HoldCreate, service: Service, correlation: Correlation
) -> Response:
    """ReserveFunds: hold a payment's amount (idempotent per `operation_id`)."""
    return respond(service.reserve(body, correlation))


@internal.get("/holds/{hold_id}", response_model=schemas.Hold, responses=_problems(404, 422))
def get_hold(_: InternalCaller, hold_id: UUID, service: Service) -> schemas.Hold:
    """A hold's current state."""
    return service.get_hold(hold_id)


@internal.post(
    "/holds/{hold_id}/capture", response_model=schemas.Hold, responses=_problems(404, 409, 422)
)
def capture(
    _: InternalCaller,
    hold_id: UUID,
    body: schemas.HoldCapture,
    service: Service,
    correlation: Correlation,
) -> Response:
    """CaptureFunds: the merchant gets the amount net of the platform fee, exactly once."""
    return respond(service.capture(hold_id, body, correlation))


@internal.post(
    "/holds/{hold_id}/release", response_model=schemas.Hold, responses=_problems(404, 409, 422)
)
def release(
    _: InternalCaller,
    hold_id: UUID,
    body: schemas.HoldRelease,
    service: Service,
    correlation: Correlation,
) -> Response:
    """ReleaseFunds: cancel the hold, exactly once; 409 after a capture."""
    return respond(service.release(hold_id, body, correlation))


@internal.get(
    "/payments/{payment_id}/hold", response_model=schemas.Hold, responses=_problems(404, 422)
)
def payment_hold(_: InternalCaller, payment_id: PaymentId, service: Service) -> schemas.Hold:
    """The hold of a payment, found by payment id (when the SAGA lost the hold's id)."""
    return service.payment_hold(payment_id)


@internal.post(
    "/payments/{payment_id}/hold/release",
    response_model=schemas.PaymentHoldRelease,
    responses=_problems(409, 422),
)
def release_payment(
    _: InternalCaller,
    payment_id: PaymentId,
    body: schemas.HoldRelease,
    service: Service,
    correlation: Correlation,
) -> Response:
    """ReleaseFunds by payment id: release its hold, or make sure none can be made later."""
    return respond(service.release_payment(payment_id, body, correlation))


@internal.post(
    "/payouts", status_code=201, response_model=schemas.Payout, responses=_problems(404, 409, 422)
)
def payout(
    _: InternalCaller, body: schemas.PayoutCreate, service: Service, correlation: Correlation
) -> Response:
    """Debit a merchant's available balance for a dispersion (idempotent per `operation_id`)."""
    return respond(service.payout(body, correlation))


@internal.post(
    "/payouts/{operation_id}/return",
    status_code=201,
    response_model=schemas.Payout,
    responses=_problems(404, 409, 422),
)
def return_payout(
    _: InternalCaller,
    operation_id: Annotated[
        str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
    ],
    body: schemas.PayoutReturn,
    service: Service,
    correlation: Correlation,
) -> Response:
    """Give a refused payout back to the merchant's available balance (once per payout)."""
    return respond(service.return_payout(operation_id, body, correlation))


@internal.get("/ledger/check", response_model=schemas.LedgerCheck, responses=_problems(422))
def ledger_check(
    _: InternalCaller,
    service: Service,
    merchant_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> schemas.LedgerCheck:
    """The ledger's invariants; `open_holds` counts one merchant's when `merchant_id` is given."""
    return service.check(merchant_id)
