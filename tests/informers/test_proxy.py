"""The test TCP proxy itself (used by the real-API-server informer tests)."""

from __future__ import annotations

import trio
import trio.testing

from tests._waits import WAIT

from .proxy import TcpProxy


async def echo_server(task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    async def echo(stream: trio.SocketStream) -> None:
        async with stream:
            try:
                async for data in stream:
                    await stream.send_all(data)
            except trio.BrokenResourceError:
                pass

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, echo, listeners)
        task_status.started(port)


async def test_forwards_stalls_and_partitions() -> None:
    async with trio.open_nursery() as nursery:
        port = await nursery.start(echo_server)
        proxy = TcpProxy("127.0.0.1", port)
        await nursery.start(proxy.run)

        first = await trio.open_tcp_stream("127.0.0.1", proxy.port)
        await first.send_all(b"hello")
        assert await first.receive_some(100) == b"hello"

        proxy.stall()
        await first.send_all(b"lost")
        with trio.move_on_after(0.3) as scope:
            await first.receive_some(100)
        assert scope.cancelled_caught  # nothing comes back, the connection stays open

        second = await trio.open_tcp_stream("127.0.0.1", proxy.port)  # new ones still work
        await second.send_all(b"again")
        assert await second.receive_some(100) == b"again"
        assert proxy.open_connections == 2

        proxy.partition()
        with trio.fail_after(WAIT):
            assert await second.receive_some(100) == b""  # closed by the proxy
        third = await trio.open_tcp_stream("127.0.0.1", proxy.port)
        with trio.fail_after(WAIT):
            assert await third.receive_some(100) == b""  # refused while partitioned
        proxy.heal()
        fourth = await trio.open_tcp_stream("127.0.0.1", proxy.port)
        await fourth.send_all(b"back")
        assert await fourth.receive_some(100) == b"back"
        for stream in (first, second, third, fourth):
            await stream.aclose()
        nursery.cancel_scope.cancel()
