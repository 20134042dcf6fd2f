"""PAYLAB_LAMBDA_MAX_PROCESSES bounds live function processes; idle ones get evicted."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import client, invoke, running_localstack, runtime_processes, zip_source

APP = {
    "app.py": """
        import os, time

        def handler(event, context):
            time.sleep(event.get("sleep", 0))
            return {"pid": os.getpid()}
    """
}


def _create(name: str) -> None:
    lambda_client = client("lambda")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/r",
        Handler="app.handler",
        Code={"ZipFile": zip_source(APP)},
    )
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)


def test_process_bound_evicts_idle_and_queues_busy(tmp_path: Path) -> None:
    with running_localstack(tmp_path, PAYLAB_LAMBDA_MAX_PROCESSES="2") as localstack:
        for name in ("fa", "fb", "fc"):
            _create(name)
        pid_a = invoke("fa")["Payload"]["pid"]
        invoke("fb")
        invoke("fc")  # evicts fa's idle process, the least recently used
        assert len(runtime_processes(localstack.pid)) == 2
        assert invoke("fa")["Payload"]["pid"] != pid_a  # cold start again, still within the bound

        with ThreadPoolExecutor(max_workers=4) as pool:
            responses = list(pool.map(lambda _: invoke("fb", {"sleep": 0.5}), range(4)))

        assert all("FunctionError" not in r for r in responses), responses
        assert len(runtime_processes(localstack.pid)) <= 2
