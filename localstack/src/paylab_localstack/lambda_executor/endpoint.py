"""LocalStack's executor endpoint, for runtimes that pick their own port and can be killed."""

from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from http import HTTPStatus

from localstack.http import Response
from localstack.services.lambda_.invocation.executor_endpoint import ExecutorEndpoint
from localstack.services.lambda_.invocation.lambda_models import InvocationResult
from werkzeug import Request

from .bootstrap import COMBINED_POSTS_HEADER


class HostExecutorEndpoint(ExecutorEndpoint):
    """Receives ready/response/error/logs posts from one host runtime process."""

    def __init__(self, executor_id: str) -> None:
        super().__init__(executor_id, container_address="127.0.0.1", container_port=0)
        self.current_request_id: str | None = None

    def reset_startup(self) -> None:
        """Arm a new startup future before (re)spawning the runtime process."""
        self.startup_future = Future()
        self.container_port = 0  # unknown until the runtime reports ready

    def begin_invocation(self, request_id: str) -> Future[InvocationResult]:
        """Arm the future that the runtime's response or error post will complete."""
        self.invocation_future = Future()
        self.logs = None
        self.current_request_id = request_id
        return self.invocation_future

    def end_invocation(self) -> None:
        """Stop accepting posts for the finished invocation (a killed runtime may race one in)."""
        self.current_request_id = None

    def status_ready(self, request: Request, executor_id: str) -> Response:
        """The runtime listens on a port it chose itself (port 0) and reports it here."""
        body = request.get_json(silent=True) or {}
        self.container_port = int(body["port"])
        response = self._complete(
            lambda: super(HostExecutorEndpoint, self).status_ready(request, executor_id)
        )
        # Tells the runtime it may post logs and outcome together (see invocation_logs); a
        # runtime that does not see it (an older endpoint) posts them one after the other.
        response.headers[COMBINED_POSTS_HEADER] = "1"
        return response

    def status_error(self, request: Request, executor_id: str) -> Response:
        """Init failure (e.g. Runtime.ImportModuleError): fail the startup with its payload."""
        return self._complete(
            lambda: super(HostExecutorEndpoint, self).status_error(request, executor_id)
        )

    def invocation_response(self, request: Request, req_id: str) -> Response:
        """Complete the current invocation with the handler's result."""
        if req_id != self.current_request_id:
            return Response(status=HTTPStatus.GONE)
        return self._complete(
            lambda: super(HostExecutorEndpoint, self).invocation_response(request, req_id)
        )

    def invocation_error(self, request: Request, req_id: str) -> Response:
        """Complete the current invocation with the handler's error."""
        if req_id != self.current_request_id:
            return Response(status=HTTPStatus.GONE)
        return self._complete(
            lambda: super(HostExecutorEndpoint, self).invocation_error(request, req_id)
        )

    def invocation_logs(self, request: Request, invoke_id: str) -> Response:
        """Store the logs of the current invocation, and complete it when the post has its end.

        Our bootstrap posts the logs together with the `response` or `error` (JSON text): one
        request through LocalStack's gateway per invocation instead of two. A logs-only post
        (LocalStack's own runtime-init protocol) still works.
        """
        if invoke_id != self.current_request_id:
            return Response(status=HTTPStatus.GONE)
        body = request.get_json(silent=True)
        kind = next((k for k in ("response", "error") if isinstance(body, dict) and k in body), "")
        if not kind:
            return super().invocation_logs(request, invoke_id)
        assert isinstance(body, dict)
        self.logs = body.get("logs")
        result = InvocationResult(
            invoke_id, str(body[kind]).encode(), is_error=kind == "error", logs=self.logs
        )

        def complete() -> Response:
            future = self.invocation_future
            assert future is not None
            future.set_result(result)
            return Response(status=HTTPStatus.ACCEPTED)

        return self._complete(complete)

    @staticmethod
    def _complete(post: Callable[[], Response]) -> Response:
        """Run a base handler; a future already cancelled by stop() or a timeout is not an error."""
        try:
            return post()
        except InvalidStateError:
            return Response(status=HTTPStatus.GONE)
