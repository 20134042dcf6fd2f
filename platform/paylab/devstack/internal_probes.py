"""Which running services refuse an internal credential: one harmless request to each.

Each service that checks `X-Paylab-Internal-Key` gets one internal request that changes
nothing (ids that do not exist, no body). Whatever it answers (404, 422, 200...), only a 401
of type internal-credential-refused means the credential was refused. The secret-rotation
feature and integration tests use it to see every service take up a rotation.
"""

from __future__ import annotations

import httpx

from paylab.core.internal_auth import HEADER, MERCHANT_HEADER, REFUSED

PROBES = {
    "auth": ("DELETE", "http://127.0.0.1:8001/internal/api-keys/pub_nonexistent"),
    "payment": ("GET", "http://127.0.0.1:8002/internal/payments/pay_nonexistent"),
    "wallet": ("GET", "http://127.0.0.1:8003/internal/holds/nonexistent"),
    "merchant": ("PUT", "http://127.0.0.1:8004/internal/merchants/nonexistent"),
    "notification": ("GET", "http://127.0.0.1:8005/v1/notifications?limit=1"),
    "audit": ("GET", "http://127.0.0.1:8006/internal/audit/verify"),
}


def refused_by(key: str) -> dict[str, bool]:
    """For each service: whether it refuses an internal request carrying `key`."""
    found = {}
    for name, (method, url) in PROBES.items():
        headers = {HEADER: key, MERCHANT_HEADER: "probe-nonexistent"}
        answer = httpx.request(method, url, headers=headers, timeout=30.0)
        if answer.status_code >= 500:
            raise AssertionError(f"{name} answered {answer.status_code}: {answer.text}")
        found[name] = answer.status_code == 401 and answer.json()["type"].endswith(REFUSED)
    return found
