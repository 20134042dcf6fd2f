"""Antifraud HTTP routes: evaluations, rules and block lists."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from paylab.core.problems import Problem
from simulators.antifraud.schemas import (
    EvaluationIn,
    EvaluationOut,
    ListEntryIn,
    ListKind,
    Lists,
    Rules,
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
