"""Watch events per second through a SharedInformer (reflector → store → one handler).

The client is an in-memory stand-in that serves a LIST of the pods and then one watch stream of
MODIFIED events parsed from JSON bytes with orjson, as KubeClient would; so the figure covers
parsing, the transform (managedFields stripping), the store and index update and a handler call
that enqueues a key — everything the informer adds on top of the network.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import orjson
import trio

from vk_trio.informers import ReflectorOptions, SharedInformer
from vk_trio.kube import WatchEvent

from ._pod import realistic_pod


@attrs.frozen
class ThroughputResult:
    pods: int
    events: int
    events_per_second: float
    us_per_event: float
    parse_us_per_event: float
    """Of which orjson parsing (measured alone)."""


class _Stream:
    def __init__(self, lines: list[bytes], done: trio.Event) -> None:
        self._lines = iter(lines)
        self._done = done

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> WatchEvent:
        await trio.lowlevel.checkpoint()  # as a network read would
        line = next(self._lines, None)
        if line is None:
            await self._done.wait()
            await trio.sleep_forever()
        raw = orjson.loads(line)
        return WatchEvent(type=raw["type"], object=raw["object"])


class _Client:
    def __init__(self, listing: bytes, events: list[bytes]) -> None:
        self._listing = listing
        self._events = events
        self.done = trio.Event()
        self.watch_started = 0.0
        self.finished = 0.0

    async def list(self, path: str, **_: Any) -> dict[str, Any]:
        result: dict[str, Any] = orjson.loads(self._listing)
        return result

    @asynccontextmanager
    async def _watch(self) -> AsyncIterator[_Stream]:
        self.watch_started = time.perf_counter()
        yield _Stream(self._events, self.done)

    def watch(self, path: str, **_: Any) -> Any:
        return self._watch()


def _payloads(pods: int, events: int) -> tuple[bytes, list[bytes]]:
    items = [realistic_pod(i) for i in range(pods)]
    listing = orjson.dumps(
        {
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "1"},
            "items": items,
        }
    )
    lines = []
    for n in range(events):
        pod = items[n % pods]
        pod["metadata"]["resourceVersion"] = str(1000 + n)
        pod["status"]["containerStatuses"][0]["restartCount"] = n
        lines.append(orjson.dumps({"type": "MODIFIED", "object": pod}))
    return listing, lines


def measure(pods: int, events: int) -> ThroughputResult:
    listing, lines = _payloads(pods, events)
    client = _Client(listing, lines)
    seen = 0

    async def main() -> None:
        keys: set[str] = set()  # stands in for a work queue

        def on_update(old: dict[str, Any], new: dict[str, Any]) -> None:
            nonlocal seen
            seen += 1
            keys.add(new["metadata"]["name"])
            if seen == events:
                client.finished = time.perf_counter()
                client.done.set()

        informer = SharedInformer(client, "/api/v1/pods", options=ReflectorOptions())
        informer.add_event_handler(on_update=on_update)
        async with informer:
            await client.done.wait()

    trio.run(main)
    assert seen == events
    elapsed = client.finished - client.watch_started
    started = time.perf_counter()
    for line in lines:
        orjson.loads(line)
    parse = (time.perf_counter() - started) / events
    return ThroughputResult(
        pods=pods,
        events=events,
        events_per_second=events / elapsed,
        us_per_event=elapsed / events * 1e6,
        parse_us_per_event=parse * 1e6,
    )
