"""KubeletServer on 127.0.0.1:0 with real TLS: HTTP/1.1 and HTTP/2, follow-log streaming, SPDY
exec with our client-side session, WebSocket exec with trio-websocket, client-certificate and
token identities, slow clients, graceful stop."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import trio
import trio_websocket

from tests._waits import WAIT
from vk_trio.api import FrontDoorLimits, KubeletServer, KubeletServerConfig
from vk_trio.api.spdy import open_spdy_connection
from vk_trio.api.streams import (
    PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL,
    TrioWebSocket,
    WebSocketByteStream,
)
from vk_trio_mock import MockConfig, MockLogs

from ._support import (
    NODE,
    FakeReviews,
    TlsFiles,
    mock_with_pod,
    pod,
    read_response_head,
    read_to_eof,
    spdy_upgrade_request,
    tls_files,
)


@pytest.fixture
def tls(tmp_path: Path) -> Any:
    with tls_files(tmp_path) as files:
        yield files


@asynccontextmanager
async def serving(
    tls: TlsFiles,
    *,
    client_ca: bool = False,
    reviews: FakeReviews | None = None,
    mock_config: MockConfig | None = None,
    **options: Any,
) -> AsyncIterator[tuple[KubeletServer, int]]:
    options.setdefault("anonymous_auth", not client_ca)
    config = KubeletServerConfig(
        node_name=NODE,
        tls_cert_file=tls.cert_file,
        tls_key_file=tls.key_file,
        client_ca_file=tls.ca_file if client_ca else None,
        listen_address="127.0.0.1",
        port=0,
        **options,
    )
    mock = await mock_with_pod(mock_config or MockConfig(logs=MockLogs(interval=0.05)))
    server = KubeletServer(config, mock, client=reviews, pods=lambda: [pod()])
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        yield server, port
        server.stop()


@pytest.mark.parametrize("http2", [False, True])
async def test_routes_over_http1_and_http2(tls: TlsFiles, http2: bool) -> None:
    async with serving(tls) as (_, port):
        ctx = tls.client_context()
        async with httpx.AsyncClient(verify=ctx, http2=http2) as client:
            response = await client.get(f"https://127.0.0.1:{port}/pods")
            assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
            assert response.json()["items"][0]["metadata"]["name"] == "p"
            response = await client.get(
                f"https://127.0.0.1:{port}/containerLogs/ns/p/app?tailLines=x"
            )
            assert response.status_code == 400


@pytest.mark.parametrize("http2", [False, True])
async def test_follow_logs_stream_line_by_line(tls: TlsFiles, http2: bool) -> None:
    line = b"mock log line 4 of ns/p/app\n"
    async with serving(tls, mock_config=MockConfig(logs=MockLogs(interval=0.1))) as (_, port):
        ctx = tls.client_context()
        # limitBytes ends the follow after three lines, so the client reads to the end.
        url = (
            f"https://127.0.0.1:{port}/containerLogs/ns/p/app"
            f"?follow=true&tailLines=0&limitBytes={3 * len(line)}"
        )
        received = b""
        arrivals = []
        async with (
            httpx.AsyncClient(verify=ctx, http2=http2) as client,
            client.stream("GET", url) as response,
        ):
            async for chunk in response.aiter_raw():
                received += chunk
                arrivals.append(trio.current_time())
    assert received == b"".join(f"mock log line {n} of ns/p/app\n".encode() for n in (4, 5, 6))
    # Each line was sent as it was written (0.1 s apart), not buffered to the end.
    assert len(arrivals) >= 3
    assert arrivals[-1] - arrivals[0] >= 0.15


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
async def test_tls_1_1_is_refused(tls: TlsFiles) -> None:
    async with serving(tls) as (_, port):
        ctx = tls.client_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        tcp = await trio.open_tcp_stream("127.0.0.1", port)
        stream = trio.SSLStream(tcp, ctx, server_hostname="127.0.0.1")
        with pytest.raises(trio.BrokenResourceError):
            await stream.do_handshake()
        await trio.aclose_forcefully(stream)


async def test_spdy_exec_over_tls(tls: TlsFiles) -> None:
    async with serving(tls) as (_, port):
        stream = await trio.open_ssl_over_tcp_stream(
            "127.0.0.1", port, ssl_context=tls.client_context(alpn=["http/1.1"])
        )
        path = "/exec/ns/p/app?command=sh&command=-c&command=cat%3Bexit%201&input=1&output=1"
        await stream.send_all(spdy_upgrade_request(path, ("v5.channel.k8s.io",)))
        status, headers, rest = await read_response_head(stream)
        assert status == 101
        assert "Upgrade: SPDY/3.1" in headers
        async with open_spdy_connection(stream, client_side=True, initial_data=rest) as conn:
            error = await conn.open_stream([("streamType", "error")])
            stdin = await conn.open_stream([("streamType", "stdin")])
            stdout = await conn.open_stream([("streamType", "stdout")])
            payload = bytes(range(256)) * 4096  # 1 MiB through the session
            async with trio.open_nursery() as nursery:
                received: list[bytes] = []

                async def read() -> None:
                    received.append(await read_to_eof(stdout))

                nursery.start_soon(read)
                await stdin.send_all(payload)
                await stdin.send_eof()
            assert received == [payload]
            status_doc = orjson.loads(await read_to_eof(error))
            assert status_doc["details"]["causes"][0]["message"] == "1"


async def test_websocket_exec_over_tls_with_trio_websocket(tls: TlsFiles) -> None:
    async with serving(tls) as (_, port):
        ctx = tls.client_context(alpn=["http/1.1"])
        # We own the TLS stream (trio-websocket's client waits for the server's TCP close and
        # leaves its socket to the garbage collector when cancelled).
        stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=ctx)
        async with trio.open_nursery() as nursery:
            ws = await trio_websocket.wrap_client_stream(
                nursery,
                stream,
                "127.0.0.1",
                "/exec/ns/p/app?command=cat&input=1&output=1",
                subprotocols=["v5.channel.k8s.io"],
            )
            assert ws.subprotocol == "v5.channel.k8s.io"
            assert await ws.get_message() == b"\x01"
            await ws.send_message(b"\x00over websocket")
            assert await ws.get_message() == b"\x01over websocket"
            await ws.send_message(b"\xff\x00")  # CLOSE stdin
            status = await ws.get_message()
            assert status[:1] == b"\x03"
            assert orjson.loads(status[1:]) == {"metadata": {}, "status": "Success"}
            with pytest.raises(trio_websocket.ConnectionClosed):
                await ws.get_message()
            assert ws.closed is not None and ws.closed.code == 1000
            nursery.cancel_scope.cancel()
        await trio.aclose_forcefully(stream)


async def test_port_forward_spdy_tunnelled_in_a_websocket(tls: TlsFiles) -> None:
    async with serving(tls) as (_, port):
        ctx = tls.client_context(alpn=["http/1.1"])
        stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=ctx)
        async with trio.open_nursery() as nursery:
            ws = await trio_websocket.wrap_client_stream(
                nursery,
                stream,
                "127.0.0.1",
                "/portForward/ns/p",
                subprotocols=[PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL],
            )
            assert ws.subprotocol == PORT_FORWARD_WEBSOCKET_TUNNEL_PROTOCOL
            tunnel = WebSocketByteStream(TrioWebSocket(ws))
            async with open_spdy_connection(tunnel, client_side=True, linger=0) as conn:
                for request_id in ("0", "1"):
                    pair = [("port", "8080"), ("requestID", request_id)]
                    error = await conn.open_stream([("streamType", "error"), *pair])
                    data = await conn.open_stream([("streamType", "data"), *pair])
                    await data.send_all(b"GET /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    response = await read_to_eof(data)
                    assert response.startswith(b"HTTP/1.1 200 ")
                    assert b"mock echo server, pod ns/p, port 8080\n" in response
                    await data.aclose()
                    assert await read_to_eof(error) == b""
            nursery.cancel_scope.cancel()
        await trio.aclose_forcefully(stream)


async def test_client_certificate_and_token_identities(tls: TlsFiles) -> None:
    reviews = FakeReviews()
    reviews.tokens["secret"] = {"username": "robot"}
    reviews.allowed |= {("alice", "get", "proxy"), ("robot", "get", "proxy")}
    async with serving(tls, client_ca=True, reviews=reviews) as (_, port):
        url = f"https://127.0.0.1:{port}/pods"
        async with httpx.AsyncClient(verify=tls.client_context("alice", ["devs"])) as client:
            assert (await client.get(url)).status_code == 200
        async with httpx.AsyncClient(verify=tls.client_context("mallory")) as client:
            assert (await client.get(url)).status_code == 403
        # No certificate at all: the TLS layer lets it in, the token decides.
        async with httpx.AsyncClient(verify=tls.client_context()) as client:
            assert (await client.get(url, headers={"Authorization": "Bearer secret"})).is_success
            assert (await client.get(url)).status_code == 401
    access = [body for path, body in reviews.calls if "subjectaccessreviews" in path]
    alice = next(body for body in access if body["spec"]["user"] == "alice")
    assert alice["spec"]["groups"] == ["devs", "system:authenticated"]


async def test_slow_loris_over_tcp_is_dropped_while_others_are_served(tls: TlsFiles) -> None:
    limits = FrontDoorLimits(head_timeout=5.0, handshake_timeout=5.0)
    async with serving(tls, limits=limits) as (server, port):
        # Never finishes its TLS handshake.
        silent = await trio.open_tcp_stream("127.0.0.1", port)
        # Finishes TLS, then trickles an incomplete head.
        slow = await trio.open_ssl_over_tcp_stream(
            "127.0.0.1", port, ssl_context=tls.client_context(alpn=["http/1.1"])
        )
        await slow.send_all(b"GET /pods HTTP/1.1\r\nHost: x\r\n")
        async with httpx.AsyncClient(verify=tls.client_context()) as client:
            for _ in range(3):
                assert (await client.get(f"https://127.0.0.1:{port}/healthz")).text == "ok"
        with trio.fail_after(WAIT):
            assert await silent.receive_some() == b""
            with pytest.raises(trio.BrokenResourceError):
                while await slow.receive_some():
                    pass
        stats = server.front_door.statistics()
        assert stats.handshake_failures == 1
        assert stats.head_timeouts == 1
        await silent.aclose()
        await trio.aclose_forcefully(slow)


async def test_stop_is_graceful_then_bounded(tls: TlsFiles) -> None:
    async with serving(tls, shutdown_timeout=0.3) as (server, port):
        ctx = tls.client_context()
        url = f"https://127.0.0.1:{port}/containerLogs/ns/p/app?follow=1"
        async with (
            httpx.AsyncClient(verify=ctx) as client,
            client.stream("GET", url) as response,
        ):
            lines = response.aiter_lines()
            assert (await lines.__anext__()).startswith("mock log line 1")
            start = trio.current_time()
            server.stop()
            with pytest.raises(httpx.RemoteProtocolError):
                async for _ in lines:
                    pass
            # The follow stream was cut at the shutdown deadline, not before.
            assert trio.current_time() - start >= 0.25
        with pytest.raises(OSError):
            await trio.open_tcp_stream("127.0.0.1", port)


def test_bad_certificate_files_fail_at_construction(tls: TlsFiles, tmp_path: Path) -> None:
    missing = KubeletServerConfig(
        node_name=NODE, tls_cert_file=str(tmp_path / "none.crt"), tls_key_file=tls.key_file
    )
    with pytest.raises(OSError):
        KubeletServer(missing, _lifecycle_only())
    swapped = KubeletServerConfig(
        node_name=NODE, tls_cert_file=tls.key_file, tls_key_file=tls.cert_file
    )
    with pytest.raises(ssl.SSLError):
        KubeletServer(swapped, _lifecycle_only())
    with_ca = KubeletServerConfig(
        node_name=NODE,
        tls_cert_file=tls.cert_file,
        tls_key_file=tls.key_file,
        client_ca_file=tls.ca_file,
    )
    with pytest.raises(ValueError, match="needs an API client"):
        KubeletServer(with_ca, _lifecycle_only())


def _lifecycle_only() -> Any:
    from vk_trio_mock import MockProvider  # noqa: PLC0415

    return MockProvider(node_name=NODE)
