"""A TCP proxy for tests that can stall or cut the connections passing through it.

It forwards bytes untouched (TLS included: the client still verifies the API server's
certificate, whose IP SAN does not depend on the port). ``stall()`` makes every open connection
stop forwarding in both directions while staying open — the silently dead connection that only
a read timeout notices; new connections work normally. ``partition()`` closes every connection
and refuses new ones until ``heal()``.
"""

from __future__ import annotations

from typing import final

import trio


@final
class _Connection:
    def __init__(self) -> None:
        self.scope = trio.CancelScope()
        self.stalled = False


@final
class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.partitioned = False
        self.accepted = 0
        self._connections: set[_Connection] = set()

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._handle, listeners)
            task_status.started()

    def stall(self) -> None:
        """Open connections stop forwarding (and stay open); new ones are not affected."""
        for conn in self._connections:
            conn.stalled = True

    def partition(self) -> None:
        """Close every connection and refuse new ones until :meth:`heal`."""
        self.partitioned = True
        for conn in self._connections:
            conn.scope.cancel()

    def heal(self) -> None:
        self.partitioned = False

    async def _handle(self, downstream: trio.SocketStream) -> None:
        self.accepted += 1
        async with downstream:
            if self.partitioned:
                return
            try:
                upstream = await trio.open_tcp_stream(self.target_host, self.target_port)
            except OSError:
                return
            conn = _Connection()
            self._connections.add(conn)
            try:
                async with upstream:
                    with conn.scope:
                        async with trio.open_nursery() as nursery:
                            nursery.start_soon(self._pump, conn, downstream, upstream, nursery)
                            nursery.start_soon(self._pump, conn, upstream, downstream, nursery)
            finally:
                self._connections.discard(conn)

    @staticmethod
    async def _pump(
        conn: _Connection, src: trio.SocketStream, dst: trio.SocketStream, nursery: trio.Nursery
    ) -> None:
        try:
            while True:
                data = await src.receive_some(65536)
                if conn.stalled:
                    await trio.sleep_forever()
                if not data:
                    break
                await dst.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        # One side finished: end both directions, as a closing TCP peer would.
        nursery.cancel_scope.cancel()
