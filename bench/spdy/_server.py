"""A minimal upgrade server for the client-go half of the benchmark.

It stands in for the kubelet's front door (which lives elsewhere): h11 reads the request head,
the port-forward protocol is negotiated, and the SPDY session serves two ports - 1001 swallows
everything and answers with the byte count, 1002 sends zeros until the client hangs up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import h11
import trio

from vk_trio.api.spdy import open_spdy_connection
from vk_trio.api.streams import (
    PORT_FORWARD_SPDY_PROTOCOLS,
    PortForwardStream,
    negotiate_spdy_protocol,
    serve_spdy_port_forward,
)

_CHUNK = bytes(256 * 1024)


async def _handler(stream: PortForwardStream) -> None:
    if stream.port == 1001:
        total = 0
        while data := await stream.data.receive_some():
            total += len(data)
        await stream.data.send_all(str(total).encode())
        await stream.data.send_eof()
    else:
        try:
            while True:
                await stream.data.send_all(_CHUNK)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


async def _upgrade(stream: trio.SocketStream) -> None:
    conn = h11.Connection(h11.SERVER)
    while (event := conn.next_event()) is h11.NEED_DATA:
        conn.receive_data(await stream.receive_some())
    assert isinstance(event, h11.Request)
    offered = [v.decode() for k, v in event.headers if k == b"x-stream-protocol-version"]
    protocol = negotiate_spdy_protocol(offered, PORT_FORWARD_SPDY_PROTOCOLS)
    response = h11.InformationalResponse(
        status_code=101,
        headers=[
            ("Connection", "Upgrade"),
            ("Upgrade", "SPDY/3.1"),
            ("X-Stream-Protocol-Version", protocol),
        ],
    )
    await stream.send_all(conn.send(response) or b"")
    trailing, _ = conn.trailing_data
    async with open_spdy_connection(stream, initial_data=trailing) as spdy:
        await serve_spdy_port_forward(spdy, _handler)


@asynccontextmanager
async def port_forward_server() -> AsyncIterator[str]:
    """Serve on a loopback port for the duration of the block; yields the base URL."""
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, _upgrade, 0, host="127.0.0.1"))
        yield f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        nursery.cancel_scope.cancel()
