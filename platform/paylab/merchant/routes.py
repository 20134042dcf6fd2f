"""HTTP entrypoints: parse, call one use case, map its answer (no SQL, no rules here).

Every route needs the internal credential: only the gateway (or an operator tool) reaches
the service. `POST /v1/merchants` is public at the gateway (self-signup, like ePayco's web
form); every /v1/merchants/me route acts for the merchant the gateway authenticated.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from paylab.core.internal_auth import InternalCaller, MerchantId
from paylab.core.problems import problem_responses
from paylab.merchant import schemas
from paylab.merchant.service import MerchantService, merchant_view

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return problem_responses(400, 401, 422, *statuses)


async def merchant_service(request: Request) -> MerchantService:
    """The app's service (built on first use, so the app starts without a database)."""
    service: MerchantService = (await request.app.state.runtime.ready()).service
    return service


def client_ip(request: Request) -> str:
    """The signup's client address: the gateway's X-Forwarded-For, else the peer."""
    forwarded = request.headers.get("x-forwarded-for", "")
    last = forwarded.split(",")[-1].strip()[:64]
    return last or (request.client.host if request.client else "unknown")


Service = Annotated[MerchantService, Depends(merchant_service)]
IdempotencyKey = Annotated[
    str,
    Header(alias="Idempotency-Key", min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$"),
]

router = APIRouter(tags=["merchants"])


@router.post(
    "/v1/merchants",
    status_code=201,
    response_model=schemas.Registered,
    responses={
        200: {
            "description": "A retry of a finished signup: fresh keys, the old pair revoked.",
            "model": schemas.Registered,
        },
        **_problems(409, 429),
    },
    summary="Sign a merchant up: API keys, signature pair and COP account, shown once",
)
def register(
    _: InternalCaller,
    body: schemas.MerchantCreate,
    idempotency_key: IdempotencyKey,
    request: Request,
    service: Service,
) -> Response:
    correlation = str(getattr(request.state, "correlation_id", "") or "")
    done = service.register(body, idempotency_key, client_ip(request), correlation)
    registered = schemas.Registered(
        merchant=merchant_view(done.merchant, None),
        credentials=schemas.ApiCredentials(
            public_key=done.public_key, private_key=done.private_key
        ),
        signature_keys=schemas.SignatureKeys(
            p_cust_id_cliente=str(done.merchant.cust_id),
            p_key=done.merchant.p_key,
            rotated_at=done.merchant.p_key_rotated_at,
        ),
    )
    return JSONResponse(
        registered.model_dump(mode="json"), 201 if done.created else 200, headers=NO_STORE
    )


@router.get("/v1/merchants/me", response_model=schemas.Merchant, responses=_problems(404))
def profile(_: InternalCaller, merchant_id: MerchantId, service: Service) -> schemas.Merchant:
    """The authenticated merchant's profile."""
    return service.profile(merchant_id)


@router.patch("/v1/merchants/me", response_model=schemas.Merchant, responses=_problems(404, 409))
def update_profile(
    _: InternalCaller, merchant_id: MerchantId, body: schemas.MerchantUpdate, service: Service
) -> schemas.Merchant:
    """Change name, email, phone or document (doc_type with doc_number)."""
    return service.update_profile(merchant_id, body)


@router.put(
    "/v1/merchants/me/payout-account",
    response_model=schemas.PayoutAccountOut,
    responses=_problems(404),
)
def payout_account(
    _: InternalCaller, merchant_id: MerchantId, body: schemas.PayoutAccountIn, service: Service
) -> schemas.PayoutAccountOut:
    """Set the bank account dispersions pay into."""
    return service.set_payout_account(merchant_id, body)


@router.get(
    "/v1/merchants/me/webhook", response_model=schemas.WebhookSettingsOut, responses=_problems(404)
)
def webhook(
    _: InternalCaller, merchant_id: MerchantId, service: Service
) -> schemas.WebhookSettingsOut:
    """The default confirmation URL."""
    return service.webhook_settings(merchant_id)


@router.put(
    "/v1/merchants/me/webhook", response_model=schemas.WebhookSettingsOut, responses=_problems(404)
)
def set_webhook(
    _: InternalCaller, merchant_id: MerchantId, body: schemas.WebhookSettingsIn, service: Service
) -> schemas.WebhookSettingsOut:
    """Set (or clear, with null) the default confirmation URL; unsafe hosts are refused."""
    return service.set_webhook(merchant_id, body)


@router.get(
    "/v1/merchants/me/signature-keys",
    response_model=schemas.SignatureKeys,
    responses=_problems(404),
)
def signature_keys(
    _: InternalCaller, merchant_id: MerchantId, service: Service, response: Response
) -> schemas.SignatureKeys:
    """p_cust_id_cliente and p_key, to verify x_signature."""
    response.headers.update(NO_STORE)
    return service.signature_keys(merchant_id)


@router.post(
    "/v1/merchants/me/signature-keys",
    response_model=schemas.SignatureKeys,
    responses=_problems(404),
)
def rotate_signature_key(
    _: InternalCaller, merchant_id: MerchantId, service: Service, response: Response
) -> schemas.SignatureKeys:
    """Rotate p_key: every webhook sent from now on is signed with the new one."""
    response.headers.update(NO_STORE)
    return service.rotate_signature_key(merchant_id)


@router.get(
    "/v1/merchants/me/webhooks",
    response_model=schemas.WebhookDeliveryList,
    responses=_problems(404),
)
def deliveries(
    _: InternalCaller,
    merchant_id: MerchantId,
    service: Service,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> schemas.WebhookDeliveryList:
    """Confirmation webhooks, newest first, with their status and attempts."""
    return service.deliveries(merchant_id, status=status, limit=limit)
