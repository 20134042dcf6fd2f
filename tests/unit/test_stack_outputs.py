"""stack_outputs: never keeps a half-deployed stack's outputs; a missing key reads again."""

from __future__ import annotations

from typing import Any

import pytest

from paylab.core import stack_outputs as so
from paylab.core.settings import Settings


class FakeCloudFormation:
    def __init__(self) -> None:
        self.status = "CREATE_IN_PROGRESS"
        self.outputs: dict[str, str] = {}
        self.calls = 0

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.calls += 1
        outputs = [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()]
        return {
            "Stacks": [{"StackName": StackName, "StackStatus": self.status, "Outputs": outputs}]
        }


@pytest.fixture
def cfn(monkeypatch: pytest.MonkeyPatch) -> FakeCloudFormation:
    fake = FakeCloudFormation()
    monkeypatch.setattr(so, "client", lambda *_a, **_k: fake)
    monkeypatch.setattr(so, "_cache", {})
    monkeypatch.setattr(so, "_last_miss_refresh", {})
    return fake


def test_outputs_of_a_stack_in_progress_are_not_kept(cfn: FakeCloudFormation) -> None:
    settings = Settings(stack_name="t-stack")
    assert so.stack_outputs(settings) == {}
    cfn.status, cfn.outputs = "CREATE_COMPLETE", {"QueueUrl": "http://q"}
    assert so.output("QueueUrl", settings) == "http://q"
    calls = cfn.calls
    assert so.output("QueueUrl", settings) == "http://q"
    assert cfn.calls == calls  # complete: kept


def test_a_missing_key_reads_the_stack_again_but_not_on_every_call(
    cfn: FakeCloudFormation, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(stack_name="t-stack")
    cfn.status, cfn.outputs = "CREATE_COMPLETE", {"A": "a"}
    assert so.output("A", settings) == "a"
    cfn.status, cfn.outputs = "UPDATE_COMPLETE", {"A": "a", "B": "b"}  # a redeploy added B
    assert so.output("B", settings) == "b"
    calls = cfn.calls
    for _ in range(3):
        with pytest.raises(so.StackOutputsUnavailable, match="'C'"):
            so.output("C", settings)
    assert cfn.calls == calls  # B's read was under 5 s ago: misses do not hammer the stack
    later = so.time.monotonic() + so.MISS_REFRESH_SECONDS + 1
    monkeypatch.setattr(so.time, "monotonic", lambda: later)
    for _ in range(3):
        with pytest.raises(so.StackOutputsUnavailable, match="'C'"):
            so.output("C", settings)
    assert cfn.calls == calls + 1  # one read for three misses once the interval passed


def test_a_service_answers_503_problem_while_the_stack_is_unavailable() -> None:
    from fastapi import APIRouter
    from fastapi.testclient import TestClient

    from paylab.core.app import create_app

    router = APIRouter()

    @router.get("/needs-the-stack")
    def needs_the_stack() -> None:
        raise so.StackOutputsUnavailable("the stack has no output 'X'")

    response = TestClient(create_app("t", [router], title="t")).get("/needs-the-stack")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert "'X'" in response.json()["detail"]
