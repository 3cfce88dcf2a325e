"""HTTP11Transport against a real (in-test) trio HTTP server, plain and TLS."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable

import h11
import httpx
import orjson
import pytest
import trio
import trio.testing
import trustme

from vk_trio.kube import STREAM_EXTENSION, HTTP11Transport, PoolLimits

from .httpserver import Reply, TestServer, echo


async def started(nursery: trio.Nursery, server: TestServer) -> TestServer:
    await nursery.start(server.serve)
    return server


def request(
    server: TestServer,
    method: str = "GET",
    path: str = "/x",
    body: bytes = b"",
    *,
    scheme: str = "http",
    timeout: float | None = 30.0,
    stream: bool = False,
    sni: str | None = None,
) -> httpx.Request:
    limits = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    ext: dict[str, object] = {"timeout": limits}
    if stream:
        ext[STREAM_EXTENSION] = True
    if sni is not None:
        ext["sni_hostname"] = sni
    return httpx.Request(
        method,
        f"{scheme}://127.0.0.1:{server.port}{path}",
        content=body,
        headers={"Content-Type": "application/json"} if body else None,
        extensions=ext,
    )


async def send(transport: HTTP11Transport, req: httpx.Request) -> httpx.Response:
    """Send and read the body, as httpx.AsyncClient does with a transport's response."""
    response = await transport.handle_async_request(req)
    await response.aread()
    return response


async def test_keep_alive_reuses_one_connection(nursery: trio.Nursery) -> None:
    server = await started(nursery, TestServer())
    transport = HTTP11Transport()
    for i in range(5):
        response = await send(transport, request(server, "PATCH", f"/p/{i}", b'{"a":1}'))
        assert response.status_code == 200
        assert orjson.loads(response.content) == {
            "method": "PATCH",
            "target": f"/p/{i}",
            "body": '{"a":1}',
        }
        assert response.headers["content-length"] == str(len(response.content))
    assert server.connections == 1
    stats = transport.statistics()
    assert (stats.requests, stats.connections_opened, stats.idle_connections) == (5, 1, 1)
    await transport.aclose()
    assert transport.statistics().idle_connections == 0
    with pytest.raises(RuntimeError):
        await send(transport, request(server))


async def test_works_as_an_httpx_client_transport(nursery: trio.Nursery) -> None:
    server = await started(nursery, TestServer())
    async with httpx.AsyncClient(transport=HTTP11Transport()) as client:
        response = await client.post(f"http://127.0.0.1:{server.port}/y", json={"b": 2})
    assert response.json()["body"] == '{"b":2}'
    assert response.http_version == "HTTP/1.1"


async def test_chunked_response_is_read_whole(nursery: trio.Nursery) -> None:
    server = await started(
        nursery, TestServer(lambda r, b: Reply(chunks=[b'{"a":', b"1,", b'"b":2}']))
    )
    transport = HTTP11Transport()
    response = await send(transport, request(server))
    assert response.json() == {"a": 1, "b": 2}
    # the connection went back to the pool
    await send(transport, request(server))
    assert server.connections == 1
    await transport.aclose()


async def test_connection_close_is_respected(nursery: trio.Nursery) -> None:
    server = await started(nursery, TestServer(lambda r, b: Reply(close_after=True)))
    transport = HTTP11Transport()
    for _ in range(3):
        assert (await send(transport, request(server))).status_code == 200
    assert server.connections == 3
    assert transport.statistics().idle_connections == 0
    await transport.aclose()


async def test_idle_connection_closed_by_peer_is_not_reused(nursery: trio.Nursery) -> None:
    server = await started(nursery, TestServer(lambda r, b: Reply(drop_after=True)))
    transport = HTTP11Transport()
    for _ in range(3):
        response = await send(transport, request(server, "POST", body=b"{}"))
        assert response.status_code == 200
        await trio.testing.wait_all_tasks_blocked()  # let the server's close land
    assert server.connections == 3
    assert transport.statistics().stale_retries == 0
    await transport.aclose()


def close_second_on_each_connection() -> Callable[[h11.Request, bytes], Reply]:
    calls = {"n": 0}

    def behaviour(request: h11.Request, body: bytes) -> Reply:
        calls["n"] += 1
        # the 2nd request (the first on a reused connection) dies without an answer
        return Reply(close_instead=calls["n"] == 2)

    return behaviour


async def test_safe_request_is_resent_when_a_reused_connection_dies(nursery: trio.Nursery) -> None:
    server = await started(nursery, TestServer(close_second_on_each_connection()))
    transport = HTTP11Transport()
    await send(transport, request(server))
    response = await send(transport, request(server, "GET", "/again"))
    assert response.status_code == 200
    assert transport.statistics().stale_retries == 1
    assert [s.target for s in server.seen] == ["/x", "/again", "/again"]
    await transport.aclose()


async def test_unsafe_request_is_not_resent_when_a_reused_connection_dies(
    nursery: trio.Nursery,
) -> None:
    server = await started(nursery, TestServer(close_second_on_each_connection()))
    transport = HTTP11Transport()
    await send(transport, request(server))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        await send(transport, request(server, "PATCH", "/p", b"{}"))
    assert transport.statistics().stale_retries == 0
    assert len(server.seen) == 2
    assert transport.statistics().pooled_connections == 0
    await transport.aclose()


async def test_read_timeout_bounds_the_whole_answer(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = await started(nursery, TestServer(lambda r, b: Reply(stall_before=True)))
    transport = HTTP11Transport()
    start = trio.current_time()
    with pytest.raises(httpx.ReadTimeout):
        await send(transport, request(server, timeout=5.0))
    # write + read timeouts make up the deadline
    assert trio.current_time() - start == pytest.approx(10.0)
    assert transport.statistics().pooled_connections == 0
    await transport.aclose()


async def test_connect_errors(nursery: trio.Nursery) -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    transport = HTTP11Transport()
    with pytest.raises(httpx.ConnectError):
        await transport.handle_async_request(httpx.Request("GET", f"http://127.0.0.1:{port}/"))
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/"))
    assert transport.statistics().pooled_connections == 0
    await transport.aclose()


async def test_pool_is_bounded_and_fifo(nursery: trio.Nursery) -> None:
    server = await started(nursery, TestServer(echo))
    transport = HTTP11Transport(limits=PoolLimits(max_connections=2))
    order: list[int] = []

    async def one(i: int) -> None:
        await send(transport, request(server, "GET", f"/{i}"))
        order.append(i)

    async with trio.open_nursery() as inner:
        for i in range(10):
            inner.start_soon(one, i)
    assert sorted(order) == list(range(10))
    assert server.max_open <= 2
    assert transport.statistics().connections_opened == 2
    assert transport.statistics().pool_waits == 8
    await transport.aclose()


async def test_pool_timeout(nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    server = await started(
        nursery, TestServer(lambda r, b: Reply(stall_before=r.target == b"/stall"))
    )
    transport = HTTP11Transport(limits=PoolLimits(max_connections=1))

    async def stuck() -> None:
        with trio.move_on_after(100):
            await send(transport, request(server, "GET", "/stall", timeout=None))

    async with trio.open_nursery() as inner:
        inner.start_soon(stuck)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(httpx.PoolTimeout):
            await send(transport, request(server, timeout=3.0))
        # a waiter that gives up is removed; once the stuck request is cancelled the slot frees
    response = await send(transport, request(server))
    assert response.status_code == 200
    assert transport.statistics().pooled_connections == 1
    await transport.aclose()


async def test_cancelled_waiter_passes_its_grant_on(nursery: trio.Nursery) -> None:
    server = await started(nursery, TestServer())
    transport = HTTP11Transport(limits=PoolLimits(max_connections=1))
    results: list[str] = []

    async def first() -> None:
        await send(transport, request(server, "GET", "/1"))
        results.append("1")

    async def second(scope: trio.CancelScope) -> None:
        with scope:
            await send(transport, request(server, "GET", "/2"))
            results.append("2")

    scope = trio.CancelScope()
    async with trio.open_nursery() as inner:
        inner.start_soon(first)
        inner.start_soon(second, scope)
        inner.start_soon(first)
        await trio.testing.wait_all_tasks_blocked()
        scope.cancel()
    assert results.count("1") == 2
    assert transport.statistics().pooled_connections <= 1
    await transport.aclose()


# -- streams ----------------------------------------------------------------------------


async def read_all(response: httpx.Response) -> list[bytes]:
    assert isinstance(response.stream, httpx.AsyncByteStream)
    return [chunk async for chunk in response.stream]


async def test_stream_uses_its_own_connection(nursery: trio.Nursery) -> None:
    server = await started(nursery, TestServer(lambda r, b: Reply(chunks=[b"a\n", b"b\n", b"c\n"])))
    transport = HTTP11Transport(limits=PoolLimits(max_connections=1))
    response = await transport.handle_async_request(request(server, stream=True))
    assert transport.statistics().stream_connections == 1
    # an ordinary request is not blocked by the open stream
    assert (await send(transport, request(server))).status_code == 200
    assert b"".join(await read_all(response)) == b"a\nb\nc\n"
    assert transport.statistics().stream_connections == 0
    assert server.connections == 2
    await transport.aclose()


async def test_stream_read_timeout_per_chunk(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    server = await started(
        nursery, TestServer(lambda r, b: Reply(chunks=[b"x\n"], stall_after_chunks=True))
    )
    transport = HTTP11Transport()
    response = await transport.handle_async_request(request(server, timeout=7.0, stream=True))
    assert isinstance(response.stream, httpx.AsyncByteStream)
    iterator = response.stream.__aiter__()
    assert await iterator.__anext__() == b"x\n"
    start = trio.current_time()
    with pytest.raises(httpx.ReadTimeout):
        await iterator.__anext__()
    assert trio.current_time() - start == pytest.approx(7.0)
    assert transport.statistics().stream_connections == 0
    await transport.aclose()


async def test_stream_closed_early_and_transport_close(nursery: trio.Nursery) -> None:
    server = await started(
        nursery, TestServer(lambda r, b: Reply(chunks=[b"x"], stall_after_chunks=True))
    )
    transport = HTTP11Transport()
    response = await transport.handle_async_request(request(server, stream=True))
    await response.aclose()
    assert transport.statistics().stream_connections == 0
    other = await transport.handle_async_request(request(server, stream=True))
    assert transport.statistics().stream_connections == 1
    await transport.aclose()
    assert transport.statistics().stream_connections == 0
    with pytest.raises(httpx.ReadError):
        await read_all(other)


# -- TLS ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(
    ca: trustme.CA, *names: str, client_ca: trustme.CA | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    if client_ca is not None:
        client_ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_tls_verifies_the_server(nursery: trio.Nursery, ca: trustme.CA) -> None:
    server = await started(nursery, TestServer(ssl_context=server_context(ca, "127.0.0.1")))
    transport = HTTP11Transport(ssl_context=client_context(ca))
    for _ in range(3):
        response = await send(transport, request(server, "PATCH", body=b"{}", scheme="https"))
        assert response.json()["method"] == "PATCH"
    assert server.connections == 1
    await transport.aclose()
    # an untrusting client refuses
    stranger = HTTP11Transport(ssl_context=client_context(trustme.CA()))
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await send(stranger, request(server, scheme="https"))
    await stranger.aclose()


async def test_tls_server_name_overrides_verification_name(
    nursery: trio.Nursery, ca: trustme.CA
) -> None:
    server = await started(
        nursery, TestServer(ssl_context=server_context(ca, "kubernetes.default.svc"))
    )
    plain = HTTP11Transport(ssl_context=client_context(ca))
    with pytest.raises(httpx.ConnectError):
        await send(plain, request(server, scheme="https"))
    await plain.aclose()
    named = HTTP11Transport(
        ssl_context=client_context(ca), tls_server_name="kubernetes.default.svc"
    )
    assert (await send(named, request(server, scheme="https"))).status_code == 200
    await named.aclose()
    # the httpx request extension does the same per request
    per_request = HTTP11Transport(ssl_context=client_context(ca))
    response = await send(
        per_request, request(server, scheme="https", sni="kubernetes.default.svc")
    )
    assert response.status_code == 200
    await per_request.aclose()


async def test_tls_client_certificate(nursery: trio.Nursery, ca: trustme.CA) -> None:
    client_ca = trustme.CA()
    server = await started(
        nursery, TestServer(ssl_context=server_context(ca, "127.0.0.1", client_ca=client_ca))
    )
    context = client_context(ca)
    client_ca.issue_cert("vk-1.example", common_name="system:node:vk-1").configure_cert(context)
    transport = HTTP11Transport(ssl_context=context)
    response = await send(transport, request(server, scheme="https"))
    assert response.status_code == 200
    peer = server.seen[0].peer_cert
    assert peer is not None
    assert any(("commonName", "system:node:vk-1") in rdn for rdn in peer["subject"])
    await transport.aclose()


async def test_tls_stream(nursery: trio.Nursery, ca: trustme.CA) -> None:
    server = await started(
        nursery,
        TestServer(
            lambda r, b: Reply(chunks=[b"1\n", b"2\n"]), ssl_context=server_context(ca, "127.0.0.1")
        ),
    )
    transport = HTTP11Transport(ssl_context=client_context(ca))
    response = await transport.handle_async_request(request(server, scheme="https", stream=True))
    assert b"".join(await read_all(response)) == b"1\n2\n"
    await transport.aclose()


async def test_encoded_bodies_are_decoded_by_httpx(nursery: trio.Nursery) -> None:
    import gzip  # noqa: PLC0415 - only here

    payload = gzip.compress(b'{"big": "list"}')
    server = await started(
        nursery,
        TestServer(lambda r, b: Reply(body=payload, headers=[(b"Content-Encoding", b"gzip")])),
    )
    async with httpx.AsyncClient(transport=HTTP11Transport()) as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/")
    assert response.json() == {"big": "list"}


async def test_tls_large_bodies_both_ways(nursery: trio.Nursery, ca: trustme.CA) -> None:
    big = bytes(range(256)) * 1200  # ~300 KB: many TLS records each way
    server = await started(
        nursery,
        TestServer(lambda r, b: Reply(body=b[::-1]), ssl_context=server_context(ca, "127.0.0.1")),
    )
    transport = HTTP11Transport(ssl_context=client_context(ca))
    for _ in range(2):
        response = await send(transport, request(server, "PUT", body=big, scheme="https"))
        assert response.content == big[::-1]
    assert server.connections == 1
    await transport.aclose()


async def test_request_bodies_of_every_kind_get_a_length(nursery: trio.Nursery) -> None:
    from vk_trio.kube._transport import ReadyBody  # noqa: PLC0415 - internal

    server = await started(nursery, TestServer())
    transport = HTTP11Transport()
    url = f"http://127.0.0.1:{server.port}/b"

    async def chunks() -> AsyncIterator[bytes]:
        yield b"str"
        yield b"eamed"

    requests = [
        httpx.Request("POST", url, stream=ReadyBody(b"ready")),  # no Content-Length given
        httpx.Request("POST", url, content=b"plain"),
        httpx.Request("POST", url, content=chunks()),  # chunked in httpx: sent with a length
    ]
    for req in requests:
        response = await send(transport, req)
        assert response.status_code == 200
    assert [s.body for s in server.seen] == [b"ready", b"plain", b"streamed"]
    assert all("content-length" in s.headers for s in server.seen)
    assert all("transfer-encoding" not in s.headers for s in server.seen)
    await transport.aclose()
