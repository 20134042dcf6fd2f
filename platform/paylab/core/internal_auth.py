"""Service-to-service calls (gateway and Lambdas → services) carry the internal credential.

The credential lives in Secrets Manager (stack output `InternalServiceCredentialSecretArn`);
a mismatch refreshes the cached value once, so a rotated credential is picked up at once.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header

from paylab.core.problems import Problem
from paylab.core.secrets import SecretReader
from paylab.core.stack_outputs import output

HEADER = "X-Paylab-Internal-Key"
MERCHANT_HEADER = "X-Paylab-Merchant-Id"
_OUTPUT = "InternalServiceCredentialSecretArn"

_reader = SecretReader()


def internal_credential(*, refresh: bool = False) -> str:
    """The current internal credential (what callers put in X-Paylab-Internal-Key)."""
    return str(_reader.get_json(output(_OUTPUT), refresh=refresh)["password"])


def _matches(presented: str, *, refresh: bool) -> bool:
    return hmac.compare_digest(presented.encode(), internal_credential(refresh=refresh).encode())


def require_internal_caller(
    key: Annotated[str | None, Header(alias=HEADER, include_in_schema=False)] = None,
) -> None:
    """FastAPI dependency: 401 unless the caller presents the internal credential."""
    if not key:
        raise Problem(401, "unauthenticated", f"Missing {HEADER}.", title="Unauthorized")
    if not (_matches(key, refresh=False) or _matches(key, refresh=True)):
        raise Problem(401, "unauthenticated", f"Invalid {HEADER}.", title="Unauthorized")


def merchant_id(
    value: Annotated[str | None, Header(alias=MERCHANT_HEADER, include_in_schema=False)] = None,
) -> str:
    """The merchant the gateway authenticated (it sets this header after checking the JWT)."""
    if not value:
        raise Problem(401, "unauthenticated", "No authenticated merchant.", title="Unauthorized")
    return value


InternalCaller = Annotated[None, Depends(require_internal_caller)]
MerchantId = Annotated[str, Depends(merchant_id)]
