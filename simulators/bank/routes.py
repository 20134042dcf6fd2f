"""Bank / card acquirer HTTP routes: translate, call the state, map the result."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

from paylab.core.money import fmt, to_decimal
from paylab.core.problems import Problem
from simulators.bank.cards import TEST_CARDS
from simulators.bank.records import MESSAGES, Authorization, Payout, summary
from simulators.bank.schemas import (
    AuthorizationIn,
    AuthorizationList,
    AuthorizationOut,
    BankSettings,
    BankSettingsPatch,
    CaptureIn,
    CardAccountOut,
    CardAccountPatch,
    CardIn,
    PayoutIn,
    PayoutOut,
    RefundIn,
    RefundOut,
    TokenOut,
)
from simulators.bank.state import BankState
from simulators.control import ERRORS

router = APIRouter(tags=["bank"], responses={422: ERRORS[422], 400: ERRORS[400]})
admin = APIRouter(
    prefix="/_sim", tags=["bank-admin"], responses={400: ERRORS[400], 422: ERRORS[422]}
)
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def _state(request: Request) -> BankState:
    state: BankState = request.app.state.sim.state
    return state


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status_code=status,
        media_type="application/json",
    )


def auth_body(a: Authorization) -> dict[str, Any]:
    """The API form of an authorization."""
    return {
        "id": a.id,
        "status": a.status,
        "response_code": a.response_code,
        "message": MESSAGES.get(a.response_code, a.response_code),
        "authorization_code": a.authorization_code,
        "amount": fmt(a.amount),
        "currency": a.currency,
        "captured_amount": fmt(a.captured),
        "refunded_amount": fmt(a.refunded),
        "reference": a.reference,
        "installments": a.installments,
        "card": summary(a.number),
        "created_at": a.created_at,
    }


def payout_body(p: Payout) -> dict[str, Any]:
    """The API form of a payout."""
    return {
        "id": p.id,
        "status": p.status,
        "failure_reason": p.failure_reason,
        "amount": fmt(p.amount),
        "currency": p.currency,
        "reference": p.reference,
        "bank_code": p.bank_code,
        "account_last4": p.account_number[-4:],
        "created_at": p.created_at,
    }


@router.post("/v1/tokens", status_code=201, response_model=TokenOut)
async def tokenize(card: CardIn, request: Request) -> Response:
    """Tokenize a card after Luhn, brand and CVC checks."""
    token = _state(request).tokenize(card.number, card.exp_month, card.exp_year, card.cvc)
    s = summary(card.number)
    out = {**s, "token": token, "exp_month": card.exp_month, "exp_year": card.exp_year}
    return _json(out, 201)


@router.post(
    "/v1/authorizations",
    status_code=201,
    response_model=AuthorizationOut,
    responses={409: ERRORS[409]},
)
async def authorize(body: AuthorizationIn, request: Request, idem: IdemKey = None) -> Response:
    """Authorize (and optionally capture) an amount; test cards decide the outcome."""
    state = _state(request)
    raw = await request.body()
    replay = state.idempotency.replay("auth", idem, raw)
    if replay is not None:
        return replay
    out = json.dumps(auth_body(state.authorize(body)), separators=(",", ":")).encode()
    state.idempotency.remember("auth", idem, raw, 201, out)
    return Response(out, status_code=201, media_type="application/json")


@router.get("/v1/authorizations", response_model=AuthorizationList)
async def find_authorizations(
    request: Request, reference: Annotated[str, Query(min_length=1, max_length=64)]
) -> Response:
    """The authorizations made for a merchant reference, oldest first: how a merchant whose
    authorize answer was lost finds out what the bank did (without authorizing again)."""
    found = _state(request).find_by_reference(reference)
    return _json({"authorizations": [auth_body(a) for a in found]})


@router.get(
    "/v1/authorizations/{auth_id}", response_model=AuthorizationOut, responses={404: ERRORS[404]}
)
async def get_authorization(auth_id: str, request: Request) -> Response:
    """An authorization; a pending one resolves after `pending_resolve_ms`."""
    return _json(auth_body(_state(request).get_auth(auth_id)))


@router.post(
    "/v1/authorizations/{auth_id}/capture",
    response_model=AuthorizationOut,
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
async def capture(auth_id: str, body: CaptureIn, request: Request) -> Response:
    """Capture all or part of an approved authorization."""
    return _json(auth_body(_state(request).capture(auth_id, body.amount)))


@router.post(
    "/v1/authorizations/{auth_id}/void",
    response_model=AuthorizationOut,
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
async def void(auth_id: str, request: Request) -> Response:
    """Void an uncaptured authorization (approved: the hold is given back; pending: it is
    never decided)."""
    return _json(auth_body(_state(request).void(auth_id)))


@router.post(
    "/v1/authorizations/{auth_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
async def refund(auth_id: str, body: RefundIn, request: Request, idem: IdemKey = None) -> Response:
    """Refund part or all of a captured authorization; a repeated Idempotency-Key replays."""
    state = _state(request)
    raw = await request.body()
    replay = state.idempotency.replay(f"refund:{auth_id}", idem, raw)
    if replay is not None:
        return replay
    refund_id, amount, auth = state.refund(auth_id, body.amount)
    out = {
        "id": refund_id,
        "authorization_id": auth.id,
        "amount": fmt(amount),
        "currency": auth.currency,
        "status": "succeeded",
        "authorization_status": auth.status,
    }
    encoded = json.dumps(out, separators=(",", ":")).encode()
    state.idempotency.remember(f"refund:{auth_id}", idem, raw, 201, encoded)
    return Response(encoded, status_code=201, media_type="application/json")


@router.post("/v1/payouts", status_code=201, response_model=PayoutOut, responses={409: ERRORS[409]})
async def payout(body: PayoutIn, request: Request, idem: IdemKey = None) -> Response:
    """Pay out to a bank account; account suffixes 0000/1111/9999 are magic."""
    state = _state(request)
    raw = await request.body()
    replay = state.idempotency.replay("payout", idem, raw)
    if replay is not None:
        return replay
    out = json.dumps(payout_body(state.payout(body)), separators=(",", ":")).encode()
    state.idempotency.remember("payout", idem, raw, 201, out)
    return Response(out, status_code=201, media_type="application/json")


@router.get("/v1/payouts/{payout_id}", response_model=PayoutOut, responses={404: ERRORS[404]})
async def get_payout(payout_id: str, request: Request) -> Response:
    """A payout; a pending one is paid after `pending_resolve_ms`."""
    return _json(payout_body(_state(request).get_payout(payout_id)))


def _account_out(state: BankState, number: str) -> CardAccountOut:
    a = state.account(number)
    return CardAccountOut(
        number=number,
        behaviour=a.behaviour,
        balance_cop=fmt(a.balance["COP"]),
        balance_usd=fmt(a.balance["USD"]),
        limit_cop=fmt(a.limit["COP"]),
        limit_usd=fmt(a.limit["USD"]),
    )


def _valid_number(number: str) -> str:
    if not (number.isdigit() and 13 <= len(number) <= 19 and number.isascii()):
        raise Problem(
            422,
            "validation-error",
            "The card number must have 13 to 19 digits.",
            errors=[{"field": "path.number", "message": "must have 13 to 19 digits"}],
        )
    return number


@admin.get("/cards/{number}", response_model=CardAccountOut)
async def get_card(number: str, request: Request) -> CardAccountOut:
    """Balances, limits and behaviour of the account behind a card."""
    return _account_out(_state(request), _valid_number(number))


@admin.patch("/cards/{number}", response_model=CardAccountOut)
async def patch_card(number: str, body: CardAccountPatch, request: Request) -> CardAccountOut:
    """Set a card's balances, limits or behaviour (e.g. to run it out of funds)."""
    state = _state(request)
    acct = state.account(_valid_number(number))
    if body.behaviour is not None:
        acct.behaviour = body.behaviour
    for field, table, cur in (
        ("balance_cop", acct.balance, "COP"),
        ("balance_usd", acct.balance, "USD"),
        ("limit_cop", acct.limit, "COP"),
        ("limit_usd", acct.limit, "USD"),
    ):
        value = getattr(body, field)
        if value is not None:
            table[cur] = to_decimal(value)
    return _account_out(state, number)


@admin.get("/test-cards", response_model=list[dict[str, str]])
async def test_cards() -> list[dict[str, str]]:
    """ePayco's published test cards and what they do here."""
    return [
        {"number": c.number, "behaviour": c.behaviour, "response_code": c.response_code}
        for c in TEST_CARDS.values()
    ]


@admin.get("/settings", response_model=BankSettings)
async def get_settings(request: Request) -> BankSettings:
    """Bank simulator settings."""
    return _state(request).settings


@admin.patch("/settings", response_model=BankSettings)
async def patch_settings(body: BankSettingsPatch, request: Request) -> BankSettings:
    """Change bank simulator settings."""
    state = _state(request)
    state.settings = state.settings.model_copy(update=body.model_dump(exclude_none=True))
    return state.settings
