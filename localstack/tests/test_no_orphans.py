"""No function process (nor its children) outlives LocalStack, whether stopped or SIGKILLed."""

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import client, invoke, running_localstack, runtime_processes, wait_until, zip_source

SPAWNS_CHILD = {
    "app.py": """
        import os, subprocess

        def handler(event, context):
            # A grandchild: only the process-group kill reaches it.
            child = subprocess.Popen(["sleep", "300"])
            return {"pid": os.getpid(), "child": child.pid}
    """
}


def _start_functions(count: int) -> list[dict]:
    """Create a function and run `count` parallel invokes, leaving that many warm processes."""
    lambda_client = client("lambda")
    lambda_client.create_function(
        FunctionName="orphans",
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/r",
        Handler="app.handler",
        Code={"ZipFile": zip_source(SPAWNS_CHILD)},
    )
    lambda_client.get_waiter("function_active_v2").wait(FunctionName="orphans")
    with ThreadPoolExecutor(max_workers=count) as pool:
        results = [r["Payload"] for r in pool.map(lambda _: invoke("orphans"), range(count))]
    # LocalStack lazily loads Logs (and, with our perf patches off, CloudWatch) for each
    # invoke; a SIGTERM while they load makes its shutdown wait ~30 s (a LocalStack race).
    assert wait_until(_logs_arrived, timeout=30)
    return results


def _logs_arrived() -> bool:
    groups = client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/orphans")
    return bool(groups["logGroups"])


@pytest.mark.parametrize("stop", ["sigkill", "sigterm"])
def test_no_runtime_process_survives_localstack(tmp_path: Path, stop: str) -> None:
    with running_localstack(tmp_path) as localstack:
        results = _start_functions(3)
        assert all("pid" in r for r in results), results
        # each warm runtime plus the `sleep` it left behind
        assert len(runtime_processes(localstack.pid)) >= 2 * len({r["pid"] for r in results})

        if stop == "sigkill":
            localstack.proc.send_signal(signal.SIGKILL)
            localstack.proc.wait(timeout=30)
        else:
            # Our shutdown hook kills the runtimes before LocalStack stops its services; that later
            # part can hang for a while on its own, so do not wait for LocalStack to exit here.
            localstack.proc.send_signal(signal.SIGTERM)

        def none_left() -> bool:
            return not runtime_processes(localstack.pid)

        assert wait_until(none_left, timeout=15), [
            p.cmdline() for p in runtime_processes(localstack.pid)
        ]
