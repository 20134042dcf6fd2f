"""What a scheduled Lambda learns from EventBridge's event: the business day it works on.

Rules fire in UTC (`cron(0 5 * * ? *)` is 00:00 in Bogota). The run at 00:00 Bogota on day
D works on business date D-1, the day that just ended. Only the event's `time` is used, so
`./paylab jobs run NAME --at ...` reproduces a run by sending the same event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

# Colombia has kept UTC-5 without daylight saving time since 1993; a fixed offset needs no
# tz database in the Lambda zip.
BOGOTA = timezone(timedelta(hours=-5), "America/Bogota")


def fired_at(event: Mapping[str, Any]) -> datetime:
    """When EventBridge fired the rule (the event's `time`, timezone-aware UTC)."""
    raw = event.get("time") if isinstance(event, Mapping) else None
    if not isinstance(raw, str) or not raw:
        raise ValueError("not a scheduled event: no 'time'")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not a scheduled event: bad 'time' {raw!r}") from exc
    if moment.tzinfo is None:
        raise ValueError(f"not a scheduled event: 'time' {raw!r} has no timezone")
    return moment.astimezone(UTC)


def business_date(event: Mapping[str, Any]) -> date:
    """The America/Bogota day that ended before the run fired (D-1 for a run on day D)."""
    return fired_at(event).astimezone(BOGOTA).date() - timedelta(days=1)
