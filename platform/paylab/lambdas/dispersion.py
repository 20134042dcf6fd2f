"""Scheduled at 00:00 America/Bogota: pay out every merchant's balance for the day that ended.

EventBridge's rule `<stack>-dispersion` (`cron(0 5 * * ? *)`) sends its scheduled event; the
business date comes from the event's `time` only (`_schedule.business_date`), so a re-sent
event (`./paylab jobs run dispersion --at ...`) is the same run. The merchant service does the
work and makes it exactly once per merchant and day, so a retried invocation pays no one twice.
"""

from __future__ import annotations

import json
from typing import Any

from paylab.lambdas._schedule import business_date
from paylab.lambdas._services import call


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Run the dispersion of the event's business date; returns the run's per-merchant counts."""
    day = business_date(event)
    result: dict[str, Any] = call(
        "merchant", "POST", "/internal/dispersions/run", {"business_date": day.isoformat()}
    )
    summary = {"business_date": day.isoformat(), "counts": result.get("counts", {})}
    print(json.dumps({"event": "dispersion.run", **summary}))  # one line in the Lambda's log
    return {**summary, "results": result.get("results", [])}
