"""The runtime posts logs and outcome together when the endpoint says so, else one by one."""

import json
from pathlib import Path
from typing import Any

import pytest

from paylab_localstack.lambda_executor import bootstrap


class FakeUpstream:
    """Records posts as (path, decoded JSON or raw bytes)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []

    def post(self, path: str, body: bytes) -> dict[str, str]:
        try:
            self.posts.append((path, json.loads(body)))
        except ValueError:
            self.posts.append((path, body))
        return {}


def _runtime(tmp_path: Path, handler: Any, combined: bool) -> tuple[Any, FakeUpstream]:
    log = tmp_path / "runtime.log"
    log.write_bytes(b"")
    upstream = FakeUpstream()
    runtime = bootstrap.Runtime(handler, upstream, bootstrap.LogCapture(str(log)))
    runtime.combined_posts = combined
    return runtime, upstream


def _invocation(payload: Any) -> dict[str, Any]:
    return {"invoke-id": "r-1", "payload": json.dumps(payload)}


@pytest.mark.parametrize("combined", [True, False])
def test_a_result_reaches_the_endpoint_with_its_logs(tmp_path: Path, combined: bool) -> None:
    runtime, upstream = _runtime(tmp_path, lambda event, _ctx: {"n": event["n"] + 1}, combined)
    runtime.invoke(_invocation({"n": 1}))

    if combined:
        [(path, body)] = upstream.posts
        assert path == "/invocations/r-1/logs"
        assert json.loads(body["response"]) == {"n": 2}
        logs = body["logs"]
    else:
        (logs_path, logs_body), (result_path, result) = upstream.posts
        assert (logs_path, result_path) == ("/invocations/r-1/logs", "/invocations/r-1/response")
        assert result == {"n": 2}
        logs = logs_body["logs"]
    assert logs.startswith("START RequestId: r-1") and "REPORT RequestId: r-1" in logs


def test_an_error_travels_with_its_logs(tmp_path: Path) -> None:
    def boom(_event: Any, _ctx: Any) -> Any:
        raise ValueError("no")

    runtime, upstream = _runtime(tmp_path, boom, combined=True)
    runtime.invoke(_invocation({}))

    [(path, body)] = upstream.posts
    assert path == "/invocations/r-1/logs"
    error = json.loads(body["error"])
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "no")
    assert "END RequestId: r-1" in body["logs"]
