"""The kubelet server's bounds on what a client may cost (issue 13, findings 4, 5 and 9): a
client that stops reading loses its connection after the write deadline and cannot hold up a
stop; connections beyond ``max_connections`` wait in the backlog; WebSocket messages are
bounded.  Real TLS on 127.0.0.1; every wait polls a condition with a generous bound."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio_websocket

from vk_trio.api import FrontDoorLimits, KubeletServer, KubeletServerConfig
from vk_trio.api._server import FD_RESERVE, connection_limit
from vk_trio.provider import ContainerLogOptions, NotFoundError, Pod, PodStatus

from ._support import NODE, TlsFiles, pod, tls_files

BOUND = 60.0  # seconds: generous, for a loaded CI machine


@pytest.fixture
def tls(tmp_path: Path) -> Any:
    with tls_files(tmp_path) as files:
        yield files


class _Endless(trio.abc.ReceiveStream):
    """A follow log that never ends and never waits: as fast as the client takes it."""

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        return b"x" * (max_bytes or 65536)

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


class EndlessLogs:
    async def create_pod(self, pod: Pod) -> None: ...
    async def update_pod(self, pod: Pod) -> None: ...
    async def delete_pod(self, pod: Pod) -> None: ...
    async def get_pod(self, namespace: str, name: str) -> Pod:
        raise NotFoundError(f"no pod {namespace}/{name}")

    async def get_pod_status(self, namespace: str, name: str) -> PodStatus:
        raise NotFoundError(f"no pod {namespace}/{name}")

    async def get_pods(self) -> list[Pod]:
        await trio.lowlevel.checkpoint()
        return []

    async def get_container_logs(
        self, namespace: str, pod_name: str, container_name: str, options: ContainerLogOptions
    ) -> trio.abc.ReceiveStream:
        await trio.lowlevel.checkpoint()
        return _Endless()


@asynccontextmanager
async def serving(
    tls: TlsFiles, provider: Any = None, **options: Any
) -> AsyncIterator[tuple[KubeletServer, int, trio.Nursery]]:
    config = KubeletServerConfig(
        node_name=NODE,
        tls_cert_file=tls.cert_file,
        tls_key_file=tls.key_file,
        listen_address="127.0.0.1",
        port=0,
        anonymous_auth=True,
        **options,
    )
    server = KubeletServer(config, provider or EndlessLogs(), pods=lambda: [pod()])
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        yield server, port, nursery
        server.stop()


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    for _ in range(int(BOUND / 0.05)):
        if condition():
            return
        await trio.sleep(0.05)
    raise AssertionError(f"not within {BOUND}s: {what}")


async def _stalled_follow(tls: TlsFiles, port: int) -> trio.SSLStream[trio.SocketStream]:
    """A follow-logs request whose client reads a few bytes, then never again."""
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect(("127.0.0.1", port))
    stream = trio.SSLStream(
        trio.SocketStream(sock),
        tls.client_context(alpn=["http/1.1"]),
        server_hostname="127.0.0.1",
    )
    await stream.send_all(
        b"GET /containerLogs/ns/p/app?follow=true HTTP/1.1\r\nHost: kubelet\r\n\r\n"
    )
    assert await stream.receive_some(100)
    return stream


async def test_a_client_that_stops_reading_is_closed_after_the_write_deadline(
    tls: TlsFiles,
) -> None:
    limits = FrontDoorLimits(write_timeout=1.0)
    async with serving(tls, limits=limits) as (server, port, _):
        stalled = await _stalled_follow(tls, port)
        # The handler gives up on the client (the client is still connected, just not reading).
        await wait_for(lambda: server.front_door.statistics().active == 0, "connection closed")
        # Everybody else is served as before.
        async with httpx.AsyncClient(verify=tls.client_context()) as client:
            assert (await client.get(f"https://127.0.0.1:{port}/pods")).status_code == 200
        await trio.aclose_forcefully(stalled)


async def test_stop_ends_a_handler_blocked_writing_to_a_client_that_stopped_reading(
    tls: TlsFiles,
) -> None:
    # The write deadline is far away: only the hard deadline after stop can end the handler.
    limits = FrontDoorLimits(write_timeout=3600.0)
    stalled: list[trio.SSLStream[trio.SocketStream]] = []
    gave_up = False

    async def rescue() -> None:
        # Without the hard deadline nothing cancels the server's write; unblock it from the
        # client side after the bound so that the test fails instead of hanging.
        nonlocal gave_up
        await trio.sleep(BOUND)
        gave_up = True
        for stream in stalled:
            await trio.aclose_forcefully(stream)

    async with trio.open_nursery() as outer:
        outer.start_soon(rescue)
        async with serving(tls, limits=limits, shutdown_timeout=0.5) as (server, port, _):
            stalled.append(await _stalled_follow(tls, port))
            await wait_for(lambda: bool(server.handoff._streams), "request handed off")
        # Leaving ``serving`` stopped the server and waited for run() to return.
        outer.cancel_scope.cancel()
    assert not gave_up, f"the server did not stop within {BOUND}s"
    await trio.aclose_forcefully(stalled[0])


async def test_connections_beyond_the_limit_wait_in_the_backlog(tls: TlsFiles) -> None:
    limits = FrontDoorLimits(max_connections=4)
    async with serving(tls, limits=limits) as (server, port, _):
        idle = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(12)]
        await wait_for(lambda: server.front_door.statistics().active == 4, "4 accepted")
        await wait_for(lambda: server.front_door.statistics().accept_waits >= 1, "accept waits")
        for _ in range(20):
            assert server.front_door.statistics().active <= 4
            await trio.sleep(0.01)
        stats = server.front_door.statistics()
        assert (stats.max_connections, stats.connections) == (4, 4)
        for stream in idle:
            await stream.aclose()
        # Freed slots serve the next clients (the closed ones in the backlog come first).
        async with httpx.AsyncClient(verify=tls.client_context()) as client:
            with trio.fail_after(BOUND):
                response = await client.get(f"https://127.0.0.1:{port}/pods")
            assert response.status_code == 200
        assert server.front_door.statistics().active <= 4


def test_the_connection_limit_leaves_room_in_the_descriptor_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import resource  # noqa: PLC0415

    monkeypatch.setattr(resource, "getrlimit", lambda _which: (1024, 4096))
    assert connection_limit(4096) == 1024 - FD_RESERVE
    assert connection_limit(100) == 100
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (256, 4096))
    assert connection_limit(4096) == 16


async def test_websocket_messages_are_bounded(tls: TlsFiles) -> None:
    from vk_trio_mock import MockProvider  # noqa: PLC0415

    mock = MockProvider(node_name=NODE)
    await mock.create_pod(pod())
    async with serving(tls, mock) as (_, port, _):
        stream = await trio.open_ssl_over_tcp_stream(
            "127.0.0.1", port, ssl_context=tls.client_context(alpn=["http/1.1"])
        )
        async with trio.open_nursery() as nursery:
            ws = await trio_websocket.wrap_client_stream(
                nursery,
                stream,
                "127.0.0.1",
                "/exec/ns/p/app?command=cat&input=1&output=1",
                subprotocols=["v5.channel.k8s.io"],
            )
            assert await ws.get_message() == b"\x01"
            # 2 MiB in one message: hypercorn's default (16 MiB, times a queue of 10) took it.
            await ws.send_message(b"\x00" + b"y" * (2 << 20))
            with trio.fail_after(BOUND), pytest.raises(trio_websocket.ConnectionClosed):
                while True:
                    await ws.get_message()
            assert ws.closed is not None and ws.closed.code == 1009  # message too big
            nursery.cancel_scope.cancel()
        await trio.aclose_forcefully(stream)


@pytest.mark.parametrize("http2", [False, True])
async def test_a_connection_serves_a_finite_number_of_requests(tls: TlsFiles, http2: bool) -> None:
    limits = FrontDoorLimits(max_requests_per_connection=3)
    async with serving(tls, limits=limits) as (server, port, _):
        async with httpx.AsyncClient(verify=tls.client_context(), http2=http2) as client:
            for _ in range(7):
                try:
                    response = await client.get(f"https://127.0.0.1:{port}/pods")
                except httpx.RemoteProtocolError:
                    # HTTP/2: a request sent after the GOAWAY was never processed; a Go client
                    # retries it on a new connection by itself, httpx needs telling.
                    response = await client.get(f"https://127.0.0.1:{port}/pods")
                assert response.status_code == 200
        # Seven requests, three per connection at most: at least three connections.
        assert server.front_door.statistics().connections >= 3


async def test_accepted_sockets_get_keepalive_and_a_user_timeout(tls: TlsFiles) -> None:
    limits = FrontDoorLimits(write_timeout=7.0, keepalive_idle=11.0)
    async with serving(tls, limits=limits) as (server, port, _):
        tuned: list[trio.SocketStream] = []
        original = server.front_door._tune_socket

        def spy(stream: trio.abc.Stream) -> None:
            original(stream)
            assert isinstance(stream, trio.SocketStream)
            tuned.append(stream)

        server.front_door._tune_socket = spy  # type: ignore[method-assign]
        client = await trio.open_tcp_stream("127.0.0.1", port)
        await wait_for(lambda: bool(tuned), "a connection accepted")
        sock = tuned[0].socket
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 11
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 7000
        await client.aclose()
