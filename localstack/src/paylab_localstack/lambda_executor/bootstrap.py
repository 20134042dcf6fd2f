"""Host Lambda runtime for Python: one process per execution environment, stdlib only.

Run by the paylab_host executor under the function's own interpreter (python -S -u bootstrap.py).
It speaks LocalStack's runtime-init protocol: it serves POST /invoke on a loopback port, reports
ready (with that port) to LOCALSTACK_RUNTIME_ENDPOINT, and posts each invocation's logs and then its
response or error back. Keep it importable on Python 3.9+: it does not run on LocalStack's Python.
"""

from __future__ import annotations

import ctypes
import decimal
import http.client
import http.server
import importlib
import json
import logging
import math
import os
import queue
import resource
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1
# A signal user code is unlikely to handle; its default action terminates the process anyway.
DEATH_SIGNAL = signal.SIGUSR2
LOG_TRUNCATE_BYTES = 1 << 20
# In the endpoint's answer to the ready post: logs and outcome may share one post.
COMBINED_POSTS_HEADER = "X-Paylab-Combined-Posts"

Handler = Callable[[Any, Any], Any]


def _kill_own_group(*_: object) -> None:
    """Take the whole process group (our children too) down with us."""
    os.killpg(os.getpgrp(), signal.SIGKILL)


def die_with_parent() -> None:
    """Ask the kernel to signal us when LocalStack dies, even by SIGKILL."""
    signal.signal(DEATH_SIGNAL, _kill_own_group)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(DEATH_SIGNAL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: rely on the executor's shutdown only
        return
    # LocalStack may have died between fork and prctl, in which case no signal will ever come.
    if str(os.getppid()) != os.environ.get("PAYLAB_PARENT_PID"):
        _kill_own_group()


class Fault(Exception):
    """A runtime error with an AWS errorType, e.g. Runtime.ImportModuleError."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.trace = trace or []


def error_payload(exc: BaseException, request_id: str = "") -> dict[str, Any]:
    """The AWS error shape (errorMessage, errorType, requestId, stackTrace) for an exception."""
    if isinstance(exc, Fault):
        return {
            "errorMessage": str(exc),
            "errorType": exc.error_type,
            "requestId": request_id,
            "stackTrace": exc.trace,
        }
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop this runtime's own frame
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def log_error(payload: dict[str, Any]) -> None:
    """Print an error the way the AWS Python runtime logs it."""
    lines = [f"[ERROR] {payload['errorType']}: {payload['errorMessage']}"]
    if payload["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in payload["stackTrace"])
    sys.stdout.write("\r".join(lines) + "\n")


def load_handler(spec: str) -> Handler:
    """Import "pkg.module.func" (or "dir/module.func") from the task root, like the AWS runtime."""
    try:
        module_name, func_name = spec.rsplit(".", 1)
    except ValueError as exc:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {exc}") from None
    module_name = module_name.replace("/", ".")
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise Fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise Fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise Fault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", trace
        ) from None
    handler = getattr(module, func_name, None)
    if handler is None:
        # AWS reports a missing function at invoke time, not at init.
        fault = Fault(
            "Runtime.HandlerNotFound", f"Handler '{func_name}' missing on module '{module_name}'"
        )

        def missing(event: Any, context: Any) -> Any:
            raise fault

        return missing
    return handler  # type: ignore[no-any-return]


class LambdaContext:
    """The context object handed to handlers (same attributes as the AWS Python runtime's)."""

    def __init__(self, request_id: str, invoked_arn: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        # A string, as in the AWS runtime.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the executor kills this invocation."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def log(self, message: str) -> None:
        """Write to the function's log stream."""
        sys.stdout.write(message)


def _json_default(value: Any) -> Any:
    """Serialize Decimals (DynamoDB numbers) the way the AWS runtime does."""
    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return math.nan
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class RequestIdFilter(logging.Filter):
    """Stamps the current request id on log records, for the AWS log format."""

    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = RequestIdFilter.request_id
        return True


def setup_logging() -> None:
    """Root handler with the AWS Python runtime's format; the level stays WARNING as on AWS."""
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)


class NoDelayHTTPConnection(http.client.HTTPConnection):
    """HTTP connection without Nagle: headers and a large body go in separate writes."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Upstream:
    """Posts to LocalStack's /_localstack_lambda/<executor> endpoint, keeping one connection."""

    def __init__(self, base_url: str) -> None:
        url = urllib.parse.urlsplit(base_url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.prefix = url.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes) -> dict[str, str]:
        """POST body to prefix+path, reconnecting once if needed; the answer's headers (lower)."""
        for attempt in (1, 2):
            conn = self._conn or NoDelayHTTPConnection(self.host, self.port, timeout=60)
            try:
                conn.request("POST", self.prefix + path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                self._conn = conn
                return {k.lower(): v for k, v in response.getheaders()}
            except (OSError, http.client.HTTPException):
                conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable: the second attempt returns or raises")


class LogCapture:
    """Reads what this process wrote to its log file (stdout and stderr, C level included)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0  # starts at 0 so the first invocation also carries the init output

    def take(self) -> str:
        """Return the output written since the last call."""
        sys.stdout.flush()
        sys.stderr.flush()
        with open(self.path, "rb") as log_file:
            log_file.seek(self.offset)
            data = log_file.read()
            self.offset = log_file.tell()
            if self.offset > LOG_TRUNCATE_BYTES:
                # O_APPEND writers continue at the new end; keeps warm processes from filling /tmp.
                os.truncate(self.path, 0)
                self.offset = 0
        return data.decode("utf-8", "replace")


class InvokeServer(http.server.ThreadingHTTPServer):
    """Accepts LocalStack's POST /invoke and queues it for the main thread."""

    daemon_threads = True

    def __init__(self, invocations: queue.Queue[dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), InvokeRequestHandler)
        self.invocations = invocations


class InvokeRequestHandler(http.server.BaseHTTPRequestHandler):
    """HTTP handler for /invoke; replies at once, the result is posted back later."""

    server: InvokeServer
    # Keep-alive: the executor reuses one connection for every invocation of this process.
    protocol_version = "HTTP/1.1"
    # One write per response and no Nagle: otherwise delayed ACKs add ~40 ms per request.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/invoke":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.invocations.put(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep access logs out of the function's log stream."""


class Runtime:
    """Runs invocations one at a time on the main thread, like the AWS Python runtime."""

    def __init__(self, handler: Handler, upstream: Upstream, logs: LogCapture) -> None:
        self.handler = handler
        self.upstream = upstream
        self.logs = logs
        # Set from the endpoint's answer to the ready post (see COMBINED_POSTS_HEADER).
        self.combined_posts = False
        self.timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT") or 3)
        self.version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")

    def invoke(self, invocation: dict[str, Any]) -> None:
        """Run the handler on one invocation and post logs, then the response or error."""
        request_id = invocation["invoke-id"]
        started = time.monotonic()
        RequestIdFilter.request_id = request_id
        os.environ["_X_AMZN_TRACE_ID"] = invocation.get("trace-id") or ""
        context = LambdaContext(
            request_id, invocation.get("invoked-function-arn", ""), started + self.timeout
        )
        exit_code: int | None = None
        try:
            raw = invocation.get("payload") or ""
            result = self.handler(json.loads(raw) if raw.strip() else {}, context)
            try:
                body = json.dumps(result, default=_json_default).encode()
                kind = "response"
            except (TypeError, ValueError) as exc:
                body, kind = self._error(
                    Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}"), request_id
                )
        except SystemExit as exc:
            exit_code = exc.code if isinstance(exc.code, int) else 1
            message = (
                f"RequestId: {request_id} Error: Runtime exited with error: exit status {exit_code}"
            )
            body, kind = self._error(Fault("Runtime.ExitError", message), request_id)
        except Exception as exc:
            body, kind = self._error(exc, request_id)
        duration_ms = (time.monotonic() - started) * 1000
        # Logs and the outcome in one post (the executor's endpoint accepts both at once):
        # every post costs LocalStack a request through its gateway.
        report = self._report(request_id, duration_ms)
        if self.combined_posts:
            outcome = {"logs": report, kind: body.decode("utf-8")}
            self.upstream.post(f"/invocations/{request_id}/logs", json.dumps(outcome).encode())
        else:
            logs = json.dumps({"logs": report}).encode()
            self.upstream.post(f"/invocations/{request_id}/logs", logs)
            self.upstream.post(f"/invocations/{request_id}/{kind}", body)
        if exit_code is not None:
            # The function asked to exit: the executor starts a fresh process on the next invoke.
            os._exit(exit_code)

    def _error(self, exc: BaseException, request_id: str) -> tuple[bytes, str]:
        payload = error_payload(exc, request_id)
        log_error(payload)
        return json.dumps(payload).encode(), "error"

    def _report(self, request_id: str, duration_ms: float) -> str:
        """START/END/REPORT lines around the captured output, like Lambda's log stream."""
        max_rss_mb = _max_memory_used_mb()
        return (
            f"START RequestId: {request_id} Version: {self.version}\n"
            f"{self.logs.take()}"
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {self.memory} MB\t"
            f"Max Memory Used: {max_rss_mb} MB\t\n"
        )


def _max_memory_used_mb() -> int:
    """Peak RSS of this process; ru_maxrss would report LocalStack's, inherited across fork+exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    """Init (import the handler), report ready or the init error, then serve invocations forever."""
    die_with_parent()
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    # sys.path[0] is this file's directory; the function's code takes its place, as in /var/task.
    sys.path[0] = task_root
    os.chdir(task_root)
    setup_logging()
    upstream = Upstream(os.environ["LOCALSTACK_RUNTIME_ENDPOINT"])
    runtime_id = os.environ["LOCALSTACK_RUNTIME_ID"]
    invocations: queue.Queue[dict[str, Any]] = queue.Queue()
    server = InvokeServer(invocations)
    threading.Thread(target=server.serve_forever, name="invoke-server", daemon=True).start()
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Exception as exc:
        payload = error_payload(exc)
        log_error(payload)
        upstream.post(f"/status/{runtime_id}/error", json.dumps(payload).encode())
        sys.exit(1)
    runtime = Runtime(handler, upstream, LogCapture(os.environ["PAYLAB_LAMBDA_LOG_FILE"]))
    answer = upstream.post(
        f"/status/{runtime_id}/ready", json.dumps({"port": server.server_address[1]}).encode()
    )
    runtime.combined_posts = answer.get(COMBINED_POSTS_HEADER.lower()) == "1"
    while True:
        runtime.invoke(invocations.get())


if __name__ == "__main__":
    main()
