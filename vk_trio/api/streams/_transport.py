"""What the channel layer needs from a WebSocket, and adapters for the two we meet.

The kubelet API serves WebSockets through hypercorn's ASGI interface (:class:`AsgiWebSocket`)
and may also drive trio-websocket directly (:class:`TrioWebSocket`); tests use an in-memory
pair. trio-websocket is not a dependency of vk-trio (only its tests use it): it is imported when
a :class:`TrioWebSocket` is made, so install it to use that adapter.

Each adapter is used *after* the handshake: accepting with the negotiated subprotocol is the
route's job. Closing is the route's job too: the channel layer never closes the WebSocket (only
:class:`~._tunnel.WebSocketByteStream`, which *is* the connection, does).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, final

import trio

if TYPE_CHECKING:
    import trio_websocket

__all__ = [
    "AsgiWebSocket",
    "ClosableWebSocketTransport",
    "TrioWebSocket",
    "WebSocketClosed",
    "WebSocketTransport",
]


class WebSocketClosed(Exception):
    """The WebSocket is closed; ``code`` is the close code when known."""

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        super().__init__(f"WebSocket closed (code {code}){': ' + reason if reason else ''}")
        self.code = code
        self.reason = reason


class WebSocketTransport(Protocol):
    """A message-oriented WebSocket: binary messages are ``bytes``, text messages ``str``."""

    async def send_message(self, message: bytes | str) -> None:
        """Send one message; raise :class:`WebSocketClosed` if that is no longer possible."""
        ...

    async def receive_message(self) -> bytes | str:
        """The next message; raise :class:`WebSocketClosed` once the peer closed."""
        ...


class ClosableWebSocketTransport(WebSocketTransport, Protocol):
    """A :class:`WebSocketTransport` that can also be closed (both adapters below can)."""

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close the WebSocket (idempotent)."""
        ...


@final
class AsgiWebSocket:
    """An accepted ASGI WebSocket (``receive``/``send`` of the ASGI application call).

    The callables are typed loosely on purpose: servers type their events as TypedDicts, which
    no single mapping type accepts both ways.
    """

    def __init__(
        self,
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        self._receive = receive
        self._send = send
        self._closed: WebSocketClosed | None = None

    async def send_message(self, message: bytes | str) -> None:
        if self._closed is not None:
            raise self._closed
        key = "text" if isinstance(message, str) else "bytes"
        try:
            await self._send({"type": "websocket.send", key: message})
        except OSError as exc:  # servers raise connection errors when the client is gone
            self._closed = WebSocketClosed(None, str(exc))
            raise self._closed from None

    async def receive_message(self) -> bytes | str:
        while True:
            if self._closed is not None:
                raise self._closed
            event = await self._receive()
            kind = event.get("type")
            if kind == "websocket.receive":
                if event.get("bytes") is not None:
                    return bytes(event["bytes"])
                return str(event.get("text") or "")
            if kind == "websocket.disconnect":
                self._closed = WebSocketClosed(event.get("code"), event.get("reason") or "")

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close the WebSocket (once)."""
        if self._closed is None:
            self._closed = WebSocketClosed(code, reason)
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        else:
            await trio.lowlevel.checkpoint()


def _closed(exc: trio_websocket.ConnectionClosed) -> WebSocketClosed:
    reason = exc.reason
    if reason is None:
        return WebSocketClosed()
    return WebSocketClosed(reason.code, reason.reason or "")


@final
class TrioWebSocket:
    """A trio-websocket ``WebSocketConnection``."""

    def __init__(self, connection: trio_websocket.WebSocketConnection) -> None:
        from trio_websocket import ConnectionClosed  # noqa: PLC0415 - optional, see above

        self._connection = connection
        self._connection_closed: type[trio_websocket.ConnectionClosed] = ConnectionClosed

    async def send_message(self, message: bytes | str) -> None:
        try:
            await self._connection.send_message(message)
        except self._connection_closed as exc:
            raise _closed(exc) from None

    async def receive_message(self) -> bytes | str:
        try:
            message: bytes | str = await self._connection.get_message()
        except self._connection_closed as exc:
            raise _closed(exc) from None
        return message

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        await self._connection.aclose(code, reason)
