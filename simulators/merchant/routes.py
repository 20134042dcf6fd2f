"""Receiver routes: the merchant's confirmation endpoint, and what arrived at it."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from paylab.core.problems import Problem
from simulators.control import ERRORS
from simulators.merchant.schemas import (
    CUST_ID,
    Ack,
    MerchantKey,
    MerchantKeyIn,
    MerchantKeyList,
    Removed,
    WebhookList,
)
from simulators.merchant.state import ReceiverState, Webhook, parse_fields

MAX_BODY = 64 * 1024
FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "properties": {
                        name: {"type": "string"}
                        for name in (
                            "x_cust_id_cliente",
                            "x_ref_payco",
                            "x_transaction_id",
                            "x_amount",
                            "x_currency_code",
                            "x_cod_response",
                            "x_signature",
                        )
                    },
                }
            }
        },
    }
}

router = APIRouter(tags=["receiver"], responses={400: ERRORS[400], 422: ERRORS[422]})
admin = APIRouter(
    prefix="/_sim", tags=["receiver-admin"], responses={400: ERRORS[400], 422: ERRORS[422]}
)
CustId = Annotated[str, Path(pattern=CUST_ID)]


def _state(request: Request) -> ReceiverState:
    state: ReceiverState = request.app.state.sim.state
    return state


def _ack(hook: Webhook) -> Ack:
    return Ack(status="received", id=hook.id, signature_valid=hook.signature_valid)


@router.post(
    "/confirmation",
    response_model=Ack,
    openapi_extra=FORM_BODY,
    responses={413: {"description": "Body too large"}, 415: ERRORS[415]},
)
async def confirmation(request: Request) -> Ack:
    """A confirmation webhook (form post): recorded, its x_signature checked, answered 200."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Problem(413, "body-too-large", f"Webhooks are at most {MAX_BODY} bytes.")
    if not raw:
        raise Problem(400, "malformed-webhook", "The webhook has no body.")
    content_type = request.headers.get("content-type", "")
    fields = parse_fields(content_type, raw, "")
    return _ack(_state(request).receive("/confirmation", content_type, fields))


@router.get("/confirmation", response_model=Ack)
async def confirmation_get(request: Request) -> Ack:
    """The same, for merchants that chose ePayco's GET confirmations (fields in the query)."""
    fields = parse_fields("", b"", request.url.query)
    return _ack(_state(request).receive("/confirmation", "", fields))


@admin.get("/webhooks", response_model=WebhookList)
async def webhooks(
    request: Request,
    x_ref_payco: Annotated[str | None, Query(max_length=64)] = None,
    x_cust_id_cliente: Annotated[str | None, Query(max_length=32)] = None,
    signature_valid: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Webhooks that arrived, newest first, with `signature_valid`."""
    state = _state(request)
    found = state.query(x_ref_payco, x_cust_id_cliente, signature_valid, limit)
    return {"webhooks": [vars(h) for h in found], "total": len(state.webhooks)}


@admin.delete("/webhooks", response_model=Removed)
async def clear_webhooks(request: Request) -> Removed:
    """Forget every webhook."""
    state = _state(request)
    removed = len(state.webhooks)
    state.webhooks.clear()
    return Removed(removed=removed)


def _key(cust_id: str, p_key: str) -> MerchantKey:
    digest = hashlib.sha256(p_key.encode()).hexdigest()[:12]
    return MerchantKey(p_cust_id_cliente=cust_id, p_key_sha256_prefix=digest)


@admin.get("/merchants", response_model=MerchantKeyList)
async def merchants(request: Request) -> MerchantKeyList:
    """The merchants whose signatures the receiver can check."""
    keys = _state(request).keys
    return MerchantKeyList(merchants=[_key(c, k) for c, k in sorted(keys.items())])


@admin.put("/merchants/{p_cust_id_cliente}", response_model=MerchantKey)
async def put_merchant(
    p_cust_id_cliente: CustId, body: MerchantKeyIn, request: Request
) -> MerchantKey:
    """Configure (or change) a merchant's p_key, from its signature keys."""
    _state(request).keys[p_cust_id_cliente] = body.p_key
    return _key(p_cust_id_cliente, body.p_key)


@admin.delete("/merchants/{p_cust_id_cliente}", status_code=204, responses={404: ERRORS[404]})
async def delete_merchant(p_cust_id_cliente: CustId, request: Request) -> Response:
    """Forget a merchant."""
    if _state(request).keys.pop(p_cust_id_cliente, None) is None:
        raise Problem(404, "unknown-merchant", f"No merchant {p_cust_id_cliente}.")
    return Response(status_code=204)
