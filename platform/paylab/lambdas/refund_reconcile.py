"""Refund reconciliation (rule `refund-reconcile`): settle refunds a failed request left reserved.

Every 15 minutes on AWS; the rule is off on the local stack (a lab's tests leave refunds
half-way on purpose), where `./paylab jobs run refund-reconcile` runs it, as does
`./paylab payments reconcile-refunds` in-process. The payment service does the work
(`POST /internal/jobs/reconcile-refunds`, payment/refund_reconcile.py); the run fails when a
refund could not be settled for a passing reason (the next run tries again, and the failure
shows), not for refunds left in doubt, which wait for an operator and are logged each run.

Each run puts how many refunds' outcome it leaves unknown (in doubt, or not settled because
the bank or the wallet did not answer) as the CloudWatch gauge `Paylab/Operations`
`RefundsInDoubt` (dimension `Stack`), which `RefundsInDoubtAlarm` watches on AWS.

Environment: PAYLAB_PAYMENT_URL, PAYLAB_INTERNAL_SECRET_ARN, PAYLAB_STACK_NAME,
PAYLAB_REFUND_RECONCILE_AFTER_S (default 600: how long a refund must have gone unattempted).
"""

from __future__ import annotations

import json
import os
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from paylab.lambdas._metrics import put_gauges
from paylab.lambdas._schedule import fired_at
from paylab.lambdas._services import call

IN_DOUBT = "RefundsInDoubt"


class UnsettledRefunds(Exception):
    """Some refunds could not be settled this run (the wallet or the bank did not answer)."""


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """One reconciliation run; the refunds it settled, by what it did with them."""
    at = fired_at(event)  # also refuses an event that is not a scheduled one
    after = int(os.environ.get("PAYLAB_REFUND_RECONCILE_AFTER_S", "600"))
    answer = call("payment", "POST", "/internal/jobs/reconcile-refunds", {"older_than_s": after})
    counts = {str(k): int(v) for k, v in answer["counts"].items()}
    result = {"job": "refund-reconcile", "fired_at": at.isoformat(), "counts": counts}
    doubtful = [s for s in answer["settled"] if s["action"] in ("in-doubt", "failed")]
    if doubtful:
        print(json.dumps({"level": "error", "event": "refunds unsettled", "refunds": doubtful}))
    try:
        # RefundsInDoubtAlarm on AWS: those left in doubt, and those this run could not ask
        # the bank or the wallet about (their outcome is just as unknown until a later run).
        put_gauges({IN_DOUBT: len(doubtful)})
    except (BotoCoreError, ClientError) as exc:  # the run's work is done: say so, go on
        print(json.dumps({"level": "error", "event": "gauge not put", "error": repr(exc)}))
    if counts.get("failed"):
        raise UnsettledRefunds(json.dumps(result))
    return result
