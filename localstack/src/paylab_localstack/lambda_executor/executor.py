"""The paylab_host RuntimeExecutor: one host Python process per LocalStack execution environment."""

import http.client
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import (
    InvokeSendError,
    ShutdownDuringStartup,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from .bootstrap import NoDelayHTTPConnection
from .endpoint import HostExecutorEndpoint
from .environment import BOOTSTRAP, code_archive, runtime_env
from .interpreters import InterpreterNotFound, find_python
from .processes import SLOTS, SPAWNER, kill_group
from .results import exit_result, timeout_result

LOG = logging.getLogger(__name__)


# How often a starting runtime is checked for having died before reporting ready.
_STARTUP_POLL_SECONDS = 0.05
# How often a busy runtime is checked for having died: a normal answer is not delayed by it.
_DEATH_POLL_SECONDS = 0.2
_LOG_TAIL_CHARS = 2000


def _work_root() -> Path:
    """Directory for per-environment log files and TMPDIRs (under LocalStack's tmp dir)."""
    root = Path(config.dirs.tmp or tempfile.gettempdir()) / "paylab-lambda"
    root.mkdir(parents=True, exist_ok=True)
    return root


class HostRuntimeExecutor(RuntimeExecutor):
    """Runs a zip Python function as a host process speaking LocalStack's runtime-init protocol."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.endpoint = HostExecutorEndpoint(id)
        self.last_used = time.monotonic()
        # One invocation or respawn at a time; eviction only takes it without blocking.
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._stopped = False
        self._env: dict[str, str] = {}
        self._workdir = Path(tempfile.mkdtemp(prefix=f"{id[:12]}-", dir=_work_root()))
        self._log_path = self._workdir / "runtime.log"
        self._log_offset = 0

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        """Spawn the runtime and block until it has imported the handler and reported ready."""
        self.endpoint.start()
        self._env = runtime_env(
            self.function_version, env_vars, self._workdir, self._log_path, _work_root()
        )
        with self._lock:
            self._spawn()

    def stop(self) -> None:
        """Kill the runtime (and its children) and forget the environment."""
        self._stopped = True
        self.kill_process()
        try:
            self.endpoint.shutdown()
        except Exception as exc:  # already unregistered, e.g. stopped twice
            LOG.debug("Error shutting down executor endpoint %s: %s", self.id, exc)
        shutil.rmtree(self._workdir, ignore_errors=True)

    def kill_process(self) -> None:
        """Kill the runtime process, if any, and free its slot; the next invoke respawns it."""
        proc, self._proc = self._proc, None
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        if proc is not None:
            kill_group(proc)
        SLOTS.release(self)

    def try_evict(self) -> bool:
        """Kill the process to make room for another environment, only if it is idle now."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self._proc is None:
                return False
            LOG.debug("Evicting idle Lambda runtime %s to stay within the process bound", self.id)
            self.kill_process()
            return True
        finally:
            self._lock.release()

    def _spawn(self) -> None:
        """Start a fresh runtime process and wait for its ready (or init error) report."""
        deadline = time.monotonic() + config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT
        SLOTS.acquire(self, deadline)
        try:
            self.endpoint.reset_startup()
            self._log_offset = 0
            self._log_path.write_bytes(b"")  # a new process starts a new log
            # O_APPEND: the runtime may truncate the file while it keeps writing.
            with open(self._log_path, "ab") as log_file:
                self._proc = SPAWNER.spawn(
                    [self._env["PAYLAB_LAMBDA_INTERPRETER"], "-S", "-u", str(BOOTSTRAP)],
                    env=self._env,
                    cwd=self._env["LAMBDA_TASK_ROOT"],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    close_fds=True,
                    # Own process group, so a timeout kill also takes the function's children.
                    process_group=0,
                )
            if self._stopped:  # stop() ran while we were forking: it could not see this process
                raise ShutdownDuringStartup("Execution environment stopped during startup")
            self._wait_ready(deadline)
        except BaseException:
            self.kill_process()
            raise

    def _wait_ready(self, deadline: float) -> None:
        """Wait for the ready post, failing fast if the process dies first."""
        future, proc = self.endpoint.startup_future, self._proc
        assert future is not None
        assert proc is not None
        while True:
            try:
                future.result(timeout=_STARTUP_POLL_SECONDS)
                return
            except FutureTimeout:
                pass
            except CancelledError as exc:
                raise ShutdownDuringStartup("Execution environment stopped during startup") from exc
            if proc.poll() is not None and not future.done():
                raise LambdaRuntimeException(
                    f"Lambda runtime exited with code {proc.returncode} during init:\n"
                    f"{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                raise LambdaRuntimeException(
                    f"Lambda runtime did not report ready in time:\n{self._log_tail()}"
                )

    # --- invocations -----------------------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        """Run one invocation; past the timeout, kill the runtime and report a timeout error."""
        try:
            with self._lock:
                if self._stopped:
                    raise LambdaRuntimeException(f"Execution environment {self.id} was stopped")
                if self._proc is None or self._proc.poll() is not None:
                    # Killed by a timeout, evicted while idle, or the function exited: cold start.
                    self.kill_process()
                    self._spawn()
                try:
                    return self._invoke(payload)
                finally:
                    self.endpoint.end_invocation()
                    self.last_used = time.monotonic()
        finally:
            # After releasing the lock, so a waiting environment can evict this now idle one.
            SLOTS.notify_idle()

    def _invoke(self, payload: dict[str, Any]) -> InvocationResult:
        request_id = payload["invoke-id"]
        future = self.endpoint.begin_invocation(request_id)
        timeout = self.function_version.config.timeout
        started = time.monotonic()
        proc = self._proc
        assert proc is not None
        self._send(payload)
        try:
            result = self._await_result(future, proc, started + timeout)
        except FutureTimeout:
            self.kill_process()
            if future.done() and not future.cancelled():  # the result won the race with the kill
                return future.result()
            return timeout_result(self.function_version, request_id, timeout, self._read_new_logs())
        if result is None:
            # The runtime died mid-invocation (killed, OOM): report it now, as Lambda does,
            # instead of waiting for the function's timeout with nobody left to answer.
            returncode = proc.returncode
            self.kill_process()
            elapsed = time.monotonic() - started
            return exit_result(
                self.function_version, request_id, returncode, elapsed, self._read_new_logs()
            )
        self._log_offset = self._log_size()  # the runtime posted everything up to here
        return result

    @staticmethod
    def _await_result(
        future: Future[InvocationResult], proc: subprocess.Popen[bytes], deadline: float
    ) -> InvocationResult | None:
        """The invocation's result; None if the runtime exits first; FutureTimeout at deadline."""
        while True:
            remaining = deadline - time.monotonic()
            try:
                return future.result(timeout=max(0.0, min(remaining, _DEATH_POLL_SECONDS)))
            except FutureTimeout:
                if proc.poll() is not None:
                    # A runtime posts its answer before it exits (SystemExit): take it if so.
                    return future.result() if future.done() else None
                if remaining <= _DEATH_POLL_SECONDS:
                    raise

    def _send(self, payload: dict[str, Any]) -> None:
        """POST the invocation to the runtime's /invoke (the result is posted back later)."""
        port = self.endpoint.container_port
        conn = self._conn
        if conn is None:
            # Kept alive across invocations of this process: saves a connect and a server thread.
            conn = self._conn = NoDelayHTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request(
                "POST",
                "/invoke",
                json.dumps(payload).encode(),
                {"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self._conn = None
            raise InvokeSendError(
                f"Cannot send invocation to Lambda runtime on port {port}: {exc}"
            ) from exc
        if response.status != 200:
            raise InvokeSendError(
                f"Lambda runtime on port {port} refused the invocation: {response.status}"
            )

    def _read_new_logs(self) -> str:
        """Output of the killed runtime that it never got to post."""
        try:
            with open(self._log_path, "rb") as log_file:
                log_file.seek(0, os.SEEK_END)
                start = self._log_offset if self._log_offset <= log_file.tell() else 0
                log_file.seek(start)
                return log_file.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _log_size(self) -> int:
        try:
            return self._log_path.stat().st_size
        except OSError:
            return 0

    def _log_tail(self) -> str:
        return self.get_logs()[-_LOG_TAIL_CHARS:]

    # --- RuntimeExecutor plumbing ----------------------------------------------------------

    def get_address(self) -> str:
        """The runtime listens on loopback."""
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        """LocalStack's address for the runtime: the gateway host, loopback for wildcards."""
        host = config.GATEWAY_LISTEN[0].host
        return "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]", "localhost") else host

    def get_runtime_endpoint(self) -> str:
        """Base URL of this executor's /_localstack_lambda/<id> callbacks."""
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{self.get_endpoint_from_executor()}:{port}{self.endpoint.get_endpoint_prefix()}"

    def get_logs(self) -> str:
        """Everything the current runtime process wrote (for startup-error messages)."""
        try:
            return self._log_path.read_text(errors="replace")
        except OSError:
            return ""

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Unzip the code; fail CreateFunction (State=Failed, with a reason) if we cannot run it."""
        config_ = function_version.config
        if config_.package_type != PackageType.Zip:
            raise LambdaRuntimeException(
                "The paylab_host executor runs zip package functions only."
            )
        try:
            find_python(str(config_.runtime))
        except InterpreterNotFound as exc:
            raise LambdaRuntimeException(str(exc)) from exc
        code_archive(config_.code).prepare_for_execution()
        for layer in config_.layers:
            code_archive(layer.code).prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Nothing to clean: code directories belong to LocalStack."""

    @classmethod
    def validate_environment(cls) -> bool:
        """No Docker needed; interpreters are checked per function in prepare_version."""
        return True
