"""Names and ARNs of AWS resources, read from the stack's outputs (never from literals)."""

from __future__ import annotations

import threading
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from paylab.core.aws import client
from paylab.core.settings import Settings, get_settings


class StackOutputsUnavailable(RuntimeError):
    """The stack is missing or unreachable: the platform cannot know its resources."""


_lock = threading.Lock()
_cache: dict[str, dict[str, str]] = {}
# A missing key reads the stack again (it may have been updated since), at most this often.
MISS_REFRESH_SECONDS = 5.0
_last_miss_refresh: dict[str, float] = {}


def stack_outputs(
    settings: Settings | None = None, *, refresh: bool = False, cfn: Any = None
) -> dict[str, str]:
    """The deployed stack's outputs, fetched once per process (or again with `refresh`)."""
    settings = settings or get_settings()
    name = settings.stack_name
    with _lock:
        if not refresh and name in _cache:
            return _cache[name]
    try:
        cfn = cfn or client("cloudformation", settings)
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except (ClientError, BotoCoreError, IndexError) as exc:
        raise StackOutputsUnavailable(
            f"cannot read the outputs of stack {name!r} ({exc}); is it deployed (./paylab up)?"
        ) from exc
    result = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    # A stack still being created or updated has no (or old) outputs: never keep those.
    if not str(stack.get("StackStatus", "")).endswith("_IN_PROGRESS"):
        with _lock:
            _cache[name] = result
    return result


def output(key: str, settings: Settings | None = None) -> str:
    """One output by key, with a clear error naming it when it is missing."""
    settings = settings or get_settings()
    outputs = stack_outputs(settings)
    if key not in outputs:
        # A process that started before `up` finished deploying (or before a redeploy added
        # the output) has an older view: read the stack again, but not on every call.
        now = time.monotonic()
        with _lock:
            due = now - _last_miss_refresh.get(settings.stack_name, float("-inf"))
            if due >= MISS_REFRESH_SECONDS:
                _last_miss_refresh[settings.stack_name] = now
        if due >= MISS_REFRESH_SECONDS:
            outputs = stack_outputs(settings, refresh=True)
    if key not in outputs:
        raise StackOutputsUnavailable(f"the stack has no output {key!r}")
    return outputs[key]
