"""Data cleanup (rule `data-cleanup`, 03:00 Bogota): each service deletes what the policy lets it.

The policy (what, how long, why) is `paylab.core.retention` in the services, documented in
docs/retention.md; each service applies it to its own schema in bounded batches behind
`POST /internal/jobs/cleanup` and says whether more is left, so this Lambda calls again
until it is done or its round budget is spent (the next night carries on). One service
failing does not stop the others; the run then fails so that the failure is seen.

Environment: PAYLAB_<SERVICE>_URL for each of PAYLAB_CLEANUP_SERVICES (default payment,
wallet, merchant, notification), PAYLAB_INTERNAL_SECRET_ARN.
"""

from __future__ import annotations

import os
from typing import Any

from paylab.lambdas._schedule import business_date
from paylab.lambdas._services import call

DEFAULT_SERVICES = "payment,wallet,merchant,notification"
MAX_ROUNDS = 10  # per service and run: bounded work per night, whatever the backlog


def clean(service: str) -> dict[str, int]:
    """Call the service's cleanup until nothing is left (or MAX_ROUNDS); rows deleted per table."""
    deleted: dict[str, int] = {}
    for _ in range(MAX_ROUNDS):
        answer = call(service, "POST", "/internal/jobs/cleanup", {})
        for table, count in answer["deleted"].items():
            deleted[table] = deleted.get(table, 0) + int(count)
        if not answer.get("more"):
            break
    return deleted


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Run every service's cleanup; the rows deleted per service and table."""
    day = business_date(event)  # also refuses an event that is not a scheduled one
    services = [
        s.strip() for s in os.environ.get("PAYLAB_CLEANUP_SERVICES", DEFAULT_SERVICES).split(",")
    ]
    deleted: dict[str, dict[str, int]] = {}
    failed: dict[str, str] = {}
    for service in filter(None, services):
        try:
            deleted[service] = clean(service)
        except Exception as exc:  # one service down must not spare the others
            failed[service] = repr(exc)[:300]
    if failed:
        raise RuntimeError(f"data cleanup: {sorted(failed)} failed: {failed}; done: {deleted}")
    return {"job": "data-cleanup", "business_date": day.isoformat(), "deleted": deleted}
