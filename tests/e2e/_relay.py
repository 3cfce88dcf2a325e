"""A TCP relay run inside a test network namespace: ``python _relay.py LISTEN_IP PORT TO_IP PORT``.

The API server refuses to proxy ``nodes/<n>/proxy`` to loopback addresses, so the node-proxy test
gives its node the address of a test host in a network namespace of its own (see
``_kubelet_api_support.test_host``); this relay, running there, carries each connection to the
kubelet server on the root side of the veth pair.  It prints ``ready`` once it listens.
"""

from __future__ import annotations

import sys

import trio


async def _pump(source: trio.SocketStream, sink: trio.SocketStream) -> None:
    try:
        while data := await source.receive_some(65536):
            await sink.send_all(data)
        await sink.send_eof()
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass


async def _main(listen: str, port: int, target: str, target_port: int) -> None:
    async def handle(client: trio.SocketStream) -> None:
        async with (
            client,
            await trio.open_tcp_stream(target, target_port) as upstream,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(_pump, client, upstream)
            nursery.start_soon(_pump, upstream, client)

    listeners = await trio.open_tcp_listeners(port, host=listen)
    print("ready", flush=True)
    await trio.serve_listeners(handle, listeners)


if __name__ == "__main__":
    trio.run(_main, sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
