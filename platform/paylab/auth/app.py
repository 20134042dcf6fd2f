"""auth's HTTP entrypoints: login, JWKS, and the internal API-key endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import redis
from fastapi import APIRouter, FastAPI, Path, Request, Response

from paylab.auth import service
from paylab.auth.runtime import Deps, build_runtime
from paylab.auth.schemas import (
    ERRORS,
    KEY_PATTERN,
    MERCHANT_ID_PATTERN,
    ApiKeyInfo,
    ApiKeyList,
    IssuedKeyResponse,
    Jwks,
    LoginRequest,
    LoginResponse,
)
from paylab.auth.settings import AuthSettings
from paylab.core.app import create_app
from paylab.core.internal_auth import HEADER, REFUSED, InternalCaller, is_internal_caller
from paylab.core.lazy import Lazy
from paylab.core.problems import Problem, problem_response

MerchantPath = Annotated[str, Path(pattern=MERCHANT_ID_PATTERN)]
PublicKeyPath = Annotated[str, Path(pattern=KEY_PATTERN)]
INVALID_CREDENTIALS = "The public key or the private key is not valid."

public = APIRouter(tags=["auth"], responses={400: ERRORS[400], 422: ERRORS[422]})
internal = APIRouter(
    prefix="/internal",
    tags=["internal"],
    responses={401: ERRORS[401], 400: ERRORS[400], 422: ERRORS[422]},
)


def client_ip(request: Request) -> str:
    """The caller's IP; X-Forwarded-For only counts when the gateway (internal key) sent it.

    A request that presents an internal key auth does not accept is refused (401
    `internal-credential-refused`, before any login work) rather than counted against the
    gateway's own address: the gateway then reads the rotated key and sends it again.
    """
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    presented = request.headers.get(HEADER)
    if presented is None:
        return peer
    if not is_internal_caller(presented):
        raise Problem(401, REFUSED, f"Invalid {HEADER}.", title="Unauthorized")
    return (forwarded.split(",")[-1].strip()[:64] if forwarded else "") or peer


@public.post(
    "/v1/auth/login",
    response_model=LoginResponse,
    responses={401: ERRORS[401], 429: ERRORS[429], 503: ERRORS[503]},
    summary="Exchange a merchant's public and private key for a bearer token",
)
def login(
    body: LoginRequest, request: Request, response: Response, rt: Deps
) -> LoginResponse | Response:
    try:
        token = service.login(
            rt.sessions,
            rt.keys,
            rt.throttle,
            rt.settings,
            public_key=body.public_key,
            private_key=body.private_key,
            client_ip=client_ip(request),
        )
    except service.InvalidCredentials:
        return problem_response(
            401,
            "invalid-credentials",
            INVALID_CREDENTIALS,
            headers={"WWW-Authenticate": 'Bearer realm="paylab"', "Cache-Control": "no-store"},
        )
    except service.LoginThrottled as exc:
        return problem_response(
            429,
            "too-many-login-attempts",
            "Too many failed logins; try again later.",
            headers={"Retry-After": exc.retry_after},
        )
    except redis.RedisError:
        # Fail closed: logins are not served without brute-force throttling.
        return problem_response(
            503,
            "login-unavailable",
            "Login is unavailable; try again.",
            headers={"Retry-After": "5"},
        )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return LoginResponse(bearer_token=token.token, expires_in=token.expires_in)


@public.get(
    "/.well-known/jwks.json",
    response_model=Jwks,
    summary="Public keys that verify bearer tokens (current and previous)",
)
def jwks(response: Response, rt: Deps) -> Jwks:
    # As long as the gateway keeps a JWKS (15 s): a key that rotated out is dropped as soon
    # by any verifier that honours the header.
    response.headers["Cache-Control"] = "public, max-age=15"
    return Jwks.model_validate(rt.keys.jwks())


@internal.post(
    "/merchants/{merchant_id}/api-keys",
    status_code=201,
    response_model=IssuedKeyResponse,
    responses={409: ERRORS[409]},
    summary="Create a key pair for a merchant (the private key is returned once)",
)
def create_api_key(
    merchant_id: MerchantPath, _: InternalCaller, response: Response, rt: Deps
) -> IssuedKeyResponse:
    try:
        issued = service.issue_api_key(
            rt.sessions, merchant_id, max_active=rt.settings.max_active_keys_per_merchant
        )
    except service.TooManyKeys as exc:
        raise Problem(
            409,
            "too-many-api-keys",
            f"The merchant already has {rt.settings.max_active_keys_per_merchant} active keys; "
            "revoke one first.",
        ) from exc
    response.headers["Cache-Control"] = "no-store"
    return IssuedKeyResponse(
        merchant_id=issued.merchant_id,
        public_key=issued.public_key,
        private_key=issued.private_key,
        created_at=issued.created_at,
    )


@internal.get(
    "/merchants/{merchant_id}/api-keys",
    response_model=ApiKeyList,
    summary="A merchant's keys (public halves and state only)",
)
def list_api_keys(merchant_id: MerchantPath, _: InternalCaller, rt: Deps) -> ApiKeyList:
    rows = service.list_api_keys(rt.sessions, merchant_id)
    return ApiKeyList(
        keys=[
            ApiKeyInfo(
                public_key=r.public_key,
                active=r.active,
                created_at=r.created_at,
                last_used_at=r.last_used_at,
                revoked_at=r.revoked_at,
            )
            for r in rows
        ]
    )


@internal.delete(
    "/api-keys/{public_key}",
    status_code=204,
    responses={404: ERRORS[404], 503: ERRORS[503]},
    summary="Revoke a key pair (idempotent); its tokens are refused at once",
)
def revoke_api_key(public_key: PublicKeyPath, _: InternalCaller, rt: Deps) -> Response:
    try:
        service.revoke_api_key(rt.sessions, rt.revocations, public_key)
    except service.UnknownKey as exc:
        raise Problem(404, "api-key-not-found", "No API key has this public key.") from exc
    except redis.RedisError:
        return problem_response(
            503,
            "revocation-unavailable",
            "The key is revoked but its tokens could not be stopped yet; repeat the request.",
            headers={"Retry-After": "5"},
        )
    return Response(status_code=204)


def create(settings: AuthSettings | None = None) -> FastAPI:
    """The auth app; connections are made on its first request (uvicorn --factory)."""
    settings = settings or AuthSettings()
    app = create_app("auth", [public, internal], title="Paylab auth")
    app.state.runtime = Lazy(lambda: build_runtime(settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if (runtime := app.state.runtime.built) is not None:
                runtime.close()

    app.router.lifespan_context = lifespan
    return app
