"""The seam to hypercorn's per-connection server: replayed bytes, the addresses hypercorn reads,
the ``tls`` scope extension, and terminating handed-off connections."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from vk_trio.api._handoff import HypercornHandoff, ReplayStream

from ._support import read_response_head, read_to_eof


async def test_replay_stream_gives_the_prefix_first_in_pieces() -> None:
    client, server = trio.testing.memory_stream_pair()
    replay = ReplayStream(server, b"abcdef", "http/1.1")
    await client.send_all(b"ghi")
    assert await replay.receive_some(4) == b"abcd"
    assert await replay.receive_some(4) == b"ef"
    assert await replay.receive_some(4) == b"ghi"
    assert replay.selected_alpn_protocol() == "http/1.1"
    await replay.do_handshake()
    # Not a socket: hypercorn still gets addresses to put into the scope.
    assert replay.transport_stream.socket.getpeername() == ("127.0.0.1", 0)
    await replay.send_all(b"out")
    assert await client.receive_some() == b"out"
    await replay.aclose()


async def test_real_socket_addresses_are_passed_on() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listeners[0].accept()
    replay = ReplayStream(server, b"", "h2")
    info = replay.transport_stream.socket
    assert info.getsockname() == ("127.0.0.1", port)
    assert info.getpeername() == client.socket.getsockname()
    for resource in (client, server, *listeners):
        await resource.aclose()


async def test_scopes_carry_the_tls_extension_and_terminate_closes_idle_connections(
    autojump_clock: trio.testing.MockClock,
) -> None:
    scopes: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    handoff = HypercornHandoff(app, keep_alive_timeout=3600)
    client, server = trio.testing.memory_stream_pair()
    tls = {"vk_trio.peer": "marker", "tls_version": 0x0304}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: handoff.serve(
                server, prefix=b"GET /a HTTP/1.1\r\nHo", alpn_protocol="http/1.1", tls=tls
            )
        )
        await client.send_all(b"st: k\r\n\r\n")
        status, headers, _ = await read_response_head(client)
        assert status == 204
        assert not any(h.lower().startswith("server:") for h in headers)
        start = trio.current_time()
        await handoff.terminate()
        assert await read_to_eof(client) == b""  # the idle keep-alive connection is closed
        assert trio.current_time() - start < 1
    [scope] = scopes
    assert scope["extensions"]["tls"] is tls
    assert (scope["path"], scope["scheme"]) == ("/a", "https")
