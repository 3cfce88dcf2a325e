"""The stream idle timeout for WebSockets: any message either way resets it.

Upstream closes an exec/attach/port-forward WebSocket that carried nothing for
``--stream-idle-timeout`` (30 s by default); SPDY connections have the same watchdog built in.
"""

from __future__ import annotations

from typing import final

import trio

from .streams import WebSocketTransport

__all__ = ["IdleTimeoutTransport", "run_idle_watchdog"]


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
