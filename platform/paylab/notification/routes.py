"""HTTP entrypoints: parse, call one use case, map its answer (no SQL, no rules here)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from paylab.core.internal_auth import InternalCaller, MerchantId
from paylab.core.problems import problem_responses
from paylab.notification.journal import Filters
from paylab.notification.schemas import Channel, NotificationList, Status
from paylab.notification.service import NotificationService

FilterText = Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return problem_responses(401, *statuses)


async def notification_service(request: Request) -> NotificationService:
    """The app's service (built on first use, so the app starts without a database)."""
    service: NotificationService = await request.app.state.notifications.ready()
    return service


Service = Annotated[NotificationService, Depends(notification_service)]

public = APIRouter(tags=["notifications"])


@public.get("/v1/notifications", response_model=NotificationList, responses=_problems(422))
def list_notifications(
    _: InternalCaller,
    merchant_id: MerchantId,
    service: Service,
    subject_id: FilterText = None,
    event_id: FilterText = None,
    channel: Channel | None = None,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^[1-9][0-9]{0,17}$")] = None,
) -> NotificationList:
    """The merchant's notifications, newest first; follow `next_cursor` for older ones."""
    filters = Filters(subject_id=subject_id, event_id=event_id, channel=channel, status=status)
    return service.list_notifications(
        merchant_id, filters, limit=limit, cursor=int(cursor) if cursor else None
    )
