"""Invocation errors the executor reports itself, when the runtime cannot post them."""

import json
import math
import signal
from datetime import UTC, datetime

from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult

# How Go's os.ProcessState (hence Lambda's Runtime.ExitError) words common signals.
_SIGNAL_WORDS = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
}


def exit_reason(returncode: int | None) -> str:
    """A dead process's status as Lambda words it: "signal: killed", "exit status 1"."""
    if returncode is None:
        return "exit status unknown"
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        sig = signal.Signals(-returncode)
    except ValueError:
        return f"signal: {-returncode}"
    return f"signal: {_SIGNAL_WORDS.get(sig, sig.name.removeprefix('SIG').lower())}"


def timeout_result(
    version: FunctionVersion, request_id: str, timeout: int, output: str
) -> InvocationResult:
    """LocalStack's runtime-init timeout error, with the output captured so far."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{now} {request_id} Task timed out after {timeout}.00 seconds"
    return _error(version, request_id, {"errorMessage": message}, message, timeout * 1000, output)


def exit_result(
    version: FunctionVersion,
    request_id: str,
    returncode: int | None,
    elapsed_s: float,
    output: str,
) -> InvocationResult:
    """Lambda's Runtime.ExitError for a runtime that died before it answered."""
    message = f"RequestId: {request_id} Error: Runtime exited with error: {exit_reason(returncode)}"
    payload = {"errorType": "Runtime.ExitError", "errorMessage": message}
    return _error(version, request_id, payload, message, elapsed_s * 1000, output)


def _error(
    version: FunctionVersion,
    request_id: str,
    payload: dict[str, str],
    message: str,
    duration_ms: float,
    output: str,
) -> InvocationResult:
    """An error result whose log stream looks like Lambda's (START, output, END, REPORT)."""
    logs = (
        f"START RequestId: {request_id} Version: {version.id.qualifier}\n{output}{message}\n"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {math.ceil(duration_ms)} ms\t"
        f"Memory Size: {version.config.memory_size} MB\tMax Memory Used: 0 MB\t\n"
    )
    return InvocationResult(request_id, json.dumps(payload).encode(), True, logs)
