"""paylab_host executor: results, errors, timeouts, boto3 in functions, warm reuse, concurrency."""

import base64
import signal
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from conftest import (
    FunctionFactory,
    LocalStack,
    client,
    invoke,
    runtime_processes,
    wait_until,
)
from paylab_localstack.lambda_executor.results import exit_reason

ECHO = {
    "pkg/__init__.py": "",
    "pkg/handlers/__init__.py": "",
    "pkg/handlers/echo.py": """
        import os, sys

        def handler(event, context):
            print("echo from", os.getpid())
            return {
                "event": event,
                "pid": os.getpid(),
                "python": "%d.%d" % sys.version_info[:2],
                "cwd": os.getcwd(),
                "task_root": os.environ["LAMBDA_TASK_ROOT"],
                "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
                "region": os.environ.get("AWS_REGION"),
                "function_env": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
                "custom": os.environ.get("GREETING"),
                "has_key": bool(os.environ.get("AWS_ACCESS_KEY_ID")),
                "context": {
                    "request_id": context.aws_request_id,
                    "function_name": context.function_name,
                    "memory": context.memory_limit_in_mb,
                    "arn": context.invoked_function_arn,
                    "log_group": context.log_group_name,
                    "remaining": context.get_remaining_time_in_millis(),
                },
            }
    """,
}


def test_invoke_returns_result_from_nested_package(make_function: FunctionFactory) -> None:
    name = make_function(ECHO, handler="pkg.handlers.echo.handler", env={"GREETING": "hola"})

    response = invoke(name, {"amount": 1000}, log=True)

    assert "FunctionError" not in response
    body = response["Payload"]
    assert body["event"] == {"amount": 1000}
    assert body["python"] == "3.11"
    assert body["cwd"] == body["task_root"]
    assert body["endpoint"].startswith("http://127.0.0.1:")
    assert body["region"] == "us-east-1"
    assert body["function_env"] == name
    assert body["custom"] == "hola"
    assert body["has_key"]
    context = body["context"]
    assert context["function_name"] == name
    assert context["memory"] == "128"
    assert context["arn"].endswith(f":function:{name}")
    assert context["log_group"] == f"/aws/lambda/{name}"
    assert 0 < context["remaining"] <= 10_000
    logs = base64.b64decode(response["LogResult"]).decode()
    assert f"echo from {body['pid']}" in logs
    assert f"REPORT RequestId: {context['request_id']}" in logs


def test_runtime_picks_matching_python(make_function: FunctionFactory) -> None:
    name = make_function(ECHO, handler="pkg.handlers.echo.handler", runtime="python3.12")

    assert invoke(name)["Payload"]["python"] == "3.12"


def test_unhandled_error_has_aws_shape(make_function: FunctionFactory) -> None:
    name = make_function(
        {
            "app.py": """
                def handler(event, context):
                    raise ValueError("card declined")
            """
        }
    )

    response = invoke(name)

    assert response["FunctionError"] == "Unhandled"
    error = response["Payload"]
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "card declined"
    assert any("app.py" in line for line in error["stackTrace"])


def test_import_error_is_reported_as_init_error(make_function: FunctionFactory) -> None:
    name = make_function({"app.py": "import not_packaged_dependency\n"})

    response = invoke(name)

    assert response["FunctionError"] == "Unhandled"
    assert response["Payload"]["errorType"] == "Runtime.ImportModuleError"
    assert "not_packaged_dependency" in response["Payload"]["errorMessage"]


SLEEPER = {
    "app.py": """
        import os, time

        def handler(event, context):
            print("sleeper pid", os.getpid(), flush=True)
            time.sleep(event.get("sleep", 0))
            return {"pid": os.getpid()}
    """
}


def test_timeout_kills_the_process_and_next_invoke_recovers(make_function: FunctionFactory) -> None:
    name = make_function(SLEEPER, timeout=2)
    warm_pid = invoke(name, {"sleep": 0})["Payload"]["pid"]

    started = time.monotonic()
    response = invoke(name, {"sleep": 30}, log=True)
    elapsed = time.monotonic() - started

    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 2.00 seconds" in response["Payload"]["errorMessage"]
    assert 2 <= elapsed < 15  # the 2 s timeout ended it, not the handler's 30 s sleep
    # the output of the timed-out invocation only, not the earlier warm one's
    assert base64.b64decode(response["LogResult"]).decode().count(f"sleeper pid {warm_pid}") == 1
    assert wait_until(lambda: not psutil.pid_exists(warm_pid), timeout=5)
    recovered = invoke(name, {"sleep": 0})
    assert "FunctionError" not in recovered
    assert recovered["Payload"]["pid"] != warm_pid


def test_exit_reasons_are_worded_as_lambda_words_them() -> None:
    assert exit_reason(-signal.SIGKILL) == "signal: killed"
    assert exit_reason(-signal.SIGTERM) == "signal: terminated"
    assert exit_reason(-signal.SIGUSR2) == "signal: usr2"
    assert exit_reason(3) == "exit status 3"
    assert exit_reason(None) == "exit status unknown"


def test_a_runtime_killed_mid_invocation_fails_it_at_once(
    make_function: FunctionFactory, localstack: LocalStack
) -> None:
    """A dead runtime is a Runtime.ExitError now, as on Lambda, not a timeout much later."""
    name = make_function(SLEEPER, timeout=30)
    invoke(name, {"sleep": 0})  # warm: the next invoke goes to this process

    [runtime] = [
        p
        for p in runtime_processes(localstack.pid)
        if p.environ().get("AWS_LAMBDA_FUNCTION_NAME") == name
    ]
    log_file = Path(runtime.environ()["PAYLAB_LAMBDA_LOG_FILE"])

    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        pending = pool.submit(invoke, name, {"sleep": 25}, True)
        # The second "sleeper pid" line: the handler is inside the slow invocation now.
        assert wait_until(lambda: log_file.read_text().count("sleeper pid") == 2, timeout=10)
        runtime.kill()
        response = pending.result(timeout=20)
    elapsed = time.monotonic() - started

    assert response["FunctionError"] == "Unhandled"
    assert response["Payload"]["errorType"] == "Runtime.ExitError"
    assert response["Payload"]["errorMessage"].endswith(
        "Error: Runtime exited with error: signal: killed"
    )
    assert elapsed < 20  # the kill ended it, not the function's 30 s timeout
    assert f"sleeper pid {runtime.pid}" in base64.b64decode(response["LogResult"]).decode()
    recovered = invoke(name, {"sleep": 0})
    assert "FunctionError" not in recovered
    assert recovered["Payload"]["pid"] != runtime.pid


def test_function_uses_boto3_against_localstack(make_function: FunctionFactory) -> None:
    table = f"t-boto3-{int(time.time() * 1000)}"
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    name = make_function(
        {
            "app.py": """
                import os
                import boto3  # provided by the runtime, as on AWS

                def handler(event, context):
                    table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
                    table.put_item(Item={"pk": event["id"], "amount": 1500})
                    item = table.get_item(Key={"pk": event["id"]})["Item"]
                    return {"item": item, "boto3": boto3.__file__}
            """
        },
        env={"TABLE": table},
    )

    response = invoke(name, {"id": "tx-1"})

    assert "FunctionError" not in response, response["Payload"]
    assert response["Payload"]["item"] == {"pk": "tx-1", "amount": 1500}
    stored = dynamodb.get_item(TableName=table, Key={"pk": {"S": "tx-1"}})["Item"]
    assert stored["amount"] == {"N": "1500"}
    dynamodb.delete_table(TableName=table)


def test_warm_process_is_reused_and_faster(make_function: FunctionFactory) -> None:
    name = make_function(SLEEPER)

    started = time.perf_counter()
    first = invoke(name)
    cold_ms = (time.perf_counter() - started) * 1000
    warm_ms = []
    pids = set()
    for _ in range(20):
        started = time.perf_counter()
        pids.add(invoke(name)["Payload"]["pid"])
        warm_ms.append((time.perf_counter() - started) * 1000)

    p50 = statistics.median(warm_ms)
    print(f"\nfirst invoke {cold_ms:.0f} ms, warm p50 {p50:.1f} ms, max {max(warm_ms):.1f} ms")
    assert pids == {first["Payload"]["pid"]}
    assert p50 < cold_ms


def test_parallel_invocations_all_succeed(make_function: FunctionFactory) -> None:
    name = make_function(SLEEPER)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: invoke(name, {"sleep": 1}), range(8)))
    elapsed = time.monotonic() - started

    assert all("FunctionError" not in r for r in responses)
    pids = {r["Payload"]["pid"] for r in responses}
    print(f"\n8 parallel 1 s invokes: {elapsed:.2f} s on {len(pids)} processes")
    assert len(pids) > 1
    assert elapsed < 8
