"""An informer on the real KubeClient, talking HTTP to the in-memory fake via httpx.MockTransport.

This checks the seam between the two packages — query parameters, paging, the line-by-line
watch stream, 429 answers with Retry-After, 410 ERROR events, stalled streams — on trio's
MockClock, without a control plane.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import orjson
import trio
import trio.testing

from vk_trio.informers import DeletedFinalStateUnknown, ReflectorOptions, SharedInformer
from vk_trio.kube import Gone, KubeClient, KubeConfig, WatchEvent

from .fakes import FakeApiServer, make_object


class _WatchBody(httpx.AsyncByteStream):
    """The body of a watch response: one JSON line per event of the fake's watch."""

    def __init__(self, cm: AbstractAsyncContextManager[AsyncIterator[WatchEvent]]) -> None:
        self._cm = cm
        self._events: AsyncIterator[WatchEvent] | None = None
        self._done = False

    def __aiter__(self) -> _WatchBody:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        if self._events is None:
            self._events = await self._cm.__aenter__()
        try:
            event = await self._events.__anext__()
        except Gone as exc:  # the fake raises what the server sends as an ERROR line
            await self.aclose()
            return orjson.dumps({"type": "ERROR", "object": exc.status}) + b"\n"
        except StopAsyncIteration:
            await self.aclose()
            raise
        return orjson.dumps({"type": event.type, "object": event.object}) + b"\n"

    async def aclose(self) -> None:
        self._done = True
        if self._events is not None:
            self._events = None
            await self._cm.__aexit__(None, None, None)


class HttpFake:
    """Serves a FakeApiServer over httpx.MockTransport, plus injectable HTTP answers."""

    def __init__(self, fake: FakeApiServer) -> None:
        self.fake = fake
        self.watch_answers: list[httpx.Response] = []
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        q = request.url.params
        path = request.url.path
        if q.get("watch") == "1":
            if self.watch_answers:
                return self.watch_answers.pop(0)
            cm = self.fake.watch(
                path,
                resource_version=q.get("resourceVersion"),
                label_selector=q.get("labelSelector"),
                field_selector=q.get("fieldSelector"),
                timeout_seconds=int(q["timeoutSeconds"]) if "timeoutSeconds" in q else None,
            )
            return httpx.Response(200, stream=_WatchBody(cm))
        try:
            body = await self.fake.list(
                path,
                label_selector=q.get("labelSelector"),
                field_selector=q.get("fieldSelector"),
                limit=int(q["limit"]) if "limit" in q else None,
                continue_=q.get("continue"),
                resource_version=q.get("resourceVersion"),
            )
        except Gone as exc:
            return httpx.Response(410, json=exc.status or {"kind": "Status", "code": 410})
        return httpx.Response(200, json=body)


def client_for(server: HttpFake) -> KubeClient:
    config = KubeConfig.for_server("http://fake.invalid")
    return KubeClient(config, transport=httpx.MockTransport(server), qps=None)


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


async def test_paged_list_and_watch_through_the_client(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeApiServer(watch_cache=False)
    for i in range(10):
        fake.create(make_object(f"p{i}", labels={"app": "web" if i % 2 else "db"}))
    server = HttpFake(fake)
    async with client_for(server) as client:
        informer = SharedInformer(
            client,
            "/api/v1/namespaces/default/pods",
            label_selector="app=web",
            options=ReflectorOptions(page_size=2),
            rng=random.Random(2),
        )
        async with informer:
            assert await informer.wait_for_cache_sync()
            assert sorted(informer.store.list_keys()) == [f"default/p{i}" for i in (1, 3, 5, 7, 9)]
            lists = [r for r in server.requests if "watch" not in r.url.params]
            assert len(lists) == 3  # 5 objects in pages of 2
            assert all(r.url.params["labelSelector"] == "app=web" for r in server.requests)
            fake.create(make_object("p10", labels={"app": "web"}))
            fake.modify("default/p1", lambda o: o["metadata"]["labels"].update(app="db"))
            await settle()
            assert sorted(informer.store.list_keys()) == [f"default/p{i}" for i in (10, 3, 5, 7, 9)]
            watch = next(r for r in server.requests if "watch" in r.url.params)
            assert watch.url.params["allowWatchBookmarks"] == "true"
            assert 300 <= int(watch.url.params["timeoutSeconds"]) < 600


async def test_429_on_the_watch_waits_for_retry_after_and_does_not_relist(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeApiServer()
    fake.create(make_object("p0"))
    server = HttpFake(fake)
    status = {"kind": "Status", "code": 429, "reason": "TooManyRequests", "message": "slow"}
    server.watch_answers.append(httpx.Response(429, headers={"Retry-After": "5"}, json=status))
    async with client_for(server) as client:
        informer = SharedInformer(client, "/api/v1/pods", rng=random.Random(2))
        async with informer:
            await informer.wait_for_cache_sync()
            await trio.sleep(20)
            fake.create(make_object("p1"))
            await settle()
            assert "default/p1" in informer.store
            stats = informer.statistics().reflector
            assert stats.lists == 1
            watches = [r for r in server.requests if "watch" in r.url.params]
            assert len(watches) >= 2


async def test_gone_event_relists_and_reports_tombstones(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeApiServer()
    for i in range(3):
        fake.create(make_object(f"p{i}"))
    server = HttpFake(fake)
    deleted: list[Any] = []
    async with client_for(server) as client:
        informer = SharedInformer(client, "/api/v1/pods", rng=random.Random(2))
        informer.add_event_handler(on_delete=deleted.append)
        async with informer:
            await informer.wait_for_cache_sync()
            await trio.sleep(10)
            # The watch connection drops; while it is down p0 goes and history is compacted.
            fake.stall_watches()
            fake.delete("default/p0")
            fake.compact()
            fake.bump_unrelated()
            await trio.sleep(700)  # stall detected; re-watch -> 410 ERROR line -> relist
            assert sorted(informer.store.list_keys()) == ["default/p1", "default/p2"]
            assert [type(d) for d in deleted] == [DeletedFinalStateUnknown]
            stats = informer.statistics().reflector
            assert (stats.stalled_watches, stats.gone, stats.lists) == (1, 1, 2)
