"""The front door after TLS, over memory streams: head limits, slow clients, hand-off to
hypercorn (HTTP/1.1, WebSocket), SPDY upgrades served in place, and fuzzing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
import trio
import trio.testing
import trio_websocket
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vk_trio.api import FrontDoor, FrontDoorLimits, KubeletApp
from vk_trio.api._handoff import HypercornHandoff
from vk_trio.api.spdy import open_spdy_connection

from ._support import (
    make_app,
    mock_with_pod,
    read_response_head,
    read_to_eof,
    spdy_upgrade_request,
)

GET_PODS = b"GET /pods HTTP/1.1\r\nHost: kubelet\r\n\r\n"


def front_door(app: KubeletApp, **limits: Any) -> FrontDoor:
    return FrontDoor(app, HypercornHandoff(app), limits=FrontDoorLimits(**limits))


@asynccontextmanager
async def connected(
    door: FrontDoor,
) -> AsyncIterator[
    trio.StapledStream[trio.testing.MemorySendStream, trio.testing.MemoryReceiveStream]
]:
    """A client stream whose server end is served by ``door`` (as after TLS)."""
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(door.handle, server)
        yield client
        await client.aclose()


async def http_exchange(door: FrontDoor, request: bytes, *, eof: bool = False) -> bytes:
    async with connected(door) as client:
        await client.send_all(request)
        if eof:
            await client.send_eof()
        return await read_to_eof(client)


async def test_plain_requests_are_handed_to_hypercorn_with_keep_alive() -> None:
    door = front_door(make_app(await mock_with_pod(), pods=list))
    async with connected(door) as client:
        # Two pipelined requests: hypercorn gets the bytes the front door read, then the rest.
        await client.send_all(GET_PODS + b"GET /healthz HTTP/1.1\r\nHost: k\r\n\r\n")
        status, headers, rest = await read_response_head(client)
        assert status == 200
        assert any(h.lower() == "content-type: application/json" for h in headers)
        while b"ok" not in rest:
            rest += await client.receive_some()
        assert b"HTTP/1.1 200" in rest
    stats = door.statistics()
    assert (stats.connections, stats.handed_off, stats.active) == (1, 1, 0)


async def test_a_head_split_into_single_bytes_is_served() -> None:
    door = front_door(make_app(await mock_with_pod(), pods=list))
    async with connected(door) as client:
        for byte in GET_PODS:
            await client.send_all(bytes([byte]))
        status, _, _ = await read_response_head(client)
        assert status == 200


async def test_oversized_heads_are_431() -> None:
    door = front_door(make_app(await mock_with_pod(), pods=list), max_head_size=1024)
    request = b"GET /pods HTTP/1.1\r\nHost: k\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n"
    response = await http_exchange(door, request)
    assert response.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    # Many headers, each small, count as well.
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(200))
    response = await http_exchange(door, b"GET /pods HTTP/1.1\r\nHost: k\r\n" + many + b"\r\n")
    assert response.startswith(b"HTTP/1.1 431")
    assert door.statistics().bad_heads == 2


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /pods HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /pods HTTP/1.1\r\nHost: a\r\nHost : b\r\n\r\n",
        b"GET /pods HTTP/9.9\r\n\r\n",
        b"GET /pods HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"GET /po\x00ds HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
)
async def test_malformed_heads_are_400(request_bytes: bytes) -> None:
    door = front_door(make_app(await mock_with_pod(), pods=list))
    response = await http_exchange(door, request_bytes)
    assert response.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert response.endswith(b"400 Bad Request")


async def test_eof_before_anything_and_eof_mid_head() -> None:
    door = front_door(make_app(await mock_with_pod(), pods=list))
    assert await http_exchange(door, b"", eof=True) == b""
    response = await http_exchange(door, b"GET /pods HT", eof=True)
    assert response.startswith(b"HTTP/1.1 400")


async def test_slow_loris_is_dropped_while_a_normal_client_is_served(
    autojump_clock: trio.testing.MockClock,
) -> None:
    door = front_door(make_app(await mock_with_pod(), pods=list), head_timeout=10.0)
    start = trio.current_time()
    async with connected(door) as slow, trio.open_nursery() as nursery:

        async def trickle() -> None:
            # One byte every 2 s: never a complete head.
            for byte in GET_PODS[:-4]:
                await slow.send_all(bytes([byte]))
                await trio.sleep(2)

        nursery.start_soon(trickle)
        await trio.sleep(1)
        async with connected(door) as normal:
            await normal.send_all(GET_PODS)
            status, _, _ = await read_response_head(normal)
            assert status == 200
            assert trio.current_time() - start == pytest.approx(1)
        # The slow client's connection is closed (no answer) once its head took 10 s.
        assert await read_to_eof(slow) == b""
        assert trio.current_time() - start == pytest.approx(10)
        nursery.cancel_scope.cancel()
    assert door.statistics().head_timeouts == 1


async def test_a_quiet_connection_is_dropped_at_the_head_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    door = front_door(make_app(await mock_with_pod(), pods=list), head_timeout=3.0)
    async with connected(door) as client:
        assert await read_to_eof(client) == b""
    assert trio.current_time() == pytest.approx(3.0)


async def test_keep_alive_connections_close_when_idle(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = make_app(await mock_with_pod(), pods=list)
    door = FrontDoor(app, HypercornHandoff(app, keep_alive_timeout=5.0))
    async with connected(door) as client:
        await client.send_all(GET_PODS)
        await read_response_head(client)
        start = trio.current_time()
        await read_to_eof(client)
        assert trio.current_time() - start == pytest.approx(5.0, abs=0.1)


# -- SPDY ------------------------------------------------------------------------------------


async def spdy_exec(
    door: FrontDoor,
    path: str,
    stream_types: list[str],
    *,
    protocols: tuple[str, ...] = ("v4.channel.k8s.io",),
    stdin: bytes | None = None,
) -> tuple[dict[str, bytes], list[str]]:
    """Upgrade, open the streams kubectl opens, feed stdin, read every stream to its end."""
    async with connected(door) as client:
        await client.send_all(spdy_upgrade_request(path, protocols))
        status, headers, rest = await read_response_head(client)
        assert status == 101, (status, headers, rest)
        async with open_spdy_connection(
            client, client_side=True, initial_data=rest, linger=0
        ) as conn:
            streams = {t: await conn.open_stream([("streamType", t)]) for t in stream_types}
            if stdin is not None:
                await streams["stdin"].send_all(stdin)
                await streams["stdin"].send_eof()
            output: dict[str, bytes] = {}
            async with trio.open_nursery() as nursery:

                async def read(name: str) -> None:
                    output[name] = await read_to_eof(streams[name])

                for name in stream_types:
                    if name not in ("stdin", "resize"):
                        nursery.start_soon(read, name)
        return output, headers


async def test_spdy_exec_echo_and_success_status() -> None:
    door = front_door(make_app(await mock_with_pod()))
    output, headers = await spdy_exec(
        door,
        "/exec/ns/p/app?command=echo&command=hi&output=1&error=1",
        ["error", "stdout", "stderr"],
        protocols=("v9.channel.k8s.io", "v4.channel.k8s.io", "v5.channel.k8s.io"),
    )
    assert "X-Stream-Protocol-Version: v4.channel.k8s.io" in headers  # first supported offer
    assert output["stdout"] == b"hi\n"
    assert output["stderr"] == b""
    assert orjson.loads(output["error"]) == {"metadata": {}, "status": "Success"}
    assert door.statistics().spdy_upgrades == 1


async def test_spdy_exec_stdin_and_exit_code() -> None:
    door = front_door(make_app(await mock_with_pod()))
    output, _ = await spdy_exec(
        door,
        "/exec/ns/p/app?command=sh&command=-c&command=cat%3Bexit%2042&input=1&output=1",
        ["error", "stdin", "stdout"],
        protocols=("v5.channel.k8s.io",),
        stdin=b"to cat\n",
    )
    assert output["stdout"] == b"to cat\n"
    status = orjson.loads(output["error"])
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "42"}]


async def test_spdy_v2_reports_failures_as_text() -> None:
    door = front_door(make_app(await mock_with_pod()))
    output, _ = await spdy_exec(
        door,
        "/exec/ns/p/app?command=nope&output=1&error=1",
        ["error", "stdout", "stderr"],
        protocols=("v2.channel.k8s.io",),
    )
    assert output["stderr"] == b"nope: command not found\n"
    assert output["error"] == (
        b"command terminated with non-zero exit code: nope: command not found"
    )


async def test_spdy_attach() -> None:
    door = front_door(make_app(await mock_with_pod()))
    output, _ = await spdy_exec(
        door,
        "/attach/ns/p/app?stdin=1&stdout=1",
        ["error", "stdin", "stdout"],
        stdin=b"said this\n",
    )
    assert output["stdout"] == b"mock container attached\nsaid this\n"


async def test_spdy_port_forward_pairs_reach_the_echo_server() -> None:
    door = front_door(make_app(await mock_with_pod()))
    async with connected(door) as client:
        await client.send_all(spdy_upgrade_request("/portForward/ns/p", ("portforward.k8s.io",)))
        status, headers, rest = await read_response_head(client)
        assert status == 101
        assert "X-Stream-Protocol-Version: portforward.k8s.io" in headers
        async with open_spdy_connection(
            client, client_side=True, initial_data=rest, linger=0
        ) as conn:
            for request_id, port in (("0", "8080"), ("1", "9090")):
                pair = [("port", port), ("requestID", request_id)]
                error = await conn.open_stream([("streamType", "error"), *pair])
                data = await conn.open_stream([("streamType", "data"), *pair])
                await data.send_all(
                    b"GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                )
                response = await read_to_eof(data)
                assert response.startswith(b"HTTP/1.1 200 ")
                assert f"mock echo server, pod ns/p, port {port}\n".encode() in response
                await data.aclose()
                assert await read_to_eof(error) == b""


@pytest.mark.parametrize(
    ("mode", "path", "protocols", "status", "body"),
    [
        ("locked", "/exec/ns/p/app?output=1", ("v4.channel.k8s.io",), 401, b"Unauthorized\n"),
        (
            "anonymous",
            "/exec/ns/p/app",
            ("v4.channel.k8s.io",),
            400,
            b"you must specify at least one of stdin, stdout, stderr\n",
        ),
        (
            "anonymous",
            "/exec/ns/p/app?output=1",
            (),
            400,
            b"unable to upgrade: header X-Stream-Protocol-Version does not exist in request "
            b"with 2 headers\n",
        ),  # Connection, Upgrade (Go keeps Host apart)
        (
            "anonymous",
            "/portForward/ns/p",
            ("v4.channel.k8s.io",),
            403,
            b"unable to upgrade: unable to negotiate protocol: client supports "
            b"[v4.channel.k8s.io], server accepts [portforward.k8s.io]\n",
        ),
        ("anonymous", "/exec/ns/p", ("v4.channel.k8s.io",), 404, b"404 request not found\n"),
        (
            "anonymous",
            "/exec/ns/../p/app",
            ("v4.channel.k8s.io",),
            400,
            b'invalid request path: "." and ".." segments are not allowed\n',
        ),
    ],
)
async def test_spdy_upgrades_refused_before_switching(
    mode: str, path: str, protocols: tuple[str, ...], status: int, body: bytes
) -> None:
    door = front_door(make_app(await mock_with_pod(), mode=mode))
    response = await http_exchange(door, spdy_upgrade_request(path, protocols))
    head, _, rest = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status)
    assert b"\r\nconnection: close" in head
    assert rest == body


async def test_spdy_upgrade_of_a_non_streaming_path_is_an_ordinary_request() -> None:
    door = front_door(make_app(await mock_with_pod(), pods=list))
    response = await http_exchange(
        door, spdy_upgrade_request("/pods", extra=("Connection: close",), method="GET")
    )
    assert response.startswith(b"HTTP/1.1 200")
    assert door.statistics().handed_off == 1


async def test_spdy_stream_creation_timeout_ends_the_session(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = make_app(await mock_with_pod(), stream_creation_timeout=30.0, stream_idle_timeout=0)
    door = front_door(app)
    async with connected(door) as client:
        await client.send_all(spdy_upgrade_request("/exec/ns/p/app?output=1"))
        status, _, rest = await read_response_head(client)
        assert status == 101
        start = trio.current_time()
        async with open_spdy_connection(
            client, client_side=True, initial_data=rest, linger=0
        ) as conn:
            await conn.open_stream([("streamType", "error")])  # stdout never opened
            await conn.wait_closed()
        assert trio.current_time() - start == pytest.approx(30.0, abs=1.5)


async def test_idle_spdy_session_is_closed_and_the_command_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = make_app(await mock_with_pod(), stream_idle_timeout=30.0)
    door = front_door(app)
    async with connected(door) as client:
        await client.send_all(
            spdy_upgrade_request("/exec/ns/p/app?command=sleep&command=500&output=1")
        )
        status, _, rest = await read_response_head(client)
        assert status == 101
        start = trio.current_time()
        async with open_spdy_connection(
            client, client_side=True, initial_data=rest, linger=0
        ) as conn:
            await conn.open_stream([("streamType", "error")])
            await conn.open_stream([("streamType", "stdout")])
            await conn.wait_closed()
        # Closed by the server's idle watchdog, long before `sleep 500` would have ended.
        assert trio.current_time() - start == pytest.approx(30.0, abs=1.5)
    assert app.statistics().streams_active == 0


# -- WebSocket through the hand-off -----------------------------------------------------------


async def test_websocket_exec_through_hypercorn() -> None:
    door = front_door(make_app(await mock_with_pod()))
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(door.handle, server)
        ws = await trio_websocket.wrap_client_stream(
            nursery,
            client,  # type: ignore[arg-type]
            "kubelet",
            "/exec/ns/p/app?command=echo&command=via%20ws&output=1",
            subprotocols=["v4.channel.k8s.io"],
        )
        assert ws.subprotocol == "v4.channel.k8s.io"
        messages = []
        with pytest.raises(trio_websocket.ConnectionClosed):
            while True:
                messages.append(await ws.get_message())
        assert messages[:2] == [b"\x01", b"\x01via ws\n"]
        assert orjson.loads(messages[2][1:]) == {"metadata": {}, "status": "Success"}


# -- fuzzing ---------------------------------------------------------------------------------

_VALID = [
    GET_PODS,
    spdy_upgrade_request("/exec/ns/p/app?command=cat&input=1&output=1"),
    spdy_upgrade_request("/portForward/ns/p", ("portforward.k8s.io",)),
    b"GET /containerLogs/ns/p/app?follow=1 HTTP/1.1\r\nHost: k\r\n\r\n",
    b"GET /exec/ns/p/app?output=1 HTTP/1.1\r\nHost: k\r\nConnection: Upgrade\r\n"
    b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
    b"dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n",
]


class _ErrorRecords(logging.Handler):
    """Collects ERROR records: the front door turns exceptions into log lines, so a fuzz
    example that made anything raise shows up here."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _serve_bytes_to_completion(chunks: list[bytes], close_after: bool) -> None:
    errors = _ErrorRecords()
    logging.getLogger("vk_trio").addHandler(errors)
    try:
        trio.run(
            _serve_bytes, chunks, close_after, clock=trio.testing.MockClock(autojump_threshold=0)
        )
    finally:
        logging.getLogger("vk_trio").removeHandler(errors)
    assert [r.getMessage() for r in errors.records] == []


async def _serve_bytes(chunks: list[bytes], close_after: bool) -> None:
    mock = await mock_with_pod()
    app = make_app(mock, pods=list)
    door = front_door(app)
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(600):  # virtual seconds: a hang fails the example
        async with trio.open_nursery() as nursery:
            done = trio.Event()

            async def serve() -> None:
                try:
                    await door.handle(server)
                finally:
                    done.set()

            nursery.start_soon(serve)

            async def drain() -> None:
                try:
                    while await client.receive_some():
                        pass
                except trio.BrokenResourceError:
                    pass

            nursery.start_soon(drain)
            try:
                for chunk in chunks:
                    await client.send_all(chunk)
                    await trio.sleep(0.5)
                if close_after:
                    await client.send_eof()
            except trio.BrokenResourceError:
                pass  # the server may hang up first: that is allowed
            # Every path ends the connection by itself: head/stream/idle timeouts.
            await done.wait()
            nursery.cancel_scope.cancel()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200), max_size=5), st.booleans())
def test_fuzz_random_bytes_never_raise_or_hang(chunks: list[bytes], close_after: bool) -> None:
    _serve_bytes_to_completion(chunks, close_after)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_VALID),
    st.floats(min_value=0, max_value=1),
    st.binary(max_size=64),
    st.booleans(),
)
def test_fuzz_truncated_and_mangled_requests(
    request_bytes: bytes, cut: float, tail: bytes, close_after: bool
) -> None:
    truncated = request_bytes[: int(len(request_bytes) * cut)]
    # A complete `follow` request is a log stream that rightly goes on (a line per second) while
    # the client is there; ending it on a half-close after pipelined bytes is a separate
    # behaviour (not yet implemented), so whole follow requests are left out of this fuzz.
    assume(not (b"follow=1" in truncated and b"\r\n\r\n" in truncated))
    _serve_bytes_to_completion([truncated, tail], close_after)


Script = Callable[
    [trio.StapledStream[trio.testing.MemorySendStream, trio.testing.MemoryReceiveStream]],
    Awaitable[None],
]
