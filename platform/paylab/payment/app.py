"""The payment service's HTTP entrypoints: translate, call one use case, map the result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from paylab.core.app import create_app
from paylab.core.internal_auth import InternalCaller, MerchantId
from paylab.core.lazy import Lazy
from paylab.core.money import to_decimal
from paylab.core.problems import problem_responses
from paylab.payment import (
    jobs,
    merchant_settings,
    refunds,
    reversal,
    review_routes,
    saga_steps,
    service,
    task_tokens,
)
from paylab.payment.schemas import (
    AwaitConfirmationIn,
    CallbackAck,
    Empty,
    OutcomeIn,
    PaymentCreatedOut,
    PaymentIn,
    PaymentList,
    PaymentOut,
    ProcessIn,
    ProcessOut,
    RefundIn,
    ReversalOut,
)
from paylab.payment.settings import PaymentSettings, get_payment_settings
from paylab.payment.views import payment_out
from paylab.payment.wiring import Services, Svc, build

PaymentId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
IdempotencyKey = Annotated[
    str, Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
]
OptionalIdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$"),
]

public = APIRouter(prefix="/v1/payments", tags=["payments"])
internal = APIRouter(prefix="/internal/payments", tags=["internal"])
callbacks = APIRouter(prefix="/callbacks", tags=["callbacks"])


@public.post(
    "",
    status_code=201,
    response_model=PaymentCreatedOut,
    responses=problem_responses(400, 401, 409, 422, 503),
)
def create_payment(
    body: PaymentIn, key: IdempotencyKey, merchant: MerchantId, _: InternalCaller, svc: Svc
) -> JSONResponse:
    """Create a payment (card, PSE or wallet); the same Idempotency-Key gets the first answer."""
    answer, replayed = service.create_payment(svc, merchant, key, body)
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@public.get("", response_model=PaymentList, responses=problem_responses(401, 422))
def list_payments(
    merchant: MerchantId,
    _: InternalCaller,
    svc: Svc,
    reference: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")],
) -> PaymentList:
    """The merchant's payments with one reference."""
    found = service.payments_by_reference(svc, merchant, reference)
    return PaymentList(items=[payment_out(s) for s in found])


@public.get("/{payment_id}", response_model=PaymentOut, responses=problem_responses(401, 404, 422))
def get_payment(
    payment_id: PaymentId, merchant: MerchantId, _: InternalCaller, svc: Svc
) -> PaymentOut:
    """One of the merchant's payments."""
    return payment_out(service.owned_payment(svc, merchant, payment_id))


@public.post(
    "/{payment_id}/refund",
    response_model=PaymentOut,
    responses=problem_responses(400, 401, 404, 409, 422, 503),
)
def refund_payment(
    payment_id: PaymentId,
    merchant: MerchantId,
    _: InternalCaller,
    svc: Svc,
    body: RefundIn | None = None,
    key: OptionalIdempotencyKey = None,
) -> PaymentOut:
    """Refund part of an approved payment, or all that is left of it.

    With `{"amount": ...}` and an Idempotency-Key, that amount is refunded once per key; with
    no amount, all that is left, once. The refund that completes the amount makes the payment
    `reversed`; until then it stays `approved` with its `refunded_amount`. The merchant's
    available balance pays it back (the platform fee is returned in proportion); when it
    cannot, or the amount is more than is left, the answer is 409 and nothing moved.
    """
    amount = to_decimal(body.amount) if body is not None and body.amount is not None else None
    return payment_out(refunds.refund_payment(svc, merchant, payment_id, amount, key))


@internal.get(
    "/{payment_id}", response_model=PaymentOut, responses=problem_responses(401, 404, 422)
)
def internal_get(payment_id: PaymentId, _: InternalCaller, svc: Svc) -> PaymentOut:
    """Any merchant's payment (for the SAGA's checks)."""
    return payment_out(service.any_payment(svc, payment_id))


@internal.post(
    "/{payment_id}/process",
    response_model=ProcessOut,
    responses=problem_responses(401, 404, 422, 503),
)
def process(payment_id: PaymentId, body: ProcessIn, _: InternalCaller, svc: Svc) -> ProcessOut:
    """Charge the payment at its processor; 503 means retry (transient partner trouble)."""
    outcome, reason = saga_steps.process(svc, payment_id)
    return ProcessOut.model_validate({"outcome": outcome, "reason": reason})


@internal.post(
    "/{payment_id}/reverse-charge",
    response_model=ReversalOut,
    responses=problem_responses(401, 404, 409, 422, 503),
)
def reverse_charge(payment_id: PaymentId, _: InternalCaller, svc: Svc) -> ReversalOut:
    """Compensation: void or refund what the bank charged for a failed card payment."""
    return ReversalOut.model_validate(reversal.reverse_charge(svc, payment_id))


@internal.post(
    "/{payment_id}/await-confirmation",
    response_model=Empty,
    responses=problem_responses(401, 404, 409, 422, 503),
)
def await_confirmation(
    payment_id: PaymentId, body: AwaitConfirmationIn, _: InternalCaller, svc: Svc
) -> Empty:
    """Store the SAGA's task token for the PSE confirmation (answered at once if known)."""
    saga_steps.await_confirmation(
        svc, payment_id, body.task_token, sent_at=task_tokens.seconds(body.sent_at_ms)
    )
    return Empty()


@internal.post(
    "/{payment_id}/outcome",
    response_model=PaymentOut,
    responses=problem_responses(401, 404, 409, 422),
)
def outcome(payment_id: PaymentId, body: OutcomeIn, _: InternalCaller, svc: Svc) -> PaymentOut:
    """Record the SAGA's final outcome (once; the same outcome again is a no-op)."""
    return payment_out(saga_steps.record_outcome(svc, payment_id, body.status, body.reason))


@callbacks.post(
    "/pse",
    response_model=CallbackAck,
    responses=problem_responses(400, 401, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def pse_callback(
    request: Request,
    svc: Svc,
    signature: Annotated[str | None, Header(alias="X-Sim-Signature", max_length=200)] = None,
) -> CallbackAck:
    """PSE's signed confirmation of a transfer's outcome."""
    raw = await request.body()
    await run_in_threadpool(saga_steps.pse_confirmation, svc, raw, signature)
    return CallbackAck(received=True)


def create(
    settings: PaymentSettings | None = None, services_override: Services | None = None
) -> FastAPI:
    """The payment service (uvicorn --factory paylab.payment.app:create)."""
    app = create_app(
        "payment",
        [
            public,
            internal,
            review_routes.router,
            callbacks,
            jobs.router,
            merchant_settings.router,
        ],
        title="Paylab payment service",
    )
    settings = settings or get_payment_settings()
    app.state.settings = settings
    app.state.services = Lazy(lambda: services_override or build(settings))
    return app
