"""A twisted gateway server bound to the GATEWAY_LISTEN address: GATEWAY_SERVER=paylab_twisted.

LocalStack's own servers do not fit: `twisted` (its default) ignores GATEWAY_LISTEN's host for
IPv4 and listens on every interface, and also imports twisted's TLS support, which needs
`service_identity` (not in our lock); `hypercorn` binds correctly, but LocalStack then answers
every request with `Connection: close` (a workaround for h11), so each request, including the
ones LocalStack sends itself (Step Functions -> Lambda, Lambda logs), opens a new TCP connection.
This server speaks plain HTTP/1.1 (no TLS) with keep-alive on exactly the configured addresses.
"""

import threading
import time
from typing import Any

from localstack import config
from localstack.runtime.server.core import RuntimeServer, RuntimeServerPlugin

# How long shutdown waits for gateway worker threads (a long-poll can hold one for 20 s).
SHUTDOWN_TIMEOUT_S = 10.0


class LoopbackTwistedRuntimeServer(RuntimeServer):  # type: ignore[misc]
    """The gateway on twisted's reactor, listening only where GATEWAY_LISTEN says."""

    def __init__(self) -> None:
        self.thread_pool: Any = None

    def register(
        self,
        gateway: Any,
        listen: list[config.HostAndPort],
        ssl_creds: tuple[str, str] | None = None,
    ) -> None:
        """Serve the gateway on each listen address, plain HTTP only (ssl_creds are ignored)."""
        from rolo.serving.twisted import TwistedGateway
        from twisted.internet import reactor

        # LocalStack always passes its self-signed certificate; Paylab only speaks http://.
        del ssl_creds
        site = TwistedGateway(gateway)
        for address in listen:
            reactor.listenTCP(address.port, site, interface=address.host)

    def run(self) -> None:
        """Run the reactor in this thread until shutdown()."""
        from twisted.internet import reactor

        reactor.suggestThreadPoolSize(config.GATEWAY_WORKER_COUNT)
        self.thread_pool = reactor.getThreadPool()
        # LocalStack installs its own handlers; the reactor's would only call reactor.stop().
        reactor.run(installSignalHandlers=False)

    def shutdown(self) -> None:
        """Stop the worker threads (bounded wait) and the reactor."""
        from twisted.internet import reactor

        if self.thread_pool is not None:
            _stop_pool(self.thread_pool, SHUTDOWN_TIMEOUT_S)
        reactor.callFromThread(_stop_reactor, reactor)


def _stop_reactor(reactor: Any) -> None:
    """Stop the reactor, without its own stop of the pool that _stop_pool already stopped.

    The reactor stops its thread pool from a shutdown trigger; a second stop of the pool raises
    twisted's AlreadyQuit, logged with a traceback at every shutdown.
    """
    if reactor.threadpoolShutdownID is not None:
        reactor.removeSystemEventTrigger(reactor.threadpoolShutdownID)
        reactor.threadpoolShutdownID = None
    reactor.stop()


def _stop_pool(pool: Any, timeout: float) -> None:
    """Like ThreadPool.stop(), but joins its threads for at most `timeout` seconds in total."""
    if pool.joined:
        return
    pool.joined = True
    pool.started = False
    pool._team.quit()
    deadline = time.monotonic() + timeout
    for thread in list(pool.threads):
        if thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))


class LoopbackTwistedRuntimeServerPlugin(RuntimeServerPlugin):  # type: ignore[misc]
    """Plugin for GATEWAY_SERVER=paylab_twisted."""

    name = "paylab_twisted"

    def load(self, *args: Any, **kwargs: Any) -> RuntimeServer:
        """The server instance LocalStack runs its gateway on."""
        return LoopbackTwistedRuntimeServer()
