"""auth's request and response bodies (field names are ePayco's where its SDKs read them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from paylab.core.problems import problem_schema

KEY_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
MERCHANT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

PROBLEM = {"content": {"application/problem+json": {"schema": problem_schema()}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed request", **PROBLEM},
    401: {"description": "Not authenticated", **PROBLEM},
    404: {"description": "Not found", **PROBLEM},
    409: {"description": "Conflict", **PROBLEM},
    422: {"description": "Invalid fields", **PROBLEM},
    429: {"description": "Too many failed attempts; see Retry-After", **PROBLEM},
    503: {"description": "Temporarily unavailable", **PROBLEM},
}


class LoginRequest(BaseModel):
    """A merchant's key pair."""

    # Keys are printable ASCII tokens; anything else (a NUL, a space) cannot be one.
    public_key: str = Field(
        min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$", examples=["pub_4f1c0d..."]
    )
    private_key: str = Field(
        min_length=1, max_length=256, pattern=r"^[\x21-\x7e]+$", examples=["prv_Qm9v..."]
    )


class LoginResponse(BaseModel):
    """A bearer token for `Authorization: Bearer ...` on the gateway."""

    bearer_token: str
    expires_in: int = Field(description="Seconds until the token expires.")


class IssuedKeyResponse(BaseModel):
    """A new key pair; `private_key` is shown here once and never again."""

    merchant_id: str
    public_key: str
    private_key: str
    created_at: datetime


class ApiKeyInfo(BaseModel):
    """A key pair's public half and its state."""

    public_key: str
    active: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyList(BaseModel):
    keys: list[ApiKeyInfo]


class Jwk(BaseModel):
    """An Ed25519 public key (RFC 8037)."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    alg: Literal["EdDSA"]
    use: Literal["sig"]


class Jwks(BaseModel):
    """The keys bearer tokens are verified with: the current one and the previous one."""

    keys: list[Jwk]
