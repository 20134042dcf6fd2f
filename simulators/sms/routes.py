"""SMS HTTP routes: send, query the log, settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from simulators.control import ERRORS
from simulators.sms.schemas import (
    MessageIn,
    MessageList,
    MessageOut,
    SmsSettings,
    SmsSettingsPatch,
    SmsStatus,
)
from simulators.sms.state import SmsState, message_body

router = APIRouter(tags=["sms"], responses={422: ERRORS[422], 400: ERRORS[400]})
admin = APIRouter(
    prefix="/_sim", tags=["sms-admin"], responses={400: ERRORS[400], 422: ERRORS[422]}
)


def _state(request: Request) -> SmsState:
    state: SmsState = request.app.state.sim.state
    return state


@router.post("/v1/messages", status_code=201, response_model=MessageOut)
async def send(body: MessageIn, request: Request) -> dict[str, Any]:
    """Send an SMS; receipts go to callback_url (sent, then delivered or failed)."""
    return message_body(_state(request).send(body))


@router.get("/v1/messages", response_model=MessageList)
async def list_messages(
    request: Request,
    to: Annotated[str | None, Query(max_length=32)] = None,
    status: SmsStatus | None = None,
    reference: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The message log, newest first, filterable."""
    found = _state(request).query(to, status, reference, limit)
    return {"messages": [message_body(m) for m in found]}


@router.get("/v1/messages/{msg_id}", response_model=MessageOut, responses={404: ERRORS[404]})
async def get_message(msg_id: str, request: Request) -> dict[str, Any]:
    """One message and its delivery status."""
    return message_body(_state(request).get(msg_id))


@admin.get("/settings", response_model=SmsSettings)
async def get_settings(request: Request) -> SmsSettings:
    """SMS simulator settings."""
    return _state(request).settings


@admin.patch("/settings", response_model=SmsSettings)
async def patch_settings(body: SmsSettingsPatch, request: Request) -> SmsSettings:
    """Change SMS simulator settings."""
    state = _state(request)
    state.settings = state.settings.model_copy(update=body.model_dump(exclude_none=True))
    return state.settings
