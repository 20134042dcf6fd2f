"""SAGA step AwaitReview: hand the review task token to the payment service and return.

Antifraud answered `review`: the payment is held (cod 7) with its funds reserved, and the
execution waits (`.waitForTaskToken`) until an operator's decision reaches the payment
service, which sends the task's success (approve) or failure `ReviewRejected` (reject); the
state's timeout rejects the payment with `review-timeout`.
"""

from __future__ import annotations

import time
from typing import Any

from paylab.lambdas._services import call


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Registers the token; the payment service answers Step Functions later."""
    call(
        "payment",
        "POST",
        f"/internal/payments/{event['payment_id']}/await-review",
        # When it was sent: the service stores the token only while this call is waited for.
        {"task_token": event["task_token"], "sent_at_ms": int(time.time() * 1000)},
    )
    return {}
