"""PSE HTTP routes: bank list, transactions, and the simulated bank page."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from paylab.core.problems import Problem
from simulators.control import ERRORS
from simulators.pse import page
from simulators.pse.banks import MAGIC_BANKS, REAL_BANKS, bank_name
from simulators.pse.schemas import (
    BankList,
    PseSettings,
    PseSettingsPatch,
    TransactionIn,
    TransactionOut,
)
from simulators.pse.state import PseState, Transaction

router = APIRouter(tags=["pse"], responses={422: ERRORS[422], 400: ERRORS[400]})
admin = APIRouter(
    prefix="/_sim", tags=["pse-admin"], responses={400: ERRORS[400], 422: ERRORS[422]}
)
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def _state(request: Request) -> PseState:
    state: PseState = request.app.state.sim.state
    return state


def txn_body(t: Transaction, base_url: str) -> dict[str, Any]:
    """The API form of a transaction."""
    return {
        "id": t.id,
        "status": t.status,
        "reference": t.reference,
        "amount": t.amount,
        "currency": "COP",
        "bank_code": t.bank_code,
        "bank_name": bank_name(t.bank_code) or t.bank_code,
        "redirect_url": f"{base_url.rstrip('/')}/bank/{t.id}",
        "return_url": t.return_url,
        "confirmation_url": t.confirmation_url,
        "cus": t.cus,
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "decided_at": t.decided_at,
    }


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body).encode(), status_code=status, media_type="application/json")


@router.get("/v1/banks", response_model=BankList)
async def banks() -> BankList:
    """Banks the payer can choose, magic test banks included."""
    items: list[dict[str, Any]] = [{"code": c, "name": n} for c, n in REAL_BANKS.items()]
    items += [{"code": c, "name": n, "magic": m} for c, (n, m) in MAGIC_BANKS.items()]
    return BankList.model_validate({"banks": items})


@router.post(
    "/v1/transactions", status_code=201, response_model=TransactionOut, responses={409: ERRORS[409]}
)
async def create(body: TransactionIn, request: Request, idem: IdemKey = None) -> Response:
    """Start a transfer; send the payer's browser to `redirect_url`."""
    state = _state(request)
    raw = await request.body()
    replay = state.idempotency.replay("txn", idem, raw)
    if replay is not None:
        return replay
    out = json.dumps(txn_body(state.create(body), str(request.base_url))).encode()
    state.idempotency.remember("txn", idem, raw, 201, out)
    return Response(out, status_code=201, media_type="application/json")


@router.get(
    "/v1/transactions/{txn_id}", response_model=TransactionOut, responses={404: ERRORS[404]}
)
async def get_transaction(txn_id: str, request: Request) -> Response:
    """A transaction's status."""
    return _json(txn_body(_state(request).get(txn_id), str(request.base_url)))


@router.get(
    "/bank/{txn_id}",
    response_class=HTMLResponse,
    responses={404: ERRORS[404], 200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
async def bank_page(txn_id: str, request: Request) -> HTMLResponse:
    """The simulated bank's page with approve / reject / abandon buttons."""
    txn = _state(request).get(txn_id)
    return HTMLResponse(page.render(txn, bank_name(txn.bank_code) or txn.bank_code))


_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["decision"],
                    "properties": {
                        "decision": {"type": "string", "enum": ["approve", "reject", "abandon"]}
                    },
                }
            }
        },
    }
}


@router.post(
    "/bank/{txn_id}/decision",
    status_code=303,
    response_class=RedirectResponse,
    openapi_extra=_FORM,
    responses={
        303: {"description": "Back to the merchant's return_url"},
        404: ERRORS[404],
        409: ERRORS[409],
        415: ERRORS[415],
    },
)
async def decide(txn_id: str, request: Request) -> RedirectResponse:
    """The payer's decision; PSE confirms to the merchant and redirects the browser back."""
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("application/x-www-form-urlencoded"):
        raise Problem(
            415,
            "unsupported-media-type",
            "Send the decision as an application/x-www-form-urlencoded form.",
        )
    raw = await request.body()
    form = dict(parse_qsl(raw.decode("utf-8", "replace")))
    txn = _state(request).payer_decides(txn_id, form.get("decision", ""))
    return RedirectResponse(txn.return_target(), status_code=303)


@admin.get("/settings", response_model=PseSettings)
async def get_settings(request: Request) -> PseSettings:
    """PSE simulator settings (expiry, pending delay)."""
    return _state(request).settings


@admin.patch("/settings", response_model=PseSettings)
async def patch_settings(body: PseSettingsPatch, request: Request) -> PseSettings:
    """Change PSE simulator settings; applies to new transactions."""
    state = _state(request)
    state.settings = state.settings.model_copy(update=body.model_dump(exclude_none=True))
    return state.settings
