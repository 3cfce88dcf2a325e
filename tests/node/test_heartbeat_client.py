"""Heartbeats (Lease renewals, node registration and status) run on a client of their own
when one is given (issue 13, finding 1): no other traffic can take its tokens or connections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio
import trio.testing
from prometheus_client import CollectorRegistry

from vk_trio.kube import KubeConfig
from vk_trio.node import VirtualNode, heartbeat_client, heartbeat_timeout

from .fakekube import FakeKube
from .fakeprovider import FakeProvider
from .podharness import wall_clock
from .test_virtual_node import options


class Recording:
    """The heartbeat client: the same API server, its own record of what went through it."""

    def __init__(self, kube: FakeKube) -> None:
        self.kube = kube
        self.paths: list[str] = []

    async def get(self, path: str, *, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        self.paths.append(path)
        return await self.kube.get(path, params=params)

    async def create(self, path: str, body: Mapping[str, Any], **kw: Any) -> dict[str, Any]:
        self.paths.append(path)
        return await self.kube.create(path, body, **kw)

    async def update(self, path: str, body: Mapping[str, Any], **kw: Any) -> dict[str, Any]:
        self.paths.append(path)
        return await self.kube.update(path, body, **kw)

    async def patch(self, path: str, body: Any, **kw: Any) -> dict[str, Any]:
        self.paths.append(path)
        return await self.kube.patch(path, body, **kw)

    async def delete(self, path: str, **kw: Any) -> dict[str, Any]:
        self.paths.append(path)
        return await self.kube.delete(path, **kw)

    async def list(self, path: str, **kw: Any) -> dict[str, Any]:
        self.paths.append(path)
        return await self.kube.list(path, **kw)

    def watch(self, path: str, **kw: Any) -> Any:
        """The node controller's watch of its own Node runs on the heartbeat client too."""
        self.paths.append(path)
        return self.kube.watch(path, **kw)


async def test_lease_and_node_status_use_the_heartbeat_client(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kube = FakeKube()
    heartbeats = Recording(kube)
    node = VirtualNode(
        options(),
        kube,
        FakeProvider(),
        registry=CollectorRegistry(),
        heartbeat_client=heartbeats,
        now=wall_clock,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        await trio.sleep(25)  # two more renewals
        node.stop()
    lease_writes = [r for r in kube.requests if "/leases" in r.path and r.verb != "get"]
    node_writes = [
        r for r in kube.requests if r.path.startswith("/api/v1/nodes") and r.verb != "get"
    ]
    assert len(lease_writes) >= 3 and node_writes
    # Every one of them came through the heartbeat client.
    assert sum("/leases" in p for p in heartbeats.paths) >= len(lease_writes)
    assert sum(p.startswith("/api/v1/nodes") for p in heartbeats.paths) >= len(node_writes)


async def test_the_heartbeat_client_has_no_rate_limit_and_a_timeout_below_the_lease() -> None:
    assert heartbeat_timeout(40) == 10
    assert heartbeat_timeout(8) == 2
    async with heartbeat_client(KubeConfig(server="https://api.test")) as client:
        assert client.statistics().rate_limiter is None
