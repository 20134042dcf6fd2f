"""Fixtures: a LocalStack on the host with Paylab's plugins, AWS clients, and throwaway functions.

Run with the LocalStack venv's Python (it has LocalStack, boto3 and this package installed):
    /path/to/lsvenv/bin/python -m pytest localstack/tests
"""

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest

PORT = int(os.environ.get("PAYLAB_LS_TEST_PORT", "4610"))
ENDPOINT = f"http://127.0.0.1:{PORT}"
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"

PLUGIN_ENV = {
    "PROVIDER_OVERRIDE_DYNAMODB": "paylab_moto",
    "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "paylab_moto",
    "LAMBDA_RUNTIME_EXECUTOR": "paylab_host",
}


def localstack_env(filesystem_root: Path) -> dict[str, str]:
    """Host-mode LocalStack settings (no Docker, no outbound calls) plus our plugins."""
    env = dict(os.environ)
    env.update(
        {
            "OVERRIDE_IN_DOCKER": "0",
            "GATEWAY_LISTEN": f"127.0.0.1:{PORT}",
            "GATEWAY_SERVER": "hypercorn",
            "LOCALSTACK_HOST": f"127.0.0.1:{PORT}",
            "FILESYSTEM_ROOT": str(filesystem_root),
            "DNS_ADDRESS": "0",
            "DISABLE_EVENTS": "1",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "API_ENDPOINT": "http://127.0.0.1:9",
            "ANALYTICS_API": "http://127.0.0.1:9",
            "SQS_DISABLE_CLOUDWATCH_METRICS": "1",
            **PLUGIN_ENV,
        }
    )
    return env


@dataclass
class LocalStack:
    """A running LocalStack subprocess."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def _healthy() -> bool:
    try:
        with urllib.request.urlopen(f"{ENDPOINT}/_localstack/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def runtime_processes(localstack_pid: int) -> list[psutil.Process]:
    """Function processes (and their children) started by the LocalStack with this pid."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("PAYLAB_PARENT_PID") == str(localstack_pid):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll condition until it holds or the deadline passes; return its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


@contextmanager
def running_localstack(root: Path, **extra_env: str) -> Iterator[LocalStack]:
    """Start LocalStack on PORT, wait for health, and stop it (by PID) afterwards."""
    if _healthy():
        pytest.fail(f"Something already answers on port {PORT}; refusing to test against it.")
    log_path = root / "localstack.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "localstack.runtime.main"],
            env={**localstack_env(root / "fs"), **extra_env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    localstack = LocalStack(proc, log_path)
    try:
        if not wait_until(lambda: _healthy() or proc.poll() is not None, timeout=60):
            pytest.fail(f"LocalStack not healthy after 60 s:\n{localstack.log_tail()}")
        if proc.poll() is not None:
            pytest.fail(f"LocalStack exited with {proc.returncode}:\n{localstack.log_tail()}")
        yield localstack
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """One LocalStack per test module (the SIGKILL tests start their own)."""
    with running_localstack(tmp_path_factory.mktemp("localstack")) as instance:
        yield instance


@cache
def client(service: str) -> Any:
    """A boto3 client for LocalStack (cached: clients are thread-safe and slow to create)."""
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def aws(localstack: LocalStack) -> Callable[[str], Any]:
    """Factory of boto3 clients bound to the module's LocalStack."""
    return client


def zip_source(files: dict[str, str]) -> bytes:
    """A deployment package from {path: source}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, source in files.items():
            archive.writestr(path, textwrap.dedent(source))
    return buffer.getvalue()


FunctionFactory = Callable[..., str]


@pytest.fixture
def make_function(localstack: LocalStack) -> Iterator[FunctionFactory]:
    """Create zip Python functions with unique names; delete them afterwards."""
    lambda_client = client("lambda")
    created: list[str] = []

    def create(
        files: dict[str, str],
        handler: str = "app.handler",
        runtime: str = "python3.11",
        timeout: int = 10,
        env: dict[str, str] | None = None,
    ) -> str:
        name = f"t-{uuid.uuid4().hex[:10]}"
        lambda_client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": zip_source(files)},
            Timeout=timeout,
            Environment={"Variables": env or {}},
        )
        created.append(name)
        lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)
        return name

    yield create
    for name in created:
        lambda_client.delete_function(FunctionName=name)


def invoke(name: str, event: Any = None, log: bool = False) -> dict[str, Any]:
    """Invoke synchronously; return the response with the payload decoded from JSON."""
    kwargs: dict[str, Any] = {"FunctionName": name, "Payload": json.dumps(event or {})}
    if log:
        kwargs["LogType"] = "Tail"
    response = client("lambda").invoke(**kwargs)
    response["Payload"] = json.loads(response["Payload"].read() or b"null")
    return response
