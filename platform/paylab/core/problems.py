"""Errors as data: application/problem+json responses for every bad input."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from paylab.core.stack_outputs import StackOutputsUnavailable

PROBLEM_TYPE_BASE = "https://paylab.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    415: "Unsupported media type",
    413: "Payload too large",
    422: "Validation error",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(Exception):
    """A 4xx answered on purpose, rendered as a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.errors = errors
        self.headers = headers


def problem_body(
    status: int,
    slug: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Build a problem+json document."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(
    status: int,
    slug: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response."""
    body = problem_body(status, slug, detail, title=title, errors=errors)
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def field_errors(
    raw: list[Any] | tuple[Any, ...], prefix: tuple[str, ...] = ()
) -> list[dict[str, str]]:
    """Turn pydantic error dicts into `{"field": "body.amount", "message": ...}` items."""
    out: list[dict[str, str]] = []
    for err in raw:
        loc = prefix + tuple(str(p) for p in err.get("loc", ()))
        out.append({"field": ".".join(loc) or "body", "message": str(err.get("msg", "invalid"))})
    return out


def validation_problem(errors: list[dict[str, str]], *, json_invalid: bool = False) -> Response:
    """422 (or 400 for unparsable JSON) with the offending fields."""
    if json_invalid:
        return problem_response(
            400, "malformed-json", "The request body is not valid JSON.", errors=errors
        )
    fields = ", ".join(e["field"] for e in errors[:5])
    return problem_response(
        422, "validation-error", f"The request has invalid fields: {fields}.", errors=errors
    )


def from_pydantic(exc: ValidationError, prefix: tuple[str, ...] = ("body",)) -> Response:
    """Map a pydantic ValidationError raised while parsing a body by hand."""
    raw = exc.errors(include_url=False, include_input=False)
    json_invalid = any(e.get("type") == "json_invalid" for e in raw)
    return validation_problem(field_errors(raw, prefix), json_invalid=json_invalid)


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves the app as problem+json; nothing leaks a traceback."""

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        raw = list(exc.errors())
        json_invalid = any(e.get("type") == "json_invalid" for e in raw)
        cleaned = [{"loc": e.get("loc", ()), "msg": e.get("msg", "invalid")} for e in raw]
        return validation_problem(field_errors(cleaned), json_invalid=json_invalid)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 404 and detail == "Not Found":
            detail = "No such resource."
        if exc.status_code == 405:
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed here; use {' or '.join(allowed)}."
        return problem_response(exc.status_code, slug, detail, headers=headers or None)

    async def on_problem(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status,
            exc.slug,
            exc.detail,
            title=exc.title,
            errors=exc.errors,
            headers=exc.headers,
        )

    async def on_stack_unavailable(_: Request, exc: Exception) -> Response:
        # The AWS resources are not known yet (the stack is still deploying) or not at all:
        # a temporary condition for the caller, never a 500.
        return problem_response(
            503,
            "stack-unavailable",
            f"The platform's AWS resources are not available: {exc}",
            headers={"Retry-After": "5"},
        )

    async def on_data_error(_: Request, exc: Exception) -> Response:
        # Postgres refuses NUL characters in text: input that slipped past a field's pattern
        # (the transaction rolled back; nothing was written). Any other DataError is ours: 500.
        if not any(nul in str(exc) for nul in ("NUL (0x00)", "\\u0000 cannot be converted")):
            raise exc  # text fields say the first, JSON documents the second
        return problem_response(
            422, "validation-error", "Text fields must not contain NUL (\\u0000) characters."
        )

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StackOutputsUnavailable, on_stack_unavailable)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app accepts on this path (for 405's Allow header)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods - {"HEAD"} if "GET" not in methods else methods)


def problem_schema() -> dict[str, Any]:
    """JSON schema of a problem document, for OpenAPI `responses`."""
    return {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring a problem+json body for each status."""
    content = {PROBLEM_MEDIA_TYPE: {"schema": problem_schema()}}
    return {status: {"description": "Problem", "content": content} for status in statuses}
