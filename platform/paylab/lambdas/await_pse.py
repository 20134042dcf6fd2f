"""SAGA step ProcessPayment (PSE): hand the task token to the payment service and return.

The execution waits (`.waitForTaskToken`) until the payment service, on the bank's
confirmation, sends the task's success; the state's timeout abandons the payment.
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
        f"/internal/payments/{event['payment_id']}/await-confirmation",
        # When it was sent: the service stores the token only while this call is waited for.
        {"task_token": event["task_token"], "sent_at_ms": int(time.time() * 1000)},
    )
    return {}
