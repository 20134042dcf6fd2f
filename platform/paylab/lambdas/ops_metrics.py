"""Operations gauges (rule `ops-metrics`): what waits for an operator, as CloudWatch metrics.

Every 5 minutes on AWS, where `LatePseApprovalsAlarm` tells the `ops-alerts` topic when the
gauge is 1 or more; off on the local stack (its tests leave late approvals on purpose), where
`./paylab jobs run ops-metrics` runs it and LocalStack keeps the metric.

- `UnsettledLatePseApprovals`: PSE approvals of payments the SAGA had abandoned or failed
  (the payer's bank paid, the merchant was not credited), not yet settled by an operator
  (`paylab payments late-approvals`; the payment service's `GET /internal/jobs/late-approvals`).

A gauge of the state, not a count of arrivals: a run that is lost loses nothing (the next
one reports the same approvals), and the alarm stays on until every one is settled.
Metrics go to the `Paylab/Operations` namespace with a `Stack` dimension.

Environment: PAYLAB_PAYMENT_URL, PAYLAB_INTERNAL_SECRET_ARN, PAYLAB_STACK_NAME.
"""

from __future__ import annotations

import json
from typing import Any

from paylab.lambdas._metrics import put_gauges
from paylab.lambdas._schedule import fired_at
from paylab.lambdas._services import call

LATE_APPROVALS = "UnsettledLatePseApprovals"


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """One run: read the gauges, put them in CloudWatch, log what waits for an operator."""
    at = fired_at(event)  # also refuses an event that is not a scheduled one
    answer = call("payment", "GET", "/internal/jobs/late-approvals")
    late = int(answer["count"])
    put_gauges({LATE_APPROVALS: late})
    if late:
        line = {
            "level": "error",
            "event": "late PSE approvals wait for an operator (paylab payments late-approvals)",
            "payments": [item["payment_id"] for item in answer["items"]],
        }
        print(json.dumps(line))
    return {"job": "ops-metrics", "fired_at": at.isoformat(), "metrics": {LATE_APPROVALS: late}}
