"""``KubeletServer``: the kubelet HTTPS API as one component of the process's nursery.

::

    server = KubeletServer(
        KubeletServerConfig(node_name=..., tls_cert_file=..., tls_key_file=...,
                            listen_address="", port=10250, client_ca_file=None,
                            anonymous_auth=False),
        provider,
        client=review_client,                     # open_review_client(config): reviews only
        pods=lambda: node.lookups.pods.lister().list(),
    )
    port = await nursery.start(server.run)        # listening; returns the bound port
    ...
    server.stop()                                 # graceful: run() returns

The constructor loads the certificate and key (and the client CA) so a bad file fails at start-up,
as in Go - there is no plain-HTTP fallback.  ``run`` logs which authentication mode is active.
"""

from __future__ import annotations

import logging
import resource
from typing import final

import attrs
import trio

from vk_trio.provider import PodLifecycleHandler

from ._app import KubeletApp, PodSource
from ._auth import KubeletAuth, ReviewClient
from ._frontdoor import FrontDoor, FrontDoorLimits
from ._handoff import HypercornHandoff
from ._tls import server_ssl_context

__all__ = ["KubeletServer", "KubeletServerConfig", "connection_limit"]

logger = logging.getLogger(__name__)

#: File descriptors kept free for everything but kubelet API connections: the API clients'
#: pools and watches, the provider, logs, the metrics port.
FD_RESERVE = 512


def connection_limit(configured: int) -> int:
    """``configured``, lowered so that open connections leave :data:`FD_RESERVE` descriptors
    of the soft ``RLIMIT_NOFILE`` free (at least 16 connections)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    fitting = max(16, soft - FD_RESERVE)
    if fitting < configured:
        logger.warning(
            "kubelet API connections limited to %d (RLIMIT_NOFILE %d, %d kept for the rest)",
            fitting,
            soft,
            FD_RESERVE,
        )
    return min(configured, fitting)


@final
@attrs.frozen(kw_only=True)
class KubeletServerConfig:
    """Everything the kubelet API server is configured with.

    ============================  ==========  =================================================
    field                         default     meaning
    ============================  ==========  =================================================
    ``node_name``                 (required)  the ``nodes/<name>`` requests are authorized on
    ``tls_cert_file``/``key``     (required)  serving certificate and key (PEM)
    ``listen_address``            ``""``      host to bind; empty: every interface
    ``port``                      10250       0 picks a free port (tests)
    ``client_ca_file``            ``None``    verify client certificates; enables webhook auth
    ``anonymous_auth``            ``False``   let unauthenticated callers in (see ``_auth``)
    ``stream_idle_timeout``       30 s        close exec/attach/port-forward streams idle this long
    ``stream_creation_timeout``   30 s        wait this long for a client's SPDY streams
    ``keep_alive_timeout``        5 s         idle HTTP keep-alive connections are closed after
    ``max_reviews_in_flight``     64          Token/SubjectAccessReviews at once; a request
                                              needing one more is answered 429
    ``shutdown_timeout``          5 s         in-flight requests get this long after ``stop``;
                                              then their connections are closed, even those
                                              blocked writing to a client that stopped reading
    ``limits``                                connections, TLS handshake, request head, write
                                              deadline, keepalive, requests per connection
    ============================  ==========  =================================================
    """

    node_name: str
    tls_cert_file: str
    tls_key_file: str
    listen_address: str = ""
    port: int = 10250
    client_ca_file: str | None = None
    anonymous_auth: bool = False
    stream_idle_timeout: float = 30.0
    stream_creation_timeout: float = 30.0
    keep_alive_timeout: float = 5.0
    shutdown_timeout: float = 5.0
    max_reviews_in_flight: int = 64
    limits: FrontDoorLimits = attrs.field(factory=FrontDoorLimits)


@final
class KubeletServer:
    """The kubelet API on one TLS port (see the module docstring)."""

    def __init__(
        self,
        config: KubeletServerConfig,
        provider: PodLifecycleHandler,
        *,
        client: ReviewClient | None = None,
        pods: PodSource | None = None,
    ) -> None:
        self.config = config
        self.ssl_context = server_ssl_context(
            config.tls_cert_file, config.tls_key_file, config.client_ca_file
        )
        self.auth = KubeletAuth(
            node_name=config.node_name,
            client_ca=config.client_ca_file is not None,
            anonymous=config.anonymous_auth,
            client=client,
            max_reviews_in_flight=config.max_reviews_in_flight,
        )
        self.app = KubeletApp(
            provider,
            auth=self.auth,
            pods=pods,
            stream_idle_timeout=config.stream_idle_timeout,
            stream_creation_timeout=config.stream_creation_timeout,
        )
        self.handoff = HypercornHandoff(
            self.app,
            keep_alive_timeout=config.keep_alive_timeout,
            max_head_size=config.limits.max_head_size,
            max_requests_per_connection=config.limits.max_requests_per_connection,
            write_timeout=config.limits.write_timeout,
        )
        self.front_door = FrontDoor(
            self.app, self.handoff, ssl_context=self.ssl_context, limits=config.limits
        )
        self._stop = trio.Event()
        self.ports: list[int] = []

    def stop(self) -> None:
        """Stop accepting connections and finish gracefully; :meth:`run` then returns."""
        self._stop.set()

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen, report the bound port with ``task_status.started(port)``, serve until
        :meth:`stop` (or cancellation)."""
        config = self.config
        listeners = await trio.open_tcp_listeners(config.port, host=config.listen_address or None)
        self.ports = [listener.socket.getsockname()[1] for listener in listeners]
        logger.info(
            "kubelet API listening on %s port %d (TLS)",
            config.listen_address or "all interfaces",
            self.ports[0],
        )
        logger.info("%s", self.auth.describe())
        self.front_door.max_connections = connection_limit(config.limits.max_connections)
        async with trio.open_nursery() as watchdog:
            watchdog.start_soon(self._abort_writes_after_stop)
            async with trio.open_nursery() as handlers:
                async with trio.open_nursery() as accepting:
                    await accepting.start(self.front_door.serve_listeners, listeners, handlers)
                    task_status.started(self.ports[0])
                    await self._stop.wait()
                    accepting.cancel_scope.cancel()
                active = self.front_door.statistics().active
                logger.info("kubelet API stopping: %d connections open", active)
                await self.handoff.terminate()
                handlers.cancel_scope.deadline = trio.current_time() + config.shutdown_timeout
            watchdog.cancel_scope.cancel()

    async def _abort_writes_after_stop(self) -> None:
        """The hard deadline: ``shutdown_timeout`` after :meth:`stop` (or at once when ``run``
        is cancelled) every handed-off connection's writes fail.  Cancellation alone cannot end
        a handler blocked in a write hypercorn shielded, to a client that stopped reading."""
        try:
            await self._stop.wait()
            await trio.sleep(self.config.shutdown_timeout)
        finally:
            self.handoff.abort()
