"""plux entry points of the host Lambda executor (import-light: LocalStack loads them early)."""

from typing import Any

from localstack.runtime import hooks
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    """LAMBDA_RUNTIME_EXECUTOR=paylab_host: Python functions run as host processes, no Docker."""

    name = "paylab_host"

    def load(self, *args: Any, **kwargs: Any) -> type:
        """Return the executor class (LocalStack instantiates one per execution environment)."""
        from .executor import HostRuntimeExecutor

        return HostRuntimeExecutor


@hooks.on_infra_shutdown()
def paylab_stop_lambda_runtimes() -> None:
    """Kill every runtime process still alive when LocalStack shuts down."""
    from .processes import kill_all

    kill_all()
