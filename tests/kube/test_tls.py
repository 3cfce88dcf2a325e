"""TLSSocketStream: handshake, both directions, EOF, close and failure semantics."""

from __future__ import annotations

import ssl

import pytest
import trio
import trio.testing
import trustme

from vk_trio.kube._tls import open_tls_stream


async def tls_pair(
    nursery: trio.Nursery, ca: trustme.CA, name: str = "127.0.0.1"
) -> tuple[trio.SocketListener, trio.MemoryReceiveChannel[trio.SSLStream[trio.SocketStream]]]:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(server_ctx)
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    send, receive = trio.open_memory_channel[trio.SSLStream[trio.SocketStream]](1)

    async def accept() -> None:
        async with send:
            listener = listeners[0]
            tcp = await listener.accept()
            await listener.aclose()
            tls = trio.SSLStream(tcp, server_ctx, server_side=True)
            try:
                await tls.do_handshake()
            except trio.BrokenResourceError:
                await trio.aclose_forcefully(tls)
                return
            except BaseException:  # cancelled at the end of the test
                await trio.aclose_forcefully(tls)
                raise
            await send.send(tls)

    nursery.start_soon(accept)
    return listeners[0], receive


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_round_trip_eof_and_close(nursery: trio.Nursery) -> None:
    ca = trustme.CA()
    listener, accepted = await tls_pair(nursery, ca)
    port = listener.socket.getsockname()[1]
    tcp = await trio.open_tcp_stream("127.0.0.1", port)
    stream = await open_tls_stream(tcp, client_context(ca), "127.0.0.1")
    server = await accepted.receive()
    big = b"x" * 200_000
    async with trio.open_nursery() as inner:
        inner.start_soon(stream.send_all, big)
        got = b""
        while len(got) < len(big):
            got += await server.receive_some(65536)
    assert got == big
    await server.send_all(b"hello")
    assert await stream.receive_some(100) == b"hello"
    await server.aclose()
    assert await stream.receive_some(100) == b""  # EOF, ragged or not
    await stream.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await stream.receive_some(10)
    with pytest.raises(trio.ClosedResourceError):
        await stream.send_all(b"x")


async def test_close_wakes_a_blocked_receiver(nursery: trio.Nursery) -> None:
    ca = trustme.CA()
    listener, accepted = await tls_pair(nursery, ca)
    tcp = await trio.open_tcp_stream("127.0.0.1", listener.socket.getsockname()[1])
    stream = await open_tls_stream(tcp, client_context(ca), "127.0.0.1")
    server = await accepted.receive()
    outcome: list[BaseException] = []

    async def receive() -> None:
        try:
            await stream.receive_some(10)
        except trio.ClosedResourceError as exc:
            outcome.append(exc)

    async with trio.open_nursery() as inner:
        inner.start_soon(receive)
        await trio.testing.wait_all_tasks_blocked()
        stream.close()
    assert len(outcome) == 1
    await server.aclose()


async def test_handshake_failure_raises_and_closes(nursery: trio.Nursery) -> None:
    ca = trustme.CA()
    listener, _ = await tls_pair(nursery, ca, name="other.example")
    tcp = await trio.open_tcp_stream("127.0.0.1", listener.socket.getsockname()[1])
    with pytest.raises(ssl.SSLCertVerificationError):
        await open_tls_stream(tcp, client_context(ca), "127.0.0.1")
