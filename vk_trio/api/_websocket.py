"""exec/attach/port-forward sessions over an accepted WebSocket, with the stream idle timeout.

Three kinds of session: remote commands on the channel protocols, port-forward on the channel
protocols (ports from the query), and port-forward as a SPDY session tunnelled in the
WebSocket's binary messages (``SPDY/3.1+portforward.k8s.io``, what ``kubectl port-forward``
sends by default and API servers with ``ExtendWebSocketsToKubelet`` pass on).

Upstream closes a streaming WebSocket that carried nothing for ``--stream-idle-timeout``
(30 s by default): any message either way resets the timer.  The tunnelled SPDY session uses
the SPDY connection's own idle watchdog, which counts frames the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import final

import trio

from ._remote import RemoteCommandPlan, run_remote_command
from .spdy import open_spdy_connection
from .streams import (
    PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL,
    ClosableWebSocketTransport,
    PortForwardHandler,
    WebSocketByteStream,
    WebSocketTransport,
    open_websocket_remote_command,
    serve_spdy_port_forward,
    serve_websocket_port_forward,
)

__all__ = ["IdleTimeoutTransport", "run_idle_watchdog", "serve_websocket_session"]


@final
class IdleTimeoutTransport:
    """Wraps a WebSocket transport and remembers when a message last went either way."""

    def __init__(self, inner: WebSocketTransport, timeout: float) -> None:
        self._inner = inner
        self.timeout = timeout
        self.last_activity = trio.current_time()
        self.timed_out = False

    async def send_message(self, message: bytes | str) -> None:
        await self._inner.send_message(message)
        self.last_activity = trio.current_time()

    async def receive_message(self) -> bytes | str:
        message = await self._inner.receive_message()
        self.last_activity = trio.current_time()
        return message


async def run_idle_watchdog(transport: IdleTimeoutTransport, scope: trio.CancelScope) -> None:
    """Cancel ``scope`` once ``transport`` has been idle for its ``timeout`` (trio's clock); a
    timeout of 0 or less disables the watchdog."""
    timeout = transport.timeout
    if timeout <= 0:
        await trio.sleep_forever()
    while True:
        remaining = transport.last_activity + timeout - trio.current_time()
        if remaining <= 0:
            transport.timed_out = True
            scope.cancel()
            return
        await trio.sleep(remaining)


async def serve_websocket_session(
    websocket: ClosableWebSocketTransport,
    subprotocol: str,
    *,
    provider: object,
    remote: RemoteCommandPlan | None,
    port_forward: PortForwardHandler | None,
    ports: Sequence[int],
    idle_timeout: float,
    creation_timeout: float,
) -> None:
    """Run one accepted streaming WebSocket to its end (the caller closes it afterwards)."""
    if remote is None and subprotocol == PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL:
        assert port_forward is not None
        async with open_spdy_connection(
            WebSocketByteStream(websocket), idle_timeout=idle_timeout or None
        ) as spdy:
            await serve_spdy_port_forward(spdy, port_forward, creation_timeout=creation_timeout)
        return
    transport = IdleTimeoutTransport(websocket, idle_timeout)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_idle_watchdog, transport, nursery.cancel_scope)
        if remote is not None:
            async with open_websocket_remote_command(
                transport, subprotocol, remote.options
            ) as streams:
                await run_remote_command(provider, remote, streams)
        else:
            assert port_forward is not None
            await serve_websocket_port_forward(transport, subprotocol, ports, port_forward)
        nursery.cancel_scope.cancel()
