"""Watches through KubeClient: line parsing, parameters, Gone, stalls, no rate limiting
(httpx.MockTransport streams; the real API server is in test_client_e2e.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import trio
import trio.testing

from vk_trio.kube import ApiConnectionError, Gone

from .test_client import Recorder, make_client, pod, status


class ChunkStream(httpx.AsyncByteStream):
    """A response body delivered in the given chunks, then (optionally) silence."""

    def __init__(self, chunks: list[bytes], *, hang: bool = False) -> None:
        self.chunks = chunks
        self.hang = hang
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            await trio.lowlevel.checkpoint()
            yield chunk
        if self.hang:
            await trio.sleep_forever()

    async def aclose(self) -> None:
        self.closed = True


def event(kind: str, obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": kind, "object": obj}) + b"\n"


async def test_watch_parses_lines_split_across_chunks() -> None:
    data = (
        event("ADDED", pod("a"))
        + event("MODIFIED", pod("a", "2"))
        + event("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": "3"}})
        + event("DELETED", pod("a", "4"))
    )
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
    stream = ChunkStream(chunks)
    server = Recorder(httpx.Response(200, stream=stream))
    async with make_client(server) as client:
        async with client.watch(
            "/api/v1/pods",
            resource_version="1",
            timeout_seconds=300,
            field_selector="spec.nodeName=n",
        ) as events:
            assert client.statistics().open_watches == 1
            got = [(e.type, e.object["metadata"]["resourceVersion"]) async for e in events]
        assert client.statistics().open_watches == 0
        assert client.statistics().requests["watch"] == 1
    assert got == [("ADDED", "1"), ("MODIFIED", "2"), ("BOOKMARK", "3"), ("DELETED", "4")]
    assert stream.closed
    params = server.requests[0].url.params
    assert params["watch"] == "1"
    assert params["resourceVersion"] == "1"
    assert params["allowWatchBookmarks"] == "true"
    assert params["timeoutSeconds"] == "300"
    assert params["fieldSelector"] == "spec.nodeName=n"
    assert "sendInitialEvents" not in params


async def test_watch_last_line_without_newline_and_blank_lines() -> None:
    data = b"\n" + event("ADDED", pod("a")) + b"\n\n" + event("ADDED", pod("b")).rstrip(b"\n")
    server = Recorder(httpx.Response(200, stream=ChunkStream([data])))
    async with make_client(server) as client, client.watch("/api/v1/pods") as events:
        names = [e.object["metadata"]["name"] async for e in events]
    assert names == ["a", "b"]


async def test_watch_send_initial_events_parameters() -> None:
    server = Recorder(httpx.Response(200, stream=ChunkStream([])))
    async with (
        make_client(server) as client,
        client.watch("/api/v1/pods", send_initial_events=True, allow_bookmarks=True) as events,
    ):
        assert [e async for e in events] == []
    params = server.requests[0].url.params
    assert params["sendInitialEvents"] == "true"
    assert params["resourceVersionMatch"] == "NotOlderThan"


async def test_watch_gone_error_event_raises_other_errors_are_yielded() -> None:
    data = event("ERROR", status(500, "InternalError")) + event("ERROR", status(410, "Expired"))
    server = Recorder(httpx.Response(200, stream=ChunkStream([data])))
    async with make_client(server) as client:
        seen = []
        with pytest.raises(Gone):
            async with client.watch("/api/v1/pods", resource_version="5") as events:
                async for ev in events:
                    seen.append(ev.type)
        assert seen == ["ERROR"]
        assert client.statistics().open_watches == 0


async def test_watch_open_failure_is_typed() -> None:
    server = Recorder(httpx.Response(403, json=status(403, "Forbidden")))
    async with make_client(server) as client:
        with pytest.raises(Exception) as info:
            async with client.watch("/api/v1/secrets"):
                pass  # pragma: no cover
        assert type(info.value).__name__ == "Forbidden"
        assert client.statistics().open_watches == 0


async def test_watch_stall_is_detected(autojump_clock: trio.testing.MockClock) -> None:
    stream = ChunkStream([event("ADDED", pod("a"))], hang=True)
    server = Recorder(httpx.Response(200, stream=stream))
    async with make_client(server) as client:
        start = trio.current_time()
        with pytest.raises(ApiConnectionError, match="stalled"):
            async with client.watch("/api/v1/pods", read_timeout=45.0) as events:
                async for _ in events:
                    pass
        assert trio.current_time() - start == pytest.approx(45.0)


async def test_watch_default_stall_timeout_follows_timeout_seconds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = Recorder(httpx.Response(200, stream=ChunkStream([], hang=True)))
    async with make_client(server) as client:
        start = trio.current_time()
        with pytest.raises(ApiConnectionError):
            async with client.watch("/api/v1/pods", timeout_seconds=60) as events:
                async for _ in events:
                    pass  # pragma: no cover
        assert trio.current_time() - start == pytest.approx(90.0)


async def test_watch_malformed_line() -> None:
    server = Recorder(httpx.Response(200, stream=ChunkStream([b"{not json}\n"])))
    async with make_client(server) as client:
        with pytest.raises(Exception, match="malformed watch event"):
            async with client.watch("/api/v1/pods") as events:
                async for _ in events:
                    pass  # pragma: no cover


async def test_watch_is_not_rate_limited(autojump_clock: trio.testing.MockClock) -> None:
    server = Recorder(lambda request: httpx.Response(200, stream=ChunkStream([])))
    async with make_client(server, qps=1.0, burst=1) as client:
        start = trio.current_time()
        for _ in range(5):
            async with client.watch("/api/v1/pods") as events:
                async for _ in events:
                    pass  # pragma: no cover
        assert trio.current_time() == start


async def test_watch_open_is_retried_like_any_get(autojump_clock: trio.testing.MockClock) -> None:
    # One attempt loop for requests and watches: throttling, a 503 and a refused connection
    # before the stream starts are retried with the same policy as a GET.
    server = Recorder(
        httpx.Response(429, headers={"Retry-After": "2"}, json=status(429, "TooManyRequests")),
        httpx.Response(503, json=status(503, "ServiceUnavailable")),
        httpx.ConnectError("refused"),
        httpx.Response(200, stream=ChunkStream([event("ADDED", pod("a"))])),
    )
    async with make_client(server) as client:
        start = trio.current_time()
        async with client.watch("/api/v1/pods") as events:
            first = await events.__anext__()
        assert trio.current_time() - start >= 2.0
        assert first.object["metadata"]["name"] == "a"
        stats = client.statistics()
        assert (stats.attempts, stats.retries, stats.failures) == (4, 3, 0)
        assert stats.open_watches == 0
