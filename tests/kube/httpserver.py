"""A scriptable HTTP/1.1 test server on trio + h11 (plain or TLS), for transport tests.

Each request is answered by ``behaviour(request, body) -> Reply``; a reply can
also say to stall, to close the connection instead of answering, or to stream
chunks.  The server records what it saw per connection.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import attrs
import h11
import orjson
import trio
import trio.lowlevel


@attrs.define
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: list[tuple[bytes, bytes]] = attrs.Factory(list)
    chunks: list[bytes] | None = None  # chunked transfer, one chunk each
    stall_before: bool = False  # never answer
    stall_after_chunks: bool = False  # stream chunks then go silent
    close_instead: bool = False  # close the connection without answering
    close_after: bool = False  # answer with "Connection: close", then close
    drop_after: bool = False  # answer as if keeping alive, then close anyway


@attrs.define
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int
    peer_cert: dict[str, Any] | None


def echo(request: h11.Request, body: bytes) -> Reply:
    return Reply(
        body=orjson.dumps(
            {
                "method": request.method.decode(),
                "target": request.target.decode(),
                "body": body.decode(),
            }
        )
    )


class TestServer:
    __test__ = False

    def __init__(
        self,
        behaviour: Callable[[h11.Request, bytes], Reply] = echo,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.behaviour = behaviour
        self.ssl_context = ssl_context
        self.seen: list[Seen] = []
        self.connections = 0
        self.open_connections = 0
        self.max_open = 0
        self.port = 0
        self.close_idle = trio.Event()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            for listener in listeners:
                nursery.start_soon(trio.serve_listeners, self._handle, [listener])
            task_status.started()

    async def _handle(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        number = self.connections
        self.open_connections += 1
        self.max_open = max(self.max_open, self.open_connections)
        s: trio.abc.Stream = stream
        peer: dict[str, Any] | None = None
        try:
            if self.ssl_context is not None:
                tls = trio.SSLStream(stream, self.ssl_context, server_side=True)
                try:
                    await tls.do_handshake()
                except trio.BrokenResourceError:
                    return
                peer = tls.getpeercert()
                s = tls
            await self._serve_connection(s, number, peer)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self.open_connections -= 1
            await trio.aclose_forcefully(s)

    async def _serve_connection(
        self, s: trio.abc.Stream, number: int, peer: dict[str, Any] | None
    ) -> None:
        conn = h11.Connection(h11.SERVER)
        while True:
            request = await self._next(conn, s)
            if request is None:
                return
            assert isinstance(request, h11.Request)
            body = b""
            while True:
                event = await self._next(conn, s)
                if isinstance(event, h11.Data):
                    body += bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    return
            self.seen.append(
                Seen(
                    request.method.decode(),
                    request.target.decode(),
                    {k.decode(): v.decode() for k, v in request.headers},
                    body,
                    number,
                    peer,
                )
            )
            reply = self.behaviour(request, body)
            if reply.stall_before:
                await trio.sleep_forever()
            if reply.close_instead:
                return
            if reply.chunks is not None:
                headers = [(b"Transfer-Encoding", b"chunked"), *reply.headers]
                await s.send_all(
                    conn.send(h11.Response(status_code=reply.status, headers=headers)) or b""
                )
                for chunk in reply.chunks:
                    await s.send_all(conn.send(h11.Data(data=chunk)) or b"")
                    await trio.lowlevel.checkpoint()
                if reply.stall_after_chunks:
                    await trio.sleep_forever()
                await s.send_all(conn.send(h11.EndOfMessage()) or b"")
            else:
                headers = [(b"Content-Length", str(len(reply.body)).encode()), *reply.headers]
                if reply.close_after:
                    headers.append((b"Connection", b"close"))
                data = conn.send(h11.Response(status_code=reply.status, headers=headers)) or b""
                data += conn.send(h11.Data(data=reply.body)) or b"" if reply.body else b""
                data += conn.send(h11.EndOfMessage()) or b""
                await s.send_all(data)
            if reply.close_after or reply.drop_after or conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()

    async def _next(self, conn: h11.Connection, s: trio.abc.Stream) -> Any:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await s.receive_some(65536)
                conn.receive_data(bytes(data))
                continue
            if isinstance(event, h11.ConnectionClosed):
                return None
            return event
