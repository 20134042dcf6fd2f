"""Antifraud HTTP routes: evaluations, rules and block lists."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from paylab.core.problems import Problem
from simulators.antifraud.schemas import (
    EvaluationIn,
    EvaluationOut,
    ListEntryIn,
    ListKind,
    Lists,
    Rules,
    VelocityLease,
    VelocityLeaseIn,
)
from simulators.antifraud.state import AntifraudState
from simulators.control import ERRORS

router = APIRouter(tags=["antifraud"], responses={422: ERRORS[422], 400: ERRORS[400]})


def _state(request: Request) -> AntifraudState:
    state: AntifraudState = request.app.state.sim.state
    return state


@router.post("/v1/evaluations", response_model=EvaluationOut)
async def evaluate(body: EvaluationIn, request: Request) -> dict[str, Any]:
    """Score an attempt 0-100 and decide approve / review / reject, with reasons."""
    return _state(request).evaluate(body)


@router.get("/v1/evaluations/{eval_id}", response_model=EvaluationOut, responses={404: ERRORS[404]})
async def get_evaluation(eval_id: str, request: Request) -> dict[str, Any]:
    """A past evaluation."""
    found = _state(request).evaluations.get(eval_id)
    if found is None:
        raise Problem(404, "unknown-evaluation", f"No evaluation {eval_id!r}.")
    return found


@router.get("/v1/rules", response_model=Rules)
async def get_rules(request: Request) -> Rules:
    """Thresholds, velocity limits and points."""
    return _state(request).rules


@router.put("/v1/rules", response_model=Rules)
async def put_rules(body: Rules, request: Request) -> Rules:
    """Replace the rules; omitted fields take their defaults."""
    if body.review_score > body.reject_score:
        raise Problem(
            422,
            "validation-error",
            "review_score must not exceed reject_score.",
            errors=[{"field": "body.review_score", "message": "must be <= reject_score"}],
        )
    _state(request).rules = body
    return body


Holder = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,100}$")]


@router.get("/v1/rules/leases", response_model=list[VelocityLease])
async def list_leases(request: Request) -> list[VelocityLease]:
    """The active velocity leases."""
    state = _state(request)
    return [
        _lease_out(holder, expiry, limits, state)
        for holder, (expiry, limits) in sorted(state.active_leases().items())
    ]


@router.put("/v1/rules/leases/{holder}", response_model=VelocityLease)
async def put_lease(holder: Holder, body: VelocityLeaseIn, request: Request) -> VelocityLease:
    """Take or renew a lease on raised velocity limits.

    While any lease is active the velocity limits are the highest of the rules' and the
    leases'; a lease that is not renewed within `ttl_s` lapses by itself, so a test run that
    dies leaves the rules as they were. Runs that overlap each hold their own.
    """
    state = _state(request)
    return _lease_out(holder, state.lease(holder, body), body, state)


@router.delete("/v1/rules/leases/{holder}", status_code=204, responses={404: ERRORS[404]})
async def delete_lease(holder: Holder, request: Request) -> Response:
    """End a lease before it lapses."""
    if not _state(request).release(holder):
        raise Problem(404, "unknown-lease", f"No active lease held by {holder!r}.")
    return Response(status_code=204)


def _lease_out(
    holder: str, expiry: float, limits: VelocityLeaseIn, state: AntifraudState
) -> VelocityLease:
    left = round(max(0.0, expiry - state.clock()), 3)
    return VelocityLease(holder=holder, expires_in_s=left, **limits.model_dump())


@router.get("/v1/lists", response_model=Lists)
async def get_lists(request: Request) -> Lists:
    """Every block list."""
    return Lists.model_validate({k: sorted(v) for k, v in _state(request).lists.items()})


@router.post(
    "/v1/lists/{kind}", status_code=201, response_model=Lists, responses={409: ERRORS[409]}
)
async def add_to_list(kind: ListKind, body: ListEntryIn, request: Request) -> Lists:
    """Block a value (email, document number, card BIN or IP)."""
    state = _state(request)
    if not state.add(kind, body.value):
        raise Problem(409, "already-listed", f"{body.value!r} is already on the {kind} list.")
    return Lists.model_validate({k: sorted(v) for k, v in state.lists.items()})


@router.delete("/v1/lists/{kind}/{value}", status_code=204, responses={404: ERRORS[404]})
async def remove_from_list(kind: ListKind, value: str, request: Request) -> Response:
    """Unblock a value."""
    if not _state(request).remove(kind, value):
        raise Problem(404, "not-listed", f"{value!r} is not on the {kind} list.")
    return Response(status_code=204)
