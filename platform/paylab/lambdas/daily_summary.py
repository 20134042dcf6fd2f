"""Daily summaries (rule `daily-summary`, 01:00 Bogota, after dispersion): an e-mail per merchant.

The merchant service owns the merchants, so it emits one `DailySummaryRequested` per active
merchant for the business date (D-1 for a run on day D), a page per call, through its outbox
to notification, which computes the day's figures from its own records and sends the e-mail.
The event id is derived from (merchant, date): running the job twice sends nothing twice.

Environment: PAYLAB_MERCHANT_URL, PAYLAB_INTERNAL_SECRET_ARN.
"""

from __future__ import annotations

from typing import Any

from paylab.lambdas._schedule import business_date, fired_at
from paylab.lambdas._services import call

PAGE = 200


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Request the summaries of the event's business date for every active merchant."""
    day = business_date(event)
    body: dict[str, Any] = {
        "business_date": day.isoformat(),
        "scheduled_at": fired_at(event).isoformat(),
        "limit": PAGE,
    }
    totals = {"merchants": 0, "requested": 0, "already_requested": 0}
    while True:
        page = call("merchant", "POST", "/internal/jobs/daily-summaries", body)
        for name in totals:
            totals[name] += int(page[name])
        if not page.get("next_cursor"):
            break
        body["after"] = page["next_cursor"]
    return {"job": "daily-summary", "business_date": day.isoformat(), **totals}
