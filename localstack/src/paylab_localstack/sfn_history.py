"""Step Functions: finished executions beyond the newest N keep their path, not their payloads.

LocalStack keeps every execution's evaluation environment for good: the history with every
state's input and output, the context object, the last state's data. That was ~0.07 MiB a
payment (docs/status.md, known operational risks), ~7 GB over 100,000 payments. AWS keeps
histories 90 days; a lab that runs for days under load cannot.

When an execution ends it joins a queue of finished ones. Past PAYLAB_SFN_KEEP_HISTORIES (1,000)
the oldest is compacted:
- its history events lose their payloads (`input`, `output`, and the Task's `parameters`,
  which the API requires and becomes "{}"); types, timestamps, state names, resources, errors
  and causes stay, so the path it took (`paylab payments saga`, the features' checks) reads
  the same;
- the rest of its environment is dropped, except what the API still asks of a finished
  execution: its task tokens (SendTaskFailure and GetActivityTask look through every
  execution's; each keeps the small outcome it was sent) and its Map runs.
DescribeExecution keeps the execution's own input and output. 0 compacts every execution as
it ends; a negative value turns this off.
"""

import collections
import logging
import os
import threading
from typing import Any

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)

KEEP_ENV = "PAYLAB_SFN_KEEP_HISTORIES"
DEFAULT_KEEP = 1000
# Payload fields of history event details: optional in the API, except `parameters`.
_DROPPED = ("input", "output", "inputDetails", "outputDetails", "assignedVariables")
_REQUIRED_EMPTY = {"parameters": "{}"}


def keep_from_env() -> int:
    """How many finished executions keep their payloads; negative turns compaction off."""
    raw = os.environ.get(KEEP_ENV, "").strip()
    if not raw:
        return DEFAULT_KEEP
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{KEEP_ENV} must be an integer, not {raw!r}") from None


def strip_payloads(events: list[dict[str, Any]]) -> None:
    """Remove the state data from history events in place (see the module's docstring)."""
    for event in events:
        for key, details in event.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            for field in _DROPPED:
                details.pop(field, None)
            for field, empty in _REQUIRED_EMPTY.items():
                if field in details:
                    details[field] = empty


class FinishedEnvironment:
    """What a finished execution's API calls still read of its evaluation environment."""

    def __init__(self, env: Any) -> None:
        self.event_manager = env.event_manager
        self.callback_pool_manager = env.callback_pool_manager
        self.map_run_record_pool_manager = env.map_run_record_pool_manager

    def set_stop(self, **_: Any) -> None:
        """StopExecution of an execution that has already ended changes nothing."""


def compact(execution: Any) -> bool:
    """Compact one finished execution; False when there was nothing left to drop."""
    worker = getattr(execution, "exec_worker", None)
    env = getattr(worker, "env", None)
    if env is None or isinstance(env, FinishedEnvironment):
        return False
    manager = env.event_manager
    with manager._mutex:
        strip_payloads(manager._history_event_list)
    worker.env = FinishedEnvironment(env)
    return True


class Retention:
    """The newest `keep` finished executions, oldest first; older ones are compacted."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._finished: collections.deque[Any] = collections.deque()
        self._lock = threading.Lock()

    def ended(self, execution: Any) -> None:
        if self.keep < 0:
            return
        with self._lock:
            self._finished.append(execution)
            due = [self._finished.popleft() for _ in range(len(self._finished) - self.keep)]
        for old in due:
            try:
                compact(old)
            except Exception:  # never fail the execution that just ended over an older one
                LOG.exception("Could not compact execution %s", getattr(old, "exec_arn", old))


@hooks.on_infra_start()
def paylab_sfn_history() -> None:
    from localstack.services.stepfunctions.backend import execution as sfn_execution

    retention = Retention(keep_from_env())
    original = sfn_execution.BaseExecutionWorkerCommunication.terminated

    def terminated(self: Any) -> None:
        original(self)
        retention.ended(self.execution)

    sfn_execution.BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign]
    LOG.debug("Step Functions: finished executions keep their payloads: %s", retention.keep)
